//! Contacts: people, optionally belonging to a company.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::fields::{self, FieldSpec, FilterKind, ReadFields, SOURCES, Shape};
use crate::record::{Patch, patch_address, patch_tags, search_text};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{
    Address, AddressInput, EmailAddress, LONG_TEXT_MAX, PhoneNumber, SHORT_TEXT_MAX, Tags, optional_text,
};

/// Most emails or phones one contact may hold.
pub const CHANNELS_MAX: usize = 10;

/// Where a customer stands in the journey the product follows:
/// awareness, acquisition (lead), conversion (deal), retention (service), loyalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStage {
    Awareness,
    Acquisition,
    Conversion,
    Retention,
    Loyalty,
}

/// The channel a record first came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    WebForm,
    Import,
    Api,
    Manual,
    Ads,
    Social,
    Referral,
    Event,
    Email,
    Other,
}

impl Source {
    /// The source as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::WebForm => "web_form",
            Source::Import => "import",
            Source::Api => "api",
            Source::Manual => "manual",
            Source::Ads => "ads",
            Source::Social => "social",
            Source::Referral => "referral",
            Source::Event => "event",
            Source::Email => "email",
            Source::Other => "other",
        }
    }
}

/// What kind of email address or phone number an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelLabel {
    Work,
    Personal,
    Mobile,
    Home,
    Other,
}

/// An email entry as a client sent it.
#[derive(Debug, Clone)]
pub struct EmailInput {
    pub email: String,
    pub label: Option<ChannelLabel>,
    pub primary: bool,
}

/// A phone entry as a client sent it.
#[derive(Debug, Clone)]
pub struct PhoneInput {
    pub number: String,
    pub label: Option<ChannelLabel>,
    pub primary: bool,
}

/// A validated email entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactEmail {
    pub email: String,
    pub label: Option<ChannelLabel>,
    pub primary: bool,
}

/// A validated phone entry, in E.164.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPhone {
    pub number: String,
    pub label: Option<ChannelLabel>,
    pub primary: bool,
}

/// A contact's fields as stored: valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactData {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub emails: Vec<ContactEmail>,
    pub phones: Vec<ContactPhone>,
    pub job_title: Option<String>,
    pub company_id: Option<String>,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Tags,
    pub address: Option<Address>,
    pub source: Option<Source>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub notes: Option<String>,
    /// Values of admin-defined custom fields.
    pub custom_fields: crate::custom::CustomValues,
}

crate::record::owned_by_fields!(ContactData);

crate::custom::custom_fields_in!(ContactData);

/// The lifecycle stages of a contact, as filters and CSV cells name them.
pub const LIFECYCLE_STAGES: &[&str] = &["awareness", "acquisition", "conversion", "retention", "loyalty"];

/// A contact's standard fields, in CSV order.
pub const FIELDS: &[FieldSpec] = &[
    fields::ID,
    fields::NAME,
    FieldSpec::new("first_name").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("last_name").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("email").sort(FilterKind::Text).column("primary_email").searched(),
    FieldSpec::new("emails").csv(Shape::Emails),
    FieldSpec::new("phones").csv(Shape::Phones),
    FieldSpec::new("job_title").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("company_id").filter(FilterKind::Id).csv(Shape::Text),
    fields::OWNER_ID,
    fields::TEAM_ID,
    fields::TAGS,
    fields::ADDRESS[0],
    fields::ADDRESS[1],
    fields::ADDRESS[2],
    fields::ADDRESS[3],
    fields::ADDRESS[4],
    FieldSpec::new("source").filter(FilterKind::Choice(SOURCES)).csv(Shape::Choice(SOURCES)),
    FieldSpec::new("lifecycle_stage").filter(FilterKind::Choice(LIFECYCLE_STAGES)).csv(Shape::Choice(LIFECYCLE_STAGES)),
    FieldSpec::new("notes").csv(Shape::Text),
    fields::CREATED_AT,
    fields::UPDATED_AT,
];

impl ReadFields for ContactData {
    fn read(&self, name: &str) -> Option<Value> {
        match name {
            "name" => Some(Value::String(self.sort_name())),
            "tags" => Some(Value::from(self.tags.as_slice().to_vec())),
            "first_name" => fields::text(self.first_name.as_deref()),
            "last_name" => fields::text(self.last_name.as_deref()),
            "email" => fields::text(self.primary_email()),
            "job_title" => fields::text(self.job_title.as_deref()),
            "company_id" => fields::text(self.company_id.as_deref()),
            "source" => fields::json(self.source),
            "lifecycle_stage" => fields::json(self.lifecycle_stage),
            _ => None,
        }
    }
}

/// A create or merge-patch of a contact, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct ContactChanges {
    pub first_name: Patch<String>,
    pub last_name: Patch<String>,
    pub emails: Patch<Vec<EmailInput>>,
    pub phones: Patch<Vec<PhoneInput>>,
    pub job_title: Patch<String>,
    pub company_id: Patch<String>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub tags: Patch<Vec<String>>,
    pub address: Patch<AddressInput>,
    pub source: Patch<Source>,
    pub lifecycle_stage: Patch<LifecycleStage>,
    pub notes: Patch<String>,
}

fn text(errors: &mut ValidationErrors, field: &str, patch: Patch<String>, max: usize) -> Patch<String> {
    match patch.try_map(|v| optional_text(field, &v, max)) {
        Ok(Patch::Set(None)) => Patch::Clear,
        Ok(Patch::Set(Some(v))) => Patch::Set(v),
        Ok(Patch::Keep) => Patch::Keep,
        Ok(Patch::Clear) => Patch::Clear,
        Err(e) => {
            errors.push(e);
            Patch::Keep
        }
    }
}

/// Exactly one primary entry: the first one when none is marked, an error when several are.
fn settle_primary(field: &str, primaries: &mut [bool], errors: &mut ValidationErrors) {
    match primaries.iter().filter(|p| **p).count() {
        0 => {
            if let Some(first) = primaries.first_mut() {
                *first = true;
            }
        }
        1 => {}
        _ => errors.push(FieldError::new(field, "several_primary", "at most one entry may be primary")),
    }
}

pub(crate) fn parse_emails(field: &str, inputs: Vec<EmailInput>, errors: &mut ValidationErrors) -> Vec<ContactEmail> {
    if inputs.len() > CHANNELS_MAX {
        errors.push(FieldError::new(field, "too_many", format!("at most {CHANNELS_MAX} entries")));
        return Vec::new();
    }
    let mut emails: Vec<ContactEmail> = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let path = format!("{field}[{index}].email");
        if let Some(email) = errors.collect(EmailAddress::parse(&path, &input.email)) {
            if emails.iter().any(|e| e.email == email.as_str()) {
                errors.push(FieldError::new(path, "duplicate", "this address is listed twice"));
                continue;
            }
            emails.push(ContactEmail { email: email.as_str().to_owned(), label: input.label, primary: input.primary });
        }
    }
    let mut primaries: Vec<bool> = emails.iter().map(|e| e.primary).collect();
    settle_primary(field, &mut primaries, errors);
    emails.iter_mut().zip(primaries).for_each(|(e, p)| e.primary = p);
    emails
}

pub(crate) fn parse_phones(field: &str, inputs: Vec<PhoneInput>, errors: &mut ValidationErrors) -> Vec<ContactPhone> {
    if inputs.len() > CHANNELS_MAX {
        errors.push(FieldError::new(field, "too_many", format!("at most {CHANNELS_MAX} entries")));
        return Vec::new();
    }
    let mut phones: Vec<ContactPhone> = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let path = format!("{field}[{index}].number");
        if let Some(number) = errors.collect(PhoneNumber::parse(&path, &input.number)) {
            if phones.iter().any(|p| p.number == number.as_str()) {
                errors.push(FieldError::new(path, "duplicate", "this number is listed twice"));
                continue;
            }
            phones.push(ContactPhone {
                number: number.as_str().to_owned(),
                label: input.label,
                primary: input.primary,
            });
        }
    }
    let mut primaries: Vec<bool> = phones.iter().map(|p| p.primary).collect();
    settle_primary(field, &mut primaries, errors);
    phones.iter_mut().zip(primaries).for_each(|(p, flag)| p.primary = flag);
    phones
}

fn id_patch(errors: &mut ValidationErrors, field: &str, patch: Patch<String>) -> Patch<String> {
    text(errors, field, patch, 64)
}

impl ContactData {
    /// Applies `changes` to `current` (`None` for a create) and checks the result as a whole.
    pub fn apply(current: Option<&ContactData>, changes: ContactChanges) -> Result<ContactData, ValidationErrors> {
        let base = current.cloned().unwrap_or_default();
        let mut errors = ValidationErrors::new();
        let first_name = text(&mut errors, "first_name", changes.first_name, SHORT_TEXT_MAX);
        let last_name = text(&mut errors, "last_name", changes.last_name, SHORT_TEXT_MAX);
        let job_title = text(&mut errors, "job_title", changes.job_title, SHORT_TEXT_MAX);
        let notes = text(&mut errors, "notes", changes.notes, LONG_TEXT_MAX);
        let company_id = id_patch(&mut errors, "company_id", changes.company_id);
        let owner_id = id_patch(&mut errors, "owner_id", changes.owner_id);
        let team_id = id_patch(&mut errors, "team_id", changes.team_id);
        let emails = match changes.emails {
            Patch::Keep => base.emails,
            Patch::Clear => Vec::new(),
            Patch::Set(inputs) => parse_emails("emails", inputs, &mut errors),
        };
        let phones = match changes.phones {
            Patch::Keep => base.phones,
            Patch::Clear => Vec::new(),
            Patch::Set(inputs) => parse_phones("phones", inputs, &mut errors),
        };
        let tags = patch_tags(&mut errors, changes.tags, base.tags);
        let address = patch_address(&mut errors, changes.address, base.address);
        let data = ContactData {
            first_name: first_name.resolve(base.first_name),
            last_name: last_name.resolve(base.last_name),
            emails,
            phones,
            job_title: job_title.resolve(base.job_title),
            company_id: company_id.resolve(base.company_id),
            owner_id: owner_id.resolve(base.owner_id),
            team_id: team_id.resolve(base.team_id),
            tags,
            address,
            source: changes.source.resolve(base.source),
            lifecycle_stage: changes.lifecycle_stage.resolve(base.lifecycle_stage),
            notes: notes.resolve(base.notes),
            custom_fields: base.custom_fields,
        };
        if errors.is_empty() && data.first_name.is_none() && data.last_name.is_none() && data.emails.is_empty() {
            errors.push(FieldError::new(
                "first_name",
                "required",
                "a contact needs a first name, a last name or an email address",
            ));
        }
        errors.into_result(|| data)
    }

    /// The primary email, if any.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails.iter().find(|e| e.primary).map(|e| e.email.as_str())
    }

    /// The key `name` sorts on: last name, first name, then email, lower-cased.
    pub fn sort_name(&self) -> String {
        let name = search_text([self.last_name.as_deref(), self.first_name.as_deref()]);
        if name.is_empty() { self.primary_email().unwrap_or_default().to_owned() } else { name }
    }

    /// Everything `q` searches: names, emails, phones (with and without `+`), job title.
    pub fn search_text(&self) -> String {
        let phones_digits: Vec<&str> = self.phones.iter().map(|p| p.number.trim_start_matches('+')).collect();
        search_text(
            [self.first_name.as_deref(), self.last_name.as_deref(), self.job_title.as_deref()]
                .into_iter()
                .chain(self.emails.iter().map(|e| Some(e.email.as_str())))
                .chain(self.phones.iter().map(|p| Some(p.number.as_str())))
                .chain(phones_digits.into_iter().map(Some))
                .chain(self.custom_fields.search_parts().iter().map(|p| Some(p.as_str()))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(address: &str, primary: bool) -> EmailInput {
        EmailInput { email: address.into(), label: None, primary }
    }

    #[test]
    fn a_contact_needs_a_name_or_an_email() {
        let errors = ContactData::apply(None, ContactChanges::default()).err().map(|e| e.errors()[0].code);
        assert_eq!(errors, Some("required"));
        let changes = ContactChanges { emails: Patch::Set(vec![email("a@b.io", false)]), ..Default::default() };
        assert!(ContactData::apply(None, changes).is_ok());
    }

    #[test]
    fn the_first_email_becomes_primary_when_none_is_marked() {
        let changes = ContactChanges {
            emails: Patch::Set(vec![email("A@b.io", false), email("c@d.io", false)]),
            ..Default::default()
        };
        let contact = ContactData::apply(None, changes).ok();
        assert_eq!(contact.as_ref().and_then(|c| c.primary_email()), Some("a@b.io"));
    }

    #[test]
    fn two_primary_emails_or_a_repeated_one_are_refused() {
        let two = ContactChanges {
            emails: Patch::Set(vec![email("a@b.io", true), email("c@d.io", true)]),
            ..Default::default()
        };
        assert!(ContactData::apply(None, two).is_err());
        let repeated = ContactChanges {
            emails: Patch::Set(vec![email("a@b.io", false), email("A@B.io", false)]),
            ..Default::default()
        };
        let errors = ContactData::apply(None, repeated).err().map(|e| e.errors()[0].field.clone());
        assert_eq!(errors.as_deref(), Some("emails[1].email"));
    }

    #[test]
    fn a_patch_clears_only_what_it_names() {
        let created = ContactData::apply(
            None,
            ContactChanges {
                first_name: Patch::Set("Ada".into()),
                job_title: Patch::Set("Countess".into()),
                ..Default::default()
            },
        )
        .ok();
        let patched =
            ContactData::apply(created.as_ref(), ContactChanges { job_title: Patch::Clear, ..Default::default() }).ok();
        assert_eq!(patched.as_ref().and_then(|c| c.first_name.as_deref()), Some("Ada"));
        assert_eq!(patched.and_then(|c| c.job_title), None);
    }

    #[test]
    fn clearing_the_only_name_of_a_contact_without_email_is_refused() {
        let created =
            ContactData::apply(None, ContactChanges { first_name: Patch::Set("Ada".into()), ..Default::default() })
                .ok();
        assert!(
            ContactData::apply(created.as_ref(), ContactChanges { first_name: Patch::Clear, ..Default::default() })
                .is_err()
        );
    }

    #[test]
    fn search_text_holds_names_emails_and_phones() {
        let contact = ContactData::apply(
            None,
            ContactChanges {
                first_name: Patch::Set("Ada".into()),
                phones: Patch::Set(vec![PhoneInput { number: "+44 20 7946 0000".into(), label: None, primary: false }]),
                ..Default::default()
            },
        )
        .ok();
        let text = contact.map(|c| c.search_text()).unwrap_or_default();
        assert!(text.contains("ada") && text.contains("+442079460000") && text.contains(" 442079460000"));
    }
}
