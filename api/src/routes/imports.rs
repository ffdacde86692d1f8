//! `/api/v1/imports`: upload a CSV file to become records in the background, follow its
//! progress, and download the rows it could not take.

use std::collections::BTreeMap;

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::activity::RecordType;
use domain::columns;
use domain::csv;
use domain::import::{DedupePolicy, ImportStatus};
use futures_util::StreamExt;
use persistence::imports::{self, Import};
use persistence::{DbConnection, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::credentials::content_hash;
use crate::error::{ApiError, CommonErrors, Problem, ReadErrors};
use crate::extract::{Caller, IdempotencyKey, NoParams};
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::{Created, create_idempotently, id_page, id_page_limit};
use app::imports::{CellProblem, ImportRequest};

/// Largest `options` part.
const OPTIONS_BYTES_MAX: usize = 64 * 1024;
/// Error report rows read per query while streaming the report.
const REPORT_PAGE: i64 = 500;

/// What to import and how: the `options` part of the upload, as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// The record type the rows become.
    pub record_type: RecordType,
    /// What a row does that names an existing record (`id` column) or looks like one (the
    /// record type's duplicate rules; leads: an open lead with the same email). Default `skip`.
    #[serde(default)]
    pub dedupe: DedupePolicy,
    /// Header → field (`first_name`, `address.city`, `custom_fields.budget`, `id`), or `null` to
    /// skip the column. Headers not listed are matched to a field by name, or to a custom field
    /// by key or label, ignoring case, spaces and dashes.
    #[serde(default)]
    #[schema(example = json!({"E-mail": "emails", "Internal notes": null}))]
    pub mapping: BTreeMap<String, Option<String>>,
}

/// The multipart form of an upload (its OpenAPI description).
pub struct ImportUpload;

impl PartialSchema for ImportUpload {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("options", Ref::from_schema_name("ImportOptions"))
            .required("options")
            .property(
                "file",
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                    .content_media_type("text/csv")
                    .description(
                    Some("The CSV file: UTF-8 (a byte order mark is fine), comma-separated, RFC 4180 quoting, a header row first."),
                ),
            )
            .required("file")
            .into()
    }
}

impl ToSchema for ImportUpload {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("ImportOptions".into(), ImportOptions::schema()));
    }
}

/// Rows taken so far, by outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportCounts {
    /// Rows taken or reported so far, of `total_rows`.
    pub processed: i64,
    pub created: i64,
    pub updated: i64,
    /// Rows that named or looked like an existing record, under policy `skip` (in the report,
    /// with the record they match).
    pub skipped: i64,
    /// Rows in the error report.
    pub failed: i64,
}

/// A column of the file and the field it fills.
#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnMapping {
    pub column: String,
    /// `null` for a skipped column.
    pub field: Option<String>,
}

/// An import and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    pub id: String,
    pub record_type: RecordType,
    pub status: ImportStatus,
    pub dedupe: DedupePolicy,
    pub file_name: Option<String>,
    pub columns: Vec<ColumnMapping>,
    /// Data rows in the file (the header not counted).
    pub total_rows: i64,
    pub counts: ImportCounts,
    /// Why a failed import stopped (rows taken before stay).
    pub error: Option<String>,
    /// The user who uploaded it; the records are created as them.
    pub created_by: String,
    /// The upload's request id, which every record change of the import carries in the audit log.
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where to download the failed and skipped rows as CSV.
    pub errors_url: String,
}

impl From<Import> for ImportView {
    fn from(import: Import) -> Self {
        let counts = import.counts;
        ImportView {
            errors_url: format!("/api/v1/imports/{}/errors", import.id),
            id: import.id,
            record_type: import.record_type,
            status: import.status,
            dedupe: import.dedupe,
            file_name: import.file_name,
            columns: import
                .headers
                .into_iter()
                .zip(import.mapping)
                .map(|(column, field)| ColumnMapping { column, field })
                .collect(),
            total_rows: import.total_rows,
            counts: ImportCounts {
                processed: counts.processed,
                created: counts.created,
                updated: counts.updated,
                skipped: counts.skipped,
                failed: counts.failed,
            },
            error: import.error,
            created_by: import.user_id,
            request_id: import.request_id,
            created_at: import.created_at,
            started_at: import.started_at,
            finished_at: import.finished_at,
        }
    }
}

/// What an upload's idempotency is judged by: its options and file.
#[derive(Serialize)]
struct UploadFingerprint<'a> {
    options: &'a ImportOptions,
    file_sha256: String,
}

fn multipart_error(error: MultipartError) -> ApiError {
    match error {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => ApiError::UnsupportedMediaType(
            "send the upload as multipart/form-data with parts `options` and `file`".into(),
        ),
        MultipartError::Payload(inner) => ApiError::bad_request(format!("the upload could not be read: {inner}")),
        other => ApiError::bad_request(format!("the multipart body is malformed: {other}")),
    }
}

async fn read_part(field: &mut Field, name: &str, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(multipart_error)?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!("`{name}` must be at most {limit} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The upload's parts: the options, the file and its name.
async fn read_upload(
    mut payload: Multipart,
    file_limit: usize,
) -> Result<(ImportOptions, Vec<u8>, Option<String>), ApiError> {
    let (mut options, mut file, mut file_name) = (None, None, None);
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(multipart_error)?;
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "options" if options.is_none() => {
                let bytes = read_part(&mut field, "options", OPTIONS_BYTES_MAX).await?;
                let parsed = serde_json::from_slice::<ImportOptions>(&bytes).map_err(|e| {
                    ApiError::bad_field("options", "invalid_json", format!("is not valid import options: {e}"))
                })?;
                options = Some(parsed);
            }
            "file" if file.is_none() => {
                file_name = field.content_disposition().and_then(|d| d.get_filename()).map(str::to_owned);
                file = Some(read_part(&mut field, "file", file_limit).await?);
            }
            "options" | "file" => return Err(ApiError::bad_field(&name, "repeated_part", "is sent more than once")),
            other => {
                return Err(ApiError::bad_field(
                    other,
                    "unknown_part",
                    "is not a part of an upload; send `options` and `file`",
                ));
            }
        }
    }
    let options = options.ok_or_else(|| ApiError::bad_field("options", "required", "is missing"))?;
    let file = file.ok_or_else(|| ApiError::bad_field("file", "required", "is missing"))?;
    Ok((options, file, file_name))
}

/// Uploads a CSV file to import.
#[utoipa::path(
    post, path = "/api/v1/imports", tag = "imports", operation_id = "create_import",
    summary = "Import a CSV file",
    description = "A `multipart/form-data` upload with two parts: `options` (JSON: `record_type`, `dedupe`, `mapping`) and `file` (UTF-8 CSV with a header row, at most `CRM_IMPORT_MAX_BYTES`, default 50 MiB; rows of at most 64 KiB). The file is checked at once (encoding, quoting, columns: 422 naming the problem, nothing stored), then imported in the background as the caller: answer 202 with the import, whose progress `GET /api/v1/imports/{id}` shows. Each row is created or updated exactly as POST and PATCH would (same validation, duplicate rules, assignment and scoring of leads, audit log with action `import`); a row that fails is reported in `/api/v1/imports/{id}/errors` and the others go on. Lists: `;` between values (`tags`, `emails`, `phones`, `contact_ids`); money: minor units and currency (`125000 EUR`). Example: `curl -F 'options={\"record_type\":\"contact\"};type=application/json' -F file=@contacts.csv`.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the upload safe to retry (1 to 255 characters)")),
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Accepted; `Location` names the import", body = ImportView,
            headers(("Location" = String, description = "URL of the import"))),
        (status = 400, description = "Malformed multipart body or options, unknown part or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not create records of this type", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file is not UTF-8 CSV, has broken quoting, no rows, or columns that match no field; or the Idempotency-Key was used with another upload", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let (options, file, file_name) = read_upload(payload, state.config.import_max_bytes).await?;
    let request = ImportRequest {
        record_type: options.record_type,
        dedupe: options.dedupe,
        mapping: options.mapping.clone(),
        file_name,
    };
    let body = serde_json::to_value(UploadFingerprint { options: &options, file_sha256: content_hash(&file) })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (checker, checking) = (caller.clone(), request.clone());
    // Parsed before the write transaction: a large file must not hold SQLite's writer lock.
    let checked = state.read(move |conn| Ok(app::imports::check_file(conn, &checker, &checking, &file)?)).await?;
    let for_write = caller.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/imports", &body, move |conn| {
        let import = app::imports::start(conn, &for_write, &request, &checked)?;
        let location = format!("/api/v1/imports/{}", import.id);
        let mut created = Created::answer(&ImportView::from(import), actix_web::http::StatusCode::ACCEPTED)?;
        created.location = Some(location);
        Ok(created)
    })
    .await
}

/// An import the caller may see: their own, or any for admins.
fn visible_import(conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<Import, ApiError> {
    match imports::find(conn, id) {
        Ok(import) if import.user_id == caller.principal.user_id || caller.principal.is_admin() => Ok(import),
        Ok(_) | Err(StoreError::NotFound) => Err(ApiError::not_found("import")),
        Err(other) => Err(other.into()),
    }
}

/// Reads an import's progress.
#[utoipa::path(
    get, path = "/api/v1/imports/{id}", tag = "imports", operation_id = "get_import", summary = "Get an import",
    description = "Status (`queued`, `running`, `completed`, `failed`) and progress: rows processed of `total_rows`, and how many were created, updated, skipped and failed. Visible to its uploader and to admins.",
    params(("id" = String, Path, description = "Import id"), NoParams),
    responses((status = 200, description = "The import", body = ImportView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let import = state.read(move |conn| visible_import(conn, &caller, &id)).await?;
    Ok(HttpResponse::Ok().json(ImportView::from(import)))
}

/// Paging of the import list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportListParams {
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists imports, newest first.
#[utoipa::path(
    get, path = "/api/v1/imports", tag = "imports", operation_id = "list_imports", summary = "List imports",
    description = "The caller's own imports; admins see everyone's. Newest first.",
    params(ImportListParams),
    responses((status = 200, description = "A page of imports", body = Page<ImportView>), crate::error::ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ImportListParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = id_page_limit(params.limit)?;
    let cursor = params.cursor.clone().filter(|c| !c.is_empty());
    let user = (!caller.principal.is_admin()).then(|| caller.principal.user_id.clone());
    let rows = state.read(move |conn| Ok(imports::list(conn, user.as_deref(), cursor.as_deref(), limit + 1)?)).await?;
    let (rows, next_cursor) = id_page(rows, limit, |import| &import.id);
    Ok(HttpResponse::Ok().json(Page { data: rows.into_iter().map(ImportView::from).collect::<Vec<_>>(), next_cursor }))
}

/// Downloads the rows an import did not take.
#[utoipa::path(
    get, path = "/api/v1/imports/{id}/errors", tag = "imports", operation_id = "import_errors",
    summary = "Download the rows an import did not take",
    description = "CSV of the rows that failed, and of those skipped as duplicates (naming the record they match): `row` (1 is the first row under the header), `line` (where it starts in the file), `errors` (`column: message` for each problem, `; ` between them), then the row's own cells under the file's headers, so fixing the cells and importing the file again (mapping `row`, `line` and `errors` to null) takes the rows that failed. Cells are formula-safe. Grows while the import runs.",
    params(("id" = String, Path, description = "Import id"), NoParams),
    responses(
        (status = 200, description = "The report", content_type = "text/csv", body = String, example = json!("row,line,errors,First name,E-mail\r\n3,4,E-mail: is not an email address,Ada,ada-at-engines\r\n")),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn errors(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let (import, report) = state
        .read(move |conn| {
            let import = visible_import(conn, &caller, &id)?;
            let mut report = String::new();
            let mut header: Vec<String> = vec!["row".into(), "line".into(), "errors".into()];
            header.extend(import.headers.iter().cloned());
            csv::write_line(&mut report, &header);
            let mut after = 0;
            loop {
                let page = imports::errors(conn, &import.id, after, REPORT_PAGE)?;
                for failed in &page {
                    report_line(&mut report, failed);
                }
                match page.last() {
                    Some(last) if page.len() as i64 == REPORT_PAGE => after = last.row_number,
                    _ => break,
                }
            }
            Ok((import, report))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"import-{}-errors.csv\"", import.id),
        ))
        .body(report))
}

fn report_line(report: &mut String, failed: &imports::RowError) {
    let problems: Vec<CellProblem> = serde_json::from_str(&failed.errors).unwrap_or_default();
    let summary = problems
        .iter()
        .map(|p| format!("{}: {}", p.column, p.message))
        .collect::<Vec<_>>()
        .join(columns::LIST_SEPARATOR);
    let mut line = vec![failed.row_number.to_string(), failed.line.to_string(), summary];
    let cells: Vec<String> = failed.cells.as_deref().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
    line.extend(cells);
    csv::write_line(report, &line);
}

/// Registers the import routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/imports").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/imports/{id}").route(web::get().to(get)))
        .service(web::resource("/imports/{id}/errors").route(web::get().to(errors)));
}
