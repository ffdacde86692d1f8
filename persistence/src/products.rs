//! Products storage.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use domain::access::Visibility;
use domain::listing::{CommonFilters, PageRequest};
use domain::product::ProductData;
use domain::record::{Page, Stored};
use domain::values::{Currency, Money, Tags};

use crate::error::{StoreError, StoreResult};
use crate::schema::products;
use crate::{DbConnection, from_db_time};

crate::records::record_queries!(products, ProductRow, ProductData, ProductColumns);
crate::records::searchable_records!(products, ProductRow, ProductData, domain::activity::RecordType::Product);

/// A product as stored.
pub type Product = Stored<ProductData>;

/// Filters specific to product lists.
#[derive(Debug, Clone, Default)]
pub struct ProductFilters {
    pub common: CommonFilters,
    /// Exact SKU.
    pub sku: Option<String>,
    /// Only active (true) or inactive (false) products.
    pub active: Option<bool>,
}

#[derive(Queryable)]
struct ProductRow {
    id: String,
    name: String,
    sort_name: String,
    sku: Option<String>,
    description: Option<String>,
    unit_price_minor: i64,
    currency: String,
    active: bool,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    custom_fields: String,
    _search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl ProductRow {
    fn into_domain(self) -> StoreResult<Product> {
        let tags: Tags = serde_json::from_str(&self.tags)?;
        let currency = Currency::parse("unit_price.currency", &self.currency)
            .map_err(|e| StoreError::Internal(format!("stored currency unreadable: {}", e.message)))?;
        Ok(Stored {
            id: self.id,
            data: ProductData {
                custom_fields: serde_json::from_str(&self.custom_fields)?,
                name: self.name,
                sku: self.sku,
                description: self.description,
                unit_price: Money { amount_minor: self.unit_price_minor, currency },
                active: self.active,
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
#[diesel(table_name = products, treat_none_as_null = true)]
struct ProductColumns {
    name: String,
    sort_name: String,
    sku: Option<String>,
    description: Option<String>,
    unit_price_minor: i64,
    currency: String,
    active: bool,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    custom_fields: String,
    search_text: String,
}

impl ProductColumns {
    fn from_data(data: &ProductData) -> StoreResult<Self> {
        Ok(Self {
            name: data.name.clone(),
            sort_name: data.sort_name(),
            sku: data.sku.clone(),
            description: data.description.clone(),
            unit_price_minor: data.unit_price.amount_minor,
            currency: data.unit_price.currency.as_str().to_owned(),
            active: data.active,
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            custom_fields: serde_json::to_string(&data.custom_fields)?,
            search_text: data.search_text(),
        })
    }
}

/// One page of products the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &ProductFilters,
    page: &PageRequest,
) -> StoreResult<Page<Product>> {
    let mut query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    if let Some(sku) = &filters.sku {
        query = query.filter(products::sku.eq(sku.clone()));
    }
    if let Some(active) = filters.active {
        query = query.filter(products::active.eq(active));
    }
    let limit = page.limit.get() as usize;
    let rows: Vec<ProductRow> = queries::paged(query, &page.sort, page.after.as_ref(), limit as i64 + 1)?.load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// The live product holding this SKU, if one does.
pub fn with_sku(conn: &mut DbConnection, sku: &str) -> StoreResult<Option<String>> {
    Ok(products::table
        .filter(products::sku.eq(sku))
        .filter(products::deleted_at.is_null())
        .select(products::id)
        .first::<String>(conn)
        .optional()?)
}
