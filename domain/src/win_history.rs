//! The forecast from history: what deals that were in a stage went on to do (won or lost, and
//! how long after they entered it), and open deals weighted by it instead of by the stage's
//! configured probability.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::deal::{ForecastDeal, StageKind};

/// A deal that closed within the look-back, with when it entered each open stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedDeal {
    pub pipeline_id: String,
    pub won: bool,
    pub closed_at: DateTime<Utc>,
    /// Every entry into an open stage, in any order (a stage entered twice appears twice).
    pub entered: Vec<(String, DateTime<Utc>)>,
}

/// What the look-back says of one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StageHistory {
    pub pipeline_id: String,
    pub stage_id: String,
    /// Closed deals that were in the stage at some time.
    pub deals: u32,
    pub won: u32,
    pub lost: u32,
    /// won / (won + lost), as a whole percent rounded half up.
    #[schema(example = 40)]
    pub win_rate_percent: i32,
    /// Of the won ones: mean whole days from their last entry into the stage to winning
    /// (rounded half up); `null` when none was won.
    pub average_days_to_win: Option<i64>,
}

/// The stage histories of a look-back's closed deals, by pipeline and stage.
pub fn stage_histories(closed: &[ClosedDeal]) -> Vec<StageHistory> {
    #[derive(Default)]
    struct Tally {
        won: u32,
        lost: u32,
        days_to_win: Vec<i64>,
    }
    let mut tallies: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    for deal in closed {
        let mut last_entry: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        for (stage, at) in &deal.entered {
            let latest = last_entry.entry(stage.as_str()).or_insert(*at);
            *latest = (*latest).max(*at);
        }
        for (stage, entered_at) in last_entry {
            let tally = tallies.entry((deal.pipeline_id.as_str(), stage)).or_default();
            if deal.won {
                tally.won += 1;
                tally.days_to_win.push((deal.closed_at - entered_at).num_seconds().max(0));
            } else {
                tally.lost += 1;
            }
        }
    }
    tallies
        .into_iter()
        .map(|((pipeline_id, stage_id), tally)| {
            let deals = tally.won + tally.lost;
            let seconds: i64 = tally.days_to_win.iter().sum();
            let count = i64::try_from(tally.days_to_win.len()).unwrap_or(i64::MAX);
            StageHistory {
                pipeline_id: pipeline_id.to_owned(),
                stage_id: stage_id.to_owned(),
                deals,
                won: tally.won,
                lost: tally.lost,
                win_rate_percent: percent(tally.won, deals),
                average_days_to_win: (count > 0).then(|| (seconds + count * 43_200) / (count * 86_400)),
            }
        })
        .collect()
}

fn percent(part: u32, whole: u32) -> i32 {
    if whole == 0 {
        return 0;
    }
    let (part, whole) = (i64::from(part), i64::from(whole));
    i32::try_from((part * 200 + whole) / (whole * 2)).unwrap_or(100)
}

/// An open deal to forecast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDeal {
    pub id: String,
    pub pipeline_id: String,
    pub stage_id: String,
    /// The stage's configured probability, used when the look-back has nothing on the stage.
    pub stage_probability: i32,
    pub amount_minor: i64,
    pub currency: String,
    pub expected_close_date: Option<NaiveDate>,
    /// When it entered the stage it is in.
    pub in_stage_since: DateTime<Utc>,
}

/// How one open deal was weighted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DealBasis {
    pub deal_id: String,
    pub stage_id: String,
    /// `history` (its stage's win rate and time to win) or `stage_probability` (no deal of the
    /// look-back was in its stage: the stage's probability and the deal's own expected date).
    #[schema(example = "history")]
    pub basis: String,
    pub win_rate_percent: i32,
    /// The day it is expected to close: entry into the stage plus the stage's average time to
    /// win (not before today), or the deal's own date.
    pub expected_close_date: Option<NaiveDate>,
}

/// Weighs open deals by their stage's history; deals whose close date cannot be told (no
/// history to time them and no date of their own) are listed but not counted in any period.
pub fn weigh(open: &[OpenDeal], histories: &[StageHistory], today: NaiveDate) -> (Vec<ForecastDeal>, Vec<DealBasis>) {
    let mut counted = Vec::with_capacity(open.len());
    let mut bases = Vec::with_capacity(open.len());
    for deal in open {
        let history = histories.iter().find(|h| h.pipeline_id == deal.pipeline_id && h.stage_id == deal.stage_id);
        let (basis, rate, expected) = match history {
            Some(history) => {
                let timed = history.average_days_to_win.and_then(|days| {
                    deal.in_stage_since.date_naive().checked_add_days(chrono::Days::new(u64::try_from(days).ok()?))
                });
                let expected = timed.map(|day| day.max(today)).or(deal.expected_close_date);
                ("history", history.win_rate_percent, expected)
            }
            None => ("stage_probability", deal.stage_probability, deal.expected_close_date),
        };
        bases.push(DealBasis {
            deal_id: deal.id.clone(),
            stage_id: deal.stage_id.clone(),
            basis: basis.to_owned(),
            win_rate_percent: rate,
            expected_close_date: expected,
        });
        counted.push(ForecastDeal {
            kind: StageKind::Open,
            probability: rate,
            amount_minor: deal.amount_minor,
            currency: deal.currency.clone(),
            expected_close_date: expected,
            closed_on: None,
        });
    }
    (counted, bases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 3, day).and_then(|d| d.and_hms_opt(hour, 0, 0)).expect("a time").and_utc()
    }

    fn closed(won: bool, closed_day: u32, entered: &[(&str, u32)]) -> ClosedDeal {
        ClosedDeal {
            pipeline_id: "p".into(),
            won,
            closed_at: at(closed_day, 12),
            entered: entered.iter().map(|(stage, day)| ((*stage).to_owned(), at(*day, 12))).collect(),
        }
    }

    #[test]
    fn a_stage_win_rate_counts_each_closed_deal_that_was_in_it_once() {
        let closed = [
            closed(true, 10, &[("a", 1), ("b", 4)]),
            closed(true, 20, &[("a", 2), ("b", 6), ("a", 8), ("b", 12)]),
            closed(false, 5, &[("a", 3)]),
            closed(false, 9, &[("a", 4), ("b", 7)]),
        ];
        let histories = stage_histories(&closed);
        let a = &histories[0];
        assert_eq!((a.stage_id.as_str(), a.deals, a.won, a.lost, a.win_rate_percent), ("a", 4, 2, 2, 50));
        // From the last entry: 10 - 1 = 9 days and 20 - 8 = 12 days; mean 10.5, rounded up.
        assert_eq!(a.average_days_to_win, Some(11));
        let b = &histories[1];
        assert_eq!((b.deals, b.won, b.lost, b.win_rate_percent), (3, 2, 1, 67));
        // 10 - 4 = 6 and 20 - 12 = 8 days.
        assert_eq!(b.average_days_to_win, Some(7));
    }

    #[test]
    fn a_stage_never_won_has_a_zero_rate_and_no_time_to_win() {
        let histories = stage_histories(&[closed(false, 5, &[("a", 1)])]);
        assert_eq!((histories[0].win_rate_percent, histories[0].average_days_to_win), (0, None));
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(1, 8), 13);
    }

    #[test]
    fn open_deals_take_their_stage_history_or_fall_back_to_the_stage_probability() {
        let histories = stage_histories(&[closed(true, 10, &[("a", 1)]), closed(false, 9, &[("a", 2)])]);
        let open = |id: &str, stage: &str, since: u32, expected: Option<NaiveDate>| OpenDeal {
            id: id.into(),
            pipeline_id: "p".into(),
            stage_id: stage.into(),
            stage_probability: 20,
            amount_minor: 10_000,
            currency: "EUR".into(),
            expected_close_date: expected,
            in_stage_since: at(since, 9),
        };
        let today = NaiveDate::from_ymd_opt(2026, 3, 15).expect("a day");
        let own = NaiveDate::from_ymd_opt(2026, 6, 1);
        let deals = [
            open("old", "a", 1, own),
            open("new", "a", 14, None),
            open("other", "b", 1, own),
            open("undated", "b", 1, None),
        ];
        let (counted, bases) = weigh(&deals, &histories, today);
        // Stage a: 1 of 2 won, 9 days to win. Entered on the 1st: due the 10th, already past, so today.
        assert_eq!(
            (bases[0].basis.as_str(), bases[0].win_rate_percent, bases[0].expected_close_date),
            ("history", 50, Some(today))
        );
        assert_eq!(bases[1].expected_close_date, NaiveDate::from_ymd_opt(2026, 3, 23));
        assert_eq!(
            (bases[2].basis.as_str(), bases[2].win_rate_percent, bases[2].expected_close_date),
            ("stage_probability", 20, own)
        );
        assert_eq!(bases[3].expected_close_date, None);
        assert_eq!(counted[0].probability, 50);
        assert!(counted.iter().all(|d| d.kind == StageKind::Open));
    }
}
