//! `/api/v1/scoring-rules` and `/api/v1/assignment-rules`: admin-defined lead rules.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::lead::{AssignmentRule, ScoringRule};
use persistence::definitions::Definition;
use serde::Serialize;
use utoipa::ToSchema;

use crate::definitions::DefinitionApi;
use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams, etag};
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::Created;

/// A stored rule with its place in the order.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView<T: ToSchema> {
    pub id: String,
    /// Rules apply in ascending position.
    pub position: i32,
    pub rule: T,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<T: ToSchema> From<Definition<T>> for RuleView<T> {
    fn from(definition: Definition<T>) -> Self {
        RuleView {
            id: definition.id,
            position: definition.position,
            rule: definition.body,
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

fn one<T: ToSchema + Serialize>(definition: Definition<T>) -> HttpResponse {
    let version = definition.version;
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(RuleView::from(definition))
}

fn created_scoring(definition: Definition<ScoringRule>) -> Result<Created, ApiError> {
    let (location, version) = (format!("/api/v1/scoring-rules/{}", definition.id), definition.version);
    Created::new(&RuleView::from(definition), location, version)
}

fn created_assignment(definition: Definition<AssignmentRule>) -> Result<Created, ApiError> {
    let (location, version) = (format!("/api/v1/assignment-rules/{}", definition.id), definition.version);
    Created::new(&RuleView::from(definition), location, version)
}

static SCORING: DefinitionApi<ScoringRule> =
    DefinitionApi { steps: &app::definitions::SCORING_RULES, collection: "/api/v1/scoring-rules" };

static ASSIGNMENT: DefinitionApi<AssignmentRule> =
    DefinitionApi { steps: &app::definitions::ASSIGNMENT_RULES, collection: "/api/v1/assignment-rules" };

/// Lists the scoring rules.
#[utoipa::path(
    get, path = "/api/v1/scoring-rules", tag = "lead-rules", operation_id = "list_scoring_rules", summary = "List scoring rules",
    description = "Admins only. Active rules add their points to every lead's score.",
    params(NoParams),
    responses((status = 200, description = "The rules in order", body = Page<RuleView<ScoringRule>>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list_scoring(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let rules = SCORING.list(&state, caller).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: rules.into_iter().map(RuleView::from).collect::<Vec<_>>(), next_cursor: None }))
}

/// Creates a scoring rule; every open lead is rescored in the background.
#[utoipa::path(
    post, path = "/api/v1/scoring-rules", tag = "lead-rules", operation_id = "create_scoring_rule", summary = "Create a scoring rule",
    description = "Admins only. A rule has a `condition` on a lead field or an `event` criterion, and points (-1000 to 1000). Every open lead is then rescored by a background job (`leads.rescore`, see `GET /api/v1/jobs`), queued in the same transaction.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = ScoringRule, example = json!({"name": "Target industry", "points": 20, "condition": {"field": "industry", "op": "in", "value": ["software", "saas"]}})),
    responses((status = 201, description = "Created", body = RuleView<ScoringRule>, headers(("Location" = String, description = "URL of the new rule"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create_scoring(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<ScoringRule>,
) -> Result<HttpResponse, ApiError> {
    SCORING.create(&state, &caller, key, body.into_inner(), None, created_scoring).await
}

/// Reads a scoring rule.
#[utoipa::path(
    get, path = "/api/v1/scoring-rules/{id}", tag = "lead-rules", operation_id = "get_scoring_rule", summary = "Get a scoring rule",
    description = "Admins only.",
    params(("id" = String, Path, description = "Rule id"), NoParams),
    responses((status = 200, description = "The rule", body = RuleView<ScoringRule>, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get_scoring(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    Ok(one(SCORING.get(&state, caller, id.into_inner()).await?))
}

/// Changes a scoring rule; every open lead is rescored in the background.
#[utoipa::path(
    patch, path = "/api/v1/scoring-rules/{id}", tag = "lead-rules", operation_id = "update_scoring_rule", summary = "Update a scoring rule (merge-patch)",
    description = "Admins only. A JSON merge-patch of the rule; `position` (a whole number) moves it.",
    params(("id" = String, Path, description = "Rule id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"points": 30})),
    responses((status = 200, description = "The rule", body = RuleView<ScoringRule>, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update_scoring(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    Ok(one(SCORING.update(&state, caller, id.into_inner(), if_match, body.into_inner()).await?))
}

/// Deletes a scoring rule; every open lead is rescored in the background.
#[utoipa::path(
    delete, path = "/api/v1/scoring-rules/{id}", tag = "lead-rules", operation_id = "delete_scoring_rule", summary = "Delete a scoring rule",
    description = "Admins only.",
    params(("id" = String, Path, description = "Rule id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete_scoring(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    SCORING.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lists the assignment rules.
#[utoipa::path(
    get, path = "/api/v1/assignment-rules", tag = "lead-rules", operation_id = "list_assignment_rules", summary = "List assignment rules",
    description = "Admins only. On create (API, form, import) a lead without an owner goes to the target of the first active rule, in position order, whose conditions all hold.",
    params(NoParams),
    responses((status = 200, description = "The rules in order", body = Page<RuleView<AssignmentRule>>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let rules = ASSIGNMENT.list(&state, caller).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: rules.into_iter().map(RuleView::from).collect::<Vec<_>>(), next_cursor: None }))
}

/// Creates an assignment rule.
#[utoipa::path(
    post, path = "/api/v1/assignment-rules", tag = "lead-rules", operation_id = "create_assignment_rule", summary = "Create an assignment rule",
    description = "Admins only. The target is a user (`owner_id`) or a team (`team_id`), optionally round-robin among the team's active members, fair under concurrent submissions.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = AssignmentRule, example = json!({"name": "DACH", "conditions": [{"field": "country", "op": "in", "value": ["DE", "AT", "CH"]}], "assign_to": {"team_id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61", "round_robin": true}})),
    responses((status = 201, description = "Created", body = RuleView<AssignmentRule>, headers(("Location" = String, description = "URL of the new rule"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<AssignmentRule>,
) -> Result<HttpResponse, ApiError> {
    ASSIGNMENT.create(&state, &caller, key, body.into_inner(), None, created_assignment).await
}

/// Reads an assignment rule.
#[utoipa::path(
    get, path = "/api/v1/assignment-rules/{id}", tag = "lead-rules", operation_id = "get_assignment_rule", summary = "Get an assignment rule",
    description = "Admins only.",
    params(("id" = String, Path, description = "Rule id"), NoParams),
    responses((status = 200, description = "The rule", body = RuleView<AssignmentRule>, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    Ok(one(ASSIGNMENT.get(&state, caller, id.into_inner()).await?))
}

/// Changes an assignment rule.
#[utoipa::path(
    patch, path = "/api/v1/assignment-rules/{id}", tag = "lead-rules", operation_id = "update_assignment_rule", summary = "Update an assignment rule (merge-patch)",
    description = "Admins only. A JSON merge-patch of the rule; `position` (a whole number) moves it.",
    params(("id" = String, Path, description = "Rule id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"position": 0})),
    responses((status = 200, description = "The rule", body = RuleView<AssignmentRule>, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    Ok(one(ASSIGNMENT.update(&state, caller, id.into_inner(), if_match, body.into_inner()).await?))
}

/// Deletes an assignment rule.
#[utoipa::path(
    delete, path = "/api/v1/assignment-rules/{id}", tag = "lead-rules", operation_id = "delete_assignment_rule", summary = "Delete an assignment rule",
    description = "Admins only.",
    params(("id" = String, Path, description = "Rule id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    ASSIGNMENT.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the rule routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/scoring-rules").route(web::get().to(list_scoring)).route(web::post().to(create_scoring)),
        )
        .service(
            web::resource("/scoring-rules/{id}")
                .route(web::get().to(get_scoring))
                .route(web::patch().to(update_scoring))
                .route(web::delete().to(delete_scoring)),
        )
        .service(
            web::resource("/assignment-rules")
                .route(web::get().to(list_assignment))
                .route(web::post().to(create_assignment)),
        )
        .service(
            web::resource("/assignment-rules/{id}")
                .route(web::get().to(get_assignment))
                .route(web::patch().to(update_assignment))
                .route(web::delete().to(delete_assignment)),
        );
}
