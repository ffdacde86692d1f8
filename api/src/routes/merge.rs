//! Duplicates and merge for contacts and companies: the check on create, the candidates of a
//! record, and merging several records into one survivor in one transaction.

use actix_web::{HttpResponse, web};
use domain::duplicates::FieldChoices;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, DuplicateRef, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IfMatch, NoParams};
use crate::routes::ApiViews;
use crate::routes::common::Page;
use crate::routes::companies::CompanyView;
use crate::routes::contacts::ContactView;
use crate::state::AppState;
use crate::support::ok_with_etag;
use app::duplicates::{company_candidates, contact_candidates};
use app::kinds::COMPANIES;
use app::kinds::CONTACTS;
use app::merge::{self, MergeRequest};

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
    let MergeInput { merge_ids, fields } = body.into_inner();
    let request = MergeRequest { merge_ids, fields, expected_version: if_match.0 };
    let id = id.into_inner();
    let merged =
        state.write_retrying(move |conn| Ok(merge::merge_contacts::<ApiViews>(conn, &caller, &id, &request)?)).await?;
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
    let MergeInput { merge_ids, fields } = body.into_inner();
    let request = MergeRequest { merge_ids, fields, expected_version: if_match.0 };
    let id = id.into_inner();
    let merged =
        state.write_retrying(move |conn| Ok(merge::merge_companies::<ApiViews>(conn, &caller, &id, &request)?)).await?;
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
