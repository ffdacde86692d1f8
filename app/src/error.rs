//! What a business step can refuse or fail with, in business terms.

use domain::FieldError;
use domain::access::Denied;
use domain::duplicates::DuplicateReason;
use domain::validation::ValidationErrors;
use persistence::StoreError;

/// An existing record a new one looks like, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub id: String,
    pub reasons: Vec<DuplicateReason>,
}

/// Everything a business step can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is not of the expected shape in the named fields (HTTP: 400).
    #[error("{detail}")]
    Malformed { detail: String, errors: Vec<FieldError> },
    /// The actor may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such record, or not one the actor may see.
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with data that exists.
    #[error("{0}")]
    Conflict(String),
    /// A new record looks like existing ones the actor may see.
    #[error("{detail}")]
    Duplicate { detail: String, duplicates: Vec<Duplicate> },
    /// The record is no longer at the version the actor based the change on.
    #[error("{0}")]
    Stale(String),
    /// Field values the rules refuse (HTTP: 422).
    #[error("{}", describe(.0))]
    Invalid(ValidationErrors),
    /// The database cannot be reached; worth a retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The write collided with a concurrent one and was rolled back; safe to run again.
    #[error("{0}")]
    Contended(String),
    /// A fault of ours; the detail is for the log only.
    #[error("{0}")]
    Internal(String),
}

fn describe(errors: &ValidationErrors) -> String {
    match errors.errors() {
        [one] => format!("`{}` {}", one.field, one.message),
        many => format!("{} fields are invalid", many.len()),
    }
}

impl AppError {
    /// Malformed input in one named field.
    pub fn malformed(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::Malformed {
            detail: format!("`{field}` {message}"),
            errors: vec![FieldError::new(field, code, message)],
        }
    }

    /// One refused field value.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid(ValidationErrors::from(FieldError::new(field, code, message)))
    }

    /// "<noun> not found".
    pub fn not_found(what: &str) -> Self {
        AppError::NotFound(format!("{what} not found"))
    }
}

impl From<ValidationErrors> for AppError {
    fn from(errors: ValidationErrors) -> Self {
        AppError::Invalid(errors)
    }
}

impl From<FieldError> for AppError {
    fn from(error: FieldError) -> Self {
        AppError::Invalid(ValidationErrors::from(error))
    }
}

impl From<Denied> for AppError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Invisible => AppError::NotFound("not found".into()),
            Denied::Forbidden(reason) => AppError::Forbidden(reason),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => AppError::NotFound("not found".into()),
            StoreError::Conflict(what) => AppError::Conflict(format!("conflicts with existing data ({what})")),
            StoreError::Stale => AppError::Stale(
                "the record changed since you read it; fetch it again and retry with the new ETag".into(),
            ),
            StoreError::Unavailable(detail) => {
                log::warn!("database unavailable: {detail}");
                AppError::Unavailable("the database is unavailable; retry shortly".into())
            }
            StoreError::Contention(detail) => {
                log::warn!("write rolled back by a concurrent one: {detail}");
                AppError::Contended("a concurrent change to the same records won; retry the request".into())
            }
            StoreError::Internal(detail) => AppError::Internal(detail),
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(error: serde_json::Error) -> Self {
        AppError::Internal(error.to_string())
    }
}
