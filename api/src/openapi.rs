//! The OpenAPI 3.1 document, generated from the handlers and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Open CRM API",
        version = "1.0.0",
        description = "A CRM as a JSON REST API.\n\nConventions: JSON bodies with snake_case fields; unknown body fields and query parameters are refused (400). Lists are keyset-paginated (`limit`, `cursor`, answer `{data, next_cursor}`). Errors are RFC 9457 problem+json with `request_id` and, for validation, `errors[]`. `ETag`/`If-Match` give optimistic concurrency; `Idempotency-Key` makes POSTs safe to retry. Every answer carries `X-Request-Id` and `RateLimit-Limit`/`RateLimit-Remaining`/`RateLimit-Reset`.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        routes::health::healthz,
        routes::health::readyz,
        routes::contacts::list,
        routes::contacts::create,
        routes::contacts::get,
        routes::contacts::update,
        routes::contacts::delete,
        routes::contacts::restore,
        routes::companies::list,
        routes::companies::create,
        routes::companies::get,
        routes::companies::update,
        routes::companies::delete,
        routes::companies::restore,
        routes::companies::list_contacts,
        routes::contacts::contact_timeline,
        routes::companies::company_timeline,
        routes::leads::list,
        routes::leads::create,
        routes::leads::get,
        routes::leads::update,
        routes::leads::delete,
        routes::leads::restore,
        routes::leads::score,
        routes::leads::record_event,
        routes::leads::convert,
        routes::leads::lead_timeline,
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
        routes::pipelines::list,
        routes::pipelines::create,
        routes::pipelines::get,
        routes::pipelines::update,
        routes::pipelines::delete,
        routes::pipelines::delete_stage,
        routes::pipelines::board,
        routes::deals::list,
        routes::deals::create,
        routes::deals::get,
        routes::deals::update,
        routes::deals::delete,
        routes::deals::restore,
        routes::deals::stage_changes,
        routes::deals::deal_timeline,
        routes::deals::forecast,
        routes::activities::list,
        routes::activities::create,
        routes::activities::get,
        routes::activities::update,
        routes::activities::delete,
        routes::activities::restore,
        routes::activities::follow_up_task,
        routes::tasks::list,
        routes::tasks::create,
        routes::tasks::get,
        routes::tasks::update,
        routes::tasks::delete,
        routes::tasks::restore,
        routes::tasks::acknowledge,
        routes::tasks::due_reminders,
        routes::audit::audit_log,
        routes::merge::contact_duplicates,
        routes::merge::company_duplicates,
        routes::merge::merge_contacts,
        routes::merge::merge_companies,
        routes::audit::contact_history,
        routes::audit::company_history,
        routes::audit::lead_history,
        routes::audit::deal_history,
        routes::audit::activity_history,
        routes::audit::task_history,
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
        routes::search::search_contacts,
        routes::search::search_companies,
        routes::search::search_leads,
        routes::search::search_deals,
        routes::exports::export_contacts,
        routes::exports::export_contacts_search,
        routes::exports::export_companies,
        routes::exports::export_companies_search,
        routes::exports::export_leads,
        routes::exports::export_leads_search,
        routes::exports::export_deals,
        routes::exports::export_deals_search,
        routes::imports::create,
        routes::imports::list,
        routes::imports::get,
        routes::imports::errors,
    ),
    components(schemas(Problem, FieldProblem, DuplicateRef, domain::activity::DueWindow, routes::search::FilterNode)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign in, refresh, sign out, who am I"),
        (name = "contacts", description = "People"),
        (name = "companies", description = "Organisations (accounts)"),
        (name = "leads", description = "Prospects as captured: status, score, conversion"),
        (name = "forms", description = "Web forms and their public submission endpoint"),
        (name = "lead-rules", description = "Scoring and assignment rules for leads (admins only)"),
        (name = "pipelines", description = "Pipelines, stages and boards"),
        (name = "deals", description = "Deals, stage history and the forecast"),
        (name = "activities", description = "Emails, calls, meetings, chats, social messages and notes"),
        (name = "tasks", description = "Tasks and reminders"),
        (name = "users", description = "Users (admins only)"),
        (name = "teams", description = "Teams that share visibility (admins only)"),
        (name = "roles", description = "Roles and their grants (admins only)"),
        (name = "api-keys", description = "API keys for scripts"),
        (name = "custom fields", description = "Admin-defined fields per record type"),
        (name = "audit", description = "The audit log (admins only)"),
        (name = "imports", description = "CSV imports as background jobs, with progress and error reports"),
        (name = "operations", description = "Health probes"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON, as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}
