//! Timelines: a record's activities, its stage or status changes and its comments, merged
//! newest first and keyset-paginated on (time, id) across the sources.

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use domain::access::{Action, Module};
use domain::activity::{ActivityType, RecordRef, RecordType};
use persistence::activities;
use persistence::links::{self, ChangesOf, RecordChange};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::routes::activities::ActivityView;
use crate::routes::newest_first::{PageParams, cut};
use crate::state::AppState;
use app::kinds::COMPANIES;
use app::kinds::CONTACTS;
use app::kinds::DEALS;
use app::kinds::LEADS;
use app::kinds::TICKETS;

/// What a timeline entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Activity,
    StageChange,
    StatusChange,
    Comment,
}

/// A stage or status change in a timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    pub record_type: RecordType,
    pub record_id: String,
    /// `stage` (deals) or `status` (leads and tickets).
    pub field: String,
    /// Stage id or status before; `null` for a deal's first stage.
    pub from: Option<String>,
    pub to: String,
    pub changed_by: Option<String>,
    pub api_key_id: Option<String>,
}

/// One entry of a timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    pub kind: EntryKind,
    /// The activity's or the change's id.
    pub id: String,
    /// When it happened: an activity's `occurred_at`, a change's time.
    pub occurred_at: DateTime<Utc>,
    /// Set for activities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<ActivityView>,
    /// Set for changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeView>,
    /// Set for comments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<crate::routes::comments::CommentView>,
}

/// A page of a timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelinePage {
    pub data: Vec<TimelineEntry>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Parameters of a timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Comma-separated kinds to include: activity types (`email`, `call`, `meeting`, `chat`,
    /// `social`, `note`), `stage_change`, `status_change`, `comment`. Default: everything.
    #[serde(rename = "type")]
    #[param(rename = "type", example = "call,meeting,stage_change")]
    pub kinds: Option<String>,
}

struct Wanted {
    activity_types: Vec<ActivityType>,
    activities: bool,
    stage_changes: bool,
    status_changes: bool,
    comments: bool,
}

fn wanted(raw: Option<&str>) -> Result<Wanted, ApiError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(Wanted {
            activity_types: Vec::new(),
            activities: true,
            stage_changes: true,
            status_changes: true,
            comments: true,
        });
    };
    let mut wanted = Wanted {
        activity_types: Vec::new(),
        activities: false,
        stage_changes: false,
        status_changes: false,
        comments: false,
    };
    for part in raw.split(',').map(str::trim) {
        match part {
            "stage_change" => wanted.stage_changes = true,
            "status_change" => wanted.status_changes = true,
            "comment" => wanted.comments = true,
            other => {
                let kind: ActivityType = serde_json::from_value(serde_json::Value::String(other.to_owned())).map_err(|_| {
                    ApiError::bad_field(
                        "type",
                        "unknown_type",
                        format!("`{other}` is not one of email, call, meeting, chat, social, note, stage_change, status_change, comment"),
                    )
                })?;
                wanted.activities = true;
                wanted.activity_types.push(kind);
            }
        }
    }
    Ok(wanted)
}

/// Answers the timeline of one record the caller may see.
pub async fn respond(
    state: &AppState,
    caller: Caller,
    record_type: RecordType,
    id: String,
    params: TimelineParams,
) -> Result<HttpResponse, ApiError> {
    let wanted = wanted(params.kinds.as_deref())?;
    let (limit, before) = PageParams { limit: params.limit, cursor: params.cursor }.parse()?;
    let (activities, changes, comments) = state
        .read(move |conn| {
            let tickets = || caller.principal.visibility(Module::Tickets, Action::Read);
            let changes_of = match record_type {
                RecordType::Contact => CONTACTS
                    .find_visible(conn, &caller, &id)
                    .map(|_| wanted.status_changes.then(|| ChangesOf::Requester(id.clone(), tickets())))?,
                RecordType::Company => COMPANIES.find_visible(conn, &caller, &id).map(|_| {
                    let of_tickets = wanted.status_changes.then(tickets);
                    (wanted.stage_changes || of_tickets.is_some()).then(|| ChangesOf::Company {
                        id: id.clone(),
                        deals: wanted.stage_changes,
                        tickets: of_tickets,
                    })
                })?,
                RecordType::Lead => LEADS
                    .find_visible(conn, &caller, &id)
                    .map(|_| wanted.status_changes.then(|| ChangesOf::Record(RecordType::Lead, id.clone())))?,
                RecordType::Deal => DEALS
                    .find_visible(conn, &caller, &id)
                    .map(|_| wanted.stage_changes.then(|| ChangesOf::Record(RecordType::Deal, id.clone())))?,
                RecordType::Ticket => TICKETS
                    .find_visible(conn, &caller, &id)
                    .map(|_| wanted.status_changes.then(|| ChangesOf::Record(RecordType::Ticket, id.clone())))?,
                RecordType::Product | RecordType::Article => {
                    return Err(ApiError::NotFound(format!("{}s have no timeline", record_type.as_str())));
                }
            };
            let comments = if wanted.comments {
                persistence::comments::timeline(conn, (record_type.as_str(), &id), before.as_ref(), limit + 1)?
            } else {
                Vec::new()
            };
            let record = RecordRef { record_type, id };
            let visibility = caller.principal.visibility(Module::Activities, Action::Read);
            let activities = if wanted.activities {
                activities::timeline(conn, &visibility, &record, &wanted.activity_types, before.as_ref(), limit + 1)?
            } else {
                Vec::new()
            };
            let changes = match changes_of {
                Some(of) => links::changes_of(conn, &of, before.as_ref(), limit + 1)?,
                None => Vec::new(),
            };
            Ok((activities, changes, comments))
        })
        .await?;
    let mut entries: Vec<TimelineEntry> = activities
        .into_iter()
        .map(|a| TimelineEntry {
            kind: EntryKind::Activity,
            id: a.id.clone(),
            occurred_at: a.data.occurred_at,
            activity: Some(ActivityView::from(a)),
            change: None,
            comment: None,
        })
        .chain(changes.into_iter().map(change_entry))
        .collect();
    for comment in comments {
        entries.push(TimelineEntry {
            kind: EntryKind::Comment,
            id: comment.id.clone(),
            occurred_at: comment.created_at,
            activity: None,
            change: None,
            comment: Some(crate::routes::comments::CommentView::try_from(comment)?),
        });
    }
    entries.sort_by(|a, b| (b.occurred_at, &b.id).cmp(&(a.occurred_at, &a.id)));
    let (data, next_cursor) = cut(entries, limit, |e| (e.occurred_at, e.id.clone()));
    Ok(HttpResponse::Ok().json(TimelinePage { data, next_cursor }))
}

fn change_entry(change: RecordChange) -> TimelineEntry {
    let kind = if change.field == "stage" { EntryKind::StageChange } else { EntryKind::StatusChange };
    TimelineEntry {
        kind,
        id: change.id,
        occurred_at: change.changed_at,
        activity: None,
        comment: None,
        change: Some(ChangeView {
            record_type: change.record_type,
            record_id: change.record_id,
            field: change.field,
            from: change.from_value,
            to: change.to_value,
            changed_by: change.changed_by,
            api_key_id: change.api_key_id,
        }),
    }
}
