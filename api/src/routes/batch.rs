//! `POST /api/v1/{collection}/batch`: up to 100 creates, updates and deletes of one record
//! type in one request. Each operation runs as its single endpoint does (the same handler:
//! grants, validation, duplicate check, audit, history), in its own transaction; the answer
//! lists each one's status and body or problem, in order. An `Idempotency-Key` covers the
//! whole batch: a retry gets the first answer and runs nothing again.

use actix_web::HttpResponse;
use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extract::{Caller, IdempotencyKey, IfMatch};
use crate::state::AppState;

/// Most operations one batch may hold.
pub const BATCH_MAX: usize = 100;

/// What became of one operation.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// The status the single endpoint answered: 201, 200, 204, or the problem's.
    #[schema(example = 201)]
    pub status: u16,
    /// The record as the single endpoint answered it (creates and updates).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub body: Option<serde_json::Value>,
    /// The record's new `ETag` (creates and updates).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "\"1\"")]
    pub etag: Option<String>,
    /// Why the operation was refused; nothing of it was changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// The results of a batch, one per operation, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    pub results: Vec<BatchResult>,
}

/// The version an operation's `if_match` names: an `ETag` as the API gives it (`"3"`), or the
/// bare version.
pub(crate) fn if_match_of(raw: Option<&str>) -> Result<IfMatch, ApiError> {
    let Some(raw) = raw else { return Ok(IfMatch(None)) };
    let text = raw.trim().trim_start_matches("W/");
    let text = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    text.parse()
        .map(|version| IfMatch(Some(version)))
        .map_err(|_| ApiError::invalid_field("if_match", "invalid", "must be an ETag given by this API, such as \"3\""))
}

/// One operation's outcome, read off the single endpoint's answer.
pub(crate) fn result_of(caller: &Caller, answer: Result<HttpResponse, ApiError>) -> BatchResult {
    match answer {
        Ok(response) => {
            let status = response.status().as_u16();
            let etag =
                response.headers().get(actix_web::http::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let bytes = response.into_body().try_into_bytes().unwrap_or_default();
            let body = serde_json::from_slice(&bytes).ok();
            BatchResult { status, body, etag, problem: None }
        }
        Err(error) => {
            if let ApiError::Internal(detail) = &error {
                log::error!("batch operation failed (request {:?}): {detail}", caller.context.request_id);
            }
            let mut problem = error.problem();
            problem.request_id.clone_from(&caller.context.request_id);
            BatchResult { status: problem.status, body: None, etag: None, problem: Some(problem) }
        }
    }
}

/// Runs the operations one after the other (`run`) and answers their results, once per
/// `Idempotency-Key`.
pub(crate) async fn answer<O: Serialize>(
    state: &AppState,
    caller: &Caller,
    key: IdempotencyKey,
    collection: &str,
    operations: Vec<O>,
    run: impl AsyncFnOnce(Vec<O>) -> Vec<BatchResult>,
) -> Result<HttpResponse, ApiError> {
    if operations.is_empty() || operations.len() > BATCH_MAX {
        return Err(ApiError::invalid_field("operations", "length", format!("must hold 1 to {BATCH_MAX} operations")));
    }
    let route = format!("POST /api/v1/{collection}/batch");
    let canonical = serde_json::to_value(&operations).map_err(|e| ApiError::Internal(e.to_string()))?;
    crate::support::run_once(state, caller, key, &route, &canonical, async move || {
        let body = serde_json::to_string(&BatchAnswer { results: run(operations).await })
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((StatusCode::OK, body))
    })
    .await
}

/// Declares a record type's batch, in the type's own routes module: its operation type (the
/// single endpoints' bodies), the handler (`batch`), which calls those endpoints' handlers
/// (`create`, `update`, `delete` of the same module) one operation at a time, and its
/// resource (`batch_resource`).
macro_rules! batch_route {
    (
        $operation:ident, $batch:ident, $input:ty, $collection:literal,
        create: |$allow:ident| $create_params:expr $(, allow_duplicate: $dup:ty)?
    ) => {
        /// One operation of a batch, as its single endpoint takes it.
        #[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
        pub enum $operation {
            /// As `POST` with this body.
            Create {
                body: $input,
                $(
                    #[doc = "As `?allow_duplicate=true` on the single create."]
                    #[serde(default)]
                    allow_duplicate: $dup,
                )?
            },
            /// As `PATCH …/{id}` (a merge-patch), with `if_match` as the `If-Match` header.
            Update {
                // Any text: an id that names no record fails that operation alone (404).
                #[schema(example = "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61")]
                id: String,
                #[schema(example = "\"3\"")]
                if_match: Option<String>,
                body: $input,
            },
            /// As `DELETE …/{id}`.
            Delete {
                // Any text: an id that names no record fails that operation alone (404).
                #[schema(example = "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61")]
                id: String,
                #[schema(example = "\"3\"")]
                if_match: Option<String>,
            },
        }

        impl $operation {
            /// Whether a create may make a record that looks like an existing one.
            fn allows_duplicate(&self) -> bool {
                match self {
                    $($operation::Create { allow_duplicate, .. } => {
                        let allowed: &$dup = allow_duplicate;
                        *allowed
                    })?
                    #[allow(unreachable_patterns)]
                    _ => false,
                }
            }
        }

        /// A batch of operations, run in order.
        #[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $batch {
            /// 1 to 100 operations.
            #[schema(min_items = 1, max_items = 100)]
            pub operations: Vec<$operation>,
        }

        #[doc = concat!("Create, update and delete ", $collection, " in one request.")]
        #[utoipa::path(
            post, path = concat!("/api/v1/", $collection, "/batch"), tag = $collection,
            operation_id = concat!("batch_", $collection),
            summary = concat!("Create, update and delete ", $collection, " in one request"),
            description = "Up to 100 creates, updates and deletes, run in order, each as its single endpoint runs it (grants, validation, duplicate check, audit and history alike) in its own transaction: one refused operation changes nothing of itself and leaves the others be. The answer lists each operation's status and body (or problem) in order. A body that is not the documented shape refuses the whole batch (400) before anything runs. An `Idempotency-Key` covers the whole batch: a retry gets the first answer; while the first is still running, 409.",
            params(crate::extract::NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the whole batch safe to retry")),
            request_body = $batch,
            responses(
                (status = 200, description = "Each operation's outcome, in order", body = crate::routes::batch::BatchAnswer),
                (status = 400, description = "Malformed JSON, an operation of unknown shape, or an unknown parameter", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 409, description = "A batch with this Idempotency-Key is still running", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 413, description = "Body too large", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 415, description = "Body is not JSON", body = crate::error::Problem, content_type = "application/problem+json"),
                (status = 422, description = "No operations or more than 100, or an Idempotency-Key reused with another batch", body = crate::error::Problem, content_type = "application/problem+json"),
                crate::error::CommonErrors,
            ),
            security(("bearer" = []))
        )]
        pub async fn batch(
            state: actix_web::web::Data<crate::state::AppState>,
            caller: crate::extract::Caller,
            _: actix_web::web::Query<crate::extract::NoParams>,
            key: crate::extract::IdempotencyKey,
            body: actix_web::web::Json<$batch>,
        ) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
            use actix_web::web;
            use crate::extract::{IdempotencyKey, NoParams};
            use crate::routes::batch::{if_match_of, result_of};
            crate::routes::batch::answer(&state, &caller, key, $collection, body.into_inner().operations, async |operations| {
                let mut results = Vec::with_capacity(operations.len());
                for operation in operations {
                    let (state, caller_now) = (state.clone(), caller.clone());
                    let $allow = operation.allows_duplicate();
                    let outcome = match operation {
                        $operation::Create { body, .. } => {
                            let query = web::Query($create_params);
                            create(state, caller_now, query, IdempotencyKey(None), web::Json(body)).await
                        }
                        $operation::Update { id, if_match, body } => match if_match_of(if_match.as_deref()) {
                            Ok(if_match) => {
                                let path = web::Path::from(id);
                                update(state, caller_now, path, web::Query(NoParams {}), if_match, web::Json(body)).await
                            }
                            Err(refused) => Err(refused),
                        },
                        $operation::Delete { id, if_match } => match if_match_of(if_match.as_deref()) {
                            Ok(if_match) => {
                                delete(state, caller_now, web::Path::from(id), web::Query(NoParams {}), if_match).await
                            }
                            Err(refused) => Err(refused),
                        },
                    };
                    results.push(result_of(&caller, outcome));
                }
                results
            })
            .await
        }

        /// The batch resource, mounted before `/{id}` (which would match `batch`).
        pub fn batch_resource() -> actix_web::Resource {
            actix_web::web::resource(concat!("/", $collection, "/batch")).route(actix_web::web::post().to(batch))
        }
    };
}
pub(crate) use batch_route;
