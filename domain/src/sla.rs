//! SLA policies and the clocks they put on a ticket: first reply, next reply and resolution,
//! each a target in business or calendar minutes, measured from the ticket's history.
//!
//! The clocks are a pure function of the ticket's history (created, status moves, public
//! replies), its policy and calendar, and "now": editing a policy or calendar changes every
//! open ticket's due times at once, and a breach check at a due time recomputes, so a job
//! that fires for a clock that has moved finds nothing to report.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::activity::Priority;
use crate::calendar::Calendar;
use crate::ticket::{ReplyAuthor, TicketStatus};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{SHORT_TEXT_MAX, required_text};

/// The longest target: a year of minutes.
const TARGET_MINUTES_MAX: u32 = 525_600;

/// An SLA policy as admins write it. Policies are ordered; a ticket gets the first active one
/// whose conditions it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicy {
    #[schema(max_length = 200, example = "Enterprise support")]
    pub name: String,
    /// A filter over ticket fields (the search filter language); none matches every ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::filter_doc::FilterNode>)]
    pub conditions: Option<Value>,
    /// The business calendar business-minute targets count on; required when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar_id: Option<String>,
    /// Targets per priority; a priority without an entry has no SLA under this policy.
    pub targets: PriorityTargets,
    /// A clock is `at_risk` once this share of its target (in percent) is left; default 25.
    #[serde(default = "default_at_risk")]
    #[schema(minimum = 1, maximum = 99, required = false)]
    pub at_risk_percent: u8,
    #[serde(default = "yes")]
    #[schema(required = false)]
    pub active: bool,
}

fn default_at_risk() -> u8 {
    25
}

fn yes() -> bool {
    true
}

/// Targets for each priority.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityTargets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgent: Option<Targets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<Targets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal: Option<Targets>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<Targets>,
}

impl PriorityTargets {
    /// The targets for a priority.
    pub fn of(&self, priority: Priority) -> Option<&Targets> {
        match priority {
            Priority::Urgent => self.urgent.as_ref(),
            Priority::High => self.high.as_ref(),
            Priority::Normal => self.normal.as_ref(),
            Priority::Low => self.low.as_ref(),
        }
    }

    fn all(&self) -> [(&'static str, Option<&Targets>); 4] {
        [
            ("urgent", self.urgent.as_ref()),
            ("high", self.high.as_ref()),
            ("normal", self.normal.as_ref()),
            ("low", self.low.as_ref()),
        ]
    }
}

/// The three clocks' targets; each may be left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_reply: Option<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_reply: Option<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Target>,
}

impl Targets {
    /// The target of one clock.
    pub fn of(&self, metric: Metric) -> Option<Target> {
        match metric {
            Metric::FirstReply => self.first_reply,
            Metric::NextReply => self.next_reply,
            Metric::Resolution => self.resolution,
        }
    }
}

/// How long a clock may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[schema(minimum = 1, maximum = 525600, example = 240)]
    pub minutes: u32,
    /// Counted in the policy calendar's open hours (default), or around the clock.
    #[serde(default = "yes")]
    #[schema(required = false)]
    pub business: bool,
}

/// One of the clocks a policy puts on a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// From creation to the first public agent reply.
    FirstReply,
    /// From a customer's message after an agent's reply to the next agent reply.
    NextReply,
    /// From creation to solved; paused while pending, resumed on a reopen.
    Resolution,
}

impl Metric {
    /// Every clock, in the order views list them.
    pub const ALL: [Metric; 3] = [Metric::FirstReply, Metric::NextReply, Metric::Resolution];

    /// The clock as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::FirstReply => "first_reply",
            Metric::NextReply => "next_reply",
            Metric::Resolution => "resolution",
        }
    }

    /// The clock a stored name stands for.
    pub fn parse(raw: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == raw)
    }
}

impl SlaPolicy {
    /// Checks the policy as a whole (its filter is checked by the caller, which knows the
    /// custom fields).
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if let Some(name) = errors.collect(required_text("name", &self.name, SHORT_TEXT_MAX)) {
            self.name = name;
        }
        if !(1..=99).contains(&self.at_risk_percent) {
            errors.push(FieldError::new("at_risk_percent", "out_of_range", "must be 1 to 99"));
        }
        let mut any = false;
        let mut business = false;
        for (priority, targets) in self.targets.all() {
            let Some(targets) = targets else { continue };
            for metric in Metric::ALL {
                let Some(target) = targets.of(metric) else { continue };
                any = true;
                business |= target.business;
                if !(1..=TARGET_MINUTES_MAX).contains(&target.minutes) {
                    errors.push(FieldError::new(
                        format!("targets.{priority}.{}.minutes", metric.as_str()),
                        "out_of_range",
                        "must be 1 to 525600 (a year)",
                    ));
                }
            }
        }
        if !any {
            errors.push(FieldError::new("targets", "required", "a policy needs at least one target"));
        }
        if business && self.calendar_id.as_deref().is_none_or(|id| id.trim().is_empty()) {
            errors.push(FieldError::new("calendar_id", "required", "business-minute targets need a business calendar"));
        }
        errors.into_result(|| self)
    }
}

/// What happened to a ticket that moves its clocks, in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Its status became this (its creation is the first one).
    Status(TicketStatus),
    /// A public reply (internal notes move no clock).
    Reply(ReplyAuthor),
}

/// Where a clock stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    OnTrack,
    /// Less than the policy's share of the target is left.
    AtRisk,
    /// The target passed before the clock stopped, or it is still going at or past its due time.
    Breached,
    /// Stopped within its target.
    Met,
}

/// One clock measured at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub metric: Metric,
    pub target: Target,
    pub state: ClockState,
    /// When the target is reached, while the clock runs.
    pub due_at: Option<DateTime<Utc>>,
    /// When the clock turns at risk, while it runs and has not yet.
    pub at_risk_at: Option<DateTime<Utc>>,
    /// Minutes used so far (business minutes for a business target).
    pub elapsed_minutes: i64,
    /// Target minus elapsed: negative when overdue.
    pub left_minutes: i64,
    /// The resolution clock waits while the ticket is pending.
    pub paused: bool,
    /// When this cycle of the clock began (a next-reply clock starts a cycle per question).
    pub started_at: DateTime<Utc>,
    /// When the clock stopped (a reply, a solve), if it has.
    pub stopped_at: Option<DateTime<Utc>>,
}

/// A clock's running intervals: `[start, end)`, the last possibly open.
#[derive(Debug, Default)]
struct Runs {
    intervals: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    stopped_at: Option<DateTime<Utc>>,
}

impl Runs {
    fn running(&self) -> bool {
        self.intervals.last().is_some_and(|(_, end)| end.is_none())
    }

    fn start(&mut self, at: DateTime<Utc>) {
        if !self.running() {
            self.intervals.push((at, None));
            self.stopped_at = None;
        }
    }

    fn pause(&mut self, at: DateTime<Utc>) {
        if let Some(last) = self.intervals.last_mut().filter(|(_, end)| end.is_none()) {
            last.1 = Some(at);
        }
    }

    fn stop(&mut self, at: DateTime<Utc>) {
        if self.running() {
            self.pause(at);
            self.stopped_at = Some(at);
        }
    }
}

/// The intervals a clock ran, from the ticket's history (`marks` in time order, its creation
/// first as `Status`). A next-reply clock keeps only its latest cycle.
fn runs(metric: Metric, marks: &[(DateTime<Utc>, Mark)]) -> Runs {
    let mut runs = Runs::default();
    let mut answered = false;
    for &(at, mark) in marks {
        match (metric, mark) {
            (Metric::FirstReply, Mark::Status(status)) if runs.intervals.is_empty() && status.is_active() => {
                runs.start(at)
            }
            (Metric::FirstReply, Mark::Reply(ReplyAuthor::Agent)) => runs.stop(at),
            (Metric::FirstReply | Metric::NextReply, Mark::Status(status)) if !status.is_active() => runs.stop(at),
            (Metric::NextReply, Mark::Reply(ReplyAuthor::Agent)) => {
                answered = true;
                runs.stop(at);
            }
            (Metric::NextReply, Mark::Reply(ReplyAuthor::Customer)) if answered && !runs.running() => {
                runs = Runs::default();
                runs.start(at);
            }
            (Metric::Resolution, Mark::Status(TicketStatus::Pending)) => runs.pause(at),
            (Metric::Resolution, Mark::Status(status)) if status.is_active() => runs.start(at),
            (Metric::Resolution, Mark::Status(_)) => runs.stop(at),
            _ => {}
        }
    }
    runs
}

/// Measures one clock at `now`. `None` when it has not started (a next reply before any
/// customer message following an agent reply). Business targets count on `calendar`; without
/// one they count calendar time.
pub fn measure(
    metric: Metric,
    target: Target,
    at_risk_percent: u8,
    marks: &[(DateTime<Utc>, Mark)],
    calendar: Option<&Calendar>,
    now: DateTime<Utc>,
) -> Option<Measure> {
    let runs = runs(metric, marks);
    let started_at = runs.intervals.first()?.0;
    let calendar = calendar.filter(|_| target.business);
    // Milliseconds, so a reply half a second past the due time is late, as the check that ran
    // at the due time said.
    let millis = |from: DateTime<Utc>, to: DateTime<Utc>| match calendar {
        Some(calendar) => calendar.between(from, to).num_milliseconds(),
        None => (to - from).num_milliseconds(),
    };
    let add = |from: DateTime<Utc>, millis: i64| match calendar {
        Some(calendar) => calendar.add(from, TimeDelta::milliseconds(millis)),
        None => from.checked_add_signed(TimeDelta::milliseconds(millis)),
    };
    let target_millis = i64::from(target.minutes) * 60_000;
    let at_risk_millis = target_millis * i64::from(at_risk_percent) / 100;
    let closed: i64 = runs.intervals.iter().filter_map(|(start, end)| end.map(|end| millis(*start, end))).sum();
    let running_since = runs.intervals.last().and_then(|(start, end)| end.is_none().then_some(*start));
    let elapsed = closed + running_since.map_or(0, |since| millis(since, now.max(since)));
    let left = target_millis - elapsed;
    let (due_at, at_risk_at) = match running_since {
        Some(since) => {
            let due = add(since, target_millis - closed);
            let risk = (left > at_risk_millis).then(|| add(since, target_millis - at_risk_millis - closed)).flatten();
            (due, risk)
        }
        None => (None, None),
    };
    // A stopped clock met its target if it used no more than it; one still going is breached
    // from its due time on, which is when the breach check runs.
    let state = match (runs.stopped_at, left) {
        (Some(_), left) if left < 0 => ClockState::Breached,
        (Some(_), _) => ClockState::Met,
        (None, left) if left <= 0 => ClockState::Breached,
        (None, left) if left <= at_risk_millis => ClockState::AtRisk,
        (None, _) => ClockState::OnTrack,
    };
    Some(Measure {
        metric,
        target,
        state,
        due_at,
        at_risk_at,
        elapsed_minutes: elapsed.div_euclid(60_000),
        left_minutes: left.div_euclid(60_000),
        paused: running_since.is_none() && runs.stopped_at.is_none(),
        started_at,
        stopped_at: runs.stopped_at,
    })
}

/// The `p`-th percentile (0 to 100) of `values`, interpolated linearly between the closest
/// ranks (the median of 1, 2, 3, 4 is 2.5), rounded to one decimal; `None` for no values.
pub fn percentile(values: &[i64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let last = sorted.len().checked_sub(1)?;
    let rank = p.clamp(0.0, 100.0) / 100.0 * last as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    let (a, b) = (sorted[low] as f64, sorted[high.min(last)] as f64);
    Some(((a + (b - a) * (rank - low as f64)) * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::BusinessCalendar;
    use serde_json::json;

    fn at(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw).expect("an RFC 3339 time").with_timezone(&Utc)
    }

    /// Berlin, weekdays 09:00–12:00 and 13:00–17:00, Christmas off.
    fn berlin() -> Calendar {
        let day = json!([{"from": "09:00", "to": "12:00"}, {"from": "13:00", "to": "17:00"}]);
        let calendar: BusinessCalendar = serde_json::from_value(json!({
            "name": "Desk", "time_zone": "Europe/Berlin",
            "hours": {"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day},
            "holidays": ["2026-12-25"]
        }))
        .expect("a calendar");
        calendar.validated().expect("valid")
    }

    fn business(minutes: u32) -> Target {
        Target { minutes, business: true }
    }

    fn created(raw: &str) -> (DateTime<Utc>, Mark) {
        (at(raw), Mark::Status(TicketStatus::New))
    }

    #[test]
    fn first_reply_runs_from_creation_in_business_time_and_stops_at_the_first_agent_reply() {
        let calendar = berlin();
        let marks = [created("2026-12-04T16:30:00+01:00")];
        let running =
            measure(Metric::FirstReply, business(60), 25, &marks, Some(&calendar), at("2026-12-04T16:45:00+01:00"))
                .expect("started");
        assert_eq!(running.due_at, Some(at("2026-12-07T09:30:00+01:00")), "over the weekend");
        assert_eq!(running.at_risk_at, Some(at("2026-12-07T09:15:00+01:00")));
        assert_eq!((running.state, running.elapsed_minutes, running.left_minutes), (ClockState::OnTrack, 15, 45));
        let weekend =
            measure(Metric::FirstReply, business(60), 25, &marks, Some(&calendar), at("2026-12-06T12:00:00+01:00"))
                .expect("started");
        assert_eq!(weekend.left_minutes, 30, "no business time passes on a Sunday");
        let late =
            measure(Metric::FirstReply, business(60), 25, &marks, Some(&calendar), at("2026-12-07T09:40:00+01:00"))
                .expect("started");
        assert_eq!((late.state, late.left_minutes), (ClockState::Breached, -10));
        let replied = [marks[0], (at("2026-12-07T09:20:00+01:00"), Mark::Reply(ReplyAuthor::Agent))];
        let met =
            measure(Metric::FirstReply, business(60), 25, &replied, Some(&calendar), at("2026-12-08T12:00:00+01:00"))
                .expect("started");
        assert_eq!((met.state, met.due_at, met.left_minutes), (ClockState::Met, None, 10));
        assert_eq!(met.stopped_at, Some(at("2026-12-07T09:20:00+01:00")));
    }

    #[test]
    fn resolution_pauses_while_pending_resumes_on_reopen_and_breaches_across_a_holiday() {
        let calendar = berlin();
        let marks = [
            created("2026-12-24T09:00:00+01:00"),
            (at("2026-12-24T10:00:00+01:00"), Mark::Status(TicketStatus::Pending)),
            (at("2026-12-28T09:00:00+01:00"), Mark::Status(TicketStatus::Open)),
        ];
        let resolution = |now: &str| {
            measure(Metric::Resolution, business(240), 25, &marks[..], Some(&calendar), at(now)).expect("started")
        };
        let paused = measure(
            Metric::Resolution,
            business(240),
            25,
            &marks[..2],
            Some(&calendar),
            at("2026-12-24T16:00:00+01:00"),
        )
        .expect("started");
        assert!(paused.paused);
        assert_eq!((paused.due_at, paused.left_minutes), (None, 180), "an hour used before it went pending");
        let resumed = resolution("2026-12-28T09:00:00+01:00");
        assert_eq!(
            resumed.due_at,
            Some(at("2026-12-28T12:00:00+01:00")),
            "three business hours left after the holiday"
        );
        assert_eq!(resumed.at_risk_at, Some(at("2026-12-28T11:00:00+01:00")));
        assert_eq!(resolution("2026-12-28T11:30:00+01:00").state, ClockState::AtRisk);
        assert_eq!(
            resolution("2026-12-28T13:30:00+01:00").state,
            ClockState::Breached,
            "lunch does not count: 12:00 was due"
        );
        let solved =
            [marks[0], marks[1], marks[2], (at("2026-12-28T11:00:00+01:00"), Mark::Status(TicketStatus::Solved))];
        let met =
            measure(Metric::Resolution, business(240), 25, &solved, Some(&calendar), at("2026-12-29T09:00:00+01:00"))
                .expect("started");
        assert_eq!((met.state, met.elapsed_minutes), (ClockState::Met, 180));
        let reopened = [
            solved[0],
            solved[1],
            solved[2],
            solved[3],
            (at("2026-12-29T09:00:00+01:00"), Mark::Status(TicketStatus::Open)),
        ];
        let again =
            measure(Metric::Resolution, business(240), 25, &reopened, Some(&calendar), at("2026-12-29T09:00:00+01:00"))
                .expect("started");
        assert_eq!(again.due_at, Some(at("2026-12-29T10:00:00+01:00")), "a reopen resumes the clock with what is left");
    }

    #[test]
    fn next_reply_starts_at_a_customer_message_after_an_agent_reply_and_restarts_each_cycle() {
        let marks = [
            created("2026-12-07T09:00:00Z"),
            (at("2026-12-07T09:30:00Z"), Mark::Reply(ReplyAuthor::Customer)),
            (at("2026-12-07T10:00:00Z"), Mark::Reply(ReplyAuthor::Agent)),
        ];
        let calendar_time = Target { minutes: 60, business: false };
        let now = at("2026-12-07T12:00:00Z");
        assert_eq!(measure(Metric::NextReply, calendar_time, 25, &marks, None, now), None, "nothing to answer yet");
        let asked = [marks[0], marks[1], marks[2], (at("2026-12-07T11:00:00Z"), Mark::Reply(ReplyAuthor::Customer))];
        let waiting = measure(Metric::NextReply, calendar_time, 25, &asked, None, now).expect("started");
        assert_eq!((waiting.state, waiting.due_at), (ClockState::Breached, Some(at("2026-12-07T12:00:00Z"))));
        let answered =
            [asked[0], asked[1], asked[2], asked[3], (at("2026-12-07T11:20:00Z"), Mark::Reply(ReplyAuthor::Agent))];
        let met = measure(Metric::NextReply, calendar_time, 25, &answered, None, now).expect("started");
        assert_eq!((met.state, met.elapsed_minutes), (ClockState::Met, 20));
        let next = [
            answered[0],
            answered[1],
            answered[2],
            answered[3],
            answered[4],
            (at("2026-12-07T11:50:00Z"), Mark::Reply(ReplyAuthor::Customer)),
        ];
        let cycle = measure(Metric::NextReply, calendar_time, 25, &next, None, now).expect("started");
        assert_eq!(
            (cycle.state, cycle.elapsed_minutes, cycle.due_at),
            (ClockState::OnTrack, 10, Some(at("2026-12-07T12:50:00Z")))
        );
    }

    #[test]
    fn percentiles_interpolate_between_the_closest_ranks() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 90.0), Some(7.0));
        assert_eq!(percentile(&[4, 1, 3, 2], 50.0), Some(2.5));
        assert_eq!(percentile(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90.0), Some(91.0));
        assert_eq!(percentile(&[1, 2, 3, 4, 5], 90.0), Some(4.6));
    }

    #[test]
    fn policies_need_a_target_valid_minutes_and_a_calendar_for_business_time() {
        let policy = |value: Value| serde_json::from_value::<SlaPolicy>(value).expect("a policy document").validated();
        assert!(
            policy(
                json!({"name": "Basic", "targets": {"normal": {"resolution": {"minutes": 600, "business": false}}}})
            )
            .is_ok()
        );
        let errors =
            format!("{:?}", policy(json!({"name": " ", "targets": {}, "at_risk_percent": 0})).expect_err("refused"));
        for path in ["name", "targets", "at_risk_percent"] {
            assert!(errors.contains(&format!("\"{path}\"")), "{path}: {errors}");
        }
        let errors = format!(
            "{:?}",
            policy(json!({"name": "x", "targets": {"urgent": {"first_reply": {"minutes": 0}}}})).expect_err("refused")
        );
        assert!(errors.contains("targets.urgent.first_reply.minutes") && errors.contains("calendar_id"), "{errors}");
    }
}
