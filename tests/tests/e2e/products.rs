use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

fn names(records: &[Value]) -> Vec<&str> {
    records.iter().filter_map(|r| r["name"].as_str()).collect()
}

async fn import_and_wait(app: &TestApp, token: &str, options: Value, file: &str) -> Value {
    let accepted = app.upload_import(token, &options, file.as_bytes()).await.assert_status(202);
    app.wait_for_import(token, &accepted.str("id")).await
}

on_both_backends! {
    async fn a_product_is_created_read_changed_deleted_and_restored_with_its_sku_unique_among_live_products(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let seat = app.post("/api/v1/products", &admin, &json!({
            "name": " Analytics seat ", "sku": "SEAT-ANL-01", "description": "One analyst",
            "unit_price": {"amount_minor": 4900, "currency": "eur"}, "tags": ["subscription"]
        })).await.assert_status(201);
        let id = seat.str("id");
        assert_eq!(seat.header("location"), Some(format!("/api/v1/products/{id}")));
        assert_eq!(seat.header("etag").as_deref(), Some("\"1\""));
        assert_eq!(seat.body["name"], "Analytics seat");
        assert_eq!(seat.body["unit_price"], json!({"amount_minor": 4900, "currency": "EUR"}));
        assert_eq!(seat.body["active"], true, "active unless said otherwise");

        // Required fields and bad values are 422 with every field named; nothing is created.
        let refused = app.post("/api/v1/products", &admin, &json!({"sku": "BAD SKU", "unit_price": {"amount_minor": -1, "currency": "EUR"}})).await.assert_problem(422);
        assert_eq!(refused.error_fields(), ["name", "unit_price.amount_minor", "sku"], "{}", refused.text);
        app.post("/api/v1/products", &admin, &json!({"name": "Seat", "unit_price": {"amount_minor": 1, "currency": "EUR"}, "colour": "red"})).await.assert_problem(400);
        app.post("/api/v1/products", &admin, &json!({"name": "Seat", "unit_price": {"amount_minor": 1, "currency": "EUR"}, "active": null})).await.assert_problem(422);

        // A SKU names one live product.
        let taken = app.post("/api/v1/products", &admin, &json!({"name": "Copy", "sku": "SEAT-ANL-01", "unit_price": {"amount_minor": 1, "currency": "EUR"}})).await.assert_problem(409);
        assert!(taken.text.contains(&id), "{}", taken.text);
        assert_eq!(app.list_all("/api/v1/products", &admin).await.len(), 1);

        // Merge-patch: absent keeps, null clears, a value sets; If-Match guards lost updates.
        let changed = app.request(actix_web::http::Method::PATCH, &format!("/api/v1/products/{id}"))
            .token(&admin).header("if-match", "\"1\"")
            .json(&json!({"description": null, "active": false, "unit_price": {"amount_minor": 5900, "currency": "EUR"}}))
            .send().await.assert_status(200);
        assert_eq!((changed.body["description"].clone(), changed.body["active"].clone(), changed.body["sku"].clone()), (Value::Null, json!(false), json!("SEAT-ANL-01")));
        assert_eq!(changed.body["unit_price"]["amount_minor"], 5900);
        app.request(actix_web::http::Method::PATCH, &format!("/api/v1/products/{id}"))
            .token(&admin).header("if-match", "\"1\"").json(&json!({"name": "Stale"})).send().await.assert_problem(412);
        app.patch(&format!("/api/v1/products/{id}"), &admin, &json!({"name": null})).await.assert_problem(422);

        // Lists filter by activity and SKU; the history holds every change.
        let other = app.post("/api/v1/products", &admin, &json!({"name": "Board", "sku": "BRD-1", "unit_price": {"amount_minor": 100, "currency": "EUR"}})).await.assert_status(201).str("id");
        assert_eq!(names(&app.list_all("/api/v1/products?active=true", &admin).await), ["Board"]);
        assert_eq!(names(&app.list_all("/api/v1/products?sku=SEAT-ANL-01", &admin).await), ["Analytics seat"]);
        assert_eq!(names(&app.list_all("/api/v1/products?sort=name", &admin).await), ["Analytics seat", "Board"]);
        let taken = app.patch(&format!("/api/v1/products/{other}"), &admin, &json!({"sku": "SEAT-ANL-01"})).await.assert_problem(409);
        assert!(taken.text.contains(&id), "{}", taken.text);
        let history = app.get(&format!("/api/v1/products/{id}/history"), &admin).await.assert_status(200);
        let actions: Vec<&str> = history.body["data"].as_array().map(|all| all.iter().filter_map(|e| e["action"].as_str()).collect()).unwrap_or_default();
        assert_eq!(actions, ["update", "create"], "{}", history.body);
        let changes = &history.body["data"][0]["changes"];
        assert_eq!(changes["active"], json!({"from": true, "to": false}), "{}", history.body);

        // Deleting frees the SKU; restoring while another holds it is refused.
        app.delete(&format!("/api/v1/products/{id}"), &admin).await.assert_status(204);
        app.get(&format!("/api/v1/products/{id}"), &admin).await.assert_problem(404);
        let deleted = app.list_all("/api/v1/products?deleted=true", &admin).await;
        assert_eq!(names(&deleted), ["Analytics seat"]);
        let successor = app.post("/api/v1/products", &admin, &json!({"name": "Seat v2", "sku": "SEAT-ANL-01", "unit_price": {"amount_minor": 1, "currency": "EUR"}})).await.assert_status(201).str("id");
        app.post(&format!("/api/v1/products/{id}/restore"), &admin, &json!({})).await.assert_problem(409);
        app.delete(&format!("/api/v1/products/{successor}"), &admin).await.assert_status(204);
        let restored = app.post(&format!("/api/v1/products/{id}/restore"), &admin, &json!({})).await.assert_status(200);
        assert_eq!(restored.body["sku"], "SEAT-ANL-01");
    }

    async fn everyone_reads_the_catalogue_but_only_admins_and_managers_change_it(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        let (_, manager) = app.user_with_role("boss@example.com", "manager").await;
        let (_, support) = app.user_with_role("help@example.com", "support").await;
        let body = json!({"name": "Seat", "unit_price": {"amount_minor": 100, "currency": "EUR"}});
        let id = app.post("/api/v1/products", &manager, &body).await.assert_status(201).str("id");
        for token in [&rep, &support] {
            app.get(&format!("/api/v1/products/{id}"), token).await.assert_status(200);
            assert_eq!(app.list_all("/api/v1/products", token).await.len(), 1);
            app.post("/api/v1/products", token, &body).await.assert_problem(403);
            app.patch(&format!("/api/v1/products/{id}"), token, &json!({"name": "Mine"})).await.assert_problem(403);
            app.delete(&format!("/api/v1/products/{id}"), token).await.assert_problem(403);
            app.get("/api/v1/products/export", token).await.assert_problem(403);
        }
        let mine = app.post("/api/v1/products", &admin, &body).await.assert_status(201).str("id");
        app.patch(&format!("/api/v1/products/{mine}"), &manager, &json!({"active": false})).await.assert_status(200);
        app.delete(&format!("/api/v1/products/{mine}"), &manager).await.assert_status(204);
        assert_eq!(app.get(&format!("/api/v1/products/{id}"), &admin).await.body["name"], "Seat");

        // Products take part in grants like any module, and activities cannot link to them.
        let grants = app.get("/api/v1/roles/sales", &admin).await.assert_status(200);
        assert_eq!(grants.body["grants"]["products"]["read"], "all", "{}", grants.body);
        let link = app.post("/api/v1/activities", &admin, &json!({"activity_type": "note", "body": "x", "links": [{"record_type": "product", "id": id}]})).await.assert_problem(422);
        assert_eq!(link.error_fields(), ["links[0].record_type"]);
    }

    async fn products_are_searched_exported_imported_and_batched_like_every_record_type(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "product", "key": "family", "label": "Family", "field_type": "text"})).await.assert_status(201);

        // Batch: each operation as its single endpoint (the SKU rule included).
        let batch = app.post("/api/v1/products/batch", &admin, &json!({"operations": [
            {"op": "create", "body": {"name": "Analytics seat", "sku": "SEAT-1", "unit_price": {"amount_minor": 4900, "currency": "EUR"}, "custom_fields": {"family": "seats"}}},
            {"op": "create", "body": {"name": "Data room", "sku": "ROOM-1", "unit_price": {"amount_minor": 120000, "currency": "EUR"}, "active": false}},
            {"op": "create", "body": {"name": "Duplicate", "sku": "SEAT-1", "unit_price": {"amount_minor": 1, "currency": "EUR"}}},
            {"op": "create", "body": {"name": "Priceless"}}
        ]})).await.assert_status(200);
        let statuses: Vec<i64> = batch.body["results"].as_array().map(|all| all.iter().filter_map(|r| r["status"].as_i64()).collect()).unwrap_or_default();
        assert_eq!(statuses, [201, 201, 409, 422], "{}", batch.body);

        // Search: the filter language over the declared fields, `q` over name, SKU and description.
        let search = |filter: Value| {
            let app = &app;
            let admin = admin.clone();
            async move {
                let reply = app.post("/api/v1/products/search", &admin, &json!({"filter": filter, "sort": "-unit_price"})).await.assert_status(200);
                reply.body["data"].as_array().cloned().unwrap_or_default()
            }
        };
        assert_eq!(names(&search(json!({"field": "active", "op": "eq", "value": true})).await), ["Analytics seat"]);
        assert_eq!(names(&search(json!({"field": "unit_price", "op": "gte", "value": 10000})).await), ["Data room"]);
        assert_eq!(names(&search(json!({"field": "custom_fields.family", "op": "eq", "value": "seats"})).await), ["Analytics seat"]);
        assert_eq!(names(&search(json!({"or": [{"field": "sku", "op": "starts_with", "value": "room"}, {"field": "currency", "op": "eq", "value": "EUR"}]})).await), ["Data room", "Analytics seat"]);
        let q = app.post("/api/v1/products/search", &admin, &json!({"q": "seat-1"})).await.assert_status(200);
        assert_eq!(names(q.body["data"].as_array().map(Vec::as_slice).unwrap_or_default()), ["Analytics seat"]);
        let wrong = app.post("/api/v1/products/search", &admin, &json!({"filter": {"field": "active", "op": "contains", "value": "x"}})).await.assert_problem(422);
        assert_eq!(wrong.error_fields(), ["filter.op"], "{}", wrong.text);
        app.post("/api/v1/products/search", &admin, &json!({"filter": {"field": "company.name", "op": "eq", "value": "x"}})).await.assert_problem(422);

        // Export, then import the file back: the same products, updated by id, and new rows.
        let export = app.get("/api/v1/products/export?sort=name", &admin).await.assert_status(200);
        let header = export.text.lines().next().unwrap_or_default().to_owned();
        assert_eq!(header, "id,name,sku,description,unit_price,active,owner_id,team_id,tags,created_at,updated_at,custom_fields.family");
        assert!(export.text.contains(",SEAT-1,,4900 EUR,true,"), "{}", export.text);
        let edited = export.text.replace("4900 EUR", "5100 EUR");
        let round_trip = import_and_wait(&app, &admin, json!({"record_type": "product", "dedupe": "update", "mapping": {"created_at": null, "updated_at": null}}), &edited).await;
        assert_eq!(round_trip["counts"]["updated"], 2, "{round_trip}");
        let fresh = "name,sku,unit_price,active\nBoard,BRD-1,300 USD,no\nBad,BAD SKU,1 EUR,yes\nSeat again,SEAT-1,1 EUR,true\n";
        let imported = import_and_wait(&app, &admin, json!({"record_type": "product", "dedupe": "skip"}), fresh).await;
        assert_eq!([&imported["counts"]["created"], &imported["counts"]["failed"], &imported["counts"]["skipped"]], [&json!(1), &json!(1), &json!(1)], "{imported}");
        let all = app.list_all("/api/v1/products?sort=name", &admin).await;
        assert_eq!(names(&all), ["Analytics seat", "Board", "Data room"]);
        assert_eq!(all[0]["unit_price"]["amount_minor"], 5100);
        assert_eq!((all[1]["active"].clone(), all[1]["unit_price"]["currency"].clone()), (json!(false), json!("USD")));
    }
}
