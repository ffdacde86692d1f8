//! The keys duplicate detection matches on (`record_keys`), kept with each save.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use domain::duplicates::{DuplicateReason, MatchKey};
use domain::record::Stored;

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
    add_many(conn, record_type, &[(id, keys)])
}

/// Stores the keys of new records (which have none yet), each record's keys once.
pub fn add_many(conn: &mut DbConnection, record_type: &str, records: &[(&str, &[MatchKey])]) -> StoreResult<()> {
    let mut rows: Vec<(&str, &MatchKey)> = Vec::new();
    for (id, keys) in records {
        let first = rows.len();
        for key in *keys {
            if !rows[first..].iter().any(|(_, k)| k.reason == key.reason && k.value == key.value) {
                rows.push((id, key));
            }
        }
    }
    // One statement per chunk: a create is a round trip shorter per extra key. (diesel's
    // batch insert is not available over the two-backend connection for `sql_query`, so the
    // VALUES list is written out; every value is bound.)
    for chunk in rows.chunks(crate::ROWS_PER_INSERT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|row| {
                let at = |column: usize| crate::sql::placeholder(conn, row * 4 + column);
                format!("({}, {}, {}, {})", at(1), at(2), at(3), at(4))
            })
            .collect();
        let statement =
            format!("INSERT INTO record_keys (record_type, record_id, kind, value) VALUES {}", values.join(", "));
        let mut insert = diesel::sql_query(statement).into_boxed::<crate::Db>();
        for (id, key) in chunk {
            insert = insert
                .bind::<Text, _>(record_type.to_owned())
                .bind::<Text, _>((*id).to_owned())
                .bind::<Text, _>(key.reason.as_str().to_owned())
                .bind::<Text, _>(key.value.clone());
        }
        insert.execute(conn)?;
    }
    Ok(())
}

/// Inserts new records with `insert_many` and stores the match keys of each (`keys_of`).
pub fn insert_keyed<D>(
    conn: &mut DbConnection,
    record_type: &str,
    data: Vec<D>,
    insert_many: crate::records::InsertManyFn<D>,
    keys_of: fn(&D) -> Vec<MatchKey>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Stored<D>>> {
    let keys: Vec<Vec<MatchKey>> = data.iter().map(keys_of).collect();
    let stored = insert_many(conn, data, now)?;
    let records: Vec<(&str, &[MatchKey])> =
        stored.iter().zip(&keys).map(|(record, keys)| (record.id.as_str(), keys.as_slice())).collect();
    add_many(conn, record_type, &records)?;
    Ok(stored)
}

/// Which of `keys` any stored record of `record_type` has (each once): a prefilter for many
/// new records at once, since a record none of whose keys is stored has no duplicate. One
/// statement per chunk of keys, a branch per kind, each an equality on the kind and a list of
/// values on the covering index.
pub fn stored(conn: &mut DbConnection, record_type: &str, keys: &[MatchKey]) -> StoreResult<Vec<MatchKey>> {
    let mut wanted: Vec<&MatchKey> = keys.iter().collect();
    wanted.sort();
    wanted.dedup();
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = Text)]
        value: String,
    }
    let mut found = Vec::new();
    for chunk in wanted.chunks(crate::ROWS_PER_INSERT) {
        let mut by_kind: Vec<(DuplicateReason, Vec<&str>)> = Vec::new();
        for key in chunk {
            match by_kind.iter_mut().find(|(kind, _)| *kind == key.reason) {
                Some((_, values)) => values.push(&key.value),
                None => by_kind.push((key.reason, vec![&key.value])),
            }
        }
        let mut next = 0;
        let mut at = |conn: &DbConnection| {
            next += 1;
            crate::sql::placeholder(conn, next)
        };
        let branches: Vec<String> = by_kind
            .iter()
            .map(|(_, values)| {
                let (record_type, kind) = (at(conn), at(conn));
                let list: Vec<String> = values.iter().map(|_| at(conn)).collect();
                format!(
                    "SELECT kind, value FROM record_keys WHERE record_type = {record_type} AND kind = {kind} AND value IN ({})",
                    list.join(", ")
                )
            })
            .collect();
        let mut query = diesel::sql_query(branches.join(" UNION ALL ")).into_boxed::<crate::Db>();
        for (kind, values) in &by_kind {
            query = query.bind::<Text, _>(record_type.to_owned()).bind::<Text, _>(kind.as_str().to_owned());
            for value in values {
                query = query.bind::<Text, _>((*value).to_owned());
            }
        }
        for row in query.load::<Found>(conn)? {
            if let Some(reason) = DuplicateReason::parse(&row.kind) {
                found.push(MatchKey { reason, value: row.value });
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
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
    Ok(rows.into_iter().filter_map(|(id, kind)| DuplicateReason::parse(&kind).map(|reason| (id, reason))).collect())
}
