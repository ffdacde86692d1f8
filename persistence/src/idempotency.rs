//! Stored answers to POSTs sent with an `Idempotency-Key`, so a retry gets the first answer.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::error::StoreResult;
use crate::schema::idempotency_keys;
use crate::{DbConnection, to_db_time};

/// The answer given to the first request with a key.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: i32,
    pub body: String,
    pub location: Option<String>,
}

/// The stored answer for this caller and key, if any.
pub fn find(conn: &mut DbConnection, caller_id: &str, key: &str) -> StoreResult<Option<StoredResponse>> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::caller_id.eq(caller_id).and(idempotency_keys::key.eq(key)))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::body,
            idempotency_keys::location,
        ))
        .first(conn)
        .optional()?)
}

/// Stores the answer in the same transaction as the work it describes: a concurrent
/// duplicate hits the primary key and rolls its own work back.
pub fn insert(
    conn: &mut DbConnection,
    caller_id: &str,
    key: &str,
    response: &StoredResponse,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::caller_id.eq(caller_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(&response.request_hash),
            idempotency_keys::status.eq(response.status),
            idempotency_keys::body.eq(&response.body),
            idempotency_keys::location.eq(&response.location),
            idempotency_keys::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records the answer of work that took its key first (`status` 0 while it runs).
pub fn complete(conn: &mut DbConnection, caller_id: &str, key: &str, response: &StoredResponse) -> StoreResult<()> {
    diesel::update(
        idempotency_keys::table.filter(idempotency_keys::caller_id.eq(caller_id).and(idempotency_keys::key.eq(key))),
    )
    .set((
        idempotency_keys::status.eq(response.status),
        idempotency_keys::body.eq(&response.body),
        idempotency_keys::location.eq(&response.location),
    ))
    .execute(conn)?;
    Ok(())
}

/// Frees a key whose work did not run.
pub fn forget(conn: &mut DbConnection, caller_id: &str, key: &str) -> StoreResult<()> {
    diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::caller_id.eq(caller_id).and(idempotency_keys::key.eq(key))),
    )
    .execute(conn)?;
    Ok(())
}

/// Forgets keys older than `cutoff` (they are kept 24 hours).
pub fn purge_before(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> StoreResult<usize> {
    Ok(diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(to_db_time(cutoff))))
        .execute(conn)?)
}
