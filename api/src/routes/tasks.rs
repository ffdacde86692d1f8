//! `/api/v1/tasks` and `/api/v1/reminders`: to-dos with due times, assignees and reminders.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, FixedOffset, Utc};
use domain::access::{Action, Module};
use domain::activity::{DueWindow, Priority, RecordRef, RecordType, TaskChanges, TaskData, TaskStatus};
use domain::listing::CommonFilters;
use domain::record::Patch;
use persistence::tasks::{self, Task, TaskFilters};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records::{self};
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::page_request;
use app::kinds::{TASKS, check_links};

/// A task: something someone has to do, by a time, about some records.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub id: String,
    #[schema(example = "Send the proposal")]
    pub title: String,
    pub description: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub status: TaskStatus,
    pub assignee_id: Option<String>,
    pub team_id: Option<String>,
    pub links: Vec<RecordRef>,
    pub reminder_at: Option<DateTime<Utc>>,
    /// When the assignee acknowledged the reminder; a new `reminder_at` clears it.
    pub reminder_acknowledged_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The activity this task follows up.
    pub activity_id: Option<String>,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Task> for TaskView {
    fn from(task: Task) -> Self {
        let data = task.data;
        TaskView {
            id: task.id,
            title: data.title,
            description: data.description,
            due_at: data.due_at,
            priority: data.priority,
            status: data.status,
            assignee_id: data.owner_id,
            team_id: data.team_id,
            links: data.links,
            reminder_at: data.reminder_at,
            reminder_acknowledged_at: data.reminder_acknowledged_at,
            completed_at: data.completed_at,
            activity_id: data.activity_id,
            tags: data.tags.as_slice().to_vec(),
            created_at: task.created_at,
            updated_at: task.updated_at,
            deleted_at: task.deleted_at,
        }
    }
}

/// Fields of a task to create (POST) or change (PATCH, JSON merge-patch).
#[derive(Debug, Default, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    /// Required on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = String, max_length = 200, example = "Send the proposal")]
    pub title: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub due_at: Patch<DateTime<Utc>>,
    /// Default `normal`.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Priority>)]
    pub priority: Patch<Priority>,
    /// Default `open`; `done` stamps `completed_at`.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = TaskStatus)]
    pub status: Patch<TaskStatus>,
    /// Defaults to the caller on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub assignee_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    /// Up to 10 records; replaces the whole list.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<RecordRef>>, max_items = 10)]
    pub links: Patch<Vec<RecordRef>>,
    /// When the assignee is reminded (GET /api/v1/reminders/due).
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub reminder_at: Patch<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub tags: Patch<Vec<String>>,
}

impl TaskInput {
    fn changes(&self) -> TaskChanges {
        TaskChanges {
            title: self.title.clone(),
            description: self.description.clone(),
            due_at: self.due_at.clone(),
            priority: self.priority.clone(),
            status: self.status.clone(),
            owner_id: self.assignee_id.clone(),
            team_id: self.team_id.clone(),
            links: self.links.clone(),
            reminder_at: self.reminder_at.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// Creates a task; as a follow-up it names the activity and, unless told otherwise, its links.
pub async fn create_task(
    state: &AppState,
    caller: Caller,
    key: IdempotencyKey,
    body: TaskInput,
    follow_up: Option<(String, Vec<RecordRef>)>,
) -> Result<HttpResponse, ApiError> {
    caller.principal.may_in_module(Module::Tasks, Action::Create)?;
    let mut changes = body.changes();
    records::default_owner(&mut changes.owner_id, &caller);
    let mut activity_id = None;
    if let Some((id, links)) = follow_up {
        if !changes.links.is_given() {
            changes.links = Patch::Set(links);
        }
        activity_id = Some(id);
    }
    let mut data = TaskData::apply(None, changes, Utc::now())?;
    data.activity_id = activity_id;
    records::create::<_, TaskView, _>(
        &TASKS,
        state,
        &caller,
        key,
        &body,
        records::WithCustom { data, custom: Patch::Keep },
        |conn, caller, data| check_links(conn, caller, &[], &data.links),
    )
    .await
}

/// Whose tasks a list shows.
fn assignee(raw: Option<String>, caller: &Caller) -> Option<String> {
    raw.map(|a| if a == "me" { caller.principal.user_id.clone() } else { a })
}

/// Filters, sort and paging of the task list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Comma-separated keys, `-` for descending: `created_at`, `updated_at`, `name` (title). Default `-created_at`.
    pub sort: Option<String>,
    /// A user id, or `me`.
    #[param(example = "me")]
    pub assignee: Option<String>,
    pub status: Option<TaskStatus>,
    /// `today` (the caller's day, see `utc_offset_minutes`), `overdue` (due before now) or
    /// `upcoming` (due from now on); `today` and `overdue` list open tasks only.
    pub due: Option<DueWindow>,
    /// The caller's offset from UTC in minutes, for `due=today` (default 0, -840 to 840).
    #[param(minimum = -840, maximum = 840)]
    pub utc_offset_minutes: Option<i32>,
    /// With `record_id`: only tasks linked to this record.
    pub record_type: Option<RecordType>,
    pub record_id: Option<String>,
    pub tag: Option<String>,
    /// Case-insensitive text search over title and description.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// List deleted (restorable) tasks instead; admins only.
    #[serde(default)]
    pub deleted: bool,
}

/// Lists tasks the caller may see.
#[utoipa::path(
    get, path = "/api/v1/tasks", tag = "tasks", operation_id = "list_tasks", summary = "List tasks",
    description = "`?assignee=me&due=today` is what is due for the caller today. Keyset-paginated, filtered and sorted.",
    params(TaskListParams),
    responses((status = 200, description = "A page of tasks", body = Page<TaskView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<TaskListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Tasks, params.deleted)?;
    let (tag, q) = records::tag_and_query(params.tag.as_deref(), None)?;
    let q = domain::listing::parse_text_query(params.q.as_deref())
        .map_err(|e| ApiError::bad_field("q", e.code, e.message))?
        .or(q);
    let offset = Some(params.utc_offset_minutes.unwrap_or(0))
        .filter(|minutes| (-840..=840).contains(minutes))
        .and_then(|minutes| FixedOffset::east_opt(minutes * 60))
        .ok_or_else(|| ApiError::bad_field("utc_offset_minutes", "out_of_range", "must be between -840 and 840"))?;
    let (due_from, due_before) = match params.due {
        Some(window) => domain::activity::due_range(window, Utc::now(), offset),
        None => (None, None),
    };
    let status = match params.due {
        Some(DueWindow::Today | DueWindow::Overdue) => Some(params.status.unwrap_or(TaskStatus::Open)),
        _ => params.status,
    };
    let linked_to = match (params.record_type, params.record_id) {
        (Some(record_type), Some(id)) => Some(RecordRef { record_type, id }),
        (None, None) => None,
        _ => return Err(ApiError::bad_field("record_id", "incomplete", "`record_type` and `record_id` go together")),
    };
    let filters = TaskFilters {
        common: CommonFilters {
            owner_id: assignee(params.assignee, &caller),
            tag,
            q,
            deleted: params.deleted,
            ..Default::default()
        },
        status,
        due_from,
        due_before,
        linked_to,
    };
    let page = page_request(params.limit, params.cursor.as_deref(), params.sort.as_deref())?;
    let request = page.clone();
    let result = state.read(move |conn| Ok(tasks::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, TaskView>(&page, result))
}

/// Creates a task.
#[utoipa::path(
    post, path = "/api/v1/tasks", tag = "tasks", operation_id = "create_task", summary = "Create a task",
    description = "Assigned to the caller unless `assignee_id` is given. Linked records must be visible to the caller.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = TaskInput, example = json!({"title": "Call back", "due_at": "2026-11-24T09:00:00Z", "reminder_at": "2026-11-24T08:45:00Z"})),
    responses(
        (status = 201, description = "Created", body = TaskView,
            headers(("Location" = String, description = "URL of the new task"), ("ETag" = String, description = "Version"))),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<TaskInput>,
) -> Result<HttpResponse, ApiError> {
    create_task(&state, caller, key, body.into_inner(), None).await
}

/// Reads one task.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}", tag = "tasks", operation_id = "get_task", summary = "Get a task",
    description = "Answers 404 both for tasks that do not exist and for ones the caller may not see.",
    params(("id" = String, Path, description = "Task id"), NoParams),
    responses((status = 200, description = "The task", body = TaskView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, TaskView>(&TASKS, &state, caller, id.into_inner()).await
}

/// Changes a task.
#[utoipa::path(
    patch, path = "/api/v1/tasks/{id}", tag = "tasks", operation_id = "update_task", summary = "Update a task (merge-patch)",
    description = "JSON merge-patch. `status: done` stamps `completed_at`; a new `reminder_at` needs a new acknowledgement.",
    params(("id" = String, Path, description = "Task id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = TaskInput, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated task", body = TaskView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<TaskInput>,
) -> Result<HttpResponse, ApiError> {
    let changes = body.into_inner().changes();
    records::update::<_, TaskView>(
        &TASKS,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(Patch::Keep, move |_, _, current| Ok(TaskData::apply(Some(current), changes, Utc::now())?)),
        |conn, caller, _, before, after| check_links(conn, caller, &before.links, &after.links),
    )
    .await
}

/// Deletes a task (soft).
#[utoipa::path(
    delete, path = "/api/v1/tasks/{id}", tag = "tasks", operation_id = "delete_task", summary = "Delete a task",
    description = "Soft delete; an admin can restore it until the retention period ends.",
    params(("id" = String, Path, description = "Task id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    records::delete::<_, TaskView>(&TASKS, &state, caller, id.into_inner(), if_match).await
}

/// Restores a deleted task.
#[utoipa::path(
    post, path = "/api/v1/tasks/{id}/restore", tag = "tasks", operation_id = "restore_task", summary = "Restore a deleted task",
    description = "Admins only.",
    params(("id" = String, Path, description = "Task id"), NoParams),
    responses((status = 200, description = "The restored task", body = TaskView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, TaskView>(&TASKS, &state, caller, id.into_inner()).await
}

/// Acknowledges a task's reminder.
#[utoipa::path(
    post, path = "/api/v1/tasks/{id}/acknowledge-reminder", tag = "tasks", operation_id = "acknowledge_reminder", summary = "Acknowledge a reminder",
    description = "The reminder leaves GET /api/v1/reminders/due. Needs the edit grant on the task; 409 when the task has no reminder.",
    params(("id" = String, Path, description = "Task id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    responses((status = 200, description = "The task", body = TaskView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn acknowledge(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    records::update::<_, TaskView>(
        &TASKS,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(Patch::Keep, |_, _, current: &TaskData| {
            current
                .clone()
                .acknowledged(Utc::now())
                .map_err(|_| app::error::AppError::Conflict("this task has no reminder to acknowledge".into()))
        }),
        |_, _, _, _, _| Ok(()),
    )
    .await
}

/// Parameters of the due reminders.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReminderParams {
    /// At most this many, earliest first (1 to 100, default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The caller's reminders whose time has come.
#[utoipa::path(
    get, path = "/api/v1/reminders/due", tag = "tasks", operation_id = "list_due_reminders", summary = "Due reminders",
    description = "Open tasks assigned to the caller whose `reminder_at` has passed and that are not acknowledged, earliest first. Acknowledge with POST /api/v1/tasks/{id}/acknowledge-reminder.",
    params(ReminderParams),
    responses((status = 200, description = "The due reminders' tasks", body = Page<TaskView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn due_reminders(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ReminderParams>,
) -> Result<HttpResponse, ApiError> {
    caller.principal.may_in_module(Module::Tasks, Action::Read)?;
    let limit = crate::support::id_page_limit(params.limit)?;
    let user_id = caller.principal.user_id.clone();
    let due = state.read(move |conn| Ok(tasks::due_reminders(conn, &user_id, Utc::now(), limit)?)).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: due.into_iter().map(TaskView::from).collect::<Vec<_>>(), next_cursor: None }))
}

/// Registers the task routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(web::resource("/tasks").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/tasks/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/tasks/{id}/restore").route(web::post().to(restore)))
        .service(web::resource("/tasks/{id}/acknowledge-reminder").route(web::post().to(acknowledge)))
        .service(web::resource("/reminders/due").route(web::get().to(due_reminders)))
        .service(history_resource());
}

crate::routes::audit::history_route!(TASKS, "tasks", "task");
crate::routes::batch::batch_route!(
    TaskBatchOperation, TaskBatch, TaskInput, "tasks",
    create: |_allow| NoParams {}
);

/// The operations of tasks, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get, update, delete, restore, acknowledge, due_reminders, history, batch), tags((name = "tasks", description = "Tasks and reminders")))]
pub struct Doc;

/// Tasks in the API: what is mounted, documented and imported.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::TASKS,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: None,
    patch: None,
};
