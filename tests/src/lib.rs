//! Harness for end-to-end tests: the real server on port 0, a fresh database per test
//! (a new SQLite file, or a new PostgreSQL database), and a small HTTP client that reads
//! like a client would.
//!
//! PostgreSQL is found at `CRM_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`).
//! An unreachable PostgreSQL fails the PostgreSQL tests; `CRM_TEST_SKIP_POSTGRES=1` skips
//! them loudly, and is refused when `CI=true`.

use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use api::config::Config;
use api::startup::Application;
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use persistence::DatabaseUrl;
use serde_json::{Value, json};

pub mod receiver;
pub mod smtp;

/// Password of the first admin in every test app.
pub const ADMIN_PASSWORD: &str = "admin password 123";
/// Email of the first admin in every test app.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The JWT secret of every test app, so tests can forge and expire tokens.
pub const JWT_SECRET: &[u8] = b"test secret that is at least 32 bytes long";

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend for each scenario:
/// `on_both_backends! { async fn name(backend) { ... } }` gives `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[actix_web::test]
                async fn $name() {
                    let $backend = $crate::Backend::Sqlite;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[actix_web::test]
                async fn $name() {
                    if $crate::skip_postgres() {
                        return;
                    }
                    let $backend = $crate::Backend::Postgres;
                    $body
                }
            )*
        }
    };
}

/// True when PostgreSQL tests were explicitly skipped (never in CI).
pub fn skip_postgres() -> bool {
    let skip = std::env::var("CRM_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if skip {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CRM_TEST_SKIP_POSTGRES is refused in CI");
        eprintln!("SKIPPED: PostgreSQL test (CRM_TEST_SKIP_POSTGRES=1)");
    }
    skip
}

fn postgres_server_url() -> String {
    std::env::var("CRM_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A database made for one test and removed after it.
pub enum TestDb {
    Sqlite(tempfile_dir::TempDir),
    Postgres {
        name: String,
    },
    /// Another `TestApp` owns the database.
    Borrowed,
}

/// A minimal temporary directory, removed on drop.
pub mod tempfile_dir {
    /// A directory under the system temp dir.
    pub struct TempDir(pub std::path::PathBuf);

    impl TempDir {
        /// Creates a fresh, uniquely named directory.
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!("crm-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).expect("temp dir is creatable");
            Self(path)
        }
    }

    impl Default for TempDir {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TestDb {
    fn create(backend: Backend) -> (Self, DatabaseUrl) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile_dir::TempDir::new();
                let url = format!("sqlite://{}", dir.0.join("crm.sqlite3").display());
                (TestDb::Sqlite(dir), DatabaseUrl::parse(&url).expect("valid sqlite url"))
            }
            Backend::Postgres => {
                let server = postgres_server_url();
                let name = format!("crm_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&format!("{server}/postgres")).unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {server} ({e}). Start it, set CRM_TEST_POSTGRES_URL, \
                         or set CRM_TEST_SKIP_POSTGRES=1 to skip the PostgreSQL tests outside CI."
                    )
                });
                admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("test database is creatable");
                let url = DatabaseUrl::parse(&format!("{server}/{name}")).expect("valid postgres url");
                (TestDb::Postgres { name }, url)
            }
        }
    }

    /// Drops a PostgreSQL test database now, cutting the server off from it.
    pub fn drop_postgres_now(&self) {
        if let TestDb::Postgres { name } = self {
            drop_postgres_database(name);
        }
    }
}

fn drop_postgres_database(name: &str) {
    if let Ok(mut admin) = PgConnection::establish(&format!("{}/postgres", postgres_server_url())) {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { name } = self {
            drop_postgres_database(name);
        }
    }
}

/// A running server with a fresh database and a signed-in admin.
pub struct TestApp {
    pub base: String,
    pub backend: Backend,
    pub admin_token: String,
    pub db: TestDb,
    /// The configuration the server started with (its database included).
    pub config: Config,
    client: awc::Client,
}

/// An answer as a test looks at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Panics with the body when the status is not `expected`.
    #[track_caller]
    pub fn assert_status(self, expected: u16) -> Self {
        assert_eq!(self.status, expected, "unexpected status; body: {}", self.text);
        self
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    /// `body[field]` as a string.
    pub fn str(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_owned()
    }

    /// Panics unless this is a problem+json answer with the given status and a request id.
    #[track_caller]
    pub fn assert_problem(self, expected: u16) -> Self {
        let reply = self.assert_status(expected);
        assert_eq!(reply.header("content-type").as_deref(), Some("application/problem+json"), "{}", reply.text);
        assert_eq!(reply.body["status"], json!(expected), "{}", reply.text);
        assert!(reply.body["request_id"].is_string(), "problem without request_id: {}", reply.text);
        assert!(reply.body["title"].is_string() && reply.body["detail"].is_string(), "{}", reply.text);
        reply
    }

    /// The `field` names of a validation problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }
}

/// A request being built.
pub struct Req<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl Req<'_> {
    /// Adds `Authorization: Bearer <token>`.
    pub fn token(mut self, token: &str) -> Self {
        self.headers.push(("authorization".into(), format!("Bearer {token}")));
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends `value` as `application/json`.
    pub fn json(self, value: &Value) -> Self {
        self.raw("application/json", value.to_string().into_bytes())
    }

    /// Sends raw bytes with a content type.
    pub fn raw(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.body = Some((content_type.into(), body));
        self
    }

    /// Sends the request and reads the whole answer.
    pub async fn send(self) -> Reply {
        let url = format!("{}{}", self.app.base, self.path);
        let mut request = self.app.client.request(self.method, &url);
        for (name, value) in &self.headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }
        let response = match self.body {
            Some((content_type, body)) => request.insert_header(("content-type", content_type)).send_body(body).await,
            None => request.send().await,
        };
        let mut response = response.unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
        let bytes = response.body().limit(64 * 1024 * 1024).await.expect("answer body is readable");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        }
    }
}

fn start_server(config: Config) -> String {
    let application = Application::build(config).expect("test server starts");
    let base = format!("http://127.0.0.1:{}", application.port());
    actix_web::rt::spawn(application.run_until_stopped());
    base
}

/// A fresh database and its URL, for tests that start servers themselves.
pub fn fresh_database(backend: Backend) -> (TestDb, DatabaseUrl) {
    TestDb::create(backend)
}

impl TestApp {
    /// Starts a server on a fresh database of `backend`.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server, letting the test adjust the configuration first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let (db, url) = TestDb::create(backend);
        let mut config = Config::for_database(url);
        config.admin_email = Some(ADMIN_EMAIL.into());
        config.admin_password = Some(ADMIN_PASSWORD.into());
        config.jwt_secret = Some(JWT_SECRET.to_vec());
        config.workers = Some(1);
        config.db_max_connections = 4;
        config.login_rate_limit_per_minute = 1000;
        config.job_poll_interval = Duration::from_millis(50);
        adjust(&mut config);
        let base = start_server(config.clone());
        let client = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
        let mut app = TestApp { base, backend, admin_token: String::new(), db, config, client };
        app.admin_token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        app
    }

    /// Starts a server on a database a test prepared itself (the test keeps it alive).
    pub async fn spawn_on(config: Config) -> Self {
        let backend = match config.database_url.backend() {
            persistence::Backend::Sqlite => Backend::Sqlite,
            persistence::Backend::Postgres => Backend::Postgres,
        };
        let base = start_server(config.clone());
        let client = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
        let mut app = TestApp { base, backend, admin_token: String::new(), db: TestDb::Borrowed, config, client };
        app.admin_token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        app
    }

    /// A client for a server running elsewhere (another process) on `config`'s database, signed
    /// in as the first admin.
    pub async fn connect(base: String, config: Config) -> Self {
        let backend = match config.database_url.backend() {
            persistence::Backend::Sqlite => Backend::Sqlite,
            persistence::Backend::Postgres => Backend::Postgres,
        };
        let client = awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish();
        let mut app = TestApp { base, backend, admin_token: String::new(), db: TestDb::Borrowed, config, client };
        app.admin_token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        app
    }

    /// Starts another server process-alike on the same database, as a restart or a second
    /// instance behind a load balancer would; returns a client aimed at it.
    pub fn second_server(&self) -> TestApp {
        let base = start_server(self.config.clone());
        TestApp {
            base,
            backend: self.backend,
            admin_token: self.admin_token.clone(),
            db: TestDb::Borrowed,
            config: self.config.clone(),
            client: awc::Client::builder().disable_redirects().timeout(Duration::from_secs(30)).finish(),
        }
    }

    /// Starts building a request.
    pub fn request(&self, method: Method, path: &str) -> Req<'_> {
        Req { app: self, method, path: path.to_owned(), headers: Vec::new(), body: None }
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path).token(token).send().await
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.request(Method::POST, path).token(token).json(body).send().await
    }

    /// PATCH JSON with a token.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.request(Method::PATCH, path).token(token).json(body).send().await
    }

    /// DELETE with a token.
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.request(Method::DELETE, path).token(token).send().await
    }

    /// Uploads a CSV import: a multipart body with the `options` JSON and the `file`.
    pub async fn upload_import(&self, token: &str, options: &Value, file: &[u8]) -> Reply {
        let boundary = "crm-e2e-boundary-5d1f0c";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\nContent-Type: application/json\r\n\r\n{options}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.request(Method::POST, "/api/v1/imports")
            .token(token)
            .raw(&format!("multipart/form-data; boundary={boundary}"), body)
            .send()
            .await
    }

    /// Polls an import until it completes or fails (at most two minutes): its last view.
    pub async fn wait_for_import(&self, token: &str, id: &str) -> Value {
        self.wait_for_import_up_to(token, id, Duration::from_secs(120)).await
    }

    /// Polls an import until it completes or fails, at most `limit`: its last view.
    pub async fn wait_for_import_up_to(&self, token: &str, id: &str, limit: Duration) -> Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let import = self.get(&format!("/api/v1/imports/{id}"), token).await.assert_status(200).body;
            if import["status"] == "completed" || import["status"] == "failed" {
                return import;
            }
            assert!(std::time::Instant::now() < deadline, "import {id} did not finish: {import}");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every record of a list, following `next_cursor`.
    /// The first feed page of one event type once it holds at least `at_least` events (or
    /// after 10 s): the feed shows an event once the dispatcher has numbered it, a moment after
    /// its transaction committed.
    pub async fn events_once(&self, token: &str, event_type: &str, at_least: usize) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let page = self.get(&format!("/api/v1/events?type={event_type}"), token).await.assert_status(200).body;
            let count = page["data"].as_array().map_or(0, Vec::len);
            if count >= at_least || std::time::Instant::now() > deadline {
                return page;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn list_all(&self, path: &str, token: &str) -> Vec<Value> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let url = match &cursor {
                Some(c) => format!("{path}{separator}limit=100&cursor={c}"),
                None => format!("{path}{separator}limit=100"),
            };
            let page = self.get(&url, token).await.assert_status(200).body;
            records.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return records,
            }
        }
    }

    /// Signs in and returns the whole token answer.
    pub async fn login_reply(&self, email: &str, password: &str) -> Reply {
        self.request(Method::POST, "/api/v1/auth/login")
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        self.login_reply(email, password).await.assert_status(200).str("access_token")
    }

    /// Creates a user with `role` (as admin) and signs them in: (user id, access token).
    pub async fn user_with_role(&self, email: &str, role: &str) -> (String, String) {
        let password = "user password 1234";
        let created = self
            .post(
                "/api/v1/users",
                &self.admin_token,
                &json!({"email": email, "name": email, "password": password, "role_id": role}),
            )
            .await
            .assert_status(201);
        (created.str("id"), self.login(email, password).await)
    }

    /// Creates a team with these members: the team id.
    pub async fn team_with(&self, name: &str, members: &[&str]) -> String {
        let team = self.post("/api/v1/teams", &self.admin_token, &json!({"name": name})).await.assert_status(201);
        let id = team.str("id");
        for member in members {
            self.request(Method::PUT, &format!("/api/v1/teams/{id}/members/{member}"))
                .token(&self.admin_token)
                .send()
                .await
                .assert_status(200);
        }
        id
    }
}
