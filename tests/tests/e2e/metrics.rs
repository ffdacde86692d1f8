//! `GET /metrics`: Prometheus text for an operator holding the metrics token, and nothing for
//! anyone else.

use std::time::Duration;

use actix_web::http::Method;
use e2e::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends! {
    async fn metrics_are_served_only_with_their_token_and_name_routes_by_template(backend) {
        let off = TestApp::spawn(backend).await;
        off.request(Method::GET, "/metrics").send().await.assert_problem(404);

        let app = TestApp::spawn_with(backend, |config| {
            config.metrics_token = Some("scrape-secret".into());
            config.purge_interval = Duration::from_millis(200);
        })
        .await;
        app.request(Method::GET, "/metrics").send().await.assert_problem(401);
        app.request(Method::GET, "/metrics").token("wrong").send().await.assert_problem(401);
        app.request(Method::GET, "/metrics").token(&app.admin_token).send().await.assert_problem(401);

        let id = app.post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "Ada"})).await.assert_status(201).str("id");
        app.get(&format!("/api/v1/contacts/{id}"), &app.admin_token).await.assert_status(200);
        app.get("/api/v1/contacts/nope", &app.admin_token).await.assert_problem(404);
        let mut text = String::new();
        for _ in 0..50 {
            let scraped = app.request(Method::GET, "/metrics").token("scrape-secret").send().await.assert_status(200);
            assert!(scraped.header("content-type").is_some_and(|t| t.starts_with("text/plain")));
            text = scraped.text;
            // The run is counted just after its job commits as completed: wait for both.
            if text.contains(r#"crm_jobs{kind="maintenance.purge",state="completed"}"#)
                && text.contains(r#"crm_job_runs_total{outcome="completed"}"#)
            {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        for expected in [
            r#"crm_http_requests_total{method="GET",route="/api/v1/contacts/{id}",status="200"} 1"#,
            r#"crm_http_requests_total{method="GET",route="/api/v1/contacts/{id}",status="404"} 1"#,
            r#"crm_http_requests_total{method="POST",route="/api/v1/contacts",status="201"} 1"#,
            r#"crm_http_request_duration_seconds_count{method="GET",route="/api/v1/contacts/{id}"} 2"#,
            r#"crm_db_turns{state="size"} 4"#,
            r#"crm_db_turn_timeouts_total 0"#,
            r#"crm_jobs{kind="maintenance.purge",state="completed"}"#,
            r#"crm_job_runs_total{outcome="completed"}"#,
            "crm_db_pool_connections{state=\"open\"}",
        ] {
            assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
        }
        assert!(!text.contains(&id), "record ids never become label values");
    }
}
