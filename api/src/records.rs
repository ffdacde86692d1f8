//! The request flow every business record type shares, written once.
//!
//! A record type declares itself with a [`RecordKind`]: its module (for grants), its noun
//! (for messages) and its repository functions. Handlers keep only what differs: their DTOs,
//! their filters and their own reference checks.

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use domain::access::{Action, Module, Visibility};
use domain::activity::RecordType;
use domain::audit::AuditAction;
use domain::custom::{CustomValueError, CustomValues, WithCustomFields};
use domain::record::{Owned, Patch, Stored};
use persistence::{DbConnection, StoreError, StoreResult};
use serde::Serialize;

use crate::audit;
use crate::error::ApiError;
use crate::extract::{Caller, IdempotencyKey, IfMatch};
use crate::state::AppState;
use crate::support::{Created, check_owner_and_team, create_idempotently, ok_with_etag};

/// Writes new data over a record still at the given version.
pub type UpdateFn<D> = fn(&mut DbConnection, &str, i64, &D, DateTime<Utc>) -> StoreResult<Stored<D>>;

/// How one record type is found, stored and named.
pub struct RecordKind<D: 'static> {
    /// The record type's declaration: names, module, table.
    pub spec: &'static domain::registry::RecordTypeSpec,
    pub find: fn(&mut DbConnection, &str, &Visibility) -> StoreResult<Stored<D>>,
    pub insert: fn(&mut DbConnection, &D, DateTime<Utc>) -> StoreResult<Stored<D>>,
    pub update: UpdateFn<D>,
    pub soft_delete: fn(&mut DbConnection, &str, i64, DateTime<Utc>) -> StoreResult<()>,
    pub restore: fn(&mut DbConnection, &str, DateTime<Utc>) -> StoreResult<Stored<D>>,
    /// Records what follows from a creation, in the creating transaction (a deal's first stage).
    pub created: fn(&mut DbConnection, &Caller, &Stored<D>) -> Result<(), ApiError>,
    /// Where a record merged into another went.
    pub moved: fn(&mut DbConnection, &str) -> StoreResult<Option<String>>,
    /// Where the record keeps custom field values, if its type has custom fields.
    pub custom: Option<CustomFieldsOf<D>>,
}

/// A record type's custom fields: which definitions apply and where the values live.
pub struct CustomFieldsOf<D> {
    pub record_type: RecordType,
    pub values: fn(&mut D) -> &mut CustomValues,
}

/// Something a client sent (new record data, or how to change one) and the merge-patch of
/// custom field values that came with it.
pub struct WithCustom<T> {
    pub data: T,
    pub custom: Patch<serde_json::Map<String, serde_json::Value>>,
}

/// How to change a record, with the custom values patch that came with it; the signature
/// given here lets the closure borrow its arguments for any lifetime.
pub fn changes<D, A>(custom: Patch<serde_json::Map<String, serde_json::Value>>, apply: A) -> WithCustom<A>
where
    A: FnOnce(&mut DbConnection, &str, &D) -> Result<D, ApiError>,
{
    WithCustom { data: apply, custom }
}

/// The custom fields of record data that carries them.
pub const fn custom_fields_of<D: WithCustomFields>(record_type: RecordType) -> Option<CustomFieldsOf<D>> {
    Some(CustomFieldsOf { record_type, values: D::custom_values_mut })
}

/// Maps refused custom values: an unknown key is a mistake of shape (400), a bad value 422.
pub fn custom_value_error(error: CustomValueError) -> ApiError {
    match error {
        CustomValueError::Unknown(key) => ApiError::bad_field(
            &format!("custom_fields.{key}"),
            "unknown_field",
            "is not a custom field of this record type (see GET /api/v1/custom-fields)",
        ),
        CustomValueError::Invalid(errors) => errors.into(),
    }
}

/// Fills the defaults of a record type's custom fields into a record made by the system
/// (a form submission, a conversion), where a missing required value cannot be asked for.
pub fn fill_custom_defaults<D>(conn: &mut DbConnection, kind: &RecordKind<D>, data: &mut D) -> Result<(), ApiError> {
    if let Some(custom) = &kind.custom {
        let definitions = persistence::custom_fields::for_type(conn, custom.record_type)?;
        let values = (custom.values)(data);
        *values = values.with_defaults(&definitions);
    }
    Ok(())
}

/// Sets a record's custom values from a create or merge-patch (`null` for the whole object
/// clears every value), checked against the record type's live definitions.
pub fn apply_custom_values<D>(
    conn: &mut DbConnection,
    kind: &RecordKind<D>,
    data: &mut D,
    patch: &Patch<serde_json::Map<String, serde_json::Value>>,
    creating: bool,
) -> Result<(), ApiError> {
    let Some(custom) = &kind.custom else {
        return match patch {
            Patch::Set(map) => match map.keys().next() {
                Some(key) => Err(custom_value_error(CustomValueError::Unknown(key.clone()))),
                None => Ok(()),
            },
            _ => Ok(()),
        };
    };
    if !creating && !patch.is_given() {
        return Ok(());
    }
    let definitions = persistence::custom_fields::for_type(conn, custom.record_type)?;
    let values = (custom.values)(data);
    let changes = match patch {
        Patch::Keep => None,
        Patch::Clear => Some(values.iter().map(|(key, _)| (key.clone(), serde_json::Value::Null)).collect()),
        Patch::Set(map) => Some(map.clone()),
    };
    *values = values.apply(&definitions, changes.as_ref(), creating).map_err(custom_value_error)?;
    Ok(())
}

/// For record types that are never merged.
pub fn never_moved(_: &mut DbConnection, _: &str) -> StoreResult<Option<String>> {
    Ok(None)
}

/// For record types whose creation needs no follow-up.
pub fn nothing_follows<D>(_: &mut DbConnection, _: &Caller, _: &Stored<D>) -> Result<(), ApiError> {
    Ok(())
}

impl<D> RecordKind<D> {
    /// Maps a missing row to "<noun> not found".
    pub fn not_found(&self, error: StoreError) -> ApiError {
        match error {
            StoreError::NotFound => ApiError::not_found(self.spec.noun),
            other => other.into(),
        }
    }

    /// The live record if the caller may read it.
    pub fn find_visible(&self, conn: &mut DbConnection, caller: &Caller, id: &str) -> Result<Stored<D>, ApiError> {
        (self.find)(conn, id, &caller.principal.visibility(self.spec.module, Action::Read))
            .map_err(|e| self.not_found(e))
    }
}

/// Record data the shared flow can handle: owned, and movable to the blocking pool.
pub trait RecordData: Owned + Clone + Send + 'static {}

impl<T: Owned + Clone + Send + 'static> RecordData for T {}

/// A new record belongs to its creator unless the request names an owner.
pub fn default_owner(owner: &mut Patch<String>, caller: &Caller) {
    if !owner.is_given() {
        *owner = Patch::Set(caller.principal.user_id.clone());
    }
}

/// GET one record.
pub async fn get<D: RecordData, V: Serialize + From<Stored<D>>>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: Caller,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .read(move |conn| match kind.find_visible(conn, &caller, &id) {
            Ok(record) => Ok(Ok(record)),
            Err(ApiError::NotFound(reason)) => match (kind.moved)(conn, &id)? {
                Some(target) if kind.find_visible(conn, &caller, &target).is_ok() => Ok(Err(target)),
                _ => Err(ApiError::NotFound(reason)),
            },
            Err(other) => Err(other),
        })
        .await?;
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

/// POST: checks the grant for the new record's owner, then inserts it once per
/// idempotency key (see [`create_in`]).
pub async fn create<D, V, B>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: &Caller,
    key: IdempotencyKey,
    body: &B,
    input: WithCustom<D>,
    check: impl FnOnce(&mut DbConnection, &Caller, &D) -> Result<(), ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError>
where
    D: RecordData,
    V: Serialize + From<Stored<D>>,
    B: Serialize,
{
    caller.principal.may_create(kind.spec.module, input.data.ownership())?;
    let route = format!("POST /api/v1/{}", kind.spec.collection);
    let for_check = caller.clone();
    create_idempotently(state, caller, key, &route, body, move |conn| {
        let (record, view) = create_in::<D, V>(conn, kind, &for_check, input, check, AuditAction::Create)?;
        Created::new(&view, format!("/api/v1/{}/{}", kind.spec.collection, record.id), record.version)
    })
    .await
}

/// Inserts a new record in the caller's transaction: its custom values (`custom`) checked and
/// defaults filled, `check` verifying the type's own references before the insert, the kind's
/// `created` recording what follows after it, and the audit row written as `action`. An error
/// from any step leaves nothing behind. Returns the record and its view.
pub fn create_in<D, V>(
    conn: &mut DbConnection,
    kind: &'static RecordKind<D>,
    caller: &Caller,
    input: WithCustom<D>,
    check: impl FnOnce(&mut DbConnection, &Caller, &D) -> Result<(), ApiError>,
    action: AuditAction,
) -> Result<(Stored<D>, V), ApiError>
where
    D: RecordData,
    V: Serialize + From<Stored<D>>,
{
    let WithCustom { mut data, custom } = input;
    apply_custom_values(conn, kind, &mut data, &custom, true)?;
    let ownership = data.ownership();
    check_owner_and_team(conn, ownership.owner_id, ownership.team_id)?;
    check(conn, caller, &data)?;
    let record = (kind.insert)(conn, &data, Utc::now())?;
    (kind.created)(conn, caller, &record)?;
    let view = V::from(record.clone());
    audit::record_change(conn, caller, action, (kind.spec.noun, &record.id), None, Some(&view))?;
    Ok((record, view))
}

/// PATCH: [`update_in`] in one transaction, answered with the new version.
pub async fn update<D, V>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: Caller,
    id: String,
    if_match: IfMatch,
    apply: WithCustom<impl FnOnce(&mut DbConnection, &str, &D) -> Result<D, ApiError> + Send + 'static>,
    check: impl FnOnce(&mut DbConnection, &Caller, &str, &D, &D) -> Result<(), ApiError> + Send + 'static,
) -> Result<HttpResponse, ApiError>
where
    D: RecordData,
    V: Serialize + From<Stored<D>>,
{
    let record = state
        .write(move |conn| update_in::<D, V>(conn, kind, &caller, &id, if_match, apply, check, AuditAction::Update))
        .await?;
    let version = record.version;
    Ok(ok_with_etag(&V::from(record), version))
}

/// Changes a record in the caller's transaction: re-reads it, checks the edit grant and
/// `If-Match`, applies the changes (`apply` returns the new data, validated; `custom` patches
/// the custom field values), re-checks ownership and references when they change (`check`
/// gets the record id, the data before and after, and may record what follows from the
/// change), writes the new version and its audit row as `action`.
#[allow(clippy::too_many_arguments)]
pub fn update_in<D, V>(
    conn: &mut DbConnection,
    kind: &'static RecordKind<D>,
    caller: &Caller,
    id: &str,
    if_match: IfMatch,
    apply: WithCustom<impl FnOnce(&mut DbConnection, &str, &D) -> Result<D, ApiError>>,
    check: impl FnOnce(&mut DbConnection, &Caller, &str, &D, &D) -> Result<(), ApiError>,
    action: AuditAction,
) -> Result<Stored<D>, ApiError>
where
    D: RecordData,
    V: Serialize + From<Stored<D>>,
{
    let principal = &caller.principal;
    // Without the lock, two PostgreSQL transactions could both read version n and the second
    // update would find n + 1: a 412 for a request that set no precondition.
    persistence::locks::lock_rows(conn, kind.spec.collection, &[id])?;
    let current = kind.find_visible(conn, caller, id)?;
    principal.may(kind.spec.module, Action::Edit, current.data.ownership())?;
    if_match.check(current.version)?;
    let mut data = (apply.data)(conn, id, &current.data)?;
    apply_custom_values(conn, kind, &mut data, &apply.custom, false)?;
    let (before, after) = (current.data.ownership(), data.ownership());
    if before.owner_id != after.owner_id || before.team_id != after.team_id {
        principal.may(kind.spec.module, Action::Edit, after).map_err(|_| {
            ApiError::Forbidden(format!(
                "your role does not allow assigning this {} to that owner or team",
                kind.spec.noun
            ))
        })?;
        check_owner_and_team(conn, after.owner_id, after.team_id)?;
    }
    check(conn, caller, id, &current.data, &data)?;
    let updated = (kind.update)(conn, id, current.version, &data, Utc::now())?;
    let (before, after) = (V::from(current), V::from(updated.clone()));
    audit::record_change(conn, caller, action, (kind.spec.noun, id), Some(&before), Some(&after))?;
    Ok(updated)
}

/// DELETE (soft): the record leaves lists and reads until restored or purged.
pub async fn delete<D: RecordData>(
    kind: &'static RecordKind<D>,
    state: &AppState,
    caller: Caller,
    id: String,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    state
        .write(move |conn| {
            persistence::locks::lock_rows(conn, kind.spec.collection, &[&id])?;
            let current = kind.find_visible(conn, &caller, &id)?;
            caller.principal.may(kind.spec.module, Action::Delete, current.data.ownership())?;
            if_match.check(current.version)?;
            (kind.soft_delete)(conn, &id, current.version, Utc::now())?;
            audit::record_change::<()>(conn, &caller, AuditAction::Delete, (kind.spec.noun, &id), None, None)
        })
        .await?;
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
    let record = state
        .write(move |conn| {
            if let Some(target) = (kind.moved)(conn, &id)? {
                return Err(ApiError::Conflict(format!(
                    "this {} was merged into {target} and cannot be restored",
                    kind.spec.noun
                )));
            }
            let restored = (kind.restore)(conn, &id, Utc::now()).map_err(|e| kind.not_found(e))?;
            audit::record_change::<()>(conn, &caller, AuditAction::Restore, (kind.spec.noun, &id), None, None)?;
            Ok(restored)
        })
        .await?;
    let version = record.version;
    Ok(ok_with_etag(&V::from(record), version))
}

/// The grant and admin checks every list shares.
pub fn authorize_list(caller: &Caller, module: Module, deleted: bool) -> Result<Visibility, ApiError> {
    caller.principal.may_in_module(module, Action::Read)?;
    if deleted && !caller.principal.is_admin() {
        return Err(ApiError::Forbidden("only administrators may list deleted records".into()));
    }
    Ok(caller.principal.visibility(module, Action::Read))
}

/// What the caller may read of the records a search filter reaches through relations.
pub fn related_visibility(caller: &Caller) -> persistence::search::RelatedVisibility {
    let read = |module| caller.principal.visibility(module, Action::Read);
    persistence::search::RelatedVisibility {
        companies: read(Module::Companies),
        deals: read(Module::Deals),
        activities: read(Module::Activities),
    }
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

/// A record another record refers to must exist and be visible to the caller; otherwise
/// the referring field is refused (422), without saying whether the record exists.
pub fn require_visible<D>(
    conn: &mut DbConnection,
    caller: &Caller,
    kind: &RecordKind<D>,
    field: &str,
    id: &str,
) -> Result<Stored<D>, ApiError> {
    match kind.find_visible(conn, caller, id) {
        Err(ApiError::NotFound(_)) => {
            Err(ApiError::invalid_field(field, "not_found", format!("names no {} you can see", kind.spec.noun)))
        }
        other => other,
    }
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
            #[param(example = "-created_at")]
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
