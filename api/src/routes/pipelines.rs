//! `/api/v1/pipelines`: sales pipelines and their ordered stages (admins edit them), and
//! the board: a pipeline's stages with their deals, counts and totals in one call.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Module};
use domain::deal::{StageInput, StageKind};
use domain::listing::{CommonFilters, PageRequest};
use persistence::StoreError;
use persistence::deals::{self, DealFilters};
use persistence::pipelines::{self, StoredPipeline};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams, etag};
use crate::records;
use crate::routes::ApiViews;
use crate::routes::common::{MoneyBody, Page};
use crate::routes::deals::DealView;
use crate::state::AppState;
use crate::support::{Created, create_idempotently, encode_cursor, page_request};

/// A stage of a pipeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageView {
    pub id: String,
    #[schema(example = "Proposal")]
    pub name: String,
    /// 0-based order within the pipeline.
    pub position: i32,
    /// Win probability in percent.
    #[schema(example = 50)]
    pub probability: i32,
    pub kind: StageKind,
}

/// A pipeline with its stages in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PipelineView {
    pub id: String,
    #[schema(example = "Sales")]
    pub name: String,
    pub position: i32,
    pub stages: Vec<StageView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredPipeline> for PipelineView {
    fn from(stored: StoredPipeline) -> Self {
        PipelineView {
            id: stored.pipeline.id,
            name: stored.pipeline.name,
            position: stored.position,
            stages: stored
                .pipeline
                .stages
                .into_iter()
                .map(|s| StageView {
                    id: s.id,
                    name: s.name,
                    position: s.position,
                    probability: s.probability,
                    kind: s.kind,
                })
                .collect(),
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

fn with_etag(stored: StoredPipeline) -> HttpResponse {
    let version = stored.version;
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(PipelineView::from(stored))
}

/// A new pipeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineInput {
    #[schema(example = "Renewals", max_length = 200)]
    pub name: String,
    /// 1 to 30 stages in order, at least one open; names unique.
    #[schema(min_items = 1, max_items = 30)]
    pub stages: Vec<StageInput>,
}

/// Changes to a pipeline.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelinePatch {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// The whole new stage list in order. Stages left out are deleted, which is refused
    /// (409) while deals are in them: move those first (DELETE …/stages/{id}?move_deals_to=).
    #[serde(default)]
    #[schema(max_items = 30)]
    pub stages: Option<Vec<StageInput>>,
}

fn not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("pipeline"),
        other => other.into(),
    }
}

/// Lists pipelines.
#[utoipa::path(
    get, path = "/api/v1/pipelines", tag = "pipelines", operation_id = "list_pipelines", summary = "List pipelines",
    description = "Every pipeline in order with its stages; anyone who may read deals may read them. Never more than one page.",
    params(NoParams),
    responses((status = 200, description = "The pipelines", body = Page<PipelineView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    caller.principal.may_in_module(Module::Deals, Action::Read)?;
    let all = state.read(|conn| Ok(pipelines::list(conn)?)).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: all.into_iter().map(PipelineView::from).collect::<Vec<_>>(), next_cursor: None }))
}

/// Creates a pipeline.
#[utoipa::path(
    post, path = "/api/v1/pipelines", tag = "pipelines", operation_id = "create_pipeline", summary = "Create a pipeline",
    description = "Admins only.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = PipelineInput, example = json!({"name": "Renewals", "stages": [{"name": "Due", "probability": 60}, {"name": "Renewed", "kind": "won"}, {"name": "Churned", "kind": "lost"}]})),
    responses(
        (status = 201, description = "Created", body = PipelineView,
            headers(("Location" = String, description = "URL of the new pipeline"), ("ETag" = String, description = "Version"))),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<PipelineInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let new = app::pipelines::new_pipeline(&body.name, &body.stages)?;
    let for_write = caller.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/pipelines", &body.into_inner(), move |conn| {
        let created = app::pipelines::create(conn, &for_write, &new)?;
        let (location, version) = (format!("/api/v1/pipelines/{}", created.pipeline.id), created.version);
        Created::new(&PipelineView::from(created), location, version)
    })
    .await
}

/// Reads a pipeline.
#[utoipa::path(
    get, path = "/api/v1/pipelines/{id}", tag = "pipelines", operation_id = "get_pipeline", summary = "Get a pipeline",
    description = "The pipeline and its stages in order.",
    params(("id" = String, Path, description = "Pipeline id"), NoParams),
    responses((status = 200, description = "The pipeline", body = PipelineView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    caller.principal.may_in_module(Module::Deals, Action::Read)?;
    let id = id.into_inner();
    Ok(with_etag(state.read(move |conn| pipelines::find(conn, &id).map_err(not_found)).await?))
}

/// Renames a pipeline or replaces its stage list.
#[utoipa::path(
    patch, path = "/api/v1/pipelines/{id}", tag = "pipelines", operation_id = "update_pipeline", summary = "Update a pipeline",
    description = "Admins only. `stages` is the whole new list in order: entries with an `id` keep (and may rename, re-weight or move) that stage; entries without one are new; stages left out are deleted, refused with 409 while they hold deals.",
    params(("id" = String, Path, description = "Pipeline id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = PipelinePatch),
    responses((status = 200, description = "The pipeline", body = PipelineView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<PipelinePatch>,
) -> Result<HttpResponse, ApiError> {
    let PipelinePatch { name, stages } = body.into_inner();
    let edit = app::pipelines::PipelineEdit { name, stages, expected_version: if_match.0 };
    let id = id.into_inner();
    let updated = state.write(move |conn| Ok(app::pipelines::update::<ApiViews>(conn, &caller, &id, edit)?)).await?;
    Ok(with_etag(updated))
}

/// Deletes a pipeline that no deal uses.
#[utoipa::path(
    delete, path = "/api/v1/pipelines/{id}", tag = "pipelines", operation_id = "delete_pipeline", summary = "Delete a pipeline",
    description = "Admins only. Refused with 409 while any deal (deleted ones included) is in it.",
    params(("id" = String, Path, description = "Pipeline id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    let id = id.into_inner();
    state.write(move |conn| Ok(app::pipelines::delete(conn, &caller, &id, if_match.0)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Where a deleted stage's deals go.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteStageParams {
    /// Another stage of the same pipeline; needed when the stage holds deals.
    pub move_deals_to: Option<String>,
}

/// Deletes a stage, moving its deals to another stage of the pipeline.
#[utoipa::path(
    delete, path = "/api/v1/pipelines/{id}/stages/{stage_id}", tag = "pipelines", operation_id = "delete_stage", summary = "Delete a stage",
    description = "Admins only. A stage holding deals needs `move_deals_to` (409 without it); each moved deal's stage change is recorded. The last open stage cannot be deleted (422).",
    params(("id" = String, Path, description = "Pipeline id"), ("stage_id" = String, Path, description = "Stage id"), DeleteStageParams,
        ("If-Match" = Option<String>, Header, description = "ETag of the pipeline")),
    responses((status = 200, description = "The pipeline without the stage", body = PipelineView, headers(("ETag" = String, description = "New version"))), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete_stage(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    params: web::Query<DeleteStageParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (id, stage_id) = path.into_inner();
    let move_to = params.into_inner().move_deals_to;
    let updated = state
        .write(move |conn| {
            Ok(app::pipelines::delete_stage::<ApiViews>(conn, &caller, &id, &stage_id, if_match.0, move_to.as_deref())?)
        })
        .await?;
    Ok(with_etag(updated))
}

/// Parameters of a board.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardParams {
    /// Deals shown per stage, 1 to 100 (default 25); counts and totals cover them all.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Only this owner's deals.
    pub owner_id: Option<String>,
}

/// One column of a board.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoardStage {
    pub stage: StageView,
    /// Deals in the stage the caller may see.
    pub count: i64,
    /// Their total amount per currency (minor units).
    pub totals: Vec<MoneyBody>,
    /// The newest deals of the stage.
    pub deals: Vec<DealView>,
    /// More of this stage: GET /api/v1/deals?pipeline_id=…&stage_id=…&cursor=… (same `limit`).
    pub next_cursor: Option<String>,
}

/// A kanban board.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoardView {
    pub pipeline_id: String,
    pub name: String,
    pub stages: Vec<BoardStage>,
}

/// A pipeline's board.
#[utoipa::path(
    get, path = "/api/v1/pipelines/{id}/board", tag = "pipelines", operation_id = "get_board", summary = "Pipeline board",
    description = "Stages in order, each with the first page of its deals (newest first), the count and the total amount per currency of the deals the caller may see: everything a kanban board needs in one call.",
    params(("id" = String, Path, description = "Pipeline id"), BoardParams),
    responses((status = 200, description = "The board", body = BoardView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn board(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<BoardParams>,
) -> Result<HttpResponse, ApiError> {
    let visibility = records::authorize_list(&caller, Module::Deals, false)?;
    let params = params.into_inner();
    let page: PageRequest = page_request(params.limit, None, None)?;
    let id = id.into_inner();
    let request = page.clone();
    let (pipeline, columns) = state
        .read(move |conn| {
            let pipeline = pipelines::find(conn, &id).map_err(not_found)?;
            let in_pipeline = DealFilters {
                common: CommonFilters { owner_id: params.owner_id.clone(), ..Default::default() },
                pipeline_id: Some(pipeline.pipeline.id.clone()),
                ..Default::default()
            };
            let mut figures = deals::stage_figures(conn, &visibility, &in_pipeline)?;
            let mut columns = Vec::new();
            for stage in &pipeline.pipeline.stages {
                let in_stage = DealFilters { stage_id: Some(stage.id.clone()), ..in_pipeline.clone() };
                let deals = deals::list(conn, &visibility, &in_stage, &request)?;
                columns.push((figures.remove(&stage.id).unwrap_or_default(), deals));
            }
            Ok((pipeline, columns))
        })
        .await?;
    let view = PipelineView::from(pipeline);
    let stages = view
        .stages
        .into_iter()
        .zip(columns)
        .map(|(stage, (figures, deals))| BoardStage {
            stage,
            count: figures.count,
            totals: figures
                .totals
                .into_iter()
                .map(|(currency, amount_minor)| MoneyBody { amount_minor, currency })
                .collect(),
            next_cursor: encode_cursor(&page, deals.next),
            deals: deals.items.into_iter().map(DealView::from).collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(BoardView { pipeline_id: view.id, name: view.name, stages }))
}

/// Registers the pipeline routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/pipelines").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/pipelines/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/pipelines/{id}/stages/{stage_id}").route(web::delete().to(delete_stage)))
        .service(web::resource("/pipelines/{id}/board").route(web::get().to(board)));
}
