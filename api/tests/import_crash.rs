//! A crash in the middle of an import: the real `crm` binary is killed (SIGKILL) while it takes
//! rows, and a new process on the same database finishes the import with every row exactly once.
//! Runs on SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use api::config::Config;
use chrono::Utc;
use domain::access::Visibility;
use domain::activity::RecordType;
use domain::filter::{Catalogue, Filter, SearchSort};
use e2e::{TestApp, fresh_database, on_both_backends};
use persistence::search::SearchRequest;
use persistence::{DatabaseUrl, Store, StoreOptions};
use serde_json::json;

mod common;
use common::ServerProcess;

const ROWS: usize = 3_000;
const BATCH: usize = 50;
const LEASE_SECONDS: u64 = 3;

async fn start_server(url: &DatabaseUrl) -> (ServerProcess, String) {
    let settings = [
        ("CRM_IMPORT_BATCH_ROWS", BATCH.to_string()),
        ("CRM_JOB_LEASE_SECONDS", LEASE_SECONDS.to_string()),
        ("CRM_JOB_POLL_MS", "100".to_owned()),
    ];
    common::start_server(url, &settings).await
}

/// What the database holds right now: the import's committed progress and the contacts.
fn committed(url: &DatabaseUrl, import_id: &str) -> (i64, usize) {
    let store = Store::open(url, &StoreOptions::default()).expect("the database opens");
    store
        .read(|conn| {
            let progress = persistence::imports::find(conn, import_id)?.counts.processed;
            let catalogue = Catalogue { record_type: RecordType::Contact, custom: vec![], company_custom: vec![] };
            let sort = SearchSort::parse(None, &catalogue).map_err(|e| persistence::StoreError::Internal(e.message))?;
            let related = persistence::search::RelatedVisibility {
                companies: Visibility::Everything,
                deals: Visibility::Everything,
                activities: Visibility::Everything,
            };
            let everything =
                SearchRequest { filter: Filter::everything(), q: None, sort, after: None, limit: 1_000_000, related };
            let contacts = persistence::contacts::search(conn, &Visibility::Everything, &everything)?.items.len();
            Ok::<_, persistence::StoreError>((progress, contacts))
        })
        .expect("the database is readable")
}

on_both_backends! {
    async fn an_import_killed_mid_way_resumes_with_no_row_lost_or_taken_twice(backend) {
        let (_db, url) = fresh_database(backend);
        let config = Config::for_database(url.clone());
        let (first, base) = start_server(&url).await;
        let app = TestApp::connect(base, config.clone()).await;
        let mut file = String::from("first_name,last_name,emails\n");
        for n in 0..ROWS {
            file.push_str(&format!("Person,{n:05},person{n}@crash.example\n"));
        }
        // `create`: a row taken twice would be a second contact, not a skipped row.
        let options = json!({"record_type": "contact", "dedupe": "create"});
        let accepted = app.upload_import(&app.admin_token, &options, file.as_bytes()).await.assert_status(202);
        let id = accepted.str("id");

        // Kill the process once a few batches are in, long before the end.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let import = app.get(&format!("/api/v1/imports/{id}"), &app.admin_token).await.assert_status(200).body;
            if import["counts"]["processed"].as_i64().unwrap_or(0) >= 5 * BATCH as i64 {
                break;
            }
            assert!(Instant::now() < deadline, "the import did not start: {import}");
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        drop(first);

        // Only whole batches were committed, each with exactly its rows.
        let (processed, contacts) = committed(&url, &id);
        assert!(processed > 0 && (processed as usize) < ROWS, "the kill came too late: {processed} of {ROWS}");
        assert_eq!(processed as usize % BATCH, 0, "progress is committed per batch");
        assert_eq!(contacts, processed as usize, "the committed rows and the committed progress agree");

        // A new process takes over once the dead one's lease runs out, and finishes.
        let started = Utc::now();
        let (_second, base) = start_server(&url).await;
        let app = TestApp::connect(base, config).await;
        let import = app.wait_for_import(&app.admin_token, &id).await;
        assert_eq!(import["status"], "completed", "{import}");
        assert_eq!(import["counts"], json!({"processed": ROWS, "created": ROWS, "updated": 0, "skipped": 0, "failed": 0}));
        let (_, contacts) = committed(&url, &id);
        assert_eq!(contacts, ROWS);
        let export = app.get("/api/v1/contacts/export?columns=emails", &app.admin_token).await.assert_status(200).text;
        let emails: std::collections::BTreeSet<&str> = export.lines().skip(1).collect();
        assert_eq!(emails.len(), ROWS, "every row became one contact");
        assert!(Utc::now() - started >= chrono::TimeDelta::seconds(LEASE_SECONDS as i64 - 1), "the lease was honoured");
    }
}
