//! The storage layer's one error type, classified for the API's status table.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What went wrong in storage, in the terms a caller acts on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row (or not visible to the caller).
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule was hit; the text names what clashed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row changed since the caller read it (`If-Match` no longer holds).
    #[error("the record was changed by someone else")]
    Stale,
    /// The database cannot be reached or is overloaded; worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data; the detail goes to the log, never to the client.
    #[error("internal storage error: {0}")]
    Internal(String),
}

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

impl From<DieselError> for StoreError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(kind, info) => {
                let what = info.constraint_name().map_or_else(|| info.message().to_owned(), str::to_owned);
                match kind {
                    DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::ForeignKeyViolation => {
                        StoreError::Conflict(what)
                    }
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::SerializationFailure => {
                        StoreError::Unavailable(info.message().to_owned())
                    }
                    // SQLite reports a held write lock past busy_timeout as a plain error.
                    _ if info.message().contains("database is locked") => {
                        StoreError::Unavailable(info.message().to_owned())
                    }
                    _ => StoreError::Internal(format!("{kind:?}: {}", info.message())),
                }
            }
            DieselError::BrokenTransactionManager => StoreError::Unavailable(error.to_string()),
            other => StoreError::Internal(other.to_string()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(error: r2d2::Error) -> Self {
        StoreError::Unavailable(error.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Internal(format!("stored JSON is unreadable: {error}"))
    }
}
