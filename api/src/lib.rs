//! The CRM's HTTP API.
//!
//! Architecture invariant: only this crate knows HTTP. Handlers parse, authorise, call
//! `domain` and `persistence`, and map the result; they build no SQL and hold no rules.

pub mod audit;
pub mod config;
pub mod credentials;
pub mod definitions;
pub mod duplicates;
pub mod error;
pub mod extract;
pub mod guard;
pub mod import_worker;
pub mod imports;
pub mod kinds;
pub mod middleware;
pub mod openapi;
pub mod openapi_examples;
pub mod principals;
pub mod records;
pub mod routes;
pub mod sales;
pub mod startup;
pub mod state;
pub mod support;
