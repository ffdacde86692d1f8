use e2e::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends! {
    async fn admins_define_typed_fields_whose_values_are_checked_on_every_write(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let tier = app.post("/api/v1/custom-fields", &admin, &json!({
            "record_type": "contact", "key": "tier", "label": "Tier", "field_type": "dropdown",
            "options": ["Gold", "Silver"], "default": "Silver", "position": 1
        })).await.assert_status(201);
        assert_eq!(tier.body["default"], "Silver");
        let budget = app.post("/api/v1/custom-fields", &admin, &json!({
            "record_type": "contact", "key": "budget", "label": "Budget", "field_type": "money", "required": true
        })).await.assert_status(201).str("id");
        for (key, field_type) in [("met_on", "date"), ("vip", "checkbox"), ("site", "url"), ("hq", "location"), ("seen", "datetime"), ("size", "number")] {
            app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": key, "label": key, "field_type": field_type}))
                .await.assert_status(201);
        }

        // Every user may read the live definitions; only admins change them.
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        let listed = app.get("/api/v1/custom-fields?record_type=contact", &rep).await.assert_status(200);
        assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(8));
        assert_eq!(listed.body["data"][0]["key"], "budget");
        assert_eq!(listed.body["next_cursor"], serde_json::Value::Null);
        app.post("/api/v1/custom-fields", &rep, &json!({"record_type": "contact", "key": "x", "label": "X", "field_type": "text"})).await.assert_problem(403);
        app.get("/api/v1/custom-fields?record_type=invoice", &rep).await.assert_problem(400);

        // Bad definitions change nothing.
        let taken = app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "tier", "label": "T", "field_type": "text"})).await.assert_problem(409);
        assert!(taken.text.contains("tier"), "{}", taken.text);
        let bad = app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "Bad Key", "label": "B", "field_type": "dropdown"})).await.assert_problem(422);
        assert_eq!(bad.error_fields(), ["key", "options"]);
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "n", "label": "N", "field_type": "number", "default": "ten"})).await.assert_problem(422);
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "n", "label": "N", "field_type": "colour"})).await.assert_problem(400);
        assert_eq!(app.get("/api/v1/custom-fields", &admin).await.body["data"].as_array().map(Vec::len), Some(8));

        // A new record gets defaults and must have required values.
        let missing = app.post("/api/v1/contacts", &rep, &json!({"first_name": "Ada"})).await.assert_problem(422);
        assert_eq!(missing.error_fields(), ["custom_fields.budget"]);
        let ada = app.post("/api/v1/contacts", &rep, &json!({"first_name": "Ada", "custom_fields": {
            "budget": {"amount_minor": 500000, "currency": "eur"}, "met_on": "2026-11-20", "vip": true,
            "site": "https://ada.example", "hq": {"address": "London", "latitude": 51.5, "longitude": -0.12},
            "seen": "2026-11-23T10:00:00+01:00", "size": 12.5
        }})).await.assert_status(201);
        let custom = &ada.body["custom_fields"];
        assert_eq!(custom["tier"], "Silver");
        assert_eq!(custom["budget"], json!({"amount_minor": 500000, "currency": "EUR"}));
        assert_eq!(custom["seen"], "2026-11-23T09:00:00.000Z");
        let ada = ada.str("id");
        let path = format!("/api/v1/contacts/{ada}");

        // Unknown keys are 400, wrong types 422 naming the field; neither changes anything.
        let unknown = app.patch(&path, &rep, &json!({"custom_fields": {"colour": "red"}})).await.assert_problem(400);
        assert!(unknown.text.contains("custom_fields.colour"), "{}", unknown.text);
        let wrong = app.patch(&path, &rep, &json!({"custom_fields": {"size": "big", "vip": "yes", "tier": "Bronze"}})).await.assert_problem(422);
        assert_eq!(wrong.error_fields(), ["custom_fields.size", "custom_fields.tier", "custom_fields.vip"]);
        app.patch(&path, &rep, &json!({"custom_fields": {"budget": null}})).await.assert_problem(422);
        app.patch(&path, &rep, &json!({"custom_fields": {"site": "javascript:alert(1)"}})).await.assert_problem(422);
        let unchanged = app.get(&path, &rep).await.assert_status(200);
        assert_eq!(unchanged.body["custom_fields"]["size"], json!(12.5));
        assert_eq!(unchanged.header("etag").as_deref(), Some("\"1\""));

        // A merge-patch changes one key and leaves the rest.
        let patched = app.patch(&path, &rep, &json!({"custom_fields": {"tier": "gold", "size": null}})).await.assert_status(200);
        assert_eq!(patched.body["custom_fields"]["tier"], "Gold");
        assert!(patched.body["custom_fields"].get("size").is_none());
        assert_eq!(patched.body["custom_fields"]["vip"], true);

        // Other record types have their own fields.
        app.post("/api/v1/companies", &rep, &json!({"name": "Acme", "custom_fields": {"tier": "Gold"}})).await.assert_problem(400);
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "deal", "key": "tier", "label": "Tier", "field_type": "text"})).await.assert_status(201);
        let deal = app.post("/api/v1/deals", &rep, &json!({"name": "D", "custom_fields": {"tier": "anything"}})).await.assert_status(201);
        assert_eq!(deal.body["custom_fields"], json!({"tier": "anything"}));

        // Deactivating keeps values but takes no new ones; the requirement no longer applies.
        let budget_path = format!("/api/v1/custom-fields/{budget}");
        app.patch(&budget_path, &admin, &json!({"active": false})).await.assert_status(200);
        app.post("/api/v1/contacts", &rep, &json!({"first_name": "Bob"})).await.assert_status(201);
        assert_eq!(app.get(&path, &rep).await.body["custom_fields"]["budget"]["amount_minor"], 500000);
        let inactive = app.patch(&path, &rep, &json!({"custom_fields": {"budget": {"amount_minor": 1, "currency": "EUR"}}})).await.assert_problem(422);
        assert_eq!(inactive.body["errors"][0]["code"], "inactive");
        app.patch(&budget_path, &rep, &json!({"active": true})).await.assert_problem(403);
        app.patch(&budget_path, &admin, &json!({"key": "money"})).await.assert_problem(422);

        // History records custom value changes like any other field.
        let history = app.get(&format!("{path}/history"), &admin).await.assert_status(200);
        assert!(history.text.contains("custom_fields"), "{}", history.text);
    }

    async fn a_type_change_converts_stored_values_or_is_refused_when_it_would_lose_data(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let field = app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "company", "key": "size", "label": "Size", "field_type": "text"}))
            .await.assert_status(201).str("id");
        let field_path = format!("/api/v1/custom-fields/{field}");
        let a = app.post("/api/v1/companies", &admin, &json!({"name": "A", "custom_fields": {"size": "42"}})).await.assert_status(201).str("id");
        let b = app.post("/api/v1/companies", &admin, &json!({"name": "B", "custom_fields": {"size": "many"}})).await.assert_status(201).str("id");
        app.post("/api/v1/companies", &admin, &json!({"name": "C"})).await.assert_status(201);

        let refused = app.patch(&field_path, &admin, &json!({"field_type": "number"})).await.assert_problem(409);
        assert!(refused.text.contains(&b) && refused.text.contains("many"), "{}", refused.text);
        assert_eq!(app.get(&field_path, &admin).await.body["field_type"], "text");
        assert_eq!(app.get(&format!("/api/v1/companies/{a}"), &admin).await.body["custom_fields"]["size"], "42");

        app.patch(&format!("/api/v1/companies/{b}"), &admin, &json!({"custom_fields": {"size": "7"}})).await.assert_status(200);
        let changed = app.patch(&field_path, &admin, &json!({"field_type": "number"})).await.assert_status(200);
        assert_eq!(changed.body["field_type"], "number");
        let a_now = app.get(&format!("/api/v1/companies/{a}"), &admin).await;
        assert_eq!(a_now.body["custom_fields"]["size"], json!(42));
        assert_eq!(a_now.header("etag").as_deref(), Some("\"2\""));
        app.patch(&format!("/api/v1/companies/{a}"), &admin, &json!({"custom_fields": {"size": "42"}})).await.assert_problem(422);

        // Dropping a dropdown option that a record holds is refused the same way.
        let tier = app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "company", "key": "tier", "label": "Tier", "field_type": "dropdown", "options": ["Gold", "Silver"]}))
            .await.assert_status(201).str("id");
        app.patch(&format!("/api/v1/companies/{a}"), &admin, &json!({"custom_fields": {"tier": "Silver"}})).await.assert_status(200);
        app.patch(&format!("/api/v1/custom-fields/{tier}"), &admin, &json!({"options": ["Gold"]})).await.assert_problem(409);
        app.patch(&format!("/api/v1/custom-fields/{tier}"), &admin, &json!({"options": ["Gold", "Silver", "Bronze"]})).await.assert_status(200);
        let stale = e2e::TestApp::request(&app, actix_web::http::Method::PATCH, &format!("/api/v1/custom-fields/{tier}"))
            .token(&admin).header("if-match", "\"1\"").json(&json!({"label": "Level"})).send().await;
        stale.assert_problem(412);
    }
}
