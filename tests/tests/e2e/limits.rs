//! Every limit a record body documents is the server's: past it, each field is named in one
//! 422 and nothing changes, on create and on merge-patch alike.

use e2e::{TestApp, on_both_backends};
use serde_json::{Value, json};

/// A body with every bounded field of a record type one past its documented limit.
fn past_every_limit(collection: &str, contact_id: &str) -> Value {
    let x = |n: usize| "x".repeat(n);
    let tags: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let link = json!({"record_type": "contact", "id": contact_id});
    match collection {
        "contacts" => json!({
            "first_name": x(201), "last_name": x(201), "job_title": x(201), "notes": x(10_001), "tags": tags,
            "emails": (0..11).map(|i| json!({"email": format!("a{i}@example.com")})).collect::<Vec<_>>(),
            "phones": (0..11).map(|i| json!({"number": format!("+4420794600{i:02}")})).collect::<Vec<_>>(),
            "address": {"street": x(501), "city": x(201), "region": x(201), "postal_code": x(21), "country": "GBR"},
        }),
        "companies" => json!({
            "name": x(201), "industry": x(101), "employee_count": 10_000_001, "tags": tags,
            "annual_revenue": {"amount_minor": 1, "currency": "EURO"},
        }),
        "leads" => json!({
            "first_name": x(201), "last_name": x(201), "company_name": x(201), "job_title": x(201),
            "industry": x(101), "campaign": x(201), "notes": x(10_001), "employee_count": 10_000_001,
            "country": "GBR", "tags": tags,
        }),
        "deals" => json!({
            "name": x(201), "next_step": x(1001), "tags": tags,
            "amount": {"amount_minor": -1, "currency": "EUR"},
            "contact_ids": (0..21).map(|_| contact_id).collect::<Vec<_>>(),
        }),
        "activities" => json!({
            "activity_type": "call", "subject": x(201), "body": x(10_001), "outcome": x(201),
            "duration_seconds": 604_801, "tags": tags, "links": (0..11).map(|_| link.clone()).collect::<Vec<_>>(),
        }),
        "tasks" => json!({
            "title": x(201), "description": x(10_001), "tags": tags,
            "links": (0..11).map(|_| link.clone()).collect::<Vec<_>>(),
        }),
        "products" => json!({
            "name": x(201), "sku": x(65), "description": x(10_001), "tags": tags,
            "unit_price": {"amount_minor": -1, "currency": "EUR"},
        }),
        other => panic!("no over-limit body for {other}"),
    }
}

/// A valid body of each record type, to PATCH past the limits afterwards.
fn valid(collection: &str, contact_id: &str) -> Value {
    let link = json!([{"record_type": "contact", "id": contact_id}]);
    match collection {
        "contacts" => json!({"first_name": "Ada"}),
        "companies" => json!({"name": "Engines"}),
        "leads" => json!({"first_name": "Ada"}),
        "deals" => json!({"name": "Seats"}),
        "activities" => json!({"activity_type": "call", "subject": "Intro", "links": link}),
        "tasks" => json!({"title": "Call back", "links": link}),
        "products" => json!({"name": "Seat", "unit_price": {"amount_minor": 100, "currency": "EUR"}}),
        other => panic!("no valid body for {other}"),
    }
}

on_both_backends! {
    async fn every_record_body_past_its_documented_limits_is_refused_field_by_field_and_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let contact_id = app.post("/api/v1/contacts", &admin, &json!({"first_name": "Linked"})).await.assert_status(201).str("id");
        let expected: [(&str, &[&str]); 7] = [
            ("contacts", &["first_name", "last_name", "emails", "phones", "job_title", "tags", "address.street", "address.city", "address.region", "address.postal_code", "address.country", "notes"]),
            ("companies", &["name", "industry", "employee_count", "annual_revenue.currency", "tags"]),
            ("leads", &["first_name", "last_name", "company_name", "job_title", "industry", "country", "employee_count", "campaign", "tags", "notes"]),
            ("deals", &["name", "amount.amount_minor", "tags", "contact_ids", "next_step"]),
            ("activities", &["subject", "body", "outcome", "tags", "duration_seconds", "links"]),
            ("tasks", &["title", "description", "tags", "links"]),
            ("products", &["name", "sku", "description", "unit_price.amount_minor", "tags"]),
        ];
        for (collection, fields) in expected {
            let path = format!("/api/v1/{collection}");
            let body = past_every_limit(collection, &contact_id);
            let refused = app.post(&path, &admin, &body).await.assert_problem(422);
            let mut named = refused.error_fields();
            named.sort();
            let mut wanted: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
            wanted.sort();
            assert_eq!(named, wanted, "{collection} POST: {}", refused.text);

            let created = app.post(&path, &admin, &valid(collection, &contact_id)).await.assert_status(201);
            let item = format!("{path}/{}", created.str("id"));
            let refused = app.patch(&item, &admin, &body).await.assert_problem(422);
            let mut named = refused.error_fields();
            named.sort();
            assert_eq!(named, wanted, "{collection} PATCH: {}", refused.text);
            let after = app.get(&item, &admin).await.assert_status(200);
            assert_eq!(after.header("etag").as_deref(), Some("\"1\""), "{collection} changed by a refused PATCH");
            let listed = app.list_all(&path, &admin).await;
            let extra = if collection == "contacts" { 2 } else { 1 };
            assert_eq!(listed.len(), extra, "{collection}: a refused POST created something");
        }
    }
}
