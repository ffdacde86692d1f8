//! Contacts storage.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::Visibility;
use domain::contact::{ContactData, ContactEmail, ContactPhone};
use domain::listing::{CommonFilters, PageRequest};
use domain::record::{Page, Stored};
use domain::values::{Address, Tags};

use crate::error::StoreResult;
use crate::schema::contacts;
use crate::{DbConnection, enum_text, from_db_time, text_enum, to_db_time};

crate::records::record_queries!(contacts, ContactRow, ContactData, ContactColumns);
crate::records::searchable_records!(contacts, ContactRow, ContactData, domain::activity::RecordType::Contact);

/// A contact as stored (the domain data plus identity and timestamps).
pub type Contact = Stored<ContactData>;

/// Filters specific to contact lists.
#[derive(Debug, Clone, Default)]
pub struct ContactFilters {
    pub common: CommonFilters,
    pub company_id: Option<String>,
    pub lifecycle_stage: Option<domain::contact::LifecycleStage>,
}

#[derive(Queryable)]
struct ContactRow {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    sort_name: String,
    emails: String,
    phones: String,
    _primary_email: Option<String>,
    job_title: Option<String>,
    company_id: Option<String>,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    address: Option<String>,
    source: Option<String>,
    lifecycle_stage: Option<String>,
    notes: Option<String>,
    custom_fields: String,
    _search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
    _merged_into: Option<String>,
}

impl ContactRow {
    fn into_domain(self) -> StoreResult<Contact> {
        let emails: Vec<ContactEmail> = serde_json::from_str(&self.emails)?;
        let phones: Vec<ContactPhone> = serde_json::from_str(&self.phones)?;
        let tags: Tags = serde_json::from_str(&self.tags)?;
        let address: Option<Address> = self.address.as_deref().map(serde_json::from_str).transpose()?;
        Ok(Stored {
            id: self.id,
            data: ContactData {
                custom_fields: serde_json::from_str(&self.custom_fields)?,
                first_name: self.first_name,
                last_name: self.last_name,
                emails,
                phones,
                job_title: self.job_title,
                company_id: self.company_id,
                owner_id: self.owner_id,
                team_id: self.team_id,
                tags,
                address,
                source: self.source.as_deref().map(text_enum).transpose()?,
                lifecycle_stage: self.lifecycle_stage.as_deref().map(text_enum).transpose()?,
                notes: self.notes,
            },
            version: self.version,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            deleted_at: self.deleted_at.map(from_db_time),
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
struct ContactColumns {
    first_name: Option<String>,
    last_name: Option<String>,
    sort_name: String,
    emails: String,
    phones: String,
    primary_email: Option<String>,
    job_title: Option<String>,
    company_id: Option<String>,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    address: Option<String>,
    source: Option<String>,
    lifecycle_stage: Option<String>,
    notes: Option<String>,
    custom_fields: String,
    search_text: String,
}

impl ContactColumns {
    fn from_data(data: &ContactData) -> StoreResult<Self> {
        Ok(Self {
            first_name: data.first_name.clone(),
            last_name: data.last_name.clone(),
            sort_name: data.sort_name(),
            emails: serde_json::to_string(&data.emails)?,
            phones: serde_json::to_string(&data.phones)?,
            primary_email: data.primary_email().map(str::to_owned),
            job_title: data.job_title.clone(),
            company_id: data.company_id.clone(),
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            address: data.address.as_ref().map(serde_json::to_string).transpose()?,
            source: data.source.as_ref().map(enum_text).transpose()?,
            lifecycle_stage: data.lifecycle_stage.as_ref().map(enum_text).transpose()?,
            notes: data.notes.clone(),
            custom_fields: serde_json::to_string(&data.custom_fields)?,
            search_text: data.search_text(),
        })
    }
}

/// One page of contacts the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &ContactFilters,
    page: &PageRequest,
) -> StoreResult<Page<Contact>> {
    let mut query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    if let Some(company_id) = &filters.company_id {
        query = query.filter(contacts::company_id.eq(company_id.clone()));
    }
    if let Some(stage) = &filters.lifecycle_stage {
        query = query.filter(contacts::lifecycle_stage.eq(enum_text(stage)?));
    }
    let limit = page.limit.get() as usize;
    let rows: Vec<ContactRow> = queries::paged(query, &page.sort, page.after.as_ref(), limit as i64 + 1)?.load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// Inserts a contact and its duplicate-detection keys.
pub fn create(conn: &mut DbConnection, data: &ContactData, now: DateTime<Utc>) -> StoreResult<Contact> {
    let contact = insert(conn, data, now)?;
    crate::keys::add(conn, "contact", &contact.id, &domain::duplicates::contact_keys(data))?;
    Ok(contact)
}

/// Inserts contacts and their duplicate-detection keys, a few statements for them all.
pub fn create_many(conn: &mut DbConnection, data: Vec<ContactData>, now: DateTime<Utc>) -> StoreResult<Vec<Contact>> {
    crate::keys::insert_keyed(conn, "contact", data, insert_many, domain::duplicates::contact_keys, now)
}

/// Updates a contact still at `version`, and its keys.
pub fn save(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    data: &ContactData,
    now: DateTime<Utc>,
) -> StoreResult<Contact> {
    let contact = update(conn, id, version, data, now)?;
    crate::keys::replace(conn, "contact", id, &domain::duplicates::contact_keys(data))?;
    Ok(contact)
}

/// Ends a merged contact: deleted, pointing at the survivor, its keys gone.
pub fn tombstone(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    survivor: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now = to_db_time(now);
    let changed = diesel::update(
        contacts::table
            .filter(contacts::id.eq(id))
            .filter(contacts::version.eq(version))
            .filter(contacts::deleted_at.is_null()),
    )
    .set((
        contacts::deleted_at.eq(Some(now)),
        contacts::merged_into.eq(Some(survivor)),
        contacts::version.eq(version + 1),
        contacts::updated_at.eq(now),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(crate::StoreError::Stale);
    }
    crate::keys::replace(conn, "contact", id, &[])
}

/// Where a merged contact went, if it was merged.
pub fn merged_into(conn: &mut DbConnection, id: &str) -> StoreResult<Option<String>> {
    Ok(contacts::table
        .filter(contacts::id.eq(id))
        .select(contacts::merged_into)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// Moves every contact of one company to another (a company merge).
pub fn move_to_company(conn: &mut DbConnection, from: &str, to: &str, now: DateTime<Utc>) -> StoreResult<usize> {
    Ok(diesel::update(contacts::table.filter(contacts::company_id.eq(from)))
        .set((
            contacts::company_id.eq(Some(to)),
            contacts::version.eq(contacts::version + 1),
            contacts::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?)
}
