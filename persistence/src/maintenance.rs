//! Housekeeping that any process may run at any time: every step is idempotent.

use chrono::{DateTime, Utc};

use crate::error::StoreResult;
use crate::{DbConnection, events, idempotency, imports, jobs, records, webhooks};

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
    /// Domain events past their own retention period.
    pub events: usize,
    /// Finished jobs past the retention period.
    pub jobs: usize,
    /// Webhook deliveries (and their attempts) past the delivery log's 30 days.
    pub webhook_deliveries: usize,
}

/// Until when each kind of row is kept.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    /// Soft-deleted records and finished imports.
    pub records: DateTime<Utc>,
    /// Stored idempotent answers.
    pub idempotency_keys: DateTime<Utc>,
    pub events: DateTime<Utc>,
    /// Finished jobs.
    pub jobs: DateTime<Utc>,
    pub webhook_deliveries: DateTime<Utc>,
}

/// Removes records soft-deleted before their cutoff (their retention ended), imports that
/// finished before it, and idempotency answers and events older than theirs.
pub fn purge(conn: &mut DbConnection, cutoffs: Cutoffs) -> StoreResult<Purged> {
    let records_cutoff = cutoffs.records;
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
        idempotency_keys: idempotency::purge_before(conn, cutoffs.idempotency_keys)?,
        imports: imports::purge_finished_before(conn, records_cutoff)?,
        events: events::purge_before(conn, cutoffs.events)?,
        jobs: jobs::purge_finished_before(conn, cutoffs.jobs)?,
        webhook_deliveries: webhooks::purge_before(conn, cutoffs.webhook_deliveries)?,
    })
}
