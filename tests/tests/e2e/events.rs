//! The domain event feed: every acknowledged change has its events, in order, a refused one
//! none; readers see the events of what they may read; a poller never misses one.

use diesel::Connection;
use diesel::connection::SimpleConnection;
use e2e::{Backend, TestApp, on_both_backends};
use serde_json::{Value, json};

/// A handler as the automation features register them: every contact event asks for one
/// probe job (no unique key, so an event routed twice would show as two jobs).
static PROBE_PER_CONTACT_EVENT: app::events::EventHandler = app::events::EventHandler {
    name: "test.probe_per_contact_event",
    route: |conn, event| {
        if event.record_type == "contact" {
            let probe = app::jobs::Probe { enqueued_at: chrono::Utc::now() };
            app::jobs::enqueue(conn, &app::jobs::PROBE.spec, &probe, &app::jobs::Enqueue::default())?;
        }
        Ok(())
    },
};
static TEST_HANDLERS: [&app::events::EventHandler; 1] = [&PROBE_PER_CONTACT_EVENT];

/// One read of the feed: its events and `next_cursor`.
async fn read(app: &TestApp, token: &str, query: &str) -> (Vec<Value>, Option<String>) {
    let reply = app.get(&format!("/api/v1/events?{query}"), token).await.assert_status(200);
    let data = reply.body["data"].as_array().cloned().unwrap_or_default();
    (data, reply.body["next_cursor"].as_str().map(str::to_owned))
}

/// A read once the feed has caught up with `at_least` events. On PostgreSQL an event shows
/// once every transaction that was running when it committed has ended, and the tests share
/// one cluster: another test's open transaction delays (never drops) an event for a moment.
async fn feed_of(app: &TestApp, token: &str, query: &str, at_least: usize) -> (Vec<Value>, Option<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (events, cursor) = read(app, token, query).await;
        if events.len() >= at_least || std::time::Instant::now() > deadline {
            return (events, cursor);
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events.iter().filter_map(|e| e["type"].as_str().map(str::to_owned)).collect()
}

on_both_backends! {
    async fn every_acknowledged_change_is_an_event_in_order_and_a_refused_one_leaves_none(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let admin_id = app.get("/api/v1/me", &admin).await.assert_status(200).str("id");
        let created = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Ada", "emails": [{"email": "ada@example.com"}]})).await.assert_status(201);
        let id = created.str("id");
        let path = format!("/api/v1/contacts/{id}");
        app.patch(&path, &admin, &json!({"first_name": "Augusta"})).await.assert_status(200);
        // Refused writes: invalid, stale, forbidden field: no events.
        app.patch(&path, &admin, &json!({"first_name": "x".repeat(201)})).await.assert_problem(422);
        app.request(actix_web::http::Method::PATCH, &path).token(&admin).header("if-match", "\"1\"").json(&json!({"last_name": "L"})).send().await.assert_problem(412);
        app.delete(&path, &admin).await.assert_status(204);
        app.post(&format!("{path}/restore"), &admin, &json!({})).await.assert_status(200);

        let (events, cursor) = feed_of(&app, &admin, "record_type=contact", 4).await;
        assert_eq!(types(&events), ["contact.created", "contact.updated", "contact.deleted", "contact.restored"]);
        let (first, update, deleted, restored) = (&events[0], &events[1], &events[2], &events[3]);
        assert_eq!((first["record_id"].as_str(), first["actor"]["kind"].as_str(), first["actor"]["user_id"].as_str()), (Some(id.as_str()), Some("user"), Some(admin_id.as_str())));
        assert_eq!(first["data"]["object"]["emails"][0]["email"], "ada@example.com");
        assert_eq!(first["data"]["previous"], Value::Null);
        assert_eq!(update["data"]["changed_fields"], json!(["first_name"]));
        assert_eq!((update["data"]["previous"]["first_name"].as_str(), update["data"]["object"]["first_name"].as_str()), (Some("Ada"), Some("Augusta")));
        assert!(update["request_id"].is_string() && update["depth"] == 0);
        assert_eq!((deleted["data"]["object"].clone(), deleted["data"]["previous"]["first_name"].as_str()), (Value::Null, Some("Augusta")));
        assert_eq!(restored["data"]["object"]["first_name"], "Augusta");
        let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "ids are time-ordered as the feed is");

        // A deal's stage move is its update and a stage change; filters narrow the feed.
        let pipelines = app.get("/api/v1/pipelines", &admin).await.assert_status(200);
        let stages = pipelines.body["data"][0]["stages"].as_array().cloned().unwrap_or_default();
        let deal = app.post("/api/v1/deals", &admin, &json!({"name": "Seats", "stage_id": stages[0]["id"]})).await.assert_status(201).str("id");
        app.patch(&format!("/api/v1/deals/{deal}"), &admin, &json!({"stage_id": stages[1]["id"]})).await.assert_status(200);
        let (moved, _) = feed_of(&app, &admin, &format!("record_id={deal}"), 3).await;
        assert_eq!(types(&moved), ["deal.created", "deal.updated", "deal.stage_changed"]);
        assert_eq!(moved[2]["data"]["previous"]["stage_id"], stages[0]["id"]);
        let (only, _) = feed_of(&app, &admin, "type=deal.stage_changed", 1).await;
        assert_eq!(only.len(), 1);

        // Paging: pages of 2 follow on exactly; the cursor of an empty read stays put.
        let (all, _) = feed_of(&app, &admin, "", 7).await;
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let query = after.as_ref().map_or_else(|| "limit=2".to_owned(), |a| format!("limit=2&after={a}"));
            let (page, next) = read(&app, &admin, &query).await;
            if page.is_empty() {
                assert_eq!(next, after, "an empty read gives back its own cursor");
                break;
            }
            paged.extend(page);
            after = next;
        }
        assert_eq!(paged, all);
        assert!(cursor.is_some());

        // Bad reads are refused and name their parameter.
        for (query, field) in [("after=zz", "after"), ("type=contact.exploded", "type"), ("record_type=planet", "record_type"), ("limit=0", "limit"), ("colour=red", "colour")] {
            let refused = app.get(&format!("/api/v1/events?{query}"), &admin).await.assert_problem(400);
            assert_eq!(refused.error_fields(), [field], "{query}");
        }
    }

    async fn readers_see_the_events_of_what_they_may_read_and_merges_say_where_records_went(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        let (_, support) = app.user_with_role("help@example.com", "support").await;
        let mine = app.post("/api/v1/contacts", &rep, &json!({"first_name": "Mine"})).await.assert_status(201).str("id");
        let theirs = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Admins"})).await.assert_status(201).str("id");
        app.post("/api/v1/leads", &rep, &json!({"first_name": "Lead"})).await.assert_status(201);

        let (admin_seen, _) = feed_of(&app, &admin, "record_type=contact", 2).await;
        assert_eq!(admin_seen.len(), 2);
        let (seen, _) = read(&app, &rep, "record_type=contact").await;
        let ids: Vec<&str> = seen.iter().filter_map(|e| e["record_id"].as_str()).collect();
        assert_eq!(ids, [mine.as_str()], "a rep sees their own contact's events only");
        feed_of(&app, &admin, "record_type=lead", 1).await;
        let (support_leads, _) = read(&app, &support, "record_type=lead").await;
        assert!(support_leads.is_empty(), "support may not read leads: {support_leads:?}");

        let gone = app.post("/api/v1/contacts?allow_duplicate=true", &admin, &json!({"first_name": "Admins 2"})).await.assert_status(201).str("id");
        app.post(&format!("/api/v1/contacts/{theirs}/merge"), &admin, &json!({"merge_ids": [gone]})).await.assert_status(200);
        let (merged, _) = feed_of(&app, &admin, "type=contact.merged", 2).await;
        let merged: Vec<(String, Value)> = merged.iter().map(|e| (e["record_id"].as_str().unwrap_or_default().to_owned(), e["data"]["object"].clone())).collect();
        assert_eq!(merged.len(), 2);
        assert_eq!((merged[0].0.as_str(), merged[0].1["first_name"].as_str()), (theirs.as_str(), Some("Admins")));
        assert_eq!((merged[1].0.as_str(), merged[1].1.clone()), (gone.as_str(), Value::Null), "the merged-away record's object is gone");
    }

    async fn a_poller_never_skips_an_event_that_commits_after_a_later_one(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        app.post("/api/v1/contacts", &admin, &json!({"first_name": "Before"})).await.assert_status(201);
        let (before, cursor) = feed_of(&app, &admin, "", 1).await;
        assert_eq!(types(&before), ["contact.created"]);
        // A poller's worst case on PostgreSQL: a transaction writes an event (taking the lower
        // position), and before it commits a later write commits its own. A feed ordered by
        // position alone would show the later one, the poller would move past it, and the
        // earlier event would never be read. SQLite has one writer, so it cannot happen there.
        let mut held = match backend {
            Backend::Postgres => {
                let mut conn = diesel::PgConnection::establish(&app.config.database_url.expose()).expect("connects");
                conn.batch_execute("BEGIN; INSERT INTO events (id, event_type, record_type, record_id, actor_kind, occurred_at, payload) VALUES ('held', 'contact.created', 'contact', 'held', 'system', now(), '{}');").expect("writes in a transaction held open");
                Some(conn)
            }
            Backend::Sqlite => None,
        };
        app.post("/api/v1/contacts", &admin, &json!({"first_name": "After"})).await.assert_status(201);
        let (mut seen, next) = read(&app, &admin, &format!("after={}", cursor.unwrap_or_default())).await;
        let expected = if let Some(conn) = held.as_mut() {
            conn.batch_execute("COMMIT").expect("ends the transaction");
            vec!["held".to_owned(), "After".to_owned()]
        } else {
            vec!["After".to_owned()]
        };
        let missing = expected.len() - seen.len().min(expected.len());
        let (rest, _) = feed_of(&app, &admin, &format!("after={}", next.unwrap_or_default()), missing).await;
        seen.extend(rest);
        let names: Vec<String> = seen
            .iter()
            .map(|e| e["data"]["object"]["first_name"].as_str().map_or_else(|| e["record_id"].as_str().unwrap_or_default().to_owned(), str::to_owned))
            .collect();
        assert_eq!(names, expected, "the poller read every event once, none skipped");
    }

    async fn the_dispatcher_hands_each_committed_event_to_every_handler_once_across_servers(backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.extra_event_handlers = &TEST_HANDLERS;
            config.metrics_token = Some("metrics-secret".into());
        })
        .await;
        let _second = app.second_server();
        let admin = app.admin_token.clone();
        let mut ids = Vec::new();
        for n in 0..20 {
            ids.push(app.post("/api/v1/contacts", &admin, &json!({"last_name": format!("D{n}")})).await.assert_status(201).str("id"));
        }
        for id in &ids[..5] {
            app.patch(&format!("/api/v1/contacts/{id}"), &admin, &json!({"first_name": "Changed"})).await.assert_status(200);
        }
        // A refused write has no event, so it asks for nothing.
        app.post("/api/v1/contacts", &admin, &json!({"emails": [{"email": "not an email"}]})).await.assert_problem(422);

        let mut report = Value::Null;
        for _ in 0..400 {
            report = app.get("/api/v1/jobs/probes", &admin).await.assert_status(200).body;
            if report["effects"] == 25 {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(report["effects"], 25, "{report}");
        // Both servers run workers; give a second routing the time it would need to show.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1500)).await;
        let report = app.get("/api/v1/jobs/probes", &admin).await.assert_status(200).body;
        assert_eq!((report["effects"].as_i64(), report["rerun"].as_i64()), (Some(25), Some(0)), "{report}");
        assert_eq!(report["jobs"], json!([{"state": "completed", "count": 25}]), "one job per event: {report}");

        // One dispatcher job however many servers, queued again after each run.
        let dispatchers = app.get("/api/v1/jobs?kind=events.dispatch", &admin).await.assert_status(200);
        let dispatchers = dispatchers.body["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(dispatchers.len(), 1, "{dispatchers:?}");
        assert!(["scheduled", "available", "running"].contains(&dispatchers[0]["state"].as_str().unwrap_or_default()), "{dispatchers:?}");

        let metrics = app.request(actix_web::http::Method::GET, "/metrics").header("authorization", "Bearer metrics-secret").send().await.assert_status(200);
        assert!(metrics.text.lines().any(|line| line.starts_with("crm_event_dispatch_lag_seconds ")), "{}", metrics.text);
    }
}
