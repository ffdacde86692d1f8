//! `crm`: the CRM server and its admin commands.

use std::process::ExitCode;

use api::config::Config;
use api::startup::{Application, bootstrap};
use chrono::Utc;
use domain::user::NewUser;
use persistence::{Store, StoreOptions, users};

const USAGE: &str = "usage: crm [serve | migrate | openapi | create-admin EMAIL NAME]

  serve         start the server (default)
  migrate       apply database migrations and exit
  openapi       print the OpenAPI document to stdout
  create-admin  create an admin user; the password is read from CRM_ADMIN_PASSWORD
  healthcheck   exit 0 when the server on CRM_LISTEN answers /healthz (for containers)

Configuration comes from the environment: DATABASE_URL (default sqlite://crm.sqlite3),
CRM_LISTEN (default 127.0.0.1:8080), CRM_JWT_SECRET, CRM_ADMIN_EMAIL, CRM_ADMIN_PASSWORD,
RUST_LOG. See README.md for the full list.";

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map_or("serve", String::as_str);
    let result = match command {
        "serve" => serve(),
        "migrate" => migrate(),
        "openapi" => {
            println!("{}", api::openapi::document_json());
            Ok(())
        }
        "create-admin" => create_admin(&args[1..]),
        "healthcheck" => healthcheck(),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            log::error!("{message}");
            eprintln!("crm: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    log::info!("database {}", config.database_url.redacted());
    let listen = config.listen.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config).map_err(|e| e.to_string())?;
        log::info!("listening on {listen} (port {}); documentation at /docs", app.port());
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn migrate() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    bootstrap(&config).map_err(|e| e.to_string())?;
    log::info!("database {} is up to date", config.database_url.redacted());
    Ok(())
}

fn create_admin(args: &[String]) -> Result<(), String> {
    let [email, name] = args else {
        return Err(format!("create-admin needs EMAIL and NAME\n\n{USAGE}"));
    };
    let password = std::env::var("CRM_ADMIN_PASSWORD")
        .map_err(|_| "set CRM_ADMIN_PASSWORD to the new admin's password".to_owned())?;
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let admin =
        NewUser::parse(email, name, &password, domain::access::BuiltInRole::Admin.key()).map_err(|e| e.to_string())?;
    let store = Store::open(&config.database_url, &StoreOptions::default()).map_err(|e| e.to_string())?;
    store.migrate().map_err(|e| e.to_string())?;
    store.write(|conn| persistence::roles::sync_builtin(conn, Utc::now())).map_err(|e| e.to_string())?;
    let hash = api::credentials::hash_password(admin.password.expose())?;
    let user = store
        .write(|conn| users::insert(conn, admin.email.as_str(), &admin.name, &hash, &admin.role_id, Utc::now()))
        .map_err(|e| match e {
            persistence::StoreError::Conflict(_) => {
                format!("a user with email {email} already exists")
            }
            other => other.to_string(),
        })?;
    println!("created admin {} ({})", user.email, user.id);
    Ok(())
}

/// Asks the local server for `/healthz` over plain HTTP, so a container needs no curl.
fn healthcheck() -> Result<(), String> {
    use std::io::{Read, Write};
    let listen = std::env::var("CRM_LISTEN").unwrap_or_else(|_| api::config::DEFAULT_LISTEN.to_owned());
    let port = listen.rsplit(':').next().unwrap_or("8080");
    let address = format!("127.0.0.1:{port}");
    let timeout = std::time::Duration::from_secs(3);
    let socket = address.parse().map_err(|e| format!("bad address {address}: {e}"))?;
    let mut stream = std::net::TcpStream::connect_timeout(&socket, timeout).map_err(|e| format!("{address}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    if answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!("unhealthy: {}", answer.lines().next().unwrap_or("no answer")))
    }
}
