//! End-to-end tests: every scenario runs against SQLite and PostgreSQL.

mod e2e {
    mod access;
    mod app_layer;
    mod articles;
    mod audit;
    mod auth;
    mod batch;
    mod comments;
    mod contacts;
    mod custom_fields;
    mod email;
    mod errors;
    mod events;
    mod forecast;
    mod hardening;
    mod imports;
    mod jobs;
    mod limits;
    mod merge;
    mod metrics;
    mod openapi;
    mod products;
    mod registry;
    mod retention;
    mod sales;
    mod search;
    mod startup;
    mod surveys;
    mod tickets;
    mod webhooks;
    mod workflows;
}
