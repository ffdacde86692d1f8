//! Companies storage.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::Visibility;
use domain::company::CompanyData;
use domain::listing::{CommonFilters, PageRequest};
use domain::record::{Page, Stored};
use domain::values::{Address, Currency, Money, Tags};

use crate::error::{StoreError, StoreResult};
use crate::schema::companies;
use crate::{DbConnection, from_db_time, to_db_time};

crate::records::record_queries!(companies, CompanyRow, CompanyData, CompanyColumns);
crate::records::searchable_records!(companies, CompanyRow, CompanyData, domain::activity::RecordType::Company);

/// A company as stored.
pub type Company = Stored<CompanyData>;

/// Filters specific to company lists.
#[derive(Debug, Clone, Default)]
pub struct CompanyFilters {
    pub common: CommonFilters,
    /// Exact normalised domain (`example.com`).
    pub domain: Option<String>,
}

#[derive(Queryable)]
struct CompanyRow {
    id: String,
    name: String,
    sort_name: String,
    domain: Option<String>,
    industry: Option<String>,
    employee_count: Option<i64>,
    annual_revenue_minor: Option<i64>,
    annual_revenue_currency: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    custom_fields: String,
    _search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
    _merged_into: Option<String>,
}

impl CompanyRow {
    fn into_domain(self) -> StoreResult<Company> {
        let tags: Tags = serde_json::from_str(&self.tags)?;
        let address: Option<Address> = self.address.as_deref().map(serde_json::from_str).transpose()?;
        let annual_revenue = match (self.annual_revenue_minor, self.annual_revenue_currency) {
            (Some(amount_minor), Some(currency)) => Some(Money {
                amount_minor,
                currency: Currency::parse("annual_revenue.currency", &currency)
                    .map_err(|e| StoreError::Internal(format!("stored currency unreadable: {}", e.message)))?,
            }),
            _ => None,
        };
        Ok(Stored {
            id: self.id,
            data: CompanyData {
                custom_fields: serde_json::from_str(&self.custom_fields)?,
                name: self.name,
                domain: self.domain,
                industry: self.industry,
                employee_count: self.employee_count,
                annual_revenue,
                phone: self.phone,
                address,
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
#[diesel(table_name = companies, treat_none_as_null = true)]
struct CompanyColumns {
    name: String,
    sort_name: String,
    domain: Option<String>,
    industry: Option<String>,
    employee_count: Option<i64>,
    annual_revenue_minor: Option<i64>,
    annual_revenue_currency: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    custom_fields: String,
    search_text: String,
}

impl CompanyColumns {
    fn from_data(data: &CompanyData) -> StoreResult<Self> {
        Ok(Self {
            name: data.name.clone(),
            sort_name: data.sort_name(),
            domain: data.domain.clone(),
            industry: data.industry.clone(),
            employee_count: data.employee_count,
            annual_revenue_minor: data.annual_revenue.as_ref().map(|m| m.amount_minor),
            annual_revenue_currency: data.annual_revenue.as_ref().map(|m| m.currency.as_str().to_owned()),
            phone: data.phone.clone(),
            address: data.address.as_ref().map(serde_json::to_string).transpose()?,
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            custom_fields: serde_json::to_string(&data.custom_fields)?,
            search_text: data.search_text(),
        })
    }
}

/// One page of companies the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &CompanyFilters,
    page: &PageRequest,
) -> StoreResult<Page<Company>> {
    let mut query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    if let Some(domain) = &filters.domain {
        query = query.filter(companies::domain.eq(domain.clone()));
    }
    let limit = page.limit.get() as usize;
    let rows: Vec<CompanyRow> = queries::paged(query, &page.sort, page.after.as_ref(), limit as i64 + 1)?.load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// Inserts a company and its duplicate-detection keys.
pub fn create(conn: &mut DbConnection, data: &CompanyData, now: DateTime<Utc>) -> StoreResult<Company> {
    let company = insert(conn, data, now)?;
    crate::keys::add(conn, "company", &company.id, &domain::duplicates::company_keys(data))?;
    Ok(company)
}

/// Inserts companys and their duplicate-detection keys, a few statements for them all.
pub fn create_many(conn: &mut DbConnection, data: Vec<CompanyData>, now: DateTime<Utc>) -> StoreResult<Vec<Company>> {
    crate::keys::insert_keyed(conn, "company", data, insert_many, domain::duplicates::company_keys, now)
}

/// Updates a company still at `version`, and its keys.
pub fn save(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    data: &CompanyData,
    now: DateTime<Utc>,
) -> StoreResult<Company> {
    let company = update(conn, id, version, data, now)?;
    crate::keys::replace(conn, "company", id, &domain::duplicates::company_keys(data))?;
    Ok(company)
}

/// Ends a merged company: deleted, pointing at the survivor, its keys gone.
pub fn tombstone(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    survivor: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let now = to_db_time(now);
    let changed = diesel::update(
        companies::table
            .filter(companies::id.eq(id))
            .filter(companies::version.eq(version))
            .filter(companies::deleted_at.is_null()),
    )
    .set((
        companies::deleted_at.eq(Some(now)),
        companies::merged_into.eq(Some(survivor)),
        companies::version.eq(version + 1),
        companies::updated_at.eq(now),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::Stale);
    }
    crate::keys::replace(conn, "company", id, &[])
}

/// Where a merged company went, if it was merged.
pub fn merged_into(conn: &mut DbConnection, id: &str) -> StoreResult<Option<String>> {
    Ok(companies::table
        .filter(companies::id.eq(id))
        .select(companies::merged_into)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}
