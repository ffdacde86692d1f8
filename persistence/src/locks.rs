//! Row locks a write takes before it reads what it will change.
//!
//! On PostgreSQL two transactions that read a row, then update it, race: the loser's
//! `WHERE version = n` finds a newer version (a 412 nobody asked for), or two transactions
//! that each lock rows the other needs deadlock. Locking every row a write will change, in
//! one statement and in id order, before reading them, makes such writes queue instead.
//! SQLite needs none of it: its writers hold the database's one write lock from `BEGIN
//! IMMEDIATE` on. This is one of the named places where the backends differ.

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::connection::DbConnection;
use crate::error::{StoreError, StoreResult};

/// Locks the rows of `table` with these ids until the transaction ends, in id order (rows
/// that do not exist are skipped). Call it first in a write transaction.
pub fn lock_rows(conn: &mut DbConnection, table: &str, ids: &[&str]) -> StoreResult<()> {
    let DbConnection::Postgresql(pg) = conn else { return Ok(()) };
    // The name is spliced into SQL, so only record tables pass.
    if domain::registry::by_collection(table).is_none() {
        return Err(StoreError::Internal(format!("{table} is not a lockable table")));
    }
    let mut ids: Vec<&str> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let statement = format!("SELECT id FROM {table} WHERE id IN ({}) ORDER BY id FOR UPDATE", placeholders.join(", "));
    let mut query = diesel::sql_query(statement).into_boxed();
    for id in ids {
        query = query.bind::<Text, _>(id.to_owned());
    }
    query.execute(pg)?;
    Ok(())
}
