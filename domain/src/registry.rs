//! Every record type, declared once: its names, its module (grants), its table and what the
//! generic machinery does with it (row locks, the text index, purge, team clean-up, links,
//! match keys, history). Lists that must agree are loops over [`RECORD_TYPES`]; a record type
//! missing from one of them cannot happen silently, and the tests below check each entry is
//! complete against the rest of the domain.

use crate::access::Module;
use crate::activity::RecordType;
use crate::fields::FieldSpec;

/// What a record type is, for everything that handles record types generically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTypeSpec {
    /// Singular, as messages, the audit log and stored references name it: "contact".
    pub noun: &'static str,
    /// The collection under `/api/v1`, which is also its table: "contacts".
    pub collection: &'static str,
    /// Whose grants reach it.
    pub module: Module,
    /// The type as activities, tasks and timelines link to it, if they do.
    pub linked_as: Option<RecordType>,
    /// Activities and tasks may link to it, and it has a timeline of them.
    pub timeline: bool,
    /// An item linked to records in `record_links` ("activity", "task"), if it is one.
    pub link_item: Option<&'static str>,
    /// `q` is served by a text index (FTS5 on SQLite, trigrams on PostgreSQL) besides LIKE.
    pub text_index: bool,
    /// Its match keys live in `record_keys` (duplicate detection and merges).
    pub match_keys: bool,
    /// Its stage or status changes live in `record_changes`.
    pub change_history: bool,
    /// Columns of other record tables that point at it, `(table, column)`: they lose the link
    /// when it is purged.
    pub referred_by: &'static [(&'static str, &'static str)],
    /// Its standard fields, in CSV order (empty for types without filters or CSV).
    pub fields: &'static [FieldSpec],
    /// The API's name for its owner (`owner_id`; tasks call theirs `assignee_id`).
    pub owner_field: &'static str,
}

impl RecordTypeSpec {
    /// The table its rows live in.
    pub fn table(&self) -> &'static str {
        self.collection
    }

    /// Its standard field with this name.
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Every record type, in purge order: a type comes before the types its rows point to
/// (tasks name the activity they follow up, deals their company and lead).
pub const RECORD_TYPES: [RecordTypeSpec; 9] =
    [TICKETS, TASKS, ACTIVITIES, DEALS, LEADS, CONTACTS, COMPANIES, PRODUCTS, ARTICLES];

/// Tasks.
pub const TASKS: RecordTypeSpec = RecordTypeSpec {
    noun: "task",
    collection: "tasks",
    module: Module::Tasks,
    linked_as: None,
    timeline: false,
    link_item: Some("task"),
    text_index: false,
    match_keys: false,
    change_history: false,
    referred_by: &[],
    fields: &[],
    owner_field: "assignee_id",
};

/// Activities (emails, calls, meetings, chats, social messages, notes).
pub const ACTIVITIES: RecordTypeSpec = RecordTypeSpec {
    noun: "activity",
    collection: "activities",
    module: Module::Activities,
    linked_as: None,
    timeline: false,
    link_item: Some("activity"),
    text_index: false,
    match_keys: false,
    change_history: false,
    referred_by: &[("tasks", "activity_id")],
    fields: &[],
    owner_field: "owner_id",
};

/// Deals.
pub const DEALS: RecordTypeSpec = RecordTypeSpec {
    noun: "deal",
    collection: "deals",
    module: Module::Deals,
    linked_as: Some(RecordType::Deal),
    timeline: true,
    link_item: None,
    text_index: true,
    match_keys: false,
    change_history: true,
    referred_by: &[],
    fields: crate::deal::FIELDS,
    owner_field: "owner_id",
};

/// Leads.
pub const LEADS: RecordTypeSpec = RecordTypeSpec {
    noun: "lead",
    collection: "leads",
    module: Module::Leads,
    linked_as: Some(RecordType::Lead),
    timeline: true,
    link_item: None,
    text_index: true,
    match_keys: false,
    change_history: true,
    referred_by: &[("deals", "lead_id")],
    fields: crate::lead::FIELDS,
    owner_field: "owner_id",
};

/// Contacts.
pub const CONTACTS: RecordTypeSpec = RecordTypeSpec {
    noun: "contact",
    collection: "contacts",
    module: Module::Contacts,
    linked_as: Some(RecordType::Contact),
    timeline: true,
    link_item: None,
    text_index: true,
    match_keys: true,
    change_history: false,
    referred_by: &[("tickets", "requester_id")],
    fields: crate::contact::FIELDS,
    owner_field: "owner_id",
};

/// Companies.
pub const COMPANIES: RecordTypeSpec = RecordTypeSpec {
    noun: "company",
    collection: "companies",
    module: Module::Companies,
    linked_as: Some(RecordType::Company),
    timeline: true,
    link_item: None,
    text_index: true,
    match_keys: true,
    change_history: false,
    referred_by: &[("contacts", "company_id"), ("deals", "company_id"), ("tickets", "company_id")],
    fields: crate::company::FIELDS,
    owner_field: "owner_id",
};

/// Products (the catalogue).
pub const PRODUCTS: RecordTypeSpec = RecordTypeSpec {
    noun: "product",
    collection: "products",
    module: Module::Products,
    linked_as: Some(RecordType::Product),
    timeline: false,
    link_item: None,
    text_index: true,
    match_keys: false,
    change_history: false,
    referred_by: &[],
    fields: crate::product::FIELDS,
    owner_field: "owner_id",
};

/// Support tickets.
pub const TICKETS: RecordTypeSpec = RecordTypeSpec {
    noun: "ticket",
    collection: "tickets",
    module: Module::Tickets,
    linked_as: Some(RecordType::Ticket),
    timeline: true,
    link_item: None,
    text_index: true,
    match_keys: false,
    change_history: true,
    referred_by: &[("tickets", "problem_id")],
    fields: crate::ticket::FIELDS,
    owner_field: "owner_id",
};

/// Knowledge-base articles.
pub const ARTICLES: RecordTypeSpec = RecordTypeSpec {
    noun: "article",
    collection: "articles",
    module: Module::Articles,
    linked_as: Some(RecordType::Article),
    timeline: false,
    link_item: None,
    text_index: true,
    match_keys: false,
    change_history: false,
    referred_by: &[],
    fields: crate::article::FIELDS,
    owner_field: "owner_id",
};

/// The record type with this collection (or table) name.
pub fn by_collection(collection: &str) -> Option<&'static RecordTypeSpec> {
    RECORD_TYPES.iter().find(|spec| spec.collection == collection)
}

/// The record type activities and tasks link to as `record_type`.
pub fn linked(record_type: RecordType) -> &'static RecordTypeSpec {
    match record_type {
        RecordType::Contact => &CONTACTS,
        RecordType::Company => &COMPANIES,
        RecordType::Lead => &LEADS,
        RecordType::Deal => &DEALS,
        RecordType::Product => &PRODUCTS,
        RecordType::Ticket => &TICKETS,
        RecordType::Article => &ARTICLES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Action, BuiltInRole, Scope};
    use crate::filter::Catalogue;

    #[test]
    fn names_are_unique() {
        for (index, spec) in RECORD_TYPES.iter().enumerate() {
            for other in &RECORD_TYPES[index + 1..] {
                assert_ne!(spec.noun, other.noun);
                assert_ne!(spec.collection, other.collection);
            }
            assert_eq!(by_collection(spec.collection), Some(spec));
        }
    }

    #[test]
    fn every_record_type_has_grants_in_every_built_in_role() {
        // The built-in roles iterate Module::ALL through an exhaustive match, so a module in
        // it has an entry in every role; one left out of it would have none anywhere.
        for spec in RECORD_TYPES {
            assert!(Module::ALL.contains(&spec.module), "{}: module missing from Module::ALL", spec.noun);
            for action in Action::ALL {
                assert_eq!(BuiltInRole::Admin.grants().scope(spec.module, action), Scope::All, "{}", spec.noun);
            }
        }
    }

    #[test]
    fn every_linked_type_is_searchable_and_has_csv_columns() {
        for spec in RECORD_TYPES {
            let Some(record_type) = spec.linked_as else {
                assert!(spec.link_item.is_some(), "{}: neither a linked record nor a linked item", spec.noun);
                continue;
            };
            assert_eq!(linked(record_type), &spec);
            assert_eq!(record_type.as_str(), spec.noun);
            assert!(spec.text_index, "{}: searchable types have a text index", spec.noun);
            assert!(!Catalogue::standard_field_names(record_type).is_empty(), "{}: no filter catalogue", spec.noun);
            assert!(!crate::columns::standard(record_type).is_empty(), "{}: no CSV columns", spec.noun);
        }
    }

    #[test]
    fn every_linked_type_declares_each_field_once_with_the_shared_ones() {
        for spec in RECORD_TYPES.iter().filter(|s| s.linked_as.is_some()) {
            for (index, field) in spec.fields.iter().enumerate() {
                assert!(
                    spec.fields[index + 1..].iter().all(|f| f.name != field.name),
                    "{}: {} declared twice",
                    spec.noun,
                    field.name
                );
                assert!(
                    field.filter.is_some() || field.csv.is_some(),
                    "{}: {} is read by nothing",
                    spec.noun,
                    field.name
                );
                if field.in_search_text {
                    assert!(field.filter.is_some(), "{}: {} is searched but not filterable", spec.noun, field.name);
                }
                if field.column_name().is_none() {
                    assert!(
                        field.filter.is_some_and(|f| !f.sortable),
                        "{}: derived {} is sortable",
                        spec.noun,
                        field.name
                    );
                }
            }
            for shared in crate::fields::SHARED {
                assert!(spec.field(shared).is_some(), "{}: shared field {shared} missing", spec.noun);
            }
        }
    }

    #[test]
    fn references_name_record_tables() {
        for spec in RECORD_TYPES {
            for (table, _) in spec.referred_by {
                assert!(by_collection(table).is_some(), "{}: referred to by unknown table {table}", spec.noun);
            }
        }
    }

    #[test]
    fn referring_types_are_purged_before_what_they_refer_to() {
        let position = |spec: &RecordTypeSpec| RECORD_TYPES.iter().position(|s| s == spec);
        assert!(position(&TASKS) < position(&ACTIVITIES));
        assert!(position(&DEALS) < position(&LEADS));
        assert!(position(&DEALS) < position(&COMPANIES));
        assert!(position(&CONTACTS) < position(&COMPANIES));
        assert!(position(&TICKETS) < position(&CONTACTS));
    }
}
