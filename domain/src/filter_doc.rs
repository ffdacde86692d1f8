//! The filter language as the OpenAPI document describes it: a node is a group or a
//! condition. Documentation only; `filter::Filter::parse` is what reads filters.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::filter::OPERATOR_NAMES;

/// A node of a filter: a group or a condition (documentation of the filter language).
pub struct FilterNode;
/// `{"and": [nodes]}` or `{"or": [nodes]}`.
pub struct FilterGroup;
/// `{"field", "op", "value"}`.
pub struct FilterCondition;

impl PartialSchema for FilterNode {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(Ref::from_schema_name("FilterGroup"))
            .item(Ref::from_schema_name("FilterCondition"))
            .description(Some(format!(
                "A group or a condition. Groups nest at most {} deep and a filter holds at most {} conditions.",
                crate::filter::MAX_DEPTH,
                crate::filter::MAX_CONDITIONS
            )))
            .into()
    }
}

impl ToSchema for FilterNode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FilterNode")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("FilterGroup".into(), FilterGroup::schema()));
        schemas.push(("FilterCondition".into(), FilterCondition::schema()));
    }
}

impl PartialSchema for FilterGroup {
    fn schema() -> RefOr<Schema> {
        let nodes = || ArrayBuilder::new().items(Ref::from_schema_name("FilterNode")).build();
        ObjectBuilder::new()
            .property("and", nodes())
            .property("or", nodes())
            .min_properties(Some(1))
            .max_properties(Some(1))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .description(Some("Every part holds (`and`) or some part holds (`or`)."))
            .into()
    }
}

impl PartialSchema for FilterCondition {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "field",
                ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).description(Some(
                    "A standard field, `custom_fields.<key>`, `company.<field>` (contacts, deals), `has_open_deal` (contacts, companies) or `activity.<type>` (the times of the record's activities of that type).",
                )),
            )
            .required("field")
            .property(
                "op",
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .enum_values(Some(OPERATOR_NAMES.iter().map(|(name, _)| *name)))
                    .description(Some("Text: eq neq in contains starts_with is_empty is_not_empty (case-insensitive). Numbers: eq neq in gt gte lt lte between is_empty is_not_empty. Dates and times: eq gt gte lt lte between is_empty is_not_empty last_n_days next_n_days. Booleans: eq is_empty is_not_empty. Choices and ids: eq neq in is_empty is_not_empty. Lists (tags, multi dropdowns): contains in is_empty is_not_empty.")),
            )
            .required("op")
            .property(
                "value",
                ObjectBuilder::new().schema_type(SchemaType::AnyValue).description(Some(format!(
                    "The operand: a value, an array for `in` (at most {}) and `between` ([from, to]), a number of days for `last_n_days`/`next_n_days`, none for `is_empty`/`is_not_empty`.",
                    crate::filter::MAX_IN_VALUES
                ))),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}
