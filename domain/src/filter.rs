//! One filter language for every record type: AND/OR groups of `field op value`
//! conditions over standard fields, custom fields and related data.
//!
//! A filter is parsed here against the record type's [`Catalogue`] (so an unknown field or an
//! operator that does not fit the field's type is refused with the path of the offending
//! node), then either compiled to SQL by `persistence` or evaluated in memory against one
//! record with [`Filter::matches`]. Segments, workflow conditions and report filters take the
//! same tree.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;

use crate::activity::RecordType;
use crate::custom::{CustomFieldDefinition, CustomFieldType};
use crate::fields::{FieldSpec, FilterKind, Filterable};
use crate::registry::linked;
use crate::validation::FieldError;

/// Deepest nesting of groups (the top-level group counts as one).
pub const MAX_DEPTH: usize = 5;
/// Most conditions one filter may hold.
pub const MAX_CONDITIONS: usize = 50;
/// Most values an `in` list may hold.
pub const MAX_IN_VALUES: usize = 100;
/// Longest text operand.
pub const MAX_TEXT_OPERAND: usize = 200;
/// Largest `last_n_days` / `next_n_days`.
pub const MAX_RELATIVE_DAYS: i64 = 3_650;

/// The shape of a field's values, which decides the operators it takes.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text,
    Number,
    Date,
    DateTime,
    Bool,
    /// One of fixed options.
    Choice(Vec<String>),
    /// A list of values (tags, a multi-select dropdown).
    Multi,
    /// A record id.
    Id,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A standard field of the record type, by its API name.
    Standard(&'static str),
    /// A custom field's value (money compares by `amount_minor`, a location by its address).
    Custom { key: String, field_type: CustomFieldType },
    /// A field of the record's company (`company.industry`).
    Company(Box<Field>),
    /// Whether a deal in an open stage names the record.
    HasOpenDeal,
    /// The times of the record's activities of one type (`activity.call`): a condition holds
    /// when some such activity's time satisfies it.
    Activity(&'static str),
}

/// A field a filter or sort can name.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The name as the API spells it: `last_name`, `custom_fields.budget`, `company.industry`.
    pub name: String,
    pub kind: FieldKind,
    pub sortable: bool,
    pub target: Target,
}

/// The operators of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Neq,
    In,
    Contains,
    StartsWith,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    IsEmpty,
    IsNotEmpty,
}

pub(crate) const OPERATOR_NAMES: [(&str, Option<Operator>); 14] = [
    ("eq", Some(Operator::Eq)),
    ("neq", Some(Operator::Neq)),
    ("in", Some(Operator::In)),
    ("contains", Some(Operator::Contains)),
    ("starts_with", Some(Operator::StartsWith)),
    ("gt", Some(Operator::Gt)),
    ("gte", Some(Operator::Gte)),
    ("lt", Some(Operator::Lt)),
    ("lte", Some(Operator::Lte)),
    ("between", Some(Operator::Between)),
    ("is_empty", Some(Operator::IsEmpty)),
    ("is_not_empty", Some(Operator::IsNotEmpty)),
    // Relative dates become `between` with the request's clock.
    ("last_n_days", None),
    ("next_n_days", None),
];

/// A typed operand value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
    Date(NaiveDate),
    Time(DateTime<Utc>),
    Bool(bool),
}

/// What an operator compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    None,
    One(Scalar),
    Many(Vec<Scalar>),
    Range(Scalar, Scalar),
}

/// One `field op value` test.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub operator: Operator,
    pub operand: Operand,
}

/// A parsed, validated filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every part holds (an empty `and` holds for every record).
    And(Vec<Filter>),
    /// Some part holds.
    Or(Vec<Filter>),
    Condition(Condition),
}

use FieldKind as K;

const ACTIVITY_TYPES: [&str; 6] = ["email", "call", "meeting", "chat", "social", "note"];

/// The fields of one record type a filter can name: its standard fields (see
/// [`Catalogue::standard_field_names`]), its custom fields as `custom_fields.<key>`, and
/// related data: `company.<field>` (contacts and deals), `has_open_deal` (contacts and
/// companies) and `activity.<type>` (every type).
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub record_type: RecordType,
    /// The record type's custom field definitions.
    pub custom: Vec<CustomFieldDefinition>,
    /// The companies' custom field definitions, for `company.custom_fields.<key>`.
    pub company_custom: Vec<CustomFieldDefinition>,
}

fn standard(spec: &'static FieldSpec, use_: Filterable) -> Field {
    let kind = match use_.kind {
        FilterKind::Text => K::Text,
        FilterKind::Number => K::Number,
        FilterKind::Date => K::Date,
        FilterKind::DateTime => K::DateTime,
        FilterKind::Bool => K::Bool,
        FilterKind::Multi => K::Multi,
        FilterKind::Id => K::Id,
        FilterKind::Choice(options) => K::Choice(options.iter().map(|o| (*o).to_owned()).collect()),
    };
    Field { name: spec.name.to_owned(), kind, sortable: use_.sortable, target: Target::Standard(spec.name) }
}

fn custom_kind(definition: &CustomFieldDefinition) -> FieldKind {
    match definition.field_type {
        CustomFieldType::Number | CustomFieldType::Money => K::Number,
        CustomFieldType::Date => K::Date,
        CustomFieldType::Datetime => K::DateTime,
        CustomFieldType::Checkbox => K::Bool,
        CustomFieldType::Dropdown => K::Choice(definition.options.clone()),
        CustomFieldType::MultiDropdown => K::Multi,
        _ => K::Text,
    }
}

impl Catalogue {
    /// The record type's standard field names, in catalogue order.
    pub fn standard_field_names(record_type: RecordType) -> Vec<&'static str> {
        linked(record_type).fields.iter().filter(|f| f.filter.is_some()).map(|f| f.name).collect()
    }

    fn standard(&self, name: &str) -> Option<Field> {
        let spec = linked(self.record_type).field(name)?;
        spec.filter.map(|use_| standard(spec, use_))
    }

    /// The field a name refers to, if this record type has it.
    pub fn field(&self, name: &str) -> Option<Field> {
        if let Some(key) = name.strip_prefix("custom_fields.") {
            return self.custom.iter().find(|d| d.key == key).map(|d| Field {
                name: name.to_owned(),
                kind: custom_kind(d),
                sortable: !matches!(d.field_type, CustomFieldType::MultiDropdown | CustomFieldType::Location),
                target: Target::Custom { key: d.key.clone(), field_type: d.field_type },
            });
        }
        if let Some(rest) = name.strip_prefix("company.") {
            if !matches!(self.record_type, RecordType::Contact | RecordType::Deal | RecordType::Ticket) {
                return None;
            }
            let company = Catalogue {
                record_type: RecordType::Company,
                custom: self.company_custom.clone(),
                company_custom: vec![],
            };
            let inner =
                company.field(rest).filter(|f| !matches!(f.target, Target::Activity(_) | Target::HasOpenDeal))?;
            return Some(Field {
                name: name.to_owned(),
                kind: inner.kind.clone(),
                sortable: false,
                target: Target::Company(Box::new(inner)),
            });
        }
        if let Some(kind) = name.strip_prefix("activity.") {
            return ACTIVITY_TYPES.iter().find(|t| **t == kind).map(|t| Field {
                name: name.to_owned(),
                kind: K::DateTime,
                sortable: false,
                target: Target::Activity(t),
            });
        }
        if name == "has_open_deal" && matches!(self.record_type, RecordType::Contact | RecordType::Company) {
            return Some(Field { name: name.to_owned(), kind: K::Bool, sortable: false, target: Target::HasOpenDeal });
        }
        self.standard(name)
    }

    /// Every field name this record type takes, for error messages and documentation.
    pub fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            Self::standard_field_names(self.record_type).into_iter().map(str::to_owned).collect();
        names.extend(self.custom.iter().map(|d| format!("custom_fields.{}", d.key)));
        if matches!(self.record_type, RecordType::Contact | RecordType::Company) {
            names.push("has_open_deal".into());
        }
        if matches!(self.record_type, RecordType::Contact | RecordType::Deal | RecordType::Ticket) {
            names.push("company.<field>".into());
        }
        names.push("activity.<email|call|meeting|chat|social|note>".into());
        names
    }
}

fn operators_for(kind: &FieldKind) -> &'static [&'static str] {
    match kind {
        K::Text => &["eq", "neq", "in", "contains", "starts_with", "is_empty", "is_not_empty"],
        K::Number => &["eq", "neq", "in", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty"],
        K::Date | K::DateTime => {
            &["eq", "gt", "gte", "lt", "lte", "between", "is_empty", "is_not_empty", "last_n_days", "next_n_days"]
        }
        K::Bool => &["eq", "is_empty", "is_not_empty"],
        K::Choice(_) | K::Id => &["eq", "neq", "in", "is_empty", "is_not_empty"],
        K::Multi => &["contains", "in", "is_empty", "is_not_empty"],
    }
}

fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        K::Text => "text",
        K::Number => "number",
        K::Date => "date",
        K::DateTime => "datetime",
        K::Bool => "boolean",
        K::Choice(_) => "choice",
        K::Multi => "list",
        K::Id => "id",
    }
}

struct Parser<'a> {
    catalogue: &'a Catalogue,
    now: DateTime<Utc>,
    conditions: usize,
}

impl Filter {
    /// Parses a filter's JSON against a catalogue. `now` resolves relative dates. Errors
    /// name the offending node by its path (`filter.and[1].op`).
    pub fn parse(raw: &Value, catalogue: &Catalogue, now: DateTime<Utc>) -> Result<Filter, FieldError> {
        Parser { catalogue, now, conditions: 0 }.node(raw, "filter", 1)
    }

    /// The first field it names that only SQL can evaluate (a related record's: `company.*`,
    /// `activity.*`, `has_open_deal`), for callers that evaluate filters in memory.
    pub fn related_field(&self) -> Option<&str> {
        match self {
            Filter::And(parts) | Filter::Or(parts) => parts.iter().find_map(Filter::related_field),
            Filter::Condition(condition) => match condition.field.target {
                Target::Company(_) | Target::HasOpenDeal | Target::Activity(_) => Some(&condition.field.name),
                Target::Standard(_) | Target::Custom { .. } => None,
            },
        }
    }

    /// A filter that holds for every record.
    pub fn everything() -> Filter {
        Filter::And(Vec::new())
    }

    /// Evaluates the filter against one record in memory, with the same meaning as the SQL
    /// the storage layer compiles it to.
    pub fn matches(&self, record: &impl FieldValues) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|p| p.matches(record)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(record)),
            Filter::Condition(condition) => condition.matches(record),
        }
    }
}

impl Parser<'_> {
    fn node(&mut self, raw: &Value, path: &str, depth: usize) -> Result<Filter, FieldError> {
        let Value::Object(map) = raw else {
            return Err(FieldError::new(
                path,
                "invalid_filter",
                "must be an object: a group {\"and\": [...]} / {\"or\": [...]} or a condition {\"field\", \"op\", \"value\"}",
            ));
        };
        for group in ["and", "or"] {
            let Some(parts) = map.get(group) else { continue };
            if map.len() != 1 {
                return Err(FieldError::new(path, "invalid_filter", format!("a group holds only `{group}`")));
            }
            if depth > MAX_DEPTH {
                return Err(FieldError::new(path, "too_deep", format!("groups nest at most {MAX_DEPTH} deep")));
            }
            let Value::Array(parts) = parts else {
                return Err(FieldError::new(format!("{path}.{group}"), "invalid_filter", "must be an array"));
            };
            let parsed = parts
                .iter()
                .enumerate()
                .map(|(i, part)| self.node(part, &format!("{path}.{group}[{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(if group == "and" { Filter::And(parsed) } else { Filter::Or(parsed) });
        }
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(FieldError::new(path, "too_many_conditions", format!("at most {MAX_CONDITIONS} conditions")));
        }
        if let Some(unknown) = map.keys().find(|k| !matches!(k.as_str(), "field" | "op" | "value")) {
            return Err(FieldError::new(
                format!("{path}.{unknown}"),
                "unknown_field",
                "a condition has only field, op and value",
            ));
        }
        let name = map
            .get("field")
            .and_then(Value::as_str)
            .ok_or_else(|| FieldError::new(format!("{path}.field"), "required", "a condition needs a field name"))?;
        let field = self.catalogue.field(name).ok_or_else(|| {
            FieldError::new(
                format!("{path}.field"),
                "unknown_field",
                format!(
                    "`{name}` is not a field of {}; use one of: {}",
                    crate::registry::linked(self.catalogue.record_type).collection,
                    self.catalogue.field_names().join(", ")
                ),
            )
        })?;
        let op_name = map
            .get("op")
            .and_then(Value::as_str)
            .ok_or_else(|| FieldError::new(format!("{path}.op"), "required", "a condition needs an operator"))?;
        let allowed = operators_for(&field.kind);
        if !allowed.contains(&op_name) {
            let known = OPERATOR_NAMES.iter().any(|(n, _)| *n == op_name);
            let why = if known { "does not fit" } else { "is not an operator, and does not fit" };
            return Err(FieldError::new(
                format!("{path}.op"),
                "operator_not_allowed",
                format!(
                    "`{op_name}` {why} the {} field `{name}`; use one of: {}",
                    kind_name(&field.kind),
                    allowed.join(", ")
                ),
            ));
        }
        let value = map.get("value").unwrap_or(&Value::Null);
        let value_path = format!("{path}.value");
        let (operator, operand) = self.operand(&field, op_name, value, &value_path)?;
        Ok(Filter::Condition(Condition { field, operator, operand }))
    }

    fn operand(&self, field: &Field, op: &str, value: &Value, path: &str) -> Result<(Operator, Operand), FieldError> {
        let operator = OPERATOR_NAMES.iter().find(|(n, _)| *n == op).and_then(|(_, o)| *o);
        match (op, operator) {
            ("is_empty" | "is_not_empty", Some(operator)) => {
                if !value.is_null() {
                    return Err(FieldError::new(path, "not_applicable", format!("`{op}` takes no value")));
                }
                Ok((operator, Operand::None))
            }
            ("last_n_days" | "next_n_days", _) => {
                let days = value.as_i64().filter(|d| (1..=MAX_RELATIVE_DAYS).contains(d)).ok_or_else(|| {
                    FieldError::new(
                        path,
                        "out_of_range",
                        format!("must be a whole number of days from 1 to {MAX_RELATIVE_DAYS}"),
                    )
                })?;
                let (from, to) = if op == "last_n_days" {
                    (self.now - Duration::days(days), self.now)
                } else {
                    (self.now, self.now + Duration::days(days))
                };
                let (from, to) = match field.kind {
                    K::Date => (Scalar::Date(from.date_naive()), Scalar::Date(to.date_naive())),
                    _ => (Scalar::Time(from), Scalar::Time(to)),
                };
                Ok((Operator::Between, Operand::Range(from, to)))
            }
            ("in", Some(operator)) => {
                let Value::Array(items) = value else {
                    return Err(FieldError::new(path, "wrong_type", "must be an array of values"));
                };
                if items.is_empty() || items.len() > MAX_IN_VALUES {
                    return Err(FieldError::new(
                        path,
                        "out_of_range",
                        format!("must hold 1 to {MAX_IN_VALUES} values"),
                    ));
                }
                let scalars = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| scalar(field, item, &format!("{path}[{i}]"), op))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((operator, Operand::Many(scalars)))
            }
            ("between", Some(operator)) => match value {
                Value::Array(pair) if pair.len() == 2 => {
                    let from = scalar(field, &pair[0], &format!("{path}[0]"), op)?;
                    let to = scalar(field, &pair[1], &format!("{path}[1]"), op)?;
                    Ok((operator, Operand::Range(from, to)))
                }
                _ => Err(FieldError::new(path, "wrong_type", "must be an array [from, to]")),
            },
            (_, Some(operator)) => Ok((operator, Operand::One(scalar(field, value, path, op)?))),
            (_, None) => Err(FieldError::new(path, "operator_not_allowed", format!("unknown operator `{op}`"))),
        }
    }
}

fn scalar(field: &Field, value: &Value, path: &str, op: &str) -> Result<Scalar, FieldError> {
    let wrong = |expected: &str| FieldError::new(path, "wrong_type", format!("`{}` takes {expected}", field.name));
    match (&field.kind, value) {
        (K::Number, Value::Number(n)) => {
            n.as_f64().filter(|f| f.is_finite()).map(Scalar::Number).ok_or_else(|| wrong("a number"))
        }
        (K::Number, _) => Err(wrong("a number")),
        (K::Bool, Value::Bool(b)) => Ok(Scalar::Bool(*b)),
        (K::Bool, _) => Err(wrong("true or false")),
        (K::Date, Value::String(s)) => {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map(Scalar::Date).map_err(|_| wrong("a date such as 2026-11-23"))
        }
        (K::Date, _) => Err(wrong("a date such as 2026-11-23")),
        (K::DateTime, Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Scalar::Time(t.with_timezone(&Utc)))
            .or_else(|_| {
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|d| Scalar::Time(d.and_time(chrono::NaiveTime::MIN).and_utc()))
            })
            .map_err(|_| wrong("an RFC 3339 time or a date")),
        (K::DateTime, _) => Err(wrong("an RFC 3339 time or a date")),
        (K::Choice(options), Value::String(s)) => {
            let choice = options.iter().find(|o| o.eq_ignore_ascii_case(s.trim()));
            choice.map(|o| Scalar::Text(o.clone())).ok_or_else(|| {
                FieldError::new(path, "not_an_option", format!("`{}` takes one of: {}", field.name, options.join(", ")))
            })
        }
        (K::Choice(_), _) => Err(wrong("text")),
        (K::Text | K::Multi | K::Id, Value::String(s)) => {
            if s.chars().count() > MAX_TEXT_OPERAND {
                return Err(FieldError::new(
                    path,
                    "too_long",
                    format!("must be at most {MAX_TEXT_OPERAND} characters"),
                ));
            }
            if s.chars().any(char::is_control) {
                return Err(FieldError::new(path, "invalid_characters", "must not contain control characters"));
            }
            if s.is_empty() && matches!(op, "contains" | "starts_with") {
                return Err(FieldError::new(path, "required", format!("`{op}` needs some text")));
            }
            Ok(Scalar::Text(if matches!(field.kind, K::Text) { s.to_lowercase() } else { s.clone() }))
        }
        (K::Text | K::Multi | K::Id, _) => Err(wrong("text")),
    }
}

/// Record data a filter can be evaluated against in memory. Values are JSON: text as
/// strings, numbers, booleans, lists as arrays, dates as `YYYY-MM-DD` and times as RFC 3339.
/// Related data (`company.*`, `has_open_deal`, `activity.*`) is `None` unless the
/// implementation loaded it; a missing value is empty.
pub trait FieldValues {
    /// The value of one field.
    fn value(&self, target: &Target) -> Option<Value>;
}

fn as_scalar(kind: &FieldKind, value: &Value) -> Option<Scalar> {
    match (kind, value) {
        (K::Number, Value::Number(n)) => n.as_f64().map(Scalar::Number),
        (K::Number, Value::Object(money)) => money.get("amount_minor").and_then(Value::as_f64).map(Scalar::Number),
        (K::Bool, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        (K::Date, Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Scalar::Date),
        (K::DateTime, Value::String(s)) => {
            DateTime::parse_from_rfc3339(s).ok().map(|t| Scalar::Time(t.with_timezone(&Utc)))
        }
        (K::Text, Value::String(s)) => Some(Scalar::Text(s.to_lowercase())),
        (K::Text, Value::Object(location)) => {
            location.get("address").and_then(Value::as_str).map(|a| Scalar::Text(a.to_lowercase()))
        }
        (_, Value::String(s)) => Some(Scalar::Text(s.clone())),
        _ => None,
    }
}

fn compare(left: &Scalar, right: &Scalar) -> Option<std::cmp::Ordering> {
    match (left, right) {
        (Scalar::Text(a), Scalar::Text(b)) => Some(a.cmp(b)),
        (Scalar::Number(a), Scalar::Number(b)) => a.partial_cmp(b),
        (Scalar::Date(a), Scalar::Date(b)) => Some(a.cmp(b)),
        (Scalar::Time(a), Scalar::Time(b)) => Some(a.cmp(b)),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

impl Condition {
    fn matches(&self, record: &impl FieldValues) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let raw = record.value(&self.field.target).filter(|v| !is_empty_value(v));
        if let K::Multi = self.field.kind {
            let items: Vec<String> = match &raw {
                Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            };
            return match (&self.operator, &self.operand) {
                (Operator::IsEmpty, _) => items.is_empty(),
                (Operator::IsNotEmpty, _) => !items.is_empty(),
                (Operator::Contains, Operand::One(Scalar::Text(wanted))) => items.contains(wanted),
                (Operator::In, Operand::Many(wanted)) => {
                    wanted.iter().any(|w| matches!(w, Scalar::Text(w) if items.contains(w)))
                }
                _ => false,
            };
        }
        let value = raw.as_ref().and_then(|v| as_scalar(&self.field.kind, v));
        let ordering = |other: &Scalar| value.as_ref().and_then(|v| compare(v, other));
        match (&self.operator, &self.operand) {
            (Operator::IsEmpty, _) => value.is_none(),
            (Operator::IsNotEmpty, _) => value.is_some(),
            (Operator::Eq, Operand::One(other)) => self.equal(value.as_ref(), other),
            (Operator::Neq, Operand::One(other)) => !self.equal(value.as_ref(), other),
            (Operator::In, Operand::Many(others)) => others.iter().any(|o| self.equal(value.as_ref(), o)),
            (Operator::Contains, Operand::One(Scalar::Text(part))) => {
                matches!(&value, Some(Scalar::Text(text)) if text.contains(part.as_str()))
            }
            (Operator::StartsWith, Operand::One(Scalar::Text(part))) => {
                matches!(&value, Some(Scalar::Text(text)) if text.starts_with(part.as_str()))
            }
            (Operator::Gt, Operand::One(other)) => ordering(other) == Some(Greater),
            (Operator::Gte, Operand::One(other)) => matches!(ordering(other), Some(Greater | Equal)),
            (Operator::Lt, Operand::One(other)) => ordering(other) == Some(Less),
            (Operator::Lte, Operand::One(other)) => matches!(ordering(other), Some(Less | Equal)),
            (Operator::Between, Operand::Range(from, to)) => {
                matches!(ordering(from), Some(Greater | Equal)) && matches!(ordering(to), Some(Less | Equal))
            }
            _ => false,
        }
    }

    /// Equality as SQL compiles it: a date-time `eq` a date means "on that UTC day".
    fn equal(&self, value: Option<&Scalar>, other: &Scalar) -> bool {
        match (value, other) {
            (Some(Scalar::Time(t)), Scalar::Time(o)) if matches!(self.field.kind, K::DateTime) => {
                t.date_naive() == o.date_naive()
            }
            (Some(v), o) => compare(v, o) == Some(std::cmp::Ordering::Equal),
            (None, _) => false,
        }
    }
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

pub use crate::fields::time_text;

/// Sort of a search: one sortable field, ties broken by id in the same direction.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchSort {
    pub field: Field,
    pub descending: bool,
}

impl SearchSort {
    /// Parses `name` or `-name` against the catalogue; none gives `-created_at`.
    pub fn parse(raw: Option<&str>, catalogue: &Catalogue) -> Result<SearchSort, FieldError> {
        let raw = raw.map(str::trim).filter(|r| !r.is_empty()).unwrap_or("-created_at");
        let (descending, name) = raw.strip_prefix('-').map_or((false, raw), |n| (true, n));
        match catalogue.field(name) {
            Some(field) if field.sortable => Ok(SearchSort { field, descending }),
            Some(_) => Err(FieldError::new("sort", "not_sortable", format!("`{name}` cannot be sorted on"))),
            None if name.contains(',') => {
                Err(FieldError::new("sort", "too_many_sort_fields", "a search sorts on one field (ties by id)"))
            }
            None => Err(FieldError::new(
                "sort",
                "unknown_sort_field",
                format!("`{name}` is not a field of {}", crate::registry::linked(catalogue.record_type).collection),
            )),
        }
    }

    /// The sort value of a record, as the cursor carries it (JSON null when empty).
    pub fn value_of(&self, record: &impl FieldValues) -> Value {
        record.value(&self.field.target).filter(|v| !is_empty_value(v)).map_or(Value::Null, |v| {
            match (&self.field.kind, v) {
                (K::Number, Value::Object(money)) => money.get("amount_minor").cloned().unwrap_or(Value::Null),
                (_, other) => other,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Record(serde_json::Map<String, Value>);

    impl FieldValues for Record {
        fn value(&self, target: &Target) -> Option<Value> {
            match target {
                Target::Standard(name) => self.0.get(*name).cloned(),
                Target::Custom { key, .. } => self.0.get(&format!("custom_fields.{key}")).cloned(),
                _ => None,
            }
        }
    }

    fn catalogue() -> Catalogue {
        let budget = CustomFieldDefinition {
            record_type: RecordType::Contact,
            key: "budget".into(),
            label: "Budget".into(),
            field_type: CustomFieldType::Number,
            required: false,
            default: None,
            help_text: None,
            position: 0,
            options: vec![],
            active: true,
        };
        Catalogue { record_type: RecordType::Contact, custom: vec![budget], company_custom: vec![] }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    fn parse(raw: Value) -> Result<Filter, FieldError> {
        Filter::parse(&raw, &catalogue(), now())
    }

    fn record(raw: Value) -> Record {
        Record(raw.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn a_filter_names_the_related_fields_memory_cannot_evaluate() {
        let own = parse(json!({"and": [{"field": "last_name", "op": "eq", "value": "x"}]})).expect("a filter");
        assert_eq!(own.related_field(), None);
        let related = parse(json!({"or": [
            {"field": "last_name", "op": "eq", "value": "x"},
            {"field": "company.name", "op": "eq", "value": "Globex"}
        ]}))
        .expect("a filter");
        assert_eq!(related.related_field(), Some("company.name"));
    }

    #[test]
    fn groups_and_conditions_evaluate_in_memory() {
        let filter = parse(json!({"and": [
            {"field": "lifecycle_stage", "op": "in", "value": ["retention", "Loyalty"]},
            {"or": [
                {"field": "custom_fields.budget", "op": "gte", "value": 1000},
                {"field": "last_name", "op": "starts_with", "value": "LOV"}
            ]}
        ]}));
        let filter = filter.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(filter.matches(&record(json!({"lifecycle_stage": "loyalty", "custom_fields.budget": 5000}))));
        assert!(filter.matches(&record(json!({"lifecycle_stage": "retention", "last_name": "Lovelace"}))));
        assert!(!filter.matches(&record(json!({"lifecycle_stage": "awareness", "custom_fields.budget": 5000}))));
        assert!(!filter.matches(&record(json!({"lifecycle_stage": "loyalty", "custom_fields.budget": 10}))));
    }

    #[test]
    fn not_equal_and_empty_treat_a_missing_value_as_empty() {
        let neq = parse(json!({"field": "job_title", "op": "neq", "value": "CTO"})).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(neq.matches(&record(json!({}))));
        assert!(!neq.matches(&record(json!({"job_title": "cto"}))));
        let empty = parse(json!({"field": "tags", "op": "is_empty"})).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(empty.matches(&record(json!({"tags": []}))));
        assert!(!empty.matches(&record(json!({"tags": ["vip"]}))));
    }

    #[test]
    fn relative_dates_resolve_against_the_given_clock() {
        let recent =
            parse(json!({"field": "created_at", "op": "last_n_days", "value": 7})).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(recent.matches(&record(json!({"created_at": "2026-11-20T08:00:00Z"}))));
        assert!(!recent.matches(&record(json!({"created_at": "2026-11-01T08:00:00Z"}))));
    }

    #[test]
    fn mistakes_are_refused_with_their_path() {
        let cases = [
            (json!({"field": "shoe_size", "op": "eq", "value": 1}), "filter.field", "unknown_field"),
            (
                json!({"and": [{"field": "first_name", "op": "gt", "value": "a"}]}),
                "filter.and[0].op",
                "operator_not_allowed",
            ),
            (json!({"field": "custom_fields.budget", "op": "eq", "value": "lots"}), "filter.value", "wrong_type"),
            (json!({"field": "lifecycle_stage", "op": "eq", "value": "gone"}), "filter.value", "not_an_option"),
            (json!({"field": "created_at", "op": "between", "value": ["2026-01-01"]}), "filter.value", "wrong_type"),
            (json!({"or": {"field": "email"}}), "filter.or", "invalid_filter"),
            (json!([1]), "filter", "invalid_filter"),
            (json!({"field": "email", "op": "is_empty", "value": "x"}), "filter.value", "not_applicable"),
        ];
        for (raw, path, code) in cases {
            let error = parse(raw.clone()).err().map(|e| (e.field, e.code));
            assert_eq!(error, Some((path.to_owned(), code)), "{raw}");
        }
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let mut deep = json!({"field": "email", "op": "is_empty"});
        for _ in 0..MAX_DEPTH {
            deep = json!({"and": [deep]});
        }
        assert!(parse(deep.clone()).is_ok());
        assert_eq!(parse(json!({"or": [deep]})).err().map(|e| e.code), Some("too_deep"));
        let many: Vec<Value> = (0..=MAX_CONDITIONS).map(|_| json!({"field": "email", "op": "is_empty"})).collect();
        assert_eq!(parse(json!({"and": many})).err().map(|e| e.code), Some("too_many_conditions"));
    }

    #[test]
    fn related_fields_exist_only_where_they_mean_something() {
        let contacts = catalogue();
        assert!(matches!(contacts.field("company.industry").map(|f| f.target), Some(Target::Company(_))));
        assert!(contacts.field("activity.call").is_some());
        let leads = Catalogue { record_type: RecordType::Lead, custom: vec![], company_custom: vec![] };
        assert!(leads.field("company.industry").is_none());
        assert!(leads.field("has_open_deal").is_none());
    }

    #[test]
    fn sort_takes_one_sortable_field() {
        let contacts = catalogue();
        let sort = SearchSort::parse(Some("-custom_fields.budget"), &contacts).ok();
        assert_eq!(sort.map(|s| (s.field.name, s.descending)), Some(("custom_fields.budget".to_owned(), true)));
        assert_eq!(SearchSort::parse(Some("tags"), &contacts).err().map(|e| e.code), Some("not_sortable"));
        assert_eq!(
            SearchSort::parse(Some("name,email"), &contacts).err().map(|e| e.code),
            Some("too_many_sort_fields")
        );
    }
}
