//! Public web forms: what an admin defines, and the strict reading of a submission.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::contact::Source;
use crate::lead::LeadChanges;
use crate::record::Patch;
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{LONG_TEXT_MAX, SHORT_TEXT_MAX, required_text};

/// Most fields one form may ask for.
pub const FORM_FIELDS_MAX: usize = 10;
/// Longest accepted value of one submitted field.
pub const FORM_VALUE_MAX: usize = LONG_TEXT_MAX;

/// What a form's submissions make.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormTarget {
    /// A lead (or a note on the open lead with the same email).
    #[default]
    Lead,
    /// A support ticket from the contact with the email (made if there is none).
    Ticket,
}

/// A field a form may ask for. On a lead form `message` becomes the submission's note; on a
/// ticket form `subject` and `message` are the ticket's subject and description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormField {
    FirstName,
    LastName,
    Email,
    Phone,
    CompanyName,
    JobTitle,
    Website,
    Industry,
    Country,
    Subject,
    Message,
}

impl FormField {
    /// The field's name in a submission.
    pub fn as_str(self) -> &'static str {
        match self {
            FormField::FirstName => "first_name",
            FormField::LastName => "last_name",
            FormField::Email => "email",
            FormField::Phone => "phone",
            FormField::CompanyName => "company_name",
            FormField::JobTitle => "job_title",
            FormField::Website => "website",
            FormField::Industry => "industry",
            FormField::Country => "country",
            FormField::Subject => "subject",
            FormField::Message => "message",
        }
    }
}

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormFieldSpec {
    pub field: FormField,
    #[serde(default)]
    #[schema(default = false)]
    pub required: bool,
}

fn default_honeypot() -> String {
    "nickname".to_owned()
}

fn yes() -> bool {
    true
}

/// A web form as an admin defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebForm {
    #[schema(example = "Contact us", max_length = 200)]
    pub name: String,
    /// What submissions make: leads (default) or tickets.
    #[serde(default)]
    pub target: FormTarget,
    /// The fields the form sends; every other field in a submission is refused.
    #[schema(max_items = 10)]
    pub fields: Vec<FormFieldSpec>,
    /// New leads (or tickets) belong to this user (give this or `team_id`, or neither to use
    /// the assignment rules; a ticket is then unassigned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// New leads go to this team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// With `team_id`: owners are picked round-robin among the team's active members.
    #[serde(default)]
    #[schema(default = false)]
    pub round_robin: bool,
    /// Where a browser posting the form is sent afterwards (303 See Other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "https://www.example.com/thanks", max_length = 2000)]
    pub redirect_url: Option<String>,
    /// Recorded on every lead from this form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "Spring webinar")]
    pub campaign: Option<String>,
    /// A field hidden from people; a submission that fills it is refused as spam.
    #[serde(default = "default_honeypot")]
    #[schema(default = "nickname", example = "nickname")]
    pub honeypot_field: String,
    /// Inactive forms refuse submissions (404).
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmissionRefused {
    /// Malformed: a field the form does not have, a repeated field, or a filled honeypot.
    Malformed(FieldError),
    /// Well-formed but invalid values (a required field missing, a bad email, ...).
    Invalid(ValidationErrors),
}

/// A submission read against its form.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The person (on a ticket form, the requester's contact details).
    pub changes: LeadChanges,
    pub message: Option<String>,
    /// A ticket form's subject.
    pub subject: Option<String>,
}

impl WebForm {
    /// Checks the definition as a whole.
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        self.name = errors.collect(required_text("name", &self.name, SHORT_TEXT_MAX)).unwrap_or_default();
        if self.fields.is_empty() || self.fields.len() > FORM_FIELDS_MAX {
            errors.push(FieldError::new("fields", "out_of_range", format!("a form has 1 to {FORM_FIELDS_MAX} fields")));
        }
        for (index, spec) in self.fields.iter().enumerate() {
            if self.fields[..index].iter().any(|s| s.field == spec.field) {
                errors.push(FieldError::new(format!("fields[{index}].field"), "duplicate", "each field once"));
            }
        }
        match self.target {
            FormTarget::Lead => {
                if !self
                    .fields
                    .iter()
                    .any(|s| matches!(s.field, FormField::Email | FormField::LastName | FormField::CompanyName))
                {
                    errors.push(FieldError::new(
                        "fields",
                        "no_identity",
                        "a form needs an email, last_name or company_name field to make a lead",
                    ));
                }
                if let Some(index) = self.fields.iter().position(|s| s.field == FormField::Subject) {
                    errors.push(FieldError::new(
                        format!("fields[{index}].field"),
                        "not_applicable",
                        "only ticket forms ask for a subject",
                    ));
                }
            }
            FormTarget::Ticket => {
                if !self.fields.iter().any(|s| s.field == FormField::Email && s.required) {
                    errors.push(FieldError::new(
                        "fields",
                        "no_identity",
                        "a ticket form needs a required email field: it finds or makes the requester",
                    ));
                }
                let lead_only = |f: FormField| {
                    matches!(
                        f,
                        FormField::CompanyName
                            | FormField::JobTitle
                            | FormField::Website
                            | FormField::Industry
                            | FormField::Country
                    )
                };
                if let Some(index) = self.fields.iter().position(|s| lead_only(s.field)) {
                    errors.push(FieldError::new(
                        format!("fields[{index}].field"),
                        "not_applicable",
                        "a ticket form asks only for first_name, last_name, email, phone, subject and message",
                    ));
                }
                if self.campaign.is_some() {
                    errors.push(FieldError::new("campaign", "not_applicable", "only lead forms record a campaign"));
                }
            }
        }
        match (&self.owner_id, &self.team_id, self.round_robin) {
            (Some(_), Some(_), _) => {
                errors.push(FieldError::new("owner_id", "invalid_target", "give `owner_id` or `team_id`, not both"));
            }
            (_, None, true) => {
                errors.push(FieldError::new("round_robin", "invalid_target", "round-robin needs a team"))
            }
            _ => {}
        }
        if let Some(url) = &self.redirect_url {
            let valid = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 2000
                && url.len() > "https://".len()
                && !url.chars().any(|c| c.is_whitespace() || c.is_control());
            if !valid {
                errors.push(FieldError::new("redirect_url", "invalid_url", "must be an http(s) URL"));
            }
        }
        if let Some(campaign) = &self.campaign {
            self.campaign =
                errors.collect(crate::values::optional_text("campaign", campaign, SHORT_TEXT_MAX)).flatten();
        }
        let honeypot_ok = !self.honeypot_field.is_empty()
            && self.honeypot_field.len() <= 50
            && self.honeypot_field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            && !self.fields.iter().any(|s| s.field.as_str() == self.honeypot_field);
        if !honeypot_ok {
            errors.push(FieldError::new(
                "honeypot_field",
                "invalid",
                "must be 1 to 50 of a-z and _, and not one of the form's fields",
            ));
        }
        errors.into_result(|| self)
    }

    /// Reads a submission strictly: only the form's fields and its honeypot, each once; the
    /// honeypot empty; required fields present. Values are validated by the lead rules after.
    pub fn read_submission(&self, values: Vec<(String, String)>) -> Result<Submission, SubmissionRefused> {
        let mut seen: Vec<&str> = Vec::new();
        let mut found: Vec<(FormField, String)> = Vec::new();
        for (name, value) in &values {
            if seen.contains(&name.as_str()) {
                return Err(SubmissionRefused::Malformed(FieldError::new(
                    name,
                    "repeated_field",
                    "is sent more than once",
                )));
            }
            seen.push(name);
            if *name == self.honeypot_field {
                if value.trim().is_empty() {
                    continue;
                }
                return Err(SubmissionRefused::Malformed(FieldError::new(name, "spam_detected", "must be left empty")));
            }
            let Some(spec) = self.fields.iter().find(|s| s.field.as_str() == name) else {
                return Err(SubmissionRefused::Malformed(FieldError::new(
                    name,
                    "unknown_field",
                    "is not a field of this form",
                )));
            };
            if value.chars().count() > FORM_VALUE_MAX {
                return Err(SubmissionRefused::Invalid(
                    FieldError::new(name, "too_long", format!("must be at most {FORM_VALUE_MAX} characters")).into(),
                ));
            }
            found.push((spec.field, value.trim().to_owned()));
        }
        let mut errors = ValidationErrors::new();
        for spec in self.fields.iter().filter(|s| s.required) {
            if !found.iter().any(|(f, v)| *f == spec.field && !v.is_empty()) {
                errors.push(FieldError::new(spec.field.as_str(), "required", "is required by this form"));
            }
        }
        if !errors.is_empty() {
            return Err(SubmissionRefused::Invalid(errors));
        }
        let mut changes = LeadChanges {
            source: Patch::Set(Source::WebForm),
            campaign: Patch::from_option(self.campaign.clone()),
            owner_id: Patch::from_option(self.owner_id.clone()),
            team_id: Patch::from_option(self.team_id.clone()),
            ..Default::default()
        };
        let (mut message, mut subject) = (None, None);
        for (field, value) in found.into_iter().filter(|(_, v)| !v.is_empty()) {
            let set = Patch::Set(value);
            match field {
                FormField::FirstName => changes.first_name = set,
                FormField::LastName => changes.last_name = set,
                FormField::Email => changes.email = set,
                FormField::Phone => changes.phone = set,
                FormField::CompanyName => changes.company_name = set,
                FormField::JobTitle => changes.job_title = set,
                FormField::Website => changes.website = set,
                FormField::Industry => changes.industry = set,
                FormField::Country => changes.country = set,
                FormField::Subject => subject = set.resolve(None),
                FormField::Message => message = set.resolve(None),
            }
        }
        Ok(Submission { changes, message, subject })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> WebForm {
        WebForm {
            name: "Contact us".into(),
            target: FormTarget::Lead,
            fields: vec![
                FormFieldSpec { field: FormField::Email, required: true },
                FormFieldSpec { field: FormField::LastName, required: false },
                FormFieldSpec { field: FormField::Message, required: false },
            ],
            owner_id: None,
            team_id: None,
            round_robin: false,
            redirect_url: None,
            campaign: Some("Webinar".into()),
            honeypot_field: "nickname".into(),
            active: true,
        }
        .validated()
        .expect("valid form")
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn a_submission_becomes_lead_changes_from_the_web_form_source() {
        let read =
            form().read_submission(pairs(&[("email", "ada@example.com"), ("message", "Call me"), ("nickname", "")]));
        let read = read.expect("accepted");
        assert_eq!(read.changes.email, Patch::Set("ada@example.com".into()));
        assert_eq!(read.changes.source, Patch::Set(Source::WebForm));
        assert_eq!(read.message.as_deref(), Some("Call me"));
    }

    #[test]
    fn unknown_repeated_honeypot_and_missing_fields_are_refused() {
        let code = |items: &[(&str, &str)]| match form().read_submission(pairs(items)) {
            Err(SubmissionRefused::Malformed(e)) => e.code,
            Err(SubmissionRefused::Invalid(e)) => e.errors()[0].code,
            Ok(_) => "accepted",
        };
        assert_eq!(code(&[("email", "a@b.io"), ("admin", "1")]), "unknown_field");
        assert_eq!(code(&[("email", "a@b.io"), ("email", "c@d.io")]), "repeated_field");
        assert_eq!(code(&[("email", "a@b.io"), ("nickname", "bot")]), "spam_detected");
        assert_eq!(code(&[("last_name", "Lovelace")]), "required");
    }

    #[test]
    fn a_form_definition_is_checked_as_a_whole() {
        let mut bad = form();
        bad.fields.push(FormFieldSpec { field: FormField::Email, required: false });
        bad.honeypot_field = "email".into();
        bad.redirect_url = Some("javascript:alert(1)".into());
        let fields: Vec<String> =
            bad.validated().err().map(|e| e.errors().iter().map(|f| f.field.clone()).collect()).unwrap_or_default();
        assert_eq!(fields, ["fields[3].field", "redirect_url", "honeypot_field"]);
    }

    #[test]
    fn a_ticket_form_needs_a_required_email_and_asks_nothing_only_leads_have() {
        let mut ticket = form();
        ticket.target = FormTarget::Ticket;
        ticket.campaign = None;
        ticket.fields.push(FormFieldSpec { field: FormField::Subject, required: true });
        let ticket = ticket.validated().expect("a valid ticket form");
        let read =
            ticket.read_submission(pairs(&[("email", "ada@example.com"), ("subject", "Broken"), ("message", "Help")]));
        let read = read.expect("accepted");
        assert_eq!((read.subject.as_deref(), read.message.as_deref()), (Some("Broken"), Some("Help")));
        let mut bad = ticket.clone();
        bad.fields[0].required = false;
        bad.fields.push(FormFieldSpec { field: FormField::Industry, required: false });
        let fields: Vec<String> =
            bad.validated().err().map(|e| e.errors().iter().map(|f| f.field.clone()).collect()).unwrap_or_default();
        assert_eq!(fields, ["fields", "fields[4].field"]);
        let mut subject_on_lead = form();
        subject_on_lead.fields.push(FormFieldSpec { field: FormField::Subject, required: false });
        assert!(subject_on_lead.validated().is_err());
    }
}
