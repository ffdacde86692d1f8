//! The connection pool, migrations, and the two ways to use a connection: read and write.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::{Backend, ConnectionManager, DatabaseUrl, DbConnection};
use crate::error::{StoreError, StoreResult};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

/// Arbitrary but fixed: every process migrating the same PostgreSQL database takes this lock.
const MIGRATION_LOCK_KEY: i64 = 0x0c4d_0001;

/// The transaction manager behind `DbConnection`.
type Manager = <DbConnection as Connection>::TransactionManager;

/// Prepares the database, retrying briefly while another process that is starting on the
/// same fresh SQLite file holds it locked (seen as "database is locked" under load).
fn prepare_with_retry(manager: &ConnectionManager) -> StoreResult<()> {
    let mut attempt = 0;
    loop {
        match manager.prepare_database() {
            Ok(()) => return Ok(()),
            Err(error) if attempt < 10 && error.to_string().contains("database is locked") => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(100 * attempt));
            }
            Err(error) => return Err(StoreError::Unavailable(error.to_string())),
        }
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections open at once; keep at or below the threads that block on the pool.
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub checkout_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 8, checkout_timeout: Duration::from_secs(5) }
    }
}

/// Shared access to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<ConnectionManager>,
    backend: Backend,
    /// SQLite allows one writer; taking this in-process lock before `BEGIN` avoids the
    /// reader-to-writer upgrade deadlock that busy_timeout cannot resolve.
    sqlite_writer: Option<Arc<Mutex<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool; fails at once with the database's own message when it is unreachable.
    pub fn open(url: &DatabaseUrl, options: &StoreOptions) -> StoreResult<Self> {
        prepare_with_retry(&ConnectionManager::new(url.clone()))?;
        let pool = r2d2::Pool::builder()
            .max_size(options.max_connections)
            .min_idle(Some(1))
            // No `SELECT 1` round trip on every checkout; broken connections are detected by
            // `has_broken` and replaced.
            .test_on_check_out(false)
            .connection_timeout(options.checkout_timeout)
            // The database was reached above; build_unchecked avoids r2d2's generic
            // timeout message hiding a real error.
            .build_unchecked(ConnectionManager::new(url.clone()));
        let backend = url.backend();
        let sqlite_writer = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Self { pool, backend, sqlite_writer })
    }

    /// The pool's connections: open, and idle among them.
    pub fn pool_figures(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn connection(&self) -> StoreResult<r2d2::PooledConnection<ConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` on a pooled connection with no transaction: for reads, which need no
    /// BEGIN/COMMIT round trips.
    pub fn read<T, E: From<StoreError>>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E> {
        let mut connection = self.connection()?;
        f(&mut connection)
    }

    /// Runs `f` in one transaction; any error, the caller's own included, rolls it all back.
    pub fn write<T, E: From<StoreError>>(&self, f: impl FnOnce(&mut DbConnection) -> Result<T, E>) -> Result<T, E> {
        self.transaction(None, f)
    }

    /// Like [`Store::write`], but transactions passing the same `lock` run one after the other
    /// across every process sharing the database (start-up steps such as seeding roles).
    pub fn write_serialized<T, E: From<StoreError>>(
        &self,
        lock: i64,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        self.transaction(Some(lock), f)
    }

    fn transaction<T, E: From<StoreError>>(
        &self,
        lock: Option<i64>,
        f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut pooled = self.connection()?;
        let connection: &mut DbConnection = &mut pooled;
        // In-process writers queue on a mutex rather than on SQLite's sleeping busy handler.
        // A poisoned lock only means another writer panicked; the database is intact.
        let _writer =
            self.sqlite_writer.as_ref().map(|lock| lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let begun = match &mut *connection {
            // IMMEDIATE takes the write lock up front, so a writer in another process waits
            // (busy_timeout) instead of failing later on a read-to-write upgrade. SQLite
            // writers are serialised anyway, which makes `lock` moot there.
            DbConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE"),
            DbConnection::Postgresql(inner) => {
                AnsiTransactionManager::begin_transaction(inner).and_then(|()| match lock {
                    Some(key) => {
                        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({key})")).execute(inner).map(drop)
                    }
                    None => Ok(()),
                })
            }
        };
        if let Err(error) = begun {
            let _ = Manager::rollback_transaction(connection);
            return Err(StoreError::from(error).into());
        }
        match f(connection) {
            Ok(value) => match Manager::commit_transaction(connection) {
                Ok(()) => Ok(value),
                Err(error) => {
                    let _ = Manager::rollback_transaction(connection);
                    Err(StoreError::from(error).into())
                }
            },
            Err(error) => {
                let _ = Manager::rollback_transaction(connection);
                Err(error)
            }
        }
    }

    fn migrations(&self) -> EmbeddedMigrations {
        match self.backend {
            Backend::Postgres => POSTGRES_MIGRATIONS,
            Backend::Sqlite => SQLITE_MIGRATIONS,
        }
    }

    /// Applies pending migrations; on PostgreSQL under an advisory lock so several processes
    /// may start at once. Returns the versions applied.
    pub fn migrate(&self) -> StoreResult<Vec<String>> {
        let migrations = self.migrations();
        let run = |conn: &mut DbConnection| {
            conn.run_pending_migrations(migrations)
                .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
                .map_err(|e| StoreError::Internal(format!("migration failed: {e}")))
        };
        match self.backend {
            // Each migration runs in a savepoint of one IMMEDIATE transaction, so a second
            // process finds them applied instead of racing to run them too.
            Backend::Sqlite => self.write(run),
            // A session lock, held across the migrations' own transactions.
            Backend::Postgres => {
                let mut connection = self.connection()?;
                connection.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
                let applied = run(&mut connection);
                connection.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))?;
                applied
            }
        }
    }

    /// True when the database answers and every migration is applied (`/readyz`).
    pub fn is_ready(&self) -> StoreResult<bool> {
        let mut connection = self.connection()?;
        connection
            .has_pending_migration(self.migrations())
            .map(|pending| !pending)
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }
}

/// Runs `f` inside a savepoint of the open transaction: an error from `f` undoes only what
/// `f` wrote, and the transaction goes on (one bad import row among many good ones).
pub fn savepoint<T, E: From<StoreError>>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E> {
    enum Failure<E> {
        Caller(E),
        Database(diesel::result::Error),
    }
    impl<E> From<diesel::result::Error> for Failure<E> {
        fn from(error: diesel::result::Error) -> Self {
            Failure::Database(error)
        }
    }
    conn.transaction::<T, Failure<E>, _>(|inner| f(inner).map_err(Failure::Caller)).map_err(|failure| match failure {
        Failure::Caller(error) => error,
        Failure::Database(error) => StoreError::from(error).into(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    fn migration_names(backend: &str) -> BTreeSet<String> {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(backend);
        std::fs::read_dir(folder)
            .map(|entries| {
                entries.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let postgres = migration_names("postgres");
        assert!(!postgres.is_empty());
        assert_eq!(postgres, migration_names("sqlite"));
    }
}
