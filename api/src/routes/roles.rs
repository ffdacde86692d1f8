//! `/api/v1/roles`: what each role may do, module by module. Built-in roles are read-only.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Grants, Module, Scope};
use domain::validation::ValidationErrors;
use domain::values::{SHORT_TEXT_MAX, optional_text, required_text};
use persistence::StoreError;
use persistence::roles::{self, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use app::administration::{self, RoleSpec};

use crate::error::{ApiError, CommonErrors, Problem};
use crate::extract::{Caller, IdempotencyKey, NoParams};
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::{Created, create_idempotently};

/// Module → action → scope (`none`, `own`, `team`, `all`). Absent entries are `none`.
/// Modules: contacts, companies, leads, deals, activities, tasks, tickets, campaigns,
/// reports, settings. Actions: read, create, edit, delete, export.
pub type GrantsBody = BTreeMap<Module, BTreeMap<Action, Scope>>;

/// A role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    #[schema(example = "sales")]
    pub id: String,
    #[schema(example = "sales")]
    pub name: String,
    pub description: String,
    /// Built-in roles cannot be changed or deleted.
    pub builtin: bool,
    #[schema(value_type = crate::routes::common::GrantsSchema, example = json!({"contacts": {"read": "team", "create": "own", "edit": "own"}}))]
    pub grants: GrantsBody,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn grants_body(grants: &Grants) -> GrantsBody {
    let mut body = GrantsBody::new();
    for (module, action, scope) in grants.entries() {
        body.entry(module).or_default().insert(action, scope);
    }
    body
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        RoleView {
            grants: grants_body(&role.grants),
            id: role.id,
            name: role.name,
            description: role.description,
            builtin: role.builtin,
            created_at: role.created_at,
            updated_at: role.updated_at,
        }
    }
}

/// A custom role (create, or replace on PATCH).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    #[schema(max_length = 200, example = "Inside sales")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub description: String,
    #[schema(value_type = crate::routes::common::GrantsSchema, example = json!({"contacts": {"read": "all", "create": "own", "edit": "own"}, "companies": {"read": "all"}}))]
    pub grants: GrantsBody,
}

impl RoleInput {
    /// The role this body describes, every refused field reported at once.
    fn parse(&self) -> Result<RoleSpec, ApiError> {
        let mut errors = ValidationErrors::new();
        let name = errors.collect(required_text("name", &self.name, SHORT_TEXT_MAX)).unwrap_or_default();
        let description =
            errors.collect(optional_text("description", &self.description, 10_000)).flatten().unwrap_or_default();
        let grants = Grants::from_entries(
            self.grants
                .iter()
                .flat_map(|(module, actions)| actions.iter().map(move |(action, scope)| (*module, *action, *scope))),
        );
        Ok(errors.into_result(|| RoleSpec { name, description, grants })?)
    }
}

fn role_error(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("role"),
        other => other.into(),
    }
}

/// Lists roles.
#[utoipa::path(
    get, path = "/api/v1/roles", tag = "roles", operation_id = "list_roles", summary = "List roles",
    description = "Any signed-in caller may list roles and their grants.",
    params(NoParams),
    responses(
        (status = 200, description = "Every role, built-in first, in one page", body = Page<RoleView>),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let found = state.read(|conn| Ok(roles::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(Page { data: found.into_iter().map(RoleView::from).collect(), next_cursor: None }))
}

/// Creates a custom role (admins).
#[utoipa::path(
    post, path = "/api/v1/roles", tag = "roles", operation_id = "create_role", summary = "Create a role",
    description = "Admins only. Grants map module → action → scope; anything absent is `none`. Unknown modules, actions or scopes are refused (400).",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body = RoleInput,
    responses(
        (status = 201, description = "Created", body = RoleView, headers(("Location" = String, description = "URL of the new role"))),
        (status = 400, description = "Malformed body, unknown module, action or scope", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name already taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<RoleInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let role = body.parse()?;
    let for_write = caller.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/roles", &body.into_inner(), move |conn| {
        let role = administration::create_role(conn, &for_write, &role)?;
        let location = format!("/api/v1/roles/{}", role.id);
        Created::new(&RoleView::from(role), location, 1)
    })
    .await
}

/// Reads one role.
#[utoipa::path(
    get, path = "/api/v1/roles/{id}", tag = "roles", operation_id = "get_role", summary = "Get a role",
    description = "Any signed-in caller may read a role.",
    params(("id" = String, Path, description = "Role id"), NoParams),
    responses(
        (status = 200, description = "The role", body = RoleView),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let role = state.read(move |conn| roles::find(conn, &id).map_err(role_error)).await?;
    Ok(HttpResponse::Ok().json(RoleView::from(role)))
}

/// Replaces a custom role's name, description and grants (admins).
#[utoipa::path(
    patch, path = "/api/v1/roles/{id}", tag = "roles", operation_id = "update_role", summary = "Update a role",
    description = "Replaces name, description and grants; changes apply to every holder at their next request.",
    params(("id" = String, Path, description = "Role id"), NoParams),
    request_body = RoleInput,
    responses(
        (status = 200, description = "The changed role", body = RoleView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A built-in role, or the name is taken", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    body: web::Json<RoleInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let role = body.parse()?;
    let id = id.into_inner();
    let role = state.write(move |conn| Ok(administration::update_role(conn, &caller, &id, &role)?)).await?;
    Ok(HttpResponse::Ok().json(RoleView::from(role)))
}

/// Deletes a custom role nobody uses (admins).
#[utoipa::path(
    delete, path = "/api/v1/roles/{id}", tag = "roles", operation_id = "delete_role", summary = "Delete a role",
    description = "Admins only. Built-in roles and roles still held by users or active API keys cannot be deleted (409).",
    params(("id" = String, Path, description = "Role id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Built-in, or still held by users or API keys", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let id = id.into_inner();
    state.write(move |conn| Ok(administration::delete_role(conn, &caller, &id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the role routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(web::resource("/roles").route(web::get().to(list)).route(web::post().to(create))).service(
        web::resource("/roles/{id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    );
}
