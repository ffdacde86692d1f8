//! The audit trail's vocabulary: what can happen, and the field-level difference between
//! two versions of a record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Create,
    Update,
    Delete,
    Restore,
    /// A lead became a contact, a company and maybe a deal.
    Convert,
    /// Other records were merged into this one (or this one into another).
    Merge,
    Login,
    LoginFailed,
    Logout,
    /// A spent refresh token was presented again; its session was revoked.
    TokenReuse,
    /// A signed-in caller was refused (403).
    PermissionDenied,
    ApiKeyCreated,
    ApiKeyRevoked,
    /// A record created or changed by a CSV import (`detail` names the import).
    Import,
    /// Records exported as CSV (`detail` names the columns and filter).
    Export,
}

impl AuditAction {
    /// The action as stored and as the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
            AuditAction::Restore => "restore",
            AuditAction::Convert => "convert",
            AuditAction::Merge => "merge",
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::TokenReuse => "token_reuse",
            AuditAction::PermissionDenied => "permission_denied",
            AuditAction::ApiKeyCreated => "api_key_created",
            AuditAction::ApiKeyRevoked => "api_key_revoked",
            AuditAction::Import => "import",
            AuditAction::Export => "export",
        }
    }
}

/// One field's value before and after a change (`null` when absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldChange {
    pub from: Value,
    pub to: Value,
}

/// Fields every record carries that change on every write and say nothing by themselves.
const BOOKKEEPING: [&str; 4] = ["id", "created_at", "updated_at", "deleted_at"];

/// The top-level fields whose values differ between two versions of a record, as their
/// client-facing JSON (a create compares against nothing).
pub fn diff(before: Option<&Map<String, Value>>, after: &Map<String, Value>) -> BTreeMap<String, FieldChange> {
    let empty = Map::new();
    let before = before.unwrap_or(&empty);
    let absent = |v: Option<&Value>| v.cloned().unwrap_or(Value::Null);
    let is_blank =
        |v: &Value| v.is_null() || v.as_array().is_some_and(Vec::is_empty) || v.as_object().is_some_and(Map::is_empty);
    before
        .keys()
        .chain(after.keys())
        .filter(|field| !BOOKKEEPING.contains(&field.as_str()))
        .filter_map(|field| {
            let (from, to) = (absent(before.get(field)), absent(after.get(field)));
            let unchanged = from == to || (is_blank(&from) && is_blank(&to));
            (!unchanged).then(|| (field.clone(), FieldChange { from, to }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_diff_lists_changed_fields_with_before_and_after() {
        let before = object(json!({"id": "1", "name": "Ada", "title": null, "tags": [], "updated_at": "t1"}));
        let after = object(json!({"id": "1", "name": "Ada", "title": "CTO", "tags": [], "updated_at": "t2"}));
        let changes = diff(Some(&before), &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes["title"], FieldChange { from: Value::Null, to: json!("CTO") });
    }

    #[test]
    fn a_create_lists_every_field_that_has_a_value() {
        let after = object(json!({"id": "1", "name": "Ada", "title": null, "tags": [], "created_at": "t"}));
        let changes = diff(None, &after);
        assert_eq!(changes.keys().collect::<Vec<_>>(), ["name"]);
    }
}
