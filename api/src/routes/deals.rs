//! `/api/v1/deals`: deals in pipelines, their stage history, and the forecast.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::access::{Action, Module};
use domain::activity::RecordType;
use domain::company::MoneyInput;
use domain::deal::{DealChanges, DealData, Period, PeriodForecast};
use domain::listing::CommonFilters;
use domain::record::Patch;
use persistence::deals::{self, Deal, DealFilters};
use persistence::pipelines::StoredPipeline;
use persistence::{DbConnection, links};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records;
use crate::routes::common::{MoneyBody, Page};
use crate::routes::timeline::{self, TimelinePage, TimelineParams};
use crate::state::AppState;
use app::actor::Actor;
use app::deals::{check_references, load_pipeline};
use app::error::AppError;
use app::imports::{Checked, Creation, Importable};
use app::kinds::DEALS;

/// A deal: a potential sale moving through a pipeline's stages.
#[derive(Debug, Serialize, ToSchema)]
pub struct DealView {
    pub id: String,
    #[schema(example = "Analytical Engines: 40 licences")]
    pub name: String,
    pub amount: Option<MoneyBody>,
    pub expected_close_date: Option<NaiveDate>,
    pub pipeline_id: String,
    pub stage_id: String,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_ids: Vec<String>,
    pub next_step: Option<String>,
    /// Why a lost deal was lost.
    pub close_reason: Option<String>,
    /// When the deal entered a won or lost stage; `null` while open.
    pub closed_at: Option<DateTime<Utc>>,
    /// The lead this deal was converted from.
    pub lead_id: Option<String>,
    pub tags: Vec<String>,
    /// Values of admin-defined custom fields, keyed by field key.
    #[schema(value_type = HashMap<String, Value>)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Deal> for DealView {
    fn from(deal: Deal) -> Self {
        let data = deal.data;
        DealView {
            id: deal.id,
            name: data.name,
            amount: data
                .amount
                .map(|m| MoneyBody { amount_minor: m.amount_minor, currency: m.currency.as_str().into() }),
            expected_close_date: data.expected_close_date,
            pipeline_id: data.pipeline_id,
            stage_id: data.stage_id,
            owner_id: data.owner_id,
            team_id: data.team_id,
            company_id: data.company_id,
            contact_ids: data.contact_ids,
            next_step: data.next_step,
            close_reason: data.close_reason,
            closed_at: data.closed_at,
            lead_id: data.lead_id,
            tags: data.tags.as_slice().to_vec(),
            custom_fields: data.custom_fields.to_map(),
            created_at: deal.created_at,
            updated_at: deal.updated_at,
            deleted_at: deal.deleted_at,
        }
    }
}

/// Fields of a deal to create (POST) or change (PATCH, JSON merge-patch).
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DealInput {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = String, max_length = 200, example = "Analytical Engines: 40 licences")]
    pub name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<MoneyBody>)]
    pub amount: Patch<MoneyBody>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<NaiveDate>, example = "2026-12-15")]
    pub expected_close_date: Patch<NaiveDate>,
    /// Defaults to the first pipeline on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = String)]
    pub pipeline_id: Patch<String>,
    /// A stage of the deal's pipeline; defaults to its first open stage when the deal enters it.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = String)]
    pub stage_id: Patch<String>,
    /// Defaults to the caller on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub company_id: Patch<String>,
    /// Replaces the whole list.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 20)]
    pub contact_ids: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 1000, example = "Send the revised proposal")]
    pub next_step: Patch<String>,
    /// Only for deals in a lost stage.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub close_reason: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub tags: Patch<Vec<String>>,
    /// Values of custom fields, merged key by key: `null` removes a value, and `null` for the whole object removes all. Unknown keys are refused (400), values of the wrong type too (422).
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub custom_fields: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl DealInput {
    /// The domain changes this body asks for.
    pub fn changes(&self) -> DealChanges {
        let amount = self.amount.clone().map(|m| MoneyInput { amount_minor: m.amount_minor, currency: m.currency });
        DealChanges {
            name: self.name.clone(),
            amount,
            expected_close_date: self.expected_close_date.clone(),
            pipeline_id: self.pipeline_id.clone(),
            stage_id: self.stage_id.clone(),
            owner_id: self.owner_id.clone(),
            team_id: self.team_id.clone(),
            company_id: self.company_id.clone(),
            contact_ids: self.contact_ids.clone(),
            next_step: self.next_step.clone(),
            close_reason: self.close_reason.clone(),
            tags: self.tags.clone(),
        }
    }
}

records::record_list_params!(
    /// Filters, sort and paging of the deal list.
    DealListParams, "Case-insensitive text search over name and next step." {
        pipeline_id: Option<String>,
        stage_id: Option<String>,
        company_id: Option<String>,
        /// Deals naming this contact.
        contact_id: Option<String>,
    }
);

/// Lists deals the caller may see.
#[utoipa::path(
    get, path = "/api/v1/deals", tag = "deals", operation_id = "list_deals", summary = "List deals",
    description = "Keyset-paginated, filtered and sorted. Only deals the caller's role reaches are listed.",
    params(DealListParams),
    responses((status = 200, description = "A page of deals", body = Page<DealView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<DealListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Deals, params.deleted)?;
    let (common, page) = params.common()?;
    let filters = DealFilters {
        common,
        pipeline_id: params.pipeline_id,
        stage_id: params.stage_id,
        company_id: params.company_id,
        contact_id: params.contact_id,
    };
    let request = page.clone();
    let result = state.read(move |conn| Ok(deals::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, DealView>(&page, result))
}

/// Creates a deal.
#[utoipa::path(
    post, path = "/api/v1/deals", tag = "deals", operation_id = "create_deal", summary = "Create a deal",
    description = "Without `pipeline_id` the deal goes to the first pipeline; without `stage_id` it starts in the pipeline's first open stage. The entry into the first stage is recorded like every later stage change. Send `Idempotency-Key` to make retries safe.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = DealInput, example = json!({"name": "Engines: 40 licences", "amount": {"amount_minor": 4000000, "currency": "EUR"}, "expected_close_date": "2026-12-15"})),
    responses(
        (status = 201, description = "Created", body = DealView,
            headers(("Location" = String, description = "URL of the new deal"), ("ETag" = String, description = "Version"))),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<DealInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.principal.may_in_module(Module::Deals, Action::Create)?;
    let pipeline_id = body.pipeline_id.set_value().cloned();
    let pipeline = state.read(move |conn| Ok(load_pipeline(conn, pipeline_id.as_deref())?)).await?;
    let data = new_deal(&caller, &body, &pipeline)?;
    let custom = body.custom_fields.clone();
    records::create::<_, DealView, _>(
        &DEALS,
        &state,
        &caller,
        key,
        &body,
        records::WithCustom { data, custom },
        |conn, caller, data| check_references(conn, caller, None, data),
    )
    .await
}

/// A new deal from a create body, in `pipeline` (owned by the caller unless it names an owner).
fn new_deal(caller: &Actor, body: &DealInput, pipeline: &StoredPipeline) -> Result<DealData, AppError> {
    let mut changes = body.changes();
    records::default_owner(&mut changes.owner_id, caller);
    Ok(DealData::apply(None, changes, &pipeline.pipeline, Utc::now())?)
}

/// A deal's data after a merge-patch body, checked against its (new) pipeline.
fn patch_deal(conn: &mut DbConnection, _: &str, body: DealInput, current: &DealData) -> Result<DealData, AppError> {
    let changes = body.changes();
    let pipeline_id = match &changes.pipeline_id {
        Patch::Set(id) => id.clone(),
        _ => current.pipeline_id.clone(),
    };
    let pipeline = load_pipeline(conn, Some(&pipeline_id))?;
    Ok(DealData::apply(Some(current), changes, &pipeline.pipeline, Utc::now())?)
}

/// Deals as imports create and update them (an `id` column names the deal a row updates).
pub static IMPORT: Importable<DealData, DealInput> = Importable {
    kind: &DEALS,
    record_type: domain::activity::RecordType::Deal,
    new: |conn, caller, body| {
        let pipeline = load_pipeline(conn, body.pipeline_id.set_value().map(String::as_str))?;
        new_deal(caller, body, &pipeline)
    },
    custom: |body| body.custom_fields.clone(),
    create: Creation::Checked(Checked {
        check: |conn, caller, data| check_references(conn, caller, None, data),
        insert_many: persistence::deals::insert_many,
        match_keys: |_| Vec::new(),
        maybe_duplicated: None,
    }),
    patch: patch_deal,
    changed: app::deals::changed,
    duplicate_of: app::imports::no_duplicates,
};

/// Reads one deal.
#[utoipa::path(
    get, path = "/api/v1/deals/{id}", tag = "deals", operation_id = "get_deal", summary = "Get a deal",
    description = "Answers 404 both for deals that do not exist and for ones the caller may not see.",
    params(("id" = String, Path, description = "Deal id"), NoParams),
    responses((status = 200, description = "The deal", body = DealView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, DealView>(&DEALS, &state, caller, id.into_inner()).await
}

/// Changes a deal; moving it to another stage is recorded.
#[utoipa::path(
    patch, path = "/api/v1/deals/{id}", tag = "deals", operation_id = "update_deal", summary = "Update a deal (merge-patch)",
    description = "JSON merge-patch. A `stage_id` must belong to the deal's pipeline (422 otherwise); entering a won or lost stage sets `closed_at`, reopening clears it. Every stage change is recorded with time and actor (GET …/stage-changes).",
    params(("id" = String, Path, description = "Deal id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = DealInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated deal", body = DealView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<DealInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let custom = body.custom_fields.clone();
    records::update::<_, DealView>(
        &DEALS,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(custom, move |conn, id, current| patch_deal(conn, id, body, current)),
        app::deals::changed,
    )
    .await
}

/// Deletes a deal (soft).
#[utoipa::path(
    delete, path = "/api/v1/deals/{id}", tag = "deals", operation_id = "delete_deal", summary = "Delete a deal",
    description = "Soft delete: the deal leaves lists, boards and forecasts, and an admin can restore it until the retention period ends.",
    params(("id" = String, Path, description = "Deal id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    records::delete::<_, DealView>(&DEALS, &state, caller, id.into_inner(), if_match).await
}

/// Restores a deleted deal.
#[utoipa::path(
    post, path = "/api/v1/deals/{id}/restore", tag = "deals", operation_id = "restore_deal", summary = "Restore a deleted deal",
    description = "Admins only. List restorable deals with `GET /api/v1/deals?deleted=true`.",
    params(("id" = String, Path, description = "Deal id"), NoParams),
    responses((status = 200, description = "The restored deal", body = DealView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, DealView>(&DEALS, &state, caller, id.into_inner()).await
}

/// One stage change of a deal.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageChangeView {
    pub id: String,
    /// `null` for the deal's first stage.
    pub from_stage_id: Option<String>,
    pub to_stage_id: String,
    pub changed_at: DateTime<Utc>,
    /// The user who moved it.
    pub changed_by: Option<String>,
    /// The API key used, if any.
    pub api_key_id: Option<String>,
}

/// Lists a deal's stage changes, newest first.
#[utoipa::path(
    get, path = "/api/v1/deals/{id}/stage-changes", tag = "deals", operation_id = "list_deal_stage_changes", summary = "List a deal's stage changes",
    description = "Every move between stages with time and actor, newest first; keyset-paginated.",
    params(("id" = String, Path, description = "Deal id"), crate::routes::newest_first::PageParams),
    responses((status = 200, description = "A page of stage changes", body = Page<StageChangeView>), ReadErrors),
    security(("bearer" = []))
)]
pub async fn stage_changes(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<crate::routes::newest_first::PageParams>,
) -> Result<HttpResponse, ApiError> {
    let (limit, before) = params.into_inner().parse()?;
    let id = id.into_inner();
    let changes = state
        .read(move |conn| {
            DEALS.find_visible(conn, &caller, &id)?;
            Ok(links::changes_of(conn, &links::ChangesOf::Record(RecordType::Deal, id), before.as_ref(), limit + 1)?)
        })
        .await?;
    let (changes, next_cursor) = crate::routes::newest_first::cut(changes, limit, |c| (c.changed_at, c.id.clone()));
    let data = changes
        .into_iter()
        .map(|c| StageChangeView {
            id: c.id,
            from_stage_id: c.from_value,
            to_stage_id: c.to_value,
            changed_at: c.changed_at,
            changed_by: c.changed_by,
            api_key_id: c.api_key_id,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page { data, next_cursor }))
}

/// A deal's timeline.
#[utoipa::path(
    get, path = "/api/v1/deals/{id}/timeline", tag = "deals", operation_id = "deal_timeline", summary = "A deal's timeline",
    description = "Activities linked to the deal and its stage changes, newest first, keyset-paginated; `type` filters by kind.",
    params(("id" = String, Path, description = "Deal id"), TimelineParams),
    responses((status = 200, description = "A page of the timeline", body = TimelinePage), ReadErrors),
    security(("bearer" = []))
)]
pub async fn deal_timeline(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<TimelineParams>,
) -> Result<HttpResponse, ApiError> {
    timeline::respond(&state, caller, RecordType::Deal, id.into_inner(), params.into_inner()).await
}

/// Parameters of the forecast.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastParams {
    /// Length of each period (default `month`).
    pub period: Option<Period>,
    /// First day covered (default: the start of the current period).
    pub from: Option<NaiveDate>,
    /// Last day covered (default: the end of the period two periods after `from`'s). At most 36 periods.
    pub to: Option<NaiveDate>,
    pub owner_id: Option<String>,
    pub pipeline_id: Option<String>,
    /// `stage_probability` (default): open deals weighted by their stage's configured
    /// probability, by their expected close date. `history`: by the win rate of the deals that
    /// were in their stage and closed within the look-back, expected to close when such deals
    /// were won.
    pub method: Option<ForecastMethod>,
    /// `history`: how far back closed deals count, in days (1 to 3650, default 365).
    #[param(minimum = 1, maximum = 3650)]
    pub lookback_days: Option<u32>,
}

/// How open deals are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForecastMethod {
    StageProbability,
    History,
}

/// The forecast answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastView {
    pub period: Period,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub owner_id: Option<String>,
    pub pipeline_id: Option<String>,
    /// How the figures were computed.
    pub method: String,
    pub periods: Vec<PeriodForecast>,
    /// `history`: what the look-back's closed deals did, per pipeline and stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_history: Option<Vec<domain::win_history::StageHistory>>,
    /// `history`: how each open deal was weighted and when it is expected to close.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deals: Option<Vec<domain::win_history::DealBasis>>,
}

/// The sales forecast per period and currency.
#[utoipa::path(
    get, path = "/api/v1/forecast", tag = "deals", operation_id = "get_forecast", summary = "Sales forecast",
    description = "Per period and currency, over the deals the caller may see: `committed` (won deals, by the day they closed), `weighted` (open deals by expected close date, amount × stage probability, rounded half up per deal), `best_case` (committed plus open at full amount) and `open_pipeline`. Lost deals and open deals without an expected close date are left out. Amounts are minor units and never converted between currencies. `method=history` weighs each open deal by the win rate of the deals that were in its stage and closed within `lookback_days`, and expects it to close when those deals were won; the answer then lists those rates (`stage_history`) and each open deal's weight and date (`deals`).",
    params(ForecastParams),
    responses((status = 200, description = "The forecast", body = ForecastView), (status = 422, description = "A range that ends before it starts or spans more than 36 periods", body = crate::error::Problem, content_type = "application/problem+json"), ListErrors),
    security(("bearer" = []))
)]
pub async fn forecast(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ForecastParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Deals, false)?;
    let period = params.period.unwrap_or(Period::Month);
    let from = params.from.unwrap_or_else(|| domain::deal::period_start(Utc::now().date_naive(), period));
    let to = match params.to {
        Some(to) => to,
        None => {
            let months = if period == Period::Month { 3 } else { 9 };
            domain::deal::period_start(from, period)
                .checked_add_months(chrono::Months::new(months))
                .and_then(|d| d.pred_opt())
                .unwrap_or(from)
        }
    };
    let ranges = domain::deal::periods(from, to, period)?;
    let (first, last) = match (ranges.first(), ranges.last()) {
        (Some(first), Some(last)) => (first.0, last.1),
        _ => (from, to),
    };
    let filters = DealFilters {
        common: CommonFilters { owner_id: params.owner_id.clone(), ..Default::default() },
        pipeline_id: params.pipeline_id.clone(),
        ..Default::default()
    };
    let lookback = match params.lookback_days {
        None => 365,
        Some(days @ 1..=3650) => days,
        Some(_) => return Err(ApiError::bad_field("lookback_days", "out_of_range", "1 to 3650 days")),
    };
    let method = params.method.unwrap_or(ForecastMethod::StageProbability);
    let since = Utc::now() - chrono::TimeDelta::days(i64::from(lookback));
    let (rows, history) = state
        .read(move |conn| {
            let rows = deals::forecast_rows(conn, &visibility, &filters, first, last)?;
            let history = match method {
                ForecastMethod::History => Some(deals::history_rows(conn, &visibility, &filters, since)?),
                ForecastMethod::StageProbability => None,
            };
            Ok((rows, history))
        })
        .await?;
    let mut view = ForecastView {
        period,
        from: first,
        to: last,
        owner_id: params.owner_id,
        pipeline_id: params.pipeline_id,
        method: "committed = won deals closed in the period; weighted = open deals expected to close in the period, amount x stage probability; best_case = committed + open deals at full amount".into(),
        periods: Vec::new(),
        stage_history: None,
        deals: None,
    };
    let Some((closed, open)) = history else {
        view.periods = domain::deal::forecast(&rows, &ranges, period);
        return Ok(HttpResponse::Ok().json(view));
    };
    let histories = domain::win_history::stage_histories(&closed);
    let (weighed, bases) = domain::win_history::weigh(&open, &histories, Utc::now().date_naive());
    let mut counted: Vec<_> = rows.into_iter().filter(|deal| deal.kind == domain::deal::StageKind::Won).collect();
    counted.extend(weighed);
    view.method = format!(
        "committed = won deals closed in the period; weighted = open deals, amount x the win rate of the deals that were in their stage and closed (won or lost) in the last {lookback} days, in the period they are expected to close: when they entered the stage plus the average days such deals took to win, not before today (a stage no such deal was in: the stage probability and the deal's own expected date); best_case = committed + open deals at full amount"
    );
    view.periods = domain::deal::forecast(&counted, &ranges, period);
    view.stage_history = Some(histories);
    view.deals = Some(bases);
    Ok(HttpResponse::Ok().json(view))
}

/// Registers the deal routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(search_resource())
        .service(export_resource())
        .service(web::resource("/deals").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/deals/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/deals/{id}/restore").route(web::post().to(restore)))
        .service(web::resource("/deals/{id}/stage-changes").route(web::get().to(stage_changes)))
        .service(web::resource("/deals/{id}/timeline").route(web::get().to(deal_timeline)))
        .service(web::resource("/forecast").route(web::get().to(forecast)))
        .service(history_resource());
}

/// Deals as searches and exports read them.
pub static SEARCHABLE: crate::routes::search::Searchable<DealData> = crate::routes::search::Searchable {
    kind: &DEALS,
    record_type: domain::activity::RecordType::Deal,
    search: persistence::deals::search,
};
crate::routes::search::search_route!(SEARCHABLE, DealView, "deals");
crate::routes::exports::export_routes!(SEARCHABLE, DealView, "deals");
crate::routes::audit::history_route!(DEALS, "deals", "deal");
crate::routes::batch::batch_route!(
    DealBatchOperation, DealBatch, DealInput, "deals",
    create: |_allow| NoParams {}
);

/// The operations of deals, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get, update, delete, restore, stage_changes, deal_timeline, forecast, search, export, export_search, history, batch), components(schemas(ForecastMethod)), tags((name = "deals", description = "Deals, stage history and the forecast")))]
pub struct Doc;

/// Deals in the API: what is mounted, documented and imported.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::DEALS,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: Some(|conn, caller, rows, policy| {
        app::imports::import_rows::<_, _, DealView>(&IMPORT, conn, caller, rows, policy)
    }),
    patch: Some(|conn, caller, id, body| {
        app::imports::patch_one::<_, _, DealView>(&IMPORT, conn, caller, (id, body), domain::audit::AuditAction::Update)
    }),
};
