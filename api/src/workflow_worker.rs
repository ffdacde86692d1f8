//! The `workflows.step` job kind: one step of a workflow run (`app::workflows::run_step`),
//! with the API's views and each record type's PATCH as the steps' way to change records.

use app::actor::Actor;
use app::error::AppError;
use app::jobs::JobKind;
use domain::activity::RecordType;
use persistence::DbConnection;
use serde_json::{Map, Value};

use crate::routes::ApiViews;

/// Workflow steps as jobs of the queue (`app::workflows` enqueues one per step).
pub static RUN_STEP: JobKind = JobKind {
    spec: app::workflows::STEP,
    every: None,
    run: |run| app::workflows::run_step::<ApiViews>(run, patch_record),
    abandoned: Some(app::workflows::abandoned),
};

/// Changes a record as its type's PATCH does.
fn patch_record(
    conn: &mut DbConnection,
    actor: &Actor,
    record_type: RecordType,
    id: &str,
    body: Map<String, Value>,
) -> Result<(), AppError> {
    let api = crate::routes::record_api(domain::registry::linked(record_type));
    let patch = api.and_then(|api| api.patch).ok_or_else(|| {
        AppError::invalid("record_type", "invalid", format!("a workflow cannot change a {}", record_type.as_str()))
    })?;
    patch(conn, actor, id, body)
}
