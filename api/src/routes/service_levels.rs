//! `/api/v1/business-calendars`, `/api/v1/sla-policies` (admins) and a ticket's SLA
//! (`/api/v1/tickets/{id}/sla`): the definitions are `app::sla`'s, the clocks `domain::sla`'s.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::activity::Priority;
use domain::calendar::BusinessCalendar;
use domain::sla::{ClockState, Measure, Metric, SlaPolicy};
use persistence::definitions::Definition;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::definitions::DefinitionApi;
use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams, etag};
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::Created;

/// A stored business calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarView {
    pub id: String,
    /// The calendar as written (a PATCH is a merge-patch of it).
    pub calendar: BusinessCalendar,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Definition<BusinessCalendar>> for CalendarView {
    fn from(definition: Definition<BusinessCalendar>) -> Self {
        CalendarView {
            id: definition.id,
            calendar: definition.body,
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

/// A stored SLA policy with its place in the order (first match wins).
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub id: String,
    /// Policies are tried in ascending position; the first whose conditions match applies.
    pub position: i32,
    /// The policy as written (a PATCH is a merge-patch of it).
    pub policy: SlaPolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Definition<SlaPolicy>> for PolicyView {
    fn from(definition: Definition<SlaPolicy>) -> Self {
        PolicyView {
            id: definition.id,
            position: definition.position,
            policy: definition.body,
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

fn one<V: Serialize>(version: i64, view: V) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(view)
}

static CALENDARS: DefinitionApi<BusinessCalendar> =
    DefinitionApi { steps: &app::sla::CALENDARS, collection: "/api/v1/business-calendars" };

static POLICIES: DefinitionApi<SlaPolicy> =
    DefinitionApi { steps: &app::sla::POLICIES, collection: "/api/v1/sla-policies" };

#[utoipa::path(
    get, path = "/api/v1/business-calendars", tag = "service-levels", operation_id = "list_business_calendars", summary = "List business calendars",
    description = "Admins only.",
    params(NoParams),
    responses((status = 200, description = "The calendars", body = Page<CalendarView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list_calendars(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let all = CALENDARS.list(&state, caller).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: all.into_iter().map(CalendarView::from).collect::<Vec<_>>(), next_cursor: None }))
}

#[utoipa::path(
    post, path = "/api/v1/business-calendars", tag = "service-levels", operation_id = "create_business_calendar", summary = "Create a business calendar",
    description = "Admins only. Open hours are wall-clock times in `time_zone` (IANA), DST included; a range whose `to` is earlier than its `from` runs past midnight. Holidays close a date; an exception gives a date other hours (none: closed).",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = BusinessCalendar, example = json!({"name": "Berlin desk", "time_zone": "Europe/Berlin",
        "hours": {"monday": [{"from": "09:00", "to": "12:00"}, {"from": "13:00", "to": "17:00"}], "friday": [{"from": "09:00", "to": "15:00"}]},
        "holidays": ["2026-12-25"], "exceptions": [{"date": "2026-12-31", "hours": [{"from": "09:00", "to": "12:00"}]}]})),
    responses((status = 201, description = "Created", body = CalendarView, headers(("Location" = String, description = "URL of the new calendar"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create_calendar(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<BusinessCalendar>,
) -> Result<HttpResponse, ApiError> {
    CALENDARS
        .create(&state, &caller, key, body.into_inner(), None, |definition| {
            let (location, version) = (format!("/api/v1/business-calendars/{}", definition.id), definition.version);
            Created::new(&CalendarView::from(definition), location, version)
        })
        .await
}

#[utoipa::path(
    get, path = "/api/v1/business-calendars/{id}", tag = "service-levels", operation_id = "get_business_calendar", summary = "Get a business calendar",
    description = "Admins only.",
    params(("id" = String, Path, description = "Calendar id"), NoParams),
    responses((status = 200, description = "The calendar", body = CalendarView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get_calendar(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let found = CALENDARS.get(&state, caller, id.into_inner()).await?;
    Ok(one(found.version, CalendarView::from(found)))
}

#[utoipa::path(
    patch, path = "/api/v1/business-calendars/{id}", tag = "service-levels", operation_id = "update_business_calendar", summary = "Update a business calendar (merge-patch)",
    description = "Admins only. Open tickets' due times follow at once (their SLA checks are rescheduled in the background).",
    params(("id" = String, Path, description = "Calendar id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"holidays": ["2026-12-25", "2026-12-26"]})),
    responses((status = 200, description = "The calendar", body = CalendarView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update_calendar(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let changed = CALENDARS.update(&state, caller, id.into_inner(), if_match, body.into_inner()).await?;
    Ok(one(changed.version, CalendarView::from(changed)))
}

#[utoipa::path(
    delete, path = "/api/v1/business-calendars/{id}", tag = "service-levels", operation_id = "delete_business_calendar", summary = "Delete a business calendar",
    description = "Admins only. A calendar an SLA policy counts on is 409 until the policy names another.",
    params(("id" = String, Path, description = "Calendar id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "An SLA policy counts on it", body = crate::error::Problem, content_type = "application/problem+json"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete_calendar(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    CALENDARS.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    get, path = "/api/v1/sla-policies", tag = "service-levels", operation_id = "list_sla_policies", summary = "List SLA policies",
    description = "Admins only. In order: a ticket gets the first active policy whose conditions it matches.",
    params(NoParams),
    responses((status = 200, description = "The policies in order", body = Page<PolicyView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list_policies(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let all = POLICIES.list(&state, caller).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: all.into_iter().map(PolicyView::from).collect::<Vec<_>>(), next_cursor: None }))
}

#[utoipa::path(
    post, path = "/api/v1/sla-policies", tag = "service-levels", operation_id = "create_sla_policy", summary = "Create an SLA policy",
    description = "Admins only. `conditions` is a filter over ticket fields (priority, channel, category, company, custom fields); targets are per priority, each in business minutes of `calendar_id` (default) or calendar minutes (`business: false`). The new policy comes after the existing ones.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = SlaPolicy, example = json!({"name": "Email support", "conditions": {"field": "channel", "op": "in", "value": ["email", "web_form"]},
        "calendar_id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61",
        "targets": {"urgent": {"first_reply": {"minutes": 30}, "resolution": {"minutes": 240}}, "normal": {"first_reply": {"minutes": 240}, "next_reply": {"minutes": 480}, "resolution": {"minutes": 2400}}}})),
    responses((status = 201, description = "Created", body = PolicyView, headers(("Location" = String, description = "URL of the new policy"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create_policy(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<SlaPolicy>,
) -> Result<HttpResponse, ApiError> {
    POLICIES
        .create(&state, &caller, key, body.into_inner(), None, |definition| {
            let (location, version) = (format!("/api/v1/sla-policies/{}", definition.id), definition.version);
            Created::new(&PolicyView::from(definition), location, version)
        })
        .await
}

#[utoipa::path(
    get, path = "/api/v1/sla-policies/{id}", tag = "service-levels", operation_id = "get_sla_policy", summary = "Get an SLA policy",
    description = "Admins only.",
    params(("id" = String, Path, description = "Policy id"), NoParams),
    responses((status = 200, description = "The policy", body = PolicyView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get_policy(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let found = POLICIES.get(&state, caller, id.into_inner()).await?;
    Ok(one(found.version, PolicyView::from(found)))
}

#[utoipa::path(
    patch, path = "/api/v1/sla-policies/{id}", tag = "service-levels", operation_id = "update_sla_policy", summary = "Update an SLA policy (merge-patch)",
    description = "Admins only. A JSON merge-patch; `position` (a whole number) moves it. Open tickets' due times follow at once.",
    params(("id" = String, Path, description = "Policy id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"at_risk_percent": 20})),
    responses((status = 200, description = "The policy", body = PolicyView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update_policy(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let changed = POLICIES.update(&state, caller, id.into_inner(), if_match, body.into_inner()).await?;
    Ok(one(changed.version, PolicyView::from(changed)))
}

#[utoipa::path(
    delete, path = "/api/v1/sla-policies/{id}", tag = "service-levels", operation_id = "delete_sla_policy", summary = "Delete an SLA policy",
    description = "Admins only.",
    params(("id" = String, Path, description = "Policy id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete_policy(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    POLICIES.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One SLA clock of a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    pub metric: Metric,
    pub state: ClockState,
    pub target_minutes: u32,
    /// Counted in the policy calendar's open hours, or around the clock.
    pub business: bool,
    /// When the target is reached, while the clock runs.
    pub due_at: Option<DateTime<Utc>>,
    /// When it turns at risk, while it runs and has not yet.
    pub at_risk_at: Option<DateTime<Utc>>,
    /// Minutes used (business minutes for a business target).
    pub elapsed_minutes: i64,
    /// Minutes left; negative when overdue.
    pub left_minutes: i64,
    /// The resolution clock waits while the ticket is pending.
    pub paused: bool,
    /// When this cycle began (a next-reply clock starts one per customer message).
    pub started_at: DateTime<Utc>,
    /// When it stopped (a reply, a solve).
    pub stopped_at: Option<DateTime<Utc>>,
}

impl From<Measure> for ClockView {
    fn from(clock: Measure) -> Self {
        ClockView {
            metric: clock.metric,
            state: clock.state,
            target_minutes: clock.target.minutes,
            business: clock.target.business,
            due_at: clock.due_at,
            at_risk_at: clock.at_risk_at,
            elapsed_minutes: clock.elapsed_minutes,
            left_minutes: clock.left_minutes,
            paused: clock.paused,
            started_at: clock.started_at,
            stopped_at: clock.stopped_at,
        }
    }
}

/// The SLA a ticket is under.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketSlaView {
    /// The policy that applies; `null` when none does.
    pub policy_id: Option<String>,
    pub policy_name: Option<String>,
    pub calendar_id: Option<String>,
    /// The clocks the policy sets for the ticket's priority that have started.
    pub clocks: Vec<ClockView>,
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/sla", tag = "tickets", operation_id = "get_ticket_sla", summary = "A ticket's SLA",
    description = "The first active SLA policy the ticket matches and each of its clocks now: due time, time left or overdue in business minutes, and state (`on_track`, `at_risk`, `breached`, `met`). Computed from the ticket's history at every read, so a policy or calendar edit shows at once.",
    params(("id" = String, Path, description = "Ticket id"), NoParams),
    responses((status = 200, description = "The ticket's SLA", body = TicketSlaView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn ticket_sla(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let sla = state.read(move |conn| Ok(app::sla::ticket_sla(conn, &caller, &id)?)).await?;
    let view = match sla {
        Some(sla) => TicketSlaView {
            policy_id: Some(sla.policy_id),
            policy_name: Some(sla.policy_name),
            calendar_id: sla.calendar_id,
            clocks: sla.clocks.into_iter().map(ClockView::from).collect(),
        },
        None => TicketSlaView { policy_id: None, policy_name: None, calendar_id: None, clocks: Vec::new() },
    };
    Ok(HttpResponse::Ok().json(view))
}

/// What a service report covers.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceReportParams {
    /// Tickets created at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Tickets created before this time.
    pub to: Option<DateTime<Utc>>,
    pub team_id: Option<String>,
    /// The assignee.
    pub owner_id: Option<String>,
    #[param(inline)]
    pub priority: Option<Priority>,
}

/// Times to reply or resolve, in minutes: business minutes where the ticket's SLA policy
/// counts them, else calendar minutes.
#[derive(Debug, Serialize, ToSchema)]
pub struct DurationsView {
    /// Tickets measured.
    pub count: usize,
    /// Interpolated between the closest ranks, one decimal.
    pub median_minutes: Option<f64>,
    pub p90_minutes: Option<f64>,
}

impl From<app::service_report::Durations> for DurationsView {
    fn from(d: app::service_report::Durations) -> Self {
        DurationsView { count: d.count, median_minutes: d.median_minutes, p90_minutes: d.p90_minutes }
    }
}

/// How one SLA clock fared.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttainmentView {
    pub metric: Metric,
    pub met: usize,
    pub breached: usize,
    /// Still going within target.
    pub running: usize,
    /// Met of met + breached, percent with one decimal.
    pub attainment_percent: Option<f64>,
}

/// A count of tickets in a backlog cell.
#[derive(Debug, Serialize, ToSchema)]
pub struct BacklogCell {
    pub status: String,
    pub priority: String,
    pub count: usize,
}

/// A count of tickets by one key.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCount {
    /// The channel or category (`null`: none).
    pub key: Option<String>,
    pub count: usize,
}

/// The service report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceReportView {
    /// Tickets created in the period that the caller may see (and the filters select).
    pub tickets: usize,
    pub first_reply: DurationsView,
    pub resolution: DurationsView,
    /// Per SLA clock, over the tickets it ran on.
    pub sla: Vec<AttainmentView>,
    /// Of those tickets, the ones still being handled, by status and priority.
    pub backlog: Vec<BacklogCell>,
    pub by_channel: Vec<KeyCount>,
    pub by_category: Vec<KeyCount>,
}

#[utoipa::path(
    get, path = "/api/v1/reports/service", tag = "service-levels", operation_id = "service_report", summary = "The service report",
    description = "Over the tickets created in the period that the caller may see: first-reply and resolution time (median and p90, in the business minutes of each ticket's SLA policy, else calendar minutes), SLA attainment per clock, the backlog by status and priority, tickets by channel and category. A period of more than 20000 tickets is 422. Survey figures over time are `GET /api/v1/surveys/{id}/results?group_by=month`.",
    params(ServiceReportParams),
    responses((status = 200, description = "The report", body = ServiceReportView), ListErrors),
    security(("bearer" = []))
)]
pub async fn service_report(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ServiceReportParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    if let (Some(from), Some(to)) = (params.from, params.to)
        && to <= from
    {
        return Err(ApiError::bad_field("to", "invalid_range", "must be after `from`"));
    }
    let scope = persistence::tickets::ReportScope {
        from: params.from,
        to: params.to,
        team_id: params.team_id,
        owner_id: params.owner_id,
        priority: params.priority,
    };
    let report = state.read(move |conn| Ok(app::service_report::service(conn, &caller, &scope)?)).await?;
    Ok(HttpResponse::Ok().json(ServiceReportView {
        tickets: report.tickets,
        first_reply: report.first_reply.into(),
        resolution: report.resolution.into(),
        sla: report
            .sla
            .into_iter()
            .map(|a| AttainmentView {
                metric: a.metric,
                met: a.met,
                breached: a.breached,
                running: a.running,
                attainment_percent: a.attainment_percent,
            })
            .collect(),
        backlog: report
            .backlog
            .into_iter()
            .map(|(status, priority, count)| BacklogCell { status, priority, count })
            .collect(),
        by_channel: report.by_channel.into_iter().map(|(key, count)| KeyCount { key: Some(key), count }).collect(),
        by_category: report.by_category.into_iter().map(|(key, count)| KeyCount { key, count }).collect(),
    }))
}

/// Registers the calendar, policy and ticket SLA routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/business-calendars")
                .route(web::get().to(list_calendars))
                .route(web::post().to(create_calendar)),
        )
        .service(
            web::resource("/business-calendars/{id}")
                .route(web::get().to(get_calendar))
                .route(web::patch().to(update_calendar))
                .route(web::delete().to(delete_calendar)),
        )
        .service(
            web::resource("/sla-policies").route(web::get().to(list_policies)).route(web::post().to(create_policy)),
        )
        .service(
            web::resource("/sla-policies/{id}")
                .route(web::get().to(get_policy))
                .route(web::patch().to(update_policy))
                .route(web::delete().to(delete_policy)),
        )
        .service(web::resource("/tickets/{id}/sla").route(web::get().to(ticket_sla)))
        .service(web::resource("/reports/service").route(web::get().to(service_report)));
}
