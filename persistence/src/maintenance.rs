//! Housekeeping that any process may run at any time: every step is idempotent.

use chrono::{DateTime, Utc};

use crate::error::StoreResult;
use crate::{DbConnection, activities, companies, contacts, deals, idempotency, imports, leads, links, tasks};

/// How many rows one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub contacts: usize,
    pub companies: usize,
    pub leads: usize,
    pub deals: usize,
    pub activities: usize,
    pub tasks: usize,
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
    // Tasks before activities (tasks name the activity they follow up), deals before
    // the leads and companies they point to.
    let tasks = tasks::purge_deleted_before(conn, records_cutoff)?;
    let activities = activities::purge_deleted_before(conn, records_cutoff)?;
    let deals = deals::purge_deleted_before(conn, records_cutoff)?;
    let leads = leads::purge_deleted_before(conn, records_cutoff)?;
    let contacts = contacts::purge_deleted_before(conn, records_cutoff)?;
    let companies = companies::purge_deleted_before(conn, records_cutoff)?;
    let orphans =
        if tasks + activities + deals + leads + contacts + companies > 0 { links::forget_missing(conn)? } else { 0 };
    Ok(Purged {
        contacts,
        companies,
        leads,
        deals,
        activities,
        tasks,
        orphans,
        idempotency_keys: idempotency::purge_before(conn, keys_cutoff)?,
        imports: imports::purge_finished_before(conn, records_cutoff)?,
    })
}
