//! The job queue across real processes: 2,000 probe jobs (each one's effect a row keyed by the
//! job) worked by 3 `crm` processes on one PostgreSQL database, one of them killed with SIGKILL
//! mid-run and restarted: every job completes, every effect exists exactly once, and no job
//! stays running. On SQLite (one writer) the same runs with a single process.

use std::time::{Duration, Instant};

use api::config::Config;
use e2e::{Backend, TestApp, fresh_database, on_both_backends};
use persistence::DatabaseUrl;
use serde_json::{Value, json};

mod common;
use common::ServerProcess;

const JOBS: i64 = 2_000;
const LEASE_SECONDS: u64 = 2;

async fn start_server(url: &DatabaseUrl) -> (ServerProcess, String) {
    let settings = [("CRM_JOB_LEASE_SECONDS", LEASE_SECONDS.to_string()), ("CRM_JOB_POLL_MS", "50".to_owned())];
    common::start_server(url, &settings).await
}

/// Probe jobs in `state` according to the report.
fn in_state(report: &Value, state: &str) -> i64 {
    report["jobs"]
        .as_array()
        .and_then(|states| states.iter().find(|s| s["state"] == state))
        .and_then(|s| s["count"].as_i64())
        .unwrap_or(0)
}

on_both_backends! {
    async fn jobs_survive_a_killed_process_and_each_effect_happens_once(backend) {
        let (_db, url) = fresh_database(backend);
        let config = Config::for_database(url.clone());
        let processes = if backend == Backend::Postgres { 3 } else { 1 };
        let mut servers = Vec::new();
        for _ in 0..processes {
            servers.push(start_server(&url).await);
        }
        let app = TestApp::connect(servers[0].1.clone(), config.clone()).await;
        app.post("/api/v1/jobs/probes", &app.admin_token, &json!({"count": JOBS})).await.assert_status(202);

        // Kill one process with SIGKILL once the work is under way, then start it again.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let report = app.get("/api/v1/jobs/probes", &app.admin_token).await.assert_status(200).body;
            if report["effects"].as_i64().unwrap_or(0) >= JOBS / 10 {
                break;
            }
            assert!(Instant::now() < deadline, "the probes did not start: {report}");
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        let killed = servers.pop().map(|(process, _)| process);
        drop(killed);
        servers.push(start_server(&url).await);
        let app = TestApp::connect(servers[0].1.clone(), config).await;

        let report = loop {
            let report = app.get("/api/v1/jobs/probes", &app.admin_token).await.assert_status(200).body;
            if in_state(&report, "completed") == JOBS {
                break report;
            }
            assert!(Instant::now() < deadline, "not every job completed: {report}");
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(report["effects"], json!(JOBS), "every job's effect exists once: {report}");
        // Only jobs that had their effect when the killed process died, and not yet their
        // completion, may have run twice: at most the ones it was running, one per worker loop
        // (`CRM_JOB_WORKERS`, 2 by default).
        assert!(report["rerun"].as_i64().unwrap_or(i64::MAX) <= 2, "{report}");
        // The recurring dispatcher is running for a moment every half second; a job left running
        // by the killed process would stay so, past its lease.
        let settle = Instant::now() + Duration::from_secs(10);
        loop {
            let running = app.get("/api/v1/jobs?state=running", &app.admin_token).await.assert_status(200).body;
            if running["data"] == json!([]) {
                break;
            }
            assert!(Instant::now() < settle, "no job stays running: {running}");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let discarded = app.get("/api/v1/jobs?state=discarded", &app.admin_token).await.assert_status(200).body;
        assert_eq!(discarded["data"], json!([]), "no job was given up: {discarded}");
    }
}
