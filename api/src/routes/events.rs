//! `/api/v1/events`: the domain event feed, for integrators who poll.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Visibility};
use domain::registry::RECORD_TYPES;
use persistence::events::{self, EventQuery, StoredEvent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ListErrors};
use crate::extract::Caller;
use crate::state::AppState;
use crate::support::id_page_limit;

/// Who caused an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventActor {
    /// `user`, `api_key`, `visitor` (a public web form) or `system` (background work for
    /// `user_id`).
    #[schema(example = "user")]
    pub kind: String,
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
}

/// Something that happened.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Time-ordered; a handler that saw this id has handled the event.
    pub id: String,
    /// `<record type>.created|updated|deleted|restored|merged`, or `deal.stage_changed`,
    /// `lead.status_changed`, `lead.converted`, `form.submitted`, `task.completed`,
    /// `import.finished`.
    #[serde(rename = "type")]
    #[schema(example = "contact.updated")]
    pub event_type: String,
    #[schema(example = "contact")]
    pub record_type: String,
    pub record_id: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: EventActor,
    /// The request that made the change, as in its `X-Request-Id`.
    pub request_id: Option<String>,
    /// The event that caused this one (a workflow's trigger), if any.
    pub causation_id: Option<String>,
    /// How many events led to this one (0 for a change a person or key made).
    pub depth: i32,
    /// Record changes: `object` (the record as the API shows it after, `null` once deleted or
    /// merged away), `previous` (before, `null` for a create) and `changed_fields`. Other
    /// events carry their own details (`form_id`, the import's counts).
    #[schema(value_type = HashMap<String, Value>)]
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl TryFrom<StoredEvent> for EventView {
    type Error = ApiError;

    fn try_from(event: StoredEvent) -> Result<Self, ApiError> {
        let data = serde_json::from_str(&event.payload)
            .map_err(|e| ApiError::Internal(format!("a stored event payload is unreadable: {e}")))?;
        Ok(EventView {
            id: event.id,
            event_type: event.event_type,
            record_type: event.record_type,
            record_id: event.record_id,
            occurred_at: event.occurred_at,
            actor: EventActor {
                kind: event.actor_kind,
                user_id: event.actor_user_id,
                api_key_id: event.actor_api_key_id,
            },
            request_id: event.request_id,
            causation_id: event.causation_id,
            depth: event.depth,
            data,
        })
    }
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub data: Vec<EventView>,
    /// Pass as `after` for the events that follow; present even when `data` is empty (the
    /// position to poll from again), `null` only while the feed has nothing for the caller.
    pub next_cursor: Option<String>,
}

/// What part of the feed to read.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// `next_cursor` of the previous read; from the oldest kept event without it.
    pub after: Option<String>,
    /// Only events of this type (`deal.stage_changed`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only events about this record type (`contact`, `import`).
    pub record_type: Option<String>,
    /// Only events about this record.
    pub record_id: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

fn cursor_of(position: (i64, i64)) -> String {
    format!("{}-{}", position.0, position.1)
}

fn parse_cursor(raw: &str) -> Result<(i64, i64), ApiError> {
    raw.split_once('-')
        .and_then(|(tx, position)| Some((tx.parse::<i64>().ok()?, position.parse::<i64>().ok()?)))
        .filter(|(tx, position)| *tx >= 0 && *position >= 0)
        .ok_or_else(|| ApiError::bad_field("after", "invalid", "must be a `next_cursor` this feed gave"))
}

/// The record types whose events the caller may read, with how far its grant reaches: every
/// record type through its module's read grant, and imports (their uploader's; all for admins).
fn readable(caller: &Caller) -> Vec<(&'static str, Visibility)> {
    let principal = &caller.principal;
    let mut readable: Vec<(&'static str, Visibility)> = RECORD_TYPES
        .iter()
        .map(|spec| (spec.noun, principal.visibility(spec.module, Action::Read)))
        .filter(|(_, visibility)| *visibility != Visibility::Nothing)
        .collect();
    let imports =
        if principal.is_admin() { Visibility::Everything } else { Visibility::OwnedBy(principal.user_id.clone()) };
    readable.push(("import", imports));
    readable
}

/// The event feed.
#[utoipa::path(
    get, path = "/api/v1/events", tag = "events", operation_id = "list_events", summary = "Event feed",
    description = "Every business change as an event, oldest first, written in the transaction of the change (a refused or rolled-back write has none). Poll with `after` set to the last `next_cursor`: the feed never skips an event that commits late. Only events about records the caller may read (as the record was then) are listed; imports' events go to their uploader and admins. Kept for `CRM_EVENT_RETENTION_DAYS` (30).",
    params(EventParams),
    responses((status = 200, description = "Events after the cursor", body = EventPage), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<EventParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let after = params.after.as_deref().map(parse_cursor).transpose()?;
    if let Some(event_type) = &params.event_type
        && !domain::events::is_event_type(event_type)
    {
        return Err(ApiError::bad_field("type", "unknown_event_type", "names no event type of this CRM"));
    }
    if let Some(record_type) = &params.record_type
        && record_type != "import"
        && !RECORD_TYPES.iter().any(|spec| spec.noun == record_type)
    {
        return Err(ApiError::bad_field("record_type", "unknown_record_type", "names no record type of this CRM"));
    }
    let limit = id_page_limit(Some(params.limit.unwrap_or(50)))?;
    let query = EventQuery {
        after,
        event_type: params.event_type,
        record_type: params.record_type,
        record_id: params.record_id,
        limit,
    };
    let readable = readable(&caller);
    let found = state.read(move |conn| Ok(events::feed(conn, &readable, &query)?)).await?;
    let next_cursor = found.last().map(|event| cursor_of(event.cursor)).or_else(|| after.map(cursor_of));
    let data = found.into_iter().map(EventView::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(EventPage { data, next_cursor }))
}

/// Registers the event routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(web::resource("/events").route(web::get().to(list)));
}
