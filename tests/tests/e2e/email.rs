//! Templated email through the real server and a real SMTP server on loopback: templates
//! checked when saved, previews over a record and its related records, messages that reach the
//! SMTP server and become outbound email activities, and refusals that fail visibly.

use std::time::Duration;

use e2e::smtp::SmtpSink;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

async fn spawn_with_smtp(backend: e2e::Backend, sink: &SmtpSink) -> TestApp {
    let mail = sink.settings("https://crm.example.com");
    TestApp::spawn_with(backend, move |config| config.mail = Some(mail)).await
}

fn welcome() -> Value {
    json!({
        "name": "Welcome",
        "subject": "Welcome {{ contact.first_name }}",
        "html": "<p>{{ company.name }} & {{ deal.name }}</p>",
        "text": "Hello {{ contact.first_name }}, {{ owner.name }} is your contact at {{ company.name }}."
    })
}

/// A company, a contact at it with an address, and a deal with both: the ids.
async fn people(app: &TestApp) -> (String, String, String) {
    let admin = &app.admin_token;
    let company = app
        .post("/api/v1/companies", admin, &json!({"name": "Analytical <Engines>"}))
        .await
        .assert_status(201)
        .str("id");
    let contact = app
        .post(
            "/api/v1/contacts",
            admin,
            &json!({"first_name": "Ada", "company_id": company, "emails": [{"email": "ada@example.com"}]}),
        )
        .await
        .assert_status(201)
        .str("id");
    let deal = app
        .post("/api/v1/deals", admin, &json!({"name": "Engine", "contact_ids": [contact], "company_id": company}))
        .await
        .assert_status(201)
        .str("id");
    (company, contact, deal)
}

async fn email_when(app: &TestApp, id: &str, state: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let email = app.get(&format!("/api/v1/emails/{id}"), &app.admin_token).await.assert_status(200).body;
        if email["state"] == state {
            return email;
        }
        assert!(start.elapsed() < WAIT, "the email did not become {state}: {email}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_backends! {
    async fn a_template_is_compiled_when_saved_and_previews_a_deal_with_its_contact_company_and_owner(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = &app.admin_token;
        let broken = app
            .post("/api/v1/email-templates", admin, &json!({"name": "B", "subject": "Hi {{", "text": "x\n{% if %}"}))
            .await
            .assert_problem(422);
        assert_eq!(broken.error_fields(), ["subject", "text"]);
        assert!(broken.text.contains("line 2"), "{}", broken.text);
        let template = app.post("/api/v1/email-templates", admin, &welcome()).await.assert_status(201).str("id");

        let (_, _, deal) = people(&app).await;
        let preview = app
            .post(&format!("/api/v1/email-templates/{template}/preview"), admin, &json!({"record": {"record_type": "deal", "id": deal}}))
            .await
            .assert_status(200);
        assert_eq!(preview.body["to"], "ada@example.com");
        assert_eq!(preview.body["subject"], "Welcome Ada");
        // What the template writes is its author's HTML; what it places is escaped.
        assert_eq!(preview.body["html"], "<p>Analytical &lt;Engines&gt; & Engine</p>");
        assert_eq!(preview.body["text"], "Hello Ada, Administrator is your contact at Analytical <Engines>.");

        let misspelt = app
            .patch(&format!("/api/v1/email-templates/{template}"), admin, &json!({"text": "Dear {{ contact.frist_name }}"}))
            .await
            .assert_status(200);
        assert_eq!(misspelt.body["text"], "Dear {{ contact.frist_name }}");
        let failed = app
            .post(&format!("/api/v1/email-templates/{template}/preview"), admin, &json!({"record": {"record_type": "deal", "id": deal}}))
            .await
            .assert_problem(422);
        assert_eq!(failed.error_fields(), ["template.text"]);
        let missing = app
            .post(&format!("/api/v1/email-templates/{template}/preview"), admin, &json!({"record": {"record_type": "contact", "id": "0193a5b2-0000-7000-8000-000000000000"}}))
            .await
            .assert_problem(422);
        assert_eq!(missing.error_fields(), ["record.id"]);
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.get("/api/v1/email-templates", &rep).await.assert_problem(403);
    }

    async fn a_sent_email_reaches_the_smtp_server_and_becomes_an_outbound_activity_on_the_timeline(backend) {
        let sink = SmtpSink::start();
        let app = spawn_with_smtp(backend, &sink).await;
        let admin = &app.admin_token;
        let template = app.post("/api/v1/email-templates", admin, &welcome()).await.assert_status(201).str("id");
        let (_, contact, deal) = people(&app).await;

        let queued = app
            .post(&format!("/api/v1/email-templates/{template}/send"), admin, &json!({"record": {"record_type": "deal", "id": deal}}))
            .await
            .assert_status(202);
        assert_eq!(queued.body["state"], "queued");
        assert_eq!(queued.body["to"], "ada@example.com");
        let id = queued.str("id");
        assert_eq!(queued.header("location").as_deref(), Some(format!("/api/v1/emails/{id}").as_str()));

        let mail = sink.wait_for(1, WAIT).await;
        assert_eq!(mail[0].from, "crm@example.com");
        assert_eq!(mail[0].to, ["ada@example.com"]);
        assert_eq!(mail[0].header("subject").as_deref(), Some("Welcome Ada"));
        assert!(mail[0].data.contains("Hello Ada"), "{}", mail[0].data);
        assert!(mail[0].data.contains("multipart/alternative"), "{}", mail[0].data);

        let sent = email_when(&app, &id, "sent").await;
        assert_eq!(mail[0].header("message-id"), sent["message_id"].as_str().map(str::to_owned));
        let activity_id = sent["activity_id"].as_str().expect("an activity").to_owned();
        let activity = app.get(&format!("/api/v1/activities/{activity_id}"), admin).await.assert_status(200);
        assert_eq!(activity.body["activity_type"], "email");
        assert_eq!(activity.body["direction"], "outbound");
        assert_eq!(activity.body["subject"], "Welcome Ada");
        let timeline = app.get(&format!("/api/v1/contacts/{contact}/timeline"), admin).await.assert_status(200);
        assert!(timeline.text.contains(&activity_id), "the deal's contact's timeline shows the email: {}", timeline.text);

        // An explicit recipient is checked as an address.
        app.post(&format!("/api/v1/email-templates/{template}/send"), admin, &json!({"record": {"record_type": "deal", "id": deal}, "to": "not an address"}))
            .await
            .assert_problem(422);
    }

    async fn a_refusing_smtp_server_fails_the_email_visibly_a_deferring_one_is_tried_again_and_none_refuses_to_send(backend) {
        let sink = SmtpSink::start();
        sink.refuse_recipients(["550 5.1.1 no such mailbox", "451 4.3.0 try again later"]);
        let app = spawn_with_smtp(backend, &sink).await;
        let admin = &app.admin_token;
        let template = app.post("/api/v1/email-templates", admin, &welcome()).await.assert_status(201).str("id");
        let (_, _, deal) = people(&app).await;
        let send = format!("/api/v1/email-templates/{template}/send");
        let body = json!({"record": {"record_type": "deal", "id": deal}});

        let refused = app.post(&send, admin, &body).await.assert_status(202).str("id");
        let failed = email_when(&app, &refused, "failed").await;
        assert!(failed["error"].as_str().unwrap().contains("no such mailbox"), "{failed}");
        assert_eq!(failed["activity_id"], Value::Null);

        let deferred = app.post(&send, admin, &body).await.assert_status(202).str("id");
        let sent = email_when(&app, &deferred, "sent").await;
        assert!(sent["activity_id"].is_string());
        assert_eq!(sink.mail().len(), 1, "only the deferred one, on its second attempt, was taken");

        let quiet = TestApp::spawn(backend).await;
        let template = quiet.post("/api/v1/email-templates", &quiet.admin_token, &welcome()).await.assert_status(201).str("id");
        let (_, _, deal) = people(&quiet).await;
        let refused = quiet
            .post(&format!("/api/v1/email-templates/{template}/send"), &quiet.admin_token, &json!({"record": {"record_type": "deal", "id": deal}}))
            .await
            .assert_problem(409);
        assert!(refused.text.contains("SMTP"), "{}", refused.text);
    }

    async fn a_user_who_asked_for_mentions_by_email_gets_them_from_the_smtp_server_too(backend) {
        let sink = SmtpSink::start();
        let app = spawn_with_smtp(backend, &sink).await;
        let (alice, alice_token) = app.user_with_role("alice@example.com", "sales").await;
        app.patch("/api/v1/notification-preferences", &alice_token, &json!({"mention": {"in_app": true, "email": true}}))
            .await
            .assert_status(200);
        let contact = app
            .post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "Ada", "owner_id": alice}))
            .await
            .assert_status(201)
            .str("id");
        app.post(&format!("/api/v1/contacts/{contact}/comments"), &app.admin_token, &json!({"body": "@alice@example.com over to you"}))
            .await
            .assert_status(201);
        let mail = sink.wait_for(1, WAIT).await;
        assert_eq!(mail[0].to, ["alice@example.com"]);
        assert!(mail[0].data.contains("over to you"), "{}", mail[0].data);
        assert!(mail[0].header("subject").unwrap().contains("mentioned you"));
        // The assignment of the contact came through the feed only (her default for it).
        assert_eq!(sink.mail().len(), 1);
    }
}
