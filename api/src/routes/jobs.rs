//! `/api/v1/jobs` (admins): the background job queue, and retrying or cancelling a job.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::jobs::JobState;
use persistence::jobs::Job;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, NoParams};
use crate::state::AppState;
use crate::support::{id_page, id_page_limit};
use app::actor::Actor;
use app::error::AppError;
use persistence::DbConnection;

/// A background job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    #[schema(example = "maintenance.purge")]
    pub kind: String,
    #[schema(value_type = Value)]
    pub payload: serde_json::Value,
    pub state: JobState,
    /// Higher runs first.
    pub priority: i32,
    /// Not before this time (the next attempt's, for a retryable job).
    pub run_at: DateTime<Utc>,
    /// Attempts started so far.
    pub attempt: i32,
    pub max_attempts: i32,
    /// At most one unfinished job of the kind has it.
    pub unique_key: Option<String>,
    /// The worker holding a running job, and until when.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Raised by every claim; a worker holding an older one can no longer finish the job.
    pub fencing_token: i64,
    /// The latest failures, oldest first.
    pub errors: Vec<JobError>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<Job> for JobView {
    type Error = ApiError;

    fn try_from(job: Job) -> Result<Self, ApiError> {
        let unreadable = |e: serde_json::Error| ApiError::Internal(format!("a stored job is unreadable: {e}"));
        Ok(JobView {
            payload: serde_json::from_str(&job.payload).map_err(unreadable)?,
            errors: serde_json::from_str(&job.errors).map_err(unreadable)?,
            id: job.id,
            kind: job.kind,
            state: job.state,
            priority: job.priority,
            run_at: job.run_at,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            unique_key: job.unique_key,
            lease_owner: job.lease_owner,
            lease_expires_at: job.lease_expires_at,
            fencing_token: job.fencing_token,
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        })
    }
}

/// One failed attempt of a job.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobError {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub error: String,
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub data: Vec<JobView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Which jobs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobListParams {
    pub kind: Option<String>,
    pub state: Option<JobState>,
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists jobs.
#[utoipa::path(
    get, path = "/api/v1/jobs", tag = "jobs", operation_id = "list_jobs", summary = "List jobs",
    description = "Admins only. Newest first, by kind and state.",
    params(JobListParams),
    responses((status = 200, description = "A page of jobs", body = JobPage), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<JobListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let limit = id_page_limit(params.limit)?;
    let found = state
        .read(move |conn| {
            let (kind, before) = (params.kind.as_deref(), params.cursor.as_deref());
            Ok(app::jobs::list(conn, &caller, kind, params.state, before, limit + 1)?)
        })
        .await?;
    let (found, next_cursor) = id_page(found, limit, |job| &job.id);
    let data = found.into_iter().map(JobView::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(JobPage { data, next_cursor }))
}

/// Reads one job.
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}", tag = "jobs", operation_id = "get_job", summary = "Get a job",
    description = "Admins only.",
    params(("id" = String, Path, description = "Job id"), NoParams),
    responses((status = 200, description = "The job", body = JobView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let job = state.read(move |conn| Ok(app::jobs::find(conn, &caller, &id)?)).await?;
    Ok(HttpResponse::Ok().json(JobView::try_from(job)?))
}

/// Runs a failed job again.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/retry", tag = "jobs", operation_id = "retry_job", summary = "Retry a job",
    description = "Admins only. A retryable, discarded or cancelled job becomes available now (with one more attempt if it had none left); any other state is 409, as is a live job holding the same unique key.",
    params(("id" = String, Path, description = "Job id"), NoParams),
    responses((status = 200, description = "The job", body = JobView), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    steer(&state, caller, id.into_inner(), app::jobs::retry).await
}

/// Runs an admin's step on one job and answers the job as it is after it.
async fn steer(
    state: &AppState,
    caller: Caller,
    id: String,
    step: impl FnOnce(&mut DbConnection, &Actor, &str) -> Result<Job, AppError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let job = state.write(move |conn| Ok(step(conn, &caller, &id)?)).await?;
    Ok(HttpResponse::Ok().json(JobView::try_from(job)?))
}

/// Cancels a job.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs", operation_id = "cancel_job", summary = "Cancel a job",
    description = "Admins only. A job that has not finished is cancelled; a running one's worker can no longer finish it, and what it worked on is told (a cancelled import fails). A finished job is 409.",
    params(("id" = String, Path, description = "Job id"), NoParams),
    responses((status = 200, description = "The job", body = JobView), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let kinds = state.job_kinds;
    steer(&state, caller, id.into_inner(), move |conn, actor, id| app::jobs::cancel(conn, actor, id, kinds)).await
}

/// How many probes to enqueue.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeInput {
    #[schema(minimum = 1, maximum = 10000, example = 100)]
    pub count: u32,
}

/// Probes enqueued.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbesEnqueued {
    pub enqueued: u32,
}

/// Probe jobs in one state.
#[derive(Debug, Serialize, ToSchema)]
pub struct StateCount {
    pub state: String,
    pub count: i64,
}

/// What the probes show of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeReportView {
    /// Probe jobs by state.
    pub jobs: Vec<StateCount>,
    /// Probes whose effect exists (one row per job, whatever ran it).
    pub effects: usize,
    /// Effects reached by more than one run: a worker died between the effect and the job's
    /// completion, and another ran the job again.
    pub rerun: usize,
    /// From enqueueing to the start of the run, median and 99th percentile, in milliseconds.
    pub wait_p50_ms: i64,
    pub wait_p99_ms: i64,
}

/// Enqueues probe jobs.
#[utoipa::path(
    post, path = "/api/v1/jobs/probes", tag = "jobs", operation_id = "enqueue_probes", summary = "Enqueue probe jobs",
    description = "Admins only. `count` (1 to 10,000) jobs of kind `diagnostics.probe`, whose effect is one row each: GET /api/v1/jobs/probes then shows that every process's workers ran each once and how long jobs wait to start.",
    params(NoParams),
    request_body(content = ProbeInput, example = json!({"count": 100})),
    responses((status = 202, description = "Enqueued", body = ProbesEnqueued), crate::error::CreateErrors),
    security(("bearer" = []))
)]
pub async fn enqueue_probes(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    body: web::Json<ProbeInput>,
) -> Result<HttpResponse, ApiError> {
    let count = body.count;
    let enqueued = state.write(move |conn| Ok(app::jobs::enqueue_probes(conn, &caller, count)?)).await?;
    Ok(HttpResponse::Accepted().json(ProbesEnqueued { enqueued }))
}

/// Reports on the probes.
#[utoipa::path(
    get, path = "/api/v1/jobs/probes", tag = "jobs", operation_id = "probe_report", summary = "Probe report",
    description = "Admins only. Probe jobs by state, their effects, the ones run twice, and the wait from enqueueing to start.",
    params(NoParams),
    responses((status = 200, description = "The report", body = ProbeReportView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn probe_report(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let report = state.read(move |conn| Ok(app::jobs::probe_report(conn, &caller)?)).await?;
    Ok(HttpResponse::Ok().json(ProbeReportView {
        jobs: report.jobs.into_iter().map(|(state, count)| StateCount { state, count }).collect(),
        effects: report.effects,
        rerun: report.rerun,
        wait_p50_ms: report.wait_p50_ms,
        wait_p99_ms: report.wait_p99_ms,
    }))
}

/// Registers the job routes (probes before `{id}`, which would take the word).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/jobs").route(web::get().to(list)))
        .service(web::resource("/jobs/probes").route(web::get().to(probe_report)).route(web::post().to(enqueue_probes)))
        .service(web::resource("/jobs/{id}").route(web::get().to(get)))
        .service(web::resource("/jobs/{id}/retry").route(web::post().to(retry)))
        .service(web::resource("/jobs/{id}/cancel").route(web::post().to(cancel)));
}
