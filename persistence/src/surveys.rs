//! Survey requests (one per contact and touchpoint asked) and their answers.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, StoreResult};
use crate::schema::{survey_requests, survey_responses};
use crate::{DbConnection, from_db_time, new_id, to_db_time};

/// A request as stored (its token only as a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyRequest {
    pub id: String,
    pub survey_id: String,
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub touchpoint_type: String,
    pub touchpoint_id: Option<String>,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub email_id: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A request to store.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub survey_id: &'a str,
    pub token_hash: &'a str,
    pub contact_id: &'a str,
    pub company_id: Option<&'a str>,
    pub touchpoint: (&'a str, Option<&'a str>),
    pub ownership: (Option<&'a str>, Option<&'a str>),
    pub created_by: Option<&'a str>,
}

type RequestRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn request_columns() -> (
    survey_requests::id,
    survey_requests::survey_id,
    survey_requests::contact_id,
    survey_requests::company_id,
    survey_requests::touchpoint_type,
    survey_requests::touchpoint_id,
    survey_requests::owner_id,
    survey_requests::team_id,
    survey_requests::email_id,
    survey_requests::created_by,
    survey_requests::created_at,
    survey_requests::answered_at,
) {
    use survey_requests::*;
    (
        id,
        survey_id,
        contact_id,
        company_id,
        touchpoint_type,
        touchpoint_id,
        owner_id,
        team_id,
        email_id,
        created_by,
        created_at,
        answered_at,
    )
}

fn into_request(row: RequestRow) -> SurveyRequest {
    let (
        id,
        survey_id,
        contact_id,
        company_id,
        touchpoint_type,
        touchpoint_id,
        owner_id,
        team_id,
        email_id,
        created_by,
        at,
        answered,
    ) = row;
    SurveyRequest {
        id,
        survey_id,
        contact_id,
        company_id,
        touchpoint_type,
        touchpoint_id,
        owner_id,
        team_id,
        email_id,
        created_by,
        created_at: from_db_time(at),
        answered_at: answered.map(from_db_time),
    }
}

/// Stores a request.
pub fn insert_request(conn: &mut DbConnection, new: &NewRequest<'_>, now: DateTime<Utc>) -> StoreResult<SurveyRequest> {
    let id = new_id();
    diesel::insert_into(survey_requests::table)
        .values((
            survey_requests::id.eq(&id),
            survey_requests::survey_id.eq(new.survey_id),
            survey_requests::token_hash.eq(new.token_hash),
            survey_requests::contact_id.eq(new.contact_id),
            survey_requests::company_id.eq(new.company_id),
            survey_requests::touchpoint_type.eq(new.touchpoint.0),
            survey_requests::touchpoint_id.eq(new.touchpoint.1),
            survey_requests::owner_id.eq(new.ownership.0),
            survey_requests::team_id.eq(new.ownership.1),
            survey_requests::created_by.eq(new.created_by),
            survey_requests::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    find_request(conn, &id)
}

/// One request by id.
pub fn find_request(conn: &mut DbConnection, id: &str) -> StoreResult<SurveyRequest> {
    let row: RequestRow =
        survey_requests::table.filter(survey_requests::id.eq(id)).select(request_columns()).first(conn)?;
    Ok(into_request(row))
}

/// The request a link's token hash names.
pub fn request_by_token(conn: &mut DbConnection, token_hash: &str) -> StoreResult<SurveyRequest> {
    let row: RequestRow = survey_requests::table
        .filter(survey_requests::token_hash.eq(token_hash))
        .select(request_columns())
        .first(conn)?;
    Ok(into_request(row))
}

/// Notes the email that carries a request.
pub fn set_email(conn: &mut DbConnection, id: &str, email_id: &str) -> StoreResult<()> {
    diesel::update(survey_requests::table.filter(survey_requests::id.eq(id)))
        .set(survey_requests::email_id.eq(email_id))
        .execute(conn)?;
    Ok(())
}

/// An answer to store.
#[derive(Debug, Clone)]
pub struct NewResponse<'a> {
    pub request_id: &'a str,
    pub survey_id: &'a str,
    pub score: u8,
    pub comment: Option<&'a str>,
    pub activity_id: Option<&'a str>,
}

/// Stores the answer to a request, once: a second answer is `Conflict`.
pub fn answer(conn: &mut DbConnection, new: &NewResponse<'_>, now: DateTime<Utc>) -> StoreResult<()> {
    let at = to_db_time(now);
    // The request row is claimed first, so of two answers racing only one finds it open.
    let claimed = diesel::update(
        survey_requests::table
            .filter(survey_requests::id.eq(new.request_id))
            .filter(survey_requests::answered_at.is_null()),
    )
    .set(survey_requests::answered_at.eq(at))
    .execute(conn)?;
    if claimed == 0 {
        return Err(StoreError::Conflict("this survey was answered already".into()));
    }
    diesel::insert_into(survey_responses::table)
        .values((
            survey_responses::request_id.eq(new.request_id),
            survey_responses::survey_id.eq(new.survey_id),
            survey_responses::score.eq(i32::from(new.score)),
            survey_responses::comment.eq(new.comment),
            survey_responses::activity_id.eq(new.activity_id),
            survey_responses::answered_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// A request of a results period with its answer's score, if answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub touchpoint_type: String,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub score: Option<u8>,
}

type AskedRow = (String, Option<String>, Option<String>, NaiveDateTime, Option<i32>);

/// Every request of a survey sent in `[from, to)`, with its score when answered.
pub fn asked(
    conn: &mut DbConnection,
    survey_id: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> StoreResult<Vec<Asked>> {
    let mut query = survey_requests::table
        .left_join(survey_responses::table.on(survey_responses::request_id.eq(survey_requests::id)))
        .filter(survey_requests::survey_id.eq(survey_id))
        .select((
            survey_requests::touchpoint_type,
            survey_requests::owner_id,
            survey_requests::team_id,
            survey_requests::created_at,
            survey_responses::score.nullable(),
        ))
        .into_boxed();
    if let Some(from) = from {
        query = query.filter(survey_requests::created_at.ge(to_db_time(from)));
    }
    if let Some(to) = to {
        query = query.filter(survey_requests::created_at.lt(to_db_time(to)));
    }
    let rows: Vec<AskedRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(touchpoint_type, owner_id, team_id, at, score)| Asked {
            touchpoint_type,
            owner_id,
            team_id,
            created_at: from_db_time(at),
            score: score.and_then(|s| u8::try_from(s).ok()),
        })
        .collect())
}
