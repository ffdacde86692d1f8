//! HTTP resources, one module each; `configure` mounts them under `/api/v1`.

use actix_web::web;

pub mod api_keys;
pub mod auth;
pub mod common;
pub mod companies;
pub mod contacts;
pub mod health;
pub mod roles;
pub mod teams;
pub mod users;

/// Mounts every `/api/v1` resource.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .configure(auth::routes)
        .configure(users::routes)
        .configure(teams::routes)
        .configure(roles::routes)
        .configure(api_keys::routes)
        .configure(contacts::routes)
        .configure(companies::routes);
}
