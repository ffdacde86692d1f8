//! Duplicates and merge for contacts and companies: the check on create, the candidates of a
//! record, and merging several records into one survivor in one transaction.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use domain::access::Action;
use domain::activity::{RecordRef, RecordType};
use domain::audit::AuditAction;
use domain::company::CompanyData;
use domain::contact::ContactData;
use domain::duplicates::{self, FieldChoices, MERGE_MAX};
use domain::record::Stored;
use persistence::{DbConnection, activities, companies, contacts, deals, keys, tasks};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, DuplicateRef, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IfMatch, NoParams};
use crate::records::{RecordData, RecordKind};
use crate::routes::common::Page;
use crate::routes::companies::CompanyView;
use crate::routes::contacts::ContactView;
use crate::state::AppState;
use crate::support::ok_with_etag;
use app::audit;
use app::duplicates::{company_candidates, contact_candidates};
use app::kinds::COMPANIES;
use app::kinds::CONTACTS;

/// Lists a contact's possible duplicates.
#[utoipa::path(
    get, path = "/api/v1/contacts/{id}/duplicates", tag = "contacts", operation_id = "list_contact_duplicates",
    summary = "A contact's possible duplicates",
    description = "Contacts the caller may see that share a normalised email or phone, or the same name at the same company, each with the reasons.",
    params(("id" = String, Path, description = "Contact id"), NoParams),
    responses((status = 200, description = "The candidates", body = Page<DuplicateRef>), ReadErrors),
    security(("bearer" = []))
)]
pub async fn contact_duplicates(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let data = state
        .read(move |conn| {
            let contact = CONTACTS.find_visible(conn, &caller, &id)?;
            Ok(contact_candidates(conn, &caller, &contact.data, Some(&id))?
                .into_iter()
                .map(DuplicateRef::from)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: None }))
}

/// Lists a company's possible duplicates.
#[utoipa::path(
    get, path = "/api/v1/companies/{id}/duplicates", tag = "companies", operation_id = "list_company_duplicates",
    summary = "A company's possible duplicates",
    description = "Companies the caller may see that share the domain, the phone or the name without its legal form, each with the reasons.",
    params(("id" = String, Path, description = "Company id"), NoParams),
    responses((status = 200, description = "The candidates", body = Page<DuplicateRef>), ReadErrors),
    security(("bearer" = []))
)]
pub async fn company_duplicates(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let data = state
        .read(move |conn| {
            let company = COMPANIES.find_visible(conn, &caller, &id)?;
            Ok(company_candidates(conn, &caller, &company.data, Some(&id))?
                .into_iter()
                .map(DuplicateRef::from)
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor: None }))
}

/// Which records to merge into the survivor, and where chosen fields come from.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    /// The records merged into this one (1 to 10); they become tombstones pointing here.
    #[schema(min_items = 1, max_items = 10)]
    pub merge_ids: Vec<String>,
    /// Field name → id of the record (this one or a merged one) whose value to keep. Fields
    /// not named keep this record's value, or take the first merged record's when empty.
    /// Emails, phones and tags are always united.
    #[serde(default)]
    #[schema(example = json!({"job_title": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"}))]
    pub fields: FieldChoices,
}

/// The survivor and the merged records, checked: each visible, editable (survivor) or
/// deletable (merged), distinct.
fn gather<D: RecordData>(
    conn: &mut DbConnection,
    caller: &Caller,
    kind: &RecordKind<D>,
    id: &str,
    if_match: IfMatch,
    merge_ids: &[String],
) -> Result<Vec<Stored<D>>, ApiError> {
    if merge_ids.is_empty() || merge_ids.len() > MERGE_MAX {
        return Err(ApiError::invalid_field(
            "merge_ids",
            "out_of_range",
            format!("give 1 to {MERGE_MAX} records to merge"),
        ));
    }
    // Two merges over overlapping records (A into B while B into A) lock them in one order, so
    // the second waits for the first instead of deadlocking, then finds tombstones.
    let mut ids: Vec<&str> = merge_ids.iter().map(String::as_str).collect();
    ids.push(id);
    persistence::locks::lock_rows(conn, kind.spec.collection, &ids)?;
    let survivor = kind.find_visible(conn, caller, id)?;
    caller.principal.may(kind.spec.module, Action::Edit, survivor.data.ownership())?;
    if_match.check(survivor.version)?;
    let mut records = vec![survivor];
    for (index, merge_id) in merge_ids.iter().enumerate() {
        let field = format!("merge_ids[{index}]");
        if records.iter().any(|r| &r.id == merge_id) {
            return Err(ApiError::invalid_field(&field, "repeated", "names this record or one already listed"));
        }
        let record = crate::records::require_visible(conn, caller, kind, &field, merge_id)?;
        caller.principal.may(kind.spec.module, Action::Delete, record.data.ownership())?;
        records.push(record);
    }
    Ok(records)
}

/// Audits a merge: the survivor's change, and each merged record's end.
fn audit_merge<V: Serialize>(
    conn: &mut DbConnection,
    caller: &Caller,
    noun: &str,
    survivor: (&str, &V, &V),
    merged: &[String],
) -> Result<(), ApiError> {
    let (id, before, after) = survivor;
    audit::record_change(conn, caller, AuditAction::Merge, (noun, id), Some(before), Some(after))?;
    for merged_id in merged {
        audit::record_change::<()>(conn, caller, AuditAction::Merge, (noun, merged_id), None, None)?;
    }
    Ok(())
}

/// Merges contacts into this one.
#[utoipa::path(
    post, path = "/api/v1/contacts/{id}/merge", tag = "contacts", operation_id = "merge_contacts", summary = "Merge contacts into this one",
    description = "In one transaction: this contact takes the chosen fields (by default its own, blanks filled from the merged ones), all emails, phones and tags; every activity, task and deal of the merged contacts moves here; the merged contacts become tombstones (a GET of their id answers 301 to this one). Needs the edit grant here and the delete grant on the merged ones.",
    params(("id" = String, Path, description = "The surviving contact"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag of the surviving contact")),
    request_body(content = MergeInput, example = json!({"merge_ids": ["0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"]})),
    responses((status = 200, description = "The surviving contact", body = ContactView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn merge_contacts(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<MergeInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    let id = id.into_inner();
    let merged = state
        .write_retrying(move |conn| {
            let records = gather(conn, &caller, &CONTACTS, &id, if_match, &input.merge_ids)?;
            let pairs: Vec<(&str, &ContactData)> = records.iter().map(|r| (r.id.as_str(), &r.data)).collect();
            let data = duplicates::merge_contacts(&pairs, &input.fields)?;
            let now = Utc::now();
            let survivor = &records[0];
            let updated = contacts::save(conn, &id, survivor.version, &data, now)?;
            let to = RecordRef { record_type: RecordType::Contact, id: id.clone() };
            for source in &records[1..] {
                let from = RecordRef { record_type: RecordType::Contact, id: source.id.clone() };
                activities::relink(conn, &from, std::slice::from_ref(&to), false)?;
                tasks::relink(conn, &from, std::slice::from_ref(&to), false)?;
                deals::replace_contact(conn, &source.id, &id, now)?;
                contacts::tombstone(conn, &source.id, source.version, &id, now)?;
            }
            let (before, after) = (ContactView::from(survivor.clone()), ContactView::from(updated.clone()));
            audit_merge(conn, &caller, "contact", (&id, &before, &after), &input.merge_ids)?;
            Ok(updated)
        })
        .await?;
    let version = merged.version;
    Ok(ok_with_etag(&ContactView::from(merged), version))
}

/// Merges companies into this one.
#[utoipa::path(
    post, path = "/api/v1/companies/{id}/merge", tag = "companies", operation_id = "merge_companies", summary = "Merge companies into this one",
    description = "In one transaction: this company takes the chosen fields (by default its own, blanks filled from the merged ones) and all tags; the merged companies' contacts, deals, activities and tasks move here; the merged companies become tombstones (a GET of their id answers 301 to this one). Needs the edit grant here and the delete grant on the merged ones.",
    params(("id" = String, Path, description = "The surviving company"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag of the surviving company")),
    request_body(content = MergeInput, example = json!({"merge_ids": ["0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"], "fields": {"domain": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"}})),
    responses((status = 200, description = "The surviving company", body = CompanyView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn merge_companies(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<MergeInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    let id = id.into_inner();
    let merged = state
        .write_retrying(move |conn| {
            let records = gather(conn, &caller, &COMPANIES, &id, if_match, &input.merge_ids)?;
            let pairs: Vec<(&str, &CompanyData)> = records.iter().map(|r| (r.id.as_str(), &r.data)).collect();
            let data = duplicates::merge_companies(&pairs, &input.fields)?;
            let now = Utc::now();
            let survivor = &records[0];
            // The merged companies' keys (domain, name) move to the survivor: drop them first.
            for source in &records[1..] {
                keys::replace(conn, "company", &source.id, &[])?;
            }
            let updated = companies::save(conn, &id, survivor.version, &data, now)?;
            let to = RecordRef { record_type: RecordType::Company, id: id.clone() };
            for source in &records[1..] {
                let from = RecordRef { record_type: RecordType::Company, id: source.id.clone() };
                activities::relink(conn, &from, std::slice::from_ref(&to), false)?;
                tasks::relink(conn, &from, std::slice::from_ref(&to), false)?;
                contacts::move_to_company(conn, &source.id, &id, now)?;
                deals::move_to_company(conn, &source.id, &id, now)?;
                companies::tombstone(conn, &source.id, source.version, &id, now)?;
            }
            let (before, after) = (CompanyView::from(survivor.clone()), CompanyView::from(updated.clone()));
            audit_merge(conn, &caller, "company", (&id, &before, &after), &input.merge_ids)?;
            Ok(updated)
        })
        .await?;
    let version = merged.version;
    Ok(ok_with_etag(&CompanyView::from(merged), version))
}

/// Registers the duplicate and merge routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/contacts/{id}/duplicates").route(web::get().to(contact_duplicates)))
        .service(web::resource("/contacts/{id}/merge").route(web::post().to(merge_contacts)))
        .service(web::resource("/companies/{id}/duplicates").route(web::get().to(company_duplicates)))
        .service(web::resource("/companies/{id}/merge").route(web::post().to(merge_companies)));
}
