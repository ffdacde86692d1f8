use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

/// A handler that cannot take the event of a contact named "Stuck": the dispatcher stops there.
static STUCK_ON_ONE_CONTACT: app::events::EventHandler = app::events::EventHandler {
    name: "test.stuck_on_one_contact",
    route: |_, event| {
        if event.payload.contains("\"Stuck\"") {
            return Err(app::error::AppError::Internal("this handler cannot take it".into()));
        }
        Ok(())
    },
};
static STUCK_HANDLERS: [&app::events::EventHandler; 1] = [&STUCK_ON_ONE_CONTACT];

/// The first names of the contacts the feed's events are about.
async fn names_in_feed(app: &TestApp, token: &str) -> Vec<String> {
    let feed = app.get("/api/v1/events?record_type=contact", token).await.assert_status(200);
    let events = feed.body["data"].as_array().cloned().unwrap_or_default();
    events.iter().filter_map(|e| e["data"]["object"]["first_name"].as_str().map(str::to_owned)).collect()
}

async fn wait_until_feed(app: &TestApp, token: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut names = Vec::new();
    for _ in 0..50 {
        names = names_in_feed(app, token).await;
        if done(&names) {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    names
}

on_both_backends! {
    async fn deleted_records_are_purged_when_their_retention_ends(backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.retention_days = 0;
            config.purge_interval = std::time::Duration::from_millis(300);
        })
        .await;
        let token = app.admin_token.clone();
        let company = app.post("/api/v1/companies", &token, &json!({"name": "Gone Ltd"})).await.assert_status(201).str("id");
        let contact = app.post("/api/v1/contacts", &token, &json!({"first_name": "Kept", "company_id": company})).await.assert_status(201);
        let contact_path = contact.header("location").unwrap_or_default();
        app.delete(&format!("/api/v1/companies/{company}"), &token).await.assert_status(204);
        let mut purged = false;
        for _ in 0..30 {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
            let deleted = app.get("/api/v1/companies?deleted=true", &token).await.assert_status(200);
            if deleted.body["data"].as_array().is_some_and(Vec::is_empty) {
                purged = true;
                break;
            }
        }
        assert!(purged, "the deleted company was not purged");
        app.post(&format!("/api/v1/companies/{company}/restore"), &token, &json!({})).await.assert_problem(404);
        let kept = app.get(&contact_path, &token).await.assert_status(200);
        assert!(kept.body["company_id"].is_null(), "the contact stays, unlinked: {}", kept.text);
    }

    async fn events_leave_the_feed_when_their_own_retention_ends(backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.event_retention_days = 0;
            config.purge_interval = std::time::Duration::from_millis(2000);
        })
        .await;
        let token = app.admin_token.clone();
        let contact = app.post("/api/v1/contacts", &token, &json!({"first_name": "Kept"})).await.assert_status(201);
        // Seen first (the purge's first round ran at start), so an empty feed later is the purge.
        let mut seen = false;
        for _ in 0..20 {
            let feed = app.get("/api/v1/events", &token).await.assert_status(200);
            if feed.body["data"].as_array().is_some_and(|events| !events.is_empty()) {
                seen = true;
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(seen, "the contact's event never showed");
        let mut purged = false;
        for _ in 0..30 {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
            let feed = app.get("/api/v1/events", &token).await.assert_status(200);
            if feed.body["data"].as_array().is_some_and(Vec::is_empty) {
                purged = true;
                break;
            }
        }
        assert!(purged, "the contact's event was not purged");
        app.get(&contact.header("location").unwrap_or_default(), &token).await.assert_status(200);
    }

    async fn an_event_the_dispatcher_has_not_handed_on_outlives_its_retention(backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.event_retention_days = 0;
            config.purge_interval = std::time::Duration::from_millis(300);
            config.extra_event_handlers = &STUCK_HANDLERS;
        })
        .await;
        let token = app.admin_token.clone();
        app.post("/api/v1/contacts", &token, &json!({"first_name": "Early"})).await.assert_status(201);
        // Seen (on PostgreSQL an event shows once older transactions on the cluster end), then
        // handed on and purged: the purge runs.
        let names = wait_until_feed(&app, &token, |names| !names.is_empty()).await;
        assert_eq!(names, ["Early"]);
        let names = wait_until_feed(&app, &token, |names| names.is_empty()).await;
        assert!(names.is_empty(), "the handed-on event was not purged: {names:?}");
        app.post("/api/v1/contacts", &token, &json!({"first_name": "Stuck"})).await.assert_status(201);
        app.post("/api/v1/contacts", &token, &json!({"first_name": "After"})).await.assert_status(201);
        let names = wait_until_feed(&app, &token, |names| names.len() == 2).await;
        assert_eq!(names, ["Stuck", "After"]);
        // Several purge rounds later both are still there: the dispatcher has not had them.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(names_in_feed(&app, &token).await, ["Stuck", "After"]);
        // And the dispatcher did have them in hand: it is failing on "Stuck".
        let mut jobs = Value::Null;
        for _ in 0..50 {
            jobs = app.get("/api/v1/jobs?kind=events.dispatch", &token).await.assert_status(200).body;
            if jobs["data"].as_array().is_some_and(|all| all.iter().any(|job| job["errors"].to_string().contains("cannot take it"))) {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(jobs.to_string().contains("cannot take it"), "{jobs}");
    }
}
