//! Knowledge-base articles: Markdown written by agents, rendered to HTML that is safe to show
//! (raw HTML is shown as text, links and images only to safe places), with a status lifecycle.

use chrono::{DateTime, Utc};
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::fields::{self, FieldSpec, FilterKind, ReadFields, Shape};
use crate::record::{Patch, patch_tags, patch_text, search_text};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{SHORT_TEXT_MAX, Tags, required_text};

/// Longest article body (Markdown).
pub const BODY_MAX: usize = 100_000;
/// Most related articles one article names.
pub const RELATED_MAX: usize = 20;

/// Where an article stands: only published ones are shown to customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ArticleStatus {
    #[default]
    Draft,
    Published,
    Archived,
}

/// The statuses, as filters and CSV cells name them.
pub const STATUSES: &[&str] = &["draft", "published", "archived"];

/// An article's fields as stored: valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArticleData {
    pub title: String,
    /// Markdown.
    pub body: String,
    pub category: Option<String>,
    /// A language tag: `en`, `de-CH`.
    pub locale: String,
    pub status: ArticleStatus,
    pub related_ids: Vec<String>,
    /// The author.
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Tags,
    /// When it was first published.
    pub published_at: Option<DateTime<Utc>>,
    /// Counted by the public endpoint, never set by clients.
    pub view_count: i64,
    pub helpful_count: i64,
    /// Values of admin-defined custom fields.
    pub custom_fields: crate::custom::CustomValues,
}

crate::record::owned_by_fields!(ArticleData);

crate::custom::custom_fields_in!(ArticleData);

/// An article's standard fields, in CSV order.
pub const FIELDS: &[FieldSpec] = &[
    fields::ID,
    fields::NAME,
    FieldSpec::new("title").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("body").csv(Shape::Text),
    FieldSpec::new("category").sort(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("locale").filter(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("status").filter(FilterKind::Choice(STATUSES)).csv(Shape::Choice(STATUSES)),
    fields::OWNER_ID,
    fields::TEAM_ID,
    fields::TAGS,
    FieldSpec::new("published_at").sort(FilterKind::DateTime).exported(Shape::Time),
    FieldSpec::new("view_count").sort(FilterKind::Number).exported(Shape::Integer),
    FieldSpec::new("helpful_count").sort(FilterKind::Number).exported(Shape::Integer),
    fields::CREATED_AT,
    fields::UPDATED_AT,
];

impl ReadFields for ArticleData {
    fn read(&self, name: &str) -> Option<Value> {
        match name {
            "name" => Some(Value::String(self.sort_name())),
            "tags" => Some(Value::from(self.tags.as_slice().to_vec())),
            "title" => Some(Value::String(self.title.clone())),
            "category" => fields::text(self.category.as_deref()),
            "locale" => Some(Value::String(self.locale.clone())),
            "status" => fields::json(Some(self.status)),
            "published_at" => self.published_at.map(|t| Value::String(fields::time_text(t))),
            "view_count" => Some(Value::from(self.view_count)),
            "helpful_count" => Some(Value::from(self.helpful_count)),
            _ => None,
        }
    }
}

/// A create or merge-patch of an article, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct ArticleChanges {
    pub title: Patch<String>,
    pub body: Patch<String>,
    pub category: Patch<String>,
    pub locale: Patch<String>,
    pub status: Patch<ArticleStatus>,
    pub related_ids: Patch<Vec<String>>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub tags: Patch<Vec<String>>,
}

/// A language tag as stored: 2–3 letters, optionally `-` and a region or script (`en`,
/// `de-CH`, `zh-Hant`), case as BCP 47 writes it.
fn parse_locale(raw: &str) -> Result<String, FieldError> {
    let refused = || FieldError::new("locale", "invalid", "must be a language tag such as en, de-CH or zh-Hant");
    let mut parts = raw.trim().split('-');
    let language = parts.next().filter(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
    let language = language.ok_or_else(refused)?.to_ascii_lowercase();
    match (parts.next(), parts.next()) {
        (None, _) => Ok(language),
        (Some(region), None) if region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()) => {
            Ok(format!("{language}-{}", region.to_ascii_uppercase()))
        }
        (Some(script), None) if script.len() == 4 && script.chars().all(|c| c.is_ascii_alphabetic()) => {
            let mut chars = script.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or_default();
            Ok(format!("{language}-{first}{}", chars.as_str().to_ascii_lowercase()))
        }
        _ => Err(refused()),
    }
}

impl ArticleData {
    /// Applies `changes` to `current` (`None` for a create) at `now`: an article needs a title
    /// and a body; publishing stamps `published_at` the first time.
    pub fn apply(
        current: Option<&ArticleData>,
        changes: ArticleChanges,
        now: DateTime<Utc>,
    ) -> Result<ArticleData, ValidationErrors> {
        let base = current.cloned().unwrap_or_default();
        let mut errors = ValidationErrors::new();
        let e = &mut errors;
        let mut required = |field: &str, patch: Patch<String>, kept: &str, max: usize| match patch {
            Patch::Keep if current.is_some() => kept.to_owned(),
            Patch::Set(raw) => e.collect(required_text(field, &raw, max)).unwrap_or_default(),
            Patch::Keep | Patch::Clear => {
                e.push(FieldError::new(field, "required", "an article needs one"));
                String::new()
            }
        };
        let title = required("title", changes.title, &base.title, SHORT_TEXT_MAX);
        let body = required("body", changes.body, &base.body, BODY_MAX);
        let locale = match changes.locale {
            Patch::Keep if current.is_some() => base.locale.clone(),
            Patch::Keep | Patch::Clear => "en".to_owned(),
            Patch::Set(raw) => e.collect(parse_locale(&raw)).unwrap_or_default(),
        };
        let category = patch_text(e, "category", changes.category, base.category.clone(), 100);
        let owner_id = patch_text(e, "owner_id", changes.owner_id, base.owner_id.clone(), 64);
        let team_id = patch_text(e, "team_id", changes.team_id, base.team_id.clone(), 64);
        let status = match changes.status {
            Patch::Keep => base.status,
            Patch::Set(status) => status,
            Patch::Clear => {
                e.push(FieldError::new("status", "required", "an article always has a status"));
                base.status
            }
        };
        let related_ids = match changes.related_ids {
            Patch::Keep => base.related_ids.clone(),
            Patch::Clear => Vec::new(),
            Patch::Set(ids) if ids.len() > RELATED_MAX => {
                e.push(FieldError::new("related_ids", "too_many", format!("at most {RELATED_MAX} related articles")));
                base.related_ids.clone()
            }
            Patch::Set(ids) => {
                let mut unique: Vec<String> = Vec::new();
                for (index, id) in ids.iter().map(|id| id.trim()).enumerate() {
                    if id.is_empty() || id.len() > 64 {
                        e.push(FieldError::new(format!("related_ids[{index}]"), "invalid", "must be an article id"));
                    } else if !unique.iter().any(|u| u == id) {
                        unique.push(id.to_owned());
                    }
                }
                unique
            }
        };
        let tags = patch_tags(e, changes.tags, base.tags.clone());
        let published_at = base.published_at.or((status == ArticleStatus::Published).then_some(now));
        let data = ArticleData {
            title,
            body,
            category,
            locale,
            status,
            related_ids,
            owner_id,
            team_id,
            tags,
            published_at,
            view_count: base.view_count,
            helpful_count: base.helpful_count,
            custom_fields: base.custom_fields,
        };
        errors.into_result(|| data)
    }

    /// The key `name` sorts on: the title, case-folded.
    pub fn sort_name(&self) -> String {
        self.title.to_lowercase()
    }

    /// Everything `q` and the ranked search read: title, body, category.
    pub fn search_text(&self) -> String {
        search_text(
            [Some(self.title.as_str()), Some(self.body.as_str()), self.category.as_deref()]
                .into_iter()
                .chain(self.custom_fields.search_parts().iter().map(|p| Some(p.as_str()))),
        )
    }
}

/// Whether a link or image destination is safe to put in a page: web and mail addresses,
/// and relative ones; never `javascript:`, `data:` or any other scheme.
fn safe_destination(url: &str) -> bool {
    let cleaned: String = url.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
    let lower = cleaned.to_ascii_lowercase();
    let scheme_end = lower.find(':');
    let before_path = lower.find(['/', '?', '#']);
    match scheme_end {
        None => true,
        Some(colon) if before_path.is_some_and(|path| path < colon) => true,
        Some(_) => lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:"),
    }
}

/// The article's Markdown as HTML that is safe to show: raw HTML in the Markdown is escaped,
/// unsafe link and image destinations become `#`.
pub fn render_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) if !safe_destination(&dest_url) => {
            Event::Start(Tag::Link { link_type, dest_url: CowStr::Borrowed("#"), title, id })
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) if !safe_destination(&dest_url) => {
            Event::Start(Tag::Image { link_type, dest_url: CowStr::Borrowed("#"), title, id })
        }
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).single().expect("a time")
    }

    #[test]
    fn markdown_renders_and_whatever_could_run_in_a_page_does_not() {
        assert_eq!(
            render_html("# Reset\n\nUse **Settings**."),
            "<h1>Reset</h1>\n<p>Use <strong>Settings</strong>.</p>\n"
        );
        let html = render_html("<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)>");
        assert!(!html.contains("<script") && !html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        for bad in
            ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "&#106;avascript:alert(1)", "data:text/html,x", "vbscript:x"]
        {
            let html = render_html(&format!("[click]({bad}) ![i]({bad})"));
            assert!(html.contains("href=\"#\"") && html.contains("src=\"#\""), "{bad}: {html}");
        }
        let fine = render_html("[a](https://example.com/x) [b](/kb/1) [c](mailto:help@example.com) [d](page#top)");
        for href in ["https://example.com/x", "/kb/1", "mailto:help@example.com", "page#top"] {
            assert!(fine.contains(&format!("href=\"{href}\"")), "{href}: {fine}");
        }
    }

    #[test]
    fn an_article_needs_a_title_and_body_and_is_stamped_when_first_published() {
        let errors = ArticleData::apply(None, ArticleChanges::default(), now()).expect_err("refused");
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "body"]);
        let changes = ArticleChanges {
            title: Patch::Set("Reset a password".into()),
            body: Patch::Set("Go to *Settings*".into()),
            locale: Patch::Set("de-ch".into()),
            ..ArticleChanges::default()
        };
        let draft = ArticleData::apply(None, changes, now()).expect("valid");
        assert_eq!((draft.status, draft.locale.as_str(), draft.published_at), (ArticleStatus::Draft, "de-CH", None));
        let publish = ArticleChanges { status: Patch::Set(ArticleStatus::Published), ..ArticleChanges::default() };
        let published = ArticleData::apply(Some(&draft), publish, now()).expect("published");
        assert_eq!(published.published_at, Some(now()));
        let later = now() + chrono::TimeDelta::days(1);
        let archive = ArticleChanges { status: Patch::Set(ArticleStatus::Archived), ..ArticleChanges::default() };
        assert_eq!(ArticleData::apply(Some(&published), archive, later).expect("archived").published_at, Some(now()));
        let bad = ArticleChanges { locale: Patch::Set("english".into()), ..ArticleChanges::default() };
        assert_eq!(ArticleData::apply(Some(&draft), bad, now()).expect_err("refused").errors()[0].field, "locale");
    }
}
