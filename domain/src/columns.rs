//! The CSV columns of each record type, read by imports and written by exports, so an exported
//! file imports again unchanged.
//!
//! A column names a field of the record's API view and create body (`first_name`,
//! `address.city`, `custom_fields.budget`) and knows how a cell's text becomes that field's JSON
//! value and back. Record types declare their standard columns here once; custom fields add
//! `custom_fields.<key>` columns from their live definitions.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::activity::RecordType;
use crate::custom::CustomFieldDefinition;
use crate::fields::Shape;
use crate::registry::linked;
use crate::validation::{FieldError, ValidationErrors};

/// The separator of list cells (tags, several emails): `vip; partner`.
pub const LIST_SEPARATOR: &str = "; ";

/// One standard column of a record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The field's path in the API view and body: `first_name`, `address.city`.
    pub name: &'static str,
    pub shape: Shape,
    /// False for what the system sets: `id`, times, scores.
    pub importable: bool,
}

/// The standard columns of a record type, in export order, from its field declarations.
pub fn standard(record_type: RecordType) -> Vec<Column> {
    linked(record_type)
        .fields
        .iter()
        .filter_map(|f| f.csv.map(|csv| Column { name: f.name, shape: csv.shape, importable: csv.importable }))
        .collect()
}

/// A field a CSV column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The record's id: on import, the record a row updates.
    Id,
    Standard(Column),
    Custom(CustomFieldDefinition),
}

impl Target {
    /// The field's name as mappings and export headers spell it.
    pub fn name(&self) -> String {
        match self {
            Target::Id => "id".to_owned(),
            Target::Standard(column) => column.name.to_owned(),
            Target::Custom(definition) => format!("custom_fields.{}", definition.key),
        }
    }

    /// The field named `name` (`first_name`, `custom_fields.budget`), for export or import.
    pub fn parse(record_type: RecordType, custom: &[CustomFieldDefinition], name: &str) -> Option<Target> {
        if name == "id" {
            return Some(Target::Id);
        }
        if let Some(key) = name.strip_prefix("custom_fields.") {
            return custom.iter().find(|d| d.key == key).cloned().map(Target::Custom);
        }
        standard(record_type).iter().find(|c| c.name == name).copied().map(Target::Standard)
    }

    fn importable(&self) -> bool {
        match self {
            Target::Id => true,
            Target::Standard(column) => column.importable,
            Target::Custom(definition) => definition.active,
        }
    }
}

/// Every column an export writes when none are chosen: the standard ones, then the active
/// custom fields in their order.
pub fn all(record_type: RecordType, custom: &[CustomFieldDefinition]) -> Vec<Target> {
    let standard =
        standard(record_type).into_iter().map(|c| if c.name == "id" { Target::Id } else { Target::Standard(c) });
    standard.chain(custom.iter().filter(|d| d.active).cloned().map(Target::Custom)).collect()
}

/// Spelling-insensitive form of a header: `First Name`, `first-name`, `first.name` and
/// `first_name` agree.
fn normalised(header: &str) -> String {
    header.trim().to_lowercase().chars().map(|c| if matches!(c, ' ' | '-' | '.') { '_' } else { c }).collect()
}

/// The field a header names by itself: `id`, a column name, or a custom field's name, key or
/// label.
fn automatic(record_type: RecordType, custom: &[CustomFieldDefinition], header: &str) -> Option<Target> {
    let wanted = normalised(header);
    if wanted == "id" {
        return Some(Target::Id);
    }
    if let Some(column) = standard(record_type).iter().find(|c| normalised(c.name) == wanted) {
        return Some(Target::Standard(*column));
    }
    custom
        .iter()
        .find(|d| {
            [format!("custom_fields.{}", d.key), d.key.clone(), d.label.clone()].iter().any(|n| normalised(n) == wanted)
        })
        .cloned()
        .map(Target::Custom)
}

/// Decides the field of each header of an import: `explicit` maps a header to a field name, or
/// to `None` to skip the column; other headers are matched by name (see [`automatic`]). A header
/// that matches nothing, a field that does not exist or is not importable, and two columns for
/// one field are refused, naming the header.
pub fn resolve(
    record_type: RecordType,
    custom: &[CustomFieldDefinition],
    headers: &[String],
    explicit: &BTreeMap<String, Option<String>>,
) -> Result<Vec<Option<Target>>, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    for header in explicit.keys() {
        if !headers.iter().any(|h| h.trim() == header.trim()) {
            errors.push(FieldError::new(format!("mapping.{header}"), "unknown_column", "is not a header of the file"));
        }
    }
    let mut targets: Vec<Option<Target>> = Vec::with_capacity(headers.len());
    for (index, header) in headers.iter().enumerate() {
        let field = format!("columns[{index}]");
        if header.trim().is_empty() {
            match explicit.get("") {
                Some(None) => targets.push(None),
                _ => {
                    errors.push(FieldError::new(field, "blank_header", "has no header; name the column"));
                    targets.push(None);
                }
            }
            continue;
        }
        let target = match explicit.iter().find(|(h, _)| h.trim() == header.trim()).map(|(_, t)| t) {
            Some(None) => None,
            Some(Some(name)) => match Target::parse(record_type, custom, name) {
                Some(target) => Some(target),
                None => {
                    errors.push(FieldError::new(
                        format!("mapping.{header}"),
                        "unknown_field",
                        format!("`{name}` is not a field of this record type"),
                    ));
                    None
                }
            },
            None => match automatic(record_type, custom, header) {
                Some(target) => Some(target),
                None => {
                    errors.push(FieldError::new(
                        field,
                        "unmapped_column",
                        format!("`{header}` matches no field; map it in `mapping` (or map it to null to skip it)"),
                    ));
                    None
                }
            },
        };
        if let Some(target) = &target {
            if !target.importable() {
                errors.push(FieldError::new(
                    format!("columns[{index}]"),
                    "not_importable",
                    format!("`{header}` maps to `{}`, which is set by the system or inactive", target.name()),
                ));
            } else if targets.iter().flatten().any(|t| t.name() == target.name()) {
                errors.push(FieldError::new(
                    format!("columns[{index}]"),
                    "duplicate_column",
                    format!("`{header}` maps to `{}`, which another column already fills", target.name()),
                ));
            }
        }
        targets.push(target);
    }
    if errors.is_empty() { Ok(targets) } else { Err(errors) }
}

/// A row of an import as the record's create (or merge-patch) body: the id named by an `id`
/// column, and the body's fields from the row's non-empty cells.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowInput {
    pub id: Option<String>,
    pub body: Map<String, Value>,
}

/// Reads one row's cells into a body. Errors name the header of the cell at fault.
pub fn read_row(
    headers: &[String],
    targets: &[Option<Target>],
    cells: &[String],
) -> Result<RowInput, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut input = RowInput::default();
    for ((header, target), cell) in headers.iter().zip(targets).zip(cells) {
        let Some(target) = target else { continue };
        if cell.trim().is_empty() {
            continue;
        }
        match target {
            Target::Id => input.id = Some(cell.trim().to_owned()),
            Target::Standard(column) => match cell_value(column.shape, cell) {
                Ok(value) => set_path(&mut input.body, column.name, value),
                Err(message) => errors.push(FieldError::new(header.clone(), "invalid_format", message)),
            },
            Target::Custom(definition) => match definition.from_text(cell) {
                Ok(Some(value)) => {
                    let custom = input.body.entry("custom_fields").or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(map) = custom {
                        map.insert(definition.key.clone(), value);
                    }
                }
                Ok(None) => {}
                Err(error) => errors.push(FieldError::new(header.clone(), error.code, error.message)),
            },
        }
    }
    if errors.is_empty() { Ok(input) } else { Err(errors) }
}

fn set_path(body: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        Some((parent, child)) => {
            let entry = body.entry(parent).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(child.to_owned(), value);
            }
        }
        None => {
            body.insert(path.to_owned(), value);
        }
    }
}

fn list(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// A non-empty cell as the field's JSON value, or why it cannot be.
pub fn cell_value(shape: Shape, cell: &str) -> Result<Value, String> {
    let text = cell.trim();
    Ok(match shape {
        Shape::Text => Value::String(text.to_owned()),
        Shape::Integer => Value::from(text.parse::<i64>().map_err(|_| format!("`{text}` is not a whole number"))?),
        Shape::Boolean => match text.to_lowercase().as_str() {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => return Err(format!("`{text}` is not true or false")),
        },
        Shape::Date => {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("`{text}` is not a date such as 2026-11-30"))?;
            Value::String(text.to_owned())
        }
        Shape::Choice(options) => {
            let lower = text.to_lowercase();
            if !options.contains(&lower.as_str()) {
                return Err(format!("`{text}` is not one of {}", options.join(", ")));
            }
            Value::String(lower)
        }
        Shape::List => Value::from(list(text).collect::<Vec<_>>()),
        Shape::Emails => Value::from(list(text).map(|e| serde_json::json!({"email": e})).collect::<Vec<_>>()),
        Shape::Phones => Value::from(list(text).map(|p| serde_json::json!({"number": p})).collect::<Vec<_>>()),
        Shape::Money => {
            let invalid = || format!("`{text}` is not minor units and a currency, such as 125000 EUR");
            let (amount, currency) = text.split_once(' ').ok_or_else(invalid)?;
            let amount = amount.trim().parse::<i64>().map_err(|_| invalid())?;
            serde_json::json!({"amount_minor": amount, "currency": currency.trim().to_uppercase()})
        }
        Shape::Time => return Err("is set by the system".to_owned()),
    })
}

/// The text of a field's value in a cell, as [`cell_value`] reads it back.
pub fn value_text(shape: Shape, value: &Value) -> String {
    match (shape, value) {
        (_, Value::Null) => String::new(),
        (Shape::Emails, Value::Array(items)) => join(items.iter().map(|i| &i["email"])),
        (Shape::Phones, Value::Array(items)) => join(items.iter().map(|i| &i["number"])),
        (Shape::Money, Value::Object(money)) => {
            format!("{} {}", money.get("amount_minor").unwrap_or(&Value::Null), plain(&money["currency"]))
        }
        (_, Value::Array(items)) => join(items.iter()),
        (_, other) => plain(other),
    }
}

/// The text of a custom field's stored value, as [`CustomFieldDefinition::from_text`] reads it.
pub fn custom_text(value: &Value) -> String {
    match value {
        Value::Object(map) if map.contains_key("amount_minor") => value_text(Shape::Money, value),
        Value::Object(map) => match (map.get("address"), map.get("latitude"), map.get("longitude")) {
            (Some(address), _, _) => plain(address),
            (None, Some(lat), Some(lon)) => format!("{lat}, {lon}"),
            _ => String::new(),
        },
        other => value_text(Shape::List, other),
    }
}

fn join<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    values.map(plain).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(LIST_SEPARATOR)
}

fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The value at a column's path (`address.city`) in a record's API view.
pub fn view_value<'a>(view: &'a Map<String, Value>, path: &str) -> &'a Value {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let value = view.get(head).unwrap_or(&Value::Null);
    if rest.is_empty() { value } else { value.get(rest).unwrap_or(&Value::Null) }
}

/// One record's cells for the chosen columns, from its API view.
pub fn export_row(view: &Map<String, Value>, targets: &[Target]) -> Vec<String> {
    targets
        .iter()
        .map(|target| match target {
            Target::Id => value_text(Shape::Text, view_value(view, "id")),
            Target::Standard(column) => value_text(column.shape, view_value(view, column.name)),
            Target::Custom(definition) => {
                view.get("custom_fields").and_then(|c| c.get(&definition.key)).map(custom_text).unwrap_or_default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custom::CustomFieldType;
    use serde_json::json;

    fn budget() -> CustomFieldDefinition {
        CustomFieldDefinition {
            record_type: RecordType::Contact,
            key: "budget".into(),
            label: "Annual Budget".into(),
            field_type: CustomFieldType::Number,
            required: false,
            default: None,
            help_text: None,
            position: 0,
            options: vec![],
            active: true,
        }
    }

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| (*h).to_owned()).collect()
    }

    #[test]
    fn headers_match_fields_by_name_key_or_label_whatever_the_spelling() {
        let found = resolve(
            RecordType::Contact,
            &[budget()],
            &headers(&["First Name", "EMAILS", "address-city", "annual budget", "id"]),
            &BTreeMap::new(),
        )
        .unwrap_or_default();
        let names: Vec<String> = found.iter().flatten().map(Target::name).collect();
        assert_eq!(names, ["first_name", "emails", "address.city", "custom_fields.budget", "id"]);
    }

    #[test]
    fn unmatched_unknown_duplicate_and_system_columns_are_refused_by_header() {
        let explicit = BTreeMap::from([
            ("Mail".to_owned(), Some("emails".to_owned())),
            ("Skip me".to_owned(), None),
            ("Nope".to_owned(), Some("shoe_size".to_owned())),
            ("Missing".to_owned(), Some("notes".to_owned())),
        ]);
        let errors = resolve(
            RecordType::Contact,
            &[],
            &headers(&["Mail", "emails", "Skip me", "Nope", "Favourite colour", "created_at"]),
            &explicit,
        )
        .err()
        .unwrap_or_default();
        let fields: Vec<(&str, &str)> = errors.errors().iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            [
                ("mapping.Missing", "unknown_column"),
                ("columns[1]", "duplicate_column"),
                ("mapping.Nope", "unknown_field"),
                ("columns[4]", "unmapped_column"),
                ("columns[5]", "not_importable"),
            ]
        );
    }

    #[test]
    fn a_row_becomes_the_create_body_and_bad_cells_name_their_header() {
        let heads =
            headers(&["id", "first_name", "emails", "address.city", "lifecycle_stage", "tags", "Annual Budget"]);
        let targets = resolve(RecordType::Contact, &[budget()], &heads, &BTreeMap::new()).unwrap_or_default();
        let cells =
            headers(&["c1", " Ada ", "a@x.example; b@x.example", "London", "Retention", "vip;  partner", "1200"]);
        let row = read_row(&heads, &targets, &cells).unwrap_or_default();
        assert_eq!(row.id.as_deref(), Some("c1"));
        assert_eq!(
            Value::Object(row.body),
            json!({"first_name": "Ada", "emails": [{"email": "a@x.example"}, {"email": "b@x.example"}],
                   "address": {"city": "London"}, "lifecycle_stage": "retention", "tags": ["vip", "partner"],
                   "custom_fields": {"budget": 1200}})
        );
        let bad = headers(&["", "", "", "", "someday", "", "lots"]);
        let errors = read_row(&heads, &targets, &bad).err().unwrap_or_default();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lifecycle_stage", "Annual Budget"]);
    }

    #[test]
    fn exported_cells_read_back_as_the_same_values() {
        let view = json!({"id": "d1", "name": "Big", "amount": {"amount_minor": 125000, "currency": "EUR"},
            "contact_ids": ["c1", "c2"], "expected_close_date": "2026-12-01", "tags": [],
            "custom_fields": {"budget": 7.5}})
        .as_object()
        .cloned()
        .unwrap_or_default();
        let mut definition = budget();
        definition.record_type = RecordType::Deal;
        let targets = all(RecordType::Deal, &[definition]);
        let cells = export_row(&view, &targets);
        let by_name: BTreeMap<String, String> = targets.iter().map(Target::name).zip(cells).collect();
        assert_eq!(by_name["amount"], "125000 EUR");
        assert_eq!(by_name["contact_ids"], "c1; c2");
        assert_eq!(by_name["custom_fields.budget"], "7.5");
        assert_eq!(by_name["next_step"], "");
        for column in standard(RecordType::Deal).iter().filter(|c| c.importable) {
            let text = &by_name[column.name];
            if !text.is_empty() {
                assert_eq!(
                    cell_value(column.shape, text).as_ref(),
                    Ok(view_value(&view, column.name)),
                    "{}",
                    column.name
                );
            }
        }
    }
}
