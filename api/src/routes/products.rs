//! `/api/v1/products`: the catalogue. Written only through the record type's declaration
//! (`domain::registry::PRODUCTS`, `domain::product`) and the generic record flow; the body is
//! one [`ProductInput`] whose fields read themselves as patches (absent keeps, `null` clears).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::access::{Action, Module};
use domain::company::MoneyInput;
use domain::product::{ProductChanges, ProductData};
use domain::record::Patch;
use persistence::DbConnection;
use persistence::products::{self, Product, ProductFilters};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use app::actor::Actor;
use app::error::AppError;

use crate::error::{ApiError, CreateErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams};
use crate::records::{self, RecordKind};
use crate::routes::common::{MoneyBody, Page};
use crate::state::AppState;
use app::imports::{Checked, Creation, Importable};

/// Products as the shared record flow sees them.
pub static PRODUCTS: RecordKind<ProductData> = RecordKind {
    spec: &domain::registry::PRODUCTS,
    find: products::find,
    insert: products::insert,
    update: products::update,
    soft_delete: products::soft_delete,
    restore: products::restore,
    created: records::nothing_follows,
    moved: records::never_moved,
    custom: records::custom_fields_of(domain::activity::RecordType::Product),
};

/// A product of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: String,
    #[schema(example = "Analytics seat")]
    pub name: String,
    /// Unique among live products.
    #[schema(example = "SEAT-ANL-01")]
    pub sku: Option<String>,
    pub description: Option<String>,
    pub unit_price: MoneyBody,
    /// Inactive products stay on past deals and orders but are not offered for new ones.
    pub active: bool,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Vec<String>,
    /// Values of admin-defined custom fields, keyed by field key.
    #[schema(value_type = HashMap<String, Value>)]
    pub custom_fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the product is deleted and restorable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl From<Product> for ProductView {
    fn from(product: Product) -> Self {
        let data = product.data;
        ProductView {
            id: product.id,
            name: data.name,
            sku: data.sku,
            description: data.description,
            unit_price: MoneyBody {
                amount_minor: data.unit_price.amount_minor,
                currency: data.unit_price.currency.as_str().to_owned(),
            },
            active: data.active,
            owner_id: data.owner_id,
            team_id: data.team_id,
            tags: data.tags.as_slice().to_vec(),
            custom_fields: data.custom_fields.to_map(),
            created_at: product.created_at,
            updated_at: product.updated_at,
            deleted_at: product.deleted_at,
        }
    }
}

/// Fields of a product to create (POST; `name` and `unit_price` required) or change (PATCH,
/// JSON merge-patch: an absent field is kept, `null` clears it).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 200, example = "Analytics seat")]
    pub name: Patch<String>,
    /// Letters, digits and `- _ . /`; unique among live products.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 64, example = "SEAT-ANL-01")]
    pub sku: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<MoneyBody>)]
    pub unit_price: Patch<MoneyBody>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<bool>)]
    pub active: Patch<bool>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub owner_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<Vec<String>>, max_items = 50)]
    pub tags: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schema(value_type = Option<HashMap<String, Value>>)]
    pub custom_fields: Patch<serde_json::Map<String, serde_json::Value>>,
}

impl ProductInput {
    fn changes(&self) -> ProductChanges {
        ProductChanges {
            name: self.name.clone(),
            sku: self.sku.clone(),
            description: self.description.clone(),
            unit_price: self
                .unit_price
                .clone()
                .map(|m| MoneyInput { amount_minor: m.amount_minor, currency: m.currency }),
            active: self.active.clone(),
            owner_id: self.owner_id.clone(),
            team_id: self.team_id.clone(),
            tags: self.tags.clone(),
        }
    }
}

fn new_product(caller: &Actor, body: &ProductInput) -> Result<ProductData, AppError> {
    let mut changes = body.changes();
    records::default_owner(&mut changes.owner_id, caller);
    Ok(ProductData::apply(None, changes)?)
}

fn patch_product(
    _: &mut DbConnection,
    _: &str,
    body: ProductInput,
    current: &ProductData,
) -> Result<ProductData, AppError> {
    Ok(ProductData::apply(Some(current), body.changes())?)
}

/// A SKU names one live product: another one holding it is 409 naming that product.
fn check_sku(conn: &mut DbConnection, id: Option<&str>, data: &ProductData) -> Result<(), AppError> {
    let Some(sku) = &data.sku else { return Ok(()) };
    match products::with_sku(conn, sku)? {
        Some(other) if Some(other.as_str()) != id => {
            Err(AppError::Conflict(format!("product {other} already has the SKU {sku}; SKUs are unique")))
        }
        _ => Ok(()),
    }
}

/// Products as CSV imports create and update them.
pub static IMPORT: Importable<ProductData, ProductInput> = Importable {
    kind: &PRODUCTS,
    record_type: domain::activity::RecordType::Product,
    new: |_, caller, body| new_product(caller, body),
    custom: |body| body.custom_fields.clone(),
    create: Creation::Checked(Checked {
        check: |conn, _, data| check_sku(conn, None, data),
        insert_many: persistence::products::insert_many,
        match_keys: |data| data.sku.iter().cloned().collect(),
        maybe_duplicated: None,
    }),
    patch: patch_product,
    changed: |conn, _, id, _, after| check_sku(conn, Some(id), after),
    duplicate_of: |conn, _, data| match &data.sku {
        Some(sku) => Ok(products::with_sku(conn, sku)?),
        None => Ok(None),
    },
};

records::record_list_params!(
    ProductListParams, "Case-insensitive text search over name, SKU and description." {
        /// Exact SKU.
        sku: Option<String>,
        /// Only active (`true`) or inactive (`false`) products.
        active: Option<bool>,
    }
);

#[utoipa::path(
    get, path = "/api/v1/products", tag = "products", operation_id = "list_products", summary = "List products",
    description = "Keyset-paginated, filtered and sorted. Every role reads the catalogue.",
    params(ProductListParams),
    responses((status = 200, description = "A page of products", body = Page<ProductView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<ProductListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let visibility = records::authorize_list(&caller, Module::Products, params.deleted)?;
    let (common, page) = params.common()?;
    let filters = ProductFilters { common, sku: params.sku.map(|s| s.trim().to_owned()), active: params.active };
    let request = page.clone();
    let result = state.read(move |conn| Ok(products::list(conn, &visibility, &filters, &request)?)).await?;
    Ok(records::page_response::<_, ProductView>(&page, result))
}

#[utoipa::path(
    post, path = "/api/v1/products", tag = "products", operation_id = "create_product", summary = "Create a product",
    description = "Admins and managers. Send `Idempotency-Key` to make retries safe. A SKU another live product holds is 409.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = ProductInput, example = json!({"name": "Analytics seat", "sku": "SEAT-ANL-01", "unit_price": {"amount_minor": 4900, "currency": "EUR"}, "tags": ["subscription"]})),
    responses(
        (status = 201, description = "Created; `Location` names it and `ETag` is its version", body = ProductView,
            headers(("Location" = String, description = "URL of the new product"), ("ETag" = String, description = "Version"))),
        (status = 409, description = "Another live product has this SKU", body = crate::error::Problem, content_type = "application/problem+json"),
        CreateErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    caller.principal.may_in_module(Module::Products, Action::Create)?;
    let data = new_product(&caller, &body)?;
    let custom = body.custom_fields.clone();
    let input = records::WithCustom { data, custom };
    records::create::<_, ProductView, _>(&PRODUCTS, &state, &caller, key, &body, input, |conn, _, data| {
        check_sku(conn, None, data)
    })
    .await
}

#[utoipa::path(
    get, path = "/api/v1/products/{id}", tag = "products", operation_id = "get_product", summary = "Get a product",
    description = "Every role reads the catalogue; a deleted product answers 404.",
    params(("id" = String, Path, description = "Product id"), NoParams),
    responses(
        (status = 200, description = "The product; `ETag` is its version", body = ProductView, headers(("ETag" = String, description = "Version"))),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::get::<_, ProductView>(&PRODUCTS, &state, caller, id.into_inner()).await
}

#[utoipa::path(
    patch, path = "/api/v1/products/{id}", tag = "products", operation_id = "update_product", summary = "Update a product",
    description = "JSON merge-patch: absent fields are kept, `null` clears. Send `If-Match` with the ETag you read to refuse a lost update (412).",
    params(("id" = String, Path, description = "Product id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = ProductInput, example = json!({"unit_price": {"amount_minor": 5900, "currency": "EUR"}, "active": false})),
    responses(
        (status = 200, description = "The changed product", body = ProductView, headers(("ETag" = String, description = "New version"))),
        (status = 409, description = "Another live product has this SKU", body = crate::error::Problem, content_type = "application/problem+json"),
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
    body: web::Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let custom = body.custom_fields.clone();
    records::update::<_, ProductView>(
        &PRODUCTS,
        &state,
        caller,
        id.into_inner(),
        if_match,
        records::changes(custom, move |conn, id, current| patch_product(conn, id, body, current)),
        IMPORT.changed,
    )
    .await
}

#[utoipa::path(
    delete, path = "/api/v1/products/{id}", tag = "products", operation_id = "delete_product", summary = "Delete a product",
    description = "Soft delete: the product leaves lists and reads (its SKU is free again) and an admin can restore it until the retention period ends.",
    params(("id" = String, Path, description = "Product id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
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
    records::delete::<_, ProductView>(&PRODUCTS, &state, caller, id.into_inner(), if_match).await
}

#[utoipa::path(
    post, path = "/api/v1/products/{id}/restore", tag = "products", operation_id = "restore_product", summary = "Restore a deleted product",
    description = "Admins only. A SKU another live product took meanwhile is 409. List restorable products with `GET /api/v1/products?deleted=true`.",
    params(("id" = String, Path, description = "Product id"), NoParams),
    responses(
        (status = 200, description = "The restored product", body = ProductView, headers(("ETag" = String, description = "New version"))),
        (status = 409, description = "Another live product has this SKU now", body = crate::error::Problem, content_type = "application/problem+json"),
        ReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    records::restore::<_, ProductView>(&PRODUCTS, &state, caller, id.into_inner()).await
}

/// Products as searches and exports read them.
pub static SEARCHABLE: crate::routes::search::Searchable<ProductData> = crate::routes::search::Searchable {
    kind: &PRODUCTS,
    record_type: domain::activity::RecordType::Product,
    search: products::search,
};
crate::routes::search::search_route!(SEARCHABLE, ProductView, "products");
crate::routes::exports::export_routes!(SEARCHABLE, ProductView, "products");
crate::routes::audit::history_route!(PRODUCTS, "products", "product");
crate::routes::batch::batch_route!(
    ProductBatchOperation, ProductBatch, ProductInput, "products",
    create: |_allow| NoParams {}
);

/// Registers the product routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(batch_resource())
        .service(search_resource())
        .service(export_resource())
        .service(web::resource("/products").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/products/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/products/{id}/restore").route(web::post().to(restore)))
        .service(history_resource());
}

/// The operations of products, under their tag.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, get, update, delete, restore, search, export, export_search, history, batch),
    tags((name = "products", description = "The product catalogue that deals and orders price from"))
)]
pub struct Doc;

/// Products in the API: what is mounted, documented and imported.
pub static API: crate::routes::RecordApi = crate::routes::RecordApi {
    spec: &domain::registry::PRODUCTS,
    routes,
    document: <Doc as utoipa::OpenApi>::openapi,
    import: Some(|conn, caller, rows, policy| {
        app::imports::import_rows::<_, _, ProductView>(&IMPORT, conn, caller, rows, policy)
    }),
    patch: None,
};
