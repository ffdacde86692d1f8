//! The durable job queue: enqueued in the caller's transaction (a job exists if and only if
//! the change that asked for it committed), claimed under a lease, finished under a fencing
//! token.
//!
//! Claiming takes `FOR UPDATE SKIP LOCKED` on PostgreSQL, so processes claim different jobs
//! without waiting on each other; SQLite has one writer (`Store::write` begins immediately),
//! so the same statement without it is already exclusive. Every claim raises the job's
//! `fencing_token`: a worker whose lease expired and whose job another worker took can no
//! longer renew, finish or fail it.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use domain::jobs::JobState;

use crate::connection::Backend;
use crate::error::{StoreError, StoreResult};
use crate::schema::jobs;
use crate::sql::{Dialect, placeholder, placeholders};
use crate::{DbConnection, from_db_time, new_id, to_db_time};

/// The notification channel of new jobs (PostgreSQL), so idle workers of every process wake.
pub const CHANNEL: &str = "crm_jobs";

/// Jobs enqueued in this process, or announced by another: a worker that sees it move runs a
/// round at once instead of at its next poll.
static ENQUEUED: AtomicU64 = AtomicU64::new(0);

/// How many jobs this process has heard of so far (only its changes mean anything).
pub fn heard_of() -> u64 {
    ENQUEUED.load(Ordering::Acquire)
}

/// Records that a job may be waiting (a notification from another process).
pub fn hear_of_one() {
    ENQUEUED.fetch_add(1, Ordering::AcqRel);
}

/// States a worker may claim a job from (besides a running one whose lease expired).
const WAITING: &str = "'available', 'scheduled', 'retryable'";
/// Errors kept per job (the latest).
const ERRORS_KEPT: usize = 20;

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    /// JSON.
    pub payload: String,
    pub run_at: DateTime<Utc>,
    /// Higher runs first.
    pub priority: i32,
    pub max_attempts: i32,
    /// At most one live job (not yet finished) of the kind has this key.
    pub unique_key: Option<&'a str>,
    /// With a unique key: at most one job with it ever (a periodic job's period).
    pub once_ever: bool,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub state: JobState,
    pub priority: i32,
    pub run_at: DateTime<Utc>,
    pub attempt: i32,
    pub max_attempts: i32,
    pub unique_key: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub fencing_token: i64,
    /// JSON list of `{attempt, at, error}`, oldest first.
    pub errors: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job a worker holds: what to run, and the token its finish must name.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub payload: String,
    #[diesel(sql_type = Integer)]
    pub attempt: i32,
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
    #[diesel(sql_type = BigInt)]
    pub fencing_token: i64,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = jobs)]
struct JobRow {
    id: String,
    kind: String,
    payload: String,
    state: String,
    priority: i32,
    run_at: NaiveDateTime,
    attempt: i32,
    max_attempts: i32,
    unique_key: Option<String>,
    lease_owner: Option<String>,
    lease_expires_at: Option<NaiveDateTime>,
    fencing_token: i64,
    errors: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    finished_at: Option<NaiveDateTime>,
}

impl JobRow {
    fn into_job(self) -> StoreResult<Job> {
        let state = JobState::parse(&self.state)
            .ok_or_else(|| StoreError::Internal(format!("a job has the unknown state `{}`", self.state)))?;
        Ok(Job {
            id: self.id,
            kind: self.kind,
            payload: self.payload,
            state,
            priority: self.priority,
            run_at: from_db_time(self.run_at),
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            unique_key: self.unique_key,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at.map(from_db_time),
            fencing_token: self.fencing_token,
            errors: self.errors,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            finished_at: self.finished_at.map(from_db_time),
        })
    }
}

/// Enqueues a job; `None` when its unique key is already taken (nothing is written).
pub fn enqueue(conn: &mut DbConnection, job: &NewJob<'_>, now: DateTime<Utc>) -> StoreResult<Option<String>> {
    let id = new_id();
    let state = if job.run_at > now { JobState::Scheduled } else { JobState::Available };
    let values = placeholders(conn, 1, 10);
    let (kind, key) = (placeholder(conn, 11), placeholder(conn, 12));
    let guard = if job.once_ever && job.unique_key.is_some() {
        format!("NOT EXISTS (SELECT 1 FROM jobs WHERE kind = {kind} AND unique_key = {key})")
    } else {
        // Both bound, so the statement has one shape; SQLite needs a WHERE before ON CONFLICT.
        format!("{kind} IS NOT NULL OR {key} IS NULL")
    };
    let statement = format!(
        "INSERT INTO jobs (id, kind, payload, state, priority, run_at, max_attempts, unique_key, created_at, updated_at) \
         SELECT {values} WHERE {guard} \
         ON CONFLICT (kind, unique_key) WHERE unique_key IS NOT NULL AND state IN ('available', 'scheduled', 'running', 'retryable') \
         DO NOTHING"
    );
    let now = to_db_time(now);
    let inserted = diesel::sql_query(statement)
        .into_boxed::<crate::Db>()
        .bind::<Text, _>(id.clone())
        .bind::<Text, _>(job.kind.to_owned())
        .bind::<Text, _>(job.payload.clone())
        .bind::<Text, _>(state.as_str())
        .bind::<Integer, _>(job.priority)
        .bind::<Timestamp, _>(to_db_time(job.run_at))
        .bind::<Integer, _>(job.max_attempts)
        .bind::<Nullable<Text>, _>(job.unique_key.map(str::to_owned))
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .bind::<Text, _>(job.kind.to_owned())
        .bind::<Nullable<Text>, _>(job.unique_key.map(str::to_owned))
        .execute(conn)?;
    if inserted == 0 {
        return Ok(None);
    }
    // Delivered when the transaction commits, to every listening process (this one included);
    // on SQLite a woken worker's claim waits for the one writer, so it sees the commit.
    if let DbConnection::Postgresql(pg) = conn {
        diesel::connection::SimpleConnection::batch_execute(pg, &format!("NOTIFY {CHANNEL}"))?;
    }
    hear_of_one();
    Ok(Some(id))
}

/// Claims up to `limit` jobs of the given kinds that are due (or whose lease expired) for
/// `worker` until `lease_until`, most urgent first.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    kinds: &[&str],
    limit: i64,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Claimed>> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let p = |n| placeholder(conn, n);
    let (owner, until, updated, due, expired) = (p(1), p(2), p(3), p(4), p(5));
    let kind_list = placeholders(conn, 6, kinds.len());
    let limit_at = p(6 + kinds.len());
    let skip_locked = match Dialect::of(conn).0 {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let statement = format!(
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = {owner}, lease_expires_at = {until}, \
         fencing_token = fencing_token + 1, updated_at = {updated} \
         WHERE id IN (SELECT id FROM jobs WHERE \
         ((state IN ({WAITING}) AND run_at <= {due}) OR (state = 'running' AND lease_expires_at < {expired})) \
         AND kind IN ({kind_list}) ORDER BY priority DESC, run_at, id LIMIT {limit_at}{skip_locked}) \
         RETURNING id, kind, payload, attempt, max_attempts, fencing_token"
    );
    let now = to_db_time(now);
    let mut query = diesel::sql_query(statement)
        .into_boxed::<crate::Db>()
        .bind::<Text, _>(worker.to_owned())
        .bind::<Timestamp, _>(to_db_time(lease_until))
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(now);
    for kind in kinds {
        query = query.bind::<Text, _>((*kind).to_owned());
    }
    Ok(query.bind::<BigInt, _>(limit).load::<Claimed>(conn)?)
}

/// Extends a held lease; false when the job is no longer this claim's (fenced out).
pub fn renew(
    conn: &mut DbConnection,
    id: &str,
    token: i64,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let renewed = diesel::update(held(id, token))
        .set((jobs::lease_expires_at.eq(Some(to_db_time(until))), jobs::updated_at.eq(to_db_time(now))))
        .execute(conn)?;
    Ok(renewed == 1)
}

type Held = diesel::dsl::Filter<
    jobs::table,
    diesel::dsl::And<
        diesel::dsl::And<diesel::dsl::Eq<jobs::id, String>, diesel::dsl::Eq<jobs::fencing_token, i64>>,
        diesel::dsl::Eq<jobs::state, &'static str>,
    >,
>;

/// The job as this claim holds it: running, under this token.
fn held(id: &str, token: i64) -> Held {
    jobs::table.filter(jobs::id.eq(id.to_owned()).and(jobs::fencing_token.eq(token)).and(jobs::state.eq("running")))
}

/// Marks a held job completed; false when the claim was fenced out (nothing changes).
pub fn complete(conn: &mut DbConnection, id: &str, token: i64, now: DateTime<Utc>) -> StoreResult<bool> {
    let now = to_db_time(now);
    let done = diesel::update(held(id, token))
        .set((
            jobs::state.eq(JobState::Completed.as_str()),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
            jobs::finished_at.eq(Some(now)),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(done == 1)
}

/// Puts a held recurring job back in the queue for its next run at `run_at`, its attempts
/// renewed: one row per recurring job instead of one per run. False when fenced out.
pub fn again(
    conn: &mut DbConnection,
    id: &str,
    token: i64,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let done = diesel::update(held(id, token))
        .set((
            jobs::state.eq(JobState::Scheduled.as_str()),
            jobs::run_at.eq(to_db_time(run_at)),
            jobs::attempt.eq(0),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(done == 1)
}

/// The states of a job that has not finished.
fn live_states() -> Vec<&'static str> {
    JobState::ALL.into_iter().filter(|state| state.is_live()).map(JobState::as_str).collect()
}

/// Whether a job of `kind` newer than `id` has yet to finish (it supersedes `id`).
pub fn newer_unfinished(conn: &mut DbConnection, kind: &str, id: &str) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        jobs::table.filter(jobs::kind.eq(kind)).filter(jobs::id.gt(id)).filter(jobs::state.eq_any(live_states())),
    ))
    .get_result(conn)?)
}

/// Records a held job's failure: it runs again at `retry_at`, or with none it is discarded.
/// False when the claim was fenced out (nothing changes).
pub fn fail(
    conn: &mut DbConnection,
    id: &str,
    token: i64,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let Some((attempt, errors)) =
        held(id, token).select((jobs::attempt, jobs::errors)).first::<(i32, String)>(conn).optional()?
    else {
        return Ok(false);
    };
    let mut kept: Vec<serde_json::Value> = serde_json::from_str(&errors).unwrap_or_default();
    kept.push(serde_json::json!({ "attempt": attempt, "at": now, "error": error }));
    let skip = kept.len().saturating_sub(ERRORS_KEPT);
    let errors = serde_json::Value::Array(kept.split_off(skip)).to_string();
    let (state, finished) = match retry_at {
        Some(_) => (JobState::Retryable, None),
        None => (JobState::Discarded, Some(to_db_time(now))),
    };
    let failed = diesel::update(held(id, token))
        .set((
            jobs::state.eq(state.as_str()),
            jobs::run_at.eq(to_db_time(retry_at.unwrap_or(now))),
            jobs::errors.eq(errors),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
            jobs::finished_at.eq(finished),
            jobs::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(failed == 1)
}

/// One job.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<Job> {
    jobs::table.filter(jobs::id.eq(id)).select(JobRow::as_select()).first(conn)?.into_job()
}

/// Jobs newest first, after `before` (an id), of a kind and state if given.
pub fn list(
    conn: &mut DbConnection,
    kind: Option<&str>,
    state: Option<JobState>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Job>> {
    let mut query = jobs::table.select(JobRow::as_select()).order(jobs::id.desc()).limit(limit).into_boxed();
    if let Some(kind) = kind {
        query = query.filter(jobs::kind.eq(kind.to_owned()));
    }
    if let Some(state) = state {
        query = query.filter(jobs::state.eq(state.as_str()));
    }
    if let Some(before) = before {
        query = query.filter(jobs::id.lt(before.to_owned()));
    }
    query.load(conn)?.into_iter().map(JobRow::into_job).collect()
}

/// The job after a change that applies only in its state then: `Err` with the state it has
/// when that state refused the change (or moved under it).
fn changed_from(conn: &mut DbConnection, id: &str, updated: usize) -> StoreResult<Result<Job, JobState>> {
    let job = find(conn, id)?;
    Ok(if updated == 1 { Ok(job) } else { Err(job.state) })
}

/// Makes a failed, discarded or cancelled job available now, with one more attempt if it had
/// none left; `Err` with its state when that does not allow it. A live job with the same unique
/// key makes it a conflict.
pub fn retry(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> StoreResult<Result<Job, JobState>> {
    let job = find(conn, id)?;
    if !matches!(job.state, JobState::Retryable | JobState::Discarded | JobState::Cancelled) {
        return Ok(Err(job.state));
    }
    let now = to_db_time(now);
    let updated = diesel::update(jobs::table.filter(jobs::id.eq(id)).filter(jobs::state.eq(job.state.as_str())))
        .set((
            jobs::state.eq(JobState::Available.as_str()),
            jobs::run_at.eq(now),
            jobs::max_attempts.eq(job.max_attempts.max(job.attempt + 1)),
            jobs::finished_at.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    changed_from(conn, id, updated)
}

/// Cancels a job that has not finished; a running one's worker is fenced out. `Err` with its
/// state when it has finished already.
pub fn cancel(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> StoreResult<Result<Job, JobState>> {
    let job = find(conn, id)?;
    if !job.state.is_live() {
        return Ok(Err(job.state));
    }
    let now = to_db_time(now);
    // Any unfinished state, not only the one just read: a worker may claim the job in between,
    // and a running job is cancelled as well.
    let updated = diesel::update(jobs::table.filter(jobs::id.eq(id)).filter(jobs::state.eq_any(live_states())))
        .set((
            jobs::state.eq(JobState::Cancelled.as_str()),
            jobs::fencing_token.eq(jobs::fencing_token + 1),
            jobs::lease_owner.eq(None::<String>),
            jobs::lease_expires_at.eq(None::<NaiveDateTime>),
            jobs::finished_at.eq(Some(now)),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    changed_from(conn, id, updated)
}

/// Removes jobs that finished before `cutoff`; returns how many.
pub fn purge_finished_before(conn: &mut DbConnection, cutoff: DateTime<Utc>) -> StoreResult<usize> {
    Ok(diesel::delete(jobs::table.filter(jobs::finished_at.lt(to_db_time(cutoff)))).execute(conn)?)
}

/// Records a probe job's effect: its row, or one more run of it.
pub fn record_probe(
    conn: &mut DbConnection,
    job_id: &str,
    worker: &str,
    enqueued_at: DateTime<Utc>,
    started_at: DateTime<Utc>,
) -> StoreResult<()> {
    let values = placeholders(conn, 1, 4);
    let statement = format!(
        "INSERT INTO job_probes (job_id, worker_id, enqueued_at, started_at) VALUES ({values}) \
         ON CONFLICT (job_id) DO UPDATE SET runs = job_probes.runs + 1"
    );
    diesel::sql_query(statement)
        .into_boxed::<crate::Db>()
        .bind::<Text, _>(job_id.to_owned())
        .bind::<Text, _>(worker.to_owned())
        .bind::<Timestamp, _>(to_db_time(enqueued_at))
        .bind::<Timestamp, _>(to_db_time(started_at))
        .execute(conn)?;
    Ok(())
}

/// A probe job's effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeEffect {
    pub job_id: String,
    /// How many runs reached the effect.
    pub runs: i32,
    pub enqueued_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
}

/// Every probe effect.
pub fn probes(conn: &mut DbConnection) -> StoreResult<Vec<ProbeEffect>> {
    use crate::schema::job_probes;
    let rows: Vec<(String, i32, NaiveDateTime, NaiveDateTime)> = job_probes::table
        .select((job_probes::job_id, job_probes::runs, job_probes::enqueued_at, job_probes::started_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(job_id, runs, at, started)| ProbeEffect {
            job_id,
            runs,
            enqueued_at: from_db_time(at),
            started_at: from_db_time(started),
        })
        .collect())
}

/// The queue's figures for one kind and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFigures {
    pub kind: String,
    pub state: JobState,
    pub count: i64,
    /// The earliest `run_at` among the waiting ones that are due.
    pub oldest_due: Option<DateTime<Utc>>,
}

/// Jobs by kind and state, with how long the oldest due one has waited.
pub fn queue_figures(conn: &mut DbConnection) -> StoreResult<Vec<QueueFigures>> {
    let rows: Vec<(String, String, i64, Option<NaiveDateTime>)> = jobs::table
        .group_by((jobs::kind, jobs::state))
        .select((jobs::kind, jobs::state, diesel::dsl::count_star(), diesel::dsl::min(jobs::run_at)))
        .load(conn)?;
    let now = Utc::now();
    rows.into_iter()
        .map(|(kind, state, count, oldest)| {
            let state = JobState::parse(&state)
                .ok_or_else(|| StoreError::Internal(format!("a job has the unknown state `{state}`")))?;
            let waiting = matches!(state, JobState::Available | JobState::Scheduled | JobState::Retryable);
            let oldest_due = oldest.map(from_db_time).filter(|at| waiting && *at <= now);
            Ok(QueueFigures { kind, state, count, oldest_due })
        })
        .collect()
}
