//! Who runs a business step, and where the request came from.

use domain::access::Principal;

use crate::error::AppError;

/// What a member may do, as themselves (not narrowed to an API key's role).
pub fn principal_of_member(membership: persistence::users::Membership) -> Principal {
    Principal {
        user_id: membership.user.id,
        api_key_id: None,
        grants: membership.grants,
        team_ids: membership.team_ids,
        teammate_ids: membership.teammate_ids,
    }
}

/// What a user may do now, as themselves; `None` when they are gone or deactivated (someone
/// to notify, or to act for, who can no longer read anything).
pub fn user_principal(conn: &mut persistence::DbConnection, user_id: &str) -> Result<Option<Principal>, AppError> {
    match persistence::users::membership(conn, user_id) {
        Ok(membership) if membership.user.active => Ok(Some(principal_of_member(membership))),
        Ok(_) | Err(persistence::StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// Where a request came from, as the audit log records it.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: Option<String>,
    /// The peer's IP address (the proxy's, behind a reverse proxy).
    pub client_address: Option<String>,
}

/// The principal a step runs as: a signed-in user, or an API key acting for its owner.
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
    /// The sign-in session, when the actor used an access token.
    pub session_id: Option<String>,
    /// Where the request came from.
    pub context: RequestContext,
    /// The workflow run acting, when a workflow acts as the user: what it changes is caused by
    /// the run, one causation level deeper than what triggered it.
    pub chain: Option<Chain>,
}

/// The workflow run an actor acts for, and the causation depth of what it causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub run_id: String,
    pub depth: i32,
}

/// The principal id of [`Actor::system`]; no user has it (user ids are UUIDs).
const SYSTEM_ID: &str = "system";

impl Actor {
    /// The server itself, for the rules it applies on its own (a solved ticket closing after
    /// some days): every grant, and recorded as no user (events say `actor.kind: system`).
    pub fn system() -> Actor {
        let principal = Principal {
            user_id: SYSTEM_ID.to_owned(),
            api_key_id: None,
            grants: domain::access::BuiltInRole::Admin.grants(),
            team_ids: Vec::new(),
            teammate_ids: Vec::new(),
        };
        Actor { principal, session_id: None, context: RequestContext::default(), chain: None }
    }

    /// Whether this is [`Actor::system`].
    pub fn is_system(&self) -> bool {
        self.principal.user_id == SYSTEM_ID && self.principal.api_key_id.is_none()
    }

    /// The user acting, if a user is.
    pub fn user_id(&self) -> Option<&str> {
        (!self.is_system()).then_some(self.principal.user_id.as_str())
    }

    /// The id idempotency keys are scoped to: the key itself, or the user.
    pub fn idempotency_scope(&self) -> String {
        match &self.principal.api_key_id {
            Some(key_id) => format!("key:{key_id}"),
            None => format!("user:{}", self.principal.user_id),
        }
    }

    /// Who is acting, as history rows record it.
    pub fn actor(&self) -> persistence::links::Actor<'_> {
        persistence::links::Actor { user_id: self.user_id(), api_key_id: self.principal.api_key_id.as_deref() }
    }

    /// Admin-only areas: users, teams, roles, restore.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.principal.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden("only administrators may do this".into()))
        }
    }
}
