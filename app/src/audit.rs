//! Writing the audit trail: record changes as field-level before/after of their API views,
//! and security events. Each call runs in the transaction of what it describes.

use chrono::Utc;
use domain::audit::{AuditAction, diff};
use persistence::DbConnection;
use persistence::audit::{self, NewAuditEvent};
use serde::Serialize;

use crate::actor::{Actor, RequestContext};
use crate::error::AppError;
use crate::events::{self, Cause};

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
    // A restore's history names no fields: the record is back as it was.
    let fields = match &after {
        Some(after) if action != AuditAction::Restore => diff(before.as_ref(), after),
        _ => Default::default(),
    };
    let changes = (!fields.is_empty())
        .then(|| serde_json::to_string(&fields))
        .transpose()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let changed_fields = fields.into_keys().collect();
    events::record_change(conn, Cause::Actor(caller), action, record, before.as_ref(), after.as_ref(), changed_fields)?;
    append(conn, &caller.context, action, Some(record), Some(caller), changes, None)
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
    events::record_change(
        conn,
        Cause::Visitor(context),
        AuditAction::Create,
        record,
        None,
        Some(&view),
        changed_fields,
    )?;
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
    let event = NewAuditEvent {
        action,
        record: subject,
        actor_user_id: actor.0,
        actor_api_key_id: actor.1,
        request_id: context.request_id.as_deref(),
        client_address: context.client_address.as_deref(),
        changes: None,
        detail,
    };
    Ok(audit::append(conn, &event, Utc::now())?)
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
    let event = NewAuditEvent {
        action,
        record,
        actor_user_id: caller.map(|c| c.principal.user_id.as_str()),
        actor_api_key_id: caller.and_then(|c| c.principal.api_key_id.as_deref()),
        request_id: context.request_id.as_deref(),
        client_address: context.client_address.as_deref(),
        changes,
        detail,
    };
    Ok(audit::append(conn, &event, Utc::now())?)
}
