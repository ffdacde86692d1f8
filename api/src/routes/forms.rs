//! `/api/v1/forms`: web forms admins define, and the public endpoint that turns a
//! submission into a lead (no login; strict; rate-limited per client address).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::form::WebForm;
use persistence::definitions::Definition;
use serde::Serialize;
use utoipa::ToSchema;

use crate::credentials::random_token;
use crate::definitions::DefinitionApi;
use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, Problem, PublicErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams, Origin, etag};
use crate::routes::ApiViews;
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::Created;

/// A web form with its public key.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormView {
    pub id: String,
    /// The key in the public submission URL; not a secret, but unguessable.
    pub public_key: String,
    /// Where browsers and scripts post submissions.
    #[schema(example = "/api/v1/forms/frm_3q2…/submissions")]
    pub submission_url: String,
    pub form: WebForm,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Definition<WebForm>> for FormView {
    fn from(definition: Definition<WebForm>) -> Self {
        let key = definition.lookup_key.unwrap_or_default();
        FormView {
            id: definition.id,
            submission_url: format!("/api/v1/forms/{key}/submissions"),
            public_key: key,
            form: definition.body,
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

fn one(definition: Definition<WebForm>) -> HttpResponse {
    let version = definition.version;
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(FormView::from(definition))
}

fn created(definition: Definition<WebForm>) -> Result<Created, ApiError> {
    let (location, version) = (format!("/api/v1/forms/{}", definition.id), definition.version);
    Created::new(&FormView::from(definition), location, version)
}

static FORMS: DefinitionApi<WebForm> = DefinitionApi { steps: &app::definitions::FORMS, collection: "/api/v1/forms" };

/// Lists web forms.
#[utoipa::path(
    get, path = "/api/v1/forms", tag = "forms", operation_id = "list_forms", summary = "List web forms",
    description = "Admins only.",
    params(NoParams),
    responses((status = 200, description = "The forms", body = Page<FormView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let forms = FORMS.list(&state, caller).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: forms.into_iter().map(FormView::from).collect::<Vec<_>>(), next_cursor: None }))
}

/// Creates a web form.
#[utoipa::path(
    post, path = "/api/v1/forms", tag = "forms", operation_id = "create_form", summary = "Create a web form",
    description = "Admins only. The answer carries the form's public key and submission URL.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = WebForm, example = json!({"name": "Contact us", "fields": [{"field": "email", "required": true}, {"field": "first_name"}, {"field": "last_name"}, {"field": "company_name"}, {"field": "message"}], "redirect_url": "https://www.example.com/thanks", "campaign": "Website"})),
    responses((status = 201, description = "Created", body = FormView, headers(("Location" = String, description = "URL of the new form"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<WebForm>,
) -> Result<HttpResponse, ApiError> {
    let public_key = format!("frm_{}", &random_token()[..24]);
    FORMS.create(&state, &caller, key, body.into_inner(), Some(public_key), created).await
}

/// Reads a web form.
#[utoipa::path(
    get, path = "/api/v1/forms/{id}", tag = "forms", operation_id = "get_form", summary = "Get a web form",
    description = "Admins only.",
    params(("id" = String, Path, description = "Form id"), NoParams),
    responses((status = 200, description = "The form", body = FormView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    Ok(one(FORMS.get(&state, caller, id.into_inner()).await?))
}

/// Changes a web form.
#[utoipa::path(
    patch, path = "/api/v1/forms/{id}", tag = "forms", operation_id = "update_form", summary = "Update a web form (merge-patch)",
    description = "Admins only. A JSON merge-patch of the form definition; `active: false` makes submissions answer 404.",
    params(("id" = String, Path, description = "Form id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"active": false})),
    responses((status = 200, description = "The form", body = FormView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
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
    Ok(one(FORMS.update(&state, caller, id.into_inner(), if_match, body.into_inner()).await?))
}

/// Deletes a web form.
#[utoipa::path(
    delete, path = "/api/v1/forms/{id}", tag = "forms", operation_id = "delete_form", summary = "Delete a web form",
    description = "Admins only. Leads it created stay.",
    params(("id" = String, Path, description = "Form id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    FORMS.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The answer to an accepted submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionReceipt {
    /// Always `received`: the answer does not tell whether the person was already known.
    #[schema(example = "received")]
    pub status: String,
}

/// The submitted fields: a JSON object of strings, or a URL-encoded form.
fn submitted_fields(request: &HttpRequest, body: &[u8]) -> Result<(Vec<(String, String)>, bool), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default();
    match content_type.as_str() {
        "application/json" => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
            let serde_json::Value::Object(map) = value else {
                return Err(ApiError::bad_request("the body must be a JSON object of field names to texts"));
            };
            let fields = map
                .into_iter()
                .map(|(name, value)| match value {
                    serde_json::Value::String(text) => Ok((name, text)),
                    serde_json::Value::Null => Ok((name, String::new())),
                    _ => Err(ApiError::bad_field(&name, "not_text", "must be a text")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((fields, false))
        }
        "application/x-www-form-urlencoded" => {
            let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|e| ApiError::bad_request(format!("the body is not a URL-encoded form: {e}")))?;
            Ok((fields, true))
        }
        _ => Err(ApiError::UnsupportedMediaType(
            "send the submission as application/json or application/x-www-form-urlencoded".into(),
        )),
    }
}

/// Takes a web form submission and makes or updates a lead.
#[utoipa::path(
    post, path = "/api/v1/forms/{key}/submissions", tag = "forms", operation_id = "submit_form", summary = "Submit a web form",
    description = "Public: no login. Accepts `application/json` (an object of texts) or `application/x-www-form-urlencoded`. Only the form's fields (each once) and its empty honeypot are accepted. A new email makes a lead (source `web_form`, the form's campaign, assigned by the form's target or the assignment rules); an email that belongs to an open lead adds the submission to that lead instead. Each submission is logged as a note on the lead and a `form_submitted` engagement event. A browser post (URL-encoded) to a form with a `redirect_url` is answered 303 See Other. Rate-limited per client address (CRM_FORM_RATE_LIMIT_PER_MINUTE).",
    params(("key" = String, Path, description = "The form's public key")),
    request_body(content = HashMap<String, String>, description = "Field names to texts", example = json!({"email": "ada@engines.example", "first_name": "Ada", "message": "Please call me"})),
    responses(
        (status = 202, description = "Received", body = SubmissionReceipt),
        (status = 303, description = "Received; the browser goes to the form's redirect URL", headers(("Location" = String, description = "The form's redirect_url"))),
        (status = 400, description = "Malformed body, a field the form does not have, a repeated field, or a filled honeypot", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active form with this key", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor a URL-encoded form", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A required field is missing or a value is invalid", body = Problem, content_type = "application/problem+json"),
        PublicErrors,
    )
)]
pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    Origin(context): Origin,
    key: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (fields, from_browser) = submitted_fields(&request, &body)?;
    let key = key.into_inner();
    let form = state.read(move |conn| Ok(app::forms::find_active(conn, &key)?)).await?;
    let submission = app::forms::check(&form.body, fields)?;
    let redirect = form.body.redirect_url.clone().filter(|_| from_browser);
    state.write(move |conn| Ok(app::forms::take::<ApiViews>(conn, &context, &form, submission)?)).await?;
    Ok(match redirect {
        Some(url) => HttpResponse::SeeOther().insert_header((header::LOCATION, url)).finish(),
        None => HttpResponse::Accepted().json(SubmissionReceipt { status: "received".into() }),
    })
}

/// Registers the form routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/forms").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/forms/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/forms/{key}/submissions").route(web::post().to(submit)));
}
