//! Compiles the domain's filter language to SQL for either backend: bound parameters only,
//! one compiler for every record table.
//!
//! Backend differences are confined to [`custom_value`] (reading a custom field out of the
//! stored JSON) and [`text_index`] (SQLite's FTS5 trigram index; PostgreSQL's pg_trgm GIN
//! index serves the plain `LIKE` by itself).

use chrono::{Duration, NaiveDate};
use domain::access::Visibility;
use domain::activity::RecordType;
use domain::custom::CustomFieldType;
use domain::filter::{Condition, Field, FieldKind, Filter, Operand, Operator, Scalar, SearchSort, Target};
use serde_json::Value;

use crate::connection::Backend;
use crate::error::{StoreError, StoreResult};
use crate::sql::{Dialect, Fragment, OrderBy};

/// The column behind a standard field a filter may name, as the field declares it (`None` for
/// a derived field such as `stage_kind`, read from the stage).
pub(crate) fn column(record_type: RecordType, field: &str) -> Option<&'static str> {
    domain::registry::linked(record_type).field(field).filter(|f| f.filter.is_some())?.column_name()
}

/// How a value expression stores its values, which decides how operands are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// A typed column: dates and times bind as such.
    Column,
    /// Text inside JSON: dates and times bind as their canonical text.
    Json,
}

struct Operandable {
    expr: Fragment,
    storage: Storage,
}

fn table_name(record_type: RecordType) -> &'static str {
    domain::registry::linked(record_type).table()
}

/// Reads a custom field out of a record's stored JSON in the dialect's own syntax. Money
/// reads its `amount_minor`, a location its `address`.
fn custom_value(dialect: Dialect, table: &str, key: &str, field_type: CustomFieldType) -> Fragment {
    let member = match field_type {
        CustomFieldType::Money => Some("amount_minor"),
        CustomFieldType::Location => Some("address"),
        _ => None,
    };
    match dialect.0 {
        Backend::Sqlite => {
            let path = match member {
                Some(member) => format!("$.\"{key}\".{member}"),
                None => format!("$.\"{key}\""),
            };
            Fragment::sql(&format!("json_extract({table}.custom_fields, ")).text(path).push(")")
        }
        Backend::Postgres => {
            let document = format!("{table}.custom_fields::jsonb -> ");
            let node = |f: Fragment| match member {
                Some(member) => f.push(&document).text(key).push(&format!(" -> '{member}'")),
                None => f.push(&document).text(key),
            };
            let text = |f: Fragment| match member {
                Some(member) => f.push(&document).text(key).push(&format!(" ->> '{member}'")),
                None => f.push(&format!("{table}.custom_fields::jsonb ->> ")).text(key),
            };
            match field_type {
                CustomFieldType::Number | CustomFieldType::Money => {
                    let f = node(Fragment::sql("(CASE WHEN jsonb_typeof(")).push(") = 'number' THEN (");
                    text(f).push(")::float8 END)")
                }
                CustomFieldType::Checkbox => {
                    let f = node(Fragment::sql("(CASE WHEN jsonb_typeof(")).push(") = 'boolean' THEN (");
                    text(f).push(")::boolean END)")
                }
                _ => text(Fragment::sql("(")).push(")"),
            }
        }
    }
}

fn value_of(dialect: Dialect, record_type: RecordType, field: &Field) -> StoreResult<Operandable> {
    let table = table_name(record_type);
    match &field.target {
        Target::Standard("stage_kind") => Ok(Operandable {
            expr: Fragment::sql(&format!("(SELECT s.kind FROM pipeline_stages s WHERE s.id = {table}.stage_id)")),
            storage: Storage::Column,
        }),
        Target::Standard(name) => {
            let column = column(record_type, name)
                .ok_or_else(|| StoreError::Internal(format!("no column for {} field {name}", record_type.as_str())))?;
            Ok(Operandable { expr: Fragment::sql(&format!("{table}.{column}")), storage: Storage::Column })
        }
        Target::Custom { key, field_type } => {
            Ok(Operandable { expr: custom_value(dialect, table, key, *field_type), storage: Storage::Json })
        }
        Target::Company(_) | Target::HasOpenDeal | Target::Activity(_) => {
            Err(StoreError::Internal(format!("{} has no single value", field.name)))
        }
    }
}

fn bind(fragment: Fragment, scalar: &Scalar, storage: Storage) -> Fragment {
    match (scalar, storage) {
        (Scalar::Text(text), _) => fragment.text(text.clone()),
        (Scalar::Number(n), _) => fragment.number(*n),
        (Scalar::Bool(b), _) => fragment.flag(*b),
        (Scalar::Date(d), Storage::Column) => fragment.day(*d),
        (Scalar::Date(d), Storage::Json) => fragment.text(d.format("%Y-%m-%d").to_string()),
        (Scalar::Time(t), Storage::Column) => fragment.time(crate::to_db_time(*t)),
        (Scalar::Time(t), Storage::Json) => fragment.text(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    }
}

/// `expr op ?`.
fn compare(value: &Operandable, op: &str, scalar: &Scalar) -> Fragment {
    bind(value.expr.clone().push(&format!(" {op} ")), scalar, value.storage)
}

/// The `[start, end)` of the UTC day a time falls on, for `eq` on date-times.
fn day_of(scalar: &Scalar) -> (Scalar, Scalar) {
    let start = match scalar {
        Scalar::Time(t) => t.date_naive(),
        Scalar::Date(d) => *d,
        _ => NaiveDate::MIN,
    }
    .and_time(chrono::NaiveTime::MIN)
    .and_utc();
    (Scalar::Time(start), Scalar::Time(start + Duration::days(1)))
}

fn scalar_condition(value: &Operandable, condition: &Condition) -> Fragment {
    let kind = &condition.field.kind;
    let text = matches!(kind, FieldKind::Text);
    // Text compares case-insensitively; operands were lower-cased when parsed.
    let lowered = Operandable {
        expr: if text { Fragment::sql("lower(").append(value.expr.clone()).push(")") } else { value.expr.clone() },
        storage: value.storage,
    };
    let empty = if matches!(kind, FieldKind::Text | FieldKind::Id | FieldKind::Choice(_)) {
        value.expr.clone().push(" IS NULL OR ").append(value.expr.clone()).push(" = ''")
    } else {
        value.expr.clone().push(" IS NULL")
    };
    match (condition.operator, &condition.operand) {
        (Operator::IsEmpty, _) => empty,
        (Operator::IsNotEmpty, _) => Fragment::sql("NOT (").append(empty).push(")"),
        (Operator::Eq, Operand::One(scalar)) if matches!(kind, FieldKind::DateTime) => {
            let (start, end) = day_of(scalar);
            Fragment::all(vec![compare(value, ">=", &start), compare(value, "<", &end)])
        }
        (Operator::Eq, Operand::One(scalar)) => compare(&lowered, "=", scalar),
        (Operator::Neq, Operand::One(scalar)) => {
            value.expr.clone().push(" IS NULL OR ").append(compare(&lowered, "<>", scalar))
        }
        (Operator::In, Operand::Many(scalars)) => {
            let mut list = lowered.expr.clone().push(" IN (");
            for (index, scalar) in scalars.iter().enumerate() {
                if index > 0 {
                    list = list.push(", ");
                }
                list = bind(list, scalar, value.storage);
            }
            list.push(")")
        }
        (Operator::Contains | Operator::StartsWith, Operand::One(Scalar::Text(part))) => {
            let escaped = crate::escape_like(part);
            let pattern =
                if condition.operator == Operator::Contains { format!("%{escaped}%") } else { format!("{escaped}%") };
            compare(&lowered, "LIKE", &Scalar::Text(pattern)).push(" ESCAPE '\\'")
        }
        (Operator::Gt, Operand::One(scalar)) => compare(value, ">", scalar),
        (Operator::Gte, Operand::One(scalar)) => compare(value, ">=", scalar),
        (Operator::Lt, Operand::One(scalar)) => compare(value, "<", scalar),
        (Operator::Lte, Operand::One(scalar)) => compare(value, "<=", scalar),
        (Operator::Between, Operand::Range(from, to)) => {
            Fragment::all(vec![compare(value, ">=", from), compare(value, "<=", to)])
        }
        // The parser never builds another combination; match nothing rather than everything.
        _ => Fragment::sql("1 = 0"),
    }
}

/// A list-valued field: tags (a JSON array column) or a multi-select custom field.
fn list_condition(dialect: Dialect, record_type: RecordType, condition: &Condition) -> StoreResult<Fragment> {
    let table = table_name(record_type);
    let holds = |item: &str| -> StoreResult<Fragment> {
        Ok(match &condition.field.target {
            Target::Standard(name) => {
                let column = column(record_type, name).unwrap_or("tags");
                let quoted = serde_json::to_string(item)?;
                Fragment::sql(&format!("{table}.{column} LIKE "))
                    .text(format!("%{}%", crate::escape_like(&quoted)))
                    .push(" ESCAPE '\\'")
            }
            Target::Custom { key, .. } => match dialect.0 {
                Backend::Sqlite => Fragment::sql(&format!("EXISTS (SELECT 1 FROM json_each({table}.custom_fields, "))
                    .text(format!("$.\"{key}\""))
                    .push(") AS item WHERE item.value = ")
                    .text(item)
                    .push(")"),
                Backend::Postgres => Fragment::sql(&format!("COALESCE(({table}.custom_fields::jsonb -> "))
                    .text(key.clone())
                    .push(") @> jsonb_build_array(")
                    .text(item)
                    .push("), FALSE)"),
            },
            _ => return Err(StoreError::Internal("not a list field".into())),
        })
    };
    let empty = match &condition.field.target {
        Target::Standard(name) => {
            let column = column(record_type, name).unwrap_or("tags");
            Fragment::sql(&format!("{table}.{column} IS NULL OR {table}.{column} = '[]'"))
        }
        Target::Custom { key, field_type } => custom_value(dialect, table, key, *field_type).push(" IS NULL"),
        _ => return Err(StoreError::Internal("not a list field".into())),
    };
    Ok(match (condition.operator, &condition.operand) {
        (Operator::IsEmpty, _) => empty,
        (Operator::IsNotEmpty, _) => Fragment::sql("NOT (").append(empty).push(")"),
        (Operator::Contains, Operand::One(Scalar::Text(item))) => holds(item)?,
        (Operator::In, Operand::Many(items)) => Fragment::any(
            items
                .iter()
                .filter_map(|s| match s {
                    Scalar::Text(item) => Some(holds(item)),
                    _ => None,
                })
                .collect::<StoreResult<Vec<_>>>()?,
        ),
        _ => Fragment::sql("1 = 0"),
    })
}

fn condition(scope: Scope<'_>, record_type: RecordType, condition: &Condition) -> StoreResult<Fragment> {
    let dialect = scope.dialect;
    let table = table_name(record_type);
    match &condition.field.target {
        Target::Company(inner) => {
            let inner = Condition {
                field: (**inner).clone(),
                operator: condition.operator,
                operand: condition.operand.clone(),
            };
            let matching = self::condition(scope, RecordType::Company, &inner)?;
            Ok(Fragment::sql(&format!(
                "{table}.company_id IN (SELECT companies.id FROM companies WHERE companies.deleted_at IS NULL AND "
            ))
            .append(visible_rows("companies", &scope.related.companies))
            .push(" AND (")
            .append(matching)
            .push("))"))
        }
        Target::HasOpenDeal => {
            let link = match record_type {
                RecordType::Company => format!("d.company_id = {table}.id"),
                _ => format!("d.contact_ids LIKE '%\"' || {table}.id || '\"%'"),
            };
            let exists = Fragment::sql(&format!(
                "EXISTS (SELECT 1 FROM deals d JOIN pipeline_stages s ON s.id = d.stage_id \
                 WHERE d.deleted_at IS NULL AND s.kind = 'open' AND {link} AND "
            ))
            .append(visible_rows("d", &scope.related.deals))
            .push(")");
            Ok(match (condition.operator, &condition.operand) {
                (Operator::Eq, Operand::One(Scalar::Bool(true))) => exists,
                (Operator::Eq, Operand::One(Scalar::Bool(false))) => Fragment::sql("NOT ").append(exists),
                (Operator::IsNotEmpty, _) => Fragment::sql("1 = 1"),
                _ => Fragment::sql("1 = 0"),
            })
        }
        Target::Activity(kind) => {
            let exists = Fragment::sql(&format!(
                "EXISTS (SELECT 1 FROM record_links l JOIN activities a ON a.id = l.item_id \
                 WHERE l.item_type = 'activity' AND l.record_type = '{}' AND l.record_id = {table}.id \
                 AND a.deleted_at IS NULL AND ",
                record_type.as_str()
            ))
            .append(visible_rows("a", &scope.related.activities))
            .push(" AND a.activity_type = ")
            .text(*kind);
            Ok(match condition.operator {
                Operator::IsEmpty => Fragment::sql("NOT ").append(exists).push(")"),
                Operator::IsNotEmpty => exists.push(")"),
                _ => {
                    let occurred = Operandable { expr: Fragment::sql("a.occurred_at"), storage: Storage::Column };
                    exists.push(" AND (").append(scalar_condition(&occurred, condition)).push("))")
                }
            })
        }
        _ if matches!(condition.field.kind, FieldKind::Multi) => list_condition(dialect, record_type, condition),
        _ => {
            let exact = scalar_condition(&value_of(dialect, record_type, &condition.field)?, condition);
            Ok(match (condition.operator, &condition.operand) {
                (Operator::Contains | Operator::StartsWith, Operand::One(Scalar::Text(part)))
                    if in_search_text(record_type, &condition.field.target) =>
                {
                    let mut parts = vec![
                        Fragment::sql(&format!("{table}.search_text LIKE "))
                            .text(crate::contains_pattern(part))
                            .push(" ESCAPE '\\'"),
                    ];
                    parts.extend(text_index(dialect, table, part));
                    parts.push(exact);
                    Fragment::all(parts)
                }
                _ => exact,
            })
        }
    }
}

/// Whether a field's text is part of the record's search text, so a `contains` on it can
/// first narrow by the text index (the exact test on the field still decides).
fn in_search_text(record_type: RecordType, target: &Target) -> bool {
    match target {
        Target::Standard(name) => domain::registry::linked(record_type).field(name).is_some_and(|f| f.in_search_text),
        Target::Custom { field_type, .. } => {
            !matches!(field_type, CustomFieldType::Number | CustomFieldType::Money | CustomFieldType::Checkbox)
        }
        _ => false,
    }
}

/// The filter as one SQL boolean over the record type's table; conditions on related records
/// (`company.*`, `has_open_deal`, `activity.*`) see only the related records `related` reaches.
pub(crate) fn compile(
    dialect: Dialect,
    record_type: RecordType,
    filter: &Filter,
    related: &RelatedVisibility,
) -> StoreResult<Fragment> {
    let scope = Scope { dialect, related };
    compile_in(scope, record_type, filter)
}

fn compile_in(scope: Scope<'_>, record_type: RecordType, filter: &Filter) -> StoreResult<Fragment> {
    Ok(match filter {
        Filter::And(parts) => {
            Fragment::all(parts.iter().map(|p| compile_in(scope, record_type, p)).collect::<StoreResult<_>>()?)
        }
        Filter::Or(parts) => {
            Fragment::any(parts.iter().map(|p| compile_in(scope, record_type, p)).collect::<StoreResult<_>>()?)
        }
        Filter::Condition(c) => condition(scope, record_type, c)?,
    })
}

/// What the caller may read of the records a condition can reach through a relation. Without
/// it a condition on a related record would be an oracle: a rep's `company.name eq X` would
/// confirm the name of a company the rep may not see.
#[derive(Debug, Clone)]
pub struct RelatedVisibility {
    pub companies: Visibility,
    pub deals: Visibility,
    pub activities: Visibility,
}

/// What compiling one filter needs besides the filter.
#[derive(Debug, Clone, Copy)]
struct Scope<'a> {
    dialect: Dialect,
    related: &'a RelatedVisibility,
}

/// The rows of `alias` a visibility reaches, as SQL (the same rule as `record_queries!`'s
/// `visible`).
pub(crate) fn visible_rows(alias: &str, visibility: &Visibility) -> Fragment {
    let among = |column: &str, ids: &[String]| {
        if ids.is_empty() {
            return Fragment::sql("1 = 0");
        }
        let mut fragment = Fragment::sql(&format!("{alias}.{column} IN ("));
        for (index, id) in ids.iter().enumerate() {
            if index > 0 {
                fragment = fragment.push(", ");
            }
            fragment = fragment.text(id.clone());
        }
        fragment.push(")")
    };
    match visibility {
        Visibility::Everything => Fragment::sql("1 = 1"),
        Visibility::Nothing => Fragment::sql("1 = 0"),
        Visibility::OwnedBy(user_id) => Fragment::sql(&format!("{alias}.owner_id = ")).text(user_id.clone()),
        Visibility::Team { teammate_ids, team_ids } => {
            Fragment::any(vec![among("owner_id", teammate_ids), among("team_id", team_ids)])
        }
    }
}

/// What a search asks for, parsed and validated by the domain.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub filter: Filter,
    /// Text every record's searchable text must contain.
    pub q: Option<String>,
    pub sort: SearchSort,
    pub after: Option<SearchPosition>,
    pub limit: u32,
    /// What the caller may read of related records the filter names.
    pub related: RelatedVisibility,
}

/// One page of search results.
#[derive(Debug, Clone)]
pub struct SearchPage<D> {
    pub items: Vec<domain::record::Stored<D>>,
    /// Whether records follow the last one.
    pub more: bool,
}

/// Where the previous search page ended: the last record's sort value and id.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SearchPosition {
    #[serde(rename = "v")]
    pub value: Value,
    #[serde(rename = "i")]
    pub id: String,
}

fn sort_scalar(kind: &FieldKind, value: &Value, storage: Storage) -> StoreResult<Option<Scalar>> {
    let bad = || StoreError::Internal("cursor value does not fit its sort field".into());
    Ok(match (kind, value) {
        (_, Value::Null) => None,
        (FieldKind::Number, Value::Number(n)) => Some(Scalar::Number(n.as_f64().ok_or_else(bad)?)),
        (FieldKind::Bool, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        (FieldKind::Date, Value::String(s)) if storage == Storage::Column => {
            Some(Scalar::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?))
        }
        (FieldKind::DateTime, Value::String(s)) if storage == Storage::Column => {
            Some(Scalar::Time(chrono::DateTime::parse_from_rfc3339(s).map_err(|_| bad())?.with_timezone(&chrono::Utc)))
        }
        (_, Value::String(s)) => Some(Scalar::Text(s.clone())),
        _ => return Err(bad()),
    })
}

/// ORDER BY for a search (empty values last, then id) and, after a cursor, the keyset
/// condition that starts the next page.
pub(crate) fn ordering(
    dialect: Dialect,
    record_type: RecordType,
    sort: &SearchSort,
    after: Option<&SearchPosition>,
) -> StoreResult<(OrderBy, Option<Fragment>)> {
    let table = table_name(record_type);
    let value = value_of(dialect, record_type, &sort.field)?;
    let direction = if sort.descending { "DESC" } else { "ASC" };
    // Columns that are never empty need no "empty last" key, so the (column, id) index serves
    // the order, and the keyset is a range on it: a page costs its own rows, not a sort of
    // every match (an export pages through all of them).
    let never_empty = matches!(sort.field.target, Target::Standard("created_at" | "updated_at" | "name"));
    let order = if never_empty {
        value.expr.clone().push(&format!(" {direction}, {table}.id {direction}"))
    } else {
        Fragment::sql("(")
            .append(value.expr.clone())
            .push(") IS NULL, ")
            .append(value.expr.clone())
            .push(&format!(" {direction}, {table}.id {direction}"))
    };
    let order = OrderBy(order);
    let Some(after) = after else { return Ok((order, None)) };
    let beyond = if sort.descending { "<" } else { ">" };
    let id_beyond = Fragment::sql(&format!("{table}.id {beyond} ")).text(after.id.clone());
    let keyset = match sort_scalar(&sort.field.kind, &after.value, value.storage)? {
        // A row comparison is one range over the (column, id) index on both backends; the
        // spelled-out `v < x OR (v = x AND id < y)` made PostgreSQL filter every earlier row.
        Some(scalar) if never_empty => {
            let row = Fragment::sql("(").append(value.expr.clone()).push(&format!(", {table}.id) {beyond} ("));
            bind(row, &scalar, value.storage).push(", ").text(after.id.clone()).push(")")
        }
        None => value.expr.clone().push(" IS NULL AND ").append(id_beyond),
        Some(scalar) => Fragment::any(vec![
            value.expr.clone().push(" IS NULL"),
            compare(&value, beyond, &scalar),
            Fragment::all(vec![compare(&value, "=", &scalar), id_beyond]),
        ]),
    };
    Ok((order, Some(keyset)))
}

/// Most matches for which narrowing a text query by SQLite's trigram index pays off. Past it
/// the index would hand over every match to be fetched and sorted (a term in 111k of 1M rows
/// took a second), while the plain scan in the list's index order stops at the page's end.
const NARROWING_MATCHES: i64 = 2_000;

#[derive(diesel::QueryableByName)]
struct MatchCount {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    matches: i64,
}

/// [`text_index`] where it narrows: SQLite's trigram index is asked first how many records
/// hold the text (counting at most past [`NARROWING_MATCHES`]), and is used only for a rare
/// enough text. A failed count keeps the prefilter, which is always correct.
pub(crate) fn text_prefilter(conn: &mut crate::DbConnection, table: &str, query: &str) -> Option<Fragment> {
    use diesel::RunQueryDsl;
    let prefilter = text_index(Dialect::of(conn), table, query)?;
    let count = diesel::sql_query(format!(
        "SELECT count(*) AS matches FROM (SELECT 1 FROM {table}_search WHERE {table}_search MATCH ? LIMIT {})",
        NARROWING_MATCHES + 1
    ))
    .bind::<diesel::sql_types::Text, _>(fts_phrase(query))
    .get_result::<MatchCount>(conn);
    match count {
        Ok(count) if count.matches > NARROWING_MATCHES => None,
        _ => Some(prefilter),
    }
}

/// A text as one FTS5 phrase (double quotes doubled).
fn fts_phrase(query: &str) -> String {
    format!("\"{}\"", query.replace('"', "\"\""))
}

/// A prefilter that lets SQLite answer a substring search from its trigram index; `None`
/// where the plain `LIKE` is all there is (PostgreSQL's GIN index serves it; queries under
/// three characters have no trigram). Record types declared with a text index have an FTS5
/// table `<table>_search` on SQLite.
pub(crate) fn text_index(dialect: Dialect, table: &str, query: &str) -> Option<Fragment> {
    if dialect.0 != Backend::Sqlite
        || !domain::registry::by_collection(table).is_some_and(|spec| spec.text_index)
        || query.chars().count() < 3
    {
        return None;
    }
    Some(
        Fragment::sql(&format!("{table}.rowid IN (SELECT rowid FROM {table}_search WHERE {table}_search MATCH "))
            .text(fts_phrase(query))
            .push(")"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_field_has_a_column() {
        for record_type in [RecordType::Contact, RecordType::Company, RecordType::Lead, RecordType::Deal] {
            for name in domain::filter::Catalogue::standard_field_names(record_type) {
                if name != "stage_kind" {
                    assert!(column(record_type, name).is_some(), "{} {name}", record_type.as_str());
                }
            }
        }
    }
}
