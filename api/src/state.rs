//! What every handler shares: the store, token keys, configuration, rate limiter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use persistence::{DbConnection, Store};

use crate::config::Config;
use crate::credentials::TokenKeys;
use crate::error::ApiError;

/// Shared application state.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub keys: TokenKeys,
    pub config: Config,
    pub limiter: Arc<crate::rate_limits::RateLimiter>,
    /// Requests in flight per client address.
    pub in_flight: std::sync::Arc<InFlight>,
    /// Callers resolved recently, by credential.
    pub principals: crate::principals::PrincipalCache<crate::principals::Resolved>,
    /// Database work admitted at once, one per pooled connection: requests beyond the pool
    /// wait here, on the executor, instead of each holding a blocking thread while it waits
    /// for a connection (at 256 clients that was 273 threads).
    pub db_slots: DbSlots,
    /// The job kinds this process runs (what cancelling one of them tells its subject).
    pub job_kinds: &'static [&'static app::jobs::JobKind],
    /// What `/metrics` reports of this process.
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

/// A turn at the database for one request's work, waited for without a thread.
#[derive(Debug)]
pub struct DbSlots {
    slots: tokio::sync::Semaphore,
    size: usize,
    wait: Duration,
    waiting: std::sync::atomic::AtomicI64,
    timeouts: std::sync::atomic::AtomicI64,
}

/// The database turns right now, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnFigures {
    pub size: i64,
    pub in_use: i64,
    pub waiting: i64,
    /// Requests told the database is busy since start.
    pub timeouts: i64,
}

impl DbSlots {
    /// `slots` turns (the pool's size); a request that waits longer than `wait` is told the
    /// database is busy, as a pool checkout timeout would.
    pub fn new(slots: u32, wait: Duration) -> Self {
        let size = slots.max(1) as usize;
        DbSlots {
            slots: tokio::sync::Semaphore::new(size),
            size,
            wait,
            waiting: std::sync::atomic::AtomicI64::new(0),
            timeouts: std::sync::atomic::AtomicI64::new(0),
        }
    }

    async fn take(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        use std::sync::atomic::Ordering::Relaxed;
        self.waiting.fetch_add(1, Relaxed);
        let taken = actix_web::rt::time::timeout(self.wait, self.slots.acquire()).await;
        self.waiting.fetch_sub(1, Relaxed);
        match taken {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => {
                self.timeouts.fetch_add(1, Relaxed);
                Err(ApiError::Unavailable("the database is busy; retry shortly".into()))
            }
        }
    }

    /// Size, turns in use, requests waiting and timeouts so far.
    pub fn figures(&self) -> TurnFigures {
        use std::sync::atomic::Ordering::Relaxed;
        let size = i64::try_from(self.size).unwrap_or(i64::MAX);
        let free = i64::try_from(self.slots.available_permits()).unwrap_or(0);
        TurnFigures {
            size,
            in_use: size - free,
            waiting: self.waiting.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
        }
    }
}

fn blocking_failed<E: std::fmt::Display>(error: E) -> ApiError {
    ApiError::Internal(format!("blocking task failed: {error}"))
}

impl AppState {
    /// Runs a read on the blocking pool, off actix's executor threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let _turn = self.db_slots.take().await?;
        let store = self.store.clone();
        web::block(move || store.read(f)).await.map_err(blocking_failed)?
    }

    /// Runs one transaction on the blocking pool.
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let _turn = self.db_slots.take().await?;
        let store = self.store.clone();
        web::block(move || store.write(f)).await.map_err(blocking_failed)?
    }

    /// Like [`AppState::write`], for a transaction that may collide with a concurrent one on
    /// PostgreSQL (a deadlock or serialization failure rolls it back whole): it runs again,
    /// at most [`CONTENDED_ATTEMPTS`] times, before the client is told to retry (503).
    pub async fn write_retrying<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let _turn = self.db_slots.take().await?;
        let store = self.store.clone();
        web::block(move || {
            let mut attempt = 1;
            loop {
                match store.write(&f) {
                    Err(ApiError::Contended(_)) if attempt < CONTENDED_ATTEMPTS => {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(10 * u64::from(attempt)));
                    }
                    outcome => return outcome,
                }
            }
        })
        .await
        .map_err(blocking_failed)?
    }
}

/// How often a write rolled back by a concurrent one is run before answering 503.
pub const CONTENDED_ATTEMPTS: u32 = 3;

/// Requests in flight per client address.
#[derive(Debug, Default)]
pub struct InFlight {
    counts: Mutex<HashMap<std::net::IpAddr, u32>>,
}

/// One request's place in [`InFlight`]; leaving it frees the place.
pub struct Place {
    registry: Arc<InFlight>,
    address: std::net::IpAddr,
}

impl InFlight {
    /// A place for one more request from `address`, unless it has `limit` in flight.
    pub fn enter(self: &Arc<Self>, address: std::net::IpAddr, limit: u32) -> Option<Place> {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(address).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(Place { registry: Arc::clone(self), address })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.registry.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.address) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_request_beyond_the_pool_waits_its_turn_then_is_told_the_database_is_busy() {
        let slots = DbSlots::new(1, Duration::from_millis(50));
        let held = slots.take().await.expect("the first takes the only slot");
        let waited = std::time::Instant::now();
        assert!(matches!(slots.take().await, Err(ApiError::Unavailable(_))));
        assert!(waited.elapsed() >= Duration::from_millis(50));
        drop(held);
        assert!(slots.take().await.is_ok(), "a freed slot is taken again");
    }
}
