//! CSV import and export at scale, on both backends, through the real server.
//!
//! `cargo bench -p e2e --bench import_scale` imports `CRM_BENCH_ROWS` contacts (default
//! 100,000) from one CSV file into a fresh database of each backend, then exports them again,
//! and prints rows per second. The baseline, measured in the same run on the same server, is
//! creating contacts one request at a time with `POST /api/v1/contacts`: each figure is also
//! printed as a multiple of that rate, so noisy machines still compare.

use std::time::{Duration, Instant};

use e2e::{Backend, TestApp};
use serde_json::json;

const BASELINE_REQUESTS: usize = 300;

fn rows_from_env() -> usize {
    std::env::var("CRM_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

fn file(rows: usize, offset: usize) -> String {
    let mut file = String::from("first_name,last_name,emails,phones,job_title,tags,lifecycle_stage,budget\n");
    for n in offset..offset + rows {
        // Unique, valid numbers: exchanges from 200 up, 10,000 lines each.
        file.push_str(&format!(
            "Person,Number {n},person{n}@bench.example,+1 617 {} {:04},Engineer,bench; import,retention,{}\n",
            200 + n / 10_000,
            n % 10_000,
            n % 10_000
        ));
    }
    file
}

fn rate(rows: usize, took: Duration) -> f64 {
    rows as f64 / took.as_secs_f64()
}

async fn timed_import(app: &TestApp, policy: &str, csv: &str) -> Duration {
    let started = Instant::now();
    let accepted = app
        .upload_import(&app.admin_token, &json!({"record_type": "contact", "dedupe": policy}), csv.as_bytes())
        .await
        .assert_status(202);
    let import = app.wait_for_import_up_to(&app.admin_token, &accepted.str("id"), Duration::from_secs(1800)).await;
    let took = started.elapsed();
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(import["counts"]["failed"], 0, "{import}");
    took
}

async fn bench(backend: Backend, rows: usize) {
    let app = TestApp::spawn_with(backend, |config| {
        config.workers = Some(2);
        config.rate_limit_per_minute = u32::MAX;
    })
    .await;
    let admin = app.admin_token.clone();
    app.post(
        "/api/v1/custom-fields",
        &admin,
        &json!({"record_type": "contact", "key": "budget", "label": "Budget", "field_type": "number"}),
    )
    .await
    .assert_status(201);

    let started = Instant::now();
    for n in 0..BASELINE_REQUESTS {
        let body = json!({"first_name": "Baseline", "last_name": format!("Number {n}"),
            "emails": [{"email": format!("baseline{n}@bench.example")}], "phones": [{"number": format!("+1 617 555 {n:04}")}],
            "job_title": "Engineer", "tags": ["bench"], "lifecycle_stage": "retention", "custom_fields": {"budget": n}});
        app.post("/api/v1/contacts", &admin, &body).await.assert_status(201);
    }
    let baseline = rate(BASELINE_REQUESTS, started.elapsed());

    let csv = file(rows, 0);
    let with_checks = timed_import(&app, "skip", &csv).await;
    let without_checks = timed_import(&app, "create", &file(rows / 10, rows)).await;

    let started = Instant::now();
    let export = app.get("/api/v1/contacts/export", &admin).await.assert_status(200);
    let exported = export.text.lines().count() - 1;
    let export_took = started.elapsed();
    assert_eq!(exported, rows + rows / 10 + BASELINE_REQUESTS);

    let print = |what: &str, n: usize, took: Duration| {
        let per_second = rate(n, took);
        println!(
            "{backend:?}: {what:<48} {n:>7} rows in {:>7.1} s = {per_second:>8.0} rows/s = x{:.1} baseline",
            took.as_secs_f64(),
            per_second / baseline
        );
    };
    println!("{backend:?}: baseline: POST /api/v1/contacts one at a time       {baseline:>8.0} rows/s");
    print("import, dedupe skip (duplicates looked up)", rows, with_checks);
    print("import, dedupe create (no duplicate check)", rows / 10, without_checks);
    print("export, every column, streamed", exported, export_took);
}

#[actix_web::main]
async fn main() {
    let rows = rows_from_env();
    println!("CSV import and export of {rows} contacts; baseline: {BASELINE_REQUESTS} single POSTs");
    bench(Backend::Sqlite, rows).await;
    if !e2e::skip_postgres() {
        bench(Backend::Postgres, rows).await;
    }
}
