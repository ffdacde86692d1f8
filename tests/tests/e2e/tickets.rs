use std::time::Duration;

use actix_web::http::Method;
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use e2e::smtp::SmtpSink;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

fn field<'a>(items: &'a [Value], name: &str) -> Vec<&'a str> {
    items.iter().filter_map(|item| item[name].as_str()).collect()
}

/// A company and a contact at it, made by the admin.
async fn customer(app: &TestApp) -> (String, String) {
    let admin = &app.admin_token;
    let company = app.post("/api/v1/companies", admin, &json!({"name": "Globex"})).await.assert_status(201).str("id");
    let contact = app
        .post(
            "/api/v1/contacts",
            admin,
            &json!({"first_name": "Hank", "last_name": "Scorpio", "company_id": company,
            "emails": [{"email": "hank@globex.example"}]}),
        )
        .await
        .assert_status(201)
        .str("id");
    (company, contact)
}

/// A business calendar written in a whole-hour UTC offset (an IANA `Etc/` zone) where it is
/// between 09:00 and 11:00 now: open around the clock but for a lunch hour an hour or two
/// ahead, and tomorrow a holiday; with the due times a test computes by hand on it.
struct Desk {
    zone: String,
    offset: i64,
    lunch: u32,
}

impl Desk {
    fn now() -> Desk {
        let now = Utc::now();
        let mut offset = 10 - i64::from(now.hour());
        if offset < -12 {
            offset += 24;
        }
        let zone = match offset {
            0 => "Etc/GMT".to_owned(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        };
        let local = now + TimeDelta::hours(offset);
        // Lunch from the next full hour, or the one after if that is under 15 minutes away.
        let lunch = local.hour() + if local.minute() <= 45 { 1 } else { 2 };
        Desk { zone, offset, lunch }
    }

    fn calendar(&self) -> Value {
        let day = json!([{"from": "00:00", "to": format!("{:02}:00", self.lunch)}, {"from": format!("{:02}:00", self.lunch + 1), "to": "24:00"}]);
        let tomorrow = ((Utc::now() + TimeDelta::hours(self.offset)).date_naive() + TimeDelta::days(1)).to_string();
        json!({
            "name": "Desk", "time_zone": self.zone,
            "hours": {"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day},
            "holidays": [tomorrow]
        })
    }

    /// The instant of a local wall time `days` after `from`'s local date.
    fn local(&self, from: DateTime<Utc>, days: i64, hour: u32) -> DateTime<Utc> {
        let date = (from + TimeDelta::hours(self.offset)).date_naive() + TimeDelta::days(days);
        date.and_hms_opt(hour, 0, 0).expect("a time").and_utc() - TimeDelta::hours(self.offset)
    }

    /// When `minutes` business minutes from `from` (before lunch) end: today if they fit
    /// around lunch, else on the day after the holiday.
    fn due(&self, from: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
        let lunch = self.local(from, 0, self.lunch);
        let (before, after) = (lunch - from, self.local(from, 1, 0) - (lunch + TimeDelta::hours(1)));
        let wanted = TimeDelta::minutes(minutes);
        if wanted <= before {
            from + wanted
        } else if wanted <= before + after {
            lunch + TimeDelta::hours(1) + (wanted - before)
        } else {
            self.local(from, 2, 0) + (wanted - before - after)
        }
    }
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

fn clock<'a>(sla: &'a Value, metric: &str) -> &'a Value {
    sla["clocks"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["metric"] == metric))
        .unwrap_or_else(|| panic!("no {metric} clock: {sla}"))
}

fn close_to(actual: DateTime<Utc>, expected: DateTime<Utc>, slack: TimeDelta) -> bool {
    (actual - expected).abs() <= slack
}

on_both_backends! {
    async fn a_ticket_takes_its_requesters_company_and_moves_only_through_allowed_statuses(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (company, contact) = customer(&app).await;
        let ticket = app.post("/api/v1/tickets", &admin, &json!({
            "subject": " Cannot export invoices ", "requester_id": contact, "channel": "email", "priority": "high",
            "category": "Billing", "tags": ["export"]
        })).await.assert_status(201);
        let id = ticket.str("id");
        assert_eq!(ticket.header("location"), Some(format!("/api/v1/tickets/{id}")));
        assert_eq!(ticket.body["subject"], "Cannot export invoices");
        assert_eq!(ticket.body["company_id"], company.as_str(), "the requester's company by default");
        assert_eq!((ticket.body["status"].as_str(), ticket.body["type"].as_str(), ticket.body["tier"].as_str()), (Some("new"), Some("question"), Some("first_line")));

        // What cannot be a ticket is 422 naming each field, and nothing is stored.
        let refused = app.post("/api/v1/tickets", &admin, &json!({"priority": "high"})).await.assert_problem(422);
        assert_eq!(refused.error_fields(), ["subject", "requester_id"], "{}", refused.text);
        let unknown = app.post("/api/v1/tickets", &admin, &json!({"subject": "x", "requester_id": "no-such-contact"})).await.assert_problem(422);
        assert_eq!(unknown.error_fields(), ["requester_id"]);
        app.post("/api/v1/tickets", &admin, &json!({"subject": "x", "requester_id": contact, "priority": "whenever"})).await.assert_problem(400);
        let not_incident = app.post("/api/v1/tickets", &admin, &json!({"subject": "x", "requester_id": contact, "problem_id": id})).await.assert_problem(422);
        assert_eq!(not_incident.error_fields(), ["problem_id"]);
        let not_problem = app.post("/api/v1/tickets", &admin, &json!({"subject": "x", "requester_id": contact, "type": "incident", "problem_id": id})).await.assert_problem(422);
        assert_eq!(not_problem.error_fields(), ["problem_id"], "{}", not_problem.text);
        assert_eq!(app.list_all("/api/v1/tickets", &admin).await.len(), 1);

        // An incident names its problem.
        let problem = app.post("/api/v1/tickets", &admin, &json!({"subject": "Exports time out", "requester_id": contact, "type": "problem"})).await.assert_status(201).str("id");
        app.post("/api/v1/tickets", &admin, &json!({"subject": "Me too", "requester_id": contact, "type": "incident", "problem_id": problem})).await.assert_status(201);

        // Statuses: nothing returns to new, only solved closes, closed is final.
        let path = format!("/api/v1/tickets/{id}");
        let moved = app.patch(&path, &admin, &json!({"status": "new"})).await;
        assert_eq!(moved.status, 200, "staying new is no move: {}", moved.text);
        app.patch(&path, &admin, &json!({"status": "open"})).await.assert_status(200);
        let back = app.patch(&path, &admin, &json!({"status": "new"})).await.assert_problem(422);
        assert!(back.text.contains("illegal_transition"), "{}", back.text);
        app.patch(&path, &admin, &json!({"status": "closed"})).await.assert_problem(422);
        let solved = app.patch(&path, &admin, &json!({"status": "solved"})).await.assert_status(200);
        assert!(solved.body["solved_at"].is_string());
        let reopened = app.patch(&path, &admin, &json!({"status": "open"})).await.assert_status(200);
        assert_eq!(reopened.body["solved_at"], Value::Null);
        app.patch(&path, &admin, &json!({"status": "solved"})).await.assert_status(200);
        let closed = app.patch(&path, &admin, &json!({"status": "closed"})).await.assert_status(200);
        assert!(closed.body["closed_at"].is_string());
        let final_ = app.patch(&path, &admin, &json!({"priority": "low"})).await.assert_problem(422);
        assert!(final_.text.contains("closed"), "{}", final_.text);

        // Lists filter by status, priority, requester; the timeline holds every status move.
        assert_eq!(field(&app.list_all("/api/v1/tickets?status=closed", &admin).await, "id"), [id.as_str()]);
        assert_eq!(app.list_all(&format!("/api/v1/tickets?requester_id={contact}"), &admin).await.len(), 3);
        assert_eq!(app.list_all("/api/v1/tickets?priority=high", &admin).await.len(), 1);
        let timeline = app.get(&format!("{path}/timeline?type=status_change"), &admin).await.assert_status(200);
        let moves: Vec<&str> = timeline.body["data"].as_array().map(|all| all.iter().filter_map(|e| e["change"]["to"].as_str()).collect()).unwrap_or_default();
        assert_eq!(moves, ["closed", "solved", "open", "solved", "open", "new"], "{}", timeline.body);
    }

    async fn replies_stamp_the_first_reply_reopen_on_a_customer_answer_and_land_on_the_contacts_timeline(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (company, contact) = customer(&app).await;
        let id = app.post("/api/v1/tickets", &admin, &json!({"subject": "Login fails", "requester_id": contact, "channel": "chat"})).await.assert_status(201).str("id");
        let replies = format!("/api/v1/tickets/{id}/replies");

        let note = app.post(&replies, &admin, &json!({"body": "Looks like SSO", "public": false})).await.assert_status(201);
        assert_eq!(note.body["ticket"]["first_replied_at"], Value::Null, "a note is no reply");
        let answer = app.post(&replies, &admin, &json!({"body": "Please clear your cookies", "status": "pending"})).await.assert_status(201);
        assert_eq!(answer.body["ticket"]["status"], "pending");
        let first = answer.body["ticket"]["first_replied_at"].clone();
        assert!(first.is_string(), "{}", answer.text);
        assert_eq!(answer.header("etag").as_deref(), Some("\"3\""));
        let customer_said = app.post(&replies, &admin, &json!({"body": "Still failing", "author": "customer"})).await.assert_status(201);
        assert_eq!(customer_said.body["ticket"]["status"], "open", "the customer's answer reopens it");
        let again = app.post(&replies, &admin, &json!({"body": "Fixed now", "status": "solved"})).await.assert_status(201);
        assert_eq!(again.body["ticket"]["first_replied_at"], first, "only the first reply stamps it");

        // Bad replies change nothing.
        app.post(&replies, &admin, &json!({"body": "   "})).await.assert_problem(422);
        app.post(&replies, &admin, &json!({"body": "x", "author": "customer", "public": false})).await.assert_problem(422);
        app.post(&replies, &admin, &json!({"body": "x", "status": "new"})).await.assert_problem(422);
        app.request(Method::POST, &replies).token(&admin).header("if-match", "\"1\"").json(&json!({"body": "stale"})).send().await.assert_problem(412);
        app.post(&replies, &admin, &json!({"body": "x", "colour": "red"})).await.assert_problem(400);
        app.post("/api/v1/tickets/nope/replies", &admin, &json!({"body": "x"})).await.assert_problem(404);

        let listed = app.get(&replies, &admin).await.assert_status(200);
        let authors: Vec<(bool, &str)> = listed.body.as_array().map(|all| all.iter().map(|r| (r["public"].as_bool().unwrap_or_default(), r["author"].as_str().unwrap_or_default())).collect()).unwrap_or_default();
        assert_eq!(authors, [(false, "agent"), (true, "agent"), (true, "customer"), (true, "agent")]);

        // Each reply is an activity on the ticket and the requester: chat for a chat ticket,
        // a note when internal; the contact's and the company's timelines show the ticket's moves.
        let on_ticket = app.get(&format!("/api/v1/tickets/{id}/timeline?type=chat,note"), &admin).await.assert_status(200);
        let kinds: Vec<&str> = on_ticket.body["data"].as_array().map(|all| all.iter().filter_map(|e| e["activity"]["activity_type"].as_str()).collect()).unwrap_or_default();
        assert_eq!(kinds, ["chat", "chat", "chat", "note"], "{}", on_ticket.body);
        let directions: Vec<&str> = on_ticket.body["data"].as_array().map(|all| all.iter().filter_map(|e| e["activity"]["direction"].as_str()).collect()).unwrap_or_default();
        assert_eq!(directions, ["outbound", "inbound", "outbound"]);
        let on_contact = app.get(&format!("/api/v1/contacts/{contact}/timeline"), &admin).await.assert_status(200);
        let entries = on_contact.body["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(entries.iter().filter(|e| e["kind"] == "activity").count(), 4, "{}", on_contact.body);
        let ticket_moves: Vec<&str> = entries.iter().filter(|e| e["change"]["record_type"] == "ticket").filter_map(|e| e["change"]["to"].as_str()).collect();
        assert_eq!(ticket_moves, ["solved", "open", "pending", "new"]);
        let on_company = app.get(&format!("/api/v1/companies/{company}/timeline?type=status_change"), &admin).await.assert_status(200);
        assert_eq!(on_company.body["data"].as_array().map(Vec::len), Some(4), "{}", on_company.body);
        // The contact's 360° view lists its open tickets (this one is solved: none until a new one).
        let open = app.post("/api/v1/tickets", &admin, &json!({"subject": "Second question", "requester_id": contact})).await.assert_status(201).str("id");
        let overview = app.get(&format!("/api/v1/contacts/{contact}/overview"), &admin).await.assert_status(200).body;
        assert_eq!(overview["company"]["id"], json!(company), "{overview}");
        let listed: Vec<&str> = overview["open_tickets"].as_array().map(|all| all.iter().filter_map(|t| t["id"].as_str()).collect()).unwrap_or_default();
        assert_eq!(listed, [open.as_str()]);
        let (_, agent) = app.user_with_role("agent@example.com", "support").await;
        let seen = app.get(&format!("/api/v1/contacts/{contact}/overview"), &agent).await.assert_status(200).body;
        assert_eq!(seen["open_tickets"], json!([]), "an agent sees only their teams' tickets: {seen}");
        app.get("/api/v1/contacts/nope/overview", &admin).await.assert_problem(404);

        // A closed ticket takes no replies.
        app.patch(&format!("/api/v1/tickets/{id}"), &admin, &json!({"status": "closed"})).await.assert_status(200);
        app.post(&replies, &admin, &json!({"body": "Hello?", "author": "customer"})).await.assert_problem(422);
    }

    async fn a_ticket_web_form_makes_tickets_without_login_from_the_contact_with_the_email_or_a_new_one(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (company, contact) = customer(&app).await;
        let (first_id, _) = app.user_with_role("one@example.com", "support").await;
        let (second_id, _) = app.user_with_role("two@example.com", "support").await;
        let desk = app.team_with("Desk", &[&first_id, &second_id]).await;
        let form = app.post("/api/v1/forms", &admin, &json!({
            "name": "Help", "target": "ticket", "team_id": desk, "round_robin": true,
            "fields": [{"field": "email", "required": true}, {"field": "first_name"}, {"field": "subject", "required": true}, {"field": "message"}]
        })).await.assert_status(201);
        let submit = |body: Value| {
            let path = format!("/api/v1/forms/{}/submissions", form.str("public_key"));
            let app = &app;
            async move { app.request(Method::POST, &path).json(&body).send().await }
        };
        submit(json!({"email": "HANK@globex.example", "subject": "Invoice missing", "message": "Where is it?"})).await.assert_status(202);
        submit(json!({"email": "new@customer.example", "first_name": "Marge", "subject": "Password reset"})).await.assert_status(202);
        // What the form cannot take changes nothing.
        submit(json!({"email": "x@y.example"})).await.assert_problem(422);
        submit(json!({"email": "x@y.example", "subject": "x", "industry": "Retail"})).await.assert_problem(400);
        submit(json!({"email": "not-an-email", "subject": "x"})).await.assert_problem(422);

        let tickets = app.list_all("/api/v1/tickets?sort=created_at", &admin).await;
        assert_eq!(field(&tickets, "subject"), ["Invoice missing", "Password reset"]);
        assert!(tickets.iter().all(|t| t["channel"] == "web_form" && t["team_id"] == json!(desk)));
        assert_eq!((tickets[0]["requester_id"].as_str(), tickets[0]["company_id"].as_str()), (Some(contact.as_str()), Some(company.as_str())), "the known contact asked");
        assert_eq!(tickets[0]["description"], "Where is it?");
        let owners: Vec<&str> = field(&tickets, "owner_id");
        assert_eq!(owners.len(), 2);
        assert_ne!(owners[0], owners[1], "round-robin in the team");
        let made = app.get(&format!("/api/v1/contacts/{}", tickets[1]["requester_id"].as_str().unwrap_or_default()), &admin).await.assert_status(200);
        assert_eq!((made.body["first_name"].as_str(), made.body["source"].as_str()), (Some("Marge"), Some("web_form")));
        assert_eq!(app.list_all("/api/v1/contacts", &admin).await.len(), 2, "no contact for refused submissions");

        // A ticket form needs a required email and nothing only leads have.
        let bad = app.post("/api/v1/forms", &admin, &json!({"name": "Bad", "target": "ticket", "fields": [{"field": "email"}, {"field": "industry"}]})).await.assert_problem(422);
        assert_eq!(bad.error_fields(), ["fields", "fields[1].field"], "{}", bad.text);
    }

    async fn the_service_report_counts_what_the_caller_may_see_with_reply_times_attainment_and_backlog(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, contact) = customer(&app).await;
        let (_, outsider) = app.user_with_role("outsider@example.com", "support").await;
        app.post("/api/v1/sla-policies", &admin, &json!({
            "name": "All", "targets": {"high": {"first_reply": {"minutes": 60, "business": false}, "resolution": {"minutes": 600, "business": false}}}
        })).await.assert_status(201);
        let mut ids = Vec::new();
        for (subject, priority, channel, category) in [("A", "high", "email", "Billing"), ("B", "high", "chat", "Billing"), ("C", "low", "email", "Access")] {
            let body = json!({"subject": subject, "requester_id": contact, "priority": priority, "channel": channel, "category": category});
            ids.push(app.post("/api/v1/tickets", &admin, &body).await.assert_status(201).str("id"));
        }
        app.post(&format!("/api/v1/tickets/{}/replies", ids[0]), &admin, &json!({"body": "On it", "status": "solved"})).await.assert_status(201);
        app.post(&format!("/api/v1/tickets/{}/replies", ids[1]), &admin, &json!({"body": "On it", "status": "pending"})).await.assert_status(201);

        let report = app.get("/api/v1/reports/service", &admin).await.assert_status(200).body;
        assert_eq!(report["tickets"], 3, "{report}");
        assert_eq!((report["first_reply"]["count"].as_i64(), report["first_reply"]["median_minutes"].as_f64()), (Some(2), Some(0.0)), "{report}");
        assert_eq!(report["resolution"]["count"], 1);
        let sla = report["sla"].as_array().cloned().unwrap_or_default();
        let first = sla.iter().find(|a| a["metric"] == "first_reply").cloned().unwrap_or_default();
        assert_eq!((first["met"].as_i64(), first["breached"].as_i64(), first["attainment_percent"].as_f64()), (Some(2), Some(0), Some(100.0)), "{report}");
        let backlog: Vec<(&str, &str, i64)> = report["backlog"].as_array().map(|all| all.iter().map(|c| (c["status"].as_str().unwrap_or_default(), c["priority"].as_str().unwrap_or_default(), c["count"].as_i64().unwrap_or_default())).collect()).unwrap_or_default();
        assert_eq!(backlog, [("new", "low", 1), ("pending", "high", 1)]);
        assert_eq!(report["by_channel"], json!([{"key": "chat", "count": 1}, {"key": "email", "count": 2}]));
        assert_eq!(report["by_category"], json!([{"key": "Access", "count": 1}, {"key": "Billing", "count": 2}]));
        let high = app.get("/api/v1/reports/service?priority=high", &admin).await.assert_status(200).body;
        assert_eq!(high["tickets"], 2);
        let none = app.get("/api/v1/reports/service", &outsider).await.assert_status(200).body;
        assert_eq!(none["tickets"], 0, "the report covers only what the caller may see");
        app.get("/api/v1/reports/service?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", &admin).await.assert_problem(400);
    }

    async fn support_agents_work_their_teams_tickets_and_others_see_only_what_their_role_reaches(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, contact) = customer(&app).await;
        let (agent_id, agent) = app.user_with_role("agent@example.com", "support").await;
        let (mate_id, mate) = app.user_with_role("mate@example.com", "support").await;
        let (_, outsider) = app.user_with_role("outsider@example.com", "support").await;
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.team_with("Desk", &[&agent_id, &mate_id]).await;

        let mine = app.post("/api/v1/tickets", &agent, &json!({"subject": "Mine", "requester_id": contact})).await.assert_status(201);
        assert_eq!(mine.body["owner_id"], agent_id.as_str(), "the creator is the assignee by default");
        let id = mine.str("id");
        // A teammate sees and edits it (support: team scope), an outsider sees nothing.
        app.get(&format!("/api/v1/tickets/{id}"), &mate).await.assert_status(200);
        app.post(&format!("/api/v1/tickets/{id}/replies"), &mate, &json!({"body": "On it"})).await.assert_status(201);
        app.get(&format!("/api/v1/tickets/{id}"), &outsider).await.assert_problem(404);
        app.post(&format!("/api/v1/tickets/{id}/replies"), &outsider, &json!({"body": "x"})).await.assert_problem(404);
        assert!(app.list_all("/api/v1/tickets", &outsider).await.is_empty());
        app.get(&format!("/api/v1/tickets/{id}/replies"), &outsider).await.assert_problem(404);
        // A sales rep cannot create tickets; a search by an outsider finds none.
        app.post("/api/v1/tickets", &rep, &json!({"subject": "x", "requester_id": contact})).await.assert_problem(403);
        let searched = app.post("/api/v1/tickets/search", &outsider, &json!({"filter": {"field": "status", "op": "eq", "value": "open"}})).await.assert_status(200);
        assert_eq!(searched.body["data"].as_array().map(Vec::len), Some(0));
        let found = app.post("/api/v1/tickets/search", &admin, &json!({"filter": {"and": [
            {"field": "status", "op": "eq", "value": "new"}, {"field": "company.name", "op": "eq", "value": "Globex"}
        ]}, "q": "mine"})).await.assert_status(200);
        assert_eq!(found.body["data"].as_array().map(Vec::len), Some(1), "{}", found.text);
    }

    async fn tickets_are_exported_imported_and_closed_by_the_clock_once_solved_long_enough(backend) {
        let app = TestApp::spawn_with(backend, |config| config.ticket_close_after = Duration::from_secs(1)).await;
        let admin = app.admin_token.clone();
        let (_, contact) = customer(&app).await;
        let file = format!("subject,requester_id,priority,channel\nPrinter on fire,{contact},urgent,phone\nNo requester,,low,email\n");
        let accepted = app.upload_import(&admin, &json!({"record_type": "ticket"}), file.as_bytes()).await.assert_status(202);
        let import = app.wait_for_import(&admin, &accepted.str("id")).await;
        assert_eq!((import["counts"]["created"].as_i64(), import["counts"]["failed"].as_i64()), (Some(1), Some(1)), "{import}");
        let tickets = app.list_all("/api/v1/tickets", &admin).await;
        assert_eq!(field(&tickets, "priority"), ["urgent"]);
        let id = tickets[0]["id"].as_str().unwrap_or_default().to_owned();
        let exported = app.get("/api/v1/tickets/export", &admin).await.assert_status(200);
        assert!(exported.text.contains("Printer on fire") && exported.text.contains("urgent"), "{}", exported.text);

        app.patch(&format!("/api/v1/tickets/{id}"), &admin, &json!({"status": "solved"})).await.assert_status(200);
        let mut status = String::new();
        for _ in 0..200 {
            status = app.get(&format!("/api/v1/tickets/{id}"), &admin).await.assert_status(200).str("status");
            if status == "closed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(status, "closed", "a solved ticket closes itself");
        let history = app.get(&format!("/api/v1/tickets/{id}/history"), &admin).await.assert_status(200);
        assert_eq!(history.body["data"][0]["actor_user_id"], Value::Null, "closed by the system: {}", history.body);
        let events = app.events_once(&admin, "ticket.updated", 2).await;
        let kinds: Vec<&str> = events["data"].as_array().map(|all| all.iter().filter_map(|e| e["actor"]["kind"].as_str()).collect()).unwrap_or_default();
        assert_eq!(kinds, ["user", "system"], "{events}");
    }

    async fn a_web_form_ticket_gets_due_times_breaches_is_escalated_answered_with_an_article_surveyed_and_reported(backend) {
        let sink = SmtpSink::start();
        let mail = sink.settings("https://crm.example.com");
        let app = TestApp::spawn_with(backend, move |config| config.mail = Some(mail)).await;
        let admin = app.admin_token.clone();
        let (agent_id, agent) = app.user_with_role("agent@example.com", "support").await;
        let (manager_id, manager) = app.user_with_role("lead@example.com", "manager").await;
        app.team_with("Desk", &[&agent_id, &manager_id]).await;
        let desk = Desk::now();
        let calendar = app.post("/api/v1/business-calendars", &admin, &desk.calendar()).await.assert_status(201).str("id");
        app.post("/api/v1/sla-policies", &admin, &json!({
            "name": "Web", "calendar_id": calendar, "conditions": {"field": "channel", "op": "eq", "value": "web_form"},
            "targets": {"normal": {"first_reply": {"minutes": 1, "business": false}, "resolution": {"minutes": 810}}}
        })).await.assert_status(201);
        let survey = app.post("/api/v1/surveys", &admin, &json!({"name": "CSAT", "kind": "csat", "question": "How did we do?"})).await.assert_status(201).str("id");
        for workflow in [
            json!({"name": "Escalate", "record_type": "ticket", "status": "active", "trigger": {"type": "sla_breached", "metric": "first_reply"},
                "steps": [{"type": "update_fields", "fields": {"tier": "second_line"}}, {"type": "notify", "message": "First reply breached", "owner_managers": true}]}),
            json!({"name": "Ask", "record_type": "ticket", "status": "active", "trigger": {"type": "status_changed", "to": "solved"},
                "steps": [{"type": "send_survey", "survey_id": survey}]}),
        ] {
            app.post("/api/v1/workflows", &admin, &workflow).await.assert_status(201);
        }
        let form = app.post("/api/v1/forms", &admin, &json!({
            "name": "Help", "target": "ticket", "owner_id": agent_id,
            "fields": [{"field": "email", "required": true}, {"field": "first_name"}, {"field": "subject", "required": true}, {"field": "message"}]
        })).await.assert_status(201).str("public_key");

        // The customer submits the form, no login.
        app.request(Method::POST, &format!("/api/v1/forms/{form}/submissions"))
            .json(&json!({"email": "marge@customer.example", "first_name": "Marge", "subject": "Cannot export", "message": "Export fails"}))
            .send().await.assert_status(202);
        let tickets = app.list_all("/api/v1/tickets", &agent).await;
        assert_eq!((tickets.len(), tickets[0]["channel"].as_str(), tickets[0]["owner_id"].as_str()), (1, Some("web_form"), Some(agent_id.as_str())));
        let id = tickets[0]["id"].as_str().unwrap_or_default().to_owned();
        let created = time(&tickets[0]["created_at"]);

        // Due times to the minute: first reply in one calendar minute; resolution over lunch,
        // the rest of the day and the holiday.
        let path = format!("/api/v1/tickets/{id}");
        let sla = app.get(&format!("{path}/sla"), &agent).await.assert_status(200).body;
        let slack = TimeDelta::seconds(1);
        assert!(close_to(time(&clock(&sla, "first_reply")["due_at"]), created + TimeDelta::minutes(1), slack), "{sla}");
        let resolution_due = desk.due(created, 810);
        assert!(close_to(time(&clock(&sla, "resolution")["due_at"]), resolution_due, slack), "{} != {resolution_due}", clock(&sla, "resolution")["due_at"]);

        // Pending and back: the resolution clock waited.
        let paused = time(&app.patch(&path, &agent, &json!({"status": "pending"})).await.assert_status(200).body["updated_at"]);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let resumed = time(&app.patch(&path, &agent, &json!({"status": "open"})).await.assert_status(200).body["updated_at"]);
        let sla = app.get(&format!("{path}/sla"), &agent).await.assert_status(200).body;
        assert!(close_to(time(&clock(&sla, "resolution")["due_at"]), resolution_due + (resumed - paused), slack), "{sla}");

        // The first reply breaches; the breach event's workflow moves the ticket to second line
        // and tells the manager of the assignee's team.
        let mut tier = String::new();
        for _ in 0..600 {
            tier = app.get(&path, &agent).await.assert_status(200).str("tier");
            if tier == "second_line" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(tier, "second_line");
        let breached = app.events_once(&admin, "ticket.sla_breached", 1).await;
        assert_eq!(breached["data"].as_array().map(Vec::len), Some(1), "{breached}");
        let mut told = 0;
        for _ in 0..100 {
            let feed = app.get("/api/v1/notifications", &manager).await.assert_status(200).body;
            told = feed["data"].as_array().map(|all| all.iter().filter(|n| n["record_id"] == json!(id)).count()).unwrap_or_default();
            if told > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(told, 1, "the manager is told");

        // The agent answers with a knowledge-base article and solves the ticket.
        let article = app.post("/api/v1/articles", &agent, &json!({"title": "Exporting", "body": "Use **Export** in the menu.", "status": "published"})).await.assert_status(201).str("id");
        let answered = app.post(&format!("{path}/replies"), &agent, &json!({"body": "Here is how:", "article_ids": [article], "status": "solved"})).await.assert_status(201);
        assert!(answered.body["ticket"]["first_replied_at"].is_string());

        // The CSAT survey goes out by email through the SMTP server; the customer answers.
        let mail = sink.wait_for(1, Duration::from_secs(30)).await;
        assert_eq!(mail[0].to, ["marge@customer.example"]);
        let unfolded = mail[0].data.replace("=\r\n", "").replace("=\n", "");
        let start = unfolded.find("/api/v1/survey-responses/").unwrap_or_else(|| panic!("no link in {unfolded}"));
        let link = unfolded[start..].split_whitespace().next().unwrap_or_default().to_owned();
        app.request(Method::POST, &link).json(&json!({"score": 5, "comment": "Thanks!"})).send().await.assert_status(201);

        // The service report and the survey results show it.
        let report = app.get("/api/v1/reports/service", &admin).await.assert_status(200).body;
        assert_eq!((report["tickets"].as_i64(), report["first_reply"]["count"].as_i64(), report["resolution"]["count"].as_i64()), (Some(1), Some(1), Some(1)), "{report}");
        let sla = report["sla"].as_array().cloned().unwrap_or_default();
        let first = sla.iter().find(|a| a["metric"] == "first_reply").cloned().unwrap_or_default();
        let resolution = sla.iter().find(|a| a["metric"] == "resolution").cloned().unwrap_or_default();
        assert_eq!((first["breached"].as_i64(), first["attainment_percent"].as_f64()), (Some(1), Some(0.0)), "{report}");
        assert_eq!((resolution["met"].as_i64(), resolution["attainment_percent"].as_f64()), (Some(1), Some(100.0)), "{report}");
        assert_eq!(report["by_channel"], json!([{"key": "web_form", "count": 1}]));
        let results = app.get(&format!("/api/v1/surveys/{survey}/results"), &admin).await.assert_status(200).body;
        assert_eq!((results["total"]["responses"].as_i64(), results["total"]["csat"]["csat"].as_f64()), (Some(1), Some(100.0)), "{results}");
    }

    async fn an_sla_policy_on_a_calendar_with_lunch_and_a_holiday_gives_due_times_to_the_minute_pauses_while_pending_and_follows_calendar_edits(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, contact) = customer(&app).await;
        let desk = Desk::now();
        let calendar = app.post("/api/v1/business-calendars", &admin, &desk.calendar()).await.assert_status(201);
        let calendar_id = calendar.str("id");
        let policy = app.post("/api/v1/sla-policies", &admin, &json!({
            "name": "Standard", "calendar_id": calendar_id,
            "targets": {"normal": {"first_reply": {"minutes": 30}, "resolution": {"minutes": 810}}}
        })).await.assert_status(201);
        assert_eq!(policy.body["position"], 0);

        let ticket = app.post("/api/v1/tickets", &admin, &json!({"subject": "Slow dashboard", "requester_id": contact})).await.assert_status(201);
        let id = ticket.str("id");
        let created = time(&ticket.body["created_at"]);
        let sla = app.get(&format!("/api/v1/tickets/{id}/sla"), &admin).await.assert_status(200).body;
        assert_eq!(sla["policy_id"], policy.body["id"], "{sla}");
        // The due times computed by hand: over lunch, the rest of the day and the holiday.
        let (first_due, resolution_due) = (desk.due(created, 30), desk.due(created, 810));
        let slack = TimeDelta::seconds(1);
        let first = clock(&sla, "first_reply");
        assert!(close_to(time(&first["due_at"]), first_due, slack), "first reply due {} != {first_due}: {sla}", first["due_at"]);
        assert_eq!((first["state"].as_str(), first["target_minutes"].as_i64()), (Some("on_track"), Some(30)));
        let resolution = clock(&sla, "resolution");
        assert!(close_to(time(&resolution["due_at"]), resolution_due, slack), "resolution due {} != {resolution_due}: {sla}", resolution["due_at"]);
        assert!(matches!(resolution["left_minutes"].as_i64(), Some(809 | 810)), "{sla}");

        // Pending pauses the resolution clock; back to open, it is due later by the pause.
        let path = format!("/api/v1/tickets/{id}");
        let paused_at = time(&app.patch(&path, &admin, &json!({"status": "pending"})).await.assert_status(200).body["updated_at"]);
        let waiting = app.get(&format!("{path}/sla"), &admin).await.assert_status(200).body;
        assert_eq!((clock(&waiting, "resolution")["paused"].as_bool(), clock(&waiting, "resolution")["due_at"].as_str()), (Some(true), None), "{waiting}");
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let resumed_at = time(&app.patch(&path, &admin, &json!({"status": "open"})).await.assert_status(200).body["updated_at"]);
        let resumed = app.get(&format!("{path}/sla"), &admin).await.assert_status(200).body;
        let later = resolution_due + (resumed_at - paused_at);
        assert!(close_to(time(&clock(&resumed, "resolution")["due_at"]), later, slack), "resumed due {} != {later}", clock(&resumed, "resolution")["due_at"]);

        // A calendar edit moves the due times at once: without the holiday, it is due a day earlier.
        app.patch(&format!("/api/v1/business-calendars/{calendar_id}"), &admin, &json!({"holidays": []})).await.assert_status(200);
        let edited = app.get(&format!("{path}/sla"), &admin).await.assert_status(200).body;
        assert!(close_to(time(&clock(&edited, "resolution")["due_at"]), later - TimeDelta::days(1), slack), "{edited}");

        // The first agent reply meets the first-reply target.
        app.post(&format!("{path}/replies"), &admin, &json!({"body": "Looking into it"})).await.assert_status(201);
        let replied = app.get(&format!("{path}/sla"), &admin).await.assert_status(200).body;
        assert_eq!((clock(&replied, "first_reply")["state"].as_str(), clock(&replied, "first_reply")["due_at"].as_str()), (Some("met"), None), "{replied}");

        // What cannot be a calendar or a policy is 422 with its path; a calendar in use stays.
        let bad = app.post("/api/v1/business-calendars", &admin, &json!({"name": "x", "time_zone": "Mars/Base", "hours": {"monday": [{"from": "9:00", "to": "17:00"}]}})).await.assert_problem(422);
        assert_eq!(bad.error_fields(), ["time_zone", "hours.monday[0].from"], "{}", bad.text);
        let bad = app.post("/api/v1/sla-policies", &admin, &json!({"name": "x", "targets": {"low": {"resolution": {"minutes": 60}}}})).await.assert_problem(422);
        assert_eq!(bad.error_fields(), ["calendar_id"]);
        let bad = app.post("/api/v1/sla-policies", &admin, &json!({"name": "x", "calendar_id": "nope", "targets": {"low": {"resolution": {"minutes": 60}}}})).await.assert_problem(422);
        assert_eq!(bad.error_fields(), ["calendar_id"]);
        let bad = app.post("/api/v1/sla-policies", &admin, &json!({"name": "x", "conditions": {"field": "colour", "op": "eq", "value": "red"}, "targets": {"low": {"resolution": {"minutes": 60, "business": false}}}})).await.assert_problem(422);
        assert!(bad.error_fields()[0].starts_with("conditions"), "{}", bad.text);
        let bad = app.post("/api/v1/sla-policies", &admin, &json!({"name": "x", "conditions": {"field": "company.name", "op": "eq", "value": "Globex"}, "targets": {"low": {"resolution": {"minutes": 60, "business": false}}}})).await.assert_problem(422);
        assert_eq!(bad.error_fields(), ["conditions"], "{}", bad.text);
        app.delete(&format!("/api/v1/business-calendars/{calendar_id}"), &admin).await.assert_problem(409);
        let (_, agent) = app.user_with_role("agent@example.com", "support").await;
        app.get("/api/v1/sla-policies", &agent).await.assert_problem(403);
    }

    async fn a_breached_first_reply_announces_itself_and_a_workflow_moves_the_ticket_to_second_line_and_tells_the_manager(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, contact) = customer(&app).await;
        let (agent_id, agent) = app.user_with_role("agent@example.com", "support").await;
        let (manager_id, manager) = app.user_with_role("lead@example.com", "manager").await;
        app.team_with("Desk", &[&agent_id, &manager_id]).await;
        app.post("/api/v1/sla-policies", &admin, &json!({
            "name": "Urgent", "conditions": {"field": "priority", "op": "eq", "value": "urgent"},
            "targets": {"urgent": {"first_reply": {"minutes": 1, "business": false}}}
        })).await.assert_status(201);
        let escalate = app.post("/api/v1/workflows", &admin, &json!({
            "name": "Escalate breaches", "record_type": "ticket", "status": "active",
            "trigger": {"type": "sla_breached", "metric": "first_reply"},
            "steps": [
                {"type": "update_fields", "fields": {"tier": "second_line"}},
                {"type": "notify", "message": "A ticket of your team breached its first-reply target", "owner_managers": true}
            ]
        })).await.assert_status(201).str("id");

        let ticket = app.post("/api/v1/tickets", &agent, &json!({"subject": "Site down", "requester_id": contact, "priority": "urgent"})).await.assert_status(201);
        let id = ticket.str("id");
        let created = time(&ticket.body["created_at"]);
        let mut tier = String::new();
        for _ in 0..600 {
            tier = app.get(&format!("/api/v1/tickets/{id}"), &admin).await.assert_status(200).str("tier");
            if tier == "second_line" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(tier, "second_line", "the workflow escalated the breached ticket");
        let breached = app.events_once(&admin, "ticket.sla_breached", 1).await;
        let events = breached["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(events.len(), 1, "announced once: {breached}");
        assert_eq!((events[0]["record_id"].as_str(), events[0]["data"]["metric"].as_str()), (Some(id.as_str()), Some("first_reply")));
        assert_eq!(events[0]["actor"]["kind"], "system");
        let at = time(&events[0]["occurred_at"]);
        assert!(at >= created + TimeDelta::minutes(1) && at < created + TimeDelta::seconds(75), "breached at {at}, created {created}");
        let at_risk = app.events_once(&admin, "ticket.sla_at_risk", 1).await;
        let risk_at = at_risk["data"].as_array().and_then(|all| all.first()).map(|e| time(&e["occurred_at"])).unwrap_or_else(|| panic!("no at-risk event: {at_risk}"));
        assert!(risk_at >= created + TimeDelta::seconds(45) && risk_at < at, "at risk at {risk_at}");
        let sla = app.get(&format!("/api/v1/tickets/{id}/sla"), &admin).await.assert_status(200).body;
        assert_eq!(clock(&sla, "first_reply")["state"], "breached", "{sla}");

        let mut told = 0;
        for _ in 0..100 {
            let feed = app.get("/api/v1/notifications", &manager).await.assert_status(200).body;
            told = feed["data"].as_array().map(|all| all.iter().filter(|n| n["kind"] == "workflow" && n["record_id"] == json!(id)).count()).unwrap_or_default();
            if told > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert_eq!(told, 1, "the manager is told");
        let runs = app.get(&format!("/api/v1/workflows/{escalate}/runs"), &admin).await.assert_status(200).body;
        assert_eq!(runs["data"].as_array().map(Vec::len), Some(1), "{runs}");
    }
}
