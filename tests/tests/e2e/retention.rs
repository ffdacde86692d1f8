use e2e::{TestApp, on_both_backends};
use serde_json::json;

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
}
