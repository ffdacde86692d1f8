//! The record types the shared record flow knows, one [`RecordKind`] each, and the checks
//! that dispatch over them (a link or reference to "a record of type T with id X").
//!
//! Route modules, timelines, duplicate checks and imports all read these; none of them owns
//! another's declaration, so none depends on another's routes.

use domain::activity::{ActivityData, RecordRef, RecordType, TaskData};
use domain::article::ArticleData;
use domain::company::CompanyData;
use domain::contact::ContactData;
use domain::deal::DealData;
use domain::lead::LeadData;
use domain::registry;
use domain::ticket::TicketData;
use persistence::deals::Deal;
use persistence::{DbConnection, activities, articles, companies, contacts, deals, leads, tasks, tickets};

use crate::actor::Actor;
use crate::error::AppError;
use crate::records::{self, RecordKind, require_visible};
use crate::sales;

/// Contacts as the shared record flow sees them.
pub static CONTACTS: RecordKind<ContactData> = RecordKind {
    spec: &registry::CONTACTS,
    find: contacts::find,
    insert: contacts::create,
    update: contacts::save,
    soft_delete: contacts::soft_delete,
    restore: contacts::restore,
    created: records::nothing_follows,
    moved: contacts::merged_into,
    custom: records::custom_fields_of(domain::activity::RecordType::Contact),
};

/// Companies as the shared record flow sees them.
pub static COMPANIES: RecordKind<CompanyData> = RecordKind {
    spec: &registry::COMPANIES,
    find: companies::find,
    insert: companies::create,
    update: companies::save,
    soft_delete: companies::soft_delete,
    restore: companies::restore,
    created: records::nothing_follows,
    moved: companies::merged_into,
    custom: records::custom_fields_of(domain::activity::RecordType::Company),
};

/// Leads as the shared record flow sees them.
pub static LEADS: RecordKind<LeadData> = RecordKind {
    spec: &registry::LEADS,
    find: leads::find,
    insert: leads::insert,
    update: leads::update,
    soft_delete: leads::soft_delete,
    restore: leads::restore,
    created: records::nothing_follows,
    moved: records::never_moved,
    custom: records::custom_fields_of(domain::activity::RecordType::Lead),
};

/// Deals as the shared record flow sees them.
pub static DEALS: RecordKind<DealData> = RecordKind {
    spec: &registry::DEALS,
    find: deals::find,
    insert: deals::insert,
    update: deals::update,
    soft_delete: deals::soft_delete,
    restore: deals::restore,
    created: deal_created,
    moved: records::never_moved,
    custom: records::custom_fields_of(domain::activity::RecordType::Deal),
};

/// Tickets as the shared record flow sees them.
pub static TICKETS: RecordKind<TicketData> = RecordKind {
    spec: &registry::TICKETS,
    find: tickets::find,
    insert: tickets::insert,
    update: tickets::update,
    soft_delete: tickets::soft_delete,
    restore: tickets::restore,
    created: ticket_created,
    moved: records::never_moved,
    custom: records::custom_fields_of(domain::activity::RecordType::Ticket),
};

/// Knowledge-base articles as the shared record flow sees them.
pub static ARTICLES: RecordKind<ArticleData> = RecordKind {
    spec: &registry::ARTICLES,
    find: articles::find,
    insert: articles::insert,
    update: articles::update,
    soft_delete: articles::soft_delete,
    restore: articles::restore,
    created: records::nothing_follows,
    moved: records::never_moved,
    custom: records::custom_fields_of(domain::activity::RecordType::Article),
};

/// Activities as the shared record flow sees them.
pub static ACTIVITIES: RecordKind<ActivityData> = RecordKind {
    spec: &registry::ACTIVITIES,
    find: activities::find,
    insert: activities::create,
    update: activities::save,
    soft_delete: activities::soft_delete,
    restore: activities::restore,
    created: records::nothing_follows,
    moved: records::never_moved,
    custom: None,
};

/// Tasks as the shared record flow sees them.
pub static TASKS: RecordKind<TaskData> = RecordKind {
    spec: &registry::TASKS,
    find: tasks::find,
    insert: tasks::create,
    update: tasks::save,
    soft_delete: tasks::soft_delete,
    restore: tasks::restore,
    created: records::nothing_follows,
    moved: records::never_moved,
    custom: None,
};

/// A new deal's entry into its first stage is its first recorded stage change.
fn deal_created(conn: &mut DbConnection, caller: &Actor, deal: &Deal) -> Result<(), AppError> {
    sales::record_stage_change(conn, caller, &deal.id, None, &deal.data.stage_id)
}

/// A new ticket's first status is its first recorded status change.
fn ticket_created(
    conn: &mut DbConnection,
    caller: &Actor,
    ticket: &persistence::tickets::Ticket,
) -> Result<(), AppError> {
    record_ticket_status(conn, caller.actor(), &ticket.id, None, ticket.data.status)
}

/// Records a ticket's status move in its history (the SLA clocks read it).
pub fn record_ticket_status(
    conn: &mut DbConnection,
    actor: persistence::links::Actor<'_>,
    id: &str,
    from: Option<domain::ticket::TicketStatus>,
    to: domain::ticket::TicketStatus,
) -> Result<(), AppError> {
    let from = from.map(domain::ticket::TicketStatus::as_str);
    let at = chrono::Utc::now();
    Ok(persistence::links::record_change(conn, (RecordType::Ticket, id), "status", from, to.as_str(), actor, at)?)
}

/// Every linked record must be visible to the caller (only links that are new are checked).
pub fn check_links(
    conn: &mut DbConnection,
    caller: &Actor,
    before: &[RecordRef],
    after: &[RecordRef],
) -> Result<(), AppError> {
    for (index, link) in after.iter().enumerate() {
        if before.contains(link) {
            continue;
        }
        let field = format!("links[{index}].id");
        match link.record_type {
            RecordType::Contact => require_visible(conn, caller, &CONTACTS, &field, &link.id).map(drop)?,
            RecordType::Company => require_visible(conn, caller, &COMPANIES, &field, &link.id).map(drop)?,
            RecordType::Lead => require_visible(conn, caller, &LEADS, &field, &link.id).map(drop)?,
            RecordType::Deal => require_visible(conn, caller, &DEALS, &field, &link.id).map(drop)?,
            RecordType::Ticket => require_visible(conn, caller, &TICKETS, &field, &link.id).map(drop)?,
            RecordType::Article => require_visible(conn, caller, &ARTICLES, &field, &link.id).map(drop)?,
            RecordType::Product => {
                let refused = "products are not linked to activities or tasks";
                return Err(AppError::invalid(&format!("links[{index}].record_type"), "not_linkable", refused));
            }
        }
    }
    Ok(())
}
