//! Web form submissions: a visitor, not a user, submits a form. A lead form makes or finds a
//! lead, with a note of the submission and a `form_submitted` engagement event that scoring
//! counts; a ticket form makes a ticket from the contact with the email (made if none is).

use chrono::Utc;
use domain::access::Visibility;
use domain::activity::{ActivityChanges, ActivityData, ActivityType, RecordRef, RecordType};
use domain::contact::{ContactChanges, ContactData, EmailInput, PhoneInput, Source};
use domain::duplicates::{DuplicateReason, MatchKey};
use domain::form::{FormTarget, SubmissionRefused, WebForm};
use domain::lead::LeadData;
use domain::record::Patch;
use domain::ticket::{Channel, TicketChanges, TicketData};
use persistence::contacts::Contact;
use persistence::definitions::{self, Definition, Kind};
use persistence::leads::{self, Lead};
use persistence::links::Actor as Author;
use persistence::{DbConnection, StoreError, activities, contacts, keys};

use crate::actor::RequestContext;
use crate::audit;
use crate::error::AppError;
use crate::events::{self, Cause, Happened};
use crate::kinds::{CONTACTS, LEADS, TICKETS};
use crate::records::fill_custom_defaults;
use crate::sales;
use crate::views::Views;

/// A submission checked against its form: the person (as a lead) it describes, the visitor's
/// message and, on a ticket form, the subject.
#[derive(Debug, Clone)]
pub struct CheckedSubmission {
    lead: LeadData,
    message: Option<String>,
    subject: Option<String>,
}

/// The active form with this public key.
pub fn find_active(conn: &mut DbConnection, key: &str) -> Result<Definition<WebForm>, AppError> {
    match definitions::find_by_key::<WebForm>(conn, Kind::WebForm, key) {
        Ok(form) if form.body.active => Ok(form),
        Ok(_) | Err(StoreError::NotFound) => Err(AppError::not_found("form")),
        Err(other) => Err(other.into()),
    }
}

/// Reads the submitted fields as the form defines them: a field the form does not have, a
/// repeated field or a filled honeypot is malformed; a missing required field or a bad value
/// is invalid.
pub fn check(form: &WebForm, fields: Vec<(String, String)>) -> Result<CheckedSubmission, AppError> {
    let submission = form.read_submission(fields).map_err(|refused| match refused {
        SubmissionRefused::Malformed(error) => {
            AppError::Malformed { detail: format!("`{}` {}", error.field, error.message), errors: vec![error] }
        }
        SubmissionRefused::Invalid(errors) => AppError::Invalid(errors),
    })?;
    if let Some(subject) = &submission.subject {
        domain::values::required_text("subject", subject, domain::values::SHORT_TEXT_MAX)?;
    }
    Ok(CheckedSubmission {
        lead: LeadData::apply(None, submission.changes)?,
        message: submission.message,
        subject: submission.subject,
    })
}

/// Takes a checked submission as its form's target says.
pub fn take<V: Views>(
    conn: &mut DbConnection,
    context: &RequestContext,
    form: &Definition<WebForm>,
    submission: CheckedSubmission,
) -> Result<(), AppError> {
    match form.body.target {
        FormTarget::Lead => take_lead::<V>(conn, context, form, submission).map(drop),
        FormTarget::Ticket => take_ticket::<V>(conn, context, form, submission),
    }
}

/// A lead form's submission: an email that belongs to an open lead adds it to that lead,
/// otherwise a new lead is assigned (the form's round-robin team, else the rules) and audited
/// as made by the form. Either way the lead gets a note and an engagement event, and is rescored.
fn take_lead<V: Views>(
    conn: &mut DbConnection,
    context: &RequestContext,
    form: &Definition<WebForm>,
    submission: CheckedSubmission,
) -> Result<Lead, AppError> {
    let CheckedSubmission { lead: mut data, message, .. } = submission;
    let existing = match &data.email {
        Some(email) => leads::find_open_by_email(conn, email)?,
        None => None,
    };
    let new_lead = existing.is_none();
    let lead = match existing {
        Some(lead) => lead,
        None => {
            let round_robin = match (&form.body.team_id, form.body.round_robin) {
                (Some(team_id), true) => Some((form.id.as_str(), team_id.as_str())),
                _ => None,
            };
            fill_custom_defaults(conn, &LEADS, &mut data)?;
            let lead = sales::insert_lead(conn, data, round_robin, Author { user_id: None, api_key_id: None })?;
            let view = V::Lead::from(lead.clone());
            let detail = format!("submitted to web form {}", form.id);
            audit::record_anonymous(conn, context, ("lead", &lead.id), &view, detail)?;
            lead
        }
    };
    let note = note_of(&form.body.name, &lead, message)?;
    let now = Utc::now();
    activities::create(conn, &note, now)?;
    let properties = serde_json::json!({ "form_id": form.id }).to_string();
    leads::insert_event(conn, &lead.id, "form_submitted", now, &properties, now)?;
    sales::rescore(conn, &lead.id, &lead.data)?;
    let submitted = Happened {
        event_type: "form.submitted",
        record: ("lead", &lead.id),
        ownership: (lead.data.owner_id.as_deref(), lead.data.team_id.as_deref()),
        payload: &serde_json::json!({ "form_id": form.id, "lead_id": lead.id, "new_lead": new_lead }).to_string(),
    };
    events::record(conn, Cause::Visitor(context), &submitted)?;
    Ok(lead)
}

/// The note that logs a submission on its lead, owned by the lead's owner.
fn note_of(form_name: &str, lead: &Lead, message: Option<String>) -> Result<ActivityData, AppError> {
    let changes = ActivityChanges {
        activity_type: Patch::Set(ActivityType::Note),
        subject: Patch::Set(format!("Web form: {form_name}")),
        body: Patch::Set(message.unwrap_or_else(|| "Submitted the form without a message.".into())),
        links: Patch::Set(vec![RecordRef { record_type: RecordType::Lead, id: lead.id.clone() }]),
        owner_id: Patch::from_option(lead.data.owner_id.clone()),
        ..Default::default()
    };
    Ok(ActivityData::apply(None, changes, Utc::now())?)
}

/// A ticket form's submission: the oldest live contact with the email is the requester, or a
/// new one (source `web_form`, the form's owner and team) is made; the ticket (channel
/// `web_form`, the subject or the form's name, the message as its description) belongs to the
/// form's owner, or its team (round-robin when asked), and is audited as made by the form.
fn take_ticket<V: Views>(
    conn: &mut DbConnection,
    context: &RequestContext,
    form: &Definition<WebForm>,
    submission: CheckedSubmission,
) -> Result<(), AppError> {
    let CheckedSubmission { lead: person, message, subject } = submission;
    let Some(email) = person.email.clone() else {
        return Err(AppError::invalid("email", "required", "is required by this form"));
    };
    let detail = format!("submitted to web form {}", form.id);
    let requester = match requester_with(conn, &email)? {
        Some(contact) => contact,
        None => {
            let changes = ContactChanges {
                first_name: Patch::from_option(person.first_name),
                last_name: Patch::from_option(person.last_name),
                emails: Patch::Set(vec![EmailInput { email, label: None, primary: true }]),
                phones: Patch::Set(
                    person.phone.into_iter().map(|number| PhoneInput { number, label: None, primary: true }).collect(),
                ),
                source: Patch::Set(Source::WebForm),
                owner_id: Patch::from_option(form.body.owner_id.clone()),
                team_id: Patch::from_option(form.body.team_id.clone()),
                ..ContactChanges::default()
            };
            let mut data = ContactData::apply(None, changes)?;
            fill_custom_defaults(conn, &CONTACTS, &mut data)?;
            let contact = contacts::create(conn, &data, Utc::now())?;
            audit::record_anonymous(
                conn,
                context,
                ("contact", &contact.id),
                &V::Contact::from(contact.clone()),
                detail.clone(),
            )?;
            contact
        }
    };
    let owner_id = match (&form.body.owner_id, &form.body.team_id, form.body.round_robin) {
        (Some(owner), _, _) => Some(owner.clone()),
        (None, Some(team), true) => sales::next_member(conn, &form.id, team)?,
        _ => None,
    };
    let now = Utc::now();
    let changes = TicketChanges {
        subject: Patch::Set(subject.unwrap_or_else(|| format!("Web form: {}", form.body.name))),
        description: Patch::from_option(message),
        requester_id: Patch::Set(requester.id.clone()),
        company_id: Patch::from_option(requester.data.company_id.clone()),
        channel: Patch::Set(Channel::WebForm),
        owner_id: Patch::from_option(owner_id),
        team_id: Patch::from_option(form.body.team_id.clone()),
        ..TicketChanges::default()
    };
    let mut data = TicketData::apply(None, changes, now)?;
    fill_custom_defaults(conn, &TICKETS, &mut data)?;
    let ticket = (TICKETS.insert)(conn, &data, now)?;
    let anonymous = Author { user_id: None, api_key_id: None };
    crate::kinds::record_ticket_status(conn, anonymous, &ticket.id, None, ticket.data.status)?;
    audit::record_anonymous(conn, context, ("ticket", &ticket.id), &V::Ticket::from(ticket.clone()), detail)
}

/// The oldest live contact with this email, if any.
fn requester_with(conn: &mut DbConnection, email: &str) -> Result<Option<Contact>, AppError> {
    let key = MatchKey { reason: DuplicateReason::SameEmail, value: email.to_owned() };
    let mut found: Vec<Contact> = Vec::new();
    for (id, _) in keys::matching(conn, "contact", &[key], None, 20)? {
        match (CONTACTS.find)(conn, &id, &Visibility::Everything) {
            Ok(contact) => found.push(contact),
            Err(StoreError::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Ok(found.into_iter().min_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id))))
}
