//! The application layer: the business steps of the CRM, run by an [`actor::Actor`] inside
//! a transaction the caller opened (`persistence::Store::write`). HTTP handlers, CSV import
//! rows, workflow steps and jobs all call these, so the same grants, validation,
//! audit rows and follow-ups apply whoever acts.
//!
//! Architecture invariant: this crate knows no HTTP. Its errors ([`error::AppError`]) say what
//! went wrong in business terms; `api` maps them to statuses in one table.

pub mod actor;
pub mod administration;
pub mod audit;
pub mod comments;
pub mod contacts;
pub mod custom_fields;
pub mod deals;
pub mod definitions;
pub mod dispatch;
pub mod duplicates;
pub mod email;
pub mod error;
pub mod events;
pub mod forms;
pub mod imports;
pub mod jobs;
pub mod kinds;
pub mod leads;
pub mod merge;
pub mod overview;
pub mod pipelines;
pub mod records;
pub mod sales;
pub mod secrets;
pub mod service_report;
pub mod sla;
pub mod surveys;
pub mod tickets;
pub mod views;
pub mod webhooks;
pub mod workflows;
