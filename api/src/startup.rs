//! Building and starting the server: bootstrap the database, then bind and serve.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{Logger, from_fn};
use actix_web::{App, HttpServer, web};
use chrono::Utc;
use domain::access::BuiltInRole;
use domain::user::NewUser;
use persistence::{Backend, Store, StoreError, StoreOptions, pipelines, roles, settings, users};
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::credentials::{TokenKeys, hash_password, random_token};
use crate::error::ApiError;
use crate::extract::{json_error, path_error, query_error};
use crate::middleware::request_context;
use crate::rate_limits::RateLimiter;
use crate::routes;
use crate::state::AppState;

/// Serialises start-up steps across processes sharing one database.
const BOOTSTRAP_LOCK: i64 = 0x0c4d_0002;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database ({step}): {source}")]
    Store { step: &'static str, source: StoreError },
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("{0}")]
    Setup(String),
}

/// Opens the database, applies migrations and makes sure roles, the token secret and a
/// first admin exist. Safe to run from several processes at once.
pub fn bootstrap(config: &Config) -> Result<(Store, TokenKeys), StartError> {
    let at = |step: &'static str| move |source: StoreError| StartError::Store { step, source };
    let store = Store::open(
        &config.database_url,
        &StoreOptions { max_connections: config.db_max_connections, checkout_timeout: config.db_checkout_timeout },
    )
    .map_err(at("connecting"))?;
    let applied = store.migrate().map_err(at("migrating"))?;
    if !applied.is_empty() {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    store
        .write_serialized(BOOTSTRAP_LOCK, |conn| roles::sync_builtin(conn, Utc::now()))
        .map_err(at("seeding roles"))?;
    store
        .write_serialized(BOOTSTRAP_LOCK, |conn| pipelines::ensure_default(conn, Utc::now()))
        .map_err(at("default pipeline"))?;
    let secret = match &config.jwt_secret {
        Some(secret) => secret.clone(),
        None => {
            if store.backend() == Backend::Postgres {
                log::warn!("CRM_JWT_SECRET is not set: using a secret generated and kept in the database");
            }
            store
                .write_serialized(BOOTSTRAP_LOCK, |conn| settings::get_or_init(conn, "jwt_secret", &random_token()))
                .map_err(at("token secret"))?
                .into_bytes()
        }
    };
    ensure_first_admin(&store, config)?;
    Ok((store, TokenKeys::new(&secret, config.access_token_ttl)))
}

fn ensure_first_admin(store: &Store, config: &Config) -> Result<(), StartError> {
    let at = |source: StoreError| StartError::Store { step: "first admin", source };
    if store.read(users::count).map_err(at)? > 0 {
        return Ok(());
    }
    let email = config.admin_email.clone().unwrap_or_else(|| "admin@example.com".to_owned());
    let (password, generated) = match &config.admin_password {
        Some(password) => (password.clone(), false),
        None => (random_token(), true),
    };
    let admin = NewUser::parse(&email, "Administrator", &password, BuiltInRole::Admin.key())
        .map_err(|e| StartError::Setup(format!("CRM_ADMIN_EMAIL / CRM_ADMIN_PASSWORD are not usable: {e}")))?;
    let hash = hash_password(admin.password.expose()).map_err(StartError::Setup)?;
    // Re-checked under the lock: another process may have created the first admin meanwhile.
    let created = store.write_serialized(BOOTSTRAP_LOCK, |conn| {
        if users::count(conn)? > 0 {
            return Ok(None);
        }
        users::insert(conn, admin.email.as_str(), &admin.name, &hash, &admin.role_id, Utc::now()).map(Some)
    });
    match created {
        Ok(None) => {}
        Ok(Some(user)) if generated => log::warn!(
            "created the first admin: email {} password {password} (shown once; change it with PATCH /api/v1/users/{})",
            user.email,
            user.id
        ),
        Ok(Some(user)) => log::info!("created the first admin {}", user.email),
        Err(other) => return Err(at(other)),
    }
    Ok(())
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    port: u16,
}

impl Application {
    /// Bootstraps the database and binds `config.listen` (port 0 picks a free port).
    pub fn build(config: Config) -> Result<Self, StartError> {
        let (store, keys) = bootstrap(&config)?;
        let listener = TcpListener::bind(&config.listen)
            .map_err(|source| StartError::Bind { address: config.listen.clone(), source })?;
        let port =
            listener.local_addr().map_err(|source| StartError::Bind { address: config.listen.clone(), source })?.port();
        let workers = config.workers;
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
        crate::job_worker::spawn(
            store.clone(),
            metrics.clone(),
            crate::job_worker::JobWorker {
                worker: app::jobs::Worker {
                    id: persistence::new_id(),
                    lease: config.job_lease,
                    batch: 10,
                    import_batch_rows: config.import_batch_rows,
                    event_handlers: crate::job_worker::EVENT_HANDLERS
                        .iter()
                        .chain(config.extra_event_handlers)
                        .copied()
                        .collect(),
                    webhook_policy: config.webhook_policy,
                    mail: config.mail.clone(),
                    close_solved_after: config.ticket_close_after,
                },
                loops: config.job_workers,
                outbound_loops: config.outbound_workers,
                database_url: config.database_url.clone(),
                poll: config.job_poll_interval,
                purge_interval: config.purge_interval,
                retention: app::jobs::Retention {
                    record_days: config.retention_days,
                    event_days: config.event_retention_days,
                },
            },
        );
        let header_timeout = config.header_timeout;
        let principals = crate::principals::PrincipalCache::new(config.principal_cache_lifetime);
        let database_url = config.database_url.clone();
        let db_slots = crate::state::DbSlots::new(config.db_max_connections, config.db_checkout_timeout);
        let state = web::Data::new(AppState {
            store,
            keys,
            config,
            limiter: std::sync::Arc::new(RateLimiter::default()),
            job_kinds: &crate::job_worker::KINDS,
            in_flight: std::sync::Arc::default(),
            principals,
            db_slots,
            metrics: metrics.clone(),
        });
        crate::principals::follow_other_processes(std::sync::Arc::downgrade(&state), &database_url);
        if state.store.backend() == persistence::Backend::Postgres {
            crate::rate_limits::share(&state.limiter, state.store.clone(), state.config.rate_limit_sync);
        }
        // A client gets `header_timeout` to send its request head and a second to close after
        // an answer; bodies are paced by `guard::screen`.
        let mut server = HttpServer::new(move || app(state.clone()))
            .client_request_timeout(header_timeout)
            .client_disconnect_timeout(std::time::Duration::from_secs(1));
        if let Some(workers) = workers {
            server = server.workers(workers);
        }
        let server =
            server.listen(listener).map_err(|source| StartError::Bind { address: "listener".into(), source })?.run();
        Ok(Self { server, port })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "PUT", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::IF_MATCH])
        .allowed_header("idempotency-key")
        .allowed_header("x-request-id")
        .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER])
        .expose_headers(["x-request-id", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"])
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" { cors.allow_any_origin() } else { cors.allowed_origin(origin) };
    }
    cors
}

/// The application: routes, extractor configuration and middleware.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let max_body = state.config.max_body_bytes;
    let origins = state.config.cors_origins.clone();
    App::new()
        .app_data(state)
        .app_data(web::JsonConfig::default().limit(max_body).content_type_required(true).error_handler(json_error))
        .app_data(web::PayloadConfig::new(max_body))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .wrap(cors(&origins))
        .wrap(from_fn(crate::guard::screen))
        .wrap(from_fn(request_context))
        .wrap(Logger::new(r#"%{r}a "%r" %s %b %Dms request_id=%{x-request-id}o"#))
        .wrap(from_fn(routes::metrics::observe))
        .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", crate::openapi::document()))
        .service(web::redirect("/docs", "/docs/"))
        .service(web::resource("/healthz").route(web::get().to(routes::health::healthz)))
        .service(web::resource("/readyz").route(web::get().to(routes::health::readyz)))
        .service(web::resource("/metrics").route(web::get().to(routes::metrics::serve)))
        .service(web::scope("/api/v1").configure(routes::configure))
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::NotFound(
                "no such resource; the API lives under /api/v1 and is described at /docs".into(),
            ))
        }))
}
