//! The first screen every request passes: what no operation can accept is refused here, before
//! any extractor, handler or SQL sees it, and slow or piled-up clients cannot hold the server.
//!
//! - headers larger than [`MAX_HEADER_BYTES`] in all: 431;
//! - a path that decodes to invalid UTF-8 or holds a control character: 404 (no resource has
//!   such a name, and ids are never confirmed);
//! - a query string that decodes to invalid UTF-8 or holds a control character: 400;
//! - a JSON body with a NUL character in any string: 422 naming the field (PostgreSQL cannot
//!   store one, and no field, id or filter value can hold it);
//! - a body that arrives too slowly (see [`BodyPace`]): 408;
//! - more than the configured requests in flight from one address: 429.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::rt::time::{Instant, Sleep, sleep_until};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpMessage, ResponseError};
use futures_util::{Stream, StreamExt};

use crate::config::BodyPace;
use crate::error::ApiError;
use crate::state::AppState;

/// Most bytes of header names and values one request may send.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

fn header_bytes(req: &ServiceRequest) -> usize {
    req.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum()
}

/// Percent-decodes `raw` and tells whether the result is text without control characters.
fn is_clean_text(raw: &str, plus_is_space: bool) -> bool {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%' && index + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                decoded.push(value);
                index += 3;
                continue;
            }
        }
        decoded.push(if plus_is_space && byte == b'+' { b' ' } else { byte });
        index += 1;
    }
    std::str::from_utf8(&decoded).is_ok_and(|text| !text.chars().any(char::is_control))
}

/// Whether a JSON text holds the escape of a NUL character inside a string (`\u0000`, not the
/// literal text `\\u0000`). A raw NUL byte is not valid JSON and the parser refuses it.
fn holds_nul_escape(body: &[u8]) -> bool {
    let mut index = 0;
    while index + 6 <= body.len() {
        if body[index] == b'\\' {
            if body[index + 1] == b'u' && &body[index + 2..index + 6] == b"0000" {
                return true;
            }
            // Skip the escaped character, so `\\` never starts a new escape.
            index += 2;
        } else {
            index += 1;
        }
    }
    false
}

/// The path (`merge_ids[0]`, `filter.value`) of the first string holding a NUL character.
fn nul_path(value: &serde_json::Value, at: &str) -> Option<String> {
    match value {
        serde_json::Value::String(text) if text.contains('\0') => {
            Some(if at.is_empty() { "body".into() } else { at.into() })
        }
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(index, item)| nul_path(item, &format!("{at}[{index}]")))
        }
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            if key.contains('\0') { Some(path) } else { nul_path(item, &path) }
        }),
        _ => None,
    }
}

fn is_json(req: &ServiceRequest) -> bool {
    req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(
        |media| {
            let media = media.trim().to_ascii_lowercase();
            media == "application/json" || media.ends_with("+json")
        },
    )
}

fn refuse(req: ServiceRequest, error: &ApiError) -> ServiceResponse<BoxBody> {
    let (request, _) = req.into_parts();
    ServiceResponse::new(request, error.error_response())
}

fn too_slow() -> ApiError {
    ApiError::RequestTimeout("the request body arrived too slowly; send it again at a steady pace".into())
}

/// Reads a whole JSON body at the required pace, at most `limit` bytes.
async fn read_json_body(payload: &mut Payload, pace: BodyPace, limit: usize) -> Result<Bytes, ApiError> {
    let started = Instant::now();
    let mut body = BytesMut::new();
    loop {
        let deadline = pace.deadline(started, body.len() as u64);
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = actix_web::rt::time::timeout(left, payload.next()).await.map_err(|_| too_slow())?;
        match chunk {
            None => return Ok(body.freeze()),
            Some(Ok(bytes)) => {
                if body.len() + bytes.len() > limit {
                    return Err(ApiError::PayloadTooLarge(format!("the body must be at most {limit} bytes")));
                }
                body.extend_from_slice(&bytes);
            }
            Some(Err(error)) => return Err(ApiError::bad_request(format!("the body could not be read: {error}"))),
        }
    }
}

/// A request body stream that fails with a timeout once it falls behind [`BodyPace`].
struct Paced {
    inner: Payload,
    pace: BodyPace,
    started: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
}

impl Paced {
    fn new(inner: Payload, pace: BodyPace) -> Self {
        let started = Instant::now();
        Paced { inner, pace, started, received: 0, timer: Box::pin(sleep_until(pace.deadline(started, 0))) }
    }
}

impl Stream for Paced {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                this.received += bytes.len() as u64;
                let deadline = this.pace.deadline(this.started, this.received);
                this.timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body arrived too slowly",
                ))))),
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}

/// The screen (see the module documentation).
pub async fn screen(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if header_bytes(&req) > MAX_HEADER_BYTES {
        let error = ApiError::HeadersTooLarge(format!("the request headers must be at most {MAX_HEADER_BYTES} bytes"));
        return Ok(refuse(req, &error));
    }
    if !is_clean_text(req.uri().path(), false) {
        return Ok(refuse(req, &ApiError::NotFound("no such resource".into())));
    }
    if !is_clean_text(req.query_string(), true) {
        let error = ApiError::bad_request("query parameters must be UTF-8 text without control characters");
        return Ok(refuse(req, &error));
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let place = match req.peer_addr() {
        Some(peer) => match state.in_flight.enter(peer.ip(), state.config.max_requests_per_address) {
            Some(place) => Some(place),
            None => {
                let error = ApiError::TooManyRequests { retry_after_seconds: 1 };
                return Ok(refuse(req, &error));
            }
        },
        None => None,
    };
    let pace = state.config.body_pace;
    let payload = req.take_payload();
    if is_json(&req) {
        let mut payload = payload;
        match read_json_body(&mut payload, pace, state.config.max_body_bytes).await {
            // serde reads a struct from an array of its fields in order; no body here is one.
            Ok(body) if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') => {
                return Ok(refuse(req, &ApiError::bad_request("the body must be a JSON object")));
            }
            Ok(body) if holds_nul_escape(&body) => {
                // Invalid JSON is left to the extractor, which says what is wrong with it.
                if let Some(field) = serde_json::from_slice(&body).ok().and_then(|value| nul_path(&value, "")) {
                    let error =
                        ApiError::invalid_field(&field, "invalid_characters", "must not contain control characters");
                    return Ok(refuse(req, &error));
                }
                req.set_payload(Payload::from(body));
            }
            Ok(body) => req.set_payload(Payload::from(body)),
            Err(error) => return Ok(refuse(req, &error)),
        }
    } else {
        req.set_payload(Payload::Stream { payload: Box::pin(Paced::new(payload, pace)) });
    }
    let response = next.call(req).await?.map_into_boxed_body();
    drop(place);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_nul_escape_is_found_but_an_escaped_backslash_is_not_one() {
        assert!(holds_nul_escape(br#"{"id": "a\u0000"}"#));
        assert!(holds_nul_escape(br#"{"a": "\\\u0000"}"#));
        assert!(!holds_nul_escape(br#"{"a": "\\u0000"}"#));
        assert!(!holds_nul_escape(br#"{"a": "\u0001"}"#));
        assert!(!holds_nul_escape(b"{}"));
    }

    #[test]
    fn the_field_holding_a_nul_is_named_by_its_path() {
        let body = serde_json::json!({"merge_ids": ["ok", "a\u{0}"], "fields": {}});
        assert_eq!(nul_path(&body, "").as_deref(), Some("merge_ids[1]"));
        let body = serde_json::json!({"filter": {"and": [{"value": "x\u{0}"}]}});
        assert_eq!(nul_path(&body, "").as_deref(), Some("filter.and[0].value"));
        assert_eq!(nul_path(&serde_json::json!({"a": "b"}), ""), None);
    }

    #[test]
    fn control_characters_and_invalid_utf8_are_not_clean_text() {
        assert!(is_clean_text("/api/v1/contacts/0193a5b2", false));
        assert!(is_clean_text("q=caf%C3%A9&limit=5", true));
        assert!(!is_clean_text("/api/v1/forms/a%00b/submissions", false));
        assert!(!is_clean_text("q=%FF%FE", true));
        assert!(!is_clean_text("q=a%0Ab", true));
        assert!(is_clean_text("q=100%", true));
    }

    #[test]
    fn a_trickle_falls_behind_the_pace_but_a_steady_upload_does_not() {
        let pace = BodyPace { grace: Duration::from_secs(10), min_bytes_per_second: 1024 };
        let start = Instant::now();
        assert_eq!(pace.deadline(start, 0), start + Duration::from_secs(10));
        assert_eq!(pace.deadline(start, 20 * 1024), start + Duration::from_secs(30));
    }
}
