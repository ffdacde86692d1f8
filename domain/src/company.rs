//! Companies (accounts): the organisations contacts belong to.

use serde_json::Value;

use crate::fields::{self, FieldSpec, FilterKind, ReadFields, Shape};
use crate::record::{Patch, patch_address, patch_tags, search_text};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{
    Address, AddressInput, DomainName, Money, PhoneNumber, SHORT_TEXT_MAX, Tags, optional_text, required_text,
};

/// Largest accepted employee count.
pub const EMPLOYEES_MAX: i64 = 10_000_000;

/// Money as a client sent it.
#[derive(Debug, Clone)]
pub struct MoneyInput {
    pub amount_minor: i64,
    pub currency: String,
}

/// A company's fields as stored: valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompanyData {
    pub name: String,
    pub domain: Option<String>,
    pub industry: Option<String>,
    pub employee_count: Option<i64>,
    pub annual_revenue: Option<Money>,
    pub phone: Option<String>,
    pub address: Option<Address>,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Tags,
    /// Values of admin-defined custom fields.
    pub custom_fields: crate::custom::CustomValues,
}

crate::record::owned_by_fields!(CompanyData);

crate::custom::custom_fields_in!(CompanyData);

/// A company's standard fields, in CSV order.
pub const FIELDS: &[FieldSpec] = &[
    fields::ID,
    fields::NAME.csv(Shape::Text).searched(),
    FieldSpec::new("domain").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("industry").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("employee_count").sort(FilterKind::Number).csv(Shape::Integer),
    FieldSpec::new("annual_revenue").sort(FilterKind::Number).csv(Shape::Money).column("annual_revenue_minor"),
    FieldSpec::new("phone").filter(FilterKind::Text).csv(Shape::Text).searched(),
    fields::ADDRESS[0],
    fields::ADDRESS[1],
    fields::ADDRESS[2],
    fields::ADDRESS[3],
    fields::ADDRESS[4],
    fields::OWNER_ID,
    fields::TEAM_ID,
    fields::TAGS,
    fields::CREATED_AT,
    fields::UPDATED_AT,
];

impl ReadFields for CompanyData {
    fn read(&self, name: &str) -> Option<Value> {
        match name {
            "name" => Some(Value::String(self.sort_name())),
            "tags" => Some(Value::from(self.tags.as_slice().to_vec())),
            "domain" => fields::text(self.domain.as_deref()),
            "industry" => fields::text(self.industry.as_deref()),
            "employee_count" => self.employee_count.map(Value::from),
            "annual_revenue" => self.annual_revenue.as_ref().map(|m| Value::from(m.amount_minor)),
            "phone" => fields::text(self.phone.as_deref()),
            _ => None,
        }
    }
}

/// A create or merge-patch of a company, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct CompanyChanges {
    pub name: Patch<String>,
    pub domain: Patch<String>,
    pub industry: Patch<String>,
    pub employee_count: Patch<i64>,
    pub annual_revenue: Patch<MoneyInput>,
    pub phone: Patch<String>,
    pub address: Patch<AddressInput>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub tags: Patch<Vec<String>>,
}

impl CompanyData {
    /// Applies `changes` to `current` (`None` for a create) and checks the result.
    pub fn apply(current: Option<&CompanyData>, changes: CompanyChanges) -> Result<CompanyData, ValidationErrors> {
        let base = current.cloned().unwrap_or_default();
        let mut errors = ValidationErrors::new();
        let name = match changes.name {
            Patch::Keep if current.is_some() => Some(base.name),
            Patch::Set(raw) => errors.collect(required_text("name", &raw, SHORT_TEXT_MAX)),
            Patch::Keep | Patch::Clear => {
                errors.push(FieldError::new("name", "required", "a company needs a name"));
                None
            }
        };
        let mut optional = |field: &str, patch: Patch<String>, current: Option<String>, max: usize| match patch {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(raw) => errors.collect(optional_text(field, &raw, max)).flatten(),
        };
        let industry = optional("industry", changes.industry, base.industry, 100);
        let owner_id = optional("owner_id", changes.owner_id, base.owner_id, 64);
        let team_id = optional("team_id", changes.team_id, base.team_id, 64);
        let domain = match changes.domain {
            Patch::Keep => base.domain,
            Patch::Clear => None,
            Patch::Set(raw) => errors.collect(DomainName::parse("domain", &raw)).map(|d| d.as_str().to_owned()),
        };
        let phone = match changes.phone {
            Patch::Keep => base.phone,
            Patch::Clear => None,
            Patch::Set(raw) => errors.collect(PhoneNumber::parse("phone", &raw)).map(|p| p.as_str().to_owned()),
        };
        let employee_count = match changes.employee_count {
            Patch::Set(n) if !(0..=EMPLOYEES_MAX).contains(&n) => {
                errors.push(FieldError::new(
                    "employee_count",
                    "out_of_range",
                    format!("must be between 0 and {EMPLOYEES_MAX}"),
                ));
                None
            }
            other => other.resolve(base.employee_count),
        };
        let annual_revenue = match changes.annual_revenue {
            Patch::Keep => base.annual_revenue,
            Patch::Clear => None,
            Patch::Set(input) => match Money::parse_non_negative("annual_revenue", input.amount_minor, &input.currency)
            {
                Ok(money) => Some(money),
                Err(e) => {
                    errors.extend_prefixed("", e);
                    None
                }
            },
        };
        let tags = patch_tags(&mut errors, changes.tags, base.tags);
        let address = patch_address(&mut errors, changes.address, base.address);
        let name = name.unwrap_or_default();
        errors.into_result(|| CompanyData {
            name,
            domain,
            industry,
            employee_count,
            annual_revenue,
            phone,
            address,
            owner_id,
            team_id,
            tags,
            custom_fields: base.custom_fields,
        })
    }

    /// The key `name` sorts on.
    pub fn sort_name(&self) -> String {
        self.name.to_lowercase()
    }

    /// Everything `q` searches: name, domain, phone, industry.
    pub fn search_text(&self) -> String {
        search_text(
            [
                Some(self.name.as_str()),
                self.domain.as_deref(),
                self.phone.as_deref(),
                self.phone.as_deref().map(|p| p.trim_start_matches('+')),
                self.industry.as_deref(),
            ]
            .into_iter()
            .chain(self.custom_fields.search_parts().iter().map(|p| Some(p.as_str()))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_company_needs_a_name_on_create_but_not_on_patch() {
        assert!(CompanyData::apply(None, CompanyChanges::default()).is_err());
        let created =
            CompanyData::apply(None, CompanyChanges { name: Patch::Set("Acme".into()), ..Default::default() }).ok();
        assert!(CompanyData::apply(created.as_ref(), CompanyChanges::default()).is_ok());
        assert!(
            CompanyData::apply(created.as_ref(), CompanyChanges { name: Patch::Clear, ..Default::default() }).is_err()
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let changes = CompanyChanges {
            name: Patch::Set("Acme".into()),
            domain: Patch::Set("not a domain".into()),
            employee_count: Patch::Set(-5),
            annual_revenue: Patch::Set(MoneyInput { amount_minor: 100, currency: "XYZ".into() }),
            ..Default::default()
        };
        let fields: Vec<String> = CompanyData::apply(None, changes)
            .err()
            .map(|e| e.errors().iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["domain", "employee_count", "annual_revenue.currency"]);
    }
}
