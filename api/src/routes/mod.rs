//! HTTP resources, one module each; `configure` mounts them under `/api/v1`.

use actix_web::web;

pub mod activities;
pub mod api_keys;
pub mod articles;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod comments;
pub mod common;
pub mod companies;
pub mod contacts;
pub mod custom_fields;
pub mod deals;
pub mod email_templates;
pub mod events;
pub mod exports;
pub mod forms;
pub mod health;
pub mod imports;
pub mod jobs;
pub mod leads;
pub mod merge;
pub mod metrics;
pub mod newest_first;
pub mod overview;
pub mod pipelines;
pub mod products;
pub mod roles;
pub mod rules;
pub mod search;
pub mod service_levels;
pub mod surveys;
pub mod tasks;
pub mod teams;
pub mod tickets;
pub mod timeline;
pub mod users;
pub mod webhooks;
pub mod workflows;

/// What the API mounts and documents for one declared record type, declared in the type's
/// own routes module; [`RECORD_APIS`] lists them.
pub struct RecordApi {
    pub spec: &'static domain::registry::RecordTypeSpec,
    /// Mounts its resources (the generic ones before `/{id}`, which would match them).
    pub routes: fn(&mut web::ServiceConfig),
    /// Its operations and tag.
    pub document: fn() -> utoipa::openapi::OpenApi,
    /// How one CSV row becomes a record, if the type can be imported.
    pub import: Option<app::imports::ImportStep>,
    /// How a merge-patch body changes one record as PATCH does (workflow steps), if the type
    /// has an `Importable` that says how.
    pub patch: Option<app::imports::PatchStep>,
}

/// The API's views as the application layer writes them into history (and, next, events).
#[derive(Debug)]
pub struct ApiViews;

impl app::views::Views for ApiViews {
    type Contact = contacts::ContactView;
    type Company = companies::CompanyView;
    type Lead = leads::LeadView;
    type Deal = deals::DealView;
    type CustomField = custom_fields::CustomFieldView;
    type Activity = activities::ActivityView;
    type Task = tasks::TaskView;
    type Ticket = tickets::TicketView;
    type Article = articles::ArticleView;
}

/// Every record type's API, in the registry's order (a test checks they agree).
pub const RECORD_APIS: [&RecordApi; 9] = [
    &tickets::API,
    &tasks::API,
    &activities::API,
    &deals::API,
    &leads::API,
    &contacts::API,
    &companies::API,
    &products::API,
    &articles::API,
];

/// The API of the record type with this registry entry.
pub fn record_api(spec: &domain::registry::RecordTypeSpec) -> Option<&'static RecordApi> {
    RECORD_APIS.into_iter().find(|api| api.spec == spec)
}

/// Mounts every `/api/v1` resource.
pub fn configure(config: &mut web::ServiceConfig) {
    for api in RECORD_APIS {
        config.configure(api.routes);
    }
    config
        .configure(custom_fields::routes)
        .configure(imports::routes)
        .configure(auth::routes)
        .configure(users::routes)
        .configure(teams::routes)
        .configure(roles::routes)
        .configure(api_keys::routes)
        .configure(forms::routes)
        .configure(rules::routes)
        .configure(service_levels::routes)
        .configure(overview::routes)
        .configure(surveys::routes)
        .configure(pipelines::routes)
        .configure(audit::routes)
        .configure(events::routes)
        .configure(jobs::routes)
        .configure(merge::routes)
        .configure(webhooks::configure)
        .configure(workflows::configure)
        .configure(email_templates::configure)
        .configure(comments::routes)
        .configure(comments::comment_routes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_record_type_has_its_api_in_the_same_order() {
        let apis: Vec<&str> = RECORD_APIS.iter().map(|api| api.spec.noun).collect();
        let registered: Vec<&str> = domain::registry::RECORD_TYPES.iter().map(|spec| spec.noun).collect();
        assert_eq!(apis, registered);
    }

    #[test]
    fn every_type_with_csv_columns_can_be_imported() {
        for api in RECORD_APIS {
            assert_eq!(api.import.is_some(), api.spec.fields.iter().any(|f| f.csv.is_some()), "{}", api.spec.noun);
        }
    }
}
