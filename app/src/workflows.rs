//! Workflows: definitions (admins write them, managers read them), the event handler that
//! enrolls records whose events fire a trigger, and the run: one job per step, each step's
//! effect committed with its row in the run log, the run's new position and the next step's
//! job, so `(run, position)` names an effect once and a crash repeats nothing.
//!
//! Every step acts through the application layer as the workflow's user (`run_as_user_id`),
//! with the run as the cause of what it changes (one causation level deeper), so grants,
//! validation, audit, history and events apply as for a person.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use domain::access::{Action, Scope, Visibility};
use domain::activity::{RecordRef, RecordType, TaskChanges, TaskData};
use domain::audit::AuditAction;
use domain::comment::NotificationKind;
use domain::filter::Filter;
use domain::record::Patch;
use domain::workflow::{self, EventFacts, Op, RunState, Step, StepOutcome, Trigger, Workflow, WorkflowStatus};
use persistence::comments::NewNotification;
use persistence::definitions::{self, Definition, Kind};
use persistence::events::StoredEvent;
use persistence::workflows::{self as runs, NewRun, Run, RunChange, StepRow};
use persistence::{DbConnection, StoreError, users};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::actor::{Actor, Chain, RequestContext, user_principal};
use crate::definitions::DefinitionKind;
use crate::error::AppError;
use crate::events::EventHandler;
use crate::jobs::{self, Enqueue, JobRun, JobSpec};
use crate::kinds::{TASKS, check_links};
use crate::records::{self, WithCustom};
use crate::views::{Views, record_view};

/// Workflows as admin definitions: validated whole, their filters and references checked.
pub static WORKFLOWS: DefinitionKind<Workflow> = DefinitionKind {
    kind: Kind::Workflow,
    noun: "workflow",
    validate: Workflow::validated,
    references: check_references,
    after_change: |_| Ok(()),
};

/// One step of one run, as a job (`api::workflow_worker` runs it with the entry point's views).
pub const STEP: JobSpec = JobSpec { name: "workflows.step", max_attempts: 10 };

/// A step job's payload: the run and the position it is to take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOrder {
    pub run_id: String,
    pub position: i32,
}

/// Changes a record of a type as PATCH does with a merge-patch body (the entry point's steps).
pub type PatchRecord = fn(&mut DbConnection, &Actor, RecordType, &str, Map<String, Value>) -> Result<(), AppError>;

/// What a run's steps may use besides the database: the entry point's PATCH of each record
/// type, and where email leaves (none: email steps fail visibly).
#[derive(Clone, Copy)]
pub struct Outside<'a> {
    pub patch: PatchRecord,
    pub mail: Option<&'a domain::email::MailSettings>,
}

fn check_references(conn: &mut DbConnection, workflow: &Workflow) -> Result<(), AppError> {
    if matches!(workflow.record_type, RecordType::Product | RecordType::Article) {
        return Err(AppError::invalid(
            "record_type",
            "invalid",
            "workflows run on contacts, companies, leads, deals or tickets",
        ));
    }
    let catalogue = records::catalogue(conn, workflow.record_type)?;
    for (path, raw) in workflow.filters() {
        Filter::parse(raw, &catalogue, Utc::now()).map_err(|mut error| {
            // The parser names nodes from `filter`; here the filter sits at `path`.
            error.field = format!("{path}{}", error.field.strip_prefix("filter").unwrap_or(&error.field));
            AppError::from(error)
        })?;
    }
    if let Trigger::DateReached { field, .. } = &workflow.trigger {
        let kind = catalogue.field(field).map(|f| f.kind);
        if !matches!(kind, Some(domain::filter::FieldKind::Date | domain::filter::FieldKind::DateTime)) {
            return Err(AppError::invalid("trigger.field", "not_a_date", "names no date or date-time field"));
        }
    }
    if let Some(user) = &workflow.run_as_user_id {
        let active = user_principal(conn, user)?.is_some();
        if !active {
            return Err(AppError::invalid("run_as_user_id", "not_found", "names no active user"));
        }
    }
    check_step_references(conn, &workflow.steps, "steps")
}

fn check_step_references(conn: &mut DbConnection, steps: &[Step], path: &str) -> Result<(), AppError> {
    for (index, step) in steps.iter().enumerate() {
        let at = |field: &str| format!("{path}[{index}].{field}");
        let missing = |field: &str, what: &str| AppError::invalid(&at(field), "not_found", format!("names no {what}"));
        match step {
            Step::AssignOwner { user_id, team_id } => {
                records::check_owner_and_team(conn, user_id.as_deref(), team_id.as_deref()).map_err(|_| {
                    missing(if user_id.is_some() { "user_id" } else { "team_id" }, "active user or team")
                })?;
            }
            Step::CreateTask { assignee_id: Some(user), .. } => {
                records::check_owner_and_team(conn, Some(user), None)
                    .map_err(|_| missing("assignee_id", "active user"))?;
            }
            Step::Notify { user_ids, .. } => {
                for user in user_ids {
                    if user_principal(conn, user)?.is_none() {
                        return Err(missing("user_ids", "active user"));
                    }
                }
            }
            Step::SendEmail { template_id, to } => {
                crate::email::template(conn, template_id).map_err(|_| missing("template_id", "email template"))?;
                if let Some(user) = to.as_deref().filter(|to| *to != "owner" && !to.contains('@'))
                    && user_principal(conn, user)?.is_none()
                {
                    return Err(missing("to", "active user (give `owner`, a user id or an email address)"));
                }
            }
            Step::SendSurvey { survey_id } => {
                definitions::find::<domain::survey::Survey>(conn, Kind::Survey, survey_id).map_err(
                    |error| match error {
                        persistence::StoreError::NotFound => missing("survey_id", "survey"),
                        other => other.into(),
                    },
                )?;
            }
            Step::CallWebhook { endpoint_id } => match crate::webhooks::endpoint(conn, endpoint_id) {
                Ok(_) => {}
                Err(AppError::NotFound(_)) => return Err(missing("endpoint_id", "webhook endpoint")),
                Err(other) => return Err(other),
            },
            Step::Branch { then, otherwise, .. } => {
                check_step_references(conn, then, &at("then"))?;
                check_step_references(conn, otherwise, &at("else"))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Who may read workflows of a record type: admins, and whoever reads every record of the
/// type (managers), since a workflow shows how those records are handled.
fn require_reader(actor: &Actor, record_type: RecordType) -> Result<(), AppError> {
    let module = domain::registry::linked(record_type).module;
    if actor.principal.is_admin() || actor.principal.scope(module, Action::Read) == Scope::All {
        Ok(())
    } else {
        Err(AppError::Forbidden("only administrators and those who read every such record may see workflows".into()))
    }
}

fn find_in(conn: &mut DbConnection, id: &str) -> Result<Definition<Workflow>, AppError> {
    definitions::find::<Workflow>(conn, Kind::Workflow, id).map_err(|error| match error {
        StoreError::NotFound => AppError::not_found(WORKFLOWS.noun),
        other => other.into(),
    })
}

/// The workflows the actor may read, in order.
pub fn list(conn: &mut DbConnection, actor: &Actor) -> Result<Vec<Definition<Workflow>>, AppError> {
    let all = definitions::list::<Workflow>(conn, Kind::Workflow)?;
    if actor.principal.is_admin() {
        return Ok(all);
    }
    let readable: Vec<_> = all.into_iter().filter(|w| require_reader(actor, w.body.record_type).is_ok()).collect();
    let types = [RecordType::Contact, RecordType::Company, RecordType::Lead, RecordType::Deal, RecordType::Ticket];
    if readable.is_empty() && !types.iter().any(|t| require_reader(actor, *t).is_ok()) {
        return Err(AppError::Forbidden("only administrators and managers may see workflows".into()));
    }
    Ok(readable)
}

/// One workflow, for an admin or a manager of its record type.
pub fn find(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<Definition<Workflow>, AppError> {
    let workflow = find_in(conn, id)?;
    require_reader(actor, workflow.body.record_type)?;
    Ok(workflow)
}

/// The dispatcher's handler: every active workflow whose trigger the event fires, on a record
/// that matches its conditions and may enter, gets a run and its first step's job.
pub static TRIGGERS: EventHandler = EventHandler { name: "workflows", route };

fn route(conn: &mut DbConnection, event: &StoredEvent) -> Result<(), AppError> {
    if event.depth >= workflow::MAX_DEPTH {
        log::info!("event {} ({}) is {} causes deep: it triggers no workflow", event.id, event.event_type, event.depth);
        return Ok(());
    }
    let Some(record_type) = RecordType::parse(&event.record_type) else { return Ok(()) };
    if event.event_type == format!("{}.deleted", record_type.as_str()) {
        leave_runs(conn, record_type, &event.record_id)?;
    }
    let candidates: Vec<Definition<Workflow>> = definitions::list::<Workflow>(conn, Kind::Workflow)?
        .into_iter()
        .filter(|w| w.body.status == WorkflowStatus::Active && w.body.record_type == record_type)
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let payload: Value = serde_json::from_str(&event.payload)?;
    let facts = EventFacts { event_type: &event.event_type, record_type: &event.record_type, payload: &payload };
    let caused_by = match &event.causation_id {
        Some(run_id) => runs::workflow_of_run(conn, run_id)?,
        None => None,
    };
    for candidate in candidates.iter().filter(|w| w.body.trigger.fires(record_type, &facts)) {
        if caused_by.as_deref() == Some(candidate.id.as_str()) && !candidate.body.trigger_on_own_changes {
            // Its own change does not enroll, but may end a match: a later change that makes
            // the record match again is a fresh match.
            let matches = record_matches(conn, &candidate.body, candidate.body.conditions.as_ref(), &event.record_id)?;
            runs::set_matching(conn, &candidate.id, &event.record_id, matches, Utc::now())?;
            continue;
        }
        let start = Start { event_id: Some(&event.id), depth: event.depth, started_by: None };
        enroll(conn, candidate, &event.record_id, start)?;
    }
    Ok(())
}

/// A deleted record leaves the runs it is in (except runs about its deletion).
fn leave_runs(conn: &mut DbConnection, record_type: RecordType, record_id: &str) -> Result<(), AppError> {
    for run_id in runs::open_runs_of_record(conn, record_type.as_str(), record_id)? {
        let run = runs::lock_run(conn, &run_id)?;
        let workflow: Workflow = serde_json::from_str(&run.workflow)?;
        if workflow.trigger != Trigger::Deleted && !run.state.ended() {
            end_run(conn, &run, RunState::Cancelled, Some("the record was deleted"))?;
        }
    }
    Ok(())
}

/// What a run starts from: the event (none for a manual start), its depth, who started it.
struct Start<'a> {
    event_id: Option<&'a str>,
    depth: i32,
    started_by: Option<&'a str>,
}

/// Whether the record matches a filter of the workflow (the conditions, a branch's condition),
/// as it is now; a deleted record when the workflow is about deletions.
fn record_matches(
    conn: &mut DbConnection,
    workflow: &Workflow,
    filter: Option<&Value>,
    record_id: &str,
) -> Result<bool, AppError> {
    let deleted = workflow.trigger == Trigger::Deleted;
    let filter = match filter {
        Some(raw) => {
            let catalogue = records::catalogue(conn, workflow.record_type)?;
            // A filter that no longer parses (a custom field deleted since) matches nothing.
            match Filter::parse(raw, &catalogue, Utc::now()) {
                Ok(filter) => filter,
                Err(error) => {
                    log::warn!("a workflow filter no longer parses: {error:?}");
                    return Ok(false);
                }
            }
        }
        None => Filter::everything(),
    };
    let ids = [record_id];
    let found =
        runs::matching(conn, workflow.record_type, &Visibility::Everything, &filter, &everything(), (&ids, deleted))?;
    Ok(!found.is_empty())
}

/// Conditions look at related records whoever may read them: the workflow's grants apply to
/// what its steps do, not to which records match.
fn everything() -> persistence::search::RelatedVisibility {
    persistence::search::RelatedVisibility {
        companies: Visibility::Everything,
        deals: Visibility::Everything,
        activities: Visibility::Everything,
    }
}

/// Enrolls a record if it matches and may enter; the run queued, or `None`.
fn enroll(
    conn: &mut DbConnection,
    workflow: &Definition<Workflow>,
    record_id: &str,
    start: Start<'_>,
) -> Result<Option<Run>, AppError> {
    let matches = record_matches(conn, &workflow.body, workflow.body.conditions.as_ref(), record_id)?;
    let enrollment = match runs::enrollment(conn, &workflow.id, record_id)? {
        Some((matching, active, entered)) => workflow::Enrollment { matching, running: active.is_some(), entered },
        None => workflow::Enrollment::default(),
    };
    let manual = start.started_by.is_some();
    let enters = if manual {
        matches && !enrollment.running
    } else {
        workflow::enters(enrollment, matches, workflow.body.reenroll)
    };
    if !enters {
        runs::set_matching(conn, &workflow.id, record_id, matches, Utc::now())?;
        return Ok(None);
    }
    let Some(run_as) = workflow.body.run_as_user_id.as_deref() else {
        log::warn!("workflow {} has no user to run as", workflow.id);
        return Ok(None);
    };
    let document = serde_json::to_string(&workflow.body)?;
    let new = NewRun {
        workflow_id: &workflow.id,
        workflow_version: workflow.version,
        workflow: &document,
        record: (workflow.body.record_type.as_str(), record_id),
        event_id: start.event_id,
        depth: start.depth,
        run_as,
        started_by: start.started_by,
    };
    let Some(run) = runs::insert_run(conn, &new, Utc::now())? else { return Ok(None) };
    queue_step(conn, &run.id, 0, None)?;
    Ok(Some(run))
}

fn queue_step(conn: &mut DbConnection, run_id: &str, position: i32, at: Option<DateTime<Utc>>) -> Result<(), AppError> {
    let key = format!("{run_id}:{position}");
    let order = StepOrder { run_id: run_id.to_owned(), position };
    jobs::enqueue(conn, &STEP, &order, &Enqueue { run_at: at, unique_key: Some(&key), ..Enqueue::default() })?;
    Ok(())
}

/// Starts a run by hand (admins), on a record that matches the conditions and has no run of
/// this workflow under way.
pub fn start(conn: &mut DbConnection, actor: &Actor, id: &str, record_id: &str) -> Result<Run, AppError> {
    actor.require_admin()?;
    let workflow = find_in(conn, id)?;
    if workflow.body.status != WorkflowStatus::Active {
        return Err(AppError::Conflict("only an active workflow starts runs".into()));
    }
    let spec = domain::registry::linked(workflow.body.record_type);
    if persistence::record_ownership(conn, spec, record_id)?.is_none() {
        return Err(AppError::invalid("record_id", "not_found", format!("names no {}", spec.noun)));
    }
    if let Some((_, Some(_), _)) = runs::enrollment(conn, &workflow.id, record_id)? {
        return Err(AppError::Conflict("the record has a run of this workflow under way".into()));
    }
    let start = Start {
        event_id: None,
        depth: actor.chain.as_ref().map_or(0, |c| c.depth),
        started_by: Some(&actor.principal.user_id),
    };
    enroll(conn, &workflow, record_id, start)?
        .ok_or_else(|| AppError::Conflict("the record does not match the workflow's conditions".into()))
}

/// The actor a run acts as: its user with the grants they have now, the run as the cause.
fn run_actor(conn: &mut DbConnection, run: &Run) -> Result<Option<Actor>, AppError> {
    Ok(user_principal(conn, &run.run_as)?.map(|principal| Actor {
        principal,
        session_id: None,
        context: RequestContext { request_id: Some(format!("workflow-run-{}", run.id)), client_address: None },
        chain: Some(Chain { run_id: run.id.clone(), depth: run.depth + 1 }),
    }))
}

/// What a step did, for the run log.
struct Effect {
    outcome: StepOutcome,
    detail: Value,
    /// A wait: the next step runs then.
    wait_until: Option<DateTime<Utc>>,
    /// The run ends here, completed (a `check_conditions` that no longer holds).
    end: bool,
    /// The step ends when this email is sent or refused (`email_settled`).
    awaits_email: Option<String>,
}

impl Effect {
    fn done(detail: Value) -> Self {
        Effect { outcome: StepOutcome::Completed, detail, wait_until: None, end: false, awaits_email: None }
    }
}

/// Runs the step a job names, under the job's claim. A business refusal (a grant, a rule, no
/// SMTP server) fails the step and the run, recorded; the database being away fails the job,
/// to be retried.
pub fn run_step<V: Views>(run: &JobRun<'_>, patch: PatchRecord) -> Result<(), String> {
    let order: StepOrder = serde_json::from_str(&run.job.payload).map_err(|e| format!("bad payload: {e}"))?;
    let outside = Outside { patch, mail: run.worker.mail.as_ref() };
    match run.write_held(|conn| take_step::<V>(conn, &order, outside)) {
        Ok(_) => Ok(()),
        Err(error) => Err(error.to_string()),
    }
}

fn transient(error: &AppError) -> bool {
    matches!(error, AppError::Unavailable(_) | AppError::Contended(_))
}

fn take_step<V: Views>(conn: &mut DbConnection, order: &StepOrder, outside: Outside<'_>) -> Result<(), AppError> {
    let run = match runs::lock_run(conn, &order.run_id) {
        Ok(run) => run,
        Err(StoreError::NotFound) => return Ok(()),
        Err(other) => return Err(other.into()),
    };
    // A job run again after its step was recorded, or a cancelled run: nothing to do.
    if run.state.ended() || run.position != order.position {
        return Ok(());
    }
    let workflow: Workflow = serde_json::from_str(&run.workflow)?;
    let now = Utc::now();
    let Some(actor) = run_actor(conn, &run)? else {
        return end_run(conn, &run, RunState::Failed, Some("the workflow's user is deactivated or gone"));
    };
    if workflow.trigger != Trigger::Deleted && !record_matches(conn, &workflow, None, &run.record_id)? {
        return end_run(conn, &run, RunState::Cancelled, Some("the record was deleted"));
    }
    if run.state == RunState::Queued && !record_matches(conn, &workflow, workflow.conditions.as_ref(), &run.record_id)?
    {
        return end_run(
            conn,
            &run,
            RunState::Completed,
            Some("the record no longer matched the conditions when the run started"),
        );
    }
    let ops = workflow::program(&workflow.steps);
    let mut position = usize::try_from(run.position).unwrap_or(usize::MAX);
    while let Some(Op::Goto(to)) = ops.get(position) {
        position = *to;
    }
    let Some(op) = ops.get(position).copied() else {
        return end_run(conn, &run, RunState::Completed, None);
    };
    let here = i32::try_from(position).unwrap_or(i32::MAX);
    let (name, outcome, next) = match op {
        Op::Goto(_) => return Err(AppError::Internal("a jump leads to a jump".into())),
        Op::Test { condition, otherwise } => {
            let then = record_matches(conn, &workflow, Some(condition), &run.record_id)?;
            let next = if then { position + 1 } else { otherwise };
            ("branch", Ok(Effect::done(json!({"branch": if then { "then" } else { "else" }}))), next)
        }
        Op::Do(step) => {
            let key = format!("{}:{here}", run.id);
            let done = persistence::store::savepoint(conn, |conn| {
                perform::<V>(conn, &actor, &run, &workflow, step, &key, outside)
            });
            (step.name(), done, position + 1)
        }
    };
    let effect = match outcome {
        Ok(effect) => effect,
        Err(error) if transient(&error) => return Err(error),
        Err(error) => {
            if let AppError::Internal(detail) = &error {
                log::error!("workflow run {} step {here}: {detail}", run.id);
            }
            let message = describe(&error);
            let row = StepRow {
                position: here,
                step_type: name.to_owned(),
                outcome: StepOutcome::Failed,
                detail: None,
                error: Some(message.clone()),
                attempts: 1,
                started_at: now,
                finished_at: Utc::now(),
            };
            runs::record_step(conn, &run.id, &row)?;
            let change = RunChange {
                state: RunState::Failed,
                position: here,
                wait_until: None,
                waiting_for: None,
                error: Some(&message),
            };
            runs::advance_run(conn, &run, &change, Utc::now())?;
            return Ok(());
        }
    };
    let row = StepRow {
        position: here,
        step_type: name.to_owned(),
        outcome: effect.outcome,
        detail: Some(effect.detail.to_string()),
        error: None,
        attempts: 1,
        started_at: now,
        finished_at: Utc::now(),
    };
    runs::record_step(conn, &run.id, &row)?;
    if effect.end {
        return end_run(conn, &run, RunState::Completed, Some("the record no longer matched the conditions"));
    }
    if let Some(email) = effect.awaits_email.as_deref() {
        let change = RunChange {
            state: RunState::Waiting,
            position: here,
            wait_until: None,
            waiting_for: Some(email),
            error: None,
        };
        return Ok(runs::advance_run(conn, &run, &change, Utc::now())?);
    }
    go_on(conn, &run, &ops, next, effect.wait_until)
}

/// Moves a run to the step at `next` (past jumps), now or when a wait ends; past the last
/// step the run completes in the same transaction, so the events its last step caused are
/// dispatched with the record free to enter again.
fn go_on(
    conn: &mut DbConnection,
    run: &Run,
    ops: &[Op<'_>],
    mut next: usize,
    wait_until: Option<DateTime<Utc>>,
) -> Result<(), AppError> {
    while let Some(Op::Goto(to)) = ops.get(next) {
        next = *to;
    }
    let wait_until = wait_until.filter(|at| *at > Utc::now());
    let ended = wait_until.is_none() && next >= ops.len();
    let next = i32::try_from(next).unwrap_or(i32::MAX);
    if ended {
        let change =
            RunChange { state: RunState::Completed, position: next, wait_until: None, waiting_for: None, error: None };
        return Ok(runs::advance_run(conn, run, &change, Utc::now())?);
    }
    let state = if wait_until.is_some() { RunState::Waiting } else { RunState::Running };
    let change = RunChange { state, position: next, wait_until, waiting_for: None, error: None };
    runs::advance_run(conn, run, &change, Utc::now())?;
    queue_step(conn, &run.id, next, wait_until)
}

/// What became of an email a run's step waits for, told by the outbound door in the
/// transaction that records it: sent, the step completes and the run goes on; refused for good
/// (`Err` with the server's answer), the step and the run fail with it, and a retry sends again.
pub fn email_settled(conn: &mut DbConnection, email_id: &str, outcome: Result<(), &str>) -> Result<(), AppError> {
    let Some(run_id) = runs::waiting_for(conn, email_id)? else { return Ok(()) };
    let run = runs::lock_run(conn, &run_id)?;
    if run.state != RunState::Waiting || run.waiting_for.as_deref() != Some(email_id) {
        return Ok(());
    }
    let workflow: Workflow = serde_json::from_str(&run.workflow)?;
    let ops = workflow::program(&workflow.steps);
    let waiting = runs::steps_of(conn, &run.id)?.into_iter().find(|step| step.position == run.position);
    let started = waiting.as_ref().map_or_else(Utc::now, |step| step.started_at);
    let failure = outcome.err().map(|reason| format!("the SMTP server refused the email: {reason}"));
    let mut detail = match waiting.and_then(|step| step.detail).and_then(|raw| serde_json::from_str(&raw).ok()) {
        Some(Value::Object(detail)) => detail,
        _ => Map::new(),
    };
    detail.insert("sent".into(), Value::Bool(failure.is_none()));
    let row = StepRow {
        position: run.position,
        step_type: "send_email".to_owned(),
        outcome: if failure.is_some() { StepOutcome::Failed } else { StepOutcome::Completed },
        detail: Some(Value::Object(detail).to_string()),
        error: failure.clone(),
        attempts: 1,
        started_at: started,
        finished_at: Utc::now(),
    };
    runs::record_step(conn, &run.id, &row)?;
    if let Some(reason) = &failure {
        let change = RunChange {
            state: RunState::Failed,
            position: run.position,
            wait_until: None,
            waiting_for: None,
            error: Some(reason),
        };
        return Ok(runs::advance_run(conn, &run, &change, Utc::now())?);
    }
    let next = usize::try_from(run.position).unwrap_or(usize::MAX).saturating_add(1);
    go_on(conn, &run, &ops, next, None)
}

fn describe(error: &AppError) -> String {
    match error {
        AppError::Internal(_) => "an internal error; see the server log".to_owned(),
        other => other.to_string(),
    }
}

fn end_run(conn: &mut DbConnection, run: &Run, state: RunState, why: Option<&str>) -> Result<(), AppError> {
    let change = RunChange { state, position: run.position, wait_until: None, waiting_for: None, error: why };
    runs::advance_run(conn, run, &change, Utc::now())?;
    Ok(())
}

/// The record the run is about, as the API shows it to the run's user.
fn current_view<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    run: &Run,
    workflow: &Workflow,
) -> Result<Map<String, Value>, AppError> {
    match record_view::<V>(conn, actor, workflow.record_type, &run.record_id)? {
        Some(Value::Object(view)) => Ok(view),
        _ => Err(AppError::NotFound(format!("the workflow's user cannot see this {}", workflow.record_type.as_str()))),
    }
}

/// The changes a merge-patch makes to a view: `{field: {from, to}}` for each field it changes.
fn changes_of(view: &Map<String, Value>, patch: &Map<String, Value>) -> Value {
    let mut changes = Map::new();
    for (field, to) in patch {
        let from = view.get(field).cloned().unwrap_or(Value::Null);
        if &from != to {
            changes.insert(field.clone(), json!({"from": from, "to": to}));
        }
    }
    Value::Object(changes)
}

#[allow(clippy::too_many_arguments)]
fn perform<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    run: &Run,
    workflow: &Workflow,
    step: &Step,
    key: &str,
    outside: Outside<'_>,
) -> Result<Effect, AppError> {
    let record_type = workflow.record_type;
    let record_id = run.record_id.as_str();
    match step {
        Step::UpdateFields { fields } => {
            let before = current_view::<V>(conn, actor, run, workflow)?;
            (outside.patch)(conn, actor, record_type, record_id, fields.clone())?;
            Ok(Effect::done(json!({"changes": changes_of(&before, fields)})))
        }
        Step::AssignOwner { user_id, team_id } => {
            let before = current_view::<V>(conn, actor, run, workflow)?;
            let owner = match (user_id, team_id) {
                (Some(user), _) => user.clone(),
                (None, Some(team)) => crate::sales::next_member(conn, &run.workflow_id, team)?
                    .ok_or_else(|| AppError::Conflict("the team has no active member to assign to".into()))?,
                (None, None) => return Err(AppError::Internal("an assignment names nobody".into())),
            };
            let mut patch = Map::new();
            patch.insert("owner_id".into(), Value::String(owner));
            if let Some(team) = team_id {
                patch.insert("team_id".into(), Value::String(team.clone()));
            }
            (outside.patch)(conn, actor, record_type, record_id, patch.clone())?;
            Ok(Effect::done(json!({"changes": changes_of(&before, &patch)})))
        }
        Step::AddTag { tag } | Step::RemoveTag { tag } => {
            let before = current_view::<V>(conn, actor, run, workflow)?;
            let tags: Vec<String> = serde_json::from_value(before.get("tags").cloned().unwrap_or(json!([])))?;
            let add = matches!(step, Step::AddTag { .. });
            let Some(after) = workflow::tags_after(&tags, tag, add) else {
                return Ok(Effect { outcome: StepOutcome::Skipped, ..Effect::done(json!({"tags": tags})) });
            };
            let mut patch = Map::new();
            patch.insert("tags".into(), json!(after));
            (outside.patch)(conn, actor, record_type, record_id, patch.clone())?;
            Ok(Effect::done(json!({"changes": changes_of(&before, &patch)})))
        }
        Step::CreateTask { .. } => {
            let before = current_view::<V>(conn, actor, run, workflow)?;
            let data = task_for(&before, step, record_type, record_id, Utc::now())?;
            let (task, _) = records::create_in::<TaskData, V::Task>(
                conn,
                &TASKS,
                actor,
                WithCustom { data, custom: Patch::Keep },
                |conn, caller, data| check_links(conn, caller, &[], &data.links),
                AuditAction::Create,
            )?;
            Ok(Effect::done(json!({"task_id": task.id, "assignee_id": task.data.owner_id, "due_at": task.data.due_at})))
        }
        Step::SendEmail { template_id, to } => {
            let target = RecordRef { record_type, id: record_id.to_owned() };
            let to = recipient_address(conn, run, workflow, to.as_deref())?;
            let email = crate::email::queue::<V>(conn, actor, template_id, &target, to.as_deref(), outside.mail)?;
            let detail = json!({"email_id": email.id, "to": email.recipient, "subject": email.subject});
            Ok(Effect { outcome: StepOutcome::Waiting, awaits_email: Some(email.id), ..Effect::done(detail) })
        }
        Step::SendSurvey { survey_id } => {
            let view = current_view::<V>(conn, actor, run, workflow)?;
            let request = survey_request(record_type, record_id, &view)?;
            let sent = crate::surveys::send(conn, actor, survey_id, &request, outside.mail)?;
            Ok(Effect::done(
                json!({"request_id": sent.request.id, "email_id": sent.request.email_id, "contact_id": request.contact_id}),
            ))
        }
        Step::CallWebhook { endpoint_id } => {
            let record = current_view::<V>(conn, actor, run, workflow)?;
            let data = json!({
                "workflow_id": run.workflow_id,
                "run_id": run.id,
                "record_type": record_type.as_str(),
                "object": record,
            });
            let delivery = crate::webhooks::deliver(conn, endpoint_id, key, "workflow.webhook", &data)?;
            Ok(Effect::done(json!({"delivery_id": delivery, "endpoint_id": endpoint_id})))
        }
        Step::Notify { message, .. } => {
            let recipients = notify_recipients(conn, record_type, record_id, step)?;
            let noun = record_type.as_str();
            for user in &recipients {
                let new = NewNotification {
                    user_id: user,
                    kind: NotificationKind::Workflow,
                    record: Some((noun, record_id)),
                    actor_id: Some(&actor.principal.user_id),
                    comment_id: None,
                    group_key: None,
                    message,
                };
                crate::comments::notify(conn, &new)?;
            }
            Ok(Effect::done(json!({"notified": recipients})))
        }
        Step::Wait { .. } => {
            let view = current_view::<V>(conn, actor, run, workflow)?;
            let until = wait_until(&view, step, Utc::now())?;
            Ok(Effect {
                outcome: StepOutcome::Waiting,
                wait_until: Some(until),
                ..Effect::done(json!({"until": until}))
            })
        }
        Step::CheckConditions => {
            let holds = record_matches(conn, workflow, workflow.conditions.as_ref(), record_id)?;
            Ok(Effect { end: !holds, ..Effect::done(json!({"conditions_match": holds})) })
        }
        Step::Branch { .. } => Err(AppError::Internal("a branch is a test in the program, never a step".into())),
    }
}

/// The task a `create_task` step makes: linked to the record, for the named assignee or the
/// record's owner (the workflow's user when the record has none).
fn task_for(
    view: &Map<String, Value>,
    step: &Step,
    record_type: RecordType,
    record_id: &str,
    now: DateTime<Utc>,
) -> Result<TaskData, AppError> {
    let Step::CreateTask { title, description, due_in_days, priority, assignee_id } = step else {
        return Err(AppError::Internal("not a task step".into()));
    };
    let owner = view.get("owner_id").and_then(Value::as_str).map(str::to_owned);
    let assignee = assignee_id.clone().or(owner);
    let due_at = due_in_days.map(|days| now + TimeDelta::days(i64::from(days)));
    let changes = TaskChanges {
        title: Patch::Set(title.clone()),
        description: description.clone().map_or(Patch::Keep, Patch::Set),
        due_at: due_at.map_or(Patch::Keep, Patch::Set),
        priority: priority.map_or(Patch::Keep, Patch::Set),
        owner_id: assignee.map_or(Patch::Keep, Patch::Set),
        links: Patch::Set(vec![RecordRef { record_type, id: record_id.to_owned() }]),
        ..TaskChanges::default()
    };
    Ok(TaskData::apply(None, changes, now)?)
}

/// Where a `send_email` step sends: an address, the record's owner, a user, or (none) the
/// template's default, the record's contact.
fn recipient_address(
    conn: &mut DbConnection,
    run: &Run,
    workflow: &Workflow,
    to: Option<&str>,
) -> Result<Option<String>, AppError> {
    match to {
        Some("owner") => {
            let spec = domain::registry::linked(workflow.record_type);
            let owner = persistence::record_ownership(conn, spec, &run.record_id)?
                .and_then(|(owner, _)| owner)
                .ok_or_else(|| AppError::invalid("to", "required", "the record has no owner to email"))?;
            Ok(Some(users::find(conn, &owner)?.email))
        }
        Some(user) if !user.contains('@') => Ok(Some(users::find(conn, user)?.email)),
        other => Ok(other.map(str::to_owned)),
    }
}

/// Whom a `notify` step tells: the owner, the managers of the owner's teams, the named users;
/// only those active and able to read the record.
fn notify_recipients(
    conn: &mut DbConnection,
    record_type: RecordType,
    record_id: &str,
    step: &Step,
) -> Result<Vec<String>, AppError> {
    let Step::Notify { owner, owner_managers, user_ids, .. } = step else { return Ok(Vec::new()) };
    let spec = domain::registry::linked(record_type);
    let Some((record_owner, record_team)) = persistence::record_ownership(conn, spec, record_id)? else {
        return Ok(Vec::new());
    };
    let mut wanted: Vec<String> = user_ids.clone();
    if let Some(record_owner) = &record_owner {
        if *owner {
            wanted.push(record_owner.clone());
        }
        if *owner_managers {
            wanted.extend(users::managers_of(conn, record_owner)?);
        }
    }
    let mut recipients = Vec::new();
    let ownership = domain::access::Ownership { owner_id: record_owner.as_deref(), team_id: record_team.as_deref() };
    for user in wanted {
        if recipients.contains(&user) {
            continue;
        }
        let Some(principal) = user_principal(conn, &user)? else { continue };
        if principal.may(spec.module, Action::Read, ownership).is_ok() {
            recipients.push(user);
        }
    }
    Ok(recipients)
}

/// When a `wait` step ends: minutes from now, or a date field of the record plus the offset
/// (a date means its midnight UTC). A field without a value waits nothing.
fn wait_until(view: &Map<String, Value>, step: &Step, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    let Step::Wait { minutes, until_field, offset_minutes } = step else {
        return Err(AppError::Internal("not a wait step".into()));
    };
    if let Some(minutes) = minutes {
        return Ok(now + TimeDelta::minutes(i64::from(*minutes)));
    }
    let field = until_field.as_deref().unwrap_or_default();
    let Some(raw) = view.get(field).and_then(Value::as_str) else { return Ok(now) };
    let at = DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&Utc)).or_else(|_| {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").map(|day| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
    });
    let at = at.map_err(|_| AppError::invalid("until_field", "not_a_date", format!("`{field}` holds no date")))?;
    Ok(at + TimeDelta::minutes(i64::from(*offset_minutes)))
}

/// A step's job given up on (the database away through all its attempts, or cancelled by an
/// admin): its run fails there rather than stay under way with nothing queued.
pub fn abandoned(conn: &mut DbConnection, payload: &str, why: &str) -> Result<(), AppError> {
    let order: StepOrder = serde_json::from_str(payload)?;
    let run = match runs::lock_run(conn, &order.run_id) {
        Ok(run) => run,
        Err(StoreError::NotFound) => return Ok(()),
        Err(other) => return Err(other.into()),
    };
    if !run.state.ended() && run.position == order.position {
        end_run(conn, &run, RunState::Failed, Some(&format!("the step's job was given up: {why}")))?;
    }
    Ok(())
}

/// A run and the steps it took.
#[derive(Debug, Clone)]
pub struct RunLog {
    pub run: Run,
    pub steps: Vec<StepRow>,
}

fn run_in(conn: &mut DbConnection, actor: &Actor, id: &str, lock: bool) -> Result<Run, AppError> {
    let found = if lock { runs::lock_run(conn, id) } else { runs::find_run(conn, id) };
    let run = found.map_err(|error| match error {
        StoreError::NotFound => AppError::not_found("workflow run"),
        other => other.into(),
    })?;
    let record_type =
        RecordType::parse(&run.record_type).ok_or_else(|| AppError::Internal("a run's record type".into()))?;
    require_reader(actor, record_type)?;
    Ok(run)
}

/// One run with its steps, for those who may read its workflow.
pub fn run_log(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<RunLog, AppError> {
    let run = run_in(conn, actor, id, false)?;
    let steps = runs::steps_of(conn, &run.id)?;
    Ok(RunLog { run, steps })
}

/// A workflow's runs, newest first, of a state if given, before the run `before`.
pub fn runs_of(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    state: Option<RunState>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Run>, AppError> {
    find(conn, actor, id)?;
    Ok(runs::runs_of(conn, id, state, before, limit)?)
}

/// Cancels a run under way (admins): its next step's job finds it ended and does nothing.
pub fn cancel(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<RunLog, AppError> {
    actor.require_admin()?;
    let run = run_in(conn, actor, id, true)?;
    if run.state.ended() {
        return Err(AppError::Conflict(format!("the run is {} already", run.state.as_str())));
    }
    end_run(conn, &run, RunState::Cancelled, Some("cancelled by an admin"))?;
    run_log(conn, actor, id)
}

/// Runs a failed run's failed step again (admins), from where it failed.
pub fn retry(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<RunLog, AppError> {
    actor.require_admin()?;
    let run = run_in(conn, actor, id, true)?;
    if run.state != RunState::Failed {
        return Err(AppError::Conflict(format!("only a failed run is retried; this one is {}", run.state.as_str())));
    }
    if runs::enrollment(conn, &run.workflow_id, &run.record_id)?.is_some_and(|(_, active, _)| active.is_some()) {
        return Err(AppError::Conflict("the record has another run of this workflow under way".into()));
    }
    let state = if run.started_at.is_some() { RunState::Running } else { RunState::Queued };
    let change = RunChange { state, position: run.position, wait_until: None, waiting_for: None, error: None };
    runs::advance_run(conn, &run, &change, Utc::now())?;
    queue_step(conn, &run.id, run.position, None)?;
    run_log(conn, actor, id)
}

/// What a dry run found: whether the trigger and conditions hold for the record as it is, and
/// the steps a run would take with what each would do.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// Whether the record, as it is, looks like what the trigger fires on (for change
    /// triggers: its field holds the `to` value); `null` for triggers a record's state cannot
    /// show (created, updated, assigned, deleted, form submitted, manual).
    pub trigger_matches: Option<bool>,
    pub conditions_match: bool,
    /// Whether an event now would enroll it (conditions, enrollment rule, no run under way).
    pub would_enroll: bool,
    pub steps: Vec<DryStep>,
}

/// One step a dry run would take.
#[derive(Debug, Clone)]
pub struct DryStep {
    pub position: i32,
    pub step_type: &'static str,
    /// What it would do: field changes `{field: {from, to}}`, the task, the email's recipient
    /// and subject, whom it notifies, how long it waits, which branch it takes.
    pub would: Value,
    /// Why it would fail, if it would.
    pub error: Option<String>,
}

/// Evaluates a workflow against a record without writing anything (admins): the trigger as
/// the record stands, the conditions, and the steps with their changes. Branches are decided
/// on the record as it is now.
pub fn dry_run<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    record_id: &str,
    mail: Option<&domain::email::MailSettings>,
) -> Result<DryRun, AppError> {
    actor.require_admin()?;
    let definition = find_in(conn, id)?;
    let workflow = &definition.body;
    let run_as = match workflow.run_as_user_id.as_deref().map(|user| user_principal(conn, user)) {
        Some(found) => found?,
        None => None,
    };
    let principal = run_as.ok_or_else(|| AppError::Conflict("the workflow's user is deactivated or gone".into()))?;
    let as_workflow = Actor { principal, session_id: None, context: RequestContext::default(), chain: None };
    let view = match record_view::<V>(conn, &as_workflow, workflow.record_type, record_id)? {
        Some(Value::Object(view)) => view,
        _ => {
            return Err(AppError::invalid(
                "record_id",
                "not_found",
                format!("names no {} the workflow's user can see", workflow.record_type.as_str()),
            ));
        }
    };
    let conditions_match = record_matches(conn, workflow, workflow.conditions.as_ref(), record_id)?;
    let enrollment = match runs::enrollment(conn, &definition.id, record_id)? {
        Some((matching, active, entered)) => workflow::Enrollment { matching, running: active.is_some(), entered },
        None => workflow::Enrollment::default(),
    };
    let ops = workflow::program(&workflow.steps);
    let mut steps = Vec::new();
    let mut position = 0;
    let now = Utc::now();
    while let Some(op) = ops.get(position) {
        let here = i32::try_from(position).unwrap_or(i32::MAX);
        position = match *op {
            Op::Goto(to) => to,
            Op::Test { condition, otherwise } => {
                let then = record_matches(conn, workflow, Some(condition), record_id)?;
                let branch = if then { "then" } else { "else" };
                steps.push(DryStep {
                    position: here,
                    step_type: "branch",
                    would: json!({"branch": branch}),
                    error: None,
                });
                if then { position + 1 } else { otherwise }
            }
            Op::Do(step) => {
                let preview = preview::<V>(conn, &as_workflow, &definition, &view, record_id, step, mail, now);
                let (would, error) = match preview {
                    Ok(would) => (would, None),
                    Err(error) if transient(&error) => return Err(error),
                    Err(error) => (Value::Null, Some(describe(&error))),
                };
                steps.push(DryStep { position: here, step_type: step.name(), would, error });
                position + 1
            }
        };
    }
    Ok(DryRun {
        trigger_matches: trigger_state(&workflow.trigger, &view),
        conditions_match,
        would_enroll: workflow.status == WorkflowStatus::Active
            && workflow::enters(enrollment, conditions_match, workflow.reenroll),
        steps,
    })
}

fn trigger_state(trigger: &Trigger, view: &Map<String, Value>) -> Option<bool> {
    let holds = |field: &str, to: Option<Value>| to.map(|to| view.get(field) == Some(&to));
    match trigger {
        Trigger::FieldChanged { field, to, .. } => holds(field, to.clone()),
        Trigger::StageChanged { to, .. } => holds("stage_id", to.clone().map(Value::String)),
        Trigger::StatusChanged { to, .. } => holds("status", to.clone().map(Value::String)),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn preview<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    definition: &Definition<Workflow>,
    view: &Map<String, Value>,
    record_id: &str,
    step: &Step,
    mail: Option<&domain::email::MailSettings>,
    now: DateTime<Utc>,
) -> Result<Value, AppError> {
    let workflow = &definition.body;
    let record_type = workflow.record_type;
    let module = domain::registry::linked(record_type).module;
    let ownership = |view: &Map<String, Value>| {
        (
            view.get("owner_id").and_then(Value::as_str).map(str::to_owned),
            view.get("team_id").and_then(Value::as_str).map(str::to_owned),
        )
    };
    let (owner, team) = ownership(view);
    let editable = || {
        actor.principal.may(
            module,
            Action::Edit,
            domain::access::Ownership { owner_id: owner.as_deref(), team_id: team.as_deref() },
        )
    };
    Ok(match step {
        Step::UpdateFields { fields } => {
            editable()?;
            json!({"changes": changes_of(view, fields)})
        }
        Step::AssignOwner { user_id, team_id } => {
            editable()?;
            let to = match (user_id, team_id) {
                (Some(user), _) => json!(user),
                (None, Some(team)) => json!(format!("the next active member of team {team} by round-robin")),
                (None, None) => Value::Null,
            };
            json!({"changes": {"owner_id": {"from": owner, "to": to}}})
        }
        Step::AddTag { tag } | Step::RemoveTag { tag } => {
            let tags: Vec<String> = serde_json::from_value(view.get("tags").cloned().unwrap_or(json!([])))?;
            match workflow::tags_after(&tags, tag, matches!(step, Step::AddTag { .. })) {
                Some(after) => {
                    editable()?;
                    json!({"changes": {"tags": {"from": tags, "to": after}}})
                }
                None => json!({"changes": {}}),
            }
        }
        Step::CreateTask { .. } => {
            let task = task_for(view, step, record_type, record_id, now)?;
            actor.principal.may_create(domain::access::Module::Tasks, domain::record::Owned::ownership(&task))?;
            json!({"task": {"title": task.title, "assignee_id": task.owner_id, "due_at": task.due_at, "priority": task.priority}})
        }
        Step::SendEmail { template_id, to } => {
            crate::email::smtp(mail)?;
            let target = RecordRef { record_type, id: record_id.to_owned() };
            let (rendered, default_to) = crate::email::render::<V>(conn, actor, template_id, &target)?;
            let to = match to.as_deref() {
                Some("owner") => match &owner {
                    Some(owner) => Some(users::find(conn, owner)?.email),
                    None => None,
                },
                Some(user) if !user.contains('@') => Some(users::find(conn, user)?.email),
                Some(address) => Some(address.to_owned()),
                None => default_to,
            };
            json!({"to": to, "subject": rendered.subject})
        }
        Step::SendSurvey { survey_id } => {
            crate::email::smtp(mail)?;
            let request = survey_request(record_type, record_id, view)?;
            json!({"survey_id": survey_id, "contact_id": request.contact_id})
        }
        Step::CallWebhook { endpoint_id } => {
            let endpoint = crate::webhooks::endpoint(conn, endpoint_id)?;
            json!({"endpoint_id": endpoint_id, "url": endpoint.url, "active": endpoint.active})
        }
        Step::Notify { .. } => {
            json!({"notify": notify_recipients(conn, record_type, record_id, step)?})
        }
        Step::Wait { .. } => json!({"until": wait_until(view, step, now)?}),
        Step::CheckConditions => {
            json!({"conditions_match": record_matches(conn, workflow, workflow.conditions.as_ref(), record_id)?})
        }
        Step::Branch { .. } => Value::Null,
    })
}

/// Whom a survey step asks, about what: a ticket's requester about the ticket, a deal's first
/// contact about the deal, a contact about nothing in particular.
fn survey_request(
    record_type: RecordType,
    record_id: &str,
    view: &Map<String, Value>,
) -> Result<crate::surveys::SendRequest, AppError> {
    use domain::survey::TouchpointType;
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let (contact, touchpoint) = match record_type {
        RecordType::Contact => (Some(record_id.to_owned()), TouchpointType::None),
        RecordType::Ticket => (text(view.get("requester_id")), TouchpointType::Ticket),
        RecordType::Deal => (text(view.get("contact_ids").and_then(|ids| ids.get(0))), TouchpointType::Deal),
        other => {
            return Err(AppError::invalid(
                "type",
                "not_applicable",
                format!("a {} has no contact to ask", other.as_str()),
            ));
        }
    };
    let contact_id =
        contact.ok_or_else(|| AppError::Conflict(format!("this {} has no contact to ask", record_type.as_str())))?;
    Ok(crate::surveys::SendRequest {
        contact_id,
        touchpoint,
        touchpoint_id: (touchpoint != TouchpointType::None).then(|| record_id.to_owned()),
        delivery: crate::surveys::Delivery::Email,
    })
}

/// How often the workflow clock looks for dates reached and schedule ticks.
const CLOCK_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// Records one clock transaction enrolls at most; a larger pass goes on in the next.
const PASS_BATCH: i64 = 500;

/// The workflow clock: a recurring job that enrolls, for each active workflow with a date or
/// schedule trigger, the records whose date (plus offset) has come since it last looked, or at
/// a schedule's tick every record its conditions select. Each workflow's pass moves its clock
/// in the transaction that enrolls, so a crash repeats nothing and skips nothing.
pub static CLOCK: crate::jobs::JobKind = crate::jobs::JobKind {
    spec: JobSpec { name: "workflows.clock", max_attempts: 10 },
    every: Some(CLOCK_EVERY),
    run: keep_time,
    abandoned: None,
};

fn keep_time(run: &JobRun<'_>) -> Result<(), String> {
    let workflows = run
        .store
        .read(|conn| definitions::list::<Workflow>(conn, Kind::Workflow))
        .map_err(|error| error.to_string())?;
    for workflow in workflows.iter().filter(|w| w.body.status == WorkflowStatus::Active && w.body.trigger.is_clocked())
    {
        loop {
            // `None`: fenced out, another worker keeps the clock now.
            match run.write_held(|conn| pass(conn, workflow, Utc::now())).map_err(|e: AppError| e.to_string())? {
                Some(true) => continue,
                Some(false) => break,
                None => return Ok(()),
            }
        }
    }
    Ok(())
}

/// Takes one batch of a workflow's clock pass; whether more of the pass is left.
fn pass(conn: &mut DbConnection, workflow: &Definition<Workflow>, now: DateTime<Utc>) -> Result<bool, AppError> {
    let Some(mut clock) = runs::clock(conn, &workflow.id)? else {
        // A workflow's clock starts when it is first seen active: dates already past are not
        // "reached" now.
        let start = runs::Clock { handled_until: now, pass_until: None, pass_cursor: None };
        runs::set_clock(conn, &workflow.id, &start, now)?;
        return Ok(false);
    };
    let record_type = workflow.body.record_type;
    let catalogue = records::catalogue(conn, record_type)?;
    let window_end = match (&workflow.body.trigger, clock.pass_until) {
        (_, Some(until)) => until,
        (Trigger::Schedule { cron, time_zone }, None) => {
            match workflow::next_tick(cron, time_zone.as_deref(), clock.handled_until) {
                Some(tick) if tick <= now => now,
                _ => return Ok(false),
            }
        }
        (_, None) => now,
    };
    let selection = match &workflow.body.trigger {
        Trigger::DateReached { field, offset_minutes } => {
            let date_only = catalogue.field(field).is_some_and(|f| f.kind == domain::filter::FieldKind::Date);
            Some(workflow::reached_window(field, date_only, *offset_minutes, clock.handled_until, window_end))
        }
        _ => workflow.body.conditions.clone(),
    };
    let filter = match selection.as_ref().map(|raw| Filter::parse(raw, &catalogue, now)) {
        Some(Ok(filter)) => filter,
        None => Filter::everything(),
        Some(Err(error)) => {
            // A field deleted since the workflow was saved: nothing is reached by it.
            log::warn!("workflow {}'s clock filter no longer parses: {error:?}", workflow.id);
            return Ok(false);
        }
    };
    let ids =
        runs::matching_after(conn, record_type, &filter, &everything(), clock.pass_cursor.as_deref(), PASS_BATCH)?;
    for id in &ids {
        enroll(conn, workflow, id, Start { event_id: None, depth: 0, started_by: None })?;
    }
    let more = i64::try_from(ids.len()).unwrap_or(i64::MAX) >= PASS_BATCH;
    clock = if more {
        runs::Clock { pass_until: Some(window_end), pass_cursor: ids.last().cloned(), ..clock }
    } else {
        runs::Clock { handled_until: window_end, pass_until: None, pass_cursor: None }
    };
    runs::set_clock(conn, &workflow.id, &clock, now)?;
    Ok(more)
}

/// Makes sure the workflow clock is queued (once, however many processes ask).
pub fn ensure_clock(store: &persistence::Store) -> Result<(), AppError> {
    let options = Enqueue { unique_key: Some("workflow-clock"), ..Enqueue::default() };
    store.write(|conn| jobs::enqueue(conn, &CLOCK.spec, &json!({}), &options)).map(drop)
}
