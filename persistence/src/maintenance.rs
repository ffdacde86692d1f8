//! Housekeeping that any process may run at any time: every step is idempotent.

use chrono::{DateTime, Utc};

use crate::error::StoreResult;
use crate::{DbConnection, idempotency, imports, records};

/// How many rows one purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Purged {
    /// Records removed, by collection (types with none left out).
    pub records: Vec<(&'static str, usize)>,
    /// Links and history rows of records that no longer exist.
    pub orphans: usize,
    pub idempotency_keys: usize,
    /// Finished imports (and their error reports) past the retention period.
    pub imports: usize,
}

/// Removes records soft-deleted before `records_cutoff` (their retention ended), imports that
/// finished before it, and idempotency answers stored before `keys_cutoff`.
pub fn purge(
    conn: &mut DbConnection,
    records_cutoff: DateTime<Utc>,
    keys_cutoff: DateTime<Utc>,
) -> StoreResult<Purged> {
    // In the registry's order: a type before the types its rows point to.
    let mut records = Vec::new();
    for spec in domain::registry::RECORD_TYPES {
        let removed = records::purge_deleted_before(conn, &spec, records_cutoff)?;
        if removed > 0 {
            records.push((spec.collection, removed));
        }
    }
    let orphans = if records.is_empty() { 0 } else { records::forget_missing(conn)? };
    Ok(Purged {
        records,
        orphans,
        idempotency_keys: idempotency::purge_before(conn, keys_cutoff)?,
        imports: imports::purge_finished_before(conn, records_cutoff)?,
    })
}
