//! Knowledge-base articles storage, the ranked search (the one place its backends differ:
//! bm25 over the FTS5 index on SQLite, `ts_rank_cd` over the word index on PostgreSQL), and
//! the public reader's counters.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::Text;
use domain::access::Visibility;
use domain::article::{ArticleData, ArticleStatus};
use domain::listing::{CommonFilters, PageRequest};
use domain::record::{Page, Stored};
use domain::values::Tags;

use crate::connection::Backend;
use crate::error::StoreResult;
use crate::schema::articles;
use crate::sql::Dialect;
use crate::{DbConnection, enum_text, from_db_time, text_enum, to_db_time};

crate::records::record_queries!(articles, ArticleRow, ArticleData, ArticleColumns);
crate::records::searchable_records!(articles, ArticleRow, ArticleData, domain::activity::RecordType::Article);

/// An article as stored.
pub type Article = Stored<ArticleData>;

/// Filters specific to article lists and the ranked search.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilters {
    pub common: CommonFilters,
    pub status: Option<ArticleStatus>,
    pub locale: Option<String>,
    pub category: Option<String>,
}

#[derive(Queryable)]
struct ArticleRow {
    id: String,
    title: String,
    sort_name: String,
    body: String,
    category: Option<String>,
    locale: String,
    status: String,
    related_ids: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    custom_fields: String,
    _search_text: String,
    published_at: Option<NaiveDateTime>,
    view_count: i64,
    helpful_count: i64,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    deleted_at: Option<NaiveDateTime>,
}

impl ArticleRow {
    fn into_domain(self) -> StoreResult<Article> {
        let tags: Tags = serde_json::from_str(&self.tags)?;
        Ok(Stored {
            id: self.id,
            data: ArticleData {
                custom_fields: serde_json::from_str(&self.custom_fields)?,
                title: self.title,
                body: self.body,
                category: self.category,
                locale: self.locale,
                status: text_enum(&self.status)?,
                related_ids: serde_json::from_str(&self.related_ids)?,
                owner_id: self.owner_id,
                team_id: self.team_id,
                tags,
                published_at: self.published_at.map(from_db_time),
                view_count: self.view_count,
                helpful_count: self.helpful_count,
            },
            version: self.version,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            deleted_at: self.deleted_at.map(from_db_time),
        })
    }
}

/// The columns an edit writes; the counters are the public reader's and stay as they are.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = articles, treat_none_as_null = true)]
struct ArticleColumns {
    title: String,
    sort_name: String,
    body: String,
    category: Option<String>,
    locale: String,
    status: String,
    related_ids: String,
    owner_id: Option<String>,
    team_id: Option<String>,
    tags: String,
    custom_fields: String,
    search_text: String,
    published_at: Option<NaiveDateTime>,
}

impl ArticleColumns {
    fn from_data(data: &ArticleData) -> StoreResult<Self> {
        Ok(Self {
            title: data.title.clone(),
            sort_name: data.sort_name(),
            body: data.body.clone(),
            category: data.category.clone(),
            locale: data.locale.clone(),
            status: enum_text(&data.status)?,
            related_ids: serde_json::to_string(&data.related_ids)?,
            owner_id: data.owner_id.clone(),
            team_id: data.team_id.clone(),
            tags: serde_json::to_string(&data.tags)?,
            custom_fields: serde_json::to_string(&data.custom_fields)?,
            search_text: data.search_text(),
            published_at: data.published_at.map(to_db_time),
        })
    }
}

fn narrowed<'a>(mut query: queries::Query<'a>, filters: &ArticleFilters) -> StoreResult<queries::Query<'a>> {
    if let Some(status) = &filters.status {
        query = query.filter(articles::status.eq(enum_text(status)?));
    }
    if let Some(locale) = &filters.locale {
        query = query.filter(articles::locale.eq(locale.clone()));
    }
    if let Some(category) = &filters.category {
        query = query.filter(articles::category.eq(category.clone()));
    }
    Ok(query)
}

/// One page of articles the visibility reaches, filtered and sorted.
pub fn list(
    conn: &mut DbConnection,
    visibility: &Visibility,
    filters: &ArticleFilters,
    page: &PageRequest,
) -> StoreResult<Page<Article>> {
    let query = queries::filtered(queries::visible(visibility, filters.common.deleted), &filters.common, conn)?;
    let limit = page.limit.get() as usize;
    let rows: Vec<ArticleRow> =
        queries::paged(narrowed(query, filters)?, &page.sort, page.after.as_ref(), limit as i64 + 1)?.load(conn)?;
    crate::records::into_page(rows, &page.sort, limit)
}

/// The most candidates the ranked search ranks before visibility and filters narrow them.
const RANKED_CANDIDATES: i64 = 500;

/// Live articles the visibility reaches that hold every word of `words` (each 3 or more
/// characters, lower-cased), best first, at most `limit`.
pub fn ranked(
    conn: &mut DbConnection,
    visibility: &Visibility,
    words: &[String],
    filters: &ArticleFilters,
    limit: i64,
) -> StoreResult<Vec<Article>> {
    #[derive(QueryableByName)]
    struct Hit {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let at = crate::sql::placeholder(conn, 1);
    let (statement, term) = match Dialect::of(conn).0 {
        Backend::Sqlite => {
            // Each word a quoted phrase (a `"` doubled), all required: FTS5's implicit AND.
            let phrases: Vec<String> = words.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
            (
                format!(
                    "SELECT a.id AS id FROM articles_search s JOIN articles a ON a.rowid = s.rowid \
                     WHERE articles_search MATCH {at} AND a.deleted_at IS NULL \
                     ORDER BY bm25(articles_search), a.id LIMIT {RANKED_CANDIDATES}"
                ),
                phrases.join(" "),
            )
        }
        Backend::Postgres => (
            format!(
                "SELECT id FROM articles WHERE deleted_at IS NULL \
                 AND to_tsvector('simple', search_text) @@ plainto_tsquery('simple', {at}) \
                 ORDER BY ts_rank_cd(to_tsvector('simple', search_text), plainto_tsquery('simple', {at})) DESC, id \
                 LIMIT {RANKED_CANDIDATES}"
            ),
            words.join(" "),
        ),
    };
    let hits: Vec<Hit> = diesel::sql_query(statement).into_boxed::<crate::Db>().bind::<Text, _>(term).load(conn)?;
    let ids: Vec<String> = hits.into_iter().map(|hit| hit.id).collect();
    let candidates = queries::filtered(queries::visible(visibility, false), &filters.common, conn)?;
    let rows: Vec<ArticleRow> = narrowed(candidates, filters)?.filter(articles::id.eq_any(&ids)).load(conn)?;
    let mut found: Vec<Article> = rows.into_iter().map(ArticleRow::into_domain).collect::<StoreResult<_>>()?;
    found.sort_by_key(|article| ids.iter().position(|id| *id == article.id));
    found.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(found)
}

/// Counts one read by the public, or one "helpful" vote, without touching the version.
pub fn count(conn: &mut DbConnection, id: &str, helpful: bool) -> StoreResult<()> {
    let article = articles::table.filter(articles::id.eq(id));
    if helpful {
        diesel::update(article).set(articles::helpful_count.eq(articles::helpful_count + 1)).execute(conn)?;
    } else {
        diesel::update(article).set(articles::view_count.eq(articles::view_count + 1)).execute(conn)?;
    }
    Ok(())
}
