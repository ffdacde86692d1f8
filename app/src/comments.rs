//! Comments on any record (with `@user` and `@team` mentions resolved to ids) and the
//! notification feed they, assignments and automation write to. Nobody is notified about a
//! record they cannot read: each recipient's own grants are checked against the record.

use chrono::Utc;
use domain::access::{Action, Ownership, Principal};
use domain::comment::{Mentioned, NotificationKind, parse_body};
use domain::registry::{self, RecordTypeSpec};
use persistence::comments::{self, Comment, NewNotification, Notification};
use persistence::events::StoredEvent;
use persistence::{DbConnection, StoreError, record_ownership, teams, users};
use serde::{Deserialize, Serialize};

use crate::actor::{Actor, user_principal};
use crate::error::AppError;
use crate::events::{self, Cause, EventHandler, Happened};
use crate::records::check_version;

/// A mention resolved: whom it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// `user` or `team`.
    pub kind: String,
    pub id: String,
    /// As written in the comment.
    pub text: String,
}

/// The record a comment is on: its type, and its owner and team as they are now.
struct OnRecord {
    spec: &'static RecordTypeSpec,
    id: String,
    owner_id: Option<String>,
    team_id: Option<String>,
}

impl OnRecord {
    fn ownership(&self) -> Ownership<'_> {
        Ownership { owner_id: self.owner_id.as_deref(), team_id: self.team_id.as_deref() }
    }

    fn readable_by(&self, principal: &Principal) -> bool {
        principal.may(self.spec.module, Action::Read, self.ownership()).is_ok()
    }
}

/// The live record of `collection` with this id, if the actor may read it (404 otherwise).
fn readable(conn: &mut DbConnection, actor: &Actor, collection: &str, id: &str) -> Result<OnRecord, AppError> {
    let spec = registry::by_collection(collection).ok_or_else(|| AppError::not_found("collection"))?;
    let (owner_id, team_id) = record_ownership(conn, spec, id)?.ok_or_else(|| AppError::not_found(spec.noun))?;
    let record = OnRecord { spec, id: id.to_owned(), owner_id, team_id };
    actor.principal.may(spec.module, Action::Read, record.ownership())?;
    Ok(record)
}

/// A record's comments, oldest first, after the comment `after`.
pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    collection: &str,
    id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Comment>, AppError> {
    let record = readable(conn, actor, collection, id)?;
    Ok(comments::of_record(conn, (record.spec.noun, &record.id), after, limit)?)
}

/// Comments on a record anyone who may read it may write; each mentioned user (and each
/// active member of a mentioned team) who may read the record too is notified.
pub fn post(
    conn: &mut DbConnection,
    actor: &Actor,
    collection: &str,
    id: &str,
    body: &str,
) -> Result<Comment, AppError> {
    let record = readable(conn, actor, collection, id)?;
    let (body, mentions) = resolve(conn, body)?;
    let stored = serde_json::to_string(&mentions)?;
    let comment =
        comments::insert(conn, (record.spec.noun, &record.id), &actor.principal.user_id, &body, &stored, Utc::now())?;
    notify_mentioned(conn, actor, &record, &comment, &mentions)?;
    announce(conn, actor, &record, "comment.created", &comment, &mentions)?;
    Ok(comment)
}

/// Changes one's own comment; only mentions it did not make before notify.
pub fn edit(
    conn: &mut DbConnection,
    actor: &Actor,
    (collection, id, comment_id): (&str, &str, &str),
    expected_version: Option<i64>,
    body: &str,
) -> Result<Comment, AppError> {
    let record = readable(conn, actor, collection, id)?;
    let current = comment_on(conn, &record, comment_id)?;
    if current.author_id != actor.principal.user_id {
        return Err(AppError::Forbidden("only its author may change a comment".into()));
    }
    check_version(expected_version, current.version)?;
    let before: Vec<Mention> = serde_json::from_str(&current.mentions)?;
    let (body, mentions) = resolve(conn, body)?;
    let stored = serde_json::to_string(&mentions)?;
    let updated = comments::update(conn, comment_id, current.version, &body, &stored, Utc::now())?;
    let new: Vec<Mention> = mentions.iter().filter(|m| !before.iter().any(|b| b.id == m.id)).cloned().collect();
    notify_mentioned(conn, actor, &record, &updated, &new)?;
    announce(conn, actor, &record, "comment.updated", &updated, &mentions)?;
    Ok(updated)
}

/// Deletes a comment: its author, or an admin.
pub fn delete(
    conn: &mut DbConnection,
    actor: &Actor,
    (collection, id, comment_id): (&str, &str, &str),
    expected_version: Option<i64>,
) -> Result<(), AppError> {
    let record = readable(conn, actor, collection, id)?;
    let current = comment_on(conn, &record, comment_id)?;
    if current.author_id != actor.principal.user_id && !actor.principal.is_admin() {
        return Err(AppError::Forbidden("only its author or an admin may delete a comment".into()));
    }
    check_version(expected_version, current.version)?;
    comments::delete(conn, comment_id)?;
    let mentions: Vec<Mention> = serde_json::from_str(&current.mentions)?;
    announce(conn, actor, &record, "comment.deleted", &current, &mentions)
}

/// The comment's event, on the record it is about (so whoever may read the record sees it):
/// `{object}` with the comment as the API shows it.
fn announce(
    conn: &mut DbConnection,
    actor: &Actor,
    record: &OnRecord,
    event_type: &str,
    comment: &Comment,
    mentions: &[Mention],
) -> Result<(), AppError> {
    let object = serde_json::json!({
        "id": comment.id,
        "record_type": comment.record_type,
        "record_id": comment.record_id,
        "author_id": comment.author_id,
        "body": comment.body,
        "mentions": mentions,
        "version": comment.version,
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
    });
    let happened = Happened {
        event_type,
        record: (record.spec.noun, &record.id),
        ownership: (record.owner_id.as_deref(), record.team_id.as_deref()),
        payload: &serde_json::json!({ "object": object }).to_string(),
    };
    events::record(conn, Cause::Actor(actor), &happened)
}

/// One comment of the record.
pub fn find(
    conn: &mut DbConnection,
    actor: &Actor,
    (collection, id, comment_id): (&str, &str, &str),
) -> Result<Comment, AppError> {
    let record = readable(conn, actor, collection, id)?;
    comment_on(conn, &record, comment_id)
}

fn comment_on(conn: &mut DbConnection, record: &OnRecord, comment_id: &str) -> Result<Comment, AppError> {
    match comments::find(conn, comment_id) {
        Ok(comment) if comment.record_type == record.spec.noun && comment.record_id == record.id => Ok(comment),
        Ok(_) | Err(StoreError::NotFound) => Err(AppError::not_found("comment")),
        Err(other) => Err(other.into()),
    }
}

/// The comment's text checked and its mentions resolved: an address that names no active
/// user, or a name that names no team, is refused so the writer can fix it.
fn resolve(conn: &mut DbConnection, body: &str) -> Result<(String, Vec<Mention>), AppError> {
    let (body, written) = parse_body(body)?;
    let mut mentions = Vec::with_capacity(written.len());
    for mention in written {
        let (kind, id) = match &mention.names {
            Mentioned::User(address) => match users::find_by_email(conn, address.as_str())? {
                Some(user) if user.active => ("user", user.id),
                _ => {
                    let message = format!("`{}` names no active user", mention.text);
                    return Err(AppError::invalid("body", "unknown_mention", message));
                }
            },
            Mentioned::Team(name) => match teams::id_by_name(conn, name)? {
                Some(id) => ("team", id),
                None => {
                    return Err(AppError::invalid(
                        "body",
                        "unknown_mention",
                        format!("`{}` names no team", mention.text),
                    ));
                }
            },
        };
        mentions.push(Mention { kind: kind.to_owned(), id, text: mention.text });
    }
    Ok((body, mentions))
}

fn notify_mentioned(
    conn: &mut DbConnection,
    actor: &Actor,
    record: &OnRecord,
    comment: &Comment,
    mentions: &[Mention],
) -> Result<(), AppError> {
    let mut recipients: Vec<String> = Vec::new();
    for mention in mentions {
        let ids = if mention.kind == "team" {
            teams::active_member_ids(conn, &mention.id)?
        } else {
            vec![mention.id.clone()]
        };
        recipients.extend(ids.into_iter().filter(|id| *id != actor.principal.user_id));
    }
    recipients.sort();
    recipients.dedup();
    let author = users::find(conn, &actor.principal.user_id).map(|u| u.name).unwrap_or_else(|_| "Someone".into());
    let excerpt: String = comment.body.chars().take(140).collect();
    let message = format!("{author} mentioned you on a {}: {excerpt}", record.spec.noun);
    for user_id in recipients {
        let Some(principal) = user_principal(conn, &user_id)? else { continue };
        if !record.readable_by(&principal) {
            continue;
        }
        let new = NewNotification {
            user_id: &user_id,
            kind: NotificationKind::Mention,
            record: Some((record.spec.noun, &record.id)),
            actor_id: Some(&actor.principal.user_id),
            comment_id: Some(&comment.id),
            group_key: None,
            message: &message,
        };
        notify(conn, &new)?;
    }
    Ok(())
}

/// Puts a notification in its user's feed and sends it by email, as their preference for its
/// kind says.
pub fn notify(conn: &mut DbConnection, new: &NewNotification<'_>) -> Result<(), AppError> {
    let wanted = comments::preference(conn, new.user_id, new.kind)?;
    if wanted.in_app {
        comments::notify(conn, new, Utc::now())?;
    }
    if wanted.email {
        crate::email::queue_notification(conn, new.user_id, new.record, new.message)?;
    }
    Ok(())
}

/// Tells every active admin something (a webhook endpoint turned off).
pub fn notify_admins(conn: &mut DbConnection, kind: NotificationKind, message: &str) -> Result<(), AppError> {
    for admin in users::active_admin_ids(conn)? {
        let new = NewNotification {
            user_id: &admin,
            kind,
            record: None,
            actor_id: None,
            comment_id: None,
            group_key: None,
            message,
        };
        notify(conn, &new)?;
    }
    Ok(())
}

/// The caller's notifications, newest first.
pub fn feed(
    conn: &mut DbConnection,
    actor: &Actor,
    unread_only: bool,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Notification>, AppError> {
    Ok(comments::feed(conn, &actor.principal.user_id, unread_only, before, limit)?)
}

/// The dispatcher's handler for assignments: a record given to someone by someone else
/// (created for them, or its owner changed) tells them, if they may read it.
pub static ASSIGNMENTS: EventHandler = EventHandler { name: "assignments", route: assigned };

fn assigned(conn: &mut DbConnection, event: &StoredEvent) -> Result<(), AppError> {
    let Some(spec) = registry::RECORD_TYPES.iter().find(|spec| spec.noun == event.record_type) else {
        return Ok(());
    };
    let created = event.event_type == format!("{}.created", spec.noun);
    if !created && event.event_type != format!("{}.updated", spec.noun) {
        return Ok(());
    }
    let payload: serde_json::Value = serde_json::from_str(&event.payload)?;
    let owner_changed =
        payload["changed_fields"].as_array().is_some_and(|fields| fields.iter().any(|f| f == spec.owner_field));
    let Some(owner) = payload["object"][spec.owner_field].as_str().filter(|_| created || owner_changed) else {
        return Ok(());
    };
    if event.actor_user_id.as_deref() == Some(owner) {
        return Ok(());
    }
    let Some(principal) = user_principal(conn, owner)? else { return Ok(()) };
    let team = payload["object"]["team_id"].as_str();
    if principal.may(spec.module, Action::Read, Ownership { owner_id: Some(owner), team_id: team }).is_err() {
        return Ok(());
    }
    let by = match event.actor_user_id.as_deref().map(|id| users::find(conn, id)) {
        Some(Ok(user)) => user.name,
        _ => "Someone".to_owned(),
    };
    // What one request gave someone (an import, a batch) is one notification that counts up.
    if let Some(request) = event.request_id.as_deref()
        && let Some((id, count)) = comments::unread_in_group(conn, owner, NotificationKind::Assignment, request)?
    {
        let message = format!("{by} assigned you {} records", count + 1);
        return Ok(comments::add_to(conn, &id, count + 1, &message)?);
    }
    let message = format!("{by} assigned you a {}: {}", spec.noun, label(&payload["object"]));
    let new = NewNotification {
        user_id: owner,
        kind: NotificationKind::Assignment,
        record: Some((spec.noun, &event.record_id)),
        actor_id: event.actor_user_id.as_deref(),
        comment_id: None,
        group_key: event.request_id.as_deref(),
        message: &message,
    };
    notify(conn, &new)
}

/// What a record is called, whatever its type.
fn label(object: &serde_json::Value) -> String {
    let text = |field: &str| object[field].as_str().filter(|s| !s.is_empty());
    if let Some(name) = text("name").or_else(|| text("title")).or_else(|| text("subject")) {
        return name.to_owned();
    }
    let person: Vec<&str> = ["first_name", "last_name"].into_iter().filter_map(text).collect();
    if person.is_empty() { object["id"].as_str().unwrap_or_default().to_owned() } else { person.join(" ") }
}
