//! Roles: named sets of grants. Built-in roles are kept in step with the code at start.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::access::{BuiltInRole, Grants};

use crate::error::{StoreError, StoreResult};
use crate::schema::{api_keys, roles, users};
use crate::{DbConnection, from_db_time, to_db_time};

/// A role as stored.
#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
    pub builtin: bool,
    pub grants: Grants,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable)]
struct RoleRow {
    id: String,
    name: String,
    description: String,
    builtin: bool,
    grants: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl RoleRow {
    fn into_role(self) -> StoreResult<Role> {
        Ok(Role {
            id: self.id,
            name: self.name,
            description: self.description,
            builtin: self.builtin,
            grants: serde_json::from_str(&self.grants)?,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
        })
    }
}

/// Inserts missing built-in roles and brings their grants up to date with this version.
pub fn sync_builtin(conn: &mut DbConnection, now: DateTime<Utc>) -> StoreResult<()> {
    let now = to_db_time(now);
    for role in BuiltInRole::ALL {
        let grants = serde_json::to_string(&role.grants())?;
        let updated = diesel::update(roles::table.filter(roles::id.eq(role.key())))
            .set((roles::grants.eq(&grants), roles::description.eq(role.description()), roles::builtin.eq(true)))
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(roles::table)
                .values((
                    roles::id.eq(role.key()),
                    roles::name.eq(role.key()),
                    roles::description.eq(role.description()),
                    roles::builtin.eq(true),
                    roles::grants.eq(&grants),
                    roles::created_at.eq(now),
                    roles::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Every role, built-in first, then by name.
pub fn list(conn: &mut DbConnection) -> StoreResult<Vec<Role>> {
    roles::table
        .order((roles::builtin.desc(), roles::name.asc()))
        .load::<RoleRow>(conn)?
        .into_iter()
        .map(RoleRow::into_role)
        .collect()
}

/// One role by id.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<Role> {
    roles::table.filter(roles::id.eq(id)).first::<RoleRow>(conn)?.into_role()
}

/// A new custom role; a name already taken (any case) is a conflict.
pub fn insert(
    conn: &mut DbConnection,
    name: &str,
    description: &str,
    grants: &Grants,
    now: DateTime<Utc>,
) -> StoreResult<Role> {
    let id = crate::new_id();
    let now = to_db_time(now);
    diesel::insert_into(roles::table)
        .values((
            roles::id.eq(&id),
            roles::name.eq(name),
            roles::description.eq(description),
            roles::builtin.eq(false),
            roles::grants.eq(serde_json::to_string(grants)?),
            roles::created_at.eq(now),
            roles::updated_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, &id)
}

/// Replaces a custom role's fields.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    name: &str,
    description: &str,
    grants: &Grants,
    now: DateTime<Utc>,
) -> StoreResult<Role> {
    let changed = diesel::update(roles::table.filter(roles::id.eq(id).and(roles::builtin.eq(false))))
        .set((
            roles::name.eq(name),
            roles::description.eq(description),
            roles::grants.eq(serde_json::to_string(grants)?),
            roles::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    find(conn, id)
}

/// How many users and API keys use the role.
pub fn usage(conn: &mut DbConnection, id: &str) -> StoreResult<i64> {
    let by_users: i64 = users::table.filter(users::role_id.eq(id)).count().get_result(conn)?;
    let by_keys: i64 = api_keys::table
        .filter(api_keys::role_id.eq(id).and(api_keys::revoked_at.is_null()))
        .count()
        .get_result(conn)?;
    Ok(by_users + by_keys)
}

/// Deletes a custom role.
pub fn delete(conn: &mut DbConnection, id: &str) -> StoreResult<()> {
    diesel::update(api_keys::table.filter(api_keys::role_id.eq(id).and(api_keys::revoked_at.is_not_null())))
        .set(api_keys::role_id.eq(None::<String>))
        .execute(conn)?;
    let deleted = diesel::delete(roles::table.filter(roles::id.eq(id).and(roles::builtin.eq(false)))).execute(conn)?;
    if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
