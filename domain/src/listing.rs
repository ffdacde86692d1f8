//! List parameters shared by every resource: page size, sort keys, keyset positions.

use crate::validation::FieldError;

/// Page size used when a client gives none.
pub const DEFAULT_LIMIT: u32 = 25;
/// Largest page a client may ask for; more is refused, not clamped, so clients notice.
pub const MAX_LIMIT: u32 = 100;
/// Most sort keys one request may combine.
pub const MAX_SORT_KEYS: usize = 3;
/// Longest accepted text-search query.
pub const MAX_QUERY_LEN: usize = 200;

/// A validated page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    /// `None` gives the default; 0 or more than [`MAX_LIMIT`] is refused.
    pub fn parse(raw: Option<u32>) -> Result<Self, FieldError> {
        match raw {
            None => Ok(Self(DEFAULT_LIMIT)),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(Self(n)),
            Some(_) => Err(FieldError::new("limit", "out_of_range", format!("must be between 1 and {MAX_LIMIT}"))),
        }
    }

    /// The page size.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// One sort key of a record type, with its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey<K> {
    pub key: K,
    pub direction: Direction,
}

/// Record types name the keys they can sort on (each backed by an index).
pub trait SortField: Copy + PartialEq + Sized + 'static {
    /// Every sortable key with its API name.
    const FIELDS: &'static [(&'static str, Self)];
    /// The order used when the client gives none.
    const DEFAULT: &'static [SortKey<Self>];
}

/// Parses `-created_at,name` against the record type's sortable keys.
pub fn parse_sort<K: SortField>(raw: Option<&str>) -> Result<Vec<SortKey<K>>, FieldError> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(K::DEFAULT.to_vec());
    };
    let allowed = || K::FIELDS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
    let mut keys: Vec<SortKey<K>> = Vec::new();
    for part in raw.split(',') {
        let part = part.trim();
        let (direction, name) = match part.strip_prefix('-') {
            Some(name) => (Direction::Descending, name),
            None => (Direction::Ascending, part),
        };
        let Some((_, key)) = K::FIELDS.iter().find(|(field, _)| *field == name) else {
            return Err(FieldError::new(
                "sort",
                "unknown_sort_field",
                format!("`{name}` is not sortable; use one of: {}", allowed()),
            ));
        };
        if keys.iter().any(|k| k.key == *key) {
            return Err(FieldError::new("sort", "duplicate_sort_field", format!("`{name}` appears twice")));
        }
        keys.push(SortKey { key: *key, direction });
    }
    if keys.len() > MAX_SORT_KEYS {
        return Err(FieldError::new("sort", "too_many_sort_fields", format!("at most {MAX_SORT_KEYS} sort fields")));
    }
    Ok(keys)
}

/// The keys every record list can sort on; each is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSort {
    CreatedAt,
    UpdatedAt,
    /// The record's display name, lower-cased (for contacts: last name, first name).
    Name,
}

impl SortField for RecordSort {
    const FIELDS: &'static [(&'static str, Self)] =
        &[("created_at", Self::CreatedAt), ("updated_at", Self::UpdatedAt), ("name", Self::Name)];
    const DEFAULT: &'static [SortKey<Self>] = &[SortKey { key: Self::CreatedAt, direction: Direction::Descending }];
}

/// A value of a sort key as carried in a cursor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    /// Microseconds since the Unix epoch.
    Time(i64),
    Text(String),
}

/// Where the previous page ended: the last row's sort values and id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    #[serde(rename = "v")]
    pub values: Vec<SortValue>,
    #[serde(rename = "i")]
    pub id: String,
}

/// A normalised text-search query: trimmed, lower-cased, bounded.
pub fn parse_text_query(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(query) = raw.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    if query.chars().count() > MAX_QUERY_LEN {
        return Err(FieldError::new("q", "too_long", format!("must be at most {MAX_QUERY_LEN} characters")));
    }
    // No stored text holds them, and a NUL ends SQLite's full-text query early.
    if query.chars().any(char::is_control) {
        return Err(FieldError::new("q", "invalid_characters", "must not contain control characters"));
    }
    Ok(Some(query.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_query_is_trimmed_lower_cased_and_free_of_control_characters() {
        assert_eq!(parse_text_query(Some("  Ada ")), Ok(Some("ada".into())));
        assert_eq!(parse_text_query(Some("   ")), Ok(None));
        assert_eq!(parse_text_query(Some("00\0")).map_err(|e| e.code), Err("invalid_characters"));
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Key {
        Created,
        Name,
    }

    impl SortField for Key {
        const FIELDS: &'static [(&'static str, Self)] = &[("created_at", Key::Created), ("name", Key::Name)];
        const DEFAULT: &'static [SortKey<Self>] = &[SortKey { key: Key::Created, direction: Direction::Descending }];
    }

    #[test]
    fn sort_parses_directions_in_order() {
        let keys = parse_sort::<Key>(Some("-created_at,name"));
        assert_eq!(
            keys,
            Ok(vec![
                SortKey { key: Key::Created, direction: Direction::Descending },
                SortKey { key: Key::Name, direction: Direction::Ascending },
            ])
        );
    }

    #[test]
    fn sort_refuses_unknown_and_repeated_fields() {
        assert_eq!(parse_sort::<Key>(Some("email")).map_err(|e| e.code), Err("unknown_sort_field"));
        assert_eq!(parse_sort::<Key>(Some("name,-name")).map_err(|e| e.code), Err("duplicate_sort_field"));
        assert_eq!(parse_sort::<Key>(None).map(|k| k.len()), Ok(1));
    }

    #[test]
    fn limits_outside_the_documented_range_are_refused() {
        assert_eq!(Limit::parse(None).map(Limit::get), Ok(DEFAULT_LIMIT));
        assert!(Limit::parse(Some(0)).is_err());
        assert!(Limit::parse(Some(MAX_LIMIT + 1)).is_err());
    }

    #[test]
    fn text_queries_are_normalised() {
        assert_eq!(parse_text_query(Some("  ADA ")), Ok(Some("ada".to_owned())));
        assert_eq!(parse_text_query(Some("   ")), Ok(None));
    }
}

impl Position {
    /// True when the cursor's values have the types the sort keys need, so a cursor from
    /// another sort order (or a forged one) is refused instead of misread.
    pub fn fits(&self, keys: &[SortKey<RecordSort>]) -> bool {
        self.values.len() == keys.len()
            && keys.iter().zip(&self.values).all(|(key, value)| {
                matches!(
                    (key.key, value),
                    (RecordSort::CreatedAt | RecordSort::UpdatedAt, SortValue::Time(_))
                        | (RecordSort::Name, SortValue::Text(_))
                )
            })
    }
}

/// Filters every record list accepts.
#[derive(Debug, Clone, Default)]
pub struct CommonFilters {
    pub owner_id: Option<String>,
    pub tag: Option<String>,
    pub created_after: Option<chrono::DateTime<chrono::Utc>>,
    pub created_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Normalised text query (see [`parse_text_query`]).
    pub q: Option<String>,
    /// List soft-deleted records instead of live ones (admins, to restore).
    pub deleted: bool,
}

/// Sort, position and size of the page asked for.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub sort: Vec<SortKey<RecordSort>>,
    pub after: Option<Position>,
    pub limit: Limit,
}
