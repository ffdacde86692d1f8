//! Admin-defined documents (web forms, scoring and assignment rules), written once:
//! admin-only, validated as a whole by the domain, merge-patched, versioned, and followed by
//! what a change implies (a scoring rule change queues rescoring every lead).

use chrono::Utc;
use domain::form::WebForm;
use domain::lead::{AssignmentRule, ScoringRule};
use domain::record::merge_patch;
use domain::validation::ValidationErrors;
use persistence::definitions::{self, Definition, Kind};
use persistence::{DbConnection, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::actor::Actor;
use crate::error::AppError;
use crate::records::{check_owner_and_team, check_version};
use crate::sales;

/// How one kind of definition is checked and what follows a change.
pub struct DefinitionKind<T: 'static> {
    pub kind: Kind,
    /// Singular, for messages.
    pub noun: &'static str,
    /// Checks the document as a whole.
    pub validate: fn(T) -> Result<T, ValidationErrors>,
    /// Checks references to users and teams, inside the transaction.
    pub references: fn(&mut DbConnection, &T) -> Result<(), AppError>,
    /// Runs after every change, inside the transaction.
    pub after_change: fn(&mut DbConnection) -> Result<(), AppError>,
}

/// Definition documents: cloneable, movable to the blocking pool, JSON both ways.
pub trait Document: Serialize + DeserializeOwned + Clone + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Clone + Send + 'static> Document for T {}

/// Web forms: their owner and team must exist and be active.
pub static FORMS: DefinitionKind<WebForm> = DefinitionKind {
    kind: Kind::WebForm,
    noun: "form",
    validate: WebForm::validated,
    references: |conn, form| check_owner_and_team(conn, form.owner_id.as_deref(), form.team_id.as_deref()),
    after_change: nothing_after,
};

/// Scoring rules: every change queues rescoring every lead.
pub static SCORING_RULES: DefinitionKind<ScoringRule> = DefinitionKind {
    kind: Kind::ScoringRule,
    noun: "scoring rule",
    validate: ScoringRule::validated,
    references: |_, _| Ok(()),
    after_change: sales::queue_rescoring,
};

/// Assignment rules: whom they assign to must exist.
pub static ASSIGNMENT_RULES: DefinitionKind<AssignmentRule> = DefinitionKind {
    kind: Kind::AssignmentRule,
    noun: "assignment rule",
    validate: AssignmentRule::validated,
    references: |conn, rule| {
        check_owner_and_team(conn, rule.assign_to.owner_id.as_deref(), rule.assign_to.team_id.as_deref())
            .map_err(|_| AppError::invalid("assign_to", "not_found", "names no active user or no team"))
    },
    after_change: nothing_after,
};

fn nothing_after(_: &mut DbConnection) -> Result<(), AppError> {
    Ok(())
}

impl<T: Document> DefinitionKind<T> {
    fn find_in(&self, conn: &mut DbConnection, id: &str) -> Result<Definition<T>, AppError> {
        definitions::find::<T>(conn, self.kind, id).map_err(|error| match error {
            StoreError::NotFound => AppError::not_found(self.noun),
            other => other.into(),
        })
    }

    /// Every definition of the kind, in order.
    pub fn list(&self, conn: &mut DbConnection, actor: &Actor) -> Result<Vec<Definition<T>>, AppError> {
        actor.require_admin()?;
        Ok(definitions::list::<T>(conn, self.kind)?)
    }

    /// One definition.
    pub fn find(&self, conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<Definition<T>, AppError> {
        actor.require_admin()?;
        self.find_in(conn, id)
    }

    /// A new document checked before any transaction opens.
    pub fn check(&self, actor: &Actor, document: T) -> Result<T, AppError> {
        actor.require_admin()?;
        Ok((self.validate)(document)?)
    }

    /// Stores a checked document after the existing ones.
    pub fn create(
        &self,
        conn: &mut DbConnection,
        actor: &Actor,
        document: &T,
        lookup_key: Option<&str>,
    ) -> Result<Definition<T>, AppError> {
        actor.require_admin()?;
        (self.references)(conn, document)?;
        let created = definitions::insert(conn, self.kind, document, lookup_key, Utc::now())?;
        (self.after_change)(conn)?;
        Ok(created)
    }

    /// Applies a JSON merge-patch to the stored document, and moves it to `position` if given.
    pub fn update(
        &self,
        conn: &mut DbConnection,
        actor: &Actor,
        id: &str,
        expected_version: Option<i64>,
        patch: serde_json::Map<String, serde_json::Value>,
        position: Option<i32>,
    ) -> Result<Definition<T>, AppError> {
        actor.require_admin()?;
        let current = self.find_in(conn, id)?;
        check_version(expected_version, current.version)?;
        let mut document = serde_json::to_value(&current.body)?;
        merge_patch(&mut document, serde_json::Value::Object(patch));
        let document: T = serde_json::from_value(document).map_err(|e| match unknown_field(&e.to_string()) {
            Some(field) => AppError::malformed(&field, "unknown_field", format!("is not a field here: {e}")),
            None => AppError::Malformed { detail: format!("the result does not fit the schema: {e}"), errors: vec![] },
        })?;
        let document = (self.validate)(document)?;
        (self.references)(conn, &document)?;
        let position = position.unwrap_or(current.position);
        let updated = definitions::update(conn, self.kind, id, current.version, &document, position, Utc::now())?;
        (self.after_change)(conn)?;
        Ok(updated)
    }

    /// Deletes a definition.
    pub fn delete(
        &self,
        conn: &mut DbConnection,
        actor: &Actor,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), AppError> {
        actor.require_admin()?;
        let current = self.find_in(conn, id)?;
        check_version(expected_version, current.version)?;
        definitions::delete(conn, self.kind, id)?;
        (self.after_change)(conn)
    }
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(field, _)| field.to_owned())
}
