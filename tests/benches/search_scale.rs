//! Filtered search and text search at scale, on both backends, through the real server.
//!
//! `cargo bench -p e2e --bench search_scale` seeds `CRM_BENCH_ROWS` contacts (default
//! 1,000,000) straight into a fresh database of each backend, then times each query over
//! HTTP (median of several runs) and prints it as a ratio of the first page of the plain
//! list measured in the same run, so noisy machines still compare.

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use e2e::{Backend, TestApp};
use persistence::{Store, StoreOptions};
use serde_json::{Value, json};

const RUNS: usize = 15;

#[path = "common/seed.rs"]
mod seed;
use seed::seed_sql;

async fn median(mut run: impl AsyncFnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::with_capacity(RUNS);
    let mut found = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        found = run().await;
        times.push(started.elapsed());
    }
    times.sort();
    (times[RUNS / 2], found)
}

fn count(reply: &Value) -> usize {
    reply["data"].as_array().map_or(0, Vec::len)
}

async fn bench(backend: Backend, rows: u64) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token.clone();
    let me = app.get("/api/v1/me", &admin).await.assert_status(200);
    let owner = me.str("id");
    app.post(
        "/api/v1/custom-fields",
        &admin,
        &json!({"record_type": "contact", "key": "budget", "label": "Budget", "field_type": "number"}),
    )
    .await
    .assert_status(201);

    let store = Store::open(&app.config.database_url, &StoreOptions::default()).expect("bench store opens");
    let started = Instant::now();
    store
        .write(|conn| {
            diesel::sql_query(seed_sql(backend, rows, &owner)).execute(conn)?;
            if backend == Backend::Postgres {
                diesel::sql_query("ANALYZE contacts").execute(conn)?;
            }
            Ok::<_, persistence::StoreError>(())
        })
        .expect("seeding works");
    println!("\n{backend:?}: seeded {rows} contacts in {:.1} s", started.elapsed().as_secs_f64());

    let rare = format!("person{}", rows * 7 / 10);
    let search = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move { count(&app.post("/api/v1/contacts/search", admin, &body).await.assert_status(200).body) }
    };
    let (baseline, _) =
        median(async || count(&app.get("/api/v1/contacts?limit=25", &admin).await.assert_status(200).body)).await;
    println!("  {:<62} {:>8.2} ms  (baseline)", "first page of the list", baseline.as_secs_f64() * 1e3);
    let cases: Vec<(String, Value)> = vec![
        (format!("q={rare} (one match)"), json!({"q": rare})),
        ("q=name42 (1000 matches, first page)".into(), json!({"q": "name42 "})),
        (format!("email contains {rare}"), json!({"filter": {"field": "email", "op": "contains", "value": rare}})),
        (
            "stage in [retention, loyalty] AND last_name starts_with name9".into(),
            json!({"filter": {"and": [
                {"field": "lifecycle_stage", "op": "in", "value": ["retention", "loyalty"]},
                {"field": "last_name", "op": "starts_with", "value": "name9"}
            ]}}),
        ),
        (
            "custom budget between 10 and 12, sorted by budget".into(),
            json!({"filter": {"field": "custom_fields.budget", "op": "between", "value": [10, 12]}, "sort": "custom_fields.budget"}),
        ),
        (
            "custom budget eq -1 (no match: a full scan, for reference)".into(),
            json!({"filter": {"field": "custom_fields.budget", "op": "eq", "value": -1}}),
        ),
    ];
    for (label, body) in cases {
        let (time, found) = median(async || search(body.clone()).await).await;
        println!(
            "  {label:<62} {:>8.2} ms  x{:<7.1} ({found} on the page)",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    let (time, found) =
        median(async || count(&app.get(&format!("/api/v1/contacts?q={rare}"), &admin).await.assert_status(200).body))
            .await;
    println!(
        "  {:<62} {:>8.2} ms  x{:<7.1} ({found} on the page)",
        format!("GET list ?q={rare}"),
        time.as_secs_f64() * 1e3,
        time.as_secs_f64() / baseline.as_secs_f64()
    );
}

fn main() {
    let rows = std::env::var("CRM_BENCH_ROWS").ok().and_then(|r| r.parse().ok()).unwrap_or(1_000_000);
    actix_web::rt::System::new().block_on(async move {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            bench(backend, rows).await;
        }
    });
}
