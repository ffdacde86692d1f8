//! Workflows: "when this happens to a record, and it matches, do these steps". A workflow as
//! an admin defines it (trigger, conditions, steps), whether an event fires its trigger, the
//! enrollment rule, and the steps flattened into a program a run walks one position at a time.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::activity::{Priority, RecordType};
use crate::validation::{FieldError, ValidationErrors};

/// Beyond this causation depth an event triggers nothing: a workflow's change that triggers a
/// workflow whose change triggers another ... stops here.
pub const MAX_DEPTH: i32 = 5;
/// At most this many steps in a workflow, branches included.
pub const STEPS_MAX: usize = 50;
/// Branches nest at most this deep.
const NESTING_MAX: usize = 5;
const NAME_MAX: usize = 200;
const TEXT_MAX: usize = 2000;
/// The longest wait a step may ask for: a year.
pub const WAIT_MINUTES_MAX: u32 = 525_600;

/// A workflow's life: only an active one starts runs; pausing it lets running ones finish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    #[default]
    Draft,
    Active,
    Paused,
}

/// A workflow as an admin defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    #[schema(example = "Onboard won customers", max_length = 200)]
    pub name: String,
    /// The record type it runs on.
    pub record_type: RecordType,
    /// Default `draft`.
    #[serde(default)]
    pub status: WorkflowStatus,
    pub trigger: Trigger,
    /// A filter (the search language) the record must match when a run starts; a
    /// `check_conditions` step checks it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::filter_doc::FilterNode>, example = json!({"field": "amount", "op": "gte", "value": 1000}))]
    pub conditions: Option<Value>,
    /// What a run does, in order.
    #[schema(max_items = 50)]
    pub steps: Vec<Step>,
    /// A record that stopped matching and matches again enters again (never while a run of it
    /// is under way). Default: a record enters once.
    #[serde(default)]
    pub reenroll: bool,
    /// Whether the changes this workflow's own runs make can trigger it. Default no.
    #[serde(default)]
    pub trigger_on_own_changes: bool,
    /// The user whose grants the runs act with (default: the admin who created it); what they
    /// may not do, the run may not either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user_id: Option<String>,
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A record is created.
    Created,
    /// A record is changed.
    Updated,
    /// A field changes, optionally from and/or to a value.
    FieldChanged {
        field: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Value>)]
        from: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Value>)]
        to: Option<Value>,
    },
    /// A deal moves between stages (stage ids), optionally from and/or to one.
    StageChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// A lead's or ticket's status changes, optionally from and/or to one.
    StatusChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// A ticket's SLA clock (any, or this one) turns at risk.
    SlaAtRisk {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<crate::sla::Metric>,
    },
    /// A ticket's SLA clock (any, or this one) passes its target.
    SlaBreached {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<crate::sla::Metric>,
    },
    /// A record's owner changes.
    Assigned,
    /// A record is deleted.
    Deleted,
    /// A web form (any, or this one) is submitted; the record is its lead.
    FormSubmitted {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        form_id: Option<String>,
    },
    /// A date or date-time field of the record is reached, or `offset_minutes` after it
    /// (before it when negative): "3 days after `closed_at`" is `4320`, "30 days before a
    /// renewal date" `-43200`. A date means its midnight UTC.
    DateReached {
        field: String,
        #[serde(default)]
        #[schema(minimum = -525_600, maximum = 525_600)]
        offset_minutes: i32,
    },
    /// At each tick of a cron schedule (five fields: minute hour day month weekday), every
    /// record that matches the conditions.
    Schedule {
        #[schema(example = "0 9 * * MON")]
        cron: String,
        /// An IANA time zone the schedule is read in (default UTC).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(example = "Europe/Berlin")]
        time_zone: Option<String>,
    },
    /// A user starts it (`POST /workflows/{id}/runs`).
    Manual,
}

/// The longest offset from a date a trigger may ask for: a year, either way.
const OFFSET_MINUTES_MAX: u32 = 525_600;
/// How far ahead a created task may be due, so the due date stays a real date.
const DUE_IN_DAYS_MAX: u32 = 3650;

impl Trigger {
    /// Whether the trigger is kept by the workflow clock (dates and schedules), not by events.
    pub fn is_clocked(&self) -> bool {
        matches!(self, Trigger::DateReached { .. } | Trigger::Schedule { .. })
    }
}

/// The first tick of a schedule strictly after `after`, or `None` for a schedule that is not
/// valid (checked when saved) or has no further tick.
pub fn next_tick(cron: &str, time_zone: Option<&str>, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let zone: chrono_tz::Tz = match time_zone {
        Some(name) => name.parse().ok()?,
        None => chrono_tz::UTC,
    };
    cron_parser::parse(cron, &after.with_timezone(&zone)).ok().map(|at| at.with_timezone(&Utc))
}

/// The filter that selects the records whose `field` (plus the offset) fell in `(after,
/// until]`: a date field compares as dates, its midnight being the moment it is reached.
pub fn reached_window(
    field: &str,
    date_only: bool,
    offset_minutes: i32,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Value {
    let offset = TimeDelta::minutes(i64::from(offset_minutes));
    let value = |at: DateTime<Utc>| {
        if date_only {
            // A midnight after `at` is on a later day, and one at or before `at` is on its day.
            Value::String(at.date_naive().format("%Y-%m-%d").to_string())
        } else {
            Value::String(at.to_rfc3339_opts(SecondsFormat::Micros, true))
        }
    };
    serde_json::json!({"and": [
        {"field": field, "op": "gt", "value": value(after - offset)},
        {"field": field, "op": "lte", "value": value(until - offset)},
    ]})
}

/// One step of a workflow. Every action goes through the application layer with the
/// workflow's user as the actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Changes the record as a PATCH with this merge-patch body would.
    UpdateFields {
        #[schema(value_type = HashMap<String, Value>, example = json!({"priority": "high"}))]
        fields: Map<String, Value>,
    },
    /// Gives the record to a user, or to the next member of a team by round-robin.
    AssignOwner {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team_id: Option<String>,
    },
    /// A task linked to the record, for its owner unless another assignee is named.
    CreateTask {
        #[schema(max_length = 200)]
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Due this many days after the step runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(maximum = 3650)]
        due_in_days: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<Priority>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assignee_id: Option<String>,
    },
    /// Adds a tag to the record.
    AddTag { tag: String },
    /// Removes a tag from the record.
    RemoveTag { tag: String },
    /// Sends a templated email: to the record's contact (default), its owner (`"owner"`), a
    /// user (their id) or an address.
    SendEmail {
        template_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<String>,
    },
    /// Sends a survey by email to the record's contact (a ticket's requester, a deal's first
    /// contact, the contact itself), about the ticket or deal.
    SendSurvey { survey_id: String },
    /// Posts the run's record to a webhook endpoint (signed, retried, logged like any delivery).
    CallWebhook { endpoint_id: String },
    /// Tells users in their notification feed: the owner, the managers of the owner's teams,
    /// and named users (each only if they may read the record).
    Notify {
        #[schema(max_length = 2000)]
        message: String,
        #[serde(default)]
        owner: bool,
        #[serde(default)]
        owner_managers: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        user_ids: Vec<String>,
    },
    /// Waits a number of minutes, or until a date field of the record (plus an offset).
    Wait {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(minimum = 1, maximum = 525_600)]
        minutes: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_field: Option<String>,
        #[serde(default)]
        #[schema(minimum = -525_600, maximum = 525_600)]
        offset_minutes: i32,
    },
    /// Runs `then` when the record matches the condition (a filter), `else` otherwise.
    Branch {
        #[schema(value_type = crate::filter_doc::FilterNode)]
        condition: Value,
        #[serde(default)]
        #[schema(no_recursion)]
        then: Vec<Step>,
        #[serde(default, rename = "else")]
        #[schema(no_recursion)]
        otherwise: Vec<Step>,
    },
    /// Ends the run, completed, unless the record still matches the workflow's conditions.
    CheckConditions,
}

impl Step {
    /// The step's type, as the run log names it.
    pub fn name(&self) -> &'static str {
        match self {
            Step::UpdateFields { .. } => "update_fields",
            Step::AssignOwner { .. } => "assign_owner",
            Step::CreateTask { .. } => "create_task",
            Step::AddTag { .. } => "add_tag",
            Step::RemoveTag { .. } => "remove_tag",
            Step::SendEmail { .. } => "send_email",
            Step::SendSurvey { .. } => "send_survey",
            Step::CallWebhook { .. } => "call_webhook",
            Step::Notify { .. } => "notify",
            Step::Wait { .. } => "wait",
            Step::Branch { .. } => "branch",
            Step::CheckConditions => "check_conditions",
        }
    }
}

impl Workflow {
    /// Checks the workflow as a whole (the filters' fields are checked against the record
    /// type's catalogue by the caller, which knows the custom fields).
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.chars().count() > NAME_MAX {
            errors.push(FieldError::new("name", "invalid", format!("must be 1 to {NAME_MAX} characters")));
        }
        self.check_trigger(&mut errors);
        if self.steps.is_empty() {
            errors.push(FieldError::new("steps", "required", "a workflow needs at least one step"));
        }
        let mut count = 0;
        check_steps(&self.steps, "steps", 0, &mut count, &mut errors);
        if count > STEPS_MAX {
            errors.push(FieldError::new("steps", "too_long", format!("at most {STEPS_MAX} steps, branches included")));
        }
        let has_contact = matches!(self.record_type, RecordType::Contact | RecordType::Deal | RecordType::Ticket);
        if let Some(path) =
            find_step(&self.steps, "steps", |s| matches!(s, Step::SendSurvey { .. })).filter(|_| !has_contact)
        {
            errors.push(FieldError::new(
                format!("{path}.type"),
                "not_applicable",
                "a survey goes to a contact: on contact, deal and ticket workflows only",
            ));
        }
        errors.into_result(|| self)
    }

    fn check_trigger(&self, errors: &mut ValidationErrors) {
        let only = |noun: RecordType, name: &str, errors: &mut ValidationErrors| {
            if self.record_type != noun {
                errors.push(FieldError::new(
                    "trigger.type",
                    "not_applicable",
                    format!("`{name}` applies to {} workflows only", noun.as_str()),
                ));
            }
        };
        match &self.trigger {
            Trigger::StageChanged { .. } => only(RecordType::Deal, "stage_changed", errors),
            Trigger::StatusChanged { .. } if !matches!(self.record_type, RecordType::Lead | RecordType::Ticket) => {
                errors.push(FieldError::new(
                    "trigger.type",
                    "not_applicable",
                    "`status_changed` applies to lead and ticket workflows only",
                ))
            }
            Trigger::SlaAtRisk { .. } => only(RecordType::Ticket, "sla_at_risk", errors),
            Trigger::SlaBreached { .. } => only(RecordType::Ticket, "sla_breached", errors),
            Trigger::FormSubmitted { .. } => only(RecordType::Lead, "form_submitted", errors),
            Trigger::FieldChanged { field, .. } if !is_view_field(self.record_type, field) => {
                errors.push(FieldError::new(
                    "trigger.field",
                    "unknown",
                    format!("is not a field of a {}", self.record_type.as_str()),
                ))
            }
            Trigger::DateReached { offset_minutes, .. } if offset_minutes.unsigned_abs() > OFFSET_MINUTES_MAX => errors
                .push(FieldError::new("trigger.offset_minutes", "out_of_range", "at most a year (525600) either way")),
            Trigger::Schedule { time_zone: Some(zone), .. } if zone.parse::<chrono_tz::Tz>().is_err() => {
                errors.push(FieldError::new("trigger.time_zone", "invalid", "is not an IANA time zone (Europe/Berlin)"))
            }
            Trigger::Schedule { cron, .. }
                if cron.split_whitespace().count() != 5 || cron_parser::parse(cron, &Utc::now()).is_err() =>
            {
                errors.push(FieldError::new(
                    "trigger.cron",
                    "invalid",
                    "is not a cron schedule of five fields (minute hour day month weekday)",
                ))
            }
            _ => {}
        }
    }

    /// The filters the workflow holds, with where each is, for the caller to parse.
    pub fn filters(&self) -> Vec<(String, &Value)> {
        let mut found: Vec<(String, &Value)> = self.conditions.iter().map(|c| ("conditions".to_owned(), c)).collect();
        collect_filters(&self.steps, "steps", &mut found);
        found
    }
}

/// The path of the first step (branches included) that `is` picks.
fn find_step(steps: &[Step], path: &str, is: fn(&Step) -> bool) -> Option<String> {
    steps.iter().enumerate().find_map(|(index, step)| {
        let here = format!("{path}[{index}]");
        if is(step) {
            return Some(here);
        }
        match step {
            Step::Branch { then, otherwise, .. } => find_step(then, &format!("{here}.then"), is)
                .or_else(|| find_step(otherwise, &format!("{here}.else"), is)),
            _ => None,
        }
    })
}

fn collect_filters<'a>(steps: &'a [Step], path: &str, found: &mut Vec<(String, &'a Value)>) {
    for (index, step) in steps.iter().enumerate() {
        if let Step::Branch { condition, then, otherwise } = step {
            let here = format!("{path}[{index}]");
            found.push((format!("{here}.condition"), condition));
            collect_filters(then, &format!("{here}.then"), found);
            collect_filters(otherwise, &format!("{here}.else"), found);
        }
    }
}

/// Whether `field` is a standard field of the record type's API view a trigger can watch.
fn is_view_field(record_type: RecordType, field: &str) -> bool {
    matches!(field, "owner_id" | "team_id" | "tags")
        || crate::registry::linked(record_type).fields.iter().any(|spec| spec.name == field)
}

fn check_steps(steps: &[Step], path: &str, nesting: usize, count: &mut usize, errors: &mut ValidationErrors) {
    for (index, step) in steps.iter().enumerate() {
        *count += 1;
        let at = |field: &str| format!("{path}[{index}].{field}");
        let mut refuse =
            |field: &str, code: &'static str, message: &str| errors.push(FieldError::new(at(field), code, message));
        match step {
            Step::UpdateFields { fields } => {
                if fields.is_empty() {
                    refuse("fields", "required", "names no field to change");
                }
                if fields.contains_key("id") {
                    refuse("fields", "invalid", "a record's id cannot change");
                }
            }
            Step::AssignOwner { user_id, team_id } => {
                if user_id.is_some() == team_id.is_some() {
                    refuse("user_id", "invalid", "give either `user_id` or `team_id` (round-robin)");
                }
            }
            Step::CreateTask { title, description, due_in_days, .. } => {
                if title.trim().is_empty() || title.chars().count() > NAME_MAX {
                    refuse("title", "invalid", "must be 1 to 200 characters");
                }
                if due_in_days.is_some_and(|days| days > DUE_IN_DAYS_MAX) {
                    refuse("due_in_days", "out_of_range", "at most 3650 (ten years)");
                }
                if description.as_ref().is_some_and(|d| d.chars().count() > TEXT_MAX) {
                    refuse("description", "too_long", "at most 2000 characters");
                }
            }
            Step::AddTag { tag } | Step::RemoveTag { tag } => {
                if let Err(error) = crate::values::Tags::parse_one("tag", tag) {
                    refuse("tag", error.code, &error.message);
                }
            }
            Step::SendEmail { to: Some(to), .. } if to.trim().is_empty() => {
                refuse("to", "invalid", "must be `owner`, a user id or an email address");
            }
            Step::SendEmail { .. } | Step::SendSurvey { .. } | Step::CallWebhook { .. } | Step::CheckConditions => {}
            Step::Notify { message, owner, owner_managers, user_ids } => {
                if message.trim().is_empty() || message.chars().count() > TEXT_MAX {
                    refuse("message", "invalid", "must be 1 to 2000 characters");
                }
                if !owner && !owner_managers && user_ids.is_empty() {
                    refuse("user_ids", "required", "names nobody: set `owner`, `owner_managers` or `user_ids`");
                }
            }
            Step::Wait { minutes, until_field, offset_minutes } => match (minutes, until_field) {
                (Some(minutes), None) if (1..=WAIT_MINUTES_MAX).contains(minutes) => {}
                (Some(_), None) => refuse("minutes", "out_of_range", "must be 1 to 525600 (a year)"),
                (None, Some(_)) if offset_minutes.unsigned_abs() > OFFSET_MINUTES_MAX => {
                    refuse("offset_minutes", "out_of_range", "at most a year (525600) either way")
                }
                (None, Some(_)) => {}
                _ => refuse("minutes", "invalid", "give either `minutes` or `until_field`"),
            },
            Step::Branch { then, otherwise, .. } => {
                if nesting + 1 > NESTING_MAX {
                    refuse("then", "too_deep", "branches nest at most 5 deep");
                } else {
                    check_steps(then, &at("then"), nesting + 1, count, errors);
                    check_steps(otherwise, &at("else"), nesting + 1, count, errors);
                }
            }
        }
    }
}

/// The parts of an event a trigger looks at: its type and `{object, previous, changed_fields}`.
#[derive(Debug, Clone, Copy)]
pub struct EventFacts<'a> {
    pub event_type: &'a str,
    pub record_type: &'a str,
    pub payload: &'a Value,
}

impl EventFacts<'_> {
    fn field(&self, part: &str, field: &str) -> Option<&Value> {
        self.payload.get(part).and_then(|view| view.get(field))
    }

    /// An SLA event's clock is `metric` (any clock when `None`).
    fn clock_is(&self, metric: Option<crate::sla::Metric>) -> bool {
        metric.is_none_or(|m| self.payload.get("metric").and_then(Value::as_str) == Some(m.as_str()))
    }

    fn changed(&self, field: &str) -> bool {
        self.payload
            .get("changed_fields")
            .and_then(Value::as_array)
            .is_some_and(|fields| fields.iter().any(|f| f.as_str() == Some(field)))
    }

    fn moved(&self, field: &str, from: Option<&Value>, to: Option<&Value>) -> bool {
        let null = Value::Null;
        let before = self.field("previous", field).unwrap_or(&null);
        let after = self.field("object", field).unwrap_or(&null);
        self.changed(field) && from.is_none_or(|from| from == before) && to.is_none_or(|to| to == after)
    }
}

impl Trigger {
    /// Whether an event fires this trigger of a workflow on `record_type`.
    pub fn fires(&self, record_type: RecordType, event: &EventFacts<'_>) -> bool {
        let noun = record_type.as_str();
        if event.record_type != noun {
            return false;
        }
        let is = |what: &str| event.event_type.strip_prefix(noun).and_then(|rest| rest.strip_prefix('.')) == Some(what);
        let text = |value: &Option<String>| value.clone().map(Value::String);
        match self {
            Trigger::Created => is("created"),
            Trigger::Updated => is("updated"),
            Trigger::Deleted => is("deleted"),
            Trigger::Assigned => is("updated") && event.changed("owner_id"),
            Trigger::FieldChanged { field, from, to } => {
                is("updated") && event.moved(field, from.as_ref(), to.as_ref())
            }
            Trigger::StageChanged { from, to } => {
                is("stage_changed") && event.moved("stage_id", text(from).as_ref(), text(to).as_ref())
            }
            Trigger::StatusChanged { from, to } => {
                is("status_changed") && event.moved("status", text(from).as_ref(), text(to).as_ref())
            }
            Trigger::SlaAtRisk { metric } => is("sla_at_risk") && event.clock_is(*metric),
            Trigger::SlaBreached { metric } => is("sla_breached") && event.clock_is(*metric),
            Trigger::FormSubmitted { form_id } => {
                event.event_type == "form.submitted"
                    && form_id
                        .as_ref()
                        .is_none_or(|id| event.payload.get("form_id").and_then(Value::as_str) == Some(id))
            }
            Trigger::DateReached { .. } | Trigger::Schedule { .. } | Trigger::Manual => false,
        }
    }
}

/// What a record's enrollment in a workflow says about a match now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrollment {
    /// Whether the record matched when last looked at.
    pub matching: bool,
    /// Whether a run of it is under way.
    pub running: bool,
    /// Whether it ever entered.
    pub entered: bool,
}

/// Whether a record enters a workflow now: it matches, no run of it is under way, and it never
/// entered, or re-enrollment is on and this is a fresh match (it did not match last time).
pub fn enters(enrollment: Enrollment, matches: bool, reenroll: bool) -> bool {
    matches && !enrollment.running && (!enrollment.entered || (reenroll && !enrollment.matching))
}

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Queued,
    Running,
    /// Waiting until `wait_until`.
    Waiting,
    Completed,
    Failed,
    Cancelled,
}

impl RunState {
    /// The state as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Waiting => "waiting",
            RunState::Completed => "completed",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "queued" => RunState::Queued,
            "running" => RunState::Running,
            "waiting" => RunState::Waiting,
            "completed" => RunState::Completed,
            "failed" => RunState::Failed,
            "cancelled" => RunState::Cancelled,
            _ => return None,
        })
    }

    /// Whether the run has ended (nothing more happens unless a failed step is retried).
    pub fn ended(self) -> bool {
        matches!(self, RunState::Completed | RunState::Failed | RunState::Cancelled)
    }
}

/// What came of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Completed,
    Failed,
    /// Nothing to do (a tag already there), or the run ended before it.
    Skipped,
    /// A wait, until the run's `wait_until`.
    Waiting,
}

impl StepOutcome {
    /// The outcome as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            StepOutcome::Completed => "completed",
            StepOutcome::Failed => "failed",
            StepOutcome::Skipped => "skipped",
            StepOutcome::Waiting => "waiting",
        }
    }

    /// The outcome a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "completed" => StepOutcome::Completed,
            "failed" => StepOutcome::Failed,
            "skipped" => StepOutcome::Skipped,
            "waiting" => StepOutcome::Waiting,
            _ => return None,
        })
    }
}

/// One position of a workflow's program.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op<'a> {
    /// Do a step, then go on at the next position.
    Do(&'a Step),
    /// A branch: go on at the next position if the record matches, else at `otherwise`.
    Test { condition: &'a Value, otherwise: usize },
    /// Go on at this position (the end of a branch's `then`).
    Goto(usize),
}

/// The steps flattened: a run walks it position by position, so where it stands is one
/// number, and `(run, position)` names each step's effect once.
pub fn program(steps: &[Step]) -> Vec<Op<'_>> {
    let mut ops = Vec::new();
    flatten(steps, &mut ops);
    ops
}

fn flatten<'a>(steps: &'a [Step], ops: &mut Vec<Op<'a>>) {
    for step in steps {
        match step {
            Step::Branch { condition, then, otherwise } => {
                let test = ops.len();
                ops.push(Op::Test { condition, otherwise: 0 });
                flatten(then, ops);
                let goto = ops.len();
                ops.push(Op::Goto(0));
                let else_at = ops.len();
                flatten(otherwise, ops);
                let end = ops.len();
                ops[test] = Op::Test { condition, otherwise: else_at };
                ops[goto] = Op::Goto(end);
            }
            other => ops.push(Op::Do(other)),
        }
    }
}

/// A merge-patch of `tags` that adds or removes one (case-insensitively), or `None` when the
/// record's tags already are so.
pub fn tags_after(current: &[String], tag: &str, add: bool) -> Option<Vec<String>> {
    let has = current.iter().any(|t| t.eq_ignore_ascii_case(tag));
    match (add, has) {
        (true, false) => Some(current.iter().cloned().chain(std::iter::once(tag.to_owned())).collect()),
        (false, true) => Some(current.iter().filter(|t| !t.eq_ignore_ascii_case(tag)).cloned().collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn workflow(value: Value) -> Result<Workflow, String> {
        let workflow: Workflow = serde_json::from_value(value).map_err(|e| e.to_string())?;
        workflow.validated().map_err(|e| format!("{e:?}"))
    }

    fn won_deal_workflow() -> Value {
        json!({
            "name": "Onboard",
            "record_type": "deal",
            "trigger": {"type": "stage_changed", "to": "won"},
            "steps": [
                {"type": "create_task", "title": "Kick-off call", "due_in_days": 2},
                {"type": "branch", "condition": {"field": "amount", "op": "gte", "value": 1000},
                 "then": [{"type": "add_tag", "tag": "big"}],
                 "else": [{"type": "add_tag", "tag": "small"}]},
                {"type": "notify", "message": "Won", "owner_managers": true}
            ]
        })
    }

    #[test]
    fn a_workflow_with_a_trigger_steps_and_a_branch_is_accepted_as_a_draft() {
        let workflow = workflow(won_deal_workflow()).expect("a valid workflow");
        assert_eq!(workflow.status, WorkflowStatus::Draft);
        assert!(!workflow.reenroll);
        assert_eq!(workflow.filters().len(), 1);
    }

    #[test]
    fn a_trigger_of_another_record_type_and_unknown_fields_are_refused() {
        let mut body = won_deal_workflow();
        body["record_type"] = json!("contact");
        assert!(workflow(body).expect_err("refused").contains("trigger.type"));
        let mut body = won_deal_workflow();
        body["trigger"] = json!({"type": "field_changed", "field": "nonsense"});
        assert!(workflow(body).expect_err("refused").contains("trigger.field"));
        let mut body = won_deal_workflow();
        body["steps"][0]["colour"] = json!("red");
        assert!(workflow(body).expect_err("refused").contains("unknown field"));
    }

    #[test]
    fn steps_that_say_nothing_or_too_much_are_refused_with_their_path() {
        let mut body = won_deal_workflow();
        body["steps"][1]["then"][0] = json!({"type": "assign_owner", "user_id": "u", "team_id": "t"});
        assert!(workflow(body).expect_err("refused").contains("steps[1].then[0].user_id"));
        let mut body = won_deal_workflow();
        body["steps"][2] = json!({"type": "wait", "minutes": 0});
        assert!(workflow(body).expect_err("refused").contains("steps[2].minutes"));
        let mut body = won_deal_workflow();
        body["steps"][2] = json!({"type": "notify", "message": "hi"});
        assert!(workflow(body).expect_err("refused").contains("steps[2].user_ids"));
        let mut body = won_deal_workflow();
        body["steps"] = json!([]);
        assert!(workflow(body).expect_err("refused").contains("steps"));
    }

    #[test]
    fn offsets_at_the_ends_of_the_integer_range_are_refused_instead_of_overflowing() {
        for extreme in [i32::MIN, i32::MAX] {
            let mut body = won_deal_workflow();
            body["trigger"] = json!({"type": "date_reached", "field": "closed_at", "offset_minutes": extreme});
            assert!(workflow(body).expect_err("refused").contains("trigger.offset_minutes"));
            let mut body = won_deal_workflow();
            body["steps"][2] = json!({"type": "wait", "until_field": "closed_at", "offset_minutes": extreme});
            assert!(workflow(body).expect_err("refused").contains("steps[2].offset_minutes"));
        }
        let mut body = won_deal_workflow();
        body["steps"][2] = json!({"type": "create_task", "title": "Later", "due_in_days": u32::MAX});
        assert!(workflow(body).expect_err("refused").contains("steps[2].due_in_days"));
    }

    #[test]
    fn a_branch_flattens_to_a_test_its_then_a_jump_past_its_else_and_its_else() {
        let workflow = workflow(won_deal_workflow()).expect("a valid workflow");
        let ops = program(&workflow.steps);
        assert_eq!(ops.len(), 6);
        assert!(matches!(ops[0], Op::Do(Step::CreateTask { .. })));
        assert!(matches!(ops[1], Op::Test { otherwise: 4, .. }));
        assert!(matches!(ops[2], Op::Do(Step::AddTag { tag }) if tag == "big"));
        assert_eq!(ops[3], Op::Goto(5));
        assert!(matches!(ops[4], Op::Do(Step::AddTag { tag }) if tag == "small"));
        assert!(matches!(ops[5], Op::Do(Step::Notify { .. })));
    }

    #[test]
    fn a_stage_trigger_fires_on_the_move_it_names_only() {
        let trigger = Trigger::StageChanged { from: None, to: Some("won".into()) };
        let payload =
            json!({"object": {"stage_id": "won"}, "previous": {"stage_id": "demo"}, "changed_fields": ["stage_id"]});
        let event = |event_type| EventFacts { event_type, record_type: "deal", payload: &payload };
        assert!(trigger.fires(RecordType::Deal, &event("deal.stage_changed")));
        assert!(!trigger.fires(RecordType::Deal, &event("deal.updated")));
        assert!(!trigger.fires(RecordType::Lead, &event("deal.stage_changed")));
        let elsewhere =
            json!({"object": {"stage_id": "lost"}, "previous": {"stage_id": "demo"}, "changed_fields": ["stage_id"]});
        let lost = EventFacts { event_type: "deal.stage_changed", record_type: "deal", payload: &elsewhere };
        assert!(!trigger.fires(RecordType::Deal, &lost));
    }

    #[test]
    fn a_field_trigger_needs_the_field_among_the_changed_ones_and_its_values_to_agree() {
        let trigger = Trigger::FieldChanged { field: "email".into(), from: None, to: Some(json!("b@x.io")) };
        let changed =
            json!({"object": {"email": "b@x.io"}, "previous": {"email": "a@x.io"}, "changed_fields": ["email"]});
        let other =
            json!({"object": {"email": "b@x.io"}, "previous": {"email": "b@x.io"}, "changed_fields": ["phone"]});
        let facts = |payload| EventFacts { event_type: "contact.updated", record_type: "contact", payload };
        assert!(trigger.fires(RecordType::Contact, &facts(&changed)));
        assert!(!trigger.fires(RecordType::Contact, &facts(&other)));
        let reassigned = json!({"object": {}, "previous": {}, "changed_fields": ["owner_id"]});
        assert!(Trigger::Assigned.fires(RecordType::Contact, &facts(&reassigned)));
        assert!(!Trigger::Manual.fires(RecordType::Contact, &facts(&changed)));
    }

    #[test]
    fn a_record_enters_once_unless_reenrollment_is_on_and_the_match_is_fresh() {
        let never = Enrollment::default();
        assert!(enters(never, true, false));
        assert!(!enters(never, false, true));
        let entered_matching = Enrollment { matching: true, running: false, entered: true };
        assert!(!enters(entered_matching, true, false));
        assert!(!enters(entered_matching, true, true), "still matching is not a fresh match");
        let entered_not_matching = Enrollment { matching: false, running: false, entered: true };
        assert!(!enters(entered_not_matching, true, false));
        assert!(enters(entered_not_matching, true, true));
        let running = Enrollment { matching: false, running: true, entered: true };
        assert!(!enters(running, true, true), "never twice at the same time");
    }

    #[test]
    fn a_date_time_window_is_moved_back_by_the_offset_and_a_date_compares_by_its_day() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).expect("a time");
        let (after, until) = (at("2026-12-04T10:00:00Z"), at("2026-12-04T10:05:00Z"));
        let three_days_after = reached_window("closed_at", false, 4320, after, until);
        assert_eq!(three_days_after["and"][0]["value"], "2026-12-01T10:00:00.000000Z");
        assert_eq!(three_days_after["and"][1]["value"], "2026-12-01T10:05:00.000000Z");
        // 30 days before a renewal date: dates 30 days ahead whose midnight the window passed.
        let (before_midnight, after_midnight) = (at("2026-12-04T23:58:00Z"), at("2026-12-05T00:02:00Z"));
        let before = reached_window("renews_on", true, -43200, before_midnight, after_midnight);
        assert_eq!(before["and"][0], json!({"field": "renews_on", "op": "gt", "value": "2027-01-03"}));
        assert_eq!(before["and"][1], json!({"field": "renews_on", "op": "lte", "value": "2027-01-04"}));
        let quiet = reached_window("renews_on", true, 0, after, until);
        assert_eq!(quiet["and"][0]["value"], quiet["and"][1]["value"], "no midnight in the window: no day matches");
    }

    #[test]
    fn a_schedule_ticks_in_its_time_zone_and_a_bad_one_is_refused() {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).expect("a time");
        // Mondays 9:00 in Berlin: 8:00 UTC in winter, 7:00 UTC in summer.
        let berlin = |after| next_tick("0 9 * * MON", Some("Europe/Berlin"), after);
        assert_eq!(berlin(at("2026-12-04T12:00:00Z")), Some(at("2026-12-07T08:00:00Z")));
        assert_eq!(berlin(at("2026-06-02T12:00:00Z")), Some(at("2026-06-08T07:00:00Z")));
        assert_eq!(next_tick("*/15 * * * *", None, at("2026-12-04T12:07:00Z")), Some(at("2026-12-04T12:15:00Z")));
        let mut body = won_deal_workflow();
        body["trigger"] = json!({"type": "schedule", "cron": "every monday"});
        assert!(workflow(body).expect_err("refused").contains("trigger.cron"));
        let mut body = won_deal_workflow();
        body["trigger"] = json!({"type": "schedule", "cron": "0 9 * * MON", "time_zone": "Mars/Olympus"});
        assert!(workflow(body).expect_err("refused").contains("trigger.time_zone"));
    }

    #[test]
    fn a_tag_is_added_or_removed_once_ignoring_case() {
        let tags = vec!["VIP".to_owned()];
        assert_eq!(tags_after(&tags, "vip", true), None);
        assert_eq!(tags_after(&tags, "new", true), Some(vec!["VIP".to_owned(), "new".to_owned()]));
        assert_eq!(tags_after(&tags, "vip", false), Some(vec![]));
        assert_eq!(tags_after(&tags, "gone", false), None);
    }
}
