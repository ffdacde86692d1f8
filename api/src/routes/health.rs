//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extract::NoParams;
use crate::state::AppState;

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    #[schema(example = "ok")]
    pub status: String,
}

/// The process is alive.
#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "healthz",
    summary = "Liveness", description = "Answers 200 while the process runs; touches no database.",
    params(NoParams),
    responses(
        (status = 200, description = "Alive", body = HealthStatus),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn healthz(_: web::Query<NoParams>) -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok".into() })
}

/// The database answers and every migration is applied.
#[utoipa::path(
    get, path = "/readyz", tag = "operations", operation_id = "readyz",
    summary = "Readiness", description = "Answers 200 when the database is reachable and fully migrated, 503 otherwise.",
    params(NoParams),
    responses(
        (status = 200, description = "Ready", body = HealthStatus),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unreachable or migrations pending", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(state: web::Data<AppState>, _: web::Query<NoParams>) -> Result<HttpResponse, ApiError> {
    let store = state.store.clone();
    let ready = web::block(move || store.is_ready())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(format!("the database is not reachable: {e}")))?;
    if ready {
        Ok(HttpResponse::Ok().json(HealthStatus { status: "ready".into() }))
    } else {
        Err(ApiError::Unavailable("database migrations are pending; run `crm migrate`".into()))
    }
}
