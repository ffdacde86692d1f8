use actix_web::http::Method;
use e2e::{Backend, TestApp, on_both_backends};
use serde_json::json;

on_both_backends! {
    async fn unknown_routes_and_wrong_methods_answer_problem_json(backend) {
        let app = TestApp::spawn(backend).await;
        let missing = app.get("/api/v1/planets", &app.admin_token).await.assert_problem(404);
        assert!(missing.header("x-request-id").is_some());
        app.request(Method::GET, "/nowhere").send().await.assert_problem(404);
        let wrong = app.request(Method::PUT, "/api/v1/contacts").token(&app.admin_token).json(&json!({})).send().await;
        wrong.assert_problem(405);
        app.request(Method::POST, "/healthz").send().await.assert_problem(405);
    }

    async fn the_request_id_is_echoed_or_made_and_appears_in_problems(backend) {
        let app = TestApp::spawn(backend).await;
        let echoed = app.request(Method::GET, "/api/v1/contacts/nope").token(&app.admin_token).header("x-request-id", "trace-42").send().await;
        assert_eq!(echoed.header("x-request-id").as_deref(), Some("trace-42"));
        assert_eq!(echoed.body["request_id"], json!("trace-42"));
        let made = app.request(Method::GET, "/healthz").header("x-request-id", "bad id with spaces").send().await.assert_status(200);
        let id = made.header("x-request-id").unwrap_or_default();
        assert!(!id.is_empty() && id != "bad id with spaces");
        for name in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"] {
            assert!(made.header(name).is_some(), "missing {name}");
        }
    }

    async fn malformed_oversized_and_mistyped_bodies_are_refused(backend) {
        let app = TestApp::spawn_with(backend, |config| config.max_body_bytes = 4096).await;
        let token = app.admin_token.clone();
        let post = |content_type: &'static str, body: Vec<u8>| {
            app.request(Method::POST, "/api/v1/contacts").token(&token).raw(content_type, body).send()
        };
        post("application/json", b"{\"first_name\": ".to_vec()).await.assert_problem(400);
        post("application/json", b"[1,2,3]".to_vec()).await.assert_problem(400);
        post("application/json", b"".to_vec()).await.assert_problem(400);
        post("text/plain", b"{\"first_name\": \"A\"}".to_vec()).await.assert_problem(415);
        let big = json!({"first_name": "A", "notes": "x".repeat(10_000)}).to_string().into_bytes();
        post("application/json", big).await.assert_problem(413);
        post("application/json", b"{\"first_name\": 42}".to_vec()).await.assert_problem(400);
        app.request(Method::POST, "/api/v1/contacts?dry_run=true").token(&token).json(&json!({"first_name": "A"})).send().await.assert_problem(400);
        app.request(Method::GET, "/api/v1/me?verbose=1").token(&token).send().await.assert_problem(400);
        app.request(Method::POST, "/api/v1/contacts").token(&token).header("idempotency-key", &"k".repeat(300)).json(&json!({"first_name": "A"})).send().await.assert_problem(400);
        let listed = app.get("/api/v1/contacts", &token).await.assert_status(200);
        assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(0));
    }

    async fn unknown_fields_and_parameters_are_named_in_the_problem(backend) {
        let app = TestApp::spawn(backend).await;
        let body = app.post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "A", "nickname": "B"})).await.assert_problem(400);
        assert_eq!(body.error_fields(), ["nickname"]);
        assert_eq!(body.body["errors"][0]["code"], json!("unknown_field"));
        let query = app.get("/api/v1/contacts?colour=red", &app.admin_token).await.assert_problem(400);
        assert_eq!(query.error_fields(), ["colour"]);
    }

    async fn a_browser_app_from_an_allowed_origin_passes_cors(backend) {
        let app = TestApp::spawn_with(backend, |config| config.cors_origins = vec!["https://app.example".into()]).await;
        let preflight = app
            .request(Method::OPTIONS, "/api/v1/contacts")
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type, idempotency-key")
            .send()
            .await
            .assert_status(200);
        assert_eq!(preflight.header("access-control-allow-origin").as_deref(), Some("https://app.example"));
        let listed = app.request(Method::GET, "/api/v1/contacts").token(&app.admin_token).header("origin", "https://app.example").send().await.assert_status(200);
        let exposed = listed.header("access-control-expose-headers").unwrap_or_default().to_lowercase();
        assert!(exposed.contains("etag") && exposed.contains("x-request-id"), "{exposed}");
        let foreign = app.request(Method::GET, "/api/v1/contacts").token(&app.admin_token).header("origin", "https://evil.example").send().await;
        assert!(foreign.header("access-control-allow-origin").is_none());
    }

    async fn probes_report_liveness_and_readiness(backend) {
        let app = TestApp::spawn(backend).await;
        app.request(Method::GET, "/healthz").send().await.assert_status(200);
        let ready = app.request(Method::GET, "/readyz").send().await.assert_status(200);
        assert_eq!(ready.str("status"), "ready");
        let docs = app.request(Method::GET, "/docs/").send().await.assert_status(200);
        assert!(docs.text.contains("swagger"), "the docs page is Swagger UI");
    }

    async fn a_lost_database_answers_503_not_500(backend) {
        if backend == Backend::Sqlite {
            // An embedded SQLite file cannot go away under an open connection; the
            // PostgreSQL variant covers the behaviour.
            return;
        }
        let app = TestApp::spawn_with(backend, |config| config.db_checkout_timeout = std::time::Duration::from_millis(500)).await;
        app.get("/api/v1/contacts", &app.admin_token).await.assert_status(200);
        app.db.drop_postgres_now();
        let down = app.get("/api/v1/contacts", &app.admin_token).await.assert_problem(503);
        assert!(down.header("retry-after").is_some());
        assert!(!down.text.contains("postgres"), "no internals leak: {}", down.text);
        app.request(Method::GET, "/readyz").send().await.assert_problem(503);
    }
}
