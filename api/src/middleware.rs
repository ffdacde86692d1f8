//! The layer every request and answer passes through: request id, rate limits, and
//! problem+json for every error, including the ones actix produces itself (404, 405, 413).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use crate::credentials::secret_hash;
use crate::error::{ApiError, PROBLEM_JSON, Problem};
use crate::extract::{AuthenticatedAs, RequestContext, RequestId};
use crate::state::AppState;
use app::audit;
use domain::audit::AuditAction;

/// Header carrying the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let valid = !value.is_empty()
        && value.len() <= 128
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    valid.then(|| value.to_owned())
}

/// The budgets requests count against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Budget {
    /// Per credential, or per address when anonymous.
    General,
    /// Sign-in attempts per address.
    Login,
    /// Public web form submissions and survey answers per address.
    Form,
}

/// Which budget a request counts against, and its key.
fn rate_key(req: &ServiceRequest) -> (String, Budget) {
    let address = req.peer_addr().map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string());
    let path = req.path();
    if path == "/api/v1/auth/login" || path == "/api/v1/auth/refresh" {
        return (format!("login:{address}"), Budget::Login);
    }
    let public_form = path.starts_with("/api/v1/forms/") && path.ends_with("/submissions");
    let public_post = req.method() == actix_web::http::Method::POST
        && (path.starts_with("/api/v1/survey-responses/") || path.starts_with("/api/v1/public/"));
    if public_form || public_post {
        return (format!("form:{address}"), Budget::Form);
    }
    match req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(credential) => (format!("credential:{}", &secret_hash(credential)[..32]), Budget::General),
        None => (format!("address:{address}"), Budget::General),
    }
}

/// Adds request id and rate-limit headers and turns every error answer into problem+json.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let quota = req.app_data::<web::Data<AppState>>().map(|state| {
        let (key, budget) = rate_key(&req);
        let limit = match budget {
            Budget::General => state.config.rate_limit_per_minute,
            Budget::Login => state.config.login_rate_limit_per_minute,
            Budget::Form => state.config.form_rate_limit_per_minute,
        };
        state.limiter.check(&key, limit)
    });

    let response = match quota {
        Some(quota) if !quota.allowed => {
            let error = ApiError::TooManyRequests { retry_after_seconds: quota.reset_seconds };
            let (http_request, _) = req.into_parts();
            ServiceResponse::new(http_request, error.error_response())
        }
        _ => next.call(req).await?.map_into_boxed_body(),
    };
    if response.status() == StatusCode::FORBIDDEN {
        audit_denial(&response, &request_id).await;
    }
    // Who may do what changed: cached callers are dropped before the client hears back.
    let request = response.request();
    if response.status().is_success()
        && crate::principals::changes_security(request.method(), request.path())
        && let Some(state) = request.app_data::<web::Data<AppState>>().cloned()
    {
        crate::principals::announce_change(&state.store).await;
    }
    let mut response = if response.status().is_client_error() || response.status().is_server_error() {
        as_problem(response, &request_id).await
    } else {
        response
    };

    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    if let Some(quota) = quota {
        headers.insert(HeaderName::from_static("ratelimit-limit"), HeaderValue::from(quota.limit));
        headers.insert(HeaderName::from_static("ratelimit-remaining"), HeaderValue::from(quota.remaining));
        headers.insert(HeaderName::from_static("ratelimit-reset"), HeaderValue::from(quota.reset_seconds));
    }
    Ok(response)
}

/// Records a refusal of a signed-in caller in the audit log. A failure to record is logged,
/// never turned into another answer.
async fn audit_denial(response: &ServiceResponse<BoxBody>, request_id: &str) {
    let request = response.request();
    let who = request.extensions().get::<AuthenticatedAs>().cloned();
    let (Some(state), Some(who)) = (request.app_data::<web::Data<AppState>>().cloned(), who) else {
        return;
    };
    let context = RequestContext {
        request_id: Some(request_id.to_owned()),
        client_address: request.peer_addr().map(|a| a.ip().to_string()),
    };
    let detail = format!("{} {}", request.method(), request.path());
    let recorded = state
        .write(move |conn| {
            let actor = (Some(who.user_id.as_str()), who.api_key_id.as_deref());
            Ok(audit::security(conn, &context, AuditAction::PermissionDenied, actor, None, Some(detail))?)
        })
        .await;
    if let Err(error) = recorded {
        log::warn!("request_id={request_id} could not record a permission denial: {error}");
    }
}

/// Rewrites an error answer as problem+json carrying the request id, keeping its headers.
async fn as_problem(response: ServiceResponse<BoxBody>, request_id: &str) -> ServiceResponse<BoxBody> {
    let status = response.status();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        let detail = response.response().error().map(ToString::to_string).unwrap_or_default();
        log::error!("request_id={request_id} internal error: {detail}");
    }
    let is_problem =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    let (http_request, http_response) = response.into_parts();
    let (head, body) = http_response.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let parsed: Option<serde_json::Value> = if is_problem { serde_json::from_slice(&bytes).ok() } else { None };
    let mut problem = match parsed {
        Some(serde_json::Value::Object(map)) => map,
        _ => match serde_json::to_value(generic_problem(status)) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        },
    };
    problem.insert("request_id".into(), serde_json::Value::String(request_id.to_owned()));
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let mut http_response = head.set_body(BoxBody::new(body));
    http_response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    ServiceResponse::new(http_request, http_response)
}

/// A problem for an error actix answered itself, from its status alone.
fn generic_problem(status: StatusCode) -> Problem {
    let (slug, detail) = match status {
        StatusCode::NOT_FOUND => ("not-found", "no such resource; see /docs for the API's paths"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "this method is not allowed on this resource"),
        StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "the request body is larger than this server accepts"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "send the body as application/json"),
        StatusCode::BAD_REQUEST => ("bad-request", "the request is malformed"),
        _ if status.is_server_error() => {
            ("internal", "an internal error occurred; quote the request_id when reporting it")
        }
        _ => ("about-blank", "the request cannot be processed"),
    };
    Problem {
        problem_type: format!("/problems/{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        request_id: None,
        errors: Vec::new(),
        duplicates: Vec::new(),
    }
}
