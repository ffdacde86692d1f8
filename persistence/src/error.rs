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
    /// Two transactions collided (a PostgreSQL deadlock or serialization failure) and this one
    /// was rolled back: running it again is safe and will usually succeed.
    #[error("transaction rolled back by a conflicting one: {0}")]
    Contention(String),
    /// The database cannot be reached or is overloaded; worth retrying.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data; the detail goes to the log, never to the client.
    #[error("internal storage error: {0}")]
    Internal(String),
}

/// Messages of errors that mean the database went away or is busy, not that a query is wrong.
const CONNECTION_LOST: [&str; 5] = [
    "database is locked",
    "terminating connection",
    "server closed the connection",
    "no connection to the server",
    "could not receive data from server",
];

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
                    DatabaseErrorKind::SerializationFailure => StoreError::Contention(info.message().to_owned()),
                    // libpq reports SQLSTATE 40P01 as an unknown kind; only its message names it.
                    _ if info.message().contains("deadlock detected") => {
                        StoreError::Contention(info.message().to_owned())
                    }
                    DatabaseErrorKind::ClosedConnection => StoreError::Unavailable(info.message().to_owned()),
                    // SQLite reports a held write lock past busy_timeout as a plain error, and
                    // libpq a connection the server ended (a restart, a dropped database:
                    // SQLSTATE 57P01) as an unknown one; both are worth a retry, not a 500.
                    _ if CONNECTION_LOST.iter().any(|m| info.message().contains(m)) => {
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
