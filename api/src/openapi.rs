//! The OpenAPI 3.1 document, generated from the handlers and types.

use utoipa::openapi::encoding::EncodingBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::info::LicenseBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ArrayItems, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::{ObjectBuilder, Ref, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::error::{DuplicateRef, FieldProblem, Problem};
use crate::routes;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("JWT access token or crm_ API key")
                        .description(Some(
                            "An access token from POST /api/v1/auth/login, or an API key from POST /api/v1/api-keys.",
                        ))
                        .build(),
                ),
            );
        }
    }
}

/// Operations anyone may call: probes, signing in, refreshing, public form submissions and
/// survey answer links, the public knowledge base.
pub const PUBLIC_OPERATIONS: [&str; 10] = [
    "healthz",
    "readyz",
    "login",
    "refresh",
    "submit_form",
    "survey_question",
    "answer_survey",
    "search_public_articles",
    "read_public_article",
    "vote_public_article",
];

/// What the document says once for every operation, so no handler can forget it: the server,
/// bearer security by default (and `security: []` on the public operations), the headers every
/// answer carries, pages that refer to their item schema, and the upload's part encodings.
struct Finish;

impl Modify for Finish {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.servers = Some(vec![
            ServerBuilder::new().url("/").description(Some("The server this document is served by")).build(),
        ]);
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
        openapi.info.license =
            Some(LicenseBuilder::new().name("AGPL-3.0-or-later").identifier(Some("AGPL-3.0-or-later")).build());
        let mut schemas = serde_json::Map::new();
        if let Some(components) = openapi.components.as_mut() {
            refer_page_items(&mut components.schemas);
            for (name, schema) in &mut components.schemas {
                constrain_schema(name, schema);
                if let RefOr::T(Schema::Object(object)) = schema {
                    for (property, value) in &mut object.properties {
                        if is_uuid(property) && !NOT_UUIDS.contains(&(name.as_str(), property.as_str())) {
                            if name.ends_with("Input") && !property.ends_with("_ids") && property != "id" {
                                // A record body's reference may be sent blank, which clears it.
                                mark_uuid_or_blank(value);
                            } else {
                                mark_uuid(value);
                            }
                        }
                    }
                }
            }
            if let Ok(serde_json::Value::Object(all)) = serde_json::to_value(&components.schemas) {
                schemas = all;
            }
        }
        let mut shared = std::collections::BTreeMap::new();
        for (path, item) in &mut openapi.paths.paths {
            for operation in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
            {
                finish_operation(operation, &mut shared);
                for parameter in operation.parameters.iter_mut().flatten() {
                    constrain_parameter(path, parameter);
                    // Query filters take any text (an unknown id matches nothing); path ids
                    // that are not UUIDs answer 404, as the document allows.
                    if matches!(parameter.parameter_in, ParameterIn::Path)
                        && is_uuid(&parameter.name)
                        && !path.starts_with("/api/v1/roles/")
                        && let Some(schema) = parameter.schema.as_mut()
                    {
                        mark_uuid(schema);
                    }
                }
                add_examples(operation, &schemas);
            }
        }
        if let Some(components) = openapi.components.as_mut() {
            components.responses.extend(shared);
        }
    }
}

/// Text without control characters, which the server refuses in every query parameter.
const PLAIN_TEXT: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";
// Each pattern takes at least everything the server takes (what it refuses beyond a pattern is
// still refused with 400), so that no request the server accepts violates the document.

/// A tag filter: not blank, no quotes or backslashes (see `Tags::parse_one`).
const TAG: &str =
    r#"^[^"\\\u0000-\u001F\u007F-\u009F]*[^\s"\\\u0000-\u001F\u007F-\u009F][^"\\\u0000-\u001F\u007F-\u009F]*$"#;
/// A domain name, optionally with a scheme or trailing slash (see `DomainName::parse`).
const DOMAIN: &str = r"^\s*([Hh][Tt][Tt][Pp][Ss]?://)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?/*\s*$";
/// An ETag this API gave (its quotes may be left out), or `*`.
const ETAG: &str = r#"^ *(\*|(W/)?"[0-9]{1,18}"|[0-9]{1,18}) *$"#;
/// What an `Idempotency-Key` may be.
const IDEMPOTENCY_KEY: &str = r"^[\t -~]*[!-~][\t -~]*$";
/// A timeline's `type` filter: a comma-separated list of the kinds it shows.
const TIMELINE_KINDS: &str = r"^\s*((email|call|meeting|chat|social|note|stage_change|status_change)\s*(,\s*(email|call|meeting|chat|social|note|stage_change|status_change)\s*)*)?$";

/// States on a text parameter what the server refuses (400), so that a request the document
/// allows is one the server takes: generated clients and fuzzers rely on it.
fn constrain_parameter(path: &str, parameter: &mut utoipa::openapi::path::Parameter) {
    let (pattern, max_length) = match (&parameter.parameter_in, parameter.name.as_str()) {
        (ParameterIn::Header, "If-Match") => (ETAG, None),
        (ParameterIn::Header, "Idempotency-Key") => (IDEMPOTENCY_KEY, Some(255)),
        (ParameterIn::Query, "type") if path.ends_with("/timeline") => (TIMELINE_KINDS, None),
        (ParameterIn::Query, "tag") => (TAG, None),
        (ParameterIn::Query, "domain") => (DOMAIN, None),
        (ParameterIn::Query, _) => (PLAIN_TEXT, None),
        _ => return,
    };
    if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
        && is_string(&object.schema_type)
    {
        // A header is sent or not; it is never `null`.
        if matches!(parameter.parameter_in, ParameterIn::Header) {
            object.schema_type = SchemaType::Type(Type::String);
        }
    }
    if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
        && is_string(&object.schema_type)
        && object.format.is_none()
        && object.enum_values.is_none()
        && object.pattern.is_none()
    {
        object.pattern = Some(pattern.into());
        if max_length.is_some() && object.max_length.is_none() {
            object.max_length = max_length;
        }
    }
}

/// The same for bodies: a batch operation is one of its variants exactly (each refuses
/// unknown fields); a search's `q` is plain text.
fn constrain_schema(name: &str, schema: &mut RefOr<Schema>) {
    match schema {
        RefOr::T(Schema::OneOf(one_of)) if name.ends_with("BatchOperation") => {
            for variant in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = variant {
                    object.additional_properties =
                        Some(Box::new(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
                }
            }
        }
        RefOr::T(Schema::Object(object)) => {
            if let Some(RefOr::T(Schema::Object(q))) = object.properties.get_mut("q")
                && is_string(&q.schema_type)
                && q.pattern.is_none()
            {
                q.pattern = Some(PLAIN_TEXT.into());
            }
        }
        _ => {}
    }
}

fn header(description: &str, integer: bool) -> utoipa::openapi::header::Header {
    let kind = if integer { Type::Integer } else { Type::String };
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(SchemaType::Type(kind)))
        .description(Some(description))
        .build()
}

/// Error answers most operations share word for word, declared once under
/// `components/responses` and referred to (the document is a third smaller for it).
const SHARED_RESPONSES: [(&str, &str); 3] =
    [("401", "Unauthenticated"), ("429", "RateLimited"), ("503", "Unavailable")];

fn finish_operation(
    operation: &mut Operation,
    shared: &mut std::collections::BTreeMap<String, RefOr<utoipa::openapi::response::Response>>,
) {
    let public = operation.operation_id.as_deref().is_some_and(|id| PUBLIC_OPERATIONS.contains(&id));
    if public {
        operation.security = Some(Vec::new());
    }
    let idempotent = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.name == "Idempotency-Key" && matches!(p.parameter_in, ParameterIn::Header));
    // Every body can come too big or in another type; the server says so the same way.
    if operation.request_body.is_some() {
        for (status, description) in [("413", "Body too large"), ("415", "Body is not JSON")] {
            operation.responses.responses.entry(status.into()).or_insert_with(|| {
                utoipa::openapi::ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        utoipa::openapi::ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                    )
                    .build()
                    .into()
            });
        }
    }
    for (status, response) in &mut operation.responses.responses {
        let RefOr::T(response) = response else { continue };
        let headers = &mut response.headers;
        headers
            .insert("X-Request-Id".into(), header("The request's id, as in problem bodies and the server log", false));
        headers.insert("RateLimit-Limit".into(), header("Requests allowed per window", true));
        headers.insert("RateLimit-Remaining".into(), header("Requests left in this window", true));
        headers.insert("RateLimit-Reset".into(), header("Seconds until the window resets", true));
        if status == "429" || status == "503" {
            headers.insert("Retry-After".into(), header("Seconds to wait before retrying", true));
        }
        if idempotent && status.starts_with('2') {
            headers.insert(
                "Idempotent-Replayed".into(),
                header(
                    "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
                    false,
                ),
            );
        }
    }
    for (status, name) in SHARED_RESPONSES {
        let Some(RefOr::T(response)) = operation.responses.responses.get(status) else { continue };
        let common = crate::error::CommonErrors::responses();
        if common.get(status).is_some_and(|c| matches!(c, RefOr::T(c) if c.description == response.description)) {
            let response = response.clone();
            shared.entry(name.to_owned()).or_insert(RefOr::T(response));
            operation
                .responses
                .responses
                .insert(status.into(), Ref::new(format!("#/components/responses/{name}")).into());
        }
    }
    if let Some(body) = operation.request_body.as_mut()
        && let Some(multipart) = body.content.get_mut("multipart/form-data")
    {
        multipart.encoding.insert("file".into(), EncodingBuilder::new().content_type(Some("text/csv")).build());
        multipart
            .encoding
            .insert("options".into(), EncodingBuilder::new().content_type(Some("application/json")).build());
    }
}

/// Id-named properties that hold something else: a role's id is its name, and the forecast
/// echoes its `owner_id` filter as given.
const NOT_UUIDS: [(&str, &str); 4] =
    [("RoleView", "id"), ("ForecastView", "owner_id"), ("ForecastView", "pipeline_id"), ("EmailView", "message_id")];

/// Every record, user, team, key and definition id is a UUID (v7); a role's id is its name.
fn is_uuid(name: &str) -> bool {
    (name == "id" || name.ends_with("_id") || name.ends_with("_ids")) && name != "role_id"
}

/// A UUID, or the empty string (in a record body: the reference cleared).
const UUID_OR_BLANK: &str = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$";

fn mark_uuid_or_blank(schema: &mut RefOr<Schema>) {
    if let RefOr::T(Schema::Object(object)) = schema
        && is_string(&object.schema_type)
    {
        object.pattern = Some(UUID_OR_BLANK.into());
    }
}

/// Declares a string (or a list of strings) as `format: uuid`.
fn mark_uuid(schema: &mut RefOr<Schema>) {
    match schema {
        RefOr::T(Schema::Object(object)) if is_string(&object.schema_type) => {
            object.format = Some(SchemaFormat::Custom("uuid".into()));
        }
        RefOr::T(Schema::Array(array)) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                mark_uuid(items);
            }
        }
        _ => {}
    }
}

fn is_string(schema_type: &SchemaType) -> bool {
    match schema_type {
        SchemaType::Type(Type::String) => true,
        SchemaType::Array(types) => types.contains(&Type::String),
        _ => false,
    }
}

/// Gives each JSON success answer without an example one built from its schema.
fn add_examples(operation: &mut Operation, schemas: &serde_json::Map<String, serde_json::Value>) {
    for (status, response) in &mut operation.responses.responses {
        let RefOr::T(response) = response else { continue };
        if !status.starts_with('2') {
            continue;
        }
        let Some(content) = response.content.get_mut("application/json") else { continue };
        if content.example.is_some() || !content.examples.is_empty() {
            continue;
        }
        let schema = content.schema.as_ref().and_then(|schema| serde_json::to_value(schema).ok());
        content.example = schema.and_then(|schema| crate::openapi_examples::example_of(&schema, schemas));
    }
}

/// utoipa inlines a generic's argument; a `Page_X` refers to `X` instead, so generated clients
/// get one model per item type.
fn refer_page_items(schemas: &mut std::collections::BTreeMap<String, RefOr<Schema>>) {
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in &names {
        let Some(item) = name.strip_prefix("Page_").filter(|item| names.iter().any(|n| n == item)) else { continue };
        if let Some(RefOr::T(Schema::Object(page))) = schemas.get_mut(name)
            && let Some(RefOr::T(Schema::Array(data))) = page.properties.get_mut("data")
        {
            data.items = ArrayItems::RefOrSchema(Box::new(Ref::from_schema_name(item).into()));
        }
    }
}

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Open CRM API",
        version = "1.0.0",
        description = "A CRM as a JSON REST API.\n\nConventions: JSON bodies with snake_case fields; unknown body fields and query parameters are refused (400). Lists are keyset-paginated (`limit`, `cursor`, answer `{data, next_cursor}`). Errors are RFC 9457 problem+json with `request_id` and, for validation, `errors[]`. `ETag`/`If-Match` give optimistic concurrency; `Idempotency-Key` makes POSTs safe to retry. Every answer carries `X-Request-Id` and `RateLimit-Limit`/`RateLimit-Remaining`/`RateLimit-Reset`.",
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::forms::list,
        routes::forms::create,
        routes::forms::get,
        routes::forms::update,
        routes::forms::delete,
        routes::forms::submit,
        routes::rules::list_scoring,
        routes::rules::create_scoring,
        routes::rules::get_scoring,
        routes::rules::update_scoring,
        routes::rules::delete_scoring,
        routes::rules::list_assignment,
        routes::rules::create_assignment,
        routes::rules::get_assignment,
        routes::rules::update_assignment,
        routes::rules::delete_assignment,
        routes::service_levels::list_calendars,
        routes::service_levels::create_calendar,
        routes::service_levels::get_calendar,
        routes::service_levels::update_calendar,
        routes::service_levels::delete_calendar,
        routes::service_levels::list_policies,
        routes::service_levels::create_policy,
        routes::service_levels::get_policy,
        routes::service_levels::update_policy,
        routes::service_levels::delete_policy,
        routes::service_levels::ticket_sla,
        routes::service_levels::service_report,
        routes::overview::contact_overview,
        routes::surveys::list,
        routes::surveys::create,
        routes::surveys::get,
        routes::surveys::update,
        routes::surveys::delete,
        routes::surveys::send,
        routes::surveys::results,
        routes::surveys::question,
        routes::surveys::answer,
        routes::pipelines::list,
        routes::pipelines::create,
        routes::pipelines::get,
        routes::pipelines::update,
        routes::pipelines::delete,
        routes::pipelines::delete_stage,
        routes::pipelines::board,
        routes::audit::audit_log,
        routes::events::list,
        routes::jobs::list,
        routes::jobs::get,
        routes::jobs::retry,
        routes::jobs::cancel,
        routes::jobs::enqueue_probes,
        routes::jobs::probe_report,
        routes::merge::contact_duplicates,
        routes::merge::company_duplicates,
        routes::merge::merge_contacts,
        routes::merge::merge_companies,
        routes::auth::login,
        routes::auth::refresh,
        routes::auth::logout,
        routes::auth::me,
        routes::users::list,
        routes::users::create,
        routes::users::get,
        routes::users::update,
        routes::teams::list,
        routes::teams::create,
        routes::teams::get,
        routes::teams::update,
        routes::teams::delete,
        routes::teams::add_member,
        routes::teams::remove_member,
        routes::roles::list,
        routes::roles::create,
        routes::roles::get,
        routes::roles::update,
        routes::roles::delete,
        routes::api_keys::list,
        routes::api_keys::create,
        routes::api_keys::get,
        routes::api_keys::revoke,
        routes::custom_fields::list,
        routes::custom_fields::create,
        routes::custom_fields::get,
        routes::custom_fields::update,
        routes::imports::create,
        routes::imports::list,
        routes::imports::get,
        routes::imports::errors,
        routes::webhooks::list,
        routes::webhooks::create,
        routes::webhooks::get,
        routes::webhooks::update,
        routes::webhooks::delete,
        routes::webhooks::rotate,
        routes::webhooks::deliveries,
        routes::webhooks::delivery,
        routes::webhooks::replay,
        routes::webhooks::replay_since,
        routes::workflows::list,
        routes::workflows::create,
        routes::workflows::get,
        routes::workflows::update,
        routes::workflows::delete,
        routes::workflows::test,
        routes::workflows::start,
        routes::workflows::runs,
        routes::workflows::get_run,
        routes::workflows::cancel,
        routes::workflows::retry,
        routes::email_templates::list,
        routes::email_templates::create,
        routes::email_templates::get,
        routes::email_templates::update,
        routes::email_templates::delete,
        routes::email_templates::preview,
        routes::email_templates::send,
        routes::email_templates::get_email,
        routes::comments::list,
        routes::comments::create,
        routes::comments::get,
        routes::comments::update,
        routes::comments::delete,
        routes::comments::feed,
        routes::comments::unread_count,
        routes::comments::read,
        routes::comments::read_all,
        routes::comments::preferences,
        routes::comments::update_preferences,
    ),
    components(schemas(Problem, FieldProblem, DuplicateRef, domain::activity::DueWindow, domain::filter_doc::FilterNode)),
    tags(
        (name = "auth", description = "Sign in, refresh, sign out, who am I"),
        (name = "forms", description = "Web forms and their public submission endpoint"),
        (name = "lead-rules", description = "Scoring and assignment rules for leads (admins only)"),
        (name = "pipelines", description = "Pipelines, stages and boards"),
        (name = "users", description = "Users (admins only)"),
        (name = "teams", description = "Teams that share visibility (admins only)"),
        (name = "roles", description = "Roles and their grants (admins only)"),
        (name = "api-keys", description = "API keys for scripts"),
        (name = "custom fields", description = "Admin-defined fields per record type"),
        (name = "audit", description = "The audit log (admins only)"),
        (name = "events", description = "The feed of domain events, for integrators who poll"),
        (name = "jobs", description = "The background job queue (admins only)"),
        (name = "imports", description = "CSV imports as background jobs, with progress and error reports"),
        (name = "comments", description = "Comments on any record, with @mentions"),
        (name = "notifications", description = "Your notification feed and preferences"),
        (name = "email", description = "Email templates, previews and sending over SMTP"),
        (name = "webhooks", description = "Outbound webhooks signed per Standard Webhooks, their delivery log and replays (admins only)"),
        (name = "workflows", description = "Workflows: a trigger, conditions and steps that act as a user; dry runs and the run log"),
        (name = "service-levels", description = "Business calendars and SLA policies for tickets (admins only)"),
        (name = "surveys", description = "NPS, CES and CSAT surveys: sending, the public single-use answer link, results"),
        (name = "operations", description = "Health probes"),
    )
)]
pub struct ApiDoc;

/// The API's document: the operations above, every record type's own (from its
/// [`routes::RecordApi`], so a record type's routes and its documentation come from one
/// declaration), then the document-wide finish.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let mut tags = doc.tags.take().unwrap_or_default();
    let rest = tags.split_off(1.min(tags.len()));
    for api in routes::RECORD_APIS.iter().rev() {
        let mut own = (api.document)();
        tags.extend(own.tags.take().unwrap_or_default());
        doc.merge(own);
    }
    tags.extend(rest);
    doc.tags = Some(tags);
    BearerAuth.modify(&mut doc);
    Finish.modify(&mut doc);
    doc
}

/// The document as pretty JSON, as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    document().to_pretty_json().unwrap_or_default()
}
