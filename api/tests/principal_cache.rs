//! Cached callers across processes: two real `crm` processes on one PostgreSQL database, each
//! keeping resolved callers for ten minutes. A deactivation, a role change, a logout or a
//! revoked API key made through one process is refused by the other at once (its listener
//! hears PostgreSQL's notification), not when its cache would expire.

use std::time::{Duration, Instant};

use api::config::Config;
use e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Backend, TestApp, fresh_database};
use persistence::DatabaseUrl;
use serde_json::json;

mod common;

async fn start_server(url: &DatabaseUrl) -> (common::ServerProcess, String) {
    common::start_server(url, &[("CRM_PRINCIPAL_CACHE_SECONDS", "600".to_owned())]).await
}

/// How long until `path` answers `status` to `token` on `app`, polling (at most 5 s).
async fn time_until(app: &TestApp, path: &str, token: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        if app.get(path, token).await.status == status {
            return started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{path} never answered {status}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn security_changes_in_one_process_reach_the_cached_callers_of_another_at_once() {
    if e2e::skip_postgres() {
        return;
    }
    let (_db, url) = fresh_database(Backend::Postgres);
    let (_first, first_base) = start_server(&url).await;
    let (_second, second_base) = start_server(&url).await;
    let first = TestApp::connect(first_base, Config::for_database(url.clone())).await;
    let second = TestApp::connect(second_base, Config::for_database(url)).await;
    let admin = first.admin_token.clone();

    // A rep signs in, and the second process caches them by using them.
    let (rep_id, _) = first.user_with_role("rep@example.com", "sales").await;
    let rep = first.login("rep@example.com", "user password 1234").await;
    second.get("/api/v1/contacts", &rep).await.assert_status(200);
    second.get("/api/v1/forms", &rep).await.assert_problem(403);

    // A role change through the first process: the second applies the new grants at once.
    first.patch(&format!("/api/v1/users/{rep_id}"), &admin, &json!({"role_id": "admin"})).await.assert_status(200);
    let promoted = time_until(&second, "/api/v1/forms", &rep, 200).await;

    // Deactivated through the first: refused by the second.
    first.patch(&format!("/api/v1/users/{rep_id}"), &admin, &json!({"active": false})).await.assert_status(200);
    let deactivated = time_until(&second, "/api/v1/contacts", &rep, 401).await;

    // The admin's own session, used on the second, ended by a logout on the first.
    let session = first.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    second.get("/api/v1/contacts", &session).await.assert_status(200);
    first.request(actix_web::http::Method::POST, "/api/v1/auth/logout").token(&session).send().await.assert_status(204);
    let logged_out = time_until(&second, "/api/v1/contacts", &session, 401).await;

    // An API key used on the second, revoked on the first.
    let key = first.post("/api/v1/api-keys", &admin, &json!({"name": "script"})).await.assert_status(201);
    let (key_id, secret) = (key.str("id"), key.str("secret"));
    second.get("/api/v1/contacts", &secret).await.assert_status(200);
    first.delete(&format!("/api/v1/api-keys/{key_id}"), &admin).await.assert_status(204);
    let revoked = time_until(&second, "/api/v1/contacts", &secret, 401).await;

    println!(
        "reached the other process after: role {promoted:?}, deactivation {deactivated:?}, logout {logged_out:?}, key {revoked:?}"
    );
    for took in [promoted, deactivated, logged_out, revoked] {
        assert!(took < Duration::from_secs(2), "took {took:?}, not a notification");
    }
}
