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
    use crate::company::CompanyData;
    use crate::contact::ContactData;
    use crate::deal::DealData;
    use crate::filter::{Catalogue, Filter};
    use crate::lead::LeadData;
    use crate::product::ProductData;
    use crate::registry::{self, RecordTypeSpec};
    use crate::values::{Currency, Money};

    fn stored<D>(data: D) -> Stored<D> {
        let at = chrono::DateTime::UNIX_EPOCH;
        Stored { id: "r".into(), data, version: 1, created_at: at, updated_at: at, deleted_at: None }
    }

    fn money() -> Option<Money> {
        Currency::parse("currency", "EUR").ok().map(|currency| Money { amount_minor: 100, currency })
    }

    /// Every field a search may sort by reads a value from a record that has one, so no
    /// search cursor is built on an empty sort value.
    fn every_sortable_field_reads(spec: &RecordTypeSpec, record: &impl FieldValues) {
        for field in spec.fields.iter().filter(|f| f.filter.is_some_and(|use_| use_.sortable)) {
            assert!(
                record.value(&Target::Standard(field.name)).is_some(),
                "{}: {} reads nothing",
                spec.noun,
                field.name
            );
        }
    }

    #[test]
    fn every_sortable_field_of_every_type_reads_its_value() {
        let text = || Some("x".to_owned());
        let contact = ContactData {
            first_name: text(),
            last_name: text(),
            emails: vec![crate::contact::ContactEmail { email: "a@b.example".into(), label: None, primary: true }],
            job_title: text(),
            ..Default::default()
        };
        every_sortable_field_reads(&registry::CONTACTS, &stored(contact));
        let company = CompanyData {
            name: "x".into(),
            domain: text(),
            industry: text(),
            employee_count: Some(1),
            annual_revenue: money(),
            ..Default::default()
        };
        every_sortable_field_reads(&registry::COMPANIES, &stored(company));
        let lead = LeadData {
            first_name: text(),
            last_name: text(),
            email: text(),
            company_name: text(),
            job_title: text(),
            industry: text(),
            country: text(),
            employee_count: Some(1),
            campaign: text(),
            ..Default::default()
        };
        every_sortable_field_reads(&registry::LEADS, &stored(lead));
        let deal = DealData {
            name: "x".into(),
            amount: money(),
            expected_close_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 2),
            closed_at: Some(chrono::DateTime::UNIX_EPOCH),
            ..Default::default()
        };
        every_sortable_field_reads(&registry::DEALS, &stored(deal));
        let product = money().map(|unit_price| ProductData {
            name: "x".into(),
            sku: text(),
            description: None,
            unit_price,
            active: true,
            owner_id: None,
            team_id: None,
            tags: Default::default(),
            custom_fields: Default::default(),
        });
        assert!(product.is_some());
        if let Some(product) = product {
            every_sortable_field_reads(&registry::PRODUCTS, &stored(product));
        }
        let ticket = crate::ticket::TicketData {
            subject: "x".into(),
            category: text(),
            first_replied_at: Some(chrono::DateTime::UNIX_EPOCH),
            solved_at: Some(chrono::DateTime::UNIX_EPOCH),
            closed_at: Some(chrono::DateTime::UNIX_EPOCH),
            ..Default::default()
        };
        every_sortable_field_reads(&registry::TICKETS, &stored(ticket));
    }

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
