//! The CRM's HTTP API.
//!
//! Architecture invariant: only this crate knows HTTP. Handlers parse, authorise, call
//! the application layer (`app`), and map the result; they build no SQL and hold no rules.

pub mod config;
pub mod credentials;
pub mod definitions;
pub mod error;
pub mod extract;
pub mod guard;
pub mod import_worker;
pub mod job_worker;
pub mod mailer;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod openapi_examples;
pub mod outbound;
pub mod principals;
pub mod rate_limits;
pub mod records;
pub mod routes;
pub mod startup;
pub mod state;
pub mod support;
pub mod webhook_worker;
pub mod workflow_worker;
