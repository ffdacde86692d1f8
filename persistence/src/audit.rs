//! The audit log: appended in the transaction of the change it describes, read newest first.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::audit::AuditAction;
use domain::listing::Position;

use crate::error::StoreResult;
use crate::schema::audit_events;
use crate::{DbConnection, from_db_time, new_id, text_enum, to_db_time};

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewAuditEvent<'a> {
    pub action: AuditAction,
    /// The record type and id, for record changes.
    pub record: Option<(&'a str, &'a str)>,
    pub actor_user_id: Option<&'a str>,
    pub actor_api_key_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub client_address: Option<&'a str>,
    /// Field-level before/after as JSON.
    pub changes: Option<String>,
    /// Free text: what a security event was about (never a secret).
    pub detail: Option<String>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub action: AuditAction,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub actor_user_id: Option<String>,
    pub actor_api_key_id: Option<String>,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    pub changes: Option<String>,
    pub detail: Option<String>,
}

type Row = (
    String,
    NaiveDateTime,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn into_event(row: Row) -> StoreResult<AuditEvent> {
    let (id, at, action, record_type, record_id, user, key, request_id, address, changes, detail) = row;
    Ok(AuditEvent {
        id,
        occurred_at: from_db_time(at),
        action: text_enum(&action)?,
        record_type,
        record_id,
        actor_user_id: user,
        actor_api_key_id: key,
        request_id,
        client_address: address,
        changes,
        detail,
    })
}

/// Appends one event.
pub fn append(conn: &mut DbConnection, event: &NewAuditEvent<'_>, now: DateTime<Utc>) -> StoreResult<()> {
    append_many(conn, std::slice::from_ref(event), now)
}

/// Appends events, a multi-row statement per chunk (an import's batch).
pub fn append_many(conn: &mut DbConnection, new: &[NewAuditEvent<'_>], now: DateTime<Utc>) -> StoreResult<()> {
    let at = to_db_time(now);
    let rows: Vec<_> = new
        .iter()
        .map(|event| {
            (
                audit_events::id.eq(new_id()),
                audit_events::occurred_at.eq(at),
                audit_events::action.eq(event.action.as_str()),
                audit_events::record_type.eq(event.record.map(|r| r.0)),
                audit_events::record_id.eq(event.record.map(|r| r.1)),
                audit_events::actor_user_id.eq(event.actor_user_id),
                audit_events::actor_api_key_id.eq(event.actor_api_key_id),
                audit_events::request_id.eq(event.request_id),
                audit_events::client_address.eq(event.client_address),
                audit_events::changes.eq(event.changes.as_deref()),
                audit_events::detail.eq(event.detail.as_deref()),
            )
        })
        .collect();
    crate::connection::insert_rows!(conn, audit_events::table, rows);
    Ok(())
}

/// Which events a read wants.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub actor_user_id: Option<String>,
    pub action: Option<AuditAction>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Events newest first, after `before` (a position of (time, id)), at most `limit`.
pub fn list(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    before: Option<&Position>,
    limit: i64,
) -> StoreResult<Vec<AuditEvent>> {
    let mut query = audit_events::table
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(record_type) = &filter.record_type {
        query = query.filter(audit_events::record_type.eq(record_type.clone()));
    }
    if let Some(record_id) = &filter.record_id {
        query = query.filter(audit_events::record_id.eq(record_id.clone()));
    }
    if let Some(actor) = &filter.actor_user_id {
        query = query.filter(audit_events::actor_user_id.eq(actor.clone()));
    }
    if let Some(action) = filter.action {
        query = query.filter(audit_events::action.eq(action.as_str()));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_events::occurred_at.ge(to_db_time(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_events::occurred_at.lt(to_db_time(to)));
    }
    if let Some((at, id)) = before.and_then(crate::links::timeline_position) {
        query = query
            .filter(audit_events::occurred_at.lt(at).or(audit_events::occurred_at.eq(at).and(audit_events::id.lt(id))));
    }
    let rows: Vec<Row> = query.load(conn)?;
    rows.into_iter().map(into_event).collect()
}
