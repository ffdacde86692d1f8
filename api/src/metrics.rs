//! The process's own metrics (requests, latency, job runs), kept for `GET /metrics`
//! (`routes::metrics`, which adds what it reads at scrape time).

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The process's metrics.
pub struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) requests: IntCounterVec,
    pub(crate) latency: HistogramVec,
    job_runs: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn built<T>(made: prometheus::Result<T>) -> T {
    // The names and labels below are constants; only a typo in them could fail here.
    made.unwrap_or_else(|error| panic!("a metric is misdeclared: {error}"))
}

impl Metrics {
    /// The metrics, registered.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = built(IntCounterVec::new(
            Opts::new("crm_http_requests_total", "HTTP requests answered, by route template, method and status"),
            &["route", "method", "status"],
        ));
        let latency = built(HistogramVec::new(
            HistogramOpts::new("crm_http_request_duration_seconds", "Time to answer, by route template and method")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["route", "method"],
        ));
        let job_runs = built(IntCounterVec::new(
            Opts::new("crm_job_runs_total", "Job runs finished by this process, by outcome"),
            &["outcome"],
        ));
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(job_runs.clone()),
        ] {
            built(registry.register(metric));
        }
        Metrics { registry, requests, latency, job_runs }
    }

    /// Counts a worker round's outcomes.
    pub fn count_jobs(&self, round: app::jobs::Round) {
        for (outcome, n) in [("completed", round.completed), ("failed", round.failed), ("fenced", round.fenced)] {
            self.job_runs.with_label_values(&[outcome]).inc_by(n as u64);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
