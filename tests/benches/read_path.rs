//! The read path at scale, on both backends, through the real server: what a signed-in GET
//! costs against what the database alone or the bare server can do, how deep list pages
//! compare with the first, and how a text search compares with a point read.
//!
//! `cargo bench -p e2e --bench read_path` seeds `CRM_BENCH_ROWS` contacts (default 200,000)
//! into a fresh database of each backend and prints, each as a ratio measured in the same run:
//! - point `GET /contacts/{id}` throughput at `CRM_BENCH_CONNECTIONS` (default 16) against
//!   `/healthz` on the same server, and against the record's own SELECT run by as many
//!   threads straight on the database (the one-statement baseline);
//! - p99 of a list page deep in the list (80% of the rows in) against page 1, per sort key;
//! - p95 of `q` substring search for a rare term, list and `POST /search`, against the p95 of
//!   a point GET.

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

const WINDOW: Duration = Duration::from_secs(4);
const LATENCY_RUNS: usize = 40;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Requests per second `connections` clients get from `path`, each waiting for its answer.
async fn throughput(base: &str, path: &str, token: &str, connections: usize) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + WINDOW;
    let clients = (0..connections).map(|_| {
        let (done, url, token) = (Arc::clone(&done), format!("{base}{path}"), token.to_owned());
        async move {
            let client = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
            while Instant::now() < deadline {
                let mut response = client
                    .get(&url)
                    .insert_header(("authorization", format!("Bearer {token}")))
                    .send()
                    .await
                    .expect("the server answers");
                assert_eq!(response.status().as_u16(), 200, "{url}");
                let _ = response.body().await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let started = Instant::now();
    futures_util::future::join_all(clients).await;
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// Statements per second `threads` threads get running the point read's SELECT directly.
fn select_baseline(store: &Store, id: &str, threads: usize) -> f64 {
    let statement = match store.backend() {
        persistence::Backend::Postgres => "SELECT * FROM contacts WHERE id = $1 AND deleted_at IS NULL",
        persistence::Backend::Sqlite => "SELECT * FROM contacts WHERE id = ? AND deleted_at IS NULL",
    };
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + WINDOW;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (done, store, id) = (Arc::clone(&done), store.clone(), id.to_owned());
            scope.spawn(move || {
                store
                    .read(|conn| {
                        while Instant::now() < deadline {
                            diesel::sql_query(statement).bind::<diesel::sql_types::Text, _>(&id).execute(conn)?;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok::<_, persistence::StoreError>(())
                    })
                    .expect("the baseline query runs");
            });
        }
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The `share` quantile of [`LATENCY_RUNS`] timings of `request`.
async fn quantile(share: f64, mut request: impl AsyncFnMut() -> u16) -> Duration {
    let mut times = Vec::with_capacity(LATENCY_RUNS);
    for _ in 0..LATENCY_RUNS {
        let started = Instant::now();
        assert_eq!(request().await, 200);
        times.push(started.elapsed());
    }
    times.sort();
    times[((times.len() as f64 * share).ceil() as usize).clamp(1, times.len()) - 1]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

async fn bench(backend: Backend, rows: u64, connections: usize) {
    let (app, store, owner) = server::bench_server(backend).await;
    let admin = app.admin_token.clone();
    let started = Instant::now();
    store
        .write(|conn| {
            diesel::sql_query(seed::seed_sql(backend, rows, &owner)).execute(conn)?;
            if backend == Backend::Postgres {
                diesel::sql_query("ANALYZE contacts").execute(conn)?;
            }
            Ok::<_, persistence::StoreError>(())
        })
        .expect("seeding works");
    // What the maintenance job would sample for substring searches (PostgreSQL).
    store.write(persistence::text_search::refresh_shares).expect("the search figures are sampled");
    println!("\n{backend:?}: seeded {rows} contacts in {:.1} s", started.elapsed().as_secs_f64());
    let id = format!("00000000-0000-7000-8000-{:012}", rows / 2);
    let point = format!("/api/v1/contacts/{id}");

    // 1. Point reads.
    let healthz = throughput(&app.base, "/healthz", &admin, connections).await;
    let get = throughput(&app.base, &point, &admin, connections).await;
    let select = select_baseline(&store, &id, connections);
    println!("  point GET at {connections} connections: {get:.0} req/s");
    println!("    vs /healthz {healthz:.0} req/s: x{:.3}", get / healthz);
    println!("    vs the record's SELECT on the database alone {select:.0}/s: x{:.3}", get / select);

    // 2. Deep pages: walk to 80% of the list with big pages, then time pages of 25 there.
    for sort in ["-created_at", "name", "-updated_at"] {
        let mut cursor = String::new();
        let mut walked = 0;
        while walked < rows * 8 / 10 {
            let page =
                app.get(&format!("/api/v1/contacts?sort={sort}&limit=100{cursor}"), &admin).await.assert_status(200);
            walked += 100;
            cursor = format!("&cursor={}", page.body["next_cursor"].as_str().expect("more pages"));
        }
        let first =
            quantile(0.99, async || app.get(&format!("/api/v1/contacts?sort={sort}&limit=25"), &admin).await.status)
                .await;
        let deep = quantile(0.99, async || {
            app.get(&format!("/api/v1/contacts?sort={sort}&limit=25{cursor}"), &admin).await.status
        })
        .await;
        println!(
            "  list sort={sort:<12} page at row {walked}: p99 {:.2} ms vs page 1 {:.2} ms: x{:.2}",
            ms(deep),
            ms(first),
            deep.as_secs_f64() / first.as_secs_f64()
        );
    }

    // 3. Text search for a rare term against a point read.
    let rare = format!("person{}", rows * 7 / 10);
    let point_p95 = quantile(0.95, async || app.get(&point, &admin).await.status).await;
    let list_q = quantile(0.95, async || app.get(&format!("/api/v1/contacts?q={rare}"), &admin).await.status).await;
    let search_q =
        quantile(0.95, async || app.post("/api/v1/contacts/search", &admin, &json!({"q": rare})).await.status).await;
    println!("  point GET p95 {:.2} ms", ms(point_p95));
    println!("    GET ?q={rare} p95 {:.2} ms: x{:.2}", ms(list_q), list_q.as_secs_f64() / point_p95.as_secs_f64());
    println!(
        "    POST /search q={rare} p95 {:.2} ms: x{:.2}",
        ms(search_q),
        search_q.as_secs_f64() / point_p95.as_secs_f64()
    );
}

fn main() {
    let rows = env_number("CRM_BENCH_ROWS", 200_000);
    let connections = env_number("CRM_BENCH_CONNECTIONS", 16) as usize;
    actix_web::rt::System::new().block_on(async move {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            bench(backend, rows, connections).await;
        }
    });
}
