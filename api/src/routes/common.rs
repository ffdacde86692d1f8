//! Request and response shapes shared by several resources.

use domain::contact::{ContactEmail, ContactPhone};
use domain::values::{Address, AddressInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

/// A postal address; every part optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    #[validate(length(max = 500))]
    #[schema(max_length = 500, example = "12 Market Street")]
    pub street: Option<String>,
    #[validate(length(max = 200))]
    #[schema(max_length = 200, example = "London")]
    pub city: Option<String>,
    #[validate(length(max = 200))]
    #[schema(max_length = 200, example = "Greater London")]
    pub region: Option<String>,
    #[validate(length(max = 20))]
    #[schema(max_length = 20, example = "EC1A 1BB")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[validate(length(max = 2))]
    #[schema(max_length = 2, example = "GB")]
    pub country: Option<String>,
}

impl From<AddressBody> for AddressInput {
    fn from(body: AddressBody) -> Self {
        AddressInput {
            street: body.street,
            city: body.city,
            region: body.region,
            postal_code: body.postal_code,
            country: body.country,
        }
    }
}

impl From<Address> for AddressBody {
    fn from(address: Address) -> Self {
        AddressBody {
            street: address.street,
            city: address.city,
            region: address.region,
            postal_code: address.postal_code,
            country: address.country,
        }
    }
}

/// An email address of a contact.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct EmailBody {
    /// Stored lower-cased.
    #[validate(length(max = 254))]
    #[schema(max_length = 254, example = "ada@example.com")]
    pub email: String,
    pub label: Option<domain::contact::ChannelLabel>,
    /// Exactly one entry is primary; the first one when none is marked.
    #[serde(default)]
    #[schema(default = false)]
    pub primary: bool,
}

impl From<ContactEmail> for EmailBody {
    fn from(entry: ContactEmail) -> Self {
        EmailBody { email: entry.email, label: entry.label, primary: entry.primary }
    }
}

/// A phone number of a contact.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PhoneBody {
    /// International form with country code; stored and shown in E.164.
    #[validate(length(max = 40))]
    #[schema(max_length = 40, example = "+442079460000")]
    pub number: String,
    pub label: Option<domain::contact::ChannelLabel>,
    /// Exactly one entry is primary; the first one when none is marked.
    #[serde(default)]
    #[schema(default = false)]
    pub primary: bool,
}

impl From<ContactPhone> for PhoneBody {
    fn from(entry: ContactPhone) -> Self {
        PhoneBody { number: entry.number, label: entry.label, primary: entry.primary }
    }
}

/// An amount of money: integer minor units (cents) and an ISO 4217 currency.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct MoneyBody {
    /// Minor units: 1234 EUR cents is 12.34 EUR. Never a float.
    #[validate(range(min = 0))]
    #[schema(minimum = 0, example = 250000000)]
    pub amount_minor: i64,
    #[validate(length(equal = 3))]
    #[schema(min_length = 3, max_length = 3, example = "EUR")]
    pub currency: String,
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The grants of a role as the API shows them: module → action → scope (its OpenAPI
/// description; the value is a map of `domain::access` enums).
pub struct GrantsSchema;

impl utoipa::PartialSchema for GrantsSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder};
        // The names as serde writes them, so the description cannot drift from the wire.
        fn name(value: impl Serialize) -> String {
            serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
        }
        let mut actions = ObjectBuilder::new().additional_properties(Some(AdditionalProperties::FreeForm(false)));
        for action in domain::access::Action::ALL {
            actions = actions.property(name(action), utoipa::openapi::Ref::from_schema_name("Scope"));
        }
        let actions = actions.build();
        let mut modules = ObjectBuilder::new()
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .description(Some("Module → action → scope; an action left out is `none`."));
        for module in domain::access::Module::ALL {
            modules = modules.property(name(module), actions.clone());
        }
        modules.into()
    }
}

impl ToSchema for GrantsSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Grants")
    }

    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.push(("Scope".into(), <domain::access::Scope as utoipa::PartialSchema>::schema()));
    }
}

/// Query parameters of a create that checks for duplicates.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    /// Create even when the record looks like an existing one (otherwise 409 names it).
    #[serde(default)]
    pub allow_duplicate: bool,
}
