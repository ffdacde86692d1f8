//! The HTTP side of the record flow every business record type shares: each call runs the
//! application layer's step (`app::records`) in a transaction and answers it (ETag,
//! Location, 204, 301 for a merged record). The steps themselves, and the declarations they
//! read, are re-exported from `app::records` so route modules name them in one place.

use actix_web::HttpResponse;
use app::actor::Actor;
use domain::audit::AuditAction;
use domain::record::Stored;
use persistence::DbConnection;
use serde::Serialize;

pub use app::records::*;

use crate::error::ApiError;
use crate::extract::{Caller, IdempotencyKey, IfMatch};
use crate::state::AppState;
use crate::support::{Created, create_idempotently, ok_with_etag};

/// GET one record.
pub async fn get<D: RecordData, V: Serialize + From<Stored<D>>>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: Caller,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let found = state.read(move |conn| Ok(find_or_moved(conn, kind, &caller, &id)?)).await?;
    match found {
        Ok(record) => {
            let version = record.version;
            Ok(ok_with_etag(&V::from(record), version))
        }
        Err(target) => Ok(HttpResponse::MovedPermanently()
            .insert_header((actix_web::http::header::LOCATION, format!("/api/v1/{}/{target}", kind.spec.collection)))
            .json(serde_json::json!({ "merged_into": target }))),
    }
}

/// POST: inserts the record once per idempotency key (see [`create_in`], which checks the
/// grant for its owner).
pub async fn create<D, V, B>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: &Caller,
    key: IdempotencyKey,
    body: &B,
    input: WithCustom<D>,
    check: impl FnOnce(&mut DbConnection, &Actor, &D) -> Result<(), app::error::AppError> + Send + 'static,
) -> Result<HttpResponse, ApiError>
where
    D: RecordData,
    V: Serialize + From<Stored<D>>,
    B: Serialize,
{
    let route = format!("POST /api/v1/{}", kind.spec.collection);
    let for_check = caller.clone();
    create_idempotently(state, caller, key, &route, body, move |conn| {
        let (record, view) = create_in::<D, V>(conn, kind, &for_check, input, check, AuditAction::Create)?;
        Created::new(&view, format!("/api/v1/{}/{}", kind.spec.collection, record.id), record.version)
    })
    .await
}

/// PATCH: [`update_in`] in one transaction, answered with the new version.
pub async fn update<D, V>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: Caller,
    id: String,
    if_match: IfMatch,
    apply: WithCustom<impl FnOnce(&mut DbConnection, &str, &D) -> Result<D, app::error::AppError> + Send + 'static>,
    check: impl FnOnce(&mut DbConnection, &Actor, &str, &D, &D) -> Result<(), app::error::AppError> + Send + 'static,
) -> Result<HttpResponse, ApiError>
where
    D: RecordData,
    V: Serialize + From<Stored<D>>,
{
    let record = state
        .write(move |conn| {
            Ok(update_in::<D, V>(conn, kind, &caller, &id, if_match.0, apply, check, AuditAction::Update)?)
        })
        .await?;
    let version = record.version;
    Ok(ok_with_etag(&V::from(record), version))
}

/// DELETE (soft): the record leaves lists and reads until restored or purged.
pub async fn delete<D: RecordData, V: Serialize + From<Stored<D>>>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: Caller,
    id: String,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    state.write(move |conn| Ok(delete_in::<D, V>(conn, kind, &caller, &id, if_match.0)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// POST …/restore (admins): brings a soft-deleted record back.
pub async fn restore<D: RecordData, V: Serialize + From<Stored<D>>>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: Caller,
    id: String,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let record = state.write(move |conn| Ok(restore_in::<D, V>(conn, kind, &caller, &id)?)).await?;
    let version = record.version;
    Ok(ok_with_etag(&V::from(record), version))
}

/// Parses the `tag` and `q` parameters every record list takes.
pub fn tag_and_query(tag: Option<&str>, q: Option<&str>) -> Result<(Option<String>, Option<String>), ApiError> {
    let tag = tag
        .map(|t| domain::values::Tags::parse_one("tag", t))
        .transpose()
        .map_err(|e| ApiError::bad_field("tag", e.code, e.message))?;
    let q = domain::listing::parse_text_query(q).map_err(|e| ApiError::bad_field("q", e.code, e.message))?;
    Ok((tag, q))
}

/// Answers a list page as `{data, next_cursor}`.
pub fn page_response<D, V: Serialize + From<Stored<D>> + utoipa::ToSchema>(
    request: &domain::listing::PageRequest,
    page: domain::record::Page<Stored<D>>,
) -> HttpResponse {
    HttpResponse::Ok().json(crate::routes::common::Page {
        next_cursor: crate::support::encode_cursor(request, page.next),
        data: page.items.into_iter().map(V::from).collect::<Vec<_>>(),
    })
}

/// Declares a record list's query parameters: paging, sort and the filters every record list
/// shares, then the type's own filters; unknown parameters are refused. (Written out rather
/// than `#[serde(flatten)]`ed, which would silently disable `deny_unknown_fields`.)
macro_rules! record_list_params {
    ($(#[$meta:meta])* $name:ident, $q:literal { $($(#[$field_meta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// Page size, 1 to 100 (default 25). Larger values are refused, not clamped.
            #[param(minimum = 1, maximum = 100)]
            pub limit: Option<u32>,
            /// `next_cursor` of the previous page.
            pub cursor: Option<String>,
            /// Comma-separated keys, `-` for descending: `created_at`, `updated_at`, `name`. Default `-created_at`.
            #[param(example = "-created_at", pattern = r"^\s*(-?(created_at|updated_at|name)\s*(,\s*-?(created_at|updated_at|name)\s*){0,2})?$")]
            pub sort: Option<String>,
            pub owner_id: Option<String>,
            pub tag: Option<String>,
            /// Created strictly after this time (RFC 3339).
            pub created_after: Option<chrono::DateTime<chrono::Utc>>,
            /// Created strictly before this time (RFC 3339).
            pub created_before: Option<chrono::DateTime<chrono::Utc>>,
            #[doc = $q]
            #[param(max_length = 200)]
            pub q: Option<String>,
            /// List deleted (restorable) records instead; admins only.
            #[serde(default)]
            pub deleted: bool,
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $name {
            /// The shared filters and the page asked for, validated.
            pub fn common(
                &self,
            ) -> Result<(domain::listing::CommonFilters, domain::listing::PageRequest), crate::error::ApiError> {
                let (tag, q) = crate::records::tag_and_query(self.tag.as_deref(), self.q.as_deref())?;
                let filters = domain::listing::CommonFilters {
                    owner_id: self.owner_id.clone(),
                    tag,
                    created_after: self.created_after,
                    created_before: self.created_before,
                    q,
                    deleted: self.deleted,
                };
                let page = crate::support::page_request(self.limit, self.cursor.as_deref(), self.sort.as_deref())?;
                Ok((filters, page))
            }
        }
    };
}

pub(crate) use record_list_params;
