//! Response examples derived from the schemas, so every JSON answer in the document shows a
//! whole body: the field examples the types declare, and a plausible value of the right type
//! and format where they declare none. Redocly checks each one against its schema in CI.

use serde_json::{Map, Value, json};

/// How many references deep an example goes; deeper parts (recursive filters) are left out.
const DEPTH_MAX: usize = 8;

/// An example of a value of `schema`, with `$ref`s resolved against `schemas` (the
/// document's `components/schemas`, as JSON). `None` when the schema admits nothing useful.
pub fn example_of(schema: &Value, schemas: &Map<String, Value>) -> Option<Value> {
    build(schema, schemas, 0)
}

fn build(schema: &Value, schemas: &Map<String, Value>, depth: usize) -> Option<Value> {
    if depth > DEPTH_MAX {
        return None;
    }
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.strip_prefix("#/components/schemas/")?;
        return build(schemas.get(name)?, schemas, depth + 1);
    }
    if let Some(example) = schema.get("example") {
        return Some(example.clone());
    }
    if let Some(first) = schema.get("examples").and_then(Value::as_array).and_then(|all| all.first()) {
        return Some(first.clone());
    }
    if let Some(default) = schema.get("default") {
        return Some(default.clone());
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|all| all.first()) {
        return Some(first.clone());
    }
    for choice in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(choice).and_then(Value::as_array) {
            return options.iter().find(|option| !is_null(option)).and_then(|option| build(option, schemas, depth));
        }
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            if let Some(Value::Object(fields)) = build(part, schemas, depth) {
                merged.extend(fields);
            }
        }
        return Some(Value::Object(merged));
    }
    match type_of(schema) {
        Some("object") => Some(object(schema, schemas, depth)),
        Some("array") => {
            let item = schema.get("items").and_then(|items| build(items, schemas, depth));
            Some(Value::Array(item.into_iter().collect()))
        }
        Some("string") => string(schema),
        Some("integer") => Some(schema.get("minimum").cloned().unwrap_or_else(|| json!(1))),
        Some("number") => Some(schema.get("minimum").cloned().unwrap_or_else(|| json!(1.5))),
        Some("boolean") => Some(json!(true)),
        // Any JSON value (a custom field's default): `null` is one.
        Some("null") | None => Some(Value::Null),
        Some(_) => None,
    }
}

fn is_null(schema: &Value) -> bool {
    type_of(schema) == Some("null")
}

/// The schema's type, the non-null one of a nullable pair.
fn type_of(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(single) => Some(single),
        Value::Array(types) => {
            let named: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            named.iter().find(|t| **t != "null").or(named.first()).copied()
        }
        _ => None,
    }
}

fn object(schema: &Value, schemas: &Map<String, Value>, depth: usize) -> Value {
    let mut fields = Map::new();
    // An object that takes one property of several (a filter group) gets the first.
    let most = schema.get("maxProperties").and_then(Value::as_u64).map_or(usize::MAX, |n| n as usize);
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties.iter().take(most) {
            if let Some(value) = build(property, schemas, depth) {
                fields.insert(name.clone(), value);
            }
        }
    }
    Value::Object(fields)
}

fn string(schema: &Value) -> Option<Value> {
    let text = match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => "2026-12-02T09:30:00Z",
        Some("date") => "2026-12-02",
        Some("uuid") => "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61",
        Some("email") => "ada@engines.example",
        Some("uri") => "https://crm.engines.example/",
        Some("password") => "correct horse battery staple",
        Some("binary") => return None,
        _ => "text",
    };
    Some(json!(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_example_follows_references_and_prefers_declared_examples() {
        let schemas = json!({
            "Money": {"type": "object", "properties": {"amount_minor": {"type": "integer", "minimum": 0}, "currency": {"type": "string", "example": "EUR"}}},
            "Deal": {"type": "object", "properties": {
                "name": {"type": "string", "example": "Engines"},
                "amount": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Money"}]},
                "closed_at": {"type": ["string", "null"], "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "stage": {"type": "string", "enum": ["open", "won"]}
            }}
        });
        let schemas = schemas.as_object().cloned().unwrap_or_default();
        let example = example_of(&json!({"$ref": "#/components/schemas/Deal"}), &schemas);
        assert_eq!(
            example,
            Some(json!({
                "name": "Engines",
                "amount": {"amount_minor": 0, "currency": "EUR"},
                "closed_at": "2026-12-02T09:30:00Z",
                "tags": ["text"],
                "stage": "open"
            }))
        );
    }

    #[test]
    fn recursive_schemas_stop_at_the_depth_limit() {
        let schemas =
            json!({"Node": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}}});
        let schemas = schemas.as_object().cloned().unwrap_or_default();
        let example = example_of(&json!({"$ref": "#/components/schemas/Node"}), &schemas);
        assert!(example.is_some_and(|e| e.to_string().matches("child").count() <= DEPTH_MAX));
    }
}
