//! Duplicate detection (the keys two records share when they may be the same person or
//! organisation) and merging several records into one survivor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::company::CompanyData;
use crate::contact::{CHANNELS_MAX, ContactData};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{TAGS_MAX, Tags};

/// Most records one merge may fold into the survivor.
pub const MERGE_MAX: usize = 10;

/// Why two records look like duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    /// The same normalised email address.
    SameEmail,
    /// The same phone number (E.164).
    SamePhone,
    /// The same company domain.
    SameDomain,
    /// The same name once case, punctuation and (for companies) legal forms are ignored; for
    /// contacts only at the same company.
    SimilarName,
}

impl DuplicateReason {
    /// The key kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateReason::SameEmail => "email",
            DuplicateReason::SamePhone => "phone",
            DuplicateReason::SameDomain => "domain",
            DuplicateReason::SimilarName => "name",
        }
    }

    /// The reason a stored key kind stands for.
    pub fn parse(kind: &str) -> Option<Self> {
        [Self::SameEmail, Self::SamePhone, Self::SameDomain, Self::SimilarName].into_iter().find(|r| r.as_str() == kind)
    }
}

/// One matching key of a record: its kind and normalised value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MatchKey {
    pub reason: DuplicateReason,
    pub value: String,
}

impl MatchKey {
    /// The key as one comparable text (kind and value).
    pub fn text(&self) -> String {
        format!("{}:{}", self.reason.as_str(), self.value)
    }
}

/// A contact's match keys as texts, for comparing records not stored yet.
pub fn contact_key_texts(contact: &ContactData) -> Vec<String> {
    contact_keys(contact).iter().map(MatchKey::text).collect()
}

/// A company's match keys as texts, for comparing records not stored yet.
pub fn company_key_texts(company: &CompanyData) -> Vec<String> {
    company_keys(company).iter().map(MatchKey::text).collect()
}

/// Lower-case words of letters and digits, single-spaced: "  O'Brien-Smith " → "o brien smith".
pub fn normalized_name(raw: &str) -> String {
    raw.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

const LEGAL_FORMS: [&str; 16] = [
    "ltd",
    "limited",
    "inc",
    "incorporated",
    "llc",
    "gmbh",
    "ag",
    "plc",
    "corp",
    "corporation",
    "co",
    "sa",
    "bv",
    "srl",
    "oy",
    "ab",
];

/// A company name without its legal form: "Acme Ltd." and "ACME" share "acme".
pub fn company_name_key(name: &str) -> String {
    let normalized = normalized_name(name);
    let words: Vec<&str> = normalized.split(' ').collect();
    let kept: Vec<&str> = words.iter().copied().filter(|w| !LEGAL_FORMS.contains(w)).collect();
    if kept.is_empty() { normalized } else { kept.join(" ") }
}

/// The keys a contact is matched on.
pub fn contact_keys(contact: &ContactData) -> Vec<MatchKey> {
    let key = |reason, value: &str| MatchKey { reason, value: value.to_owned() };
    let mut keys: Vec<MatchKey> = contact.emails.iter().map(|e| key(DuplicateReason::SameEmail, &e.email)).collect();
    keys.extend(contact.phones.iter().map(|p| key(DuplicateReason::SamePhone, &p.number)));
    let name = normalized_name(&format!(
        "{} {}",
        contact.first_name.as_deref().unwrap_or_default(),
        contact.last_name.as_deref().unwrap_or_default()
    ));
    if !name.is_empty() {
        keys.push(key(DuplicateReason::SimilarName, &name));
    }
    keys
}

/// The keys a company is matched on.
pub fn company_keys(company: &CompanyData) -> Vec<MatchKey> {
    let key = |reason, value: &str| MatchKey { reason, value: value.to_owned() };
    let mut keys = vec![key(DuplicateReason::SimilarName, &company_name_key(&company.name))];
    keys.extend(company.domain.iter().map(|d| key(DuplicateReason::SameDomain, d)));
    keys.extend(company.phone.iter().map(|p| key(DuplicateReason::SamePhone, p)));
    keys
}

/// Whether a stored contact that shares `reason` with `new` counts as a duplicate: a shared
/// name alone counts only at the same company, since many people share a name.
pub fn contact_match_counts(reason: DuplicateReason, new: &ContactData, existing: &ContactData) -> bool {
    reason != DuplicateReason::SimilarName || (new.company_id.is_some() && new.company_id == existing.company_id)
}

/// Which record each field's value comes from in a merge, by record id.
pub type FieldChoices = BTreeMap<String, String>;

fn chosen<'a, T>(
    field: &str,
    choices: &FieldChoices,
    records: &'a [(&'a str, &'a T)],
    errors: &mut ValidationErrors,
) -> Option<&'a T> {
    let id = choices.get(field)?;
    match records.iter().find(|(record_id, _)| record_id == id) {
        Some((_, record)) => Some(*record),
        None => {
            errors.push(FieldError::new(format!("fields.{field}"), "not_merged", "names none of the merged records"));
            None
        }
    }
}

/// The merged value of an optional field: the chosen record's, else the first record (the
/// survivor first) that has one.
fn pick<T: Clone, V: Clone>(
    field: &str,
    choices: &FieldChoices,
    records: &[(&str, &T)],
    errors: &mut ValidationErrors,
    get: impl Fn(&T) -> Option<V>,
) -> Option<V> {
    match chosen(field, choices, records, errors) {
        Some(record) => get(record),
        None => records.iter().find_map(|(_, record)| get(record)),
    }
}

fn merged_tags(tags: impl Iterator<Item = Tags>, errors: &mut ValidationErrors) -> Tags {
    let all: Vec<String> = tags.flat_map(|t| t.as_slice().to_vec()).collect();
    match Tags::parse("tags", &all) {
        Ok(tags) => tags,
        Err(_) => {
            errors.push(FieldError::new(
                "tags",
                "too_many",
                format!("the merged records have more than {TAGS_MAX} tags"),
            ));
            Tags::default()
        }
    }
}

fn check_choices(choices: &FieldChoices, allowed: &[&str], errors: &mut ValidationErrors) {
    for field in choices.keys() {
        if !allowed.contains(&field.as_str()) {
            errors.push(FieldError::new(
                format!("fields.{field}"),
                "not_choosable",
                format!("choose among: {}", allowed.join(", ")),
            ));
        }
    }
}

/// Fields of a contact whose source a merge may choose.
pub const CONTACT_MERGE_FIELDS: [&str; 10] = [
    "first_name",
    "last_name",
    "job_title",
    "company_id",
    "owner_id",
    "team_id",
    "address",
    "source",
    "lifecycle_stage",
    "notes",
];

/// Merges contacts: `records` is the survivor first, then the merged ones. Chosen fields come
/// from the named record, the others from the first record that has them; emails, phones and
/// tags are united (the survivor's primary entries stay primary).
pub fn merge_contacts(
    records: &[(&str, &ContactData)],
    choices: &FieldChoices,
) -> Result<ContactData, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    check_choices(choices, &CONTACT_MERGE_FIELDS, &mut errors);
    let e = &mut errors;
    let mut emails = Vec::new();
    let mut phones = Vec::new();
    for (index, (_, record)) in records.iter().enumerate() {
        for email in &record.emails {
            if !emails.iter().any(|x: &crate::contact::ContactEmail| x.email == email.email) {
                emails.push(crate::contact::ContactEmail { primary: email.primary && index == 0, ..email.clone() });
            }
        }
        for phone in &record.phones {
            if !phones.iter().any(|x: &crate::contact::ContactPhone| x.number == phone.number) {
                phones.push(crate::contact::ContactPhone { primary: phone.primary && index == 0, ..phone.clone() });
            }
        }
    }
    if emails.len() > CHANNELS_MAX || phones.len() > CHANNELS_MAX {
        e.push(FieldError::new(
            "emails",
            "too_many",
            format!("the merged records have more than {CHANNELS_MAX} emails or phones"),
        ));
    }
    // The survivor may have had no entries: then the first merged one becomes primary.
    if !emails.iter().any(|e| e.primary)
        && let Some(first) = emails.first_mut()
    {
        first.primary = true;
    }
    if !phones.iter().any(|p| p.primary)
        && let Some(first) = phones.first_mut()
    {
        first.primary = true;
    }
    let data = ContactData {
        first_name: pick("first_name", choices, records, e, |c| c.first_name.clone()),
        last_name: pick("last_name", choices, records, e, |c| c.last_name.clone()),
        job_title: pick("job_title", choices, records, e, |c| c.job_title.clone()),
        company_id: pick("company_id", choices, records, e, |c| c.company_id.clone()),
        owner_id: pick("owner_id", choices, records, e, |c| c.owner_id.clone()),
        team_id: pick("team_id", choices, records, e, |c| c.team_id.clone()),
        address: pick("address", choices, records, e, |c| c.address.clone()),
        source: pick("source", choices, records, e, |c| c.source),
        lifecycle_stage: pick("lifecycle_stage", choices, records, e, |c| c.lifecycle_stage),
        notes: pick("notes", choices, records, e, |c| c.notes.clone()),
        tags: merged_tags(records.iter().map(|(_, c)| c.tags.clone()), e),
        emails,
        phones,
        custom_fields: merged_custom_fields(records.iter().map(|(_, c)| &c.custom_fields)),
    };
    errors.into_result(|| data)
}

/// Fields of a company whose source a merge may choose.
pub const COMPANY_MERGE_FIELDS: [&str; 9] =
    ["name", "domain", "industry", "employee_count", "annual_revenue", "phone", "address", "owner_id", "team_id"];

/// Merges companies like [`merge_contacts`]; tags are united.
pub fn merge_companies(
    records: &[(&str, &CompanyData)],
    choices: &FieldChoices,
) -> Result<CompanyData, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    check_choices(choices, &COMPANY_MERGE_FIELDS, &mut errors);
    let e = &mut errors;
    let name = pick("name", choices, records, e, |c| Some(c.name.clone())).unwrap_or_default();
    let data = CompanyData {
        name,
        domain: pick("domain", choices, records, e, |c| c.domain.clone()),
        industry: pick("industry", choices, records, e, |c| c.industry.clone()),
        employee_count: pick("employee_count", choices, records, e, |c| c.employee_count),
        annual_revenue: pick("annual_revenue", choices, records, e, |c| c.annual_revenue.clone()),
        phone: pick("phone", choices, records, e, |c| c.phone.clone()),
        address: pick("address", choices, records, e, |c| c.address.clone()),
        owner_id: pick("owner_id", choices, records, e, |c| c.owner_id.clone()),
        team_id: pick("team_id", choices, records, e, |c| c.team_id.clone()),
        tags: merged_tags(records.iter().map(|(_, c)| c.tags.clone()), e),
        custom_fields: merged_custom_fields(records.iter().map(|(_, c)| &c.custom_fields)),
    };
    errors.into_result(|| data)
}

/// The survivor's (first record's) custom values, with the keys it lacks filled from the others.
fn merged_custom_fields<'a>(all: impl Iterator<Item = &'a crate::custom::CustomValues>) -> crate::custom::CustomValues {
    let mut merged = crate::custom::CustomValues::default();
    for values in all {
        merged.fill_from(values);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::{ContactEmail, ContactPhone};

    fn contact(first: &str, email: &str, title: Option<&str>) -> ContactData {
        ContactData {
            first_name: Some(first.into()),
            emails: vec![ContactEmail { email: email.into(), label: None, primary: true }],
            job_title: title.map(str::to_owned),
            tags: Tags::parse("tags", &[first.to_lowercase()]).unwrap_or_default(),
            ..Default::default()
        }
    }

    #[test]
    fn names_and_company_names_normalise() {
        assert_eq!(normalized_name("  O'Brien-SMITH "), "o brien smith");
        assert_eq!(company_name_key("Acme Ltd."), "acme");
        assert_eq!(company_name_key("ACME"), "acme");
        assert_eq!(company_name_key("Ltd"), "ltd");
    }

    #[test]
    fn a_shared_name_counts_only_at_the_same_company() {
        let mut a = contact("Ada", "a@x.io", None);
        let mut b = contact("Ada", "b@x.io", None);
        assert!(!contact_match_counts(DuplicateReason::SimilarName, &a, &b));
        a.company_id = Some("c1".into());
        b.company_id = Some("c1".into());
        assert!(contact_match_counts(DuplicateReason::SimilarName, &a, &b));
        assert!(contact_match_counts(DuplicateReason::SameEmail, &a, &contact("Bo", "a@x.io", None)));
    }

    #[test]
    fn a_merge_keeps_the_survivor_unless_told_and_unites_lists() {
        let survivor = contact("Ada", "ada@x.io", None);
        let mut other = contact("Augusta", "augusta@x.io", Some("Countess"));
        other.phones = vec![ContactPhone { number: "+442079460000".into(), label: None, primary: true }];
        let records = [("s", &survivor), ("o", &other)];
        let merged = merge_contacts(&records, &FieldChoices::new()).expect("valid");
        assert_eq!(merged.first_name.as_deref(), Some("Ada"));
        assert_eq!(merged.job_title.as_deref(), Some("Countess"));
        assert_eq!(
            merged.emails.iter().map(|e| (e.email.as_str(), e.primary)).collect::<Vec<_>>(),
            [("ada@x.io", true), ("augusta@x.io", false)]
        );
        assert!(merged.phones[0].primary);
        assert_eq!(merged.tags.as_slice(), ["ada", "augusta"]);
        let choices = FieldChoices::from([("first_name".to_owned(), "o".to_owned())]);
        assert_eq!(merge_contacts(&records, &choices).map(|c| c.first_name), Ok(Some("Augusta".into())));
        let wrong =
            FieldChoices::from([("first_name".to_owned(), "zzz".to_owned()), ("emails".to_owned(), "o".to_owned())]);
        let fields: Vec<String> = merge_contacts(&records, &wrong)
            .err()
            .map(|e| e.errors().iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["fields.emails", "fields.first_name"]);
    }
}
