//! Pipelines and their ordered stages.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::deal::{Pipeline, Stage, StageSpec};

use crate::error::{StoreError, StoreResult};
use crate::schema::{pipeline_stages, pipelines};
use crate::{DbConnection, enum_text, from_db_time, new_id, settings, text_enum, to_db_time};

/// A pipeline as stored, with its version and timestamps.
#[derive(Debug, Clone)]
pub struct StoredPipeline {
    pub pipeline: Pipeline,
    pub position: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type PipelineRow = (String, String, i32, i64, NaiveDateTime, NaiveDateTime);
type StageRow = (String, String, String, i32, i32, String);

fn stage_columns() -> (
    pipeline_stages::id,
    pipeline_stages::pipeline_id,
    pipeline_stages::name,
    pipeline_stages::position,
    pipeline_stages::probability,
    pipeline_stages::kind,
) {
    (
        pipeline_stages::id,
        pipeline_stages::pipeline_id,
        pipeline_stages::name,
        pipeline_stages::position,
        pipeline_stages::probability,
        pipeline_stages::kind,
    )
}

fn assemble(rows: Vec<PipelineRow>, stages: Vec<StageRow>) -> StoreResult<Vec<StoredPipeline>> {
    rows.into_iter()
        .map(|(id, name, position, version, created_at, updated_at)| {
            let stages = stages
                .iter()
                .filter(|s| s.1 == id)
                .map(|(stage_id, _, name, position, probability, kind)| {
                    Ok(Stage {
                        id: stage_id.clone(),
                        name: name.clone(),
                        position: *position,
                        probability: *probability,
                        kind: text_enum(kind)?,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(StoredPipeline {
                pipeline: Pipeline { id, name, stages },
                position,
                version,
                created_at: from_db_time(created_at),
                updated_at: from_db_time(updated_at),
            })
        })
        .collect()
}

/// Every pipeline in order, with its stages in order.
pub fn list(conn: &mut DbConnection) -> StoreResult<Vec<StoredPipeline>> {
    let rows: Vec<PipelineRow> = pipelines::table.order((pipelines::position.asc(), pipelines::id.asc())).load(conn)?;
    let stages: Vec<StageRow> = pipeline_stages::table
        .order((pipeline_stages::position.asc(), pipeline_stages::id.asc()))
        .select(stage_columns())
        .load(conn)?;
    assemble(rows, stages)
}

/// One pipeline with its stages.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<StoredPipeline> {
    let row: PipelineRow = pipelines::table.filter(pipelines::id.eq(id)).first(conn)?;
    let stages: Vec<StageRow> = pipeline_stages::table
        .filter(pipeline_stages::pipeline_id.eq(id))
        .order((pipeline_stages::position.asc(), pipeline_stages::id.asc()))
        .select(stage_columns())
        .load(conn)?;
    assemble(vec![row], stages)?.pop().ok_or(StoreError::NotFound)
}

/// The pipeline new deals go to when none is named: the first one.
pub fn default_pipeline(conn: &mut DbConnection) -> StoreResult<StoredPipeline> {
    let id: String =
        pipelines::table.order((pipelines::position.asc(), pipelines::id.asc())).select(pipelines::id).first(conn)?;
    find(conn, &id)
}

fn insert_stage(
    conn: &mut DbConnection,
    pipeline_id: &str,
    spec: &StageSpec,
    position: i32,
    now: NaiveDateTime,
) -> StoreResult<String> {
    let id = new_id();
    diesel::insert_into(pipeline_stages::table)
        .values((
            pipeline_stages::id.eq(&id),
            pipeline_stages::pipeline_id.eq(pipeline_id),
            pipeline_stages::name.eq(&spec.name),
            pipeline_stages::position.eq(position),
            pipeline_stages::probability.eq(spec.probability),
            pipeline_stages::kind.eq(enum_text(&spec.kind)?),
            pipeline_stages::created_at.eq(now),
            pipeline_stages::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Creates a pipeline with its stages, after the existing pipelines.
pub fn insert(
    conn: &mut DbConnection,
    name: &str,
    stages: &[StageSpec],
    now: DateTime<Utc>,
) -> StoreResult<StoredPipeline> {
    let id = new_id();
    let now = to_db_time(now);
    let last: Option<i32> = pipelines::table.select(diesel::dsl::max(pipelines::position)).first(conn)?;
    diesel::insert_into(pipelines::table)
        .values((
            pipelines::id.eq(&id),
            pipelines::name.eq(name),
            pipelines::position.eq(last.map_or(0, |p| p + 1)),
            pipelines::version.eq(1_i64),
            pipelines::created_at.eq(now),
            pipelines::updated_at.eq(now),
        ))
        .execute(conn)?;
    for (position, spec) in stages.iter().enumerate() {
        insert_stage(conn, &id, spec, position as i32, now)?;
    }
    find(conn, &id)
}

/// Creates the default pipeline once per installation (not again if an admin deletes it).
pub fn ensure_default(conn: &mut DbConnection, now: DateTime<Utc>) -> StoreResult<()> {
    let marker = new_id();
    if settings::get_or_init(conn, "default_pipeline_created", &marker)? != marker {
        return Ok(());
    }
    let count: i64 = pipelines::table.count().get_result(conn)?;
    if count == 0 {
        insert(conn, "Sales", &domain::deal::default_stages(), now)?;
    }
    Ok(())
}

/// Writes a pipeline's name and whole stage list if it is still at `version`: existing
/// stages (matched by id) are updated and reordered, new ones inserted, missing ones
/// deleted (the caller moved their deals first).
pub fn replace(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    name: &str,
    stages: &[(Option<String>, StageSpec)],
    now: DateTime<Utc>,
) -> StoreResult<StoredPipeline> {
    let at = to_db_time(now);
    let changed = diesel::update(pipelines::table.filter(pipelines::id.eq(id).and(pipelines::version.eq(version))))
        .set((pipelines::name.eq(name), pipelines::version.eq(version + 1), pipelines::updated_at.eq(at)))
        .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::Stale);
    }
    let kept: Vec<String> = stages.iter().filter_map(|(id, _)| id.clone()).collect();
    diesel::delete(
        pipeline_stages::table.filter(pipeline_stages::pipeline_id.eq(id)).filter(pipeline_stages::id.ne_all(&kept)),
    )
    .execute(conn)?;
    for (position, (stage_id, spec)) in stages.iter().enumerate() {
        match stage_id {
            Some(stage_id) => {
                diesel::update(pipeline_stages::table.filter(pipeline_stages::id.eq(stage_id)))
                    .set((
                        pipeline_stages::name.eq(&spec.name),
                        pipeline_stages::position.eq(position as i32),
                        pipeline_stages::probability.eq(spec.probability),
                        pipeline_stages::kind.eq(enum_text(&spec.kind)?),
                        pipeline_stages::updated_at.eq(at),
                    ))
                    .execute(conn)?;
            }
            None => {
                insert_stage(conn, id, spec, position as i32, at)?;
            }
        }
    }
    find(conn, id)
}

/// Deletes a pipeline (and its stages); the caller made sure no deal uses it.
pub fn delete(conn: &mut DbConnection, id: &str) -> StoreResult<()> {
    diesel::delete(pipeline_stages::table.filter(pipeline_stages::pipeline_id.eq(id))).execute(conn)?;
    let deleted = diesel::delete(pipelines::table.filter(pipelines::id.eq(id))).execute(conn)?;
    if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
