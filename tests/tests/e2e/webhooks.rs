//! Outbound webhooks through the real server and a real HTTP receiver on loopback: Standard
//! Webhooks signatures checked as a receiver checks them, retries, Retry-After, 410, no
//! redirects, rotation, the delivery log, replays, and the destinations refused at save.

use std::time::Duration;

use e2e::receiver::{Receiver, Reply, verify};
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// A server whose webhooks may reach the test's loopback receivers.
async fn spawn(backend: e2e::Backend) -> TestApp {
    TestApp::spawn_with(backend, |config| config.webhook_policy.allow_loopback = true).await
}

/// Creates an endpoint for `url` and `event_types`: its id and secret.
async fn endpoint(app: &TestApp, url: &str, event_types: Value) -> (String, String) {
    let created = app
        .post("/api/v1/webhooks", &app.admin_token, &json!({"url": url, "event_types": event_types}))
        .await
        .assert_status(201);
    (created.str("id"), created.str("secret"))
}

async fn contact(app: &TestApp, name: &str) -> String {
    app.post("/api/v1/contacts", &app.admin_token, &json!({"first_name": name})).await.assert_status(201).str("id")
}

/// The endpoint's deliveries, newest first.
async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let page = app.get(&format!("/api/v1/webhooks/{endpoint}/deliveries"), &app.admin_token).await.assert_status(200);
    page.body["data"].as_array().cloned().unwrap_or_default()
}

/// Waits until the endpoint's newest delivery is in `state`; the delivery with its attempts.
async fn settled(app: &TestApp, endpoint: &str, state: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        if let Some(newest) = deliveries(app, endpoint).await.first()
            && newest["state"] == state
        {
            let path = format!("/api/v1/webhooks/{endpoint}/deliveries/{}", newest["id"].as_str().unwrap());
            return app.get(&path, &app.admin_token).await.assert_status(200).body;
        }
        assert!(start.elapsed() < WAIT, "no delivery became {state}: {:?}", deliveries(app, endpoint).await);
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the endpoint's newest delivery has `count` attempts; the delivery.
async fn attempted(app: &TestApp, endpoint: &str, count: usize) -> Value {
    let start = std::time::Instant::now();
    loop {
        if let Some(newest) = deliveries(app, endpoint).await.first() {
            let path = format!("/api/v1/webhooks/{endpoint}/deliveries/{}", newest["id"].as_str().unwrap());
            let delivery = app.get(&path, &app.admin_token).await.assert_status(200).body;
            if delivery["requests"].as_array().is_some_and(|a| a.len() >= count) {
                return delivery;
            }
        }
        assert!(start.elapsed() < WAIT, "no delivery had {count} attempts: {:?}", deliveries(app, endpoint).await);
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn statuses(delivery: &Value) -> Vec<Option<i64>> {
    delivery["requests"].as_array().unwrap().iter().map(|a| a["status"].as_i64()).collect()
}

on_both_backends! {
    async fn a_subscribed_event_reaches_the_receiver_signed_as_standard_webhooks_says_and_is_logged(backend) {
        let app = spawn(backend).await;
        let receiver = Receiver::start();
        let (id, secret) = endpoint(&app, &receiver.url, json!(["contact.created"])).await;
        assert!(secret.starts_with("whsec_"), "{secret}");
        let shown = app.get(&format!("/api/v1/webhooks/{id}"), &app.admin_token).await.assert_status(200);
        assert!(!shown.text.contains(&secret), "the secret is shown only once: {}", shown.text);
        assert_eq!(shown.body["event_types"], json!(["contact.created"]));

        let ada = contact(&app, "Ada").await;
        app.patch(&format!("/api/v1/contacts/{ada}"), &app.admin_token, &json!({"last_name": "Lovelace"})).await.assert_status(200);
        let received = receiver.wait_for(1, WAIT).await;
        let request = &received[0];
        verify(&secret, request).expect("the signature checks out");
        assert!(verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", request).is_err(), "another secret does not verify");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let body = request.json();
        assert_eq!(body["type"], "contact.created");
        assert_eq!(body["data"]["object"]["id"], ada.as_str());
        assert_eq!(body["data"]["object"]["first_name"], "Ada");
        assert!(body["timestamp"].as_str().is_some());

        let delivery = settled(&app, &id, "succeeded").await;
        assert_eq!(request.header("webhook-id"), delivery["id"].as_str(), "webhook-id is the delivery's id");
        assert_eq!(delivery["event_type"], "contact.created");
        assert_eq!(delivery["body"], body, "the log keeps the body sent");
        assert_eq!(statuses(&delivery), vec![Some(200)]);
        let attempt = &delivery["requests"][0];
        assert_eq!(attempt["response_body"], "ok");
        assert_eq!(attempt["request_headers"]["webhook-id"], delivery["id"]);
        assert_eq!(attempt["cause"], "scheduled");
        assert!(attempt["duration_ms"].as_i64().is_some());
        assert!(attempt["response_headers"]["content-length"].is_string());

        // The update was an event too, but not one the endpoint wants.
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(receiver.received().len(), 1);
        assert_eq!(deliveries(&app, &id).await.len(), 1);
    }

    async fn a_failing_receiver_is_tried_again_after_its_retry_after_with_the_same_webhook_id(backend) {
        let app = spawn(backend).await;
        let receiver = Receiver::start();
        receiver.script([Reply::status(503).with_header("Retry-After", "1")]);
        let (id, secret) = endpoint(&app, &receiver.url, Value::Null).await;
        contact(&app, "Grace").await;
        let received = receiver.wait_for(2, WAIT).await;
        assert_eq!(received[0].header("webhook-id"), received[1].header("webhook-id"));
        verify(&secret, &received[0]).expect("first attempt signed");
        verify(&secret, &received[1]).expect("retry signed");
        assert_eq!(received[0].body, received[1].body, "every attempt posts the same bytes");

        let delivery = settled(&app, &id, "succeeded").await;
        assert_eq!(statuses(&delivery), vec![Some(503), Some(200)]);
        assert_eq!(delivery["requests"][0]["response_headers"]["retry-after"], "1");
        let shown = app.get(&format!("/api/v1/webhooks/{id}"), &app.admin_token).await.assert_status(200);
        assert_eq!(shown.body["failing_since"], Value::Null, "a success ends the failing streak");
        assert_eq!(shown.body["active"], true);
    }

    async fn a_redirect_is_a_failed_attempt_that_is_not_followed_and_a_410_turns_the_endpoint_off(backend) {
        let app = spawn(backend).await;
        let elsewhere = Receiver::start();
        let redirecting = Receiver::start();
        redirecting.script([Reply::status(307).with_header("Location", &elsewhere.url)]);
        let (redirected, _) = endpoint(&app, &redirecting.url, json!(["contact.created"])).await;
        let gone = Receiver::start();
        gone.script([Reply::status(410)]);
        let (dead, _) = endpoint(&app, &gone.url, json!(["contact.created"])).await;

        contact(&app, "Edsger").await;
        redirecting.wait_for(1, WAIT).await;
        gone.wait_for(1, WAIT).await;
        let failed = settled(&app, &dead, "failed").await;
        assert_eq!(statuses(&failed), vec![Some(410)]);
        let off = app.get(&format!("/api/v1/webhooks/{dead}"), &app.admin_token).await.assert_status(200);
        assert_eq!(off.body["active"], false);
        assert_eq!(off.body["disabled_reason"], "the endpoint answered 410 Gone");
        assert!(off.body["failing_since"].is_string());
        let notices = app.get("/api/v1/notifications", &app.admin_token).await.assert_status(200);
        let disabled: Vec<&Value> = notices.body["data"].as_array().unwrap().iter().filter(|n| n["kind"] == "webhook_disabled").collect();
        assert_eq!(disabled.len(), 1, "the admins are told: {}", notices.text);
        assert!(disabled[0]["message"].as_str().unwrap().contains("410"));

        let retrying = attempted(&app, &redirected, 1).await;
        assert_eq!(statuses(&retrying), vec![Some(307)]);
        assert_eq!(retrying["state"], "pending", "a redirect is retried later: {retrying}");
        assert!(retrying["next_attempt_at"].is_string());
        assert!(elsewhere.received().is_empty(), "the redirect was not followed");

        // Nothing more goes to the endpoint that is off, until an admin turns it on again.
        contact(&app, "Barbara").await;
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(gone.received().len(), 1);
        let etag = off.header("etag").unwrap();
        let on = app
            .request(actix_web::http::Method::PATCH, &format!("/api/v1/webhooks/{dead}"))
            .token(&app.admin_token)
            .header("If-Match", &etag)
            .json(&json!({"active": true}))
            .send()
            .await
            .assert_status(200);
        assert_eq!(on.body["disabled_reason"], Value::Null);
        assert_eq!(on.body["failing_since"], Value::Null);
        contact(&app, "Niklaus").await;
        gone.wait_for(2, WAIT).await;
    }

    async fn a_rotated_out_secret_signs_beside_the_new_one_until_the_day_is_over(backend) {
        let app = spawn(backend).await;
        let receiver = Receiver::start();
        let (id, old) = endpoint(&app, &receiver.url, json!(["contact.created"])).await;
        let rotated = app.post(&format!("/api/v1/webhooks/{id}/rotate-secret"), &app.admin_token, &json!({})).await.assert_status(200);
        let new = rotated.str("secret");
        assert_ne!(new, old);
        let until = chrono::DateTime::parse_from_rfc3339(&rotated.str("previous_secret_expires_at")).unwrap();
        let hours = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes() as f64 / 60.0;
        assert!((23.9..=24.0).contains(&hours), "{hours}");

        contact(&app, "Alan").await;
        let request = &receiver.wait_for(1, WAIT).await[0];
        assert_eq!(request.header("webhook-signature").unwrap().split(' ').count(), 2);
        verify(&new, request).expect("the new secret verifies");
        verify(&old, request).expect("the old secret still verifies");
        let shown = app.get(&format!("/api/v1/webhooks/{id}"), &app.admin_token).await.assert_status(200);
        assert_eq!(shown.body["previous_secret_expires_at"], rotated.body["previous_secret_expires_at"]);
    }

    async fn a_finished_delivery_is_replayed_with_its_webhook_id_one_at_a_time_or_all_since_a_time(backend) {
        let app = spawn(backend).await;
        let receiver = Receiver::start();
        let (id, secret) = endpoint(&app, &receiver.url, json!(["contact.created"])).await;
        let before = chrono::Utc::now().to_rfc3339();
        contact(&app, "Kathleen").await;
        let first = settled(&app, &id, "succeeded").await;
        let delivery = first["id"].as_str().unwrap().to_owned();

        let replay = format!("/api/v1/webhooks/{id}/deliveries/{delivery}/replay");
        app.post(&replay, &app.admin_token, &json!({})).await.assert_status(202);
        let received = receiver.wait_for(2, WAIT).await;
        assert_eq!(received[1].header("webhook-id"), Some(delivery.as_str()));
        verify(&secret, &received[1]).expect("a replay is signed afresh");
        let replayed = attempted(&app, &id, 2).await;
        assert_eq!(replayed["state"], "succeeded");
        let causes: Vec<&str> = replayed["requests"].as_array().unwrap().iter().map(|a| a["cause"].as_str().unwrap()).collect();
        assert_eq!(causes, ["scheduled", "replay"]);

        contact(&app, "Ida").await;
        receiver.wait_for(3, WAIT).await;
        settled(&app, &id, "succeeded").await;
        let start = std::time::Instant::now();
        while deliveries(&app, &id).await.iter().any(|d| d["state"] == "pending") && start.elapsed() < WAIT {
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let all = app.post(&format!("/api/v1/webhooks/{id}/replay"), &app.admin_token, &json!({"since": before})).await.assert_status(202);
        assert_eq!(all.body["replayed"], 2);
        receiver.wait_for(5, WAIT).await;

        let missing = format!("/api/v1/webhooks/{id}/deliveries/0193a5b2-0000-7000-8000-000000000000/replay");
        app.post(&missing, &app.admin_token, &json!({})).await.assert_problem(404);
        app.post(&format!("/api/v1/webhooks/{id}/replay"), &app.admin_token, &json!({"since": "yesterday"})).await.assert_problem(400);
    }

    async fn destinations_a_webhook_may_not_reach_are_refused_at_save_in_every_spelling(backend) {
        let app = TestApp::spawn(backend).await;
        let refused = [
            "http://127.0.0.1:9/hook",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://localhost:8080/",
            "http://10.1.2.3/",
            "http://172.20.0.1/",
            "http://192.168.0.10/",
            "http://100.100.100.100/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://224.0.0.1/",
        ];
        for url in refused {
            let reply = app.post("/api/v1/webhooks", &app.admin_token, &json!({"url": url})).await.assert_problem(422);
            assert_eq!(reply.body["errors"][0]["field"], "url", "{url}");
            assert_eq!(reply.body["errors"][0]["code"], "forbidden_destination", "{url}: {}", reply.text);
        }
        for url in ["ftp://example.com/", "https://user:secret@example.com/", "not a url", "https://example.com/#x"] {
            let reply = app.post("/api/v1/webhooks", &app.admin_token, &json!({"url": url})).await.assert_problem(422);
            assert_eq!(reply.body["errors"][0]["field"], "url", "{url}");
        }
        let unknown = app
            .post("/api/v1/webhooks", &app.admin_token, &json!({"url": "http://8.8.8.8/", "event_types": ["contact.exploded"]}))
            .await
            .assert_problem(422);
        assert_eq!(unknown.body["errors"][0]["field"], "event_types[0]");
        app.post("/api/v1/webhooks", &app.admin_token, &json!({"url": "http://8.8.8.8/", "secret": "mine"})).await.assert_problem(400);
        let listed = app.get("/api/v1/webhooks", &app.admin_token).await.assert_status(200);
        assert_eq!(listed.body["data"], json!([]), "nothing refused was stored");

        // A public address is accepted; changing it to a forbidden one is refused the same way.
        let created = app.post("/api/v1/webhooks", &app.admin_token, &json!({"url": "http://8.8.8.8/hook"})).await.assert_status(201);
        let id = created.str("id");
        let reply = app.patch(&format!("/api/v1/webhooks/{id}"), &app.admin_token, &json!({"url": "http://[::ffff:10.0.0.1]/"})).await.assert_problem(422);
        assert_eq!(reply.body["errors"][0]["code"], "forbidden_destination");
        let kept = app.get(&format!("/api/v1/webhooks/{id}"), &app.admin_token).await.assert_status(200);
        assert_eq!(kept.body["url"], "http://8.8.8.8/hook");
    }

    async fn only_admins_manage_webhooks_and_deleting_an_endpoint_takes_its_log(backend) {
        let app = spawn(backend).await;
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.get("/api/v1/webhooks", &rep).await.assert_problem(403);
        app.post("/api/v1/webhooks", &rep, &json!({"url": "http://8.8.8.8/"})).await.assert_problem(403);

        let receiver = Receiver::start();
        let (id, _) = endpoint(&app, &receiver.url, json!(["contact.created"])).await;
        app.get(&format!("/api/v1/webhooks/{id}/deliveries"), &rep).await.assert_problem(403);
        contact(&app, "Frances").await;
        settled(&app, &id, "succeeded").await;
        app.delete(&format!("/api/v1/webhooks/{id}"), &app.admin_token).await.assert_status(204);
        app.get(&format!("/api/v1/webhooks/{id}/deliveries"), &app.admin_token).await.assert_problem(404);
        app.get(&format!("/api/v1/webhooks/{id}/deliveries?state=lost"), &app.admin_token).await.assert_problem(400);
    }

    async fn a_delivery_whose_job_an_admin_cancels_mid_request_fails_and_the_late_answer_changes_nothing(backend) {
        let app = spawn(backend).await;
        let receiver = Receiver::start();
        receiver.script([Reply::status(200).after(Duration::from_secs(3))]);
        let (id, _) = endpoint(&app, &receiver.url, json!(["contact.created"])).await;
        contact(&app, "Margaret").await;
        receiver.wait_for(1, WAIT).await;
        let running = app.get("/api/v1/jobs?kind=webhooks.deliver&state=running", &app.admin_token).await.assert_status(200);
        let job = running.body["data"][0]["id"].as_str().expect("the delivery's job is running").to_owned();
        app.post(&format!("/api/v1/jobs/{job}/cancel"), &app.admin_token, &json!({})).await.assert_status(200);
        let failed = settled(&app, &id, "failed").await;
        assert_eq!(failed["attempts"], 0);
        // The answer that comes after the cancellation is not recorded: the claim was fenced.
        actix_web::rt::time::sleep(Duration::from_secs(4)).await;
        let later = settled(&app, &id, "failed").await;
        assert_eq!(later["requests"], json!([]), "{later}");
    }
}
