//! Who may act, as admins set it up: users (with the rules that keep an admin in charge),
//! custom roles (built-in ones are fixed; a role in use stays), and teams and their members.
//! Every step here is admins-only.

use chrono::Utc;
use domain::access::{BuiltInRole, Grants};
use domain::user::{NewUser, UserChangeRefused, check_admin_change};
use persistence::roles::{self, Role};
use persistence::teams::{self, Team};
use persistence::users::{self, User, UserUpdate};
use persistence::{DbConnection, StoreError, auth};

use crate::actor::Actor;
use crate::error::AppError;
use crate::records::check_version;

/// A user change an admin asks for; absent parts are kept.
#[derive(Debug, Clone, Default)]
pub struct UserEdit {
    pub name: Option<String>,
    pub role_id: Option<String>,
    pub active: Option<bool>,
    /// The new password, already hashed.
    pub password_hash: Option<String>,
    pub expected_version: Option<i64>,
}

/// A role as checked: its name, description and grants.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub name: String,
    pub description: String,
    pub grants: Grants,
}

fn user_not_found(error: StoreError) -> AppError {
    match error {
        StoreError::NotFound => AppError::not_found("user"),
        other => other.into(),
    }
}

fn role_error(error: StoreError) -> AppError {
    match error {
        StoreError::NotFound => AppError::not_found("role"),
        StoreError::Conflict(_) => AppError::Conflict("a role with this name already exists".into()),
        other => other.into(),
    }
}

fn team_error(error: StoreError) -> AppError {
    match error {
        StoreError::NotFound => AppError::not_found("team"),
        StoreError::Conflict(_) => AppError::Conflict("a team with this name already exists".into()),
        other => other.into(),
    }
}

/// Checks that `role_id` names a role.
pub fn check_role(conn: &mut DbConnection, role_id: &str) -> Result<(), AppError> {
    match roles::find(conn, role_id) {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(AppError::invalid("role_id", "not_found", "names no role")),
        Err(other) => Err(other.into()),
    }
}

/// Stores a new user with an already hashed password; an email in use is a conflict.
pub fn create_user(
    conn: &mut DbConnection,
    actor: &Actor,
    new_user: &NewUser,
    password_hash: &str,
) -> Result<User, AppError> {
    actor.require_admin()?;
    check_role(conn, &new_user.role_id)?;
    let email = new_user.email.as_str();
    users::insert(conn, email, &new_user.name, password_hash, &new_user.role_id, Utc::now()).map_err(|e| match e {
        StoreError::Conflict(_) => AppError::Conflict("a user with this email already exists".into()),
        other => other.into(),
    })
}

/// Changes a user. An admin cannot deactivate or demote themselves, the last active admin
/// stays one, and deactivation or a new password ends every session of the user.
pub fn update_user(conn: &mut DbConnection, actor: &Actor, id: &str, edit: UserEdit) -> Result<User, AppError> {
    actor.require_admin()?;
    let current = users::find(conn, id).map_err(user_not_found)?;
    check_version(edit.expected_version, current.version)?;
    if let Some(role_id) = &edit.role_id {
        check_role(conn, role_id)?;
    }
    let admin = BuiltInRole::Admin.key();
    let is_active_admin = current.active && current.role_id == admin;
    let stays = edit.active.unwrap_or(current.active) && edit.role_id.as_deref().unwrap_or(&current.role_id) == admin;
    let admins = if is_active_admin && !stays { users::count_active_admins(conn)? } else { 0 };
    check_admin_change(&actor.principal.user_id, id, is_active_admin, stays, admins).map_err(
        |refusal| match refusal {
            UserChangeRefused::SelfLockout => AppError::Conflict("you cannot deactivate or demote yourself".into()),
            UserChangeRefused::LastAdmin => AppError::Conflict("this is the last active admin".into()),
        },
    )?;
    let ends_sessions = edit.active == Some(false) || edit.password_hash.is_some();
    let changes =
        UserUpdate { name: edit.name, role_id: edit.role_id, active: edit.active, password_hash: edit.password_hash };
    let user = users::update(conn, id, current.version, &changes, Utc::now())?;
    if ends_sessions {
        auth::revoke_all_sessions(conn, id, Utc::now())?;
    }
    Ok(user)
}

/// Stores a new custom role.
pub fn create_role(conn: &mut DbConnection, actor: &Actor, role: &RoleSpec) -> Result<Role, AppError> {
    actor.require_admin()?;
    roles::insert(conn, &role.name, &role.description, &role.grants, Utc::now()).map_err(role_error)
}

/// Replaces a custom role's name, description and grants; built-in roles are fixed.
pub fn update_role(conn: &mut DbConnection, actor: &Actor, id: &str, role: &RoleSpec) -> Result<Role, AppError> {
    actor.require_admin()?;
    if roles::find(conn, id).map_err(role_error)?.builtin {
        return Err(AppError::Conflict("built-in roles cannot be changed; create a custom role".into()));
    }
    roles::update(conn, id, &role.name, &role.description, &role.grants, Utc::now()).map_err(role_error)
}

/// Deletes a custom role nobody holds.
pub fn delete_role(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<(), AppError> {
    actor.require_admin()?;
    if roles::find(conn, id).map_err(role_error)?.builtin {
        return Err(AppError::Conflict("built-in roles cannot be deleted".into()));
    }
    let holders = roles::usage(conn, id)?;
    if holders > 0 {
        return Err(AppError::Conflict(format!(
            "the role is held by {holders} users or API keys; reassign them first"
        )));
    }
    roles::delete(conn, id).map_err(role_error)
}

/// Stores a new team; a name in use is a conflict.
pub fn create_team(conn: &mut DbConnection, actor: &Actor, name: &str) -> Result<Team, AppError> {
    actor.require_admin()?;
    teams::insert(conn, name, Utc::now()).map_err(team_error)
}

/// Renames a team.
pub fn rename_team(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i64>,
    name: &str,
) -> Result<Team, AppError> {
    actor.require_admin()?;
    let current = teams::find(conn, id).map_err(team_error)?;
    check_version(expected_version, current.version)?;
    teams::rename(conn, id, current.version, name, Utc::now()).map_err(team_error)
}

/// Deletes a team; its records keep their owners and lose the team.
pub fn delete_team(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<(), AppError> {
    actor.require_admin()?;
    teams::delete(conn, id).map_err(team_error)
}

/// Adds a user to a team; adding a member twice changes nothing.
pub fn add_member(conn: &mut DbConnection, actor: &Actor, team_id: &str, user_id: &str) -> Result<Team, AppError> {
    actor.require_admin()?;
    teams::find(conn, team_id).map_err(team_error)?;
    users::find(conn, user_id).map_err(user_not_found)?;
    Ok(teams::add_member(conn, team_id, user_id, Utc::now())?)
}

/// Removes a user from a team; removing a non-member changes nothing.
pub fn remove_member(conn: &mut DbConnection, actor: &Actor, team_id: &str, user_id: &str) -> Result<Team, AppError> {
    actor.require_admin()?;
    teams::find(conn, team_id).map_err(team_error)?;
    Ok(teams::remove_member(conn, team_id, user_id, Utc::now())?)
}
