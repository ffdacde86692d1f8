//! Storage for the CRM: diesel over SQLite (embedded default) and PostgreSQL, one code path.
//!
//! Architecture invariant: only this crate knows SQL and the two backends. Backend
//! differences are confined to `connection.rs` (opening and preparing connections),
//! `Store::write` (SQLite's single writer) and `Store::migrate` (PostgreSQL's advisory lock).
//! Repository functions take a `&mut DbConnection`, so they compose inside one transaction.

pub mod activities;
pub mod articles;
pub mod audit;
pub mod auth;
pub mod comments;
pub mod companies;
pub mod connection;
pub mod contacts;
pub mod custom_fields;
pub mod deals;
pub mod definitions;
pub mod emails;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod imports;
pub mod jobs;
pub mod keys;
pub mod leads;
pub mod links;
pub mod locks;
pub mod maintenance;
pub mod notify;
pub mod pipelines;
pub mod products;
pub mod rate_windows;
mod records;
pub mod roles;
mod schema;
pub mod search;
pub mod security;
pub mod settings;
mod sql;
pub mod store;
pub mod surveys;
pub mod tasks;
pub mod teams;
pub mod text_search;
pub mod tickets;
pub mod users;
pub mod webhooks;
pub mod workflows;

pub use connection::{Backend, DatabaseUrl, DbConnection};
pub use error::{StoreError, StoreResult};
pub use records::{InsertManyFn, record_ownership};
pub use store::{Store, StoreOptions};

use chrono::{DateTime, NaiveDateTime, Utc};

/// The backend type queries are built for.
pub(crate) type Db = <DbConnection as diesel::Connection>::Backend;

/// Rows per multi-row INSERT: at about 25 columns a row, well under the bind-parameter limits
/// of both backends (SQLite 32,766, PostgreSQL 65,535).
pub(crate) const ROWS_PER_INSERT: usize = 1000;

/// A new time-ordered, unguessable identifier (UUIDv7), as the API shows it.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// UTC wall time at microsecond precision, the finer of the two backends' common ground
/// (PostgreSQL keeps microseconds, SQLite whatever it is given).
pub(crate) fn to_db_time(time: DateTime<Utc>) -> NaiveDateTime {
    let naive = time.naive_utc();
    DateTime::from_timestamp_micros(time.timestamp_micros()).map_or(naive, |t| t.naive_utc())
}

pub(crate) fn from_db_time(time: NaiveDateTime) -> DateTime<Utc> {
    time.and_utc()
}

/// The LIKE pattern for a substring search.
pub(crate) fn contains_pattern(text: &str) -> String {
    format!("%{}%", crate::escape_like(text))
}

/// Escapes `%`, `_` and `\` for a LIKE pattern used with `ESCAPE '\'`.
pub(crate) fn escape_like(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Text of a serde enum (`"web_form"`), for storage.
pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    match serde_json::to_value(value)? {
        serde_json::Value::String(text) => Ok(text),
        other => Err(StoreError::Internal(format!("enum stored as non-string {other}"))),
    }
}

/// The serde enum named by stored text.
pub(crate) fn text_enum<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    Ok(serde_json::from_value(serde_json::Value::String(text.to_owned()))?)
}
