//! Users: the people who sign in.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::BuiltInRole;

use crate::error::{StoreError, StoreResult};
use crate::schema::{roles, team_members, users};
use crate::{DbConnection, from_db_time, to_db_time};

/// A user as shown to admins; the password hash never leaves this module except for login.
#[derive(Debug, Clone, Queryable)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role_id: String,
    pub active: bool,
    pub version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl User {
    /// When the user was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        from_db_time(self.created_at)
    }

    /// When the user last changed.
    pub fn updated_at(&self) -> DateTime<Utc> {
        from_db_time(self.updated_at)
    }
}

type UserColumns = (
    users::id,
    users::email,
    users::name,
    users::role_id,
    users::active,
    users::version,
    users::created_at,
    users::updated_at,
);
const USER_COLUMNS: UserColumns = (
    users::id,
    users::email,
    users::name,
    users::role_id,
    users::active,
    users::version,
    users::created_at,
    users::updated_at,
);

/// Inserts a user; an email already in use is a conflict.
pub fn insert(
    conn: &mut DbConnection,
    email: &str,
    name: &str,
    password_hash: &str,
    role_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let id = crate::new_id();
    let now = to_db_time(now);
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&id),
            users::email.eq(email),
            users::name.eq(name),
            users::password_hash.eq(password_hash),
            users::role_id.eq(role_id),
            users::active.eq(true),
            users::version.eq(1_i64),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, &id)
}

/// One user by id.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<User> {
    Ok(users::table.filter(users::id.eq(id)).select(USER_COLUMNS).first(conn)?)
}

/// The user with this (normalised) email.
pub fn find_by_email(conn: &mut DbConnection, email: &str) -> StoreResult<Option<User>> {
    Ok(users::table.filter(users::email.eq(email)).select(USER_COLUMNS).first(conn).optional()?)
}

/// The user with this (normalised) email and their password hash, for login.
pub fn find_for_login(conn: &mut DbConnection, email: &str) -> StoreResult<Option<(User, String)>> {
    Ok(users::table
        .filter(users::email.eq(email))
        .select((USER_COLUMNS, users::password_hash))
        .first(conn)
        .optional()?)
}

/// Users ordered by id (creation order), after `after_id`, at most `limit`.
pub fn list(conn: &mut DbConnection, after_id: Option<&str>, limit: i64) -> StoreResult<Vec<User>> {
    let mut query = users::table.select(USER_COLUMNS).order(users::id.asc()).limit(limit).into_boxed();
    if let Some(after) = after_id {
        query = query.filter(users::id.gt(after.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// How many users exist at all (zero means a fresh installation).
pub fn count(conn: &mut DbConnection) -> StoreResult<i64> {
    Ok(users::table.count().get_result(conn)?)
}

/// How many active users hold the admin role.
pub fn count_active_admins(conn: &mut DbConnection) -> StoreResult<i64> {
    Ok(users::table
        .filter(users::active.eq(true).and(users::role_id.eq(BuiltInRole::Admin.key())))
        .count()
        .get_result(conn)?)
}

/// The ids of the active users who hold the admin role.
pub fn active_admin_ids(conn: &mut DbConnection) -> StoreResult<Vec<String>> {
    Ok(users::table
        .filter(users::active.eq(true).and(users::role_id.eq(BuiltInRole::Admin.key())))
        .select(users::id)
        .order(users::id.asc())
        .load(conn)?)
}

/// The active managers (built-in role) of the teams a user is in, the user aside.
pub fn managers_of(conn: &mut DbConnection, user_id: &str) -> StoreResult<Vec<String>> {
    use crate::schema::team_members;
    let teams: Vec<String> =
        team_members::table.filter(team_members::user_id.eq(user_id)).select(team_members::team_id).load(conn)?;
    Ok(team_members::table
        .inner_join(users::table)
        .filter(team_members::team_id.eq_any(teams))
        .filter(users::active.eq(true).and(users::role_id.eq(BuiltInRole::Manager.key())))
        .filter(users::id.ne(user_id))
        .select(users::id)
        .distinct()
        .order(users::id.asc())
        .load(conn)?)
}

/// The fields an admin may change on a user.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserUpdate {
    pub name: Option<String>,
    pub role_id: Option<String>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
}

/// Applies `changes` if the user is still at `version`.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    changes: &UserUpdate,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let changed = diesel::update(users::table.filter(users::id.eq(id).and(users::version.eq(version))))
        .set((changes, users::version.eq(version + 1), users::updated_at.eq(to_db_time(now))))
        .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::Stale);
    }
    find(conn, id)
}

/// What a request needs to know about its caller: the user, its role's grants, its
/// teams, and everyone sharing a team with it (itself included).
#[derive(Debug, Clone)]
pub struct Membership {
    pub user: User,
    pub grants: domain::access::Grants,
    pub team_ids: Vec<String>,
    pub teammate_ids: Vec<String>,
}

/// Loads a caller's membership in at most three statements.
pub fn membership(conn: &mut DbConnection, user_id: &str) -> StoreResult<Membership> {
    let (user, grants): (User, String) = users::table
        .inner_join(roles::table)
        .filter(users::id.eq(user_id))
        .select((USER_COLUMNS, roles::grants))
        .first(conn)?;
    let team_ids: Vec<String> = team_members::table
        .filter(team_members::user_id.eq(user_id))
        .select(team_members::team_id)
        .order(team_members::team_id)
        .load(conn)?;
    let mut teammate_ids: Vec<String> = if team_ids.is_empty() {
        Vec::new()
    } else {
        team_members::table.filter(team_members::team_id.eq_any(&team_ids)).select(team_members::user_id).load(conn)?
    };
    teammate_ids.push(user.id.clone());
    teammate_ids.sort();
    teammate_ids.dedup();
    Ok(Membership { user, grants: serde_json::from_str(&grants)?, team_ids, teammate_ids })
}
