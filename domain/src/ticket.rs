//! Tickets: a customer's request to support, its status lifecycle and what replies do to it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::activity::Priority;
use crate::fields::{self, FieldSpec, FilterKind, ReadFields, Shape};
use crate::record::{Patch, patch_tags, patch_text, search_text};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{SHORT_TEXT_MAX, Tags, required_text};

/// Longest ticket description.
pub const DESCRIPTION_MAX: usize = 20_000;
/// Longest category name.
pub const CATEGORY_MAX: usize = 100;

/// Where a ticket stands. `closed` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Not looked at yet.
    #[default]
    New,
    /// Being worked on.
    Open,
    /// Waiting on the customer: the resolution clock pauses until they answer.
    Pending,
    /// Waiting on a third party.
    OnHold,
    /// Answered; reopens to `open` when the customer replies, closes itself after some days.
    Solved,
    /// Final.
    Closed,
}

/// The statuses of a ticket, as filters and CSV cells name them.
pub const STATUSES: &[&str] = &["new", "open", "pending", "on_hold", "solved", "closed"];

impl TicketStatus {
    /// The status as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::New => "new",
            TicketStatus::Open => "open",
            TicketStatus::Pending => "pending",
            TicketStatus::OnHold => "on_hold",
            TicketStatus::Solved => "solved",
            TicketStatus::Closed => "closed",
        }
    }

    /// The status a stored name stands for.
    pub fn parse(raw: &str) -> Option<Self> {
        use TicketStatus::*;
        [New, Open, Pending, OnHold, Solved, Closed].into_iter().find(|s| s.as_str() == raw)
    }

    /// The statuses an edit may move a ticket to: nothing returns to `new`, only a solved
    /// ticket closes, and nothing leaves `closed`.
    pub fn may_move_to(self, to: TicketStatus) -> bool {
        use TicketStatus::*;
        matches!(
            (self, to),
            (New | Open | Pending | OnHold, Open | Pending | OnHold | Solved) | (Solved, Open | Closed)
        ) && self != to
    }

    /// Whether the ticket is still being handled (its SLA clocks may run).
    pub fn is_active(self) -> bool {
        !matches!(self, TicketStatus::Solved | TicketStatus::Closed)
    }

    /// Where a reply from the customer moves the ticket: back to `open` from waiting on them
    /// or from solved; a closed ticket takes no replies.
    pub fn after_customer_reply(self) -> Result<TicketStatus, ReplyRefused> {
        match self {
            TicketStatus::Pending | TicketStatus::Solved => Ok(TicketStatus::Open),
            TicketStatus::Closed => Err(ReplyRefused::Closed),
            other => Ok(other),
        }
    }
}

/// Why a reply was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyRefused {
    /// Closed tickets are final: a new request is a new ticket.
    Closed,
}

/// How the request reached support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Phone,
    Chat,
    WebForm,
    Social,
    #[default]
    Api,
}

/// The channels, as filters and CSV cells name them.
pub const CHANNELS: &[&str] = &["email", "phone", "chat", "web_form", "social", "api"];

/// What kind of request it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TicketType {
    #[default]
    Question,
    /// Something broke for this customer; may name the problem behind it.
    Incident,
    /// The cause behind incidents.
    Problem,
    Task,
}

/// The ticket types, as filters and CSV cells name them.
pub const TYPES: &[&str] = &["question", "incident", "problem", "task"];

/// Which support line handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[default]
    FirstLine,
    SecondLine,
}

/// The tiers, as filters and CSV cells name them.
pub const TIERS: &[&str] = &["first_line", "second_line"];

/// The priorities, as filters and CSV cells name them.
pub const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

/// A ticket's fields as stored: valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TicketData {
    pub subject: String,
    pub description: Option<String>,
    /// The contact who asked; required, but gone once that contact is purged.
    pub requester_id: Option<String>,
    /// The requester's company unless another was given.
    pub company_id: Option<String>,
    pub channel: Channel,
    pub ticket_type: TicketType,
    /// The problem an incident is caused by.
    pub problem_id: Option<String>,
    pub priority: Priority,
    pub category: Option<String>,
    pub tier: Tier,
    pub status: TicketStatus,
    /// The assignee.
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Tags,
    /// When an agent first replied to the requester (an internal note does not count).
    pub first_replied_at: Option<DateTime<Utc>>,
    /// When the ticket was last solved; a reopen clears it.
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Values of admin-defined custom fields.
    pub custom_fields: crate::custom::CustomValues,
}

crate::record::owned_by_fields!(TicketData);

crate::custom::custom_fields_in!(TicketData);

/// A ticket's standard fields, in CSV order.
pub const FIELDS: &[FieldSpec] = &[
    fields::ID,
    fields::NAME,
    FieldSpec::new("subject").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("description").filter(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("requester_id").filter(FilterKind::Id).csv(Shape::Text),
    FieldSpec::new("company_id").filter(FilterKind::Id).csv(Shape::Text),
    FieldSpec::new("channel").filter(FilterKind::Choice(CHANNELS)).csv(Shape::Choice(CHANNELS)),
    FieldSpec::new("type").filter(FilterKind::Choice(TYPES)).csv(Shape::Choice(TYPES)).column("ticket_type"),
    FieldSpec::new("problem_id").filter(FilterKind::Id).csv(Shape::Text),
    FieldSpec::new("priority").filter(FilterKind::Choice(PRIORITIES)).csv(Shape::Choice(PRIORITIES)),
    FieldSpec::new("category").sort(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("tier").filter(FilterKind::Choice(TIERS)).csv(Shape::Choice(TIERS)),
    FieldSpec::new("status").filter(FilterKind::Choice(STATUSES)).csv(Shape::Choice(STATUSES)),
    fields::OWNER_ID,
    fields::TEAM_ID,
    fields::TAGS,
    FieldSpec::new("first_replied_at").sort(FilterKind::DateTime).exported(Shape::Time),
    FieldSpec::new("solved_at").sort(FilterKind::DateTime).exported(Shape::Time),
    FieldSpec::new("closed_at").sort(FilterKind::DateTime).exported(Shape::Time),
    fields::CREATED_AT,
    fields::UPDATED_AT,
];

impl ReadFields for TicketData {
    fn read(&self, name: &str) -> Option<Value> {
        let time = |t: Option<DateTime<Utc>>| t.map(|t| Value::String(fields::time_text(t)));
        match name {
            "name" => Some(Value::String(self.sort_name())),
            "tags" => Some(Value::from(self.tags.as_slice().to_vec())),
            "subject" => Some(Value::String(self.subject.clone())),
            "description" => fields::text(self.description.as_deref()),
            "requester_id" => fields::text(self.requester_id.as_deref()),
            "company_id" => fields::text(self.company_id.as_deref()),
            "channel" => fields::json(Some(self.channel)),
            "type" => fields::json(Some(self.ticket_type)),
            "problem_id" => fields::text(self.problem_id.as_deref()),
            "priority" => fields::json(Some(self.priority)),
            "category" => fields::text(self.category.as_deref()),
            "tier" => fields::json(Some(self.tier)),
            "status" => fields::json(Some(self.status)),
            "first_replied_at" => time(self.first_replied_at),
            "solved_at" => time(self.solved_at),
            "closed_at" => time(self.closed_at),
            _ => None,
        }
    }
}

/// A create or merge-patch of a ticket, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct TicketChanges {
    pub subject: Patch<String>,
    pub description: Patch<String>,
    pub requester_id: Patch<String>,
    pub company_id: Patch<String>,
    pub channel: Patch<Channel>,
    pub ticket_type: Patch<TicketType>,
    pub problem_id: Patch<String>,
    pub priority: Patch<Priority>,
    pub category: Patch<String>,
    pub tier: Patch<Tier>,
    pub status: Patch<TicketStatus>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub tags: Patch<Vec<String>>,
}

fn required_choice<T: Copy>(errors: &mut ValidationErrors, field: &'static str, patch: Patch<T>, base: T) -> T {
    match patch {
        Patch::Keep => base,
        Patch::Set(value) => value,
        Patch::Clear => {
            errors.push(FieldError::new(field, "required", "cannot be cleared; set another value"));
            base
        }
    }
}

impl TicketData {
    /// Applies `changes` to `current` (`None` for a create) at `now` and checks the result:
    /// the status transition, the stamps it sets (`solved_at`, `closed_at`; a reopen clears
    /// `solved_at`), and that only an incident names a problem. A closed ticket takes no edits.
    pub fn apply(
        current: Option<&TicketData>,
        changes: TicketChanges,
        now: DateTime<Utc>,
    ) -> Result<TicketData, ValidationErrors> {
        let base = current.cloned().unwrap_or_default();
        let mut errors = ValidationErrors::new();
        let e = &mut errors;
        if base.status == TicketStatus::Closed && current.is_some() {
            e.push(FieldError::new("status", "closed", "a closed ticket is final and takes no edits"));
            return Err(errors);
        }
        let subject = match changes.subject {
            Patch::Keep if current.is_some() => base.subject.clone(),
            Patch::Set(raw) => e.collect(required_text("subject", &raw, SHORT_TEXT_MAX)).unwrap_or_default(),
            Patch::Keep | Patch::Clear => {
                e.push(FieldError::new("subject", "required", "a ticket needs a subject"));
                String::new()
            }
        };
        let requester_id = match changes.requester_id {
            Patch::Keep if current.is_some() => base.requester_id.clone(),
            Patch::Set(raw) if !raw.trim().is_empty() && raw.trim().len() <= 64 => Some(raw.trim().to_owned()),
            Patch::Set(_) | Patch::Keep | Patch::Clear => {
                e.push(FieldError::new("requester_id", "required", "a ticket needs a requester (a contact id)"));
                None
            }
        };
        let description = patch_text(e, "description", changes.description, base.description.clone(), DESCRIPTION_MAX);
        let company_id = patch_text(e, "company_id", changes.company_id, base.company_id.clone(), 64);
        let problem_id = patch_text(e, "problem_id", changes.problem_id, base.problem_id.clone(), 64);
        let category = patch_text(e, "category", changes.category, base.category.clone(), CATEGORY_MAX);
        let owner_id = patch_text(e, "owner_id", changes.owner_id, base.owner_id.clone(), 64);
        let team_id = patch_text(e, "team_id", changes.team_id, base.team_id.clone(), 64);
        let channel = required_choice(e, "channel", changes.channel, base.channel);
        let ticket_type = required_choice(e, "type", changes.ticket_type, base.ticket_type);
        let priority = required_choice(e, "priority", changes.priority, base.priority);
        let tier = required_choice(e, "tier", changes.tier, base.tier);
        let status = match required_choice(e, "status", changes.status, base.status) {
            TicketStatus::Closed if current.is_none() => {
                e.push(FieldError::new("status", "illegal_transition", "a ticket is solved before it is closed"));
                base.status
            }
            to if current.is_none() || to == base.status || base.status.may_move_to(to) => to,
            to => {
                e.push(FieldError::new(
                    "status",
                    "illegal_transition",
                    format!("a {} ticket cannot become {}", base.status.as_str(), to.as_str()),
                ));
                base.status
            }
        };
        if problem_id.is_some() && ticket_type != TicketType::Incident {
            e.push(FieldError::new("problem_id", "not_applicable", "only an incident names the problem behind it"));
        }
        let tags = patch_tags(e, changes.tags, base.tags.clone());
        let moved = current.is_none() || status != base.status;
        let solved_at = match status {
            TicketStatus::Solved if moved => Some(now),
            TicketStatus::Solved | TicketStatus::Closed => base.solved_at,
            _ => None,
        };
        let closed_at = (status == TicketStatus::Closed).then(|| base.closed_at.unwrap_or(now));
        let data = TicketData {
            subject,
            description,
            requester_id,
            company_id,
            channel,
            ticket_type,
            problem_id,
            priority,
            category,
            tier,
            status,
            owner_id,
            team_id,
            tags,
            first_replied_at: base.first_replied_at,
            solved_at,
            closed_at,
            custom_fields: base.custom_fields,
        };
        errors.into_result(|| data)
    }

    /// The key `name` sorts on: the subject, case-folded.
    pub fn sort_name(&self) -> String {
        self.subject.to_lowercase()
    }

    /// Everything `q` searches: subject, description, category.
    pub fn search_text(&self) -> String {
        search_text(
            [Some(self.subject.as_str()), self.description.as_deref(), self.category.as_deref()]
                .into_iter()
                .chain(self.custom_fields.search_parts().iter().map(|p| Some(p.as_str()))),
        )
    }
}

/// Who wrote a reply on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyAuthor {
    /// A user of the CRM, answering.
    Agent,
    /// The requester, as an agent logs it (or as email intake does).
    Customer,
}

/// What a reply does to its ticket: a public agent reply stamps the first reply and may set
/// a status in the same step; a customer reply reopens a pending or solved ticket; an internal
/// note changes nothing but the status it asks for.
pub fn after_reply(
    ticket: &TicketData,
    author: ReplyAuthor,
    public: bool,
    status: Option<TicketStatus>,
    now: DateTime<Utc>,
) -> Result<TicketData, ValidationErrors> {
    if ticket.status == TicketStatus::Closed {
        return Err(FieldError::new("status", "closed", "a closed ticket takes no replies; open a new ticket").into());
    }
    if author == ReplyAuthor::Customer && !public {
        return Err(FieldError::new("public", "invalid", "a customer's reply is always public").into());
    }
    let mut changes = TicketChanges { status: status.map_or(Patch::Keep, Patch::Set), ..TicketChanges::default() };
    if author == ReplyAuthor::Customer && status.is_none() {
        let reopened = ticket.status.after_customer_reply().map_err(|_| {
            ValidationErrors::from(FieldError::new("status", "closed", "a closed ticket takes no replies"))
        })?;
        changes.status = Patch::Set(reopened);
    }
    let mut after = TicketData::apply(Some(ticket), changes, now)?;
    if author == ReplyAuthor::Agent && public && after.first_replied_at.is_none() {
        after.first_replied_at = Some(now);
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).single().expect("a time")
    }

    fn new_ticket() -> TicketData {
        let changes = TicketChanges {
            subject: Patch::Set("  Cannot log in ".into()),
            requester_id: Patch::Set("contact-1".into()),
            ..TicketChanges::default()
        };
        TicketData::apply(None, changes, now()).expect("a valid ticket")
    }

    fn moved(ticket: &TicketData, to: TicketStatus) -> Result<TicketData, ValidationErrors> {
        TicketData::apply(Some(ticket), TicketChanges { status: Patch::Set(to), ..TicketChanges::default() }, now())
    }

    #[test]
    fn a_new_ticket_needs_a_subject_and_a_requester_and_starts_new_normal_first_line() {
        let ticket = new_ticket();
        assert_eq!(ticket.subject, "Cannot log in");
        assert_eq!(
            (ticket.status, ticket.priority, ticket.tier),
            (TicketStatus::New, Priority::Normal, Tier::FirstLine)
        );
        let errors = TicketData::apply(None, TicketChanges::default(), now()).expect_err("refused");
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["subject", "requester_id"]);
    }

    #[test]
    fn statuses_move_as_support_works_and_closed_is_final() {
        use TicketStatus::*;
        let all = [New, Open, Pending, OnHold, Solved, Closed];
        let allowed: Vec<(TicketStatus, TicketStatus)> = all
            .iter()
            .flat_map(|&from| all.iter().map(move |&to| (from, to)))
            .filter(|(f, t)| f.may_move_to(*t))
            .collect();
        let expected = [
            (New, Open),
            (New, Pending),
            (New, OnHold),
            (New, Solved),
            (Open, Pending),
            (Open, OnHold),
            (Open, Solved),
            (Pending, Open),
            (Pending, OnHold),
            (Pending, Solved),
            (OnHold, Open),
            (OnHold, Pending),
            (OnHold, Solved),
            (Solved, Open),
            (Solved, Closed),
        ];
        assert_eq!(allowed, expected);
        let open = moved(&new_ticket(), Open).expect("opened");
        let refused = moved(&open, Closed).expect_err("only solved tickets close");
        assert_eq!(refused.errors()[0].code, "illegal_transition");
        let closed = moved(&moved(&open, Solved).expect("solved"), Closed).expect("closed");
        assert_eq!(closed.closed_at, Some(now()));
        let edit = TicketChanges { subject: Patch::Set("Other".into()), ..TicketChanges::default() };
        assert_eq!(TicketData::apply(Some(&closed), edit, now()).expect_err("final").errors()[0].code, "closed");
    }

    #[test]
    fn solving_stamps_solved_at_and_reopening_clears_it() {
        let solved = moved(&new_ticket(), TicketStatus::Solved).expect("solved");
        assert_eq!(solved.solved_at, Some(now()));
        let reopened = moved(&solved, TicketStatus::Open).expect("reopened");
        assert_eq!(reopened.solved_at, None);
    }

    #[test]
    fn only_an_incident_names_its_problem() {
        let question = TicketChanges { problem_id: Patch::Set("ticket-9".into()), ..TicketChanges::default() };
        let refused = TicketData::apply(Some(&new_ticket()), question, now()).expect_err("not an incident");
        assert_eq!(refused.errors()[0].field, "problem_id");
        let incident = TicketChanges {
            ticket_type: Patch::Set(TicketType::Incident),
            problem_id: Patch::Set("ticket-9".into()),
            ..TicketChanges::default()
        };
        assert!(TicketData::apply(Some(&new_ticket()), incident, now()).is_ok());
    }

    #[test]
    fn the_first_public_agent_reply_stamps_first_replied_at_and_notes_do_not() {
        let ticket = new_ticket();
        let noted = after_reply(&ticket, ReplyAuthor::Agent, false, None, now()).expect("a note");
        assert_eq!(noted.first_replied_at, None);
        let answered =
            after_reply(&noted, ReplyAuthor::Agent, true, Some(TicketStatus::Pending), now()).expect("a reply");
        assert_eq!((answered.first_replied_at, answered.status), (Some(now()), TicketStatus::Pending));
        let later = now() + chrono::TimeDelta::hours(1);
        let again = after_reply(&answered, ReplyAuthor::Agent, true, None, later).expect("a second reply");
        assert_eq!(again.first_replied_at, Some(now()));
    }

    #[test]
    fn a_customer_reply_reopens_pending_and_solved_tickets_but_not_closed_ones() {
        let pending = moved(&new_ticket(), TicketStatus::Pending).expect("pending");
        let answered = after_reply(&pending, ReplyAuthor::Customer, true, None, now()).expect("a reply");
        assert_eq!(answered.status, TicketStatus::Open);
        let solved = moved(&answered, TicketStatus::Solved).expect("solved");
        assert_eq!(
            after_reply(&solved, ReplyAuthor::Customer, true, None, now()).expect("reopened").status,
            TicketStatus::Open
        );
        let closed = moved(&solved, TicketStatus::Closed).expect("closed");
        assert!(after_reply(&closed, ReplyAuthor::Customer, true, None, now()).is_err());
        let on_hold = moved(&new_ticket(), TicketStatus::OnHold).expect("on hold");
        assert_eq!(
            after_reply(&on_hold, ReplyAuthor::Customer, true, None, now()).expect("kept").status,
            TicketStatus::OnHold
        );
    }
}
