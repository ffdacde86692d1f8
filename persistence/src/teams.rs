//! Teams: groups of users that share visibility of each other's records.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, StoreResult};
use crate::schema::{team_members, teams};
use crate::{DbConnection, from_db_time, to_db_time};

/// A team with its members.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub member_ids: Vec<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct TeamRow {
    id: String,
    name: String,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn with_members(conn: &mut DbConnection, rows: Vec<TeamRow>) -> StoreResult<Vec<Team>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let members: Vec<(String, String)> = team_members::table
        .filter(team_members::team_id.eq_any(ids))
        .order((team_members::team_id, team_members::user_id))
        .select((team_members::team_id, team_members::user_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| Team {
            member_ids: members.iter().filter(|(team, _)| *team == row.id).map(|(_, user)| user.clone()).collect(),
            id: row.id,
            name: row.name,
            version: row.version,
            created_at: from_db_time(row.created_at),
            updated_at: from_db_time(row.updated_at),
        })
        .collect())
}

/// One team by id.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<Team> {
    let row: TeamRow = teams::table.filter(teams::id.eq(id)).first(conn)?;
    with_members(conn, vec![row])?.pop().ok_or(StoreError::NotFound)
}

/// The id of the team with this name, in any case (teams are few: read in one go).
pub fn id_by_name(conn: &mut DbConnection, name: &str) -> StoreResult<Option<String>> {
    let all: Vec<(String, String)> = teams::table.select((teams::id, teams::name)).load(conn)?;
    let wanted = name.to_lowercase();
    Ok(all.into_iter().find(|(_, n)| n.to_lowercase() == wanted).map(|(id, _)| id))
}

/// Teams ordered by id, after `after_id`, at most `limit`.
pub fn list(conn: &mut DbConnection, after_id: Option<&str>, limit: i64) -> StoreResult<Vec<Team>> {
    let mut query = teams::table.order(teams::id.asc()).limit(limit).into_boxed();
    if let Some(after) = after_id {
        query = query.filter(teams::id.gt(after.to_owned()));
    }
    let rows: Vec<TeamRow> = query.load(conn)?;
    with_members(conn, rows)
}

/// A new team; a name already taken (any case) is a conflict.
pub fn insert(conn: &mut DbConnection, name: &str, now: DateTime<Utc>) -> StoreResult<Team> {
    let id = crate::new_id();
    let now = to_db_time(now);
    diesel::insert_into(teams::table)
        .values((
            teams::id.eq(&id),
            teams::name.eq(name),
            teams::version.eq(1_i64),
            teams::created_at.eq(now),
            teams::updated_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, &id)
}

/// Renames a team if it is still at `version`.
pub fn rename(conn: &mut DbConnection, id: &str, version: i64, name: &str, now: DateTime<Utc>) -> StoreResult<Team> {
    let changed = diesel::update(teams::table.filter(teams::id.eq(id).and(teams::version.eq(version))))
        .set((teams::name.eq(name), teams::version.eq(version + 1), teams::updated_at.eq(to_db_time(now))))
        .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::Stale);
    }
    find(conn, id)
}

/// Deletes a team and its memberships; records assigned to it keep their owner only.
pub fn delete(conn: &mut DbConnection, id: &str) -> StoreResult<()> {
    crate::records::clear_team(conn, id)?;
    diesel::delete(team_members::table.filter(team_members::team_id.eq(id))).execute(conn)?;
    let deleted = diesel::delete(teams::table.filter(teams::id.eq(id))).execute(conn)?;
    if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Adds a member; adding one already there changes nothing.
pub fn add_member(conn: &mut DbConnection, team_id: &str, user_id: &str, now: DateTime<Utc>) -> StoreResult<Team> {
    let exists: i64 = team_members::table
        .filter(team_members::team_id.eq(team_id).and(team_members::user_id.eq(user_id)))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        diesel::insert_into(team_members::table)
            .values((
                team_members::team_id.eq(team_id),
                team_members::user_id.eq(user_id),
                team_members::created_at.eq(to_db_time(now)),
            ))
            .execute(conn)?;
        touch(conn, team_id, now)?;
    }
    find(conn, team_id)
}

/// Removes a member; removing one not there changes nothing.
pub fn remove_member(conn: &mut DbConnection, team_id: &str, user_id: &str, now: DateTime<Utc>) -> StoreResult<Team> {
    let removed = diesel::delete(
        team_members::table.filter(team_members::team_id.eq(team_id).and(team_members::user_id.eq(user_id))),
    )
    .execute(conn)?;
    if removed > 0 {
        touch(conn, team_id, now)?;
    }
    find(conn, team_id)
}

fn touch(conn: &mut DbConnection, team_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    diesel::update(teams::table.filter(teams::id.eq(team_id)))
        .set((teams::version.eq(teams::version + 1), teams::updated_at.eq(to_db_time(now))))
        .execute(conn)?;
    Ok(())
}

/// True when the team exists.
pub fn exists(conn: &mut DbConnection, id: &str) -> StoreResult<bool> {
    let count: i64 = teams::table.filter(teams::id.eq(id)).count().get_result(conn)?;
    Ok(count > 0)
}

/// The active members of a team, in a stable order (round-robin walks it).
pub fn active_member_ids(conn: &mut DbConnection, team_id: &str) -> StoreResult<Vec<String>> {
    use crate::schema::users;
    Ok(team_members::table
        .inner_join(users::table)
        .filter(team_members::team_id.eq(team_id))
        .filter(users::active.eq(true))
        .order(users::id.asc())
        .select(users::id)
        .load(conn)?)
}
