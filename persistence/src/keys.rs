//! The keys duplicate detection matches on (`record_keys`), kept with each save.

use diesel::prelude::*;
use diesel::sql_types::Text;
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
    let mut unique: Vec<&MatchKey> = Vec::new();
    for key in keys {
        if !unique.iter().any(|k| k.reason == key.reason && k.value == key.value) {
            unique.push(key);
        }
    }
    if unique.is_empty() {
        return Ok(());
    }
    // One statement for all of them: a create is a round trip shorter per extra key. (diesel's
    // batch insert is not available over the two-backend connection, so the VALUES list is
    // written out; every value is bound.)
    let rows: Vec<String> = (0..unique.len())
        .map(|row| {
            let at = |column: usize| crate::sql::placeholder(conn, row * 4 + column);
            format!("({}, {}, {}, {})", at(1), at(2), at(3), at(4))
        })
        .collect();
    let statement = format!("INSERT INTO record_keys (record_type, record_id, kind, value) VALUES {}", rows.join(", "));
    let mut insert = diesel::sql_query(statement).into_boxed::<crate::Db>();
    for key in unique {
        insert = insert
            .bind::<Text, _>(record_type.to_owned())
            .bind::<Text, _>(id.to_owned())
            .bind::<Text, _>(key.reason.as_str().to_owned())
            .bind::<Text, _>(key.value.clone());
    }
    insert.execute(conn)?;
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
    // One statement, one lookup per key: each branch is an equality on the whole covering
    // index. An OR of keys or an ORDER BY makes SQLite scan every key of the record type, and
    // `kind IN .. AND value IN ..` gets a PostgreSQL generic plan that scans too; a raw
    // statement is never cached as a prepared statement, so every run is planned with its values.
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Text)]
        record_id: String,
        #[diesel(sql_type = Text)]
        kind: String,
    }
    let per_key = 3 + usize::from(exclude.is_some());
    let branches: Vec<String> = (0..keys.len())
        .map(|key| {
            let at = |n: usize| crate::sql::placeholder(conn, key * per_key + n);
            let excluded = if exclude.is_some() { format!(" AND record_id <> {}", at(4)) } else { String::new() };
            format!(
                "SELECT * FROM (SELECT record_id, kind FROM record_keys WHERE record_type = {} AND kind = {} \
                 AND value = {}{excluded} LIMIT {limit}) AS key{key}",
                at(1),
                at(2),
                at(3)
            )
        })
        .collect();
    let mut query = diesel::sql_query(branches.join(" UNION ALL ")).into_boxed::<crate::Db>();
    for key in keys {
        query = query
            .bind::<Text, _>(record_type.to_owned())
            .bind::<Text, _>(key.reason.as_str().to_owned())
            .bind::<Text, _>(key.value.clone());
        if let Some(exclude) = exclude {
            query = query.bind::<Text, _>(exclude.to_owned());
        }
    }
    let mut rows: Vec<(String, String)> =
        query.load::<Found>(conn)?.into_iter().map(|found| (found.record_id, found.kind)).collect();
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
