//! The write path, on both backends, through the real server, each figure as a ratio against a
//! baseline measured in the same run:
//! - `POST /contacts` throughput at `CRM_BENCH_CONNECTIONS` (default 16) against inserting a
//!   contact row in its own transaction straight on the database, from as many threads;
//! - what an event costs a write: that insert with its `contact.created` event row in the same
//!   transaction, against the insert alone;
//! - the same POSTs at 256 connections against that peak: throughput and p99;
//! - a CSV import of `CRM_BENCH_ROWS` contacts (default 20,000) against inserting the same
//!   number of rows in one statement (`tests/benches/common/seed.rs`);
//! - the same POSTs with the binary's default logging (`RUST_LOG=info`: an access line per
//!   request, written to a file) against logging off, interleaved.
//!
//! `cargo bench -p e2e --bench write_path`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use e2e::Backend;
use persistence::Store;
use serde_json::json;

#[path = "common/seed.rs"]
mod seed;
#[path = "common/server.rs"]
mod server;

const WINDOW: Duration = Duration::from_secs(5);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Creates per second and the p99 of one create, with `connections` clients each waiting for
/// its answer.
async fn post_throughput(base: &str, token: &str, connections: usize, tag: &str) -> (f64, Duration) {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + WINDOW;
    let clients = (0..connections).map(|client_number| {
        let (done, url, token) = (Arc::clone(&done), format!("{base}/api/v1/contacts"), token.to_owned());
        let tag = tag.to_owned();
        async move {
            let client = awc::Client::builder().timeout(Duration::from_secs(60)).finish();
            let mut times = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let body = json!({"first_name": "Bench", "last_name": format!("{tag} {client_number} {n}"),
                    "emails": [{"email": format!("{tag}.{client_number}.{n}@bench.example")}], "tags": [tag]});
                let started = Instant::now();
                let mut response = client
                    .post(&url)
                    .insert_header(("authorization", format!("Bearer {token}")))
                    .send_json(&body)
                    .await
                    .expect("the server answers");
                let _ = response.body().await;
                assert_eq!(response.status().as_u16(), 201, "{url}");
                times.push(started.elapsed());
                done.fetch_add(1, Ordering::Relaxed);
            }
            times
        }
    });
    let started = Instant::now();
    let mut times: Vec<Duration> = futures_util::future::join_all(clients).await.into_iter().flatten().collect();
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    times.sort();
    let p99 = times.get(times.len() * 99 / 100).copied().unwrap_or_default();
    (rate, p99)
}

/// Rows per second `threads` threads insert, one contact row per transaction, and with
/// `with_event` its `contact.created` event in the same transaction (what an event adds).
fn insert_baseline(store: &Store, owner: &str, threads: usize, with_event: bool) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + WINDOW;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let (done, store, owner) = (Arc::clone(&done), store.clone(), owner.to_owned());
            scope.spawn(move || {
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let statement = format!(
                        "INSERT INTO contacts (id, first_name, last_name, sort_name, emails, primary_email, owner_id, \
                         tags, lifecycle_stage, custom_fields, search_text, version, created_at, updated_at) VALUES \
                         ('baseline-{thread}-{n}', 'Bench', 'Baseline {n}', 'baseline {n} bench', \
                         '[{{\"email\":\"b.{thread}.{n}@bench.example\",\"label\":null,\"primary\":true}}]', \
                         'b.{thread}.{n}@bench.example', '{owner}', '[\"baseline\"]', 'acquisition', '{{}}', \
                         'bench baseline {n} b.{thread}.{n}@bench.example', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    );
                    let tag = if with_event { "evented" } else { "bare" };
                    let statement = statement.replace("baseline-", &format!("{tag}-"));
                    let event = format!(
                        "INSERT INTO events (id, event_type, record_type, record_id, owner_id, actor_kind, \
                         actor_user_id, depth, occurred_at, payload) VALUES ('{tag}-{thread}-{n}', 'contact.created', \
                         'contact', '{tag}-{thread}-{n}', '{owner}', 'user', '{owner}', 0, CURRENT_TIMESTAMP, \
                         '{{\"object\":{{\"id\":\"{tag}-{thread}-{n}\",\"last_name\":\"Baseline {n}\"}},\"previous\":null,\"changed_fields\":[]}}')"
                    );
                    store
                        .write(|conn| {
                            diesel::sql_query(&statement).execute(conn)?;
                            if with_event {
                                diesel::sql_query(&event).execute(conn)?;
                            }
                            Ok::<_, persistence::StoreError>(())
                        })
                        .expect("the baseline insert runs");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn import_file(rows: u64) -> String {
    let mut file = String::from("first_name,last_name,emails,job_title,tags,lifecycle_stage\n");
    for n in 0..rows {
        file.push_str(&format!("Person,Import {n},import{n}@bench.example,Engineer,bench; import,retention\n"));
    }
    file
}

async fn bench(backend: Backend, rows: u64, connections: usize) {
    let (app, store, owner) = server::bench_server(backend).await;
    let admin = app.admin_token.clone();
    println!("\n{backend:?}:");

    // 1. Creates at the usual concurrency against the bare insert.
    let baseline = insert_baseline(&store, &owner, connections, false);
    let evented = insert_baseline(&store, &owner, connections, true);
    let (peak, peak_p99) = post_throughput(&app.base, &admin, connections, "peak").await;
    println!(
        "  POST /contacts at {connections} connections: {peak:.0} req/s, p99 {:.1} ms",
        peak_p99.as_secs_f64() * 1e3
    );
    println!(
        "    vs one-row-per-transaction INSERT from {connections} threads {baseline:.0} rows/s: x{:.3}",
        peak / baseline
    );
    println!(
        "    an event in the same transaction: {evented:.0} rows/s, x{:.3} the bare insert (what an event adds to a write)",
        evented / baseline
    );

    // 2. Far more clients than the pool has connections.
    let (crowded, crowded_p99) = post_throughput(&app.base, &admin, 256, "crowd").await;
    println!(
        "  POST /contacts at 256 connections: {crowded:.0} req/s (x{:.2} the peak), p99 {:.1} ms (x{:.1} the peak's)",
        crowded / peak,
        crowded_p99.as_secs_f64() * 1e3,
        crowded_p99.as_secs_f64() / peak_p99.as_secs_f64()
    );

    // 3. An import against inserting the same number of rows in one statement.
    let started = Instant::now();
    store
        .write(|conn| {
            diesel::sql_query(seed::seed_sql(backend, rows, &owner)).execute(conn)?;
            Ok::<_, persistence::StoreError>(())
        })
        .expect("the raw insert runs");
    let raw = rows as f64 / started.elapsed().as_secs_f64();
    let csv = import_file(rows);
    let started = Instant::now();
    let accepted = app
        .upload_import(&admin, &json!({"record_type": "contact", "dedupe": "create"}), csv.as_bytes())
        .await
        .assert_status(202);
    let import = app.wait_for_import_up_to(&admin, &accepted.str("id"), Duration::from_secs(1800)).await;
    assert_eq!(import["status"], "completed", "{import}");
    let imported = rows as f64 / started.elapsed().as_secs_f64();
    println!("  CSV import of {rows} contacts: {imported:.0} rows/s");
    println!("    vs the same rows in one INSERT … SELECT {raw:.0} rows/s: x{:.3}", imported / raw);

    // 4. The access log's cost.
    let (logged, quiet) = logging_cost(&app.base, &admin, connections).await;
    println!(
        "  POST /contacts with RUST_LOG=info: {logged:.0} req/s vs logging off {quiet:.0} req/s: x{:.3}",
        logged / quiet
    );
}

/// `POST /contacts` throughput with logging at info and with it off, each over two
/// interleaved windows.
async fn logging_cost(base: &str, token: &str, connections: usize) -> (f64, f64) {
    let (mut off, mut info) = (0.0, 0.0);
    for round in 0..2 {
        log::set_max_level(log::LevelFilter::Off);
        off += post_throughput(base, token, connections, &format!("logoff{round}")).await.0;
        log::set_max_level(log::LevelFilter::Info);
        info += post_throughput(base, token, connections, &format!("loginfo{round}")).await.0;
    }
    log::set_max_level(log::LevelFilter::Off);
    (info / 2.0, off / 2.0)
}

fn main() {
    // As the binary logs by default (info), into a file so the write is real; off unless a
    // step measures it.
    let sink = std::fs::File::create("/dev/null").expect("/dev/null opens");
    env_logger::Builder::new()
        .filter_level(log::LevelFilter::Info)
        .target(env_logger::Target::Pipe(Box::new(sink)))
        .init();
    log::set_max_level(log::LevelFilter::Off);
    let rows = env_number("CRM_BENCH_ROWS", 20_000);
    let connections = env_number("CRM_BENCH_CONNECTIONS", 16) as usize;
    actix_web::rt::System::new().block_on(async move {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            bench(backend, rows, connections).await;
        }
    });
}
