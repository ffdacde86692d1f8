//! Web form submissions: a visitor, not a user, submits a form and a lead is made or found,
//! with a note of the submission and a `form_submitted` engagement event that scoring counts.

use chrono::Utc;
use domain::activity::{ActivityChanges, ActivityData, ActivityType, RecordRef, RecordType};
use domain::form::{SubmissionRefused, WebForm};
use domain::lead::LeadData;
use domain::record::Patch;
use persistence::definitions::{self, Definition, Kind};
use persistence::leads::{self, Lead};
use persistence::links::Actor as Author;
use persistence::{DbConnection, StoreError, activities};

use crate::actor::RequestContext;
use crate::audit;
use crate::error::AppError;
use crate::events::{self, Cause, Happened};
use crate::kinds::LEADS;
use crate::records::fill_custom_defaults;
use crate::sales;
use crate::views::Views;

/// A submission checked against its form: the lead it describes and the visitor's message.
#[derive(Debug, Clone)]
pub struct CheckedSubmission {
    lead: LeadData,
    message: Option<String>,
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
    Ok(CheckedSubmission { lead: LeadData::apply(None, submission.changes)?, message: submission.message })
}

/// Takes a checked submission: an email that belongs to an open lead adds it to that lead,
/// otherwise a new lead is assigned (the form's round-robin team, else the rules) and audited
/// as made by the form. Either way the lead gets a note and an engagement event, and is rescored.
pub fn take<V: Views>(
    conn: &mut DbConnection,
    context: &RequestContext,
    form: &Definition<WebForm>,
    submission: CheckedSubmission,
) -> Result<Lead, AppError> {
    let CheckedSubmission { lead: mut data, message } = submission;
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
