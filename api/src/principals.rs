//! Resolved callers, kept briefly so a request by a known session or API key costs no
//! database round trip before its own work.
//!
//! Correctness rests on one epoch per process: every security change (a session revoked, a
//! user, role, team or API key changed) advances it, and a cached caller is used only while
//! the epoch it was read under is current. The epoch is read *before* the database is, so a
//! caller read just before a change commits is never taken for fresh. Other processes learn
//! of changes through `persistence::security` (PostgreSQL `NOTIFY`, within its poll
//! interval); on SQLite, shared by one process in practice, [`PrincipalCache`]'s lifetime
//! bounds staleness across processes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Advanced by every security change this process makes or hears of. One for the whole
/// process, so several servers in one process (tests, embedding) drop their caches together.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// What a credential resolved to: who acts, and the sign-in session when it was a token.
pub type Resolved = (domain::access::Principal, Option<String>);

/// Most callers kept at once; past it the cache starts again empty.
const MAX_ENTRIES: usize = 10_000;

/// The current epoch, to be read before resolving a caller from the database.
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Acquire)
}

/// Drops every cached caller of this process.
pub fn invalidate_all() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
}

#[derive(Debug, Clone)]
struct Entry<T> {
    caller: T,
    epoch: u64,
    cached_at: Instant,
    /// An API key's expiry: the cached caller must not outlive it.
    expires_at: Option<DateTime<Utc>>,
}

/// Callers by credential (a session, or an API key's hash).
#[derive(Debug)]
pub struct PrincipalCache<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
    lifetime: Duration,
}

impl<T: Clone> PrincipalCache<T> {
    /// A cache keeping each caller at most `lifetime` (zero keeps none).
    pub fn new(lifetime: Duration) -> Self {
        Self { entries: Mutex::new(HashMap::new()), lifetime }
    }

    /// The caller cached for `credential`, if still current.
    pub fn get(&self, credential: &str) -> Option<T> {
        if self.lifetime.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get(credential)?;
        let current = entry.epoch == epoch()
            && entry.cached_at.elapsed() < self.lifetime
            && entry.expires_at.is_none_or(|at| Utc::now() < at);
        current.then(|| entry.caller.clone())
    }

    /// Keeps `caller`, resolved from the database under `epoch`.
    pub fn put(&self, credential: String, caller: &T, epoch: u64, expires_at: Option<DateTime<Utc>>) {
        if self.lifetime.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let entry = Entry { caller: caller.clone(), epoch, cached_at: Instant::now(), expires_at };
        entries.insert(credential, entry);
    }
}

/// Whether a successful request of this method and path changed who may do what.
pub fn changes_security(method: &actix_web::http::Method, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/v1/") else { return false };
    method != actix_web::http::Method::GET
        && (["users", "teams", "roles", "api-keys"]
            .iter()
            .any(|area| rest == *area || rest.starts_with(&format!("{area}/")))
            || rest == "auth/logout")
}

/// Drops this process's cached callers and tells the other processes to drop theirs. A
/// failure to tell them is logged: their caches expire within their lifetime regardless.
pub async fn announce_change(store: &persistence::Store) {
    invalidate_all();
    let store = store.clone();
    let told = match actix_web::web::block(move || store.write(persistence::security::announce)).await {
        Ok(told) => told.map_err(|error| error.to_string()),
        Err(blocking) => Err(blocking.to_string()),
    };
    if let Err(error) = told {
        log::warn!("could not announce a security change to other processes: {error}");
    }
}

/// Listens for other processes' announcements for as long as `state` lives.
pub fn follow_other_processes<S: Send + Sync + 'static>(state: Weak<S>, url: &persistence::DatabaseUrl) {
    persistence::notify::listen(url, persistence::security::CHANNEL, Duration::from_millis(100), move |news| {
        if news {
            invalidate_all();
        }
        state.strong_count() > 0
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    #[test]
    fn writes_to_users_teams_roles_keys_and_logout_change_security_and_others_do_not() {
        assert!(changes_security(&Method::PATCH, "/api/v1/users/u1"));
        assert!(changes_security(&Method::PUT, "/api/v1/teams/t1/members/u1"));
        assert!(changes_security(&Method::DELETE, "/api/v1/api-keys/k1"));
        assert!(changes_security(&Method::PATCH, "/api/v1/roles/r1"));
        assert!(changes_security(&Method::POST, "/api/v1/auth/logout"));
        assert!(!changes_security(&Method::GET, "/api/v1/users/u1"));
        assert!(!changes_security(&Method::POST, "/api/v1/auth/login"));
        assert!(!changes_security(&Method::PATCH, "/api/v1/contacts/c1"));
        assert!(!changes_security(&Method::POST, "/api/v1/usersx"));
    }
}
