//! Each record type's standard field values by their filter names, so a filter can be
//! evaluated against a stored record in memory and a search cursor can carry a sort value.

use serde_json::Value;

use crate::company::CompanyData;
use crate::contact::ContactData;
use crate::custom::CustomValues;
use crate::deal::DealData;
use crate::filter::{FieldValues, Target, time_text};
use crate::lead::LeadData;
use crate::record::Stored;

fn text(value: Option<&str>) -> Option<Value> {
    value.map(|v| Value::String(v.to_owned()))
}

fn json<T: serde::Serialize>(value: Option<T>) -> Option<Value> {
    value.and_then(|v| serde_json::to_value(v).ok())
}

/// What every record type shares, read once for all of them.
struct Shared<'a> {
    sort_name: String,
    tags: &'a [String],
    owner_id: &'a Option<String>,
    team_id: &'a Option<String>,
    custom_fields: &'a CustomValues,
}

/// A field's value: custom and shared fields here, the type's own fields by `own`.
fn value_of<D>(
    record: &Stored<D>,
    target: &Target,
    shared: Shared<'_>,
    own: impl FnOnce(&str) -> Option<Value>,
) -> Option<Value> {
    let name = match target {
        Target::Standard(name) => *name,
        Target::Custom { key, .. } => return shared.custom_fields.get(key).cloned(),
        _ => return None,
    };
    match name {
        "name" => Some(Value::String(shared.sort_name)),
        "owner_id" => text(shared.owner_id.as_deref()),
        "team_id" => text(shared.team_id.as_deref()),
        "tags" => Some(Value::from(shared.tags.to_vec())),
        "created_at" => Some(Value::String(time_text(record.created_at))),
        "updated_at" => Some(Value::String(time_text(record.updated_at))),
        _ => own(name),
    }
}

/// The shared part of record data with the usual field names.
macro_rules! shared {
    ($data:expr) => {
        Shared {
            sort_name: $data.sort_name(),
            tags: $data.tags.as_slice(),
            owner_id: &$data.owner_id,
            team_id: &$data.team_id,
            custom_fields: &$data.custom_fields,
        }
    };
}

impl FieldValues for Stored<ContactData> {
    fn value(&self, target: &Target) -> Option<Value> {
        let data = &self.data;
        value_of(self, target, shared!(data), |name| match name {
            "first_name" => text(data.first_name.as_deref()),
            "last_name" => text(data.last_name.as_deref()),
            "email" => text(data.primary_email()),
            "job_title" => text(data.job_title.as_deref()),
            "company_id" => text(data.company_id.as_deref()),
            "source" => json(data.source),
            "lifecycle_stage" => json(data.lifecycle_stage),
            _ => None,
        })
    }
}

impl FieldValues for Stored<CompanyData> {
    fn value(&self, target: &Target) -> Option<Value> {
        let data = &self.data;
        value_of(self, target, shared!(data), |name| match name {
            "domain" => text(data.domain.as_deref()),
            "industry" => text(data.industry.as_deref()),
            "employee_count" => data.employee_count.map(Value::from),
            "annual_revenue" => data.annual_revenue.as_ref().map(|m| Value::from(m.amount_minor)),
            "phone" => text(data.phone.as_deref()),
            _ => None,
        })
    }
}

impl FieldValues for Stored<LeadData> {
    fn value(&self, target: &Target) -> Option<Value> {
        let data = &self.data;
        value_of(self, target, shared!(data), |name| match name {
            "first_name" => text(data.first_name.as_deref()),
            "last_name" => text(data.last_name.as_deref()),
            "email" => text(data.email.as_deref()),
            "phone" => text(data.phone.as_deref()),
            "company_name" => text(data.company_name.as_deref()),
            "job_title" => text(data.job_title.as_deref()),
            "website" => text(data.website.as_deref()),
            "industry" => text(data.industry.as_deref()),
            "country" => text(data.country.as_deref()),
            "employee_count" => data.employee_count.map(Value::from),
            "source" => json(data.source),
            "campaign" => text(data.campaign.as_deref()),
            "status" => json(Some(data.status)),
            "score" => Some(Value::from(data.score)),
            _ => None,
        })
    }
}

impl FieldValues for Stored<DealData> {
    fn value(&self, target: &Target) -> Option<Value> {
        let data = &self.data;
        value_of(self, target, shared!(data), |name| match name {
            "amount" => data.amount.as_ref().map(|m| Value::from(m.amount_minor)),
            "currency" => data.amount.as_ref().map(|m| Value::String(m.currency.as_str().to_owned())),
            "expected_close_date" => data.expected_close_date.map(|d| Value::String(d.format("%Y-%m-%d").to_string())),
            "pipeline_id" => Some(Value::String(data.pipeline_id.clone())),
            "stage_id" => Some(Value::String(data.stage_id.clone())),
            "company_id" => text(data.company_id.as_deref()),
            "next_step" => text(data.next_step.as_deref()),
            "close_reason" => text(data.close_reason.as_deref()),
            "closed_at" => data.closed_at.map(|t| Value::String(time_text(t))),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::RecordType;
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
