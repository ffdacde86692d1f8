//! Requests per minute per caller key, in fixed windows aligned to the clock minute so that
//! every process counts the same window. One process (SQLite) counts in memory alone. On
//! PostgreSQL each process also adds what it counted to the shared totals every sync and
//! learns what the others counted, so N processes allow the limit once, not N times; between
//! syncs a process can let through at most what it receives in one sync interval beyond it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use chrono::Utc;
use persistence::Store;
use persistence::rate_windows::{self, Hits, Total};

/// The outcome of counting one request against a caller's budget.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_seconds: u64,
    pub allowed: bool,
}

const WINDOW_SECONDS: i64 = 60;
const MAX_TRACKED_CALLERS: usize = 100_000;

/// One key's current window as this process knows it.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    start: i64,
    /// Allowed by this process in the window.
    here: u32,
    /// Of those, not yet added to the shared total.
    unsynced: u32,
    /// Allowed by other processes, as of the last sync.
    elsewhere: u32,
}

/// The request counts of the current windows, per caller key.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

impl RateLimiter {
    /// Counts one request for `key` against `limit` per minute.
    pub fn check(&self, key: &str, limit: u32) -> Quota {
        self.check_at(key, limit, Utc::now().timestamp())
    }

    fn check_at(&self, key: &str, limit: u32, now: i64) -> Quota {
        let start = now - now.rem_euclid(WINDOW_SECONDS);
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED_CALLERS {
            windows.retain(|_, window| window.start == start);
        }
        let window = windows.entry(key.to_owned()).or_default();
        if window.start != start {
            *window = Window { start, ..Window::default() };
        }
        let allowed = window.here.saturating_add(window.elsewhere) < limit;
        if allowed {
            window.here += 1;
            window.unsynced += 1;
        }
        let used = window.here.saturating_add(window.elsewhere);
        let reset_seconds = u64::try_from(start + WINDOW_SECONDS - now).unwrap_or(1).max(1);
        Quota { limit, remaining: limit.saturating_sub(used), reset_seconds, allowed }
    }

    /// What this process counted since the last sync, now counted as synced.
    fn take_unsynced(&self) -> Vec<Hits> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        windows
            .iter_mut()
            .filter(|(_, window)| window.unsynced > 0)
            .map(|(key, window)| {
                let hits = std::mem::take(&mut window.unsynced);
                Hits { key: key.clone(), window_start: window.start, hits: i64::from(hits) }
            })
            .collect()
    }

    /// Learns the shared totals: the others' share is the total less what this process had
    /// added when it synced.
    fn learn(&self, totals: &[Total]) {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for total in totals {
            if let Some(window) = windows.get_mut(&total.key).filter(|window| window.start == total.window_start) {
                let added_here = i64::from(window.here - window.unsynced);
                window.elsewhere = u32::try_from((total.hits - added_here).max(0)).unwrap_or(u32::MAX);
            }
        }
    }
}

/// Keeps this process's limiter in step with the others on the database, every `interval`,
/// while the limiter is in use (PostgreSQL only: SQLite has one process).
pub fn share(limiter: &Arc<RateLimiter>, store: Store, interval: Duration) {
    let limiter = Arc::downgrade(limiter);
    actix_web::rt::spawn(async move {
        let mut ticks = actix_web::rt::time::interval(interval);
        let mut purged_before = 0;
        loop {
            ticks.tick().await;
            let Some(limiter) = limiter.upgrade() else { return };
            let hits = limiter.take_unsynced();
            let now = Utc::now().timestamp();
            // Windows two minutes old can no longer be counted against.
            let stale = now - now.rem_euclid(WINDOW_SECONDS) - WINDOW_SECONDS;
            let purge = (stale > purged_before).then_some(stale);
            if hits.is_empty() && purge.is_none() {
                continue;
            }
            let store = store.clone();
            let synced = web::block(move || {
                store.write(|conn| {
                    if let Some(before) = purge {
                        rate_windows::purge_before(conn, before)?;
                    }
                    rate_windows::add(conn, &hits)
                })
            })
            .await;
            match synced {
                Ok(Ok(totals)) => {
                    limiter.learn(&totals);
                    purged_before = purge.unwrap_or(purged_before);
                }
                // What was not added stays uncounted elsewhere; the limit is then per process
                // until the database answers again.
                Ok(Err(error)) => log::warn!("could not share rate-limit counts: {error}"),
                Err(error) => log::warn!("rate-limit sync task failed: {error}"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_allows_the_limit_then_refuses_until_the_next_clock_minute() {
        let limiter = RateLimiter::default();
        let at = 1_800_000_040;
        assert!((0..3).all(|_| limiter.check_at("k", 3, at).allowed));
        let refused = limiter.check_at("k", 3, at + 5);
        assert!(!refused.allowed);
        assert_eq!((refused.remaining, refused.reset_seconds), (0, 15));
        assert!(limiter.check_at("k", 3, at + 20).allowed, "a new minute is a new window");
    }

    #[test]
    fn what_other_processes_counted_uses_up_the_same_budget() {
        let limiter = RateLimiter::default();
        let at = 1_800_000_000;
        assert!(limiter.check_at("k", 10, at).allowed);
        let hits = limiter.take_unsynced();
        assert_eq!(hits, [Hits { key: "k".into(), window_start: at, hits: 1 }]);
        limiter.check_at("k", 10, at + 1);
        // The database had 8 from elsewhere plus this process's 1.
        limiter.learn(&[Total { key: "k".into(), window_start: at, hits: 9 }]);
        let quota = limiter.check_at("k", 10, at + 2);
        assert!(!quota.allowed, "8 elsewhere + 2 here = 10 used");
        assert_eq!(limiter.take_unsynced()[0].hits, 1, "the one counted since the sync is still to add");
    }
}
