//! `/api/v1/companies`: organisations; the same shape as contacts.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Module};
use domain::company::{CompanyChanges, CompanyData, MoneyInput};
use domain::record::Patch;
use persistence::companies::{self, Company, CompanyFilters};
use persistence::contacts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, CommonErrors, Problem};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records::{self};
use crate::routes::common::{AddressBody, MoneyBody, Page};
use crate::routes::contacts::{ContactListParams, ContactView, contact_filters};
use crate::state::AppState;
use app::actor::Actor;
use app::error::AppError;
use app::imports::{Checked, Creation, Importable};
use app::kinds::COMPANIES;

/// A company (account).
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyView {
    pub id: String,
    #[schema(example = "Acme Ltd")]
    pub name: String,
    /// Normalised: no scheme, no `www.`, lower case.
    #[schema(example = "acme.example")]
    pub domain: Option<String>,
    #[schema(example = "Manufacturing")]
    pub industry: Option<String>,
    #[schema(example = 250)]
    pub employee_count: Option<i64>,
    pub annual_revenue: Option<MoneyBody>,
    /// E.164.
    pub phone: Option<String>,
    pub address: Option<AddressBody>,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Vec<String>,
    /// Values of admin-defined custom fields, keyed by field key.
    #[schema(value_type = HashMap<String, Value>)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the company is deleted and restorable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Company> for CompanyView {
    fn from(company: Company) -> Self {
        let data = company.data;
        CompanyView {
            id: company.id,
            name: data.name,
            domain: data.domain,
            industry: data.industry,
            employee_count: data.employee_count,
            annual_revenue: data
                .annual_revenue
                .map(|m| MoneyBody { amount_minor: m.amount_minor, currency: m.currency.as_str().to_owned() }),
            phone: data.phone,
            address: data.address.map(Into::into),
            owner_id: data.owner_id,
            team_id: data.team_id,
            tags: data.tags.as_slice().to_vec(),
            custom_fields: data.custom_fields.to_map(),
            created_at: company.created_at,
            updated_at: company.updated_at,
            deleted_at: company.deleted_at,
        }
    }
}

/// Fields of a company to create (POST; `name` required) or change (PATCH, JSON merge-patch).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyInput {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Acme Ltd")]
    pub name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 260, example = "https://www.acme.example")]
    pub domain: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 100)]
    pub industry: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10000000)]
    pub employee_count: Patch<i64>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<MoneyBody>)]
    pub annual_revenue: Patch<MoneyBody>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 40, example = "+44 20 7946 0000")]
    pub phone: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<AddressBody>)]
    pub address: Patch<AddressBody>,
    /// Defaults to the caller on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    /// Replaces the whole list; tags are lower-cased.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub tags: Patch<Vec<String>>,
    /// Values of custom fields, merged key by key: `null` removes a value, and `null` for the whole object removes all. Unknown keys are refused (400), values of the wrong type too (422).
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub custom_fields: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl CompanyInput {
    /// The domain changes this body asks for; the body stays intact for the idempotency hash.
    fn changes(&self) -> CompanyChanges {
        let revenue =
            self.annual_revenue.clone().map(|m| MoneyInput { amount_minor: m.amount_minor, currency: m.currency });
        CompanyChanges {
            name: self.name.clone(),
            domain: self.domain.clone(),
            industry: self.industry.clone(),
            employee_count: self.employee_count.clone(),
            annual_revenue: revenue,
            phone: self.phone.clone(),
            address: self.address.clone().map(Into::into),
            owner_id: self.owner_id.clone(),
            team_id: self.team_id.clone(),
            tags: self.tags.clone(),
        }
    }
}

records::record_list_params!(
    /// Filters, sort and paging of the company list.
    CompanyListParams, "Case-insensitive text search over name, domain, phone and industry." {
        /// Exact domain (normalised the same way as stored).
        domain: Option<String>,
    }
);

/// Lists companies the caller may see.
#[utoipa::path(
    get, path = "/api/v1/companies", tag = "companies", operation_id = "list_companies", summary = "List companies",
    description = "Keyset-paginated, filtered and sorted. Only companies the caller's role reaches are listed.",
    params(CompanyListParams),
    responses(
        (status = 200, description = "A page of companies", body = Page<CompanyView>),
        (status = 400, description = "Unknown or malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read companies", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<CompanyListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Companies, params.deleted)?;
    let (common, page) = params.common()?;
    let domain = params
        .domain
        .as_deref()
        .map(|d| domain::values::DomainName::parse("domain", d))
        .transpose()
        .map_err(|e| ApiError::bad_field("domain", e.code, e.message))?;
    let filters = CompanyFilters { common, domain: domain.map(|d| d.as_str().to_owned()) };
    let request = page.clone();
    let result = state.read(move |conn| Ok(companies::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, CompanyView>(&page, result))
}

/// Creates a company.
#[utoipa::path(
    post, path = "/api/v1/companies", tag = "companies", operation_id = "create_company", summary = "Create a company",
    description = "Send `Idempotency-Key` to make retries safe: a retry returns the first answer. A company sharing the domain, the phone or the name (without its legal form) with one the caller can see is refused with 409 naming it in `duplicates` unless `allow_duplicate=true`.",
    params(crate::routes::common::CreateParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = CompanyInput, example = json!({"name": "Acme Ltd", "domain": "https://www.acme.example", "industry": "Manufacturing", "employee_count": 250, "annual_revenue": {"amount_minor": 250000000, "currency": "EUR"}})),
    responses(
        (status = 201, description = "Created; `Location` names it and `ETag` is its version", body = CompanyView,
            headers(("Location" = String, description = "URL of the new company"), ("ETag" = String, description = "Version"))),
        (status = 400, description = "Malformed JSON, unknown field or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not create companies (for that owner)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Looks like an existing company (see `duplicates`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field values, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<crate::routes::common::CreateParams>,
    key: IdempotencyKey,
    body: web::Json<CompanyInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.principal.may_in_module(Module::Companies, Action::Create)?;
    let data = new_company(&caller, &body)?;
    let allow_duplicate = params.allow_duplicate;
    let custom = body.custom_fields.clone();
    records::create::<_, CompanyView, _>(
        &COMPANIES,
        &state,
        &caller,
        key,
        &body,
        records::WithCustom { data, custom },
        move |conn, caller, data| app::duplicates::check_new_company(conn, caller, data, allow_duplicate),
    )
    .await
}

/// A new company from a create body (owned by the caller unless it names an owner).
fn new_company(caller: &Actor, body: &CompanyInput) -> Result<CompanyData, AppError> {
    let mut changes = body.changes();
    records::default_owner(&mut changes.owner_id, caller);
    Ok(CompanyData::apply(None, changes)?)
}

/// A company's data after a merge-patch body.
fn patch_company(
    _: &mut persistence::DbConnection,
    _: &str,
    body: CompanyInput,
    current: &CompanyData,
) -> Result<CompanyData, AppError> {
    Ok(CompanyData::apply(Some(current), body.changes())?)
}

/// Companies as imports create and update them.
pub static IMPORT: Importable<CompanyData, CompanyInput> = Importable {
    kind: &COMPANIES,
    record_type: domain::activity::RecordType::Company,
    new: |_, caller, body| new_company(caller, body),
    custom: |body| body.custom_fields.clone(),
    create: Creation::Checked(Checked {
        check: |_, _, _| Ok(()),
        insert_many: persistence::companies::create_many,
        match_keys: domain::duplicates::company_key_texts,
        maybe_duplicated: Some(app::duplicates::companies_maybe_duplicated),
    }),
    patch: patch_company,
    changed: |_, _, _, _, _| Ok(()),
    duplicate_of: app::duplicates::company_duplicate,
};

/// Reads one company.
#[utoipa::path(
    get, path = "/api/v1/companies/{id}", tag = "companies", operation_id = "get_company", summary = "Get a company",
    description = "Answers 404 both for companies that do not exist and for ones the caller may not see. A company merged into another answers 301 with `Location` naming the survivor.",
    params(("id" = String, Path, description = "Company id"), NoParams),
    responses(
        (status = 301, description = "Merged into another company", headers(("Location" = String, description = "URL of the surviving company"))),
        (status = 200, description = "The company; `ETag` is its version", body = CompanyView, headers(("ETag" = String, description = "Version"))),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company, or not visible", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, CompanyView>(&COMPANIES, &state, caller, id.into_inner()).await
}

/// Changes a company (JSON merge-patch).
#[utoipa::path(
    patch, path = "/api/v1/companies/{id}", tag = "companies", operation_id = "update_company", summary = "Update a company",
    description = "JSON merge-patch: absent fields are kept, `null` clears a field, lists are replaced whole. Send `If-Match` to refuse the change if the company changed since you read it (412).",
    params(("id" = String, Path, description = "Company id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = CompanyInput, content_type = "application/merge-patch+json", example = json!({"employee_count": 300, "phone": null})),
    responses(
        (status = 200, description = "The changed company", body = CompanyView, headers(("ETag" = String, description = "New version"))),
        (status = 400, description = "Malformed JSON, unknown field or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Visible, but the role may not edit it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company, or not visible", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the given ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<CompanyInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let custom = body.custom_fields.clone();
    records::update::<_, CompanyView>(
        &COMPANIES,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(custom, move |conn, id, current| patch_company(conn, id, body, current)),
        IMPORT.changed,
    )
    .await
}

/// Deletes a company (soft).
#[utoipa::path(
    delete, path = "/api/v1/companies/{id}", tag = "companies", operation_id = "delete_company", summary = "Delete a company",
    description = "Soft delete: the company leaves lists and reads, its contacts stay, and an admin can restore it until the retention period ends.",
    params(("id" = String, Path, description = "Company id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Visible, but the role may not delete it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company, or not visible", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the given ETag", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    records::delete::<_, CompanyView>(&COMPANIES, &state, caller, id.into_inner(), if_match).await
}

/// Restores a deleted company.
#[utoipa::path(
    post, path = "/api/v1/companies/{id}/restore", tag = "companies", operation_id = "restore_company", summary = "Restore a deleted company",
    description = "Admins only. List restorable companies with `GET /api/v1/companies?deleted=true`.",
    params(("id" = String, Path, description = "Company id"), NoParams),
    responses(
        (status = 200, description = "The restored company", body = CompanyView, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No deleted company with this id", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, CompanyView>(&COMPANIES, &state, caller, id.into_inner()).await
}

/// Lists a company's contacts.
#[utoipa::path(
    get, path = "/api/v1/companies/{id}/contacts", tag = "companies", operation_id = "list_company_contacts", summary = "List a company's contacts",
    description = "The same parameters as GET /api/v1/contacts; `company_id` is taken from the path.",
    params(("id" = String, Path, description = "Company id"), ContactListParams),
    responses(
        (status = 200, description = "A page of the company's contacts the caller may see", body = Page<ContactView>),
        (status = 400, description = "Unknown or malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read contacts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such company, or not visible", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list_contacts(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<ContactListParams>,
) -> Result<HttpResponse, ApiError> {
    let mut params = params.into_inner();
    let contact_visibility = records::authorize_list(&caller, Module::Contacts, params.deleted)?;
    params.company_id = Some(id.into_inner());
    let (filters, page) = contact_filters(&params)?;
    let request = page.clone();
    let result = state
        .read(move |conn| {
            let company_id = filters.company_id.clone().unwrap_or_default();
            COMPANIES.find_visible(conn, &caller, &company_id)?;
            Ok(contacts::list(conn, &contact_visibility, &filters, &request)?)
        })
        .await?;
    Ok(records::page_response::<_, ContactView>(&page, result))
}

/// Registers the company routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(search_resource())
        .service(export_resource())
        .service(web::resource("/companies").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/companies/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/companies/{id}/restore").route(web::post().to(restore)))
        .service(web::resource("/companies/{id}/contacts").route(web::get().to(list_contacts)))
        .service(history_resource())
        .service(web::resource("/companies/{id}/timeline").route(web::get().to(company_timeline)));
}

/// A company's timeline.
#[utoipa::path(
    get, path = "/api/v1/companies/{id}/timeline", tag = "companies", operation_id = "company_timeline", summary = "A company's timeline",
    description = "Activities linked to the company or to any of its contacts, and the stage changes of its deals, newest first, keyset-paginated; `type` filters by kind.",
    params(("id" = String, Path, description = "Company id"), crate::routes::timeline::TimelineParams),
    responses((status = 200, description = "A page of the timeline", body = crate::routes::timeline::TimelinePage), crate::error::ReadErrors),
    security(("bearer" = []))
)]
pub async fn company_timeline(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<crate::routes::timeline::TimelineParams>,
) -> Result<HttpResponse, ApiError> {
    crate::routes::timeline::respond(
        &state,
        caller,
        domain::activity::RecordType::Company,
        id.into_inner(),
        params.into_inner(),
    )
    .await
}

/// Companies as searches and exports read them.
pub static SEARCHABLE: crate::routes::search::Searchable<CompanyData> = crate::routes::search::Searchable {
    kind: &COMPANIES,
    record_type: domain::activity::RecordType::Company,
    search: persistence::companies::search,
};
crate::routes::search::search_route!(SEARCHABLE, CompanyView, "companies");
crate::routes::exports::export_routes!(SEARCHABLE, CompanyView, "companies");
crate::routes::audit::history_route!(COMPANIES, "companies", "company");
crate::routes::batch::batch_route!(
    CompanyBatchOperation, CompanyBatch, CompanyInput, "companies",
    create: |allow_duplicate| crate::routes::common::CreateParams { allow_duplicate }, allow_duplicate: bool
);

/// The operations of companies, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get, update, delete, restore, list_contacts, company_timeline, search, export, export_search, history, batch), tags((name = "companies", description = "Organisations (accounts)")))]
pub struct Doc;

/// Companies in the API: what is mounted, documented and imported.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::COMPANIES,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: Some(|conn, caller, rows, policy| {
        app::imports::import_rows::<_, _, CompanyView>(&IMPORT, conn, caller, rows, policy)
    }),
    patch: Some(|conn, caller, id, body| {
        app::imports::patch_one::<_, _, CompanyView>(
            &IMPORT,
            conn,
            caller,
            (id, body),
            domain::audit::AuditAction::Update,
        )
    }),
};
