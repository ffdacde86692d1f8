//! The email outbox: rendered messages to send, and what became of them.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::error::{StoreError, StoreResult};
use crate::schema::emails;
use crate::{DbConnection, from_db_time, new_id, to_db_time};

/// Where an email stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailState {
    Queued,
    Sent,
    /// The SMTP server refused it for good, or none is configured.
    Failed,
}

impl EmailState {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailState::Queued => "queued",
            EmailState::Sent => "sent",
            EmailState::Failed => "failed",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [EmailState::Queued, EmailState::Sent, EmailState::Failed].into_iter().find(|s| s.as_str() == name)
    }
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    /// Some record's email (logged as an activity once sent), or a notification to a user.
    pub notification: bool,
    pub template_id: Option<&'a str>,
    /// The record it is about (noun, id).
    pub record: Option<(&'a str, &'a str)>,
    pub sender_id: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub html: Option<&'a str>,
    pub text: Option<&'a str>,
    /// The `Message-ID` it is sent with (the same on every attempt).
    pub message_id: &'a str,
}

/// A stored email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub id: String,
    /// A notification to a user rather than an email about a record.
    pub notification: bool,
    pub template_id: Option<String>,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub sender_id: String,
    pub recipient: String,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    pub state: EmailState,
    pub message_id: String,
    pub error: Option<String>,
    pub activity_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

type Row = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

fn email_of(row: Row) -> StoreResult<Email> {
    let (
        id,
        purpose,
        template_id,
        record_type,
        record_id,
        sender_id,
        recipient,
        subject,
        html,
        text,
        state,
        message_id,
    ) = (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11);
    Ok(Email {
        notification: purpose == "notification",
        state: EmailState::parse(&state)
            .ok_or_else(|| StoreError::Internal(format!("email {id} has state `{state}`")))?,
        id,
        template_id,
        record_type,
        record_id,
        sender_id,
        recipient,
        subject,
        html,
        text,
        message_id,
        error: row.12,
        activity_id: row.13,
        created_at: from_db_time(row.14),
        updated_at: from_db_time(row.15),
        sent_at: row.16.map(from_db_time),
    })
}

/// Stores a queued email; its id.
pub fn insert(conn: &mut DbConnection, email: &NewEmail<'_>, now: DateTime<Utc>) -> StoreResult<String> {
    let id = new_id();
    let now = to_db_time(now);
    diesel::insert_into(emails::table)
        .values((
            emails::id.eq(&id),
            emails::purpose.eq(if email.notification { "notification" } else { "record" }),
            emails::template_id.eq(email.template_id),
            emails::record_type.eq(email.record.map(|(t, _)| t)),
            emails::record_id.eq(email.record.map(|(_, id)| id)),
            emails::sender_id.eq(email.sender_id),
            emails::recipient.eq(email.recipient),
            emails::subject.eq(email.subject),
            emails::html.eq(email.html),
            emails::text.eq(email.text),
            emails::state.eq(EmailState::Queued.as_str()),
            emails::message_id.eq(email.message_id),
            emails::created_at.eq(now),
            emails::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}

/// One email.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<Email> {
    email_of(emails::table.filter(emails::id.eq(id)).first(conn)?)
}

/// Records that a queued email was sent; false when it was no longer queued.
pub fn mark_sent(
    conn: &mut DbConnection,
    id: &str,
    activity_id: Option<&str>,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let now = to_db_time(now);
    let changed = diesel::update(emails::table.filter(emails::id.eq(id)).filter(emails::state.eq("queued")))
        .set((
            emails::state.eq(EmailState::Sent.as_str()),
            emails::activity_id.eq(activity_id),
            emails::error.eq(note),
            emails::sent_at.eq(now),
            emails::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Records why a queued email will not be sent.
pub fn mark_failed(conn: &mut DbConnection, id: &str, error: &str, now: DateTime<Utc>) -> StoreResult<()> {
    diesel::update(emails::table.filter(emails::id.eq(id)).filter(emails::state.eq("queued")))
        .set((
            emails::state.eq(EmailState::Failed.as_str()),
            emails::error.eq(error),
            emails::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}
