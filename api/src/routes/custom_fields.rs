//! `/api/v1/custom-fields`: the live definitions of admin-defined fields per record type.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::activity::RecordType;
use domain::custom::{CustomFieldDefinition, CustomFieldType, DefinitionChanges};
use domain::record::Patch;
use persistence::StoreError;
use persistence::custom_fields::{self, StoredDefinition};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, CreateErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::routes::ApiViews;
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::{Created, create_idempotently, ok_with_etag};

/// A custom field's definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomFieldView {
    pub id: String,
    pub record_type: RecordType,
    /// Values live under `custom_fields.<key>` on each record.
    #[schema(example = "budget")]
    pub key: String,
    #[schema(example = "Budget")]
    pub label: String,
    pub field_type: CustomFieldType,
    pub required: bool,
    /// Given to new records that name no value.
    #[schema(value_type = Value)]
    pub default: Option<serde_json::Value>,
    pub help_text: Option<String>,
    pub position: i32,
    /// The choices of a dropdown.
    pub options: Vec<String>,
    /// An inactive field keeps its values but takes no new ones.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredDefinition> for CustomFieldView {
    fn from(stored: StoredDefinition) -> Self {
        let d = stored.data;
        CustomFieldView {
            id: stored.id,
            record_type: d.record_type,
            key: d.key,
            label: d.label,
            field_type: d.field_type,
            required: d.required,
            default: d.default,
            help_text: d.help_text,
            position: d.position,
            options: d.options,
            active: d.active,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

/// A definition to create (record type, key, label and type required) or change (JSON
/// merge-patch; the record type and key are fixed once created).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldInput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_type: Option<RecordType>,
    /// `^[a-z][a-z0-9_]*$`, at most 40 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 40, pattern = "^[a-z][a-z0-9_]*$", example = "budget")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200, example = "Budget")]
    pub label: Option<String>,
    /// Changing it is refused (409) while a stored value would not convert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field_type: Option<CustomFieldType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// A valid value of the field's type; `null` removes it.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Value)]
    pub default: Patch<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub help_text: Patch<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i32>,
    /// A dropdown's choices (1 to 200, distinct ignoring case). Removing one that records
    /// hold is refused (409).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 200)]
    pub options: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl CustomFieldInput {
    fn changes(&self) -> DefinitionChanges {
        DefinitionChanges {
            record_type: self.record_type,
            key: self.key.clone(),
            label: self.label.clone(),
            field_type: self.field_type,
            required: self.required,
            default: self.default.clone(),
            help_text: self.help_text.clone(),
            position: self.position,
            options: self.options.clone(),
            active: self.active,
        }
    }
}

/// Which definitions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomFieldListParams {
    /// Only this record type's fields.
    pub record_type: Option<RecordType>,
}

fn not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found("custom field"),
        other => other.into(),
    }
}

/// The live definitions.
#[utoipa::path(
    get, path = "/api/v1/custom-fields", tag = "custom fields", operation_id = "list_custom_fields",
    summary = "List custom fields",
    description = "Any signed-in caller may read the definitions (clients render forms from them), ordered by record type, position and key. Inactive fields are listed with `active: false`.",
    params(CustomFieldListParams),
    responses((status = 200, description = "Every definition, in one page", body = Page<CustomFieldView>), ReadErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
    params: web::Query<CustomFieldListParams>,
) -> Result<HttpResponse, ApiError> {
    let record_type = params.record_type;
    let found = state.read(move |conn| Ok(custom_fields::list(conn, record_type)?)).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: found.into_iter().map(CustomFieldView::from).collect(), next_cursor: None }))
}

/// Defines a field.
#[utoipa::path(
    post, path = "/api/v1/custom-fields", tag = "custom fields", operation_id = "create_custom_field",
    summary = "Define a custom field",
    description = "Admins only. A record type has at most 100 fields; keys are unique per record type (409).",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = CustomFieldInput, example = json!({"record_type": "contact", "key": "tier", "label": "Tier", "field_type": "dropdown", "options": ["Gold", "Silver"], "default": "Silver"})),
    responses(
        (status = 201, description = "Defined", body = CustomFieldView,
            headers(("Location" = String, description = "URL of the definition"), ("ETag" = String, description = "Version"))),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<CustomFieldInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body = body.into_inner();
    let definition = CustomFieldDefinition::apply(None, body.changes())?;
    let for_write = caller.clone();
    create_idempotently(&state, &caller, key, "POST /api/v1/custom-fields", &body, move |conn| {
        let stored = app::custom_fields::create::<ApiViews>(conn, &for_write, &definition)?;
        let (location, version) = (format!("/api/v1/custom-fields/{}", stored.id), stored.version);
        Created::new(&CustomFieldView::from(stored), location, version)
    })
    .await
}

/// Reads one definition.
#[utoipa::path(
    get, path = "/api/v1/custom-fields/{id}", tag = "custom fields", operation_id = "get_custom_field",
    summary = "Get a custom field",
    description = "Any signed-in caller may read a definition.",
    params(("id" = String, Path, description = "Definition id"), NoParams),
    responses((status = 200, description = "The definition", body = CustomFieldView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    _caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = state.read(move |conn| custom_fields::find(conn, &id).map_err(not_found)).await?;
    let version = found.version;
    Ok(ok_with_etag(&CustomFieldView::from(found), version))
}

/// Changes a definition.
#[utoipa::path(
    patch, path = "/api/v1/custom-fields/{id}", tag = "custom fields", operation_id = "update_custom_field",
    summary = "Change a custom field",
    description = "Admins only. JSON merge-patch; `active: false` deactivates the field (its values stay). A new type or a smaller option list converts every stored value in the same transaction, or is refused with 409 naming values that would not convert.",
    params(("id" = String, Path, description = "Definition id"), NoParams,
        ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = CustomFieldInput, content_type = "application/merge-patch+json", example = json!({"field_type": "number"})),
    responses(
        (status = 200, description = "The changed definition", body = CustomFieldView, headers(("ETag" = String, description = "New version"))),
        UpdateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<CustomFieldInput>,
) -> Result<HttpResponse, ApiError> {
    let (id, changes) = (id.into_inner(), body.into_inner().changes());
    let stored = state
        .write(move |conn| Ok(app::custom_fields::update::<ApiViews>(conn, &caller, &id, if_match.0, changes)?))
        .await?;
    let version = stored.version;
    Ok(ok_with_etag(&CustomFieldView::from(stored), version))
}

/// Registers the custom field routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/custom-fields").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/custom-fields/{id}").route(web::get().to(get)).route(web::patch().to(update)));
}
