//! Satisfaction surveys: definitions (admins), requests sent to a contact about a touchpoint
//! (by email through the outbox, or as a link), answers through a public single-use link, and
//! results per period and group.

use chrono::{DateTime, Datelike, Utc};
use domain::access::{Action, Module, Scope};
use domain::activity::{ActivityChanges, ActivityData, ActivityType, RecordRef, RecordType};
use domain::email::MailSettings;
use domain::record::Patch;
use domain::survey::{self, Figures, Survey, SurveyKind, TouchpointType};
use persistence::definitions::{self, Definition, Kind};
use persistence::surveys::{self, NewRequest, NewResponse, SurveyRequest};
use persistence::{DbConnection, StoreError, activities};
use serde_json::json;

use crate::actor::{Actor, RequestContext};
use crate::definitions::DefinitionKind;
use crate::error::AppError;
use crate::events::{Cause, Happened};
use crate::kinds::{CONTACTS, DEALS, TICKETS};
use crate::records::require_visible;

/// Surveys: validated whole; nothing follows a change.
pub static SURVEYS: DefinitionKind<Survey> = DefinitionKind {
    kind: Kind::Survey,
    noun: "survey",
    validate: Survey::validated,
    references: |_, _| Ok(()),
    after_change: |_| Ok(()),
};

/// How a request reaches the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// An email with the link, through the outbox.
    Email,
    /// Only the link, for the caller to pass on.
    Link,
}

/// A request to send.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub contact_id: String,
    pub touchpoint: TouchpointType,
    pub touchpoint_id: Option<String>,
    pub delivery: Delivery,
}

/// A sent request with its link's token, shown this once.
#[derive(Debug, Clone)]
pub struct Sent {
    pub request: SurveyRequest,
    pub token: String,
}

/// The path of the public answer link.
pub fn answer_path(token: &str) -> String {
    format!("/api/v1/survey-responses/{token}")
}

fn survey(conn: &mut DbConnection, id: &str) -> Result<Definition<Survey>, AppError> {
    definitions::find::<Survey>(conn, Kind::Survey, id).map_err(|error| match error {
        StoreError::NotFound => AppError::not_found("survey"),
        other => other.into(),
    })
}

/// Sends a survey to a contact the actor can see, about a ticket or deal they can see (or
/// nothing): the request (owned, for results, by the touchpoint's owner and team, else the
/// contact's) and, by email, its message in the outbox. The actor needs to log activities,
/// as for any email to a customer.
pub fn send(
    conn: &mut DbConnection,
    actor: &Actor,
    survey_id: &str,
    request: &SendRequest,
    mail: Option<&MailSettings>,
) -> Result<Sent, AppError> {
    actor.principal.may_in_module(Module::Activities, Action::Create)?;
    let survey = survey(conn, survey_id)?;
    if !survey.body.active {
        return Err(AppError::Conflict("this survey is inactive; activate it to send it".into()));
    }
    let contact = require_visible(conn, actor, &CONTACTS, "contact_id", request.contact_id.trim())?;
    let (ownership, company) = match (request.touchpoint, request.touchpoint_id.as_deref()) {
        (TouchpointType::None, None) => {
            ((contact.data.owner_id.clone(), contact.data.team_id.clone()), contact.data.company_id.clone())
        }
        (TouchpointType::Ticket, Some(id)) => {
            let ticket = require_visible(conn, actor, &TICKETS, "touchpoint.id", id)?;
            ((ticket.data.owner_id, ticket.data.team_id), ticket.data.company_id.or(contact.data.company_id.clone()))
        }
        (TouchpointType::Deal, Some(id)) => {
            let deal = require_visible(conn, actor, &DEALS, "touchpoint.id", id)?;
            ((deal.data.owner_id, deal.data.team_id), deal.data.company_id.or(contact.data.company_id.clone()))
        }
        (TouchpointType::None, Some(_)) => {
            return Err(AppError::invalid("touchpoint.id", "not_applicable", "a survey about nothing names no record"));
        }
        (_, None) => {
            return Err(AppError::invalid("touchpoint.id", "required", "names the ticket or deal it is about"));
        }
    };
    let recipient = match request.delivery {
        Delivery::Email => {
            let Some(address) = contact.data.emails.iter().find(|e| e.primary).or(contact.data.emails.first()) else {
                return Err(AppError::invalid("contact_id", "no_email", "the contact has no email address"));
            };
            crate::email::smtp(mail)?;
            Some(address.email.clone())
        }
        Delivery::Link => None,
    };
    let token = crate::secrets::random_token();
    let token_hash = crate::secrets::secret_hash(&token);
    let new = NewRequest {
        survey_id,
        token_hash: &token_hash,
        contact_id: &contact.id,
        company_id: company.as_deref(),
        touchpoint: (request.touchpoint.as_str(), request.touchpoint_id.as_deref()),
        ownership: (ownership.0.as_deref(), ownership.1.as_deref()),
        created_by: actor.user_id(),
    };
    let mut stored = surveys::insert_request(conn, &new, Utc::now())?;
    if let (Some(recipient), Some(mail)) = (recipient, mail) {
        let link = format!("{}{}", mail.public_url.trim_end_matches('/'), answer_path(&token));
        let text = format!("{}\n\nAnswer here (one click, no login): {link}\n", survey.body.question);
        let subject = survey.body.email_subject.clone().unwrap_or_else(|| "A quick question".into());
        let message = crate::email::Message { template_id: None, subject: &subject, html: None, text: Some(&text) };
        let target = RecordRef { record_type: RecordType::Contact, id: contact.id.clone() };
        let email = crate::email::outbox(conn, actor, &target, &recipient, &message, mail)?;
        surveys::set_email(conn, &stored.id, &email.id)?;
        stored.email_id = Some(email.id);
    }
    Ok(Sent { request: stored, token })
}

/// What the public link shows: the survey's question and scale, nothing about the contact.
#[derive(Debug, Clone)]
pub struct Question {
    pub kind: SurveyKind,
    pub question: String,
    pub follow_up: Option<String>,
    pub answered: bool,
}

fn by_token(conn: &mut DbConnection, token: &str) -> Result<(SurveyRequest, Definition<Survey>), AppError> {
    let request = match surveys::request_by_token(conn, &crate::secrets::secret_hash(token)) {
        Ok(request) => request,
        Err(StoreError::NotFound) => return Err(AppError::not_found("survey link")),
        Err(other) => return Err(other.into()),
    };
    let survey = survey(conn, &request.survey_id).map_err(|_| AppError::not_found("survey link"))?;
    Ok((request, survey))
}

/// The question a link asks.
pub fn question(conn: &mut DbConnection, token: &str) -> Result<Question, AppError> {
    let (request, survey) = by_token(conn, token)?;
    Ok(Question {
        kind: survey.body.kind,
        question: survey.body.question,
        follow_up: survey.body.follow_up,
        answered: request.answered_at.is_some(),
    })
}

/// Takes the answer a link brings, once: the score on the survey's scale and an optional
/// comment, stored with the request's contact, company and touchpoint, and logged as a note on
/// the contact's (and the touchpoint's) timeline; `survey.answered` follows.
pub fn answer(
    conn: &mut DbConnection,
    context: &RequestContext,
    token: &str,
    score: i64,
    comment: Option<String>,
) -> Result<(), AppError> {
    let (request, survey) = by_token(conn, token)?;
    let score = survey.body.kind.check_score(score)?;
    let comment = match comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
        Some(text) if text.chars().count() > survey::COMMENT_MAX => {
            return Err(AppError::invalid("comment", "too_long", "at most 5000 characters"));
        }
        other => other,
    };
    if request.answered_at.is_some() {
        return Err(AppError::Conflict("this survey was answered already".into()));
    }
    let (_, high) = survey.body.kind.scale();
    let mut links = Vec::new();
    if let Some(contact) = &request.contact_id {
        links.push(RecordRef { record_type: RecordType::Contact, id: contact.clone() });
    }
    match (request.touchpoint_type.as_str(), &request.touchpoint_id) {
        ("ticket", Some(id)) => links.push(RecordRef { record_type: RecordType::Ticket, id: id.clone() }),
        ("deal", Some(id)) => links.push(RecordRef { record_type: RecordType::Deal, id: id.clone() }),
        _ => {}
    }
    let now = Utc::now();
    let activity = if links.is_empty() {
        None
    } else {
        let changes = ActivityChanges {
            activity_type: Patch::Set(ActivityType::Note),
            subject: Patch::Set(
                format!("{} ({}): {score} of {high}", survey.body.name, survey.body.kind.as_str())
                    .chars()
                    .take(200)
                    .collect(),
            ),
            body: Patch::Set(comment.clone().unwrap_or_else(|| "Answered without a comment.".into())),
            links: Patch::Set(links),
            owner_id: Patch::from_option(request.owner_id.clone()),
            team_id: Patch::from_option(request.team_id.clone()),
            ..ActivityChanges::default()
        };
        let data = ActivityData::apply(None, changes, now)?;
        Some(activities::create(conn, &data, now)?)
    };
    let new = NewResponse {
        request_id: &request.id,
        survey_id: &request.survey_id,
        score,
        comment: comment.as_deref(),
        activity_id: activity.as_ref().map(|a| a.id.as_str()),
    };
    surveys::answer(conn, &new, now).map_err(|error| match error {
        StoreError::Conflict(_) => AppError::Conflict("this survey was answered already".into()),
        other => other.into(),
    })?;
    if let Some(contact) = &request.contact_id {
        let payload = json!({
            "survey_id": request.survey_id, "request_id": request.id, "kind": survey.body.kind.as_str(), "score": score,
            "touchpoint": {"type": request.touchpoint_type, "id": request.touchpoint_id},
        })
        .to_string();
        let happened = Happened {
            event_type: "survey.answered",
            record: ("contact", contact),
            ownership: (request.owner_id.as_deref(), request.team_id.as_deref()),
            payload: &payload,
        };
        crate::events::record(conn, Cause::Visitor(context), &happened)?;
    }
    Ok(())
}

/// How results are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    TouchpointType,
    Team,
    Owner,
    /// The month a request was sent (UTC), `2026-12`.
    Month,
}

/// A survey's results.
#[derive(Debug, Clone)]
pub struct Results {
    pub survey_id: String,
    pub kind: SurveyKind,
    pub total: Figures,
    /// Each group's key (`null` for requests without a team or owner) and figures, by key.
    pub groups: Vec<(Option<String>, Figures)>,
}

/// A survey's results over requests sent in `[from, to)`, for admins and whoever reads all
/// reports (managers).
pub fn results(
    conn: &mut DbConnection,
    actor: &Actor,
    survey_id: &str,
    (from, to): (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    group_by: Option<GroupBy>,
) -> Result<Results, AppError> {
    if actor.principal.grants.scope(Module::Reports, Action::Read) != Scope::All {
        return Err(AppError::Forbidden("survey results are for administrators and managers".into()));
    }
    let survey = survey(conn, survey_id)?;
    let kind = survey.body.kind;
    let asked = surveys::asked(conn, survey_id, from, to)?;
    let summary = |rows: &[&surveys::Asked]| {
        let scores: Vec<u8> = rows.iter().filter_map(|r| r.score).collect();
        survey::figures(kind, rows.len() as u64, &scores)
    };
    let all: Vec<&surveys::Asked> = asked.iter().collect();
    let mut groups: Vec<(Option<String>, Vec<&surveys::Asked>)> = Vec::new();
    if let Some(group_by) = group_by {
        for row in &asked {
            let key = match group_by {
                GroupBy::TouchpointType => Some(row.touchpoint_type.clone()),
                GroupBy::Team => row.team_id.clone(),
                GroupBy::Owner => row.owner_id.clone(),
                GroupBy::Month => Some(format!("{:04}-{:02}", row.created_at.year(), row.created_at.month())),
            };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, rows)) => rows.push(row),
                None => groups.push((key, vec![row])),
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(Results {
        survey_id: survey.id,
        kind,
        total: summary(&all),
        groups: groups.into_iter().map(|(key, rows)| (key, summary(&rows))).collect(),
    })
}
