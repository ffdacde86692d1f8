//! Custom field definitions as admins change them: at most a bounded number per record type,
//! and a change of type or options converts every stored value in the same transaction, or
//! is refused when a value would not survive it.

use chrono::Utc;
use domain::audit::AuditAction;
use domain::custom::{CustomFieldDefinition, DefinitionChanges, FIELDS_PER_TYPE_MAX, convert_value};
use persistence::custom_fields::{self, StoredDefinition};
use persistence::{DbConnection, StoreError};

use crate::actor::Actor;
use crate::audit;
use crate::error::AppError;
use crate::records::check_version;
use crate::views::Views;

fn find(conn: &mut DbConnection, id: &str) -> Result<StoredDefinition, AppError> {
    custom_fields::find(conn, id).map_err(|error| match error {
        StoreError::NotFound => AppError::not_found("custom field"),
        other => other.into(),
    })
}

/// Stores a new definition (admins only), within the per-type bound.
pub fn create<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    definition: &CustomFieldDefinition,
) -> Result<StoredDefinition, AppError> {
    actor.require_admin()?;
    if custom_fields::count(conn, definition.record_type)? >= FIELDS_PER_TYPE_MAX as i64 {
        return Err(AppError::Conflict(format!(
            "a record type has at most {FIELDS_PER_TYPE_MAX} custom fields; deactivate or reuse one"
        )));
    }
    // The store names the taken key itself: its words are the answer.
    let stored = custom_fields::insert(conn, definition, Utc::now()).map_err(|error| match error {
        StoreError::Conflict(detail) => AppError::Conflict(detail),
        other => other.into(),
    })?;
    let view = V::CustomField::from(stored.clone());
    audit::record_change(conn, actor, AuditAction::Create, ("custom_field", &stored.id), None, Some(&view))?;
    Ok(stored)
}

/// Changes a definition (admins only). A new type or a smaller option list converts every
/// stored value, or is refused (conflict) naming values that would not convert.
pub fn update<V: Views>(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
    expected_version: Option<i64>,
    changes: DefinitionChanges,
) -> Result<StoredDefinition, AppError> {
    actor.require_admin()?;
    let current = find(conn, id)?;
    check_version(expected_version, current.version)?;
    let changed = CustomFieldDefinition::apply(Some(&current.data), changes)?;
    if changed.field_type != current.data.field_type || changed.options != current.data.options {
        convert_stored_values(conn, &changed)?;
    }
    let updated = custom_fields::update(conn, id, current.version, &changed, Utc::now())?;
    let (before, after) = (V::CustomField::from(current), V::CustomField::from(updated.clone()));
    audit::record_change(conn, actor, AuditAction::Update, ("custom_field", id), Some(&before), Some(&after))?;
    Ok(updated)
}

/// Rewrites every stored value of the field to fit its changed definition, all or none.
fn convert_stored_values(conn: &mut DbConnection, changed: &CustomFieldDefinition) -> Result<(), AppError> {
    let mut converted = Vec::new();
    let mut lost = Vec::new();
    for (record_id, mut values) in custom_fields::holding(conn, changed.record_type, &changed.key)? {
        let Some(value) = values.get(&changed.key).cloned() else { continue };
        match convert_value(changed, &value) {
            Some(new) if new == value => {}
            Some(new) => {
                values.set(&changed.key, Some(new));
                converted.push((record_id, values));
            }
            None => lost.push((record_id, value)),
        }
    }
    if !lost.is_empty() {
        let examples: Vec<String> = lost.iter().take(3).map(|(id, value)| format!("{id}: {value}")).collect();
        return Err(AppError::Conflict(format!(
            "{} stored value(s) of `{}` would not survive this change (for example {}); change or clear them first",
            lost.len(),
            changed.key,
            examples.join("; ")
        )));
    }
    Ok(custom_fields::rewrite(conn, changed.record_type, &converted, Utc::now())?)
}
