//! `/api/v1/articles`: the knowledge base. Written through the record type's declaration
//! (`domain::registry::ARTICLES`, `domain::article`) and the shared record flow; the ranked
//! search and the public reader (`/api/v1/public/articles`, when the installation allows it)
//! are here too. Every view carries the body rendered to HTML that is safe to show.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Module, Visibility};
use domain::article::{ArticleChanges, ArticleData, ArticleStatus};
use domain::record::Patch;
use persistence::DbConnection;
use persistence::articles::{self, Article, ArticleFilters};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use app::actor::Actor;
use app::error::AppError;
use app::imports::{Checked, Creation, Importable};
use app::kinds::ARTICLES;

use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, Problem, PublicErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records;
use crate::routes::common::Page;
use crate::state::AppState;

/// A knowledge-base article.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArticleView {
    pub id: String,
    #[schema(example = "Reset your password")]
    pub title: String,
    /// Markdown, as written.
    pub body: String,
    /// The body as HTML safe to show: raw HTML is escaped, unsafe links become `#`.
    pub body_html: String,
    pub category: Option<String>,
    #[schema(example = "en")]
    pub locale: String,
    pub status: ArticleStatus,
    pub related_ids: Vec<String>,
    /// The author.
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Vec<String>,
    /// Values of admin-defined custom fields, keyed by field key.
    #[schema(value_type = HashMap<String, Value>)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub published_at: Option<DateTime<Utc>>,
    /// Reads through the public reader.
    pub view_count: i64,
    /// "Helpful" votes through the public reader.
    pub helpful_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the article is deleted and restorable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Article> for ArticleView {
    fn from(article: Article) -> Self {
        let data = article.data;
        ArticleView {
            id: article.id,
            body_html: domain::article::render_html(&data.body),
            title: data.title,
            body: data.body,
            category: data.category,
            locale: data.locale,
            status: data.status,
            related_ids: data.related_ids,
            owner_id: data.owner_id,
            team_id: data.team_id,
            tags: data.tags.as_slice().to_vec(),
            custom_fields: data.custom_fields.to_map(),
            published_at: data.published_at,
            view_count: data.view_count,
            helpful_count: data.helpful_count,
            created_at: article.created_at,
            updated_at: article.updated_at,
            deleted_at: article.deleted_at,
        }
    }
}

/// Fields of an article to create (POST; `title` and `body` required) or change (PATCH, JSON
/// merge-patch: an absent field is kept, `null` clears it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleInput {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Reset your password")]
    pub title: Patch<String>,
    /// Markdown.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 100000)]
    pub body: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 100, example = "Accounts")]
    pub category: Patch<String>,
    /// A language tag (`en`, `de-CH`); default `en`.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, example = "en")]
    pub locale: Patch<String>,
    /// Default `draft`; publishing stamps `published_at` the first time.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<ArticleStatus>)]
    pub status: Patch<ArticleStatus>,
    /// Other articles you can see.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 20)]
    pub related_ids: Patch<Vec<String>>,
    /// The author; default the caller.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub tags: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub custom_fields: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl ArticleInput {
    fn changes(&self) -> ArticleChanges {
        ArticleChanges {
            title: self.title.clone(),
            body: self.body.clone(),
            category: self.category.clone(),
            locale: self.locale.clone(),
            status: self.status.clone(),
            related_ids: self.related_ids.clone(),
            owner_id: self.owner_id.clone(),
            team_id: self.team_id.clone(),
            tags: self.tags.clone(),
        }
    }
}

fn new_article(caller: &Actor, body: &ArticleInput) -> Result<ArticleData, AppError> {
    let mut changes = body.changes();
    app::records::default_owner(&mut changes.owner_id, caller);
    Ok(ArticleData::apply(None, changes, Utc::now())?)
}

fn patch_article(
    _: &mut DbConnection,
    _: &str,
    body: ArticleInput,
    current: &ArticleData,
) -> Result<ArticleData, AppError> {
    Ok(ArticleData::apply(Some(current), body.changes(), Utc::now())?)
}

/// Related articles must be articles the caller can see, and not the article itself.
fn check_related(
    conn: &mut DbConnection,
    caller: &Actor,
    id: Option<&str>,
    data: &ArticleData,
) -> Result<(), AppError> {
    for (index, related) in data.related_ids.iter().enumerate() {
        let field = format!("related_ids[{index}]");
        if Some(related.as_str()) == id {
            return Err(AppError::invalid(&field, "invalid", "an article is not related to itself"));
        }
        app::records::require_visible(conn, caller, &ARTICLES, &field, related)?;
    }
    Ok(())
}

/// Articles as CSV imports create and update them.
pub static IMPORT: Importable<ArticleData, ArticleInput> = Importable {
    kind: &ARTICLES,
    record_type: domain::activity::RecordType::Article,
    new: |_, caller, body| new_article(caller, body),
    custom: |body| body.custom_fields.clone(),
    create: Creation::Checked(Checked {
        check: |conn, caller, data| check_related(conn, caller, None, data),
        insert_many: persistence::articles::insert_many,
        match_keys: |_| Vec::new(),
        maybe_duplicated: None,
    }),
    patch: patch_article,
    changed: |conn, caller, id, _, after| check_related(conn, caller, Some(id), after),
    duplicate_of: app::imports::no_duplicates,
};

records::record_list_params!(
    ArticleListParams, "Case-insensitive text search over title, body and category." {
        status: Option<ArticleStatus>,
        /// Exact language tag.
        locale: Option<String>,
        /// Exact category.
        category: Option<String>,
    }
);

#[utoipa::path(
    get, path = "/api/v1/articles", tag = "articles", operation_id = "list_articles", summary = "List articles",
    description = "Keyset-paginated, filtered and sorted. Everyone reads the knowledge base; support agents write it.",
    params(ArticleListParams),
    responses((status = 200, description = "A page of articles", body = Page<ArticleView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ArticleListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Articles, params.deleted)?;
    let (common, page) = params.common()?;
    let filters = ArticleFilters { common, status: params.status, locale: params.locale, category: params.category };
    let request = page.clone();
    let result = state.read(move |conn| Ok(articles::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, ArticleView>(&page, result))
}

#[utoipa::path(
    post, path = "/api/v1/articles", tag = "articles", operation_id = "create_article", summary = "Create an article",
    description = "Send `Idempotency-Key` to make retries safe. The body is Markdown; the view carries it as safe HTML too.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = ArticleInput, example = json!({"title": "Reset your password", "body": "1. Open **Settings**\n2. Choose *Reset password*", "category": "Accounts", "status": "published"})),
    responses(
        (status = 201, description = "Created; `Location` names it and `ETag` is its version", body = ArticleView,
            headers(("Location" = String, description = "URL of the new article"), ("ETag" = String, description = "Version"))),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<ArticleInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.principal.may_in_module(Module::Articles, Action::Create)?;
    let data = new_article(&caller, &body)?;
    let input = app::records::WithCustom { data, custom: body.custom_fields.clone() };
    records::create::<_, ArticleView, _>(&ARTICLES, &state, &caller, key, &body, input, |conn, caller, data| {
        check_related(conn, caller, None, data)
    })
    .await
}

#[utoipa::path(
    get, path = "/api/v1/articles/{id}", tag = "articles", operation_id = "get_article", summary = "Get an article",
    description = "A deleted article answers 404.",
    params(("id" = String, Path, description = "Article id"), NoParams),
    responses(
        (status = 200, description = "The article; `ETag` is its version", body = ArticleView, headers(("ETag" = String, description = "Version"))),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, ArticleView>(&ARTICLES, &state, caller, id.into_inner()).await
}

#[utoipa::path(
    patch, path = "/api/v1/articles/{id}", tag = "articles", operation_id = "update_article", summary = "Update an article",
    description = "JSON merge-patch: absent fields are kept, `null` clears. Every version is in the article's history. Send `If-Match` with the ETag you read to refuse a lost update (412).",
    params(("id" = String, Path, description = "Article id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = ArticleInput, example = json!({"status": "archived"})),
    responses(
        (status = 200, description = "The changed article", body = ArticleView, headers(("ETag" = String, description = "New version"))),
        UpdateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<ArticleInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let custom = body.custom_fields.clone();
    records::update::<_, ArticleView>(
        &ARTICLES,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(custom, move |conn, id, current| patch_article(conn, id, body, current)),
        IMPORT.changed,
    )
    .await
}

#[utoipa::path(
    delete, path = "/api/v1/articles/{id}", tag = "articles", operation_id = "delete_article", summary = "Delete an article",
    description = "Soft delete; an admin can restore it until the retention period ends.",
    params(("id" = String, Path, description = "Article id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    records::delete::<_, ArticleView>(&ARTICLES, &state, caller, id.into_inner(), if_match).await
}

#[utoipa::path(
    post, path = "/api/v1/articles/{id}/restore", tag = "articles", operation_id = "restore_article", summary = "Restore a deleted article",
    description = "Admins only.",
    params(("id" = String, Path, description = "Article id"), NoParams),
    responses(
        (status = 200, description = "The restored article", body = ArticleView, headers(("ETag" = String, description = "New version"))),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, ArticleView>(&ARTICLES, &state, caller, id.into_inner()).await
}

/// A ranked search of the knowledge base.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RankedParams {
    /// Words to find in title, body and category (each of 3 or more characters; all must occur).
    #[param(example = "reset password")]
    pub q: String,
    pub status: Option<ArticleStatus>,
    pub locale: Option<String>,
    pub category: Option<String>,
    /// Only articles with this tag.
    pub tag: Option<String>,
    /// 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

/// The words of a ranked search: at least one, each of 3 or more characters.
fn words_of(q: &str) -> Result<Vec<String>, ApiError> {
    let words: Vec<String> =
        q.split_whitespace().filter(|w| w.chars().count() >= 3).map(str::to_lowercase).take(10).collect();
    if words.is_empty() || q.chars().count() > 200 {
        return Err(ApiError::bad_field("q", "invalid", "give 1 to 200 characters with a word of 3 or more"));
    }
    Ok(words)
}

fn ranked_limit(limit: Option<u32>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(10),
        Some(n @ 1..=50) => Ok(i64::from(n)),
        Some(_) => Err(ApiError::bad_field("limit", "out_of_range", "must be 1 to 50")),
    }
}

/// Ranked search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedPage {
    /// Best match first.
    pub data: Vec<ArticleView>,
}

#[utoipa::path(
    get, path = "/api/v1/articles/ranked", tag = "articles", operation_id = "rank_articles", summary = "Ranked knowledge-base search",
    description = "Articles holding every word, best match first: bm25 over the FTS5 index on SQLite, `ts_rank_cd` over the word index on PostgreSQL. For substring matching and paging use `q` on the list.",
    params(RankedParams),
    responses((status = 200, description = "The best matches", body = RankedPage), ListErrors),
    security(("bearer" = []))
)]
pub async fn ranked(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<RankedParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Articles, false)?;
    let (words, limit) = (words_of(&params.q)?, ranked_limit(params.limit)?);
    let (tag, _) = records::tag_and_query(params.tag.as_deref(), None)?;
    let common = domain::listing::CommonFilters { tag, ..Default::default() };
    let filters = ArticleFilters { common, status: params.status, locale: params.locale, category: params.category };
    let found = state.read(move |conn| Ok(articles::ranked(conn, &visibility, &words, &filters, limit)?)).await?;
    Ok(HttpResponse::Ok().json(RankedPage { data: found.into_iter().map(ArticleView::from).collect() }))
}

/// A public search of the published knowledge base.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PublicSearchParams {
    /// Words to find (each of 3 or more characters; all must occur).
    pub q: String,
    pub locale: Option<String>,
    /// 1 to 50 (default 10).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

/// A published article as the public reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicArticle {
    pub id: String,
    pub title: String,
    /// Safe HTML.
    pub body_html: String,
    pub category: Option<String>,
    pub locale: String,
    pub related_ids: Vec<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<Article> for PublicArticle {
    fn from(article: Article) -> Self {
        PublicArticle {
            id: article.id,
            body_html: domain::article::render_html(&article.data.body),
            title: article.data.title,
            category: article.data.category,
            locale: article.data.locale,
            related_ids: article.data.related_ids,
            published_at: article.data.published_at,
            updated_at: article.updated_at,
        }
    }
}

/// Public search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicPage {
    pub data: Vec<PublicArticle>,
}

fn public_allowed(state: &AppState) -> Result<(), ApiError> {
    if state.config.public_knowledge_base {
        Ok(())
    } else {
        Err(ApiError::NotFound("this installation publishes no knowledge base (CRM_PUBLIC_KNOWLEDGE_BASE)".into()))
    }
}

fn published() -> ArticleFilters {
    ArticleFilters { status: Some(ArticleStatus::Published), ..Default::default() }
}

#[utoipa::path(
    get, path = "/api/v1/public/articles", tag = "articles", operation_id = "search_public_articles", summary = "Search the public knowledge base",
    description = "Public: no login, when `CRM_PUBLIC_KNOWLEDGE_BASE` is on (404 otherwise). Published articles holding every word, best match first.",
    params(PublicSearchParams),
    responses(
        (status = 200, description = "The best matches", body = PublicPage),
        (status = 400, description = "A bad query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No public knowledge base here", body = Problem, content_type = "application/problem+json"),
        PublicErrors,
    )
)]
pub async fn public_search(
    state: web::Data<AppState>,
    params: web::Query<PublicSearchParams>,
) -> Result<HttpResponse, ApiError> {
    public_allowed(&state)?;
    let params = params.into_inner();
    let (words, limit) = (words_of(&params.q)?, ranked_limit(params.limit)?);
    let filters = ArticleFilters { locale: params.locale, ..published() };
    let found =
        state.read(move |conn| Ok(articles::ranked(conn, &Visibility::Everything, &words, &filters, limit)?)).await?;
    Ok(HttpResponse::Ok().json(PublicPage { data: found.into_iter().map(PublicArticle::from).collect() }))
}

async fn published_article(state: &AppState, id: String, helpful: bool) -> Result<Article, ApiError> {
    public_allowed(state)?;
    state
        .write(move |conn| {
            let article = articles::find(conn, &id, &Visibility::Everything).map_err(|e| ARTICLES.not_found(e))?;
            if article.data.status != ArticleStatus::Published {
                return Err(AppError::not_found("article").into());
            }
            articles::count(conn, &article.id, helpful)?;
            Ok(article)
        })
        .await
}

#[utoipa::path(
    get, path = "/api/v1/public/articles/{id}", tag = "articles", operation_id = "read_public_article", summary = "Read a published article",
    description = "Public: no login, when `CRM_PUBLIC_KNOWLEDGE_BASE` is on. Counts one view. Drafts, archived and deleted articles are 404.",
    params(("id" = String, Path, description = "Article id")),
    responses(
        (status = 200, description = "The article", body = PublicArticle),
        (status = 404, description = "No such published article", body = Problem, content_type = "application/problem+json"),
        PublicErrors,
    )
)]
pub async fn public_read(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let article = published_article(&state, id.into_inner(), false).await?;
    Ok(HttpResponse::Ok().json(PublicArticle::from(article)))
}

#[utoipa::path(
    post, path = "/api/v1/public/articles/{id}/helpful", tag = "articles", operation_id = "vote_public_article", summary = "Say a published article helped",
    description = "Public: no login, when `CRM_PUBLIC_KNOWLEDGE_BASE` is on. Counts one \"helpful\" vote; rate-limited per address like web forms.",
    params(("id" = String, Path, description = "Article id")),
    responses(
        (status = 204, description = "Counted"),
        (status = 404, description = "No such published article", body = Problem, content_type = "application/problem+json"),
        PublicErrors,
    )
)]
pub async fn public_helpful(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    published_article(&state, id.into_inner(), true).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Articles as searches and exports read them.
pub static SEARCHABLE: crate::routes::search::Searchable<ArticleData> = crate::routes::search::Searchable {
    kind: &ARTICLES,
    record_type: domain::activity::RecordType::Article,
    search: articles::search,
};
crate::routes::search::search_route!(SEARCHABLE, ArticleView, "articles");
crate::routes::exports::export_routes!(SEARCHABLE, ArticleView, "articles");
crate::routes::audit::history_route!(ARTICLES, "articles", "article");
crate::routes::batch::batch_route!(
    ArticleBatchOperation, ArticleBatch, ArticleInput, "articles",
    create: |_allow| NoParams {}
);

/// Registers the article routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(search_resource())
        .service(export_resource())
        .service(web::resource("/articles/ranked").route(web::get().to(ranked)))
        .service(web::resource("/articles").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/articles/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/articles/{id}/restore").route(web::post().to(restore)))
        .service(history_resource())
        .service(web::resource("/public/articles").route(web::get().to(public_search)))
        .service(web::resource("/public/articles/{id}").route(web::get().to(public_read)))
        .service(web::resource("/public/articles/{id}/helpful").route(web::post().to(public_helpful)));
}

/// The operations of articles, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, restore, ranked, public_search, public_read, public_helpful, search, export, export_search, history, batch),
    tags((name = "articles", description = "The knowledge base: Markdown articles rendered to safe HTML, ranked search, a public reader"))
)]
pub struct Doc;

/// Articles in the API: what is mounted, documented and imported.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::ARTICLES,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: Some(|conn, caller, rows, policy| {
        app::imports::import_rows::<_, _, ArticleView>(&IMPORT, conn, caller, rows, policy)
    }),
    patch: None,
};
