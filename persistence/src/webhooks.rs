//! Outbound webhooks besides their endpoint definitions: each endpoint's signing secrets and
//! failure state, the deliveries (one event for one endpoint) and every attempt made.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, StoreResult};
use crate::schema::{webhook_attempts, webhook_deliveries, webhook_secrets};
use crate::{DbConnection, from_db_time, new_id, to_db_time};

/// An endpoint's signing secrets and what its deliveries found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointState {
    pub endpoint_id: String,
    pub secret: String,
    /// The secret before the last rotation, and until when it still signs.
    pub previous: Option<(String, DateTime<Utc>)>,
    pub failing_since: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
}

type StateRow = (String, String, Option<String>, Option<NaiveDateTime>, Option<NaiveDateTime>, Option<String>);

fn state_of(row: StateRow) -> EndpointState {
    let (endpoint_id, secret, previous_secret, previous_expires_at, failing_since, disabled_reason) = row;
    EndpointState {
        endpoint_id,
        secret,
        previous: previous_secret.zip(previous_expires_at.map(from_db_time)),
        failing_since: failing_since.map(from_db_time),
        disabled_reason,
    }
}

const STATE_COLUMNS: (
    webhook_secrets::endpoint_id,
    webhook_secrets::secret,
    webhook_secrets::previous_secret,
    webhook_secrets::previous_expires_at,
    webhook_secrets::failing_since,
    webhook_secrets::disabled_reason,
) = (
    webhook_secrets::endpoint_id,
    webhook_secrets::secret,
    webhook_secrets::previous_secret,
    webhook_secrets::previous_expires_at,
    webhook_secrets::failing_since,
    webhook_secrets::disabled_reason,
);

/// Gives a new endpoint its first secret.
pub fn insert_state(conn: &mut DbConnection, endpoint_id: &str, secret: &str, now: DateTime<Utc>) -> StoreResult<()> {
    diesel::insert_into(webhook_secrets::table)
        .values((
            webhook_secrets::endpoint_id.eq(endpoint_id),
            webhook_secrets::secret.eq(secret),
            webhook_secrets::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// One endpoint's secrets and state.
pub fn state(conn: &mut DbConnection, endpoint_id: &str) -> StoreResult<EndpointState> {
    let row: StateRow = webhook_secrets::table
        .filter(webhook_secrets::endpoint_id.eq(endpoint_id))
        .select(STATE_COLUMNS)
        .first(conn)?;
    Ok(state_of(row))
}

/// Every endpoint's secrets and state (endpoints are few: an admin's list).
pub fn states(conn: &mut DbConnection) -> StoreResult<Vec<EndpointState>> {
    let rows: Vec<StateRow> = webhook_secrets::table.select(STATE_COLUMNS).load(conn)?;
    Ok(rows.into_iter().map(state_of).collect())
}

/// Replaces the secret; the one it replaces still signs until `previous_until`.
pub fn rotate(
    conn: &mut DbConnection,
    endpoint_id: &str,
    secret: &str,
    previous_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let current: String = webhook_secrets::table
        .filter(webhook_secrets::endpoint_id.eq(endpoint_id))
        .select(webhook_secrets::secret)
        .first(conn)?;
    diesel::update(webhook_secrets::table.filter(webhook_secrets::endpoint_id.eq(endpoint_id)))
        .set((
            webhook_secrets::secret.eq(secret),
            webhook_secrets::previous_secret.eq(current),
            webhook_secrets::previous_expires_at.eq(to_db_time(previous_until)),
            webhook_secrets::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records an attempt's outcome on its endpoint: a success ends a failing streak; a failure
/// starts one unless one runs. Returns since when the endpoint has been failing.
pub fn note_outcome(
    conn: &mut DbConnection,
    endpoint_id: &str,
    succeeded: bool,
    now: DateTime<Utc>,
) -> StoreResult<Option<DateTime<Utc>>> {
    let target = webhook_secrets::table.filter(webhook_secrets::endpoint_id.eq(endpoint_id));
    if succeeded {
        diesel::update(target.filter(webhook_secrets::failing_since.is_not_null()))
            .set(webhook_secrets::failing_since.eq(None::<NaiveDateTime>))
            .execute(conn)?;
        return Ok(None);
    }
    diesel::update(target.filter(webhook_secrets::failing_since.is_null()))
        .set(webhook_secrets::failing_since.eq(to_db_time(now)))
        .execute(conn)?;
    let since: Option<NaiveDateTime> = target.select(webhook_secrets::failing_since).first(conn)?;
    Ok(since.map(from_db_time))
}

/// Sets or clears why deliveries turned the endpoint off; clearing also ends a failing streak.
pub fn set_disabled(
    conn: &mut DbConnection,
    endpoint_id: &str,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let target = webhook_secrets::table.filter(webhook_secrets::endpoint_id.eq(endpoint_id));
    match reason {
        Some(reason) => diesel::update(target)
            .set((webhook_secrets::disabled_reason.eq(reason), webhook_secrets::updated_at.eq(to_db_time(now))))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                webhook_secrets::disabled_reason.eq(None::<String>),
                webhook_secrets::failing_since.eq(None::<NaiveDateTime>),
                webhook_secrets::updated_at.eq(to_db_time(now)),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// An attempt is queued.
    Pending,
    Succeeded,
    /// Its attempts are spent, or its endpoint was turned off.
    Failed,
}

impl DeliveryState {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
        }
    }

    /// The state a name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        [DeliveryState::Pending, DeliveryState::Succeeded, DeliveryState::Failed]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One event for one endpoint.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The request body, the same bytes for every attempt.
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type DeliveryRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i32,
    Option<NaiveDateTime>,
    Option<i32>,
    NaiveDateTime,
    NaiveDateTime,
);

fn delivery_of(row: DeliveryRow) -> StoreResult<Delivery> {
    let (id, endpoint_id, event_id, event_type, body, state, attempts, next_attempt_at, last_status, created, updated) =
        row;
    Ok(Delivery {
        state: DeliveryState::parse(&state)
            .ok_or_else(|| StoreError::Internal(format!("delivery {id} has state `{state}`")))?,
        id,
        endpoint_id,
        event_id,
        event_type,
        body,
        attempts,
        next_attempt_at: next_attempt_at.map(from_db_time),
        last_status,
        created_at: from_db_time(created),
        updated_at: from_db_time(updated),
    })
}

/// Stores a new pending delivery, unless the event already has one for the endpoint; its id.
pub fn insert_delivery(
    conn: &mut DbConnection,
    endpoint_id: &str,
    event_id: &str,
    event_type: &str,
    body: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<String>> {
    let existing: Option<String> = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::event_id.eq(event_id))
        .select(webhook_deliveries::id)
        .first(conn)
        .optional()?;
    if existing.is_some() {
        return Ok(None);
    }
    let id = new_id();
    let now = to_db_time(now);
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::id.eq(&id),
            webhook_deliveries::endpoint_id.eq(endpoint_id),
            webhook_deliveries::event_id.eq(event_id),
            webhook_deliveries::event_type.eq(event_type),
            webhook_deliveries::body.eq(body),
            webhook_deliveries::state.eq(DeliveryState::Pending.as_str()),
            webhook_deliveries::attempts.eq(0),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::created_at.eq(now),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(Some(id))
}

/// One delivery.
pub fn delivery(conn: &mut DbConnection, id: &str) -> StoreResult<Delivery> {
    delivery_of(webhook_deliveries::table.filter(webhook_deliveries::id.eq(id)).first(conn)?)
}

/// An endpoint's deliveries, newest first, before the delivery `before`, in `state` if given.
pub fn deliveries(
    conn: &mut DbConnection,
    endpoint_id: &str,
    state: Option<DeliveryState>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Delivery>> {
    let mut query = webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(endpoint_id)).into_boxed();
    if let Some(state) = state {
        query = query.filter(webhook_deliveries::state.eq(state.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before));
    }
    let rows: Vec<DeliveryRow> = query.order(webhook_deliveries::id.desc()).limit(limit).load(conn)?;
    rows.into_iter().map(delivery_of).collect()
}

/// An endpoint's finished deliveries made since `since`, oldest first, at most `limit` (what
/// a replay takes).
pub fn finished_since(
    conn: &mut DbConnection,
    endpoint_id: &str,
    since: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<Delivery>> {
    let rows: Vec<DeliveryRow> = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::created_at.ge(to_db_time(since)))
        .filter(webhook_deliveries::state.ne(DeliveryState::Pending.as_str()))
        .order(webhook_deliveries::id.asc())
        .limit(limit)
        .load(conn)?;
    rows.into_iter().map(delivery_of).collect()
}

/// Moves a delivery to `state` if it still has made `attempts_before` attempts (so a run that
/// lost its claim, or two replays, cannot both count); false when it had moved on.
pub fn advance_delivery(
    conn: &mut DbConnection,
    id: &str,
    attempts_before: i32,
    change: &DeliveryChange,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let changed = diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::attempts.eq(attempts_before)),
    )
    .set((
        webhook_deliveries::state.eq(change.state.as_str()),
        webhook_deliveries::attempts.eq(change.attempts),
        webhook_deliveries::next_attempt_at.eq(change.next_attempt_at.map(to_db_time)),
        webhook_deliveries::last_status.eq(change.last_status),
        webhook_deliveries::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// What an attempt (or a replay request) makes of a delivery.
#[derive(Debug, Clone)]
pub struct DeliveryChange {
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
}

/// Deliveries made before `cutoff`, and their attempts.
pub fn purge_before(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> StoreResult<usize> {
    let old = webhook_deliveries::table
        .filter(webhook_deliveries::created_at.lt(to_db_time(cutoff)))
        .select(webhook_deliveries::id);
    diesel::delete(webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(old))).execute(conn)?;
    Ok(diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::created_at.lt(to_db_time(cutoff))))
        .execute(conn)?)
}

/// One request made for a delivery, as sent and as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub attempt: i32,
    /// `scheduled` or `replay`.
    pub cause: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub url: String,
    /// JSON object of the headers sent.
    pub request_headers: String,
    pub status: Option<i32>,
    /// JSON object of the headers received.
    pub response_headers: Option<String>,
    /// Up to 4 KB of the body received.
    pub response_body: Option<String>,
    /// Why no answer came (refused destination, timeout, connection error).
    pub error: Option<String>,
}

type AttemptRow =
    (i32, String, NaiveDateTime, i64, String, String, Option<i32>, Option<String>, Option<String>, Option<String>);

/// Keeps an attempt of a delivery.
pub fn insert_attempt(conn: &mut DbConnection, delivery_id: &str, attempt: &Attempt) -> StoreResult<()> {
    diesel::insert_into(webhook_attempts::table)
        .values((
            webhook_attempts::id.eq(new_id()),
            webhook_attempts::delivery_id.eq(delivery_id),
            webhook_attempts::attempt.eq(attempt.attempt),
            webhook_attempts::cause.eq(&attempt.cause),
            webhook_attempts::started_at.eq(to_db_time(attempt.started_at)),
            webhook_attempts::duration_ms.eq(attempt.duration_ms),
            webhook_attempts::url.eq(&attempt.url),
            webhook_attempts::request_headers.eq(&attempt.request_headers),
            webhook_attempts::status.eq(attempt.status),
            webhook_attempts::response_headers.eq(&attempt.response_headers),
            webhook_attempts::response_body.eq(&attempt.response_body),
            webhook_attempts::error.eq(&attempt.error),
        ))
        .execute(conn)?;
    Ok(())
}

/// A delivery's attempts, in order.
pub fn attempts(conn: &mut DbConnection, delivery_id: &str) -> StoreResult<Vec<Attempt>> {
    let rows: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(delivery_id))
        .order(webhook_attempts::attempt.asc())
        .select((
            webhook_attempts::attempt,
            webhook_attempts::cause,
            webhook_attempts::started_at,
            webhook_attempts::duration_ms,
            webhook_attempts::url,
            webhook_attempts::request_headers,
            webhook_attempts::status,
            webhook_attempts::response_headers,
            webhook_attempts::response_body,
            webhook_attempts::error,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(attempt, cause, started_at, duration_ms, url, request_headers, status, headers, body, error)| Attempt {
            attempt,
            cause,
            started_at: from_db_time(started_at),
            duration_ms,
            url,
            request_headers,
            status,
            response_headers: headers,
            response_body: body,
            error,
        })
        .collect())
}
