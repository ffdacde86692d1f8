//! Housekeeping that any process may run at any time: every step is idempotent.

use chrono::{DateTime, Utc};

use crate::error::StoreResult;
use crate::{DbConnection, companies, contacts, idempotency};

/// How many rows one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub contacts: usize,
    pub companies: usize,
    pub idempotency_keys: usize,
}

/// Removes records soft-deleted before `records_cutoff` (their retention ended) and
/// idempotency answers stored before `keys_cutoff`.
pub fn purge(
    conn: &mut DbConnection,
    records_cutoff: DateTime<Utc>,
    keys_cutoff: DateTime<Utc>,
) -> StoreResult<Purged> {
    Ok(Purged {
        contacts: contacts::purge_deleted_before(conn, records_cutoff)?,
        companies: companies::purge_deleted_before(conn, records_cutoff)?,
        idempotency_keys: idempotency::purge_before(conn, keys_cutoff)?,
    })
}
