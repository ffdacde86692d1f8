//! Webhook deliveries as jobs of the queue (kind `webhooks.deliver`, one job per attempt,
//! queued by `app::webhooks`): sign the stored body, POST it through the checked client, and
//! record what came back under the job's claim.
//!
//! A crash after the request and before its record makes the attempt again when the job's
//! lease runs out: deliveries are at least once, and receivers tell repeats by `webhook-id`,
//! which is the delivery's id and the same for every attempt.

use app::jobs::{JobKind, JobRun};
use app::webhooks::{self, AttemptOrder, Made, Prepared};
use chrono::Utc;
use domain::webhook::Destination;

use crate::outbound;

/// One attempt of one delivery.
pub static DELIVER: JobKind =
    JobKind { spec: webhooks::DELIVER, every: None, run: deliver, abandoned: Some(webhooks::abandoned) };

fn deliver(run: &JobRun<'_>) -> Result<(), String> {
    let order: AttemptOrder = serde_json::from_str(&run.job.payload).map_err(|e| format!("bad payload: {e}"))?;
    let Some(prepared) = run.store.read(|conn| webhooks::prepare(conn, &order)).map_err(|e| e.to_string())? else {
        return Ok(());
    };
    if !prepared.endpoint.active {
        run.write_held(|conn| webhooks::skip(conn, &prepared)).map_err(|e: app::error::AppError| e.to_string())?;
        return Ok(());
    }
    let made = attempt(&prepared, run.worker.webhook_policy);
    run.write_held(|conn| webhooks::finish(conn, &order, &prepared, made))
        .map_err(|e: app::error::AppError| e.to_string())?;
    Ok(())
}

/// Makes the request: the Standard Webhooks headers over the stored body.
fn attempt(prepared: &Prepared, policy: domain::webhook::Policy) -> Made {
    let (delivery, state) = (&prepared.delivery, &prepared.state);
    let timestamp = Utc::now().timestamp();
    let mut secrets = vec![state.secret.as_str()];
    if let Some((previous, until)) = &state.previous
        && *until > Utc::now()
    {
        secrets.push(previous);
    }
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("webhook-id".to_owned(), delivery.id.clone()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), outbound::signature(&secrets, &delivery.id, timestamp, &delivery.body)),
    ];
    // The log shows what was sent, but not signatures a reader of the log could replay.
    let logged: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(name, value)| {
            let shown = if name == "webhook-signature" { "v1,…".to_owned() } else { value.clone() };
            (name.clone(), serde_json::Value::String(shown))
        })
        .collect();
    let url = prepared.endpoint.url.clone();
    let posted = match Destination::parse(&url) {
        Ok(destination) => outbound::post(&destination, policy, &headers, &delivery.body),
        Err(refused) => outbound::Posted {
            started_at: Utc::now(),
            duration: std::time::Duration::ZERO,
            answer: domain::webhook::Answer::Nothing,
            headers: None,
            body: None,
            error: Some(refused.to_string()),
        },
    };
    Made {
        started_at: posted.started_at,
        duration_ms: i64::try_from(posted.duration.as_millis()).unwrap_or(i64::MAX),
        url,
        request_headers: serde_json::Value::Object(logged),
        answer: posted.answer,
        response_headers: posted.headers.map(|headers| {
            serde_json::Value::Object(
                headers.into_iter().map(|(name, value)| (name, serde_json::Value::String(value))).collect(),
            )
        }),
        response_body: posted.body,
        error: posted.error,
    }
}
