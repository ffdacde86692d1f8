//! The service report: over the tickets a caller can see that were created in a period,
//! first-reply and resolution times (median and p90, in the business minutes of each ticket's
//! SLA policy, else in calendar minutes), SLA attainment per clock, the backlog by status and
//! priority, and tickets by channel and category.

use std::collections::BTreeMap;

use chrono::Utc;
use domain::access::{Action, Module};
use domain::sla::{ClockState, Metric};
use persistence::DbConnection;
use persistence::tickets::{self, ReportScope, Ticket};

use crate::actor::Actor;
use crate::error::AppError;
use crate::sla::Policies;

/// The most tickets one report reads; a larger period is refused so a report stays quick.
pub const TICKETS_MAX: i64 = 20_000;

/// Times to reply or resolve.
#[derive(Debug, Clone, PartialEq)]
pub struct Durations {
    /// Tickets measured.
    pub count: usize,
    pub median_minutes: Option<f64>,
    pub p90_minutes: Option<f64>,
}

/// How one SLA clock fared over the tickets it ran on.
#[derive(Debug, Clone, PartialEq)]
pub struct Attainment {
    pub metric: Metric,
    /// Stopped within target.
    pub met: usize,
    /// Past target, stopped or still going.
    pub breached: usize,
    /// Still going within target.
    pub running: usize,
    /// Met of met + breached, in percent with one decimal; `None` before any outcome.
    pub attainment_percent: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceReport {
    pub tickets: usize,
    pub first_reply: Durations,
    pub resolution: Durations,
    pub sla: Vec<Attainment>,
    /// Tickets still being handled, by (status, priority).
    pub backlog: Vec<(String, String, usize)>,
    pub by_channel: Vec<(String, usize)>,
    /// `None` for tickets without a category.
    pub by_category: Vec<(Option<String>, usize)>,
}

fn durations(values: &[i64]) -> Durations {
    Durations {
        count: values.len(),
        median_minutes: domain::sla::percentile(values, 50.0),
        p90_minutes: domain::sla::percentile(values, 90.0),
    }
}

fn text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The service report over what `scope` selects of the tickets the actor may read.
pub fn service(conn: &mut DbConnection, actor: &Actor, scope: &ReportScope) -> Result<ServiceReport, AppError> {
    actor.principal.may_in_module(Module::Tickets, Action::Read)?;
    let visibility = actor.principal.visibility(Module::Tickets, Action::Read);
    let found = tickets::in_scope(conn, &visibility, scope, TICKETS_MAX + 1)?;
    if found.len() as i64 > TICKETS_MAX {
        return Err(AppError::invalid(
            "from",
            "too_many",
            "the period holds more than 20000 tickets; choose a shorter one",
        ));
    }
    let now = Utc::now();
    let policies = Policies::load(conn, now)?;
    let (mut first_reply, mut resolution) = (Vec::new(), Vec::new());
    let mut sla: BTreeMap<&'static str, Attainment> = BTreeMap::new();
    for ticket in &found {
        let clocks = policies.clocks(conn, ticket, now)?.map(|sla| sla.clocks).unwrap_or_default();
        let clock = |metric: Metric| clocks.iter().find(|c| c.metric == metric && c.stopped_at.is_some());
        // A clock that stopped measured the time in its policy's minutes; without one, the
        // ticket's own stamps give calendar minutes.
        if let Some(measured) = clock(Metric::FirstReply) {
            first_reply.push(measured.elapsed_minutes);
        } else if let Some(replied) = ticket.data.first_replied_at {
            first_reply.push((replied - ticket.created_at).num_minutes());
        }
        if let Some(measured) = clock(Metric::Resolution).filter(|_| !ticket.data.status.is_active()) {
            resolution.push(measured.elapsed_minutes);
        } else if let Some(solved) = ticket.data.solved_at.filter(|_| !ticket.data.status.is_active()) {
            resolution.push((solved - ticket.created_at).num_minutes());
        }
        for measured in &clocks {
            let entry = sla.entry(measured.metric.as_str()).or_insert(Attainment {
                metric: measured.metric,
                met: 0,
                breached: 0,
                running: 0,
                attainment_percent: None,
            });
            match measured.state {
                ClockState::Met => entry.met += 1,
                ClockState::Breached => entry.breached += 1,
                ClockState::OnTrack | ClockState::AtRisk => entry.running += 1,
            }
        }
    }
    let sla = sla
        .into_values()
        .map(|mut a| {
            let decided = a.met + a.breached;
            a.attainment_percent = (decided > 0).then(|| (a.met as f64 * 1000.0 / decided as f64).round() / 10.0);
            a
        })
        .collect();
    Ok(ServiceReport {
        tickets: found.len(),
        first_reply: durations(&first_reply),
        resolution: durations(&resolution),
        sla,
        backlog: counted(
            found.iter().filter(|t| t.data.status.is_active()).map(|t| (text(&t.data.status), text(&t.data.priority))),
        )
        .into_iter()
        .map(|((status, priority), n)| (status, priority, n))
        .collect(),
        by_channel: counted(found.iter().map(|t| text(&t.data.channel))),
        by_category: counted(found.iter().map(|t: &Ticket| t.data.category.clone())),
    })
}

fn counted<K: Ord>(keys: impl Iterator<Item = K>) -> Vec<(K, usize)> {
    let mut counts: BTreeMap<K, usize> = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts.into_iter().collect()
}
