use e2e::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends! {
    async fn another_teams_contact_is_invisible_and_untouchable(backend) {
        let app = TestApp::spawn(backend).await;
        let (alice, alice_token) = app.user_with_role("alice@example.com", "sales").await;
        let (bob, bob_token) = app.user_with_role("bob@example.com", "sales").await;
        let (_, mallory_token) = app.user_with_role("mallory@example.com", "sales").await;
        app.team_with("Team A", &[&alice, &bob]).await;

        let contact = app.post("/api/v1/contacts", &alice_token, &json!({"first_name": "Secret", "tags": ["a"]})).await.assert_status(201);
        let path = format!("/api/v1/contacts/{}", contact.str("id"));

        // A stranger: never told the contact exists.
        app.get(&path, &mallory_token).await.assert_problem(404);
        app.patch(&path, &mallory_token, &json!({"first_name": "Hacked"})).await.assert_problem(404);
        app.delete(&path, &mallory_token).await.assert_problem(404);
        let listed = app.get("/api/v1/contacts", &mallory_token).await.assert_status(200);
        assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(0));
        let searched = app.get("/api/v1/contacts?q=secret", &mallory_token).await.assert_status(200);
        assert_eq!(searched.body["data"].as_array().map(Vec::len), Some(0));

        // A teammate sees it but may not edit it (sales edits own only).
        app.get(&path, &bob_token).await.assert_status(200);
        app.patch(&path, &bob_token, &json!({"first_name": "Changed"})).await.assert_problem(403);
        app.delete(&path, &bob_token).await.assert_problem(403);
        let listed = app.get("/api/v1/contacts", &bob_token).await.assert_status(200);
        assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1));

        // Nothing changed.
        let after = app.get(&path, &alice_token).await.assert_status(200);
        assert_eq!(after.str("first_name"), "Secret");
        assert_eq!(after.header("etag").as_deref(), Some("\"1\""));
    }

    async fn a_rep_cannot_give_a_record_to_a_stranger_but_a_manager_can(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, rep_token) = app.user_with_role("rep@example.com", "sales").await;
        let (stranger, _) = app.user_with_role("stranger@example.com", "sales").await;
        let (_, manager_token) = app.user_with_role("boss@example.com", "manager").await;
        app.post("/api/v1/contacts", &rep_token, &json!({"first_name": "X", "owner_id": stranger})).await.assert_problem(403);
        let contact = app.post("/api/v1/contacts", &rep_token, &json!({"first_name": "Mine"})).await.assert_status(201);
        let path = format!("/api/v1/contacts/{}", contact.str("id"));
        app.patch(&path, &rep_token, &json!({"owner_id": stranger})).await.assert_problem(403);
        app.post("/api/v1/contacts", &manager_token, &json!({"first_name": "Y", "owner_id": stranger})).await.assert_status(201);
        app.post("/api/v1/contacts", &manager_token, &json!({"first_name": "Z", "owner_id": "no-such-user"})).await.assert_problem(422);
    }

    async fn a_read_only_user_reads_everything_and_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, reader) = app.user_with_role("reader@example.com", "read_only").await;
        let contact = app.post("/api/v1/contacts", &app.admin_token, &json!({"first_name": "Visible"})).await.assert_status(201);
        let path = format!("/api/v1/contacts/{}", contact.str("id"));
        app.get(&path, &reader).await.assert_status(200);
        app.patch(&path, &reader, &json!({"first_name": "No"})).await.assert_problem(403);
        app.post("/api/v1/contacts", &reader, &json!({"first_name": "No"})).await.assert_problem(403);
        app.post("/api/v1/companies", &reader, &json!({"name": "No"})).await.assert_problem(403);
        let listed = app.get("/api/v1/contacts", &app.admin_token).await.assert_status(200);
        assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1));
    }

    async fn non_admins_are_refused_on_admin_routes_and_nothing_changes(backend) {
        let app = TestApp::spawn(backend).await;
        let (rep_id, rep) = app.user_with_role("rep@example.com", "manager").await;
        app.post("/api/v1/users", &rep, &json!({"email": "x@example.com", "name": "X", "password": "long enough password", "role_id": "admin"}))
            .await
            .assert_problem(403);
        app.patch(&format!("/api/v1/users/{rep_id}"), &rep, &json!({"role_id": "admin"})).await.assert_problem(403);
        app.post("/api/v1/teams", &rep, &json!({"name": "T"})).await.assert_problem(403);
        app.post("/api/v1/roles", &rep, &json!({"name": "R", "grants": {}})).await.assert_problem(403);
        app.get("/api/v1/contacts?deleted=true", &rep).await.assert_problem(403);
        let users = app.get("/api/v1/users", &app.admin_token).await.assert_status(200);
        assert_eq!(users.body["data"].as_array().map(Vec::len), Some(2));
        let me = app.get("/api/v1/me", &rep).await.assert_status(200);
        assert_eq!(me.str("role_id"), "manager");
        let teams = app.get("/api/v1/teams", &app.admin_token).await.assert_status(200);
        assert_eq!(teams.body["data"].as_array().map(Vec::len), Some(0));
    }

    async fn emails_are_unique_case_insensitively_and_the_last_admin_stays(backend) {
        let app = TestApp::spawn(backend).await;
        app.user_with_role("ann@example.com", "sales").await;
        app.post("/api/v1/users", &app.admin_token, &json!({"email": "ANN@Example.com", "name": "Ann 2", "password": "long enough password", "role_id": "sales"}))
            .await
            .assert_problem(409);
        app.post("/api/v1/users", &app.admin_token, &json!({"email": "b@example.com", "name": "B", "password": "short", "role_id": "nope"}))
            .await
            .assert_problem(422);
        let me = app.get("/api/v1/me", &app.admin_token).await.assert_status(200);
        let admin_path = format!("/api/v1/users/{}", me.str("id"));
        app.patch(&admin_path, &app.admin_token, &json!({"active": false})).await.assert_problem(409);
        app.patch(&admin_path, &app.admin_token, &json!({"role_id": "sales"})).await.assert_problem(409);
        app.get("/api/v1/me", &app.admin_token).await.assert_status(200);
    }

    async fn custom_roles_grant_what_they_say_and_built_ins_are_fixed(backend) {
        let app = TestApp::spawn(backend).await;
        let role = app
            .post("/api/v1/roles", &app.admin_token, &json!({"name": "Company curator", "grants": {"companies": {"read": "all", "create": "own", "edit": "all"}}}))
            .await
            .assert_status(201);
        let role_id = role.str("id");
        app.post("/api/v1/roles", &app.admin_token, &json!({"name": "bad", "grants": {"planets": {"read": "all"}}})).await.assert_problem(400);
        app.post("/api/v1/roles", &app.admin_token, &json!({"name": "company CURATOR", "grants": {}})).await.assert_problem(409);
        let (_, curator) = app.user_with_role("curator@example.com", &role_id).await;
        app.post("/api/v1/companies", &curator, &json!({"name": "Acme"})).await.assert_status(201);
        app.get("/api/v1/contacts", &curator).await.assert_problem(403);
        app.patch("/api/v1/roles/sales", &app.admin_token, &json!({"name": "sales", "grants": {}})).await.assert_problem(409);
        app.delete(&format!("/api/v1/roles/{role_id}"), &app.admin_token).await.assert_problem(409);
        app.delete("/api/v1/roles/admin", &app.admin_token).await.assert_problem(409);
    }
}
