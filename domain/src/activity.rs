//! Activities (interactions of every channel) and tasks, both linked to the records they
//! are about; the due-date windows of task lists.

use chrono::{DateTime, FixedOffset, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::record::{Patch, patch_tags, patch_text, search_text};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{EmailAddress, LONG_TEXT_MAX, SHORT_TEXT_MAX, Tags, required_text};

/// Most records one activity or task may be linked to.
pub const LINKS_MAX: usize = 10;
/// Most participants one activity may list.
pub const PARTICIPANTS_MAX: usize = 50;
/// Longest accepted call or meeting: one week, in seconds.
pub const DURATION_MAX_SECONDS: i64 = 7 * 24 * 3600;

/// The channel of an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    Email,
    Call,
    Meeting,
    Chat,
    Social,
    Note,
}

impl ActivityType {
    /// The type as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::Email => "email",
            ActivityType::Call => "call",
            ActivityType::Meeting => "meeting",
            ActivityType::Chat => "chat",
            ActivityType::Social => "social",
            ActivityType::Note => "note",
        }
    }

    /// Messages and calls go one way; meetings and notes have no direction.
    fn has_direction(self) -> bool {
        matches!(self, ActivityType::Email | ActivityType::Call | ActivityType::Chat | ActivityType::Social)
    }

    /// Only calls and meetings last.
    fn has_duration(self) -> bool {
        matches!(self, ActivityType::Call | ActivityType::Meeting)
    }
}

/// Whether the customer or we started an interaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// The kinds of records activities and tasks link to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    Contact,
    Company,
    Lead,
    Deal,
    Product,
    Ticket,
    Article,
}

impl RecordType {
    /// The type as stored and as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Contact => "contact",
            RecordType::Company => "company",
            RecordType::Lead => "lead",
            RecordType::Deal => "deal",
            RecordType::Product => "product",
            RecordType::Ticket => "ticket",
            RecordType::Article => "article",
        }
    }

    /// The type a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        use RecordType::*;
        [Contact, Company, Lead, Deal, Product, Ticket, Article].into_iter().find(|t| t.as_str() == name)
    }
}

/// A link to one record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRef {
    pub record_type: RecordType,
    #[schema(example = "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61")]
    pub id: String,
}

/// Someone who took part in an interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    #[serde(default)]
    #[schema(max_length = 200, example = "Ada Lovelace")]
    pub name: Option<String>,
    /// Lower-cased.
    #[serde(default)]
    #[schema(max_length = 254, example = "ada@example.com")]
    pub email: Option<String>,
}

fn parse_links(field: &str, links: Vec<RecordRef>, errors: &mut ValidationErrors) -> Vec<RecordRef> {
    if links.len() > LINKS_MAX {
        errors.push(FieldError::new(field, "too_many", format!("at most {LINKS_MAX} links")));
        return Vec::new();
    }
    let mut unique: Vec<RecordRef> = Vec::new();
    for (index, mut link) in links.into_iter().enumerate() {
        link.id = link.id.trim().to_owned();
        if link.id.is_empty() || link.id.len() > 64 {
            errors.push(FieldError::new(format!("{field}[{index}].id"), "invalid", "must be a record id"));
        } else if !unique.contains(&link) {
            unique.push(link);
        }
    }
    unique
}

fn parse_participants(inputs: Vec<Participant>, errors: &mut ValidationErrors) -> Vec<Participant> {
    if inputs.len() > PARTICIPANTS_MAX {
        errors.push(FieldError::new("participants", "too_many", format!("at most {PARTICIPANTS_MAX} participants")));
        return Vec::new();
    }
    let mut participants = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let path = |part: &str| format!("participants[{index}].{part}");
        let name = input
            .name
            .and_then(|n| errors.collect(crate::values::optional_text(&path("name"), &n, SHORT_TEXT_MAX)).flatten());
        let email = input
            .email
            .filter(|e| !e.trim().is_empty())
            .and_then(|e| errors.collect(EmailAddress::parse(&path("email"), &e)))
            .map(|e| e.as_str().to_owned());
        if name.is_none() && email.is_none() {
            errors.push(FieldError::new(path("name"), "required", "a participant needs a name or an email"));
        }
        participants.push(Participant { name, email });
    }
    participants
}

/// An activity's fields as stored: valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityData {
    pub activity_type: ActivityType,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub direction: Option<Direction>,
    pub occurred_at: DateTime<Utc>,
    pub duration_seconds: Option<i64>,
    pub outcome: Option<String>,
    pub participants: Vec<Participant>,
    pub links: Vec<RecordRef>,
    /// Who logged it.
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Tags,
}

crate::record::owned_by_fields!(ActivityData);

/// A create or merge-patch of an activity, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct ActivityChanges {
    pub activity_type: Patch<ActivityType>,
    pub subject: Patch<String>,
    pub body: Patch<String>,
    pub direction: Patch<Direction>,
    pub occurred_at: Patch<DateTime<Utc>>,
    pub duration_seconds: Patch<i64>,
    pub outcome: Patch<String>,
    pub participants: Patch<Vec<Participant>>,
    pub links: Patch<Vec<RecordRef>>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub tags: Patch<Vec<String>>,
}

impl ActivityData {
    /// Applies `changes` to `current` (`None` for a create; it then happened `now` unless
    /// `occurred_at` says otherwise) and checks what fits the activity's type.
    pub fn apply(
        current: Option<&ActivityData>,
        changes: ActivityChanges,
        now: DateTime<Utc>,
    ) -> Result<ActivityData, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let e = &mut errors;
        let activity_type = match (changes.activity_type, current) {
            (Patch::Set(kind), _) => kind,
            (Patch::Keep, Some(current)) => current.activity_type,
            _ => {
                e.push(FieldError::new("activity_type", "required", "an activity needs a type"));
                ActivityType::Note
            }
        };
        let base = |f: fn(&ActivityData) -> Option<String>| current.and_then(f);
        let subject = patch_text(e, "subject", changes.subject, base(|a| a.subject.clone()), SHORT_TEXT_MAX);
        let body = patch_text(e, "body", changes.body, base(|a| a.body.clone()), LONG_TEXT_MAX);
        let outcome = patch_text(e, "outcome", changes.outcome, base(|a| a.outcome.clone()), SHORT_TEXT_MAX);
        let owner_id = patch_text(e, "owner_id", changes.owner_id, base(|a| a.owner_id.clone()), 64);
        let team_id = patch_text(e, "team_id", changes.team_id, base(|a| a.team_id.clone()), 64);
        let direction = changes.direction.resolve(current.and_then(|a| a.direction));
        let occurred_at = changes.occurred_at.resolve(current.map(|a| a.occurred_at)).unwrap_or(now);
        let duration_seconds = changes.duration_seconds.resolve(current.and_then(|a| a.duration_seconds));
        let participants = match changes.participants {
            Patch::Keep => current.map(|a| a.participants.clone()).unwrap_or_default(),
            Patch::Clear => Vec::new(),
            Patch::Set(list) => parse_participants(list, e),
        };
        let links = match changes.links {
            Patch::Keep => current.map(|a| a.links.clone()).unwrap_or_default(),
            Patch::Clear => Vec::new(),
            Patch::Set(list) => parse_links("links", list, e),
        };
        let tags = patch_tags(e, changes.tags, current.map(|a| a.tags.clone()).unwrap_or_default());
        if direction.is_some() && !activity_type.has_direction() {
            e.push(FieldError::new(
                "direction",
                "not_applicable",
                format!("a {} has no direction", activity_type.as_str()),
            ));
        }
        match duration_seconds {
            Some(_) if !activity_type.has_duration() => {
                e.push(FieldError::new("duration_seconds", "not_applicable", "only calls and meetings have a duration"))
            }
            Some(d) if !(0..=DURATION_MAX_SECONDS).contains(&d) => e.push(FieldError::new(
                "duration_seconds",
                "out_of_range",
                format!("must be between 0 and {DURATION_MAX_SECONDS}"),
            )),
            _ => {}
        }
        if activity_type == ActivityType::Note && body.is_none() {
            e.push(FieldError::new("body", "required", "a note needs a body"));
        } else if subject.is_none() && body.is_none() {
            e.push(FieldError::new("subject", "required", "an activity needs a subject or a body"));
        }
        if links.is_empty() {
            e.push(FieldError::new(
                "links",
                "required",
                "link the activity to at least one contact, company, lead or deal",
            ));
        }
        errors.into_result(|| ActivityData {
            activity_type,
            subject,
            body,
            direction,
            occurred_at,
            duration_seconds,
            outcome,
            participants,
            links,
            owner_id,
            team_id,
            tags,
        })
    }

    /// The key `name` sorts on: the subject, else the start of the body.
    pub fn sort_name(&self) -> String {
        self.subject
            .clone()
            .or_else(|| self.body.as_ref().map(|b| b.chars().take(100).collect()))
            .unwrap_or_default()
            .to_lowercase()
    }

    /// Everything `q` searches: subject, body, outcome, participants.
    pub fn search_text(&self) -> String {
        search_text(
            [self.subject.as_deref(), self.body.as_deref(), self.outcome.as_deref()]
                .into_iter()
                .chain(self.participants.iter().flat_map(|p| [p.name.as_deref(), p.email.as_deref()])),
        )
    }
}

/// How urgent a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[default]
    Open,
    Done,
    Cancelled,
}

/// A task's fields as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskData {
    pub title: String,
    pub description: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub priority: Priority,
    pub status: TaskStatus,
    /// The assignee; the API calls it `assignee_id`.
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub links: Vec<RecordRef>,
    pub reminder_at: Option<DateTime<Utc>>,
    pub reminder_acknowledged_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The activity this task follows up, if any.
    pub activity_id: Option<String>,
    pub tags: Tags,
}

crate::record::owned_by_fields!(TaskData);

/// A create or merge-patch of a task, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub title: Patch<String>,
    pub description: Patch<String>,
    pub due_at: Patch<DateTime<Utc>>,
    pub priority: Patch<Priority>,
    pub status: Patch<TaskStatus>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub links: Patch<Vec<RecordRef>>,
    pub reminder_at: Patch<DateTime<Utc>>,
    pub tags: Patch<Vec<String>>,
}

/// Why a reminder cannot be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoReminder;

impl TaskData {
    /// Applies `changes` to `current` (`None` for a create). Completing stamps `completed_at`;
    /// reopening clears it; a new reminder time needs a new acknowledgement.
    pub fn apply(
        current: Option<&TaskData>,
        changes: TaskChanges,
        now: DateTime<Utc>,
    ) -> Result<TaskData, ValidationErrors> {
        let base = current.cloned().unwrap_or_default();
        let mut errors = ValidationErrors::new();
        let e = &mut errors;
        let title = match changes.title {
            Patch::Keep if current.is_some() => base.title.clone(),
            Patch::Set(raw) => e.collect(required_text("title", &raw, SHORT_TEXT_MAX)).unwrap_or_default(),
            Patch::Keep | Patch::Clear => {
                e.push(FieldError::new("title", "required", "a task needs a title"));
                String::new()
            }
        };
        let status = match changes.status {
            Patch::Clear => {
                e.push(FieldError::new("status", "required", "a task always has a status"));
                base.status
            }
            other => other.resolve(Some(base.status)).unwrap_or_default(),
        };
        let priority = match changes.priority {
            Patch::Clear => Priority::Normal,
            other => other.resolve(Some(base.priority)).unwrap_or_default(),
        };
        let completed_at = match status {
            TaskStatus::Done if base.status == TaskStatus::Done && current.is_some() => base.completed_at,
            TaskStatus::Done => Some(now),
            _ => None,
        };
        let reminder_at = changes.reminder_at.resolve(base.reminder_at);
        let reminder_acknowledged_at =
            if reminder_at == base.reminder_at { base.reminder_acknowledged_at } else { None };
        let links = match changes.links {
            Patch::Keep => base.links.clone(),
            Patch::Clear => Vec::new(),
            Patch::Set(list) => parse_links("links", list, e),
        };
        let data = TaskData {
            title,
            description: patch_text(e, "description", changes.description, base.description, LONG_TEXT_MAX),
            due_at: changes.due_at.resolve(base.due_at),
            priority,
            status,
            owner_id: patch_text(e, "assignee_id", changes.owner_id, base.owner_id, 64),
            team_id: patch_text(e, "team_id", changes.team_id, base.team_id, 64),
            links,
            reminder_at,
            reminder_acknowledged_at,
            completed_at,
            activity_id: base.activity_id,
            tags: patch_tags(e, changes.tags, base.tags),
        };
        errors.into_result(|| data)
    }

    /// The task with its reminder acknowledged; refused when it has no reminder.
    pub fn acknowledged(mut self, now: DateTime<Utc>) -> Result<TaskData, NoReminder> {
        if self.reminder_at.is_none() {
            return Err(NoReminder);
        }
        self.reminder_acknowledged_at = Some(now);
        Ok(self)
    }

    /// The key `name` sorts on.
    pub fn sort_name(&self) -> String {
        self.title.to_lowercase()
    }

    /// Everything `q` searches: title and description.
    pub fn search_text(&self) -> String {
        search_text([Some(self.title.as_str()), self.description.as_deref()])
    }
}

/// Which due dates a task list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueWindow {
    /// Due during the caller's current day.
    Today,
    /// Due before now.
    Overdue,
    /// Due from now on.
    Upcoming,
}

/// The due-time range `[from, to)` of a window, for a caller whose day runs in `offset`.
pub fn due_range(
    window: DueWindow,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    match window {
        DueWindow::Overdue => (None, Some(now)),
        DueWindow::Upcoming => (Some(now), None),
        DueWindow::Today => {
            let local_day = now.with_timezone(&offset).date_naive();
            let start = local_day.and_time(NaiveTime::MIN).and_local_timezone(offset).single().map(|t| t.to_utc());
            (start, start.map(|s| s + TimeDelta::days(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Vec<RecordRef> {
        vec![RecordRef { record_type: RecordType::Lead, id: "l1".into() }]
    }

    fn call() -> ActivityChanges {
        ActivityChanges {
            activity_type: Patch::Set(ActivityType::Call),
            subject: Patch::Set("Intro call".into()),
            links: Patch::Set(link()),
            ..Default::default()
        }
    }

    #[test]
    fn a_call_has_direction_and_duration_but_a_note_has_neither() {
        let now = Utc::now();
        let made = ActivityData::apply(
            None,
            ActivityChanges { direction: Patch::Set(Direction::Outbound), duration_seconds: Patch::Set(600), ..call() },
            now,
        )
        .expect("valid call");
        assert_eq!(made.occurred_at, now);
        let note = ActivityChanges {
            activity_type: Patch::Set(ActivityType::Note),
            body: Patch::Set("hello".into()),
            direction: Patch::Set(Direction::Inbound),
            duration_seconds: Patch::Set(5),
            links: Patch::Set(link()),
            ..Default::default()
        };
        let fields: Vec<String> = ActivityData::apply(None, note, now)
            .err()
            .map(|e| e.errors().iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["direction", "duration_seconds"]);
    }

    #[test]
    fn an_activity_needs_a_link_and_links_are_deduplicated() {
        let now = Utc::now();
        assert!(ActivityData::apply(None, ActivityChanges { links: Patch::Set(vec![]), ..call() }, now).is_err());
        let twice = ActivityChanges { links: Patch::Set([link(), link()].concat()), ..call() };
        assert_eq!(ActivityData::apply(None, twice, now).map(|a| a.links.len()), Ok(1));
    }

    #[test]
    fn completing_stamps_and_reopening_clears_completed_at() {
        let now = Utc::now();
        let task =
            TaskData::apply(None, TaskChanges { title: Patch::Set("Call back".into()), ..Default::default() }, now)
                .expect("valid");
        let done = TaskData::apply(
            Some(&task),
            TaskChanges { status: Patch::Set(TaskStatus::Done), ..Default::default() },
            now,
        )
        .expect("valid");
        assert_eq!(done.completed_at, Some(now));
        let reopened = TaskData::apply(
            Some(&done),
            TaskChanges { status: Patch::Set(TaskStatus::Open), ..Default::default() },
            now,
        )
        .expect("valid");
        assert_eq!(reopened.completed_at, None);
    }

    #[test]
    fn a_new_reminder_time_needs_a_new_acknowledgement() {
        let now = Utc::now();
        let task = TaskData::apply(
            None,
            TaskChanges { title: Patch::Set("t".into()), reminder_at: Patch::Set(now), ..Default::default() },
            now,
        )
        .expect("valid");
        let acknowledged = task.acknowledged(now).expect("has a reminder");
        assert_eq!(acknowledged.reminder_acknowledged_at, Some(now));
        let later = now + TimeDelta::hours(1);
        let moved = TaskData::apply(
            Some(&acknowledged),
            TaskChanges { reminder_at: Patch::Set(later), ..Default::default() },
            now,
        )
        .expect("valid");
        assert_eq!(moved.reminder_acknowledged_at, None);
        let without = TaskData::apply(None, TaskChanges { title: Patch::Set("t".into()), ..Default::default() }, now)
            .expect("valid");
        assert_eq!(without.acknowledged(now), Err(NoReminder));
    }

    #[test]
    fn today_is_the_callers_local_day() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T23:30:00Z").expect("time").to_utc();
        let berlin = FixedOffset::east_opt(3600).expect("offset");
        let (from, to) = due_range(DueWindow::Today, now, berlin);
        assert_eq!(from.map(|t| t.to_rfc3339()), Some("2026-11-23T23:00:00+00:00".to_owned()));
        assert_eq!(to.map(|t| t.to_rfc3339()), Some("2026-11-24T23:00:00+00:00".to_owned()));
    }
}
