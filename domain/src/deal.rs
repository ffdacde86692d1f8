//! Pipelines with ordered stages, deals moving through them, and the forecast.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::company::MoneyInput;
use crate::fields::{self, FieldSpec, FilterKind, ReadFields, Shape};
use crate::record::{Patch, patch_tags, patch_text, search_text};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{LONG_TEXT_MAX, Money, SHORT_TEXT_MAX, Tags, required_text};

/// Most stages one pipeline may have.
pub const STAGES_MAX: usize = 30;
/// Most contacts one deal may name.
pub const DEAL_CONTACTS_MAX: usize = 20;
/// Most periods one forecast may span.
pub const FORECAST_PERIODS_MAX: usize = 36;

/// Whether a stage is still open or closes the deal as won or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum StageKind {
    #[default]
    Open,
    Won,
    Lost,
}

/// A stage as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub id: String,
    pub name: String,
    pub position: i32,
    /// Win probability in percent, 0 to 100.
    pub probability: i32,
    pub kind: StageKind,
}

/// A pipeline with its stages in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub id: String,
    pub name: String,
    pub stages: Vec<Stage>,
}

impl Pipeline {
    /// The stage with this id, if it belongs to this pipeline.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// Where new deals start: the first open stage.
    pub fn first_open_stage(&self) -> Option<&Stage> {
        self.stages.iter().filter(|s| s.kind == StageKind::Open).min_by_key(|s| s.position)
    }
}

/// A validated stage definition (name, probability, kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageSpec {
    pub name: String,
    pub probability: i32,
    pub kind: StageKind,
}

impl StageSpec {
    /// Won stages are 100 % and lost ones 0 % unless said otherwise; open stages need a probability.
    pub fn parse(path: &str, name: &str, probability: Option<i64>, kind: StageKind) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.collect(required_text(&format!("{path}name"), name, 100)).unwrap_or_default();
        let probability = match (probability, kind) {
            (Some(p), _) if (0..=100).contains(&p) => p as i32,
            (Some(_), _) => {
                errors.push(FieldError::new(format!("{path}probability"), "out_of_range", "must be between 0 and 100"));
                0
            }
            (None, StageKind::Won) => 100,
            (None, StageKind::Lost) => 0,
            (None, StageKind::Open) => {
                errors.push(FieldError::new(
                    format!("{path}probability"),
                    "required",
                    "open stages need a probability",
                ));
                0
            }
        };
        match (kind, probability) {
            (StageKind::Won, p) if p != 100 => {
                errors.push(FieldError::new(format!("{path}probability"), "invalid", "a won stage is 100 %"));
            }
            (StageKind::Lost, p) if p != 0 => {
                errors.push(FieldError::new(format!("{path}probability"), "invalid", "a lost stage is 0 %"));
            }
            _ => {}
        }
        errors.into_result(|| Self { name, probability, kind })
    }
}

/// Checks a pipeline's name and its whole list of stages: 1 to 30, unique names, one open at least.
pub fn check_pipeline(name: &str, stages: &[StageSpec]) -> Result<String, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let name = errors.collect(required_text("name", name, SHORT_TEXT_MAX)).unwrap_or_default();
    if stages.is_empty() || stages.len() > STAGES_MAX {
        errors.push(FieldError::new("stages", "out_of_range", format!("a pipeline has 1 to {STAGES_MAX} stages")));
    }
    if !stages.iter().any(|s| s.kind == StageKind::Open) {
        errors.push(FieldError::new("stages", "no_open_stage", "a pipeline needs at least one open stage"));
    }
    for (index, stage) in stages.iter().enumerate() {
        if stages[..index].iter().any(|s| s.name.to_lowercase() == stage.name.to_lowercase()) {
            errors.push(FieldError::new(format!("stages[{index}].name"), "duplicate", "stage names must be unique"));
        }
    }
    errors.into_result(|| name)
}

/// A stage as an admin defines it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageInput {
    /// An existing stage's id keeps that stage (and its deals); omit it for a new stage.
    #[serde(default)]
    pub id: Option<String>,
    #[schema(example = "Proposal", max_length = 100)]
    pub name: String,
    /// 0 to 100; won stages default to 100 and lost ones to 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100, example = 50)]
    pub probability: Option<i64>,
    /// Default `open`.
    #[serde(default)]
    pub kind: StageKind,
}

impl From<&Stage> for StageInput {
    fn from(stage: &Stage) -> Self {
        StageInput {
            id: Some(stage.id.clone()),
            name: stage.name.clone(),
            probability: Some(i64::from(stage.probability)),
            kind: stage.kind,
        }
    }
}

/// Stages as checked: an existing stage's id (or none for a new one) and its definition.
pub type CheckedStages = Vec<(Option<String>, StageSpec)>;

/// Checks a pipeline's name and stage list as a whole, reporting every refused field.
pub fn check_stages(name: &str, inputs: &[StageInput]) -> Result<(String, CheckedStages), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut stages = Vec::new();
    for (index, input) in inputs.iter().enumerate() {
        match StageSpec::parse(&format!("stages[{index}]."), &input.name, input.probability, input.kind) {
            Ok(spec) => stages.push((input.id.clone(), spec)),
            Err(found) => errors.extend_prefixed("", found),
        }
    }
    if !errors.errors().is_empty() {
        return Err(errors);
    }
    let specs: Vec<StageSpec> = stages.iter().map(|(_, s)| s.clone()).collect();
    let name = check_pipeline(name, &specs)?;
    Ok((name, stages))
}

/// The stages a new installation starts with.
pub fn default_stages() -> Vec<StageSpec> {
    let stage = |name: &str, probability, kind| StageSpec { name: name.into(), probability, kind };
    vec![
        stage("Prospecting", 10, StageKind::Open),
        stage("Qualification", 25, StageKind::Open),
        stage("Proposal", 50, StageKind::Open),
        stage("Negotiation", 75, StageKind::Open),
        stage("Closed won", 100, StageKind::Won),
        stage("Closed lost", 0, StageKind::Lost),
    ]
}

/// A deal's fields as stored: valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DealData {
    pub name: String,
    pub amount: Option<Money>,
    pub expected_close_date: Option<NaiveDate>,
    pub pipeline_id: String,
    pub stage_id: String,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_ids: Vec<String>,
    pub next_step: Option<String>,
    /// Why a lost deal was lost; only lost deals have one.
    pub close_reason: Option<String>,
    /// When the deal entered a won or lost stage.
    pub closed_at: Option<DateTime<Utc>>,
    /// The lead this deal was converted from.
    pub lead_id: Option<String>,
    pub tags: Tags,
    /// Values of admin-defined custom fields.
    pub custom_fields: crate::custom::CustomValues,
}

crate::record::owned_by_fields!(DealData);

crate::custom::custom_fields_in!(DealData);

/// A deal's standard fields, in CSV order.
pub const FIELDS: &[FieldSpec] = &[
    fields::ID,
    fields::NAME.csv(Shape::Text).searched(),
    FieldSpec::new("amount").sort(FilterKind::Number).csv(Shape::Money).column("amount_minor"),
    FieldSpec::new("currency").filter(FilterKind::Text),
    FieldSpec::new("expected_close_date").sort(FilterKind::Date).csv(Shape::Date),
    FieldSpec::new("pipeline_id").filter(FilterKind::Id).csv(Shape::Text),
    FieldSpec::new("stage_id").filter(FilterKind::Id).csv(Shape::Text),
    FieldSpec::new("stage_kind").filter(FilterKind::Choice(&["open", "won", "lost"])).derived(),
    fields::OWNER_ID,
    fields::TEAM_ID,
    FieldSpec::new("company_id").filter(FilterKind::Id).csv(Shape::Text),
    FieldSpec::new("contact_ids").csv(Shape::List),
    FieldSpec::new("next_step").filter(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("close_reason").filter(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("closed_at").sort(FilterKind::DateTime).exported(Shape::Time),
    fields::TAGS,
    fields::CREATED_AT,
    fields::UPDATED_AT,
];

impl ReadFields for DealData {
    fn read(&self, name: &str) -> Option<Value> {
        match name {
            "name" => Some(Value::String(self.sort_name())),
            "tags" => Some(Value::from(self.tags.as_slice().to_vec())),
            "amount" => self.amount.as_ref().map(|m| Value::from(m.amount_minor)),
            "currency" => self.amount.as_ref().map(|m| Value::String(m.currency.as_str().to_owned())),
            "expected_close_date" => self.expected_close_date.map(|d| Value::String(d.format("%Y-%m-%d").to_string())),
            "pipeline_id" => Some(Value::String(self.pipeline_id.clone())),
            "stage_id" => Some(Value::String(self.stage_id.clone())),
            "company_id" => fields::text(self.company_id.as_deref()),
            "next_step" => fields::text(self.next_step.as_deref()),
            "close_reason" => fields::text(self.close_reason.as_deref()),
            "closed_at" => self.closed_at.map(|t| Value::String(fields::time_text(t))),
            _ => None,
        }
    }
}

/// A create or merge-patch of a deal, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct DealChanges {
    pub name: Patch<String>,
    pub amount: Patch<MoneyInput>,
    pub expected_close_date: Patch<NaiveDate>,
    pub pipeline_id: Patch<String>,
    pub stage_id: Patch<String>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub company_id: Patch<String>,
    pub contact_ids: Patch<Vec<String>>,
    pub next_step: Patch<String>,
    pub close_reason: Patch<String>,
    pub tags: Patch<Vec<String>>,
}

impl DealData {
    /// Applies `changes` to `current` (`None` for a create) in `pipeline`, the pipeline the
    /// deal is in afterwards. The stage must belong to it; without one, a deal entering the
    /// pipeline starts in its first open stage. Entering a won or lost stage stamps
    /// `closed_at`; reopening clears it and the close reason.
    pub fn apply(
        current: Option<&DealData>,
        changes: DealChanges,
        pipeline: &Pipeline,
        now: DateTime<Utc>,
    ) -> Result<DealData, ValidationErrors> {
        let base = current.cloned().unwrap_or_default();
        let mut errors = ValidationErrors::new();
        let e = &mut errors;
        let name = match changes.name {
            Patch::Keep if current.is_some() => base.name.clone(),
            Patch::Set(raw) => e.collect(required_text("name", &raw, SHORT_TEXT_MAX)).unwrap_or_default(),
            Patch::Keep | Patch::Clear => {
                e.push(FieldError::new("name", "required", "a deal needs a name"));
                String::new()
            }
        };
        let amount = match changes.amount {
            Patch::Keep => base.amount.clone(),
            Patch::Clear => None,
            Patch::Set(input) => match Money::parse_non_negative("amount", input.amount_minor, &input.currency) {
                Ok(money) => Some(money),
                Err(found) => {
                    e.extend_prefixed("", found);
                    None
                }
            },
        };
        let entering = current.is_none_or(|c| c.pipeline_id != pipeline.id);
        let stage = match changes.stage_id {
            Patch::Set(id) => match pipeline.stage(&id) {
                Some(stage) => Some(stage),
                None => {
                    e.push(FieldError::new("stage_id", "not_in_pipeline", "names no stage of the deal's pipeline"));
                    None
                }
            },
            Patch::Clear => {
                e.push(FieldError::new("stage_id", "required", "a deal is always in a stage"));
                None
            }
            Patch::Keep if entering => pipeline.first_open_stage(),
            Patch::Keep => pipeline.stage(&base.stage_id),
        };
        let kind = stage.map_or(StageKind::Open, |s| s.kind);
        let stage_id = stage.map(|s| s.id.clone()).unwrap_or_default();
        // A deal staying in its stage keeps its close time, unless the stage itself just became
        // won or lost (a pipeline edit): then it closes now, like any deal entering such a stage.
        let closed_at = match kind {
            StageKind::Open => None,
            _ if current.is_some_and(|c| c.stage_id == stage_id) => base.closed_at.or(Some(now)),
            _ => Some(now),
        };
        let close_reason = patch_text(e, "close_reason", changes.close_reason.clone(), base.close_reason.clone(), 500);
        let close_reason = match (kind, changes.close_reason) {
            (StageKind::Lost, _) => close_reason,
            (_, Patch::Set(reason)) if !reason.trim().is_empty() => {
                e.push(FieldError::new("close_reason", "only_when_lost", "only a lost deal has a close reason"));
                None
            }
            _ => None,
        };
        let contact_ids = match changes.contact_ids {
            Patch::Keep => base.contact_ids.clone(),
            Patch::Clear => Vec::new(),
            Patch::Set(ids) if ids.len() > DEAL_CONTACTS_MAX => {
                e.push(FieldError::new("contact_ids", "too_many", format!("at most {DEAL_CONTACTS_MAX} contacts")));
                Vec::new()
            }
            Patch::Set(ids) => {
                let mut unique: Vec<String> = Vec::new();
                for id in ids.into_iter().map(|id| id.trim().to_owned()) {
                    if !unique.contains(&id) {
                        unique.push(id);
                    }
                }
                unique
            }
        };
        let data = DealData {
            name,
            amount,
            expected_close_date: changes.expected_close_date.resolve(base.expected_close_date),
            pipeline_id: pipeline.id.clone(),
            stage_id,
            owner_id: patch_text(e, "owner_id", changes.owner_id, base.owner_id, 64),
            team_id: patch_text(e, "team_id", changes.team_id, base.team_id, 64),
            company_id: patch_text(e, "company_id", changes.company_id, base.company_id, 64),
            contact_ids,
            next_step: patch_text(e, "next_step", changes.next_step, base.next_step, LONG_TEXT_MAX.min(1000)),
            close_reason,
            closed_at,
            lead_id: base.lead_id,
            tags: patch_tags(e, changes.tags, base.tags),
            custom_fields: base.custom_fields,
        };
        errors.into_result(|| data)
    }

    /// The key `name` sorts on.
    pub fn sort_name(&self) -> String {
        self.name.to_lowercase()
    }

    /// Everything `q` searches: name and next step.
    pub fn search_text(&self) -> String {
        search_text(
            [Some(self.name.as_str()), self.next_step.as_deref()]
                .into_iter()
                .chain(self.custom_fields.search_parts().iter().map(|p| Some(p.as_str()))),
        )
    }
}

/// The length of one forecast period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Month,
    Quarter,
}

/// The first day of the period holding `date`.
pub fn period_start(date: NaiveDate, period: Period) -> NaiveDate {
    let month = match period {
        Period::Month => date.month(),
        Period::Quarter => (date.month() - 1) / 3 * 3 + 1,
    };
    NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
}

fn next_period(start: NaiveDate, period: Period) -> NaiveDate {
    let months = match period {
        Period::Month => 1,
        Period::Quarter => 3,
    };
    start.checked_add_months(chrono::Months::new(months)).unwrap_or(NaiveDate::MAX)
}

fn label(start: NaiveDate, period: Period) -> String {
    match period {
        Period::Month => format!("{}-{:02}", start.year(), start.month()),
        Period::Quarter => format!("{}-Q{}", start.year(), (start.month() - 1) / 3 + 1),
    }
}

/// The periods from the one holding `from` to the one holding `to`, as (first day, last day).
pub fn periods(from: NaiveDate, to: NaiveDate, period: Period) -> Result<Vec<(NaiveDate, NaiveDate)>, FieldError> {
    if to < from {
        return Err(FieldError::new("to", "before_from", "must not be before `from`"));
    }
    let mut ranges = Vec::new();
    let mut start = period_start(from, period);
    while start <= to {
        if ranges.len() == FORECAST_PERIODS_MAX {
            return Err(FieldError::new(
                "to",
                "too_many_periods",
                format!("a forecast spans at most {FORECAST_PERIODS_MAX} periods"),
            ));
        }
        let next = next_period(start, period);
        ranges.push((start, next.pred_opt().unwrap_or(next)));
        start = next;
    }
    Ok(ranges)
}

/// A deal as the forecast sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastDeal {
    pub kind: StageKind,
    pub probability: i32,
    pub amount_minor: i64,
    pub currency: String,
    pub expected_close_date: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
}

/// One currency's figures in one period, in minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct CurrencyForecast {
    #[schema(example = "EUR")]
    pub currency: String,
    /// Won deals closed in the period.
    pub committed: i64,
    /// Open deals expected to close in the period, each amount × its stage's probability.
    pub weighted: i64,
    /// Committed plus every open deal expected in the period at full amount.
    pub best_case: i64,
    /// Open deals expected in the period at full amount.
    pub open_pipeline: i64,
    pub won_deals: i64,
    pub open_deals: i64,
}

/// The forecast for one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PeriodForecast {
    /// `2026-11` for months, `2026-Q4` for quarters.
    #[schema(example = "2026-Q4")]
    pub period: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// One entry per currency with deals in the period; amounts are never converted.
    pub currencies: Vec<CurrencyForecast>,
}

/// Amount × probability %, rounded half up, without overflow.
fn weighted(amount_minor: i64, probability: i32) -> i64 {
    let product = i128::from(amount_minor) * i128::from(probability);
    i64::try_from((product + 50) / 100).unwrap_or(i64::MAX)
}

/// Buckets deals into periods: won deals by the day they closed, open deals by their expected
/// close date; lost deals and open deals without a date are left out.
pub fn forecast(deals: &[ForecastDeal], ranges: &[(NaiveDate, NaiveDate)], period: Period) -> Vec<PeriodForecast> {
    ranges
        .iter()
        .map(|(start, end)| {
            let within = |date: Option<NaiveDate>| date.is_some_and(|d| d >= *start && d <= *end);
            let mut by_currency: BTreeMap<&str, CurrencyForecast> = BTreeMap::new();
            for deal in deals {
                let counted = match deal.kind {
                    StageKind::Won => within(deal.closed_on),
                    StageKind::Open => within(deal.expected_close_date),
                    StageKind::Lost => false,
                };
                if !counted {
                    continue;
                }
                let figures = by_currency
                    .entry(deal.currency.as_str())
                    .or_insert_with(|| CurrencyForecast { currency: deal.currency.clone(), ..Default::default() });
                // Amounts may be as large as i64 holds; a sum beyond it stays at the bound
                // instead of wrapping (or panicking).
                figures.best_case = figures.best_case.saturating_add(deal.amount_minor);
                if deal.kind == StageKind::Won {
                    figures.committed = figures.committed.saturating_add(deal.amount_minor);
                    figures.won_deals += 1;
                } else {
                    figures.weighted = figures.weighted.saturating_add(weighted(deal.amount_minor, deal.probability));
                    figures.open_pipeline = figures.open_pipeline.saturating_add(deal.amount_minor);
                    figures.open_deals += 1;
                }
            }
            PeriodForecast {
                period: label(*start, period),
                starts_on: *start,
                ends_on: *end,
                currencies: by_currency.into_values().collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> Pipeline {
        let stage = |id: &str, position, probability, kind| Stage {
            id: id.into(),
            name: id.into(),
            position,
            probability,
            kind,
        };
        Pipeline {
            id: "p".into(),
            name: "Sales".into(),
            stages: vec![
                stage("lead", 0, 10, StageKind::Open),
                stage("won", 1, 100, StageKind::Won),
                stage("lost", 2, 0, StageKind::Lost),
            ],
        }
    }

    fn named(name: &str) -> DealChanges {
        DealChanges { name: Patch::Set(name.into()), ..Default::default() }
    }

    #[test]
    fn a_new_deal_starts_in_the_first_open_stage() {
        let deal = DealData::apply(None, named("Big"), &pipeline(), Utc::now()).expect("valid");
        assert_eq!(deal.stage_id, "lead");
        assert_eq!(deal.closed_at, None);
    }

    #[test]
    fn a_stage_of_another_pipeline_is_refused() {
        let changes = DealChanges { stage_id: Patch::Set("elsewhere".into()), ..named("Big") };
        let errors = DealData::apply(None, changes, &pipeline(), Utc::now()).err();
        assert_eq!(errors.map(|e| e.errors()[0].code), Some("not_in_pipeline"));
    }

    #[test]
    fn closing_stamps_closed_at_and_reopening_clears_it_with_the_reason() {
        let now = Utc::now();
        let open = DealData::apply(None, named("Big"), &pipeline(), now).expect("valid");
        let lost = DealData::apply(
            Some(&open),
            DealChanges {
                stage_id: Patch::Set("lost".into()),
                close_reason: Patch::Set("Too expensive".into()),
                ..Default::default()
            },
            &pipeline(),
            now,
        )
        .expect("valid");
        assert_eq!(lost.closed_at, Some(now));
        assert_eq!(lost.close_reason.as_deref(), Some("Too expensive"));
        let reopened = DealData::apply(
            Some(&lost),
            DealChanges { stage_id: Patch::Set("lead".into()), ..Default::default() },
            &pipeline(),
            now,
        )
        .expect("valid");
        assert_eq!((reopened.closed_at, reopened.close_reason), (None, None));
        let reason_on_open = DealChanges { close_reason: Patch::Set("x".into()), ..Default::default() };
        assert!(DealData::apply(Some(&open), reason_on_open, &pipeline(), now).is_err());
    }

    #[test]
    fn a_deal_whose_stage_becomes_won_closes_then_and_keeps_that_time() {
        let opened = Utc::now() - chrono::Duration::days(3);
        let open = DealData::apply(None, named("Big"), &pipeline(), opened).expect("valid");
        let mut edited = pipeline();
        edited.stages[0].kind = StageKind::Won;
        let now = Utc::now();
        let closed = DealData::apply(Some(&open), DealChanges::default(), &edited, now).expect("valid");
        assert_eq!(closed.closed_at, Some(now));
        let later = DealData::apply(Some(&closed), named("Bigger"), &edited, now + chrono::Duration::days(1));
        assert_eq!(later.expect("valid").closed_at, Some(now));
        let reopened = DealData::apply(Some(&closed), DealChanges::default(), &pipeline(), now).expect("valid");
        assert_eq!(reopened.closed_at, None);
    }

    #[test]
    fn stages_and_pipelines_are_checked() {
        assert!(StageSpec::parse("", "Won", Some(50), StageKind::Won).is_err());
        assert!(StageSpec::parse("", "Open", None, StageKind::Open).is_err());
        assert_eq!(StageSpec::parse("", "Won", None, StageKind::Won).map(|s| s.probability), Ok(100));
        let only_closed = vec![StageSpec { name: "Won".into(), probability: 100, kind: StageKind::Won }];
        assert!(check_pipeline("P", &only_closed).is_err());
        let twice = vec![
            StageSpec { name: "A".into(), probability: 10, kind: StageKind::Open },
            StageSpec { name: "a".into(), probability: 20, kind: StageKind::Open },
        ];
        assert!(check_pipeline("P", &twice).is_err());
        assert!(check_pipeline("P", &default_stages()).is_ok());
    }

    #[test]
    fn forecast_sums_beyond_what_an_i64_holds_stay_at_the_bound_instead_of_overflowing() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).expect("date");
        let huge = |kind| ForecastDeal {
            kind,
            probability: 100,
            amount_minor: i64::MAX / 2 + 1,
            currency: "EUR".into(),
            expected_close_date: Some(day),
            closed_on: Some(day),
        };
        let ranges = periods(day, day, Period::Month).expect("one month");
        let result =
            forecast(&[huge(StageKind::Won), huge(StageKind::Won), huge(StageKind::Open)], &ranges, Period::Month);
        let eur = &result[0].currencies[0];
        assert_eq!((eur.committed, eur.best_case, eur.open_pipeline), (i64::MAX, i64::MAX, i64::MAX / 2 + 1));
    }

    #[test]
    fn the_forecast_splits_won_weighted_and_best_case_per_period_and_currency() {
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).expect("date");
        let deal = |kind, probability, amount: i64, currency: &str, expected, closed| ForecastDeal {
            kind,
            probability,
            amount_minor: amount,
            currency: currency.into(),
            expected_close_date: expected,
            closed_on: closed,
        };
        let deals = vec![
            deal(StageKind::Won, 100, 1000, "EUR", None, Some(day(10, 5))),
            deal(StageKind::Open, 25, 2001, "EUR", Some(day(11, 20)), None),
            deal(StageKind::Open, 50, 500, "USD", Some(day(12, 1)), None),
            deal(StageKind::Lost, 0, 9999, "EUR", Some(day(11, 1)), Some(day(11, 2))),
            deal(StageKind::Open, 50, 700, "EUR", None, None),
        ];
        let ranges = periods(day(10, 15), day(12, 31), Period::Quarter).expect("one quarter");
        assert_eq!(ranges, vec![(day(10, 1), day(12, 31))]);
        let result = forecast(&deals, &ranges, Period::Quarter);
        assert_eq!(result[0].period, "2026-Q4");
        let eur = &result[0].currencies[0];
        assert_eq!((eur.committed, eur.weighted, eur.best_case, eur.open_pipeline), (1000, 500, 3001, 2001));
        assert_eq!(result[0].currencies[1].weighted, 250);
        let months = periods(day(1, 31), day(3, 1), Period::Month).expect("three months");
        assert_eq!(months.len(), 3);
        assert!(periods(day(3, 1), day(1, 1), Period::Month).is_err());
    }
}
