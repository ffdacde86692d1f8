//! `/api/v1/activities`: interactions of every channel, linked to the records they are about.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Module};
use domain::activity::{ActivityChanges, ActivityData, ActivityType, Direction, Participant, RecordRef, RecordType};
use domain::record::Patch;
use persistence::activities::{self, Activity, ActivityFilters};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records::{self};
use crate::routes::common::Page;
use crate::routes::tasks::{self, TaskInput, TaskView};
use crate::state::AppState;
use app::kinds::{ACTIVITIES, check_links};

/// An interaction: an email, call, meeting, chat, social message or note.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    pub id: String,
    pub activity_type: ActivityType,
    pub subject: Option<String>,
    pub body: Option<String>,
    /// For emails, calls, chats and social messages.
    pub direction: Option<Direction>,
    pub occurred_at: DateTime<Utc>,
    /// For calls and meetings.
    pub duration_seconds: Option<i64>,
    pub outcome: Option<String>,
    pub participants: Vec<Participant>,
    /// The contacts, companies, leads and deals this activity is about.
    pub links: Vec<RecordRef>,
    /// Who logged it.
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Activity> for ActivityView {
    fn from(activity: Activity) -> Self {
        let data = activity.data;
        ActivityView {
            id: activity.id,
            activity_type: data.activity_type,
            subject: data.subject,
            body: data.body,
            direction: data.direction,
            occurred_at: data.occurred_at,
            duration_seconds: data.duration_seconds,
            outcome: data.outcome,
            participants: data.participants,
            links: data.links,
            owner_id: data.owner_id,
            team_id: data.team_id,
            tags: data.tags.as_slice().to_vec(),
            created_at: activity.created_at,
            updated_at: activity.updated_at,
            deleted_at: activity.deleted_at,
        }
    }
}

/// Fields of an activity to create (POST) or change (PATCH, JSON merge-patch).
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityInput {
    /// Required on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = ActivityType)]
    pub activity_type: Patch<ActivityType>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Intro call")]
    pub subject: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub body: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Direction>)]
    pub direction: Patch<Direction>,
    /// Defaults to now on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub occurred_at: Patch<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 604800)]
    pub duration_seconds: Patch<i64>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Interested; wants a proposal")]
    pub outcome: Patch<String>,
    /// Replaces the whole list.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<Participant>>, max_items = 50)]
    pub participants: Patch<Vec<Participant>>,
    /// 1 to 10 records; replaces the whole list.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<RecordRef>>, max_items = 10)]
    pub links: Patch<Vec<RecordRef>>,
    /// Defaults to the caller on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub tags: Patch<Vec<String>>,
}

impl ActivityInput {
    /// The domain changes this body asks for.
    pub fn changes(&self) -> ActivityChanges {
        ActivityChanges {
            activity_type: self.activity_type.clone(),
            subject: self.subject.clone(),
            body: self.body.clone(),
            direction: self.direction.clone(),
            occurred_at: self.occurred_at.clone(),
            duration_seconds: self.duration_seconds.clone(),
            outcome: self.outcome.clone(),
            participants: self.participants.clone(),
            links: self.links.clone(),
            owner_id: self.owner_id.clone(),
            team_id: self.team_id.clone(),
            tags: self.tags.clone(),
        }
    }
}

records::record_list_params!(
    /// Filters, sort and paging of the activity list (`name` sorts by subject).
    ActivityListParams, "Case-insensitive text search over subject, body, outcome and participants." {
        activity_type: Option<ActivityType>,
        /// With `record_id`: only activities linked to this record.
        record_type: Option<RecordType>,
        record_id: Option<String>,
    }
);

/// Lists activities the caller may see.
#[utoipa::path(
    get, path = "/api/v1/activities", tag = "activities", operation_id = "list_activities", summary = "List activities",
    description = "Keyset-paginated, filtered and sorted. For one record's history in time order use its `/timeline`.",
    params(ActivityListParams),
    responses((status = 200, description = "A page of activities", body = Page<ActivityView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ActivityListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Activities, params.deleted)?;
    let (common, page) = params.common()?;
    let linked_to = match (params.record_type, params.record_id.clone()) {
        (Some(record_type), Some(id)) => Some(RecordRef { record_type, id }),
        (None, None) => None,
        _ => return Err(ApiError::bad_field("record_id", "incomplete", "`record_type` and `record_id` go together")),
    };
    let filters = ActivityFilters { common, activity_type: params.activity_type, linked_to };
    let request = page.clone();
    let result = state.read(move |conn| Ok(activities::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, ActivityView>(&page, result))
}

/// Logs an activity.
#[utoipa::path(
    post, path = "/api/v1/activities", tag = "activities", operation_id = "create_activity", summary = "Log an activity",
    description = "Link it to 1 to 10 contacts, companies, leads or deals the caller can see. `direction` fits emails, calls, chats and social messages; `duration_seconds` fits calls and meetings; a note needs a `body`.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = ActivityInput, example = json!({"activity_type": "call", "subject": "Intro call", "direction": "outbound", "duration_seconds": 900, "outcome": "Interested", "links": [{"record_type": "lead", "id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"}]})),
    responses(
        (status = 201, description = "Created", body = ActivityView,
            headers(("Location" = String, description = "URL of the new activity"), ("ETag" = String, description = "Version"))),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<ActivityInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.principal.may_in_module(Module::Activities, Action::Create)?;
    let mut changes = body.changes();
    records::default_owner(&mut changes.owner_id, &caller);
    let data = ActivityData::apply(None, changes, Utc::now())?;
    records::create::<_, ActivityView, _>(
        &ACTIVITIES,
        &state,
        &caller,
        key,
        &body,
        records::WithCustom { data, custom: Patch::Keep },
        |conn, caller, data| check_links(conn, caller, &[], &data.links),
    )
    .await
}

/// Reads one activity.
#[utoipa::path(
    get, path = "/api/v1/activities/{id}", tag = "activities", operation_id = "get_activity", summary = "Get an activity",
    description = "Answers 404 both for activities that do not exist and for ones the caller may not see.",
    params(("id" = String, Path, description = "Activity id"), NoParams),
    responses((status = 200, description = "The activity", body = ActivityView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, ActivityView>(&ACTIVITIES, &state, caller, id.into_inner()).await
}

/// Changes an activity.
#[utoipa::path(
    patch, path = "/api/v1/activities/{id}", tag = "activities", operation_id = "update_activity", summary = "Update an activity (merge-patch)",
    description = "JSON merge-patch; the result is checked as a whole (a call may keep its duration, a note may not have one).",
    params(("id" = String, Path, description = "Activity id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = ActivityInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated activity", body = ActivityView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<ActivityInput>,
) -> Result<HttpResponse, ApiError> {
    let changes = body.into_inner().changes();
    records::update::<_, ActivityView>(
        &ACTIVITIES,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(Patch::Keep, move |_, _, current| {
            Ok(ActivityData::apply(Some(current), changes, Utc::now())?)
        }),
        |conn, caller, _, before, after| check_links(conn, caller, &before.links, &after.links),
    )
    .await
}

/// Deletes an activity (soft).
#[utoipa::path(
    delete, path = "/api/v1/activities/{id}", tag = "activities", operation_id = "delete_activity", summary = "Delete an activity",
    description = "Soft delete: the activity leaves lists and timelines; an admin can restore it until the retention period ends.",
    params(("id" = String, Path, description = "Activity id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    records::delete::<_, ActivityView>(&ACTIVITIES, &state, caller, id.into_inner(), if_match).await
}

/// Restores a deleted activity.
#[utoipa::path(
    post, path = "/api/v1/activities/{id}/restore", tag = "activities", operation_id = "restore_activity", summary = "Restore a deleted activity",
    description = "Admins only.",
    params(("id" = String, Path, description = "Activity id"), NoParams),
    responses((status = 200, description = "The restored activity", body = ActivityView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, ActivityView>(&ACTIVITIES, &state, caller, id.into_inner()).await
}

/// Creates a follow-up task for an activity in one call.
#[utoipa::path(
    post, path = "/api/v1/activities/{id}/follow-up-task", tag = "activities", operation_id = "create_follow_up_task", summary = "Create a follow-up task",
    description = "Creates a task that follows up this activity: it links to the same records unless `links` is given, names the activity in `activity_id`, and is assigned to the caller unless `assignee_id` is given.",
    params(("id" = String, Path, description = "Activity id"), NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = TaskInput, example = json!({"title": "Send the proposal", "due_at": "2026-11-25T09:00:00Z", "reminder_at": "2026-11-25T08:30:00Z", "priority": "high"})),
    responses(
        (status = 201, description = "The task", body = TaskView,
            headers(("Location" = String, description = "URL of the new task"), ("ETag" = String, description = "Version"))),
        (status = 404, description = "No such activity, or not visible", body = crate::error::Problem, content_type = "application/problem+json"),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn follow_up_task(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<TaskInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let lookup = caller.clone();
    let activity_id = id.clone();
    let activity = state.read(move |conn| Ok(ACTIVITIES.find_visible(conn, &lookup, &activity_id)?)).await?;
    tasks::create_task(&state, caller, key, body.into_inner(), Some((id, activity.data.links))).await
}

/// Registers the activity routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(web::resource("/activities").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/activities/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/activities/{id}/restore").route(web::post().to(restore)))
        .service(web::resource("/activities/{id}/follow-up-task").route(web::post().to(follow_up_task)))
        .service(history_resource());
}

crate::routes::audit::history_route!(ACTIVITIES, "activities", "activity");
crate::routes::batch::batch_route!(
    ActivityBatchOperation, ActivityBatch, ActivityInput, "activities",
    create: |_allow| NoParams {}
);

/// The operations of activities, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get, update, delete, restore, follow_up_task, history, batch), tags((name = "activities", description = "Emails, calls, meetings, chats, social messages and notes")))]
pub struct Doc;

/// Activities in the API: what is mounted, documented and imported.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::ACTIVITIES,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: None,
    patch: None,
};
