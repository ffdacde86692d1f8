//! CRM types and business rules. No I/O: no database, no HTTP, no clock reads.
//!
//! Architecture invariant: this crate depends on no diesel, actix or I/O crate. Everything
//! here is a pure function of its inputs and is unit-tested in place.

pub mod access;
pub mod activity;
pub mod article;
pub mod audit;
pub mod calendar;
pub mod columns;
pub mod comment;
pub mod company;
pub mod contact;
pub mod csv;
pub mod custom;
pub mod deal;
pub mod duplicates;
pub mod email;
pub mod events;
pub mod field_values;
pub mod fields;
pub mod filter;
pub mod filter_doc;
pub mod form;
pub mod import;
pub mod jobs;
pub mod lead;
pub mod listing;
pub mod product;
pub mod record;
pub mod registry;
pub mod sla;
pub mod survey;
pub mod ticket;
pub mod user;
pub mod validation;
pub mod values;
pub mod webhook;
pub mod win_history;
pub mod workflow;

pub use validation::{FieldError, ValidationErrors};
