//! SLAs: business calendars and SLA policies (admin definitions), a ticket's clocks measured
//! from its history (`domain::sla::measure`), and the checks that announce
//! `ticket.sla_at_risk` and `ticket.sla_breached` when a clock gets there.
//!
//! Checks are jobs scheduled at the instants a clock turns at risk or is due, by the `sla`
//! event handler after every ticket change and by a walk over open tickets after a policy or
//! calendar change; nothing polls tickets. A check recomputes the clocks, so one scheduled for
//! a time that has moved (a pause, a new policy) finds nothing and announces nothing, and an
//! alert is raised once per clock cycle (`sla_alerts`).

use chrono::{DateTime, Utc};
use domain::access::Visibility;
use domain::activity::RecordType;
use domain::calendar::{BusinessCalendar, Calendar};
use domain::filter::Filter;
use domain::sla::{ClockState, Mark, Measure, Metric, SlaPolicy};
use domain::ticket::TicketStatus;
use persistence::definitions::{self, Definition, Kind};
use persistence::tickets::{self, Ticket};
use persistence::{DbConnection, StoreError, links};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::actor::Actor;
use crate::definitions::DefinitionKind;
use crate::error::AppError;
use crate::events::{Cause, EventHandler, Happened};
use crate::jobs::{Enqueue, JobRun, JobSpec};
use crate::kinds::TICKETS;
use crate::views::Views;

/// Business calendars: a calendar an SLA policy counts on cannot be deleted.
pub static CALENDARS: DefinitionKind<BusinessCalendar> = DefinitionKind {
    kind: Kind::BusinessCalendar,
    noun: "business calendar",
    validate: |calendar| calendar.validated().map(|_| calendar),
    references: |_, _| Ok(()),
    after_change: calendars_changed,
};

/// SLA policies: their calendar must exist and their conditions be a filter over tickets.
pub static POLICIES: DefinitionKind<SlaPolicy> = DefinitionKind {
    kind: Kind::SlaPolicy,
    noun: "SLA policy",
    validate: SlaPolicy::validated,
    references: check_policy,
    after_change: queue_reschedule,
};

fn check_policy(conn: &mut DbConnection, policy: &SlaPolicy) -> Result<(), AppError> {
    if let Some(id) = &policy.calendar_id {
        match definitions::find::<BusinessCalendar>(conn, Kind::BusinessCalendar, id) {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(AppError::invalid("calendar_id", "not_found", "names no business calendar"));
            }
            Err(other) => return Err(other.into()),
        }
    }
    if let Some(conditions) = &policy.conditions {
        let catalogue = crate::records::catalogue(conn, RecordType::Ticket)?;
        let filter = Filter::parse(conditions, &catalogue, Utc::now())
            .map_err(|e| AppError::invalid(&format!("conditions.{}", e.field), e.code, e.message))?;
        if let Some(field) = filter.related_field() {
            return Err(AppError::invalid(
                "conditions",
                "not_applicable",
                format!("`{field}` is a related record's field; a policy reads the ticket's own (use `company_id`)"),
            ));
        }
    }
    Ok(())
}

/// A calendar change: every policy's calendar must still exist (a deletion of one in use is
/// refused), and open tickets' checks are rescheduled.
fn calendars_changed(conn: &mut DbConnection) -> Result<(), AppError> {
    for policy in definitions::list::<SlaPolicy>(conn, Kind::SlaPolicy)? {
        if let Some(id) = &policy.body.calendar_id
            && matches!(
                definitions::find::<BusinessCalendar>(conn, Kind::BusinessCalendar, id),
                Err(StoreError::NotFound)
            )
        {
            return Err(AppError::Conflict(format!(
                "SLA policy {} ({}) counts on business calendar {id}; change its calendar first",
                policy.id, policy.body.name
            )));
        }
    }
    queue_reschedule(conn)
}

/// The SLA a ticket is under: the policy, its calendar and each clock measured.
#[derive(Debug, Clone)]
pub struct TicketSla {
    pub policy_id: String,
    pub policy_name: String,
    pub calendar_id: Option<String>,
    pub clocks: Vec<Measure>,
}

/// The first active policy whose conditions the ticket matches, with the targets for its
/// priority; `None` when no policy applies.
pub fn clocks_of(conn: &mut DbConnection, ticket: &Ticket, now: DateTime<Utc>) -> Result<Option<TicketSla>, AppError> {
    Policies::load(conn, now)?.clocks(conn, ticket, now)
}

/// The active SLA policies (their filters parsed) and the calendars they count on, read once
/// for measuring many tickets.
pub struct Policies {
    active: Vec<(Definition<SlaPolicy>, Option<Filter>)>,
    calendars: Vec<(String, Option<Calendar>)>,
}

impl Policies {
    /// Reads the active policies in order and their calendars.
    pub fn load(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Policies, AppError> {
        let catalogue = crate::records::catalogue(conn, RecordType::Ticket)?;
        let mut active = Vec::new();
        let mut calendars: Vec<(String, Option<Calendar>)> = Vec::new();
        for policy in definitions::list::<SlaPolicy>(conn, Kind::SlaPolicy)?.into_iter().filter(|p| p.body.active) {
            // A filter that no longer parses (a custom field deleted since) matches nothing.
            let filter = match &policy.body.conditions {
                None => Some(Filter::everything()),
                Some(raw) => Filter::parse(raw, &catalogue, now).ok(),
            };
            if let Some(id) = &policy.body.calendar_id
                && !calendars.iter().any(|(known, _)| known == id)
            {
                calendars.push((id.clone(), calendar(conn, id)?));
            }
            active.push((policy, filter));
        }
        Ok(Policies { active, calendars })
    }

    /// The clocks of one ticket under the first policy it matches.
    pub fn clocks(
        &self,
        conn: &mut DbConnection,
        ticket: &Ticket,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketSla>, AppError> {
        let found = self.active.iter().find(|(_, filter)| filter.as_ref().is_some_and(|f| f.matches(ticket)));
        let Some((policy, _)) = found else { return Ok(None) };
        let calendar = policy
            .body
            .calendar_id
            .as_ref()
            .and_then(|id| self.calendars.iter().find(|(known, _)| known == id))
            .and_then(|(_, calendar)| calendar.as_ref());
        let marks = marks(conn, ticket)?;
        let clocks = match policy.body.targets.of(ticket.data.priority) {
            Some(targets) => Metric::ALL
                .into_iter()
                .filter_map(|metric| {
                    let target = targets.of(metric)?;
                    domain::sla::measure(metric, target, policy.body.at_risk_percent, &marks, calendar, now)
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Some(TicketSla {
            policy_id: policy.id.clone(),
            policy_name: policy.body.name.clone(),
            calendar_id: policy.body.calendar_id.clone(),
            clocks,
        }))
    }
}

fn calendar(conn: &mut DbConnection, id: &str) -> Result<Option<Calendar>, AppError> {
    match definitions::find::<BusinessCalendar>(conn, Kind::BusinessCalendar, id) {
        Ok(found) => Ok(found.body.validated().ok()),
        Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The ticket's history as the clocks read it: its status moves (its creation the first) and
/// its public replies, in time order (a status move before a reply at the same instant).
fn marks(conn: &mut DbConnection, ticket: &Ticket) -> Result<Vec<(DateTime<Utc>, Mark)>, AppError> {
    let mut marks: Vec<(DateTime<Utc>, u8, Mark)> = links::changes_of_record(conn, RecordType::Ticket, &ticket.id)?
        .into_iter()
        .filter(|change| change.field == "status")
        .filter_map(|change| Some((change.changed_at, 0, Mark::Status(TicketStatus::parse(&change.to_value)?))))
        .collect();
    if marks.is_empty() {
        marks.push((ticket.created_at, 0, Mark::Status(ticket.data.status)));
    }
    let replies = tickets::replies(conn, &ticket.id)?;
    marks.extend(replies.into_iter().filter(|r| r.public).map(|r| (r.replied_at, 1, Mark::Reply(r.author))));
    marks.sort_by_key(|(at, order, _)| (*at, *order));
    Ok(marks.into_iter().map(|(at, _, mark)| (at, mark)).collect())
}

/// The SLA of a ticket the actor can see.
pub fn ticket_sla(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<Option<TicketSla>, AppError> {
    let ticket = TICKETS.find_visible(conn, actor, id)?;
    clocks_of(conn, &ticket, Utc::now())
}

/// The check job kind: recomputes one ticket's clocks and announces what they reached.
pub const CHECK: JobSpec = JobSpec { name: "sla.check", max_attempts: 10 };
/// The walk over open tickets that reschedules their checks after a policy or calendar change.
pub const RESCHEDULE: JobSpec = JobSpec { name: "sla.reschedule", max_attempts: 10 };
/// Tickets rescheduled per transaction.
const RESCHEDULE_BATCH: i64 = 200;

#[derive(Debug, Serialize, Deserialize)]
struct CheckPayload {
    ticket_id: String,
}

/// Schedules a check at every instant a running clock of the ticket turns at risk or is due
/// (now, for one already past); each instant once.
fn schedule(conn: &mut DbConnection, policies: &Policies, ticket: &Ticket, now: DateTime<Utc>) -> Result<(), AppError> {
    if !ticket.data.status.is_active() {
        return Ok(());
    }
    let Some(sla) = policies.clocks(conn, ticket, now)? else { return Ok(()) };
    let payload = CheckPayload { ticket_id: ticket.id.clone() };
    for clock in sla.clocks.iter().filter(|c| c.stopped_at.is_none()) {
        for at in [clock.at_risk_at, clock.due_at].into_iter().flatten() {
            let key = format!("{}:{}:{}", ticket.id, clock.metric.as_str(), at.timestamp_micros());
            let options = Enqueue { run_at: Some(at.max(now)), unique_key: Some(&key), ..Enqueue::default() };
            crate::jobs::enqueue(conn, &CHECK, &payload, &options)?;
        }
    }
    Ok(())
}

/// After every change of a ticket, its checks are scheduled for its clocks as they are now.
pub static SCHEDULER: EventHandler = EventHandler { name: "sla", route: reschedule_on_change };

fn reschedule_on_change(conn: &mut DbConnection, event: &persistence::events::StoredEvent) -> Result<(), AppError> {
    let changed = ["ticket.created", "ticket.updated", "ticket.restored"];
    if !changed.contains(&event.event_type.as_str()) {
        return Ok(());
    }
    match (TICKETS.find)(conn, &event.record_id, &Visibility::Everything) {
        Ok(ticket) => {
            let now = Utc::now();
            let policies = Policies::load(conn, now)?;
            schedule(conn, &policies, &ticket, now)
        }
        Err(StoreError::NotFound) => Ok(()),
        Err(other) => Err(other.into()),
    }
}

fn queue_reschedule(conn: &mut DbConnection) -> Result<(), AppError> {
    crate::jobs::enqueue(conn, &RESCHEDULE, &json!({}), &Enqueue::default()).map(drop)
}

/// Runs [`RESCHEDULE`]: every open ticket's checks, a batch per transaction.
pub fn reschedule_all(run: &JobRun<'_>) -> Result<(), String> {
    let mut after: Option<String> = None;
    loop {
        let done = run.write_held(|conn| -> Result<Option<String>, AppError> {
            let ids = tickets::active_after(conn, after.as_deref(), RESCHEDULE_BATCH)?;
            let now = Utc::now();
            let policies = Policies::load(conn, now)?;
            for id in &ids {
                match (TICKETS.find)(conn, id, &Visibility::Everything) {
                    Ok(ticket) => schedule(conn, &policies, &ticket, now)?,
                    Err(StoreError::NotFound) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            Ok((ids.len() as i64 == RESCHEDULE_BATCH).then(|| ids.last().cloned()).flatten())
        });
        match done {
            Ok(Some(Some(last))) => after = Some(last),
            Ok(_) => return Ok(()),
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// Runs [`CHECK`]: the ticket's clocks now, and an event for each that reached at risk or its
/// due time in this cycle and was not announced yet; the API's views make the payload.
pub fn check<V: Views>(run: &JobRun<'_>) -> Result<(), String> {
    let payload: CheckPayload = serde_json::from_str(&run.job.payload).map_err(|e| format!("bad payload: {e}"))?;
    run.write_held(|conn| raise::<V>(conn, &payload.ticket_id, Utc::now())).map(drop).map_err(|e| e.to_string())
}

fn raise<V: Views>(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    let ticket = match (TICKETS.find)(conn, id, &Visibility::Everything) {
        Ok(ticket) if ticket.data.status.is_active() => ticket,
        Ok(_) | Err(StoreError::NotFound) => return Ok(()),
        Err(other) => return Err(other.into()),
    };
    let Some(sla) = clocks_of(conn, &ticket, now)? else { return Ok(()) };
    let system = Actor::system();
    for clock in sla.clocks.iter().filter(|c| c.stopped_at.is_none()) {
        let alert = match clock.state {
            ClockState::AtRisk => "sla_at_risk",
            ClockState::Breached => "sla_breached",
            ClockState::OnTrack | ClockState::Met => continue,
        };
        if !tickets::raise_alert(conn, id, (clock.metric.as_str(), alert), clock.started_at, now)? {
            continue;
        }
        let view = serde_json::to_value(V::Ticket::from(ticket.clone()))?;
        let payload = json!({
            "object": view,
            "metric": clock.metric.as_str(),
            "policy_id": sla.policy_id,
            "target_minutes": clock.target.minutes,
            "business": clock.target.business,
            "due_at": clock.due_at,
            "left_minutes": clock.left_minutes,
        })
        .to_string();
        let event_type = format!("ticket.{alert}");
        let happened = Happened {
            event_type: &event_type,
            record: ("ticket", id),
            ownership: (ticket.data.owner_id.as_deref(), ticket.data.team_id.as_deref()),
            payload: &payload,
        };
        crate::events::record(conn, Cause::Actor(&system), &happened)?;
    }
    Ok(())
}
