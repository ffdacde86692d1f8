//! `/api/v1/teams`: groups whose members see each other's records (team scope).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::values::{SHORT_TEXT_MAX, required_text};
use persistence::StoreError;
use persistence::teams::{self, Team};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use app::administration;

use crate::error::{ApiError, CommonErrors, Problem};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::routes::common::Page;
use crate::routes::users::UserListParams;
use crate::state::AppState;
use crate::support::{Created, create_idempotently, id_page, id_page_limit, ok_with_etag};

/// A team and its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamView {
    pub id: String,
    #[schema(example = "EMEA sales")]
    pub name: String,
    pub member_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Team> for TeamView {
    fn from(team: Team) -> Self {
        TeamView {
            id: team.id,
            name: team.name,
            member_ids: team.member_ids,
            created_at: team.created_at,
            updated_at: team.updated_at,
        }
    }
}

/// A team's name (create or rename).
#[derive(Debug, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    #[validate(length(max = 200))]
    #[schema(max_length = 200, example = "EMEA sales")]
    pub name: String,
}

fn not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("team"),
        other => other.into(),
    }
}

fn team_name(input: &TeamInput) -> Result<String, ApiError> {
    input.validate()?;
    Ok(required_text("name", &input.name, SHORT_TEXT_MAX)?)
}

/// Lists teams.
#[utoipa::path(
    get, path = "/api/v1/teams", tag = "teams", operation_id = "list_teams", summary = "List teams",
    description = "Any signed-in caller may list teams, in creation order.",
    params(UserListParams),
    responses(
        (status = 200, description = "A page of teams", body = Page<TeamView>),
        (status = 400, description = "Unknown or malformed parameter", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
    params: web::Query<UserListParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = id_page_limit(params.limit)?;
    let after = params.cursor.clone();
    let found = state.read(move |conn| Ok(teams::list(conn, after.as_deref(), limit + 1)?)).await?;
    let (found, next_cursor) = id_page(found, limit, |team| &team.id);
    Ok(HttpResponse::Ok().json(Page { data: found.into_iter().map(TeamView::from).collect::<Vec<_>>(), next_cursor }))
}

/// Creates a team (admins).
#[utoipa::path(
    post, path = "/api/v1/teams", tag = "teams", operation_id = "create_team", summary = "Create a team",
    description = "Admins only. Team names are unique case-insensitively.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body(content = TeamInput, example = json!({"name": "EMEA sales"})),
    responses(
        (status = 201, description = "Created", body = TeamView, headers(("Location" = String, description = "URL of the new team"))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
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
    body: web::Json<TeamInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let name = team_name(&body)?;
    let for_write = caller.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/teams", &body.into_inner(), move |conn| {
        let team = administration::create_team(conn, &for_write, &name)?;
        let location = format!("/api/v1/teams/{}", team.id);
        let version = team.version;
        Created::new(&TeamView::from(team), location, version)
    })
    .await
}

/// Reads one team.
#[utoipa::path(
    get, path = "/api/v1/teams/{id}", tag = "teams", operation_id = "get_team", summary = "Get a team",
    description = "Any signed-in caller may read a team and its member ids.",
    params(("id" = String, Path, description = "Team id"), NoParams),
    responses(
        (status = 200, description = "The team", body = TeamView, headers(("ETag" = String, description = "Version"))),
        (status = 404, description = "No such team", body = Problem, content_type = "application/problem+json"),
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
    let team = state.read(move |conn| teams::find(conn, &id).map_err(not_found)).await?;
    let version = team.version;
    Ok(ok_with_etag(&TeamView::from(team), version))
}

/// Renames a team (admins).
#[utoipa::path(
    patch, path = "/api/v1/teams/{id}", tag = "teams", operation_id = "update_team", summary = "Rename a team",
    description = "Admins only. Send `If-Match` to refuse the change if the team changed since you read it (412).",
    params(("id" = String, Path, description = "Team id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body = TeamInput,
    responses(
        (status = 200, description = "The renamed team", body = TeamView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such team", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name already taken", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the given ETag", body = Problem, content_type = "application/problem+json"),
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
    if_match: IfMatch,
    body: web::Json<TeamInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let name = team_name(&body)?;
    let id = id.into_inner();
    let team = state.write(move |conn| Ok(administration::rename_team(conn, &caller, &id, if_match.0, &name)?)).await?;
    let version = team.version;
    Ok(ok_with_etag(&TeamView::from(team), version))
}

/// Deletes a team (admins).
#[utoipa::path(
    delete, path = "/api/v1/teams/{id}", tag = "teams", operation_id = "delete_team", summary = "Delete a team",
    description = "Memberships go with it; records assigned to the team keep their owner.",
    params(("id" = String, Path, description = "Team id"), NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such team", body = Problem, content_type = "application/problem+json"),
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
    state.write(move |conn| Ok(administration::delete_team(conn, &caller, &id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds a user to a team (admins); adding a member twice changes nothing.
#[utoipa::path(
    put, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams", operation_id = "add_team_member", summary = "Add a member",
    description = "Admins only. Members of a team see records owned by each other or assigned to the team, where their role's scope is `team`.",
    params(("id" = String, Path, description = "Team id"), ("user_id" = String, Path, description = "User id"), NoParams),
    responses(
        (status = 200, description = "The team", body = TeamView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such team or user", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn add_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (team_id, user_id) = path.into_inner();
    let team = state.write(move |conn| Ok(administration::add_member(conn, &caller, &team_id, &user_id)?)).await?;
    Ok(HttpResponse::Ok().json(TeamView::from(team)))
}

/// Removes a user from a team (admins); removing a non-member changes nothing.
#[utoipa::path(
    delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "teams", operation_id = "remove_team_member", summary = "Remove a member",
    description = "Admins only. The member loses team visibility at their next request.",
    params(("id" = String, Path, description = "Team id"), ("user_id" = String, Path, description = "User id"), NoParams),
    responses(
        (status = 200, description = "The team", body = TeamView),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such team", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (team_id, user_id) = path.into_inner();
    let team = state.write(move |conn| Ok(administration::remove_member(conn, &caller, &team_id, &user_id)?)).await?;
    Ok(HttpResponse::Ok().json(TeamView::from(team)))
}

/// Registers the team routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/teams").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/teams/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/teams/{id}/members/{user_id}")
                .route(web::put().to(add_member))
                .route(web::delete().to(remove_member)),
        );
}
