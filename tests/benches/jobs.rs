//! The job queue, on both backends, through real servers, each figure as a ratio against a
//! baseline measured in the same run:
//! - throughput of `CRM_BENCH_JOBS` (default 2,000) probe jobs (each one's effect a row) with one
//!   server, against inserting the same effect rows straight on the database, one transaction
//!   each, from one thread (the work a job does, without the queue);
//! - the same with three servers on one PostgreSQL database, against one server;
//! - under light load (a job every 50 ms), the wait from enqueueing to start, p50 and p99,
//!   against the worker's poll interval (the server's default, 1 s), which bounds the wait when
//!   no wake-up arrives (a worker wakes at once for a job enqueued in its process or announced
//!   by another with PostgreSQL's NOTIFY).
//!
//! `cargo bench -p e2e --bench jobs`

use std::time::{Duration, Instant};

use chrono::Utc;
use e2e::{Backend, TestApp};
use persistence::{Store, StoreOptions};
use serde_json::{Value, json};

const POLL: Duration = Duration::from_secs(1);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn server(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| {
        config.workers = Some(2);
        config.db_max_connections = 8;
        config.rate_limit_per_minute = u32::MAX;
        config.job_poll_interval = POLL;
    })
    .await
}

fn completed(report: &Value) -> i64 {
    report["jobs"]
        .as_array()
        .and_then(|states| states.iter().find(|s| s["state"] == "completed"))
        .and_then(|s| s["count"].as_i64())
        .unwrap_or(0)
}

/// Enqueues `jobs` probes and waits until all completed: jobs per second.
async fn drain(app: &TestApp, jobs: u64) -> f64 {
    let started = Instant::now();
    for chunk in 0..jobs.div_ceil(1000) {
        let count = (jobs - chunk * 1000).min(1000);
        app.post("/api/v1/jobs/probes", &app.admin_token, &json!({"count": count})).await.assert_status(202);
    }
    loop {
        let report = app.get("/api/v1/jobs/probes", &app.admin_token).await.assert_status(200).body;
        if completed(&report) >= i64::try_from(jobs).unwrap_or(i64::MAX) {
            return jobs as f64 / started.elapsed().as_secs_f64();
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Effect rows inserted one transaction each, straight on the database: rows per second.
fn baseline(store: &Store, rows: u64) -> f64 {
    let started = Instant::now();
    for n in 0..rows {
        let id = format!("baseline-{n}");
        store
            .write(|conn| persistence::jobs::record_probe(conn, &id, "bench", Utc::now(), Utc::now()))
            .expect("the baseline row is written");
    }
    rows as f64 / started.elapsed().as_secs_f64()
}

async fn bench(backend: Backend, jobs: u64) {
    let app = server(backend).await;
    let store = Store::open(&app.config.database_url, &StoreOptions::default()).expect("bench store opens");
    let raw = baseline(&store, jobs);
    let one = drain(&app, jobs).await;
    println!(
        "{backend:?}: {jobs} probe jobs, one server: {one:.0} jobs/s vs {raw:.0} effect rows/s straight (×{:.3})",
        one / raw
    );
    if backend == Backend::Postgres {
        let app = server(backend).await;
        let _others = (app.second_server(), app.second_server());
        let three = drain(&app, jobs).await;
        println!("{backend:?}: three servers: {three:.0} jobs/s vs one server {one:.0} (×{:.2})", three / one);
    }

    let app = server(backend).await;
    let light = 100;
    for _ in 0..light {
        app.post("/api/v1/jobs/probes", &app.admin_token, &json!({"count": 1})).await.assert_status(202);
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let report = loop {
        let report = app.get("/api/v1/jobs/probes", &app.admin_token).await.assert_status(200).body;
        if completed(&report) >= light {
            break report;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let (p50, p99) = (report["wait_p50_ms"].as_i64().unwrap_or(-1), report["wait_p99_ms"].as_i64().unwrap_or(-1));
    let poll = POLL.as_millis() as f64;
    println!(
        "{backend:?}: light load, enqueue to start: p50 {p50} ms, p99 {p99} ms vs the {poll:.0} ms poll interval (×{:.2} / ×{:.2})",
        p50 as f64 / poll,
        p99 as f64 / poll
    );
}

fn main() {
    let jobs = env_number("CRM_BENCH_JOBS", 2_000);
    actix_web::rt::System::new().block_on(async move {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            if backend == Backend::Postgres && e2e::skip_postgres() {
                continue;
            }
            bench(backend, jobs).await;
        }
    });
}
