//! What every business record shares: merge-patch changes and ownership.

use crate::validation::ValidationErrors;
use crate::values::{Address, AddressInput, Tags};

/// One field of a JSON merge-patch: absent (keep), `null` (clear) or a value (set).
/// A create is a patch applied to an empty record, so both share one rule set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    /// From a field that is either absent or present (create bodies).
    pub fn from_option(value: Option<T>) -> Self {
        value.map_or(Patch::Keep, Patch::Set)
    }

    /// True when the field was not mentioned.
    pub fn is_keep(&self) -> bool {
        matches!(self, Patch::Keep)
    }

    /// The value the patch sets, if it sets one.
    pub fn set_value(&self) -> Option<&T> {
        match self {
            Patch::Set(value) => Some(value),
            Patch::Keep | Patch::Clear => None,
        }
    }

    /// The patch of a converted value.
    pub fn map<U>(self, convert: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(convert(v)),
        }
    }

    /// True when the field was mentioned.
    pub fn is_given(&self) -> bool {
        !matches!(self, Patch::Keep)
    }

    /// Parses a set value, keeping keep/clear as they are.
    pub fn try_map<U, E>(self, parse: impl FnOnce(T) -> Result<U, E>) -> Result<Patch<U>, E> {
        Ok(match self {
            Patch::Keep => Patch::Keep,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(parse(v)?),
        })
    }

    /// The field's value after the patch, given its current value.
    pub fn resolve(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }
}

/// A request body field reads itself as a patch: `null` clears, a value sets, and an absent
/// field keeps (with `#[serde(default)]`), so one body type serves POST and merge-patch PATCH
/// without an `Option<Option<T>>` and a conversion per field.
impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map_or(Patch::Clear, Patch::Set))
    }
}

/// Written back as it was read (skip a kept field with `skip_serializing_if = "Patch::is_keep"`).
impl<T: serde::Serialize> serde::Serialize for Patch<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Set(value) => value.serialize(serializer),
            Patch::Keep | Patch::Clear => serializer.serialize_none(),
        }
    }
}

/// RFC 7396 JSON merge-patch: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
    match patch {
        serde_json::Value::Object(entries) => {
            if !target.is_object() {
                *target = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(map) = target {
                for (key, value) in entries {
                    if value.is_null() {
                        map.remove(&key);
                    } else {
                        merge_patch(map.entry(key).or_insert(serde_json::Value::Null), value);
                    }
                }
            }
        }
        other => *target = other,
    }
}

/// Tags after a patch; a refused list is reported into `errors`.
pub fn patch_tags(errors: &mut ValidationErrors, patch: Patch<Vec<String>>, current: Tags) -> Tags {
    match patch {
        Patch::Keep => current,
        Patch::Clear => Tags::default(),
        Patch::Set(raw) => Tags::parse("tags", &raw).unwrap_or_else(|e| {
            errors.extend_prefixed("", e);
            Tags::default()
        }),
    }
}

/// An address after a patch; refused parts are reported into `errors`.
pub fn patch_address(
    errors: &mut ValidationErrors,
    patch: Patch<AddressInput>,
    current: Option<Address>,
) -> Option<Address> {
    match patch {
        Patch::Keep => current,
        Patch::Clear => None,
        Patch::Set(input) => Address::parse("address", &input).unwrap_or_else(|e| {
            errors.extend_prefixed("", e);
            None
        }),
    }
}

/// A text field after a patch: trimmed and bounded; a blank value clears it. A refused
/// value is reported into `errors` and the current value kept.
pub fn patch_text(
    errors: &mut ValidationErrors,
    field: &str,
    patch: Patch<String>,
    current: Option<String>,
    max: usize,
) -> Option<String> {
    match patch {
        Patch::Keep => current,
        Patch::Clear => None,
        Patch::Set(raw) => errors.collect(crate::values::optional_text(field, &raw, max)).unwrap_or(current),
    }
}

/// Text as stored for search: every part lower-cased and joined, for one indexed column.
pub fn search_text<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    parts.into_iter().flatten().filter(|p| !p.is_empty()).map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, serde::Serialize)]
    struct Body {
        #[serde(default, skip_serializing_if = "Patch::is_keep")]
        name: Patch<String>,
    }

    #[test]
    fn a_body_field_reads_absent_as_keep_null_as_clear_and_a_value_as_set() {
        let read = |text: &str| serde_json::from_str::<Body>(text).map(|b| b.name).ok();
        assert_eq!(read("{}"), Some(Patch::Keep));
        assert_eq!(read(r#"{"name": null}"#), Some(Patch::Clear));
        assert_eq!(read(r#"{"name": "Ada"}"#), Some(Patch::Set("Ada".to_owned())));
        assert_eq!(read(r#"{"name": 5}"#), None);
        let written = |name| serde_json::to_string(&Body { name }).unwrap_or_default();
        assert_eq!(written(Patch::Keep), "{}");
        assert_eq!(written(Patch::Clear), r#"{"name":null}"#);
        assert_eq!(written(Patch::Set("Ada".into())), r#"{"name":"Ada"}"#);
    }

    #[test]
    fn a_patch_keeps_clears_or_sets() {
        assert_eq!(Patch::<i32>::Keep.resolve(Some(1)), Some(1));
        assert_eq!(Patch::<i32>::Clear.resolve(Some(1)), None);
        assert_eq!(Patch::Set(2).resolve(Some(1)), Some(2));
        assert_eq!(Patch::Set(2).set_value(), Some(&2));
        assert_eq!(Patch::<i32>::Clear.set_value(), None);
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = serde_json::json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, serde_json::json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, serde_json::json!({"a": "z", "c": {"d": "e"}}));
        merge_patch(&mut doc, serde_json::json!({"c": [1]}));
        assert_eq!(doc, serde_json::json!({"a": "z", "c": [1]}));
    }

    #[test]
    fn search_text_skips_missing_parts() {
        assert_eq!(search_text([Some("Ada"), None, Some("ADA@X.IO")]), "ada ada@x.io");
    }
}

/// A record as stored: its data plus identity, version and timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T> {
    pub id: String,
    pub data: T,
    /// Incremented by every change; the API's `ETag`.
    pub version: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Set while the record is soft-deleted (restorable by an admin).
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Records that carry an owner and a team, which decide who reaches them.
pub trait Owned {
    /// The record's owner and team.
    fn ownership(&self) -> crate::access::Ownership<'_>;
}

/// Implements [`Owned`] for record data with `owner_id` and `team_id` fields.
macro_rules! owned_by_fields {
    ($($data:ty),+) => {$(
        impl $crate::record::Owned for $data {
            fn ownership(&self) -> crate::access::Ownership<'_> {
                crate::access::Ownership { owner_id: self.owner_id.as_deref(), team_id: self.team_id.as_deref() }
            }
        }
    )+};
}

pub(crate) use owned_by_fields;

/// One page of a keyset-paginated list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<crate::listing::Position>,
}
