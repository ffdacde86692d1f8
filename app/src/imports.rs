//! CSV imports: a file is checked and its import started ([`check_file`], [`start`]); then
//! each row goes through the row step, which a record type declares as an [`Importable`] (the
//! same steps its POST and PATCH take); `import_worker` runs the jobs.

use std::collections::BTreeMap;

use chrono::Utc;
use domain::access::Action;
use domain::activity::RecordType;
use domain::audit::AuditAction;
use domain::columns::{self, RowInput};
use domain::csv;
use domain::import::{DedupePolicy, ImportStatus, RowOutcome};
use domain::record::{Patch, Stored};
use persistence::imports::{self, Import, NewImport};
use persistence::{DbConnection, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::actor::Actor;
use crate::error::AppError;
use crate::events::{self, Cause, Happened};
use crate::jobs::{self, Enqueue, JobSpec};
use crate::records::{self, CheckFn, RecordData, RecordKind, WithCustom};
use persistence::InsertManyFn;

/// What a new import asks for.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub record_type: RecordType,
    pub dedupe: DedupePolicy,
    /// Header → field name, or `None` to skip the column; other headers are matched by name.
    pub mapping: BTreeMap<String, Option<String>>,
    pub file_name: Option<String>,
}

/// A file checked for import: its text, header, the field each column fills, and its size.
#[derive(Debug, Clone)]
pub struct CheckedFile {
    headers: Vec<String>,
    mapping: Vec<Option<String>>,
    content: String,
    total_rows: i64,
}

fn file_error(code: &'static str, message: String) -> AppError {
    AppError::invalid("file", code, message)
}

/// Reads the file as strict CSV and resolves its columns for a record type the actor may
/// create: anything that would make every row wrong is refused here, before anything is stored.
pub fn check_file(
    conn: &mut DbConnection,
    actor: &Actor,
    request: &ImportRequest,
    bytes: &[u8],
) -> Result<CheckedFile, AppError> {
    actor.principal.may_in_module(domain::registry::linked(request.record_type).module, Action::Create)?;
    let text = csv::decode(bytes).map_err(|e| file_error(e.code(), e.to_string()))?;
    let rows = csv::parse(text).map_err(|e| file_error(e.code(), e.to_string()))?;
    let header = rows.first().ok_or_else(|| file_error("empty_file", csv::FileError::Empty.to_string()))?;
    domain::import::check_header(header)?;
    if rows.len() < 2 {
        return Err(file_error("no_rows", "the file has a header but no rows".into()));
    }
    let custom = persistence::custom_fields::for_type(conn, request.record_type)?;
    let targets = columns::resolve(request.record_type, &custom, &header.cells, &request.mapping)?;
    if request.dedupe == DedupePolicy::Create && targets.iter().flatten().any(|t| *t == columns::Target::Id) {
        return Err(AppError::invalid(
            "dedupe",
            "id_with_create",
            "an `id` column names records to skip or update; use dedupe `skip` or `update`, or skip the column",
        ));
    }
    Ok(CheckedFile {
        headers: header.cells.clone(),
        mapping: targets.iter().map(|t| t.as_ref().map(columns::Target::name)).collect(),
        content: text.to_owned(),
        total_rows: i64::try_from(rows.len() - 1).unwrap_or(i64::MAX),
    })
}

/// The job that runs an import (`api::import_worker` runs it: the record types' import steps
/// are declared with their routes).
pub const RUN: JobSpec = JobSpec { name: "imports.run", max_attempts: 20 };

/// What an import's job names.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RunImport {
    pub import_id: String,
}

/// Fails an import whose job was given up on (cancelled, or out of attempts), unless it ended.
pub fn abandoned(conn: &mut DbConnection, payload: &str, why: &str) -> Result<(), AppError> {
    let run: RunImport = serde_json::from_str(payload)?;
    match imports::find(conn, &run.import_id) {
        Ok(import) if matches!(import.status, ImportStatus::Queued | ImportStatus::Running) => {
            finish(conn, &import.id, ImportStatus::Failed, Some(why))
        }
        Ok(_) | Err(StoreError::NotFound) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

/// Stores the import of a checked file and enqueues its job in the same transaction, to be run
/// in the background as the actor.
pub fn start(
    conn: &mut DbConnection,
    actor: &Actor,
    request: &ImportRequest,
    file: &CheckedFile,
) -> Result<Import, AppError> {
    actor.principal.may_in_module(domain::registry::linked(request.record_type).module, Action::Create)?;
    let new = NewImport {
        record_type: request.record_type,
        dedupe: request.dedupe,
        file_name: request.file_name.as_deref(),
        headers: &file.headers,
        mapping: &file.mapping,
        content: &file.content,
        total_rows: file.total_rows,
        user_id: &actor.principal.user_id,
        api_key_id: actor.principal.api_key_id.as_deref(),
        request_id: actor.context.request_id.as_deref(),
        client_address: actor.context.client_address.as_deref(),
    };
    let import = imports::insert(conn, &new, Utc::now())?;
    let options = Enqueue { unique_key: Some(&import.id), ..Enqueue::default() };
    jobs::enqueue(conn, &RUN, &RunImport { import_id: import.id.clone() }, &options)?;
    Ok(import)
}

/// Stores new record data in the caller's transaction, audited as the given action.
pub type InsertFn<D> = fn(&mut DbConnection, &Actor, WithCustom<D>, AuditAction) -> Result<Stored<D>, AppError>;

/// A batch of CSV rows through a record type's [`Importable`], in the batch's transaction:
/// one outcome per row, in order.
pub type ImportStep = fn(&mut DbConnection, &Actor, Vec<RowInput>, DedupePolicy) -> Vec<Result<RowOutcome, AppError>>;

/// How a record type stores an imported row's new record.
pub enum Creation<D: 'static> {
    /// As POST does with the shared flow (`records::create_in`): the type's reference checks,
    /// then the insert; many rows can be checked and stored at once, those whose match keys
    /// (what its `duplicate_of` compares) no earlier row of the batch shares.
    Checked(Checked<D>),
    /// By the type's own step, one row at a time (leads: assignment and scoring follow).
    Own(InsertFn<D>),
}

/// See [`Creation::Checked`].
pub struct Checked<D: 'static> {
    pub check: CheckFn<D>,
    pub insert_many: InsertManyFn<D>,
    pub match_keys: MatchKeysFn<D>,
    /// Which of many new records may have a stored duplicate (`false`: certainly none), so
    /// only those are looked up one by one; without it every row is.
    pub maybe_duplicated: Option<MaybeDuplicatedFn<D>>,
}

/// How rows of one record type become records: the steps its POST and PATCH take.
pub struct Importable<D: 'static, I: 'static> {
    pub kind: &'static RecordKind<D>,
    pub record_type: RecordType,
    /// New record data from a create body, as POST parses it.
    pub new: fn(&mut DbConnection, &Actor, &I) -> Result<D, AppError>,
    /// The custom field values a body carries.
    pub custom: fn(&I) -> Patch<Map<String, Value>>,
    /// Stores new data as POST does (references checked, what follows recorded), audited as
    /// an import.
    pub create: Creation<D>,
    /// The data after a merge-patch body, as PATCH computes it.
    pub patch: fn(&mut DbConnection, &str, I, &D) -> Result<D, AppError>,
    /// PATCH's checks and follow-ups of a change.
    pub changed: fn(&mut DbConnection, &Actor, &str, &D, &D) -> Result<(), AppError>,
    /// The visible record new data looks like (the type's duplicate rules), if any.
    pub duplicate_of: fn(&mut DbConnection, &Actor, &D) -> Result<Option<String>, AppError>,
}

/// For record types without duplicate rules (deals): only an `id` column names an existing one.
pub fn no_duplicates<D>(_: &mut DbConnection, _: &Actor, _: &D) -> Result<Option<String>, AppError> {
    Ok(None)
}

fn body_of<I: DeserializeOwned>(body: Map<String, Value>) -> Result<I, AppError> {
    serde_json::from_value(Value::Object(body))
        .map_err(|error| AppError::invalid("row", "invalid", format!("cannot be read: {error}")))
}

/// A batch of rows, in order: one outcome per row. A type that stores new records through the
/// shared flow has its new rows checked and stored together ([`records::create_many_in`]),
/// duplicates looked up only for rows its prefilter cannot rule out; rows that could depend on
/// another row of the batch (they share a match key with an earlier row), rows that update a
/// record, and every row of a batch with an `id` column go one by one after them, as do all
/// rows should storing them together fail (a unique index two rows collide on, say: it is
/// rolled back first). Each row that goes alone runs in a savepoint, so a failed row changes
/// nothing.
pub fn import_rows<D, I, V>(
    steps: &Importable<D, I>,
    conn: &mut DbConnection,
    caller: &Actor,
    rows: Vec<RowInput>,
    policy: DedupePolicy,
) -> Vec<Result<RowOutcome, AppError>>
where
    D: RecordData,
    I: DeserializeOwned,
    V: Serialize + From<Stored<D>>,
{
    let mut outcomes: Vec<Option<Result<RowOutcome, AppError>>> = match &steps.create {
        Creation::Checked(checked) if rows.iter().all(|row| row.id.is_none()) => {
            let together = persistence::store::savepoint(conn, |conn| {
                store_together::<D, I, V>(steps, conn, caller, &rows, policy, checked)
            });
            together.unwrap_or_else(|error| {
                log::info!("an import batch goes row by row: stored together it failed with {error}");
                rows.iter().map(|_| None).collect()
            })
        }
        _ => rows.iter().map(|_| None).collect(),
    };
    for (slot, row) in outcomes.iter_mut().zip(rows) {
        if slot.is_none() {
            let alone =
                persistence::store::savepoint(conn, |conn| import_row::<D, I, V>(steps, conn, caller, row, policy));
            *slot = Some(alone);
        }
    }
    outcomes
        .into_iter()
        .map(|slot| slot.unwrap_or_else(|| Err(AppError::Internal("a row was not taken".into()))))
        .collect()
}

/// The match keys of new data (equal keys are how a duplicate is found).
pub type MatchKeysFn<D> = fn(&D) -> Vec<String>;

/// Which of many new records may have a stored duplicate.
pub type MaybeDuplicatedFn<D> = fn(&mut DbConnection, &[&D]) -> Result<Vec<bool>, AppError>;

/// The rows of a batch that depend on no other row, stored together: `None` for each row left
/// to go alone afterwards.
fn store_together<D, I, V>(
    steps: &Importable<D, I>,
    conn: &mut DbConnection,
    caller: &Actor,
    rows: &[RowInput],
    policy: DedupePolicy,
    together: &Checked<D>,
) -> Result<Vec<Option<Result<RowOutcome, AppError>>>, AppError>
where
    D: RecordData,
    I: DeserializeOwned,
    V: Serialize + From<Stored<D>>,
{
    let read: Vec<Result<WithCustom<D>, AppError>> =
        rows.iter().map(|row| new_input(steps, conn, caller, row.body.clone())).collect();
    let looked_up = policy != DedupePolicy::Create;
    let mut maybe = match together.maybe_duplicated {
        Some(prefilter) if looked_up => {
            let data: Vec<&D> = read.iter().filter_map(|new| new.as_ref().ok()).map(|new| &new.data).collect();
            prefilter(conn, &data)?
        }
        _ => Vec::new(),
    }
    .into_iter();
    let mut earlier_keys = std::collections::HashSet::new();
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut creating = Vec::with_capacity(rows.len());
    for new in read {
        let new = match new {
            Ok(new) => new,
            Err(error) => {
                outcomes.push(Some(Err(error)));
                continue;
            }
        };
        let may_have_duplicate = looked_up && maybe.next().unwrap_or(true);
        let keys = (together.match_keys)(&new.data);
        let alone = keys.iter().any(|key| earlier_keys.contains(key));
        earlier_keys.extend(keys);
        if alone {
            outcomes.push(None);
            continue;
        }
        let duplicate = if may_have_duplicate { (steps.duplicate_of)(conn, caller, &new.data) } else { Ok(None) };
        match duplicate {
            Err(error) => outcomes.push(Some(Err(error))),
            Ok(Some(existing)) if policy == DedupePolicy::Skip => {
                outcomes.push(Some(Ok(RowOutcome::Skipped { existing })))
            }
            Ok(Some(_)) => outcomes.push(None),
            Ok(None) => {
                creating.push(new);
                outcomes.push(Some(Ok(RowOutcome::Created)));
            }
        }
    }
    let created = records::create_many_in::<D, V>(
        conn,
        steps.kind,
        caller,
        creating,
        (together.check, together.insert_many),
        AuditAction::Import,
    )?;
    let mut created = created.into_iter();
    for outcome in &mut outcomes {
        if let Some(Ok(RowOutcome::Created)) = outcome
            && let Some(Err(error)) = created.next()
        {
            *outcome = Some(Err(error));
        }
    }
    Ok(outcomes)
}

/// A create body's new record data and custom values, as POST reads them (with source `import`
/// where the type has one).
fn new_input<D, I: DeserializeOwned>(
    steps: &Importable<D, I>,
    conn: &mut DbConnection,
    caller: &Actor,
    mut body: Map<String, Value>,
) -> Result<WithCustom<D>, AppError> {
    if columns::standard(steps.record_type).iter().any(|c| c.name == "source") {
        body.entry("source").or_insert_with(|| Value::String("import".into()));
    }
    let input: I = body_of(body)?;
    let data = (steps.new)(conn, caller, &input)?;
    let custom = (steps.custom)(&input);
    Ok(WithCustom { data, custom })
}

/// One row: the record its `id` names or that it looks like is skipped or updated as the policy
/// says; otherwise a new record is created.
fn import_row<D, I, V>(
    steps: &Importable<D, I>,
    conn: &mut DbConnection,
    caller: &Actor,
    row: RowInput,
    policy: DedupePolicy,
) -> Result<RowOutcome, AppError>
where
    D: RecordData,
    I: DeserializeOwned,
    V: Serialize + From<Stored<D>>,
{
    let kind = steps.kind;
    let named = match &row.id {
        Some(id) => Some(kind.find_visible(conn, caller, id).map_err(|error| match error {
            AppError::NotFound(_) => {
                AppError::invalid("id", "not_found", format!("names no {} you can see", kind.spec.noun))
            }
            other => other,
        })?),
        None => None,
    };
    let existing = match named {
        Some(record) => record.id,
        None => {
            let new = new_input(steps, conn, caller, row.body.clone())?;
            let duplicate = match policy {
                DedupePolicy::Create => None,
                DedupePolicy::Skip | DedupePolicy::Update => (steps.duplicate_of)(conn, caller, &new.data)?,
            };
            match duplicate {
                Some(id) => id,
                None => {
                    // Unowned new leads are assigned by the rules, as on POST.
                    let ownership = new.data.ownership();
                    if ownership.owner_id.is_some() || ownership.team_id.is_some() {
                        caller.principal.may_create(kind.spec.module, ownership)?;
                    }
                    match &steps.create {
                        Creation::Checked(checked) => {
                            records::create_in::<D, V>(conn, kind, caller, new, checked.check, AuditAction::Import)?;
                        }
                        Creation::Own(insert) => {
                            insert(conn, caller, new, AuditAction::Import)?;
                        }
                    }
                    return Ok(RowOutcome::Created);
                }
            }
        }
    };
    if policy == DedupePolicy::Skip {
        return Ok(RowOutcome::Skipped { existing });
    }
    patch_one::<D, I, V>(steps, conn, caller, (&existing, row.body), AuditAction::Import)?;
    Ok(RowOutcome::Updated)
}

/// Changes one record with a merge-patch body as PATCH does (its reading of the body, checks
/// and follow-ups), audited as `action`: an import row's update, a workflow's step.
pub fn patch_one<D, I, V>(
    steps: &Importable<D, I>,
    conn: &mut DbConnection,
    caller: &Actor,
    (id, body): (&str, Map<String, Value>),
    action: AuditAction,
) -> Result<(), AppError>
where
    D: RecordData,
    I: DeserializeOwned,
    V: Serialize + From<Stored<D>>,
{
    let input: I = body_of(body)?;
    let custom = (steps.custom)(&input);
    let patch = steps.patch;
    records::update_in::<D, V>(
        conn,
        steps.kind,
        caller,
        id,
        None,
        records::changes(custom, move |conn, id, current| patch(conn, id, input, current)),
        steps.changed,
        action,
    )?;
    Ok(())
}

/// [`patch_one`] for one record type, as its entry point declares it.
pub type PatchStep = fn(&mut DbConnection, &Actor, &str, Map<String, Value>) -> Result<(), AppError>;

/// One problem of a failed row, as the error report shows it.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct CellProblem {
    /// The header of the column at fault, or `row` for the row as a whole.
    pub column: String,
    pub code: String,
    pub message: String,
}

/// Ends an import (completed or failed, with why) and records `import.finished`, readable by
/// its uploader and admins.
pub fn finish(conn: &mut DbConnection, id: &str, status: ImportStatus, reason: Option<&str>) -> Result<(), AppError> {
    imports::finish(conn, id, status, reason, Utc::now())?;
    let import = imports::find(conn, id)?;
    let counts = import.counts;
    let finished = Happened {
        event_type: "import.finished",
        record: ("import", &import.id),
        ownership: (Some(&import.user_id), None),
        payload: &serde_json::json!({
            "import_id": import.id,
            "record_type": import.record_type.as_str(),
            "status": status,
            "error": reason,
            "created": counts.created,
            "updated": counts.updated,
            "skipped": counts.skipped,
            "failed": counts.failed,
        })
        .to_string(),
    };
    let cause = Cause::Job { for_user: &import.user_id, request_id: import.request_id.as_deref() };
    events::record(conn, cause, &finished)
}
