use actix_web::http::Method;
use chrono::{Duration, Utc};
use e2e::{Reply, TestApp, on_both_backends};
use serde_json::{Value, json};

fn rows(reply: &Reply) -> Vec<Value> {
    reply.body["data"].as_array().cloned().unwrap_or_default()
}

fn ids(reply: &Reply) -> Vec<String> {
    rows(reply).iter().filter_map(|r| r["id"].as_str().map(str::to_owned)).collect()
}

async fn submit(app: &TestApp, key: &str, body: &Value) -> Reply {
    app.request(Method::POST, &format!("/api/v1/forms/{key}/submissions")).json(body).send().await
}

async fn stage_id(app: &TestApp, token: &str, name: &str) -> (String, String) {
    let pipelines = app.get("/api/v1/pipelines", token).await.assert_status(200);
    let pipeline = &rows(&pipelines)[0];
    let stage =
        pipeline["stages"].as_array().and_then(|s| s.iter().find(|s| s["name"] == name)).cloned().unwrap_or_default();
    (pipeline["id"].as_str().unwrap_or_default().to_owned(), stage["id"].as_str().unwrap_or_default().to_owned())
}

on_both_backends! {
    async fn a_rep_takes_a_form_lead_through_conversion_to_a_won_deal_with_a_reminder(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (alice, rep) = app.user_with_role("alice@example.com", "sales").await;
        app.post("/api/v1/assignment-rules", &admin, &json!({
            "name": "UK", "conditions": [{"field": "country", "op": "in", "value": ["gb", "ie"]}], "assign_to": {"owner_id": alice}
        })).await.assert_status(201);
        app.post("/api/v1/scoring-rules", &admin, &json!({
            "name": "Software", "points": 20, "condition": {"field": "industry", "op": "eq", "value": "software"}
        })).await.assert_status(201);
        app.post("/api/v1/scoring-rules", &admin, &json!({
            "name": "Filled a form", "points": 10, "event": {"type": "form_submitted"}
        })).await.assert_status(201);
        let form = app.post("/api/v1/forms", &admin, &json!({
            "name": "Contact us", "campaign": "Website",
            "fields": [{"field": "email", "required": true}, {"field": "first_name"}, {"field": "last_name"},
                       {"field": "company_name"}, {"field": "industry"}, {"field": "country"}, {"field": "message"}]
        })).await.assert_status(201);
        let key = form.str("public_key");
        assert_eq!(form.body["submission_url"], json!(format!("/api/v1/forms/{key}/submissions")));

        // The public form: no login.
        let receipt = submit(&app, &key, &json!({
            "email": "Ada@Engines.example", "first_name": "Ada", "last_name": "Lovelace",
            "company_name": "Analytical Engines", "industry": "Software", "country": "GB", "message": "Call me", "nickname": ""
        })).await.assert_status(202);
        assert_eq!(receipt.body["status"], "received");

        // Scored and assigned to the rep.
        let leads = app.get("/api/v1/leads", &rep).await.assert_status(200);
        let lead = rows(&leads).pop().expect("one lead");
        let lead_id = lead["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!((lead["owner_id"].as_str(), lead["score"].as_i64()), (Some(alice.as_str()), Some(30)));
        assert_eq!((lead["status"].as_str(), lead["source"].as_str(), lead["campaign"].as_str()), (Some("new"), Some("web_form"), Some("Website")));
        assert_eq!(lead["email"], "ada@engines.example");
        let score = app.get(&format!("/api/v1/leads/{lead_id}/score"), &rep).await.assert_status(200);
        assert_eq!(score.body["score"], 30);
        let reasons: Vec<bool> = score.body["rules"].as_array().map(|r| r.iter().map(|x| x["matched"] == true).collect()).unwrap_or_default();
        assert_eq!(reasons, [true, true]);

        // Engagement events count, up to a rule's most occurrences, and rescore their lead at once.
        app.post("/api/v1/scoring-rules", &admin, &json!({
            "name": "Clicks", "points": 5, "event": {"type": "email_clicked", "max_occurrences": 2}
        })).await.assert_status(201);
        for _ in 0..3 {
            app.post(&format!("/api/v1/leads/{lead_id}/events"), &rep, &json!({"type": "email_clicked"})).await.assert_status(201);
        }
        let lead = app.get(&format!("/api/v1/leads/{lead_id}"), &rep).await.assert_status(200);
        assert_eq!(lead.body["score"], 40);
        let send_event = || app.request(Method::POST, &format!("/api/v1/leads/{lead_id}/events")).token(&rep)
            .header("idempotency-key", "webinar-1").json(&json!({"type": "webinar_attended"})).send();
        let first = send_event().await.assert_status(201);
        let retried = send_event().await.assert_status(201);
        assert_eq!((first.body["id"].clone(), retried.header("idempotent-replayed")), (retried.body["id"].clone(), Some("true".to_owned())));

        // Log a call, qualify, convert into contact + company + deal.
        let call = app.post("/api/v1/activities", &rep, &json!({
            "activity_type": "call", "subject": "Intro call", "direction": "outbound", "duration_seconds": 900,
            "outcome": "Interested", "links": [{"record_type": "lead", "id": lead_id}]
        })).await.assert_status(201);
        let call_id = call.str("id");
        app.patch(&format!("/api/v1/leads/{lead_id}"), &rep, &json!({"status": "qualified"})).await.assert_status(200);
        let conversion = json!({
            "deal": {"name": "Engines: 40 licences", "amount": {"amount_minor": 4_000_000, "currency": "eur"},
                     "expected_close_date": Utc::now().date_naive().to_string()}
        });
        let convert = || app.request(Method::POST, &format!("/api/v1/leads/{lead_id}/convert")).token(&rep)
            .header("idempotency-key", "convert-once").json(&conversion).send();
        let converted = convert().await.assert_status(200);
        let retried = convert().await.assert_status(200);
        assert_eq!((retried.body.clone(), retried.header("idempotent-replayed")), (converted.body.clone(), Some("true".to_owned())));
        let contact_id = converted.body["contact"]["id"].as_str().unwrap_or_default().to_owned();
        let company_id = converted.body["company"]["id"].as_str().unwrap_or_default().to_owned();
        let deal_id = converted.body["deal"]["id"].as_str().unwrap_or_default().to_owned();
        assert_eq!(converted.body["lead"]["status"], "converted");
        assert_eq!(converted.body["lead"]["conversion"]["deal_id"], json!(deal_id));
        assert_eq!(converted.body["contact"]["company_id"], json!(company_id));
        assert_eq!(converted.body["contact"]["emails"][0]["email"], "ada@engines.example");
        assert_eq!(converted.body["company"]["name"], "Analytical Engines");
        assert_eq!(converted.body["deal"]["contact_ids"], json!([contact_id]));
        assert_eq!(converted.body["deal"]["lead_id"], json!(lead_id));
        app.post(&format!("/api/v1/leads/{lead_id}/convert"), &rep, &json!({})).await.assert_problem(409);

        // The call moved along: it is on the contact's and the company's timelines.
        let contact_timeline = app.get(&format!("/api/v1/contacts/{contact_id}/timeline"), &rep).await.assert_status(200);
        assert!(ids(&contact_timeline).contains(&call_id));
        let company_timeline = app.get(&format!("/api/v1/companies/{company_id}/timeline?type=call"), &rep).await.assert_status(200);
        assert_eq!(ids(&company_timeline), vec![call_id.clone()]);
        let lead_timeline = app.get(&format!("/api/v1/leads/{lead_id}/timeline"), &rep).await.assert_status(200);
        let statuses: Vec<String> = rows(&lead_timeline).iter().filter(|e| e["kind"] == "status_change").map(|e| e["change"]["to"].as_str().unwrap_or_default().to_owned()).collect();
        assert_eq!(statuses, ["converted", "qualified", "new"]);
        let activities = rows(&lead_timeline).iter().filter(|e| e["kind"] == "activity").count();
        assert_eq!(activities, 2, "the form's note and the call");

        // Through the stages to won.
        let (_, proposal) = stage_id(&app, &rep, "Proposal").await;
        let (_, won) = stage_id(&app, &rep, "Closed won").await;
        let deal_path = format!("/api/v1/deals/{deal_id}");
        let moved = app.patch(&deal_path, &rep, &json!({"stage_id": proposal, "next_step": "Send the proposal"})).await.assert_status(200);
        assert!(moved.body["closed_at"].is_null());
        let closed = app.patch(&deal_path, &rep, &json!({"stage_id": won})).await.assert_status(200);
        assert!(closed.body["closed_at"].is_string());
        let changes = app.get(&format!("{deal_path}/stage-changes"), &rep).await.assert_status(200);
        let to: Vec<String> = rows(&changes).iter().map(|c| c["to_stage_id"].as_str().unwrap_or_default().to_owned()).collect();
        assert_eq!(to.len(), 3);
        assert_eq!(&to[..2], [won.clone(), proposal.clone()]);
        assert_eq!(rows(&changes)[0]["changed_by"], json!(alice));
        let deal_timeline = app.get(&format!("{deal_path}/timeline?type=stage_change"), &rep).await.assert_status(200);
        assert_eq!(rows(&deal_timeline).len(), 3);

        // A company's timeline holds its contacts' activities and its deals' stage changes.
        let email = app.post("/api/v1/activities", &rep, &json!({
            "activity_type": "email", "subject": "Proposal attached", "direction": "outbound",
            "participants": [{"email": "Ada@Engines.example"}], "links": [{"record_type": "contact", "id": contact_id}]
        })).await.assert_status(201);
        assert_eq!(email.body["participants"][0]["email"], "ada@engines.example");
        let company_path = format!("/api/v1/companies/{company_id}/timeline");
        let company_emails = app.get(&format!("{company_path}?type=email"), &rep).await.assert_status(200);
        assert_eq!(ids(&company_emails), vec![email.str("id")]);
        let company_stages = app.get(&format!("{company_path}?type=stage_change"), &rep).await.assert_status(200);
        assert_eq!(rows(&company_stages).len(), 3);
        let first_page = app.get(&format!("{company_path}?limit=2"), &rep).await.assert_status(200);
        let cursor = first_page.str("next_cursor");
        let second_page = app.get(&format!("{company_path}?limit=10&cursor={cursor}"), &rep).await.assert_status(200);
        let mut seen = ids(&first_page);
        seen.extend(ids(&second_page));
        let everything = app.get(&format!("{company_path}?limit=100"), &rep).await.assert_status(200);
        assert_eq!(seen, ids(&everything), "pages continue without gaps or repeats");
        assert_eq!(seen.len(), 6, "the call, the form note, the email and three stage changes");

        // On the board and in the forecast.
        let (pipeline_id, _) = stage_id(&app, &rep, "Closed won").await;
        let board = app.get(&format!("/api/v1/pipelines/{pipeline_id}/board"), &rep).await.assert_status(200);
        let won_column = board.body["stages"].as_array().and_then(|s| s.iter().find(|c| c["stage"]["id"] == json!(won))).cloned().expect("won column");
        assert_eq!(won_column["count"], 1);
        assert_eq!(won_column["totals"], json!([{"amount_minor": 4_000_000, "currency": "EUR"}]));
        assert_eq!(won_column["deals"][0]["id"], json!(deal_id));
        let forecast = app.get("/api/v1/forecast?period=quarter", &rep).await.assert_status(200);
        assert_eq!(forecast.body["periods"][0]["currencies"][0]["committed"], 4_000_000);
        assert_eq!(forecast.body["periods"][0]["currencies"][0]["currency"], "EUR");

        // A follow-up task from the call, with a reminder that has come.
        let today_noon = format!("{}T12:00:00Z", Utc::now().date_naive());
        let reminder = (Utc::now() - Duration::minutes(5)).to_rfc3339();
        let task = app.post(&format!("/api/v1/activities/{call_id}/follow-up-task"), &rep, &json!({
            "title": "Send the contract", "due_at": today_noon, "reminder_at": reminder, "priority": "high"
        })).await.assert_status(201);
        let task_id = task.str("id");
        assert_eq!(task.body["activity_id"], json!(call_id));
        assert_eq!(task.body["assignee_id"], json!(alice));
        assert!(task.body["links"].as_array().is_some_and(|l| l.iter().any(|x| x["id"] == json!(contact_id))));
        let today = app.get("/api/v1/tasks?assignee=me&due=today", &rep).await.assert_status(200);
        assert_eq!(ids(&today), vec![task_id.clone()]);
        let due = app.get("/api/v1/reminders/due", &rep).await.assert_status(200);
        assert_eq!(ids(&due), vec![task_id.clone()]);
        app.post(&format!("/api/v1/tasks/{task_id}/acknowledge-reminder"), &rep, &json!({})).await.assert_status(200);
        let due = app.get("/api/v1/reminders/due", &rep).await.assert_status(200);
        assert!(ids(&due).is_empty());
        app.patch(&format!("/api/v1/tasks/{task_id}"), &rep, &json!({"status": "done"})).await.assert_status(200);
        let today = app.get("/api/v1/tasks?assignee=me&due=today", &rep).await.assert_status(200);
        assert!(ids(&today).is_empty());
    }

    async fn another_teams_sales_records_are_invisible_and_reps_cannot_edit_pipelines(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (alice, alice_token) = app.user_with_role("alice@example.com", "sales").await;
        let (bob, bob_token) = app.user_with_role("bob@example.com", "sales").await;
        app.team_with("East", &[&alice]).await;
        app.team_with("West", &[&bob]).await;
        let lead = app.post("/api/v1/leads", &alice_token, &json!({"last_name": "Secret", "email": "s@x.example"})).await.assert_status(201);
        let lead_id = lead.str("id");
        assert_eq!(lead.body["owner_id"], json!(alice));
        let deal = app.post("/api/v1/deals", &alice_token, &json!({"name": "Secret deal"})).await.assert_status(201);
        let activity = app.post("/api/v1/activities", &alice_token, &json!({"activity_type": "note", "body": "private", "links": [{"record_type": "lead", "id": lead_id}]})).await.assert_status(201);
        let task = app.post("/api/v1/tasks", &alice_token, &json!({"title": "Secret task"})).await.assert_status(201);
        for path in [
            format!("/api/v1/leads/{lead_id}"),
            format!("/api/v1/deals/{}", deal.str("id")),
            format!("/api/v1/activities/{}", activity.str("id")),
            format!("/api/v1/tasks/{}", task.str("id")),
            format!("/api/v1/leads/{lead_id}/timeline"),
            format!("/api/v1/leads/{lead_id}/score"),
            format!("/api/v1/deals/{}/stage-changes", deal.str("id")),
        ] {
            app.get(&path, &bob_token).await.assert_problem(404);
        }
        app.patch(&format!("/api/v1/leads/{lead_id}"), &bob_token, &json!({"status": "contacted"})).await.assert_problem(404);
        app.post(&format!("/api/v1/leads/{lead_id}/convert"), &bob_token, &json!({})).await.assert_problem(404);
        app.delete(&format!("/api/v1/tasks/{}", task.str("id")), &bob_token).await.assert_problem(404);
        for list in ["/api/v1/leads", "/api/v1/deals", "/api/v1/activities", "/api/v1/tasks"] {
            let listed = app.get(list, &bob_token).await.assert_status(200);
            assert!(ids(&listed).is_empty(), "{list} leaked");
        }
        // Linking to a record one cannot see is refused without confirming it exists.
        app.post("/api/v1/activities", &bob_token, &json!({"activity_type": "note", "body": "x", "links": [{"record_type": "lead", "id": lead_id}]}))
            .await.assert_problem(422);
        // Board and forecast count only what the caller sees.
        let (pipeline_id, _) = stage_id(&app, &bob_token, "Prospecting").await;
        let board = app.get(&format!("/api/v1/pipelines/{pipeline_id}/board"), &bob_token).await.assert_status(200);
        assert!(board.body["stages"].as_array().is_some_and(|s| s.iter().all(|c| c["count"] == 0)));
        // Reps may not edit pipelines, rules or forms.
        app.post("/api/v1/pipelines", &bob_token, &json!({"name": "Mine", "stages": [{"name": "A", "probability": 10}]})).await.assert_problem(403);
        app.patch(&format!("/api/v1/pipelines/{pipeline_id}"), &bob_token, &json!({"name": "Renamed"})).await.assert_problem(403);
        app.delete(&format!("/api/v1/pipelines/{pipeline_id}"), &bob_token).await.assert_problem(403);
        app.post("/api/v1/scoring-rules", &bob_token, &json!({"name": "x", "points": 1, "event": {"type": "x"}})).await.assert_problem(403);
        app.get("/api/v1/forms", &bob_token).await.assert_problem(403);
        let pipeline = app.get(&format!("/api/v1/pipelines/{pipeline_id}"), &admin).await.assert_status(200);
        assert_eq!(pipeline.body["name"], "Sales");
        let etag = pipeline.header("etag").unwrap_or_default();
        let renamed = app.request(Method::PATCH, &format!("/api/v1/pipelines/{pipeline_id}")).token(&admin).header("if-match", &etag)
            .json(&json!({"name": "New business"})).send().await.assert_status(200);
        assert_ne!(renamed.header("etag"), Some(etag.clone()));
        app.request(Method::PATCH, &format!("/api/v1/pipelines/{pipeline_id}")).token(&admin).header("if-match", &etag)
            .json(&json!({"name": "Lost update"})).send().await.assert_problem(412);
        let pipeline = app.get(&format!("/api/v1/pipelines/{pipeline_id}"), &bob_token).await.assert_status(200);
        assert_eq!(pipeline.body["name"], "New business");
        assert_eq!(pipeline.body["stages"].as_array().map(Vec::len), Some(6));
        // Alice still sees everything she made, unchanged.
        let mine = app.get(&format!("/api/v1/leads/{lead_id}"), &alice_token).await.assert_status(200);
        assert_eq!(mine.body["status"], "new");
    }

    async fn bad_sales_input_is_refused_and_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let form = app.post("/api/v1/forms", &admin, &json!({"name": "Demo", "fields": [{"field": "email", "required": true}, {"field": "last_name"}]}))
            .await.assert_status(201);
        let key = form.str("public_key");
        let unknown = submit(&app, &key, &json!({"email": "a@b.example", "role": "admin"})).await.assert_problem(400);
        assert_eq!(unknown.error_fields(), ["role"]);
        let honeypot = submit(&app, &key, &json!({"email": "a@b.example", "nickname": "bot"})).await.assert_problem(400);
        assert_eq!(honeypot.body["errors"][0]["code"], "spam_detected");
        submit(&app, &key, &json!({"last_name": "No email"})).await.assert_problem(422);
        submit(&app, &key, &json!({"email": "not an email"})).await.assert_problem(422);
        submit(&app, &key, &json!({"email": 5})).await.assert_problem(400);
        submit(&app, &key, &json!(["email"])).await.assert_problem(400);
        app.request(Method::POST, &format!("/api/v1/forms/{key}/submissions"))
            .raw("application/x-www-form-urlencoded", b"email=a%40b.example&email=c%40d.example".to_vec()).send().await.assert_problem(400);
        app.request(Method::POST, &format!("/api/v1/forms/{key}/submissions"))
            .raw("text/plain", b"email=a@b.example".to_vec()).send().await.assert_problem(415);
        submit(&app, "frm_nope", &json!({"email": "a@b.example"})).await.assert_problem(404);
        app.post("/api/v1/forms", &admin, &json!({"name": "Bad", "fields": [{"field": "email"}], "redirect_url": "javascript:alert(1)"})).await.assert_problem(422);
        app.post("/api/v1/forms", &admin, &json!({"name": "Bad", "fields": [{"field": "shoe_size"}]})).await.assert_problem(400);
        assert!(ids(&app.get("/api/v1/leads", &admin).await.assert_status(200)).is_empty());

        // Illegal status transitions.
        let lead = app.post("/api/v1/leads", &admin, &json!({"last_name": "Babbage"})).await.assert_status(201);
        let path = format!("/api/v1/leads/{}", lead.str("id"));
        app.patch(&path, &admin, &json!({"status": "qualified"})).await.assert_status(200);
        let illegal = app.patch(&path, &admin, &json!({"status": "new"})).await.assert_problem(422);
        assert_eq!(illegal.body["errors"][0]["code"], "illegal_transition");
        let converted = app.patch(&path, &admin, &json!({"status": "converted"})).await.assert_problem(422);
        assert_eq!(converted.body["errors"][0]["code"], "use_convert");
        app.patch(&path, &admin, &json!({"score": 1000})).await.assert_problem(400);
        app.patch(&path, &admin, &json!({"status": "unqualified"})).await.assert_status(200);
        app.post(&format!("{path}/convert"), &admin, &json!({})).await.assert_problem(409);
        let after = app.get(&path, &admin).await.assert_status(200);
        assert_eq!((after.body["status"].as_str(), after.body["score"].as_i64()), (Some("unqualified"), Some(0)));

        // A stage of another pipeline.
        let other = app.post("/api/v1/pipelines", &admin, &json!({"name": "Renewals", "stages": [
            {"name": "Due", "probability": 60}, {"name": "Renewed", "kind": "won"}, {"name": "Churned", "kind": "lost"}
        ]})).await.assert_status(201);
        let foreign_stage = other.body["stages"][0]["id"].as_str().unwrap_or_default().to_owned();
        let refused = app.post("/api/v1/deals", &admin, &json!({"name": "Wrong stage", "stage_id": foreign_stage})).await.assert_problem(422);
        assert_eq!(refused.body["errors"][0]["code"], "not_in_pipeline");
        app.post("/api/v1/deals", &admin, &json!({"name": "No pipeline", "pipeline_id": "nope"})).await.assert_problem(422);
        app.post("/api/v1/pipelines", &admin, &json!({"name": "Closed only", "stages": [{"name": "Won", "kind": "won", "probability": 50}]})).await.assert_problem(422);
        app.post("/api/v1/pipelines", &admin, &json!({"name": "renewals", "stages": [{"name": "A", "probability": 1}]})).await.assert_problem(409);
        let deal = app.post("/api/v1/deals", &admin, &json!({"name": "Open deal", "amount": {"amount_minor": 100, "currency": "USD"}})).await.assert_status(201);
        let deal_path = format!("/api/v1/deals/{}", deal.str("id"));
        app.patch(&deal_path, &admin, &json!({"close_reason": "Too pricey"})).await.assert_problem(422);
        app.post("/api/v1/deals", &admin, &json!({"name": "Negative", "amount": {"amount_minor": -1, "currency": "USD"}})).await.assert_problem(422);

        // A stage holding deals is not deleted until its deals move.
        let (pipeline_id, prospecting) = stage_id(&app, &admin, "Prospecting").await;
        let (_, qualification) = stage_id(&app, &admin, "Qualification").await;
        assert_eq!(deal.body["stage_id"], json!(prospecting));
        let stage_path = format!("/api/v1/pipelines/{pipeline_id}/stages/{prospecting}");
        app.delete(&stage_path, &admin).await.assert_problem(409);
        app.delete(&format!("{stage_path}?move_deals_to={foreign_stage}"), &admin).await.assert_problem(422);
        let pipeline = app.get(&format!("/api/v1/pipelines/{pipeline_id}"), &admin).await.assert_status(200);
        let mut stages: Vec<Value> = pipeline.body["stages"]
            .as_array()
            .map(|all| all.iter().map(|s| json!({"id": s["id"], "name": s["name"], "probability": s["probability"], "kind": s["kind"]})).collect())
            .unwrap_or_default();
        stages.remove(0);
        app.patch(&format!("/api/v1/pipelines/{pipeline_id}"), &admin, &json!({"stages": stages})).await.assert_problem(409);
        let unchanged = app.get(&deal_path, &admin).await.assert_status(200);
        assert_eq!(unchanged.body["stage_id"], json!(prospecting));
        let after = app.delete(&format!("{stage_path}?move_deals_to={qualification}"), &admin).await.assert_status(200);
        assert_eq!(after.body["stages"].as_array().map(Vec::len), Some(5));
        let moved = app.get(&deal_path, &admin).await.assert_status(200);
        assert_eq!(moved.body["stage_id"], json!(qualification));

        // Activities, tasks, timelines and the forecast refuse what does not fit.
        let link = json!([{"record_type": "deal", "id": deal.str("id")}]);
        app.post("/api/v1/activities", &admin, &json!({"activity_type": "note", "body": "x", "duration_seconds": 60, "links": link})).await.assert_problem(422);
        app.post("/api/v1/activities", &admin, &json!({"activity_type": "call", "subject": "x", "links": []})).await.assert_problem(422);
        app.post("/api/v1/activities", &admin, &json!({"activity_type": "fax", "subject": "x", "links": link})).await.assert_problem(400);
        app.post("/api/v1/tasks", &admin, &json!({"description": "no title"})).await.assert_problem(422);
        app.get(&format!("{deal_path}/timeline?type=telegram"), &admin).await.assert_problem(400);
        app.get("/api/v1/forecast?from=2026-06-01&to=2026-01-01", &admin).await.assert_problem(422);
        app.get("/api/v1/forecast?from=2020-01-01&to=2026-01-01&period=month", &admin).await.assert_problem(422);
        app.get("/api/v1/tasks?due=someday", &admin).await.assert_problem(400);
        app.get("/api/v1/tasks?utc_offset_minutes=5000", &admin).await.assert_problem(400);
        let no_reminder = app.post("/api/v1/tasks", &admin, &json!({"title": "t"})).await.assert_status(201);
        app.post(&format!("/api/v1/tasks/{}/acknowledge-reminder", no_reminder.str("id")), &admin, &json!({})).await.assert_problem(409);
        app.post("/api/v1/scoring-rules", &admin, &json!({"name": "both", "points": 1, "condition": {"field": "industry", "op": "eq", "value": "x"}, "event": {"type": "x"}})).await.assert_problem(422);
        app.post("/api/v1/scoring-rules", &admin, &json!({"name": "bad op", "points": 1, "condition": {"field": "industry", "op": "gte", "value": 3}})).await.assert_problem(422);
        app.post("/api/v1/assignment-rules", &admin, &json!({"name": "ghost", "assign_to": {"owner_id": "no-such-user"}})).await.assert_problem(422);
        assert!(ids(&app.get("/api/v1/scoring-rules", &admin).await.assert_status(200)).is_empty());
    }

    async fn repeat_submissions_join_the_open_lead_and_round_robin_stays_fair_under_load(backend) {
        let app = TestApp::spawn_with(backend, |config| config.form_rate_limit_per_minute = 1000).await;
        let admin = app.admin_token.clone();
        let mut reps = Vec::new();
        for name in ["r1", "r2", "r3"] {
            reps.push(app.user_with_role(&format!("{name}@example.com"), "sales").await.0);
        }
        let team = app.team_with("Inbound", &reps.iter().map(String::as_str).collect::<Vec<_>>()).await;
        let form = app.post("/api/v1/forms", &admin, &json!({
            "name": "Demo request", "team_id": team, "round_robin": true, "redirect_url": "https://www.example.com/thanks",
            "fields": [{"field": "email", "required": true}, {"field": "message"}]
        })).await.assert_status(201);
        let key = form.str("public_key");

        // The same person twice: one lead with both submissions on its timeline.
        submit(&app, &key, &json!({"email": "twice@example.com", "message": "first"})).await.assert_status(202);
        submit(&app, &key, &json!({"email": "TWICE@example.com", "message": "second"})).await.assert_status(202);
        let leads = app.get("/api/v1/leads?q=twice", &admin).await.assert_status(200);
        assert_eq!(ids(&leads).len(), 1);
        let timeline = app.get(&format!("/api/v1/leads/{}/timeline?type=note", ids(&leads)[0]), &admin).await.assert_status(200);
        let bodies: Vec<String> = rows(&timeline).iter().filter_map(|e| e["activity"]["body"].as_str().map(str::to_owned)).collect();
        assert_eq!(bodies, ["second", "first"]);

        // A browser post is redirected.
        let redirected = app.request(Method::POST, &format!("/api/v1/forms/{key}/submissions"))
            .raw("application/x-www-form-urlencoded", b"email=browser%40example.com&message=hi".to_vec()).send().await.assert_status(303);
        assert_eq!(redirected.header("location").as_deref(), Some("https://www.example.com/thanks"));

        // Twelve at once: every rep gets exactly a third of the round-robin leads.
        let sends = (0..12).map(|n| {
            let body = json!({"email": format!("load{n}@example.com")});
            let key = key.clone();
            let app = &app;
            async move { submit(app, &key, &body).await.status }
        });
        let statuses = futures_util::future::join_all(sends).await;
        assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
        let mut counts = Vec::new();
        for rep in &reps {
            let owned = app.get(&format!("/api/v1/leads?owner_id={rep}&limit=100"), &admin).await.assert_status(200);
            counts.push(ids(&owned).len());
        }
        counts.sort_unstable();
        assert_eq!(counts, [4, 5, 5], "14 round-robin leads over 3 reps");
    }

    async fn form_submissions_are_rate_limited_per_client_address(backend) {
        let app = TestApp::spawn_with(backend, |config| config.form_rate_limit_per_minute = 2).await;
        let form = app.post("/api/v1/forms", &app.admin_token, &json!({"name": "F", "fields": [{"field": "email"}]})).await.assert_status(201);
        let key = form.str("public_key");
        submit(&app, &key, &json!({"email": "one@example.com"})).await.assert_status(202);
        submit(&app, &key, &json!({"email": "two@example.com"})).await.assert_status(202);
        let limited = submit(&app, &key, &json!({"email": "three@example.com"})).await.assert_problem(429);
        assert!(limited.header("retry-after").is_some());
        // Signed-in API use has its own budget.
        app.get("/api/v1/leads", &app.admin_token).await.assert_status(200);
        assert_eq!(ids(&app.get("/api/v1/leads", &app.admin_token).await).len(), 2);
    }

    async fn every_stage_move_closes_a_deal_as_a_patch_would(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let pipeline = app.post("/api/v1/pipelines", &admin, &json!({"name": "Renewals", "stages": [
            {"name": "Due", "probability": 60}, {"name": "Signing", "probability": 80},
            {"name": "Intro", "probability": 10}, {"name": "Renewed", "kind": "won"}, {"name": "Churned", "kind": "lost"}
        ]})).await.assert_status(201);
        let pipeline_path = format!("/api/v1/pipelines/{}", pipeline.str("id"));
        let stage = |index: usize| pipeline.body["stages"][index]["id"].as_str().unwrap_or_default().to_owned();
        let (due, signing, renewed) = (stage(0), stage(1), stage(3));
        let deal = |name: &str, stage: &str, amount: i64| json!({
            "name": name, "pipeline_id": pipeline.str("id"), "stage_id": stage,
            "amount": {"amount_minor": amount, "currency": "EUR"}
        });
        let moved = app.post("/api/v1/deals", &admin, &deal("Moved", &due, 1_000)).await.assert_status(201);
        let kept = app.post("/api/v1/deals", &admin, &deal("Kept", &signing, 500)).await.assert_status(201);
        let (moved_path, kept_path) = (format!("/api/v1/deals/{}", moved.str("id")), format!("/api/v1/deals/{}", kept.str("id")));
        let committed = || async {
            let forecast = app.get("/api/v1/forecast?period=quarter", &admin).await.assert_status(200);
            forecast.body["periods"][0]["currencies"][0]["committed"].as_i64().unwrap_or(0)
        };
        assert_eq!(committed().await, 0);

        // Deleting a stage moves its deals into a won stage: they close then.
        app.delete(&format!("{pipeline_path}/stages/{due}?move_deals_to={renewed}"), &admin).await.assert_status(200);
        let after = app.get(&moved_path, &admin).await.assert_status(200);
        assert_eq!(after.body["stage_id"], json!(renewed));
        assert!(after.body["closed_at"].is_string(), "closed_at is stamped: {}", after.body);
        assert_eq!(committed().await, 1_000);
        let history = app.get(&format!("{moved_path}/timeline?type=stage_change"), &admin).await.assert_status(200);
        assert_eq!(rows(&history).len(), 2, "entry and the move: {}", history.body);

        // A pipeline PATCH that turns a stage into a won one closes the deals in it.
        let edited = app.get(&pipeline_path, &admin).await.assert_status(200);
        let with_signing_as = |kind: &str| -> Value {
            let stages: Vec<Value> = edited.body["stages"].as_array().map(|all| all.iter().map(|s| json!({
                "id": s["id"], "name": s["name"], "probability": if s["id"] == json!(signing) && kind == "won" { json!(null) } else { s["probability"].clone() },
                "kind": if s["id"] == json!(signing) { json!(kind) } else { s["kind"].clone() }
            })).collect()).unwrap_or_default();
            json!({"stages": stages})
        };
        app.patch(&pipeline_path, &admin, &with_signing_as("won")).await.assert_status(200);
        let closed = app.get(&kept_path, &admin).await.assert_status(200);
        assert!(closed.body["closed_at"].is_string(), "closed_at is stamped: {}", closed.body);
        assert_eq!(committed().await, 1_500);

        // And turning it back into an open stage reopens them.
        app.patch(&pipeline_path, &admin, &with_signing_as("open")).await.assert_status(200);
        let reopened = app.get(&kept_path, &admin).await.assert_status(200);
        assert_eq!(reopened.body["closed_at"], json!(null));
        assert_eq!(committed().await, 1_000);
    }

    async fn converting_a_lead_of_a_deactivated_owner_is_refused_until_it_is_reassigned(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (alice, _) = app.user_with_role("alice@example.com", "sales").await;
        let lead = app.post("/api/v1/leads", &admin, &json!({
            "first_name": "Ada", "last_name": "Lovelace", "company_name": "Engines Ltd", "owner_id": alice
        })).await.assert_status(201);
        let lead_path = format!("/api/v1/leads/{}", lead.str("id"));
        app.patch(&format!("/api/v1/users/{alice}"), &admin, &json!({"active": false})).await.assert_status(200);

        let refused = app.post(&format!("{lead_path}/convert"), &admin, &json!({"deal": {}})).await.assert_problem(422);
        assert_eq!((refused.body["errors"][0]["field"].as_str(), refused.body["errors"][0]["code"].as_str()), (Some("owner_id"), Some("inactive_user")));
        for collection in ["contacts", "companies", "deals"] {
            assert!(ids(&app.get(&format!("/api/v1/{collection}"), &admin).await.assert_status(200)).is_empty(), "no {collection} created");
        }
        assert_eq!(app.get(&lead_path, &admin).await.assert_status(200).body["status"], "new");

        let me = app.get("/api/v1/me", &admin).await.assert_status(200);
        app.patch(&lead_path, &admin, &json!({"owner_id": me.str("id")})).await.assert_status(200);
        let converted = app.post(&format!("{lead_path}/convert"), &admin, &json!({"deal": {}})).await.assert_status(200);
        for part in ["contact", "company", "deal"] {
            assert_eq!(converted.body[part]["owner_id"], me.body["id"], "the {part} belongs to the new owner");
        }
    }
}
