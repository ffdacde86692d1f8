//! Leads: people and companies as captured, before they become customers; their status
//! lifecycle, scoring by admin-defined rules, and assignment rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::contact::Source;
use crate::fields::{self, FieldSpec, FilterKind, ReadFields, SOURCES, Shape};
use crate::record::{Patch, patch_tags, patch_text, search_text};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{
    CountryCode, DomainName, EmailAddress, LONG_TEXT_MAX, PhoneNumber, SHORT_TEXT_MAX, Tags, required_text,
};

/// Largest accepted employee count on a lead.
pub const LEAD_EMPLOYEES_MAX: i64 = 10_000_000;
/// Most points one scoring rule may give or take.
pub const RULE_POINTS_MAX: i64 = 1000;
/// Most conditions one assignment rule may combine.
pub const RULE_CONDITIONS_MAX: usize = 10;

/// Where a lead stands. `converted` is reached only through conversion and is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    #[default]
    New,
    Contacted,
    Qualified,
    Unqualified,
    Converted,
}

impl LeadStatus {
    /// The status as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Qualified => "qualified",
            LeadStatus::Unqualified => "unqualified",
            LeadStatus::Converted => "converted",
        }
    }

    /// The statuses a lead may move to by an edit. Unqualified leads may be reopened;
    /// nothing leaves `converted`, and `converted` itself needs the conversion action.
    pub fn may_move_to(self, to: LeadStatus) -> bool {
        use LeadStatus::*;
        matches!(
            (self, to),
            (New, Contacted | Qualified | Unqualified)
                | (Contacted, Qualified | Unqualified)
                | (Qualified, Contacted | Unqualified)
                | (Unqualified, New | Contacted | Qualified)
        )
    }

    /// A lead may be converted from any open status; an unqualified one must be requalified first.
    pub fn may_convert(self) -> Result<(), ConvertRefused> {
        match self {
            LeadStatus::New | LeadStatus::Contacted | LeadStatus::Qualified => Ok(()),
            LeadStatus::Unqualified => Err(ConvertRefused::Unqualified),
            LeadStatus::Converted => Err(ConvertRefused::AlreadyConverted),
        }
    }
}

/// Why a conversion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvertRefused {
    AlreadyConverted,
    Unqualified,
}

/// What a converted lead became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversion {
    pub contact_id: String,
    pub company_id: Option<String>,
    pub deal_id: Option<String>,
    pub converted_at: DateTime<Utc>,
}

/// A lead's fields as stored: valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeadData {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company_name: Option<String>,
    pub job_title: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub country: Option<String>,
    pub employee_count: Option<i64>,
    pub source: Option<Source>,
    /// Free text until campaigns exist.
    pub campaign: Option<String>,
    pub status: LeadStatus,
    /// Computed from the scoring rules; never set by clients.
    pub score: i64,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Tags,
    pub notes: Option<String>,
    pub conversion: Option<Conversion>,
    /// Values of admin-defined custom fields.
    pub custom_fields: crate::custom::CustomValues,
}

crate::record::owned_by_fields!(LeadData);

crate::custom::custom_fields_in!(LeadData);

/// The statuses of a lead, as filters and CSV cells name them.
pub const LEAD_STATUSES: &[&str] = &["new", "contacted", "qualified", "unqualified", "converted"];

/// A lead's standard fields, in CSV order.
pub const FIELDS: &[FieldSpec] = &[
    fields::ID,
    fields::NAME,
    FieldSpec::new("first_name").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("last_name").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("email").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("phone").filter(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("company_name").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("job_title").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("website").filter(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("industry").sort(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("country").sort(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("employee_count").sort(FilterKind::Number).csv(Shape::Integer),
    FieldSpec::new("source").filter(FilterKind::Choice(SOURCES)).csv(Shape::Choice(SOURCES)),
    FieldSpec::new("campaign").sort(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("status").filter(FilterKind::Choice(LEAD_STATUSES)).csv(Shape::Choice(LEAD_STATUSES)),
    FieldSpec::new("score").sort(FilterKind::Number).exported(Shape::Integer),
    fields::OWNER_ID,
    fields::TEAM_ID,
    fields::TAGS,
    FieldSpec::new("notes").csv(Shape::Text),
    fields::CREATED_AT,
    fields::UPDATED_AT,
];

impl ReadFields for LeadData {
    fn read(&self, name: &str) -> Option<Value> {
        match name {
            "name" => Some(Value::String(self.sort_name())),
            "tags" => Some(Value::from(self.tags.as_slice().to_vec())),
            "first_name" => fields::text(self.first_name.as_deref()),
            "last_name" => fields::text(self.last_name.as_deref()),
            "email" => fields::text(self.email.as_deref()),
            "phone" => fields::text(self.phone.as_deref()),
            "company_name" => fields::text(self.company_name.as_deref()),
            "job_title" => fields::text(self.job_title.as_deref()),
            "website" => fields::text(self.website.as_deref()),
            "industry" => fields::text(self.industry.as_deref()),
            "country" => fields::text(self.country.as_deref()),
            "employee_count" => self.employee_count.map(Value::from),
            "source" => fields::json(self.source),
            "campaign" => fields::text(self.campaign.as_deref()),
            "status" => fields::json(Some(self.status)),
            "score" => Some(Value::from(self.score)),
            _ => None,
        }
    }
}

/// A create or merge-patch of a lead, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct LeadChanges {
    pub first_name: Patch<String>,
    pub last_name: Patch<String>,
    pub email: Patch<String>,
    pub phone: Patch<String>,
    pub company_name: Patch<String>,
    pub job_title: Patch<String>,
    pub website: Patch<String>,
    pub industry: Patch<String>,
    pub country: Patch<String>,
    pub employee_count: Patch<i64>,
    pub source: Patch<Source>,
    pub campaign: Patch<String>,
    pub status: Patch<LeadStatus>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub tags: Patch<Vec<String>>,
    pub notes: Patch<String>,
}

fn parsed<T>(
    errors: &mut ValidationErrors,
    patch: Patch<String>,
    current: Option<String>,
    parse: impl FnOnce(&str) -> Result<T, FieldError>,
    text: impl FnOnce(T) -> String,
) -> Option<String> {
    match patch {
        Patch::Keep => current,
        Patch::Clear => None,
        Patch::Set(raw) if raw.trim().is_empty() => None,
        Patch::Set(raw) => errors.collect(parse(&raw)).map(text).or(current),
    }
}

impl LeadData {
    /// Applies `changes` to `current` (`None` for a create) and checks the result, the
    /// status transition included.
    pub fn apply(current: Option<&LeadData>, changes: LeadChanges) -> Result<LeadData, ValidationErrors> {
        let base = current.cloned().unwrap_or_default();
        let mut errors = ValidationErrors::new();
        let e = &mut errors;
        let first_name = patch_text(e, "first_name", changes.first_name, base.first_name, SHORT_TEXT_MAX);
        let last_name = patch_text(e, "last_name", changes.last_name, base.last_name, SHORT_TEXT_MAX);
        let company_name = patch_text(e, "company_name", changes.company_name, base.company_name, SHORT_TEXT_MAX);
        let job_title = patch_text(e, "job_title", changes.job_title, base.job_title, SHORT_TEXT_MAX);
        let industry = patch_text(e, "industry", changes.industry, base.industry, 100);
        let campaign = patch_text(e, "campaign", changes.campaign, base.campaign, SHORT_TEXT_MAX);
        let notes = patch_text(e, "notes", changes.notes, base.notes, LONG_TEXT_MAX);
        let owner_id = patch_text(e, "owner_id", changes.owner_id, base.owner_id, 64);
        let team_id = patch_text(e, "team_id", changes.team_id, base.team_id, 64);
        let email = parsed(e, changes.email, base.email, |r| EmailAddress::parse("email", r), |v| v.as_str().into());
        let phone = parsed(e, changes.phone, base.phone, |r| PhoneNumber::parse("phone", r), |v| v.as_str().into());
        let website =
            parsed(e, changes.website, base.website, |r| DomainName::parse("website", r), |v| v.as_str().into());
        let country =
            parsed(e, changes.country, base.country, |r| CountryCode::parse("country", r), |v| v.as_str().into());
        let employee_count = match changes.employee_count {
            Patch::Set(n) if !(0..=LEAD_EMPLOYEES_MAX).contains(&n) => {
                e.push(FieldError::new(
                    "employee_count",
                    "out_of_range",
                    format!("must be between 0 and {LEAD_EMPLOYEES_MAX}"),
                ));
                base.employee_count
            }
            other => other.resolve(base.employee_count),
        };
        let status = match changes.status {
            Patch::Keep => base.status,
            Patch::Clear => {
                e.push(FieldError::new("status", "required", "a lead always has a status"));
                base.status
            }
            Patch::Set(to) if to == base.status => to,
            Patch::Set(LeadStatus::Converted) => {
                e.push(FieldError::new(
                    "status",
                    "use_convert",
                    "a lead becomes converted only through POST /api/v1/leads/{id}/convert",
                ));
                base.status
            }
            Patch::Set(to) if current.is_none() => to,
            Patch::Set(to) if base.status.may_move_to(to) => to,
            Patch::Set(to) => {
                e.push(FieldError::new(
                    "status",
                    "illegal_transition",
                    format!("a {} lead cannot become {}", base.status.as_str(), to.as_str()),
                ));
                base.status
            }
        };
        let tags = patch_tags(e, changes.tags, base.tags);
        let data = LeadData {
            first_name,
            last_name,
            email,
            phone,
            company_name,
            job_title,
            website,
            industry,
            country,
            employee_count,
            source: changes.source.resolve(base.source),
            campaign,
            status,
            score: base.score,
            owner_id,
            team_id,
            tags,
            notes,
            conversion: base.conversion,
            custom_fields: base.custom_fields,
        };
        if errors.is_empty()
            && data.first_name.is_none()
            && data.last_name.is_none()
            && data.email.is_none()
            && data.company_name.is_none()
        {
            errors.push(FieldError::new(
                "last_name",
                "required",
                "a lead needs a name, an email address or a company name",
            ));
        }
        errors.into_result(|| data)
    }

    /// The lead after conversion into the given records.
    pub fn converted(mut self, conversion: Conversion) -> Result<LeadData, ConvertRefused> {
        self.status.may_convert()?;
        self.status = LeadStatus::Converted;
        self.conversion = Some(conversion);
        Ok(self)
    }

    /// The key `name` sorts on: last name, first name, else email, else company.
    pub fn sort_name(&self) -> String {
        let name = search_text([self.last_name.as_deref(), self.first_name.as_deref()]);
        if !name.is_empty() {
            return name;
        }
        self.email.clone().or_else(|| self.company_name.as_deref().map(str::to_lowercase)).unwrap_or_default()
    }

    /// Everything `q` searches: names, email, phone, company.
    pub fn search_text(&self) -> String {
        search_text(
            [
                self.first_name.as_deref(),
                self.last_name.as_deref(),
                self.email.as_deref(),
                self.phone.as_deref(),
                self.phone.as_deref().map(|p| p.trim_start_matches('+')),
                self.company_name.as_deref(),
                self.job_title.as_deref(),
            ]
            .into_iter()
            .chain(self.custom_fields.search_parts().iter().map(|p| Some(p.as_str()))),
        )
    }

    /// The domain part of the email, for conditions.
    fn email_domain(&self) -> Option<&str> {
        self.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, domain)| domain)
    }
}

/// A lead field that rules may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadField {
    Source,
    Campaign,
    Industry,
    Country,
    EmployeeCount,
    JobTitle,
    CompanyName,
    EmailDomain,
    Website,
    Status,
    Tag,
}

/// How a condition compares. Text comparisons ignore case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConditionOp {
    Eq,
    Neq,
    In,
    NotIn,
    Contains,
    Gte,
    Lte,
    IsSet,
    IsNotSet,
}

/// A condition's operand: a number, a text, or a list of texts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ConditionValue {
    Number(i64),
    Text(String),
    List(Vec<String>),
}

/// One test of a lead field, e.g. `{"field": "country", "op": "in", "value": ["DE", "AT"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadCondition {
    pub field: LeadField,
    pub op: ConditionOp,
    /// Absent for `is_set` / `is_not_set`; a number for `employee_count`; a list for `in` / `not_in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ConditionValue>,
}

impl LeadCondition {
    /// Checks that the operator fits the field and the value fits the operator.
    pub fn check(&self, path: &str) -> Result<(), FieldError> {
        use ConditionOp::*;
        let numeric = self.field == LeadField::EmployeeCount;
        let refuse = |why: String| Err(FieldError::new(path, "invalid_condition", why));
        match (self.op, &self.value, numeric) {
            (IsSet | IsNotSet, None, _) => Ok(()),
            (IsSet | IsNotSet, Some(_), _) => refuse("`is_set` and `is_not_set` take no value".into()),
            (Eq | Neq | Gte | Lte, Some(ConditionValue::Number(_)), true) => Ok(()),
            (_, _, true) => {
                refuse("`employee_count` takes eq, neq, gte, lte, is_set or is_not_set with a number".into())
            }
            (Eq | Neq | Contains, Some(ConditionValue::Text(t)), false) if !t.trim().is_empty() && t.len() <= 200 => {
                Ok(())
            }
            (In | NotIn, Some(ConditionValue::List(list)), false)
                if !list.is_empty() && list.len() <= 100 && list.iter().all(|t| t.len() <= 200) =>
            {
                Ok(())
            }
            (Gte | Lte, _, false) => {
                refuse("text fields take eq, neq, in, not_in, contains, is_set or is_not_set".into())
            }
            (op, _, false) => refuse(format!(
                "`{}` needs {}",
                op_name(op),
                if matches!(op, In | NotIn) { "a list of 1 to 100 texts" } else { "a text of 1 to 200 characters" }
            )),
        }
    }

    /// True when the lead satisfies the condition.
    pub fn matches(&self, lead: &LeadData) -> bool {
        use ConditionOp::*;
        if self.field == LeadField::EmployeeCount {
            let limit = match &self.value {
                Some(ConditionValue::Number(n)) => Some(*n),
                _ => None,
            };
            return match (self.op, lead.employee_count, limit) {
                (IsSet, value, _) => value.is_some(),
                (IsNotSet, value, _) => value.is_none(),
                (Eq, Some(v), Some(n)) => v == n,
                (Neq, Some(v), Some(n)) => v != n,
                (Gte, Some(v), Some(n)) => v >= n,
                (Lte, Some(v), Some(n)) => v <= n,
                _ => false,
            };
        }
        let values: Vec<String> = match self.field {
            LeadField::Tag => lead.tags.as_slice().to_vec(),
            field => text_of(lead, field).into_iter().collect(),
        };
        let values: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
        let wanted = |t: &String| t.trim().to_lowercase();
        match (self.op, &self.value) {
            (IsSet, _) => !values.is_empty(),
            (IsNotSet, _) => values.is_empty(),
            (Eq, Some(ConditionValue::Text(t))) => values.contains(&wanted(t)),
            (Neq, Some(ConditionValue::Text(t))) => !values.contains(&wanted(t)),
            (Contains, Some(ConditionValue::Text(t))) => values.iter().any(|v| v.contains(&wanted(t))),
            (In, Some(ConditionValue::List(list))) => list.iter().any(|t| values.contains(&wanted(t))),
            (NotIn, Some(ConditionValue::List(list))) => !list.iter().any(|t| values.contains(&wanted(t))),
            _ => false,
        }
    }

    /// A short human description, used in score explanations.
    pub fn describe(&self) -> String {
        let field = serde_name(&self.field);
        match &self.value {
            None => format!("{field} {}", op_name(self.op)),
            Some(ConditionValue::Number(n)) => format!("{field} {} {n}", op_name(self.op)),
            Some(ConditionValue::Text(t)) => format!("{field} {} \"{t}\"", op_name(self.op)),
            Some(ConditionValue::List(l)) => format!("{field} {} [{}]", op_name(self.op), l.join(", ")),
        }
    }
}

fn serde_name(field: &LeadField) -> &'static str {
    match field {
        LeadField::Source => "source",
        LeadField::Campaign => "campaign",
        LeadField::Industry => "industry",
        LeadField::Country => "country",
        LeadField::EmployeeCount => "employee_count",
        LeadField::JobTitle => "job_title",
        LeadField::CompanyName => "company_name",
        LeadField::EmailDomain => "email_domain",
        LeadField::Website => "website",
        LeadField::Status => "status",
        LeadField::Tag => "tag",
    }
}

fn op_name(op: ConditionOp) -> &'static str {
    match op {
        ConditionOp::Eq => "eq",
        ConditionOp::Neq => "neq",
        ConditionOp::In => "in",
        ConditionOp::NotIn => "not_in",
        ConditionOp::Contains => "contains",
        ConditionOp::Gte => "gte",
        ConditionOp::Lte => "lte",
        ConditionOp::IsSet => "is_set",
        ConditionOp::IsNotSet => "is_not_set",
    }
}

fn text_of(lead: &LeadData, field: LeadField) -> Option<String> {
    match field {
        LeadField::Source => lead.source.map(|s| s.as_str().to_owned()),
        LeadField::Campaign => lead.campaign.clone(),
        LeadField::Industry => lead.industry.clone(),
        LeadField::Country => lead.country.clone(),
        LeadField::JobTitle => lead.job_title.clone(),
        LeadField::CompanyName => lead.company_name.clone(),
        LeadField::EmailDomain => lead.email_domain().map(str::to_owned),
        LeadField::Website => lead.website.clone(),
        LeadField::Status => Some(lead.status.as_str().to_owned()),
        LeadField::EmployeeCount | LeadField::Tag => None,
    }
}

fn check_name(errors: &mut ValidationErrors, name: &str) -> String {
    errors.collect(required_text("name", name, SHORT_TEXT_MAX)).unwrap_or_default()
}

/// An engagement a scoring rule counts, e.g. `{"type": "email_clicked", "max_occurrences": 3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventCriterion {
    /// Event type: lower-case letters, digits and `_` (`form_submitted` is recorded by web forms).
    #[serde(rename = "type")]
    #[schema(example = "email_clicked")]
    pub event_type: String,
    /// Points are given once per event, up to this many events (default 1).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 100, default = 1)]
    pub max_occurrences: u32,
    /// Only events of the last N days count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 3650)]
    pub within_days: Option<u32>,
}

fn one() -> u32 {
    1
}

/// An admin-defined scoring rule: a condition on a lead field or an engagement event, and
/// the points (positive or negative) it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoringRule {
    #[schema(example = "Target industry", max_length = 200)]
    pub name: String,
    /// -1000 to 1000.
    #[schema(minimum = -1000, maximum = 1000, example = 20)]
    pub points: i64,
    /// A condition on a lead field; give this or `event`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<LeadCondition>,
    /// An engagement event; give this or `condition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventCriterion>,
    /// Inactive rules give no points.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Checks an engagement event type: 1 to 50 of `a-z`, `0-9`, `_`.
pub fn check_event_type(field: &str, raw: &str) -> Result<String, FieldError> {
    let valid = !raw.is_empty()
        && raw.len() <= 50
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(field, "invalid_event_type", "must be 1 to 50 of a-z, 0-9 and _, e.g. email_clicked"))
    }
}

/// Most properties one engagement event may carry.
pub const EVENT_PROPERTIES_MAX: usize = 20;
/// Most characters an engagement event's properties may take as JSON.
pub const EVENT_PROPERTIES_JSON_MAX: usize = 10_000;

/// An engagement event of a lead, checked: what scoring rules with an event criterion count.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLeadEvent {
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The details as given, encoded as a JSON object.
    pub properties: String,
}

impl NewLeadEvent {
    /// Checks the type and bounds the properties; every refused field is reported.
    pub fn parse(
        event_type: &str,
        occurred_at: DateTime<Utc>,
        properties: &serde_json::Map<String, Value>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let event_type = errors.collect(check_event_type("type", event_type)).unwrap_or_default();
        let encoded = Value::Object(properties.clone()).to_string();
        if properties.len() > EVENT_PROPERTIES_MAX {
            errors.push(FieldError::new(
                "properties",
                "too_many",
                format!("at most {EVENT_PROPERTIES_MAX} properties"),
            ));
        } else if encoded.len() > EVENT_PROPERTIES_JSON_MAX {
            errors.push(FieldError::new(
                "properties",
                "too_long",
                format!("at most {EVENT_PROPERTIES_JSON_MAX} characters as JSON"),
            ));
        }
        errors.into_result(|| NewLeadEvent { event_type, occurred_at, properties: encoded })
    }
}

impl ScoringRule {
    /// Checks the rule as a whole: trimmed name, bounded points, exactly one criterion.
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        self.name = check_name(&mut errors, &self.name);
        if !(-RULE_POINTS_MAX..=RULE_POINTS_MAX).contains(&self.points) {
            errors.push(FieldError::new(
                "points",
                "out_of_range",
                format!("must be between -{RULE_POINTS_MAX} and {RULE_POINTS_MAX}"),
            ));
        }
        match (&self.condition, &self.event) {
            (Some(condition), None) => {
                errors.collect(condition.check("condition"));
            }
            (None, Some(event)) => {
                errors.collect(check_event_type("event.type", &event.event_type));
                if !(1..=100).contains(&event.max_occurrences) {
                    errors.push(FieldError::new("event.max_occurrences", "out_of_range", "must be between 1 and 100"));
                }
                if event.within_days.is_some_and(|d| !(1..=3650).contains(&d)) {
                    errors.push(FieldError::new("event.within_days", "out_of_range", "must be between 1 and 3650"));
                }
            }
            _ => errors.push(FieldError::new(
                "condition",
                "one_criterion",
                "give exactly one of `condition` and `event`",
            )),
        }
        errors.into_result(|| self)
    }
}

/// An engagement event of a lead, as scoring sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadEvent {
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
}

/// How one rule contributed to a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RuleOutcome {
    pub rule_id: String,
    pub name: String,
    pub matched: bool,
    /// Points this rule gave (0 when it did not match).
    pub points: i64,
    /// Why, in words: the condition tested, or the events counted.
    pub reason: String,
}

/// A lead's score, rule by rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ScoreExplanation {
    pub score: i64,
    pub rules: Vec<RuleOutcome>,
}

/// Scores a lead against the active rules (in their order) and explains each rule's part.
pub fn score(
    rules: &[(String, ScoringRule)],
    lead: &LeadData,
    events: &[LeadEvent],
    now: DateTime<Utc>,
) -> ScoreExplanation {
    let mut outcomes = Vec::new();
    for (rule_id, rule) in rules.iter().filter(|(_, r)| r.active) {
        let (matched, points, reason) = match (&rule.condition, &rule.event) {
            (Some(condition), _) => {
                let matched = condition.matches(lead);
                let verdict = if matched { "matched" } else { "did not match" };
                (matched, if matched { rule.points } else { 0 }, format!("{} {verdict}", condition.describe()))
            }
            (None, Some(event)) => {
                let since = event.within_days.map(|d| now - chrono::TimeDelta::days(i64::from(d)));
                let count = events
                    .iter()
                    .filter(|e| e.event_type == event.event_type && since.is_none_or(|s| e.occurred_at >= s))
                    .count();
                let counted = count.min(event.max_occurrences as usize);
                let window = event.within_days.map_or(String::new(), |d| format!(" in the last {d} days"));
                let reason = format!(
                    "{count} {} event(s){window}; counted {counted} (at most {}) × {} points",
                    event.event_type, event.max_occurrences, rule.points
                );
                (counted > 0, rule.points * counted as i64, reason)
            }
            (None, None) => (false, 0, "no criterion".to_owned()),
        };
        outcomes.push(RuleOutcome { rule_id: rule_id.clone(), name: rule.name.clone(), matched, points, reason });
    }
    ScoreExplanation { score: outcomes.iter().map(|o| o.points).sum(), rules: outcomes }
}

/// Who an assignment rule hands leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignTarget {
    /// A user who becomes the owner; give this or `team_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// A team the lead is assigned to; give this or `owner_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// With `team_id`: the owner is picked round-robin among the team's active members.
    #[serde(default)]
    #[schema(default = false)]
    pub round_robin: bool,
}

impl AssignTarget {
    /// Exactly one of owner and team; round-robin only with a team.
    pub fn check(&self, path: &str) -> Result<(), FieldError> {
        match (&self.owner_id, &self.team_id, self.round_robin) {
            (Some(_), None, false) | (None, Some(_), _) => Ok(()),
            (Some(_), None, true) => Err(FieldError::new(
                format!("{path}.round_robin"),
                "invalid_target",
                "round-robin needs a team, not an owner",
            )),
            _ => Err(FieldError::new(path, "invalid_target", "give exactly one of `owner_id` and `team_id`")),
        }
    }
}

/// An admin-defined assignment rule: when every condition holds, assign to the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRule {
    #[schema(example = "DACH leads", max_length = 200)]
    pub name: String,
    /// All must hold; an empty list matches every lead.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub conditions: Vec<LeadCondition>,
    pub assign_to: AssignTarget,
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

impl AssignmentRule {
    /// Checks the rule as a whole.
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        self.name = check_name(&mut errors, &self.name);
        if self.conditions.len() > RULE_CONDITIONS_MAX {
            errors.push(FieldError::new("conditions", "too_many", format!("at most {RULE_CONDITIONS_MAX} conditions")));
        }
        for (index, condition) in self.conditions.iter().enumerate() {
            errors.collect(condition.check(&format!("conditions[{index}]")));
        }
        errors.collect(self.assign_to.check("assign_to"));
        errors.into_result(|| self)
    }

    /// True when the rule is active and every condition holds.
    pub fn applies_to(&self, lead: &LeadData) -> bool {
        self.active && self.conditions.iter().all(|c| c.matches(lead))
    }
}

/// The member whose turn it is: members in a stable order, the rule's counter before this turn.
pub fn round_robin_pick(members: &[String], counter: i64) -> Option<&String> {
    let count = i64::try_from(members.len()).ok().filter(|n| *n > 0)?;
    members.get(usize::try_from(counter.rem_euclid(count)).ok()?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_engagement_event_reports_a_bad_type_and_too_many_properties_at_once() {
        let many: serde_json::Map<String, Value> = (0..21).map(|i| (format!("p{i}"), Value::from(i))).collect();
        let errors = NewLeadEvent::parse("Email Clicked", Utc::now(), &many).err().unwrap_or_default();
        let fields: Vec<_> = errors.errors().iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(fields, [("type", "invalid_event_type"), ("properties", "too_many")]);
        let long: serde_json::Map<String, Value> =
            [("text".to_owned(), Value::from("x".repeat(10_000)))].into_iter().collect();
        let errors = NewLeadEvent::parse("page_visited", Utc::now(), &long).err().unwrap_or_default();
        assert_eq!(errors.errors()[0].code, "too_long");
        let event = NewLeadEvent::parse("page_visited", Utc::now(), &serde_json::Map::new());
        assert_eq!(event.map(|e| e.properties).ok().as_deref(), Some("{}"));
    }

    use super::*;

    fn lead(changes: LeadChanges) -> LeadData {
        LeadData::apply(None, changes).expect("valid lead")
    }

    fn named() -> LeadChanges {
        LeadChanges { last_name: Patch::Set("Lovelace".into()), ..Default::default() }
    }

    #[test]
    fn status_moves_only_along_allowed_transitions() {
        let new = lead(named());
        assert_eq!(new.status, LeadStatus::New);
        let qualified = LeadData::apply(
            Some(&new),
            LeadChanges { status: Patch::Set(LeadStatus::Qualified), ..Default::default() },
        );
        assert_eq!(qualified.map(|l| l.status), Ok(LeadStatus::Qualified));
        let to_converted = LeadData::apply(
            Some(&new),
            LeadChanges { status: Patch::Set(LeadStatus::Converted), ..Default::default() },
        );
        assert_eq!(to_converted.err().map(|e| e.errors()[0].code), Some("use_convert"));
        assert!(!LeadStatus::Qualified.may_move_to(LeadStatus::New));
        assert!(LeadStatus::Unqualified.may_move_to(LeadStatus::New));
        assert!(!LeadStatus::Converted.may_move_to(LeadStatus::Qualified));
    }

    #[test]
    fn a_converted_lead_cannot_be_converted_or_moved_again() {
        let conversion =
            Conversion { contact_id: "c".into(), company_id: None, deal_id: None, converted_at: Utc::now() };
        let converted = lead(named()).converted(conversion.clone()).expect("convertible");
        assert_eq!(converted.clone().converted(conversion).err(), Some(ConvertRefused::AlreadyConverted));
        let moved = LeadData::apply(
            Some(&converted),
            LeadChanges { status: Patch::Set(LeadStatus::Qualified), ..Default::default() },
        );
        assert_eq!(moved.err().map(|e| e.errors()[0].code), Some("illegal_transition"));
    }

    #[test]
    fn a_lead_needs_a_name_an_email_or_a_company() {
        assert!(LeadData::apply(None, LeadChanges::default()).is_err());
        let company = LeadChanges { company_name: Patch::Set("Acme".into()), ..Default::default() };
        assert!(LeadData::apply(None, company).is_ok());
    }

    #[test]
    fn conditions_compare_case_insensitively_and_check_their_shape() {
        let data = lead(LeadChanges {
            industry: Patch::Set("Software".into()),
            email: Patch::Set("ada@Engines.example".into()),
            employee_count: Patch::Set(250),
            ..named()
        });
        let industry = LeadCondition {
            field: LeadField::Industry,
            op: ConditionOp::In,
            value: Some(ConditionValue::List(vec!["software".into(), "saas".into()])),
        };
        assert!(industry.matches(&data));
        let domain = LeadCondition {
            field: LeadField::EmailDomain,
            op: ConditionOp::Eq,
            value: Some(ConditionValue::Text("engines.example".into())),
        };
        assert!(domain.matches(&data));
        let size = LeadCondition {
            field: LeadField::EmployeeCount,
            op: ConditionOp::Gte,
            value: Some(ConditionValue::Number(500)),
        };
        assert!(!size.matches(&data));
        let bad =
            LeadCondition { field: LeadField::Industry, op: ConditionOp::Gte, value: Some(ConditionValue::Number(1)) };
        assert!(bad.check("condition").is_err());
        let no_value = LeadCondition { field: LeadField::Country, op: ConditionOp::Eq, value: None };
        assert!(no_value.check("condition").is_err());
    }

    #[test]
    fn a_score_adds_field_and_capped_event_points_and_explains_each_rule() {
        let data = lead(LeadChanges { industry: Patch::Set("software".into()), ..named() });
        let now = Utc::now();
        let rules = vec![
            (
                "r1".to_owned(),
                ScoringRule {
                    name: "Industry".into(),
                    points: 20,
                    condition: Some(LeadCondition {
                        field: LeadField::Industry,
                        op: ConditionOp::Eq,
                        value: Some(ConditionValue::Text("Software".into())),
                    }),
                    event: None,
                    active: true,
                },
            ),
            (
                "r2".to_owned(),
                ScoringRule {
                    name: "Clicks".into(),
                    points: 5,
                    condition: None,
                    event: Some(EventCriterion {
                        event_type: "email_clicked".into(),
                        max_occurrences: 2,
                        within_days: Some(30),
                    }),
                    active: true,
                },
            ),
        ];
        let click = |days: i64| LeadEvent {
            event_type: "email_clicked".into(),
            occurred_at: now - chrono::TimeDelta::days(days),
        };
        let explained = score(&rules, &data, &[click(1), click(2), click(3), click(40)], now);
        assert_eq!(explained.score, 30);
        assert_eq!(explained.rules[1].points, 10);
        assert!(explained.rules[0].reason.contains("matched"));
    }

    #[test]
    fn rules_are_validated_as_a_whole() {
        let both = ScoringRule { name: " ".into(), points: 5000, condition: None, event: None, active: true };
        let fields: Vec<String> =
            both.validated().err().map(|e| e.errors().iter().map(|f| f.field.clone()).collect()).unwrap_or_default();
        assert_eq!(fields, ["name", "points", "condition"]);
        let target = AssignTarget { owner_id: Some("u".into()), team_id: None, round_robin: true };
        assert!(target.check("assign_to").is_err());
    }

    #[test]
    fn round_robin_cycles_through_members_in_order() {
        let members = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let picks: Vec<&str> = (0..4).filter_map(|n| round_robin_pick(&members, n)).map(String::as_str).collect();
        assert_eq!(picks, ["a", "b", "c", "a"]);
        assert_eq!(round_robin_pick(&[], 3), None);
    }
}
