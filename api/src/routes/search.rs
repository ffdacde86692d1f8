//! `POST /api/v1/{record type}/search`: the filter language over every record type.

use actix_web::HttpResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::access::Visibility;
use domain::activity::RecordType;
use domain::filter::{Catalogue, FieldValues, Filter, SearchSort};
use domain::listing::Limit;
use domain::record::Stored;
use persistence::search::{SearchPage, SearchPosition, SearchRequest};
use persistence::{DbConnection, StoreResult};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::records::{self, RecordData, RecordKind};
use crate::routes::common::Page;
use crate::state::AppState;

/// A search: a filter, optional text, one sort field and a page.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// The filter tree; none matches every record the caller can see.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<domain::filter_doc::FilterNode>)]
    pub filter: Option<serde_json::Value>,
    /// Text the record's searchable text must contain (as `q` on lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub q: Option<String>,
    /// One field, `-` for descending; any sortable standard or custom field. Empty values sort
    /// last; ties are broken by id. Default `-created_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "-custom_fields.budget")]
    pub sort: Option<String>,
    /// Page size, 1 to 100 (default 25).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page of the same search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// The cursor of a search page: the sort it was made for and where the page ended.
#[derive(Debug, Serialize, Deserialize)]
struct CursorToken {
    s: String,
    #[serde(flatten)]
    p: SearchPosition,
}

fn decode_cursor(raw: Option<&str>, sort: &SearchSort) -> Result<Option<SearchPosition>, ApiError> {
    let Some(raw) = raw.filter(|c| !c.is_empty()) else { return Ok(None) };
    let invalid = || ApiError::bad_field("cursor", "invalid_cursor", "is not a cursor returned by this search");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let token: CursorToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if token.s != sort_signature(sort) {
        return Err(ApiError::bad_field(
            "cursor",
            "cursor_mismatch",
            "was made for another sort order; start again without it",
        ));
    }
    Ok(Some(token.p))
}

fn sort_signature(sort: &SearchSort) -> String {
    format!("{}{}", if sort.descending { "-" } else { "" }, sort.field.name)
}

/// One record type as a search sees it.
pub struct Searchable<D: 'static> {
    pub kind: &'static RecordKind<D>,
    pub record_type: RecordType,
    pub search: fn(&mut DbConnection, &Visibility, &SearchRequest) -> StoreResult<SearchPage<D>>,
}

/// The catalogue a record type's filters are checked against, with the live custom fields.
pub fn catalogue(conn: &mut DbConnection, record_type: RecordType) -> Result<Catalogue, ApiError> {
    Ok(app::records::catalogue(conn, record_type)?)
}

/// A search's filter and sort, checked against the record type's catalogue (returned too).
pub fn parse(
    conn: &mut DbConnection,
    record_type: RecordType,
    filter: Option<&serde_json::Value>,
    sort: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Result<(Filter, SearchSort, Catalogue), ApiError> {
    let catalogue = catalogue(conn, record_type)?;
    let filter = match filter {
        Some(raw) => Filter::parse(raw, &catalogue, now)?,
        None => Filter::everything(),
    };
    let sort = SearchSort::parse(sort, &catalogue)?;
    Ok((filter, sort, catalogue))
}

/// Runs a search for the caller and answers a page.
pub async fn respond<D, V>(
    searchable: &'static Searchable<D>,
    state: &AppState,
    caller: &Caller,
    input: SearchInput,
) -> Result<HttpResponse, ApiError>
where
    D: RecordData,
    Stored<D>: FieldValues,
    V: Serialize + From<Stored<D>> + ToSchema,
{
    let visibility = records::authorize_list(caller, searchable.kind.spec.module, false)?;
    let limit = Limit::parse(input.limit).map_err(|e| ApiError::bad_field("limit", e.code, e.message))?;
    let q = domain::listing::parse_text_query(input.q.as_deref())
        .map_err(|e| ApiError::bad_field("q", e.code, e.message))?;
    let now = Utc::now();
    let related = records::related_visibility(caller);
    let (page, sort) = state
        .read(move |conn| {
            let (filter, sort, _) =
                parse(conn, searchable.record_type, input.filter.as_ref(), input.sort.as_deref(), now)?;
            let after = decode_cursor(input.cursor.as_deref(), &sort)?;
            let request = SearchRequest { filter, q, sort: sort.clone(), after, limit: limit.get(), related };
            Ok(((searchable.search)(conn, &visibility, &request)?, sort))
        })
        .await?;
    let next_cursor = page.items.last().filter(|_| page.more).map(|last| {
        let token = CursorToken {
            s: sort_signature(&sort),
            p: SearchPosition { value: sort.value_of(last), id: last.id.clone() },
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
    });
    Ok(HttpResponse::Ok().json(Page { data: page.items.into_iter().map(V::from).collect::<Vec<_>>(), next_cursor }))
}

/// Declares a record type's `POST /{collection}/search` handler (`search`), its OpenAPI
/// operation and its resource (`search_resource`), in the type's own routes module.
macro_rules! search_route {
    ($searchable:path, $view:ty, $collection:literal) => {
        #[doc = concat!("Search ", $collection, ".")]
        #[utoipa::path(
            post, path = concat!("/api/v1/", $collection, "/search"), tag = $collection,
            operation_id = concat!("search_", $collection), summary = concat!("Search ", $collection),
            description = "The filter language: AND/OR groups of `field op value` conditions over standard fields, custom fields (`custom_fields.<key>`) and related data, checked against the record type's fields (an unknown field or an operator that does not fit its type is 422 naming the node's path, such as `filter.and[1].op`). Only records the caller may read are searched. Keyset-paginated; one sort field.",
            params(crate::extract::NoParams),
            request_body(content = crate::routes::search::SearchInput, example = json!({"filter": {"and": [{"field": "lifecycle_stage", "op": "in", "value": ["retention", "loyalty"]}, {"or": [{"field": "company.industry", "op": "eq", "value": "Software"}, {"field": "activity.call", "op": "last_n_days", "value": 30}]}]}, "sort": "-updated_at", "limit": 25})),
            responses(
                (status = 200, description = "A page of matching records", body = crate::routes::common::Page<$view>),
                (status = 400, description = "Malformed JSON, unknown body field or bad cursor", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 403, description = "The role may not read these records", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 415, description = "Body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 422, description = "The filter or sort does not fit the record type", body = crate::error::Problem, content_type = "application/problem+json"),
                crate::error::CommonErrors,
            ),
            security(("bearer" = []))
        )]
        pub async fn search(
            state: actix_web::web::Data<crate::state::AppState>,
            caller: crate::extract::Caller,
            _: actix_web::web::Query<crate::extract::NoParams>,
            body: actix_web::web::Json<crate::routes::search::SearchInput>,
        ) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
            crate::routes::search::respond::<_, $view>(&$searchable, &state, &caller, body.into_inner()).await
        }

        /// The search resource, mounted before `/{id}` (which would match `search`).
        pub fn search_resource() -> actix_web::Resource {
            actix_web::web::resource(concat!("/", $collection, "/search")).route(actix_web::web::post().to(search))
        }
    };
}
pub(crate) use search_route;
