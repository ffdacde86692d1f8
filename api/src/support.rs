//! Pieces every resource's handlers share: cursors, idempotent creation, reference checks,
//! merge-patch fields.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::listing::{Direction, Limit, PageRequest, Position, RecordSort, SortField, SortKey, parse_sort};
use persistence::DbConnection;
use persistence::idempotency::{self, StoredResponse};
use serde::{Deserialize, Serialize};

use crate::credentials::secret_hash;
use crate::error::ApiError;
use crate::extract::{Caller, IdempotencyKey, etag};
use crate::state::AppState;

fn sort_signature(keys: &[SortKey<RecordSort>]) -> String {
    keys.iter()
        .map(|key| {
            let name = RecordSort::FIELDS.iter().find(|(_, k)| *k == key.key).map_or("", |(n, _)| *n);
            match key.direction {
                Direction::Ascending => name.to_owned(),
                Direction::Descending => format!("-{name}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Serialize, Deserialize)]
struct CursorToken {
    /// The sort the cursor was made for; reusing it with another sort is refused.
    s: String,
    p: Position,
}

/// Sort, cursor and limit of a list request, validated together.
pub fn page_request(limit: Option<u32>, cursor: Option<&str>, sort: Option<&str>) -> Result<PageRequest, ApiError> {
    let limit = Limit::parse(limit).map_err(|e| ApiError::bad_field("limit", e.code, e.message))?;
    let sort = parse_sort::<RecordSort>(sort).map_err(|e| ApiError::bad_field("sort", e.code, e.message))?;
    let after = match cursor.filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => {
            let invalid = || ApiError::bad_field("cursor", "invalid_cursor", "is not a cursor returned by this list");
            let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
            let token: CursorToken = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
            if token.s != sort_signature(&sort) || !token.p.fits(&sort) {
                return Err(ApiError::bad_field(
                    "cursor",
                    "cursor_mismatch",
                    "was made for another sort order; start again without it",
                ));
            }
            Some(token.p)
        }
    };
    Ok(PageRequest { sort, after, limit })
}

/// The opaque `next_cursor` for a page.
pub fn encode_cursor(page: &PageRequest, next: Option<Position>) -> Option<String> {
    next.map(|p| {
        let token = CursorToken { s: sort_signature(&page.sort), p };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
    })
}

/// The answer of a POST, as built inside its transaction (and stored for replays).
#[derive(Debug)]
pub struct Created {
    pub body: String,
    pub status: StatusCode,
    pub location: Option<String>,
    pub version: Option<i64>,
}

impl Created {
    /// A 201 for the new resource at `location`, with its `ETag`.
    pub fn new<T: Serialize>(view: &T, location: String, version: i64) -> Result<Self, ApiError> {
        let body = serde_json::to_string(view).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Self { body, status: StatusCode::CREATED, location: Some(location), version: Some(version) })
    }

    /// The answer of an action that creates no addressable resource (200 or 201).
    pub fn answer<T: Serialize>(view: &T, status: StatusCode) -> Result<Self, ApiError> {
        let body = serde_json::to_string(view).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Self { body, status, location: None, version: None })
    }
}

enum Outcome {
    Fresh(Created),
    Replay(StoredResponse),
}

/// Runs a create (or another POST action) once per `Idempotency-Key`: the stored answer is
/// written in the same transaction as the change, so a retry (even a concurrent one) gets
/// the first answer and nothing happens twice. The same key with another body or on another
/// route is refused with 422.
pub async fn create_idempotently<B, F>(
    state: &AppState,
    caller: &Caller,
    key: IdempotencyKey,
    route: &str,
    body: &B,
    create: F,
) -> Result<HttpResponse, ApiError>
where
    B: Serialize,
    F: FnOnce(&mut DbConnection) -> Result<Created, ApiError> + Send + 'static,
{
    let Some(key) = key.0 else {
        let created = state.write(create).await?;
        return Ok(created_response(&created));
    };
    let canonical = serde_json::to_string(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let request_hash = secret_hash(&format!("{route}\n{canonical}"));
    let scope = caller.idempotency_scope();
    let (scope_for_retry, key_for_retry, hash_for_retry) = (scope.clone(), key.clone(), request_hash.clone());
    let outcome = state
        .write(move |conn| {
            if let Some(stored) = idempotency::find(conn, &scope, &key)? {
                return replay_or_refuse(stored, &request_hash).map(Outcome::Replay);
            }
            let created = create(conn)?;
            let stored = StoredResponse {
                request_hash,
                status: i32::from(created.status.as_u16()),
                body: created.body.clone(),
                location: created.location.clone(),
            };
            idempotency::insert(conn, &scope, &key, &stored, Utc::now())?;
            Ok(Outcome::Fresh(created))
        })
        .await;
    let outcome = match outcome {
        // A concurrent request with the same key won the race: answer as it did.
        Err(ApiError::Conflict(reason)) => {
            state
                .read(move |conn| match idempotency::find(conn, &scope_for_retry, &key_for_retry)? {
                    Some(stored) => replay_or_refuse(stored, &hash_for_retry).map(Outcome::Replay),
                    None => Err(ApiError::Conflict(reason)),
                })
                .await?
        }
        other => other?,
    };
    Ok(match outcome {
        Outcome::Fresh(created) => created_response(&created),
        Outcome::Replay(stored) => replayed(stored, StatusCode::CREATED),
    })
}

/// Runs work that spans several transactions (a batch) once per `Idempotency-Key`: the key is
/// taken first, in its own transaction, with no answer yet; a retry while the work runs gets
/// 409, one after it the stored answer. (Should the process die mid-batch, the key stays
/// taken until the idempotency retention ends: the batch is sent again with a new key, and
/// the operations that did run answer as they would on a second attempt.)
pub async fn run_once<B, W>(
    state: &AppState,
    caller: &Caller,
    key: IdempotencyKey,
    route: &str,
    body: &B,
    work: W,
) -> Result<HttpResponse, ApiError>
where
    B: Serialize + ?Sized,
    W: AsyncFnOnce() -> Result<(StatusCode, String), ApiError>,
{
    let answer =
        |status: StatusCode, body: String| HttpResponse::build(status).content_type("application/json").body(body);
    let Some(key) = key.0 else {
        let (status, body) = work().await?;
        return Ok(answer(status, body));
    };
    let canonical = serde_json::to_string(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    let request_hash = secret_hash(&format!("{route}\n{canonical}"));
    let scope = caller.idempotency_scope();
    let (taken_scope, taken_key, taken_hash) = (scope.clone(), key.clone(), request_hash.clone());
    let taken = state
        .write(move |conn| {
            if let Some(stored) = idempotency::find(conn, &taken_scope, &taken_key)? {
                return Ok(Some(stored));
            }
            let pending = StoredResponse { request_hash: taken_hash, status: 0, body: String::new(), location: None };
            idempotency::insert(conn, &taken_scope, &taken_key, &pending, Utc::now())?;
            Ok(None)
        })
        .await;
    let running =
        || ApiError::Conflict("a request with this Idempotency-Key is still running; retry in a moment".into());
    match taken {
        Err(ApiError::Conflict(_)) => return Err(running()),
        Err(other) => return Err(other),
        Ok(Some(stored)) if stored.status == 0 => return Err(running()),
        Ok(Some(stored)) => return Ok(replayed(replay_or_refuse(stored, &request_hash)?, StatusCode::OK)),
        Ok(None) => {}
    }
    let (status, body) = match work().await {
        Ok(done) => done,
        Err(refused) => {
            // Nothing ran: free the key for the corrected request.
            let (scope, key) = (scope.clone(), key.clone());
            if let Err(error) = state.write(move |conn| Ok(idempotency::forget(conn, &scope, &key)?)).await {
                log::warn!("could not free an idempotency key: {error}");
            }
            return Err(refused);
        }
    };
    let stored =
        StoredResponse { request_hash, status: i32::from(status.as_u16()), body: body.clone(), location: None };
    if let Err(error) = state.write(move |conn| Ok(idempotency::complete(conn, &scope, &key, &stored)?)).await {
        log::warn!("could not store a batch answer for its Idempotency-Key: {error}");
    }
    Ok(answer(status, body))
}

fn replay_or_refuse(stored: StoredResponse, request_hash: &str) -> Result<StoredResponse, ApiError> {
    if stored.request_hash == request_hash {
        Ok(stored)
    } else {
        Err(ApiError::invalid_field(
            "Idempotency-Key",
            "idempotency_key_reused",
            "was already used with a different request; use a new key for a new request",
        ))
    }
}

/// The stored answer to an earlier request with the same key, marked as a replay.
fn replayed(stored: StoredResponse, default_status: StatusCode) -> HttpResponse {
    let status = u16::try_from(stored.status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(default_status);
    let mut response = HttpResponse::build(status);
    response.content_type("application/json").insert_header(("Idempotent-Replayed", "true"));
    if let Some(location) = stored.location {
        response.insert_header((header::LOCATION, location));
    }
    response.body(stored.body)
}

fn created_response(created: &Created) -> HttpResponse {
    let mut response = HttpResponse::build(created.status);
    response.content_type("application/json");
    if let Some(location) = &created.location {
        response.insert_header((header::LOCATION, location.clone()));
    }
    if let Some(version) = created.version {
        response.insert_header((header::ETAG, etag(version)));
    }
    response.body(created.body.clone())
}

/// A 200 answer with the record's `ETag`.
pub fn ok_with_etag<T: Serialize>(view: &T, version: i64) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(view)
}

/// The page size of a list paged by id (users, teams).
pub fn id_page_limit(limit: Option<u32>) -> Result<i64, ApiError> {
    let limit = Limit::parse(limit).map_err(|e| ApiError::bad_field("limit", e.code, e.message))?;
    Ok(i64::from(limit.get()))
}

/// Cuts `limit + 1` rows loaded in id order to a page and the cursor (last id) of the next.
pub fn id_page<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next = if has_more { rows.last().map(|row| id(row).to_owned()) } else { None };
    (rows, next)
}

/// Combines the request-shape check (validator) with the domain's parse, reporting every
/// refused field once: the domain's finding wins where both refuse the same field.
pub fn validated<T>(
    shape: Result<(), validator::ValidationErrors>,
    parsed: Result<T, domain::ValidationErrors>,
) -> Result<T, app::error::AppError> {
    let shape_errors = match shape {
        Ok(()) => domain::ValidationErrors::new(),
        Err(errors) => crate::error::shape_errors(&errors),
    };
    match parsed {
        Ok(value) if shape_errors.errors().is_empty() => Ok(value),
        Ok(_) => Err(shape_errors.into()),
        Err(mut errors) => {
            for error in shape_errors.errors() {
                if !errors.errors().iter().any(|e| e.field == error.field) {
                    errors.push(error.clone());
                }
            }
            Err(errors.into())
        }
    }
}
