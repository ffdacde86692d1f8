//! The event dispatcher: a recurring job that hands each committed event, in feed order, to
//! every registered handler, inside the transaction that moves its cursor past the event. A
//! handler only enqueues the work the event asks for (a workflow run, a webhook delivery), so
//! an event is routed once: a run that crashes before its commit routes nothing, the next run
//! starts from the same cursor. Handlers key what they enqueue by the event's id.

use std::time::Duration;

use chrono::{DateTime, Utc};
use persistence::events;
use persistence::{DbConnection, Store};

use crate::error::AppError;
use crate::jobs::{self, Enqueue, JobKind, JobRun, JobSpec};

/// The dispatcher's cursor in the event feed.
const CURSOR: &str = "dispatcher";
/// Events routed per transaction.
const BATCH: i64 = 500;
/// How soon the dispatcher looks again after it has caught up.
const EVERY: Duration = Duration::from_millis(500);

/// The dispatcher: one job, queued again after each run.
pub static DISPATCH: JobKind = JobKind {
    spec: JobSpec { name: "events.dispatch", max_attempts: 10 },
    every: Some(EVERY),
    run: dispatch,
    abandoned: None,
};

fn dispatch(run: &JobRun<'_>) -> Result<(), String> {
    loop {
        // `None`: fenced out, another worker holds the dispatcher now.
        let routed = run
            .write_held(|conn| {
                let now = Utc::now();
                let after = events::cursor(conn, CURSOR, now)?;
                let batch = events::pending(conn, after, BATCH)?;
                for event in &batch {
                    for handler in &run.worker.event_handlers {
                        (handler.route)(conn, event).map_err(|error| {
                            log::warn!(
                                "event {} ({}): handler {} failed: {error}",
                                event.id,
                                event.event_type,
                                handler.name
                            );
                            error
                        })?;
                    }
                }
                if let Some(last) = batch.last() {
                    events::advance(conn, CURSOR, last.cursor, now)?;
                }
                Ok::<_, AppError>(batch.len())
            })
            .map_err(|error| error.to_string())?;
        if routed.is_none_or(|count| i64::try_from(count).unwrap_or(i64::MAX) < BATCH) {
            return Ok(());
        }
    }
}

/// Makes sure the dispatcher is queued (once, however many processes ask).
pub fn ensure_dispatcher(store: &Store) -> Result<(), AppError> {
    let options = Enqueue { unique_key: Some(CURSOR), ..Enqueue::default() };
    store.write(|conn| jobs::enqueue(conn, &DISPATCH.spec, &serde_json::json!({}), &options)).map(drop)
}

/// When the oldest event the dispatcher has not routed yet happened.
pub fn oldest_undispatched(conn: &mut DbConnection) -> Result<Option<DateTime<Utc>>, AppError> {
    Ok(events::oldest_pending(conn, CURSOR)?)
}
