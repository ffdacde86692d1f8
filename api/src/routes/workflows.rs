//! `/api/v1/workflows` (admins write, managers read) and `/api/v1/workflow-runs`: workflows,
//! their dry run, manual starts and the run log. The runs themselves are jobs
//! (`workflow_worker`); see `app::workflows`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::workflow::{RunState, StepOutcome, Workflow};
use persistence::definitions::Definition;
use persistence::workflows::{Run, StepRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::definitions::DefinitionApi;
use crate::error::{ApiError, CreateErrors, CreateUnderErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams, etag};
use crate::routes::ApiViews;
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::{Created, id_page, id_page_limit};

static WORKFLOWS: DefinitionApi<Workflow> =
    DefinitionApi { steps: &app::workflows::WORKFLOWS, collection: "/api/v1/workflows" };

/// A stored workflow: the document and its version (the ETag).
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    pub id: String,
    /// Each run keeps the version it started with.
    pub version: i64,
    pub workflow: Workflow,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Definition<Workflow>> for WorkflowView {
    fn from(definition: Definition<Workflow>) -> Self {
        WorkflowView {
            id: definition.id,
            version: definition.version,
            workflow: definition.body,
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

fn one(definition: Definition<Workflow>) -> HttpResponse {
    let version = definition.version;
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(WorkflowView::from(definition))
}

fn created(definition: Definition<Workflow>) -> Result<Created, ApiError> {
    let (location, version) = (format!("/api/v1/workflows/{}", definition.id), definition.version);
    Created::new(&WorkflowView::from(definition), location, version)
}

/// Lists workflows.
#[utoipa::path(
    get, path = "/api/v1/workflows", tag = "workflows", operation_id = "list_workflows", summary = "List workflows",
    description = "Admins, and whoever reads every record of a workflow's type (managers), who see those workflows.",
    params(NoParams),
    responses((status = 200, description = "The workflows in order", body = Page<WorkflowView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let found = state.read(move |conn| Ok(app::workflows::list(conn, &caller)?)).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: found.into_iter().map(WorkflowView::from).collect::<Vec<_>>(), next_cursor: None }))
}

/// Creates a workflow.
#[utoipa::path(
    post, path = "/api/v1/workflows", tag = "workflows", operation_id = "create_workflow", summary = "Create a workflow",
    description = "Admins only. A trigger, optional `conditions` (the search filter language), and steps; `status` defaults to `draft` (only `active` workflows start runs). Runs act with the grants of `run_as_user_id`, by default the admin who creates it. Filters, users, teams, templates and webhook endpoints are checked now (422 with the path of what is wrong).",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = Workflow, example = json!({
        "name": "Onboard won customers", "record_type": "deal", "status": "active",
        "trigger": {"type": "stage_changed", "to": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"},
        "steps": [
            {"type": "create_task", "title": "Onboarding call", "due_in_days": 2},
            {"type": "send_email", "template_id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a62"},
            {"type": "call_webhook", "endpoint_id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a63"},
            {"type": "notify", "message": "A deal was won", "owner_managers": true}
        ]
    })),
    responses((status = 201, description = "Created", body = WorkflowView, headers(("Location" = String, description = "URL of the new workflow"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<Workflow>,
) -> Result<HttpResponse, ApiError> {
    let mut workflow = body.into_inner();
    if workflow.run_as_user_id.is_none() {
        workflow.run_as_user_id = Some(caller.principal.user_id.clone());
    }
    WORKFLOWS.create(&state, &caller, key, workflow, None, created).await
}

/// Reads a workflow.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}", tag = "workflows", operation_id = "get_workflow", summary = "Get a workflow",
    description = "Admins, and managers of its record type.",
    params(("id" = String, Path, description = "Workflow id"), NoParams),
    responses((status = 200, description = "The workflow", body = WorkflowView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    Ok(one(state.read(move |conn| Ok(app::workflows::find(conn, &caller, &id)?)).await?))
}

/// Changes a workflow (JSON merge-patch).
#[utoipa::path(
    patch, path = "/api/v1/workflows/{id}", tag = "workflows", operation_id = "update_workflow", summary = "Update a workflow (merge-patch)",
    description = "Admins only. A JSON merge-patch of the workflow (`steps` replaces the whole list); runs under way go on with the version they started with. `status: paused` stops new runs.",
    params(("id" = String, Path, description = "Workflow id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"status": "paused"})),
    responses((status = 200, description = "The workflow", body = WorkflowView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    Ok(one(WORKFLOWS.update(&state, caller, id.into_inner(), if_match, body.into_inner()).await?))
}

/// Deletes a workflow.
#[utoipa::path(
    delete, path = "/api/v1/workflows/{id}", tag = "workflows", operation_id = "delete_workflow", summary = "Delete a workflow",
    description = "Admins only. Runs under way finish with the version they started with; their log stays.",
    params(("id" = String, Path, description = "Workflow id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    WORKFLOWS.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The record a dry run or a manual start is about.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// A record of the workflow's type.
    pub record_id: String,
}

/// What a dry run found.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunView {
    /// Whether the record as it is looks like what the trigger fires on (for change triggers
    /// with `to`: the field holds that value); `null` where a record's state cannot tell.
    pub trigger_matches: Option<bool>,
    pub conditions_match: bool,
    /// Whether an event now would enroll the record (active, conditions, enrollment rule).
    pub would_enroll: bool,
    pub steps: Vec<DryStepView>,
}

/// One step a run would take.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryStepView {
    pub position: i32,
    #[serde(rename = "type")]
    #[schema(example = "update_fields")]
    pub step_type: String,
    /// What it would do: `{"changes": {field: {from, to}}}`, the task, the email's `to` and
    /// `subject`, whom it would `notify`, `until` when a wait ends, the `branch` it takes.
    #[schema(value_type = HashMap<String, Value>)]
    pub would: serde_json::Value,
    /// Why it would fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Evaluates a workflow against a record, writing nothing.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/test", tag = "workflows", operation_id = "test_workflow", summary = "Dry-run a workflow on a record",
    description = "Admins only. Evaluates the trigger and conditions against a real record and lists the steps a run would take now, with the field changes they would make, the task, email and notifications, and which branch each condition takes (on the record as it is now). Nothing is written.",
    params(("id" = String, Path, description = "Workflow id"), NoParams),
    request_body(content = RecordInput, example = json!({"record_id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"})),
    responses((status = 200, description = "What a run would do", body = DryRunView), CreateUnderErrors),
    security(("bearer" = []))
)]
pub async fn test(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    body: web::Json<RecordInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, record_id) = (id.into_inner(), body.into_inner().record_id);
    let mail = state.config.mail.clone();
    let found = state
        .read(move |conn| Ok(app::workflows::dry_run::<ApiViews>(conn, &caller, &id, &record_id, mail.as_ref())?))
        .await?;
    Ok(HttpResponse::Ok().json(DryRunView {
        trigger_matches: found.trigger_matches,
        conditions_match: found.conditions_match,
        would_enroll: found.would_enroll,
        steps: found
            .steps
            .into_iter()
            .map(|step| DryStepView {
                position: step.position,
                step_type: step.step_type.to_owned(),
                would: step.would,
                error: step.error,
            })
            .collect(),
    }))
}

/// A run of a workflow over one record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub workflow_id: String,
    /// The workflow's version the run follows.
    pub workflow_version: i64,
    #[schema(example = "deal")]
    pub record_type: String,
    pub record_id: String,
    /// The event that triggered it; `null` for a manual start.
    pub event_id: Option<String>,
    /// Who started it by hand.
    pub started_by: Option<String>,
    pub state: RunState,
    /// Where it stands in the workflow's program (steps flattened, branches included).
    pub position: i32,
    /// While `waiting`: when it goes on.
    pub wait_until: Option<DateTime<Utc>>,
    /// Why it failed, was cancelled, or ended early.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The steps taken, in order (in a run's own read; lists leave them out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

/// One step a run took.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub position: i32,
    #[serde(rename = "type")]
    #[schema(example = "create_task")]
    pub step_type: String,
    pub outcome: StepOutcome,
    /// What it did (the changes, the task, the email, the delivery, whom it notified).
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub detail: Option<serde_json::Value>,
    pub error: Option<String>,
    /// More than 1 after a retry.
    pub attempts: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

impl From<StepRow> for StepView {
    fn from(step: StepRow) -> Self {
        StepView {
            position: step.position,
            step_type: step.step_type,
            outcome: step.outcome,
            detail: step.detail.and_then(|raw| serde_json::from_str(&raw).ok()),
            error: step.error,
            attempts: step.attempts,
            started_at: step.started_at,
            finished_at: step.finished_at,
        }
    }
}

impl RunView {
    fn of(run: Run, steps: Option<Vec<StepRow>>) -> Self {
        RunView {
            id: run.id,
            workflow_id: run.workflow_id,
            workflow_version: run.workflow_version,
            record_type: run.record_type,
            record_id: run.record_id,
            event_id: run.event_id,
            started_by: run.started_by,
            state: run.state,
            position: run.position,
            wait_until: run.wait_until,
            error: run.error,
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            steps: steps.map(|steps| steps.into_iter().map(StepView::from).collect()),
        }
    }
}

fn logged(log: app::workflows::RunLog) -> HttpResponse {
    HttpResponse::Ok().json(RunView::of(log.run, Some(log.steps)))
}

/// Starts a run by hand.
#[utoipa::path(
    post, path = "/api/v1/workflows/{id}/runs", tag = "workflows", operation_id = "start_workflow_run", summary = "Start a workflow run on a record",
    description = "Admins only. The workflow must be active and the record match its conditions, with no run of it under way (409 otherwise). The run is queued (202); follow it at `Location`.",
    params(("id" = String, Path, description = "Workflow id"), NoParams),
    request_body(content = RecordInput, example = json!({"record_id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"})),
    responses((status = 202, description = "Queued", body = RunView, headers(("Location" = String, description = "URL of the run"))), CreateUnderErrors),
    security(("bearer" = []))
)]
pub async fn start(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    body: web::Json<RecordInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, record_id) = (id.into_inner(), body.into_inner().record_id);
    let run = state.write(move |conn| Ok(app::workflows::start(conn, &caller, &id, &record_id)?)).await?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED)
        .insert_header((header::LOCATION, format!("/api/v1/workflow-runs/{}", run.id)))
        .json(RunView::of(run, None)))
}

/// Which runs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunListParams {
    pub state: Option<RunState>,
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists a workflow's runs.
#[utoipa::path(
    get, path = "/api/v1/workflows/{id}/runs", tag = "workflows", operation_id = "list_workflow_runs", summary = "List a workflow's runs",
    description = "Admins and managers of its record type. Newest first.",
    params(("id" = String, Path, description = "Workflow id"), RunListParams),
    responses((status = 200, description = "A page of runs", body = Page<RunView>), ReadErrors),
    security(("bearer" = []))
)]
pub async fn runs(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<RunListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let limit = id_page_limit(params.limit)?;
    let id = id.into_inner();
    let found = state
        .read(move |conn| {
            Ok(app::workflows::runs_of(conn, &caller, &id, params.state, params.cursor.as_deref(), limit + 1)?)
        })
        .await?;
    let (found, next_cursor) = id_page(found, limit, |run| &run.id);
    let data = found.into_iter().map(|run| RunView::of(run, None)).collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor }))
}

/// Reads a run with its steps.
#[utoipa::path(
    get, path = "/api/v1/workflow-runs/{id}", tag = "workflows", operation_id = "get_workflow_run", summary = "Get a workflow run",
    description = "Admins and managers of its record type: its state and each step's outcome, timing, detail and error.",
    params(("id" = String, Path, description = "Run id"), NoParams),
    responses((status = 200, description = "The run", body = RunView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get_run(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    Ok(logged(state.read(move |conn| Ok(app::workflows::run_log(conn, &caller, &id)?)).await?))
}

/// Cancels a run.
#[utoipa::path(
    post, path = "/api/v1/workflow-runs/{id}/cancel", tag = "workflows", operation_id = "cancel_workflow_run", summary = "Cancel a workflow run",
    description = "Admins only. A run under way (queued, running, waiting) ends as cancelled; steps taken stay done. 409 for a run that has ended.",
    params(("id" = String, Path, description = "Run id"), NoParams),
    responses((status = 200, description = "The run", body = RunView), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    Ok(logged(state.write(move |conn| Ok(app::workflows::cancel(conn, &caller, &id)?)).await?))
}

/// Retries a failed run's failed step.
#[utoipa::path(
    post, path = "/api/v1/workflow-runs/{id}/retry", tag = "workflows", operation_id = "retry_workflow_run", summary = "Retry a failed workflow run",
    description = "Admins only. The failed step runs again (its `attempts` counts up) and the run goes on from there. 409 unless the run failed.",
    params(("id" = String, Path, description = "Run id"), NoParams),
    responses((status = 200, description = "The run", body = RunView), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn retry(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    Ok(logged(state.write(move |conn| Ok(app::workflows::retry(conn, &caller, &id)?)).await?))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/workflows").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/workflows/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/workflows/{id}/test").route(web::post().to(test)))
        .service(web::resource("/workflows/{id}/runs").route(web::get().to(runs)).route(web::post().to(start)))
        .service(web::resource("/workflow-runs/{id}").route(web::get().to(get_run)))
        .service(web::resource("/workflow-runs/{id}/cancel").route(web::post().to(cancel)))
        .service(web::resource("/workflow-runs/{id}/retry").route(web::post().to(retry)));
}
