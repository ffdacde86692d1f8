//! The request flow of admin-defined documents (web forms, scoring and assignment rules),
//! written once: admin-only, validated as a whole by the domain, merge-patched, versioned.

use actix_web::HttpResponse;
use chrono::Utc;
use domain::validation::ValidationErrors;
use persistence::definitions::{self, Definition, Kind};
use persistence::{DbConnection, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::extract::{Caller, IdempotencyKey, IfMatch};
use crate::state::AppState;
use crate::support::{Created, create_idempotently};

/// How one kind of definition is checked and what follows a change.
pub struct DefinitionKind<T: 'static> {
    pub kind: Kind,
    /// Singular, for messages.
    pub noun: &'static str,
    /// Collection path: "/api/v1/forms".
    pub collection: &'static str,
    /// Checks the document as a whole.
    pub validate: fn(T) -> Result<T, ValidationErrors>,
    /// Checks references to users and teams, inside the transaction.
    pub references: fn(&mut DbConnection, &T) -> Result<(), ApiError>,
    /// Runs after every change, inside the transaction (scoring rules rescore leads).
    pub after_change: fn(&mut DbConnection) -> Result<(), ApiError>,
}

/// Definition documents: cloneable, movable to the blocking pool, JSON both ways.
pub trait Document: Serialize + DeserializeOwned + Clone + Send + 'static {}

impl<T: Serialize + DeserializeOwned + Clone + Send + 'static> Document for T {}

impl<T: Document> DefinitionKind<T> {
    fn not_found(&self, error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound => ApiError::not_found(self.noun),
            other => other.into(),
        }
    }

    /// Every definition of the kind, in order.
    pub async fn list(&'static self, state: &AppState, caller: &Caller) -> Result<Vec<Definition<T>>, ApiError> {
        caller.require_admin()?;
        state.read(move |conn| Ok(definitions::list::<T>(conn, self.kind)?)).await
    }

    /// One definition.
    pub async fn get(&'static self, state: &AppState, caller: &Caller, id: String) -> Result<Definition<T>, ApiError> {
        caller.require_admin()?;
        state.read(move |conn| definitions::find::<T>(conn, self.kind, &id).map_err(|e| self.not_found(e))).await
    }

    /// Validates and stores a new definition after the existing ones, once per
    /// `Idempotency-Key`; `respond` turns it into the 201 answer.
    pub async fn create(
        &'static self,
        state: &AppState,
        caller: &Caller,
        key: IdempotencyKey,
        body: T,
        lookup_key: Option<String>,
        respond: fn(Definition<T>) -> Result<Created, ApiError>,
    ) -> Result<HttpResponse, ApiError> {
        caller.require_admin()?;
        let route = format!("POST {}", self.collection);
        let validated = (self.validate)(body.clone())?;
        create_idempotently(state, caller, key, &route, &body, move |conn| {
            (self.references)(conn, &validated)?;
            let created = definitions::insert(conn, self.kind, &validated, lookup_key.as_deref(), Utc::now())?;
            (self.after_change)(conn)?;
            respond(created)
        })
        .await
    }

    /// Applies a JSON merge-patch to the stored document; `position` (a whole number) moves it.
    pub async fn update(
        &'static self,
        state: &AppState,
        caller: &Caller,
        id: String,
        if_match: IfMatch,
        patch: serde_json::Value,
    ) -> Result<Definition<T>, ApiError> {
        caller.require_admin()?;
        let serde_json::Value::Object(mut patch) = patch else {
            return Err(ApiError::bad_request("the body must be a JSON object (a merge-patch)"));
        };
        let position = match patch.remove("position") {
            None => None,
            Some(value) => Some(
                value
                    .as_i64()
                    .and_then(|p| i32::try_from(p).ok())
                    .filter(|p| *p >= 0)
                    .ok_or_else(|| ApiError::bad_field("position", "invalid", "must be a whole number from 0"))?,
            ),
        };
        state
            .write(move |conn| {
                let current = definitions::find::<T>(conn, self.kind, &id).map_err(|e| self.not_found(e))?;
                if_match.check(current.version)?;
                let mut document =
                    serde_json::to_value(&current.body).map_err(|e| ApiError::Internal(e.to_string()))?;
                merge_patch(&mut document, serde_json::Value::Object(patch));
                let body: T = serde_json::from_value(document).map_err(|e| match unknown_field(&e.to_string()) {
                    Some(field) => ApiError::bad_field(&field, "unknown_field", format!("is not a field here: {e}")),
                    None => ApiError::bad_request(format!("the result does not fit the schema: {e}")),
                })?;
                let body = (self.validate)(body)?;
                (self.references)(conn, &body)?;
                let updated = definitions::update(
                    conn,
                    self.kind,
                    &id,
                    current.version,
                    &body,
                    position.unwrap_or(current.position),
                    Utc::now(),
                )?;
                (self.after_change)(conn)?;
                Ok(updated)
            })
            .await
    }

    /// Deletes a definition.
    pub async fn delete(
        &'static self,
        state: &AppState,
        caller: &Caller,
        id: String,
        if_match: IfMatch,
    ) -> Result<(), ApiError> {
        caller.require_admin()?;
        state
            .write(move |conn| {
                let current = definitions::find::<T>(conn, self.kind, &id).map_err(|e| self.not_found(e))?;
                if_match.check(current.version)?;
                definitions::delete(conn, self.kind, &id)?;
                (self.after_change)(conn)
            })
            .await
    }
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(field, _)| field.to_owned())
}

/// RFC 7396 JSON merge-patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
    match patch {
        serde_json::Value::Object(entries) => {
            if !target.is_object() {
                *target = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(map) = target {
                for (key, value) in entries {
                    if value.is_null() {
                        map.remove(&key);
                    } else {
                        merge_patch(map.entry(key).or_insert(serde_json::Value::Null), value);
                    }
                }
            }
        }
        other => *target = other,
    }
}

/// No references to check.
pub fn no_references<T>(_: &mut DbConnection, _: &T) -> Result<(), ApiError> {
    Ok(())
}

/// Nothing follows a change.
pub fn nothing_after(_: &mut DbConnection) -> Result<(), ApiError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_patch;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        merge_patch(&mut doc, json!({"c": [1]}));
        assert_eq!(doc, json!({"a": "z", "c": [1]}));
    }
}
