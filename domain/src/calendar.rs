//! Business calendars: open hours in a time zone, holidays and exceptions, and time measured
//! in business minutes over them, as SLA targets count it.
//!
//! A business minute is a real minute while the calendar is open: open hours are local wall
//! times in the calendar's zone, turned into instants day by day, so a range over a DST change
//! is as long as the clocks say (01:00–04:00 on a spring-forward night is two hours). A local
//! time the clocks skip means the moment they land on; a repeated one means its first pass.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{FieldError, ValidationErrors};
use crate::values::{SHORT_TEXT_MAX, required_text};

/// Most open ranges one day may have.
const RANGES_PER_DAY_MAX: usize = 10;
/// Most holidays, and most exceptions, one calendar may list.
const DATES_MAX: usize = 1000;
/// How far ahead a due time is looked for: past this the calendar is "never open".
const HORIZON_DAYS: i64 = 1461;
const MINUTES_PER_DAY: u32 = 24 * 60;

/// A business calendar as admins write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessCalendar {
    #[schema(max_length = 200, example = "Berlin support desk")]
    pub name: String,
    /// An IANA time zone; open hours are wall-clock times there, DST included.
    #[schema(example = "Europe/Berlin")]
    pub time_zone: String,
    /// Open hours per weekday; a day without ranges is closed.
    pub hours: WeeklyHours,
    /// Dates closed all day.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub holidays: Vec<NaiveDate>,
    /// Dates with other open hours than their weekday (none: closed), e.g. a short Christmas Eve.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub exceptions: Vec<CalendarException>,
}

/// Open hours of each weekday.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default)]
    pub monday: Vec<OpenRange>,
    #[serde(default)]
    pub tuesday: Vec<OpenRange>,
    #[serde(default)]
    pub wednesday: Vec<OpenRange>,
    #[serde(default)]
    pub thursday: Vec<OpenRange>,
    #[serde(default)]
    pub friday: Vec<OpenRange>,
    #[serde(default)]
    pub saturday: Vec<OpenRange>,
    #[serde(default)]
    pub sunday: Vec<OpenRange>,
}

/// Open from one wall-clock time to another (`HH:MM`; `to` may be `24:00`). A `to` earlier
/// than `from` runs past midnight into the next day, and belongs to the day it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRange {
    #[schema(example = "09:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub from: String,
    #[schema(example = "17:30", pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]
    pub to: String,
}

/// A date with its own open hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarException {
    pub date: NaiveDate,
    /// Open hours that day; empty means closed.
    #[serde(default)]
    pub hours: Vec<OpenRange>,
}

/// Minutes after local midnight, `[start, end)`; `end` past 1440 spills into the next day.
type Minutes = (u32, u32);

/// A checked calendar, ready to measure time with.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    zone: Tz,
    /// Monday first.
    week: [Vec<Minutes>; 7],
    holidays: BTreeSet<NaiveDate>,
    exceptions: BTreeMap<NaiveDate, Vec<Minutes>>,
}

fn clock_minutes(raw: &str, allow_midnight_end: bool) -> Option<u32> {
    let (hours, minutes) = raw.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u32, u32) = (hours.parse().ok()?, minutes.parse().ok()?);
    match (hours, minutes) {
        (24, 0) if allow_midnight_end => Some(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        _ => None,
    }
}

fn day_ranges(path: &str, ranges: &[OpenRange], errors: &mut ValidationErrors) -> Vec<Minutes> {
    if ranges.len() > RANGES_PER_DAY_MAX {
        errors.push(FieldError::new(path, "too_many", "at most 10 open ranges a day"));
    }
    let mut parsed = Vec::new();
    for (index, range) in ranges.iter().enumerate() {
        let here = format!("{path}[{index}]");
        let from = clock_minutes(&range.from, false);
        let to = clock_minutes(&range.to, true);
        match (from, to) {
            (None, _) => {
                errors.push(FieldError::new(format!("{here}.from"), "invalid", "is not a time HH:MM (00:00 to 23:59)"))
            }
            (_, None) => {
                errors.push(FieldError::new(format!("{here}.to"), "invalid", "is not a time HH:MM (00:00 to 24:00)"))
            }
            (Some(from), Some(to)) if from == to => {
                errors.push(FieldError::new(format!("{here}.to"), "empty", "must differ from `from`"))
            }
            (Some(from), Some(to)) => parsed.push((from, if to < from { to + MINUTES_PER_DAY } else { to })),
        }
    }
    parsed.sort_unstable();
    if parsed.windows(2).any(|pair| pair[1].0 < pair[0].1) {
        errors.push(FieldError::new(path, "overlapping", "open ranges of one day must not overlap"));
    }
    parsed
}

impl BusinessCalendar {
    /// Checks the calendar and compiles it; every error names its path (`hours.monday[1].to`).
    pub fn validated(&self) -> Result<Calendar, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        errors.collect(required_text("name", &self.name, SHORT_TEXT_MAX));
        let zone = self.time_zone.parse::<Tz>().ok();
        if zone.is_none() {
            errors.push(FieldError::new("time_zone", "invalid", "is not an IANA time zone (Europe/Berlin)"));
        }
        let hours = &self.hours;
        let days = [
            ("monday", &hours.monday),
            ("tuesday", &hours.tuesday),
            ("wednesday", &hours.wednesday),
            ("thursday", &hours.thursday),
            ("friday", &hours.friday),
            ("saturday", &hours.saturday),
            ("sunday", &hours.sunday),
        ];
        let none_given = days.iter().all(|(_, ranges)| ranges.is_empty());
        let week = days.map(|(name, ranges)| day_ranges(&format!("hours.{name}"), ranges, &mut errors));
        if none_given {
            errors.push(FieldError::new("hours", "required", "a calendar needs open hours on at least one weekday"));
        }
        if self.holidays.len() > DATES_MAX {
            errors.push(FieldError::new("holidays", "too_many", "at most 1000 holidays"));
        }
        if self.exceptions.len() > DATES_MAX {
            errors.push(FieldError::new("exceptions", "too_many", "at most 1000 exceptions"));
        }
        let mut exceptions = BTreeMap::new();
        for (index, exception) in self.exceptions.iter().enumerate() {
            let ranges = day_ranges(&format!("exceptions[{index}].hours"), &exception.hours, &mut errors);
            if exceptions.insert(exception.date, ranges).is_some() {
                errors.push(FieldError::new(
                    format!("exceptions[{index}].date"),
                    "duplicate",
                    "one exception per date",
                ));
            }
        }
        let holidays = self.holidays.iter().copied().collect();
        match zone {
            Some(zone) if errors.is_empty() => Ok(Calendar { zone, week, holidays, exceptions }),
            _ => Err(errors),
        }
    }
}

impl Calendar {
    fn ranges_on(&self, date: NaiveDate) -> &[Minutes] {
        if let Some(ranges) = self.exceptions.get(&date) {
            return ranges;
        }
        if self.holidays.contains(&date) {
            return &[];
        }
        &self.week[date.weekday().num_days_from_monday() as usize]
    }

    /// The instant a local wall time names: a skipped time is when the clocks land after the
    /// gap, a repeated one its first pass.
    fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let mut probe = local;
        for _ in 0..=MINUTES_PER_DAY {
            if let Some(found) = self.zone.from_local_datetime(&probe).earliest() {
                return found.with_timezone(&Utc);
            }
            probe += TimeDelta::minutes(1);
        }
        Utc.from_utc_datetime(&local)
    }

    /// The open intervals of one local date, as instants in order.
    fn open_on(&self, date: NaiveDate) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let midnight = date.and_time(NaiveTime::MIN);
        self.ranges_on(date).iter().map(move |&(from, to)| {
            let at = |minutes: u32| self.instant(midnight + TimeDelta::minutes(i64::from(minutes)));
            (at(from), at(to))
        })
    }

    /// Open intervals that end after `from`, clipped to start no earlier than it, in order and
    /// without overlaps (an overnight range may run into the next day's first one), for at
    /// most [`HORIZON_DAYS`].
    fn open_after(&self, from: DateTime<Utc>) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let first_day = from.with_timezone(&self.zone).date_naive() - TimeDelta::days(1);
        let mut reached = from;
        (0..HORIZON_DAYS)
            .filter_map(move |offset| first_day.checked_add_signed(TimeDelta::days(offset)))
            .flat_map(|date| self.open_on(date))
            .filter_map(move |(start, end)| {
                let start = start.max(reached);
                if end <= start {
                    return None;
                }
                reached = end;
                Some((start, end))
            })
    }

    /// The instant `business` business time after `start`; `None` when the calendar is not
    /// open that long in the next four years. Nothing to add at a closed time is the next opening.
    pub fn add(&self, start: DateTime<Utc>, business: TimeDelta) -> Option<DateTime<Utc>> {
        let mut left = business.max(TimeDelta::zero());
        for (open, close) in self.open_after(start) {
            let here = close - open;
            if left <= here {
                return Some(open + left);
            }
            left -= here;
        }
        None
    }

    /// Business time from `from` to `to`; negative when `to` is earlier.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeDelta {
        if to < from {
            return -self.between(to, from);
        }
        let mut total = TimeDelta::zero();
        for (open, close) in self.open_after(from) {
            if open >= to {
                break;
            }
            total += close.min(to) - open;
        }
        total
    }

    /// [`Calendar::between`] in whole seconds.
    pub fn seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.between(from, to).num_seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn calendar(value: Value) -> Calendar {
        let calendar: BusinessCalendar = serde_json::from_value(value).expect("a calendar document");
        calendar.validated().expect("a valid calendar")
    }

    fn refusal(value: Value) -> String {
        let calendar: BusinessCalendar = serde_json::from_value(value).expect("a calendar document");
        format!("{:?}", calendar.validated().expect_err("refused"))
    }

    fn at(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw).expect("an RFC 3339 time").with_timezone(&Utc)
    }

    fn weekdays(ranges: Value) -> Value {
        json!({"monday": ranges, "tuesday": ranges, "wednesday": ranges, "thursday": ranges, "friday": ranges})
    }

    /// Berlin office hours with a lunch break, Christmas and New Year off, a short New Year's Eve.
    fn berlin() -> Calendar {
        calendar(json!({
            "name": "Berlin desk",
            "time_zone": "Europe/Berlin",
            "hours": weekdays(json!([{"from": "09:00", "to": "12:00"}, {"from": "13:00", "to": "17:00"}])),
            "holidays": ["2026-12-25", "2027-01-01"],
            "exceptions": [{"date": "2026-12-31", "hours": [{"from": "09:00", "to": "12:00"}]}]
        }))
    }

    fn around_the_clock(zone: &str) -> Calendar {
        let day = json!([{"from": "00:00", "to": "24:00"}]);
        calendar(json!({"name": "24/7", "time_zone": zone, "hours": {
            "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
            "friday": day, "saturday": day, "sunday": day
        }}))
    }

    /// The published vectors: (calendar, start, business minutes, expected due), each in local
    /// time with its offset so the DST cases read as the clocks do.
    #[test]
    fn due_times_follow_open_hours_lunch_weekends_holidays_exceptions_and_dst() {
        let berlin = berlin();
        let vectors = [
            ("within one range", "2026-12-07T09:00:00+01:00", 30, "2026-12-07T09:30:00+01:00"),
            ("across lunch", "2026-12-07T11:30:00+01:00", 60, "2026-12-07T13:30:00+01:00"),
            ("started during lunch", "2026-12-07T12:30:00+01:00", 30, "2026-12-07T13:30:00+01:00"),
            ("started before opening", "2026-12-07T07:00:00+01:00", 15, "2026-12-07T09:15:00+01:00"),
            ("started after closing", "2026-12-07T18:00:00+01:00", 15, "2026-12-08T09:15:00+01:00"),
            ("across the weekend", "2026-12-04T16:30:00+01:00", 60, "2026-12-07T09:30:00+01:00"),
            ("started on a Sunday", "2026-12-06T10:00:00+01:00", 420, "2026-12-07T17:00:00+01:00"),
            ("a full business day", "2026-12-07T09:00:00+01:00", 420, "2026-12-07T17:00:00+01:00"),
            ("ending exactly at closing", "2026-12-07T16:00:00+01:00", 60, "2026-12-07T17:00:00+01:00"),
            ("over a holiday and a weekend", "2026-12-24T16:45:00+01:00", 30, "2026-12-28T09:15:00+01:00"),
            ("a short exception day", "2026-12-31T11:30:00+01:00", 60, "2027-01-04T09:30:00+01:00"),
            ("zero minutes when closed", "2026-12-05T10:00:00+01:00", 0, "2026-12-07T09:00:00+01:00"),
            ("a week of business time", "2026-11-30T09:00:00+01:00", 5 * 420, "2026-12-04T17:00:00+01:00"),
            ("summer time, offset +02:00", "2026-07-03T16:00:00+02:00", 120, "2026-07-06T10:00:00+02:00"),
            ("Friday before the autumn change", "2026-10-23T16:00:00+02:00", 120, "2026-10-26T10:00:00+01:00"),
            ("Friday before the spring change", "2027-03-26T16:00:00+01:00", 120, "2027-03-29T10:00:00+02:00"),
        ];
        for (case, start, minutes, due) in vectors {
            assert_eq!(berlin.add(at(start), TimeDelta::minutes(minutes)), Some(at(due)), "{case}");
        }
    }

    #[test]
    fn a_day_of_open_hours_is_as_long_as_the_clocks_say_over_a_dst_change() {
        let new_york = around_the_clock("America/New_York");
        // 2027-03-14: clocks jump from 02:00 EST to 03:00 EDT, a 23-hour day.
        let (start, end) = (at("2027-03-14T00:00:00-05:00"), at("2027-03-15T00:00:00-04:00"));
        assert_eq!(new_york.seconds_between(start, end), 23 * 3600);
        assert_eq!(
            new_york.add(at("2027-03-14T01:30:00-05:00"), TimeDelta::minutes(60)),
            Some(at("2027-03-14T03:30:00-04:00"))
        );
        let berlin = around_the_clock("Europe/Berlin");
        // 2026-10-25: clocks fall back from 03:00 CEST to 02:00 CET, a 25-hour day.
        let (start, end) = (at("2026-10-25T00:00:00+02:00"), at("2026-10-26T00:00:00+01:00"));
        assert_eq!(berlin.seconds_between(start, end), 25 * 3600);
    }

    #[test]
    fn open_hours_across_the_skipped_hour_are_shorter_and_across_the_repeated_hour_longer() {
        let night = |date_hours: Value| {
            calendar(json!({"name": "Night", "time_zone": "Europe/Berlin", "hours": {"sunday": date_hours}}))
        };
        let early = night(json!([{"from": "01:00", "to": "04:00"}]));
        // 2027-03-28 02:00 does not exist in Berlin: 01:00 CET to 04:00 CEST is two hours.
        assert_eq!(
            early.add(at("2027-03-28T01:00:00+01:00"), TimeDelta::minutes(120)),
            Some(at("2027-03-28T04:00:00+02:00"))
        );
        assert_eq!(
            early.add(at("2027-03-28T01:00:00+01:00"), TimeDelta::minutes(121)),
            Some(at("2027-04-04T01:01:00+02:00"))
        );
        // 2026-10-25 02:00–03:00 happens twice: 01:00 CEST to 04:00 CET is four hours.
        let total = early.seconds_between(at("2026-10-25T00:00:00+02:00"), at("2026-10-25T12:00:00+01:00"));
        assert_eq!(total, 4 * 3600);
        // A range that starts in the skipped hour opens when the clocks land at 03:00.
        let skipped = night(json!([{"from": "02:30", "to": "05:00"}]));
        assert_eq!(
            skipped.add(at("2027-03-28T00:00:00+01:00"), TimeDelta::minutes(0)),
            Some(at("2027-03-28T03:00:00+02:00"))
        );
    }

    #[test]
    fn overnight_hours_run_into_the_next_day() {
        let nights = calendar(json!({
            "name": "Night shift", "time_zone": "UTC",
            "hours": weekdays(json!([{"from": "22:00", "to": "06:00"}]))
        }));
        // 2026-12-07 is a Monday; its night shift ends on Tuesday morning.
        assert_eq!(nights.add(at("2026-12-07T21:00:00Z"), TimeDelta::minutes(120)), Some(at("2026-12-08T00:00:00Z")));
        assert_eq!(nights.add(at("2026-12-08T05:30:00Z"), TimeDelta::minutes(60)), Some(at("2026-12-08T22:30:00Z")));
        // Friday's shift ends Saturday 06:00; the next opens Monday 22:00.
        assert_eq!(nights.add(at("2026-12-12T05:00:00Z"), TimeDelta::minutes(90)), Some(at("2026-12-14T22:30:00Z")));
    }

    #[test]
    fn business_time_between_two_instants_counts_only_open_hours_and_is_signed() {
        let berlin = berlin();
        let (friday, monday) = (at("2026-12-04T16:30:00+01:00"), at("2026-12-07T09:30:00+01:00"));
        assert_eq!(berlin.seconds_between(friday, monday), 60 * 60);
        assert_eq!(berlin.seconds_between(monday, friday), -60 * 60);
        assert_eq!(berlin.seconds_between(at("2026-12-07T12:10:00+01:00"), at("2026-12-07T12:50:00+01:00")), 0);
        // Over Christmas: the 24th's 45 minutes from 16:15, then nothing until the 28th.
        let christmas = berlin.seconds_between(at("2026-12-24T16:15:00+01:00"), at("2026-12-28T09:00:00+01:00"));
        assert_eq!(christmas, 45 * 60);
        for minutes in [1, 59, 181, 420, 1000, 5000] {
            let start = at("2026-12-03T10:17:00+01:00");
            let due = berlin.add(start, TimeDelta::minutes(minutes)).expect("open within the horizon");
            assert_eq!(berlin.seconds_between(start, due), minutes * 60, "{minutes} minutes");
        }
    }

    #[test]
    fn a_calendar_closed_past_the_horizon_has_no_due_time() {
        let holidays: Vec<String> = (0..1000)
            .map(|week| {
                let monday = NaiveDate::from_ymd_opt(2026, 12, 7).expect("a date") + TimeDelta::weeks(week);
                monday.to_string()
            })
            .collect();
        let mondays_only = calendar(json!({
            "name": "Mondays", "time_zone": "UTC",
            "hours": {"monday": [{"from": "09:00", "to": "10:00"}]},
            "holidays": holidays
        }));
        assert_eq!(mondays_only.add(at("2026-12-07T00:00:00Z"), TimeDelta::minutes(1)), None);
    }

    #[test]
    fn bad_calendars_are_refused_with_the_path_of_each_mistake() {
        let base = || json!({"name": "Desk", "time_zone": "Europe/Berlin", "hours": weekdays(json!([{"from": "09:00", "to": "17:00"}]))});
        let mut zone = base();
        zone["time_zone"] = json!("Mars/Olympus");
        assert!(refusal(zone).contains("time_zone"));
        let mut closed = base();
        closed["hours"] = json!({});
        assert!(refusal(closed).contains("\"hours\""));
        for (bad, path) in [
            (json!([{"from": "9:00", "to": "17:00"}]), "hours.monday[0].from"),
            (json!([{"from": "09:00", "to": "24:01"}]), "hours.monday[0].to"),
            (json!([{"from": "24:00", "to": "10:00"}]), "hours.monday[0].from"),
            (json!([{"from": "09:00", "to": "09:00"}]), "hours.monday[0].to"),
            (json!([{"from": "09:00", "to": "12:00"}, {"from": "11:00", "to": "13:00"}]), "hours.monday"),
        ] {
            let mut body = base();
            body["hours"]["monday"] = bad;
            assert!(refusal(body).contains(path), "{path}");
        }
        let mut twice = base();
        twice["exceptions"] = json!([{"date": "2026-12-31"}, {"date": "2026-12-31", "hours": []}]);
        assert!(refusal(twice).contains("exceptions[1].date"));
    }
}
