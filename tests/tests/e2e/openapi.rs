use actix_web::http::Method;
use e2e::{Backend, TestApp};
use serde_json::Value;

fn committed() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let text = std::fs::read_to_string(path).expect("openapi/openapi.json is committed");
    serde_json::from_str(&text).expect("openapi/openapi.json is JSON")
}

#[actix_web::test]
async fn the_served_document_equals_the_committed_one() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let served = app.request(Method::GET, "/api/v1/openapi.json").send().await.assert_status(200);
    assert!(
        served.body == committed(),
        "openapi/openapi.json is out of date: regenerate it with `cargo run --bin crm -- openapi > openapi/openapi.json`"
    );
    assert_eq!(served.body, serde_json::from_str::<Value>(&api::openapi::document_json()).expect("document is JSON"));
}

#[test]
fn every_operation_is_documented_completely() {
    let document = committed();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            operations += 1;
            let name = format!("{method} {path}");
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no summary");
            assert!(operation["description"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no description");
            assert!(operation["tags"].as_array().is_some_and(|t| !t.is_empty()), "{name}: no tags");
            assert!(operation["operationId"].is_string(), "{name}: no operationId");
            let responses = operation["responses"].as_object().expect("responses");
            for (status, response) in responses {
                let response = match response["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/responses/")) {
                    Some(shared) => &document["components"]["responses"][shared],
                    None => response,
                };
                assert!(response["headers"]["X-Request-Id"].is_object(), "{name} {status}: X-Request-Id undeclared");
                assert!(
                    response["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{name} {status}: no description"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{name} {status}: not problem+json"
                    );
                }
            }
            let public = path.starts_with("/healthz")
                || path.starts_with("/readyz")
                || path.ends_with("/auth/login")
                || path.ends_with("/auth/refresh")
                || path.ends_with("/submissions")
                || path.starts_with("/api/v1/survey-responses/")
                || path.starts_with("/api/v1/public/");
            if public {
                assert_eq!(operation["security"], serde_json::json!([]), "{name}: public, so `security: []`");
            } else {
                assert!(operation["security"].is_array(), "{name}: no security");
                assert!(responses.contains_key("401"), "{name}: no 401");
            }
        }
    }
    assert!(operations >= 38, "only {operations} operations documented");
}

#[test]
fn every_schema_reference_resolves() {
    let document = committed();
    let schemas = document["components"]["schemas"].as_object().expect("schemas");
    let text = document.to_string();
    let dangling: Vec<&str> = text
        .split("\"#/components/schemas/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| !schemas.contains_key(*name))
        .collect();
    assert!(dangling.is_empty(), "references to missing schemas: {dangling:?}");
}

#[test]
fn schema_limits_are_the_domain_limits() {
    let document = committed();
    let contact = &document["components"]["schemas"]["ContactInput"]["properties"];
    assert_eq!(contact["first_name"]["maxLength"], domain_limit(domain::values::SHORT_TEXT_MAX));
    assert_eq!(contact["notes"]["maxLength"], domain_limit(domain::values::LONG_TEXT_MAX));
    assert_eq!(contact["tags"]["maxItems"], domain_limit(domain::values::TAGS_MAX));
    assert_eq!(contact["emails"]["maxItems"], domain_limit(domain::contact::CHANNELS_MAX));
    let email = &document["components"]["schemas"]["EmailBody"]["properties"]["email"];
    assert_eq!(email["maxLength"], domain_limit(domain::values::EMAIL_MAX));
    let company = &document["components"]["schemas"]["CompanyInput"]["properties"];
    assert_eq!(company["employee_count"]["maximum"], domain_limit(domain::company::EMPLOYEES_MAX as usize));
}

fn domain_limit(limit: usize) -> Value {
    Value::from(limit)
}

/// Every place a schema is declared, with its JSON pointer.
fn schemas_in<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(fields) => {
            if fields.contains_key("type") {
                found.push((at.clone(), value));
            }
            for (key, inner) in fields {
                schemas_in(inner, format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                schemas_in(inner, format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn generated_clients_get_a_type_for_every_schema() {
    let document = committed();
    let mut found = Vec::new();
    schemas_in(&document, String::new(), &mut found);
    const STANDARD_FORMATS: [&str; 8] = ["int32", "int64", "date-time", "date", "uuid", "binary", "password", "double"];
    for (at, schema) in found {
        let is_object =
            schema["type"] == "object" || schema["type"].as_array().is_some_and(|t| t.contains(&"object".into()));
        if is_object && !at.contains("/example") {
            assert!(
                schema.get("properties").is_some() || schema.get("additionalProperties").is_some(),
                "{at}: a bare `type: object` (openapi-typescript makes it Record<string, never>)"
            );
        }
        if let Some(format) = schema["format"].as_str() {
            assert!(STANDARD_FORMATS.contains(&format), "{at}: non-standard format {format}");
        }
    }
    let schemas = document["components"]["schemas"].as_object().expect("schemas");
    for (name, schema) in schemas.iter().filter(|(name, _)| name.starts_with("Page_")) {
        let item = name.trim_start_matches("Page_");
        assert_eq!(schema["properties"]["data"]["items"]["$ref"], format!("#/components/schemas/{item}"), "{name}");
    }
    assert_eq!(schemas["FilterCondition"]["properties"]["value"].get("type"), None, "a filter value is any JSON value");
    assert!(document["servers"].as_array().is_some_and(|s| !s.is_empty()), "no servers");
    assert_eq!(document["security"], serde_json::json!([{"bearer": []}]));
}

#[test]
fn every_declared_record_type_has_its_documented_routes() {
    let document = committed();
    for spec in domain::registry::RECORD_TYPES {
        let collection = format!("/api/v1/{}", spec.collection);
        let one = format!("{collection}/{{id}}");
        let mut routes: Vec<(String, &[&str])> = vec![
            (collection.clone(), &["get", "post"]),
            (one.clone(), &["get", "patch", "delete"]),
            (format!("{one}/restore"), &["post"]),
            (format!("{collection}/batch"), &["post"]),
            (format!("{one}/history"), &["get"]),
        ];
        if spec.linked_as.is_some() {
            routes.extend([
                (format!("{collection}/search"), &["post"][..]),
                (format!("{collection}/export"), &["get", "post"]),
            ]);
        }
        if spec.timeline {
            routes.push((format!("{one}/timeline"), &["get"]));
        }
        for (path, methods) in &routes {
            for method in *methods {
                assert!(
                    document["paths"][path.as_str()][method].is_object(),
                    "{}: {method} {path} undocumented",
                    spec.noun
                );
            }
        }
    }
}
