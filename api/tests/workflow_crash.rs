//! A crash in the middle of workflow runs: the real `crm` binary is killed (SIGKILL) while
//! hundreds of runs take their steps, and a new process on the same database finishes every run
//! once, with every step's effect made once (one task per record, each tag once).
//! Runs on SQLite and PostgreSQL.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use api::config::Config;
use e2e::{TestApp, fresh_database, on_both_backends};
use persistence::DatabaseUrl;
use serde_json::{Value, json};

mod common;
use common::ServerProcess;

const RECORDS: usize = 300;
const LEASE_SECONDS: u64 = 3;

async fn start_server(url: &DatabaseUrl) -> (ServerProcess, String) {
    let settings = [("CRM_JOB_LEASE_SECONDS", LEASE_SECONDS.to_string()), ("CRM_JOB_POLL_MS", "100".to_owned())];
    common::start_server(url, &settings).await
}

/// The workflow's runs by state.
async fn run_states(app: &TestApp, workflow: &str) -> BTreeMap<String, usize> {
    let runs = app.list_all(&format!("/api/v1/workflows/{workflow}/runs"), &app.admin_token).await;
    let mut states = BTreeMap::new();
    for run in runs {
        *states.entry(run["state"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    states
}

on_both_backends! {
    async fn workflow_runs_killed_mid_way_finish_once_with_every_step_done_once(backend) {
        let (_db, url) = fresh_database(backend);
        let config = Config::for_database(url.clone());
        let (first, base) = start_server(&url).await;
        let app = TestApp::connect(base, config.clone()).await;
        let admin = &app.admin_token;
        let workflow = app
            .post("/api/v1/workflows", admin, &json!({
                "name": "Follow up", "record_type": "contact", "status": "active", "trigger": {"type": "created"},
                "steps": [
                    {"type": "add_tag", "tag": "one"},
                    {"type": "create_task", "title": "Follow up", "due_in_days": 1},
                    {"type": "add_tag", "tag": "two"}
                ]
            }))
            .await
            .assert_status(201)
            .str("id");
        let mut file = String::from("first_name,last_name\n");
        for n in 0..RECORDS {
            file.push_str(&format!("Person,{n:05}\n"));
        }
        let options = json!({"record_type": "contact", "dedupe": "create"});
        let import = app.upload_import(admin, &options, file.as_bytes()).await.assert_status(202).str("id");
        app.wait_for_import(admin, &import).await;

        // Kill the process once some runs are done, long before all are.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let states = run_states(&app, &workflow).await;
            if states.get("completed").copied().unwrap_or(0) >= 20 {
                break;
            }
            assert!(Instant::now() < deadline, "the runs did not start: {states:?}");
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        drop(first);

        let (_second, base) = start_server(&url).await;
        let app = TestApp::connect(base, config).await;
        let admin = &app.admin_token;
        let states = run_states(&app, &workflow).await;
        assert!(states.get("completed").copied().unwrap_or(0) < RECORDS, "the kill came too late: {states:?}");
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let states = run_states(&app, &workflow).await;
            if states.get("completed").copied().unwrap_or(0) == RECORDS {
                assert_eq!(states.len(), 1, "{states:?}");
                break;
            }
            assert!(Instant::now() < deadline, "the runs did not all complete: {states:?}");
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }

        // One run per record, each step taken once.
        let runs = app.list_all(&format!("/api/v1/workflows/{workflow}/runs"), admin).await;
        let records: std::collections::BTreeSet<&str> = runs.iter().filter_map(|r| r["record_id"].as_str()).collect();
        assert_eq!(records.len(), RECORDS, "one run per record");
        for run in runs.iter().step_by(25) {
            let log = app.get(&format!("/api/v1/workflow-runs/{}", run["id"].as_str().unwrap_or_default()), admin).await.assert_status(200).body;
            let steps = log["steps"].as_array().cloned().unwrap_or_default();
            assert_eq!(steps.len(), 3, "{log}");
            assert!(steps.iter().all(|s| s["outcome"] == "completed" && s["attempts"] == 1), "{log}");
        }
        // Every effect once: one task per record, each contact tagged once with both tags.
        let tasks = app.list_all("/api/v1/tasks", admin).await;
        let mut per_record: BTreeMap<String, usize> = BTreeMap::new();
        for task in &tasks {
            let linked = task["links"][0]["id"].as_str().unwrap_or_default().to_owned();
            *per_record.entry(linked).or_insert(0) += 1;
        }
        assert_eq!(tasks.len(), RECORDS, "one task per record");
        assert!(per_record.values().all(|count| *count == 1), "a record got two tasks");
        let contacts = app.list_all("/api/v1/contacts", admin).await;
        assert_eq!(contacts.len(), RECORDS);
        assert!(contacts.iter().all(|c| c["tags"] == json!(["one", "two"])), "{:?}", contacts.iter().find(|c| c["tags"] != json!(["one", "two"])).map(Value::to_string));
    }
}
