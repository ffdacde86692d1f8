//! Deal steps beyond the shared record flow: the pipeline a new deal goes to, its
//! references, a deal created inside another step (lead conversion), and the deal rule
//! re-applied when a pipeline's stages change.

use chrono::Utc;
use domain::access::Module;
use domain::audit::AuditAction;
use domain::deal::{DealChanges, DealData, Pipeline};
use domain::record::{Owned, Patch};
use persistence::deals::{self, Deal};
use persistence::pipelines::{self, StoredPipeline};
use persistence::{DbConnection, StoreError};

use crate::actor::Actor;
use crate::audit;
use crate::error::AppError;
use crate::kinds::{COMPANIES, CONTACTS, DEALS};
use crate::records::require_visible;
use crate::sales;
use crate::views::Views;

/// The pipeline a deal goes to: the one named, or the first one.
pub fn load_pipeline(conn: &mut DbConnection, id: Option<&str>) -> Result<StoredPipeline, AppError> {
    let found = match id {
        Some(id) => pipelines::find(conn, id),
        None => pipelines::default_pipeline(conn),
    };
    match found {
        Err(StoreError::NotFound) => Err(AppError::invalid(
            "pipeline_id",
            "not_found",
            if id.is_some() { "names no pipeline" } else { "is needed: there is no pipeline yet" },
        )),
        other => Ok(other?),
    }
}

/// Company and contacts a deal names must be visible to the actor (only the new ones are checked).
pub fn check_references(
    conn: &mut DbConnection,
    caller: &Actor,
    before: Option<&DealData>,
    after: &DealData,
) -> Result<(), AppError> {
    if let Some(company_id) = &after.company_id
        && before.is_none_or(|b| b.company_id.as_ref() != Some(company_id))
    {
        require_visible(conn, caller, &COMPANIES, "company_id", company_id)?;
    }
    for (index, contact_id) in after.contact_ids.iter().enumerate() {
        if before.is_none_or(|b| !b.contact_ids.contains(contact_id)) {
            require_visible(conn, caller, &CONTACTS, &format!("contact_ids[{index}]"), contact_id)?;
        }
    }
    Ok(())
}

/// Creates a deal inside a running step (lead conversion): the same checks as POST.
pub fn create_in<V: Views>(conn: &mut DbConnection, caller: &Actor, data: DealData) -> Result<Deal, AppError> {
    caller.principal.may_create(Module::Deals, data.ownership())?;
    check_references(conn, caller, None, &data)?;
    let deal = deals::insert(conn, &data, Utc::now())?;
    (DEALS.created)(conn, caller, &deal)?;
    let view = V::Deal::from(deal.clone());
    audit::record_change(conn, caller, AuditAction::Create, ("deal", &deal.id), None, Some(&view))?;
    Ok(deal)
}

/// Re-applies the deal rule to every deal (live or deleted) in `stage_id` after a pipeline
/// change: moved to `target` when the stage goes away, or kept where it is when the stage's
/// kind changed, so `closed_at` and the close reason follow the stage as on any PATCH. Each
/// changed deal gets its audit row and, when it moved, its stage history.
pub fn restage<V: Views>(
    conn: &mut DbConnection,
    caller: &Actor,
    pipeline: &Pipeline,
    stage_id: &str,
    target: Option<&str>,
) -> Result<(), AppError> {
    let now = Utc::now();
    for deal in deals::in_stage(conn, stage_id)? {
        let changes = DealChanges { stage_id: Patch::from_option(target.map(str::to_owned)), ..Default::default() };
        let after = DealData::apply(Some(&deal.data), changes, pipeline, now)?;
        if after == deal.data {
            continue;
        }
        let updated = deals::rewrite(conn, &deal.id, deal.version, &after, now)?;
        if deal.data.stage_id != after.stage_id {
            sales::record_stage_change(conn, caller, &deal.id, Some(&deal.data.stage_id), &after.stage_id)?;
        }
        let id = deal.id.clone();
        let (before, after) = (V::Deal::from(deal), V::Deal::from(updated));
        audit::record_change(conn, caller, AuditAction::Update, ("deal", &id), Some(&before), Some(&after))?;
    }
    Ok(())
}

/// What a deal change must satisfy and record: newly named company and contacts are
/// visible, and a stage move enters the stage history.
pub fn changed(
    conn: &mut DbConnection,
    caller: &Actor,
    id: &str,
    before: &DealData,
    after: &DealData,
) -> Result<(), AppError> {
    check_references(conn, caller, Some(before), after)?;
    if before.stage_id != after.stage_id {
        sales::record_stage_change(conn, caller, id, Some(&before.stage_id), &after.stage_id)?;
    }
    Ok(())
}
