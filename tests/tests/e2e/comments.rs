//! Comments with @mentions and the notification feed, through the real server: who is told
//! (only those who may read the record), editing and deleting, the timeline, assignments,
//! reading, and preferences.

use std::time::Duration;

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

async fn notifications(app: &TestApp, token: &str) -> Vec<Value> {
    let page = app.get("/api/v1/notifications", token).await.assert_status(200);
    page.body["data"].as_array().cloned().unwrap_or_default()
}

async fn unread(app: &TestApp, token: &str) -> i64 {
    app.get("/api/v1/notifications/unread-count", token).await.assert_status(200).body["unread"].as_i64().unwrap()
}

/// Waits until the user has `count` notifications (assignments come through the dispatcher).
async fn wait_for_notifications(app: &TestApp, token: &str, count: usize) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let found = notifications(app, token).await;
        if found.len() >= count {
            return found;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{} of {count} notifications: {found:?}", found.len());
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_backends! {
    async fn a_comment_notifies_the_users_and_team_members_it_mentions_who_may_read_the_record(backend) {
        let app = TestApp::spawn(backend).await;
        let (alice, alice_token) = app.user_with_role("alice@example.com", "sales").await;
        let (bob, bob_token) = app.user_with_role("bob@example.com", "sales").await;
        let (_, carol_token) = app.user_with_role("carol@example.com", "sales").await;
        let team = app.team_with("West Coast", &[&alice, &bob]).await;
        let contact = app
            .post("/api/v1/contacts", &alice_token, &json!({"first_name": "Ada", "team_id": team}))
            .await
            .assert_status(201)
            .str("id");
        let comments = format!("/api/v1/contacts/{contact}/comments");

        let unknown = app.post(&comments, &alice_token, &json!({"body": "@nobody@example.com look"})).await.assert_problem(422);
        assert_eq!(unknown.body["errors"][0]["code"], "unknown_mention");
        app.post(&comments, &alice_token, &json!({"body": "  "})).await.assert_problem(422);

        let posted = app
            .post(&comments, &alice_token, &json!({"body": "@bob@example.com and @carol@example.com, see @team:\"West Coast\" (write to ada@example.com)"}))
            .await
            .assert_status(201);
        let mentions: Vec<&str> = posted.body["mentions"].as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap()).collect();
        assert_eq!(mentions, ["@bob@example.com", "@carol@example.com", "@team:\"West Coast\""]);
        assert_eq!(posted.body["mentions"][2]["id"], team.as_str());
        let comment = posted.str("id");

        let told = notifications(&app, &bob_token).await;
        assert_eq!(told.len(), 1, "bob is told once, though named twice: {told:?}");
        assert_eq!(told[0]["kind"], "mention");
        assert_eq!(told[0]["record_type"], "contact");
        assert_eq!(told[0]["record_id"], contact.as_str());
        assert_eq!(told[0]["comment_id"], comment.as_str());
        assert!(told[0]["message"].as_str().unwrap().contains("mentioned you"));
        assert!(notifications(&app, &carol_token).await.is_empty(), "carol may not read the contact, so is not told");
        assert!(notifications(&app, &alice_token).await.is_empty(), "nobody is told of their own comment");
        app.get(&comments, &carol_token).await.assert_problem(404);

        // The comment is an event on the contact: its readers see it in the feed, others do not.
        let start = std::time::Instant::now();
        let seen = loop {
            let feed = app.get("/api/v1/events?type=comment.created", &bob_token).await.assert_status(200);
            let seen = feed.body["data"].as_array().cloned().unwrap_or_default();
            if !seen.is_empty() || start.elapsed() > Duration::from_secs(10) {
                break seen;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0]["record_id"], contact.as_str());
        assert_eq!(seen[0]["data"]["object"]["id"], comment.as_str());
        assert_eq!(seen[0]["data"]["object"]["mentions"][0]["text"], "@bob@example.com");
        let hidden = app.get("/api/v1/events?type=comment.created", &carol_token).await.assert_status(200);
        assert_eq!(hidden.body["data"], json!([]));

        let listed = app.get(&comments, &bob_token).await.assert_status(200);
        assert_eq!(listed.body["data"][0]["body"], posted.body["body"]);
        let timeline = app.get(&format!("/api/v1/contacts/{contact}/timeline?type=comment"), &bob_token).await.assert_status(200);
        assert_eq!(timeline.body["data"][0]["kind"], "comment");
        assert_eq!(timeline.body["data"][0]["comment"]["id"], comment.as_str());

        // Only the author edits; only new mentions are told.
        let one = format!("{comments}/{comment}");
        app.patch(&one, &bob_token, &json!({"body": "mine now"})).await.assert_problem(403);
        let edited = app
            .patch(&one, &alice_token, &json!({"body": "@bob@example.com and now @admin@example.com"}))
            .await
            .assert_status(200);
        assert_eq!(edited.body["version"], 2);
        assert_eq!(notifications(&app, &bob_token).await.len(), 1);
        let admin_told = notifications(&app, &app.admin_token).await;
        assert_eq!(admin_told.len(), 1);
        assert_eq!(admin_told[0]["kind"], "mention");

        app.delete(&one, &bob_token).await.assert_problem(403);
        app.delete(&one, &app.admin_token).await.assert_status(204);
        app.get(&one, &alice_token).await.assert_problem(404);
        assert!(notifications(&app, &bob_token).await.is_empty(), "a deleted comment's notices go with it");
        app.get("/api/v1/nonsense/x/comments", &alice_token).await.assert_problem(404);
    }

    async fn assignments_are_notified_read_one_by_one_or_all_and_preferences_keep_a_kind_out(backend) {
        let app = TestApp::spawn(backend).await;
        let (alice, alice_token) = app.user_with_role("alice@example.com", "sales").await;
        let (bob, bob_token) = app.user_with_role("bob@example.com", "sales").await;
        app.post("/api/v1/contacts", &alice_token, &json!({"first_name": "Own"})).await.assert_status(201);
        let given = app
            .post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "Given", "owner_id": alice}))
            .await
            .assert_status(201)
            .str("id");
        let told = wait_for_notifications(&app, &alice_token, 1).await;
        assert_eq!(told[0]["kind"], "assignment");
        assert_eq!(told[0]["record_id"], given.as_str());
        assert!(told[0]["message"].as_str().unwrap().contains("Given"), "{}", told[0]["message"]);

        app.patch(&format!("/api/v1/contacts/{given}"), &app.admin_token, &json!({"owner_id": bob})).await.assert_status(200);
        let bobs = wait_for_notifications(&app, &bob_token, 1).await;
        assert_eq!(bobs[0]["kind"], "assignment");
        app.post("/api/v1/tasks", &app.admin_token, &json!({"title": "Call back", "assignee_id": bob})).await.assert_status(201);
        wait_for_notifications(&app, &bob_token, 2).await;
        assert_eq!(unread(&app, &bob_token).await, 2);
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(notifications(&app, &alice_token).await.len(), 1, "her own contact told her nothing");

        // What one request gives her is one notification that counts up.
        let ops: Vec<Value> =
            (0..3).map(|n| json!({"op": "create", "body": {"first_name": format!("Batch {n}"), "owner_id": alice}})).collect();
        app.post("/api/v1/contacts/batch", &app.admin_token, &json!({"operations": ops})).await.assert_status(200);
        let start = std::time::Instant::now();
        let grouped = loop {
            let newest = notifications(&app, &alice_token).await.into_iter().next().unwrap();
            if newest["count"] == 3 || start.elapsed() > Duration::from_secs(15) {
                break newest;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(grouped["count"], 3, "{grouped}");
        assert!(grouped["message"].as_str().unwrap().ends_with("assigned you 3 records"), "{grouped}");
        assert_eq!(notifications(&app, &alice_token).await.len(), 2);

        let first = bobs[0]["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/notifications/{first}/read"), &alice_token, &json!({})).await.assert_problem(404);
        app.post(&format!("/api/v1/notifications/{first}/read"), &bob_token, &json!({})).await.assert_status(204);
        assert_eq!(unread(&app, &bob_token).await, 1);
        let only_unread = app.get("/api/v1/notifications?unread=true", &bob_token).await.assert_status(200);
        assert_eq!(only_unread.body["data"].as_array().unwrap().len(), 1);
        let all = app.post("/api/v1/notifications/read-all", &bob_token, &json!({})).await.assert_status(200);
        assert_eq!(all.body["marked"], 1);
        assert_eq!(unread(&app, &bob_token).await, 0);

        let defaults = app.get("/api/v1/notification-preferences", &alice_token).await.assert_status(200);
        assert_eq!(defaults.body["assignment"], json!({"in_app": true, "email": false}));
        let changed = app
            .patch("/api/v1/notification-preferences", &alice_token, &json!({"assignment": {"in_app": false, "email": false}}))
            .await
            .assert_status(200);
        assert_eq!(changed.body["assignment"]["in_app"], false);
        assert_eq!(changed.body["mention"]["in_app"], true);
        app.patch("/api/v1/notification-preferences", &alice_token, &json!({"assignment": {"in_app": false}})).await.assert_problem(400);
        app.post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "Quiet", "owner_id": alice})).await.assert_status(201);
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(notifications(&app, &alice_token).await.len(), 2, "assignments are off for her now");
    }
}
