//! Credentials other than passwords: refresh-token families and API keys.
//! Only hashes of secrets are stored.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use diesel::prelude::*;

use crate::error::StoreResult;
use crate::schema::{api_keys, refresh_tokens, token_families};
use crate::{DbConnection, from_db_time, to_db_time};

/// Starts a sign-in session (a token family) with its first refresh token; returns the family id.
pub fn start_session(
    conn: &mut DbConnection,
    user_id: &str,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<String> {
    let family_id = crate::new_id();
    diesel::insert_into(token_families::table)
        .values((
            token_families::id.eq(&family_id),
            token_families::user_id.eq(user_id),
            token_families::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    insert_refresh_token(conn, &family_id, token_hash, expires_at, now)?;
    Ok(family_id)
}

fn insert_refresh_token(
    conn: &mut DbConnection,
    family_id: &str,
    token_hash: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(crate::new_id()),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::token_hash.eq(token_hash),
            refresh_tokens::created_at.eq(to_db_time(now)),
            refresh_tokens::expires_at.eq(to_db_time(expires_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now spent and a new one issued in the same family.
    Rotated { user_id: String, family_id: String },
    /// The token had already been spent: someone replayed it, so the whole family is revoked.
    Reused { user_id: String, family_id: String },
    /// Unknown, expired, or its session was revoked.
    Invalid,
}

/// A refresh token as looked up, with its session.
#[derive(Queryable)]
struct PresentedToken {
    token_id: String,
    family_id: String,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    user_id: String,
    revoked_at: Option<NaiveDateTime>,
}

/// Spends `presented_hash` and issues `new_hash` in its family, detecting reuse. Must run in
/// a write transaction; a reuse commits the revocation.
pub fn rotate(
    conn: &mut DbConnection,
    presented_hash: &str,
    new_hash: &str,
    new_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Rotation> {
    let found: Option<PresentedToken> = refresh_tokens::table
        .inner_join(token_families::table)
        .filter(refresh_tokens::token_hash.eq(presented_hash))
        .select((
            refresh_tokens::id,
            refresh_tokens::family_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            token_families::user_id,
            token_families::revoked_at,
        ))
        .first(conn)
        .optional()?;
    let Some(PresentedToken { token_id, family_id, expires_at, used_at, user_id, revoked_at }) = found else {
        return Ok(Rotation::Invalid);
    };
    if revoked_at.is_some() {
        return Ok(Rotation::Invalid);
    }
    let db_now = to_db_time(now);
    let spent = if used_at.is_some() {
        0
    } else {
        diesel::update(
            refresh_tokens::table.filter(refresh_tokens::id.eq(&token_id).and(refresh_tokens::used_at.is_null())),
        )
        .set(refresh_tokens::used_at.eq(Some(db_now)))
        .execute(conn)?
    };
    if spent == 0 {
        revoke_session(conn, &family_id, now)?;
        return Ok(Rotation::Reused { user_id, family_id });
    }
    if expires_at <= db_now {
        return Ok(Rotation::Invalid);
    }
    insert_refresh_token(conn, &family_id, new_hash, new_expires_at, now)?;
    Ok(Rotation::Rotated { user_id, family_id })
}

/// Revokes a session: its refresh tokens stop working and so do access tokens naming it.
pub fn revoke_session(conn: &mut DbConnection, family_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    diesel::update(
        token_families::table.filter(token_families::id.eq(family_id).and(token_families::revoked_at.is_null())),
    )
    .set(token_families::revoked_at.eq(Some(to_db_time(now))))
    .execute(conn)?;
    Ok(())
}

/// Revokes every session of a user (deactivation, password change).
pub fn revoke_all_sessions(conn: &mut DbConnection, user_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    diesel::update(
        token_families::table.filter(token_families::user_id.eq(user_id).and(token_families::revoked_at.is_null())),
    )
    .set(token_families::revoked_at.eq(Some(to_db_time(now))))
    .execute(conn)?;
    Ok(())
}

/// True when the session exists, belongs to the user and is not revoked.
pub fn session_is_active(conn: &mut DbConnection, family_id: &str, user_id: &str) -> StoreResult<bool> {
    let count: i64 = token_families::table
        .filter(
            token_families::id
                .eq(family_id)
                .and(token_families::user_id.eq(user_id))
                .and(token_families::revoked_at.is_null()),
        )
        .count()
        .get_result(conn)?;
    Ok(count > 0)
}

/// An API key's public facts (never its secret).
#[derive(Debug, Clone, Queryable)]
pub struct ApiKey {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    pub role_id: Option<String>,
    created_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
}

impl ApiKey {
    /// When the key was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        from_db_time(self.created_at)
    }
    /// When the key stops working, if ever.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at.map(from_db_time)
    }
    /// When the key was last used (to the minute).
    pub fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.last_used_at.map(from_db_time)
    }
    /// When the key was revoked.
    pub fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.revoked_at.map(from_db_time)
    }
}

type KeyColumns = (
    api_keys::id,
    api_keys::user_id,
    api_keys::name,
    api_keys::prefix,
    api_keys::role_id,
    api_keys::created_at,
    api_keys::expires_at,
    api_keys::last_used_at,
    api_keys::revoked_at,
);
const KEY_COLUMNS: KeyColumns = (
    api_keys::id,
    api_keys::user_id,
    api_keys::name,
    api_keys::prefix,
    api_keys::role_id,
    api_keys::created_at,
    api_keys::expires_at,
    api_keys::last_used_at,
    api_keys::revoked_at,
);

/// The fields of a new key.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub user_id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub role_id: Option<&'a str>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores a new key.
pub fn insert_api_key(conn: &mut DbConnection, key: &NewApiKey<'_>, now: DateTime<Utc>) -> StoreResult<ApiKey> {
    let id = crate::new_id();
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&id),
            api_keys::user_id.eq(key.user_id),
            api_keys::name.eq(key.name),
            api_keys::prefix.eq(key.prefix),
            api_keys::secret_hash.eq(key.secret_hash),
            api_keys::role_id.eq(key.role_id),
            api_keys::created_at.eq(to_db_time(now)),
            api_keys::expires_at.eq(key.expires_at.map(to_db_time)),
        ))
        .execute(conn)?;
    find_api_key(conn, &id)
}

/// One key by id.
pub fn find_api_key(conn: &mut DbConnection, id: &str) -> StoreResult<ApiKey> {
    Ok(api_keys::table.filter(api_keys::id.eq(id)).select(KEY_COLUMNS).first(conn)?)
}

/// The usable key with this secret hash: not revoked, not expired.
pub fn find_usable_api_key(
    conn: &mut DbConnection,
    secret_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<ApiKey>> {
    let now = to_db_time(now);
    Ok(api_keys::table
        .filter(api_keys::secret_hash.eq(secret_hash).and(api_keys::revoked_at.is_null()))
        .filter(api_keys::expires_at.is_null().or(api_keys::expires_at.gt(now)))
        .select(KEY_COLUMNS)
        .first(conn)
        .optional()?)
}

/// Records use at most once a minute, so busy scripts do not turn every read into a write.
pub fn note_api_key_use(conn: &mut DbConnection, key: &ApiKey, now: DateTime<Utc>) -> StoreResult<()> {
    let stale = key.last_used_at.is_none_or(|last| to_db_time(now) - last > TimeDelta::minutes(1));
    if stale {
        diesel::update(api_keys::table.filter(api_keys::id.eq(&key.id)))
            .set(api_keys::last_used_at.eq(Some(to_db_time(now))))
            .execute(conn)?;
    }
    Ok(())
}

/// Keys of one user, or of everyone when `user_id` is `None`, newest first.
pub fn list_api_keys(conn: &mut DbConnection, user_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
    let mut query = api_keys::table.select(KEY_COLUMNS).order(api_keys::id.desc()).into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(api_keys::user_id.eq(user_id.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Revokes a key at once; revoking twice changes nothing.
pub fn revoke_api_key(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> StoreResult<ApiKey> {
    diesel::update(api_keys::table.filter(api_keys::id.eq(id).and(api_keys::revoked_at.is_null())))
        .set(api_keys::revoked_at.eq(Some(to_db_time(now))))
        .execute(conn)?;
    find_api_key(conn, id)
}
