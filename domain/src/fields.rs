//! The standard fields of a record type, each declared once with everything the generic
//! machinery needs: how filters and sorts read it, the column that stores it, whether it is
//! part of the record's search text, and its CSV shape. The filter catalogue
//! (`filter::Catalogue`), the CSV columns (`columns::standard`) and the search compiler's
//! column lookup (`persistence::search`) all read these lists through the registry, so a
//! field cannot be filterable but unsearchable by accident or exported but not importable
//! without saying so here.
//!
//! Each record type's list lives next to its data (`contact::FIELDS`, ...), in CSV export
//! order; the fields every type shares are the constants below.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// How a filter reads a standard field, which decides the operators it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    Text,
    Number,
    Date,
    DateTime,
    Bool,
    /// A list of values (tags).
    Multi,
    /// A record id.
    Id,
    /// One of fixed lower-case options.
    Choice(&'static [&'static str]),
}

/// How a cell's text maps to a field's JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Text,
    Integer,
    /// `true` or `false` (also `yes`/`no`, `1`/`0`).
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// One of fixed lower-case options (read case-insensitively).
    Choice(&'static [&'static str]),
    /// Values separated by `;`.
    List,
    /// Emails separated by `;` ↔ `[{"email": …}]`.
    Emails,
    /// Phone numbers separated by `;` ↔ `[{"number": …}]`.
    Phones,
    /// Minor units and a currency, `125000 EUR` ↔ `{"amount_minor": 125000, "currency": "EUR"}`.
    Money,
    /// A time the system sets (exported, never imported).
    Time,
}

/// Where a field's value is stored, for the search compiler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A column of the record's table named like the field.
    Own,
    /// A column of the record's table with another name (`primary_email`).
    Column(&'static str),
    /// Not a column of the table: `persistence::search` derives it (`stage_kind`).
    Derived,
}

/// A field's use in filters and sorts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filterable {
    pub kind: FilterKind,
    pub sortable: bool,
}

/// A field's CSV column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Csv {
    pub shape: Shape,
    /// False for what the system sets: `id`, times, scores.
    pub importable: bool,
}

/// One standard field of a record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Its name in filters, sorts and CSV headers; for CSV the path in the API view and body
    /// (`address.city`).
    pub name: &'static str,
    pub storage: Storage,
    /// How filters read it, if they may name it.
    pub filter: Option<Filterable>,
    /// Its CSV column, if imports and exports carry it.
    pub csv: Option<Csv>,
    /// Part of the record's search text: a `contains` on it may first narrow by the text index.
    pub in_search_text: bool,
}

impl FieldSpec {
    /// A field nothing reads yet; the builders below say what does.
    pub const fn new(name: &'static str) -> FieldSpec {
        FieldSpec { name, storage: Storage::Own, filter: None, csv: None, in_search_text: false }
    }

    /// Filters may name it.
    pub const fn filter(self, kind: FilterKind) -> FieldSpec {
        FieldSpec { filter: Some(Filterable { kind, sortable: false }), ..self }
    }

    /// Filters may name it and searches may sort by it.
    pub const fn sort(self, kind: FilterKind) -> FieldSpec {
        FieldSpec { filter: Some(Filterable { kind, sortable: true }), ..self }
    }

    /// Imports read it and exports write it.
    pub const fn csv(self, shape: Shape) -> FieldSpec {
        FieldSpec { csv: Some(Csv { shape, importable: true }), ..self }
    }

    /// Exports write it; the system sets it, so imports refuse it.
    pub const fn exported(self, shape: Shape) -> FieldSpec {
        FieldSpec { csv: Some(Csv { shape, importable: false }), ..self }
    }

    /// Stored in a column named otherwise.
    pub const fn column(self, column: &'static str) -> FieldSpec {
        FieldSpec { storage: Storage::Column(column), ..self }
    }

    /// Not a column of the record's table.
    pub const fn derived(self) -> FieldSpec {
        FieldSpec { storage: Storage::Derived, ..self }
    }

    /// Part of the record's search text.
    pub const fn searched(self) -> FieldSpec {
        FieldSpec { in_search_text: true, ..self }
    }

    /// The column of the record's table that holds it, unless it is derived.
    pub fn column_name(&self) -> Option<&'static str> {
        match self.storage {
            Storage::Own => Some(self.name),
            Storage::Column(column) => Some(column),
            Storage::Derived => None,
        }
    }
}

/// Where a record came from (`source`).
pub const SOURCES: &[&str] =
    &["web_form", "import", "api", "manual", "ads", "social", "referral", "event", "email", "other"];

/// The record's id: exported, and on import the record a row updates.
pub const ID: FieldSpec = FieldSpec::new("id").exported(Shape::Text);
/// The display name every record sorts by (`sort_name`: a contact's full name, a company's name).
pub const NAME: FieldSpec = FieldSpec::new("name").sort(FilterKind::Text).column("sort_name");
/// The owning user.
pub const OWNER_ID: FieldSpec = FieldSpec::new("owner_id").filter(FilterKind::Id).csv(Shape::Text);
/// The owning team.
pub const TEAM_ID: FieldSpec = FieldSpec::new("team_id").filter(FilterKind::Id).csv(Shape::Text);
/// Free-form labels.
pub const TAGS: FieldSpec = FieldSpec::new("tags").filter(FilterKind::Multi).csv(Shape::List);
/// When the record was created.
pub const CREATED_AT: FieldSpec = FieldSpec::new("created_at").sort(FilterKind::DateTime).exported(Shape::Time);
/// When the record last changed.
pub const UPDATED_AT: FieldSpec = FieldSpec::new("updated_at").sort(FilterKind::DateTime).exported(Shape::Time);

/// The postal address every addressable record has, as CSV columns.
pub const ADDRESS: [FieldSpec; 5] = [
    FieldSpec::new("address.street").csv(Shape::Text),
    FieldSpec::new("address.city").csv(Shape::Text),
    FieldSpec::new("address.region").csv(Shape::Text),
    FieldSpec::new("address.postal_code").csv(Shape::Text),
    FieldSpec::new("address.country").csv(Shape::Text),
];

/// The fields every record type with standard fields has, which a unit test in
/// `registry` checks each list holds.
pub const SHARED: [&str; 7] = ["id", "name", "owner_id", "team_id", "tags", "created_at", "updated_at"];

/// Reads a record's standard fields by their declared names, for in-memory filter evaluation
/// and search cursors. Each record type implements it next to its [`FieldSpec`] list for the
/// fields its data holds (`name` and `tags` included); owner, team, custom fields and times
/// are read the same way for every type (`field_values`).
pub trait ReadFields {
    /// The field's value as filters compare it, if the record has one.
    fn read(&self, name: &str) -> Option<Value>;
}

/// A text field's value.
pub fn text(value: Option<&str>) -> Option<Value> {
    value.map(|v| Value::String(v.to_owned()))
}

/// A serialisable field's value (choices by their API names).
pub fn json<T: serde::Serialize>(value: Option<T>) -> Option<Value> {
    value.and_then(|v| serde_json::to_value(v).ok())
}

/// A time as filters and cursors spell it.
pub fn time_text(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}
