//! Running the real `crm` binary from `api`'s integration tests (only they get
//! `CARGO_BIN_EXE_crm`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{ADMIN_EMAIL, ADMIN_PASSWORD};
use persistence::DatabaseUrl;

/// The `crm` binary serving a database on a free port; killed when dropped.
pub struct ServerProcess(pub Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `crm serve` on `url` with the test admin, a fixed JWT secret and `settings` on top,
/// and waits until it listens: the process and its base URL.
pub async fn start_server(url: &DatabaseUrl, settings: &[(&str, String)]) -> (ServerProcess, String) {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port");
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm"));
    command
        .arg("serve")
        .env("DATABASE_URL", url.expose())
        .env("CRM_LISTEN", format!("127.0.0.1:{port}"))
        .env("CRM_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CRM_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CRM_JWT_SECRET", "process test secret that is at least 32 bytes")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in settings {
        command.env(name, value);
    }
    let server = ServerProcess(command.spawn().expect("the crm binary starts"));
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpListener::bind(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the crm binary did not listen on {port}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base)
}
