//! Configuration from the environment; every setting is optional for a first run.

use std::time::Duration;

use persistence::DatabaseUrl;

/// Where the embedded default database lives when `DATABASE_URL` is unset.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://crm.sqlite3";
/// The listen address when `CRM_LISTEN` is unset.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub listen: String,
    /// `None` means: use the secret generated and kept in the database.
    pub jwt_secret: Option<Vec<u8>>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests per minute per caller (API key, token or client address).
    pub rate_limit_per_minute: u32,
    /// Login and refresh attempts per minute per client address.
    pub login_rate_limit_per_minute: u32,
    /// Web form submissions per minute per client address.
    pub form_rate_limit_per_minute: u32,
    pub db_max_connections: u32,
    pub db_checkout_timeout: Duration,
    /// Origins a browser app may call from (`CRM_CORS_ORIGINS`, comma-separated).
    pub cors_origins: Vec<String>,
    /// The bearer token `GET /metrics` asks for; without one, metrics are not served.
    pub metrics_token: Option<String>,
    /// Days a soft-deleted record stays restorable before it is purged.
    pub retention_days: u32,
    /// Days a domain event stays in the feed.
    pub event_retention_days: u32,
    /// How often the purge of expired records runs.
    pub purge_interval: Duration,
    /// Worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    /// Largest CSV file an import accepts, in bytes.
    pub import_max_bytes: usize,
    /// Rows an import takes per transaction (its unit of progress and of redo after a crash).
    pub import_batch_rows: usize,
    /// How often idle workers look for queued imports.
    pub job_poll_interval: Duration,
    /// How long a worker holds a claimed job before another may take it.
    pub job_lease: Duration,
    /// Requests one client address may have in flight at once; more are answered 429.
    pub max_requests_per_address: u32,
    /// How fast a request body must arrive (see [`BodyPace`]).
    pub body_pace: BodyPace,
    /// How long a client has to send a request's line and headers.
    pub header_timeout: Duration,
    /// How long a resolved caller is reused without asking the database (0 turns it off).
    pub principal_cache_lifetime: Duration,
    /// How long a solved ticket stays solved before it closes itself.
    pub ticket_close_after: Duration,
    /// Published knowledge-base articles are readable without login.
    pub public_knowledge_base: bool,
    /// Jobs a process runs at once (a long import then does not hold up the rest).
    pub job_workers: usize,
    /// Deliveries (webhooks, email) one process makes at once, on loops of their own.
    pub outbound_workers: usize,
    /// Event handlers besides the product's own (`job_worker::EVENT_HANDLERS`): tests add theirs.
    pub extra_event_handlers: &'static [&'static app::events::EventHandler],
    /// Where webhooks may be delivered besides public addresses (`CRM_WEBHOOKS_ALLOW_LOOPBACK`).
    pub webhook_policy: domain::webhook::Policy,
    /// The SMTP server email leaves through (`CRM_SMTP_*`); none configured sends no email.
    pub mail: Option<domain::email::MailSettings>,
    /// How often a process adds its rate-limit counts to the totals shared on PostgreSQL.
    pub rate_limit_sync: Duration,
}

/// How fast a request body must arrive: after a grace period, at least `min_bytes_per_second`
/// on average since the body started. A trickle (one byte a second) fails after the grace;
/// a slow but real upload does not.
#[derive(Debug, Clone, Copy)]
pub struct BodyPace {
    pub grace: Duration,
    pub min_bytes_per_second: u64,
}

impl BodyPace {
    /// When the body, having `received` bytes so far since `started`, is too slow.
    pub(crate) fn deadline(self, started: actix_web::rt::time::Instant, received: u64) -> actix_web::rt::time::Instant {
        let earned = Duration::from_secs_f64(received as f64 / self.min_bytes_per_second.max(1) as f64);
        started + self.grace + earned
    }
}

/// A setting that is present but unusable; start-up stops with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| ConfigError(format!("{name} must be a whole number, got `{raw}`"))),
    }
}

/// `CRM_SMTP_HOST` turns email on; the rest says how to reach the server and who sends.
fn mail_settings() -> Result<Option<domain::email::MailSettings>, ConfigError> {
    use domain::email::SmtpSecurity;
    let Some(host) = var("CRM_SMTP_HOST").filter(|h| !h.trim().is_empty()) else {
        return Ok(None);
    };
    let security = match var("CRM_SMTP_SECURITY").as_deref().map(str::trim) {
        None | Some("starttls") => SmtpSecurity::StartTls,
        Some("tls") => SmtpSecurity::Tls,
        Some("none") => SmtpSecurity::None,
        Some(other) => {
            return Err(ConfigError(format!("CRM_SMTP_SECURITY must be starttls, tls or none, got `{other}`")));
        }
    };
    let default_port = match security {
        SmtpSecurity::None => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    };
    let from = var("CRM_SMTP_FROM")
        .ok_or_else(|| ConfigError("CRM_SMTP_HOST needs CRM_SMTP_FROM (the sender address)".into()))?;
    if domain::values::EmailAddress::parse(
        "CRM_SMTP_FROM",
        from.rsplit_once('<').map_or(from.as_str(), |(_, a)| a.trim_end_matches('>')),
    )
    .is_err()
    {
        return Err(ConfigError(format!("CRM_SMTP_FROM `{from}` is not an email address")));
    }
    let credentials = match (var("CRM_SMTP_USERNAME"), var("CRM_SMTP_PASSWORD")) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        _ => return Err(ConfigError("CRM_SMTP_USERNAME and CRM_SMTP_PASSWORD go together".into())),
    };
    Ok(Some(domain::email::MailSettings {
        host: host.trim().to_owned(),
        port: number("CRM_SMTP_PORT", default_port)?,
        security,
        credentials,
        from,
        public_url: var("CRM_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{}", var("CRM_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned()))),
    }))
}

fn flag(name: &str) -> Result<bool, ConfigError> {
    match var(name).as_deref().map(str::trim) {
        None | Some("" | "0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(ConfigError(format!("{name} must be true or false, got `{other}`"))),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let database_url = DatabaseUrl::parse(&var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()))
            .map_err(ConfigError)?;
        let jwt_secret = match var("CRM_JWT_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError("CRM_JWT_SECRET must be at least 32 bytes long".into()));
            }
            other => other.map(String::into_bytes),
        };
        let cors_origins = var("CRM_CORS_ORIGINS")
            .map(|raw| raw.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
            .unwrap_or_default();
        Ok(Self {
            database_url,
            listen: var("CRM_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            jwt_secret,
            admin_email: var("CRM_ADMIN_EMAIL"),
            admin_password: var("CRM_ADMIN_PASSWORD"),
            access_token_ttl: Duration::from_secs(number("CRM_ACCESS_TOKEN_TTL_SECONDS", 900)?),
            refresh_token_ttl: Duration::from_secs(number("CRM_REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)?),
            max_body_bytes: number("CRM_MAX_BODY_BYTES", 1024 * 1024)?,
            rate_limit_per_minute: number("CRM_RATE_LIMIT_PER_MINUTE", 1200)?,
            login_rate_limit_per_minute: number("CRM_LOGIN_RATE_LIMIT_PER_MINUTE", 20)?,
            form_rate_limit_per_minute: number("CRM_FORM_RATE_LIMIT_PER_MINUTE", 10)?,
            db_max_connections: number("CRM_DB_MAX_CONNECTIONS", 8)?,
            db_checkout_timeout: Duration::from_millis(number("CRM_DB_TIMEOUT_MS", 5000)?),
            cors_origins,
            metrics_token: var("CRM_METRICS_TOKEN").filter(|token| !token.is_empty()),
            retention_days: number("CRM_RETENTION_DAYS", 30)?,
            event_retention_days: number("CRM_EVENT_RETENTION_DAYS", 30)?,
            purge_interval: Duration::from_secs(number("CRM_PURGE_INTERVAL_SECONDS", 3600)?.max(1)),
            workers: var("CRM_WORKERS")
                .map(|w| w.parse())
                .transpose()
                .map_err(|_| ConfigError("CRM_WORKERS must be a whole number".into()))?,
            import_max_bytes: number("CRM_IMPORT_MAX_BYTES", 50 * 1024 * 1024)?,
            import_batch_rows: number("CRM_IMPORT_BATCH_ROWS", 500_usize)?.max(1),
            job_poll_interval: Duration::from_millis(number("CRM_JOB_POLL_MS", 1000)?.max(10)),
            job_lease: Duration::from_secs(number("CRM_JOB_LEASE_SECONDS", 60)?.max(1)),
            max_requests_per_address: number("CRM_MAX_REQUESTS_PER_ADDRESS", 256)?.max(1),
            body_pace: BodyPace {
                grace: Duration::from_secs(number("CRM_BODY_GRACE_SECONDS", 10)?),
                min_bytes_per_second: number("CRM_BODY_MIN_BYTES_PER_SECOND", 1024)?.max(1),
            },
            header_timeout: Duration::from_secs(number("CRM_HEADER_TIMEOUT_SECONDS", 5)?.max(1)),
            principal_cache_lifetime: Duration::from_secs(number("CRM_PRINCIPAL_CACHE_SECONDS", 30)?),
            ticket_close_after: Duration::from_secs(number("CRM_TICKET_CLOSE_AFTER_SECONDS", 4 * 24 * 3600)?),
            public_knowledge_base: flag("CRM_PUBLIC_KNOWLEDGE_BASE")?,
            job_workers: number("CRM_JOB_WORKERS", 2_usize)?.max(1),
            outbound_workers: number("CRM_OUTBOUND_WORKERS", 2_usize)?.max(1),
            extra_event_handlers: &[],
            webhook_policy: domain::webhook::Policy { allow_loopback: flag("CRM_WEBHOOKS_ALLOW_LOOPBACK")? },
            mail: mail_settings()?,
            rate_limit_sync: Duration::from_millis(number("CRM_RATE_LIMIT_SYNC_MS", 500)?.max(10)),
        })
    }

    /// Defaults for `url`, as a test or embedding program would start from.
    pub fn for_database(database_url: DatabaseUrl) -> Self {
        Self {
            database_url,
            listen: "127.0.0.1:0".into(),
            jwt_secret: None,
            admin_email: None,
            admin_password: None,
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            max_body_bytes: 1024 * 1024,
            rate_limit_per_minute: 1200,
            login_rate_limit_per_minute: 20,
            form_rate_limit_per_minute: 10,
            db_max_connections: 8,
            db_checkout_timeout: Duration::from_secs(5),
            cors_origins: Vec::new(),
            metrics_token: None,
            retention_days: 30,
            event_retention_days: 30,
            purge_interval: Duration::from_secs(3600),
            workers: Some(2),
            import_max_bytes: 50 * 1024 * 1024,
            import_batch_rows: 500,
            job_poll_interval: Duration::from_millis(1000),
            job_lease: Duration::from_secs(60),
            max_requests_per_address: 256,
            body_pace: BodyPace { grace: Duration::from_secs(10), min_bytes_per_second: 1024 },
            header_timeout: Duration::from_secs(5),
            principal_cache_lifetime: Duration::from_secs(30),
            ticket_close_after: Duration::from_secs(4 * 24 * 3600),
            public_knowledge_base: false,
            job_workers: 2,
            outbound_workers: 2,
            extra_event_handlers: &[],
            webhook_policy: domain::webhook::Policy::default(),
            mail: None,
            rate_limit_sync: Duration::from_millis(500),
        }
    }
}
