//! `/api/v1/email-templates`: templates admins write (subject, HTML and text bodies with
//! placeholders), their preview for a record, sending one to a record's contact, and
//! `/api/v1/emails/{id}`: what became of a sent email.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::activity::RecordRef;
use domain::email::{EmailTemplate, Rendered};
use persistence::definitions::Definition;
use persistence::emails::Email;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::definitions::DefinitionApi;
use crate::error::{ApiError, CreateErrors, CreateUnderErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams, etag};
use crate::routes::ApiViews;
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::Created;

static TEMPLATES: DefinitionApi<EmailTemplate> =
    DefinitionApi { steps: &app::email::TEMPLATES, collection: "/api/v1/email-templates" };

/// An email template.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: String,
    pub name: String,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Definition<EmailTemplate>> for TemplateView {
    fn from(definition: Definition<EmailTemplate>) -> Self {
        let template = definition.body;
        TemplateView {
            id: definition.id,
            name: template.name,
            subject: template.subject,
            html: template.html,
            text: template.text,
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

fn one(definition: Definition<EmailTemplate>) -> HttpResponse {
    let version = definition.version;
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(TemplateView::from(definition))
}

fn created(definition: Definition<EmailTemplate>) -> Result<Created, ApiError> {
    let (location, version) = (format!("/api/v1/email-templates/{}", definition.id), definition.version);
    Created::new(&TemplateView::from(definition), location, version)
}

/// Lists email templates.
#[utoipa::path(
    get, path = "/api/v1/email-templates", tag = "email", operation_id = "list_email_templates", summary = "List email templates",
    description = "Admins only.",
    params(NoParams),
    responses((status = 200, description = "The templates", body = Page<TemplateView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let templates = TEMPLATES.list(&state, caller).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: templates.into_iter().map(TemplateView::from).collect::<Vec<_>>(), next_cursor: None }))
}

/// Creates an email template.
#[utoipa::path(
    post, path = "/api/v1/email-templates", tag = "email", operation_id = "create_email_template", summary = "Create an email template",
    description = "Admins only. Placeholders are minijinja (Jinja2) expressions over `record`, `contact`, `company`, `deal`, `lead` and `owner` (`{name, email}`), as the API shows those records; every part is compiled now (422 `template_syntax` with the line). A placeholder that names nothing fails the render rather than printing nothing; the HTML body escapes what it places.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = EmailTemplate, example = json!({"name": "Welcome", "subject": "Welcome, {{ contact.first_name }}!", "html": "<p>Hello {{ contact.first_name }},</p><p>{{ owner.name }} will be in touch.</p>", "text": "Hello {{ contact.first_name }}, {{ owner.name }} will be in touch."})),
    responses((status = 201, description = "Created", body = TemplateView, headers(("Location" = String, description = "URL of the new template"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<EmailTemplate>,
) -> Result<HttpResponse, ApiError> {
    TEMPLATES.create(&state, &caller, key, body.into_inner(), None, created).await
}

/// Reads an email template.
#[utoipa::path(
    get, path = "/api/v1/email-templates/{id}", tag = "email", operation_id = "get_email_template", summary = "Get an email template",
    description = "Admins only.",
    params(("id" = String, Path, description = "Template id"), NoParams),
    responses((status = 200, description = "The template", body = TemplateView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    Ok(one(TEMPLATES.get(&state, caller, id.into_inner()).await?))
}

/// Changes an email template.
#[utoipa::path(
    patch, path = "/api/v1/email-templates/{id}", tag = "email", operation_id = "update_email_template", summary = "Update an email template (merge-patch)",
    description = "Admins only. A JSON merge-patch; the result is compiled again.",
    params(("id" = String, Path, description = "Template id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"subject": "Hello {{ contact.first_name }}"})),
    responses((status = 200, description = "The template", body = TemplateView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    Ok(one(TEMPLATES.update(&state, caller, id.into_inner(), if_match, body.into_inner()).await?))
}

/// Deletes an email template.
#[utoipa::path(
    delete, path = "/api/v1/email-templates/{id}", tag = "email", operation_id = "delete_email_template", summary = "Delete an email template",
    description = "Admins only. Emails sent from it stay.",
    params(("id" = String, Path, description = "Template id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    TEMPLATES.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The record a template is rendered for.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// A contact, company, lead or deal the caller can see.
    pub record: RecordRef,
}

/// Renders a template for a record.
#[utoipa::path(
    post, path = "/api/v1/email-templates/{id}/preview", tag = "email", operation_id = "preview_email_template", summary = "Preview an email template for a record",
    description = "Admins only. The subject and bodies as they would be sent for this record, and to whom; writes nothing. A placeholder the record cannot fill is 422 `render_failed` naming the part.",
    params(("id" = String, Path, description = "Template id"), NoParams),
    request_body(content = PreviewInput, example = json!({"record": {"record_type": "contact", "id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"}})),
    responses((status = 200, description = "The rendered email", body = PreviewView), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn preview(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    body: web::Json<PreviewInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let (id, record) = (id.into_inner(), body.into_inner().record);
    let (rendered, to) =
        state.read(move |conn| Ok(app::email::render::<ApiViews>(conn, &caller, &id, &record)?)).await?;
    Ok(HttpResponse::Ok().json(PreviewView { to, rendered }))
}

/// A rendered template and its default recipient.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    /// The record's contact's primary address (a lead's own), if it has one.
    pub to: Option<String>,
    #[serde(flatten)]
    pub rendered: Rendered,
}

/// What to send.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// A contact, company, lead or deal the caller can see.
    pub record: RecordRef,
    /// The recipient; by default the record's contact's primary address.
    #[serde(default)]
    #[schema(example = "ada@example.com")]
    pub to: Option<String>,
}

/// An email sent or to send.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailView {
    pub id: String,
    pub template_id: Option<String>,
    /// What it is about (`null` for a notification to a user).
    pub record: Option<RecordRefView>,
    pub sender_id: String,
    pub to: String,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    /// `queued`, `sent` or `failed`.
    #[schema(example = "sent")]
    pub state: String,
    /// The `Message-ID` header it is sent with.
    #[schema(example = "<0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61@example.com>")]
    pub message_id: String,
    /// Why it failed (the SMTP server's answer), or a note on a sent one.
    pub error: Option<String>,
    /// The outbound email activity on the record's timeline, once sent.
    pub activity_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The record an email is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordRefView {
    #[schema(example = "contact")]
    pub record_type: String,
    pub id: String,
}

impl From<Email> for EmailView {
    fn from(email: Email) -> Self {
        EmailView {
            id: email.id,
            template_id: email.template_id,
            record: email.record_type.zip(email.record_id).map(|(record_type, id)| RecordRefView { record_type, id }),
            sender_id: email.sender_id,
            to: email.recipient,
            subject: email.subject,
            html: email.html,
            text: email.text,
            state: email.state.as_str().to_owned(),
            message_id: email.message_id,
            error: email.error,
            activity_id: email.activity_id,
            created_at: email.created_at,
            sent_at: email.sent_at,
        }
    }
}

/// Sends a template to a record's contact.
#[utoipa::path(
    post, path = "/api/v1/email-templates/{id}/send", tag = "email", operation_id = "send_email_template", summary = "Send an email from a template",
    description = "Anyone who may log activities and see the record. The template is rendered now and the message queued (202); the SMTP server gets it from a background job, and once it is sent it becomes an outbound email activity on the record's timeline. `GET /api/v1/emails/{id}` tells what became of it. 409 when the server has no SMTP server configured.",
    params(("id" = String, Path, description = "Template id"), NoParams),
    request_body(content = SendInput, example = json!({"record": {"record_type": "deal", "id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"}})),
    responses((status = 202, description = "Queued", body = EmailView, headers(("Location" = String, description = "URL of the email"))), CreateUnderErrors),
    security(("bearer" = []))
)]
pub async fn send(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    body: web::Json<SendInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, input) = (id.into_inner(), body.into_inner());
    let mail = state.config.mail.clone();
    let email = state
        .write(move |conn| {
            Ok(app::email::queue::<ApiViews>(conn, &caller, &id, &input.record, input.to.as_deref(), mail.as_ref())?)
        })
        .await?;
    let location = format!("/api/v1/emails/{}", email.id);
    Ok(HttpResponse::build(StatusCode::ACCEPTED)
        .insert_header((header::LOCATION, location))
        .json(EmailView::from(email)))
}

/// Reads an email.
#[utoipa::path(
    get, path = "/api/v1/emails/{id}", tag = "email", operation_id = "get_email", summary = "Get an email",
    description = "Its sender or an admin: what was sent, to whom, and whether it went.",
    params(("id" = String, Path, description = "Email id"), NoParams),
    responses((status = 200, description = "The email", body = EmailView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get_email(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let email = state.read(move |conn| Ok(app::email::find(conn, &caller, &id)?)).await?;
    Ok(HttpResponse::Ok().json(EmailView::from(email)))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/email-templates").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/email-templates/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/email-templates/{id}/preview").route(web::post().to(preview)))
        .service(web::resource("/email-templates/{id}/send").route(web::post().to(send)))
        .service(web::resource("/emails/{id}").route(web::get().to(get_email)));
}
