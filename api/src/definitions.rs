//! The HTTP side of admin-defined documents (web forms, scoring and assignment rules): the
//! steps are `app::definitions`; this runs them in a transaction, once per `Idempotency-Key`
//! for a create, and reads the merge-patch's `position`.

use actix_web::HttpResponse;
use app::definitions::{DefinitionKind, Document};
use persistence::definitions::Definition;

use crate::error::ApiError;
use crate::extract::{Caller, IdempotencyKey, IfMatch};
use crate::state::AppState;
use crate::support::{Created, create_idempotently};

/// A kind of definition as the API serves it.
pub struct DefinitionApi<T: 'static> {
    pub steps: &'static DefinitionKind<T>,
    /// Collection path: "/api/v1/forms".
    pub collection: &'static str,
}

impl<T: Document> DefinitionApi<T> {
    /// Every definition of the kind, in order.
    pub async fn list(&'static self, state: &AppState, caller: Caller) -> Result<Vec<Definition<T>>, ApiError> {
        state.read(move |conn| Ok(self.steps.list(conn, &caller)?)).await
    }

    /// One definition.
    pub async fn get(&'static self, state: &AppState, caller: Caller, id: String) -> Result<Definition<T>, ApiError> {
        state.read(move |conn| Ok(self.steps.find(conn, &caller, &id)?)).await
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
        let checked = self.steps.check(caller, body.clone())?;
        let route = format!("POST {}", self.collection);
        let for_write = caller.clone();
        create_idempotently(state, caller, key, &route, &body, move |conn| {
            respond(self.steps.create(conn, &for_write, &checked, lookup_key.as_deref())?)
        })
        .await
    }

    /// Applies a JSON merge-patch to the stored document; `position` (a whole number) moves it.
    pub async fn update(
        &'static self,
        state: &AppState,
        caller: Caller,
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
        state.write(move |conn| Ok(self.steps.update(conn, &caller, &id, if_match.0, patch, position)?)).await
    }

    /// Deletes a definition.
    pub async fn delete(
        &'static self,
        state: &AppState,
        caller: Caller,
        id: String,
        if_match: IfMatch,
    ) -> Result<(), ApiError> {
        state.write(move |conn| Ok(self.steps.delete(conn, &caller, &id, if_match.0)?)).await
    }
}
