//! Workflows through the real server, a real SMTP server and a real webhook receiver on
//! loopback: a won deal's onboarding end to end, enrollment, loop protection, dry runs, the run
//! log with its failures, retries and cancellation, and what a definition may not say.

use std::time::Duration;

use e2e::receiver::{Receiver, verify};
use e2e::smtp::SmtpSink;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

async fn spawn_with_outside(backend: e2e::Backend, sink: Option<&SmtpSink>) -> TestApp {
    let mail = sink.map(|sink| sink.settings("https://crm.example.com"));
    TestApp::spawn_with(backend, move |config| {
        config.mail = mail;
        config.webhook_policy.allow_loopback = true;
    })
    .await
}

async fn workflow(app: &TestApp, body: Value) -> String {
    app.post("/api/v1/workflows", &app.admin_token, &body).await.assert_status(201).str("id")
}

async fn runs(app: &TestApp, workflow: &str) -> Vec<Value> {
    let page = app.get(&format!("/api/v1/workflows/{workflow}/runs"), &app.admin_token).await.assert_status(200);
    page.body["data"].as_array().cloned().unwrap_or_default()
}

/// Waits until the workflow has `count` runs and none is under way; its runs, newest first.
async fn settled_runs(app: &TestApp, workflow: &str, count: usize) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let found = runs(app, workflow).await;
        let under_way = found.iter().any(|run| ["queued", "running"].contains(&run["state"].as_str().unwrap_or("")));
        if found.len() >= count && !under_way {
            return found;
        }
        assert!(start.elapsed() < WAIT, "the workflow did not settle with {count} runs: {found:?}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_log(app: &TestApp, run: &Value) -> Value {
    let path = format!("/api/v1/workflow-runs/{}", run["id"].as_str().unwrap());
    app.get(&path, &app.admin_token).await.assert_status(200).body
}

/// Waits until the run is in `state`; its log.
async fn run_when(app: &TestApp, id: &str, state: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let log = app.get(&format!("/api/v1/workflow-runs/{id}"), &app.admin_token).await.assert_status(200).body;
        if log["state"] == state {
            return log;
        }
        assert!(start.elapsed() < WAIT, "the run did not become {state}: {log}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stage(app: &TestApp, name: &str) -> String {
    let pipelines = app.get("/api/v1/pipelines", &app.admin_token).await.assert_status(200);
    let stages = pipelines.body["data"][0]["stages"].as_array().cloned().unwrap_or_default();
    stages.iter().find(|s| s["name"] == name).and_then(|s| s["id"].as_str()).unwrap_or_default().to_owned()
}

async fn contact(app: &TestApp, body: Value) -> String {
    app.post("/api/v1/contacts", &app.admin_token, &body).await.assert_status(201).str("id")
}

fn tags(record: &Value) -> Vec<String> {
    record["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

on_both_backends! {
    async fn a_deal_moved_to_closed_won_gets_a_task_for_its_owner_an_email_to_its_contact_a_webhook_call_and_a_note_to_the_manager(backend) {
        let sink = SmtpSink::start();
        let receiver = Receiver::start();
        let app = spawn_with_outside(backend, Some(&sink)).await;
        let admin = &app.admin_token;
        let (rep, rep_token) = app.user_with_role("rep@example.com", "sales").await;
        let (manager, manager_token) = app.user_with_role("boss@example.com", "manager").await;
        app.team_with("East", &[&rep, &manager]).await;
        let customer = contact(&app, json!({"first_name": "Ada", "owner_id": rep, "emails": [{"email": "ada@example.com"}]})).await;
        let deal = app
            .post("/api/v1/deals", &rep_token, &json!({"name": "Engines", "contact_ids": [customer], "amount": {"amount_minor": 500_000, "currency": "EUR"}}))
            .await
            .assert_status(201)
            .str("id");
        let template = app
            .post("/api/v1/email-templates", admin, &json!({"name": "Welcome", "subject": "Welcome aboard, {{ contact.first_name }}", "text": "{{ owner.name }} will call you about {{ deal.name }}."}))
            .await
            .assert_status(201)
            .str("id");
        // Subscribed to nothing this test makes: a step's call reaches the endpoint it names
        // whatever the endpoint's event types.
        let hook = app
            .post("/api/v1/webhooks", admin, &json!({"url": receiver.url, "event_types": ["import.finished"]}))
            .await
            .assert_status(201);
        let (endpoint, secret) = (hook.str("id"), hook.str("secret"));
        let won = stage(&app, "Closed won").await;
        let onboarding = workflow(&app, json!({
            "name": "Onboard won customers",
            "record_type": "deal",
            "status": "active",
            "trigger": {"type": "stage_changed", "to": won},
            "steps": [
                {"type": "create_task", "title": "Onboarding call", "due_in_days": 3, "priority": "high"},
                {"type": "send_email", "template_id": template},
                {"type": "call_webhook", "endpoint_id": endpoint},
                {"type": "notify", "message": "A deal of your team was won", "owner_managers": true}
            ]
        }))
        .await;

        app.patch(&format!("/api/v1/deals/{deal}"), &rep_token, &json!({"stage_id": won})).await.assert_status(200);

        let finished = settled_runs(&app, &onboarding, 1).await;
        assert_eq!(finished.len(), 1);
        // The email step ends when the SMTP server has taken the message.
        let log = run_when(&app, finished[0]["id"].as_str().unwrap(), "completed").await;
        assert_eq!(log["record_id"], json!(deal));
        let steps = log["steps"].as_array().cloned().unwrap_or_default();
        let kinds: Vec<&str> = steps.iter().filter_map(|s| s["type"].as_str()).collect();
        assert_eq!(kinds, ["create_task", "send_email", "call_webhook", "notify"]);
        assert!(steps.iter().all(|s| s["outcome"] == "completed" && s["attempts"] == 1), "{log}");

        // The task: the deal owner's, linked to the deal, due in three days.
        let task_id = steps[0]["detail"]["task_id"].as_str().unwrap().to_owned();
        let task = app.get(&format!("/api/v1/tasks/{task_id}"), &rep_token).await.assert_status(200).body;
        assert_eq!(task["assignee_id"], json!(rep));
        assert_eq!(task["priority"], "high");
        assert_eq!(task["links"], json!([{"record_type": "deal", "id": deal}]));

        // The email reached the SMTP server, addressed to the deal's contact.
        let mail = sink.wait_for(1, WAIT).await;
        assert_eq!(mail[0].to, ["ada@example.com"]);
        assert_eq!(mail[0].header("Subject").as_deref(), Some("Welcome aboard, Ada"));
        assert!(mail[0].data.contains("will call you about Engines"), "{}", mail[0].data);

        // The webhook: signed as the specification says, with the deal.
        let requests = receiver.wait_for(1, WAIT).await;
        verify(&secret, &requests[0]).expect("a valid signature");
        let delivered = requests[0].json();
        assert_eq!(delivered["type"], "workflow.webhook");
        assert_eq!(delivered["data"]["object"]["id"], json!(deal));
        assert_eq!(delivered["data"]["run_id"], finished[0]["id"]);

        // The manager of the owner's team is told; the rep (not a manager) is not told by it.
        let feed = app.get("/api/v1/notifications", &manager_token).await.assert_status(200).body;
        let told: Vec<&Value> = feed["data"].as_array().unwrap().iter().filter(|n| n["kind"] == "workflow").collect();
        assert_eq!(told.len(), 1, "{feed}");
        assert_eq!(told[0]["record_id"], json!(deal));
        assert_eq!(told[0]["message"], "A deal of your team was won");
        let rep_feed = app.get("/api/v1/notifications", &rep_token).await.assert_status(200).body;
        assert!(rep_feed["data"].as_array().unwrap().iter().all(|n| n["kind"] != "workflow"), "{rep_feed}");

        // What the workflow did carries it as the cause: the task's creation is one level deep.
        let feed = app.get("/api/v1/events?type=task.created", admin).await.assert_status(200).body;
        let created = feed["data"].as_array().unwrap().iter().find(|e| e["record_id"] == json!(task_id)).cloned().expect("task.created");
        assert_eq!(created["actor"]["kind"], "workflow", "{created}");
    }

    async fn a_record_enters_a_workflow_once_and_again_only_on_a_fresh_match_when_reenrollment_is_on(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        // Enrollment looks at the record as the dispatcher finds it, so each edit waits for its
        // event to be routed: its webhook delivery (made in the same transaction) arrives.
        let receiver = Receiver::start();
        app.post("/api/v1/webhooks", admin, &json!({"url": receiver.url, "event_types": ["contact.updated"]}))
            .await
            .assert_status(201);
        let routed = |title: &'static str| {
            let receiver = &receiver;
            async move {
                let start = std::time::Instant::now();
                while !receiver.received().iter().any(|r| {
                    let event = r.json();
                    event["data"]["object"]["job_title"] == title && event["data"]["changed_fields"] == json!(["job_title"])
                }) {
                    assert!(start.elapsed() < WAIT, "the change to {title} was not routed");
                    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let cto = json!({"field": "job_title", "op": "eq", "value": "CTO"});
        let once = workflow(&app, json!({
            "name": "Once", "record_type": "contact", "status": "active", "trigger": {"type": "updated"},
            "conditions": cto, "steps": [{"type": "add_tag", "tag": "once"}]
        }))
        .await;
        let again = workflow(&app, json!({
            "name": "Again", "record_type": "contact", "status": "active", "trigger": {"type": "updated"},
            "conditions": cto, "reenroll": true, "steps": [{"type": "add_tag", "tag": "again"}]
        }))
        .await;
        let ada = contact(&app, json!({"first_name": "Ada"})).await;
        let path = format!("/api/v1/contacts/{ada}");

        app.patch(&path, admin, &json!({"job_title": "CTO"})).await.assert_status(200);
        settled_runs(&app, &once, 1).await;
        settled_runs(&app, &again, 1).await;
        let record = app.get(&path, admin).await.assert_status(200).body;
        let mut found = tags(&record);
        found.sort();
        assert_eq!(found, ["again", "once"], "{record}");

        // Still matching: nobody enters again.
        app.patch(&path, admin, &json!({"last_name": "Lovelace"})).await.assert_status(200);
        // Not matching, then matching again: a fresh match, for the workflow that allows it.
        app.patch(&path, admin, &json!({"job_title": "CEO"})).await.assert_status(200);
        routed("CEO").await;
        app.patch(&path, admin, &json!({"job_title": "CTO"})).await.assert_status(200);
        let again_runs = settled_runs(&app, &again, 2).await;
        assert_eq!(again_runs.len(), 2, "{again_runs:?}");
        let once_runs = settled_runs(&app, &once, 1).await;
        assert_eq!(once_runs.len(), 1, "{once_runs:?}");
        // The second run found the tag there already: skipped, not added twice.
        let second = run_log(&app, &again_runs[0]).await;
        assert_eq!(second["steps"][0]["outcome"], "skipped", "{second}");
    }

    async fn workflows_that_trigger_each_other_stop_at_a_causation_depth_of_five(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let flip = |from: &str, to: &str| json!({
            "name": format!("{from} to {to}"), "record_type": "contact", "status": "active",
            "trigger": {"type": "field_changed", "field": "job_title"},
            "conditions": {"field": "job_title", "op": "eq", "value": from},
            "reenroll": true,
            "steps": [{"type": "update_fields", "fields": {"job_title": to}}]
        });
        let ping = workflow(&app, flip("a", "b")).await;
        let pong = workflow(&app, flip("b", "a")).await;
        let ada = contact(&app, json!({"first_name": "Ada"})).await;
        app.patch(&format!("/api/v1/contacts/{ada}"), admin, &json!({"job_title": "a"})).await.assert_status(200);

        // Depths 0 to 4 run (ping, pong, ping, pong, ping); the change made at depth 4 is an
        // event of depth 5, which triggers nothing.
        let pings = settled_runs(&app, &ping, 3).await;
        let pongs = settled_runs(&app, &pong, 2).await;
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(runs(&app, &ping).await.len(), 3, "{pings:?}");
        assert_eq!(runs(&app, &pong).await.len(), 2, "{pongs:?}");
        let record = app.get(&format!("/api/v1/contacts/{ada}"), admin).await.assert_status(200).body;
        assert_eq!(record["job_title"], "b");
    }

    async fn a_workflow_never_triggers_on_its_own_changes_unless_it_opts_in(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let body = |opt_in: bool| json!({
            "name": format!("own changes {opt_in}"), "record_type": "contact", "status": "active",
            "trigger": {"type": "updated"}, "reenroll": true, "trigger_on_own_changes": opt_in,
            "conditions": {"field": "tags", "op": "contains", "value": "go"},
            "steps": [{"type": "remove_tag", "tag": "go"}]
        });
        let plain = workflow(&app, body(false)).await;
        let ada = contact(&app, json!({"first_name": "Ada"})).await;
        app.patch(&format!("/api/v1/contacts/{ada}"), admin, &json!({"tags": ["go"]})).await.assert_status(200);
        settled_runs(&app, &plain, 1).await;
        actix_web::rt::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(runs(&app, &plain).await.len(), 1);
        let record = app.get(&format!("/api/v1/contacts/{ada}"), admin).await.assert_status(200).body;
        assert!(tags(&record).is_empty(), "{record}");
    }

    async fn a_dry_run_lists_the_steps_and_field_changes_a_run_would_make_and_writes_nothing(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let created = app
            .post("/api/v1/deals", admin, &json!({"name": "Big", "amount": {"amount_minor": 200_000, "currency": "EUR"}, "tags": ["new"]}))
            .await
            .assert_status(201);
        let (deal, version) = (created.str("id"), created.header("etag"));
        let won = stage(&app, "Closed won").await;
        let triage = workflow(&app, json!({
            "name": "Triage", "record_type": "deal", "trigger": {"type": "stage_changed", "to": won},
            "conditions": {"field": "amount", "op": "gte", "value": 100_000},
            "steps": [
                {"type": "update_fields", "fields": {"name": "Big (priority)"}},
                {"type": "branch", "condition": {"field": "tags", "op": "contains", "value": "new"},
                 "then": [{"type": "remove_tag", "tag": "new"}, {"type": "add_tag", "tag": "triaged"}],
                 "else": [{"type": "add_tag", "tag": "old"}]},
                {"type": "wait", "minutes": 60},
                {"type": "create_task", "title": "Call", "due_in_days": 1}
            ]
        }))
        .await;

        let found = app.post(&format!("/api/v1/workflows/{triage}/test"), admin, &json!({"record_id": deal})).await.assert_status(200).body;
        assert_eq!(found["trigger_matches"], false, "the deal is not in the won stage: {found}");
        assert_eq!(found["conditions_match"], true);
        assert_eq!(found["would_enroll"], false, "a draft enrolls nobody");
        let steps = found["steps"].as_array().cloned().unwrap_or_default();
        let taken: Vec<(i64, &str)> = steps.iter().map(|s| (s["position"].as_i64().unwrap(), s["type"].as_str().unwrap())).collect();
        assert_eq!(taken, [(0, "update_fields"), (1, "branch"), (2, "remove_tag"), (3, "add_tag"), (6, "wait"), (7, "create_task")]);
        assert_eq!(steps[0]["would"]["changes"], json!({"name": {"from": "Big", "to": "Big (priority)"}}));
        assert_eq!(steps[1]["would"]["branch"], "then");
        assert_eq!(steps[2]["would"]["changes"]["tags"], json!({"from": ["new"], "to": []}));
        assert_eq!(steps[5]["would"]["task"]["title"], "Call");
        assert!(steps.iter().all(|s| s.get("error").is_none()), "{found}");

        // Nothing was written: the deal is at its version, no run, no task.
        let after = app.get(&format!("/api/v1/deals/{deal}"), admin).await.assert_status(200);
        assert_eq!(after.header("etag"), version);
        assert!(runs(&app, &triage).await.is_empty());
        let tasks = app.get("/api/v1/tasks", admin).await.assert_status(200).body;
        assert_eq!(tasks["data"], json!([]));
        app.post(&format!("/api/v1/workflows/{triage}/test"), admin, &json!({"record_id": "nope"})).await.assert_problem(422);
    }

    async fn an_email_step_without_an_smtp_server_fails_the_run_visibly_and_a_retry_counts_the_attempt(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let template = app
            .post("/api/v1/email-templates", admin, &json!({"name": "Hi", "subject": "Hi", "text": "Hello"}))
            .await
            .assert_status(201)
            .str("id");
        let greet = workflow(&app, json!({
            "name": "Greet", "record_type": "contact", "status": "active", "trigger": {"type": "created"},
            "steps": [{"type": "add_tag", "tag": "greeted"}, {"type": "send_email", "template_id": template}]
        }))
        .await;
        contact(&app, json!({"first_name": "Ada", "emails": [{"email": "ada@example.com"}]})).await;
        let failed = settled_runs(&app, &greet, 1).await;
        let log = run_log(&app, &failed[0]).await;
        assert_eq!(log["state"], "failed", "{log}");
        assert!(log["error"].as_str().unwrap().contains("SMTP"), "{log}");
        assert_eq!(log["steps"][0]["outcome"], "completed");
        assert_eq!(log["steps"][1]["outcome"], "failed");
        assert_eq!(log["position"], 1);

        let id = failed[0]["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/workflow-runs/{id}/retry"), admin, &json!({})).await.assert_status(200);
        let again = run_when(&app, &id, "failed").await;
        assert_eq!(again["steps"][1]["attempts"], 2, "{again}");
        assert_eq!(again["steps"][0]["attempts"], 1, "the step done before is not done again");
        app.post(&format!("/api/v1/workflow-runs/{id}/cancel"), admin, &json!({})).await.assert_problem(409);
    }

    async fn a_waiting_run_can_be_cancelled_and_a_deleted_record_leaves_its_run(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let nurture = workflow(&app, json!({
            "name": "Nurture", "record_type": "contact", "status": "active", "trigger": {"type": "created"},
            "steps": [{"type": "wait", "minutes": 60}, {"type": "add_tag", "tag": "nurtured"}]
        }))
        .await;
        let ada = contact(&app, json!({"first_name": "Ada"})).await;
        let bob = contact(&app, json!({"first_name": "Bob"})).await;
        let waiting = settled_runs(&app, &nurture, 2).await;
        assert!(waiting.iter().all(|run| run["state"] == "waiting" && run["wait_until"].is_string()), "{waiting:?}");
        let run_of = |record: &str| waiting.iter().find(|r| r["record_id"] == json!(record)).and_then(|r| r["id"].as_str()).unwrap().to_owned();

        let cancelled = app.post(&format!("/api/v1/workflow-runs/{}/cancel", run_of(&ada)), admin, &json!({})).await.assert_status(200);
        assert_eq!(cancelled.body["state"], "cancelled");
        app.post(&format!("/api/v1/workflow-runs/{}/cancel", run_of(&ada)), admin, &json!({})).await.assert_problem(409);

        app.delete(&format!("/api/v1/contacts/{bob}"), admin).await.assert_status(204);
        let left = run_when(&app, &run_of(&bob), "cancelled").await;
        assert_eq!(left["error"], "the record was deleted");
    }

    async fn a_run_can_be_started_by_hand_once_at_a_time_on_a_matching_record(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let manual = workflow(&app, json!({
            "name": "By hand", "record_type": "contact", "status": "active", "trigger": {"type": "manual"},
            "conditions": {"field": "first_name", "op": "eq", "value": "Ada"},
            "steps": [{"type": "wait", "minutes": 5}]
        }))
        .await;
        let ada = contact(&app, json!({"first_name": "Ada"})).await;
        let bob = contact(&app, json!({"first_name": "Bob"})).await;
        let path = format!("/api/v1/workflows/{manual}/runs");
        let started = app.post(&path, admin, &json!({"record_id": ada})).await.assert_status(202);
        assert!(started.header("location").unwrap().ends_with(&started.str("id")));
        run_when(&app, &started.str("id"), "waiting").await;
        app.post(&path, admin, &json!({"record_id": ada})).await.assert_problem(409);
        app.post(&path, admin, &json!({"record_id": bob})).await.assert_problem(409);
        app.post(&path, admin, &json!({"record_id": "missing"})).await.assert_problem(422);
    }

    async fn a_workflow_is_checked_when_saved_admins_write_it_and_managers_read_it(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        let (_, manager) = app.user_with_role("boss@example.com", "manager").await;
        let good = json!({
            "name": "Tag", "record_type": "contact", "trigger": {"type": "created"},
            "steps": [{"type": "add_tag", "tag": "new"}]
        });
        for (change, field) in [
            (json!({"conditions": {"field": "shoe_size", "op": "eq", "value": 3}}), "conditions.field"),
            (json!({"steps": [{"type": "send_email", "template_id": "nope"}]}), "steps[0].template_id"),
            (json!({"steps": [{"type": "branch", "condition": {"field": "first_name", "op": "eq"}, "then": [{"type": "notify", "message": "x", "user_ids": ["ghost"]}]}]}), "steps[0].condition.value"),
            (json!({"trigger": {"type": "stage_changed"}}), "trigger.type"),
            (json!({"record_type": "product"}), "record_type"),
            (json!({"steps": []}), "steps"),
        ] {
            let mut body = good.clone();
            for (key, value) in change.as_object().unwrap() {
                body[key] = value.clone();
            }
            let reply = app.post("/api/v1/workflows", admin, &body).await.assert_problem(422);
            assert_eq!(reply.error_fields(), [field], "{body}: {}", reply.text);
        }
        app.post("/api/v1/workflows", admin, &json!({"name": "x", "record_type": "contact", "trigger": {"type": "exploded"}, "steps": []}))
            .await
            .assert_problem(400);

        let created = app.post("/api/v1/workflows", admin, &good).await.assert_status(201);
        let id = created.str("id");
        assert_eq!(created.body["workflow"]["status"], "draft");
        assert!(created.body["workflow"]["run_as_user_id"].is_string(), "the creating admin runs it");
        app.post("/api/v1/workflows", &rep, &good).await.assert_problem(403);
        app.get("/api/v1/workflows", &rep).await.assert_problem(403);
        let listed = app.get("/api/v1/workflows", &manager).await.assert_status(200).body;
        assert_eq!(listed["data"][0]["id"], json!(id));
        app.get(&format!("/api/v1/workflows/{id}/runs"), &manager).await.assert_status(200);
        app.patch(&format!("/api/v1/workflows/{id}"), &manager, &json!({"status": "active"})).await.assert_problem(403);

        // Versioned: a change based on an old version is refused.
        let etag = created.header("etag").unwrap();
        let path = format!("/api/v1/workflows/{id}");
        let activated = app
            .request(actix_web::http::Method::PATCH, &path)
            .token(admin)
            .header("If-Match", &etag)
            .json(&json!({"status": "active"}))
            .send()
            .await
            .assert_status(200);
        assert_eq!(activated.body["version"], 2);
        app.request(actix_web::http::Method::PATCH, &path)
            .token(admin)
            .header("If-Match", &etag)
            .json(&json!({"status": "paused"}))
            .send()
            .await
            .assert_problem(412);
    }

    async fn a_date_trigger_enrolls_a_record_when_its_date_plus_the_offset_comes(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let follow_up = workflow(&app, json!({
            "name": "A minute after creation", "record_type": "contact", "status": "active",
            "trigger": {"type": "date_reached", "field": "created_at", "offset_minutes": 1},
            "steps": [{"type": "add_tag", "tag": "followed-up"}]
        }))
        .await;
        app.post("/api/v1/workflows", admin, &json!({
            "name": "Not a date", "record_type": "contact", "trigger": {"type": "date_reached", "field": "first_name"},
            "steps": [{"type": "add_tag", "tag": "x"}]
        }))
        .await
        .assert_problem(422);
        // The clock starts when it first sees the workflow; a record made after that.
        actix_web::rt::time::sleep(Duration::from_secs(6)).await;
        let created = std::time::Instant::now();
        let ada = contact(&app, json!({"first_name": "Ada"})).await;
        let start = std::time::Instant::now();
        while runs(&app, &follow_up).await.is_empty() {
            assert!(start.elapsed() < Duration::from_secs(90), "the date was not reached");
            actix_web::rt::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(created.elapsed() >= Duration::from_secs(55), "enrolled before its time: {:?}", created.elapsed());
        let done = settled_runs(&app, &follow_up, 1).await;
        assert_eq!(done[0]["record_id"], json!(ada));
        let record = app.get(&format!("/api/v1/contacts/{ada}"), admin).await.assert_status(200).body;
        assert_eq!(tags(&record), ["followed-up"]);
    }

    async fn a_schedule_enrolls_the_records_its_conditions_select_at_each_tick(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let ada = contact(&app, json!({"first_name": "Ada", "tags": ["weekly"]})).await;
        contact(&app, json!({"first_name": "Bob"})).await;
        app.post("/api/v1/workflows", admin, &json!({
            "name": "Bad", "record_type": "contact", "trigger": {"type": "schedule", "cron": "61 * * * *"},
            "steps": [{"type": "add_tag", "tag": "x"}]
        }))
        .await
        .assert_problem(422);
        let digest = workflow(&app, json!({
            "name": "Every minute", "record_type": "contact", "status": "active",
            "trigger": {"type": "schedule", "cron": "* * * * *", "time_zone": "Europe/Berlin"},
            "conditions": {"field": "tags", "op": "contains", "value": "weekly"},
            "steps": [{"type": "add_tag", "tag": "digested"}]
        }))
        .await;
        let start = std::time::Instant::now();
        while runs(&app, &digest).await.is_empty() {
            assert!(start.elapsed() < Duration::from_secs(90), "the schedule did not tick");
            actix_web::rt::time::sleep(Duration::from_millis(250)).await;
        }
        let done = settled_runs(&app, &digest, 1).await;
        assert_eq!(done.len(), 1, "only the matching record: {done:?}");
        assert_eq!(done[0]["record_id"], json!(ada));
    }

    async fn a_submitted_form_lead_goes_round_robin_through_a_team_and_is_checked_again_before_a_step(backend) {
        let app = spawn_with_outside(backend, None).await;
        let admin = &app.admin_token;
        let (ann, _) = app.user_with_role("ann@example.com", "sales").await;
        let (ben, _) = app.user_with_role("ben@example.com", "sales").await;
        let team = app.team_with("Inbound", &[&ann, &ben]).await;
        let form = app
            .post("/api/v1/forms", admin, &json!({"name": "Demo", "fields": [{"field": "email", "required": true}, {"field": "last_name"}]}))
            .await
            .assert_status(201);
        let (form_id, key) = (form.str("id"), form.str("public_key"));
        let inbound = workflow(&app, json!({
            "name": "Inbound", "record_type": "lead", "status": "active",
            "trigger": {"type": "form_submitted", "form_id": form_id},
            "conditions": {"field": "last_name", "op": "neq", "value": "Spam"},
            "steps": [
                {"type": "assign_owner", "team_id": team},
                {"type": "check_conditions"},
                {"type": "add_tag", "tag": "inbound"}
            ]
        }))
        .await;
        for (n, name) in ["One", "Two", "Spam"].iter().enumerate() {
            app.request(actix_web::http::Method::POST, &format!("/api/v1/forms/{key}/submissions"))
                .json(&json!({"email": format!("lead{n}@example.com"), "last_name": name}))
                .send()
                .await
                .assert_status(202);
        }
        let done = settled_runs(&app, &inbound, 2).await;
        assert_eq!(done.len(), 2, "the spam lead does not match: {done:?}");
        let mut owners = Vec::new();
        for run in &done {
            assert_eq!(run["state"], "completed", "{run}");
            let lead = app.get(&format!("/api/v1/leads/{}", run["record_id"].as_str().unwrap()), admin).await.assert_status(200).body;
            assert_eq!(lead["team_id"], json!(team));
            assert_eq!(tags(&lead), ["inbound"]);
            owners.push(lead["owner_id"].as_str().unwrap().to_owned());
        }
        owners.sort();
        let mut expected = vec![ann.clone(), ben.clone()];
        expected.sort();
        assert_eq!(owners, expected, "one lead each, in turn");
    }

    async fn an_email_the_smtp_server_refuses_fails_the_send_step_and_a_retry_sends_it_again(backend) {
        let sink = SmtpSink::start();
        let app = spawn_with_outside(backend, Some(&sink)).await;
        let admin = &app.admin_token;
        let template = app
            .post("/api/v1/email-templates", admin, &json!({"name": "Hi", "subject": "Hi {{ contact.first_name }}", "text": "Hello"}))
            .await
            .assert_status(201)
            .str("id");
        let greet = workflow(&app, json!({
            "name": "Greet", "record_type": "contact", "status": "active", "trigger": {"type": "created"},
            "steps": [{"type": "send_email", "template_id": template}, {"type": "add_tag", "tag": "greeted"}]
        }))
        .await;
        sink.refuse_recipients(["550 5.1.1 no such mailbox"]);
        let ada = contact(&app, json!({"first_name": "Ada", "emails": [{"email": "ada@example.com"}]})).await;
        let run = settled_runs(&app, &greet, 1).await[0]["id"].as_str().unwrap().to_owned();
        let failed = run_when(&app, &run, "failed").await;
        assert!(failed["error"].as_str().unwrap().contains("no such mailbox"), "{failed}");
        assert_eq!(failed["steps"][0]["outcome"], "failed");
        assert_eq!(failed["steps"][0]["detail"]["sent"], false);
        assert_eq!(failed["steps"].as_array().map(Vec::len), Some(1), "the run stopped at the send");

        // The mailbox exists now: a retry sends a new email and the run goes on.
        app.post(&format!("/api/v1/workflow-runs/{run}/retry"), admin, &json!({})).await.assert_status(200);
        let done = run_when(&app, &run, "completed").await;
        assert_eq!(done["steps"][0]["outcome"], "completed", "{done}");
        assert_eq!(done["steps"][0]["attempts"], 2);
        assert_eq!(done["steps"][0]["detail"]["sent"], true);
        assert_eq!(done["steps"][1]["outcome"], "completed");
        let mail = sink.wait_for(1, WAIT).await;
        assert_eq!(mail[0].header("Subject").as_deref(), Some("Hi Ada"));
        let record = app.get(&format!("/api/v1/contacts/{ada}"), admin).await.assert_status(200).body;
        assert_eq!(tags(&record), ["greeted"]);
    }
}
