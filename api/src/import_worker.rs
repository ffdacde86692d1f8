//! CSV imports as jobs of the queue (kind `imports.run`): the run takes an import's rows in
//! batches, each row through its record type's [`Importable`].
//!
//! A batch commits with the progress that covers it and the job's renewed lease: a crash loses
//! only the open batch, which the worker that takes the job over redoes, so no row is lost or
//! taken twice. Each row runs in a savepoint, so a failed row is reported and the rest go on.

use app::actor::Actor;
use app::error::AppError;
use app::imports::{CellProblem, ImportStep, RunImport};
use app::jobs::{JobKind, JobRun};
use chrono::Utc;
use domain::activity::RecordType;
use domain::columns::{self, Target};
use domain::csv::{self, Row};
use domain::import::{ImportStatus, RowOutcome};
use persistence::imports::{self, Counts, Import, RowError};
use persistence::{DbConnection, StoreError};

use crate::error::ApiError;
use crate::extract::{RequestContext, principal_of};

/// The import step of a record type (its `Importable`, declared with its routes).
fn import_step(record_type: RecordType) -> Result<ImportStep, ApiError> {
    let step = crate::routes::record_api(domain::registry::linked(record_type)).and_then(|api| api.import);
    step.ok_or_else(|| ApiError::Internal(format!("{} has no import step", record_type.as_str())))
}

/// Imports as jobs of the queue (`app::imports::start` enqueues one per import).
pub static RUN_IMPORT: JobKind =
    JobKind { spec: app::imports::RUN, every: None, run: run_import, abandoned: Some(app::imports::abandoned) };

/// Why a batch did not commit.
enum Stop {
    /// The job is no longer this run's (its lease ran out and another worker took it).
    LostLease,
    /// The import cannot go on; it fails with this reason.
    Fail(String),
    /// The database is unavailable; the job is retried later from where it stands.
    Retry(ApiError),
}

impl From<ApiError> for Stop {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Unavailable(_) | ApiError::Contended(_) => Stop::Retry(error),
            ApiError::Internal(detail) => {
                log::error!("import batch failed: {detail}");
                Stop::Retry(ApiError::Internal(detail))
            }
            other => Stop::Fail(other.to_string()),
        }
    }
}

impl From<AppError> for Stop {
    fn from(error: AppError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Stale => Stop::LostLease,
            other => ApiError::from(other).into(),
        }
    }
}

/// Takes an import's rows batch by batch from where it stands, each batch in its own
/// transaction with the job's lease renewed in it: a process that dies loses only the open
/// batch, which the worker that takes the job over redoes. An import that cannot go on is
/// finished as failed (the job itself completes); a database outage fails the job, to be
/// retried later.
fn run_import(run: &JobRun<'_>) -> Result<(), String> {
    let RunImport { import_id } = serde_json::from_str(&run.job.payload).map_err(|e| format!("bad payload: {e}"))?;
    let store = run.store;
    let started = store.write(|conn| {
        imports::begin(conn, &import_id, Utc::now())?;
        imports::find(conn, &import_id)
    });
    let import = match started {
        Ok(import) => import,
        // Finished (or purged) already: nothing left to run.
        Err(StoreError::Stale | StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(error.to_string()),
    };
    let text = store.read(|conn| imports::content(conn, &import.id)).map_err(|e| e.to_string())?;
    let rows = match load_rows(&text) {
        Ok(rows) => rows,
        Err(reason) => return finish(run, &import.id, ImportStatus::Failed, Some(reason)),
    };
    let mut position = import.counts.processed;
    loop {
        let data_rows = rows.len().saturating_sub(1);
        if usize::try_from(position).unwrap_or(usize::MAX) >= data_rows {
            log::info!("import {} completed: {} rows", import.id, data_rows);
            return finish(run, &import.id, ImportStatus::Completed, None);
        }
        match batch(run, &import, &rows, position) {
            Ok(done) => position += done,
            Err(Stop::LostLease) => return Err("the job's lease was lost; another worker goes on".into()),
            Err(Stop::Fail(reason)) => {
                log::warn!("import {} failed: {reason}", import.id);
                return finish(run, &import.id, ImportStatus::Failed, Some(reason));
            }
            Err(Stop::Retry(error)) => return Err(format!("paused at row {position}: {error}")),
        }
    }
}

/// The file's rows (the header first), or why it cannot be read any more.
fn load_rows(text: &str) -> Result<Vec<Row>, String> {
    csv::parse(text).map_err(|e| format!("the stored file cannot be read: {e}"))
}

/// Ends the import while the job is still this run's (a cancelled job's import has ended).
fn finish(run: &JobRun<'_>, id: &str, status: ImportStatus, reason: Option<String>) -> Result<(), String> {
    match run.write_held(|conn| app::imports::finish(conn, id, status, reason.as_deref())) {
        Ok(Some(())) => Ok(()),
        Ok(None) => Err("the job is no longer this run's".into()),
        Err(error) => Err(error.to_string()),
    }
}

/// The caller an import acts as: its uploader with the rights they have now, and the upload's
/// request id and address for the audit trail.
fn acting_caller(conn: &mut DbConnection, import: &Import) -> Result<Actor, ApiError> {
    let key = match &import.api_key_id {
        Some(key_id) => {
            let key = persistence::auth::find_api_key(conn, key_id)?;
            if key.revoked_at().is_some() || key.expires_at().is_some_and(|at| at <= Utc::now()) {
                return Err(ApiError::Unauthorized(
                    "the API key that started this import was revoked or expired".into(),
                ));
            }
            Some(key)
        }
        None => None,
    };
    Ok(Actor {
        principal: principal_of(conn, &import.user_id, key.as_ref())?,
        session_id: None,
        context: RequestContext {
            request_id: import.request_id.clone(),
            client_address: import.client_address.clone(),
        },
        chain: None,
    })
}

/// The columns' fields, against the definitions as they are now.
fn targets(conn: &mut DbConnection, record_type: RecordType, import: &Import) -> Result<Vec<Option<Target>>, ApiError> {
    let custom = persistence::custom_fields::for_type(conn, record_type)?;
    import
        .mapping
        .iter()
        .zip(&import.headers)
        .map(|(field, header)| match field {
            None => Ok(None),
            Some(name) => Target::parse(record_type, &custom, name).map(Some).ok_or_else(|| {
                ApiError::Conflict(format!("column `{header}` maps to `{name}`, which no longer exists"))
            }),
        })
        .collect()
}

/// One batch in one transaction: the rows after `position`, their errors and the progress.
fn batch(run: &JobRun<'_>, import: &Import, rows: &[Row], position: i64) -> Result<i64, Stop> {
    let record_type = import.record_type;
    let start = usize::try_from(position).unwrap_or(usize::MAX).saturating_add(1);
    let batch_rows = rows.get(start..).unwrap_or_default();
    let batch_rows = &batch_rows[..batch_rows.len().min(run.worker.import_batch_rows.max(1))];
    let step = import_step(record_type)?;
    let done = run.write_held(|conn| {
        imports::hold(conn, &import.id, position)?;
        let caller = acting_caller(conn, import)?;
        let targets = targets(conn, record_type, import)?;
        let header = &import.headers;
        // Rows of the wrong shape are reported as they are; the others go through the step
        // together.
        let mut inputs = Vec::with_capacity(batch_rows.len());
        let read: Vec<Result<(), ApiError>> = batch_rows
            .iter()
            .map(|row| {
                domain::import::check_row(row, header.len())?;
                inputs.push(columns::read_row(header, &targets, &row.cells)?);
                Ok(())
            })
            .collect();
        let mut stepped = step(conn, &caller, inputs, import.dedupe).into_iter();
        let mut counts = Counts::default();
        let mut reported = Vec::new();
        for (offset, (row, read)) in batch_rows.iter().zip(read).enumerate() {
            let row_number = position + 1 + offset as i64;
            counts.processed += 1;
            let taken = read.and_then(|()| match stepped.next() {
                Some(outcome) => outcome.map_err(ApiError::from),
                None => Err(ApiError::Internal("the import step gave fewer outcomes than rows".into())),
            });
            match taken {
                Ok(RowOutcome::Created) => counts.created += 1,
                Ok(RowOutcome::Updated) => counts.updated += 1,
                Ok(RowOutcome::Skipped { existing }) => {
                    counts.skipped += 1;
                    let problem = CellProblem {
                        column: "row".into(),
                        code: "skipped_duplicate".into(),
                        message: format!(
                            "matches {} {existing}, so it was skipped (dedupe `skip`)",
                            record_type.as_str()
                        ),
                    };
                    reported.push(report_row(row, row_number, &[problem]));
                }
                Err(error @ (ApiError::Unavailable(_) | ApiError::Contended(_))) => return Err(Stop::Retry(error)),
                Err(error) => {
                    counts.failed += 1;
                    reported.push(report_row(row, row_number, &problems(import, &targets, row_number, &error)));
                }
            }
        }
        imports::add_errors(conn, &import.id, &reported)?;
        imports::advance(conn, &import.id, counts)?;
        Ok(counts.processed)
    })?;
    done.ok_or(Stop::LostLease)
}

/// Why a row failed, column by column where the error names fields.
fn problems(import: &Import, targets: &[Option<Target>], row_number: i64, error: &ApiError) -> Vec<CellProblem> {
    match error {
        ApiError::Unprocessable { errors, .. } | ApiError::BadRequest { errors, .. } if !errors.is_empty() => errors
            .iter()
            .map(|e| CellProblem {
                column: column_of(import, targets, &e.field),
                code: e.code.clone(),
                message: e.message.clone(),
            })
            .collect(),
        ApiError::Internal(detail) => {
            log::error!("import {} row {row_number}: {detail}", import.id);
            vec![CellProblem {
                column: "row".into(),
                code: "internal".into(),
                message: format!("could not be stored; quote import {} when reporting it", import.id),
            }]
        }
        other => {
            let problem = other.problem();
            vec![CellProblem {
                column: "row".into(),
                code: problem.problem_type.replace("/problems/", ""),
                message: problem.detail,
            }]
        }
    }
}

/// A row of the report: where it is, what became of it, and its cells (unless too long to keep).
fn report_row(row: &Row, row_number: i64, problems: &[CellProblem]) -> RowError {
    let fits = row.bytes <= csv::ROW_BYTES_MAX;
    RowError {
        row_number,
        line: row.line as i64,
        errors: serde_json::to_string(problems).unwrap_or_default(),
        cells: fits.then(|| serde_json::to_string(&row.cells).unwrap_or_default()),
    }
}

/// The header of the column a body field (`emails[1].email`, `custom_fields.budget`) came from.
fn column_of(import: &Import, targets: &[Option<Target>], field: &str) -> String {
    targets
        .iter()
        .zip(&import.headers)
        .filter_map(|(target, header)| target.as_ref().map(|t| (t.name(), header)))
        .find(|(name, _)| {
            field == name || field.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with(['.', '[']))
        })
        .map_or_else(|| field.to_owned(), |(_, header)| header.clone())
}
