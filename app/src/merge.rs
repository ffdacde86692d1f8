//! Merging duplicates: several contacts (or companies) become one survivor in one
//! transaction, everything that pointed at the merged records moves to it, and they become
//! tombstones that lead to it.

use chrono::Utc;
use domain::access::Action;
use domain::activity::{RecordRef, RecordType};
use domain::audit::AuditAction;
use domain::company::CompanyData;
use domain::contact::ContactData;
use domain::duplicates::{self, FieldChoices, MERGE_MAX};
use domain::record::Stored;
use persistence::companies::Company;
use persistence::contacts::Contact;
use persistence::{DbConnection, activities, companies, contacts, deals, keys, tasks};
use serde::Serialize;

use crate::actor::Actor;
use crate::audit;
use crate::error::AppError;
use crate::kinds::{COMPANIES, CONTACTS};
use crate::records::{RecordData, RecordKind, check_version, require_visible};
use crate::views::Views;

/// Which records to merge into the survivor, and where chosen fields come from.
#[derive(Debug, Clone, Default)]
pub struct MergeRequest {
    /// The records merged into the survivor (1 to [`MERGE_MAX`]).
    pub merge_ids: Vec<String>,
    /// Field name → id of the record whose value the survivor keeps.
    pub fields: FieldChoices,
    /// The survivor's version the actor based the merge on, if any.
    pub expected_version: Option<i64>,
}

/// The survivor and the merged records, checked: each visible, editable (survivor) or
/// deletable (merged), distinct.
fn gather<D: RecordData>(
    conn: &mut DbConnection,
    actor: &Actor,
    kind: &RecordKind<D>,
    id: &str,
    request: &MergeRequest,
) -> Result<Vec<Stored<D>>, AppError> {
    let merge_ids = &request.merge_ids;
    if merge_ids.is_empty() || merge_ids.len() > MERGE_MAX {
        return Err(AppError::invalid("merge_ids", "out_of_range", format!("give 1 to {MERGE_MAX} records to merge")));
    }
    // Two merges over overlapping records (A into B while B into A) lock them in one order, so
    // the second waits for the first instead of deadlocking, then finds tombstones.
    let mut ids: Vec<&str> = merge_ids.iter().map(String::as_str).collect();
    ids.push(id);
    persistence::locks::lock_rows(conn, kind.spec.collection, &ids)?;
    let survivor = kind.find_visible(conn, actor, id)?;
    actor.principal.may(kind.spec.module, Action::Edit, survivor.data.ownership())?;
    check_version(request.expected_version, survivor.version)?;
    let mut records = vec![survivor];
    for (index, merge_id) in merge_ids.iter().enumerate() {
        let field = format!("merge_ids[{index}]");
        if records.iter().any(|r| &r.id == merge_id) {
            return Err(AppError::invalid(&field, "repeated", "names this record or one already listed"));
        }
        let record = require_visible(conn, actor, kind, &field, merge_id)?;
        actor.principal.may(kind.spec.module, Action::Delete, record.data.ownership())?;
        records.push(record);
    }
    Ok(records)
}

/// Audits a merge: the survivor's change, and each merged record's end (its last view).
fn audit_merge<V: Serialize>(
    conn: &mut DbConnection,
    actor: &Actor,
    noun: &str,
    survivor: (&str, &V, &V),
    merged: &[(&str, V)],
) -> Result<(), AppError> {
    let (id, before, after) = survivor;
    audit::record_change(conn, actor, AuditAction::Merge, (noun, id), Some(before), Some(after))?;
    for (merged_id, last) in merged {
        audit::record_change(conn, actor, AuditAction::Merge, (noun, merged_id), Some(last), None)?;
    }
    Ok(())
}

/// Merges contacts into the contact `id`: it takes the chosen fields and every email, phone
/// and tag; the merged contacts' activities, tasks and deals move to it.
pub fn merge_contacts<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    request: &MergeRequest,
) -> Result<Contact, AppError> {
    let records = gather(conn, actor, &CONTACTS, id, request)?;
    let pairs: Vec<(&str, &ContactData)> = records.iter().map(|r| (r.id.as_str(), &r.data)).collect();
    let data = duplicates::merge_contacts(&pairs, &request.fields)?;
    let now = Utc::now();
    let survivor = &records[0];
    let updated = contacts::save(conn, id, survivor.version, &data, now)?;
    let to = RecordRef { record_type: RecordType::Contact, id: id.to_owned() };
    for source in &records[1..] {
        let from = RecordRef { record_type: RecordType::Contact, id: source.id.clone() };
        activities::relink(conn, &from, std::slice::from_ref(&to), false)?;
        tasks::relink(conn, &from, std::slice::from_ref(&to), false)?;
        deals::replace_contact(conn, &source.id, id, now)?;
        contacts::tombstone(conn, &source.id, source.version, id, now)?;
    }
    let (before, after) = (V::Contact::from(survivor.clone()), V::Contact::from(updated.clone()));
    let merged: Vec<_> = records[1..].iter().map(|r| (r.id.as_str(), V::Contact::from(r.clone()))).collect();
    audit_merge(conn, actor, "contact", (id, &before, &after), &merged)?;
    Ok(updated)
}

/// Merges companies into the company `id`: it takes the chosen fields and every tag; the
/// merged companies' contacts, deals, activities and tasks move to it.
pub fn merge_companies<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    request: &MergeRequest,
) -> Result<Company, AppError> {
    let records = gather(conn, actor, &COMPANIES, id, request)?;
    let pairs: Vec<(&str, &CompanyData)> = records.iter().map(|r| (r.id.as_str(), &r.data)).collect();
    let data = duplicates::merge_companies(&pairs, &request.fields)?;
    let now = Utc::now();
    let survivor = &records[0];
    // The merged companies' keys (domain, name) move to the survivor: drop them first.
    for source in &records[1..] {
        keys::replace(conn, "company", &source.id, &[])?;
    }
    let updated = companies::save(conn, id, survivor.version, &data, now)?;
    let to = RecordRef { record_type: RecordType::Company, id: id.to_owned() };
    for source in &records[1..] {
        let from = RecordRef { record_type: RecordType::Company, id: source.id.clone() };
        activities::relink(conn, &from, std::slice::from_ref(&to), false)?;
        tasks::relink(conn, &from, std::slice::from_ref(&to), false)?;
        contacts::move_to_company(conn, &source.id, id, now)?;
        deals::move_to_company(conn, &source.id, id, now)?;
        companies::tombstone(conn, &source.id, source.version, id, now)?;
    }
    let (before, after) = (V::Company::from(survivor.clone()), V::Company::from(updated.clone()));
    let merged: Vec<_> = records[1..].iter().map(|r| (r.id.as_str(), V::Company::from(r.clone()))).collect();
    audit_merge(conn, actor, "company", (id, &before, &after), &merged)?;
    Ok(updated)
}
