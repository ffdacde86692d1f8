//! Writing domain events, in the transaction of the change they describe: a rolled-back or
//! refused write leaves none, an acknowledged one always has its events.

use chrono::Utc;
use domain::audit::AuditAction;
use domain::events::{implied_events, record_event_type};
use domain::registry::RECORD_TYPES;
use persistence::DbConnection;
use persistence::events::{self, NewEvent, StoredEvent};
use serde_json::{Map, Value, json};

use crate::actor::{Actor, RequestContext};
use crate::error::AppError;

/// One consumer of committed events, handed each by the dispatcher (`crate::dispatch`).
#[derive(Debug)]
pub struct EventHandler {
    /// Names the handler in logs and in the keys of what it enqueues.
    pub name: &'static str,
    /// Enqueues, in the dispatcher's transaction, what `event` asks of this handler (often
    /// nothing).
    pub route: fn(&mut DbConnection, &StoredEvent) -> Result<(), AppError>,
}

/// Who caused an event.
#[derive(Debug, Clone, Copy)]
pub enum Cause<'a> {
    /// A signed-in user or API key.
    Actor(&'a Actor),
    /// Someone not signed in (a public web form), with the request's context.
    Visitor(&'a RequestContext),
    /// Background work done for a user (an import finishing), with the request that began it.
    Job { for_user: &'a str, request_id: Option<&'a str> },
}

impl Cause<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Cause::Actor(actor) if actor.principal.api_key_id.is_some() => "api_key",
            Cause::Actor(_) => "user",
            Cause::Visitor(_) => "visitor",
            Cause::Job { .. } => "system",
        }
    }
}

/// One event about a record: its type, the record, and the payload.
#[derive(Debug, Clone)]
pub struct Happened<'a> {
    pub event_type: &'a str,
    pub record: (&'a str, &'a str),
    /// The record's owner and team when it happened, which decide who may read the event.
    pub ownership: (Option<&'a str>, Option<&'a str>),
    pub payload: Value,
}

/// Appends an event caused by `cause`.
pub fn record(conn: &mut DbConnection, cause: Cause<'_>, happened: &Happened<'_>) -> Result<(), AppError> {
    let (user, key, request_id) = match cause {
        Cause::Actor(actor) => (
            Some(actor.principal.user_id.as_str()),
            actor.principal.api_key_id.as_deref(),
            actor.context.request_id.as_deref(),
        ),
        Cause::Visitor(context) => (None, None, context.request_id.as_deref()),
        Cause::Job { for_user, request_id } => (Some(for_user), None, request_id),
    };
    let event = NewEvent {
        event_type: happened.event_type,
        record_type: happened.record.0,
        record_id: happened.record.1,
        owner_id: happened.ownership.0,
        team_id: happened.ownership.1,
        actor_kind: cause.kind(),
        actor_user_id: user,
        actor_api_key_id: key,
        request_id,
        causation_id: None,
        depth: 0,
        payload: happened.payload.to_string(),
    };
    events::append(conn, &event, Utc::now())?;
    Ok(())
}

/// The events of one audited record change: the change itself (`contact.updated`) and what it
/// implies (`deal.stage_changed`), each with `{object, previous, changed_fields}` built from
/// the API views. Types outside the registry (custom field definitions) have no events.
pub fn record_change(
    conn: &mut DbConnection,
    cause: Cause<'_>,
    action: AuditAction,
    record: (&str, &str),
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
    changed_fields: Vec<String>,
) -> Result<(), AppError> {
    let Some(spec) = RECORD_TYPES.iter().find(|spec| spec.noun == record.0) else { return Ok(()) };
    let Some(event_type) = record_event_type(spec.noun, action, before.is_some()) else { return Ok(()) };
    // Only a change of an existing record implies more: a new deal did not change stage.
    let implied = match (before, after) {
        (Some(_), Some(after)) => implied_events(spec.noun, &changed_fields, after),
        _ => Vec::new(),
    };
    let latest = after.or(before);
    let text = |field: &str| latest.and_then(|view| view.get(field)).and_then(Value::as_str);
    let ownership = (text(spec.owner_field), text("team_id"));
    let payload = json!({ "object": after, "previous": before, "changed_fields": changed_fields });
    for event_type in std::iter::once(event_type.as_str()).chain(implied) {
        self::record(conn, cause, &Happened { event_type, record, ownership, payload: payload.clone() })?;
    }
    Ok(())
}
