//! Domain events: appended in the transaction of the change they describe, read as a feed.
//!
//! The feed's order is `(tx_id, position)`, and on PostgreSQL it shows only events of
//! transactions older than the oldest one still running (`pg_snapshot_xmin`). Ordering by
//! time or by a sequence alone would let a poller skip an event: a transaction that took
//! position 5 can commit after one that took 6, once the poller has moved past 6. No
//! transaction still to commit can have a `tx_id` below that horizon, so the feed is
//! gap-free. SQLite has one writer: `position` follows commit order and `tx_id` is 0.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::Visibility;

use crate::connection::Backend;
use crate::error::StoreResult;
use crate::schema::{event_cursors, events};
use crate::search::visible_rows;
use crate::sql::{Dialect, Fragment};
use crate::{DbConnection, from_db_time, new_id, to_db_time};

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub event_type: &'a str,
    pub record_type: &'a str,
    pub record_id: &'a str,
    /// The record's owner and team when it happened, which decide who may read the event.
    pub owner_id: Option<&'a str>,
    pub team_id: Option<&'a str>,
    /// `user`, `api_key`, `visitor` (a public web form) or `system`.
    pub actor_kind: &'a str,
    pub actor_user_id: Option<&'a str>,
    pub actor_api_key_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
    /// The event that caused this one (a workflow's trigger), and how deep the chain is.
    pub causation_id: Option<&'a str>,
    pub depth: i32,
    /// JSON: `{object, previous, changed_fields}` or the event type's own details.
    pub payload: &'a str,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Where the event is in the feed: `(tx_id, position)`.
    pub cursor: (i64, i64),
    pub id: String,
    pub event_type: String,
    pub record_type: String,
    pub record_id: String,
    pub actor_kind: String,
    pub actor_user_id: Option<String>,
    pub actor_api_key_id: Option<String>,
    pub request_id: Option<String>,
    pub causation_id: Option<String>,
    pub depth: i32,
    pub occurred_at: DateTime<Utc>,
    pub payload: String,
}

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
    NaiveDateTime,
    String,
);

fn into_event(row: Row) -> StoredEvent {
    let (
        tx_id,
        position,
        id,
        event_type,
        record_type,
        record_id,
        kind,
        user,
        key,
        request_id,
        cause,
        depth,
        at,
        payload,
    ) = row;
    StoredEvent {
        cursor: (tx_id, position),
        id,
        event_type,
        record_type,
        record_id,
        actor_kind: kind,
        actor_user_id: user,
        actor_api_key_id: key,
        request_id,
        causation_id: cause,
        depth,
        occurred_at: from_db_time(at),
        payload,
    }
}

/// Appends one event; its id is time-ordered.
pub fn append(conn: &mut DbConnection, event: &NewEvent<'_>, now: DateTime<Utc>) -> StoreResult<String> {
    let mut ids = append_many(conn, std::slice::from_ref(event), now)?;
    Ok(ids.pop().unwrap_or_default())
}

/// Appends events in their order, a multi-row statement per chunk (an import's batch);
/// returns their ids.
pub fn append_many(conn: &mut DbConnection, new: &[NewEvent<'_>], now: DateTime<Utc>) -> StoreResult<Vec<String>> {
    let at = to_db_time(now);
    let ids: Vec<String> = new.iter().map(|_| new_id()).collect();
    let rows: Vec<_> = new
        .iter()
        .zip(&ids)
        .map(|(event, id)| {
            (
                events::id.eq(id),
                events::event_type.eq(event.event_type),
                events::record_type.eq(event.record_type),
                events::record_id.eq(event.record_id),
                events::owner_id.eq(event.owner_id),
                events::team_id.eq(event.team_id),
                events::actor_kind.eq(event.actor_kind),
                events::actor_user_id.eq(event.actor_user_id),
                events::actor_api_key_id.eq(event.actor_api_key_id),
                events::request_id.eq(event.request_id),
                events::causation_id.eq(event.causation_id),
                events::depth.eq(event.depth),
                events::occurred_at.eq(at),
                events::payload.eq(event.payload),
            )
        })
        .collect();
    crate::connection::insert_rows!(conn, events::table, rows);
    Ok(ids)
}

/// Which events a feed read wants.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Events after this feed position.
    pub after: Option<(i64, i64)>,
    pub event_type: Option<String>,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub limit: i64,
}

/// Events in feed order that the reader may see: for each record type it may read, the
/// events whose record (as it was then) its visibility reaches.
pub fn feed(
    conn: &mut DbConnection,
    readable: &[(&str, Visibility)],
    query: &EventQuery,
) -> StoreResult<Vec<StoredEvent>> {
    let visible = Fragment::any(
        readable
            .iter()
            .map(|(record_type, visibility)| {
                Fragment::all(vec![
                    Fragment::sql("events.record_type = ").text(*record_type),
                    visible_rows("events", visibility),
                ])
            })
            .collect(),
    );
    let mut select = in_feed_order(conn, query.after, query.limit).filter(visible);
    if let Some(event_type) = &query.event_type {
        select = select.filter(events::event_type.eq(event_type.clone()));
    }
    if let Some(record_type) = &query.record_type {
        select = select.filter(events::record_type.eq(record_type.clone()));
    }
    if let Some(record_id) = &query.record_id {
        select = select.filter(events::record_id.eq(record_id.clone()));
    }
    let rows: Vec<Row> = select.load(conn)?;
    Ok(rows.into_iter().map(into_event).collect())
}

type FeedSelect<'a> = diesel::dsl::IntoBoxed<
    'a,
    diesel::dsl::Limit<diesel::dsl::Order<diesel::dsl::Select<events::table, RowColumns>, FeedOrder>>,
    crate::Db,
>;
/// The columns of [`Row`], in its order, as a type and as a selection.
macro_rules! feed_columns {
    () => {
        (
            events::tx_id,
            events::position,
            events::id,
            events::event_type,
            events::record_type,
            events::record_id,
            events::actor_kind,
            events::actor_user_id,
            events::actor_api_key_id,
            events::request_id,
            events::causation_id,
            events::depth,
            events::occurred_at,
            events::payload,
        )
    };
}
type RowColumns = feed_columns!();
type FeedOrder = (diesel::dsl::Asc<events::tx_id>, diesel::dsl::Asc<events::position>);

/// Every event after `after` that no transaction still running can precede, in feed order.
fn in_feed_order<'a>(conn: &mut DbConnection, after: Option<(i64, i64)>, limit: i64) -> FeedSelect<'a> {
    let mut select = events::table
        .select(feed_columns!())
        .order((events::tx_id.asc(), events::position.asc()))
        .limit(limit)
        .into_boxed();
    if Dialect::of(conn).0 == Backend::Postgres {
        select = select.filter(Fragment::sql("events.tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"));
    }
    if let Some((tx_id, position)) = after {
        select = select.filter(
            Fragment::sql("(events.tx_id, events.position) > (").integer(tx_id).push(", ").integer(position).push(")"),
        );
    }
    select
}

/// Where the consumer `name` of the feed has got; a new consumer starts at the beginning. One
/// consumer reads and advances at a time (the dispatcher is one job, fenced).
pub fn cursor(conn: &mut DbConnection, name: &str, now: DateTime<Utc>) -> StoreResult<(i64, i64)> {
    let found = event_cursors::table
        .filter(event_cursors::name.eq(name))
        .select((event_cursors::tx_id, event_cursors::position))
        .first(conn)
        .optional()?;
    if let Some(cursor) = found {
        return Ok(cursor);
    }
    diesel::insert_into(event_cursors::table)
        .values((event_cursors::name.eq(name), event_cursors::updated_at.eq(to_db_time(now))))
        .execute(conn)?;
    Ok((0, 0))
}

/// Moves the consumer `name` past `cursor`.
pub fn advance(conn: &mut DbConnection, name: &str, cursor: (i64, i64), now: DateTime<Utc>) -> StoreResult<()> {
    diesel::update(event_cursors::table.filter(event_cursors::name.eq(name)))
        .set((
            event_cursors::tx_id.eq(cursor.0),
            event_cursors::position.eq(cursor.1),
            event_cursors::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Up to `limit` events the consumer at `after` has not had yet, in feed order.
pub fn pending(conn: &mut DbConnection, after: (i64, i64), limit: i64) -> StoreResult<Vec<StoredEvent>> {
    let rows: Vec<Row> = in_feed_order(conn, Some(after), limit).load(conn)?;
    Ok(rows.into_iter().map(into_event).collect())
}

/// When the oldest event the consumer `name` has not had yet happened (its lag).
pub fn oldest_pending(conn: &mut DbConnection, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
    let after: Option<(i64, i64)> = event_cursors::table
        .filter(event_cursors::name.eq(name))
        .select((event_cursors::tx_id, event_cursors::position))
        .first(conn)
        .optional()?;
    let oldest = in_feed_order(conn, Some(after.unwrap_or((0, 0))), 1).load::<Row>(conn)?;
    Ok(oldest.into_iter().next().map(|row| from_db_time(row.12)))
}

/// Removes events that happened before `cutoff` and that every consumer of the feed (the
/// dispatcher) has had; returns how many. An event a consumer is stuck on, and everything after
/// it, waits for it however old: a workflow is never skipped by the retention.
pub fn purge_before(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> StoreResult<usize> {
    let cursors: Vec<(i64, i64)> =
        event_cursors::table.select((event_cursors::tx_id, event_cursors::position)).load(conn)?;
    let old = events::table.filter(events::occurred_at.lt(to_db_time(cutoff)));
    Ok(match cursors.into_iter().min() {
        None => diesel::delete(old).execute(conn)?,
        Some((tx_id, position)) => diesel::delete(
            old.filter(events::tx_id.lt(tx_id).or(events::tx_id.eq(tx_id).and(events::position.le(position)))),
        )
        .execute(conn)?,
    })
}
