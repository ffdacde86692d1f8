//! Domain events: what happened, named `<record type>.<what>` (`contact.created`,
//! `deal.stage_changed`), for integrators polling the feed and for the work that follows a
//! change (workflows, webhooks).

use serde_json::{Map, Value};

use crate::audit::AuditAction;
use crate::registry::RECORD_TYPES;

/// What can happen to any record type.
pub const RECORD_CHANGES: [&str; 5] = ["created", "updated", "deleted", "restored", "merged"];

/// Events beyond a record's own changes: `(event type, record type it is about)`.
pub const OTHER_EVENTS: [(&str, &str); 13] = [
    ("comment.created", "any"),
    ("comment.updated", "any"),
    ("comment.deleted", "any"),
    ("deal.stage_changed", "deal"),
    ("lead.status_changed", "lead"),
    ("lead.converted", "lead"),
    ("form.submitted", "lead"),
    ("task.completed", "task"),
    ("ticket.status_changed", "ticket"),
    ("ticket.sla_at_risk", "ticket"),
    ("ticket.sla_breached", "ticket"),
    ("survey.answered", "contact"),
    ("import.finished", "import"),
];

/// The record change an audited action is: a create or import of a new record `created`,
/// an import that updated one `updated`, a conversion `lead.converted`. `None` for actions
/// that change no record (sign-ins, exports).
pub fn record_event_type(noun: &str, action: AuditAction, existed_before: bool) -> Option<String> {
    let what = match action {
        AuditAction::Create => "created",
        AuditAction::Import if existed_before => "updated",
        AuditAction::Import => "created",
        AuditAction::Update => "updated",
        AuditAction::Delete => "deleted",
        AuditAction::Restore => "restored",
        AuditAction::Merge => "merged",
        AuditAction::Convert => "converted",
        AuditAction::Login
        | AuditAction::LoginFailed
        | AuditAction::Logout
        | AuditAction::TokenReuse
        | AuditAction::PermissionDenied
        | AuditAction::ApiKeyCreated
        | AuditAction::ApiKeyRevoked
        | AuditAction::Export => return None,
    };
    Some(format!("{noun}.{what}"))
}

/// The events a change implies by the fields it touched, besides the change itself: a deal's
/// new stage, a lead's new status, a task set to done. `after` is the record's view after it.
pub fn implied_events(noun: &str, changed_fields: &[String], after: &Map<String, Value>) -> Vec<&'static str> {
    let changed = |field: &str| changed_fields.iter().any(|f| f == field);
    let mut implied = Vec::new();
    match noun {
        "deal" if changed("stage_id") => implied.push("deal.stage_changed"),
        "lead" if changed("status") => implied.push("lead.status_changed"),
        "ticket" if changed("status") => implied.push("ticket.status_changed"),
        "task" if changed("status") && after.get("status").and_then(Value::as_str) == Some("done") => {
            implied.push("task.completed")
        }
        _ => {}
    }
    implied
}

/// Whether the feed knows this event type (every record type's changes and the others).
pub fn is_event_type(name: &str) -> bool {
    OTHER_EVENTS.iter().any(|(known, _)| *known == name)
        || name.split_once('.').is_some_and(|(noun, what)| {
            RECORD_TYPES.iter().any(|spec| spec.noun == noun) && RECORD_CHANGES.contains(&what)
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_audited_action_names_the_record_change_it_is() {
        assert_eq!(record_event_type("contact", AuditAction::Create, false).as_deref(), Some("contact.created"));
        assert_eq!(record_event_type("deal", AuditAction::Import, true).as_deref(), Some("deal.updated"));
        assert_eq!(record_event_type("lead", AuditAction::Convert, true).as_deref(), Some("lead.converted"));
        assert_eq!(record_event_type("contact", AuditAction::Export, false), None);
    }

    #[test]
    fn a_stage_status_or_completion_change_implies_its_own_event() {
        let fields = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let view = |value: Value| value.as_object().cloned().unwrap_or_default();
        assert_eq!(implied_events("deal", &fields(&["stage_id", "amount"]), &view(json!({}))), ["deal.stage_changed"]);
        assert_eq!(implied_events("task", &fields(&["status"]), &view(json!({"status": "done"}))), ["task.completed"]);
        assert!(implied_events("task", &fields(&["status"]), &view(json!({"status": "open"}))).is_empty());
        assert!(implied_events("contact", &fields(&["status"]), &view(json!({}))).is_empty());
    }

    #[test]
    fn the_feed_knows_every_record_types_changes_and_the_other_events() {
        assert!(is_event_type("product.restored"));
        assert!(is_event_type("import.finished"));
        assert!(is_event_type("comment.created"));
        assert!(!is_event_type("contact.exploded"));
        assert!(!is_event_type("planet.created"));
    }
}
