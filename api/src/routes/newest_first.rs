//! Paging of newest-first lists (timelines, record histories, the audit log): keyset
//! pages on (time, id) with an opaque cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::listing::{Limit, Position, SortValue};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::error::ApiError;

/// Paging of a newest-first history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size and the position to continue after.
    pub fn parse(self) -> Result<(i64, Option<Position>), ApiError> {
        let limit = Limit::parse(self.limit).map_err(|e| ApiError::bad_field("limit", e.code, e.message))?;
        Ok((i64::from(limit.get()), decode(self.cursor.as_deref())?))
    }
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    t: i64,
    i: String,
}

fn decode(raw: Option<&str>) -> Result<Option<Position>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let invalid = || ApiError::bad_field("cursor", "invalid_cursor", "is not a cursor returned by this list");
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    Ok(Some(Position { values: vec![SortValue::Time(cursor.t)], id: cursor.i }))
}

fn encode(at: DateTime<Utc>, id: String) -> String {
    let cursor = Cursor { t: at.timestamp_micros(), i: id };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

/// Cuts `limit + 1` newest-first items to a page and the cursor of the next one.
pub fn cut<T>(mut items: Vec<T>, limit: i64, key: impl Fn(&T) -> (DateTime<Utc>, String)) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more { items.last().map(key).map(|(at, id)| encode(at, id)) } else { None };
    (items, next)
}
