//! `/api/v1/audit-log` (admins) and `/api/v1/{record type}/{id}/history`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::audit::{AuditAction, FieldChange};
use persistence::audit::{self, AuditEvent, AuditFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ListErrors};
use crate::extract::Caller;
use crate::records::{RecordData, RecordKind};
use crate::routes::newest_first::{self, PageParams};
use crate::state::AppState;

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    pub occurred_at: DateTime<Utc>,
    pub action: AuditAction,
    /// `contact`, `company`, `lead`, `deal`, `activity`, `task`, `api_key`; `null` for sign-ins.
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    /// The user who acted; `null` for anonymous web form submissions and unknown sign-in emails.
    pub actor_user_id: Option<String>,
    /// The API key used, if any.
    pub actor_api_key_id: Option<String>,
    /// The request, as in its `X-Request-Id`.
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    /// Field-level before and after, as the API shows the record.
    pub changes: Option<BTreeMap<String, FieldChange>>,
    /// What a security event was about.
    pub detail: Option<String>,
}

impl TryFrom<AuditEvent> for AuditEventView {
    type Error = ApiError;

    fn try_from(event: AuditEvent) -> Result<Self, ApiError> {
        let changes = event
            .changes
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| ApiError::Internal(format!("stored audit changes are unreadable: {e}")))?;
        Ok(AuditEventView {
            id: event.id,
            occurred_at: event.occurred_at,
            action: event.action,
            record_type: event.record_type,
            record_id: event.record_id,
            actor_user_id: event.actor_user_id,
            actor_api_key_id: event.actor_api_key_id,
            request_id: event.request_id,
            client_address: event.client_address,
            changes,
            detail: event.detail,
        })
    }
}

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub data: Vec<AuditEventView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn page(events: Vec<AuditEvent>, limit: i64) -> Result<HttpResponse, ApiError> {
    let (events, next_cursor) = newest_first::cut(events, limit, |e| (e.occurred_at, e.id.clone()));
    let data = events.into_iter().map(AuditEventView::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(AuditPage { data, next_cursor }))
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditLogParams {
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Events of this user.
    pub actor_id: Option<String>,
    /// `contact`, `company`, `lead`, `deal`, `activity`, `task` or `api_key`.
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    pub action: Option<AuditAction>,
    /// At or after this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
}

/// The audit log.
#[utoipa::path(
    get, path = "/api/v1/audit-log", tag = "audit", operation_id = "list_audit_log", summary = "Audit log",
    description = "Admins only. Every change to a business record (with field-level before and after) and every security event (sign-ins, failed sign-ins, refresh-token reuse, permission denials, API key creation and revocation), newest first, with actor, time, request id and client address. Secrets never appear.",
    params(AuditLogParams),
    responses((status = 200, description = "A page of events", body = AuditPage), ListErrors),
    security(("bearer" = []))
)]
pub async fn audit_log(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<AuditLogParams>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let params = params.into_inner();
    let (limit, before) = PageParams { limit: params.limit, cursor: params.cursor }.parse()?;
    let filter = AuditFilter {
        record_type: params.record_type,
        record_id: params.record_id,
        actor_user_id: params.actor_id,
        action: params.action,
        from: params.from,
        to: params.to,
    };
    let events = state.read(move |conn| Ok(audit::list(conn, &filter, before.as_ref(), limit + 1)?)).await?;
    page(events, limit)
}

/// The history of one record the caller may see.
pub async fn history<D: RecordData>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: Caller,
    id: String,
    params: PageParams,
) -> Result<HttpResponse, ApiError> {
    let (limit, before) = params.parse()?;
    let events = state
        .read(move |conn| {
            kind.find_visible(conn, &caller, &id)?;
            let filter =
                AuditFilter { record_type: Some(kind.spec.noun.to_owned()), record_id: Some(id), ..Default::default() };
            Ok(audit::list(conn, &filter, before.as_ref(), limit + 1)?)
        })
        .await?;
    page(events, limit)
}

/// Declares a record type's `GET /{collection}/{id}/history` handler (`history`), its OpenAPI
/// operation and its resource (`history_resource`), in the type's own routes module.
macro_rules! history_route {
    ($kind:path, $collection:literal, $noun:literal) => {
        #[doc = concat!("The history of one ", $noun, ".")]
        #[utoipa::path(
            get, path = concat!("/api/v1/", $collection, "/{id}/history"), tag = $collection,
            operation_id = concat!($noun, "_history"),
            summary = concat!("A ", $noun, "'s history"),
            description = concat!("Every change of the ", $noun, " (create, update with field-level before and after, delete, restore), newest first, with actor, time, request id and client address."),
            params(("id" = String, Path, description = "Record id"), crate::routes::newest_first::PageParams),
            responses((status = 200, description = "A page of the record's changes", body = crate::routes::audit::AuditPage), crate::error::ReadErrors),
            security(("bearer" = []))
        )]
        pub async fn history(
            state: actix_web::web::Data<crate::state::AppState>,
            caller: crate::extract::Caller,
            id: actix_web::web::Path<String>,
            params: actix_web::web::Query<crate::routes::newest_first::PageParams>,
        ) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
            crate::routes::audit::history(&$kind, &state, caller, id.into_inner(), params.into_inner()).await
        }

        /// The history resource.
        pub fn history_resource() -> actix_web::Resource {
            actix_web::web::resource(concat!("/", $collection, "/{id}/history")).route(actix_web::web::get().to(history))
        }
    };
}
pub(crate) use history_route;

/// Registers the audit routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config.service(web::resource("/audit-log").route(web::get().to(audit_log)));
}
