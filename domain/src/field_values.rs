//! Every record type's standard field values by their filter names, so a filter can be
//! evaluated against a stored record in memory and a search cursor can carry a sort value.
//! The type's own fields come from its [`ReadFields`]; owner, team, custom fields and times
//! are read here once for all types.

use serde_json::Value;

use crate::custom::WithCustomFields;
use crate::fields::{ReadFields, text, time_text};
use crate::filter::{FieldValues, Target};
use crate::record::{Owned, Stored};

impl<D: ReadFields + Owned + WithCustomFields> FieldValues for Stored<D> {
    fn value(&self, target: &Target) -> Option<Value> {
        let name = match target {
            Target::Standard(name) => *name,
            Target::Custom { key, .. } => return self.data.custom_values().get(key).cloned(),
            _ => return None,
        };
        let ownership = self.data.ownership();
        match name {
            "owner_id" => text(ownership.owner_id),
            "team_id" => text(ownership.team_id),
            "created_at" => Some(Value::String(time_text(self.created_at))),
            "updated_at" => Some(Value::String(time_text(self.updated_at))),
            _ => self.data.read(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::RecordType;
    use crate::contact::ContactData;
    use crate::filter::{Catalogue, Filter};

    #[test]
    fn every_standard_field_of_every_type_has_a_value_source() {
        let contact = Stored {
            id: "c".into(),
            data: ContactData { first_name: Some("Ada".into()), ..Default::default() },
            version: 1,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
            deleted_at: None,
        };
        let catalogue = Catalogue { record_type: RecordType::Contact, custom: vec![], company_custom: vec![] };
        let filter = Filter::parse(
            &serde_json::json!({"field": "first_name", "op": "eq", "value": "ADA"}),
            &catalogue,
            chrono::DateTime::UNIX_EPOCH,
        );
        assert!(filter.is_ok_and(|f| f.matches(&contact)));
        assert_eq!(
            contact.value(&Target::Standard("created_at")),
            Some(Value::String("1970-01-01T00:00:00.000000Z".into()))
        );
    }
}
