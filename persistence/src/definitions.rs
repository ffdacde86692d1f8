//! Admin-defined documents (web forms, scoring rules, assignment rules, webhook endpoints, email templates): one table, one
//! JSON body each, validated as a whole by the domain before it is stored.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{StoreError, StoreResult};
use crate::schema::definitions;
use crate::{DbConnection, from_db_time, new_id, to_db_time};

/// The kinds of definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    WebForm,
    ScoringRule,
    AssignmentRule,
    WebhookEndpoint,
    EmailTemplate,
    Workflow,
    BusinessCalendar,
    SlaPolicy,
    Survey,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::WebForm => "web_form",
            Kind::ScoringRule => "scoring_rule",
            Kind::AssignmentRule => "assignment_rule",
            Kind::WebhookEndpoint => "webhook_endpoint",
            Kind::EmailTemplate => "email_template",
            Kind::Workflow => "workflow",
            Kind::BusinessCalendar => "business_calendar",
            Kind::SlaPolicy => "sla_policy",
            Kind::Survey => "survey",
        }
    }
}

/// A stored definition with its body parsed.
#[derive(Debug, Clone)]
pub struct Definition<T> {
    pub id: String,
    pub body: T,
    /// A form's public key.
    pub lookup_key: Option<String>,
    /// Order among definitions of its kind (rules apply in this order).
    pub position: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type Row = (String, String, Option<String>, String, i32, i64, i64, NaiveDateTime, NaiveDateTime);

fn parse<T: DeserializeOwned>(row: Row) -> StoreResult<Definition<T>> {
    let (id, _, lookup_key, body, position, _, version, created_at, updated_at) = row;
    Ok(Definition {
        id,
        body: serde_json::from_str(&body)?,
        lookup_key,
        position,
        version,
        created_at: from_db_time(created_at),
        updated_at: from_db_time(updated_at),
    })
}

/// Every definition of a kind, in order.
pub fn list<T: DeserializeOwned>(conn: &mut DbConnection, kind: Kind) -> StoreResult<Vec<Definition<T>>> {
    let rows: Vec<Row> = definitions::table
        .filter(definitions::kind.eq(kind.as_str()))
        .order((definitions::position.asc(), definitions::id.asc()))
        .load(conn)?;
    rows.into_iter().map(parse).collect()
}

/// One definition of a kind.
pub fn find<T: DeserializeOwned>(conn: &mut DbConnection, kind: Kind, id: &str) -> StoreResult<Definition<T>> {
    let row: Row =
        definitions::table.filter(definitions::kind.eq(kind.as_str())).filter(definitions::id.eq(id)).first(conn)?;
    parse(row)
}

/// The definition of a kind with this lookup key (a form by its public key).
pub fn find_by_key<T: DeserializeOwned>(conn: &mut DbConnection, kind: Kind, key: &str) -> StoreResult<Definition<T>> {
    let row: Row = definitions::table
        .filter(definitions::kind.eq(kind.as_str()))
        .filter(definitions::lookup_key.eq(key))
        .first(conn)?;
    parse(row)
}

/// Stores a new definition after the existing ones of its kind.
pub fn insert<T: Serialize + DeserializeOwned>(
    conn: &mut DbConnection,
    kind: Kind,
    body: &T,
    lookup_key: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<Definition<T>> {
    let id = new_id();
    let now = to_db_time(now);
    let last: Option<i32> = definitions::table
        .filter(definitions::kind.eq(kind.as_str()))
        .select(diesel::dsl::max(definitions::position))
        .first(conn)?;
    diesel::insert_into(definitions::table)
        .values((
            definitions::id.eq(&id),
            definitions::kind.eq(kind.as_str()),
            definitions::lookup_key.eq(lookup_key),
            definitions::body.eq(serde_json::to_string(body)?),
            definitions::position.eq(last.map_or(0, |p| p + 1)),
            definitions::counter.eq(0_i64),
            definitions::version.eq(1_i64),
            definitions::created_at.eq(now),
            definitions::updated_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, kind, &id)
}

/// Replaces a definition's body (and position) if it is still at `version`.
pub fn update<T: Serialize + DeserializeOwned>(
    conn: &mut DbConnection,
    kind: Kind,
    id: &str,
    version: i64,
    body: &T,
    position: i32,
    now: DateTime<Utc>,
) -> StoreResult<Definition<T>> {
    let changed = diesel::update(
        definitions::table
            .filter(definitions::kind.eq(kind.as_str()))
            .filter(definitions::id.eq(id))
            .filter(definitions::version.eq(version)),
    )
    .set((
        definitions::body.eq(serde_json::to_string(body)?),
        definitions::position.eq(position),
        definitions::version.eq(version + 1),
        definitions::updated_at.eq(to_db_time(now)),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::Stale);
    }
    find(conn, kind, id)
}

/// Deletes a definition.
pub fn delete(conn: &mut DbConnection, kind: Kind, id: &str) -> StoreResult<()> {
    let deleted =
        diesel::delete(definitions::table.filter(definitions::kind.eq(kind.as_str())).filter(definitions::id.eq(id)))
            .execute(conn)?;
    if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Takes the next turn of a definition's round-robin: returns the counter before this turn.
/// The UPDATE locks the row until the transaction ends, so concurrent turns queue and each
/// gets its own number (PostgreSQL); SQLite writers are serialised anyway.
pub fn next_turn(conn: &mut DbConnection, id: &str) -> StoreResult<i64> {
    diesel::update(definitions::table.filter(definitions::id.eq(id)))
        .set(definitions::counter.eq(definitions::counter + 1))
        .execute(conn)?;
    let after: i64 = definitions::table.filter(definitions::id.eq(id)).select(definitions::counter).first(conn)?;
    Ok(after - 1)
}
