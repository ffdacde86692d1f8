//! Outbound webhooks: endpoints (admin definitions with a signing secret), the event handler
//! that turns each committed event into a delivery per endpoint that wants it, and the
//! bookkeeping of an attempt (its log, the retry, turning a dead endpoint off). Making the
//! request is the HTTP door's (`api::webhook_worker`); this never speaks HTTP.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use domain::webhook::{self, Answer, WebhookEndpoint};
use persistence::definitions::{self, Definition, Kind};
use persistence::events::StoredEvent;
use persistence::webhooks::{self, Attempt, Delivery, DeliveryChange, DeliveryState, EndpointState};
use persistence::{DbConnection, StoreError};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::definitions::DefinitionKind;
use crate::error::AppError;
use crate::events::EventHandler;
use crate::jobs::{self, Enqueue, JobSpec};

/// Endpoints as admin definitions: validated whole, merge-patched, versioned.
pub static ENDPOINTS: DefinitionKind<WebhookEndpoint> = DefinitionKind {
    kind: Kind::WebhookEndpoint,
    noun: "webhook endpoint",
    validate: WebhookEndpoint::validated,
    references: |_, _| Ok(()),
    after_change: |_| Ok(()),
};

/// How long a rotated-out secret still signs, so receivers can switch without a gap.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);
/// Deliveries one replay request queues at most.
pub const REPLAY_MAX: i64 = 1000;

/// One attempt of one delivery, as a job (`api::webhook_worker` runs it). Its own attempts
/// are for the database being away; the receiver's failures are the delivery's retries.
pub const DELIVER: JobSpec = JobSpec { name: "webhooks.deliver", max_attempts: 5 };

/// A delivery job's payload: which attempt of which delivery, and why it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptOrder {
    pub delivery_id: String,
    pub attempt: i32,
    pub cause: Cause,
}

/// Why an attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The first attempt or a retry of the schedule.
    Scheduled,
    /// An admin asked for the delivery again.
    Replay,
}

impl Cause {
    fn as_str(self) -> &'static str {
        match self {
            Cause::Scheduled => "scheduled",
            Cause::Replay => "replay",
        }
    }
}

/// Creates an endpoint with its first secret (the caller made it and shows it once).
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    endpoint: &WebhookEndpoint,
    secret: &str,
) -> Result<Definition<WebhookEndpoint>, AppError> {
    let created = ENDPOINTS.create(conn, actor, endpoint, None)?;
    webhooks::insert_state(conn, &created.id, secret, Utc::now())?;
    Ok(created)
}

/// Merge-patches an endpoint; turning it on again clears why deliveries turned it off.
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i64>,
    patch: serde_json::Map<String, serde_json::Value>,
) -> Result<Definition<WebhookEndpoint>, AppError> {
    let turned_on = patch.get("active") == Some(&serde_json::Value::Bool(true));
    let updated = ENDPOINTS.update(conn, actor, id, expected_version, patch, None)?;
    if turned_on {
        webhooks::set_disabled(conn, id, None, Utc::now())?;
    }
    Ok(updated)
}

/// An endpoint's secrets and delivery state.
pub fn state(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<EndpointState, AppError> {
    actor.require_admin()?;
    webhooks::state(conn, id).map_err(|error| match error {
        StoreError::NotFound => AppError::not_found(ENDPOINTS.noun),
        other => other.into(),
    })
}

/// Every endpoint's secrets and delivery state.
pub fn states(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<EndpointState>, AppError> {
    actor.require_admin()?;
    Ok(webhooks::states(conn)?)
}

/// Replaces an endpoint's secret; the old one signs alongside until the returned time.
pub fn rotate(conn: &mut DbConnection, actor: &Actor, id: &str, secret: &str) -> Result<DateTime<Utc>, AppError> {
    ENDPOINTS.find(conn, actor, id)?;
    let now = Utc::now();
    // Microseconds, as stored, so the answer and later reads agree.
    let until = (now + ROTATION_OVERLAP).trunc_subsecs(6);
    webhooks::rotate(conn, id, secret, until, now)?;
    Ok(until)
}

/// The dispatcher's handler: a delivery, and its first attempt queued, for every active
/// endpoint that wants the event. The body is fixed here: `{type, timestamp, data}` with the
/// event's `{object, previous, changed_fields}`.
pub static DELIVERIES: EventHandler = EventHandler { name: "webhooks", route };

fn route(conn: &mut DbConnection, event: &StoredEvent) -> Result<(), AppError> {
    let endpoints = definitions::list::<WebhookEndpoint>(conn, Kind::WebhookEndpoint)?;
    let wanting: Vec<_> = endpoints.iter().filter(|e| e.body.wants(&event.event_type)).collect();
    if wanting.is_empty() {
        return Ok(());
    }
    let data: serde_json::Value = serde_json::from_str(&event.payload)?;
    let body = serde_json::to_string(&serde_json::json!({
        "type": event.event_type,
        "timestamp": event.occurred_at,
        "data": data,
    }))?;
    let now = Utc::now();
    for endpoint in wanting {
        if let Some(id) = webhooks::insert_delivery(conn, &endpoint.id, &event.id, &event.event_type, &body, now)? {
            queue_attempt(conn, &AttemptOrder { delivery_id: id, attempt: 1, cause: Cause::Scheduled }, None)?;
        }
    }
    Ok(())
}

/// An endpoint by id, for the steps that name one (a workflow's webhook call).
pub fn endpoint(conn: &mut DbConnection, id: &str) -> Result<WebhookEndpoint, AppError> {
    match definitions::find::<WebhookEndpoint>(conn, Kind::WebhookEndpoint, id) {
        Ok(endpoint) => Ok(endpoint.body),
        Err(StoreError::NotFound) => Err(AppError::not_found(ENDPOINTS.noun)),
        Err(other) => Err(other.into()),
    }
}

/// A delivery of `data` to one endpoint outside the event feed (a workflow's step), made once
/// for `key`, with its first attempt queued; its id. Refused when the endpoint is gone or off.
pub fn deliver(
    conn: &mut DbConnection,
    endpoint_id: &str,
    key: &str,
    event_type: &str,
    data: &serde_json::Value,
) -> Result<String, AppError> {
    if !endpoint(conn, endpoint_id)?.active {
        return Err(AppError::Conflict("the webhook endpoint is turned off".into()));
    }
    let now = Utc::now();
    let body = serde_json::to_string(&serde_json::json!({"type": event_type, "timestamp": now, "data": data}))?;
    let id = webhooks::insert_delivery(conn, endpoint_id, key, event_type, &body, now)?
        .ok_or_else(|| AppError::Conflict(format!("a delivery for {key} exists already")))?;
    queue_attempt(conn, &AttemptOrder { delivery_id: id.clone(), attempt: 1, cause: Cause::Scheduled }, None)?;
    Ok(id)
}

fn queue_attempt(conn: &mut DbConnection, order: &AttemptOrder, at: Option<DateTime<Utc>>) -> Result<(), AppError> {
    let key = format!("{}:{}", order.delivery_id, order.attempt);
    jobs::enqueue(conn, &DELIVER, order, &Enqueue { run_at: at, unique_key: Some(&key), ..Enqueue::default() })?;
    Ok(())
}

/// What an attempt needs: the delivery, where it goes and what signs it.
pub struct Prepared {
    pub delivery: Delivery,
    pub endpoint: WebhookEndpoint,
    pub state: EndpointState,
}

/// Reads what attempt `order` needs, or `None` when there is nothing to do: the delivery or
/// its endpoint is gone, or the delivery has moved past this attempt (a job run again after
/// its attempt was recorded).
pub fn prepare(conn: &mut DbConnection, order: &AttemptOrder) -> Result<Option<Prepared>, AppError> {
    let delivery = match webhooks::delivery(conn, &order.delivery_id) {
        Ok(delivery) => delivery,
        Err(StoreError::NotFound) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    if delivery.state != DeliveryState::Pending || delivery.attempts + 1 != order.attempt {
        return Ok(None);
    }
    let endpoint = match definitions::find::<WebhookEndpoint>(conn, Kind::WebhookEndpoint, &delivery.endpoint_id) {
        Ok(endpoint) => endpoint.body,
        Err(StoreError::NotFound) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    let state = webhooks::state(conn, &delivery.endpoint_id)?;
    Ok(Some(Prepared { delivery, endpoint, state }))
}

/// An attempt's job given up on (the database away through all its runs, or cancelled by an
/// admin): its delivery fails rather than stay pending with nothing queued.
pub fn abandoned(conn: &mut DbConnection, payload: &str, _: &str) -> Result<(), AppError> {
    let order: AttemptOrder = serde_json::from_str(payload)?;
    let delivery = match webhooks::delivery(conn, &order.delivery_id) {
        Ok(delivery) => delivery,
        Err(StoreError::NotFound) => return Ok(()),
        Err(other) => return Err(other.into()),
    };
    if delivery.state == DeliveryState::Pending && delivery.attempts + 1 == order.attempt {
        let change = DeliveryChange {
            state: DeliveryState::Failed,
            attempts: delivery.attempts,
            next_attempt_at: None,
            last_status: delivery.last_status,
        };
        webhooks::advance_delivery(conn, &delivery.id, delivery.attempts, &change, Utc::now())?;
    }
    Ok(())
}

/// An endpoint turned off since the delivery was queued: the delivery fails without a request.
pub fn skip(conn: &mut DbConnection, prepared: &Prepared) -> Result<(), AppError> {
    let delivery = &prepared.delivery;
    let change = DeliveryChange {
        state: DeliveryState::Failed,
        attempts: delivery.attempts,
        next_attempt_at: None,
        last_status: delivery.last_status,
    };
    webhooks::advance_delivery(conn, &delivery.id, delivery.attempts, &change, Utc::now())?;
    Ok(())
}

/// What an attempt sent and got, for the log.
pub struct Made {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub url: String,
    pub request_headers: serde_json::Value,
    pub answer: Answer,
    pub response_headers: Option<serde_json::Value>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// Records an attempt made: its log entry, the delivery's new state and its next attempt,
/// the endpoint's failing streak, and the endpoint turned off when the verdict says so.
pub fn finish(conn: &mut DbConnection, order: &AttemptOrder, prepared: &Prepared, made: Made) -> Result<(), AppError> {
    let delivery = &prepared.delivery;
    let now = Utc::now();
    let status = match made.answer {
        Answer::Status { code, .. } => Some(i32::from(code)),
        Answer::Nothing => None,
    };
    let attempt = Attempt {
        attempt: order.attempt,
        cause: order.cause.as_str().to_owned(),
        started_at: made.started_at,
        duration_ms: made.duration_ms,
        url: made.url,
        request_headers: made.request_headers.to_string(),
        status,
        response_headers: made.response_headers.map(|h| h.to_string()),
        response_body: made.response_body,
        error: made.error,
    };
    let delivered = matches!(made.answer, Answer::Status { code: 200..=299, .. });
    let failing_since = webhooks::note_outcome(conn, &delivery.endpoint_id, delivered, now)?;
    let number = u32::try_from(order.attempt).unwrap_or(u32::MAX);
    // A replay is one more try, never the start of a new retry schedule.
    let schedule_step = if order.cause == Cause::Replay { webhook::ATTEMPTS } else { number };
    let verdict =
        webhook::judge(schedule_step, made.answer, failing_since, now, domain::jobs::jitter(&delivery.id, number));
    let next_at = verdict.retry_in.map(|wait| jobs::later(now, wait));
    let change = DeliveryChange {
        state: match (verdict.delivered, next_at) {
            (true, _) => DeliveryState::Succeeded,
            (false, Some(_)) => DeliveryState::Pending,
            (false, None) => DeliveryState::Failed,
        },
        attempts: order.attempt,
        next_attempt_at: next_at,
        last_status: status,
    };
    if !webhooks::advance_delivery(conn, &delivery.id, delivery.attempts, &change, now)? {
        return Ok(());
    }
    webhooks::insert_attempt(conn, &delivery.id, &attempt)?;
    if let Some(at) = next_at {
        let next =
            AttemptOrder { delivery_id: delivery.id.clone(), attempt: order.attempt + 1, cause: Cause::Scheduled };
        queue_attempt(conn, &next, Some(at))?;
    }
    if let Some(reason) = verdict.disable {
        turn_off(conn, &delivery.endpoint_id, reason, now)?;
    }
    Ok(())
}

fn turn_off(conn: &mut DbConnection, endpoint_id: &str, reason: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    let current = definitions::find::<WebhookEndpoint>(conn, Kind::WebhookEndpoint, endpoint_id)?;
    let url = current.body.url.clone();
    if current.body.active {
        let off = WebhookEndpoint { active: false, ..current.body };
        definitions::update(conn, Kind::WebhookEndpoint, endpoint_id, current.version, &off, current.position, now)?;
    }
    webhooks::set_disabled(conn, endpoint_id, Some(reason), now)?;
    log::warn!("webhook endpoint {endpoint_id} turned off: {reason}");
    let message = format!("The webhook endpoint {url} ({endpoint_id}) was turned off: {reason}");
    crate::comments::notify_admins(conn, domain::comment::NotificationKind::WebhookDisabled, &message)?;
    Ok(())
}

/// One page of an endpoint's delivery log, newest first.
pub fn deliveries(
    conn: &mut DbConnection,
    actor: &Actor,
    endpoint_id: &str,
    state: Option<DeliveryState>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Delivery>, AppError> {
    ENDPOINTS.find(conn, actor, endpoint_id)?;
    Ok(webhooks::deliveries(conn, endpoint_id, state, before, limit)?)
}

/// One delivery of an endpoint with its attempts.
pub fn delivery(
    conn: &mut DbConnection,
    actor: &Actor,
    endpoint_id: &str,
    delivery_id: &str,
) -> Result<(Delivery, Vec<Attempt>), AppError> {
    let delivery = delivery_of(conn, actor, endpoint_id, delivery_id)?;
    let attempts = webhooks::attempts(conn, &delivery.id)?;
    Ok((delivery, attempts))
}

fn delivery_of(conn: &mut DbConnection, actor: &Actor, endpoint_id: &str, id: &str) -> Result<Delivery, AppError> {
    ENDPOINTS.find(conn, actor, endpoint_id)?;
    match webhooks::delivery(conn, id) {
        Ok(delivery) if delivery.endpoint_id == endpoint_id => Ok(delivery),
        Ok(_) | Err(StoreError::NotFound) => Err(AppError::not_found("delivery")),
        Err(other) => Err(other.into()),
    }
}

/// Queues one more attempt of a finished delivery, now; the same `webhook-id` and body, so a
/// receiver that had it already can tell.
pub fn replay(conn: &mut DbConnection, actor: &Actor, endpoint_id: &str, delivery_id: &str) -> Result<(), AppError> {
    let endpoint = ENDPOINTS.find(conn, actor, endpoint_id)?;
    if !endpoint.body.active {
        return Err(AppError::Conflict("the endpoint is not active; turn it on to replay".into()));
    }
    let delivery = delivery_of(conn, actor, endpoint_id, delivery_id)?;
    if delivery.state == DeliveryState::Pending {
        return Err(AppError::Conflict("the delivery is still being attempted".into()));
    }
    requeue(conn, &delivery)
}

/// Queues one more attempt of every finished delivery of the endpoint made since `since`
/// (at most [`REPLAY_MAX`] a request); how many.
pub fn replay_since(
    conn: &mut DbConnection,
    actor: &Actor,
    endpoint_id: &str,
    since: DateTime<Utc>,
) -> Result<usize, AppError> {
    let endpoint = ENDPOINTS.find(conn, actor, endpoint_id)?;
    if !endpoint.body.active {
        return Err(AppError::Conflict("the endpoint is not active; turn it on to replay".into()));
    }
    let finished = webhooks::finished_since(conn, endpoint_id, since, REPLAY_MAX)?;
    for delivery in &finished {
        requeue(conn, delivery)?;
    }
    Ok(finished.len())
}

fn requeue(conn: &mut DbConnection, delivery: &Delivery) -> Result<(), AppError> {
    let now = Utc::now();
    let change = DeliveryChange {
        state: DeliveryState::Pending,
        attempts: delivery.attempts,
        next_attempt_at: Some(now),
        last_status: delivery.last_status,
    };
    if !webhooks::advance_delivery(conn, &delivery.id, delivery.attempts, &change, now)? {
        return Err(AppError::Conflict("the delivery changed meanwhile; try again".into()));
    }
    let order = AttemptOrder { delivery_id: delivery.id.clone(), attempt: delivery.attempts + 1, cause: Cause::Replay };
    queue_attempt(conn, &order, None)
}
