//! `/api/v1/auth/*` and `/api/v1/me`: signing in and out, and the caller's own profile.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Module, Scope};
use domain::audit::AuditAction;
use domain::values::EmailAddress;
use persistence::auth::{self, Rotation};
use persistence::users;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::credentials::{decoy_hash, random_token, secret_hash, verify_password};
use crate::error::{ApiError, CommonErrors, Problem, PublicErrors};
use crate::extract::{Caller, NoParams, Origin};
use crate::state::AppState;
use app::audit;

/// Credentials to sign in with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "admin@example.com", max_length = 254)]
    pub email: String,
    #[schema(example = "correct horse battery staple", format = Password, max_length = 256)]
    pub password: String,
}

/// A refresh token to exchange for new tokens.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Tokens for a signed-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Exchange at POST /api/v1/auth/refresh; each one works once.
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
}

/// The signed-in user, their teams and what their role allows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role_id: String,
    pub team_ids: Vec<String>,
    /// Module → action → scope, after narrowing by the API key's role when one is used.
    #[schema(value_type = crate::routes::common::GrantsSchema, example = json!({"contacts": {"read": "team", "create": "own"}}))]
    pub grants: BTreeMap<Module, BTreeMap<Action, Scope>>,
    /// The API key used for this call, if any.
    pub api_key_id: Option<String>,
}

/// The answer to a sign-in or refresh: a new access token next to the new refresh token.
fn token_answer(
    state: &AppState,
    user_id: &str,
    session_id: &str,
    refresh_token: String,
    refresh_token_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(TokenPair {
        access_token: state.keys.issue(user_id, session_id, now).map_err(ApiError::Internal)?,
        token_type: "Bearer".into(),
        expires_in: state.keys.access_ttl().as_secs(),
        refresh_token,
        refresh_token_expires_at,
    }))
}

/// Records a refused sign-in; the attempted email is kept, the password never.
async fn failed_login(
    state: &AppState,
    context: crate::extract::RequestContext,
    user_id: Option<String>,
    detail: String,
) -> Result<(), ApiError> {
    state
        .write(move |conn| {
            Ok(audit::security(
                conn,
                &context,
                AuditAction::LoginFailed,
                (user_id.as_deref(), None),
                None,
                Some(detail),
            )?)
        })
        .await
}

fn invalid_login() -> ApiError {
    ApiError::Unauthorized("the email or password is wrong".into())
}

/// Signs in with email and password.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth", operation_id = "login",
    summary = "Sign in",
    description = "Returns a short-lived access token and a refresh token. Rate-limited per client address (CRM_LOGIN_RATE_LIMIT_PER_MINUTE).",
    params(NoParams),
    request_body(content = LoginRequest, example = json!({"email": "admin@example.com", "password": "correct horse battery staple"})),
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong email or password, or deactivated account", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A text holds a NUL character", body = Problem, content_type = "application/problem+json"),
        PublicErrors,
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    Origin(context): Origin,
    _: web::Query<NoParams>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { email, password } = body.into_inner();
    let Ok(email) = EmailAddress::parse("email", &email) else {
        failed_login(&state, context, None, "not an email address".into()).await?;
        return Err(invalid_login());
    };
    let attempted = email.as_str().to_owned();
    let found = state.read(move |conn| Ok(users::find_for_login(conn, email.as_str())?)).await?;
    // Verify against a decoy when the user is unknown, so timing does not reveal accounts.
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, decoy_hash().to_owned()),
    };
    let verified =
        web::block(move || verify_password(&password, &hash)).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let user = match user {
        Some(user) if verified && user.active => user,
        Some(user) if verified => {
            log::info!("login refused for deactivated user {}", user.id);
            failed_login(&state, context, Some(user.id), format!("{attempted}: account deactivated")).await?;
            return Err(ApiError::Unauthorized("this account is deactivated".into()));
        }
        Some(user) => {
            failed_login(&state, context, Some(user.id), format!("{attempted}: wrong password")).await?;
            return Err(invalid_login());
        }
        None => {
            failed_login(&state, context, None, format!("{attempted}: no such user")).await?;
            return Err(invalid_login());
        }
    };
    let refresh_token = random_token();
    let refresh_hash = secret_hash(&refresh_token);
    let now = Utc::now();
    let refresh_expires = now + state.config.refresh_token_ttl;
    let user_id = user.id.clone();
    let session_id = state
        .write(move |conn| {
            let session = auth::start_session(conn, &user_id, &refresh_hash, refresh_expires, now)?;
            audit::security(conn, &context, AuditAction::Login, (Some(&user_id), None), None, None)?;
            Ok(session)
        })
        .await?;
    token_answer(&state, &user.id, &session_id, refresh_token, refresh_expires, now)
}

/// Exchanges a refresh token for new tokens.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth", operation_id = "refresh",
    summary = "Refresh tokens",
    description = "Each refresh token works once and is replaced by a new one. Presenting a spent refresh token again means it was stolen or replayed: the whole session is revoked and 401 is answered.",
    params(NoParams),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, expired, spent or revoked refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A text holds a NUL character", body = Problem, content_type = "application/problem+json"),
        PublicErrors,
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    Origin(context): Origin,
    _: web::Query<NoParams>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = secret_hash(&body.into_inner().refresh_token);
    let refresh_token = random_token();
    let new_hash = secret_hash(&refresh_token);
    let now = Utc::now();
    let refresh_expires = now + state.config.refresh_token_ttl;
    let rotation =
        state.write(move |conn| Ok(auth::rotate(conn, &presented, &new_hash, refresh_expires, now)?)).await?;
    let (user_id, session_id) = match rotation {
        Rotation::Rotated { user_id, family_id } => (user_id, family_id),
        Rotation::Reused { user_id, family_id } => {
            log::warn!("refresh token reuse for user {user_id}: session {family_id} revoked");
            crate::principals::announce_change(&state.store).await;
            let detail = format!("session {family_id} revoked");
            state
                .write(move |conn| {
                    Ok(audit::security(
                        conn,
                        &context,
                        AuditAction::TokenReuse,
                        (Some(&user_id), None),
                        None,
                        Some(detail),
                    )?)
                })
                .await?;
            return Err(ApiError::Unauthorized(
                "this refresh token was already used; the session has been revoked, sign in again".into(),
            ));
        }
        Rotation::Invalid => {
            return Err(ApiError::Unauthorized("the refresh token is invalid, expired or revoked".into()));
        }
    };
    let lookup = user_id.clone();
    let user = state.read(move |conn| Ok(users::find(conn, &lookup)?)).await?;
    if !user.active {
        return Err(ApiError::Unauthorized("this account is deactivated".into()));
    }
    token_answer(&state, &user_id, &session_id, refresh_token, refresh_expires, now)
}

/// Ends the caller's session.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth", operation_id = "logout",
    summary = "Sign out",
    description = "Revokes the session of the access token used: its refresh token and every access token of the session stop working at once. API keys are revoked with DELETE /api/v1/api-keys/{id} instead.",
    params(NoParams),
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "Called with an API key", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let Some(session_id) = caller.0.session_id.clone() else {
        return Err(ApiError::bad_request("an API key has no session; revoke it with DELETE /api/v1/api-keys/{id}"));
    };
    state
        .write(move |conn| {
            auth::revoke_session(conn, &session_id, Utc::now())?;
            let actor = (Some(caller.principal.user_id.as_str()), None);
            Ok(audit::security(conn, &caller.context, AuditAction::Logout, actor, None, None)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who the caller is and what they may do.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth", operation_id = "me",
    summary = "The caller",
    description = "The signed-in user (or API key owner), their teams and their effective grants, so a frontend can show only what is allowed.",
    params(NoParams),
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn me(state: web::Data<AppState>, caller: Caller, _: web::Query<NoParams>) -> Result<HttpResponse, ApiError> {
    let user_id = caller.principal.user_id.clone();
    let user = state.read(move |conn| Ok(users::find(conn, &user_id)?)).await?;
    let mut grants: BTreeMap<Module, BTreeMap<Action, Scope>> = BTreeMap::new();
    for (module, action, scope) in caller.principal.grants.entries() {
        grants.entry(module).or_default().insert(action, scope);
    }
    Ok(HttpResponse::Ok().json(Me {
        id: user.id,
        email: user.email,
        name: user.name,
        role_id: user.role_id,
        team_ids: caller.0.principal.team_ids,
        grants,
        api_key_id: caller.0.principal.api_key_id,
    }))
}

/// Registers the auth routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/auth/login").route(web::post().to(login)))
        .service(web::resource("/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/auth/logout").route(web::post().to(logout)))
        .service(web::resource("/me").route(web::get().to(me)));
}
