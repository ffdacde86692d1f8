//! `GET|POST /api/v1/{record type}/export`: the records a search selects, streamed as CSV with
//! the chosen columns, read page by page so an export of any size holds one page in memory.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use domain::access::Action;
use domain::audit::AuditAction;
use domain::columns::{self, Target};
use domain::csv;
use domain::filter::FieldValues;
use domain::record::Stored;
use persistence::search::{SearchPosition, SearchRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::extract::Caller;
use crate::records::RecordData;
use crate::routes::search::{self, Searchable};
use crate::state::AppState;
use app::audit;

/// Records read per query while streaming.
const EXPORT_PAGE: u32 = 500;

/// An export: which records (as a search selects them) and which columns.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    /// The filter tree of `/search`; none exports every record the caller may export.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<domain::filter_doc::FilterNode>)]
    pub filter: Option<serde_json::Value>,
    /// Text the record's searchable text must contain.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub q: Option<String>,
    /// One sortable field, `-` for descending (as in `/search`). Default `-created_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// The columns in order: `id`, standard fields (`first_name`, `address.city`) and
    /// `custom_fields.<key>`. Default: every standard column, then every active custom field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(["id", "first_name", "last_name", "emails", "custom_fields.budget"]))]
    pub columns: Option<Vec<String>>,
}

/// An export by query parameters: every record the caller may export, or those matching `q`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Comma-separated columns (see the POST form); default every column.
    #[param(example = "id,first_name,last_name,emails")]
    pub columns: Option<String>,
    /// Text search, as on the list.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// One sortable field, `-` for descending. Default `-created_at`.
    pub sort: Option<String>,
}

impl From<ExportParams> for ExportInput {
    fn from(params: ExportParams) -> Self {
        ExportInput {
            filter: None,
            q: params.q,
            sort: params.sort,
            columns: params.columns.map(|c| c.split(',').map(|name| name.trim().to_owned()).collect()),
        }
    }
}

fn chosen_columns(
    record_type: domain::activity::RecordType,
    custom: &[domain::custom::CustomFieldDefinition],
    names: Option<&[String]>,
) -> Result<Vec<Target>, ApiError> {
    let Some(names) = names else { return Ok(columns::all(record_type, custom)) };
    if names.is_empty() {
        return Err(ApiError::invalid_field("columns", "required", "must name at least one column"));
    }
    names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            Target::parse(record_type, custom, name).ok_or_else(|| {
                ApiError::invalid_field(
                    &format!("columns[{index}]"),
                    "unknown_field",
                    format!("`{name}` is not a column of this record type"),
                )
            })
        })
        .collect()
}

/// Checks the export, records it in the audit log, then streams the CSV.
pub async fn respond<D, V>(
    searchable: &'static Searchable<D>,
    state: web::Data<AppState>,
    caller: Caller,
    input: ExportInput,
) -> Result<HttpResponse, ApiError>
where
    D: RecordData,
    Stored<D>: FieldValues,
    V: Serialize + From<Stored<D>>,
{
    let module = searchable.kind.spec.module;
    caller.principal.may_in_module(module, Action::Export)?;
    let visibility = caller.principal.visibility(module, Action::Export);
    let related = crate::records::related_visibility(&caller);
    let q = domain::listing::parse_text_query(input.q.as_deref())
        .map_err(|e| ApiError::bad_field("q", e.code, e.message))?;
    let record_type = searchable.record_type;
    let (filter, sort, targets) = state
        .write(move |conn| {
            let (filter, sort, catalogue) =
                search::parse(conn, record_type, input.filter.as_ref(), input.sort.as_deref(), Utc::now())?;
            let targets = chosen_columns(record_type, &catalogue.custom, input.columns.as_deref())?;
            let names: Vec<String> = targets.iter().map(Target::name).collect();
            let detail = format!(
                "{} export; columns: {}; filter: {}; q: {}",
                searchable.kind.spec.noun,
                names.join(","),
                input.filter.as_ref().map_or_else(|| "none".to_owned(), ToString::to_string),
                input.q.as_deref().unwrap_or("none"),
            );
            let actor = (Some(caller.principal.user_id.as_str()), caller.principal.api_key_id.as_deref());
            audit::security(conn, &caller.context, AuditAction::Export, actor, None, Some(detail))?;
            Ok((filter, sort, targets))
        })
        .await?;
    let mut first_chunk = String::new();
    csv::write_line(&mut first_chunk, &targets.iter().map(Target::name).collect::<Vec<_>>());
    let targets = Arc::new(targets);
    let request = SearchRequest { filter, q, sort, after: None, limit: EXPORT_PAGE, related };
    // The first page is read before answering, so a query the database refuses is a problem
    // answer rather than a broken stream.
    let (rows, next) = page::<D, V>(&state, searchable, &visibility, &targets, request).await?;
    first_chunk.push_str(&rows);
    let first = futures_util::stream::once(async move { Ok::<_, actix_web::Error>(Bytes::from(first_chunk)) });
    let rest = futures_util::stream::unfold(next, move |request| {
        let (state, visibility, targets) = (state.clone(), visibility.clone(), targets.clone());
        async move {
            match page::<D, V>(&state, searchable, &visibility, &targets, request?).await {
                Ok((chunk, next)) => Some((Ok(Bytes::from(chunk)), next)),
                // The status line is sent already: end the stream with an error, so the client
                // sees a broken transfer rather than a file that silently stops.
                Err(error) => {
                    log::error!("export stopped: {error}");
                    Some((Err(actix_web::Error::from(error)), None))
                }
            }
        }
    });
    let file_name = format!("{}-{}.csv", searchable.kind.spec.collection, Utc::now().format("%Y-%m-%d"));
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")))
        .streaming(futures_util::StreamExt::chain(first, rest)))
}

/// One page of an export as CSV lines, and the request of the page after it (if any).
async fn page<D, V>(
    state: &AppState,
    searchable: &'static Searchable<D>,
    visibility: &domain::access::Visibility,
    targets: &Arc<Vec<Target>>,
    request: SearchRequest,
) -> Result<(String, Option<SearchRequest>), ApiError>
where
    D: RecordData,
    Stored<D>: FieldValues,
    V: Serialize + From<Stored<D>>,
{
    let (visibility, targets) = (visibility.clone(), targets.clone());
    state
        .read(move |conn| {
            let page = (searchable.search)(conn, &visibility, &request)?;
            let next = page.items.last().filter(|_| page.more).map(|last| SearchRequest {
                after: Some(SearchPosition { value: request.sort.value_of(last), id: last.id.clone() }),
                ..request.clone()
            });
            let mut chunk = String::new();
            for record in page.items {
                let view = serde_json::to_value(V::from(record)).map_err(|e| ApiError::Internal(e.to_string()))?;
                let view = view.as_object().cloned().unwrap_or_default();
                csv::write_line(&mut chunk, &columns::export_row(&view, &targets));
            }
            Ok((chunk, next))
        })
        .await
}

/// Declares a record type's `GET`/`POST /{collection}/export` handlers (`export`,
/// `export_search`), their OpenAPI operations and their resource (`export_resource`), in the
/// type's own routes module.
macro_rules! export_routes {
    ($searchable:path, $view:ty, $collection:literal) => {
        #[doc = concat!("Export ", $collection, " as CSV.")]
        #[utoipa::path(
            get, path = concat!("/api/v1/", $collection, "/export"), tag = $collection,
            operation_id = concat!("export_", $collection), summary = concat!("Export ", $collection, " as CSV"),
            description = "Streams every record the caller's export grant reaches (optionally matching `q`) as CSV with the chosen columns, in the order of `sort`. The header row holds the column names, which an import maps back by name, so an export imports again unchanged. Lists are `; `-separated, money is `minor units CURRENCY`. Cells a spreadsheet would run as a formula (starting with = + - @, tab or carriage return, except plain numbers) get a leading `'`. Needs the export permission; each export is recorded in the audit log.",
            params(crate::routes::exports::ExportParams),
            responses(
                (status = 200, description = "The CSV file", content_type = "text/csv", body = String, example = json!("id,name,tags,created_at\r\n0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61,Analytical Engines Ltd,customer; vip,2026-12-02T09:30:00Z\r\n")),
                (status = 400, description = "Unknown or malformed parameter", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 403, description = "The role may not export these records", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 422, description = "An unknown column or sort field", body = crate::error::Problem, content_type = "application/problem+json"),
                crate::error::CommonErrors,
            ),
            security(("bearer" = []))
        )]
        pub async fn export(
            state: actix_web::web::Data<crate::state::AppState>,
            caller: crate::extract::Caller,
            params: actix_web::web::Query<crate::routes::exports::ExportParams>,
        ) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
            crate::routes::exports::respond::<_, $view>(&$searchable, state, caller, params.into_inner().into()).await
        }

        #[doc = concat!("Export a search of ", $collection, " as CSV.")]
        #[utoipa::path(
            post, path = concat!("/api/v1/", $collection, "/export"), tag = $collection,
            operation_id = concat!("export_", $collection, "_search"),
            summary = concat!("Export a search of ", $collection, " as CSV"),
            description = "As the GET form, with the records selected by the filter language of `/search` (`filter`, `q`, `sort`) and the columns as a list.",
            params(crate::extract::NoParams),
            request_body(content = crate::routes::exports::ExportInput, example = json!({"filter": {"field": "tags", "op": "contains", "value": "vip"}, "columns": ["id", "first_name", "last_name", "emails"], "sort": "name"})),
            responses(
                (status = 200, description = "The CSV file", content_type = "text/csv", body = String, example = json!("id,name,tags,created_at\r\n0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61,Analytical Engines Ltd,customer; vip,2026-12-02T09:30:00Z\r\n")),
                (status = 400, description = "Malformed JSON, unknown body field or parameter", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 403, description = "The role may not export these records", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 415, description = "Body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 422, description = "The filter, sort or a column does not fit the record type", body = crate::error::Problem, content_type = "application/problem+json"),
                crate::error::CommonErrors,
            ),
            security(("bearer" = []))
        )]
        pub async fn export_search(
            state: actix_web::web::Data<crate::state::AppState>,
            caller: crate::extract::Caller,
            _: actix_web::web::Query<crate::extract::NoParams>,
            body: actix_web::web::Json<crate::routes::exports::ExportInput>,
        ) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
            crate::routes::exports::respond::<_, $view>(&$searchable, state, caller, body.into_inner()).await
        }

        /// The export resource, mounted before `/{id}` (which would match `export`).
        pub fn export_resource() -> actix_web::Resource {
            actix_web::web::resource(concat!("/", $collection, "/export"))
                .route(actix_web::web::get().to(export))
                .route(actix_web::web::post().to(export_search))
        }
    };
}
pub(crate) use export_routes;
