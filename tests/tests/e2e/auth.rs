use actix_web::http::Method;
use e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, JWT_SECRET, TestApp, on_both_backends};
use serde_json::json;

fn forge(secret: &[u8], user_id: &str, session: &str, issued: i64, expires: i64) -> String {
    let claims = json!({"sub": user_id, "sid": session, "iat": issued, "exp": expires, "iss": "crm", "aud": "crm-api"});
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(secret))
        .expect("token encodes")
}

on_both_backends! {
    async fn login_gives_tokens_and_me_describes_the_admin(backend) {
        let app = TestApp::spawn(backend).await;
        let login = app.login_reply(ADMIN_EMAIL, ADMIN_PASSWORD).await.assert_status(200);
        assert_eq!(login.str("token_type"), "Bearer");
        assert_eq!(login.body["expires_in"], json!(900));
        assert!(!login.str("refresh_token").is_empty());
        let me = app.get("/api/v1/me", &login.str("access_token")).await.assert_status(200);
        assert_eq!(me.str("email"), ADMIN_EMAIL);
        assert_eq!(me.str("role_id"), "admin");
        assert_eq!(me.body["grants"]["settings"]["edit"], json!("all"));
    }

    async fn wrong_passwords_and_unknown_emails_get_the_same_401(backend) {
        let app = TestApp::spawn(backend).await;
        let wrong = app.login_reply(ADMIN_EMAIL, "not the password").await.assert_problem(401);
        let unknown = app.login_reply("nobody@example.com", ADMIN_PASSWORD).await.assert_problem(401);
        assert_eq!(wrong.body["detail"], unknown.body["detail"]);
        assert_eq!(wrong.header("www-authenticate").as_deref(), Some("Bearer"));
    }

    async fn a_refresh_token_rotates_and_its_reuse_revokes_the_session(backend) {
        let app = TestApp::spawn(backend).await;
        let login = app.login_reply(ADMIN_EMAIL, ADMIN_PASSWORD).await.assert_status(200);
        let first = login.str("refresh_token");
        let rotated = app.request(Method::POST, "/api/v1/auth/refresh").json(&json!({"refresh_token": first})).send().await.assert_status(200);
        let second = rotated.str("refresh_token");
        assert_ne!(first, second);
        app.get("/api/v1/me", &rotated.str("access_token")).await.assert_status(200);

        // The spent token comes back: someone copied it. The whole session ends.
        app.request(Method::POST, "/api/v1/auth/refresh").json(&json!({"refresh_token": first})).send().await.assert_problem(401);
        app.request(Method::POST, "/api/v1/auth/refresh").json(&json!({"refresh_token": second})).send().await.assert_problem(401);
        app.get("/api/v1/me", &rotated.str("access_token")).await.assert_problem(401);
        app.get("/api/v1/me", &login.str("access_token")).await.assert_problem(401);
        // Other sessions are untouched.
        app.get("/api/v1/me", &app.admin_token).await.assert_status(200);
    }

    async fn logout_ends_the_session_at_once(backend) {
        let app = TestApp::spawn(backend).await;
        let login = app.login_reply(ADMIN_EMAIL, ADMIN_PASSWORD).await.assert_status(200);
        let token = login.str("access_token");
        app.request(Method::POST, "/api/v1/auth/logout").token(&token).send().await.assert_status(204);
        app.get("/api/v1/me", &token).await.assert_problem(401);
        app.request(Method::POST, "/api/v1/auth/refresh")
            .json(&json!({"refresh_token": login.str("refresh_token")}))
            .send()
            .await
            .assert_problem(401);
    }

    async fn forged_expired_and_malformed_tokens_are_refused(backend) {
        let app = TestApp::spawn(backend).await;
        let me = app.get("/api/v1/me", &app.admin_token).await.assert_status(200);
        let user_id = me.str("id");
        let now = chrono::Utc::now().timestamp();
        let forged = forge(b"some other secret that is long enough!!", &user_id, "x", now, now + 600);
        app.get("/api/v1/me", &forged).await.assert_problem(401);
        let expired = forge(JWT_SECRET, &user_id, "x", now - 7200, now - 3600);
        app.get("/api/v1/me", &expired).await.assert_problem(401);
        // Right secret, but a session that was never opened.
        let sessionless = forge(JWT_SECRET, &user_id, "no-such-session", now, now + 600);
        app.get("/api/v1/me", &sessionless).await.assert_problem(401);
        app.get("/api/v1/me", "garbage").await.assert_problem(401);
        app.request(Method::GET, "/api/v1/me").header("authorization", "Basic YTpi").send().await.assert_problem(401);
        app.request(Method::GET, "/api/v1/me").send().await.assert_problem(401);
    }

    async fn logins_beyond_the_limit_get_429_with_retry_after(backend) {
        let app = TestApp::spawn_with(backend, |config| config.login_rate_limit_per_minute = 3).await;
        // The harness signed the admin in once already.
        for _ in 0..2 {
            app.login_reply(ADMIN_EMAIL, "wrong password here").await.assert_status(401);
        }
        let limited = app.login_reply(ADMIN_EMAIL, ADMIN_PASSWORD).await.assert_problem(429);
        assert!(limited.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok_and(|n| n >= 1)));
        assert_eq!(limited.header("ratelimit-remaining").as_deref(), Some("0"));
    }

    async fn a_deactivated_user_is_signed_out_and_cannot_sign_in(backend) {
        let app = TestApp::spawn(backend).await;
        let (user_id, token) = app.user_with_role("rep@example.com", "sales").await;
        app.get("/api/v1/me", &token).await.assert_status(200);
        app.patch(&format!("/api/v1/users/{user_id}"), &app.admin_token, &json!({"active": false})).await.assert_status(200);
        app.get("/api/v1/me", &token).await.assert_problem(401);
        app.login_reply("rep@example.com", "user password 1234").await.assert_problem(401);
    }

    async fn an_api_key_works_until_revoked_and_its_secret_is_shown_once(backend) {
        let app = TestApp::spawn(backend).await;
        let created = app.post("/api/v1/api-keys", &app.admin_token, &json!({"name": "script"})).await.assert_status(201);
        let secret = created.str("secret");
        assert!(secret.starts_with("crm_"));
        let key_id = created.str("id");
        let listed = app.get("/api/v1/api-keys", &app.admin_token).await.assert_status(200);
        assert!(listed.body["data"][0]["secret"].is_null(), "secret listed again: {}", listed.text);
        assert_eq!(listed.body["data"][0]["prefix"].as_str(), Some(&secret[..8]));

        app.post("/api/v1/contacts", &secret, &json!({"first_name": "Via key"})).await.assert_status(201);
        let me = app.get("/api/v1/me", &secret).await.assert_status(200);
        assert_eq!(me.str("api_key_id"), key_id);

        app.delete(&format!("/api/v1/api-keys/{key_id}"), &app.admin_token).await.assert_status(204);
        app.get("/api/v1/contacts", &secret).await.assert_problem(401);
        // A revoked key is gone, as a deleted resource is.
        app.get(&format!("/api/v1/api-keys/{key_id}"), &app.admin_token).await.assert_problem(404);
        app.delete(&format!("/api/v1/api-keys/{key_id}"), &app.admin_token).await.assert_problem(404);
        assert_eq!(app.get("/api/v1/api-keys", &app.admin_token).await.assert_status(200).body["data"].as_array().map(Vec::len), Some(0));
        app.get("/api/v1/contacts", "crm_not-a-real-key").await.assert_problem(401);
    }

    async fn a_key_narrowed_to_read_only_reads_but_does_not_write(backend) {
        let app = TestApp::spawn(backend).await;
        let created = app.post("/api/v1/api-keys", &app.admin_token, &json!({"name": "reader", "role_id": "read_only"})).await.assert_status(201);
        let secret = created.str("secret");
        app.get("/api/v1/contacts", &secret).await.assert_status(200);
        app.post("/api/v1/contacts", &secret, &json!({"first_name": "Nope"})).await.assert_problem(403);
        app.get("/api/v1/users", &secret).await.assert_status(200);
        app.post("/api/v1/teams", &secret, &json!({"name": "Nope"})).await.assert_problem(403);
        // Keys cannot mint keys, so a narrowed key cannot widen itself.
        app.post("/api/v1/api-keys", &secret, &json!({"name": "wider"})).await.assert_problem(403);
        let contacts = app.get("/api/v1/contacts", &app.admin_token).await.assert_status(200);
        assert_eq!(contacts.body["data"].as_array().map(Vec::len), Some(0));
    }

    async fn users_cannot_see_or_revoke_other_users_keys(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        let admin_key = app.post("/api/v1/api-keys", &app.admin_token, &json!({"name": "admin key"})).await.assert_status(201);
        let key_id = admin_key.str("id");
        app.get(&format!("/api/v1/api-keys/{key_id}"), &rep).await.assert_problem(404);
        app.delete(&format!("/api/v1/api-keys/{key_id}"), &rep).await.assert_problem(404);
        app.get("/api/v1/contacts", &admin_key.str("secret")).await.assert_status(200);
    }
}
