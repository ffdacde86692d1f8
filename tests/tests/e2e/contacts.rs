use actix_web::http::Method;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

fn ids(reply: &e2e::Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

on_both_backends! {
    async fn a_contact_is_created_read_patched_deleted_and_restored(backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.admin_token.clone();
        let created = app
            .post("/api/v1/contacts", &token, &json!({
                "first_name": " Ada ", "last_name": "Lovelace",
                "emails": [{"email": "Ada@Example.COM", "label": "work"}, {"email": "ada@home.example", "primary": true}],
                "phones": [{"number": "+44 (20) 7946-0000"}],
                "job_title": "Analyst", "tags": ["VIP", "vip", "Speaker"],
                "address": {"city": "London", "country": "gb"},
                "source": "referral", "lifecycle_stage": "acquisition", "notes": "Met at the conference"
            }))
            .await
            .assert_status(201);
        let id = created.str("id");
        let location = created.header("location").unwrap_or_default();
        assert_eq!(location, format!("/api/v1/contacts/{id}"));
        assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
        assert_eq!(created.str("first_name"), "Ada");
        assert_eq!(created.body["emails"], json!([
            {"email": "ada@example.com", "label": "work", "primary": false},
            {"email": "ada@home.example", "label": null, "primary": true}
        ]));
        assert_eq!(created.body["phones"][0]["number"], json!("+442079460000"));
        assert_eq!(created.body["tags"], json!(["vip", "speaker"]));
        assert_eq!(created.body["address"]["country"], json!("GB"));
        assert_eq!(created.body["custom_fields"], json!({}));
        let me = app.get("/api/v1/me", &token).await;
        assert_eq!(created.body["owner_id"], me.body["id"]);

        let read = app.get(&location, &token).await.assert_status(200);
        assert_eq!(read.body, created.body);

        let patched = app
            .request(Method::PATCH, &location)
            .token(&token)
            .header("if-match", "\"1\"")
            .raw("application/merge-patch+json", json!({"job_title": "Head of Analytics", "notes": null}).to_string().into_bytes())
            .send()
            .await
            .assert_status(200);
        assert_eq!(patched.str("job_title"), "Head of Analytics");
        assert!(patched.body["notes"].is_null());
        assert_eq!(patched.str("last_name"), "Lovelace");
        assert_eq!(patched.header("etag").as_deref(), Some("\"2\""));

        app.delete(&location, &token).await.assert_status(204);
        app.get(&location, &token).await.assert_problem(404);
        let listed = app.get("/api/v1/contacts", &token).await.assert_status(200);
        assert!(ids(&listed).is_empty());
        let deleted = app.get("/api/v1/contacts?deleted=true", &token).await.assert_status(200);
        assert_eq!(ids(&deleted), vec![id.clone()]);
        assert!(deleted.body["data"][0]["deleted_at"].is_string());

        let restored = app.post(&format!("{location}/restore"), &token, &json!({})).await.assert_status(200);
        assert_eq!(restored.str("job_title"), "Head of Analytics");
        app.get(&location, &token).await.assert_status(200);
        app.post(&format!("{location}/restore"), &token, &json!({})).await.assert_problem(404);
    }

    async fn a_stale_if_match_is_refused_with_412_and_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.admin_token.clone();
        let created = app.post("/api/v1/contacts", &token, &json!({"first_name": "Grace"})).await.assert_status(201);
        let path = created.header("location").unwrap_or_default();
        app.patch(&path, &token, &json!({"last_name": "Hopper"})).await.assert_status(200);
        let stale = app.request(Method::PATCH, &path).token(&token).header("if-match", "\"1\"").json(&json!({"last_name": "Lost"})).send().await;
        stale.assert_problem(412);
        app.request(Method::DELETE, &path).token(&token).header("if-match", "W/\"1\"").send().await.assert_problem(412);
        app.request(Method::PATCH, &path).token(&token).header("if-match", "garbage").json(&json!({})).send().await.assert_problem(400);
        // The quotes may be left out; the version still has to be the current one.
        app.request(Method::PATCH, &path).token(&token).header("if-match", "1").json(&json!({"last_name": "Lost"})).send().await.assert_problem(412);
        let current = app.get(&path, &token).await.assert_status(200);
        assert_eq!(current.str("last_name"), "Hopper");
        assert_eq!(current.header("etag").as_deref(), Some("\"2\""));
    }

    async fn a_retried_post_with_the_same_idempotency_key_creates_once(backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.admin_token.clone();
        let body = json!({"first_name": "Once", "emails": [{"email": "once@example.com"}]});
        let send = |body: Value| app.request(Method::POST, "/api/v1/contacts").token(&token).header("idempotency-key", "retry-1").json(&body).send();
        let first = send(body.clone()).await.assert_status(201);
        let second = send(body.clone()).await.assert_status(201);
        assert_eq!(second.header("idempotent-replayed").as_deref(), Some("true"));
        assert_eq!(first.body, second.body);
        assert_eq!(first.header("location"), second.header("location"));
        let different = send(json!({"first_name": "Twice"})).await.assert_problem(422);
        assert_eq!(different.error_fields(), ["Idempotency-Key"]);
        let listed = app.get("/api/v1/contacts", &token).await.assert_status(200);
        assert_eq!(ids(&listed).len(), 1);
        // Keys are per caller: another user may use the same key.
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.request(Method::POST, "/api/v1/contacts").token(&rep).header("idempotency-key", "retry-1").json(&body).send().await.assert_status(201);
    }

    async fn pages_follow_the_cursor_without_gaps_or_repeats(backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.admin_token.clone();
        let names = ["delta", "alpha", "echo", "charlie", "bravo", "golf", "foxtrot"];
        for name in names {
            app.post("/api/v1/contacts", &token, &json!({"first_name": name})).await.assert_status(201);
        }
        for (sort, expected) in [
            ("name", vec!["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]),
            ("-name", vec!["golf", "foxtrot", "echo", "delta", "charlie", "bravo", "alpha"]),
            ("created_at", names.to_vec()),
            ("-created_at", names.iter().rev().copied().collect()),
        ] {
            let mut seen: Vec<String> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("/api/v1/contacts?limit=3&sort={sort}&cursor={c}"),
                    None => format!("/api/v1/contacts?limit=3&sort={sort}"),
                };
                let page = app.get(&path, &token).await.assert_status(200);
                let rows = page.body["data"].as_array().cloned().unwrap_or_default();
                assert!(rows.len() <= 3);
                seen.extend(rows.iter().filter_map(|r| r["first_name"].as_str().map(str::to_owned)));
                match page.body["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
                // A row inserted mid-listing does not disturb the pages already handed out.
                if seen.len() == 3 && sort == "-created_at" {
                    app.post("/api/v1/contacts", &token, &json!({"first_name": "zulu"})).await.assert_status(201);
                }
            }
            assert_eq!(seen, expected, "sort {sort}");
            if sort == "-created_at" {
                break;
            }
        }
        let page = app.get("/api/v1/contacts?limit=2&sort=name", &token).await.assert_status(200);
        let cursor = page.str("next_cursor");
        let mismatch = app.get(&format!("/api/v1/contacts?limit=2&sort=-name&cursor={cursor}"), &token).await.assert_problem(400);
        assert_eq!(mismatch.error_fields(), ["cursor"]);
        app.get("/api/v1/contacts?cursor=bm90LWEtY3Vyc29y", &token).await.assert_problem(400);
        app.get("/api/v1/contacts?sort=email", &token).await.assert_problem(400);
        app.get("/api/v1/contacts?limit=0", &token).await.assert_problem(400);
        app.get("/api/v1/contacts?limit=101", &token).await.assert_problem(400);
    }

    async fn filters_and_text_search_narrow_the_list(backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.admin_token.clone();
        let (rep_id, rep) = app.user_with_role("rep@example.com", "sales").await;
        let acme = app.post("/api/v1/companies", &token, &json!({"name": "Acme"})).await.assert_status(201).str("id");
        let ada = app
            .post("/api/v1/contacts", &token, &json!({"first_name": "Ada", "last_name": "Lovelace", "company_id": acme, "tags": ["vip"],
                "emails": [{"email": "ada@analytical.example"}], "phones": [{"number": "+49 30 901820"}], "lifecycle_stage": "loyalty"}))
            .await
            .assert_status(201)
            .str("id");
        let before_grace = chrono::Utc::now();
        let grace = app.post("/api/v1/contacts", &rep, &json!({"first_name": "Grace", "last_name": "Hopper", "tags": ["navy"]})).await.assert_status(201).str("id");
        let percent = app.post("/api/v1/contacts", &token, &json!({"first_name": "100% Sure", "tags": ["a_b"]})).await.assert_status(201).str("id");

        let query = |q: &str| {
            let token = token.clone();
            let path = format!("/api/v1/contacts?{q}");
            let app = &app;
            async move { ids(&app.get(&path, &token).await.assert_status(200)) }
        };
        assert_eq!(query(&format!("owner_id={rep_id}")).await, vec![grace.clone()]);
        assert_eq!(query(&format!("company_id={acme}")).await, vec![ada.clone()]);
        assert_eq!(query("tag=VIP").await, vec![ada.clone()]);
        assert_eq!(query("tag=a_b").await, vec![percent.clone()]);
        assert!(query("tag=a%25b").await.is_empty(), "LIKE wildcards in a tag must not match");
        assert_eq!(query("lifecycle_stage=loyalty").await, vec![ada.clone()]);
        assert_eq!(query("q=LOVEL").await, vec![ada.clone()]);
        assert_eq!(query("q=analytical.example").await, vec![ada.clone()]);
        assert_eq!(query("q=4930901820").await, vec![ada.clone()]);
        assert_eq!(query("q=100%25").await, vec![percent.clone()]);
        assert!(query("q=%25").await.len() == 1, "a literal % matches only text containing it");
        let after = before_grace.format("%Y-%m-%dT%H:%M:%S%.6fZ");
        let mut recent = query(&format!("created_after={after}&sort=created_at")).await;
        recent.sort();
        let mut expected = vec![grace.clone(), percent.clone()];
        expected.sort();
        assert_eq!(recent, expected);
        assert_eq!(query(&format!("created_before={after}")).await, vec![ada.clone()]);
        let of_company = app.get(&format!("/api/v1/companies/{acme}/contacts"), &token).await.assert_status(200);
        assert_eq!(ids(&of_company), vec![ada.clone()]);
        app.get("/api/v1/companies/nope/contacts", &token).await.assert_problem(404);
        app.get("/api/v1/contacts?lifecycle_stage=unknown", &token).await.assert_problem(400);
        app.get("/api/v1/contacts?created_after=yesterday", &token).await.assert_problem(400);
    }

    async fn invalid_contacts_get_422_naming_every_field_and_nothing_is_stored(backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.admin_token.clone();
        let bad = app
            .post("/api/v1/contacts", &token, &json!({
                "first_name": "X", "emails": [{"email": "not-an-email"}], "phones": [{"number": "12345"}],
                "address": {"country": "Narnia"}, "company_id": "no-such-company"
            }))
            .await
            .assert_problem(422);
        assert_eq!(bad.error_fields(), ["emails[0].email", "phones[0].number", "address.country"]);
        assert_eq!(bad.body["errors"][0]["code"], json!("invalid_format"));
        let nameless = app.post("/api/v1/contacts", &token, &json!({"job_title": "Ghost"})).await.assert_problem(422);
        assert_eq!(nameless.error_fields(), ["first_name"]);
        let long = app.post("/api/v1/contacts", &token, &json!({"first_name": "x".repeat(201)})).await.assert_problem(422);
        assert_eq!(long.error_fields(), ["first_name"]);
        let two_primary = app
            .post("/api/v1/contacts", &token, &json!({"first_name": "P", "emails": [{"email": "a@b.example", "primary": true}, {"email": "c@d.example", "primary": true}]}))
            .await
            .assert_problem(422);
        assert_eq!(two_primary.error_fields(), ["emails"]);
        app.post("/api/v1/contacts", &token, &json!({"first_name": "C", "company_id": "missing"})).await.assert_problem(422);
        let custom = app.post("/api/v1/contacts", &token, &json!({"first_name": "C", "custom_fields": {"shoe_size": 44}})).await.assert_problem(400);
        assert_eq!(custom.error_fields(), ["custom_fields.shoe_size"]);
        app.post("/api/v1/contacts", &token, &json!({"first_name": "C", "lifecycle_stage": "dreaming"})).await.assert_problem(400);
        app.post("/api/v1/contacts", &token, &json!({"first_name": "C", "favourite_colour": "blue"})).await.assert_problem(400);
        let listed = app.get("/api/v1/contacts", &token).await.assert_status(200);
        assert!(ids(&listed).is_empty());
    }

    async fn companies_follow_the_same_rules(backend) {
        let app = TestApp::spawn(backend).await;
        let token = app.admin_token.clone();
        let created = app
            .post("/api/v1/companies", &token, &json!({"name": "Acme Ltd", "domain": "https://www.ACME.example/", "employee_count": 250,
                "annual_revenue": {"amount_minor": 250000000, "currency": "eur"}, "phone": "+1 212 555 0100", "tags": ["Partner"]}))
            .await
            .assert_status(201);
        assert_eq!(created.str("domain"), "acme.example");
        assert_eq!(created.body["annual_revenue"], json!({"amount_minor": 250000000, "currency": "EUR"}));
        assert_eq!(created.str("phone"), "+12125550100");
        let path = created.header("location").unwrap_or_default();
        let by_domain = app.get("/api/v1/companies?domain=www.acme.example", &token).await.assert_status(200);
        assert_eq!(ids(&by_domain), vec![created.str("id")]);
        let searched = app.get("/api/v1/companies?q=acme&tag=partner", &token).await.assert_status(200);
        assert_eq!(ids(&searched).len(), 1);
        let bad = app
            .post("/api/v1/companies", &token, &json!({"name": " ", "domain": "nope", "employee_count": -1, "annual_revenue": {"amount_minor": 5, "currency": "XXX1"}}))
            .await
            .assert_problem(422);
        assert!(bad.error_fields().len() >= 3, "{}", bad.text);
        app.post("/api/v1/companies", &token, &json!({"name": "Float", "annual_revenue": {"amount_minor": 1.5, "currency": "EUR"}})).await.assert_problem(400);
        app.patch(&path, &token, &json!({"employee_count": null, "name": "Acme Group"})).await.assert_status(200);
        let read = app.get(&path, &token).await.assert_status(200);
        assert!(read.body["employee_count"].is_null());
        assert_eq!(read.str("name"), "Acme Group");
        app.patch(&path, &token, &json!({"name": null})).await.assert_problem(422);
        app.delete(&path, &token).await.assert_status(204);
        app.get(&path, &token).await.assert_problem(404);
        app.post(&format!("{path}/restore"), &token, &json!({})).await.assert_status(200);
    }
}
