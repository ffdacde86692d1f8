//! `GET /metrics` in Prometheus' text format: requests by route template, method and status,
//! latency per route, the database turns and pool, job runs, and (read at scrape time) the job
//! queue's depth and age per kind and state. Served only with `CRM_METRICS_TOKEN` set, to a
//! caller presenting it as a bearer token.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use prometheus::{Encoder, IntCounter, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::error::ApiError;
use crate::state::AppState;

/// Records every answer's route template, method, status and latency.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let response = next.call(request).await?;
    let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    if let Some(state) = response.request().app_data::<web::Data<AppState>>() {
        let metrics = &state.metrics;
        let status = response.status().as_u16().to_string();
        metrics.requests.with_label_values(&[&route, &method, &status]).inc();
        metrics.latency.with_label_values(&[&route, &method]).observe(started.elapsed().as_secs_f64());
    }
    Ok(response)
}

/// What a scrape reads from the database.
struct Stored {
    queue: Vec<persistence::jobs::QueueFigures>,
    oldest_undispatched: Option<chrono::DateTime<Utc>>,
}

/// The gauges read at scrape time: the database turns and pool, the job queue, the event lag.
fn gauges(state: &AppState, stored: &Stored) -> prometheus::Result<Vec<prometheus::proto::MetricFamily>> {
    let registry = Registry::new();
    let db = IntGaugeVec::new(
        Opts::new("crm_db_turns", "Database turns (one per pooled connection): size, in use, waiting"),
        &["state"],
    )?;
    let turns = state.db_slots.figures();
    db.with_label_values(&["size"]).set(turns.size);
    db.with_label_values(&["in_use"]).set(turns.in_use);
    db.with_label_values(&["waiting"]).set(turns.waiting);
    let timeouts =
        IntCounter::new("crm_db_turn_timeouts_total", "Requests told the database is busy (503) since start")?;
    timeouts.inc_by(u64::try_from(turns.timeouts).unwrap_or(0));
    let pool = IntGaugeVec::new(Opts::new("crm_db_pool_connections", "Pooled connections: open and idle"), &["state"])?;
    let (open, idle) = state.store.pool_figures();
    pool.with_label_values(&["open"]).set(i64::from(open));
    pool.with_label_values(&["idle"]).set(i64::from(idle));
    let depth = IntGaugeVec::new(Opts::new("crm_jobs", "Jobs in the queue, by kind and state"), &["kind", "state"])?;
    let age = IntGaugeVec::new(
        Opts::new("crm_job_oldest_age_seconds", "How long the oldest due job of a kind and state has waited"),
        &["kind", "state"],
    )?;
    let now = Utc::now();
    for figures in &stored.queue {
        depth.with_label_values(&[&figures.kind, figures.state.as_str()]).set(figures.count);
        if let Some(oldest) = figures.oldest_due {
            age.with_label_values(&[&figures.kind, figures.state.as_str()]).set((now - oldest).num_seconds().max(0));
        }
    }
    let lag = IntGauge::new(
        "crm_event_dispatch_lag_seconds",
        "How long ago the oldest event not yet handed to its handlers happened (0: none waiting)",
    )?;
    lag.set(stored.oldest_undispatched.map_or(0, |at| (now - at).num_seconds().max(0)));
    registry.register(Box::new(timeouts))?;
    registry.register(Box::new(lag))?;
    for metric in [db, pool, depth, age] {
        registry.register(Box::new(metric))?;
    }
    Ok(registry.gather())
}

/// The metrics, to a caller with the metrics token.
pub async fn serve(state: web::Data<AppState>, request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let Some(expected) = state.config.metrics_token.as_deref() else {
        return Err(ApiError::NotFound("metrics are off; set CRM_METRICS_TOKEN to serve them".into()));
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if !presented.is_some_and(|token| crate::credentials::same_secret(token, expected)) {
        return Err(ApiError::Unauthorized("send the metrics token as `Authorization: Bearer <token>`".into()));
    }
    let stored = state
        .read(|conn| {
            Ok(Stored {
                queue: persistence::jobs::queue_figures(conn)?,
                oldest_undispatched: app::dispatch::oldest_undispatched(conn)?,
            })
        })
        .await?;
    let mut families = state.metrics.registry.gather();
    families.extend(gauges(&state, &stored).map_err(|e| ApiError::Internal(format!("metrics: {e}")))?);
    let mut body = Vec::new();
    TextEncoder::new().encode(&families, &mut body).map_err(|e| ApiError::Internal(format!("metrics: {e}")))?;
    Ok(HttpResponse::Ok().content_type(prometheus::TEXT_FORMAT).body(body))
}
