//! One connection type over both backends, chosen by the URL's scheme.
//!
//! The backend is matched on here (the connection, `insert_rows!`), in `Store::write`, and in
//! the few statements each backend spells its own way (text search, row locks).

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};

/// A pooled connection to PostgreSQL or SQLite; queries are written once for both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Inserts many rows into a table (`rows`: a slice of diesel insertables). On PostgreSQL it is a
/// multi-row statement per chunk, a round trip each; on SQLite, where a statement costs no round
/// trip and diesel's batch insert is not available (nor over the two-backend connection), each
/// row is its own cached one-row statement.
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl;
        match $conn {
            crate::DbConnection::Postgresql(pg) => {
                for chunk in $rows.chunks(crate::ROWS_PER_INSERT) {
                    diesel::insert_into($table).values(chunk).execute(pg)?;
                }
            }
            crate::DbConnection::Sqlite(lite) => {
                for row in $rows.iter() {
                    diesel::insert_into($table).values(row).execute(lite)?;
                }
            }
        }
    }};
}
pub(crate) use insert_rows;

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
}

impl DatabaseUrl {
    /// `postgres://…` / `postgresql://…` or `sqlite://path` / `sqlite:path`; anything else is refused
    /// with a message saying what is accepted (diesel's own fallback would silently create a
    /// SQLite file named after a mistyped URL).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self { backend: Backend::Postgres, target: raw.to_owned() });
        }
        if let Some(path) = raw.strip_prefix("sqlite://").or_else(|| raw.strip_prefix("sqlite:")) {
            if path.is_empty() {
                return Err("DATABASE_URL `sqlite://` needs a file path, e.g. sqlite://crm.sqlite3".into());
            }
            return Ok(Self { backend: Backend::Sqlite, target: path.to_owned() });
        }
        let scheme = raw.split_once(':').map_or("(none)", |(scheme, _)| scheme);
        Err(format!(
            "DATABASE_URL has an unsupported scheme `{scheme}`: use postgres://user@host/db or sqlite://path/to/file.sqlite3"
        ))
    }

    /// The engine this URL selects.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL as configured, password included: for handing to another process, never to a log.
    pub fn expose(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => self.target.clone(),
        }
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.target),
            Backend::Postgres => match (self.target.find("://"), self.target.rfind('@')) {
                (Some(start), Some(at)) if at > start => {
                    let credentials = &self.target[start + 3..at];
                    match credentials.split_once(':') {
                        Some((user, _)) => format!("{}{user}:***{}", &self.target[..start + 3], &self.target[at..]),
                        None => self.target.clone(),
                    }
                }
                _ => self.target.clone(),
            },
        }
    }

    pub(crate) fn target(&self) -> &str {
        &self.target
    }
}

/// Opens connections for r2d2 and prepares each one.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    /// A manager for `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }

    /// Opens one connection before the pool does, reporting the database's own error, and
    /// puts a SQLite file in WAL mode (a property of the file, kept across connections).
    pub fn prepare_database(&self) -> Result<(), ConnectError> {
        let mut connection = r2d2::ManageConnection::connect(self)?;
        if let DbConnection::Sqlite(sqlite) = &mut connection {
            sqlite.batch_execute("PRAGMA journal_mode = WAL;")?;
        }
        Ok(())
    }
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<DbConnection, ConnectError> {
        match self.url.backend {
            Backend::Postgres => Ok(DbConnection::Postgresql(PgConnection::establish(self.url.target())?)),
            Backend::Sqlite => {
                let mut connection = SqliteConnection::establish(self.url.target())?;
                // busy_timeout first: the other pragmas may already need the lock.
                // synchronous = FULL because an acknowledged write must survive a power cut.
                // journal_mode is set once per file in `prepare_database`: switching it from
                // several new connections at once fails with "database is locked".
                // The file is memory-mapped (up to 1 GiB, shared through the OS page cache) and
                // each connection caches 16 MB of pages: with the default 2 MB cache and
                // `pread`, a table bigger than the cache spent a quarter of an import's time
                // copying pages in the kernel (perf, 40,000-row import).
                connection.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA mmap_size = 1073741824; PRAGMA cache_size = -16000;",
                )?;
                Ok(DbConnection::Sqlite(connection))
            }
        }
    }

    fn is_valid(&self, connection: &mut DbConnection) -> Result<(), ConnectError> {
        Ok(connection.batch_execute("SELECT 1")?)
    }

    fn has_broken(&self, connection: &mut DbConnection) -> bool {
        match connection {
            DbConnection::Postgresql(c) => c.is_broken(),
            DbConnection::Sqlite(c) => c.is_broken(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_chooses_the_backend() {
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").map(|u| u.backend()), Ok(Backend::Postgres));
        assert_eq!(DatabaseUrl::parse("sqlite://crm.sqlite3").map(|u| u.backend()), Ok(Backend::Sqlite));
        assert_eq!(DatabaseUrl::parse("sqlite:/tmp/x.db").map(|u| u.target().to_owned()), Ok("/tmp/x.db".into()));
    }

    #[test]
    fn unknown_schemes_and_bare_words_are_refused() {
        assert!(DatabaseUrl::parse("mysql://u@h/db").is_err_and(|e| e.contains("`mysql`")));
        assert!(DatabaseUrl::parse("host=x port=1").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_are_redacted_for_logs() {
        let url = DatabaseUrl::parse("postgres://crm:s3cret@db:5432/crm").map(|u| u.redacted());
        assert_eq!(url, Ok("postgres://crm:***@db:5432/crm".to_owned()));
    }
}
