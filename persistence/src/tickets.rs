//! Tickets storage, their replies, and the walks the ticket jobs make.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::Visibility;
use domain::listing::{CommonFilters, PageRequest};
use domain::record::{Page, Stored};
use domain::ticket::{ReplyAuthor, TicketData, TicketStatus};
use domain::values::Tags;

use crate::error::StoreResult;
use crate::schema::{ticket_replies, tickets};
use crate::{DbConnection, enum_text, from_db_time, new_id, text_enum, to_db_time};

crate::records::record_queries!(tickets, TicketRow, TicketData, TicketColumns);
crate::records::searchable_records!(tickets, TicketRow, TicketData, domain::activity::RecordType::Ticket);

/// A ticket as stored.
pub type Ticket = Stored<TicketData>;

/// Filters specific to ticket lists.
#[derive(Debug, Clone, Default)]
pub struct TicketFilters {
    pub common: CommonFilters,
    pub status: Option<TicketStatus>,
    pub priority: Option<domain::activity::Priority>,
    pub requester_id: Option<String>,
    pub company_id: Option<String>,
}

#[derive(Queryable)]
struct TicketRow {
    id: String,
    subject: String,
    sort_name: String,
    description: Option<String>,
    requester_id: Option<String>,
    company_id: Option<String>,
    channel: String,
    ticket_type: String,
    problem_id: Option<String>,
    priority: String,
    category: Option<String>,
    tier: String,
    status: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    custom_fields: String,
    _search_text: String,
    first_replied_at: Option<NaiveDateTime>,
    solved_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl TicketRow {
    fn into_domain(self) -> StoreResult<Ticket> {
        let tags: Tags = serde_json::from_str(&self.tags)?;
        Ok(Stored {
            id: self.id,
            data: TicketData {
                custom_fields: serde_json::from_str(&self.custom_fields)?,
                subject: self.subject,
                description: self.description,
                requester_id: self.requester_id,
                company_id: self.company_id,
                channel: text_enum(&self.channel)?,
                ticket_type: text_enum(&self.ticket_type)?,
                problem_id: self.problem_id,
                priority: text_enum(&self.priority)?,
                category: self.category,
                tier: text_enum(&self.tier)?,
                status: text_enum(&self.status)?,
                owner_id: self.owner_id,
                team_id: self.team_id,
                tags,
                first_replied_at: self.first_replied_at.map(from_db_time),
                solved_at: self.solved_at.map(from_db_time),
                closed_at: self.closed_at.map(from_db_time),
            },
            version: self.version,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            deleted_at: self.deleted_at.map(from_db_time),
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = tickets, treat_none_as_null = true)]
struct TicketColumns {
    subject: String,
    sort_name: String,
    description: Option<String>,
    requester_id: Option<String>,
    company_id: Option<String>,
    channel: String,
    ticket_type: String,
    problem_id: Option<String>,
    priority: String,
    category: Option<String>,
    tier: String,
    status: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    custom_fields: String,
    search_text: String,
    first_replied_at: Option<NaiveDateTime>,
    solved_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
}

impl TicketColumns {
    fn from_data(data: &TicketData) -> StoreResult<Self> {
        Ok(Self {
            subject: data.subject.clone(),
            sort_name: data.sort_name(),
            description: data.description.clone(),
            requester_id: data.requester_id.clone(),
            company_id: data.company_id.clone(),
            channel: enum_text(&data.channel)?,
            ticket_type: enum_text(&data.ticket_type)?,
            problem_id: data.problem_id.clone(),
            priority: enum_text(&data.priority)?,
            category: data.category.clone(),
            tier: enum_text(&data.tier)?,
            status: enum_text(&data.status)?,
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            custom_fields: serde_json::to_string(&data.custom_fields)?,
            search_text: data.search_text(),
            first_replied_at: data.first_replied_at.map(to_db_time),
            solved_at: data.solved_at.map(to_db_time),
            closed_at: data.closed_at.map(to_db_time),
        })
    }
}

/// One page of tickets the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &TicketFilters,
    page: &PageRequest,
) -> StoreResult<Page<Ticket>> {
    let mut query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    if let Some(status) = &filters.status {
        query = query.filter(tickets::status.eq(enum_text(status)?));
    }
    if let Some(priority) = &filters.priority {
        query = query.filter(tickets::priority.eq(enum_text(priority)?));
    }
    if let Some(requester_id) = &filters.requester_id {
        query = query.filter(tickets::requester_id.eq(requester_id.clone()));
    }
    if let Some(company_id) = &filters.company_id {
        query = query.filter(tickets::company_id.eq(company_id.clone()));
    }
    let limit = page.limit.get() as usize;
    let rows: Vec<TicketRow> = queries::paged(query, &page.sort, page.after.as_ref(), limit as i64 + 1)?.load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// What a service report covers: tickets created in `[from, to)` the visibility reaches,
/// optionally of one team, assignee or priority.
#[derive(Debug, Clone, Default)]
pub struct ReportScope {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub team_id: Option<String>,
    pub owner_id: Option<String>,
    pub priority: Option<domain::activity::Priority>,
}

/// The live tickets a report covers, at most `limit` (oldest first).
pub fn in_scope(
    conn: &mut DbConnection,
    visibility: &Visibility,
    scope: &ReportScope,
    limit: i64,
) -> StoreResult<Vec<Ticket>> {
    let mut query = queries::visible(visibility, false);
    if let Some(from) = scope.from {
        query = query.filter(tickets::created_at.ge(to_db_time(from)));
    }
    if let Some(to) = scope.to {
        query = query.filter(tickets::created_at.lt(to_db_time(to)));
    }
    if let Some(team) = &scope.team_id {
        query = query.filter(tickets::team_id.eq(team.clone()));
    }
    if let Some(owner) = &scope.owner_id {
        query = query.filter(tickets::owner_id.eq(owner.clone()));
    }
    if let Some(priority) = &scope.priority {
        query = query.filter(tickets::priority.eq(enum_text(priority)?));
    }
    let rows: Vec<TicketRow> = query.order((tickets::created_at.asc(), tickets::id.asc())).limit(limit).load(conn)?;
    rows.into_iter().map(TicketRow::into_domain).collect()
}

/// Ids of live tickets solved before `cutoff`, oldest first: the ones that close themselves.
pub fn solved_before(conn: &mut DbConnection, cutoff: DateTime<Utc>, limit: i64) -> StoreResult<Vec<String>> {
    Ok(tickets::table
        .filter(tickets::status.eq(enum_text(&TicketStatus::Solved)?))
        .filter(tickets::deleted_at.is_null())
        .filter(tickets::solved_at.lt(to_db_time(cutoff)))
        .order((tickets::solved_at.asc(), tickets::id.asc()))
        .limit(limit)
        .select(tickets::id)
        .load(conn)?)
}

/// Up to `limit` ids of live tickets still being handled (not solved or closed), in id order
/// after `after`: the walk that reschedules SLA checks after a policy or calendar change.
pub fn active_after(conn: &mut DbConnection, after: Option<&str>, limit: i64) -> StoreResult<Vec<String>> {
    let ended = [enum_text(&TicketStatus::Solved)?, enum_text(&TicketStatus::Closed)?];
    let mut query = tickets::table
        .filter(tickets::deleted_at.is_null())
        .filter(tickets::status.ne_all(ended))
        .order(tickets::id.asc())
        .limit(limit)
        .select(tickets::id)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(tickets::id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Records an SLA alert unless it was raised before; whether it is new.
pub fn raise_alert(
    conn: &mut DbConnection,
    ticket_id: &str,
    (metric, alert): (&str, &str),
    cycle_started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    use diesel::sql_types::{Text, Timestamp};
    // Raw SQL: ON CONFLICT has no diesel form over both backends, and both take this one.
    let values = crate::sql::placeholders(conn, 1, 5);
    let statement = format!(
        "INSERT INTO sla_alerts (ticket_id, metric, alert, cycle_started_at, raised_at) VALUES ({values}) \
         ON CONFLICT (ticket_id, metric, alert, cycle_started_at) DO NOTHING"
    );
    let inserted = diesel::sql_query(statement)
        .into_boxed::<crate::Db>()
        .bind::<Text, _>(ticket_id.to_owned())
        .bind::<Text, _>(metric.to_owned())
        .bind::<Text, _>(alert.to_owned())
        .bind::<Timestamp, _>(to_db_time(cycle_started_at))
        .bind::<Timestamp, _>(to_db_time(now))
        .execute(conn)?;
    Ok(inserted == 1)
}

/// A reply on a ticket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: String,
    pub ticket_id: String,
    /// The activity holding its text.
    pub activity_id: Option<String>,
    pub author: ReplyAuthor,
    pub public: bool,
    pub replied_at: DateTime<Utc>,
    pub replied_by: Option<String>,
}

/// A reply to record.
pub struct NewReply<'a> {
    pub ticket_id: &'a str,
    pub activity_id: &'a str,
    pub author: ReplyAuthor,
    pub public: bool,
    pub replied_at: DateTime<Utc>,
    pub replied_by: Option<&'a str>,
}

/// Records a reply.
pub fn insert_reply(conn: &mut DbConnection, reply: &NewReply<'_>) -> StoreResult<Reply> {
    let id = new_id();
    diesel::insert_into(ticket_replies::table)
        .values((
            ticket_replies::id.eq(&id),
            ticket_replies::ticket_id.eq(reply.ticket_id),
            ticket_replies::activity_id.eq(reply.activity_id),
            ticket_replies::author.eq(enum_text(&reply.author)?),
            ticket_replies::public.eq(reply.public),
            ticket_replies::replied_at.eq(to_db_time(reply.replied_at)),
            ticket_replies::replied_by.eq(reply.replied_by),
        ))
        .execute(conn)?;
    Ok(Reply {
        id,
        ticket_id: reply.ticket_id.to_owned(),
        activity_id: Some(reply.activity_id.to_owned()),
        author: reply.author,
        public: reply.public,
        replied_at: reply.replied_at,
        replied_by: reply.replied_by.map(str::to_owned),
    })
}

type ReplyRow = (String, String, Option<String>, String, bool, NaiveDateTime, Option<String>);

/// Every reply on a ticket, oldest first.
pub fn replies(conn: &mut DbConnection, ticket_id: &str) -> StoreResult<Vec<Reply>> {
    let rows: Vec<ReplyRow> = ticket_replies::table
        .filter(ticket_replies::ticket_id.eq(ticket_id))
        .order((ticket_replies::replied_at.asc(), ticket_replies::id.asc()))
        .select((
            ticket_replies::id,
            ticket_replies::ticket_id,
            ticket_replies::activity_id,
            ticket_replies::author,
            ticket_replies::public,
            ticket_replies::replied_at,
            ticket_replies::replied_by,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, ticket_id, activity_id, author, public, at, replied_by)| {
            Ok(Reply {
                id,
                ticket_id,
                activity_id,
                author: text_enum(&author)?,
                public,
                replied_at: from_db_time(at),
                replied_by,
            })
        })
        .collect()
}
