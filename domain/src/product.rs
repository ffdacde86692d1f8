//! Products: the catalogue deals and orders price their lines from.

use serde_json::Value;

use crate::company::MoneyInput;
use crate::fields::{self, FieldSpec, FilterKind, ReadFields, Shape};
use crate::record::{Patch, patch_tags, patch_text, search_text};
use crate::validation::{FieldError, ValidationErrors};
use crate::values::{LONG_TEXT_MAX, Money, SHORT_TEXT_MAX, Tags, optional_text, required_text};

/// Longest SKU.
pub const SKU_MAX: usize = 64;

/// A product's fields as stored: valid and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductData {
    pub name: String,
    /// The stock-keeping unit: unique among live products.
    pub sku: Option<String>,
    pub description: Option<String>,
    pub unit_price: Money,
    /// Inactive products stay on past deals and orders but are not offered for new ones.
    pub active: bool,
    pub owner_id: Option<String>,
    pub team_id: Option<String>,
    pub tags: Tags,
    /// Values of admin-defined custom fields.
    pub custom_fields: crate::custom::CustomValues,
}

crate::record::owned_by_fields!(ProductData);

crate::custom::custom_fields_in!(ProductData);

/// A product's standard fields, in CSV order.
pub const FIELDS: &[FieldSpec] = &[
    fields::ID,
    fields::NAME.csv(Shape::Text).searched(),
    FieldSpec::new("sku").sort(FilterKind::Text).csv(Shape::Text).searched(),
    FieldSpec::new("description").filter(FilterKind::Text).csv(Shape::Text),
    FieldSpec::new("unit_price").sort(FilterKind::Number).csv(Shape::Money).column("unit_price_minor"),
    FieldSpec::new("currency").filter(FilterKind::Text),
    FieldSpec::new("active").filter(FilterKind::Bool).csv(Shape::Boolean),
    fields::OWNER_ID,
    fields::TEAM_ID,
    fields::TAGS,
    fields::CREATED_AT,
    fields::UPDATED_AT,
];

impl ReadFields for ProductData {
    fn read(&self, name: &str) -> Option<Value> {
        match name {
            "name" => Some(Value::String(self.sort_name())),
            "tags" => Some(Value::from(self.tags.as_slice().to_vec())),
            "sku" => fields::text(self.sku.as_deref()),
            "description" => fields::text(self.description.as_deref()),
            "unit_price" => Some(Value::from(self.unit_price.amount_minor)),
            "currency" => Some(Value::String(self.unit_price.currency.as_str().to_owned())),
            "active" => Some(Value::Bool(self.active)),
            _ => None,
        }
    }
}

/// A create or merge-patch of a product, as raw client values.
#[derive(Debug, Clone, Default)]
pub struct ProductChanges {
    pub name: Patch<String>,
    pub sku: Patch<String>,
    pub description: Patch<String>,
    pub unit_price: Patch<MoneyInput>,
    pub active: Patch<bool>,
    pub owner_id: Patch<String>,
    pub team_id: Patch<String>,
    pub tags: Patch<Vec<String>>,
}

/// A SKU as stored: trimmed, 1 to [`SKU_MAX`] letters, digits and `-_./`.
fn parse_sku(raw: &str) -> Result<String, FieldError> {
    let sku = required_text("sku", raw, SKU_MAX)?;
    if !sku.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')) {
        return Err(FieldError::new("sku", "invalid", "may hold only letters, digits and - _ . /"));
    }
    Ok(sku)
}

impl ProductData {
    /// Applies `changes` to `current` (`None` for a create) and checks the result: a product
    /// needs a name and a unit price; it is active unless said otherwise.
    pub fn apply(current: Option<&ProductData>, changes: ProductChanges) -> Result<ProductData, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match (changes.name, current) {
            (Patch::Keep, Some(current)) => Some(current.name.clone()),
            (Patch::Set(raw), _) => errors.collect(required_text("name", &raw, SHORT_TEXT_MAX)),
            (Patch::Keep | Patch::Clear, _) => {
                errors.push(FieldError::new("name", "required", "a product needs a name"));
                None
            }
        };
        let unit_price = match (changes.unit_price, current) {
            (Patch::Keep, Some(current)) => Some(current.unit_price.clone()),
            (Patch::Set(input), _) => {
                match Money::parse_non_negative("unit_price", input.amount_minor, &input.currency) {
                    Ok(money) => Some(money),
                    Err(e) => {
                        errors.extend_prefixed("", e);
                        None
                    }
                }
            }
            (Patch::Keep | Patch::Clear, _) => {
                errors.push(FieldError::new("unit_price", "required", "a product needs a unit price"));
                None
            }
        };
        let sku = match changes.sku {
            Patch::Keep => current.and_then(|c| c.sku.clone()),
            Patch::Clear => None,
            Patch::Set(raw) => errors.collect(parse_sku(&raw)),
        };
        let description = patch_text(
            &mut errors,
            "description",
            changes.description,
            current.and_then(|c| c.description.clone()),
            LONG_TEXT_MAX,
        );
        let mut optional = |field: &str, patch: Patch<String>, current: Option<String>| match patch {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(raw) => errors.collect(optional_text(field, &raw, 64)).flatten(),
        };
        let owner_id = optional("owner_id", changes.owner_id, current.and_then(|c| c.owner_id.clone()));
        let team_id = optional("team_id", changes.team_id, current.and_then(|c| c.team_id.clone()));
        let active = match changes.active {
            Patch::Set(active) => active,
            Patch::Keep => current.is_none_or(|c| c.active),
            Patch::Clear => {
                errors.push(FieldError::new("active", "required", "is true or false, never null"));
                true
            }
        };
        let tags = patch_tags(&mut errors, changes.tags, current.map(|c| c.tags.clone()).unwrap_or_default());
        let custom_fields = current.map(|c| c.custom_fields.clone()).unwrap_or_default();
        match (name, unit_price) {
            (Some(name), Some(unit_price)) => errors.into_result(|| ProductData {
                name,
                sku,
                description,
                unit_price,
                active,
                owner_id,
                team_id,
                tags,
                custom_fields,
            }),
            _ => Err(errors),
        }
    }

    /// The key `name` sorts on.
    pub fn sort_name(&self) -> String {
        self.name.to_lowercase()
    }

    /// Everything `q` searches: name, SKU, description.
    pub fn search_text(&self) -> String {
        search_text(
            [Some(self.name.as_str()), self.sku.as_deref(), self.description.as_deref()]
                .into_iter()
                .chain(self.custom_fields.search_parts().iter().map(|p| Some(p.as_str()))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(amount_minor: i64, currency: &str) -> Patch<MoneyInput> {
        Patch::Set(MoneyInput { amount_minor, currency: currency.into() })
    }

    #[test]
    fn a_product_needs_a_name_and_a_price_and_is_active_by_default() {
        let fields: Vec<String> = ProductData::apply(None, ProductChanges::default())
            .err()
            .map(|e| e.errors().iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["name", "unit_price"]);
        let created = ProductData::apply(
            None,
            ProductChanges { name: Patch::Set(" Seat ".into()), unit_price: price(4_900, "eur"), ..Default::default() },
        );
        assert!(
            created.as_ref().is_ok_and(|p| p.active && p.name == "Seat" && p.unit_price.currency.as_str() == "EUR")
        );
        let patched = ProductData::apply(created.as_ref().ok(), ProductChanges::default());
        assert_eq!(patched.ok(), created.ok());
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let changes = ProductChanges {
            name: Patch::Set("Seat".into()),
            sku: Patch::Set("SEAT 01".into()),
            unit_price: price(-1, "XYZ"),
            active: Patch::Clear,
            ..Default::default()
        };
        let fields: Vec<String> = ProductData::apply(None, changes)
            .err()
            .map(|e| e.errors().iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["unit_price.amount_minor", "unit_price.currency", "sku", "active"]);
    }

    #[test]
    fn a_sku_is_trimmed_and_cleared_by_null() {
        let base = ProductChanges {
            name: Patch::Set("Seat".into()),
            unit_price: price(100, "USD"),
            sku: Patch::Set("  SEAT-01/A  ".into()),
            ..Default::default()
        };
        let created = ProductData::apply(None, base).ok();
        assert_eq!(created.as_ref().and_then(|p| p.sku.as_deref()), Some("SEAT-01/A"));
        let cleared = ProductData::apply(created.as_ref(), ProductChanges { sku: Patch::Clear, ..Default::default() });
        assert!(cleared.is_ok_and(|p| p.sku.is_none()));
    }
}
