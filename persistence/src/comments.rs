//! Comments on records, and the notification feed with its preferences.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::comment::{DEFAULT_DELIVERY, Delivery, NotificationKind};
use domain::listing::Position;

use crate::error::{StoreError, StoreResult};
use crate::schema::{comments, notification_preferences, notifications};
use crate::{DbConnection, from_db_time, links, new_id, to_db_time};

/// A comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: String,
    /// The record's noun ("contact").
    pub record_type: String,
    pub record_id: String,
    pub author_id: String,
    pub body: String,
    /// JSON array of the resolved mentions.
    pub mentions: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type CommentRow = (String, String, String, String, String, String, i64, NaiveDateTime, NaiveDateTime);

fn comment_of(row: CommentRow) -> Comment {
    let (id, record_type, record_id, author_id, body, mentions, version, created, updated) = row;
    Comment {
        id,
        record_type,
        record_id,
        author_id,
        body,
        mentions,
        version,
        created_at: from_db_time(created),
        updated_at: from_db_time(updated),
    }
}

/// Stores a new comment.
pub fn insert(
    conn: &mut DbConnection,
    (record_type, record_id): (&str, &str),
    author_id: &str,
    body: &str,
    mentions: &str,
    now: DateTime<Utc>,
) -> StoreResult<Comment> {
    let id = new_id();
    let now = to_db_time(now);
    diesel::insert_into(comments::table)
        .values((
            comments::id.eq(&id),
            comments::record_type.eq(record_type),
            comments::record_id.eq(record_id),
            comments::author_id.eq(author_id),
            comments::body.eq(body),
            comments::mentions.eq(mentions),
            comments::version.eq(1_i64),
            comments::created_at.eq(now),
            comments::updated_at.eq(now),
        ))
        .execute(conn)?;
    find(conn, &id)
}

/// One comment.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<Comment> {
    Ok(comment_of(comments::table.filter(comments::id.eq(id)).first(conn)?))
}

/// A record's comments, oldest first, after the comment `after`.
pub fn of_record(
    conn: &mut DbConnection,
    (record_type, record_id): (&str, &str),
    after: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Comment>> {
    let mut query = comments::table
        .filter(comments::record_type.eq(record_type))
        .filter(comments::record_id.eq(record_id))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(comments::id.gt(after));
    }
    let rows: Vec<CommentRow> = query.order(comments::id.asc()).limit(limit).load(conn)?;
    Ok(rows.into_iter().map(comment_of).collect())
}

/// A record's comments for its timeline: newest first on (created_at, id), before `before`.
pub fn timeline(
    conn: &mut DbConnection,
    (record_type, record_id): (&str, &str),
    before: Option<&Position>,
    limit: i64,
) -> StoreResult<Vec<Comment>> {
    let mut query = comments::table
        .filter(comments::record_type.eq(record_type))
        .filter(comments::record_id.eq(record_id))
        .into_boxed();
    if let Some((at, id)) = before.and_then(links::timeline_position) {
        query = query.filter(comments::created_at.lt(at).or(comments::created_at.eq(at).and(comments::id.lt(id))));
    }
    let rows: Vec<CommentRow> =
        query.order((comments::created_at.desc(), comments::id.desc())).limit(limit).load(conn)?;
    Ok(rows.into_iter().map(comment_of).collect())
}

/// Replaces a comment's text if it is still at `version`.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    body: &str,
    mentions: &str,
    now: DateTime<Utc>,
) -> StoreResult<Comment> {
    let changed = diesel::update(comments::table.filter(comments::id.eq(id)).filter(comments::version.eq(version)))
        .set((
            comments::body.eq(body),
            comments::mentions.eq(mentions),
            comments::version.eq(version + 1),
            comments::updated_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::Stale);
    }
    find(conn, id)
}

/// Deletes a comment (its notifications go with it).
pub fn delete(conn: &mut DbConnection, id: &str) -> StoreResult<()> {
    diesel::delete(notifications::table.filter(notifications::comment_id.eq(id))).execute(conn)?;
    let deleted = diesel::delete(comments::table.filter(comments::id.eq(id))).execute(conn)?;
    if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// A notification to store.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub user_id: &'a str,
    pub kind: NotificationKind,
    /// The record it is about (noun, id).
    pub record: Option<(&'a str, &'a str)>,
    pub actor_id: Option<&'a str>,
    pub comment_id: Option<&'a str>,
    /// Notifications of one kind with the same key (a request id) add up while unread.
    pub group_key: Option<&'a str>,
    pub message: &'a str,
}

/// A notification in a user's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub kind: NotificationKind,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub actor_id: Option<String>,
    pub comment_id: Option<String>,
    /// How many changes it stands for (an import's records for the user are one).
    pub count: i32,
    pub message: String,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

type NotificationRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
    String,
    Option<NaiveDateTime>,
    NaiveDateTime,
);

/// The unread notification of a user's of this kind and group, and how many it stands for.
pub fn unread_in_group(
    conn: &mut DbConnection,
    user_id: &str,
    kind: NotificationKind,
    group_key: &str,
) -> StoreResult<Option<(String, i32)>> {
    Ok(notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::kind.eq(kind.as_str()))
        .filter(notifications::group_key.eq(group_key))
        .filter(notifications::read_at.is_null())
        .select((notifications::id, notifications::count))
        .first(conn)
        .optional()?)
}

/// Makes a notification stand for one more change, with a message that says how many.
pub fn add_to(conn: &mut DbConnection, id: &str, count: i32, message: &str) -> StoreResult<()> {
    diesel::update(notifications::table.filter(notifications::id.eq(id)))
        .set((notifications::count.eq(count), notifications::message.eq(message)))
        .execute(conn)?;
    Ok(())
}

/// Stores a notification.
pub fn notify(conn: &mut DbConnection, new: &NewNotification<'_>, now: DateTime<Utc>) -> StoreResult<()> {
    diesel::insert_into(notifications::table)
        .values((
            notifications::id.eq(new_id()),
            notifications::user_id.eq(new.user_id),
            notifications::kind.eq(new.kind.as_str()),
            notifications::record_type.eq(new.record.map(|(t, _)| t)),
            notifications::record_id.eq(new.record.map(|(_, id)| id)),
            notifications::actor_id.eq(new.actor_id),
            notifications::comment_id.eq(new.comment_id),
            notifications::group_key.eq(new.group_key),
            notifications::count.eq(1),
            notifications::message.eq(new.message),
            notifications::created_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A user's notifications, newest first, before `before`; unread ones only if asked.
pub fn feed(
    conn: &mut DbConnection,
    user_id: &str,
    unread_only: bool,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Notification>> {
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .select((
            notifications::id,
            notifications::kind,
            notifications::record_type,
            notifications::record_id,
            notifications::actor_id,
            notifications::comment_id,
            notifications::count,
            notifications::message,
            notifications::read_at,
            notifications::created_at,
        ))
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    if let Some(before) = before {
        query = query.filter(notifications::id.lt(before));
    }
    let rows: Vec<NotificationRow> = query.order(notifications::id.desc()).limit(limit).load(conn)?;
    rows.into_iter()
        .map(|(id, kind, record_type, record_id, actor_id, comment_id, count, message, read_at, created_at)| {
            Ok(Notification {
                kind: NotificationKind::parse(&kind)
                    .ok_or_else(|| StoreError::Internal(format!("notification {id} has kind `{kind}`")))?,
                id,
                record_type,
                record_id,
                actor_id,
                comment_id,
                count,
                message,
                read_at: read_at.map(from_db_time),
                created_at: from_db_time(created_at),
            })
        })
        .collect()
}

/// How many of a user's notifications are unread.
pub fn unread_count(conn: &mut DbConnection, user_id: &str) -> StoreResult<i64> {
    Ok(notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Marks one of a user's notifications read (`NotFound` when it is not theirs).
pub fn mark_read(conn: &mut DbConnection, user_id: &str, id: &str, now: DateTime<Utc>) -> StoreResult<()> {
    let mine = notifications::table.filter(notifications::user_id.eq(user_id)).filter(notifications::id.eq(id));
    let found: i64 = mine.count().get_result(conn)?;
    if found == 0 {
        return Err(StoreError::NotFound);
    }
    diesel::update(mine.filter(notifications::read_at.is_null()))
        .set(notifications::read_at.eq(to_db_time(now)))
        .execute(conn)?;
    Ok(())
}

/// Marks every unread notification of a user read; how many.
pub fn mark_all_read(conn: &mut DbConnection, user_id: &str, now: DateTime<Utc>) -> StoreResult<usize> {
    Ok(diesel::update(
        notifications::table.filter(notifications::user_id.eq(user_id)).filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(to_db_time(now)))
    .execute(conn)?)
}

/// A user's preference for one kind (the default where none is stored).
pub fn preference(conn: &mut DbConnection, user_id: &str, kind: NotificationKind) -> StoreResult<Delivery> {
    let stored: Option<(bool, bool)> = notification_preferences::table
        .filter(notification_preferences::user_id.eq(user_id))
        .filter(notification_preferences::kind.eq(kind.as_str()))
        .select((notification_preferences::in_app, notification_preferences::email))
        .first(conn)
        .optional()?;
    Ok(stored.map_or(DEFAULT_DELIVERY, |(in_app, email)| Delivery { in_app, email }))
}

/// Sets a user's preference for one kind.
pub fn set_preference(
    conn: &mut DbConnection,
    user_id: &str,
    kind: NotificationKind,
    delivery: Delivery,
) -> StoreResult<()> {
    diesel::delete(
        notification_preferences::table
            .filter(notification_preferences::user_id.eq(user_id))
            .filter(notification_preferences::kind.eq(kind.as_str())),
    )
    .execute(conn)?;
    diesel::insert_into(notification_preferences::table)
        .values((
            notification_preferences::user_id.eq(user_id),
            notification_preferences::kind.eq(kind.as_str()),
            notification_preferences::in_app.eq(delivery.in_app),
            notification_preferences::email.eq(delivery.email),
        ))
        .execute(conn)?;
    Ok(())
}
