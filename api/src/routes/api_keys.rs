//! `/api/v1/api-keys`: long-lived credentials for scripts. The secret is shown once.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::audit::AuditAction;
use domain::values::{SHORT_TEXT_MAX, required_text};
use persistence::auth::{self, ApiKey, NewApiKey};
use persistence::{StoreError, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::credentials::{new_api_key, secret_hash};
use crate::error::{ApiError, CommonErrors, Problem};
use crate::extract::{Caller, IdempotencyKey, NoParams};
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::{Created, create_idempotently};
use app::administration::check_role;
use app::audit;

/// An API key (never its secret, except once on creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    /// The user the key acts for.
    pub user_id: String,
    #[schema(example = "nightly export")]
    pub name: String,
    /// The first characters of the secret, to recognise it.
    #[schema(example = "crm_Xb3k")]
    pub prefix: String,
    /// When set, the key's rights are the owner's narrowed to this role.
    pub role_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The secret, only in the answer to its creation. Send as `Authorization: Bearer <secret>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        ApiKeyView {
            created_at: key.created_at(),
            expires_at: key.expires_at(),
            last_used_at: key.last_used_at(),
            revoked_at: key.revoked_at(),
            id: key.id,
            user_id: key.user_id,
            name: key.name,
            prefix: key.prefix,
            role_id: key.role_id,
            secret: None,
        }
    }
}

/// A new API key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    #[schema(max_length = 200, example = "nightly export")]
    pub name: String,
    /// Narrow the key to this role (never wider than the owner's own rights).
    pub role_id: Option<String>,
    /// When the key stops working; never when absent.
    pub expires_at: Option<DateTime<Utc>>,
    /// Admins may create a key for another user.
    pub user_id: Option<String>,
}

/// Whose keys to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApiKeyListParams {
    /// Admins: list this user's keys (default: your own).
    pub user_id: Option<String>,
}

fn refuse_key_callers(caller: &Caller) -> Result<(), ApiError> {
    if caller.principal.api_key_id.is_some() {
        return Err(ApiError::Forbidden("API keys cannot manage API keys; sign in with a password".into()));
    }
    Ok(())
}

/// The user whose keys the caller addresses: themselves, or anyone for admins.
fn target_user(caller: &Caller, requested: Option<&str>) -> Result<String, ApiError> {
    match requested {
        Some(user_id) if user_id != caller.principal.user_id => {
            caller.require_admin()?;
            Ok(user_id.to_owned())
        }
        _ => Ok(caller.principal.user_id.clone()),
    }
}

/// Lists API keys.
#[utoipa::path(
    get, path = "/api/v1/api-keys", tag = "api-keys", operation_id = "list_api_keys", summary = "List API keys",
    description = "Your own live keys, newest first; admins may name another user. Revoked keys are gone (their revocation is in the audit log).",
    params(ApiKeyListParams),
    responses(
        (status = 200, description = "The keys, in one page", body = Page<ApiKeyView>),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another user's keys, not an admin; or called with an API key", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ApiKeyListParams>,
) -> Result<HttpResponse, ApiError> {
    refuse_key_callers(&caller)?;
    let user_id = target_user(&caller, params.user_id.as_deref())?;
    let keys = state.read(move |conn| Ok(auth::list_api_keys(conn, Some(&user_id))?)).await?;
    let live = keys.into_iter().filter(|key| key.revoked_at().is_none()).map(ApiKeyView::from);
    Ok(HttpResponse::Ok().json(Page { data: live.collect(), next_cursor: None }))
}

/// Creates an API key; the answer holds the secret, shown this once.
#[utoipa::path(
    post, path = "/api/v1/api-keys", tag = "api-keys", operation_id = "create_api_key", summary = "Create an API key",
    description = "The secret is in this answer only; the server keeps just its hash. A key acts with its owner's rights, narrowed to `role_id` when given.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry")),
    request_body(content = ApiKeyCreate, example = json!({"name": "nightly export", "role_id": "read_only"})),
    responses(
        (status = 201, description = "Created; `secret` is shown once", body = ApiKeyView, headers(("Location" = String, description = "URL of the new key"))),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "For another user, not an admin; or called with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, role, owner or expiry", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<ApiKeyCreate>,
) -> Result<HttpResponse, ApiError> {
    refuse_key_callers(&caller)?;
    let name = required_text("name", &body.name, SHORT_TEXT_MAX)?;
    let user_id = target_user(&caller, body.user_id.as_deref())?;
    if body.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::invalid_field("expires_at", "out_of_range", "must be in the future"));
    }
    let (role_id, expires_at) = (body.role_id.clone(), body.expires_at);
    let auditor = caller.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/api-keys", &body.into_inner(), move |conn| {
        match users::find(conn, &user_id) {
            Ok(user) if user.active => {}
            Ok(_) => {
                return Err(ApiError::invalid_field("user_id", "inactive_user", "names a deactivated user"));
            }
            Err(StoreError::NotFound) => {
                return Err(ApiError::invalid_field("user_id", "not_found", "names no user"));
            }
            Err(other) => return Err(other.into()),
        }
        if let Some(role_id) = &role_id {
            check_role(conn, role_id)?;
        }
        let secret = new_api_key();
        let prefix: String = secret.chars().take(8).collect();
        let stored = auth::insert_api_key(
            conn,
            &NewApiKey {
                user_id: &user_id,
                name: &name,
                prefix: &prefix,
                secret_hash: &secret_hash(&secret),
                role_id: role_id.as_deref(),
                expires_at,
            },
            Utc::now(),
        )?;
        let location = format!("/api/v1/api-keys/{}", stored.id);
        let detail = format!("key \"{name}\" for user {user_id}");
        let actor = (Some(auditor.principal.user_id.as_str()), auditor.principal.api_key_id.as_deref());
        let subject = Some(("api_key", stored.id.as_str()));
        audit::security(conn, &auditor.context, AuditAction::ApiKeyCreated, actor, subject, Some(detail))?;
        let mut view = ApiKeyView::from(stored);
        view.secret = Some(secret);
        Created::new(&view, location, 1)
    })
    .await
}

/// A live key the caller may manage. A revoked key is gone for the API, as a deleted resource
/// is (its revocation stays in the audit log).
fn key_of(conn: &mut persistence::DbConnection, caller: &Caller, id: &str) -> Result<ApiKey, ApiError> {
    let key = auth::find_api_key(conn, id).map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("API key"),
        other => other.into(),
    })?;
    let foreign = key.user_id != caller.principal.user_id && !caller.principal.is_admin();
    if foreign || key.revoked_at().is_some() {
        return Err(ApiError::not_found("API key"));
    }
    Ok(key)
}

/// Reads one API key.
#[utoipa::path(
    get, path = "/api/v1/api-keys/{id}", tag = "api-keys", operation_id = "get_api_key", summary = "Get an API key",
    description = "Your own key, or any key for admins; others' keys and revoked keys answer 404.",
    params(("id" = String, Path, description = "Key id"), NoParams),
    responses(
        (status = 200, description = "The key", body = ApiKeyView),
        (status = 403, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key, or not yours", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    refuse_key_callers(&caller)?;
    let id = id.into_inner();
    let key = state.read(move |conn| key_of(conn, &caller, &id)).await?;
    Ok(HttpResponse::Ok().json(ApiKeyView::from(key)))
}

/// Revokes an API key; it stops working at once.
#[utoipa::path(
    delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", operation_id = "revoke_api_key", summary = "Revoke an API key",
    description = "The key answers 401 from the next request on, and is gone: reading or revoking it again answers 404.",
    params(("id" = String, Path, description = "Key id"), NoParams),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such key, not yours, or already revoked", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    refuse_key_callers(&caller)?;
    let id = id.into_inner();
    state
        .write(move |conn| {
            key_of(conn, &caller, &id)?;
            auth::revoke_api_key(conn, &id, Utc::now())?;
            let actor = (Some(caller.principal.user_id.as_str()), caller.principal.api_key_id.as_deref());
            Ok(audit::security(conn, &caller.context, AuditAction::ApiKeyRevoked, actor, Some(("api_key", &id)), None)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the API key routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/api-keys").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/api-keys/{id}").route(web::get().to(get)).route(web::delete().to(revoke)));
}
