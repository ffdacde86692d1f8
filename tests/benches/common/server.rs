//! The server a throughput benchmark measures: two workers, a 16-connection pool, no rate
//! limits, room for many clients from one address; and a store of its own on the same
//! database for baselines that bypass the server.

use e2e::{Backend, TestApp};
use persistence::{Store, StoreOptions};

/// The running server, a store on its database, and the admin's user id.
pub async fn bench_server(backend: Backend) -> (TestApp, Store, String) {
    let app = TestApp::spawn_with(backend, |config| {
        config.workers = Some(2);
        config.db_max_connections = 16;
        config.rate_limit_per_minute = u32::MAX;
        config.max_requests_per_address = 4096;
    })
    .await;
    let owner = app.get("/api/v1/me", &app.admin_token).await.assert_status(200).str("id");
    let store = Store::open(&app.config.database_url, &StoreOptions { max_connections: 16, ..Default::default() })
        .expect("bench store opens");
    (app, store, owner)
}
