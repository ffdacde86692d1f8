//! The durable job queue on both backends: unique keys, leases and fencing, retries and
//! discard, the admin API, and the purge as a periodic job scheduled once per period however
//! many servers ask.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use e2e::{TestApp, on_both_backends};
use persistence::jobs::{self, NewJob};
use persistence::{Store, StoreError, StoreOptions};
use serde_json::json;

/// A job of a kind no server runs, so only the test claims it.
fn probe(key: Option<&str>, once_ever: bool, max_attempts: i32, run_at: chrono::DateTime<Utc>) -> NewJob<'_> {
    NewJob {
        kind: "test.probe",
        payload: json!({"n": 1}).to_string(),
        run_at,
        priority: 0,
        max_attempts,
        unique_key: key,
        once_ever,
    }
}

/// Every lead's score, as the admin's list shows them.
async fn lead_scores(app: &TestApp) -> Vec<Option<i64>> {
    let leads = app.get("/api/v1/leads?limit=100", &app.admin_token).await.assert_status(200);
    leads.body["data"]
        .as_array()
        .map(|leads| leads.iter().map(|lead| lead["score"].as_i64()).collect())
        .unwrap_or_default()
}

on_both_backends! {
    async fn the_queue_keeps_unique_keys_fences_expired_leases_and_retries_then_discards(backend) {
        let app = TestApp::spawn(backend).await;
        let store = Store::open(&app.config.database_url, &StoreOptions::default()).expect("store opens");
        let now = Utc::now();
        let write = |f: &dyn Fn(&mut persistence::DbConnection) -> Result<Option<String>, StoreError>| store.write(f).expect("writes");

        // A unique key holds while the job is unfinished; a once-ever key holds for good.
        let first = write(&|conn| jobs::enqueue(conn, &probe(Some("k"), false, 3, now), now)).expect("enqueued");
        assert_eq!(write(&|conn| jobs::enqueue(conn, &probe(Some("k"), false, 3, now), now)), None);
        assert!(write(&|conn| jobs::enqueue(conn, &probe(Some("p"), true, 3, now), now)).is_some());
        assert_eq!(write(&|conn| jobs::enqueue(conn, &probe(Some("p"), true, 3, now), now)), None);

        // Worker A claims under a one-second lease; B gets nothing until it expires, then takes
        // it with a newer token, and A's late finish changes nothing.
        let lease = |from: chrono::DateTime<Utc>| from + TimeDelta::seconds(1);
        let a = store.write(|conn| jobs::claim(conn, "worker-a", &["test.probe"], 1, lease(now), now)).expect("claims");
        assert_eq!((a.len(), a[0].id.as_str(), a[0].attempt), (1, first.as_str(), 1));
        let none = store.write(|conn| jobs::claim(conn, "worker-b", &["test.probe"], 5, lease(now), now)).expect("claims");
        assert_eq!(none.iter().filter(|c| c.id == first).count(), 0, "a held lease is not taken");
        let later = now + TimeDelta::seconds(2);
        let b = store.write(|conn| jobs::claim(conn, "worker-b", &["test.probe"], 5, lease(later), later)).expect("claims");
        let b = b.into_iter().find(|c| c.id == first).expect("an expired lease is taken over");
        assert!(b.fencing_token > a[0].fencing_token && b.attempt == 2);
        assert!(!store.write(|conn| jobs::renew(conn, &first, a[0].fencing_token, lease(later), later)).expect("runs"));
        assert!(!store.write(|conn| jobs::complete(conn, &first, a[0].fencing_token, later)).expect("runs"), "a fenced-out worker cannot finish");
        assert!(store.write(|conn| jobs::complete(conn, &first, b.fencing_token, later)).expect("runs"));
        assert!(write(&|conn| jobs::enqueue(conn, &probe(Some("k"), false, 3, later), later)).is_some(), "a finished job frees its key");

        // Failures: retried at the given time, then discarded with every error kept.
        let failing = write(&|conn| jobs::enqueue(conn, &probe(None, false, 2, now), now)).expect("enqueued");
        let claim_it = |at| store.write(|conn| jobs::claim(conn, "worker-a", &["test.probe"], 10, lease(at), at)).expect("claims").into_iter().find(|c| c.id == failing);
        let one = claim_it(later).expect("due");
        let retry_at = later + TimeDelta::seconds(30);
        assert!(store.write(|conn| jobs::fail(conn, &failing, one.fencing_token, "boom 1", Some(retry_at), later)).expect("runs"));
        assert!(claim_it(later + TimeDelta::seconds(5)).is_none(), "not before its retry time");
        let two = claim_it(retry_at).expect("due again");
        assert_eq!(two.attempt, 2);
        assert!(store.write(|conn| jobs::fail(conn, &failing, two.fencing_token, "boom 2", None, retry_at)).expect("runs"));

        // The admin API shows, retries and cancels it.
        let admin = app.admin_token.clone();
        let path = format!("/api/v1/jobs/{failing}");
        let discarded = app.get(&path, &admin).await.assert_status(200);
        assert_eq!(discarded.body["state"], "discarded");
        let errors: Vec<&str> = discarded.body["errors"].as_array().map(|e| e.iter().filter_map(|e| e["error"].as_str()).collect()).unwrap_or_default();
        assert_eq!(errors, ["boom 1", "boom 2"]);
        let listed = app.get("/api/v1/jobs?state=discarded&kind=test.probe", &admin).await.assert_status(200);
        assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1));
        let retried = app.post(&format!("{path}/retry"), &admin, &json!({})).await.assert_status(200);
        assert_eq!((retried.body["state"].as_str(), retried.body["max_attempts"].as_i64()), (Some("available"), Some(3)));
        app.post(&format!("{path}/retry"), &admin, &json!({})).await.assert_problem(409);
        let running = claim_it(Utc::now()).expect("available again");
        let cancelled = app.post(&format!("{path}/cancel"), &admin, &json!({})).await.assert_status(200);
        assert_eq!(cancelled.body["state"], "cancelled");
        assert!(!store.write(|conn| jobs::complete(conn, &failing, running.fencing_token, Utc::now())).expect("runs"), "a cancelled job's worker is fenced out");
        app.post(&format!("{path}/cancel"), &admin, &json!({})).await.assert_problem(409);
        app.get("/api/v1/jobs/nope", &admin).await.assert_problem(404);
        app.get("/api/v1/jobs?state=sleeping", &admin).await.assert_problem(400);
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.get("/api/v1/jobs", &rep).await.assert_problem(403);
        app.post(&format!("{path}/retry"), &rep, &json!({})).await.assert_problem(403);

        // Probes: the server's own worker runs them; each leaves one effect.
        app.post("/api/v1/jobs/probes", &rep, &json!({"count": 1})).await.assert_problem(403);
        let refused = app.post("/api/v1/jobs/probes", &admin, &json!({"count": 0})).await.assert_problem(422);
        assert_eq!(refused.error_fields(), ["count"]);
        app.post("/api/v1/jobs/probes", &admin, &json!({"count": 3})).await.assert_status(202);
        let mut report = serde_json::Value::Null;
        for _ in 0..100 {
            report = app.get("/api/v1/jobs/probes", &admin).await.assert_status(200).body;
            if report["effects"] == 3 {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!((report["effects"].as_i64(), report["rerun"].as_i64()), (Some(3), Some(0)), "{report}");
        assert_eq!(report["jobs"], json!([{"state": "completed", "count": 3}]), "{report}");
    }

    async fn the_purge_is_a_periodic_job_scheduled_once_per_period_however_many_servers_ask(backend) {
        let app = TestApp::spawn_with(backend, |config| config.purge_interval = Duration::from_millis(1000)).await;
        let _second = app.second_server();
        let admin = app.admin_token.clone();
        let mut completed = Vec::new();
        for _ in 0..60 {
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            let listed = app.get("/api/v1/jobs?kind=maintenance.purge&limit=100", &admin).await.assert_status(200);
            completed = listed.body["data"].as_array().cloned().unwrap_or_default();
            if completed.iter().filter(|job| job["state"] == "completed").count() >= 3 {
                break;
            }
        }
        let done: Vec<&serde_json::Value> = completed.iter().filter(|job| job["state"] == "completed").collect();
        assert!(done.len() >= 3, "the purge ran each period: {completed:?}");
        let mut keys: Vec<&str> = completed.iter().filter_map(|job| job["unique_key"].as_str()).collect();
        let all = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), all, "two servers scheduled each period once: {completed:?}");
        assert!(done.iter().all(|job| job["attempt"] == 1 && job["payload"]["record_days"] == 30));
    }

    async fn cancelling_an_imports_job_fails_the_import_and_its_worker_stops(backend) {
        let app = TestApp::spawn_with(backend, |config| config.import_batch_rows = 1).await;
        let admin = app.admin_token.clone();
        let mut file = String::from("first_name,last_name,job_title\n");
        for n in 0..3000 {
            file.push_str(&format!("Row,{n},Engineer\n"));
        }
        let accepted = app.upload_import(&admin, &json!({"record_type": "contact", "dedupe": "create"}), file.as_bytes()).await.assert_status(202);
        let import_id = accepted.str("id");
        let listed = app.get("/api/v1/jobs?kind=imports.run", &admin).await.assert_status(200);
        let job = listed.body["data"].as_array().and_then(|jobs| jobs.iter().find(|job| job["unique_key"] == import_id.as_str())).cloned().expect("the import's job");
        let job_id = job["id"].as_str().unwrap_or_default().to_owned();

        let cancelled = app.post(&format!("/api/v1/jobs/{job_id}/cancel"), &admin, &json!({})).await.assert_status(200);
        assert_eq!(cancelled.body["state"], "cancelled");
        let import = app.get(&format!("/api/v1/imports/{import_id}"), &admin).await.assert_status(200).body;
        assert_eq!((import["status"].as_str(), import["error"].as_str()), (Some("failed"), Some("cancelled by an admin")), "{import}");
        let processed = import["counts"]["processed"].as_i64().unwrap_or(-1);
        assert!((0..3000).contains(&processed), "{import}");
        // The worker that held the job can commit at most the batch it had open.
        actix_web::rt::time::sleep(Duration::from_millis(500)).await;
        let later = app.get(&format!("/api/v1/imports/{import_id}"), &admin).await.assert_status(200).body;
        assert_eq!(later["status"], "failed");
        assert!(later["counts"]["processed"].as_i64().unwrap_or(i64::MAX) <= processed + 1, "{later}");
        let finished = app.get(&format!("/api/v1/events?type=import.finished&record_id={import_id}"), &admin).await.assert_status(200);
        assert!(finished.body["data"].as_array().is_some_and(|events| events.len() <= 1));
    }

    async fn a_scoring_rule_change_rescores_every_open_lead_in_a_background_job(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        for n in 0..5 {
            let lead = app.post("/api/v1/leads", &admin, &json!({"last_name": format!("L{n}"), "industry": "software"})).await.assert_status(201);
            assert_eq!(lead.body["score"], 0);
        }
        let rule = app.post("/api/v1/scoring-rules", &admin, &json!({
            "name": "Software", "points": 20, "condition": {"field": "industry", "op": "eq", "value": "software"}
        })).await.assert_status(201);
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen = lead_scores(&app).await;
            if seen.iter().all(|score| *score == Some(20)) {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(seen.len() == 5 && seen.iter().all(|score| *score == Some(20)), "{seen:?}");
        let jobs = app.get("/api/v1/jobs?kind=leads.rescore", &admin).await.assert_status(200);
        assert!(jobs.body["data"].as_array().is_some_and(|jobs| !jobs.is_empty() && jobs.iter().all(|job| job["state"] != "discarded")), "{}", jobs.body);

        // Deleting the rule takes the points away again.
        app.delete(&format!("/api/v1/scoring-rules/{}", rule.str("id")), &admin).await.assert_status(204);
        for _ in 0..200 {
            seen = lead_scores(&app).await;
            if seen.iter().all(|score| *score == Some(0)) {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(seen.iter().all(|score| *score == Some(0)), "{seen:?}");
    }
}
