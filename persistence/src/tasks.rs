//! Tasks storage: the record, its links, due-date lists and due reminders.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::Visibility;
use domain::activity::{RecordRef, TaskData, TaskStatus};
use domain::listing::{CommonFilters, PageRequest};
use domain::record::{Page, Stored};
use domain::values::Tags;

use crate::error::StoreResult;
use crate::links::{self, LinkOwner};
use crate::schema::{record_links, tasks};
use crate::{DbConnection, enum_text, from_db_time, text_enum, to_db_time};

crate::records::record_queries!(tasks, TaskRow, TaskData, TaskColumns);

/// A task as stored.
pub type Task = Stored<TaskData>;

/// Filters specific to task lists.
#[derive(Debug, Clone, Default)]
pub struct TaskFilters {
    pub common: CommonFilters,
    pub status: Option<TaskStatus>,
    /// Due at or after this time.
    pub due_from: Option<DateTime<Utc>>,
    /// Due before this time.
    pub due_before: Option<DateTime<Utc>>,
    pub linked_to: Option<RecordRef>,
}

#[derive(Queryable)]
struct TaskRow {
    id: String,
    title: String,
    sort_name: String,
    description: Option<String>,
    due_at: Option<NaiveDateTime>,
    priority: String,
    status: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    links: String,
    reminder_at: Option<NaiveDateTime>,
    reminder_acknowledged_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    activity_id: Option<String>,
    tags: String,
    _search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl TaskRow {
    fn into_domain(self) -> StoreResult<Task> {
        let links: Vec<RecordRef> = serde_json::from_str(&self.links)?;
        let tags: Tags = serde_json::from_str(&self.tags)?;
        Ok(Stored {
            id: self.id,
            data: TaskData {
                title: self.title,
                description: self.description,
                due_at: self.due_at.map(from_db_time),
                priority: text_enum(&self.priority)?,
                status: text_enum(&self.status)?,
                owner_id: self.owner_id,
                team_id: self.team_id,
                links,
                reminder_at: self.reminder_at.map(from_db_time),
                reminder_acknowledged_at: self.reminder_acknowledged_at.map(from_db_time),
                completed_at: self.completed_at.map(from_db_time),
                activity_id: self.activity_id,
                tags,
            },
            version: self.version,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            deleted_at: self.deleted_at.map(from_db_time),
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = tasks, treat_none_as_null = true)]
struct TaskColumns {
    title: String,
    sort_name: String,
    description: Option<String>,
    due_at: Option<NaiveDateTime>,
    priority: String,
    status: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    links: String,
    reminder_at: Option<NaiveDateTime>,
    reminder_acknowledged_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    activity_id: Option<String>,
    tags: String,
    search_text: String,
}

impl TaskColumns {
    fn from_data(data: &TaskData) -> StoreResult<Self> {
        Ok(Self {
            title: data.title.clone(),
            sort_name: data.sort_name(),
            description: data.description.clone(),
            due_at: data.due_at.map(to_db_time),
            priority: enum_text(&data.priority)?,
            status: enum_text(&data.status)?,
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            links: serde_json::to_string(&data.links)?,
            reminder_at: data.reminder_at.map(to_db_time),
            reminder_acknowledged_at: data.reminder_acknowledged_at.map(to_db_time),
            completed_at: data.completed_at.map(to_db_time),
            activity_id: data.activity_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            search_text: data.search_text(),
        })
    }
}

/// Inserts a task and its links.
pub fn create(conn: &mut DbConnection, data: &TaskData, now: DateTime<Utc>) -> StoreResult<Task> {
    let task = insert(conn, data, now)?;
    links::replace(conn, LinkOwner::Task, &task.id, &task.data.links)?;
    Ok(task)
}

/// Updates a task still at `version`, and its links.
pub fn save(conn: &mut DbConnection, id: &str, version: i64, data: &TaskData, now: DateTime<Utc>) -> StoreResult<Task> {
    let task = update(conn, id, version, data, now)?;
    links::replace(conn, LinkOwner::Task, id, &task.data.links)?;
    Ok(task)
}

/// One page of tasks the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &TaskFilters,
    page: &PageRequest,
) -> StoreResult<Page<Task>> {
    let mut query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    if let Some(status) = &filters.status {
        query = query.filter(tasks::status.eq(enum_text(status)?));
    }
    if let Some(from) = filters.due_from {
        query = query.filter(tasks::due_at.ge(to_db_time(from)));
    }
    if let Some(before) = filters.due_before {
        query = query.filter(tasks::due_at.lt(to_db_time(before)));
    }
    if let Some(record) = &filters.linked_to {
        let linked = record_links::table
            .filter(record_links::item_type.eq("task"))
            .filter(record_links::record_type.eq(record.record_type.as_str()))
            .filter(record_links::record_id.eq(record.id.clone()))
            .select(record_links::item_id);
        query = query.filter(tasks::id.eq_any(linked));
    }
    let limit = page.limit.get() as usize;
    let rows: Vec<TaskRow> = queries::paged(query, &page.sort, page.after.as_ref(), limit as i64 + 1)?.load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// The caller's open tasks whose reminder time has come and that are not acknowledged,
/// earliest reminder first.
pub fn due_reminders(
    conn: &mut DbConnection,
    assignee_id: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<Task>> {
    let rows: Vec<TaskRow> = tasks::table
        .filter(tasks::owner_id.eq(assignee_id))
        .filter(tasks::deleted_at.is_null())
        .filter(tasks::status.eq(enum_text(&TaskStatus::Open)?))
        .filter(tasks::reminder_acknowledged_at.is_null())
        .filter(tasks::reminder_at.le(to_db_time(now)))
        .order((tasks::reminder_at.asc(), tasks::id.asc()))
        .limit(limit)
        .load(conn)?;
    rows.into_iter().map(TaskRow::into_domain).collect()
}

/// Links every task linked to `from` to `to` as well; `keep_from: false` drops the link to
/// `from` (see `activities::relink`).
pub fn relink(conn: &mut DbConnection, from: &RecordRef, to: &[RecordRef], keep_from: bool) -> StoreResult<usize> {
    links::relink_items(
        conn,
        LinkOwner::Task,
        from,
        to,
        keep_from,
        |conn, id| {
            let stored: String = tasks::table.filter(tasks::id.eq(id)).select(tasks::links).first(conn)?;
            let new: Vec<RecordRef> = serde_json::from_str(&stored)?;
            Ok(new)
        },
        |conn, id, links| {
            diesel::update(tasks::table.filter(tasks::id.eq(id)))
                .set(tasks::links.eq(serde_json::to_string(links)?))
                .execute(conn)?;
            Ok(())
        },
    )
}
