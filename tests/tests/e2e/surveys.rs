//! Satisfaction surveys through the real server and a real SMTP server on loopback: a CSAT
//! survey sent by email when a ticket is solved (by a workflow), answered once through the
//! public link, and the results a chart reads.

use std::time::Duration;

use actix_web::http::Method;
use e2e::smtp::SmtpSink;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// The answer link in a survey email, as the path the test server serves.
fn link_in(text: &str) -> String {
    let start = text.find("/api/v1/survey-responses/").unwrap_or_else(|| panic!("no answer link in {text}"));
    text[start..].split_whitespace().next().unwrap_or_default().trim_end_matches('=').to_owned()
}

async fn spawn_with_smtp(backend: e2e::Backend, sink: &SmtpSink) -> TestApp {
    let mail = sink.settings("https://crm.example.com");
    TestApp::spawn_with(backend, move |config| config.mail = Some(mail)).await
}

on_both_backends! {
    async fn a_csat_survey_is_emailed_when_a_ticket_is_solved_answered_once_through_its_link_and_counted_in_the_results(backend) {
        let sink = SmtpSink::start();
        let app = spawn_with_smtp(backend, &sink).await;
        let admin = app.admin_token.clone();
        let (agent_id, agent) = app.user_with_role("agent@example.com", "support").await;
        let desk = app.team_with("Desk", &[&agent_id]).await;
        let contact = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Hank", "emails": [{"email": "hank@globex.example"}]})).await.assert_status(201).str("id");
        let survey = app.post("/api/v1/surveys", &admin, &json!({
            "name": "Support satisfaction", "kind": "csat", "question": "How satisfied are you with our help?",
            "follow_up": "What could we do better?", "email_subject": "How did we do?"
        })).await.assert_status(201).str("id");
        app.post("/api/v1/workflows", &admin, &json!({
            "name": "Ask after solving", "record_type": "ticket", "status": "active",
            "trigger": {"type": "status_changed", "to": "solved"},
            "steps": [{"type": "send_survey", "survey_id": survey}]
        })).await.assert_status(201);

        let ticket = app.post("/api/v1/tickets", &agent, &json!({"subject": "Printer", "requester_id": contact, "team_id": desk})).await.assert_status(201).str("id");
        app.patch(&format!("/api/v1/tickets/{ticket}"), &agent, &json!({"status": "solved"})).await.assert_status(200);

        // The email reached the SMTP server with the question and a link to answer it.
        let mail = sink.wait_for(1, WAIT).await;
        assert_eq!(mail[0].to, ["hank@globex.example"]);
        assert_eq!(mail[0].header("Subject").as_deref(), Some("How did we do?"));
        let unfolded = mail[0].data.replace("=\r\n", "").replace("=\n", "");
        assert!(unfolded.contains("How satisfied are you with our help?"), "{unfolded}");
        assert!(unfolded.contains("https://crm.example.com/api/v1/survey-responses/"), "{unfolded}");
        let link = link_in(&unfolded);

        // The link shows the question and nothing about the customer; it answers once.
        let asked = app.request(Method::GET, &link).send().await.assert_status(200);
        assert_eq!((asked.body["kind"].as_str(), asked.body["min"].as_i64(), asked.body["max"].as_i64()), (Some("csat"), Some(1), Some(5)));
        assert!(!asked.text.contains(&contact) && !asked.text.contains("hank"), "{}", asked.text);
        app.request(Method::POST, &link).json(&json!({"score": 6})).send().await.assert_problem(422);
        app.request(Method::POST, &link).json(&json!({"score": 5, "colour": "red"})).send().await.assert_problem(400);
        app.request(Method::POST, &link).json(&json!({"score": 5, "comment": "Quick and friendly"})).send().await.assert_status(201);
        app.request(Method::POST, &link).json(&json!({"score": 1})).send().await.assert_problem(409);
        app.request(Method::GET, "/api/v1/survey-responses/not-a-token").send().await.assert_problem(404);
        app.request(Method::POST, "/api/v1/survey-responses/not-a-token").json(&json!({"score": 3})).send().await.assert_problem(404);
        assert_eq!(app.request(Method::GET, &link).send().await.assert_status(200).body["answered"], true);

        // The answer is on the contact's and the ticket's timelines.
        for path in [format!("/api/v1/contacts/{contact}/timeline?type=note"), format!("/api/v1/tickets/{ticket}/timeline?type=note")] {
            let timeline = app.get(&path, &admin).await.assert_status(200).body;
            let notes: Vec<&str> = timeline["data"].as_array().map(|all| all.iter().filter_map(|e| e["activity"]["body"].as_str()).collect()).unwrap_or_default();
            assert_eq!(notes, ["Quick and friendly"], "{path}: {timeline}");
        }

        // Two more sent as links (no email): one answered 2, one never answered.
        let send = |body: Value| {
            let path = format!("/api/v1/surveys/{survey}/requests");
            let (app, admin) = (&app, admin.clone());
            async move { app.post(&path, &admin, &body).await }
        };
        let second = send(json!({"contact_id": contact, "deliver": "link"})).await.assert_status(201);
        assert_eq!(second.body["email_id"], Value::Null);
        send(json!({"contact_id": contact, "deliver": "link", "touchpoint": {"type": "ticket", "id": ticket}})).await.assert_status(201);
        let url = second.str("url");
        let path = &url[url.find("/api/").unwrap_or_default()..];
        app.request(Method::POST, path).json(&json!({"score": 2})).send().await.assert_status(201);
        send(json!({"contact_id": "nobody"})).await.assert_problem(422);
        send(json!({"contact_id": contact, "touchpoint": {"type": "ticket"}})).await.assert_problem(422);
        app.post(&format!("/api/v1/surveys/{survey}/requests"), &agent, &json!({"contact_id": contact})).await.assert_status(201);

        // Results: 4 requests, 2 answers (5 and 2): CSAT 50%, response rate 50%; by touchpoint.
        let results = app.get(&format!("/api/v1/surveys/{survey}/results?group_by=touchpoint_type"), &admin).await.assert_status(200).body;
        assert_eq!(results["total"]["requests"], 4, "{results}");
        assert_eq!(results["total"]["responses"], 2);
        assert_eq!(results["total"]["response_rate"], 50.0);
        assert_eq!(results["total"]["csat"], json!({"satisfied": 1, "csat": 50.0}));
        let groups: Vec<(&str, i64, i64)> = results["groups"].as_array().map(|all| all.iter().map(|g| (g["key"].as_str().unwrap_or_default(), g["requests"].as_i64().unwrap_or_default(), g["responses"].as_i64().unwrap_or_default())).collect()).unwrap_or_default();
        assert_eq!(groups, [("none", 2, 1), ("ticket", 2, 1)]);
        let by_team = app.get(&format!("/api/v1/surveys/{survey}/results?group_by=team"), &admin).await.assert_status(200).body;
        assert!(by_team["groups"].as_array().is_some_and(|all| all.iter().any(|g| g["key"] == json!(desk) && g["csat"]["csat"] == 100.0)), "{by_team}");
        app.get(&format!("/api/v1/surveys/{survey}/results"), &agent).await.assert_problem(403);
        app.get(&format!("/api/v1/surveys/{survey}/results?group_by=colour"), &admin).await.assert_problem(400);
        let answered = app.events_once(&admin, "survey.answered", 2).await;
        assert_eq!(answered["data"].as_array().map(Vec::len), Some(2), "{answered}");
    }
}
