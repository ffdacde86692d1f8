//! The keys duplicate detection matches on (`record_keys`), kept with each save.

use diesel::prelude::*;
use domain::duplicates::{DuplicateReason, MatchKey};

use crate::DbConnection;
use crate::error::StoreResult;
use crate::schema::record_keys;

/// Makes the stored keys of a record exactly `keys`.
pub fn replace(conn: &mut DbConnection, record_type: &str, id: &str, keys: &[MatchKey]) -> StoreResult<()> {
    diesel::delete(
        record_keys::table.filter(record_keys::record_type.eq(record_type)).filter(record_keys::record_id.eq(id)),
    )
    .execute(conn)?;
    add(conn, record_type, id, keys)
}

/// Stores the keys of a new record (which has none yet).
pub fn add(conn: &mut DbConnection, record_type: &str, id: &str, keys: &[MatchKey]) -> StoreResult<()> {
    let mut stored: Vec<&MatchKey> = Vec::new();
    for key in keys {
        if stored.iter().any(|k| k.reason == key.reason && k.value == key.value) {
            continue;
        }
        diesel::insert_into(record_keys::table)
            .values((
                record_keys::record_type.eq(record_type),
                record_keys::record_id.eq(id),
                record_keys::kind.eq(key.reason.as_str()),
                record_keys::value.eq(&key.value),
            ))
            .execute(conn)?;
        stored.push(key);
    }
    Ok(())
}

/// Records of `record_type` (other than `exclude`) sharing any of `keys`, with the reason,
/// at most `limit` rows; deleted and merged records are the caller's to drop.
pub fn matching(
    conn: &mut DbConnection,
    record_type: &str,
    keys: &[MatchKey],
    exclude: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<(String, DuplicateReason)>> {
    // One lookup per key, each an equality on the whole covering index. An OR of keys or an
    // ORDER BY makes SQLite scan every key of the record type; `kind IN .. AND value IN ..`
    // gets a PostgreSQL generic plan (prepared statements) that scans too.
    let mut rows: Vec<(String, String)> = Vec::new();
    for key in keys {
        let mut query = record_keys::table
            .filter(record_keys::record_type.eq(record_type.to_owned()))
            .filter(record_keys::kind.eq(key.reason.as_str()))
            .filter(record_keys::value.eq(key.value.clone()))
            .select((record_keys::record_id, record_keys::kind))
            .limit(limit)
            .into_boxed();
        if let Some(exclude) = exclude {
            query = query.filter(record_keys::record_id.ne(exclude.to_owned()));
        }
        rows.extend(query.load::<(String, String)>(conn)?);
    }
    rows.sort();
    rows.dedup();
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(rows
        .into_iter()
        .filter_map(|(id, kind)| {
            let reason = [
                DuplicateReason::SameEmail,
                DuplicateReason::SamePhone,
                DuplicateReason::SameDomain,
                DuplicateReason::SimilarName,
            ]
            .into_iter()
            .find(|r| r.as_str() == kind)?;
            Some((id, reason))
        })
        .collect())
}
