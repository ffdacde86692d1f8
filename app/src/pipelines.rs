//! Sales pipelines as admins edit them: creating one, renaming it or replacing its stage
//! list, deleting a stage (its deals moved through the one deal rule), deleting a pipeline.

use chrono::Utc;
use domain::deal::{CheckedStages, StageInput, StageSpec, check_stages};
use persistence::pipelines::{self, StoredPipeline};
use persistence::{DbConnection, StoreError, deals};

use crate::actor::Actor;
use crate::deals::restage;
use crate::error::AppError;
use crate::records::check_version;
use crate::views::Views;

/// A new pipeline, checked before anything is stored.
#[derive(Debug, Clone)]
pub struct NewPipeline {
    name: String,
    stages: Vec<StageSpec>,
}

/// What a pipeline edit asks for; an absent part is kept.
#[derive(Debug, Clone, Default)]
pub struct PipelineEdit {
    pub name: Option<String>,
    /// The whole new stage list in order.
    pub stages: Option<Vec<StageInput>>,
    pub expected_version: Option<i64>,
}

/// Checks a new pipeline's name and stages (a new pipeline's stages have no ids yet).
pub fn new_pipeline(name: &str, inputs: &[StageInput]) -> Result<NewPipeline, AppError> {
    let (name, stages) = check_stages(name, inputs)?;
    if stages.iter().any(|(id, _)| id.is_some()) {
        return Err(AppError::invalid("stages", "unexpected_id", "a new pipeline's stages have no ids yet"));
    }
    Ok(NewPipeline { name, stages: stages.into_iter().map(|(_, spec)| spec).collect() })
}

fn find(conn: &mut DbConnection, id: &str) -> Result<StoredPipeline, AppError> {
    pipelines::find(conn, id).map_err(|error| match error {
        StoreError::NotFound => AppError::not_found("pipeline"),
        other => other.into(),
    })
}

/// Stores a new pipeline (admins only).
pub fn create(conn: &mut DbConnection, actor: &Actor, new: &NewPipeline) -> Result<StoredPipeline, AppError> {
    actor.require_admin()?;
    Ok(pipelines::insert(conn, &new.name, &new.stages, Utc::now())?)
}

fn refuse_if_holding_deals(conn: &mut DbConnection, stage_id: &str) -> Result<(), AppError> {
    if deals::count_in_stage(conn, stage_id)? > 0 {
        return Err(AppError::Conflict(format!(
            "stage {stage_id} still has deals; move them first with DELETE /api/v1/pipelines/{{id}}/stages/{stage_id}?move_deals_to=..."
        )));
    }
    Ok(())
}

/// Renames a pipeline or replaces its stage list (admins only): listed ids keep their stage,
/// stages left out are deleted (refused while they hold deals), and deals in a stage whose
/// kind changed are re-applied through the deal rule (a stage turned won closes them).
pub fn update<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    edit: PipelineEdit,
) -> Result<StoredPipeline, AppError> {
    actor.require_admin()?;
    let current = find(conn, id)?;
    check_version(edit.expected_version, current.version)?;
    let name = edit.name.unwrap_or_else(|| current.pipeline.name.clone());
    let inputs = edit.stages.unwrap_or_else(|| current.pipeline.stages.iter().map(StageInput::from).collect());
    let (name, stages) = check_stages(&name, &inputs)?;
    for (index, (stage_id, _)) in stages.iter().enumerate() {
        if let Some(stage_id) = stage_id
            && current.pipeline.stage(stage_id).is_none()
        {
            return Err(AppError::invalid(
                &format!("stages[{index}].id"),
                "not_in_pipeline",
                "names no stage of this pipeline",
            ));
        }
    }
    for stage in &current.pipeline.stages {
        if !stages.iter().any(|(id, _)| id.as_deref() == Some(stage.id.as_str())) {
            refuse_if_holding_deals(conn, &stage.id)?;
        }
    }
    let replaced = pipelines::replace(conn, id, current.version, &name, &stages, Utc::now())?;
    for stage in &replaced.pipeline.stages {
        if current.pipeline.stage(&stage.id).is_some_and(|before| before.kind != stage.kind) {
            restage::<V>(conn, actor, &replaced.pipeline, &stage.id, None)?;
        }
    }
    Ok(replaced)
}

/// Deletes a pipeline no deal uses, deleted deals included (admins only).
pub fn delete(conn: &mut DbConnection, actor: &Actor, id: &str, expected_version: Option<i64>) -> Result<(), AppError> {
    actor.require_admin()?;
    let current = find(conn, id)?;
    check_version(expected_version, current.version)?;
    if deals::count_in_pipeline(conn, id)? > 0 {
        return Err(AppError::Conflict("the pipeline still has deals; move or delete them first".into()));
    }
    Ok(pipelines::delete(conn, id)?)
}

/// Deletes a stage (admins only); the deals in it move to `move_to`, another stage of the
/// pipeline, each through the deal rule with its stage change recorded.
pub fn delete_stage<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    stage_id: &str,
    expected_version: Option<i64>,
    move_to: Option<&str>,
) -> Result<StoredPipeline, AppError> {
    actor.require_admin()?;
    let current = find(conn, id)?;
    check_version(expected_version, current.version)?;
    if current.pipeline.stage(stage_id).is_none() {
        return Err(AppError::not_found("stage"));
    }
    let remaining: Vec<StageInput> =
        current.pipeline.stages.iter().filter(|s| s.id != stage_id).map(StageInput::from).collect();
    let (name, stages): (String, CheckedStages) = check_stages(&current.pipeline.name, &remaining)?;
    if deals::count_in_stage(conn, stage_id)? > 0 {
        let Some(target) = move_to else {
            return Err(AppError::Conflict(
                "the stage still has deals; say where they go with ?move_deals_to=<stage id>".into(),
            ));
        };
        if target == stage_id || current.pipeline.stage(target).is_none() {
            return Err(AppError::invalid("move_deals_to", "not_in_pipeline", "names no other stage of this pipeline"));
        }
        restage::<V>(conn, actor, &current.pipeline, stage_id, Some(target))?;
    }
    Ok(pipelines::replace(conn, id, current.version, &name, &stages, Utc::now())?)
}
