//! Activities storage: the record, its links, and the timeline query.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::Visibility;
use domain::activity::{ActivityData, ActivityType, Participant, RecordRef, RecordType};
use domain::listing::{CommonFilters, PageRequest, Position};
use domain::record::{Page, Stored};
use domain::values::Tags;

use crate::error::StoreResult;
use crate::links::{self, LinkOwner};
use crate::schema::{activities, contacts, record_links};
use crate::{DbConnection, enum_text, from_db_time, text_enum, to_db_time};

crate::records::record_queries!(activities, ActivityRow, ActivityData, ActivityColumns);

/// An activity as stored.
pub type Activity = Stored<ActivityData>;

/// Filters specific to activity lists.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilters {
    pub common: CommonFilters,
    pub activity_type: Option<ActivityType>,
    /// Only activities linked to this record.
    pub linked_to: Option<RecordRef>,
}

#[derive(Queryable)]
struct ActivityRow {
    id: String,
    activity_type: String,
    subject: Option<String>,
    sort_name: String,
    body: Option<String>,
    direction: Option<String>,
    occurred_at: NaiveDateTime,
    duration_seconds: Option<i64>,
    outcome: Option<String>,
    participants: String,
    links: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    _search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl ActivityRow {
    fn into_domain(self) -> StoreResult<Activity> {
        let participants: Vec<Participant> = serde_json::from_str(&self.participants)?;
        let links: Vec<RecordRef> = serde_json::from_str(&self.links)?;
        let tags: Tags = serde_json::from_str(&self.tags)?;
        Ok(Stored {
            id: self.id,
            data: ActivityData {
                activity_type: text_enum(&self.activity_type)?,
                subject: self.subject,
                body: self.body,
                direction: self.direction.as_deref().map(text_enum).transpose()?,
                occurred_at: from_db_time(self.occurred_at),
                duration_seconds: self.duration_seconds,
                outcome: self.outcome,
                participants,
                links,
                owner_id: self.owner_id,
                team_id: self.team_id,
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
#[diesel(table_name = activities, treat_none_as_null = true)]
struct ActivityColumns {
    activity_type: String,
    subject: Option<String>,
    sort_name: String,
    body: Option<String>,
    direction: Option<String>,
    occurred_at: NaiveDateTime,
    duration_seconds: Option<i64>,
    outcome: Option<String>,
    participants: String,
    links: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    search_text: String,
}

impl ActivityColumns {
    fn from_data(data: &ActivityData) -> StoreResult<Self> {
        Ok(Self {
            activity_type: enum_text(&data.activity_type)?,
            subject: data.subject.clone(),
            sort_name: data.sort_name(),
            body: data.body.clone(),
            direction: data.direction.as_ref().map(enum_text).transpose()?,
            occurred_at: to_db_time(data.occurred_at),
            duration_seconds: data.duration_seconds,
            outcome: data.outcome.clone(),
            participants: serde_json::to_string(&data.participants)?,
            links: serde_json::to_string(&data.links)?,
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            search_text: data.search_text(),
        })
    }
}

/// Inserts an activity and its links.
pub fn create(conn: &mut DbConnection, data: &ActivityData, now: DateTime<Utc>) -> StoreResult<Activity> {
    let activity = insert(conn, data, now)?;
    links::replace(conn, LinkOwner::Activity, &activity.id, &activity.data.links)?;
    Ok(activity)
}

/// Updates an activity still at `version`, and its links.
pub fn save(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    data: &ActivityData,
    now: DateTime<Utc>,
) -> StoreResult<Activity> {
    let activity = update(conn, id, version, data, now)?;
    links::replace(conn, LinkOwner::Activity, id, &activity.data.links)?;
    Ok(activity)
}

/// One page of activities the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &ActivityFilters,
    page: &PageRequest,
) -> StoreResult<Page<Activity>> {
    let mut query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    if let Some(kind) = &filters.activity_type {
        query = query.filter(activities::activity_type.eq(enum_text(kind)?));
    }
    if let Some(record) = &filters.linked_to {
        let linked = record_links::table
            .filter(record_links::item_type.eq("activity"))
            .filter(record_links::record_type.eq(record.record_type.as_str()))
            .filter(record_links::record_id.eq(record.id.clone()))
            .select(record_links::item_id);
        query = query.filter(activities::id.eq_any(linked));
    }
    let limit = page.limit.get() as usize;
    let rows: Vec<ActivityRow> =
        queries::paged(query, &page.sort, page.after.as_ref(), limit as i64 + 1)?.load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// Visible live activities linked to the record (for a company, also those linked to its
/// live contacts), newest first by `occurred_at`, after a timeline `before` position, at
/// most `limit`. The links are read by subquery, so no id list grows with the data.
pub fn timeline(
    conn: &mut DbConnection,
    visibility: &Visibility,
    record: &RecordRef,
    types: &[ActivityType],
    before: Option<&Position>,
    limit: i64,
) -> StoreResult<Vec<Activity>> {
    let direct = record_links::table
        .filter(record_links::item_type.eq("activity"))
        .filter(record_links::record_type.eq(record.record_type.as_str()))
        .filter(record_links::record_id.eq(record.id.clone()))
        .select(record_links::item_id);
    let mut query = queries::visible(visibility, false);
    query = if record.record_type == RecordType::Company {
        let company_contacts = contacts::table
            .filter(contacts::company_id.eq(record.id.clone()))
            .filter(contacts::deleted_at.is_null())
            .select(contacts::id);
        let via_contacts = record_links::table
            .filter(record_links::item_type.eq("activity"))
            .filter(record_links::record_type.eq(RecordType::Contact.as_str()))
            .filter(record_links::record_id.eq_any(company_contacts))
            .select(record_links::item_id);
        query.filter(activities::id.eq_any(direct).or(activities::id.eq_any(via_contacts)))
    } else {
        query.filter(activities::id.eq_any(direct))
    };
    let mut query = query.order((activities::occurred_at.desc(), activities::id.desc())).limit(limit);
    if !types.is_empty() {
        let names = types.iter().map(enum_text).collect::<StoreResult<Vec<_>>>()?;
        query = query.filter(activities::activity_type.eq_any(names));
    }
    if let Some((at, id)) = before.and_then(links::timeline_position) {
        query =
            query.filter(activities::occurred_at.lt(at).or(activities::occurred_at.eq(at).and(activities::id.lt(id))));
    }
    let rows: Vec<ActivityRow> = query.load(conn)?;
    rows.into_iter().map(ActivityRow::into_domain).collect()
}

/// Links every activity linked to `from` to `to` as well; `keep_from: false` drops the link
/// to `from` (a merged record's history moves to the survivor; a converted lead keeps its own).
pub fn relink(conn: &mut DbConnection, from: &RecordRef, to: &[RecordRef], keep_from: bool) -> StoreResult<usize> {
    links::relink_items(
        conn,
        LinkOwner::Activity,
        from,
        to,
        keep_from,
        |conn, id| {
            let stored: String =
                activities::table.filter(activities::id.eq(id)).select(activities::links).first(conn)?;
            let new: Vec<RecordRef> = serde_json::from_str(&stored)?;
            Ok(new)
        },
        |conn, id, links| {
            diesel::update(activities::table.filter(activities::id.eq(id)))
                .set(activities::links.eq(serde_json::to_string(links)?))
                .execute(conn)?;
            Ok(())
        },
    )
}
