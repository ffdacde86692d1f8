//! The record flow every business record type shares, written once: create, change,
//! delete, restore and find, each inside the caller's transaction.
//!
//! A record type declares itself with a [`RecordKind`]: its registry entry (module, noun,
//! table) and its repository functions. Entry points keep only what differs: their bodies,
//! their filters and their own reference checks.

use chrono::{DateTime, Utc};
use domain::access::{Action, Module, Visibility};
use domain::activity::RecordType;
use domain::audit::AuditAction;
use domain::custom::{CustomFieldDefinition, CustomValueError, CustomValues, WithCustomFields};
use domain::record::{Owned, Patch, Stored};
use persistence::{DbConnection, StoreError, StoreResult};
use serde::Serialize;

use crate::actor::Actor;
use crate::audit;
use crate::error::AppError;
use persistence::{teams, users};

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
    pub created: fn(&mut DbConnection, &Actor, &Stored<D>) -> Result<(), AppError>,
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
    A: FnOnce(&mut DbConnection, &str, &D) -> Result<D, AppError>,
{
    WithCustom { data: apply, custom }
}

/// The custom fields of record data that carries them.
pub const fn custom_fields_of<D: WithCustomFields>(record_type: RecordType) -> Option<CustomFieldsOf<D>> {
    Some(CustomFieldsOf { record_type, values: D::custom_values_mut })
}

/// Maps refused custom values: an unknown key is a mistake of shape (400), a bad value 422.
pub fn custom_value_error(error: CustomValueError) -> AppError {
    match error {
        CustomValueError::Unknown(key) => AppError::malformed(
            &format!("custom_fields.{key}"),
            "unknown_field",
            "is not a custom field of this record type (see GET /api/v1/custom-fields)",
        ),
        CustomValueError::Invalid(errors) => errors.into(),
    }
}

/// Fills the defaults of a record type's custom fields into a record made by the system
/// (a form submission, a conversion), where a missing required value cannot be asked for.
pub fn fill_custom_defaults<D>(conn: &mut DbConnection, kind: &RecordKind<D>, data: &mut D) -> Result<(), AppError> {
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
) -> Result<(), AppError> {
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
    set_custom_values(custom, &definitions, data, patch, creating)
}

/// [`apply_custom_values`] against definitions already read.
fn set_custom_values<D>(
    custom: &CustomFieldsOf<D>,
    definitions: &[CustomFieldDefinition],
    data: &mut D,
    patch: &Patch<serde_json::Map<String, serde_json::Value>>,
    creating: bool,
) -> Result<(), AppError> {
    let values = (custom.values)(data);
    let changes = match patch {
        Patch::Keep => None,
        Patch::Clear => Some(values.iter().map(|(key, _)| (key.clone(), serde_json::Value::Null)).collect()),
        Patch::Set(map) => Some(map.clone()),
    };
    *values = values.apply(definitions, changes.as_ref(), creating).map_err(custom_value_error)?;
    Ok(())
}

/// For record types that are never merged.
pub fn never_moved(_: &mut DbConnection, _: &str) -> StoreResult<Option<String>> {
    Ok(None)
}

/// For record types whose creation needs no follow-up.
pub fn nothing_follows<D>(_: &mut DbConnection, _: &Actor, _: &Stored<D>) -> Result<(), AppError> {
    Ok(())
}

impl<D> RecordKind<D> {
    /// Maps a missing row to "<noun> not found".
    pub fn not_found(&self, error: StoreError) -> AppError {
        match error {
            StoreError::NotFound => AppError::not_found(self.spec.noun),
            other => other.into(),
        }
    }

    /// The live record if the caller may read it.
    pub fn find_visible(&self, conn: &mut DbConnection, caller: &Actor, id: &str) -> Result<Stored<D>, AppError> {
        (self.find)(conn, id, &caller.principal.visibility(self.spec.module, Action::Read))
            .map_err(|e| self.not_found(e))
    }
}

/// Record data the shared flow can handle: owned, and movable to the blocking pool.
pub trait RecordData: Owned + Clone + Send + 'static {}

impl<T: Owned + Clone + Send + 'static> RecordData for T {}

/// A new record belongs to its creator unless the request names an owner.
pub fn default_owner(owner: &mut Patch<String>, caller: &Actor) {
    if !owner.is_given() {
        *owner = Patch::Set(caller.principal.user_id.clone());
    }
}

/// Inserts a new record in the caller's transaction: the create grant for its owner checked,
/// its custom values (`custom`) checked and
/// defaults filled, `check` verifying the type's own references before the insert, the kind's
/// `created` recording what follows after it, and the audit row written as `action`. An error
/// from any step leaves nothing behind. Returns the record and its view.
pub fn create_in<D, V>(
    conn: &mut DbConnection,
    kind: &'static RecordKind<D>,
    caller: &Actor,
    input: WithCustom<D>,
    check: impl FnOnce(&mut DbConnection, &Actor, &D) -> Result<(), AppError>,
    action: AuditAction,
) -> Result<(Stored<D>, V), AppError>
where
    D: RecordData,
    V: Serialize + From<Stored<D>>,
{
    let WithCustom { mut data, custom } = input;
    caller.principal.may_create(kind.spec.module, data.ownership())?;
    apply_custom_values(conn, kind, &mut data, &custom, true)?;
    let ownership = data.ownership();
    check_assignment(conn, caller, ownership.owner_id, ownership.team_id)?;
    check(conn, caller, &data)?;
    let record = (kind.insert)(conn, &data, Utc::now())?;
    (kind.created)(conn, caller, &record)?;
    let view = V::from(record.clone());
    audit::record_change(conn, caller, action, (kind.spec.noun, &record.id), None, Some(&view))?;
    Ok((record, view))
}

/// A record type's own checks of new data before it is stored (the references it names).
pub type CheckFn<D> = fn(&mut DbConnection, &Actor, &D) -> Result<(), AppError>;

use persistence::InsertManyFn;

/// [`create_in`] for many records at once (an import's batch): each is checked as
/// `create_in` checks one (the custom field definitions read once, each owner and team looked
/// up once), and those that pass are stored, followed up and audited in a few multi-row
/// statements. One result per input, in order (the new record's id); `Err` is a storage
/// failure, after which the caller's savepoint is to be rolled back, as something may be half
/// written.
pub fn create_many_in<D, V>(
    conn: &mut DbConnection,
    kind: &'static RecordKind<D>,
    caller: &Actor,
    inputs: Vec<WithCustom<D>>,
    (check, insert_many): (CheckFn<D>, InsertManyFn<D>),
    action: AuditAction,
) -> Result<Vec<Result<String, AppError>>, AppError>
where
    D: RecordData,
    V: Serialize + From<Stored<D>>,
{
    let definitions = match &kind.custom {
        Some(custom) => persistence::custom_fields::for_type(conn, custom.record_type)?,
        None => Vec::new(),
    };
    let mut assignable: Vec<(Option<String>, Option<String>)> = Vec::new();
    let mut outcomes: Vec<Result<(), AppError>> = Vec::with_capacity(inputs.len());
    let mut accepted = Vec::with_capacity(inputs.len());
    for WithCustom { mut data, custom } in inputs {
        let mut ready = || {
            caller.principal.may_create(kind.spec.module, data.ownership())?;
            match &kind.custom {
                Some(fields) => set_custom_values(fields, &definitions, &mut data, &custom, true)?,
                None => apply_custom_values(conn, kind, &mut data, &custom, true)?,
            }
            let ownership = data.ownership();
            let pair = (ownership.owner_id.map(str::to_owned), ownership.team_id.map(str::to_owned));
            if !assignable.contains(&pair) {
                check_assignment(conn, caller, ownership.owner_id, ownership.team_id)?;
                assignable.push(pair);
            }
            check(conn, caller, &data)
        };
        let outcome = ready();
        if outcome.is_ok() {
            accepted.push(data);
        }
        outcomes.push(outcome);
    }
    let stored = insert_many(conn, accepted, Utc::now())?;
    for record in &stored {
        (kind.created)(conn, caller, record)?;
    }
    let views: Vec<(String, V)> = stored.into_iter().map(|record| (record.id.clone(), V::from(record))).collect();
    audit::record_creations(conn, caller, action, kind.spec.noun, &views)?;
    let mut ids = views.into_iter().map(|(id, _)| id);
    Ok(outcomes
        .into_iter()
        .map(|outcome| {
            outcome.and_then(|()| ids.next().ok_or_else(|| AppError::Internal("a stored row is missing".into())))
        })
        .collect())
}

/// Changes a record in the caller's transaction: re-reads it, checks the edit grant and
/// the version the change is based on (`If-Match` over HTTP), applies the changes (`apply` returns the new data, validated; `custom` patches
/// the custom field values), re-checks ownership and references when they change (`check`
/// gets the record id, the data before and after, and may record what follows from the
/// change), writes the new version and its audit row as `action`.
#[allow(clippy::too_many_arguments)]
pub fn update_in<D, V>(
    conn: &mut DbConnection,
    kind: &'static RecordKind<D>,
    caller: &Actor,
    id: &str,
    expected_version: Option<i64>,
    apply: WithCustom<impl FnOnce(&mut DbConnection, &str, &D) -> Result<D, AppError>>,
    check: impl FnOnce(&mut DbConnection, &Actor, &str, &D, &D) -> Result<(), AppError>,
    action: AuditAction,
) -> Result<Stored<D>, AppError>
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
    check_version(expected_version, current.version)?;
    let mut data = (apply.data)(conn, id, &current.data)?;
    apply_custom_values(conn, kind, &mut data, &apply.custom, false)?;
    let (before, after) = (current.data.ownership(), data.ownership());
    if before.owner_id != after.owner_id || before.team_id != after.team_id {
        principal.may(kind.spec.module, Action::Edit, after).map_err(|_| {
            AppError::Forbidden(format!(
                "your role does not allow assigning this {} to that owner or team",
                kind.spec.noun
            ))
        })?;
        check_assignment(conn, caller, after.owner_id, after.team_id)?;
    }
    check(conn, caller, id, &current.data, &data)?;
    let updated = (kind.update)(conn, id, current.version, &data, Utc::now())?;
    let (before, after) = (V::from(current), V::from(updated.clone()));
    audit::record_change(conn, caller, action, (kind.spec.noun, id), Some(&before), Some(&after))?;
    Ok(updated)
}

/// Refuses a change based on another version than the record's current one.
pub fn check_version(expected: Option<i64>, current: i64) -> Result<(), AppError> {
    match expected {
        Some(expected) if expected != current => Err(AppError::Stale(format!(
            "If-Match names version {expected} but the record is at version {current}; fetch it again"
        ))),
        _ => Ok(()),
    }
}

/// The live record, or where it went if it was merged into one the caller may see
/// (`Err(survivor id)`).
pub fn find_or_moved<D>(
    conn: &mut DbConnection,
    kind: &RecordKind<D>,
    caller: &Actor,
    id: &str,
) -> Result<Result<Stored<D>, String>, AppError> {
    match kind.find_visible(conn, caller, id) {
        Ok(record) => Ok(Ok(record)),
        Err(AppError::NotFound(reason)) => match (kind.moved)(conn, id)? {
            Some(target) if kind.find_visible(conn, caller, &target).is_ok() => Ok(Err(target)),
            _ => Err(AppError::NotFound(reason)),
        },
        Err(other) => Err(other),
    }
}

/// Soft-deletes a record in the caller's transaction: it leaves lists and reads until
/// restored or purged.
pub fn delete_in<D: RecordData, V: Serialize + From<Stored<D>>>(
    conn: &mut DbConnection,
    kind: &RecordKind<D>,
    caller: &Actor,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), AppError> {
    persistence::locks::lock_rows(conn, kind.spec.collection, &[id])?;
    let current = kind.find_visible(conn, caller, id)?;
    caller.principal.may(kind.spec.module, Action::Delete, current.data.ownership())?;
    check_version(expected_version, current.version)?;
    (kind.soft_delete)(conn, id, current.version, Utc::now())?;
    let before = V::from(current);
    audit::record_change(conn, caller, AuditAction::Delete, (kind.spec.noun, id), Some(&before), None)
}

/// Brings a soft-deleted record back (admins); a merged one stays merged.
pub fn restore_in<D: Clone, V: Serialize + From<Stored<D>>>(
    conn: &mut DbConnection,
    kind: &RecordKind<D>,
    caller: &Actor,
    id: &str,
) -> Result<Stored<D>, AppError> {
    caller.require_admin()?;
    if let Some(target) = (kind.moved)(conn, id)? {
        return Err(AppError::Conflict(format!(
            "this {} was merged into {target} and cannot be restored",
            kind.spec.noun
        )));
    }
    let restored = (kind.restore)(conn, id, Utc::now()).map_err(|e| kind.not_found(e))?;
    let view = V::from(restored.clone());
    audit::record_change(conn, caller, AuditAction::Restore, (kind.spec.noun, id), None, Some(&view))?;
    Ok(restored)
}

/// [`check_owner_and_team`] for a record the actor writes: an owner who is the actor, or a
/// team the actor belongs to, was checked when the actor was resolved (deactivation and team
/// changes end every cached principal), so only other users and teams are looked up.
pub fn check_assignment(
    conn: &mut DbConnection,
    caller: &Actor,
    owner_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<(), AppError> {
    let principal = &caller.principal;
    let owner = owner_id.filter(|id| *id != principal.user_id);
    let team = team_id.filter(|id| !principal.team_ids.iter().any(|mine| mine == id));
    check_owner_and_team(conn, owner, team)
}

/// Checks that an owner and team named on a record exist and can own records.
pub fn check_owner_and_team(
    conn: &mut DbConnection,
    owner_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<(), AppError> {
    if let Some(owner_id) = owner_id {
        match users::find(conn, owner_id) {
            Ok(user) if user.active => {}
            Ok(_) => return Err(AppError::invalid("owner_id", "inactive_user", "names a deactivated user")),
            Err(StoreError::NotFound) => return Err(AppError::invalid("owner_id", "not_found", "names no user")),
            Err(other) => return Err(other.into()),
        }
    }
    if let Some(team_id) = team_id
        && !teams::exists(conn, team_id)?
    {
        return Err(AppError::invalid("team_id", "not_found", "names no team"));
    }
    Ok(())
}

/// The grant and admin checks every list shares.
pub fn authorize_list(caller: &Actor, module: Module, deleted: bool) -> Result<Visibility, AppError> {
    caller.principal.may_in_module(module, Action::Read)?;
    if deleted && !caller.principal.is_admin() {
        return Err(AppError::Forbidden("only administrators may list deleted records".into()));
    }
    Ok(caller.principal.visibility(module, Action::Read))
}

/// What the caller may read of the records a search filter reaches through relations.
pub fn related_visibility(caller: &Actor) -> persistence::search::RelatedVisibility {
    let read = |module| caller.principal.visibility(module, Action::Read);
    persistence::search::RelatedVisibility {
        companies: read(Module::Companies),
        deals: read(Module::Deals),
        activities: read(Module::Activities),
    }
}

/// A record another record refers to must exist and be visible to the caller; otherwise
/// the referring field is refused (422), without saying whether the record exists.
pub fn require_visible<D>(
    conn: &mut DbConnection,
    caller: &Actor,
    kind: &RecordKind<D>,
    field: &str,
    id: &str,
) -> Result<Stored<D>, AppError> {
    match kind.find_visible(conn, caller, id) {
        Err(AppError::NotFound(_)) => {
            Err(AppError::invalid(field, "not_found", format!("names no {} you can see", kind.spec.noun)))
        }
        other => other,
    }
}

/// The catalogue a record type's filters are checked against, with the live custom fields.
pub fn catalogue(conn: &mut DbConnection, record_type: RecordType) -> Result<domain::filter::Catalogue, AppError> {
    let custom = persistence::custom_fields::for_type(conn, record_type)?;
    let company_custom = match record_type {
        RecordType::Contact | RecordType::Deal | RecordType::Ticket => {
            persistence::custom_fields::for_type(conn, RecordType::Company)?
        }
        _ => Vec::new(),
    };
    Ok(domain::filter::Catalogue { record_type, custom, company_custom })
}
