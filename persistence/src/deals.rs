//! Deals storage, board figures and forecast rows.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::Visibility;
use domain::deal::{DealData, ForecastDeal};
use domain::listing::{CommonFilters, PageRequest};
use domain::record::{Page, Stored};
use domain::values::{Currency, Money, Tags};
use domain::win_history::{ClosedDeal, OpenDeal};

use crate::error::{StoreError, StoreResult};
use crate::schema::{deals, pipeline_stages, record_changes};
use crate::{DbConnection, from_db_time, text_enum, to_db_time};

crate::records::record_queries!(deals, DealRow, DealData, DealColumns);
crate::records::searchable_records!(deals, DealRow, DealData, domain::activity::RecordType::Deal);

/// A deal as stored.
pub type Deal = Stored<DealData>;

/// Filters specific to deal lists.
#[derive(Debug, Clone, Default)]
pub struct DealFilters {
    pub common: CommonFilters,
    pub pipeline_id: Option<String>,
    pub stage_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
}

#[derive(Queryable)]
struct DealRow {
    id: String,
    name: String,
    sort_name: String,
    amount_minor: Option<i64>,
    currency: Option<String>,
    expected_close_date: Option<NaiveDate>,
    pipeline_id: String,
    stage_id: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    company_id: Option<String>,
    contact_ids: String,
    next_step: Option<String>,
    close_reason: Option<String>,
    closed_at: Option<NaiveDateTime>,
    lead_id: Option<String>,
    tags: String,
    custom_fields: String,
    _search_text: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

fn stored_money(amount_minor: Option<i64>, currency: Option<String>) -> StoreResult<Option<Money>> {
    match (amount_minor, currency) {
        (Some(amount_minor), Some(currency)) => Ok(Some(Money {
            amount_minor,
            currency: Currency::parse("amount.currency", &currency)
                .map_err(|e| StoreError::Internal(format!("stored currency unreadable: {}", e.message)))?,
        })),
        _ => Ok(None),
    }
}

impl DealRow {
    fn into_domain(self) -> StoreResult<Deal> {
        let tags: Tags = serde_json::from_str(&self.tags)?;
        let contact_ids: Vec<String> = serde_json::from_str(&self.contact_ids)?;
        Ok(Stored {
            id: self.id,
            data: DealData {
                custom_fields: serde_json::from_str(&self.custom_fields)?,
                name: self.name,
                amount: stored_money(self.amount_minor, self.currency)?,
                expected_close_date: self.expected_close_date,
                pipeline_id: self.pipeline_id,
                stage_id: self.stage_id,
                owner_id: self.owner_id,
                team_id: self.team_id,
                company_id: self.company_id,
                contact_ids,
                next_step: self.next_step,
                close_reason: self.close_reason,
                closed_at: self.closed_at.map(from_db_time),
                lead_id: self.lead_id,
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
#[diesel(table_name = deals, treat_none_as_null = true)]
struct DealColumns {
    name: String,
    sort_name: String,
    amount_minor: Option<i64>,
    currency: Option<String>,
    expected_close_date: Option<NaiveDate>,
    pipeline_id: String,
    stage_id: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    company_id: Option<String>,
    contact_ids: String,
    next_step: Option<String>,
    close_reason: Option<String>,
    closed_at: Option<NaiveDateTime>,
    lead_id: Option<String>,
    tags: String,
    custom_fields: String,
    search_text: String,
}

impl DealColumns {
    fn from_data(data: &DealData) -> StoreResult<Self> {
        Ok(Self {
            name: data.name.clone(),
            sort_name: data.sort_name(),
            amount_minor: data.amount.as_ref().map(|m| m.amount_minor),
            currency: data.amount.as_ref().map(|m| m.currency.as_str().to_owned()),
            expected_close_date: data.expected_close_date,
            pipeline_id: data.pipeline_id.clone(),
            stage_id: data.stage_id.clone(),
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            company_id: data.company_id.clone(),
            contact_ids: serde_json::to_string(&data.contact_ids)?,
            next_step: data.next_step.clone(),
            close_reason: data.close_reason.clone(),
            closed_at: data.closed_at.map(to_db_time),
            lead_id: data.lead_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            custom_fields: serde_json::to_string(&data.custom_fields)?,
            search_text: data.search_text(),
        })
    }
}

fn filtered<'a>(
    visibility: &Visibility,
    filters: &DealFilters,
    conn: &mut crate::DbConnection,
) -> StoreResult<queries::Query<'a>> {
    let mut query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    if let Some(pipeline_id) = &filters.pipeline_id {
        query = query.filter(deals::pipeline_id.eq(pipeline_id.clone()));
    }
    if let Some(stage_id) = &filters.stage_id {
        query = query.filter(deals::stage_id.eq(stage_id.clone()));
    }
    if let Some(company_id) = &filters.company_id {
        query = query.filter(deals::company_id.eq(company_id.clone()));
    }
    if let Some(contact_id) = &filters.contact_id {
        // Contact ids are UUID text, so the JSON element is exactly `"id"`.
        query = query.filter(deals::contact_ids.like(crate::records::tag_pattern(contact_id)).escape('\\'));
    }
    Ok(query)
}

/// One page of deals the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &DealFilters,
    page: &PageRequest,
) -> StoreResult<Page<Deal>> {
    let limit = page.limit.get() as usize;
    let rows: Vec<DealRow> =
        queries::paged(filtered(visibility, filters, conn)?, &page.sort, page.after.as_ref(), limit as i64 + 1)?
            .load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// Count and amounts of the visible live deals in one stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageFigures {
    pub count: i64,
    /// Total amount per currency, in minor units, ordered by currency.
    pub totals: Vec<(String, i64)>,
}

/// Figures per stage of the visible live deals the filters select, in one query: one small
/// row per deal, summed here (a BIGINT sum is NUMERIC on PostgreSQL, which has no lossless
/// i64 mapping).
pub fn stage_figures(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &DealFilters,
) -> StoreResult<std::collections::BTreeMap<String, StageFigures>> {
    let rows: Vec<(String, Option<String>, Option<i64>)> = filtered(visibility, filters, conn)?
        .select((deals::stage_id, deals::currency, deals::amount_minor))
        .load(conn)?;
    let mut sums: std::collections::BTreeMap<String, (i64, std::collections::BTreeMap<String, i64>)> =
        std::collections::BTreeMap::new();
    for (stage_id, currency, amount) in rows {
        let (count, totals) = sums.entry(stage_id).or_default();
        *count += 1;
        if let (Some(currency), Some(amount)) = (currency, amount) {
            let total = totals.entry(currency).or_default();
            *total = total.saturating_add(amount);
        }
    }
    Ok(sums
        .into_iter()
        .map(|(stage, (count, totals))| (stage, StageFigures { count, totals: totals.into_iter().collect() }))
        .collect())
}

/// Amount, currency, expected close, closed at, stage kind and stage probability.
type ForecastRow = (Option<i64>, Option<String>, Option<NaiveDate>, Option<NaiveDateTime>, String, i32);

/// The visible deals a forecast needs: won deals closed in `[from, to]` and open deals
/// expected to close then, with their stage's kind and probability.
pub fn forecast_rows(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &DealFilters,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<Vec<ForecastDeal>> {
    let start = from.and_hms_opt(0, 0, 0).unwrap_or_default();
    let end = to.succ_opt().unwrap_or(to).and_hms_opt(0, 0, 0).unwrap_or_default();
    let stage_of =
        |kind: &'static str| pipeline_stages::table.filter(pipeline_stages::kind.eq(kind)).select(pipeline_stages::id);
    let ids: Vec<String> = filtered(visibility, filters, conn)?
        .filter(deals::amount_minor.is_not_null())
        .filter(
            deals::stage_id.eq_any(stage_of("won")).and(deals::closed_at.ge(start)).and(deals::closed_at.lt(end)).or(
                deals::stage_id
                    .eq_any(stage_of("open"))
                    .and(deals::expected_close_date.ge(from))
                    .and(deals::expected_close_date.le(to)),
            ),
        )
        .select(deals::id)
        .load(conn)?;
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let loaded: Vec<ForecastRow> = deals::table
            .inner_join(pipeline_stages::table.on(pipeline_stages::id.eq(deals::stage_id)))
            .filter(deals::id.eq_any(chunk))
            .select((
                deals::amount_minor,
                deals::currency,
                deals::expected_close_date,
                deals::closed_at,
                pipeline_stages::kind,
                pipeline_stages::probability,
            ))
            .load(conn)?;
        for (amount, currency, expected, closed_at, kind, probability) in loaded {
            if let (Some(amount_minor), Some(currency)) = (amount, currency) {
                rows.push(ForecastDeal {
                    kind: text_enum(&kind)?,
                    probability,
                    amount_minor,
                    currency,
                    expected_close_date: expected,
                    closed_on: closed_at.map(|t| t.date()),
                });
            }
        }
    }
    Ok(rows)
}

/// What the forecast from history reads: the visible deals closed (won or lost) since `since`
/// with their entries into open stages, and the visible open deals with an amount, each with
/// when it entered the stage it is in (its creation when no change says).
pub fn history_rows(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &DealFilters,
    since: DateTime<Utc>,
) -> StoreResult<(Vec<ClosedDeal>, Vec<OpenDeal>)> {
    let stage_of = |kinds: &'static [&'static str]| {
        pipeline_stages::table.filter(pipeline_stages::kind.eq_any(kinds)).select(pipeline_stages::id)
    };
    let closed_ids: Vec<String> = filtered(visibility, filters, conn)?
        .filter(deals::stage_id.eq_any(stage_of(&["won", "lost"])))
        .filter(deals::closed_at.ge(to_db_time(since)))
        .select(deals::id)
        .load(conn)?;
    let open_ids: Vec<String> = filtered(visibility, filters, conn)?
        .filter(deals::stage_id.eq_any(stage_of(&["open"])))
        .filter(deals::amount_minor.is_not_null())
        .select(deals::id)
        .load(conn)?;
    let mut closed = Vec::with_capacity(closed_ids.len());
    for chunk in closed_ids.chunks(500) {
        let deals_of_chunk: Vec<(String, String, String, Option<NaiveDateTime>)> = deals::table
            .inner_join(pipeline_stages::table.on(pipeline_stages::id.eq(deals::stage_id)))
            .filter(deals::id.eq_any(chunk))
            .select((deals::id, deals::pipeline_id, pipeline_stages::kind, deals::closed_at))
            .load(conn)?;
        let entries: Vec<(String, String, NaiveDateTime)> = record_changes::table
            .inner_join(pipeline_stages::table.on(pipeline_stages::id.eq(record_changes::to_value)))
            .filter(record_changes::record_type.eq("deal"))
            .filter(record_changes::field.eq("stage"))
            .filter(record_changes::record_id.eq_any(chunk))
            .filter(pipeline_stages::kind.eq("open"))
            .select((record_changes::record_id, record_changes::to_value, record_changes::changed_at))
            .load(conn)?;
        for (id, pipeline_id, kind, closed_at) in deals_of_chunk {
            let Some(closed_at) = closed_at else { continue };
            closed.push(ClosedDeal {
                pipeline_id,
                won: kind == "won",
                closed_at: from_db_time(closed_at),
                entered: entries
                    .iter()
                    .filter(|(deal, _, _)| *deal == id)
                    .map(|(_, stage, at)| (stage.clone(), from_db_time(*at)))
                    .collect(),
            });
        }
    }
    let mut open = Vec::with_capacity(open_ids.len());
    for chunk in open_ids.chunks(500) {
        type OpenRow = (String, String, String, i32, Option<i64>, Option<String>, Option<NaiveDate>, NaiveDateTime);
        let rows: Vec<OpenRow> = deals::table
            .inner_join(pipeline_stages::table.on(pipeline_stages::id.eq(deals::stage_id)))
            .filter(deals::id.eq_any(chunk))
            .select((
                deals::id,
                deals::pipeline_id,
                deals::stage_id,
                pipeline_stages::probability,
                deals::amount_minor,
                deals::currency,
                deals::expected_close_date,
                deals::created_at,
            ))
            .load(conn)?;
        let entries: Vec<(String, String, NaiveDateTime)> = record_changes::table
            .filter(record_changes::record_type.eq("deal"))
            .filter(record_changes::field.eq("stage"))
            .filter(record_changes::record_id.eq_any(chunk))
            .select((record_changes::record_id, record_changes::to_value, record_changes::changed_at))
            .load(conn)?;
        for (id, pipeline_id, stage_id, probability, amount, currency, expected, created_at) in rows {
            let (Some(amount_minor), Some(currency)) = (amount, currency) else { continue };
            let entered = entries
                .iter()
                .filter(|(deal, stage, _)| *deal == id && *stage == stage_id)
                .map(|(_, _, at)| *at)
                .max()
                .unwrap_or(created_at);
            open.push(OpenDeal {
                id,
                pipeline_id,
                stage_id,
                stage_probability: probability,
                amount_minor,
                currency,
                expected_close_date: expected,
                in_stage_since: from_db_time(entered),
            });
        }
    }
    Ok((closed, open))
}

/// Live and deleted deals in a stage (a stage with deals cannot simply be deleted).
pub fn count_in_stage(conn: &mut DbConnection, stage_id: &str) -> StoreResult<i64> {
    Ok(deals::table.filter(deals::stage_id.eq(stage_id)).count().get_result(conn)?)
}

/// Live and deleted deals in a pipeline.
pub fn count_in_pipeline(conn: &mut DbConnection, pipeline_id: &str) -> StoreResult<i64> {
    Ok(deals::table.filter(deals::pipeline_id.eq(pipeline_id)).count().get_result(conn)?)
}

/// Every deal in a stage, live and deleted, locked in id order: a stage deletion or a change
/// of the stage's kind re-applies the deal rule to each of them.
pub fn in_stage(conn: &mut DbConnection, stage_id: &str) -> StoreResult<Vec<Deal>> {
    let ids: Vec<String> =
        deals::table.filter(deals::stage_id.eq(stage_id)).select(deals::id).order(deals::id.asc()).load(conn)?;
    let locked: Vec<&str> = ids.iter().map(String::as_str).collect();
    crate::locks::lock_rows(conn, "deals", &locked)?;
    let rows: Vec<DealRow> = deals::table.filter(deals::id.eq_any(&ids)).order(deals::id.asc()).load(conn)?;
    rows.into_iter().map(crate::records::RecordRow::into_stored).collect()
}

/// Writes `data` over a deal, live or deleted, still at `version`; `Stale` otherwise.
pub fn rewrite(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    data: &DealData,
    now: DateTime<Utc>,
) -> StoreResult<Deal> {
    let row: Option<DealRow> = diesel::update(deals::table.filter(deals::id.eq(id).and(deals::version.eq(version))))
        .set((DealColumns::from_data(data)?, deals::version.eq(version + 1), deals::updated_at.eq(to_db_time(now))))
        .returning(deals::all_columns)
        .get_result(conn)
        .optional()?;
    crate::records::RecordRow::into_stored(row.ok_or(crate::StoreError::Stale)?)
}

/// Points every deal of one company at another (a company merge).
pub fn move_to_company(conn: &mut DbConnection, from: &str, to: &str, now: DateTime<Utc>) -> StoreResult<usize> {
    Ok(diesel::update(deals::table.filter(deals::company_id.eq(from)))
        .set((
            deals::company_id.eq(Some(to)),
            deals::version.eq(deals::version + 1),
            deals::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?)
}

/// Replaces one contact by another in every deal naming it (a contact merge).
pub fn replace_contact(conn: &mut DbConnection, from: &str, to: &str, now: DateTime<Utc>) -> StoreResult<usize> {
    let ids: Vec<String> = deals::table
        .filter(deals::contact_ids.like(crate::records::tag_pattern(from)).escape('\\'))
        .select(deals::id)
        .load(conn)?;
    for id in &ids {
        let deal = find_any(conn, id)?;
        let mut contact_ids: Vec<String> = Vec::new();
        for contact_id in deal.data.contact_ids.iter().map(|c| if c == from { to } else { c.as_str() }) {
            if !contact_ids.iter().any(|c| c == contact_id) {
                contact_ids.push(contact_id.to_owned());
            }
        }
        diesel::update(deals::table.filter(deals::id.eq(id)))
            .set((
                deals::contact_ids.eq(serde_json::to_string(&contact_ids)?),
                deals::version.eq(deals::version + 1),
                deals::updated_at.eq(to_db_time(now)),
            ))
            .execute(conn)?;
    }
    Ok(ids.len())
}

/// A deal live or deleted.
fn find_any(conn: &mut DbConnection, id: &str) -> StoreResult<Deal> {
    let row: DealRow = deals::table.filter(deals::id.eq(id)).first(conn)?;
    crate::records::RecordRow::into_stored(row)
}
