//! Which records an activity or task is about (`record_links`), and the history of stage
//! and status changes (`record_changes`): the two tables timelines read from the record's side.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::activity::{RecordRef, RecordType};
use domain::listing::{Position, SortValue};

use crate::error::StoreResult;
use crate::schema::{record_changes, record_links};
use crate::{DbConnection, from_db_time, new_id, to_db_time};

/// What owns a set of links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOwner {
    Activity,
    Task,
}

impl LinkOwner {
    fn as_str(self) -> &'static str {
        match self {
            LinkOwner::Activity => "activity",
            LinkOwner::Task => "task",
        }
    }
}

/// Makes the stored links of an item exactly `links`.
pub fn replace(conn: &mut DbConnection, owner: LinkOwner, item_id: &str, links: &[RecordRef]) -> StoreResult<()> {
    diesel::delete(
        record_links::table
            .filter(record_links::item_type.eq(owner.as_str()))
            .filter(record_links::item_id.eq(item_id)),
    )
    .execute(conn)?;
    for link in links {
        diesel::insert_into(record_links::table)
            .values((
                record_links::item_type.eq(owner.as_str()),
                record_links::item_id.eq(item_id),
                record_links::record_type.eq(link.record_type.as_str()),
                record_links::record_id.eq(&link.id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Ids of the items of `owner` linked to any of these records.
pub fn items_linked_to(
    conn: &mut DbConnection,
    owner: LinkOwner,
    record_type: RecordType,
    record_ids: &[String],
) -> StoreResult<Vec<String>> {
    Ok(record_links::table
        .filter(record_links::item_type.eq(owner.as_str()))
        .filter(record_links::record_type.eq(record_type.as_str()))
        .filter(record_links::record_id.eq_any(record_ids))
        .select(record_links::item_id)
        .distinct()
        .load(conn)?)
}

/// Rewrites the links of every item of `owner` linked to `from`: adds `to` and, unless
/// `keep_from`, drops `from`. `load` and `store` read and write the item's own `links` column;
/// `record_links` is kept in step here.
pub(crate) fn relink_items(
    conn: &mut DbConnection,
    owner: LinkOwner,
    from: &RecordRef,
    to: &[RecordRef],
    keep_from: bool,
    load: impl Fn(&mut DbConnection, &str) -> StoreResult<Vec<RecordRef>>,
    store: impl Fn(&mut DbConnection, &str, &[RecordRef]) -> StoreResult<()>,
) -> StoreResult<usize> {
    let ids = items_linked_to(conn, owner, from.record_type, std::slice::from_ref(&from.id))?;
    for id in &ids {
        let mut links = load(conn, id)?;
        links.retain(|link| keep_from || link != from);
        for link in to {
            if !links.contains(link) {
                links.push(link.clone());
            }
        }
        store(conn, id, &links)?;
        replace(conn, owner, id, &links)?;
    }
    Ok(ids.len())
}

/// One recorded change of a stage or status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordChange {
    pub id: String,
    pub record_type: RecordType,
    pub record_id: String,
    /// `stage` for deals, `status` for leads.
    pub field: String,
    pub from_value: Option<String>,
    pub to_value: String,
    pub changed_at: DateTime<Utc>,
    pub changed_by: Option<String>,
    pub api_key_id: Option<String>,
}

/// Who made a change.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user_id: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
}

/// Records one change of `field` of a record.
pub fn record_change(
    conn: &mut DbConnection,
    record: (RecordType, &str),
    field: &str,
    from_value: Option<&str>,
    to_value: &str,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(record_changes::table)
        .values((
            record_changes::id.eq(new_id()),
            record_changes::record_type.eq(record.0.as_str()),
            record_changes::record_id.eq(record.1),
            record_changes::field.eq(field),
            record_changes::from_value.eq(from_value),
            record_changes::to_value.eq(to_value),
            record_changes::changed_at.eq(to_db_time(now)),
            record_changes::changed_by.eq(actor.user_id),
            record_changes::api_key_id.eq(actor.api_key_id),
        ))
        .execute(conn)?;
    Ok(())
}

type ChangeRow =
    (String, String, String, String, Option<String>, String, NaiveDateTime, Option<String>, Option<String>);

fn into_change(row: ChangeRow) -> StoreResult<RecordChange> {
    let (id, record_type, record_id, field, from_value, to_value, changed_at, changed_by, api_key_id) = row;
    Ok(RecordChange {
        id,
        record_type: crate::text_enum(&record_type)?,
        record_id,
        field,
        from_value,
        to_value,
        changed_at: from_db_time(changed_at),
        changed_by,
        api_key_id,
    })
}

/// Whose changes a history lists.
#[derive(Debug, Clone)]
pub enum ChangesOf {
    /// One lead's, deal's or ticket's status or stage changes.
    Record(RecordType, String),
    /// A company's: the stage changes of its live deals (when `deals`), and the status changes
    /// of its live tickets that `tickets` reaches (when given).
    Company { id: String, deals: bool, tickets: Option<domain::access::Visibility> },
    /// The status changes of the live tickets a contact asked for that the visibility reaches.
    Requester(String, domain::access::Visibility),
}

/// Every recorded change of one record, oldest first.
pub fn changes_of_record(conn: &mut DbConnection, record_type: RecordType, id: &str) -> StoreResult<Vec<RecordChange>> {
    let rows: Vec<ChangeRow> = record_changes::table
        .filter(record_changes::record_type.eq(record_type.as_str()))
        .filter(record_changes::record_id.eq(id))
        .order((record_changes::changed_at.asc(), record_changes::id.asc()))
        .load(conn)?;
    rows.into_iter().map(into_change).collect()
}

/// The condition on `record_changes` rows of the live tickets whose `column` is `id` and that
/// `visibility` reaches. SQL text, as a boxed subquery cannot sit inside another boxed query
/// over both backends; `column` is one of this module's literals.
fn ticket_changes(column: &str, id: &str, visibility: &domain::access::Visibility) -> crate::sql::Fragment {
    crate::sql::Fragment::sql(&format!(
        "(record_changes.record_type = 'ticket' AND record_changes.record_id IN \
         (SELECT t.id FROM tickets t WHERE t.deleted_at IS NULL AND t.{column} = "
    ))
    .text(id.to_owned())
    .push(" AND ")
    .append(crate::search::visible_rows("t", visibility))
    .push("))")
}

/// Changes newest first, after `before` (a timeline position), at most `limit`.
pub fn changes_of(
    conn: &mut DbConnection,
    of: &ChangesOf,
    before: Option<&Position>,
    limit: i64,
) -> StoreResult<Vec<RecordChange>> {
    use crate::schema::deals;
    let query = record_changes::table
        .order((record_changes::changed_at.desc(), record_changes::id.desc()))
        .limit(limit)
        .into_boxed();
    let mut query = match of {
        ChangesOf::Record(record_type, id) => query
            .filter(record_changes::record_type.eq(record_type.as_str()))
            .filter(record_changes::record_id.eq(id.clone())),
        ChangesOf::Company { id, deals: with_deals, tickets } => {
            let of_deals = record_changes::record_type.eq(RecordType::Deal.as_str()).and(
                record_changes::record_id.eq_any(
                    deals::table
                        .filter(deals::company_id.eq(id.clone()))
                        .filter(deals::deleted_at.is_null())
                        .select(deals::id),
                ),
            );
            match (with_deals, tickets) {
                (true, Some(visibility)) => query.filter(of_deals.or(ticket_changes("company_id", id, visibility))),
                (false, Some(visibility)) => query.filter(ticket_changes("company_id", id, visibility)),
                (_, None) => query.filter(of_deals),
            }
        }
        ChangesOf::Requester(contact_id, visibility) => {
            query.filter(ticket_changes("requester_id", contact_id, visibility))
        }
    };
    if let Some((at, id)) = before.and_then(timeline_position) {
        query = query.filter(
            record_changes::changed_at.lt(at).or(record_changes::changed_at.eq(at).and(record_changes::id.lt(id))),
        );
    }
    let rows: Vec<ChangeRow> = query.load(conn)?;
    rows.into_iter().map(into_change).collect()
}

/// A timeline cursor's (time, id), when it is one.
pub(crate) fn timeline_position(position: &Position) -> Option<(NaiveDateTime, String)> {
    match position.values.as_slice() {
        [SortValue::Time(micros)] => {
            DateTime::from_timestamp_micros(*micros).map(|t| (t.naive_utc(), position.id.clone()))
        }
        _ => None,
    }
}
