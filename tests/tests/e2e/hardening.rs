//! Defects found by attacking and load-testing the shipped API: races, ids that cannot be
//! ids, slow and oversized requests, and filters that leaked related records.

use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::rt::net::TcpStream;
use e2e::{TestApp, on_both_backends};
use futures_util::future::join;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a request head promising a body, then trickles the body a byte at a time; returns
/// the status line the server answers with and how long it took (or `None` if it never did
/// within `limit`).
async fn trickle_body(base: &str, path: &str, limit: Duration) -> (Option<String>, Duration) {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("the server accepts connections");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("the head is sent");
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 1024];
    while started.elapsed() < limit {
        let _ = stream.write_all(b" ").await;
        match actix_web::rt::time::timeout(Duration::from_millis(500), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(read)) => {
                answer.extend_from_slice(&buffer[..read]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    (text.lines().next().map(str::to_owned).filter(|l| !l.is_empty()), started.elapsed())
}

on_both_backends! {
    async fn concurrent_patches_without_if_match_both_apply_and_with_the_same_if_match_one_wins(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        for round in 0..15 {
            let id = app.post("/api/v1/contacts", &admin, &json!({"first_name": format!("R{round}")})).await.assert_status(201).str("id");
            let path = format!("/api/v1/contacts/{id}");
            let (first, second) = join(
                app.patch(&path, &admin, &json!({"job_title": "Engineer"})),
                app.patch(&path, &admin, &json!({"notes": "met at the fair"})),
            ).await;
            assert_eq!((first.status, second.status), (200, 200), "round {round}: {} / {}", first.text, second.text);
            let contact = app.get(&path, &admin).await.assert_status(200);
            assert_eq!((contact.body["job_title"].as_str(), contact.body["notes"].as_str()), (Some("Engineer"), Some("met at the fair")));
            assert_eq!(contact.header("etag").as_deref(), Some("\"3\""));

            let conditional = |body| app.request(Method::PATCH, &path).token(&admin).header("if-match", "\"3\"").json(&body).send();
            let (first, second) = join(conditional(json!({"job_title": "CTO"})), conditional(json!({"notes": "second"}))).await;
            let mut statuses = [first.status, second.status];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 412], "round {round}: {} / {}", first.text, second.text);
        }
    }

    async fn racing_merges_over_the_same_records_never_answer_5xx(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        for round in 0..10 {
            let a = app.post("/api/v1/contacts", &admin, &json!({"first_name": format!("A{round}")})).await.assert_status(201).str("id");
            let b = app.post("/api/v1/contacts", &admin, &json!({"first_name": format!("B{round}")})).await.assert_status(201).str("id");
            let (a_into_b, b_into_a) = join(
                app.post(&format!("/api/v1/contacts/{b}/merge"), &admin, &json!({"merge_ids": [a]})),
                app.post(&format!("/api/v1/contacts/{a}/merge"), &admin, &json!({"merge_ids": [b]})),
            ).await;
            let mut statuses = [a_into_b.status, b_into_a.status];
            statuses.sort_unstable();
            // The loser finds its survivor already merged away (404) or its merged record gone (422).
            assert!(statuses[0] == 200 && matches!(statuses[1], 404 | 422), "round {round}: {} / {}", a_into_b.text, b_into_a.text);
            // One of the two lives on; the other is its tombstone.
            let (a_now, b_now) = (app.get(&format!("/api/v1/contacts/{a}"), &admin).await, app.get(&format!("/api/v1/contacts/{b}"), &admin).await);
            let mut reads = [a_now.status, b_now.status];
            reads.sort_unstable();
            assert_eq!(reads, [200, 301], "round {round}");
        }
    }

    async fn a_nul_character_in_any_id_is_refused_before_it_reaches_the_database(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let contact = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Ada"})).await.assert_status(201).str("id");
        let lead = app.post("/api/v1/leads", &admin, &json!({"first_name": "Lin", "email": "lin@x.example"})).await.assert_status(201).str("id");
        app.patch(&format!("/api/v1/leads/{lead}"), &admin, &json!({"status": "qualified"})).await.assert_status(200);

        let refused = |reply: e2e::Reply| reply.assert_problem(422).error_fields();
        assert_eq!(refused(app.post(&format!("/api/v1/contacts/{contact}/merge"), &admin, &json!({"merge_ids": ["a\u{0}"]})).await), ["merge_ids[0]"]);
        assert_eq!(refused(app.post(&format!("/api/v1/leads/{lead}/convert"), &admin, &json!({"contact_id": "a\u{0}"})).await), ["contact_id"]);
        assert_eq!(refused(app.post(&format!("/api/v1/leads/{lead}/convert"), &admin, &json!({"company_id": "a\u{0}"})).await), ["company_id"]);
        assert_eq!(refused(app.post("/api/v1/forms", &admin, &json!({"name": "F", "owner_id": "a\u{0}", "fields": [{"field": "email"}]})).await), ["owner_id"]);
        app.request(Method::POST, "/api/v1/forms/a%00b/submissions").json(&json!({"email": "x@y.example"})).send().await.assert_problem(404);
        app.get("/api/v1/contacts/a%00b", &admin).await.assert_problem(404);
        app.get("/api/v1/contacts?owner_id=a%00", &admin).await.assert_problem(400);
        // An escaped backslash before `u0000` is text, not a NUL.
        app.patch(&format!("/api/v1/contacts/{contact}"), &admin, &json!({"notes": "\\u0000 is how JSON spells NUL"})).await.assert_status(200);

        // Nothing changed.
        assert_eq!(app.get(&format!("/api/v1/leads/{lead}"), &admin).await.assert_status(200).body["status"], "qualified");
        assert_eq!(app.get("/api/v1/forms", &admin).await.assert_status(200).body["data"].as_array().map(Vec::len), Some(0));
    }

    async fn oversized_headers_are_431_and_a_query_that_is_not_utf8_is_400(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let huge = "x".repeat(100 * 1024);
        app.request(Method::GET, "/api/v1/contacts").token(&admin).header("x-padding", &huge).send().await.assert_problem(431);
        app.request(Method::GET, "/api/v1/contacts").header("authorization", &format!("Bearer {huge}")).send().await.assert_problem(431);
        app.get("/api/v1/contacts?q=%FF%FE", &admin).await.assert_problem(400);
        app.get("/api/v1/contacts?q=caf%C3%A9", &admin).await.assert_status(200);
    }

    async fn a_body_sent_a_byte_at_a_time_is_cut_off_and_one_address_cannot_pile_up_requests(backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.body_pace = api::config::BodyPace { grace: Duration::from_secs(1), min_bytes_per_second: 512 };
            config.max_requests_per_address = 4;
        }).await;
        let (status, took) = trickle_body(&app.base, "/api/v1/auth/login", Duration::from_secs(20)).await;
        assert_eq!(status.as_deref(), Some("HTTP/1.1 408 Request Timeout"), "after {took:?}");
        assert!(took < Duration::from_secs(10), "the trickle was held for {took:?}");

        // Four stalled bodies fill this address's places; a fifth request is refused at once,
        // and once the stalls are cut off the address is served again.
        let stalls = futures_util::future::join_all((0..4).map(|_| trickle_body(&app.base, "/api/v1/contacts", Duration::from_secs(20))));
        let probe = async {
            actix_web::rt::time::sleep(Duration::from_millis(300)).await;
            let refused = app.get("/api/v1/contacts", &app.admin_token).await;
            (refused.status, refused.header("retry-after"))
        };
        let (stalled, refused) = join(stalls, probe).await;
        assert_eq!(refused, (429, Some("1".to_owned())));
        assert!(stalled.iter().all(|(status, _)| status.as_deref() == Some("HTTP/1.1 408 Request Timeout")), "{stalled:?}");
        app.get("/api/v1/contacts", &app.admin_token).await.assert_status(200);
    }

    async fn conditions_on_related_records_see_only_what_the_caller_may_read(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (rep_id, rep) = app.user_with_role("rep@example.com", "sales").await;
        let secret = app.post("/api/v1/companies", &admin, &json!({"name": "Secret Holdings"})).await.assert_status(201).str("id");
        let mine = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Mine", "company_id": secret, "owner_id": rep_id})).await.assert_status(201).str("id");
        app.post("/api/v1/deals", &admin, &json!({"name": "Hidden deal", "contact_ids": [mine]})).await.assert_status(201);
        app.post("/api/v1/activities", &admin, &json!({"activity_type": "call", "subject": "hidden", "links": [{"record_type": "contact", "id": mine}]})).await.assert_status(201);
        app.get(&format!("/api/v1/companies/{secret}"), &rep).await.assert_problem(404);

        let search = |filter| app.request(Method::POST, "/api/v1/contacts/search").token(&rep).json(&json!({"filter": filter})).send();
        let count = |reply: e2e::Reply| reply.assert_status(200).body["data"].as_array().map_or(0, Vec::len);
        assert_eq!(count(search(json!({"field": "first_name", "op": "eq", "value": "mine"})).await), 1);
        assert_eq!(count(search(json!({"field": "company.name", "op": "eq", "value": "Secret Holdings"})).await), 0);
        assert_eq!(count(search(json!({"field": "company.name", "op": "is_not_empty"})).await), 0);
        assert_eq!(count(search(json!({"field": "has_open_deal", "op": "eq", "value": true})).await), 0);
        assert_eq!(count(search(json!({"field": "activity.call", "op": "is_not_empty"})).await), 0);

        // The admin, who sees them all, finds the contact through each.
        let admin_search = |filter| app.request(Method::POST, "/api/v1/contacts/search").token(&admin).json(&json!({"filter": filter})).send();
        assert_eq!(count(admin_search(json!({"field": "company.name", "op": "eq", "value": "Secret Holdings"})).await), 1);
        assert_eq!(count(admin_search(json!({"field": "has_open_deal", "op": "eq", "value": true})).await), 1);
        assert_eq!(count(admin_search(json!({"field": "activity.call", "op": "is_not_empty"})).await), 1);
    }

    async fn a_support_agent_sees_converted_contacts_but_nothing_of_the_leads_behind_them(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, support) = app.user_with_role("agent@example.com", "support").await;
        let lead = app.post("/api/v1/leads", &admin, &json!({
            "first_name": "Lin", "last_name": "Zhou", "email": "lin@zhou.example", "company_name": "Zhou Ltd"
        })).await.assert_status(201).str("id");
        app.post(&format!("/api/v1/leads/{lead}/events"), &admin, &json!({"type": "email_clicked"})).await.assert_status(201);
        app.patch(&format!("/api/v1/leads/{lead}"), &admin, &json!({"status": "qualified"})).await.assert_status(200);
        app.post(&format!("/api/v1/leads/{lead}/convert"), &admin, &json!({})).await.assert_status(200);
        app.get(&format!("/api/v1/leads/{lead}"), &support).await.assert_problem(404);

        let contacts = app.list_all("/api/v1/contacts", &support).await;
        assert_eq!(contacts.len(), 1);
        let everything = serde_json::to_string(&contacts).unwrap_or_default();
        assert!(!everything.contains(&lead), "the lead's id reached a support agent: {everything}");
        let timeline = app.get(&format!("/api/v1/contacts/{}/timeline", contacts[0]["id"].as_str().unwrap_or_default()), &support).await;
        assert!(!timeline.text.contains(&lead), "the lead's id reached a support agent: {}", timeline.text);
    }

    async fn deep_list_pages_follow_on_exactly_for_every_sort(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        for n in 0..60 {
            // Repeated names make ties that only the id breaks.
            app.post("/api/v1/contacts?allow_duplicate=true", &admin, &json!({"first_name": format!("N{}", n % 7)})).await.assert_status(201);
        }
        for sort in ["-created_at", "created_at", "name", "-name", "-updated_at", "name,-created_at", "-name,created_at"] {
            let all = app.list_all(&format!("/api/v1/contacts?sort={sort}"), &admin).await;
            let ids: std::collections::BTreeSet<_> = all.iter().map(|c| c["id"].as_str().unwrap_or_default().to_owned()).collect();
            assert_eq!((all.len(), ids.len()), (60, 60), "sort {sort}");
            let mut paged = Vec::new();
            let mut cursor = String::new();
            loop {
                let page = app.get(&format!("/api/v1/contacts?sort={sort}&limit=7{cursor}"), &admin).await.assert_status(200).body;
                paged.extend(page["data"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = format!("&cursor={next}"),
                    None => break,
                }
            }
            assert_eq!(paged, all, "sort {sort}: pages of 7 and of 100 disagree");
        }
    }

    async fn on_postgresql_servers_share_one_rate_limit_and_on_sqlite_each_counts_its_own(backend) {
        let app = TestApp::spawn_with(backend, |config| {
            config.login_rate_limit_per_minute = 6;
            config.rate_limit_sync = std::time::Duration::from_millis(50);
        })
        .await;
        let second = app.second_server();
        // Windows follow the clock minute: start well inside one.
        let into_minute = chrono::Utc::now().timestamp().rem_euclid(60);
        if into_minute > 50 {
            actix_web::rt::time::sleep(std::time::Duration::from_secs(u64::try_from(61 - into_minute).unwrap_or(1))).await;
        }
        // Up to the limit of attempts on the first server (the test's own sign-in may have
        // counted in this window), then 429.
        let mut allowed = 0;
        loop {
            let status = app.login_reply("admin@example.com", "wrong-password-1").await.status;
            assert!(status == 401 || status == 429, "{status}");
            if status == 429 {
                break;
            }
            allowed += 1;
            assert!(allowed <= 6, "the first server let more than the limit through");
        }
        assert!(allowed >= 5, "{allowed}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(400)).await;
        // The second server learns a key's shared count when it first syncs it: it may let one
        // attempt through before that, never the limit over again.
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(second.login_reply("admin@example.com", "wrong-password-1").await.status);
            actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        match backend {
            e2e::Backend::Postgres => {
                assert!(statuses.iter().filter(|status| **status == 401).count() <= 1, "{statuses:?}");
                assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
            }
            e2e::Backend::Sqlite => assert_eq!(statuses, [401, 401, 401], "SQLite is one process; a second counts its own"),
        }
    }

    async fn a_json_array_where_an_object_belongs_is_refused_and_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let created = app.post("/api/v1/contacts", &admin, &json!({"last_name": "Kept"})).await.assert_status(201);
        let path = format!("/api/v1/contacts/{}", created.str("id"));
        // serde would read `["x", "y"]` as the body's first two fields in order.
        let refused = app.post("/api/v1/contacts", &admin, &json!(["Ada", "Lovelace"])).await.assert_problem(400);
        assert!(refused.text.contains("JSON object"), "{}", refused.text);
        app.patch(&path, &admin, &json!([null, null])).await.assert_problem(400);
        let contacts = app.get("/api/v1/contacts", &admin).await.assert_status(200);
        assert_eq!(contacts.body["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(app.get(&path, &admin).await.assert_status(200).str("last_name"), "Kept");
    }
}
