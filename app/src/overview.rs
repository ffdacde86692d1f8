//! A contact's 360° view: the contact, its company, its open deals and open tickets, each as
//! far as the actor's grants reach (a record the actor may not read is left out, not named).

use domain::access::{Action, Module};
use domain::listing::{CommonFilters, Direction, Limit, MAX_LIMIT, PageRequest, RecordSort, SortKey};
use persistence::DbConnection;
use persistence::companies::Company;
use persistence::contacts::Contact;
use persistence::deals::{self, Deal, DealFilters};
use persistence::tickets::{self, Ticket, TicketFilters};

use crate::actor::Actor;
use crate::error::AppError;
use crate::kinds::{COMPANIES, CONTACTS};

/// What the 360° view shows.
#[derive(Debug, Clone)]
pub struct Overview {
    pub contact: Contact,
    pub company: Option<Company>,
    /// Most recently changed first, at most 100.
    pub open_deals: Vec<Deal>,
    /// Most recently changed first, at most 100.
    pub open_tickets: Vec<Ticket>,
}

fn recent() -> Result<PageRequest, AppError> {
    let limit = Limit::parse(Some(MAX_LIMIT))?;
    Ok(PageRequest {
        sort: vec![SortKey { key: RecordSort::UpdatedAt, direction: Direction::Descending }],
        after: None,
        limit,
    })
}

/// The 360° view of a contact the actor can see.
pub fn of_contact(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<Overview, AppError> {
    let contact = CONTACTS.find_visible(conn, actor, id)?;
    let company = match &contact.data.company_id {
        Some(company) => match COMPANIES.find_visible(conn, actor, company) {
            Ok(company) => Some(company),
            Err(AppError::NotFound(_)) => None,
            Err(other) => return Err(other),
        },
        None => None,
    };
    let grants = &actor.principal;
    let open_deals = if grants.may_in_module(Module::Deals, Action::Read).is_ok() {
        let filters = DealFilters { contact_id: Some(contact.id.clone()), ..DealFilters::default() };
        let page = deals::list(conn, &grants.visibility(Module::Deals, Action::Read), &filters, &recent()?)?;
        page.items.into_iter().filter(|deal| deal.data.closed_at.is_none()).collect()
    } else {
        Vec::new()
    };
    let open_tickets = if grants.may_in_module(Module::Tickets, Action::Read).is_ok() {
        let filters = TicketFilters {
            requester_id: Some(contact.id.clone()),
            common: CommonFilters::default(),
            ..TicketFilters::default()
        };
        let page = tickets::list(conn, &grants.visibility(Module::Tickets, Action::Read), &filters, &recent()?)?;
        page.items.into_iter().filter(|ticket| ticket.data.status.is_active()).collect()
    } else {
        Vec::new()
    };
    Ok(Overview { contact, company, open_deals, open_tickets })
}
