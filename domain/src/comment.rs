//! Comments on records and the mentions in them, and the kinds of notification a user gets
//! with their default preferences.
//!
//! A mention is `@` and a user's email address (`@ada@example.com`), or `@team:` and a team's
//! name (`@team:sales`, `@team:"West Coast"` for a name with spaces), at the start of the text
//! or after a space or punctuation, so an address inside a word (`ada@example.com`) is not one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::FieldError;
use crate::values::EmailAddress;

/// The longest comment.
pub const BODY_MAX: usize = 10_000;
/// At most this many mentions in one comment.
pub const MENTIONS_MAX: usize = 50;

/// What a mention in a comment's text names, before it is resolved to an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mentioned {
    /// A user, by email address.
    User(EmailAddress),
    /// A team, by name.
    Team(String),
}

/// A mention as written, and what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionText {
    /// As it appears in the text: `@ada@example.com`, `@team:"West Coast"`.
    pub text: String,
    pub names: Mentioned,
}

/// A comment's text, checked, with the mentions it makes (each once, in order).
pub fn parse_body(body: &str) -> Result<(String, Vec<MentionText>), FieldError> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > BODY_MAX {
        return Err(FieldError::new("body", "invalid", format!("1 to {BODY_MAX} characters")));
    }
    let mut mentions: Vec<MentionText> = Vec::new();
    let mut index = 0;
    while let Some(offset) = body[index..].find('@') {
        let at = index + offset;
        let before = body[..at].chars().next_back();
        let opens = before.is_none_or(|c| c.is_whitespace() || (c.is_ascii_punctuation() && c != '@'));
        let (consumed, found) = if opens { mention_at(&body[at + 1..]) } else { (0, None) };
        if let Some(found) = found
            && !mentions.iter().any(|m| m.names == found.names)
        {
            mentions.push(found);
        }
        index = at + 1 + consumed;
    }
    if mentions.len() > MENTIONS_MAX {
        return Err(FieldError::new("body", "too_many_mentions", format!("at most {MENTIONS_MAX} mentions")));
    }
    Ok((body.to_owned(), mentions))
}

/// Reads a mention just after an `@`: how many bytes it took and what it names.
fn mention_at(text: &str) -> (usize, Option<MentionText>) {
    if let Some(team) = text.strip_prefix("team:") {
        let (name, taken) = if let Some(quoted) = team.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], end + 2),
                None => return (0, None),
            }
        } else {
            let end = team.find(|c: char| c.is_whitespace()).unwrap_or(team.len());
            let name = team[..end].trim_end_matches(|c: char| c.is_ascii_punctuation());
            (name, name.len())
        };
        if name.trim().is_empty() {
            return (0, None);
        }
        let consumed = "team:".len() + taken;
        let mention =
            MentionText { text: format!("@{}", &text[..consumed]), names: Mentioned::Team(name.trim().to_owned()) };
        return (consumed, Some(mention));
    }
    let end = text.find(|c: char| !(c.is_alphanumeric() || "._%+-@".contains(c))).unwrap_or(text.len());
    let candidate = text[..end].trim_end_matches(['.', '-']);
    match EmailAddress::parse("body", candidate) {
        Ok(address) => {
            (candidate.len(), Some(MentionText { text: format!("@{candidate}"), names: Mentioned::User(address) }))
        }
        Err(_) => (0, None),
    }
}

/// Why a user is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// Someone mentioned them (or a team of theirs) in a comment.
    Mention,
    /// A record or task was given to them by someone else.
    Assignment,
    /// A workflow's "notify" step.
    Workflow,
    /// A webhook endpoint was turned off by its failures (admins).
    WebhookDisabled,
}

impl NotificationKind {
    /// Every kind, in the order preferences list them.
    pub const ALL: [NotificationKind; 4] = [
        NotificationKind::Mention,
        NotificationKind::Assignment,
        NotificationKind::Workflow,
        NotificationKind::WebhookDisabled,
    ];

    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Mention => "mention",
            NotificationKind::Assignment => "assignment",
            NotificationKind::Workflow => "workflow",
            NotificationKind::WebhookDisabled => "webhook_disabled",
        }
    }

    /// The kind a stored name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// How a user wants one kind of notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// In the notification feed.
    pub in_app: bool,
    /// By email as well.
    pub email: bool,
}

/// Until a user says otherwise: every kind in the feed, none by email.
pub const DEFAULT_DELIVERY: Delivery = Delivery { in_app: true, email: false };

#[cfg(test)]
mod tests {
    use super::*;

    fn mentioned(body: &str) -> Vec<String> {
        parse_body(body).expect("valid").1.into_iter().map(|m| m.text).collect()
    }

    #[test]
    fn users_are_mentioned_by_address_and_teams_by_name_quoted_when_it_has_spaces() {
        assert_eq!(
            mentioned("@ada@example.com please ask @team:sales and @team:\"West Coast\", thanks"),
            ["@ada@example.com", "@team:sales", "@team:\"West Coast\""]
        );
        let (_, mentions) = parse_body("(@Ada@Example.com.)").expect("valid");
        assert_eq!(
            mentions[0].names,
            Mentioned::User(EmailAddress::parse("x", "ada@example.com").expect("an address"))
        );
        assert_eq!(mentioned("ping @team:ops."), ["@team:ops"]);
    }

    #[test]
    fn an_address_inside_text_is_not_a_mention_and_each_is_counted_once() {
        assert!(mentioned("write to ada@example.com").is_empty());
        assert!(mentioned("an @ alone, @notanaddress, @team: nothing").is_empty());
        assert_eq!(mentioned("@ada@example.com and again @ADA@example.com"), ["@ada@example.com"]);
    }

    #[test]
    fn a_comment_has_one_to_ten_thousand_characters_and_a_bounded_number_of_mentions() {
        assert!(parse_body("   ").is_err());
        assert!(parse_body(&"x".repeat(BODY_MAX + 1)).is_err());
        let many: String = (0..=MENTIONS_MAX).map(|n| format!("@u{n}@example.com ")).collect();
        assert_eq!(parse_body(&many).expect_err("too many").code, "too_many_mentions");
    }

    #[test]
    fn notification_kinds_read_back_from_their_names() {
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()), Some(kind));
        }
    }
}
