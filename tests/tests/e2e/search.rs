use domain::activity::RecordType;
use domain::filter::{Catalogue, FieldValues, Filter, Target};
use e2e::{Reply, TestApp, on_both_backends};
use serde_json::{Value, json};

fn names(reply: &Reply) -> Vec<String> {
    reply.body["data"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["first_name"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A contact as the API shows it, evaluable by the domain's in-memory filter.
struct ContactJson(Value);

impl FieldValues for ContactJson {
    fn value(&self, target: &Target) -> Option<Value> {
        match target {
            Target::Standard("email") => self.0["emails"][0]["email"].as_str().map(|e| json!(e)),
            Target::Standard(name) => self.0.get(*name).cloned(),
            Target::Custom { key, .. } => self.0["custom_fields"].get(key).cloned(),
            _ => None,
        }
    }
}

async fn search(app: &TestApp, token: &str, body: &Value) -> Reply {
    app.post("/api/v1/contacts/search", token, body).await
}

on_both_backends! {
    async fn the_filter_language_selects_by_standard_custom_and_related_fields(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "budget", "label": "Budget", "field_type": "number"})).await.assert_status(201);
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "tiers", "label": "Tiers", "field_type": "multi_dropdown", "options": ["Gold", "Silver"]})).await.assert_status(201);
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "vip", "label": "VIP", "field_type": "checkbox"})).await.assert_status(201);
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "company", "key": "region", "label": "Region", "field_type": "text"})).await.assert_status(201);
        let software = app.post("/api/v1/companies", &admin, &json!({"name": "Engines", "industry": "Software", "custom_fields": {"region": "EMEA"}})).await.assert_status(201).str("id");
        let retail = app.post("/api/v1/companies", &admin, &json!({"name": "Shops", "industry": "Retail"})).await.assert_status(201).str("id");
        let people = [
            ("Ada", "Lovelace", Some(&software), "retention", json!({"budget": 5000, "tiers": ["Gold"], "vip": true}), vec!["vip"]),
            ("Bea", "Babbage", Some(&software), "awareness", json!({"budget": 100}), vec![]),
            ("Cy", "Lovelock", Some(&retail), "loyalty", json!({"budget": 2500.5, "tiers": ["Silver", "Gold"]}), vec!["vip"]),
            ("Dot", "Hopper", None, "retention", json!({"vip": false}), vec![]),
            ("Eve", "Noether", None, "acquisition", json!({}), vec![]),
        ];
        let mut ids = Vec::new();
        for (first, last, company, stage, custom, tags) in people {
            let body = json!({"first_name": first, "last_name": last, "company_id": company, "lifecycle_stage": stage,
                "custom_fields": custom, "tags": tags, "emails": [{"email": format!("{}@{}.example", first.to_lowercase(), last.to_lowercase())}]});
            ids.push(app.post("/api/v1/contacts?allow_duplicate=true", &admin, &body).await.assert_status(201).str("id"));
        }
        let link = json!([{"record_type": "contact", "id": ids[3]}]);
        app.post("/api/v1/activities", &admin, &json!({"activity_type": "call", "subject": "intro", "direction": "outbound", "links": link})).await.assert_status(201);
        app.post("/api/v1/deals", &admin, &json!({"name": "Open one", "contact_ids": [ids[4]]})).await.assert_status(201);

        let cases = [
            (json!({"field": "lifecycle_stage", "op": "in", "value": ["retention", "loyalty"]}), vec!["Ada", "Cy", "Dot"]),
            (json!({"field": "last_name", "op": "starts_with", "value": "LOVE"}), vec!["Ada", "Cy"]),
            (json!({"field": "email", "op": "contains", "value": "hopper"}), vec!["Dot"]),
            (json!({"field": "job_title", "op": "is_empty"}), vec!["Ada", "Bea", "Cy", "Dot", "Eve"]),
            (json!({"field": "custom_fields.budget", "op": "gte", "value": 2500}), vec!["Ada", "Cy"]),
            (json!({"field": "custom_fields.budget", "op": "between", "value": [100, 2500.5]}), vec!["Bea", "Cy"]),
            (json!({"field": "custom_fields.budget", "op": "neq", "value": 100}), vec!["Ada", "Cy", "Dot", "Eve"]),
            (json!({"field": "custom_fields.budget", "op": "is_empty"}), vec!["Dot", "Eve"]),
            (json!({"field": "custom_fields.tiers", "op": "contains", "value": "Gold"}), vec!["Ada", "Cy"]),
            (json!({"field": "custom_fields.tiers", "op": "in", "value": ["Silver"]}), vec!["Cy"]),
            (json!({"field": "custom_fields.vip", "op": "eq", "value": true}), vec!["Ada"]),
            (json!({"field": "custom_fields.vip", "op": "eq", "value": false}), vec!["Dot"]),
            (json!({"field": "tags", "op": "contains", "value": "vip"}), vec!["Ada", "Cy"]),
            (json!({"field": "created_at", "op": "last_n_days", "value": 1}), vec!["Ada", "Bea", "Cy", "Dot", "Eve"]),
            (json!({"field": "created_at", "op": "lt", "value": "2020-01-01"}), vec![]),
            (json!({"field": "company.industry", "op": "eq", "value": "software"}), vec!["Ada", "Bea"]),
            (json!({"field": "company.custom_fields.region", "op": "eq", "value": "emea"}), vec!["Ada", "Bea"]),
            (json!({"field": "has_open_deal", "op": "eq", "value": true}), vec!["Eve"]),
            (json!({"field": "activity.call", "op": "last_n_days", "value": 7}), vec!["Dot"]),
            (json!({"field": "activity.meeting", "op": "is_not_empty"}), vec![]),
            (json!({"and": [
                {"field": "lifecycle_stage", "op": "in", "value": ["retention", "loyalty"]},
                {"or": [{"field": "company.industry", "op": "eq", "value": "Retail"}, {"field": "activity.call", "op": "is_not_empty"}]}
            ]}), vec!["Cy", "Dot"]),
        ];
        let catalogue = Catalogue { record_type: RecordType::Contact, custom: vec![], company_custom: vec![] };
        let everyone = search(&app, &admin, &json!({"limit": 100})).await.assert_status(200);
        for (filter, expected) in cases {
            let found = search(&app, &admin, &json!({"filter": filter, "sort": "first_name"})).await.assert_status(200);
            assert_eq!(names(&found), expected, "{filter}");
            // The same filter evaluated in memory agrees wherever it names no related data.
            let related = filter.to_string().contains("company.") || filter.to_string().contains("activity.") || filter.to_string().contains("has_open_deal");
            let with_custom = Catalogue {
                custom: persistence_definitions(&app, &admin).await,
                ..catalogue.clone()
            };
            if !related && let Ok(parsed) = Filter::parse(&filter, &with_custom, chrono::Utc::now()) {
                let mut in_memory: Vec<String> = everyone.body["data"].as_array().into_iter().flatten()
                    .filter(|c| parsed.matches(&ContactJson((*c).clone())))
                    .filter_map(|c| c["first_name"].as_str().map(str::to_owned)).collect();
                in_memory.sort();
                assert_eq!(in_memory, expected, "in memory: {filter}");
            }
        }

        // Text search and a filter combine; `q` uses the index and still matches substrings.
        let q = search(&app, &admin, &json!({"q": "ovel", "filter": {"field": "tags", "op": "is_empty"}})).await.assert_status(200);
        assert!(names(&q).is_empty());
        let q = search(&app, &admin, &json!({"q": "LOVEL", "sort": "first_name"})).await.assert_status(200);
        assert_eq!(names(&q), ["Ada", "Cy"]);
        let listed = app.get("/api/v1/contacts?q=babb", &admin).await.assert_status(200);
        assert_eq!(names(&listed), ["Bea"]);
        let short = app.get("/api/v1/contacts?q=cy", &admin).await.assert_status(200);
        assert_eq!(names(&short), ["Cy"]);
    }

    async fn search_pages_by_keyset_on_any_sortable_field_with_empty_values_last(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        app.post("/api/v1/custom-fields", &admin, &json!({"record_type": "contact", "key": "budget", "label": "Budget", "field_type": "number"})).await.assert_status(201);
        for (index, budget) in [Some(30), None, Some(10), Some(30), None, Some(20), Some(10)].into_iter().enumerate() {
            let custom = budget.map_or(json!({}), |b| json!({"budget": b}));
            app.post("/api/v1/contacts", &admin, &json!({"first_name": format!("P{index}"), "custom_fields": custom})).await.assert_status(201);
        }
        for (sort, expected_budgets) in [
            ("custom_fields.budget", vec![json!(10), json!(10), json!(20), json!(30), json!(30), Value::Null, Value::Null]),
            ("-custom_fields.budget", vec![json!(30), json!(30), json!(20), json!(10), json!(10), Value::Null, Value::Null]),
        ] {
            let mut budgets = Vec::new();
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut body = json!({"sort": sort, "limit": 2});
                if let Some(c) = &cursor {
                    body["cursor"] = json!(c);
                }
                let page = search(&app, &admin, &body).await.assert_status(200);
                for row in page.body["data"].as_array().into_iter().flatten() {
                    budgets.push(row["custom_fields"].get("budget").cloned().unwrap_or(Value::Null));
                    seen.push(row["id"].as_str().unwrap_or_default().to_owned());
                }
                cursor = page.body["next_cursor"].as_str().map(str::to_owned);
                if cursor.is_none() { break; }
            }
            assert_eq!(budgets, expected_budgets, "{sort}");
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), 7, "{sort}: every contact exactly once");
        }
        let first = search(&app, &admin, &json!({"sort": "custom_fields.budget", "limit": 2})).await;
        let cursor = first.str("next_cursor");
        search(&app, &admin, &json!({"sort": "-custom_fields.budget", "cursor": cursor})).await.assert_problem(400);
        search(&app, &admin, &json!({"cursor": "garbage"})).await.assert_problem(400);
    }

    async fn a_bad_filter_is_refused_with_the_path_of_its_mistake(backend) {
        let app = TestApp::spawn(backend).await;
        let admin = app.admin_token.clone();
        let (_, rep) = app.user_with_role("rep@example.com", "sales").await;
        app.post("/api/v1/contacts", &admin, &json!({"first_name": "Hidden"})).await.assert_status(201);
        app.post("/api/v1/contacts", &rep, &json!({"first_name": "Mine"})).await.assert_status(201);
        // Only records the caller can see are searched.
        let mine = search(&app, &rep, &json!({})).await.assert_status(200);
        assert_eq!(names(&mine), ["Mine"]);
        // An OR at the top stays inside the caller's visibility.
        let either = search(&app, &rep, &json!({"filter": {"or": [
            {"field": "first_name", "op": "eq", "value": "hidden"}, {"field": "first_name", "op": "is_not_empty"}
        ]}})).await.assert_status(200);
        assert_eq!(names(&either), ["Mine"]);
        let neq = search(&app, &rep, &json!({"filter": {"field": "first_name", "op": "neq", "value": "mine"}})).await.assert_status(200);
        assert!(names(&neq).is_empty());

        let refusals = [
            (json!({"filter": {"field": "shoe_size", "op": "eq", "value": 1}}), 422, "filter.field"),
            (json!({"filter": {"and": [{"field": "first_name", "op": "gt", "value": "a"}]}}), 422, "filter.and[0].op"),
            (json!({"filter": {"field": "created_at", "op": "eq", "value": "yesterday"}}), 422, "filter.value"),
            (json!({"filter": {"field": "lifecycle_stage", "op": "eq", "value": "gone"}}), 422, "filter.value"),
            (json!({"filter": {"or": "x"}}), 422, "filter.or"),
            (json!({"filter": {"field": "custom_fields.nope", "op": "eq", "value": 1}}), 422, "filter.field"),
            (json!({"filter": {"field": "first_name", "op": "eq", "value": "x"}, "sort": "tags"}), 422, "sort"),
            (json!({"sort": "first_name,last_name"}), 422, "sort"),
            (json!({"limit": 0}), 400, "limit"),
        ];
        for (body, status, field) in refusals {
            let reply = search(&app, &rep, &body).await.assert_problem(status);
            assert_eq!(reply.error_fields(), [field], "{body}");
        }
        let mut deep = json!({"field": "first_name", "op": "is_empty"});
        for _ in 0..6 { deep = json!({"and": [deep]}); }
        search(&app, &rep, &json!({"filter": deep})).await.assert_problem(422);
        let many: Vec<Value> = (0..51).map(|_| json!({"field": "first_name", "op": "is_empty"})).collect();
        search(&app, &rep, &json!({"filter": {"or": many}})).await.assert_problem(422);
        search(&app, &rep, &json!({"filter": {}, "extra": 1})).await.assert_problem(400);
        app.request(actix_web::http::Method::POST, "/api/v1/contacts/search").token(&rep).raw("application/json", b"{\"filter\":".to_vec())
            .send().await.assert_problem(400);

        // Every record type searches the same way.
        for collection in ["companies", "leads", "deals"] {
            app.post(&format!("/api/v1/{collection}/search"), &admin, &json!({"filter": {"field": "name", "op": "contains", "value": "x"}}))
                .await.assert_status(200);
        }
        let leads = app.post("/api/v1/leads", &admin, &json!({"first_name": "Lee", "employee_count": 50})).await.assert_status(201);
        let found = app.post("/api/v1/leads/search", &admin, &json!({"filter": {"and": [{"field": "status", "op": "eq", "value": "new"}, {"field": "employee_count", "op": "gt", "value": 10}]}, "sort": "-score"}))
            .await.assert_status(200);
        assert_eq!(found.body["data"][0]["id"], leads.body["id"]);
        app.post("/api/v1/deals", &admin, &json!({"name": "Big", "amount": {"amount_minor": 900, "currency": "EUR"}, "expected_close_date": "2026-12-01"})).await.assert_status(201);
        let deals = app.post("/api/v1/deals/search", &admin, &json!({"filter": {"and": [
            {"field": "stage_kind", "op": "eq", "value": "open"}, {"field": "amount", "op": "gte", "value": 900},
            {"field": "expected_close_date", "op": "between", "value": ["2026-11-01", "2026-12-31"]}
        ]}, "sort": "expected_close_date"})).await.assert_status(200);
        assert_eq!(deals.body["data"][0]["name"], "Big");
        app.post("/api/v1/leads/search", &admin, &json!({"filter": {"field": "company.industry", "op": "eq", "value": "x"}})).await.assert_problem(422);
    }

    async fn a_search_for_a_term_whose_trigrams_most_texts_share_finds_exactly_what_it_holds(backend) {
        let app = TestApp::spawn_with(backend, |config| config.purge_interval = std::time::Duration::from_millis(500)).await;
        let admin = app.admin_token.clone();
        for n in 0..60 {
            app.post("/api/v1/contacts", &admin, &json!({
                "first_name": format!("Person{n}"), "emails": [{"email": format!("person{n}@example.com")}]
            })).await.assert_status(201);
        }
        // The maintenance job samples which trigrams are common ("per", "son", "exa", ...):
        // wait for a run that started after the last contact.
        let written = chrono::Utc::now();
        for _ in 0..100 {
            let jobs = app.get("/api/v1/jobs?kind=maintenance.purge&state=completed", &admin).await.assert_status(200);
            let after = |job: &Value| {
                job["finished_at"].as_str().and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok()).is_some_and(|at| at > written + chrono::TimeDelta::milliseconds(100))
            };
            if jobs.body["data"].as_array().is_some_and(|jobs| jobs.iter().any(after)) {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let found = |q: &'static str| {
            let app = &app;
            async move { names(&app.get(&format!("/api/v1/contacts?q={q}&limit=100"), &app.admin_token).await.assert_status(200)) }
        };
        assert_eq!(found("person42").await, ["Person42"]);
        assert_eq!(found("person42%40example").await, ["Person42"]);
        let mut fours = found("son4").await;
        fours.sort_unstable();
        assert_eq!(fours, ["Person4", "Person40", "Person41", "Person42", "Person43", "Person44", "Person45", "Person46", "Person47", "Person48", "Person49"]);
        assert_eq!(found("person").await.len(), 60);
        assert!(found("person60").await.is_empty());
    }
}

/// The contact custom field definitions, as the domain reads them.
async fn persistence_definitions(app: &TestApp, token: &str) -> Vec<domain::custom::CustomFieldDefinition> {
    let listed = app.get("/api/v1/custom-fields?record_type=contact", token).await.assert_status(200);
    listed.body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some(domain::custom::CustomFieldDefinition {
                record_type: RecordType::Contact,
                key: d["key"].as_str()?.to_owned(),
                label: d["label"].as_str()?.to_owned(),
                field_type: serde_json::from_value(d["field_type"].clone()).ok()?,
                required: false,
                default: None,
                help_text: None,
                position: 0,
                options: serde_json::from_value(d["options"].clone()).ok()?,
                active: true,
            })
        })
        .collect()
}
