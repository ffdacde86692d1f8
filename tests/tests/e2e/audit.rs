use actix_web::http::Method;
use e2e::{Reply, TestApp, on_both_backends};
use serde_json::{Value, json};

fn events(reply: &Reply) -> Vec<Value> {
    reply.body["data"].as_array().cloned().unwrap_or_default()
}

fn actions(reply: &Reply) -> Vec<String> {
    events(reply).iter().filter_map(|e| e["action"].as_str().map(str::to_owned)).collect()
}

on_both_backends! {
    async fn every_change_to_a_record_is_in_its_history_with_field_level_before_and_after(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let me = app.get("/api/v1/me", &admin).await.assert_status(200).str("id");
        let created = app.request(Method::POST, "/api/v1/contacts").token(&admin).header("x-request-id", "create-ada")
            .json(&json!({"first_name": "Ada", "emails": [{"email": "ada@example.com"}]})).send().await.assert_status(201);
        let path = created.header("location").unwrap_or_default();
        app.request(Method::PATCH, &path).token(&admin).header("x-request-id", "promote-ada")
            .json(&json!({"job_title": "CTO", "first_name": "Augusta"})).send().await.assert_status(200);
        // A refused write leaves no trace.
        app.request(Method::PATCH, &path).token(&admin).header("if-match", "\"1\"").json(&json!({"job_title": "Lost"}))
            .send().await.assert_problem(412);
        app.patch(&path, &admin, &json!({"emails": [{"email": "not-an-email"}]})).await.assert_problem(422);
        app.delete(&path, &admin).await.assert_status(204);
        app.post(&format!("{path}/restore"), &admin, &json!({})).await.assert_status(200);

        let history = app.get(&format!("{path}/history"), &admin).await.assert_status(200);
        assert_eq!(actions(&history), ["restore", "delete", "update", "create"]);
        let update = &events(&history)[2];
        assert_eq!(update["changes"], json!({
            "first_name": {"from": "Ada", "to": "Augusta"},
            "job_title": {"from": null, "to": "CTO"}
        }));
        assert_eq!((update["actor_user_id"].as_str(), update["request_id"].as_str()), (Some(me.as_str()), Some("promote-ada")));
        assert_eq!(update["client_address"], "127.0.0.1");
        let create = &events(&history)[3];
        assert_eq!(create["request_id"], "create-ada");
        assert_eq!(create["changes"]["emails"]["to"][0]["email"], "ada@example.com");
        assert!(create["changes"].get("updated_at").is_none());

        // Paged newest first without gaps.
        let first = app.get(&format!("{path}/history?limit=3"), &admin).await.assert_status(200);
        let next = first.str("next_cursor");
        let rest = app.get(&format!("{path}/history?limit=3&cursor={next}"), &admin).await.assert_status(200);
        assert_eq!([actions(&first), actions(&rest)].concat(), actions(&history));

        // Sales records get the same trail, conversion included.
        let lead = app.post("/api/v1/leads", &admin, &json!({"last_name": "Babbage", "company_name": "Engines"})).await.assert_status(201);
        let converted = app.post(&format!("/api/v1/leads/{}/convert", lead.str("id")), &admin, &json!({"deal": {}})).await.assert_status(200);
        let lead_history = app.get(&format!("/api/v1/leads/{}/history", lead.str("id")), &admin).await.assert_status(200);
        assert_eq!(actions(&lead_history), ["convert", "create"]);
        assert_eq!(events(&lead_history)[0]["changes"]["status"], json!({"from": "new", "to": "converted"}));
        let deal_id = converted.body["deal"]["id"].as_str().unwrap_or_default().to_owned();
        let deal_history = app.get(&format!("/api/v1/deals/{deal_id}/history"), &admin).await.assert_status(200);
        assert_eq!(actions(&deal_history), ["create"]);

        // A record one may not see has no visible history either.
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.get(&format!("{path}/history"), &rep).await.assert_problem(404);
        app.get(&format!("/api/v1/deals/{deal_id}/history"), &rep).await.assert_problem(404);
    }

    async fn security_events_are_in_the_audit_log_for_admins_only_and_hold_no_secrets(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let password = "user password 1234";
        let (rep_id, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.login_reply("rep@example.com", "wrong password 999").await.assert_problem(401);
        app.login_reply("nobody@example.com", "whatever password").await.assert_problem(401);
        // A denial, a key made and revoked, and a replayed refresh token.
        app.get("/api/v1/audit-log", &rep).await.assert_problem(403);
        let key = app.post("/api/v1/api-keys", &rep, &json!({"name": "script"})).await.assert_status(201);
        let secret = key.str("secret");
        app.delete(&format!("/api/v1/api-keys/{}", key.str("id")), &rep).await.assert_status(204);
        let session = app.login_reply("rep@example.com", password).await.assert_status(200);
        let refresh = session.str("refresh_token");
        let body = json!({"refresh_token": refresh});
        app.request(Method::POST, "/api/v1/auth/refresh").json(&body).send().await.assert_status(200);
        app.request(Method::POST, "/api/v1/auth/refresh").json(&body).send().await.assert_problem(401);

        let log = app.get("/api/v1/audit-log?limit=100", &admin).await.assert_status(200);
        let seen = actions(&log);
        for expected in ["login", "login_failed", "permission_denied", "api_key_created", "api_key_revoked", "token_reuse"] {
            assert!(seen.contains(&expected.to_owned()), "no {expected} in {seen:?}");
        }
        let failed = app.get("/api/v1/audit-log?action=login_failed", &admin).await.assert_status(200);
        let details: Vec<String> = events(&failed).iter().filter_map(|e| e["detail"].as_str().map(str::to_owned)).collect();
        assert_eq!(details.len(), 2);
        assert!(details.iter().any(|d| d.contains("rep@example.com") && d.contains("wrong password")));
        assert_eq!(events(&failed).iter().filter(|e| e["actor_user_id"] == json!(rep_id)).count(), 1);
        let denied = app.get("/api/v1/audit-log?action=permission_denied", &admin).await.assert_status(200);
        assert_eq!(events(&denied)[0]["detail"], "GET /api/v1/audit-log");
        assert_eq!(events(&denied)[0]["actor_user_id"], json!(rep_id));
        let by_rep = app.get(&format!("/api/v1/audit-log?actor_id={rep_id}&record_type=api_key"), &admin).await.assert_status(200);
        assert_eq!(actions(&by_rep), ["api_key_revoked", "api_key_created"]);
        // Nothing secret anywhere: no password, no key secret, no refresh token.
        for secret_text in [password, "wrong password 999", secret.as_str(), refresh.as_str()] {
            assert!(!log.text.contains(secret_text), "the audit log holds a secret");
        }
        app.get("/api/v1/audit-log?action=teleport", &admin).await.assert_problem(400);
        app.get("/api/v1/audit-log?cursor=garbage", &admin).await.assert_problem(400);
    }

    async fn public_form_leads_are_audited_without_an_actor(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let form = app.post("/api/v1/forms", &admin, &json!({"name": "F", "fields": [{"field": "email"}]})).await.assert_status(201);
        app.request(Method::POST, &format!("/api/v1/forms/{}/submissions", form.str("public_key")))
            .header("x-request-id", "form-post").json(&json!({"email": "web@example.com"})).send().await.assert_status(202);
        let lead = app.get("/api/v1/leads", &admin).await.assert_status(200);
        let lead_id = lead.body["data"][0]["id"].as_str().unwrap_or_default().to_owned();
        let history = app.get(&format!("/api/v1/leads/{lead_id}/history"), &admin).await.assert_status(200);
        let created = &events(&history)[0];
        assert_eq!((created["action"].as_str(), created["request_id"].as_str()), (Some("create"), Some("form-post")));
        assert!(created["actor_user_id"].is_null());
        assert_eq!(created["changes"]["email"]["to"], "web@example.com");
    }
}
