//! `/api/v1/webhooks` (admins): outbound webhook endpoints, their signing secrets, the
//! delivery log and replays. Deliveries follow the Standard Webhooks specification; see
//! `app::webhooks` and `webhook_worker`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::webhook::{Destination, WebhookEndpoint};
use persistence::definitions::Definition;
use persistence::webhooks::{Attempt, Delivery, DeliveryState, EndpointState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::definitions::DefinitionApi;
use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams, etag};
use crate::outbound;
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::{Created, create_idempotently, id_page, id_page_limit};

static ENDPOINTS: DefinitionApi<WebhookEndpoint> =
    DefinitionApi { steps: &app::webhooks::ENDPOINTS, collection: "/api/v1/webhooks" };

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    #[schema(example = "https://hooks.example.com/crm")]
    pub url: String,
    /// The event types it gets; `null` for every event.
    #[schema(example = json!(["deal.stage_changed", "contact.created"]))]
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// Deliveries are made only while active.
    pub active: bool,
    /// Why deliveries turned the endpoint off (a 410 answer, five days of failures); cleared
    /// when an admin sets `active` again.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed; `null` while the last one succeeded.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret replaced by the last rotation still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookView {
    fn of(definition: Definition<WebhookEndpoint>, state: Option<&EndpointState>) -> Self {
        let endpoint = definition.body;
        WebhookView {
            id: definition.id,
            url: endpoint.url,
            event_types: endpoint.event_types,
            description: endpoint.description,
            active: endpoint.active,
            disabled_reason: state.and_then(|s| s.disabled_reason.clone()),
            failing_since: state.and_then(|s| s.failing_since),
            previous_secret_expires_at: state.and_then(|s| s.previous.as_ref().map(|(_, until)| *until)),
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

/// A new endpoint, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// Signs every delivery (`webhook-signature`); shown only now and on rotation.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// A rotated secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    /// The new secret, shown only now.
    pub secret: String,
    /// Until then deliveries carry a signature by the old secret as well.
    pub previous_secret_expires_at: DateTime<Utc>,
}

fn one(definition: Definition<WebhookEndpoint>, state: &EndpointState) -> HttpResponse {
    let version = definition.version;
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(WebhookView::of(definition, Some(state)))
}

/// Refuses a URL that is not allowed or that resolves to an address webhooks may not reach,
/// before any transaction opens (the lookup can take a while).
async fn check_url(state: &AppState, url: &str) -> Result<(), ApiError> {
    let destination =
        Destination::parse(url).map_err(|refused| ApiError::from(invalid_url(refused.code(), refused)))?;
    let policy = state.config.webhook_policy;
    let checked = web::block(move || outbound::check_destination(&destination, policy))
        .await
        .map_err(|e| ApiError::Internal(format!("the destination check stopped: {e}")))?;
    checked.map_err(|reason| ApiError::from(invalid_url("forbidden_destination", reason)))
}

fn invalid_url(code: &'static str, reason: impl ToString) -> app::error::AppError {
    app::error::AppError::invalid("url", code, reason.to_string())
}

/// Lists webhook endpoints.
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "list_webhooks", summary = "List webhook endpoints",
    description = "Admins only. Secrets are never listed.",
    params(NoParams),
    responses((status = 200, description = "The endpoints", body = Page<WebhookView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let states = {
        let caller = caller.clone();
        state.read(move |conn| Ok(app::webhooks::states(conn, &caller)?)).await?
    };
    let endpoints = ENDPOINTS.list(&state, caller).await?;
    let data = endpoints
        .into_iter()
        .map(|endpoint| {
            let found = states.iter().find(|s| s.endpoint_id == endpoint.id);
            WebhookView::of(endpoint, found)
        })
        .collect::<Vec<_>>();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: None }))
}

/// Creates a webhook endpoint.
#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "webhooks", operation_id = "create_webhook", summary = "Create a webhook endpoint",
    description = "Admins only. The URL must be http or https and resolve only to public addresses (loopback, private, link-local, CGNAT, unique-local, IPv4-mapped, NAT64, 6to4 and the other special ranges are refused, in any numeric spelling: 422 `forbidden_destination`). `event_types` absent or `null` subscribes to every event. The answer carries the signing secret, shown only this once.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = WebhookEndpoint, example = json!({"url": "https://hooks.example.com/crm", "event_types": ["deal.stage_changed", "contact.created"], "description": "Onboarding"})),
    responses((status = 201, description = "Created", body = CreatedWebhook, headers(("Location" = String, description = "URL of the new endpoint"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<WebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let checked = app::webhooks::ENDPOINTS.check(&caller, body.clone())?;
    check_url(&state, &checked.url).await?;
    let secret = outbound::new_secret();
    let for_write = caller.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/webhooks", &body, move |conn| {
        let created = app::webhooks::create(conn, &for_write, &checked, &secret)?;
        let (location, version) = (format!("/api/v1/webhooks/{}", created.id), created.version);
        let view = CreatedWebhook { webhook: WebhookView::of(created, None), secret };
        Created::new(&view, location, version)
    })
    .await
}

/// Reads a webhook endpoint.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "get_webhook", summary = "Get a webhook endpoint",
    description = "Admins only.",
    params(("id" = String, Path, description = "Endpoint id"), NoParams),
    responses((status = 200, description = "The endpoint", body = WebhookView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (endpoint, found) = state
        .read(move |conn| {
            let endpoint = app::webhooks::ENDPOINTS.find(conn, &caller, &id)?;
            Ok((endpoint, app::webhooks::state(conn, &caller, &id)?))
        })
        .await?;
    Ok(one(endpoint, &found))
}

/// Changes a webhook endpoint.
#[utoipa::path(
    patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "update_webhook", summary = "Update a webhook endpoint (merge-patch)",
    description = "Admins only. A JSON merge-patch of `url`, `event_types`, `description` and `active`; a new URL is checked as on creation. Setting `active: true` clears `disabled_reason` and the failing streak.",
    params(("id" = String, Path, description = "Endpoint id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"active": true})),
    responses((status = 200, description = "The endpoint", body = WebhookView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
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
    caller.require_admin()?;
    let serde_json::Value::Object(patch) = body.into_inner() else {
        return Err(ApiError::bad_request("the body must be a JSON object (a merge-patch)"));
    };
    if let Some(serde_json::Value::String(url)) = patch.get("url") {
        check_url(&state, url).await?;
    }
    let id = id.into_inner();
    let (endpoint, found) = state
        .write(move |conn| {
            let updated = app::webhooks::update(conn, &caller, &id, if_match.0, patch)?;
            Ok((updated, app::webhooks::state(conn, &caller, &id)?))
        })
        .await?;
    Ok(one(endpoint, &found))
}

/// Deletes a webhook endpoint.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", operation_id = "delete_webhook", summary = "Delete a webhook endpoint",
    description = "Admins only. Its delivery log goes with it; queued attempts are dropped.",
    params(("id" = String, Path, description = "Endpoint id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    ENDPOINTS.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotates an endpoint's signing secret.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/rotate-secret", tag = "webhooks", operation_id = "rotate_webhook_secret", summary = "Rotate a webhook endpoint's secret",
    description = "Admins only. A new secret, shown only in this answer; for 24 hours deliveries carry two signatures (`v1,<new> v1,<old>`), so a receiver can switch without missing one.",
    params(("id" = String, Path, description = "Endpoint id"), NoParams),
    responses((status = 200, description = "The new secret", body = RotatedSecret), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn rotate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let (id, secret) = (id.into_inner(), outbound::new_secret());
    let shown = secret.clone();
    let until = state.write(move |conn| Ok(app::webhooks::rotate(conn, &caller, &id, &secret)?)).await?;
    Ok(HttpResponse::Ok().json(RotatedSecret { secret: shown, previous_secret_expires_at: until }))
}

/// A delivery: one event for one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Sent as `webhook-id`, the same for every attempt.
    pub id: String,
    pub event_id: String,
    #[schema(example = "deal.stage_changed")]
    pub event_type: String,
    /// `pending` (an attempt is queued), `succeeded`, or `failed` (attempts spent, or the
    /// endpoint turned off).
    #[schema(example = "succeeded")]
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The status of the last answer; `null` when none came.
    pub last_status: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Delivery> for DeliveryView {
    fn from(delivery: &Delivery) -> Self {
        DeliveryView {
            id: delivery.id.clone(),
            event_id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            state: delivery.state.as_str().to_owned(),
            attempts: delivery.attempts,
            next_attempt_at: delivery.next_attempt_at,
            last_status: delivery.last_status,
            created_at: delivery.created_at,
            updated_at: delivery.updated_at,
        }
    }
}

/// A delivery with its body and every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    /// The body every attempt posted: `{type, timestamp, data: {object, previous, changed_fields}}`.
    #[schema(value_type = Value)]
    pub body: serde_json::Value,
    /// Every request made for it, first to last.
    pub requests: Vec<AttemptView>,
}

/// One request made for a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    /// `scheduled` (first try or a retry) or `replay`.
    pub cause: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub url: String,
    /// The headers sent (the signature's value left out).
    #[schema(value_type = HashMap<String, String>)]
    pub request_headers: serde_json::Value,
    pub status: Option<i32>,
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub response_headers: Option<serde_json::Value>,
    /// Up to 4 KB of the answer's body.
    pub response_body: Option<String>,
    /// Why no answer came: a refused destination, a timeout, a connection error.
    pub error: Option<String>,
}

fn attempt_view(attempt: Attempt) -> Result<AttemptView, ApiError> {
    let unreadable = |e: serde_json::Error| ApiError::Internal(format!("a stored attempt is unreadable: {e}"));
    Ok(AttemptView {
        attempt: attempt.attempt,
        cause: attempt.cause,
        started_at: attempt.started_at,
        duration_ms: attempt.duration_ms,
        url: attempt.url,
        request_headers: serde_json::from_str(&attempt.request_headers).map_err(unreadable)?,
        status: attempt.status,
        response_headers: attempt
            .response_headers
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(unreadable)?,
        response_body: attempt.response_body,
        error: attempt.error,
    })
}

/// Which deliveries to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    /// `pending`, `succeeded` or `failed`.
    pub state: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists an endpoint's deliveries.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "list_webhook_deliveries", summary = "List a webhook endpoint's deliveries",
    description = "Admins only. Newest first; kept 30 days.",
    params(("id" = String, Path, description = "Endpoint id"), DeliveryListParams),
    responses((status = 200, description = "A page of deliveries", body = Page<DeliveryView>), ReadErrors),
    security(("bearer" = []))
)]
pub async fn deliveries(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<DeliveryListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let limit = id_page_limit(params.limit)?;
    let wanted = match params.state.as_deref() {
        None => None,
        Some(name) => Some(
            DeliveryState::parse(name)
                .ok_or_else(|| ApiError::bad_field("state", "invalid", "is one of pending, succeeded, failed"))?,
        ),
    };
    let id = id.into_inner();
    let found = state
        .read(move |conn| {
            Ok(app::webhooks::deliveries(conn, &caller, &id, wanted, params.cursor.as_deref(), limit + 1)?)
        })
        .await?;
    let (found, next_cursor) = id_page(found, limit, |delivery| &delivery.id);
    Ok(HttpResponse::Ok().json(Page { data: found.iter().map(DeliveryView::from).collect::<Vec<_>>(), next_cursor }))
}

/// Reads one delivery with its attempts.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}", tag = "webhooks", operation_id = "get_webhook_delivery", summary = "Get a webhook delivery",
    description = "Admins only. The body sent and every attempt: headers sent, status, answer headers, up to 4 KB of the answer's body, duration.",
    params(("id" = String, Path, description = "Endpoint id"), ("delivery_id" = String, Path, description = "Delivery id"), NoParams),
    responses((status = 200, description = "The delivery", body = DeliveryDetail), ReadErrors),
    security(("bearer" = []))
)]
pub async fn delivery(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    let (delivery, attempts) =
        state.read(move |conn| Ok(app::webhooks::delivery(conn, &caller, &id, &delivery_id)?)).await?;
    let body = serde_json::from_str(&delivery.body)
        .map_err(|e| ApiError::Internal(format!("a stored delivery is unreadable: {e}")))?;
    let attempts = attempts.into_iter().map(attempt_view).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(DeliveryDetail { delivery: DeliveryView::from(&delivery), body, requests: attempts }))
}

/// Delivers one delivery again.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay", tag = "webhooks", operation_id = "replay_webhook_delivery", summary = "Replay a webhook delivery",
    description = "Admins only. One more attempt, now, with the same `webhook-id` and body (a fresh timestamp and signature). 409 while the delivery is still pending or the endpoint is off.",
    params(("id" = String, Path, description = "Endpoint id"), ("delivery_id" = String, Path, description = "Delivery id"), NoParams),
    responses((status = 202, description = "Queued", body = ReplayReceipt), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn replay(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    state.write(move |conn| Ok(app::webhooks::replay(conn, &caller, &id, &delivery_id)?)).await?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(ReplayReceipt { replayed: 1 }))
}

/// From when to replay.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySince {
    /// Every finished delivery made at or after this time.
    pub since: DateTime<Utc>,
}

/// How many deliveries were queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayReceipt {
    pub replayed: usize,
}

/// Delivers every delivery since a time again.
#[utoipa::path(
    post, path = "/api/v1/webhooks/{id}/replay", tag = "webhooks", operation_id = "replay_webhook_deliveries", summary = "Replay a webhook endpoint's deliveries since a time",
    description = "Admins only. One more attempt of every finished (succeeded or failed) delivery made since `since`, oldest first, at most 1000 a request (ask again from the last one's time for more). 409 while the endpoint is off.",
    params(("id" = String, Path, description = "Endpoint id"), NoParams),
    request_body(content = ReplaySince, example = json!({"since": "2026-12-01T00:00:00Z"})),
    responses((status = 202, description = "Queued", body = ReplayReceipt), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn replay_since(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    body: web::Json<ReplaySince>,
) -> Result<HttpResponse, ApiError> {
    let (id, since) = (id.into_inner(), body.into_inner().since);
    let replayed = state.write(move |conn| Ok(app::webhooks::replay_since(conn, &caller, &id, since)?)).await?;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(ReplayReceipt { replayed }))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/webhooks").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/webhooks/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/webhooks/{id}/rotate-secret").route(web::post().to(rotate)))
        .service(web::resource("/webhooks/{id}/replay").route(web::post().to(replay_since)))
        .service(web::resource("/webhooks/{id}/deliveries").route(web::get().to(deliveries)))
        .service(web::resource("/webhooks/{id}/deliveries/{delivery_id}").route(web::get().to(delivery)))
        .service(web::resource("/webhooks/{id}/deliveries/{delivery_id}/replay").route(web::post().to(replay)));
}
