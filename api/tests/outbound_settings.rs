//! The real `crm` binary reads its SMTP and webhook settings from the environment: a
//! half-configured SMTP server or a misspelt value stops start-up with a message naming the
//! variable, and a configured one carries email to the SMTP server. Runs on SQLite and
//! PostgreSQL.

use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::smtp::SmtpSink;
use e2e::{TestApp, fresh_database, on_both_backends};
use serde_json::json;

mod common;

/// Runs `crm serve` with these settings, expecting it to refuse to start: what it printed.
fn refused_start(settings: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm"));
    command
        .arg("serve")
        .env("DATABASE_URL", "sqlite://never-created.sqlite3")
        .env("CRM_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in settings {
        command.env(name, value);
    }
    let output = command.output().expect("the crm binary runs");
    assert!(!output.status.success(), "it started with {settings:?}");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn a_half_configured_smtp_server_or_a_misspelt_setting_stops_start_up_naming_the_variable() {
    assert!(refused_start(&[("CRM_SMTP_HOST", "smtp.example.com")]).contains("CRM_SMTP_FROM"));
    let security = refused_start(&[
        ("CRM_SMTP_HOST", "smtp.example.com"),
        ("CRM_SMTP_FROM", "crm@example.com"),
        ("CRM_SMTP_SECURITY", "ssl"),
    ]);
    assert!(security.contains("CRM_SMTP_SECURITY"), "{security}");
    let from = refused_start(&[("CRM_SMTP_HOST", "smtp.example.com"), ("CRM_SMTP_FROM", "nobody")]);
    assert!(from.contains("CRM_SMTP_FROM"), "{from}");
    let credentials = refused_start(&[
        ("CRM_SMTP_HOST", "smtp.example.com"),
        ("CRM_SMTP_FROM", "crm@example.com"),
        ("CRM_SMTP_USERNAME", "crm"),
    ]);
    assert!(credentials.contains("CRM_SMTP_PASSWORD"), "{credentials}");
    assert!(refused_start(&[("CRM_WEBHOOKS_ALLOW_LOOPBACK", "maybe")]).contains("CRM_WEBHOOKS_ALLOW_LOOPBACK"));
}

on_both_backends! {
    async fn the_binary_sends_email_through_the_smtp_server_its_environment_names(backend) {
        let sink = SmtpSink::start();
        let (_db, url) = fresh_database(backend);
        let settings = [
            ("CRM_SMTP_HOST", "127.0.0.1".to_owned()),
            ("CRM_SMTP_PORT", sink.port.to_string()),
            ("CRM_SMTP_SECURITY", "none".to_owned()),
            ("CRM_SMTP_FROM", "Example CRM <crm@example.com>".to_owned()),
            ("CRM_JOB_POLL_MS", "100".to_owned()),
        ];
        let (_server, base) = common::start_server(&url, &settings).await;
        let app = TestApp::connect(base, api::config::Config::for_database(url.clone())).await;
        let template = app
            .post("/api/v1/email-templates", &app.admin_token, &json!({"name": "Hi", "subject": "Hi {{ contact.first_name }}", "text": "Hello"}))
            .await
            .assert_status(201)
            .str("id");
        let contact = app
            .post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "Ada", "emails": [{"email": "ada@example.com"}]}))
            .await
            .assert_status(201)
            .str("id");
        app.post(&format!("/api/v1/email-templates/{template}/send"), &app.admin_token, &json!({"record": {"record_type": "contact", "id": contact}}))
            .await
            .assert_status(202);
        let mail = sink.wait_for(1, Duration::from_secs(20)).await;
        assert_eq!(mail[0].header("from").as_deref(), Some("\"Example CRM\" <crm@example.com>"));
        assert_eq!(mail[0].header("subject").as_deref(), Some("Hi Ada"));
    }
}
