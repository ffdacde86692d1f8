//! Workflow runs, the steps they took, and which records entered which workflow.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, StoreResult};
use crate::schema::{workflow_clocks, workflow_enrollments, workflow_runs, workflow_steps};
use crate::{DbConnection, from_db_time, new_id, to_db_time};
use domain::workflow::{RunState, StepOutcome};

/// A run of a workflow over one record.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub workflow_id: String,
    pub workflow_version: i64,
    /// The workflow's document as it was when the run started.
    pub workflow: String,
    pub record_type: String,
    pub record_id: String,
    pub event_id: Option<String>,
    pub depth: i32,
    pub run_as: String,
    pub started_by: Option<String>,
    pub state: RunState,
    pub position: i32,
    pub wait_until: Option<DateTime<Utc>>,
    /// The email the step at `position` waits for.
    pub waiting_for: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct RunRow {
    id: String,
    workflow_id: String,
    workflow_version: i64,
    workflow: String,
    record_type: String,
    record_id: String,
    event_id: Option<String>,
    depth: i32,
    run_as: String,
    started_by: Option<String>,
    state: String,
    position: i32,
    wait_until: Option<NaiveDateTime>,
    waiting_for: Option<String>,
    error: Option<String>,
    created_at: NaiveDateTime,
    started_at: Option<NaiveDateTime>,
    finished_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

impl RunRow {
    fn into_run(self) -> StoreResult<Run> {
        Ok(Run {
            id: self.id,
            workflow_id: self.workflow_id,
            workflow_version: self.workflow_version,
            workflow: self.workflow,
            record_type: self.record_type,
            record_id: self.record_id,
            event_id: self.event_id,
            depth: self.depth,
            run_as: self.run_as,
            started_by: self.started_by,
            state: RunState::parse(&self.state)
                .ok_or_else(|| StoreError::Internal(format!("unknown run state `{}`", self.state)))?,
            position: self.position,
            wait_until: self.wait_until.map(from_db_time),
            waiting_for: self.waiting_for,
            error: self.error,
            created_at: from_db_time(self.created_at),
            started_at: self.started_at.map(from_db_time),
            finished_at: self.finished_at.map(from_db_time),
            updated_at: from_db_time(self.updated_at),
        })
    }
}

/// A run about to start.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub workflow_id: &'a str,
    pub workflow_version: i64,
    pub workflow: &'a str,
    pub record: (&'a str, &'a str),
    pub event_id: Option<&'a str>,
    pub depth: i32,
    pub run_as: &'a str,
    pub started_by: Option<&'a str>,
}

/// Stores a queued run and marks the record as having one under way; `None` when the event
/// already started a run of this workflow (the dispatcher routing an event again).
pub fn insert_run(conn: &mut DbConnection, new: &NewRun<'_>, now: DateTime<Utc>) -> StoreResult<Option<Run>> {
    if let Some(event_id) = new.event_id {
        let existing: Option<String> = workflow_runs::table
            .filter(workflow_runs::workflow_id.eq(new.workflow_id))
            .filter(workflow_runs::event_id.eq(event_id))
            .select(workflow_runs::id)
            .first(conn)
            .optional()?;
        if existing.is_some() {
            return Ok(None);
        }
    }
    let id = new_id();
    let at = to_db_time(now);
    diesel::insert_into(workflow_runs::table)
        .values((
            workflow_runs::id.eq(&id),
            workflow_runs::workflow_id.eq(new.workflow_id),
            workflow_runs::workflow_version.eq(new.workflow_version),
            workflow_runs::workflow.eq(new.workflow),
            workflow_runs::record_type.eq(new.record.0),
            workflow_runs::record_id.eq(new.record.1),
            workflow_runs::event_id.eq(new.event_id),
            workflow_runs::depth.eq(new.depth),
            workflow_runs::run_as.eq(new.run_as),
            workflow_runs::started_by.eq(new.started_by),
            workflow_runs::state.eq(RunState::Queued.as_str()),
            workflow_runs::position.eq(0),
            workflow_runs::created_at.eq(at),
            workflow_runs::updated_at.eq(at),
        ))
        .execute(conn)?;
    enroll(conn, new.workflow_id, new.record.1, Some(&id), now)?;
    find_run(conn, &id).map(Some)
}

/// One run.
pub fn find_run(conn: &mut DbConnection, id: &str) -> StoreResult<Run> {
    let row: RunRow = workflow_runs::table.filter(workflow_runs::id.eq(id)).first(conn)?;
    row.into_run()
}

/// One run, locked against concurrent changes until the transaction ends: a write that
/// changes nothing takes the row lock on PostgreSQL (SQLite writers hold the database lock).
pub fn lock_run(conn: &mut DbConnection, id: &str) -> StoreResult<Run> {
    diesel::update(workflow_runs::table.filter(workflow_runs::id.eq(id)))
        .set(workflow_runs::updated_at.eq(workflow_runs::updated_at))
        .execute(conn)?;
    find_run(conn, id)
}

/// A workflow's runs, newest first, before the run `before`.
pub fn runs_of(
    conn: &mut DbConnection,
    workflow_id: &str,
    state: Option<RunState>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Run>> {
    let mut query = workflow_runs::table.filter(workflow_runs::workflow_id.eq(workflow_id)).into_boxed();
    if let Some(state) = state {
        query = query.filter(workflow_runs::state.eq(state.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(workflow_runs::id.lt(before));
    }
    let rows: Vec<RunRow> = query.order(workflow_runs::id.desc()).limit(limit).load(conn)?;
    rows.into_iter().map(RunRow::into_run).collect()
}

/// How a run moves on: its new state, position, wait and error.
#[derive(Debug, Clone)]
pub struct RunChange<'a> {
    pub state: RunState,
    pub position: i32,
    pub wait_until: Option<DateTime<Utc>>,
    /// The email the step waits for.
    pub waiting_for: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// Moves a run on; an ended run frees its record to enter again.
pub fn advance_run(conn: &mut DbConnection, run: &Run, change: &RunChange<'_>, now: DateTime<Utc>) -> StoreResult<()> {
    let at = to_db_time(now);
    let started = run.started_at.map(to_db_time).unwrap_or(at);
    let finished = change.state.ended().then_some(at);
    diesel::update(workflow_runs::table.filter(workflow_runs::id.eq(&run.id)))
        .set((
            workflow_runs::state.eq(change.state.as_str()),
            workflow_runs::position.eq(change.position),
            workflow_runs::wait_until.eq(change.wait_until.map(to_db_time)),
            workflow_runs::waiting_for.eq(change.waiting_for),
            workflow_runs::error.eq(change.error),
            workflow_runs::started_at.eq(started),
            workflow_runs::finished_at.eq(finished),
            workflow_runs::updated_at.eq(at),
        ))
        .execute(conn)?;
    let active = if change.state.ended() { None } else { Some(run.id.as_str()) };
    diesel::update(
        workflow_enrollments::table
            .filter(workflow_enrollments::workflow_id.eq(&run.workflow_id))
            .filter(workflow_enrollments::record_id.eq(&run.record_id)),
    )
    .set((workflow_enrollments::active_run_id.eq(active), workflow_enrollments::updated_at.eq(at)))
    .execute(conn)?;
    Ok(())
}

/// One step a run took.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub position: i32,
    pub step_type: String,
    pub outcome: StepOutcome,
    /// JSON: what the step did (the record's changes, the task made, the email queued).
    pub detail: Option<String>,
    pub error: Option<String>,
    pub attempts: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

type StepTuple = (i32, String, String, Option<String>, Option<String>, i32, NaiveDateTime, NaiveDateTime);

/// A run's steps, in program order.
pub fn steps_of(conn: &mut DbConnection, run_id: &str) -> StoreResult<Vec<StepRow>> {
    let rows: Vec<StepTuple> = workflow_steps::table
        .filter(workflow_steps::run_id.eq(run_id))
        .order(workflow_steps::position.asc())
        .select((
            workflow_steps::position,
            workflow_steps::step_type,
            workflow_steps::outcome,
            workflow_steps::detail,
            workflow_steps::error,
            workflow_steps::attempts,
            workflow_steps::started_at,
            workflow_steps::finished_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(position, step_type, outcome, detail, error, attempts, started, finished)| {
            Ok(StepRow {
                position,
                step_type,
                outcome: StepOutcome::parse(&outcome)
                    .ok_or_else(|| StoreError::Internal(format!("unknown step outcome `{outcome}`")))?,
                detail,
                error,
                attempts,
                started_at: from_db_time(started),
                finished_at: from_db_time(finished),
            })
        })
        .collect()
}

/// The outcome of the step at `position`, if it has one.
pub fn step_outcome(conn: &mut DbConnection, run_id: &str, position: i32) -> StoreResult<Option<StepOutcome>> {
    let outcome: Option<String> = workflow_steps::table
        .filter(workflow_steps::run_id.eq(run_id))
        .filter(workflow_steps::position.eq(position))
        .select(workflow_steps::outcome)
        .first(conn)
        .optional()?;
    outcome
        .map(|raw| {
            StepOutcome::parse(&raw).ok_or_else(|| StoreError::Internal(format!("unknown step outcome `{raw}`")))
        })
        .transpose()
}

/// Records what a step did, in the transaction of its effect. A failed step done again
/// replaces its row and counts the attempt, a waiting step's end replaces its row; any other
/// row already there is a conflict (the step's effect is recorded once).
pub fn record_step(conn: &mut DbConnection, run_id: &str, step: &StepRow) -> StoreResult<()> {
    let key = workflow_steps::table
        .filter(workflow_steps::run_id.eq(run_id))
        .filter(workflow_steps::position.eq(step.position));
    let earlier: Option<(String, i32)> =
        key.select((workflow_steps::outcome, workflow_steps::attempts)).first(conn).optional()?;
    let attempts = match earlier {
        Some((outcome, attempts)) if outcome == StepOutcome::Failed.as_str() => {
            diesel::delete(key).execute(conn)?;
            attempts + 1
        }
        Some((outcome, attempts)) if outcome == StepOutcome::Waiting.as_str() => {
            diesel::delete(key).execute(conn)?;
            attempts
        }
        Some(_) => return Err(StoreError::Conflict("the step's effect is recorded already".into())),
        None => 1,
    };
    diesel::insert_into(workflow_steps::table)
        .values((
            workflow_steps::run_id.eq(run_id),
            workflow_steps::position.eq(step.position),
            workflow_steps::step_type.eq(&step.step_type),
            workflow_steps::outcome.eq(step.outcome.as_str()),
            workflow_steps::detail.eq(&step.detail),
            workflow_steps::error.eq(&step.error),
            workflow_steps::attempts.eq(attempts),
            workflow_steps::started_at.eq(to_db_time(step.started_at)),
            workflow_steps::finished_at.eq(to_db_time(step.finished_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// What a record's enrollment in a workflow says: matched last time, a run under way, entered.
pub fn enrollment(
    conn: &mut DbConnection,
    workflow_id: &str,
    record_id: &str,
) -> StoreResult<Option<(bool, Option<String>, bool)>> {
    let row: Option<(bool, Option<String>, Option<NaiveDateTime>)> = workflow_enrollments::table
        .filter(workflow_enrollments::workflow_id.eq(workflow_id))
        .filter(workflow_enrollments::record_id.eq(record_id))
        .select((workflow_enrollments::matching, workflow_enrollments::active_run_id, workflow_enrollments::entered_at))
        .first(conn)
        .optional()?;
    Ok(row.map(|(matching, active, entered)| (matching, active, entered.is_some())))
}

/// Notes whether the record matches now (not entering).
pub fn set_matching(
    conn: &mut DbConnection,
    workflow_id: &str,
    record_id: &str,
    matching: bool,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let at = to_db_time(now);
    let updated = diesel::update(
        workflow_enrollments::table
            .filter(workflow_enrollments::workflow_id.eq(workflow_id))
            .filter(workflow_enrollments::record_id.eq(record_id)),
    )
    .set((workflow_enrollments::matching.eq(matching), workflow_enrollments::updated_at.eq(at)))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(workflow_enrollments::table)
            .values((
                workflow_enrollments::workflow_id.eq(workflow_id),
                workflow_enrollments::record_id.eq(record_id),
                workflow_enrollments::matching.eq(matching),
                workflow_enrollments::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn enroll(
    conn: &mut DbConnection,
    workflow_id: &str,
    record_id: &str,
    run_id: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    set_matching(conn, workflow_id, record_id, true, now)?;
    let at = to_db_time(now);
    diesel::update(
        workflow_enrollments::table
            .filter(workflow_enrollments::workflow_id.eq(workflow_id))
            .filter(workflow_enrollments::record_id.eq(record_id)),
    )
    .set((workflow_enrollments::active_run_id.eq(run_id), workflow_enrollments::entered_at.eq(at)))
    .execute(conn)?;
    Ok(())
}

/// The ids of the runs under way over a record.
pub fn open_runs_of_record(conn: &mut DbConnection, record_type: &str, record_id: &str) -> StoreResult<Vec<String>> {
    Ok(workflow_runs::table
        .filter(workflow_runs::record_type.eq(record_type))
        .filter(workflow_runs::record_id.eq(record_id))
        .filter(workflow_runs::state.eq_any([
            RunState::Queued.as_str(),
            RunState::Running.as_str(),
            RunState::Waiting.as_str(),
        ]))
        .select(workflow_runs::id)
        .load(conn)?)
}

/// The run waiting for this email, if one is.
pub fn waiting_for(conn: &mut DbConnection, email_id: &str) -> StoreResult<Option<String>> {
    Ok(workflow_runs::table
        .filter(workflow_runs::waiting_for.eq(email_id))
        .select(workflow_runs::id)
        .first(conn)
        .optional()?)
}

/// The workflow whose run caused something, if the run exists.
pub fn workflow_of_run(conn: &mut DbConnection, run_id: &str) -> StoreResult<Option<String>> {
    Ok(workflow_runs::table
        .filter(workflow_runs::id.eq(run_id))
        .select(workflow_runs::workflow_id)
        .first(conn)
        .optional()?)
}

/// Which of `ids` are records of `record_type` the visibility reaches that match the filter
/// (deleted ones instead when `deleted`).
pub fn matching(
    conn: &mut DbConnection,
    record_type: domain::activity::RecordType,
    visibility: &domain::access::Visibility,
    filter: &domain::filter::Filter,
    related: &crate::search::RelatedVisibility,
    among: (&[&str], bool),
) -> StoreResult<Vec<String>> {
    use domain::activity::RecordType;
    match record_type {
        RecordType::Contact => crate::contacts::matching(conn, visibility, filter, related, among),
        RecordType::Company => crate::companies::matching(conn, visibility, filter, related, among),
        RecordType::Lead => crate::leads::matching(conn, visibility, filter, related, among),
        RecordType::Deal => crate::deals::matching(conn, visibility, filter, related, among),
        RecordType::Product => crate::products::matching(conn, visibility, filter, related, among),
        RecordType::Ticket => crate::tickets::matching(conn, visibility, filter, related, among),
        RecordType::Article => crate::articles::matching(conn, visibility, filter, related, among),
    }
}

/// The ids of live records of `record_type` that match the filter, in id order after `after`:
/// at most `limit` (a schedule's pass over its records).
pub fn matching_after(
    conn: &mut DbConnection,
    record_type: domain::activity::RecordType,
    filter: &domain::filter::Filter,
    related: &crate::search::RelatedVisibility,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<String>> {
    use domain::activity::RecordType;
    match record_type {
        RecordType::Contact => crate::contacts::matching_after(conn, filter, related, after, limit),
        RecordType::Company => crate::companies::matching_after(conn, filter, related, after, limit),
        RecordType::Lead => crate::leads::matching_after(conn, filter, related, after, limit),
        RecordType::Deal => crate::deals::matching_after(conn, filter, related, after, limit),
        RecordType::Product => crate::products::matching_after(conn, filter, related, after, limit),
        RecordType::Ticket => crate::tickets::matching_after(conn, filter, related, after, limit),
        RecordType::Article => crate::articles::matching_after(conn, filter, related, after, limit),
    }
}

/// Where a workflow's clock stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// Dates and ticks up to here are handled.
    pub handled_until: DateTime<Utc>,
    /// The end of the window a pass is under way over, if one is.
    pub pass_until: Option<DateTime<Utc>>,
    /// The last record id the pass took.
    pub pass_cursor: Option<String>,
}

/// A workflow's clock, if it was ever read.
pub fn clock(conn: &mut DbConnection, workflow_id: &str) -> StoreResult<Option<Clock>> {
    let row: Option<(NaiveDateTime, Option<NaiveDateTime>, Option<String>)> = workflow_clocks::table
        .filter(workflow_clocks::workflow_id.eq(workflow_id))
        .select((workflow_clocks::handled_until, workflow_clocks::pass_until, workflow_clocks::pass_cursor))
        .first(conn)
        .optional()?;
    Ok(row.map(|(handled, pass, cursor)| Clock {
        handled_until: from_db_time(handled),
        pass_until: pass.map(from_db_time),
        pass_cursor: cursor,
    }))
}

/// Moves a workflow's clock.
pub fn set_clock(conn: &mut DbConnection, workflow_id: &str, clock: &Clock, now: DateTime<Utc>) -> StoreResult<()> {
    let (handled, pass, at) = (to_db_time(clock.handled_until), clock.pass_until.map(to_db_time), to_db_time(now));
    let updated = diesel::update(workflow_clocks::table.filter(workflow_clocks::workflow_id.eq(workflow_id)))
        .set((
            workflow_clocks::handled_until.eq(handled),
            workflow_clocks::pass_until.eq(pass),
            workflow_clocks::pass_cursor.eq(&clock.pass_cursor),
            workflow_clocks::updated_at.eq(at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(workflow_clocks::table)
            .values((
                workflow_clocks::workflow_id.eq(workflow_id),
                workflow_clocks::handled_until.eq(handled),
                workflow_clocks::pass_until.eq(pass),
                workflow_clocks::pass_cursor.eq(&clock.pass_cursor),
                workflow_clocks::updated_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}
