//! Rate-limit counts shared by the processes on one PostgreSQL database: fixed one-minute
//! windows per caller key, to which each process adds what it counted since its last sync.
//! (SQLite is one process; its limiter stays in memory and never calls this.)

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::DbConnection;
use crate::error::StoreResult;
use crate::schema::rate_windows;
use crate::sql::placeholder;

/// Hits to add to one key's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hits {
    pub key: String,
    /// The window's first second (Unix time).
    pub window_start: i64,
    pub hits: i64,
}

/// A window's total after an addition.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Total {
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    pub window_start: i64,
    #[diesel(sql_type = BigInt)]
    pub hits: i64,
}

/// Rows per statement (three parameters each, well under PostgreSQL's limit).
const ROWS_PER_STATEMENT: usize = 1000;

/// Adds hits to their windows and answers each window's total across every process. Each key
/// and window appears at most once in `hits`.
pub fn add(conn: &mut DbConnection, hits: &[Hits]) -> StoreResult<Vec<Total>> {
    let mut totals = Vec::with_capacity(hits.len());
    for chunk in hits.chunks(ROWS_PER_STATEMENT) {
        let rows = (0..chunk.len())
            .map(|i| {
                let p = |n: usize| placeholder(conn, 3 * i + n);
                format!("({}, {}, {})", p(1), p(2), p(3))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let statement = format!(
            "INSERT INTO rate_windows (key, window_start, hits) VALUES {rows} \
             ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_windows.hits + EXCLUDED.hits \
             RETURNING key, window_start, hits"
        );
        let mut query = diesel::sql_query(statement).into_boxed::<crate::Db>();
        for row in chunk {
            query =
                query.bind::<Text, _>(row.key.clone()).bind::<BigInt, _>(row.window_start).bind::<BigInt, _>(row.hits);
        }
        totals.extend(query.load::<Total>(conn)?);
    }
    Ok(totals)
}

/// Removes windows that started before `window_start`; returns how many.
pub fn purge_before(conn: &mut DbConnection, window_start: i64) -> StoreResult<usize> {
    Ok(diesel::delete(rate_windows::table.filter(rate_windows::window_start.lt(window_start))).execute(conn)?)
}
