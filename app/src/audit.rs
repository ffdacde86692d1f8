//! Writing the audit trail: record changes as field-level before/after of their API views,
//! and security events. Each call runs in the transaction of what it describes.

use chrono::Utc;
use domain::audit::{AuditAction, diff};
use persistence::DbConnection;
use persistence::audit::{self, NewAuditEvent};
use serde::Serialize;

use crate::actor::{Actor, RequestContext};
use crate::error::AppError;
use crate::events::{self, Cause, ChangeEvents, Happened};
use serde_json::{Map, Value};

fn as_object<V: Serialize>(view: &V) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
    match serde_json::to_value(view).map_err(|e| AppError::Internal(e.to_string()))? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(AppError::Internal("a record view is not a JSON object".into())),
    }
}

/// Records a change of a record by the caller; `before`/`after` are its API views (absent
/// for a create's before, a delete's after), so the history shows what clients see. The
/// change's domain events are written with it.
pub fn record_change<V: Serialize>(
    conn: &mut DbConnection,
    caller: &Actor,
    action: AuditAction,
    record: (&str, &str),
    before: Option<&V>,
    after: Option<&V>,
) -> Result<(), AppError> {
    let before = before.map(as_object).transpose()?;
    let after = after.map(as_object).transpose()?;
    let (changes, announced) = entry(action, record.0, before.as_ref(), after.as_ref())?;
    if let Some(announced) = &announced {
        events::record_many(conn, Cause::Actor(caller), &announced.happened(record).collect::<Vec<_>>())?;
    }
    append(conn, &caller.context, action, Some(record), Some(caller), changes, None)
}

/// [`record_change`] for new records of one type (an import's batch, `records` as id and
/// view): their audit rows and events in a few multi-row statements.
pub fn record_creations<V: Serialize>(
    conn: &mut DbConnection,
    caller: &Actor,
    action: AuditAction,
    noun: &str,
    records: &[(String, V)],
) -> Result<(), AppError> {
    let mut entries = Vec::with_capacity(records.len());
    for (id, view) in records {
        let after = as_object(view)?;
        entries.push((id.as_str(), entry(action, noun, None, Some(&after))?));
    }
    let happened: Vec<Happened<'_>> = entries
        .iter()
        .filter_map(|(id, (_, announced))| announced.as_ref().map(|a| (id, a)))
        .flat_map(|(id, announced)| announced.happened((noun, id)))
        .collect();
    events::record_many(conn, Cause::Actor(caller), &happened)?;
    let rows: Vec<NewAuditEvent<'_>> = entries
        .into_iter()
        .map(|(id, (changes, _))| {
            new_row(&caller.context, action, Some((noun, id)), acting(Some(caller)), changes, None)
        })
        .collect();
    Ok(audit::append_many(conn, &rows, Utc::now())?)
}

/// A change's audit entry (its field-level before/after as JSON, if any field changed) and
/// the events it is announced as.
fn entry(
    action: AuditAction,
    noun: &str,
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
) -> Result<(Option<String>, Option<ChangeEvents>), AppError> {
    // A restore's history names no fields: the record is back as it was.
    let fields = match after {
        Some(after) if action != AuditAction::Restore => diff(before, after),
        _ => Default::default(),
    };
    let changes = (!fields.is_empty())
        .then(|| serde_json::to_string(&fields))
        .transpose()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let changed_fields = fields.into_keys().collect();
    Ok((changes, ChangeEvents::of(action, noun, before, after, changed_fields)))
}

/// Records a change made without a signed-in caller (a public web form).
pub fn record_anonymous<V: Serialize>(
    conn: &mut DbConnection,
    context: &RequestContext,
    record: (&str, &str),
    view: &V,
    detail: String,
) -> Result<(), AppError> {
    let view = as_object(view)?;
    let fields = diff(None, &view);
    let changes = serde_json::to_string(&fields).map_err(|e| AppError::Internal(e.to_string()))?;
    let changed_fields = fields.into_keys().collect();
    if let Some(announced) = ChangeEvents::of(AuditAction::Create, record.0, None, Some(&view), changed_fields) {
        events::record_many(conn, Cause::Visitor(context), &announced.happened(record).collect::<Vec<_>>())?;
    }
    append(conn, context, AuditAction::Create, Some(record), None, Some(changes), Some(detail))
}

/// Records a security event (sign-ins, refusals, API keys).
pub fn security(
    conn: &mut DbConnection,
    context: &RequestContext,
    action: AuditAction,
    actor: (Option<&str>, Option<&str>),
    subject: Option<(&str, &str)>,
    detail: Option<String>,
) -> Result<(), AppError> {
    Ok(audit::append(conn, &new_row(context, action, subject, actor, None, detail), Utc::now())?)
}

fn append(
    conn: &mut DbConnection,
    context: &RequestContext,
    action: AuditAction,
    record: Option<(&str, &str)>,
    caller: Option<&Actor>,
    changes: Option<String>,
    detail: Option<String>,
) -> Result<(), AppError> {
    let row = new_row(context, action, record, acting(caller), changes, detail);
    Ok(audit::append(conn, &row, Utc::now())?)
}

/// Who acted, as the audit row names them: the user and the API key they used.
fn acting(caller: Option<&Actor>) -> (Option<&str>, Option<&str>) {
    (caller.and_then(Actor::user_id), caller.and_then(|c| c.principal.api_key_id.as_deref()))
}

fn new_row<'a>(
    context: &'a RequestContext,
    action: AuditAction,
    record: Option<(&'a str, &'a str)>,
    (actor_user_id, actor_api_key_id): (Option<&'a str>, Option<&'a str>),
    changes: Option<String>,
    detail: Option<String>,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        action,
        record,
        actor_user_id,
        actor_api_key_id,
        request_id: context.request_id.as_deref(),
        client_address: context.client_address.as_deref(),
        changes,
        detail,
    }
}
