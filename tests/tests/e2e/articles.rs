//! The knowledge base through the real server: articles as a record type, Markdown shown as
//! safe HTML, the ranked search on each backend's text index, the public reader, and replies
//! that carry an article.

use actix_web::http::Method;
use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

fn titles(items: &[Value]) -> Vec<&str> {
    items.iter().filter_map(|item| item["title"].as_str()).collect()
}

async fn article(app: &TestApp, token: &str, body: Value) -> String {
    app.post("/api/v1/articles", token, &body).await.assert_status(201).str("id")
}

on_both_backends! {
    async fn articles_are_written_by_support_read_by_everyone_and_shown_as_safe_html(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, agent) = app.user_with_role("agent@example.com", "support").await;
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        let created = app.post("/api/v1/articles", &agent, &json!({
            "title": " Reset your password ", "category": "Accounts", "locale": "de-ch",
            "body": "Open **Settings**.\n\n<script>alert(1)</script>\n\n[help](javascript:alert(1)) [docs](https://example.com/docs)"
        })).await.assert_status(201);
        let id = created.str("id");
        assert_eq!((created.body["title"].as_str(), created.body["locale"].as_str(), created.body["status"].as_str()), (Some("Reset your password"), Some("de-CH"), Some("draft")));
        let html = created.body["body_html"].as_str().unwrap_or_default().to_owned();
        assert!(html.contains("<strong>Settings</strong>") && html.contains("&lt;script&gt;") && !html.contains("<script"), "{html}");
        assert!(html.contains("href=\"#\"") && html.contains("href=\"https://example.com/docs\"") && !html.contains("javascript:"), "{html}");
        assert_eq!(created.body["published_at"], Value::Null);

        let refused = app.post("/api/v1/articles", &agent, &json!({"locale": "english"})).await.assert_problem(422);
        assert_eq!(refused.error_fields(), ["title", "body", "locale"], "{}", refused.text);
        app.post("/api/v1/articles", &rep, &json!({"title": "x", "body": "y"})).await.assert_problem(403);
        app.post("/api/v1/articles", &agent, &json!({"title": "x", "body": "y", "related_ids": ["nope"]})).await.assert_problem(422);
        app.get(&format!("/api/v1/articles/{id}"), &rep).await.assert_status(200);

        let published = app.patch(&format!("/api/v1/articles/{id}"), &agent, &json!({"status": "published"})).await.assert_status(200);
        assert!(published.body["published_at"].is_string());
        app.patch(&format!("/api/v1/articles/{id}"), &agent, &json!({"body": "Open **Settings** and choose *Reset*."})).await.assert_status(200);
        let history = app.get(&format!("/api/v1/articles/{id}/history"), &admin).await.assert_status(200).body;
        let actions: Vec<&str> = history["data"].as_array().map(|all| all.iter().filter_map(|e| e["action"].as_str()).collect()).unwrap_or_default();
        assert_eq!(actions, ["update", "update", "create"], "every version is in the history");
        assert_eq!(titles(&app.list_all("/api/v1/articles?status=published&locale=de-CH", &rep).await), ["Reset your password"]);
        assert!(app.list_all("/api/v1/articles?category=Billing", &rep).await.is_empty());
        let found = app.post("/api/v1/articles/search", &rep, &json!({"filter": {"field": "status", "op": "eq", "value": "published"}, "q": "choose"})).await.assert_status(200);
        assert_eq!(found.body["data"].as_array().map(Vec::len), Some(1), "{}", found.text);
    }

    async fn the_ranked_search_puts_the_best_match_first_and_the_public_reads_only_published_articles(backend) {
        let app = TestApp::spawn_with(backend, |config| config.public_knowledge_base = true).await;
        let admin = app.admin_token.clone();
        let best = article(&app, &admin, json!({"title": "Reset your password", "body": "To reset a password open the password page and press reset.", "status": "published"})).await;
        article(&app, &admin, json!({"title": "Account settings", "body": "Your password lives here; reset it from settings.", "status": "published"})).await;
        article(&app, &admin, json!({"title": "Invoices", "body": "Download invoices as PDF.", "status": "published"})).await;
        let draft = article(&app, &admin, json!({"title": "Password reset (draft)", "body": "reset password soon", "status": "draft"})).await;

        let ranked = app.get("/api/v1/articles/ranked?q=reset%20password&status=published", &admin).await.assert_status(200).body;
        let found = ranked["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(titles(&found), ["Reset your password", "Account settings"], "{ranked}");
        app.patch(&format!("/api/v1/articles/{best}"), &admin, &json!({"tags": ["accounts"]})).await.assert_status(200);
        let tagged = app.get("/api/v1/articles/ranked?q=password&tag=accounts", &admin).await.assert_status(200).body;
        assert_eq!(titles(tagged["data"].as_array().map(Vec::as_slice).unwrap_or_default()), ["Reset your password"], "{tagged}");
        let all = app.get("/api/v1/articles/ranked?q=password%20reset", &admin).await.assert_status(200).body;
        assert_eq!(all["data"].as_array().map(Vec::len), Some(3), "drafts count for agents: {all}");
        app.get("/api/v1/articles/ranked?q=ab", &admin).await.assert_problem(400);
        app.get("/api/v1/articles/ranked?q=reset&limit=0", &admin).await.assert_problem(400);

        // The public: published articles only, views and helpful votes counted.
        let before = app.get(&format!("/api/v1/articles/{best}"), &admin).await.assert_status(200).body;
        let public = app.request(Method::GET, "/api/v1/public/articles?q=password").send().await.assert_status(200).body;
        assert_eq!(titles(public["data"].as_array().map(Vec::as_slice).unwrap_or_default()).len(), 2, "{public}");
        assert!(!public.to_string().contains("draft") && !public.to_string().contains("owner_id"), "{public}");
        app.request(Method::GET, &format!("/api/v1/public/articles/{best}")).send().await.assert_status(200);
        app.request(Method::GET, &format!("/api/v1/public/articles/{best}")).send().await.assert_status(200);
        app.request(Method::POST, &format!("/api/v1/public/articles/{best}/helpful")).send().await.assert_status(204);
        app.request(Method::GET, &format!("/api/v1/public/articles/{draft}")).send().await.assert_problem(404);
        app.request(Method::GET, "/api/v1/public/articles/nope").send().await.assert_problem(404);
        let counted = app.get(&format!("/api/v1/articles/{best}"), &admin).await.assert_status(200).body;
        assert_eq!((counted["view_count"].as_i64(), counted["helpful_count"].as_i64()), (Some(2), Some(1)), "{counted}");
        assert_eq!(counted["updated_at"], before["updated_at"], "counters move no version");

        let closed = TestApp::spawn(backend).await;
        closed.request(Method::GET, "/api/v1/public/articles?q=password").send().await.assert_problem(404);
    }

    async fn an_agent_answers_a_ticket_with_a_published_article(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let contact = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Hank"})).await.assert_status(201).str("id");
        let ticket = app.post("/api/v1/tickets", &admin, &json!({"subject": "Cannot log in", "requester_id": contact})).await.assert_status(201).str("id");
        let guide = article(&app, &admin, json!({"title": "Reset your password", "body": "Open **Settings**.", "status": "published"})).await;
        let draft = article(&app, &admin, json!({"title": "Soon", "body": "Not yet."})).await;
        let replies = format!("/api/v1/tickets/{ticket}/replies");
        let refused = app.post(&replies, &admin, &json!({"body": "See below", "article_ids": [draft]})).await.assert_problem(422);
        assert_eq!(refused.error_fields(), ["article_ids[0]"]);
        app.post(&replies, &admin, &json!({"body": "See below", "article_ids": ["nope"]})).await.assert_problem(422);
        let answered = app.post(&replies, &admin, &json!({"body": "See below", "article_ids": [guide], "status": "solved"})).await.assert_status(201);
        assert_eq!(answered.body["ticket"]["status"], "solved");
        let activity = app.get(&format!("/api/v1/activities/{}", answered.body["reply"]["activity_id"].as_str().unwrap_or_default()), &admin).await.assert_status(200).body;
        let body = activity["body"].as_str().unwrap_or_default();
        assert!(body.starts_with("See below") && body.contains("## Reset your password") && body.contains("Open **Settings**."), "{body}");
        assert!(activity["links"].as_array().is_some_and(|links| links.contains(&json!({"record_type": "article", "id": guide}))), "{activity}");
    }
}
