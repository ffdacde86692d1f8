//! HTTP resources, one module each; `configure` mounts them under `/api/v1`.

use actix_web::web;

pub mod activities;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod common;
pub mod companies;
pub mod contacts;
pub mod custom_fields;
pub mod deals;
pub mod exports;
pub mod forms;
pub mod health;
pub mod imports;
pub mod leads;
pub mod merge;
pub mod pipelines;
pub mod roles;
pub mod rules;
pub mod search;
pub mod tasks;
pub mod teams;
pub mod timeline;
pub mod users;

/// Mounts every `/api/v1` resource.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .configure(batch::routes)
        .configure(search::routes)
        .configure(exports::routes)
        .configure(custom_fields::routes)
        .configure(imports::routes)
        .configure(auth::routes)
        .configure(users::routes)
        .configure(teams::routes)
        .configure(roles::routes)
        .configure(api_keys::routes)
        .configure(contacts::routes)
        .configure(companies::routes)
        .configure(leads::routes)
        .configure(forms::routes)
        .configure(rules::routes)
        .configure(pipelines::routes)
        .configure(deals::routes)
        .configure(activities::routes)
        .configure(tasks::routes)
        .configure(timelines)
        .configure(audit::routes)
        .configure(merge::routes);
}

/// Timelines of the record types that existed before leads and deals.
fn timelines(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/contacts/{id}/timeline").route(web::get().to(contacts::contact_timeline)))
        .service(web::resource("/companies/{id}/timeline").route(web::get().to(companies::company_timeline)));
}
