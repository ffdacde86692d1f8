//! The job worker and the periodic scheduler every process runs: the queue (`app::jobs`,
//! `persistence::jobs`) decides who runs what, so several processes share one database safely.

use std::time::{Duration, Instant};

use actix_web::web;
use app::jobs::{self, JobKind, Retention, Worker};
use persistence::Store;

/// How often an idle worker looks whether a job was announced (in memory, no query).
const WAKE_CHECK: Duration = Duration::from_millis(20);

/// How a process works the queue.
#[derive(Debug, Clone)]
pub struct JobWorker {
    pub worker: Worker,
    /// Where other processes announce new jobs (PostgreSQL).
    pub database_url: persistence::DatabaseUrl,
    pub poll: Duration,
    /// How often the purge is scheduled, and what it keeps.
    pub purge_interval: Duration,
    pub retention: Retention,
}

/// Every kind this version runs.
pub static KINDS: [&JobKind; 3] = [&jobs::PURGE, &crate::import_worker::RUN_IMPORT, &jobs::PROBE];

/// Starts the scheduler and the worker on the current actix system.
pub fn spawn(store: Store, metrics: std::sync::Arc<crate::metrics::Metrics>, worker: JobWorker) {
    let scheduler = (store.clone(), worker.clone());
    actix_web::rt::spawn(async move {
        let (store, worker) = scheduler;
        let mut ticks = actix_web::rt::time::interval(worker.purge_interval);
        loop {
            ticks.tick().await;
            let (store, retention, interval) = (store.clone(), worker.retention, worker.purge_interval);
            match web::block(move || jobs::schedule_purge(&store, retention, interval)).await {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => log::warn!("could not schedule the purge: {error}"),
                Err(error) => log::warn!("purge scheduling task failed: {error}"),
            }
        }
    });
    // Woken at once by a job enqueued here or announced by another process (PostgreSQL's
    // NOTIFY), else every `poll`: reading the in-memory count every WAKE_CHECK costs no query.
    let alive = std::sync::Arc::new(());
    let watching = std::sync::Arc::downgrade(&alive);
    persistence::notify::listen(&worker.database_url, persistence::jobs::CHANNEL, WAKE_CHECK, move |news| {
        if news {
            persistence::jobs::hear_of_one();
        }
        watching.strong_count() > 0
    });
    actix_web::rt::spawn(async move {
        let _alive = alive;
        let mut seen = persistence::jobs::heard_of();
        let mut last_round: Option<Instant> = None;
        loop {
            let heard = persistence::jobs::heard_of();
            if heard == seen && last_round.is_some_and(|at| at.elapsed() < worker.poll) {
                actix_web::rt::time::sleep(WAKE_CHECK).await;
                continue;
            }
            (seen, last_round) = (heard, Some(Instant::now()));
            // Drain what is due before waiting again.
            loop {
                let (store, worker) = (store.clone(), worker.worker.clone());
                match web::block(move || jobs::work(&store, &worker, &KINDS)).await {
                    Ok(Ok(round)) if round.claimed > 0 => {
                        metrics.count_jobs(round);
                        continue;
                    }
                    Ok(Ok(_)) => break,
                    Ok(Err(error)) => log::warn!("a job round failed: {error}"),
                    Err(error) => log::warn!("job worker task failed: {error}"),
                }
                break;
            }
        }
    });
}
