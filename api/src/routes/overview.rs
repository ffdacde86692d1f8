//! `GET /api/v1/contacts/{id}/overview`: a contact's 360° view (`app::overview`).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ReadErrors};
use crate::extract::{Caller, NoParams};
use crate::routes::companies::CompanyView;
use crate::routes::contacts::ContactView;
use crate::routes::deals::DealView;
use crate::routes::tickets::TicketView;
use crate::state::AppState;

/// A contact with what surrounds it, as far as the caller's grants reach.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactOverview {
    pub contact: ContactView,
    /// The contact's company, if the caller can see it.
    pub company: Option<CompanyView>,
    /// Deals naming the contact that are still open, most recently changed first (at most 100).
    pub open_deals: Vec<DealView>,
    /// Tickets the contact asked for that are still being handled, most recently changed first
    /// (at most 100).
    pub open_tickets: Vec<TicketView>,
}

#[utoipa::path(
    get, path = "/api/v1/contacts/{id}/overview", tag = "contacts", operation_id = "contact_overview", summary = "A contact's 360° view",
    description = "The contact, its company, its open deals and its open tickets. Records the caller may not read are left out; the timeline (`/contacts/{id}/timeline`) has the history.",
    params(("id" = String, Path, description = "Contact id"), NoParams),
    responses((status = 200, description = "The overview", body = ContactOverview), ReadErrors),
    security(("bearer" = []))
)]
pub async fn contact_overview(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let overview = state.read(move |conn| Ok(app::overview::of_contact(conn, &caller, &id)?)).await?;
    Ok(HttpResponse::Ok().json(ContactOverview {
        contact: overview.contact.into(),
        company: overview.company.map(CompanyView::from),
        open_deals: overview.open_deals.into_iter().map(DealView::from).collect(),
        open_tickets: overview.open_tickets.into_iter().map(TicketView::from).collect(),
    }))
}

/// Registers the overview route.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(web::resource("/contacts/{id}/overview").route(web::get().to(contact_overview)));
}
