//! Custom fields: typed fields an admin adds to a record type at run time, and the rules
//! their values follow on every write.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::activity::RecordType;
use crate::record::Patch;
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{Currency, EmailAddress, PhoneNumber, SHORT_TEXT_MAX, optional_text, required_text};

/// Most custom fields one record type may have.
pub const FIELDS_PER_TYPE_MAX: usize = 100;
/// Most options of a dropdown.
pub const OPTIONS_MAX: usize = 200;
/// Longest text value a custom text field holds.
pub const TEXT_VALUE_MAX: usize = 2_000;
/// Longest help text.
pub const HELP_TEXT_MAX: usize = 1_000;
/// Longest field key.
pub const KEY_MAX: usize = 40;

/// The type of a custom field's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomFieldType {
    Text,
    Number,
    /// `{"amount_minor": 125000, "currency": "EUR"}`.
    Money,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339, stored in UTC with milliseconds.
    Datetime,
    Checkbox,
    /// One of the options.
    Dropdown,
    /// A list of distinct options.
    MultiDropdown,
    Email,
    /// Stored in E.164.
    Phone,
    /// An `http` or `https` URL.
    Url,
    /// `{"address": "…", "latitude": 52.5, "longitude": 13.4}`; an address, coordinates or both.
    Location,
}

impl CustomFieldType {
    /// True for the types whose values are chosen from options.
    pub fn has_options(self) -> bool {
        matches!(self, CustomFieldType::Dropdown | CustomFieldType::MultiDropdown)
    }

    /// The type as stored and as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomFieldType::Text => "text",
            CustomFieldType::Number => "number",
            CustomFieldType::Money => "money",
            CustomFieldType::Date => "date",
            CustomFieldType::Datetime => "datetime",
            CustomFieldType::Checkbox => "checkbox",
            CustomFieldType::Dropdown => "dropdown",
            CustomFieldType::MultiDropdown => "multi_dropdown",
            CustomFieldType::Email => "email",
            CustomFieldType::Phone => "phone",
            CustomFieldType::Url => "url",
            CustomFieldType::Location => "location",
        }
    }
}

/// An admin's definition of one custom field.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFieldDefinition {
    pub record_type: RecordType,
    /// The key values are stored under: `^[a-z][a-z0-9_]*$`, at most [`KEY_MAX`] characters.
    pub key: String,
    pub label: String,
    pub field_type: CustomFieldType,
    /// A new record must have a value (or gets the default); no write may clear it.
    pub required: bool,
    /// Given to new records that name no value.
    pub default: Option<Value>,
    pub help_text: Option<String>,
    pub position: i32,
    /// The choices of a dropdown; empty for other types.
    pub options: Vec<String>,
    /// An inactive field keeps its values but takes no new ones.
    pub active: bool,
}

/// A create or change of a definition, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct DefinitionChanges {
    pub record_type: Option<RecordType>,
    pub key: Option<String>,
    pub label: Option<String>,
    pub field_type: Option<CustomFieldType>,
    pub required: Option<bool>,
    pub default: Patch<Value>,
    pub help_text: Patch<String>,
    pub position: Option<i32>,
    pub options: Option<Vec<String>>,
    pub active: Option<bool>,
}

fn key_is_valid(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some('a'..='z'))
        && key.len() <= KEY_MAX
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

fn parse_options(errors: &mut ValidationErrors, raw: Vec<String>) -> Vec<String> {
    if raw.len() > OPTIONS_MAX {
        errors.push(FieldError::new("options", "too_many", format!("at most {OPTIONS_MAX} options")));
        return Vec::new();
    }
    let mut options: Vec<String> = Vec::with_capacity(raw.len());
    for (index, option) in raw.iter().enumerate() {
        let field = format!("options[{index}]");
        let Some(option) = errors.collect(required_text(&field, option, SHORT_TEXT_MAX)) else { continue };
        if options.iter().any(|known| known.eq_ignore_ascii_case(&option)) {
            errors.push(FieldError::new(field, "duplicate", format!("`{option}` is listed twice")));
        } else {
            options.push(option);
        }
    }
    options
}

impl CustomFieldDefinition {
    /// A new definition (`current` is `None`) or a changed one. The record type and key are
    /// fixed once created; a type or option change is checked against stored values elsewhere
    /// (see [`convert_value`]).
    pub fn apply(current: Option<&Self>, changes: DefinitionChanges) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Some(current) = current {
            if changes.record_type.is_some_and(|t| t != current.record_type) {
                errors.push(FieldError::new("record_type", "immutable", "cannot change; define a new field"));
            }
            if changes.key.as_deref().is_some_and(|k| k != current.key) {
                errors.push(FieldError::new("key", "immutable", "cannot change; values are stored under it"));
            }
        }
        let record_type = changes.record_type.or(current.map(|c| c.record_type));
        if record_type.is_none() {
            errors.push(FieldError::new("record_type", "required", "is required"));
        }
        let key = changes.key.or(current.map(|c| c.key.clone())).unwrap_or_default();
        if !key_is_valid(&key) {
            errors.push(FieldError::new(
                "key",
                "invalid_format",
                format!("must start with a-z, hold only a-z, 0-9 and _, and have at most {KEY_MAX} characters"),
            ));
        }
        let label = match changes.label {
            Some(raw) => errors.collect(required_text("label", &raw, SHORT_TEXT_MAX)),
            None => current.map(|c| c.label.clone()),
        };
        if label.is_none() && current.is_none() && errors.errors().iter().all(|e| e.field != "label") {
            errors.push(FieldError::new("label", "required", "is required"));
        }
        let field_type = changes.field_type.or(current.map(|c| c.field_type));
        if field_type.is_none() {
            errors.push(FieldError::new("field_type", "required", "is required"));
        }
        let options = match changes.options {
            Some(raw) => parse_options(&mut errors, raw),
            None => current.map(|c| c.options.clone()).unwrap_or_default(),
        };
        let help_text = match changes.help_text {
            Patch::Keep => current.and_then(|c| c.help_text.clone()),
            Patch::Clear => None,
            Patch::Set(raw) => errors.collect(optional_text("help_text", &raw, HELP_TEXT_MAX)).flatten(),
        };
        let (Some(record_type), Some(label), Some(field_type)) = (record_type, label, field_type) else {
            return Err(errors);
        };
        match (field_type.has_options(), options.is_empty()) {
            (true, true) => errors.push(FieldError::new("options", "required", "a dropdown needs at least one option")),
            (false, false) => errors.push(FieldError::new("options", "not_applicable", "only dropdowns have options")),
            _ => {}
        }
        let mut definition = CustomFieldDefinition {
            record_type,
            key,
            label,
            field_type,
            required: changes.required.or(current.map(|c| c.required)).unwrap_or(false),
            default: None,
            help_text,
            position: changes.position.or(current.map(|c| c.position)).unwrap_or(0),
            options,
            active: changes.active.or(current.map(|c| c.active)).unwrap_or(true),
        };
        let default = changes.default.resolve(current.and_then(|c| c.default.clone()));
        definition.default = match default {
            None | Some(Value::Null) => None,
            Some(raw) => match definition.check(raw) {
                Ok(value) => value,
                Err(error) => {
                    errors.push(FieldError { field: "default".into(), ..error });
                    None
                }
            },
        };
        errors.into_result(|| definition)
    }

    fn error(&self, code: &'static str, message: impl Into<String>) -> FieldError {
        FieldError::new(format!("custom_fields.{}", self.key), code, message)
    }

    fn option_named(&self, raw: &str) -> Result<String, FieldError> {
        let raw = raw.trim();
        self.options
            .iter()
            .find(|option| option.eq_ignore_ascii_case(raw))
            .cloned()
            .ok_or_else(|| self.error("not_an_option", format!("must be one of: {}", self.options.join(", "))))
    }

    /// A client's JSON value, validated and normalised for storage; `None` when the value
    /// clears the field (null, blank text, an empty list).
    pub fn check(&self, raw: Value) -> Result<Option<Value>, FieldError> {
        let kind = self.field_type.as_str();
        let wrong_type = || self.error("wrong_type", format!("must be a {kind} value"));
        match (self.field_type, raw) {
            (_, Value::Null) => Ok(None),
            (CustomFieldType::Text, Value::String(text)) => {
                let field = format!("custom_fields.{}", self.key);
                Ok(optional_text(&field, &text, TEXT_VALUE_MAX)?.map(Value::String))
            }
            (CustomFieldType::Number, Value::Number(number)) => match number.as_f64() {
                Some(n) if n.is_finite() => Ok(Some(Value::Number(number))),
                _ => Err(wrong_type()),
            },
            (CustomFieldType::Money, Value::Object(map)) => {
                let amount = map.get("amount_minor").and_then(Value::as_i64);
                let currency = map.get("currency").and_then(Value::as_str);
                match (amount, currency, map.len()) {
                    (Some(amount), Some(currency), 2) => {
                        let currency = Currency::parse(&format!("custom_fields.{}.currency", self.key), currency)?;
                        Ok(Some(serde_json::json!({"amount_minor": amount, "currency": currency.as_str()})))
                    }
                    _ => Err(self.error(
                        "wrong_type",
                        "must be {\"amount_minor\": integer minor units, \"currency\": ISO 4217 code}",
                    )),
                }
            }
            (CustomFieldType::Date, Value::String(text)) => match NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
                Ok(date) => Ok(Some(Value::String(date.format("%Y-%m-%d").to_string()))),
                Err(_) => Err(self.error("invalid_format", "must be a date such as 2026-11-23")),
            },
            (CustomFieldType::Datetime, Value::String(text)) => parse_datetime(text.trim())
                .map(|t| Some(Value::String(t.to_rfc3339_opts(SecondsFormat::Millis, true))))
                .ok_or_else(|| self.error("invalid_format", "must be an RFC 3339 time such as 2026-11-23T09:30:00Z")),
            (CustomFieldType::Checkbox, Value::Bool(flag)) => Ok(Some(Value::Bool(flag))),
            (CustomFieldType::Dropdown, Value::String(text)) => {
                if text.trim().is_empty() {
                    return Ok(None);
                }
                Ok(Some(Value::String(self.option_named(&text)?)))
            }
            (CustomFieldType::MultiDropdown, Value::Array(items)) => {
                let mut chosen: Vec<String> = Vec::new();
                for item in items {
                    let Value::String(text) = item else { return Err(wrong_type()) };
                    let option = self.option_named(&text)?;
                    if !chosen.contains(&option) {
                        chosen.push(option);
                    }
                }
                Ok((!chosen.is_empty()).then(|| Value::from(chosen)))
            }
            (CustomFieldType::Email, Value::String(text)) => {
                let email = EmailAddress::parse(&format!("custom_fields.{}", self.key), &text)?;
                Ok(Some(Value::String(email.as_str().to_owned())))
            }
            (CustomFieldType::Phone, Value::String(text)) => {
                let phone = PhoneNumber::parse(&format!("custom_fields.{}", self.key), &text)?;
                Ok(Some(Value::String(phone.as_str().to_owned())))
            }
            (CustomFieldType::Url, Value::String(text)) => {
                let text = text.trim();
                let scheme_ok = text.starts_with("https://") || text.starts_with("http://");
                let host_ok = text
                    .split("://")
                    .nth(1)
                    .is_some_and(|rest| rest.split('/').next().is_some_and(|h| h.contains('.')));
                if scheme_ok && host_ok && text.len() <= TEXT_VALUE_MAX && !text.contains(char::is_whitespace) {
                    Ok(Some(Value::String(text.to_owned())))
                } else {
                    Err(self.error("invalid_format", "must be an http(s) URL such as https://example.com"))
                }
            }
            (CustomFieldType::Location, Value::Object(map)) => self.check_location(&map).map(Some),
            _ => Err(wrong_type()),
        }
    }

    fn check_location(&self, map: &serde_json::Map<String, Value>) -> Result<Value, FieldError> {
        let shape = || {
            self.error(
                "wrong_type",
                "must be {\"address\": text, \"latitude\": -90..90, \"longitude\": -180..180} with an address, coordinates or both",
            )
        };
        if map.keys().any(|k| !matches!(k.as_str(), "address" | "latitude" | "longitude")) {
            return Err(shape());
        }
        let address = match map.get("address") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => optional_text(&format!("custom_fields.{}.address", self.key), text, 500)?,
            Some(_) => return Err(shape()),
        };
        let coordinate = |name: &str, bound: f64| match map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(v) if v.abs() <= bound => Ok(Some(v)),
                _ => Err(self.error("out_of_range", format!("{name} must be between -{bound} and {bound}"))),
            },
            Some(_) => Err(shape()),
        };
        let (latitude, longitude) = (coordinate("latitude", 90.0)?, coordinate("longitude", 180.0)?);
        let mut location = serde_json::Map::new();
        if let Some(address) = address {
            location.insert("address".into(), Value::String(address));
        }
        match (latitude, longitude) {
            (Some(lat), Some(lng)) => {
                location.insert("latitude".into(), Value::from(lat));
                location.insert("longitude".into(), Value::from(lng));
            }
            (None, None) => {}
            _ => return Err(self.error("incomplete", "latitude and longitude go together")),
        }
        if location.is_empty() { Err(shape()) } else { Ok(Value::Object(location)) }
    }

    /// A value from text (a CSV cell, a value stored under another type), validated for this
    /// field: numbers, booleans and lists are read from their usual spellings.
    pub fn from_text(&self, text: &str) -> Result<Option<Value>, FieldError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let value = match self.field_type {
            CustomFieldType::Number => match trimmed.parse::<f64>() {
                Ok(n) if n.is_finite() => serde_json::Number::from_f64(n).map_or(Value::Null, normalise_number),
                _ => return Err(self.error("wrong_type", "must be a number")),
            },
            CustomFieldType::Checkbox => match trimmed.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Value::Bool(true),
                "false" | "no" | "0" => Value::Bool(false),
                _ => return Err(self.error("wrong_type", "must be true or false")),
            },
            CustomFieldType::MultiDropdown => {
                Value::from(trimmed.split([';', ',']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>())
            }
            CustomFieldType::Money => {
                let (amount, currency) = trimmed.split_once(' ').ok_or_else(|| {
                    self.error("wrong_type", "must be minor units and a currency, such as 125000 EUR")
                })?;
                let amount = amount
                    .parse::<i64>()
                    .map_err(|_| self.error("wrong_type", "must be minor units and a currency, such as 125000 EUR"))?;
                serde_json::json!({"amount_minor": amount, "currency": currency})
            }
            CustomFieldType::Location => serde_json::json!({"address": trimmed}),
            _ => Value::String(trimmed.to_owned()),
        };
        self.check(value)
    }
}

fn normalise_number(number: serde_json::Number) -> Value {
    match number.as_f64() {
        Some(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(n as i64),
        _ => Value::Number(number),
    }
}

fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).ok().or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
    })
}

/// A stored value as text: how it converts to another type, shows in a CSV cell and is searched.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join("; "),
        Value::Object(map) => match (map.get("amount_minor"), map.get("currency"), map.get("address")) {
            (Some(amount), Some(currency), _) => format!("{} {}", value_text(amount), value_text(currency)),
            (_, _, Some(address)) => value_text(address),
            _ => Value::Object(map.clone()).to_string(),
        },
        other => other.to_string(),
    }
}

/// A stored value under a changed definition, or `None` when it would not survive the change
/// (text that is no number, an option that was removed, ...).
pub fn convert_value(to: &CustomFieldDefinition, value: &Value) -> Option<Value> {
    match to.check(value.clone()) {
        Ok(converted) => converted,
        Err(_) => to.from_text(&value_text(value)).ok().flatten(),
    }
}

/// A record's custom field values, keyed by field key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomValues(BTreeMap<String, Value>);

impl Eq for CustomValues {}

/// Why custom values were refused.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomValueError {
    /// A key no field of the record type has (a client mistake of shape: 400).
    Unknown(String),
    /// Values that do not fit their fields (422).
    Invalid(ValidationErrors),
}

impl CustomValues {
    /// The value of one field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Every value, by key.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter()
    }

    /// The values as a JSON object.
    pub fn to_map(&self) -> serde_json::Map<String, Value> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Sets or (with `None`) removes one value, unchecked: for conversions already checked.
    pub fn set(&mut self, key: &str, value: Option<Value>) {
        match value {
            Some(value) => self.0.insert(key.to_owned(), value),
            None => self.0.remove(key),
        };
    }

    /// Every text a value holds, for text search.
    pub fn search_parts(&self) -> Vec<String> {
        self.0.values().map(value_text).filter(|t| !t.is_empty()).collect()
    }

    /// Fills keys this record lacks from another's values (a merge keeps the survivor's).
    pub fn fill_from(&mut self, other: &CustomValues) {
        for (key, value) in &other.0 {
            self.0.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }

    /// The values with the defaults of active fields filled in where none is set: for records
    /// made on nobody's explicit request (form submissions, conversions), which cannot be
    /// refused for a missing required value.
    pub fn with_defaults(&self, definitions: &[CustomFieldDefinition]) -> Self {
        let mut values = self.clone();
        for definition in definitions.iter().filter(|d| d.active) {
            if let (Some(default), false) = (&definition.default, values.0.contains_key(&definition.key)) {
                values.set(&definition.key, Some(default.clone()));
            }
        }
        values
    }

    /// The values after a merge-patch (`null` removes a value), checked against the record
    /// type's definitions. A new record (`creating`) gets defaults and must have every
    /// required field; no write may clear a required field or set an inactive one.
    pub fn apply(
        &self,
        definitions: &[CustomFieldDefinition],
        patch: Option<&serde_json::Map<String, Value>>,
        creating: bool,
    ) -> Result<Self, CustomValueError> {
        let mut values = self.clone();
        let mut errors = ValidationErrors::new();
        for (key, raw) in patch.into_iter().flatten() {
            let Some(definition) = definitions.iter().find(|d| &d.key == key) else {
                return Err(CustomValueError::Unknown(key.clone()));
            };
            if !definition.active && !raw.is_null() {
                errors.push(definition.error("inactive", "this field is deactivated and takes no new values"));
                continue;
            }
            match definition.check(raw.clone()) {
                Ok(value) => values.set(key, value),
                Err(error) => errors.push(error),
            }
        }
        for definition in definitions.iter().filter(|d| d.active) {
            if values.0.contains_key(&definition.key) {
                continue;
            }
            let named = patch.is_some_and(|p| p.contains_key(&definition.key));
            match (&definition.default, creating && !named) {
                (Some(default), true) => values.set(&definition.key, Some(default.clone())),
                _ if definition.required && (creating || named) => {
                    errors.push(definition.error("required", format!("`{}` is required", definition.label)));
                }
                _ => {}
            }
        }
        errors.into_result(|| values).map_err(CustomValueError::Invalid)
    }
}

/// Record data that carries custom field values.
pub trait WithCustomFields {
    /// The record's values.
    fn custom_values(&self) -> &CustomValues;
    /// The record's values, to replace.
    fn custom_values_mut(&mut self) -> &mut CustomValues;
}

/// Implements [`WithCustomFields`] for record data with a `custom_fields` field.
macro_rules! custom_fields_in {
    ($($data:ty),+) => {$(
        impl $crate::custom::WithCustomFields for $data {
            fn custom_values(&self) -> &$crate::custom::CustomValues {
                &self.custom_fields
            }
            fn custom_values_mut(&mut self) -> &mut $crate::custom::CustomValues {
                &mut self.custom_fields
            }
        }
    )+};
}
pub(crate) use custom_fields_in;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(key: &str, field_type: CustomFieldType) -> CustomFieldDefinition {
        let options = if field_type.has_options() { vec!["Gold".into(), "Silver".into()] } else { vec![] };
        CustomFieldDefinition::apply(
            None,
            DefinitionChanges {
                record_type: Some(RecordType::Contact),
                key: Some(key.into()),
                label: Some(key.into()),
                field_type: Some(field_type),
                options: Some(options),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn values_are_normalised_by_type() {
        let when = field("when", CustomFieldType::Datetime);
        assert_eq!(when.check(json!("2026-11-23T10:00:00+01:00")), Ok(Some(json!("2026-11-23T09:00:00.000Z"))));
        let tier = field("tier", CustomFieldType::Dropdown);
        assert_eq!(tier.check(json!("gold")), Ok(Some(json!("Gold"))));
        let tiers = field("tiers", CustomFieldType::MultiDropdown);
        assert_eq!(tiers.check(json!(["silver", "Silver", "gold"])), Ok(Some(json!(["Silver", "Gold"]))));
        let budget = field("budget", CustomFieldType::Money);
        assert_eq!(
            budget.check(json!({"amount_minor": 5, "currency": "eur"})),
            Ok(Some(json!({"amount_minor": 5, "currency": "EUR"})))
        );
        assert_eq!(field("note", CustomFieldType::Text).check(json!("  ")), Ok(None));
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_field() {
        let size = field("size", CustomFieldType::Number);
        let error = size.check(json!("big")).err();
        assert_eq!(error.map(|e| (e.field, e.code)), Some(("custom_fields.size".to_owned(), "wrong_type")));
        assert!(field("tier", CustomFieldType::Dropdown).check(json!("Bronze")).is_err());
        assert!(field("site", CustomFieldType::Url).check(json!("javascript:alert(1)")).is_err());
        assert!(field("at", CustomFieldType::Location).check(json!({"latitude": 91, "longitude": 0})).is_err());
    }

    #[test]
    fn unknown_keys_are_refused_and_required_fields_enforced_on_create() {
        let mut required = field("tier", CustomFieldType::Dropdown);
        required.required = true;
        let definitions = vec![required, field("size", CustomFieldType::Number)];
        let none = CustomValues::default();
        let patch = json!({"colour": "red"});
        assert_eq!(none.apply(&definitions, patch.as_object(), true), Err(CustomValueError::Unknown("colour".into())));
        assert!(matches!(none.apply(&definitions, None, true), Err(CustomValueError::Invalid(_))));
        assert_eq!(none.apply(&definitions, None, false), Ok(CustomValues::default()));
        let set = json!({"tier": "gold", "size": 3});
        let values = none.apply(&definitions, set.as_object(), true).unwrap_or_default();
        assert_eq!(values.get("tier"), Some(&json!("Gold")));
        let clear = json!({"tier": null});
        assert!(values.apply(&definitions, clear.as_object(), false).is_err());
    }

    #[test]
    fn defaults_fill_new_records_only() {
        let mut size = field("size", CustomFieldType::Number);
        size.default = Some(json!(10));
        let definitions = vec![size];
        let created = CustomValues::default().apply(&definitions, None, true).unwrap_or_default();
        assert_eq!(created.get("size"), Some(&json!(10)));
        assert_eq!(CustomValues::default().apply(&definitions, None, false), Ok(CustomValues::default()));
    }

    #[test]
    fn a_type_change_converts_only_what_survives() {
        let number = field("size", CustomFieldType::Number);
        assert_eq!(convert_value(&number, &json!("42")), Some(json!(42)));
        assert_eq!(convert_value(&number, &json!("forty")), None);
        let text = field("size", CustomFieldType::Text);
        assert_eq!(convert_value(&text, &json!(4.5)), Some(json!("4.5")));
        let checkbox = field("vip", CustomFieldType::Checkbox);
        assert_eq!(convert_value(&checkbox, &json!("yes")), Some(json!(true)));
        let mut fewer = field("tier", CustomFieldType::Dropdown);
        fewer.options = vec!["Gold".into()];
        assert_eq!(convert_value(&fewer, &json!("Silver")), None);
    }

    #[test]
    fn a_definition_checks_its_key_options_and_default() {
        let bad = CustomFieldDefinition::apply(
            None,
            DefinitionChanges {
                record_type: Some(RecordType::Deal),
                key: Some("Bad Key".into()),
                label: Some("x".into()),
                field_type: Some(CustomFieldType::Dropdown),
                default: Patch::Set(json!("nope")),
                ..Default::default()
            },
        );
        let fields: Vec<String> =
            bad.err().map(|e| e.errors().iter().map(|e| e.field.clone()).collect()).unwrap_or_default();
        assert_eq!(fields, ["key", "options", "default"]);
    }
}
