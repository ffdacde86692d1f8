//! Request extractors: the caller, conditional and idempotency headers, and the error
//! handlers that turn actix's own extractor failures into problem answers.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use app::actor::Actor;
use chrono::Utc;
use domain::access::Principal;
use persistence::{StoreError, auth, roles, users};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::credentials::{API_KEY_PREFIX, secret_hash};
use crate::error::ApiError;
use crate::state::AppState;

/// The request's id, echoed in `X-Request-Id`, problem bodies and log lines.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub use app::actor::RequestContext;

/// Where a request came from (its id and peer address), as an extractor.
#[derive(Debug, Clone, Default)]
pub struct Origin(pub RequestContext);

fn context_of(req: &HttpRequest) -> RequestContext {
    RequestContext {
        request_id: req.extensions().get::<RequestId>().map(|id| id.0.clone()),
        client_address: req.peer_addr().map(|a| a.ip().to_string()),
    }
}

impl FromRequest for Origin {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Origin(context_of(req))))
    }
}

/// The user (and key) a request was made as, left in the request's extensions so the
/// middleware can audit a refusal.
#[derive(Debug, Clone)]
pub struct AuthenticatedAs {
    pub user_id: String,
    pub api_key_id: Option<String>,
}

/// The authenticated caller of a request: the application layer's [`Actor`], which every
/// business step takes (a `&Caller` is a `&Actor` through `Deref`).
#[derive(Debug, Clone)]
pub struct Caller(pub Actor);

impl std::ops::Deref for Caller {
    type Target = Actor;

    fn deref(&self) -> &Actor {
        &self.0
    }
}

impl std::ops::DerefMut for Caller {
    fn deref_mut(&mut self) -> &mut Actor {
        &mut self.0
    }
}

impl From<crate::principals::Resolved> for Caller {
    fn from((principal, session_id): crate::principals::Resolved) -> Self {
        Caller(Actor { principal, session_id, context: RequestContext::default(), chain: None })
    }
}

impl Caller {
    /// Who acts and through which session, as the cache keeps it.
    fn resolved(&self) -> crate::principals::Resolved {
        (self.principal.clone(), self.session_id.clone())
    }
}

fn unauthorized(reason: &str) -> ApiError {
    ApiError::Unauthorized(reason.to_owned())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let credential = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().map(str::to_owned).map_err(|_| ()))
            .transpose();
        let request = req.clone();
        Box::pin(async move {
            let mut caller = resolve(state, credential).await?;
            caller.context = context_of(&request);
            request.extensions_mut().insert(AuthenticatedAs {
                user_id: caller.principal.user_id.clone(),
                api_key_id: caller.principal.api_key_id.clone(),
            });
            Ok(caller)
        })
    }
}

async fn resolve(
    state: Option<web::Data<AppState>>,
    credential: Result<Option<String>, ()>,
) -> Result<Caller, ApiError> {
    let state = state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let credential = credential
        .map_err(|()| unauthorized("the Authorization header is not valid text"))?
        .ok_or_else(|| unauthorized("send `Authorization: Bearer <access token or API key>`"))?;
    let token = credential
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must use the Bearer scheme"))?
        .to_owned();
    if token.starts_with(API_KEY_PREFIX) {
        resolve_api_key(&state, token).await
    } else {
        let claims = state.keys.verify(&token).ok_or_else(|| unauthorized("the access token is invalid or expired"))?;
        let credential = format!("session:{}:{}", claims.sid, claims.sub);
        if let Some(resolved) = state.principals.get(&credential) {
            return Ok(Caller::from(resolved));
        }
        let epoch = crate::principals::epoch();
        let caller = state
            .read(move |conn| {
                if !auth::session_is_active(conn, &claims.sid, &claims.sub)? {
                    return Err(unauthorized("this session has ended; sign in again"));
                }
                Ok(Caller(Actor {
                    principal: principal_of(conn, &claims.sub, None)?,
                    session_id: Some(claims.sid),
                    context: RequestContext::default(),
                    chain: None,
                }))
            })
            .await?;
        state.principals.put(credential, &caller.resolved(), epoch, None);
        Ok(caller)
    }
}

/// What a user may do now, narrowed to an API key's role when acting through one. A user who
/// no longer exists or is deactivated is refused (401).
pub fn principal_of(
    conn: &mut persistence::DbConnection,
    user_id: &str,
    key: Option<&auth::ApiKey>,
) -> Result<Principal, ApiError> {
    let membership = users::membership(conn, user_id).map_err(not_found_is_unauthorized)?;
    if !membership.user.active {
        return Err(unauthorized("this account is deactivated"));
    }
    let mut principal = app::actor::principal_of_member(membership);
    if let Some(role_id) = key.and_then(|k| k.role_id.as_ref()) {
        principal.grants = principal.grants.intersect(&roles::find(conn, role_id)?.grants);
    }
    principal.api_key_id = key.map(|k| k.id.clone());
    Ok(principal)
}

fn not_found_is_unauthorized(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => unauthorized("the credential's user no longer exists"),
        other => other.into(),
    }
}

async fn resolve_api_key(state: &web::Data<AppState>, token: String) -> Result<Caller, ApiError> {
    let hash = secret_hash(&token);
    let credential = format!("key:{hash}");
    if let Some(resolved) = state.principals.get(&credential) {
        return Ok(Caller::from(resolved));
    }
    let epoch = crate::principals::epoch();
    let (caller, key) = state
        .read(move |conn| {
            let now = Utc::now();
            let key = auth::find_usable_api_key(conn, &hash, now)?
                .ok_or_else(|| unauthorized("the API key is invalid, expired or revoked"))?;
            let caller = Caller(Actor {
                principal: principal_of(conn, &key.user_id, Some(&key))?,
                session_id: None,
                context: RequestContext::default(),
                chain: None,
            });
            Ok((caller, key))
        })
        .await?;
    let now = Utc::now();
    let expires_at = key.expires_at();
    if key.last_used_at().is_none_or(|last| now - last > chrono::TimeDelta::minutes(1)) {
        state.write(move |conn| Ok(auth::note_api_key_use(conn, &key, now)?)).await?;
    }
    state.principals.put(credential, &caller.resolved(), epoch, expires_at);
    Ok(caller)
}

/// The version named by `If-Match` (`"3"`, `W/"3"`, or a bare `3`); `None` when absent or `*`.
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<i64>);

impl IfMatch {
    /// Refuses with 412 when the caller's version is not the current one.
    pub fn check(self, current: i64) -> Result<(), ApiError> {
        Ok(app::records::check_version(self.0, current)?)
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get(header::IF_MATCH).map(|v| v.to_str()) {
            None => Ok(IfMatch(None)),
            Some(Ok(raw)) => {
                let raw = raw.trim();
                if raw == "*" {
                    Ok(IfMatch(None))
                } else {
                    // A bare number is taken too: clients that drop the quotes mean the same.
                    // Exactly what the document's pattern says: 1 to 18 digits.
                    let tag = raw.strip_prefix("W/").unwrap_or(raw);
                    let quoted = tag.strip_prefix('"').and_then(|r| r.strip_suffix('"'));
                    Some(quoted.unwrap_or(tag))
                        .filter(|v| (1..=18).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|v| v.parse::<i64>().ok())
                        .map(|v| IfMatch(Some(v)))
                        .ok_or_else(|| {
                            ApiError::bad_request("If-Match must be an ETag given by this API, such as \"3\"")
                        })
                }
            }
            Some(Err(_)) => Err(ApiError::bad_request("If-Match is not valid text")),
        };
        std::future::ready(parsed)
    }
}

/// The `ETag` of a record version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The client's `Idempotency-Key`, when sent.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

/// Longest accepted idempotency key.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let parsed = match req.headers().get("idempotency-key").map(|v| v.to_str()) {
            None => Ok(IdempotencyKey(None)),
            Some(Ok(key)) if !key.trim().is_empty() && key.len() <= IDEMPOTENCY_KEY_MAX => {
                Ok(IdempotencyKey(Some(key.trim().to_owned())))
            }
            Some(_) => Err(ApiError::bad_request(format!(
                "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"
            ))),
        };
        std::future::ready(parsed)
    }
}

/// Query parameters of an operation that takes none: any parameter is refused, so a typo
/// is never silently ignored.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Maps body failures: wrong type → 415, too large → 413, malformed or unknown field → 400.
pub fn json_error(error: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let api_error = match &error {
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "send the body as application/json (or application/merge-patch+json for PATCH)".into(),
        ),
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::PayloadTooLarge(format!("the body must be at most {limit} bytes"))
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => match unknown_field(&e.to_string()) {
            Some(field) => {
                ApiError::bad_field(&field, "unknown_field", format!("is not a field of this request body: {e}"))
            }
            None => ApiError::bad_request(format!("the body does not fit the schema: {e}")),
        },
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(format!("the body is not valid JSON: {e}")),
        other => ApiError::bad_request(format!("the body could not be read: {other}")),
    };
    api_error.into()
}

/// The field serde names in "unknown field `x`, expected one of ...".
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(field, _)| field.to_owned())
}

/// Maps query-string failures (unknown or malformed parameters) to 400.
pub fn query_error(error: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let detail = match &error {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    match unknown_field(&detail) {
        Some(field) => {
            ApiError::bad_field(&field, "unknown_parameter", format!("is not a parameter of this operation: {detail}"))
        }
        None => ApiError::bad_request(format!("invalid query parameters: {detail}")),
    }
    .into()
}

/// A path segment that does not parse names nothing that exists: 404.
pub fn path_error(_: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound("no such resource".into()).into()
}
