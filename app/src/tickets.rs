//! Tickets: what a new ticket takes from its requester, the references it names, its status
//! history, replies (an activity on the ticket's and the requester's timelines, and what the
//! reply does to the ticket), and the clock that closes tickets solved long enough ago.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use domain::activity::{ActivityChanges, ActivityData, ActivityType, Direction, RecordRef, RecordType};
use domain::article::ArticleStatus;
use domain::audit::AuditAction;
use domain::record::Patch;
use domain::ticket::{self, Channel, ReplyAuthor, TicketChanges, TicketData, TicketStatus, TicketType};
use persistence::tickets::{self, NewReply, Reply, Ticket};
use persistence::{DbConnection, Store};
use serde_json::json;

use crate::actor::Actor;
use crate::error::AppError;
use crate::jobs::{Enqueue, JobRun, JobSpec};
use crate::kinds::{ACTIVITIES, ARTICLES, COMPANIES, CONTACTS, TICKETS};
use crate::records::{self, WithCustom, create_in, require_visible, update_in};
use crate::views::Views;

/// Longest reply body.
pub const REPLY_MAX: usize = 20_000;

/// A new ticket's data from the requested changes: the requester must be a contact the
/// actor can see, and the ticket is at the requester's company unless it names another.
pub fn new_data(conn: &mut DbConnection, actor: &Actor, mut changes: TicketChanges) -> Result<TicketData, AppError> {
    if let Patch::Set(requester) = &changes.requester_id
        && !changes.company_id.is_given()
        && let Ok(contact) = CONTACTS.find_visible(conn, actor, requester.trim())
    {
        changes.company_id = Patch::from_option(contact.data.company_id);
    }
    Ok(TicketData::apply(None, changes, Utc::now())?)
}

/// The references a ticket names must be records the actor can see: the requester a contact,
/// the company a company, the problem a ticket of type problem (not the ticket itself). Only
/// references that change are checked.
pub fn check_references(
    conn: &mut DbConnection,
    actor: &Actor,
    id: Option<&str>,
    before: Option<&TicketData>,
    after: &TicketData,
) -> Result<(), AppError> {
    let changed = |pick: fn(&TicketData) -> &Option<String>| {
        pick(after).as_deref().filter(|now| before.is_none_or(|b| pick(b).as_deref() != Some(*now)))
    };
    if let Some(requester) = changed(|t| &t.requester_id) {
        require_visible(conn, actor, &CONTACTS, "requester_id", requester)?;
    }
    if let Some(company) = changed(|t| &t.company_id) {
        require_visible(conn, actor, &COMPANIES, "company_id", company)?;
    }
    if let Some(problem) = changed(|t| &t.problem_id) {
        if Some(problem) == id {
            return Err(AppError::invalid("problem_id", "invalid", "a ticket cannot be its own problem"));
        }
        let found = require_visible(conn, actor, &TICKETS, "problem_id", problem)?;
        if found.data.ticket_type != TicketType::Problem {
            return Err(AppError::invalid("problem_id", "not_a_problem", "names a ticket whose type is not problem"));
        }
    }
    Ok(())
}

/// What a ticket change records: a status move enters the status history (the SLA clocks
/// read it), and changed references are checked.
pub fn changed(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    before: &TicketData,
    after: &TicketData,
) -> Result<(), AppError> {
    check_references(conn, actor, Some(id), Some(before), after)?;
    if before.status != after.status {
        crate::kinds::record_ticket_status(conn, actor.actor(), id, Some(before.status), after.status)?;
    }
    Ok(())
}

/// A reply to write on a ticket.
#[derive(Debug, Clone)]
pub struct ReplyRequest {
    pub body: String,
    /// Seen by the requester (a reply), or not (an internal note).
    pub public: bool,
    pub author: ReplyAuthor,
    /// The status the ticket takes with the reply (an agent's "reply and set pending").
    pub status: Option<TicketStatus>,
    /// Published knowledge-base articles whose text the reply carries and links to.
    pub article_ids: Vec<String>,
}

/// Most articles one reply may carry.
pub const REPLY_ARTICLES_MAX: usize = 5;

/// A reply as written: the ticket after it, the reply and the activity that holds it.
#[derive(Debug)]
pub struct Replied {
    pub ticket: Ticket,
    pub reply: Reply,
}

/// The activity type a public reply is logged as, by the ticket's channel.
fn reply_type(channel: Channel, public: bool) -> ActivityType {
    match channel {
        _ if !public => ActivityType::Note,
        Channel::Chat => ActivityType::Chat,
        Channel::Social => ActivityType::Social,
        Channel::Phone => ActivityType::Call,
        Channel::Email | Channel::WebForm | Channel::Api => ActivityType::Email,
    }
}

/// Writes a reply on a ticket the actor may edit (at `expected_version`, if given): the ticket
/// moves as the reply says (`domain::ticket::after_reply`), the reply is logged as an activity
/// linked to the ticket and its requester, and recorded for the SLA clocks; all or nothing.
pub fn reply<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i64>,
    request: ReplyRequest,
) -> Result<Replied, AppError> {
    let mut body = request.body.trim().to_owned();
    if body.is_empty() || body.chars().count() > REPLY_MAX {
        return Err(AppError::invalid("body", "invalid", format!("must be 1 to {REPLY_MAX} characters")));
    }
    if request.article_ids.len() > REPLY_ARTICLES_MAX {
        return Err(AppError::invalid("article_ids", "too_many", format!("at most {REPLY_ARTICLES_MAX} articles")));
    }
    let mut article_links = Vec::new();
    for (index, id) in request.article_ids.iter().enumerate() {
        let field = format!("article_ids[{index}]");
        let article = require_visible(conn, actor, &ARTICLES, &field, id.trim())?;
        if article.data.status != ArticleStatus::Published {
            return Err(AppError::invalid(&field, "not_published", "only a published article goes to a customer"));
        }
        body.push_str(&format!("\n\n---\n\n## {}\n\n{}", article.data.title, article.data.body));
        article_links.push(RecordRef { record_type: RecordType::Article, id: article.id });
    }
    let now = Utc::now();
    let (author, public, status) = (request.author, request.public, request.status);
    let apply = move |_: &mut DbConnection, _: &str, current: &TicketData| -> Result<TicketData, AppError> {
        Ok(ticket::after_reply(current, author, public, status, now)?)
    };
    let ticket = update_in::<TicketData, V::Ticket>(
        conn,
        &TICKETS,
        actor,
        id,
        expected_version,
        records::changes(Patch::Keep, apply),
        changed,
        AuditAction::Update,
    )?;
    let mut links = vec![RecordRef { record_type: RecordType::Ticket, id: ticket.id.clone() }];
    if let Some(requester) = &ticket.data.requester_id
        && CONTACTS.find_visible(conn, actor, requester).is_ok()
    {
        links.push(RecordRef { record_type: RecordType::Contact, id: requester.clone() });
    }
    links.extend(article_links);
    let activity_type = reply_type(ticket.data.channel, public);
    let direction = match (activity_type, author) {
        (ActivityType::Note, _) => Patch::Keep,
        (_, ReplyAuthor::Agent) => Patch::Set(Direction::Outbound),
        (_, ReplyAuthor::Customer) => Patch::Set(Direction::Inbound),
    };
    let changes = ActivityChanges {
        activity_type: Patch::Set(activity_type),
        subject: Patch::Set(format!("Re: {}", ticket.data.subject).chars().take(200).collect()),
        body: Patch::Set(body),
        direction,
        occurred_at: Patch::Set(now),
        links: Patch::Set(links),
        owner_id: Patch::Set(actor.principal.user_id.clone()),
        ..ActivityChanges::default()
    };
    let data = ActivityData::apply(None, changes, now)?;
    let (activity, _) = create_in::<_, V::Activity>(
        conn,
        &ACTIVITIES,
        actor,
        WithCustom { data, custom: Patch::Keep },
        |_, _, _| Ok(()),
        AuditAction::Create,
    )?;
    let reply = tickets::insert_reply(
        conn,
        &NewReply {
            ticket_id: &ticket.id,
            activity_id: &activity.id,
            author,
            public,
            replied_at: now,
            replied_by: Some(&actor.principal.user_id),
        },
    )?;
    Ok(Replied { ticket, reply })
}

/// The replies on a ticket the actor can see, oldest first.
pub fn replies(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<Vec<Reply>, AppError> {
    TICKETS.find_visible(conn, actor, id)?;
    Ok(tickets::replies(conn, id)?)
}

/// How often the ticket clock runs.
pub const CLOCK_EVERY: Duration = Duration::from_secs(10);
/// Tickets closed per transaction.
const CLOSE_BATCH: i64 = 200;

/// The ticket clock's job kind; it runs [`close_solved`] every minute.
pub const CLOCK: JobSpec = JobSpec { name: "tickets.clock", max_attempts: 10 };

/// The ticket clock: closes tickets solved longer ago than the worker's setting, as the
/// system (an event and an audit row each, like any edit).
pub fn close_solved<V: Views>(run: &JobRun<'_>) -> Result<(), String> {
    let after = TimeDelta::from_std(run.worker.close_solved_after).unwrap_or(TimeDelta::MAX);
    let cutoff = Utc::now().checked_sub_signed(after).unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    let system = Actor::system();
    loop {
        let closed = run.write_held(|conn| -> Result<usize, AppError> {
            let due = tickets::solved_before(conn, cutoff, CLOSE_BATCH)?;
            for id in &due {
                let close = |_: &mut DbConnection, _: &str, current: &TicketData| -> Result<TicketData, AppError> {
                    let changes =
                        TicketChanges { status: Patch::Set(TicketStatus::Closed), ..TicketChanges::default() };
                    Ok(TicketData::apply(Some(current), changes, Utc::now())?)
                };
                update_in::<TicketData, V::Ticket>(
                    conn,
                    &TICKETS,
                    &system,
                    id,
                    None,
                    records::changes(Patch::Keep, close),
                    changed,
                    AuditAction::Update,
                )?;
            }
            Ok(due.len())
        });
        match closed {
            Ok(Some(count)) if count as i64 == CLOSE_BATCH => continue,
            Ok(_) => return Ok(()),
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// Makes sure the ticket clock is queued (keyed, so every process asking queues it once).
pub fn ensure_clock(store: &Store) -> Result<(), AppError> {
    let options = Enqueue { unique_key: Some("tickets-clock"), ..Enqueue::default() };
    store.write(|conn| crate::jobs::enqueue(conn, &CLOCK, &json!({}), &options)).map(drop)
}
