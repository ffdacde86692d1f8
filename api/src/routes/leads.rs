//! `/api/v1/leads`: prospects as captured, their score, engagement events and conversion.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::access::{Action, Module};
use domain::activity::RecordType;
use domain::audit::AuditAction;
use domain::company::MoneyInput;
use domain::contact::Source;
use domain::lead::{LeadChanges, LeadData, LeadStatus, NewLeadEvent, ScoreExplanation};
use domain::record::Patch;
use persistence::DbConnection;
use persistence::leads::{self, Lead, LeadFilters};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records;
use crate::routes::common::{MoneyBody, Page};
use crate::routes::companies::CompanyView;
use crate::routes::contacts::ContactView;
use crate::routes::deals::DealView;
use crate::routes::timeline::{self, TimelinePage, TimelineParams};
use crate::state::AppState;
use crate::support::{Created, create_idempotently};
use app::actor::Actor;
use app::error::AppError;
use app::imports::{Creation, Importable};
use app::kinds::LEADS;
use app::sales;

/// What a converted lead became.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversionView {
    pub contact_id: String,
    pub company_id: Option<String>,
    pub deal_id: Option<String>,
    pub converted_at: DateTime<Utc>,
}

/// A lead: a person or company as captured, before becoming a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadView {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    pub job_title: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub employee_count: Option<i64>,
    pub source: Option<Source>,
    pub campaign: Option<String>,
    pub status: LeadStatus,
    /// From the scoring rules; GET …/score explains it.
    pub score: i64,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Vec<String>,
    pub notes: Option<String>,
    /// Set once the lead is converted.
    pub conversion: Option<ConversionView>,
    /// Values of admin-defined custom fields, keyed by field key.
    #[schema(value_type = HashMap<String, Value>)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Lead> for LeadView {
    fn from(lead: Lead) -> Self {
        let data = lead.data;
        LeadView {
            id: lead.id,
            first_name: data.first_name,
            last_name: data.last_name,
            email: data.email,
            phone: data.phone,
            company_name: data.company_name,
            job_title: data.job_title,
            website: data.website,
            industry: data.industry,
            country: data.country,
            employee_count: data.employee_count,
            source: data.source,
            campaign: data.campaign,
            status: data.status,
            score: data.score,
            owner_id: data.owner_id,
            team_id: data.team_id,
            tags: data.tags.as_slice().to_vec(),
            notes: data.notes,
            conversion: data.conversion.map(|c| ConversionView {
                contact_id: c.contact_id,
                company_id: c.company_id,
                deal_id: c.deal_id,
                converted_at: c.converted_at,
            }),
            custom_fields: data.custom_fields.to_map(),
            created_at: lead.created_at,
            updated_at: lead.updated_at,
            deleted_at: lead.deleted_at,
        }
    }
}

/// Fields of a lead to create (POST) or change (PATCH, JSON merge-patch).
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Ada")]
    pub first_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Lovelace")]
    pub last_name: Patch<String>,
    /// Lower-cased.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 254, example = "ada@engines.example")]
    pub email: Patch<String>,
    /// International form; stored in E.164.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 40)]
    pub phone: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Analytical Engines Ltd")]
    pub company_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub job_title: Patch<String>,
    /// A domain; stored normalised (`engines.example`).
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 260)]
    pub website: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 100, example = "Software")]
    pub industry: Patch<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 2, example = "GB")]
    pub country: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 10000000)]
    pub employee_count: Patch<i64>,
    /// Defaults to `api` on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Source>)]
    pub source: Patch<Source>,
    /// Free text until campaigns exist.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub campaign: Patch<String>,
    /// Moves along the allowed transitions only; `converted` needs POST …/convert.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = LeadStatus)]
    pub status: Patch<LeadStatus>,
    /// Without it on create, the assignment rules decide (else the caller).
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub tags: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub notes: Patch<String>,
    /// Values of custom fields, merged key by key: `null` removes a value, and `null` for the whole object removes all. Unknown keys are refused (400), values of the wrong type too (422).
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub custom_fields: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl LeadInput {
    fn changes(&self) -> LeadChanges {
        LeadChanges {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            company_name: self.company_name.clone(),
            job_title: self.job_title.clone(),
            website: self.website.clone(),
            industry: self.industry.clone(),
            country: self.country.clone(),
            employee_count: self.employee_count.clone(),
            source: self.source.clone(),
            campaign: self.campaign.clone(),
            status: self.status.clone(),
            owner_id: self.owner_id.clone(),
            team_id: self.team_id.clone(),
            tags: self.tags.clone(),
            notes: self.notes.clone(),
        }
    }
}

records::record_list_params!(
    /// Filters, sort and paging of the lead list.
    LeadListParams, "Case-insensitive text search over names, email, phone and company." {
        status: Option<LeadStatus>,
        source: Option<Source>,
        /// Only leads scoring at least this much.
        min_score: Option<i64>,
    }
);

/// Lists leads the caller may see.
#[utoipa::path(
    get, path = "/api/v1/leads", tag = "leads", operation_id = "list_leads", summary = "List leads",
    description = "Keyset-paginated, filtered and sorted. Only leads the caller's role reaches are listed.",
    params(LeadListParams),
    responses((status = 200, description = "A page of leads", body = Page<LeadView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<LeadListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Leads, params.deleted)?;
    let (common, page) = params.common()?;
    let filters = LeadFilters { common, status: params.status, source: params.source, min_score: params.min_score };
    let request = page.clone();
    let result = state.read(move |conn| Ok(leads::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, LeadView>(&page, result))
}

/// Creates a lead.
#[utoipa::path(
    post, path = "/api/v1/leads", tag = "leads", operation_id = "create_lead", summary = "Create a lead",
    description = "Without `owner_id` the first assignment rule that applies assigns the lead (an owner, a team, or round-robin within a team); with none, the caller owns it. The lead is scored at once. Send `Idempotency-Key` to make retries safe.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = LeadInput, example = json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@engines.example", "company_name": "Analytical Engines Ltd", "industry": "Software", "country": "GB"})),
    responses(
        (status = 201, description = "Created", body = LeadView,
            headers(("Location" = String, description = "URL of the new lead"), ("ETag" = String, description = "Version"))),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<LeadInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.principal.may_in_module(Module::Leads, Action::Create)?;
    let data = new_lead(&caller, &body)?;
    let for_write = caller.clone();
    let custom = body.custom_fields.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/leads", &body, move |conn| {
        let lead = app::leads::insert::<crate::routes::ApiViews>(
            conn,
            &for_write,
            records::WithCustom { data, custom },
            AuditAction::Create,
        )?;
        let (location, version) = (format!("/api/v1/leads/{}", lead.id), lead.version);
        Created::new(&LeadView::from(lead), location, version)
    })
    .await
}

/// A new lead from a create body.
fn new_lead(caller: &Actor, body: &LeadInput) -> Result<LeadData, AppError> {
    app::leads::new_data(caller, body.changes())
}

/// A lead's data after a merge-patch body, its score recomputed.
fn patch_lead(conn: &mut DbConnection, id: &str, body: LeadInput, current: &LeadData) -> Result<LeadData, AppError> {
    app::leads::patched(conn, id, body.changes(), current)
}

/// Leads as imports create and update them; rows are assigned and scored like any new lead.
pub static IMPORT: Importable<LeadData, LeadInput> = Importable {
    kind: &LEADS,
    record_type: domain::activity::RecordType::Lead,
    new: |_, caller, body| new_lead(caller, body),
    custom: |body| body.custom_fields.clone(),
    create: Creation::Own(app::leads::insert::<crate::routes::ApiViews>),
    patch: patch_lead,
    changed: app::leads::changed,
    duplicate_of: app::leads::duplicate_of,
};

/// Reads one lead.
#[utoipa::path(
    get, path = "/api/v1/leads/{id}", tag = "leads", operation_id = "get_lead", summary = "Get a lead",
    description = "Answers 404 both for leads that do not exist and for ones the caller may not see.",
    params(("id" = String, Path, description = "Lead id"), NoParams),
    responses((status = 200, description = "The lead", body = LeadView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, LeadView>(&LEADS, &state, caller, id.into_inner()).await
}

/// Changes a lead; status changes follow the allowed transitions and are recorded.
#[utoipa::path(
    patch, path = "/api/v1/leads/{id}", tag = "leads", operation_id = "update_lead", summary = "Update a lead (merge-patch)",
    description = "JSON merge-patch. Status moves: new → contacted/qualified/unqualified; contacted → qualified/unqualified; qualified → contacted/unqualified; unqualified → new/contacted/qualified. Anything else, and `converted`, is refused with 422. The score is recomputed.",
    params(("id" = String, Path, description = "Lead id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = LeadInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated lead", body = LeadView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<LeadInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let custom = body.custom_fields.clone();
    records::update::<_, LeadView>(
        &LEADS,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(custom, move |conn, id, current| patch_lead(conn, id, body, current)),
        app::leads::changed,
    )
    .await
}

/// Deletes a lead (soft).
#[utoipa::path(
    delete, path = "/api/v1/leads/{id}", tag = "leads", operation_id = "delete_lead", summary = "Delete a lead",
    description = "Soft delete; an admin can restore it until the retention period ends.",
    params(("id" = String, Path, description = "Lead id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    records::delete::<_, LeadView>(&LEADS, &state, caller, id.into_inner(), if_match).await
}

/// Restores a deleted lead.
#[utoipa::path(
    post, path = "/api/v1/leads/{id}/restore", tag = "leads", operation_id = "restore_lead", summary = "Restore a deleted lead",
    description = "Admins only.",
    params(("id" = String, Path, description = "Lead id"), NoParams),
    responses((status = 200, description = "The restored lead", body = LeadView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, LeadView>(&LEADS, &state, caller, id.into_inner()).await
}

/// Explains a lead's score rule by rule.
#[utoipa::path(
    get, path = "/api/v1/leads/{id}/score", tag = "leads", operation_id = "explain_lead_score", summary = "Explain a lead's score",
    description = "Every active scoring rule in order, whether it matched, the points it gave and why.",
    params(("id" = String, Path, description = "Lead id"), NoParams),
    responses((status = 200, description = "The score, rule by rule", body = ScoreExplanation), ReadErrors),
    security(("bearer" = []))
)]
pub async fn score(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let explained = state
        .read(move |conn| {
            let lead = LEADS.find_visible(conn, &caller, &id)?;
            Ok(sales::explain_score(conn, &id, &lead.data)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(explained))
}

/// An engagement event to record on a lead.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadEventInput {
    /// Lower-case letters, digits and `_`: `email_clicked`, `ebook_downloaded`, `page_visited`, ...
    #[serde(rename = "type")]
    #[schema(example = "email_clicked", max_length = 50)]
    pub event_type: String,
    /// Default: now.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// Up to 20 details, kept as given.
    #[serde(default)]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A recorded event and the lead's new score.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadEventView {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The lead's score after this event.
    pub score: i64,
}

/// Records an engagement event of a lead and rescores it.
#[utoipa::path(
    post, path = "/api/v1/leads/{id}/events", tag = "leads", operation_id = "record_lead_event", summary = "Record an engagement event",
    description = "Engagement (an email click, an e-book download, ...) that scoring rules with an `event` criterion count. Needs the edit grant on the lead.",
    params(("id" = String, Path, description = "Lead id"), NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry: a retry records nothing twice")),
    request_body(content = LeadEventInput, example = json!({"type": "email_clicked", "properties": {"campaign": "November newsletter"}})),
    responses((status = 201, description = "Recorded", body = LeadEventView), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn record_event(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<LeadEventInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let occurred_at = body.occurred_at.unwrap_or_else(Utc::now);
    let event = NewLeadEvent::parse(&body.event_type, occurred_at, &body.properties.clone().unwrap_or_default())?;
    let id = id.into_inner();
    let route = format!("POST /api/v1/leads/{id}/events");
    let for_write = caller.clone();
    create_idempotently(&state, &caller, key, &route, &body, move |conn| {
        let recorded = app::leads::record_event(conn, &for_write, &id, &event)?;
        let NewLeadEvent { event_type, occurred_at, .. } = event.clone();
        let view = LeadEventView { id: recorded.id, event_type, occurred_at, score: recorded.score };
        Created::answer(&view, StatusCode::CREATED)
    })
    .await
}

/// The deal a conversion creates.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ConvertDealInput {
    /// Default: the company's (or the lead's) name.
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// Default: the first pipeline.
    pub pipeline_id: Option<String>,
    /// Default: the pipeline's first open stage.
    pub stage_id: Option<String>,
    #[validate(nested)]
    pub amount: Option<MoneyBody>,
    pub expected_close_date: Option<NaiveDate>,
}

/// How to convert a lead.
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ConvertInput {
    /// Link to this existing contact instead of creating one.
    pub contact_id: Option<String>,
    /// Link to this existing company instead of creating one.
    pub company_id: Option<String>,
    /// Create a company from the lead's company details when no `company_id` is given (default true).
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub create_company: bool,
    /// Create a deal too.
    #[validate(nested)]
    pub deal: Option<ConvertDealInput>,
    /// Create the contact and company even when they look like existing ones (otherwise
    /// 409 names those in `duplicates`, to be linked with `contact_id` / `company_id`).
    #[serde(default)]
    #[schema(default = false)]
    pub allow_duplicate: bool,
}

fn yes() -> bool {
    true
}

/// What a conversion made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConvertedView {
    pub lead: LeadView,
    pub contact: ContactView,
    pub company: Option<CompanyView>,
    pub deal: Option<DealView>,
}

impl ConvertInput {
    fn request(self) -> app::leads::ConvertRequest {
        app::leads::ConvertRequest {
            contact_id: self.contact_id,
            company_id: self.company_id,
            create_company: self.create_company,
            deal: self.deal.map(|deal| app::leads::DealRequest {
                name: deal.name,
                pipeline_id: deal.pipeline_id,
                stage_id: deal.stage_id,
                amount: deal.amount.map(|m| MoneyInput { amount_minor: m.amount_minor, currency: m.currency }),
                expected_close_date: deal.expected_close_date,
            }),
            allow_duplicate: self.allow_duplicate,
        }
    }
}

/// Converts a lead into a contact, a company and optionally a deal, in one transaction.
#[utoipa::path(
    post, path = "/api/v1/leads/{id}/convert", tag = "leads", operation_id = "convert_lead", summary = "Convert a lead",
    description = "In one transaction: creates (or links to) a contact and a company, optionally creates a deal in a pipeline, marks the lead `converted` with links to what it became, and links the lead's activities and tasks to the new records (they stay on the lead too). A converted lead cannot be converted again (409); neither can an unqualified one. A contact or company that looks like one the caller can see is refused with 409 naming it in `duplicates`: link it with `contact_id` / `company_id`, or send `allow_duplicate`.",
    params(("id" = String, Path, description = "Lead id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the conversion is based on"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry: a retry gets the first answer")),
    request_body(content = ConvertInput, example = json!({"deal": {"name": "Engines: 40 licences", "amount": {"amount_minor": 4000000, "currency": "EUR"}, "expected_close_date": "2026-12-15"}})),
    responses((status = 200, description = "What the lead became", body = ConvertedView), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn convert(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    key: IdempotencyKey,
    body: web::Json<ConvertInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner();
    input.validate()?;
    let id = id.into_inner();
    let route = format!("POST /api/v1/leads/{id}/convert");
    let for_write = caller.clone();
    let hashed = input.clone();
    create_idempotently(&state, &caller, key, &route, &hashed, move |conn| {
        let converted =
            app::leads::convert::<crate::routes::ApiViews>(conn, &for_write, &id, if_match.0, input.request())?;
        let view = ConvertedView {
            lead: LeadView::from(converted.lead),
            contact: ContactView::from(converted.contact),
            company: converted.company.map(CompanyView::from),
            deal: converted.deal.map(DealView::from),
        };
        Created::answer(&view, StatusCode::OK)
    })
    .await
}

/// A lead's timeline.
#[utoipa::path(
    get, path = "/api/v1/leads/{id}/timeline", tag = "leads", operation_id = "lead_timeline", summary = "A lead's timeline",
    description = "Activities linked to the lead and its status changes, newest first, keyset-paginated; `type` filters by kind.",
    params(("id" = String, Path, description = "Lead id"), TimelineParams),
    responses((status = 200, description = "A page of the timeline", body = TimelinePage), ReadErrors),
    security(("bearer" = []))
)]
pub async fn lead_timeline(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<TimelineParams>,
) -> Result<HttpResponse, ApiError> {
    timeline::respond(&state, caller, RecordType::Lead, id.into_inner(), params.into_inner()).await
}

/// Registers the lead routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(search_resource())
        .service(export_resource())
        .service(web::resource("/leads").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/leads/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/leads/{id}/restore").route(web::post().to(restore)))
        .service(web::resource("/leads/{id}/score").route(web::get().to(score)))
        .service(web::resource("/leads/{id}/events").route(web::post().to(record_event)))
        .service(web::resource("/leads/{id}/convert").route(web::post().to(convert)))
        .service(web::resource("/leads/{id}/timeline").route(web::get().to(lead_timeline)))
        .service(history_resource());
}

/// Leads as searches and exports read them.
pub static SEARCHABLE: crate::routes::search::Searchable<LeadData> = crate::routes::search::Searchable {
    kind: &LEADS,
    record_type: domain::activity::RecordType::Lead,
    search: persistence::leads::search,
};
crate::routes::search::search_route!(SEARCHABLE, LeadView, "leads");
crate::routes::exports::export_routes!(SEARCHABLE, LeadView, "leads");
crate::routes::audit::history_route!(LEADS, "leads", "lead");
crate::routes::batch::batch_route!(
    LeadBatchOperation, LeadBatch, LeadInput, "leads",
    create: |_allow| NoParams {}
);

/// The operations of leads, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get, update, delete, restore, score, record_event, convert, lead_timeline, search, export, export_search, history, batch), tags((name = "leads", description = "Prospects as captured: status, score, conversion")))]
pub struct Doc;

/// Leads in the API: what is mounted, documented and imported.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::LEADS,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: Some(|conn, caller, rows, policy| {
        app::imports::import_rows::<_, _, LeadView>(&IMPORT, conn, caller, rows, policy)
    }),
    patch: Some(|conn, caller, id, body| {
        app::imports::patch_one::<_, _, LeadView>(&IMPORT, conn, caller, (id, body), domain::audit::AuditAction::Update)
    }),
};
