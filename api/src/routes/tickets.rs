//! `/api/v1/tickets`: customers' requests to support, their replies and timeline. Written
//! through the record type's declaration (`domain::registry::TICKETS`, `domain::ticket`) and
//! the shared record flow; replies through `app::tickets::reply`.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Module};
use domain::activity::{Priority, RecordType};
use domain::record::Patch;
use domain::ticket::{Channel, ReplyAuthor, TicketChanges, TicketData, TicketStatus, TicketType, Tier};
use persistence::DbConnection;
use persistence::tickets::{self, Reply, Ticket, TicketFilters};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use app::actor::Actor;
use app::error::AppError;
use app::imports::{Checked, Creation, Importable};
use app::kinds::TICKETS;

use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records;
use crate::routes::common::Page;
use crate::routes::timeline::{self, TimelinePage, TimelineParams};
use crate::state::AppState;

/// A customer's request to support.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    pub id: String,
    #[schema(example = "Cannot export invoices")]
    pub subject: String,
    pub description: Option<String>,
    /// The contact who asked; `null` only once that contact was purged.
    pub requester_id: Option<String>,
    /// The requester's company unless another was given.
    pub company_id: Option<String>,
    pub channel: Channel,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    /// The problem ticket an incident is caused by.
    pub problem_id: Option<String>,
    pub priority: Priority,
    pub category: Option<String>,
    pub tier: Tier,
    pub status: TicketStatus,
    /// The assignee.
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Vec<String>,
    /// Values of admin-defined custom fields, keyed by field key.
    #[schema(value_type = HashMap<String, Value>)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    /// When an agent first replied to the requester.
    pub first_replied_at: Option<DateTime<Utc>>,
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the ticket is deleted and restorable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Ticket> for TicketView {
    fn from(ticket: Ticket) -> Self {
        let data = ticket.data;
        TicketView {
            id: ticket.id,
            subject: data.subject,
            description: data.description,
            requester_id: data.requester_id,
            company_id: data.company_id,
            channel: data.channel,
            ticket_type: data.ticket_type,
            problem_id: data.problem_id,
            priority: data.priority,
            category: data.category,
            tier: data.tier,
            status: data.status,
            owner_id: data.owner_id,
            team_id: data.team_id,
            tags: data.tags.as_slice().to_vec(),
            custom_fields: data.custom_fields.to_map(),
            first_replied_at: data.first_replied_at,
            solved_at: data.solved_at,
            closed_at: data.closed_at,
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
            deleted_at: ticket.deleted_at,
        }
    }
}

/// Fields of a ticket to create (POST; `subject` and `requester_id` required) or change
/// (PATCH, JSON merge-patch: an absent field is kept, `null` clears it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketInput {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Cannot export invoices")]
    pub subject: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 20000)]
    pub description: Patch<String>,
    /// A contact you can see.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub requester_id: Patch<String>,
    /// Default: the requester's company.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub company_id: Patch<String>,
    /// Default `api`.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Channel>)]
    pub channel: Patch<Channel>,
    /// Default `question`.
    #[serde(default, rename = "type", skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<TicketType>)]
    pub ticket_type: Patch<TicketType>,
    /// Incidents only: a ticket of type `problem`.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 64)]
    pub problem_id: Patch<String>,
    /// Default `normal`.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Priority>)]
    pub priority: Patch<Priority>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 100, example = "Billing")]
    pub category: Patch<String>,
    /// Default `first_line`.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Tier>)]
    pub tier: Patch<Tier>,
    /// Default `new`. Nothing returns to `new`, only a solved ticket closes, closed is final.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<TicketStatus>)]
    pub status: Patch<TicketStatus>,
    /// The assignee; default the caller.
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
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub custom_fields: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl TicketInput {
    fn changes(&self) -> TicketChanges {
        TicketChanges {
            subject: self.subject.clone(),
            description: self.description.clone(),
            requester_id: self.requester_id.clone(),
            company_id: self.company_id.clone(),
            channel: self.channel.clone(),
            ticket_type: self.ticket_type.clone(),
            problem_id: self.problem_id.clone(),
            priority: self.priority.clone(),
            category: self.category.clone(),
            tier: self.tier.clone(),
            status: self.status.clone(),
            owner_id: self.owner_id.clone(),
            team_id: self.team_id.clone(),
            tags: self.tags.clone(),
        }
    }
}

fn new_ticket(conn: &mut DbConnection, caller: &Actor, body: &TicketInput) -> Result<TicketData, AppError> {
    let mut changes = body.changes();
    app::records::default_owner(&mut changes.owner_id, caller);
    app::tickets::new_data(conn, caller, changes)
}

fn patch_ticket(
    _: &mut DbConnection,
    _: &str,
    body: TicketInput,
    current: &TicketData,
) -> Result<TicketData, AppError> {
    Ok(TicketData::apply(Some(current), body.changes(), Utc::now())?)
}

/// Tickets as CSV imports create and update them.
pub static IMPORT: Importable<TicketData, TicketInput> = Importable {
    kind: &TICKETS,
    record_type: RecordType::Ticket,
    new: new_ticket,
    custom: |body| body.custom_fields.clone(),
    create: Creation::Checked(Checked {
        check: |conn, caller, data| app::tickets::check_references(conn, caller, None, None, data),
        insert_many: persistence::tickets::insert_many,
        match_keys: |_| Vec::new(),
        maybe_duplicated: None,
    }),
    patch: patch_ticket,
    changed: app::tickets::changed,
    duplicate_of: app::imports::no_duplicates,
};

records::record_list_params!(
    TicketListParams, "Case-insensitive text search over subject, description and category." {
        status: Option<TicketStatus>,
        priority: Option<Priority>,
        /// Tickets this contact asked for.
        requester_id: Option<String>,
        company_id: Option<String>,
    }
);

#[utoipa::path(
    get, path = "/api/v1/tickets", tag = "tickets", operation_id = "list_tickets", summary = "List tickets",
    description = "Keyset-paginated, filtered and sorted. Only tickets the caller's role reaches are listed (support agents: their own or their team's, by role).",
    params(TicketListParams),
    responses((status = 200, description = "A page of tickets", body = Page<TicketView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<TicketListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Tickets, params.deleted)?;
    let (common, page) = params.common()?;
    let id = |raw: Option<String>| raw.map(|r| r.trim().to_owned());
    let filters = TicketFilters {
        common,
        status: params.status,
        priority: params.priority,
        requester_id: id(params.requester_id),
        company_id: id(params.company_id),
    };
    let request = page.clone();
    let result = state.read(move |conn| Ok(tickets::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, TicketView>(&page, result))
}

#[utoipa::path(
    post, path = "/api/v1/tickets", tag = "tickets", operation_id = "create_ticket", summary = "Create a ticket",
    description = "The requester must be a contact you can see; the ticket is at the requester's company unless `company_id` names another, and is yours unless `owner_id` names someone. Send `Idempotency-Key` to make retries safe.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = TicketInput, example = json!({"subject": "Cannot export invoices", "requester_id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61", "channel": "email", "priority": "high", "category": "Billing"})),
    responses(
        (status = 201, description = "Created; `Location` names it and `ETag` is its version", body = TicketView,
            headers(("Location" = String, description = "URL of the new ticket"), ("ETag" = String, description = "Version"))),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<TicketInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.principal.may_in_module(Module::Tickets, Action::Create)?;
    // The requester's company is read first; the insert's own transaction re-checks the
    // references, so a contact deleted in between still refuses the ticket.
    let (for_data, fields) = (caller.clone(), body.clone());
    let data = state.read(move |conn| Ok(new_ticket(conn, &for_data, &fields)?)).await?;
    let input = app::records::WithCustom { data, custom: body.custom_fields.clone() };
    records::create::<_, TicketView, _>(&TICKETS, &state, &caller, key, &body, input, |conn, caller, data| {
        app::tickets::check_references(conn, caller, None, None, data)
    })
    .await
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}", tag = "tickets", operation_id = "get_ticket", summary = "Get a ticket",
    description = "Answers 404 both for tickets that do not exist and for ones the caller may not see.",
    params(("id" = String, Path, description = "Ticket id"), NoParams),
    responses(
        (status = 200, description = "The ticket; `ETag` is its version", body = TicketView, headers(("ETag" = String, description = "Version"))),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, TicketView>(&TICKETS, &state, caller, id.into_inner()).await
}

#[utoipa::path(
    patch, path = "/api/v1/tickets/{id}", tag = "tickets", operation_id = "update_ticket", summary = "Update a ticket",
    description = "JSON merge-patch: absent fields are kept, `null` clears. A status move must be allowed (422 `illegal_transition` otherwise); solving stamps `solved_at`, reopening clears it; a closed ticket takes no edits. Send `If-Match` with the ETag you read to refuse a lost update (412).",
    params(("id" = String, Path, description = "Ticket id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = TicketInput, example = json!({"status": "pending", "priority": "urgent"})),
    responses(
        (status = 200, description = "The changed ticket", body = TicketView, headers(("ETag" = String, description = "New version"))),
        UpdateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<TicketInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let custom = body.custom_fields.clone();
    records::update::<_, TicketView>(
        &TICKETS,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(custom, move |conn, id, current| patch_ticket(conn, id, body, current)),
        app::tickets::changed,
    )
    .await
}

#[utoipa::path(
    delete, path = "/api/v1/tickets/{id}", tag = "tickets", operation_id = "delete_ticket", summary = "Delete a ticket",
    description = "Soft delete; an admin can restore it until the retention period ends.",
    params(("id" = String, Path, description = "Ticket id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    records::delete::<_, TicketView>(&TICKETS, &state, caller, id.into_inner(), if_match).await
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/restore", tag = "tickets", operation_id = "restore_ticket", summary = "Restore a deleted ticket",
    description = "Admins only. List restorable tickets with `GET /api/v1/tickets?deleted=true`.",
    params(("id" = String, Path, description = "Ticket id"), NoParams),
    responses(
        (status = 200, description = "The restored ticket", body = TicketView, headers(("ETag" = String, description = "New version"))),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, TicketView>(&TICKETS, &state, caller, id.into_inner()).await
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/timeline", tag = "tickets", operation_id = "ticket_timeline", summary = "A ticket's timeline",
    description = "Its replies and notes (activities linked to it), status changes and comments, newest first, keyset-paginated; `type` filters by kind.",
    params(("id" = String, Path, description = "Ticket id"), TimelineParams),
    responses((status = 200, description = "A page of the timeline", body = TimelinePage), ReadErrors),
    security(("bearer" = []))
)]
pub async fn ticket_timeline(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<TimelineParams>,
) -> Result<HttpResponse, ApiError> {
    timeline::respond(&state, caller, RecordType::Ticket, id.into_inner(), params.into_inner()).await
}

/// A reply on a ticket: an agent's answer, the customer's message as logged, or an internal note.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyView {
    pub id: String,
    pub ticket_id: String,
    /// The activity holding the text (on the ticket's and the requester's timelines).
    pub activity_id: Option<String>,
    pub author: ReplyAuthor,
    /// Seen by the requester; `false` for an internal note.
    pub public: bool,
    pub replied_at: DateTime<Utc>,
    pub replied_by: Option<String>,
}

impl From<Reply> for ReplyView {
    fn from(reply: Reply) -> Self {
        ReplyView {
            id: reply.id,
            ticket_id: reply.ticket_id,
            activity_id: reply.activity_id,
            author: reply.author,
            public: reply.public,
            replied_at: reply.replied_at,
            replied_by: reply.replied_by,
        }
    }
}

/// A reply to write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyInput {
    #[schema(min_length = 1, max_length = 20000, example = "Export works again; please try once more.")]
    pub body: String,
    /// `true` (default): a reply the requester sees; `false`: an internal note.
    #[serde(default = "public_by_default")]
    #[schema(required = false)]
    pub public: bool,
    /// `agent` (default) answers; `customer` logs the requester's own message (always public),
    /// which reopens a pending or solved ticket.
    #[serde(default = "agent_by_default")]
    #[schema(required = false)]
    pub author: ReplyAuthor,
    /// The status the ticket takes with the reply, e.g. `pending` to wait on the customer.
    #[serde(default)]
    pub status: Option<TicketStatus>,
    /// Published knowledge-base articles whose text the reply carries (appended) and links to.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub article_ids: Vec<String>,
}

fn public_by_default() -> bool {
    true
}

fn agent_by_default() -> ReplyAuthor {
    ReplyAuthor::Agent
}

/// A written reply and the ticket after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplyResult {
    pub reply: ReplyView,
    pub ticket: TicketView,
}

#[utoipa::path(
    post, path = "/api/v1/tickets/{id}/replies", tag = "tickets", operation_id = "reply_to_ticket", summary = "Reply on a ticket",
    description = "Needs the edit grant on the ticket. The reply is logged as an activity linked to the ticket and its requester (a note when internal); the first public agent reply stamps `first_replied_at`; a customer reply reopens a pending or solved ticket; `status` moves the ticket in the same step. A closed ticket takes no replies (422). Send `If-Match` to base the reply on the version you read.",
    params(("id" = String, Path, description = "Ticket id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the reply is based on")),
    request_body(content = ReplyInput, example = json!({"body": "Export works again; please try once more.", "status": "pending"})),
    responses(
        (status = 201, description = "Written; `ETag` is the ticket's new version", body = ReplyResult, headers(("ETag" = String, description = "The ticket's new version"))),
        UpdateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn reply(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<ReplyInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = app::tickets::ReplyRequest {
        body: body.body,
        public: body.public,
        author: body.author,
        status: body.status,
        article_ids: body.article_ids,
    };
    let id = id.into_inner();
    let replied = state
        .write(move |conn| Ok(app::tickets::reply::<crate::routes::ApiViews>(conn, &caller, &id, if_match.0, request)?))
        .await?;
    let version = replied.ticket.version;
    Ok(HttpResponse::Created()
        .insert_header(("ETag", format!("\"{version}\"")))
        .json(ReplyResult { reply: replied.reply.into(), ticket: replied.ticket.into() }))
}

#[utoipa::path(
    get, path = "/api/v1/tickets/{id}/replies", tag = "tickets", operation_id = "list_ticket_replies", summary = "A ticket's replies",
    description = "Every reply and note, oldest first; the text is on each one's activity.",
    params(("id" = String, Path, description = "Ticket id"), NoParams),
    responses((status = 200, description = "The replies", body = Vec<ReplyView>), ReadErrors),
    security(("bearer" = []))
)]
pub async fn replies(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let replies = state.read(move |conn| Ok(app::tickets::replies(conn, &caller, &id)?)).await?;
    Ok(HttpResponse::Ok().json(replies.into_iter().map(ReplyView::from).collect::<Vec<_>>()))
}

/// Tickets as searches and exports read them.
pub static SEARCHABLE: crate::routes::search::Searchable<TicketData> =
    crate::routes::search::Searchable { kind: &TICKETS, record_type: RecordType::Ticket, search: tickets::search };
crate::routes::search::search_route!(SEARCHABLE, TicketView, "tickets");
crate::routes::exports::export_routes!(SEARCHABLE, TicketView, "tickets");
crate::routes::audit::history_route!(TICKETS, "tickets", "ticket");
crate::routes::batch::batch_route!(
    TicketBatchOperation, TicketBatch, TicketInput, "tickets",
    create: |_allow| NoParams {}
);

/// Registers the ticket routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(search_resource())
        .service(export_resource())
        .service(web::resource("/tickets").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/tickets/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/tickets/{id}/restore").route(web::post().to(restore)))
        .service(web::resource("/tickets/{id}/timeline").route(web::get().to(ticket_timeline)))
        .service(web::resource("/tickets/{id}/replies").route(web::get().to(replies)).route(web::post().to(reply)))
        .service(history_resource());
}

/// The operations of tickets, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, restore, ticket_timeline, reply, replies, search, export, export_search, history, batch),
    tags((name = "tickets", description = "Customers' requests to support: status lifecycle, replies and notes, timeline"))
)]
pub struct Doc;

/// Tickets in the API: what is mounted, documented, imported and patched by workflows.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::TICKETS,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: Some(|conn, caller, rows, policy| {
        app::imports::import_rows::<_, _, TicketView>(&IMPORT, conn, caller, rows, policy)
    }),
    patch: Some(|conn, caller, id, body| {
        app::imports::patch_one::<_, _, TicketView>(
            &IMPORT,
            conn,
            caller,
            (id, body),
            domain::audit::AuditAction::Update,
        )
    }),
};
