//! `/api/v1/contacts`: the reference resource; every other record type has this shape.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Module};
use domain::contact::{ContactChanges, ContactData, EmailInput, LifecycleStage, PhoneInput, Source};
use domain::record::Patch;
use persistence::contacts::{self, Contact, ContactFilters};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, CommonErrors, Problem};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records::{self};
use crate::routes::common::{AddressBody, EmailBody, Page, PhoneBody};
use crate::state::AppState;
use app::actor::Actor;
use app::error::AppError;
use app::imports::{Checked, Creation, Importable};
use app::kinds::CONTACTS;

/// A contact: a person, optionally belonging to a company.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    #[schema(example = "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61")]
    pub id: String,
    #[schema(example = "Ada")]
    pub first_name: Option<String>,
    #[schema(example = "Lovelace")]
    pub last_name: Option<String>,
    pub emails: Vec<EmailBody>,
    pub phones: Vec<PhoneBody>,
    #[schema(example = "Head of Analytics")]
    pub job_title: Option<String>,
    pub company_id: Option<String>,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    #[schema(example = json!(["vip"]))]
    pub tags: Vec<String>,
    pub address: Option<AddressBody>,
    pub source: Option<Source>,
    pub lifecycle_stage: Option<LifecycleStage>,
    pub notes: Option<String>,
    /// Values of admin-defined custom fields, keyed by field key.
    #[schema(value_type = HashMap<String, Value>)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the contact is deleted and restorable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Contact> for ContactView {
    fn from(contact: Contact) -> Self {
        let data = contact.data;
        ContactView {
            id: contact.id,
            first_name: data.first_name,
            last_name: data.last_name,
            emails: data.emails.into_iter().map(Into::into).collect(),
            phones: data.phones.into_iter().map(Into::into).collect(),
            job_title: data.job_title,
            company_id: data.company_id,
            owner_id: data.owner_id,
            team_id: data.team_id,
            tags: data.tags.as_slice().to_vec(),
            address: data.address.map(Into::into),
            source: data.source,
            lifecycle_stage: data.lifecycle_stage,
            notes: data.notes,
            custom_fields: data.custom_fields.to_map(),
            created_at: contact.created_at,
            updated_at: contact.updated_at,
            deleted_at: contact.deleted_at,
        }
    }
}

/// Fields of a contact to create (POST) or change (PATCH, JSON merge-patch: an absent field
/// is kept, `null` clears it). A contact needs a first name, a last name or an email.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Ada")]
    pub first_name: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Lovelace")]
    pub last_name: Patch<String>,
    /// Replaces the whole list.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<EmailBody>>, max_items = 10)]
    pub emails: Patch<Vec<EmailBody>>,
    /// Replaces the whole list.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<PhoneBody>>, max_items = 10)]
    pub phones: Patch<Vec<PhoneBody>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub job_title: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub company_id: Patch<String>,
    /// Defaults to the caller on create.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    /// Replaces the whole list; tags are lower-cased.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50, example = json!(["vip"]))]
    pub tags: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<AddressBody>)]
    pub address: Patch<AddressBody>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Source>)]
    pub source: Patch<Source>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<LifecycleStage>)]
    pub lifecycle_stage: Patch<LifecycleStage>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub notes: Patch<String>,
    /// Values of custom fields, merged key by key: `null` removes a value, and `null` for the whole object removes all. Unknown keys are refused (400), values of the wrong type too (422).
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub custom_fields: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl ContactInput {
    /// The domain changes this body asks for; the body stays intact for the idempotency hash.
    fn changes(&self) -> ContactChanges {
        let emails = self.emails.clone().map(|list| {
            list.into_iter().map(|e| EmailInput { email: e.email, label: e.label, primary: e.primary }).collect()
        });
        let phones = self.phones.clone().map(|list| {
            list.into_iter().map(|p| PhoneInput { number: p.number, label: p.label, primary: p.primary }).collect()
        });
        ContactChanges {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            emails,
            phones,
            job_title: self.job_title.clone(),
            company_id: self.company_id.clone(),
            owner_id: self.owner_id.clone(),
            team_id: self.team_id.clone(),
            tags: self.tags.clone(),
            address: self.address.clone().map(Into::into),
            source: self.source.clone(),
            lifecycle_stage: self.lifecycle_stage.clone(),
            notes: self.notes.clone(),
        }
    }
}

records::record_list_params!(
    /// Filters, sort and paging of the contact list.
    ContactListParams, "Case-insensitive text search over names, emails, phones and job title." {
        company_id: Option<String>,
        lifecycle_stage: Option<LifecycleStage>,
    }
);

/// The list filters both contact lists (all contacts, a company's contacts) take.
pub(crate) fn contact_filters(
    params: &ContactListParams,
) -> Result<(ContactFilters, domain::listing::PageRequest), ApiError> {
    let (common, page) = params.common()?;
    Ok((
        ContactFilters { common, company_id: params.company_id.clone(), lifecycle_stage: params.lifecycle_stage },
        page,
    ))
}

/// Lists contacts the caller may see.
#[utoipa::path(
    get, path = "/api/v1/contacts", tag = "contacts", operation_id = "list_contacts",
    summary = "List contacts",
    description = "Keyset-paginated, filtered and sorted. Only contacts the caller's role reaches are listed.",
    params(ContactListParams),
    responses(
        (status = 200, description = "A page of contacts", body = Page<ContactView>),
        (status = 400, description = "Unknown or malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not read contacts", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ContactListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Contacts, params.deleted)?;
    let (filters, page) = contact_filters(&params)?;
    let request = page.clone();
    let result = state.read(move |conn| Ok(contacts::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, ContactView>(&page, result))
}

/// Creates a contact.
#[utoipa::path(
    post, path = "/api/v1/contacts", tag = "contacts", operation_id = "create_contact",
    summary = "Create a contact",
    description = "Emails are lower-cased, phones normalised to E.164. Send `Idempotency-Key` to make retries safe: a retry returns the first answer. A contact sharing a normalised email or phone with one the caller can see, or the same name at the same company, is refused with 409 naming it in `duplicates` unless `allow_duplicate=true`.",
    params(crate::routes::common::CreateParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = ContactInput, example = json!({"first_name": "Ada", "last_name": "Lovelace", "emails": [{"email": "ada@example.com"}], "phones": [{"number": "+44 20 7946 0000", "label": "work"}], "tags": ["vip"], "lifecycle_stage": "acquisition"})),
    responses(
        (status = 201, description = "Created; `Location` names it and `ETag` is its version", body = ContactView,
            headers(("Location" = String, description = "URL of the new contact"), ("ETag" = String, description = "Version"))),
        (status = 400, description = "Malformed JSON, unknown field or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not create contacts (for that owner)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Looks like an existing contact (see `duplicates`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field values, or an Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<crate::routes::common::CreateParams>,
    key: IdempotencyKey,
    body: web::Json<ContactInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.principal.may_in_module(Module::Contacts, Action::Create)?;
    let data = new_contact(&caller, &body)?;
    let allow_duplicate = params.allow_duplicate;
    let custom = body.custom_fields.clone();
    records::create::<_, ContactView, _>(
        &CONTACTS,
        &state,
        &caller,
        key,
        &body,
        records::WithCustom { data, custom },
        move |conn, caller, data| {
            app::contacts::check_company(conn, caller, data.company_id.as_deref())?;
            app::duplicates::check_new_contact(conn, caller, data, allow_duplicate)
        },
    )
    .await
}

/// A new contact from a create body (owned by the caller unless it names an owner).
fn new_contact(caller: &Actor, body: &ContactInput) -> Result<ContactData, AppError> {
    let mut changes = body.changes();
    records::default_owner(&mut changes.owner_id, caller);
    Ok(ContactData::apply(None, changes)?)
}

/// A contact's data after a merge-patch body.
fn patch_contact(
    _: &mut persistence::DbConnection,
    _: &str,
    body: ContactInput,
    current: &ContactData,
) -> Result<ContactData, AppError> {
    Ok(ContactData::apply(Some(current), body.changes())?)
}

/// Contacts as imports create and update them.
pub static IMPORT: Importable<ContactData, ContactInput> = Importable {
    kind: &CONTACTS,
    record_type: domain::activity::RecordType::Contact,
    new: |_, caller, body| new_contact(caller, body),
    custom: |body| body.custom_fields.clone(),
    create: Creation::Checked(Checked {
        check: |conn, caller, data| app::contacts::check_company(conn, caller, data.company_id.as_deref()),
        insert_many: contacts::create_many,
        match_keys: domain::duplicates::contact_key_texts,
        maybe_duplicated: Some(app::duplicates::contacts_maybe_duplicated),
    }),
    patch: patch_contact,
    changed: app::contacts::changed,
    duplicate_of: app::duplicates::contact_duplicate,
};

/// Reads one contact.
#[utoipa::path(
    get, path = "/api/v1/contacts/{id}", tag = "contacts", operation_id = "get_contact",
    summary = "Get a contact",
    description = "Answers 404 both for contacts that do not exist and for ones the caller may not see. A contact merged into another answers 301 with `Location` naming the survivor.",
    params(("id" = String, Path, description = "Contact id"), NoParams),
    responses(
        (status = 301, description = "Merged into another contact", headers(("Location" = String, description = "URL of the surviving contact"))),
        (status = 200, description = "The contact; `ETag` is its version", body = ContactView, headers(("ETag" = String, description = "Version"))),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contact, or not visible", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, ContactView>(&CONTACTS, &state, caller, id.into_inner()).await
}

/// Changes a contact (JSON merge-patch).
#[utoipa::path(
    patch, path = "/api/v1/contacts/{id}", tag = "contacts", operation_id = "update_contact",
    summary = "Update a contact",
    description = "JSON merge-patch: absent fields are kept, `null` clears a field, lists are replaced whole. Send `If-Match` with the ETag you read to refuse the change if someone changed the contact since (412).",
    params(("id" = String, Path, description = "Contact id"), NoParams,
        ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = ContactInput, content_type = "application/merge-patch+json", example = json!({"job_title": "CTO", "notes": null})),
    responses(
        (status = 200, description = "The changed contact", body = ContactView, headers(("ETag" = String, description = "New version"))),
        (status = 400, description = "Malformed JSON, unknown field or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Visible, but the role may not edit it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contact, or not visible", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the given ETag", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field values", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<ContactInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let custom = body.custom_fields.clone();
    records::update::<_, ContactView>(
        &CONTACTS,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(custom, move |conn, id, current| patch_contact(conn, id, body, current)),
        app::contacts::changed,
    )
    .await
}

/// Deletes a contact (soft: an admin can restore it during the retention period).
#[utoipa::path(
    delete, path = "/api/v1/contacts/{id}", tag = "contacts", operation_id = "delete_contact",
    summary = "Delete a contact",
    description = "Soft delete: the contact leaves lists and reads, and an admin can restore it until the retention period (CRM_RETENTION_DAYS, default 30) ends.",
    params(("id" = String, Path, description = "Contact id"), NoParams,
        ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Visible, but the role may not delete it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contact, or not visible", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the given ETag", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    records::delete::<_, ContactView>(&CONTACTS, &state, caller, id.into_inner(), if_match).await
}

/// Restores a deleted contact.
#[utoipa::path(
    post, path = "/api/v1/contacts/{id}/restore", tag = "contacts", operation_id = "restore_contact",
    summary = "Restore a deleted contact",
    description = "Admins only. List restorable contacts with `GET /api/v1/contacts?deleted=true`.",
    params(("id" = String, Path, description = "Contact id"), NoParams),
    responses(
        (status = 200, description = "The restored contact", body = ContactView, headers(("ETag" = String, description = "New version"))),
        (status = 400, description = "Unknown parameter", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No deleted contact with this id", body = Problem, content_type = "application/problem+json"),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, ContactView>(&CONTACTS, &state, caller, id.into_inner()).await
}

/// Registers the contact routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(search_resource())
        .service(export_resource())
        .service(web::resource("/contacts").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/contacts/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/contacts/{id}/restore").route(web::post().to(restore)))
        .service(history_resource())
        .service(web::resource("/contacts/{id}/timeline").route(web::get().to(contact_timeline)));
}

/// A contact's timeline.
#[utoipa::path(
    get, path = "/api/v1/contacts/{id}/timeline", tag = "contacts", operation_id = "contact_timeline", summary = "A contact's timeline",
    description = "Activities linked to the contact, newest first, keyset-paginated; `type` filters by kind.",
    params(("id" = String, Path, description = "Contact id"), crate::routes::timeline::TimelineParams),
    responses((status = 200, description = "A page of the timeline", body = crate::routes::timeline::TimelinePage), crate::error::ReadErrors),
    security(("bearer" = []))
)]
pub async fn contact_timeline(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<crate::routes::timeline::TimelineParams>,
) -> Result<HttpResponse, ApiError> {
    crate::routes::timeline::respond(
        &state,
        caller,
        domain::activity::RecordType::Contact,
        id.into_inner(),
        params.into_inner(),
    )
    .await
}

/// Contacts as searches and exports read them.
pub static SEARCHABLE: crate::routes::search::Searchable<ContactData> = crate::routes::search::Searchable {
    kind: &CONTACTS,
    record_type: domain::activity::RecordType::Contact,
    search: persistence::contacts::search,
};
crate::routes::search::search_route!(SEARCHABLE, ContactView, "contacts");
crate::routes::exports::export_routes!(SEARCHABLE, ContactView, "contacts");
crate::routes::audit::history_route!(CONTACTS, "contacts", "contact");
crate::routes::batch::batch_route!(
    ContactBatchOperation, ContactBatch, ContactInput, "contacts",
    create: |allow_duplicate| crate::routes::common::CreateParams { allow_duplicate }, allow_duplicate: bool
);

/// The operations of contacts, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, get, update, delete, restore, contact_timeline, search, export, export_search, history, batch), tags((name = "contacts", description = "People")))]
pub struct Doc;

/// Contacts in the API: what is mounted, documented and imported.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::CONTACTS,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: Some(|conn, caller, rows, policy| {
        app::imports::import_rows::<_, _, ContactView>(&IMPORT, conn, caller, rows, policy)
    }),
    patch: Some(|conn, caller, id, body| {
        app::imports::patch_one::<_, _, ContactView>(
            &IMPORT,
            conn,
            caller,
            (id, body),
            domain::audit::AuditAction::Update,
        )
    }),
};
