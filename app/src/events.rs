//! Writing domain events, in the transaction of the change they describe: a rolled-back or
//! refused write leaves none, an acknowledged one always has its events.

use chrono::Utc;
use domain::audit::AuditAction;
use domain::events::{implied_events, record_event_type};
use domain::registry::RECORD_TYPES;
use persistence::DbConnection;
use persistence::events::{self, NewEvent, StoredEvent};
use serde_json::{Map, Value};

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
            Cause::Actor(actor) if actor.chain.is_some() => "workflow",
            Cause::Actor(actor) if actor.is_system() => "system",
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
    /// The event's JSON.
    pub payload: &'a str,
}

/// Appends an event caused by `cause`.
pub fn record(conn: &mut DbConnection, cause: Cause<'_>, happened: &Happened<'_>) -> Result<(), AppError> {
    record_many(conn, cause, std::slice::from_ref(happened))
}

/// Appends events caused by `cause`, in their order, in a few multi-row statements.
pub fn record_many(conn: &mut DbConnection, cause: Cause<'_>, happened: &[Happened<'_>]) -> Result<(), AppError> {
    let (user, key, request_id) = match cause {
        Cause::Actor(actor) => {
            (actor.user_id(), actor.principal.api_key_id.as_deref(), actor.context.request_id.as_deref())
        }
        Cause::Visitor(context) => (None, None, context.request_id.as_deref()),
        Cause::Job { for_user, request_id } => (Some(for_user), None, request_id),
    };
    let chain = match cause {
        Cause::Actor(actor) => actor.chain.as_ref(),
        Cause::Visitor(_) | Cause::Job { .. } => None,
    };
    let new: Vec<NewEvent<'_>> = happened
        .iter()
        .map(|happened| NewEvent {
            event_type: happened.event_type,
            record_type: happened.record.0,
            record_id: happened.record.1,
            owner_id: happened.ownership.0,
            team_id: happened.ownership.1,
            actor_kind: cause.kind(),
            actor_user_id: user,
            actor_api_key_id: key,
            request_id,
            causation_id: chain.map(|chain| chain.run_id.as_str()),
            depth: chain.map_or(0, |chain| chain.depth),
            payload: happened.payload,
        })
        .collect();
    events::append_many(conn, &new, Utc::now())?;
    Ok(())
}

/// The payload of a record change's events, serialised straight from the views.
#[derive(serde::Serialize)]
struct ChangePayload<'a> {
    object: Option<&'a Map<String, Value>>,
    previous: Option<&'a Map<String, Value>>,
    changed_fields: &'a [String],
}

impl ChangePayload<'_> {
    fn to_json(&self) -> String {
        // A map of JSON values always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What one audited record change is announced as: the change itself (`contact.updated`) and
/// what it implies (`deal.stage_changed`), with the record's owner and team and the payload
/// `{object, previous, changed_fields}` they share, built from the API views.
#[derive(Debug)]
pub struct ChangeEvents {
    event_types: Vec<String>,
    owner_id: Option<String>,
    team_id: Option<String>,
    payload: String,
}

impl ChangeEvents {
    /// The events of a change; none for types outside the registry (custom field definitions).
    pub fn of(
        action: AuditAction,
        noun: &str,
        before: Option<&Map<String, Value>>,
        after: Option<&Map<String, Value>>,
        changed_fields: Vec<String>,
    ) -> Option<Self> {
        let spec = RECORD_TYPES.iter().find(|spec| spec.noun == noun)?;
        let event_type = record_event_type(spec.noun, action, before.is_some())?;
        // Only a change of an existing record implies more: a new deal did not change stage.
        let implied = match (before, after) {
            (Some(_), Some(after)) => implied_events(spec.noun, &changed_fields, after),
            _ => Vec::new(),
        };
        let latest = after.or(before);
        let text = |field: &str| latest.and_then(|view| view.get(field)).and_then(Value::as_str).map(str::to_owned);
        Some(ChangeEvents {
            event_types: std::iter::once(event_type).chain(implied.into_iter().map(str::to_owned)).collect(),
            owner_id: text(spec.owner_field),
            team_id: text("team_id"),
            payload: ChangePayload { object: after, previous: before, changed_fields: &changed_fields }.to_json(),
        })
    }

    /// The events to append for the record `record` (noun, id).
    pub fn happened<'a>(&'a self, record: (&'a str, &'a str)) -> impl Iterator<Item = Happened<'a>> {
        self.event_types.iter().map(move |event_type| Happened {
            event_type,
            record,
            ownership: (self.owner_id.as_deref(), self.team_id.as_deref()),
            payload: &self.payload,
        })
    }
}
