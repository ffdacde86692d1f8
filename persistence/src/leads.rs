//! Leads storage, their engagement events, and the lookups web forms and conversion need.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::Visibility;
use domain::lead::{Conversion, LeadData, LeadEvent, LeadStatus};
use domain::listing::{CommonFilters, PageRequest};
use domain::record::{Page, Stored};
use domain::values::Tags;

use crate::error::StoreResult;
use crate::schema::{lead_events, leads};
use crate::{DbConnection, enum_text, from_db_time, new_id, text_enum, to_db_time};

crate::records::record_queries!(leads, LeadRow, LeadData, LeadColumns);
crate::records::searchable_records!(leads, LeadRow, LeadData, domain::activity::RecordType::Lead);

/// A lead as stored.
pub type Lead = Stored<LeadData>;

/// Filters specific to lead lists.
#[derive(Debug, Clone, Default)]
pub struct LeadFilters {
    pub common: CommonFilters,
    pub status: Option<LeadStatus>,
    pub source: Option<domain::contact::Source>,
    pub min_score: Option<i64>,
}

#[derive(Queryable)]
struct LeadRow {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    sort_name: String,
    email: Option<String>,
    phone: Option<String>,
    company_name: Option<String>,
    job_title: Option<String>,
    website: Option<String>,
    industry: Option<String>,
    country: Option<String>,
    employee_count: Option<i64>,
    source: Option<String>,
    campaign: Option<String>,
    status: String,
    score: i64,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    notes: Option<String>,
    conversion: Option<String>,
    custom_fields: String,
    _search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl LeadRow {
    fn into_domain(self) -> StoreResult<Lead> {
        let tags: Tags = serde_json::from_str(&self.tags)?;
        let conversion: Option<Conversion> = self.conversion.as_deref().map(serde_json::from_str).transpose()?;
        Ok(Stored {
            id: self.id,
            data: LeadData {
                custom_fields: serde_json::from_str(&self.custom_fields)?,
                first_name: self.first_name,
                last_name: self.last_name,
                email: self.email,
                phone: self.phone,
                company_name: self.company_name,
                job_title: self.job_title,
                website: self.website,
                industry: self.industry,
                country: self.country,
                employee_count: self.employee_count,
                source: self.source.as_deref().map(text_enum).transpose()?,
                campaign: self.campaign,
                status: text_enum(&self.status)?,
                score: self.score,
                owner_id: self.owner_id,
                team_id: self.team_id,
                tags,
                notes: self.notes,
                conversion,
            },
            version: self.version,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            deleted_at: self.deleted_at.map(from_db_time),
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = leads, treat_none_as_null = true)]
struct LeadColumns {
    first_name: Option<String>,
    last_name: Option<String>,
    sort_name: String,
    email: Option<String>,
    phone: Option<String>,
    company_name: Option<String>,
    job_title: Option<String>,
    website: Option<String>,
    industry: Option<String>,
    country: Option<String>,
    employee_count: Option<i64>,
    source: Option<String>,
    campaign: Option<String>,
    status: String,
    score: i64,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    notes: Option<String>,
    conversion: Option<String>,
    custom_fields: String,
    search_text: String,
}

impl LeadColumns {
    fn from_data(data: &LeadData) -> StoreResult<Self> {
        Ok(Self {
            first_name: data.first_name.clone(),
            last_name: data.last_name.clone(),
            sort_name: data.sort_name(),
            email: data.email.clone(),
            phone: data.phone.clone(),
            company_name: data.company_name.clone(),
            job_title: data.job_title.clone(),
            website: data.website.clone(),
            industry: data.industry.clone(),
            country: data.country.clone(),
            employee_count: data.employee_count,
            source: data.source.as_ref().map(enum_text).transpose()?,
            campaign: data.campaign.clone(),
            status: enum_text(&data.status)?,
            score: data.score,
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            notes: data.notes.clone(),
            conversion: data.conversion.as_ref().map(serde_json::to_string).transpose()?,
            custom_fields: serde_json::to_string(&data.custom_fields)?,
            search_text: data.search_text(),
        })
    }
}

/// One page of leads the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &LeadFilters,
    page: &PageRequest,
) -> StoreResult<Page<Lead>> {
    let mut query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    if let Some(status) = &filters.status {
        query = query.filter(leads::status.eq(enum_text(status)?));
    }
    if let Some(source) = &filters.source {
        query = query.filter(leads::source.eq(enum_text(source)?));
    }
    if let Some(min_score) = filters.min_score {
        query = query.filter(leads::score.ge(min_score));
    }
    let limit = page.limit.get() as usize;
    let rows: Vec<LeadRow> = queries::paged(query, &page.sort, page.after.as_ref(), limit as i64 + 1)?.load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// The oldest live, not yet converted lead with this (normalised) email: where a repeated
/// form submission lands.
pub fn find_open_by_email(conn: &mut DbConnection, email: &str) -> StoreResult<Option<Lead>> {
    let row: Option<LeadRow> = leads::table
        .filter(leads::email.eq(email))
        .filter(leads::status.ne(enum_text(&LeadStatus::Converted)?))
        .filter(leads::deleted_at.is_null())
        .order((leads::created_at.asc(), leads::id.asc()))
        .first(conn)
        .optional()?;
    row.map(LeadRow::into_domain).transpose()
}

/// Stores a new score without touching the version: scores follow rules and events, not edits.
pub fn set_score(conn: &mut DbConnection, id: &str, score: i64) -> StoreResult<()> {
    diesel::update(leads::table.filter(leads::id.eq(id))).set(leads::score.eq(score)).execute(conn)?;
    Ok(())
}

/// Records an engagement event of a lead.
pub fn insert_event(
    conn: &mut DbConnection,
    lead_id: &str,
    event_type: &str,
    occurred_at: DateTime<Utc>,
    properties: &str,
    now: DateTime<Utc>,
) -> StoreResult<String> {
    let id = new_id();
    diesel::insert_into(lead_events::table)
        .values((
            lead_events::id.eq(&id),
            lead_events::lead_id.eq(lead_id),
            lead_events::event_type.eq(event_type),
            lead_events::occurred_at.eq(to_db_time(occurred_at)),
            lead_events::properties.eq(properties),
            lead_events::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Every engagement event of a lead, oldest first.
pub fn events(conn: &mut DbConnection, lead_id: &str) -> StoreResult<Vec<LeadEvent>> {
    let rows: Vec<(String, NaiveDateTime)> = lead_events::table
        .filter(lead_events::lead_id.eq(lead_id))
        .order((lead_events::occurred_at.asc(), lead_events::id.asc()))
        .select((lead_events::event_type, lead_events::occurred_at))
        .load(conn)?;
    Ok(rows.into_iter().map(|(event_type, at)| LeadEvent { event_type, occurred_at: from_db_time(at) }).collect())
}

/// Up to `limit` live leads that are not converted, in id order after `after`, for rescoring
/// after a rule change.
pub fn open_leads(conn: &mut DbConnection, after: Option<&str>, limit: i64) -> StoreResult<Vec<Lead>> {
    let mut select = leads::table
        .filter(leads::deleted_at.is_null())
        .filter(leads::status.ne(enum_text(&LeadStatus::Converted)?))
        .order(leads::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        select = select.filter(leads::id.gt(after.to_owned()));
    }
    let rows: Vec<LeadRow> = select.load(conn)?;
    rows.into_iter().map(LeadRow::into_domain).collect()
}
