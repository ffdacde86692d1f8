//! Lead steps several entry points share (the API, web forms, conversion): assignment by
//! rules or round-robin, scoring, and recording status changes. Each runs inside the
//! caller's transaction.

use chrono::Utc;
use domain::activity::RecordType;
use domain::lead::{AssignmentRule, LeadData, ScoreExplanation, ScoringRule, round_robin_pick};
use persistence::definitions::{self, Kind};
use persistence::leads::{self, Lead};
use persistence::links;
use persistence::{DbConnection, teams};

use crate::actor::Actor;
use crate::error::AppError;
use crate::jobs::{self, Enqueue, JobKind, JobRun, JobSpec};
use crate::records::check_owner_and_team;

/// The next member of a team whose turn it is, counted on definition `turns_of`.
pub fn next_member(conn: &mut DbConnection, turns_of: &str, team_id: &str) -> Result<Option<String>, AppError> {
    let members = teams::active_member_ids(conn, team_id)?;
    if members.is_empty() {
        return Ok(None);
    }
    let turn = definitions::next_turn(conn, turns_of)?;
    Ok(round_robin_pick(&members, turn).cloned())
}

/// Who a new lead without an owner goes to: a form's team round-robin first, then the
/// first assignment rule that applies. Leaves the lead as it is when nothing applies.
pub fn assign(
    conn: &mut DbConnection,
    data: &mut LeadData,
    form_round_robin: Option<(&str, &str)>,
) -> Result<(), AppError> {
    if data.owner_id.is_some() {
        return Ok(());
    }
    if let Some((form_id, team_id)) = form_round_robin {
        data.owner_id = next_member(conn, form_id, team_id)?;
        if data.owner_id.is_some() {
            return Ok(());
        }
    }
    let rules = definitions::list::<AssignmentRule>(conn, Kind::AssignmentRule)?;
    let Some(rule) = rules.iter().find(|rule| rule.body.applies_to(data)) else {
        return Ok(());
    };
    let target = &rule.body.assign_to;
    match (&target.owner_id, &target.team_id) {
        (Some(owner_id), _) => data.owner_id = Some(owner_id.clone()),
        (None, Some(team_id)) => {
            data.team_id = Some(team_id.clone());
            if target.round_robin {
                data.owner_id = next_member(conn, &rule.id, team_id)?;
            }
        }
        (None, None) => {}
    }
    // A rule may name a user or team that has since gone; such a lead stays unassigned.
    if check_owner_and_team(conn, data.owner_id.as_deref(), data.team_id.as_deref()).is_err() {
        data.owner_id = None;
        data.team_id = None;
    }
    Ok(())
}

fn scoring_rules(conn: &mut DbConnection) -> Result<Vec<(String, ScoringRule)>, AppError> {
    Ok(definitions::list::<ScoringRule>(conn, Kind::ScoringRule)?
        .into_iter()
        .map(|definition| (definition.id, definition.body))
        .collect())
}

/// A lead's score as the current rules and its events give it.
pub fn explain_score(conn: &mut DbConnection, lead_id: &str, data: &LeadData) -> Result<ScoreExplanation, AppError> {
    let rules = scoring_rules(conn)?;
    let events = leads::events(conn, lead_id)?;
    Ok(domain::lead::score(&rules, data, &events, Utc::now()))
}

/// Recomputes and stores a lead's score; returns it.
pub fn rescore(conn: &mut DbConnection, lead_id: &str, data: &LeadData) -> Result<i64, AppError> {
    let score = explain_score(conn, lead_id, data)?.score;
    if score != data.score {
        leads::set_score(conn, lead_id, score)?;
    }
    Ok(score)
}

/// Rescores every open lead after the scoring rules changed, in batches of this many leads
/// per transaction (the job renews its lease with each).
const RESCORE_BATCH: i64 = 500;

/// Rescoring every open lead, queued by each change of the scoring rules. A run that sees a
/// newer one queued leaves the work to it; each batch reads the rules afresh, so a lead
/// written after a change is scored by the changed rules.
pub static RESCORE: JobKind = JobKind {
    spec: JobSpec { name: "leads.rescore", max_attempts: 5 },
    every: None,
    run: rescore_all,
    abandoned: None,
};

/// Queues rescoring every open lead, in the caller's transaction.
pub fn queue_rescoring(conn: &mut DbConnection) -> Result<(), AppError> {
    jobs::enqueue(conn, &RESCORE.spec, &serde_json::json!({}), &Enqueue::default()).map(drop)
}

fn rescore_all(run: &JobRun<'_>) -> Result<(), String> {
    let superseded = run.store.read(|conn| persistence::jobs::newer_unfinished(conn, RESCORE.spec.name, &run.job.id));
    if superseded.map_err(|error| error.to_string())? {
        return Ok(());
    }
    let mut after: Option<String> = None;
    loop {
        let last = run
            .write_held(|conn| {
                let rules = scoring_rules(conn)?;
                let open = leads::open_leads(conn, after.as_deref(), RESCORE_BATCH)?;
                let now = Utc::now();
                for lead in &open {
                    let events = leads::events(conn, &lead.id)?;
                    let score = domain::lead::score(&rules, &lead.data, &events, now).score;
                    if score != lead.data.score {
                        leads::set_score(conn, &lead.id, score)?;
                    }
                }
                let full = i64::try_from(open.len()).unwrap_or(i64::MAX) == RESCORE_BATCH;
                Ok::<_, AppError>(open.last().filter(|_| full).map(|lead| lead.id.clone()))
            })
            .map_err(|error| error.to_string())?;
        // Done, or fenced out (another run has the job).
        match last.flatten() {
            Some(id) => after = Some(id),
            None => return Ok(()),
        }
    }
}

/// Records a lead's status change.
pub fn record_status(
    conn: &mut DbConnection,
    lead_id: &str,
    from: Option<&str>,
    to: &str,
    actor: links::Actor<'_>,
) -> Result<(), AppError> {
    Ok(links::record_change(conn, (RecordType::Lead, lead_id), "status", from, to, actor, Utc::now())?)
}

/// Inserts a new lead: assigned, its first status recorded, scored.
pub fn insert_lead(
    conn: &mut DbConnection,
    mut data: LeadData,
    form_round_robin: Option<(&str, &str)>,
    actor: links::Actor<'_>,
) -> Result<Lead, AppError> {
    assign(conn, &mut data, form_round_robin)?;
    check_owner_and_team(conn, data.owner_id.as_deref(), data.team_id.as_deref())?;
    let mut lead = leads::insert(conn, &data, Utc::now())?;
    record_status(conn, &lead.id, None, lead.data.status.as_str(), actor)?;
    lead.data.score = rescore(conn, &lead.id, &lead.data)?;
    Ok(lead)
}

/// Records a deal's move between stages.
pub fn record_stage_change(
    conn: &mut DbConnection,
    caller: &Actor,
    deal_id: &str,
    from: Option<&str>,
    to: &str,
) -> Result<(), AppError> {
    Ok(links::record_change(conn, (RecordType::Deal, deal_id), "stage", from, to, caller.actor(), Utc::now())?)
}
