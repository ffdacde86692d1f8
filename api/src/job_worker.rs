//! The job worker and the periodic scheduler every process runs: the queue (`app::jobs`,
//! `persistence::jobs`) decides who runs what, so several processes share one database safely.

use std::time::{Duration, Instant};

use actix_web::web;
use app::dispatch;
use app::events::EventHandler;
use app::jobs::{self, JobKind, Retention, Worker};
use persistence::Store;

/// How often an idle worker looks whether a job was announced (in memory, no query).
const WAKE_CHECK: Duration = Duration::from_millis(20);

/// How a process works the queue.
#[derive(Debug, Clone)]
pub struct JobWorker {
    pub worker: Worker,
    /// Jobs run at once, each by its own loop.
    pub loops: usize,
    /// Loops of their own for requests to other servers ([`OUTBOUND_KINDS`]), so a receiver
    /// that hangs holds up only other deliveries, never imports or the dispatcher.
    pub outbound_loops: usize,
    /// Where other processes announce new jobs (PostgreSQL).
    pub database_url: persistence::DatabaseUrl,
    pub poll: Duration,
    /// How often the purge is scheduled, and what it keeps.
    pub purge_interval: Duration,
    pub retention: Retention,
}

/// Every kind this version runs.
pub static KINDS: [&JobKind; 7] = [
    &jobs::PURGE,
    &crate::import_worker::RUN_IMPORT,
    &jobs::PROBE,
    &app::dispatch::DISPATCH,
    &app::sales::RESCORE,
    &crate::webhook_worker::DELIVER,
    &crate::mailer::SEND_EMAIL,
];

/// The kinds the general loops run: everything but the outbound requests.
static LOCAL_KINDS: [&JobKind; 10] = [
    &jobs::PURGE,
    &crate::import_worker::RUN_IMPORT,
    &jobs::PROBE,
    &app::dispatch::DISPATCH,
    &app::sales::RESCORE,
    &crate::workflow_worker::RUN_STEP,
    &app::workflows::CLOCK,
    &TICKET_CLOCK,
    &SLA_CHECK,
    &SLA_RESCHEDULE,
];

/// Announces the SLA clocks a ticket reached, with the API's views in the events.
static SLA_CHECK: JobKind =
    JobKind { spec: app::sla::CHECK, every: None, run: app::sla::check::<crate::routes::ApiViews>, abandoned: None };

/// Reschedules every open ticket's SLA checks after a policy or calendar change.
static SLA_RESCHEDULE: JobKind =
    JobKind { spec: app::sla::RESCHEDULE, every: None, run: app::sla::reschedule_all, abandoned: None };

/// Closes tickets solved long enough ago, with the API's views in their audit rows.
static TICKET_CLOCK: JobKind = JobKind {
    spec: app::tickets::CLOCK,
    every: Some(app::tickets::CLOCK_EVERY),
    run: app::tickets::close_solved::<crate::routes::ApiViews>,
    abandoned: None,
};

/// The kinds that wait on other servers (webhook receivers, the SMTP server), on loops of
/// their own.
static OUTBOUND_KINDS: [&JobKind; 2] = [&crate::webhook_worker::DELIVER, &crate::mailer::SEND_EMAIL];

/// What committed events are turned into; the automation features register theirs here.
pub static EVENT_HANDLERS: [&EventHandler; 4] =
    [&app::webhooks::DELIVERIES, &app::comments::ASSIGNMENTS, &app::workflows::TRIGGERS, &app::sla::SCHEDULER];

/// How often the scheduler makes sure the periodic jobs are queued.
const SCHEDULE_EVERY: Duration = Duration::from_secs(60);

/// Starts the scheduler and the worker on the current actix system.
pub fn spawn(store: Store, metrics: std::sync::Arc<crate::metrics::Metrics>, worker: JobWorker) {
    let scheduler = (store.clone(), worker.clone());
    actix_web::rt::spawn(async move {
        let (store, worker) = scheduler;
        // All are keyed (the purge by its period, the dispatcher and the workflow clock by
        // their names), so asking more often than they run, from every process, queues each once.
        let mut ticks = actix_web::rt::time::interval(worker.purge_interval.min(SCHEDULE_EVERY));
        loop {
            ticks.tick().await;
            let (store, retention, interval) = (store.clone(), worker.retention, worker.purge_interval);
            let scheduled = web::block(move || {
                jobs::schedule_purge(&store, retention, interval)?;
                dispatch::ensure_dispatcher(&store)?;
                app::workflows::ensure_clock(&store)?;
                app::tickets::ensure_clock(&store)
            });
            match scheduled.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => log::warn!("could not schedule the periodic jobs: {error}"),
                Err(error) => log::warn!("job scheduling task failed: {error}"),
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
    let loops = std::iter::repeat_n(&LOCAL_KINDS[..], worker.loops.max(1))
        .chain(std::iter::repeat_n(&OUTBOUND_KINDS[..], worker.outbound_loops.max(1)));
    for kinds in loops {
        let (store, metrics, worker, alive) = (store.clone(), metrics.clone(), worker.clone(), alive.clone());
        actix_web::rt::spawn(work_loop(store, metrics, worker, kinds, alive));
    }
}

/// One loop of a process's worker: runs a round when a job was announced, else every `poll`,
/// and drains what is due before waiting again.
async fn work_loop(
    store: Store,
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    worker: JobWorker,
    kinds: &'static [&'static JobKind],
    _alive: std::sync::Arc<()>,
) {
    let mut seen = persistence::jobs::heard_of();
    let mut last_round: Option<Instant> = None;
    loop {
        let heard = persistence::jobs::heard_of();
        if heard == seen && last_round.is_some_and(|at| at.elapsed() < worker.poll) {
            actix_web::rt::time::sleep(WAKE_CHECK).await;
            continue;
        }
        (seen, last_round) = (heard, Some(Instant::now()));
        loop {
            let (store, worker) = (store.clone(), worker.worker.clone());
            match web::block(move || jobs::work(&store, &worker, kinds)).await {
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
}
