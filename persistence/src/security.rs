//! Telling every process sharing the database that who-may-do-what changed (a session
//! revoked, a user deactivated, a role, team or API key changed), so cached callers are
//! dropped at once rather than when they expire.
//!
//! PostgreSQL carries the news with `NOTIFY` on [`CHANNEL`], which the server delivers after
//! the announcing transaction commits; each process listens on a connection of its own
//! (`notify::listen`).
//! SQLite has no such channel: there the cache's short lifetime is the bound across
//! processes (in one process the announcer drops its own cache directly). This is one of the
//! named places where the backends differ.

use diesel::connection::SimpleConnection;

use crate::connection::DbConnection;
use crate::error::StoreResult;

/// The notification channel of security changes.
pub const CHANNEL: &str = "crm_security";

/// Tells the other processes (on PostgreSQL) that security facts changed.
pub fn announce(conn: &mut DbConnection) -> StoreResult<()> {
    if let DbConnection::Postgresql(pg) = conn {
        pg.batch_execute(&format!("NOTIFY {CHANNEL}"))?;
    }
    Ok(())
}
