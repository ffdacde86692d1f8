//! `/api/v1/users`: the people who sign in. Everyone may read (to pick owners); admins write.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::user::{NewUser, Password};
use domain::values::{SHORT_TEXT_MAX, required_text};
use persistence::StoreError;
use persistence::users::{self, User};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::credentials::hash_password;
use crate::error::{ApiError, CommonErrors, Problem};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::routes::common::Page;
use crate::state::AppState;
use app::administration::{self, UserEdit};

use crate::support::{Created, create_idempotently, id_page, id_page_limit, ok_with_etag, validated};

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "Ada Lovelace")]
    pub name: String,
    #[schema(example = "sales")]
    pub role_id: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        UserView {
            created_at: user.created_at(),
            updated_at: user.updated_at(),
            id: user.id,
            email: user.email,
            name: user.name,
            role_id: user.role_id,
            active: user.active,
        }
    }
}

/// A new user.
#[derive(Debug, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    #[validate(length(max = 254))]
    #[schema(max_length = 254, example = "ada@example.com")]
    pub email: String,
    #[validate(length(max = 200))]
    #[schema(max_length = 200, example = "Ada Lovelace")]
    pub name: String,
    /// At least 12 characters.
    #[validate(length(max = 256))]
    #[schema(min_length = 12, max_length = 256, format = Password)]
    pub password: String,
    #[schema(example = "sales")]
    pub role_id: String,
}

/// Changes to a user; absent fields are kept.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub role_id: Option<String>,
    /// Deactivating signs the user out everywhere and stops their API keys.
    pub active: Option<bool>,
    /// A new password; signs the user out everywhere.
    #[validate(length(max = 256))]
    #[schema(min_length = 12, max_length = 256, format = Password)]
    pub password: Option<String>,
}

/// Paging of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Hashes on the blocking pool: argon2 takes tens of milliseconds of CPU by design.
async fn hash_off_executor(password: String) -> Result<String, ApiError> {
    web::block(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)
}

fn user_not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("user"),
        other => other.into(),
    }
}

/// Lists users in creation order.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users", operation_id = "list_users", summary = "List users",
    description = "Any signed-in caller may list users, e.g. to choose a record's owner.",
    params(UserListParams),
    responses(
        (status = 200, description = "A page of users", body = Page<UserView>),
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
    let found = state.read(move |conn| Ok(users::list(conn, after.as_deref(), limit + 1)?)).await?;
    let (found, next_cursor) = id_page(found, limit, |user| &user.id);
    Ok(HttpResponse::Ok().json(Page { data: found.into_iter().map(UserView::from).collect::<Vec<_>>(), next_cursor }))
}

/// Creates a user (admins).
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users", operation_id = "create_user", summary = "Create a user",
    description = "Admins only. The email must be unused (case-insensitively).",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body(content = UserCreate, example = json!({"email": "ada@example.com", "name": "Ada Lovelace", "password": "correct horse battery staple", "role_id": "sales"})),
    responses(
        (status = 201, description = "Created", body = UserView, headers(("Location" = String, description = "URL of the new user"))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already in use", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<UserCreate>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let new_user = validated(body.validate(), NewUser::parse(&body.email, &body.name, &body.password, &body.role_id))?;
    let hash = hash_off_executor(new_user.password.expose().to_owned()).await?;
    let body = body.into_inner();
    let for_write = caller.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/users", &body, move |conn| {
        let user = administration::create_user(conn, &for_write, &new_user, &hash)?;
        let (location, version) = (format!("/api/v1/users/{}", user.id), user.version);
        Created::new(&UserView::from(user), location, version)
    })
    .await
}

/// Reads one user.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users", operation_id = "get_user", summary = "Get a user",
    description = "Any signed-in caller may read a user.",
    params(("id" = String, Path, description = "User id"), NoParams),
    responses(
        (status = 200, description = "The user", body = UserView, headers(("ETag" = String, description = "Version"))),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
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
    let user = state.read(move |conn| users::find(conn, &id).map_err(user_not_found)).await?;
    let version = user.version;
    Ok(ok_with_etag(&UserView::from(user), version))
}

/// Changes a user (admins).
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users", operation_id = "update_user", summary = "Update a user",
    description = "Admins only. An admin cannot deactivate or demote themselves, and the last active admin stays one (409).",
    params(("id" = String, Path, description = "User id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = UserPatch, example = json!({"role_id": "manager"})),
    responses(
        (status = 200, description = "The changed user", body = UserView),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would leave no admin, or lock the caller out", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the given ETag", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"),
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
    body: web::Json<UserPatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    body.validate()?;
    let patch = body.into_inner();
    let name = patch.name.as_deref().map(|n| required_text("name", n, SHORT_TEXT_MAX)).transpose()?;
    let password_hash = match patch.password.as_deref() {
        None => None,
        Some(raw) => Some(hash_off_executor(Password::parse("password", raw)?.expose().to_owned()).await?),
    };
    let edit =
        UserEdit { name, role_id: patch.role_id, active: patch.active, password_hash, expected_version: if_match.0 };
    let id = id.into_inner();
    let user = state.write(move |conn| Ok(administration::update_user(conn, &caller, &id, edit)?)).await?;
    let version = user.version;
    Ok(ok_with_etag(&UserView::from(user), version))
}

/// Registers the user routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/users").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/users/{id}").route(web::get().to(get)).route(web::patch().to(update)));
}
