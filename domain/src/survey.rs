//! Satisfaction surveys: NPS, CES and CSAT, their scales, and the figures a set of answers
//! gives, so a chart needs no further arithmetic.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{FieldError, ValidationErrors};
use crate::values::{SHORT_TEXT_MAX, required_text};

/// Longest question or follow-up text.
pub const QUESTION_MAX: usize = 500;
/// Longest answer comment.
pub const COMMENT_MAX: usize = 5000;

/// Which survey it is, which fixes its scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// Net Promoter Score: 0–10; detractors 0–6, passives 7–8, promoters 9–10.
    Nps,
    /// Customer Effort Score: 1–7 ("the company made it easy to handle my issue").
    Ces,
    /// Customer satisfaction: 1–5.
    Csat,
}

impl SurveyKind {
    /// The lowest and highest score.
    pub fn scale(self) -> (u8, u8) {
        match self {
            SurveyKind::Nps => (0, 10),
            SurveyKind::Ces => (1, 7),
            SurveyKind::Csat => (1, 5),
        }
    }

    /// The survey as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Nps => "nps",
            SurveyKind::Ces => "ces",
            SurveyKind::Csat => "csat",
        }
    }

    /// A score on this survey's scale.
    pub fn check_score(self, score: i64) -> Result<u8, FieldError> {
        let (low, high) = self.scale();
        u8::try_from(score)
            .ok()
            .filter(|s| (low..=high).contains(s))
            .ok_or_else(|| FieldError::new("score", "out_of_range", format!("must be {low} to {high}")))
    }
}

/// A survey as admins write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Survey {
    #[schema(max_length = 200, example = "Support satisfaction")]
    pub name: String,
    pub kind: SurveyKind,
    #[schema(max_length = 500, example = "How satisfied are you with the help you got?")]
    pub question: String,
    /// Asked after the score, answered in free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 500, example = "What could we do better?")]
    pub follow_up: Option<String>,
    /// The subject of the email that asks; default "A quick question".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub email_subject: Option<String>,
    /// Inactive surveys send no new requests (answers to sent ones still count).
    #[serde(default = "yes")]
    #[schema(required = false)]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Survey {
    /// Checks the survey as a whole.
    pub fn validated(mut self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut text = |field: &str, value: &str, max: usize| errors.collect(required_text(field, value, max));
        if let Some(name) = text("name", &self.name, SHORT_TEXT_MAX) {
            self.name = name;
        }
        if let Some(question) = text("question", &self.question, QUESTION_MAX) {
            self.question = question;
        }
        if let Some(follow_up) = self.follow_up.take() {
            self.follow_up = text("follow_up", &follow_up, QUESTION_MAX);
        }
        if let Some(subject) = self.email_subject.take() {
            self.email_subject = text("email_subject", &subject, SHORT_TEXT_MAX);
        }
        errors.into_result(|| self)
    }
}

/// What a survey request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TouchpointType {
    /// A ticket (typically just solved).
    Ticket,
    /// A deal (typically just won).
    Deal,
    /// Nothing in particular: a relationship survey.
    None,
}

impl TouchpointType {
    /// The type as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TouchpointType::Ticket => "ticket",
            TouchpointType::Deal => "deal",
            TouchpointType::None => "none",
        }
    }
}

/// NPS figures: counts per band and the score, % promoters − % detractors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct NpsFigures {
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
    /// −100 to 100, one decimal.
    pub nps: f64,
}

/// CES figures: the mean and the share who found it easy (5–7).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct CesFigures {
    /// Two decimals.
    pub mean: f64,
    /// Answers of 5, 6 or 7.
    pub easy: u64,
    /// Percent of answers, one decimal.
    pub easy_percent: f64,
}

/// CSAT figures: the share satisfied (4–5).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct CsatFigures {
    /// Answers of 4 or 5.
    pub satisfied: u64,
    /// Percent of answers, one decimal.
    pub csat: f64,
}

/// What a group of requests and their answers give.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    /// Requests sent.
    pub requests: u64,
    /// Requests answered.
    pub responses: u64,
    /// Percent of requests answered, one decimal; `null` without requests.
    pub response_rate: Option<f64>,
    /// For NPS surveys with answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nps: Option<NpsFigures>,
    /// For CES surveys with answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ces: Option<CesFigures>,
    /// For CSAT surveys with answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csat: Option<CsatFigures>,
}

fn rounded(value: f64, decimals: i32) -> f64 {
    let factor = 10_f64.powi(decimals);
    (value * factor).round() / factor
}

fn percent(part: u64, whole: u64) -> f64 {
    rounded(part as f64 * 100.0 / whole as f64, 1)
}

/// The figures of `requests` requests whose answers are `scores` (one per answered request).
pub fn figures(kind: SurveyKind, requests: u64, scores: &[u8]) -> Figures {
    let responses = scores.len() as u64;
    let count = |keep: fn(u8) -> bool| scores.iter().filter(|s| keep(**s)).count() as u64;
    let answered = responses > 0;
    let nps = (answered && kind == SurveyKind::Nps).then(|| {
        let (promoters, detractors) = (count(|s| s >= 9), count(|s| s <= 6));
        NpsFigures {
            promoters,
            passives: responses - promoters - detractors,
            detractors,
            nps: rounded((promoters as f64 - detractors as f64) * 100.0 / responses as f64, 1),
        }
    });
    let ces = (answered && kind == SurveyKind::Ces).then(|| {
        let easy = count(|s| s >= 5);
        let sum: u64 = scores.iter().map(|s| u64::from(*s)).sum();
        CesFigures { mean: rounded(sum as f64 / responses as f64, 2), easy, easy_percent: percent(easy, responses) }
    });
    let csat = (answered && kind == SurveyKind::Csat).then(|| {
        let satisfied = count(|s| s >= 4);
        CsatFigures { satisfied, csat: percent(satisfied, responses) }
    });
    Figures { requests, responses, response_rate: (requests > 0).then(|| percent(responses, requests)), nps, ces, csat }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nps_is_the_share_of_promoters_less_the_share_of_detractors() {
        // 10 answers: 5 promoters (9, 10), 2 passives (7, 8), 3 detractors (0–6); 12 requests.
        let got = figures(SurveyKind::Nps, 12, &[10, 9, 9, 10, 9, 7, 8, 6, 0, 3]);
        assert_eq!(got.nps, Some(NpsFigures { promoters: 5, passives: 2, detractors: 3, nps: 20.0 }));
        assert_eq!((got.responses, got.response_rate), (10, Some(83.3)));
        assert_eq!((got.ces, got.csat), (None, None));
        let all_detractors = figures(SurveyKind::Nps, 2, &[1, 2]);
        assert_eq!(all_detractors.nps.map(|n| n.nps), Some(-100.0));
    }

    #[test]
    fn ces_gives_the_mean_and_the_share_of_five_to_seven_and_csat_the_share_of_four_and_five() {
        let ces = figures(SurveyKind::Ces, 3, &[7, 5, 2]);
        assert_eq!(ces.ces, Some(CesFigures { mean: 4.67, easy: 2, easy_percent: 66.7 }));
        let csat = figures(SurveyKind::Csat, 4, &[5, 4, 3, 1]);
        assert_eq!(csat.csat, Some(CsatFigures { satisfied: 2, csat: 50.0 }));
        let unanswered = figures(SurveyKind::Csat, 0, &[]);
        assert_eq!((unanswered.response_rate, unanswered.csat), (None, None));
    }

    #[test]
    fn scores_must_be_on_the_surveys_scale() {
        assert_eq!(SurveyKind::Nps.check_score(0), Ok(0));
        assert!(SurveyKind::Nps.check_score(11).is_err());
        assert!(SurveyKind::Ces.check_score(0).is_err());
        assert_eq!(SurveyKind::Csat.check_score(5), Ok(5));
        assert!(SurveyKind::Csat.check_score(-1).is_err());
        assert!(SurveyKind::Csat.check_score(i64::MAX).is_err());
    }

    #[test]
    fn a_survey_needs_a_name_and_a_question() {
        let survey: Survey = serde_json::from_value(serde_json::json!({"name": " ", "kind": "csat", "question": ""}))
            .expect("a survey document");
        let fields: Vec<String> =
            survey.validated().expect_err("refused").errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["name", "question"]);
    }
}
