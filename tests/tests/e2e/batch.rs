use actix_web::http::Method;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

fn statuses(reply: &e2e::Reply) -> Vec<i64> {
    reply.body["results"]
        .as_array()
        .map(|all| all.iter().filter_map(|r| r["status"].as_i64()).collect())
        .unwrap_or_default()
}

on_both_backends! {
    async fn a_batch_runs_each_operation_as_its_single_endpoint_and_reports_each_in_order(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let ada = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Ada", "last_name": "Lovelace", "emails": [{"email": "ada@engines.example"}]})).await.assert_status(201);
        let ada_id = ada.str("id");
        let gone = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Gone"})).await.assert_status(201).str("id");

        let batch = app.post("/api/v1/contacts/batch", &admin, &json!({"operations": [
            {"op": "create", "body": {"first_name": "Grace", "last_name": "Hopper"}},
            {"op": "create", "body": {"first_name": "Bad", "emails": [{"email": "not-an-email"}]}},
            {"op": "create", "body": {"first_name": "Ada", "emails": [{"email": "ADA@engines.example"}]}},
            {"op": "create", "body": {"first_name": "Ada", "emails": [{"email": "ada@engines.example"}]}, "allow_duplicate": true},
            {"op": "update", "id": ada_id, "if_match": "\"9\"", "body": {"job_title": "Stale"}},
            {"op": "update", "id": ada_id, "if_match": "\"1\"", "body": {"job_title": "Analyst"}},
            {"op": "delete", "id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"},
            {"op": "delete", "id": gone}
        ]})).await.assert_status(200);
        assert_eq!(statuses(&batch), [201, 422, 409, 201, 412, 200, 404, 204], "{}", batch.body);
        let results = &batch.body["results"];
        assert_eq!(results[0]["body"]["first_name"], "Grace");
        assert_eq!(results[0]["etag"], "\"1\"");
        assert_eq!(results[1]["problem"]["errors"][0]["field"], "emails[0].email");
        assert_eq!(results[2]["problem"]["duplicates"][0]["id"], json!(ada_id));
        assert_eq!(results[5]["etag"], "\"2\"");
        assert!(results[1]["body"].is_null() && results[7]["body"].is_null());

        // Each did what its single endpoint does, audited under the batch's request.
        let grace = results[0]["body"]["id"].as_str().unwrap_or_default().to_owned();
        app.get(&format!("/api/v1/contacts/{grace}"), &admin).await.assert_status(200);
        app.get(&format!("/api/v1/contacts/{gone}"), &admin).await.assert_status(404);
        assert_eq!(app.get(&format!("/api/v1/contacts/{ada_id}"), &admin).await.assert_status(200).body["job_title"], "Analyst");
        let history = app.get(&format!("/api/v1/contacts/{grace}/history"), &admin).await.assert_status(200);
        assert_eq!(history.body["data"][0]["action"], "create", "{}", history.body);
        assert_eq!(history.body["data"][0]["request_id"], json!(batch.header("x-request-id")));
        let bad: Vec<Value> = app.get("/api/v1/contacts?q=bad", &admin).await.body["data"].as_array().cloned().unwrap_or_default();
        assert!(bad.is_empty(), "the refused create left nothing");

        // Grants are the caller's: a rep cannot touch what they cannot see.
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        let refused = app.post("/api/v1/contacts/batch", &rep, &json!({"operations": [
            {"op": "delete", "id": ada_id}, {"op": "create", "body": {"first_name": "Mine"}}
        ]})).await.assert_status(200);
        assert_eq!(statuses(&refused), [404, 201]);
        app.get(&format!("/api/v1/contacts/{ada_id}"), &admin).await.assert_status(200);

        // Other record types take the same shape.
        let note = app.post("/api/v1/activities/batch", &admin, &json!({"operations": [
            {"op": "create", "body": {"activity_type": "note", "body": "Met at the fair", "links": [{"record_type": "contact", "id": ada_id}]}}
        ]})).await.assert_status(200);
        assert_eq!(statuses(&note), [201], "{}", note.body);
        let deals = app.post("/api/v1/deals/batch", &admin, &json!({"operations": [
            {"op": "create", "body": {"name": "Engines"}}, {"op": "create", "body": {"name": ""}}
        ]})).await.assert_status(200);
        assert_eq!(statuses(&deals), [201, 422]);
    }

    async fn a_batch_is_refused_whole_when_its_shape_is_wrong_and_replayed_whole_for_its_idempotency_key(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let one = json!({"op": "create", "body": {"first_name": "Once"}});
        app.post("/api/v1/contacts/batch", &admin, &json!({"operations": []})).await.assert_problem(422);
        let too_many: Vec<Value> = (0..101).map(|_| one.clone()).collect();
        app.post("/api/v1/contacts/batch", &admin, &json!({"operations": too_many})).await.assert_problem(422);
        app.post("/api/v1/contacts/batch", &admin, &json!({"operations": [{"op": "upsert", "body": {}}]})).await.assert_problem(400);
        app.post("/api/v1/contacts/batch", &admin, &json!({"operations": [{"op": "create", "body": {"shoe_size": 9}}]})).await.assert_problem(400);
        app.post("/api/v1/leads/batch", &admin, &json!({"operations": [{"op": "create", "body": {"last_name": "X"}, "allow_duplicate": true}]})).await.assert_problem(400);
        assert!(app.get("/api/v1/contacts", &admin).await.body["data"].as_array().is_some_and(Vec::is_empty));

        let send = |body: Value| app.request(Method::POST, "/api/v1/contacts/batch").token(&admin).header("idempotency-key", "batch-1").json(&body).send();
        let body = json!({"operations": [one.clone(), {"op": "create", "body": {"first_name": "Twice"}}]});
        let first = send(body.clone()).await.assert_status(200);
        assert_eq!(statuses(&first), [201, 201]);
        let again = send(body.clone()).await.assert_status(200);
        assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
        assert_eq!(again.body, first.body);
        assert_eq!(app.get("/api/v1/contacts", &admin).await.body["data"].as_array().map(Vec::len), Some(2));
        send(json!({"operations": [one]})).await.assert_problem(422);
    }
}
