use actix_web::http::Method;
use e2e::{Reply, TestApp, on_both_backends};
use serde_json::{Value, json};

fn ids(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

on_both_backends! {
    async fn a_likely_duplicate_is_refused_on_create_unless_allowed_and_is_listed_with_reasons(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let company = app.post("/api/v1/companies", &admin, &json!({"name": "Acme Ltd", "domain": "acme.example"})).await.assert_status(201).str("id");
        let ada = app.post("/api/v1/contacts", &admin, &json!({
            "first_name": "Ada", "last_name": "Lovelace", "company_id": company,
            "emails": [{"email": "ada@acme.example"}], "phones": [{"number": "+44 20 7946 0000"}]
        })).await.assert_status(201).str("id");

        let same_email = app.post("/api/v1/contacts", &admin, &json!({"first_name": "A.", "emails": [{"email": "ADA@acme.example"}]})).await.assert_problem(409);
        assert_eq!(same_email.body["duplicates"], json!([{"id": ada, "reasons": ["same_email"]}]));
        let same_phone = app.post("/api/v1/contacts", &admin, &json!({"first_name": "B.", "phones": [{"number": "+442079460000"}]})).await.assert_problem(409);
        assert_eq!(same_phone.body["duplicates"][0]["reasons"], json!(["same_phone"]));
        let same_name = app.post("/api/v1/contacts", &admin, &json!({"first_name": "ada", "last_name": "LOVELACE", "company_id": company})).await.assert_problem(409);
        assert_eq!(same_name.body["duplicates"][0]["reasons"], json!(["similar_name"]));
        // Many people share a name: elsewhere it is no duplicate.
        app.post("/api/v1/contacts", &admin, &json!({"first_name": "Ada", "last_name": "Lovelace"})).await.assert_status(201);
        let allowed = app.post("/api/v1/contacts?allow_duplicate=true", &admin, &json!({"first_name": "Ada two", "emails": [{"email": "ada@acme.example"}]}))
            .await.assert_status(201).str("id");
        let candidates = app.get(&format!("/api/v1/contacts/{ada}/duplicates"), &admin).await.assert_status(200);
        assert_eq!(candidates.body["data"], json!([{"id": allowed, "reasons": ["same_email"]}]));

        let acme = app.post("/api/v1/companies", &admin, &json!({"name": "ACME"})).await.assert_problem(409);
        assert_eq!(acme.body["duplicates"], json!([{"id": company, "reasons": ["similar_name"]}]));
        let by_domain = app.post("/api/v1/companies", &admin, &json!({"name": "Other", "domain": "https://www.acme.example/"})).await.assert_problem(409);
        assert_eq!(by_domain.body["duplicates"][0]["reasons"], json!(["same_domain"]));

        // A rep who cannot see Ada is not told she exists.
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.post("/api/v1/contacts", &rep, &json!({"first_name": "Ada", "emails": [{"email": "ada@acme.example"}]})).await.assert_status(201);
        app.get(&format!("/api/v1/contacts/{ada}/duplicates"), &rep).await.assert_problem(404);
        app.post("/api/v1/contacts?allow_duplicate=maybe", &admin, &json!({"first_name": "X"})).await.assert_problem(400);

        // Converting a lead who is already a contact names the contact to link instead.
        let lead = app.post("/api/v1/leads", &admin, &json!({"first_name": "Ada", "email": "ada@acme.example"})).await.assert_status(201).str("id");
        let convert = format!("/api/v1/leads/{lead}/convert");
        let refused = app.post(&convert, &admin, &json!({})).await.assert_problem(409);
        assert!(refused.body["duplicates"].as_array().is_some_and(|d| d.iter().any(|x| x["id"] == json!(ada))));
        assert_eq!(app.get(&format!("/api/v1/leads/{lead}"), &admin).await.assert_status(200).body["status"], "new");
        let linked = app.post(&convert, &admin, &json!({"contact_id": ada})).await.assert_status(200);
        assert_eq!(linked.body["lead"]["conversion"]["contact_id"], json!(ada));
    }

    async fn merging_contacts_moves_their_history_to_the_survivor_and_leaves_a_tombstone(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let survivor = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Ada", "emails": [{"email": "ada@x.example"}]})).await.assert_status(201);
        let a = survivor.str("id");
        let b = app.post("/api/v1/contacts", &admin, &json!({
            "first_name": "Augusta", "last_name": "Lovelace", "job_title": "Countess", "tags": ["vip"],
            "emails": [{"email": "augusta@x.example"}], "phones": [{"number": "+44 20 7946 0000"}]
        })).await.assert_status(201).str("id");
        let link = json!([{"record_type": "contact", "id": b}]);
        let activity = app.post("/api/v1/activities", &admin, &json!({"activity_type": "note", "body": "met", "links": link})).await.assert_status(201).str("id");
        let task = app.post("/api/v1/tasks", &admin, &json!({"title": "call", "links": link})).await.assert_status(201).str("id");
        let deal = app.post("/api/v1/deals", &admin, &json!({"name": "D", "contact_ids": [b]})).await.assert_status(201).str("id");
        let path = format!("/api/v1/contacts/{a}");

        // Refusals change nothing.
        app.post(&format!("{path}/merge"), &admin, &json!({"merge_ids": [a]})).await.assert_problem(422);
        app.post(&format!("{path}/merge"), &admin, &json!({"merge_ids": []})).await.assert_problem(422);
        app.post(&format!("{path}/merge"), &admin, &json!({"merge_ids": ["nope"]})).await.assert_problem(422);
        app.post(&format!("{path}/merge"), &admin, &json!({"merge_ids": [b], "fields": {"emails": b}})).await.assert_problem(422);
        app.post(&format!("{path}/merge"), &admin, &json!({"merge_ids": [b], "fields": {"first_name": "nope"}})).await.assert_problem(422);
        app.request(Method::POST, &format!("{path}/merge")).token(&admin).header("if-match", "\"7\"").json(&json!({"merge_ids": [b]}))
            .send().await.assert_problem(412);
        app.get(&format!("/api/v1/contacts/{b}"), &admin).await.assert_status(200);

        let merged = app.post(&format!("{path}/merge"), &admin, &json!({"merge_ids": [b], "fields": {"first_name": b}})).await.assert_status(200);
        assert_eq!(merged.body["first_name"], "Augusta");
        assert_eq!(merged.body["job_title"], "Countess");
        assert_eq!(merged.body["last_name"], "Lovelace");
        let emails: Vec<(Value, Value)> = merged.body["emails"].as_array().map(|e| e.iter().map(|x| (x["email"].clone(), x["primary"].clone())).collect()).unwrap_or_default();
        assert_eq!(emails, [(json!("ada@x.example"), json!(true)), (json!("augusta@x.example"), json!(false))]);
        assert_eq!(merged.body["phones"][0]["number"], "+442079460000");
        assert_eq!(merged.body["tags"], json!(["vip"]));

        // The merged contact is a tombstone that says where it went.
        let gone = app.get(&format!("/api/v1/contacts/{b}"), &admin).await.assert_status(301);
        assert_eq!(gone.header("location"), Some(path.clone()));
        assert_eq!(gone.body["merged_into"], json!(a));
        app.post(&format!("/api/v1/contacts/{b}/restore"), &admin, &json!({})).await.assert_problem(409);
        assert_eq!(ids(&app.get("/api/v1/contacts", &admin).await.assert_status(200)), vec![a.clone()]);
        app.post(&format!("{path}/merge"), &admin, &json!({"merge_ids": [b]})).await.assert_problem(422);

        // Its history moved.
        let activity = app.get(&format!("/api/v1/activities/{activity}"), &admin).await.assert_status(200);
        assert_eq!(activity.body["links"], json!([{"record_type": "contact", "id": a}]));
        let task = app.get(&format!("/api/v1/tasks/{task}"), &admin).await.assert_status(200);
        assert_eq!(task.body["links"], json!([{"record_type": "contact", "id": a}]));
        let deal = app.get(&format!("/api/v1/deals/{deal}"), &admin).await.assert_status(200);
        assert_eq!(deal.body["contact_ids"], json!([a]));
        let timeline = app.get(&format!("{path}/timeline"), &admin).await.assert_status(200);
        assert_eq!(timeline.body["data"].as_array().map(Vec::len), Some(1));
        let history = app.get(&format!("{path}/history"), &admin).await.assert_status(200);
        assert_eq!(history.body["data"][0]["action"], "merge");
        assert_eq!(history.body["data"][0]["changes"]["first_name"], json!({"from": "Ada", "to": "Augusta"}));
        // Keys moved too: the merged email now points at the survivor only.
        let again = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Z", "emails": [{"email": "augusta@x.example"}]})).await.assert_problem(409);
        assert_eq!(again.body["duplicates"], json!([{"id": a, "reasons": ["same_email"]}]));
    }

    async fn merging_needs_the_delete_grant_on_the_merged_records(backend) {
        let app = TestApp::spawn(backend).await;
        let (alice, alice_token) = app.user_with_role("alice@example.com", "sales").await;
        let (bob, bob_token) = app.user_with_role("bob@example.com", "sales").await;
        app.team_with("Team", &[&alice, &bob]).await;
        let mine = app.post("/api/v1/contacts", &alice_token, &json!({"first_name": "Mine"})).await.assert_status(201).str("id");
        let theirs = app.post("/api/v1/contacts", &bob_token, &json!({"first_name": "Theirs"})).await.assert_status(201).str("id");
        app.post(&format!("/api/v1/contacts/{mine}/merge"), &alice_token, &json!({"merge_ids": [theirs]})).await.assert_problem(403);
        app.get(&format!("/api/v1/contacts/{theirs}"), &alice_token).await.assert_status(200);
    }

    async fn merging_companies_moves_their_contacts_and_deals(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let c1 = app.post("/api/v1/companies", &admin, &json!({"name": "Acme"})).await.assert_status(201).str("id");
        let c2 = app.post("/api/v1/companies?allow_duplicate=true", &admin, &json!({"name": "Acme Ltd.", "domain": "acme.example", "tags": ["key"]}))
            .await.assert_status(201).str("id");
        let duplicates = app.get(&format!("/api/v1/companies/{c1}/duplicates"), &admin).await.assert_status(200);
        assert_eq!(duplicates.body["data"], json!([{"id": c2, "reasons": ["similar_name"]}]));
        let person = app.post("/api/v1/contacts", &admin, &json!({"first_name": "P", "company_id": c2})).await.assert_status(201).str("id");
        let deal = app.post("/api/v1/deals", &admin, &json!({"name": "D", "company_id": c2})).await.assert_status(201).str("id");

        let merged = app.post(&format!("/api/v1/companies/{c1}/merge"), &admin, &json!({"merge_ids": [c2], "fields": {"name": c2}}))
            .await.assert_status(200);
        assert_eq!((merged.body["name"].as_str(), merged.body["domain"].as_str()), (Some("Acme Ltd."), Some("acme.example")));
        assert_eq!(merged.body["tags"], json!(["key"]));
        assert_eq!(app.get(&format!("/api/v1/contacts/{person}"), &admin).await.assert_status(200).body["company_id"], json!(c1));
        assert_eq!(app.get(&format!("/api/v1/deals/{deal}"), &admin).await.assert_status(200).body["company_id"], json!(c1));
        assert_eq!(ids(&app.get(&format!("/api/v1/companies/{c1}/contacts"), &admin).await.assert_status(200)), vec![person]);
        let gone = app.get(&format!("/api/v1/companies/{c2}"), &admin).await.assert_status(301);
        assert_eq!(gone.header("location"), Some(format!("/api/v1/companies/{c1}")));
        let duplicates = app.get(&format!("/api/v1/companies/{c1}/duplicates"), &admin).await.assert_status(200);
        assert_eq!(duplicates.body["data"], json!([]));
        let by_domain = app.post("/api/v1/companies", &admin, &json!({"name": "Else", "domain": "acme.example"})).await.assert_problem(409);
        assert_eq!(by_domain.body["duplicates"][0]["id"], json!(c1));
    }
}
