//! Background jobs: their states and the retry schedule.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker.
    Available,
    /// Waiting for its `run_at`.
    Scheduled,
    /// Held by a worker under a lease.
    Running,
    /// Failed; runs again at `run_at`.
    Retryable,
    Completed,
    /// Failed its last attempt; the errors are kept.
    Discarded,
    /// Stopped by an admin.
    Cancelled,
}

impl JobState {
    /// Every state, in the order of a job's life.
    pub const ALL: [JobState; 7] = [
        JobState::Available,
        JobState::Scheduled,
        JobState::Running,
        JobState::Retryable,
        JobState::Completed,
        JobState::Discarded,
        JobState::Cancelled,
    ];

    /// The state as stored and as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Available => "available",
            JobState::Scheduled => "scheduled",
            JobState::Running => "running",
            JobState::Retryable => "retryable",
            JobState::Completed => "completed",
            JobState::Discarded => "discarded",
            JobState::Cancelled => "cancelled",
        }
    }

    /// The state named so, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == name)
    }

    /// Whether the job may still run (what a unique key guards).
    pub fn is_live(self) -> bool {
        matches!(self, JobState::Available | JobState::Scheduled | JobState::Running | JobState::Retryable)
    }
}

/// Longest wait between two attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(24 * 3600);

/// How long to wait after failed attempt `attempt` (1-based): attempt⁴ seconds, moved by
/// `jitter` (-1.0 to 1.0) times 10 % so failures of many jobs do not retry in step, capped at
/// [`BACKOFF_MAX`].
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let base = f64::from(attempt.max(1)).powi(4);
    let jittered = base * (1.0 + 0.1 * jitter.clamp(-1.0, 1.0));
    Duration::from_secs_f64(jittered.max(1.0)).min(BACKOFF_MAX)
}

/// A jitter in -1.0..1.0 that differs between jobs and attempts (no random source needed:
/// spreading retries apart is all it is for).
pub fn jitter(id: &str, attempt: u32) -> f64 {
    let hash = id
        .bytes()
        .chain(attempt.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    (hash % 2001) as f64 / 1000.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_waits_attempt_to_the_fourth_seconds_within_ten_percent_and_at_most_a_day() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(81));
        assert_eq!(backoff(3, 1.0), Duration::from_secs_f64(89.1));
        assert_eq!(backoff(3, -1.0), Duration::from_secs_f64(72.9));
        assert_eq!(backoff(3, 5.0), backoff(3, 1.0));
        assert_eq!(backoff(100, 0.0), BACKOFF_MAX);
    }

    #[test]
    fn a_state_reads_back_from_its_name_and_only_unfinished_ones_are_live() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        let live: Vec<_> = JobState::ALL.into_iter().filter(|s| s.is_live()).map(JobState::as_str).collect();
        assert_eq!(live, ["available", "scheduled", "running", "retryable"]);
    }

    #[test]
    fn jitter_stays_within_one_either_way_and_differs_between_attempts() {
        let spread: Vec<f64> = (1..50).map(|attempt| jitter("0193a5b2-7c1e", attempt)).collect();
        assert!(spread.iter().all(|j| (-1.0..=1.0).contains(j)));
        assert!(spread.windows(2).any(|pair| pair[0] != pair[1]));
    }
}
