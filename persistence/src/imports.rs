//! CSV import jobs: the uploaded file and its progress, claimed by one worker at a time under a
//! lease, and the report of the rows that could not be taken.
//!
//! Exactly-once in effect: a batch of rows is written in the same transaction as the progress
//! that covers it, and [`hold`] lets that transaction go on only while the worker holds the
//! lease at the position it read. A worker that crashed loses its open batch with it; the next
//! one resumes at the committed position once the lease has run out.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::activity::RecordType;
use domain::import::{DedupePolicy, ImportStatus};

use crate::error::{StoreError, StoreResult};
use crate::schema::{import_errors, import_files, imports};
use crate::{DbConnection, enum_text, from_db_time, new_id, text_enum, to_db_time};

/// An upload to store as a queued import.
#[derive(Debug, Clone)]
pub struct NewImport<'a> {
    pub record_type: RecordType,
    pub dedupe: DedupePolicy,
    pub file_name: Option<&'a str>,
    pub headers: &'a [String],
    /// The field each column fills (by name), `None` for a skipped column.
    pub mapping: &'a [Option<String>],
    pub content: &'a str,
    pub total_rows: i64,
    pub user_id: &'a str,
    pub api_key_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub client_address: Option<&'a str>,
}

/// Rows taken so far, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub processed: i64,
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
}

/// A stored import, without its file.
#[derive(Debug, Clone)]
pub struct Import {
    pub id: String,
    pub record_type: RecordType,
    pub status: ImportStatus,
    pub dedupe: DedupePolicy,
    pub file_name: Option<String>,
    pub headers: Vec<String>,
    pub mapping: Vec<Option<String>>,
    pub total_rows: i64,
    pub counts: Counts,
    /// Why a failed import stopped.
    pub error: Option<String>,
    pub user_id: String,
    pub api_key_id: Option<String>,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// An import as read (all but the file).
#[derive(Queryable, Selectable)]
#[diesel(table_name = imports)]
struct ImportRow {
    id: String,
    record_type: String,
    status: String,
    dedupe: String,
    file_name: Option<String>,
    headers: String,
    mapping: String,
    total_rows: i64,
    processed_rows: i64,
    created_count: i64,
    updated_count: i64,
    skipped_count: i64,
    failed_count: i64,
    error: Option<String>,
    user_id: String,
    api_key_id: Option<String>,
    request_id: Option<String>,
    client_address: Option<String>,
    created_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
}

fn into_import(row: ImportRow) -> StoreResult<Import> {
    Ok(Import {
        record_type: text_enum(&row.record_type)?,
        status: text_enum(&row.status)?,
        dedupe: text_enum(&row.dedupe)?,
        headers: serde_json::from_str(&row.headers)?,
        mapping: serde_json::from_str(&row.mapping)?,
        id: row.id,
        file_name: row.file_name,
        total_rows: row.total_rows,
        counts: Counts {
            processed: row.processed_rows,
            created: row.created_count,
            updated: row.updated_count,
            skipped: row.skipped_count,
            failed: row.failed_count,
        },
        error: row.error,
        user_id: row.user_id,
        api_key_id: row.api_key_id,
        request_id: row.request_id,
        client_address: row.client_address,
        created_at: from_db_time(row.created_at),
        started_at: row.started_at.map(from_db_time),
        finished_at: row.finished_at.map(from_db_time),
    })
}

/// Stores an upload as a queued import.
pub fn insert(conn: &mut DbConnection, new: &NewImport<'_>, now: DateTime<Utc>) -> StoreResult<Import> {
    let id = new_id();
    diesel::insert_into(imports::table)
        .values((
            imports::id.eq(&id),
            imports::record_type.eq(new.record_type.as_str()),
            imports::status.eq(enum_text(&ImportStatus::Queued)?),
            imports::dedupe.eq(enum_text(&new.dedupe)?),
            imports::file_name.eq(new.file_name),
            imports::headers.eq(serde_json::to_string(new.headers)?),
            imports::mapping.eq(serde_json::to_string(new.mapping)?),
            imports::total_rows.eq(new.total_rows),
            imports::user_id.eq(new.user_id),
            imports::api_key_id.eq(new.api_key_id),
            imports::request_id.eq(new.request_id),
            imports::client_address.eq(new.client_address),
            imports::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    diesel::insert_into(import_files::table)
        .values((import_files::import_id.eq(&id), import_files::content.eq(new.content)))
        .execute(conn)?;
    find(conn, &id)
}

/// One import.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<Import> {
    into_import(imports::table.filter(imports::id.eq(id)).select(ImportRow::as_select()).first(conn)?)
}

/// Imports newest first, only `user_id`'s when given, after the cursor id.
pub fn list(
    conn: &mut DbConnection,
    user_id: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Import>> {
    let mut query = imports::table.select(ImportRow::as_select()).order(imports::id.desc()).limit(limit).into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(imports::user_id.eq(user_id.to_owned()));
    }
    if let Some(before) = before {
        query = query.filter(imports::id.lt(before.to_owned()));
    }
    query.load::<ImportRow>(conn)?.into_iter().map(into_import).collect()
}

/// The uploaded file of an import that is still to run.
pub fn content(conn: &mut DbConnection, id: &str) -> StoreResult<String> {
    Ok(import_files::table.filter(import_files::import_id.eq(id)).select(import_files::content).first(conn)?)
}

/// Starts an import's run (again, after a crash): running from now on, started once.
/// `Stale` when it has finished.
pub fn begin(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    let live = || imports::table.filter(imports::id.eq(id)).filter(imports::status.eq_any(["queued", "running"]));
    let Some(started) = live().select(imports::started_at).first::<Option<NaiveDateTime>>(conn).optional()? else {
        return Err(StoreError::Stale);
    };
    diesel::update(live())
        .set((
            imports::status.eq(enum_text(&ImportStatus::Running)?),
            imports::started_at.eq(Some(started.unwrap_or(to_db_time(now)))),
        ))
        .execute(conn)?;
    Ok(())
}

/// Opens a batch: only while the import is running at `position` (the caller holds the job's
/// claim, renewed in the same transaction). `Stale` otherwise.
pub fn hold(conn: &mut DbConnection, id: &str, position: i64) -> StoreResult<()> {
    let held = imports::table
        .filter(imports::id.eq(id))
        .filter(imports::processed_rows.eq(position))
        .filter(imports::status.eq(enum_text(&ImportStatus::Running)?))
        .count()
        .get_result::<i64>(conn)?;
    if held == 0 { Err(StoreError::Stale) } else { Ok(()) }
}

/// Adds a batch's outcome to the progress (inside the batch's transaction, after [`hold`]).
pub fn advance(conn: &mut DbConnection, id: &str, batch: Counts) -> StoreResult<()> {
    diesel::update(imports::table.filter(imports::id.eq(id)))
        .set((
            imports::processed_rows.eq(imports::processed_rows + batch.processed),
            imports::created_count.eq(imports::created_count + batch.created),
            imports::updated_count.eq(imports::updated_count + batch.updated),
            imports::skipped_count.eq(imports::skipped_count + batch.skipped),
            imports::failed_count.eq(imports::failed_count + batch.failed),
        ))
        .execute(conn)?;
    Ok(())
}

/// Ends an import for good: completed, or failed with the reason. The file is dropped.
pub fn finish(
    conn: &mut DbConnection,
    id: &str,
    status: ImportStatus,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(imports::table.filter(imports::id.eq(id)))
        .set((
            imports::status.eq(enum_text(&status)?),
            imports::error.eq(error),
            imports::finished_at.eq(Some(to_db_time(now))),
        ))
        .execute(conn)?;
    diesel::delete(import_files::table.filter(import_files::import_id.eq(id))).execute(conn)?;
    Ok(())
}

/// A row an import could not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based, counting data rows only (the header is row 0).
    pub row_number: i64,
    /// The line of the file the row starts on.
    pub line: i64,
    /// `[{column, code, message}]` as JSON.
    pub errors: String,
    /// The row's cells as a JSON array (none when the row was too long to keep).
    pub cells: Option<String>,
}

/// Records rows an import could not take.
pub fn add_errors(conn: &mut DbConnection, id: &str, errors: &[RowError]) -> StoreResult<()> {
    for error in errors {
        diesel::insert_into(import_errors::table)
            .values((
                import_errors::import_id.eq(id),
                import_errors::row_number.eq(error.row_number),
                import_errors::line.eq(error.line),
                import_errors::errors.eq(&error.errors),
                import_errors::cells.eq(error.cells.as_deref()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// An import's failed rows in file order, after `after_row`.
pub fn errors(conn: &mut DbConnection, id: &str, after_row: i64, limit: i64) -> StoreResult<Vec<RowError>> {
    let rows: Vec<(i64, i64, String, Option<String>)> = import_errors::table
        .filter(import_errors::import_id.eq(id))
        .filter(import_errors::row_number.gt(after_row))
        .order(import_errors::row_number.asc())
        .limit(limit)
        .select((import_errors::row_number, import_errors::line, import_errors::errors, import_errors::cells))
        .load(conn)?;
    Ok(rows.into_iter().map(|(row_number, line, errors, cells)| RowError { row_number, line, errors, cells }).collect())
}

/// Finished imports older than `cutoff`, removed with their reports.
pub fn purge_finished_before(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> StoreResult<usize> {
    Ok(diesel::delete(imports::table.filter(imports::finished_at.lt(to_db_time(cutoff)))).execute(conn)?)
}
