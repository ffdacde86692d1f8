//! Custom field definitions, and the stored values a definition change must convert.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::activity::RecordType;
use domain::custom::{CustomFieldDefinition, CustomFieldType, CustomValues};
use domain::record::Stored;

use crate::error::{StoreError, StoreResult};
use crate::schema::custom_fields;
use crate::{DbConnection, enum_text, from_db_time, new_id, text_enum, to_db_time};

/// A stored definition.
pub type StoredDefinition = Stored<CustomFieldDefinition>;

#[derive(Queryable)]
struct DefinitionRow {
    id: String,
    record_type: String,
    field_key: String,
    label: String,
    field_type: String,
    required: bool,
    default_value: Option<String>,
    help_text: Option<String>,
    position: i32,
    options: String,
    active: bool,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl DefinitionRow {
    fn into_domain(self) -> StoreResult<StoredDefinition> {
        Ok(Stored {
            id: self.id,
            data: CustomFieldDefinition {
                record_type: text_enum(&self.record_type)?,
                key: self.field_key,
                label: self.label,
                field_type: text_enum::<CustomFieldType>(&self.field_type)?,
                required: self.required,
                default: self.default_value.as_deref().map(serde_json::from_str).transpose()?,
                help_text: self.help_text,
                position: self.position,
                options: serde_json::from_str(&self.options)?,
                active: self.active,
            },
            version: self.version,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            deleted_at: None,
        })
    }
}

#[derive(AsChangeset, Insertable)]
#[diesel(table_name = custom_fields, treat_none_as_null = true)]
struct DefinitionColumns {
    record_type: String,
    field_key: String,
    label: String,
    field_type: String,
    required: bool,
    default_value: Option<String>,
    help_text: Option<String>,
    position: i32,
    options: String,
    active: bool,
}

impl DefinitionColumns {
    fn from_data(data: &CustomFieldDefinition) -> StoreResult<Self> {
        Ok(Self {
            record_type: enum_text(&data.record_type)?,
            field_key: data.key.clone(),
            label: data.label.clone(),
            field_type: enum_text(&data.field_type)?,
            required: data.required,
            default_value: data.default.as_ref().map(serde_json::to_string).transpose()?,
            help_text: data.help_text.clone(),
            position: data.position,
            options: serde_json::to_string(&data.options)?,
            active: data.active,
        })
    }
}

/// Every definition, or one record type's, in display order.
pub fn list(conn: &mut DbConnection, record_type: Option<RecordType>) -> StoreResult<Vec<StoredDefinition>> {
    let mut query = custom_fields::table.into_boxed();
    if let Some(record_type) = record_type {
        query = query.filter(custom_fields::record_type.eq(record_type.as_str()));
    }
    let rows: Vec<DefinitionRow> =
        query.order((custom_fields::record_type, custom_fields::position, custom_fields::field_key)).load(conn)?;
    rows.into_iter().map(DefinitionRow::into_domain).collect()
}

/// One record type's definitions, active or not, as record writes and filters need them.
pub fn for_type(conn: &mut DbConnection, record_type: RecordType) -> StoreResult<Vec<CustomFieldDefinition>> {
    Ok(list(conn, Some(record_type))?.into_iter().map(|d| d.data).collect())
}

/// One definition.
pub fn find(conn: &mut DbConnection, id: &str) -> StoreResult<StoredDefinition> {
    let row: DefinitionRow = custom_fields::table.filter(custom_fields::id.eq(id)).first(conn)?;
    row.into_domain()
}

/// How many fields a record type has.
pub fn count(conn: &mut DbConnection, record_type: RecordType) -> StoreResult<i64> {
    Ok(custom_fields::table.filter(custom_fields::record_type.eq(record_type.as_str())).count().get_result(conn)?)
}

/// Stores a new definition; a key the record type already has is a conflict.
pub fn insert(
    conn: &mut DbConnection,
    data: &CustomFieldDefinition,
    now: DateTime<Utc>,
) -> StoreResult<StoredDefinition> {
    let id = new_id();
    let now = to_db_time(now);
    diesel::insert_into(custom_fields::table)
        .values((
            custom_fields::id.eq(&id),
            DefinitionColumns::from_data(data)?,
            custom_fields::version.eq(1_i64),
            custom_fields::created_at.eq(now),
            custom_fields::updated_at.eq(now),
        ))
        .execute(conn)
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "a {} field with key `{}` exists already",
                data.record_type.as_str(),
                data.key
            )),
            other => other,
        })?;
    find(conn, &id)
}

/// Writes a changed definition if it is still at `version`; `Stale` otherwise.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    version: i64,
    data: &CustomFieldDefinition,
    now: DateTime<Utc>,
) -> StoreResult<StoredDefinition> {
    let changed =
        diesel::update(custom_fields::table.filter(custom_fields::id.eq(id).and(custom_fields::version.eq(version))))
            .set((
                DefinitionColumns::from_data(data)?,
                custom_fields::version.eq(version + 1),
                custom_fields::updated_at.eq(to_db_time(now)),
            ))
            .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::Stale);
    }
    find(conn, id)
}

#[derive(QueryableByName)]
struct HeldValues {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    custom_fields: String,
}

/// The custom values of every record holding a value of one field, deleted records
/// included (they can be restored), by record id.
pub fn holding(
    conn: &mut DbConnection,
    record_type: RecordType,
    key: &str,
) -> StoreResult<Vec<(String, CustomValues)>> {
    let marker = format!("%\"{}\"%", crate::escape_like(key));
    let statement = format!(
        "SELECT id, custom_fields FROM {} WHERE custom_fields LIKE {} ESCAPE '\\'",
        domain::registry::linked(record_type).table(),
        crate::sql::placeholder(conn, 1)
    );
    let rows: Vec<HeldValues> = diesel::sql_query(statement).bind::<diesel::sql_types::Text, _>(marker).load(conn)?;
    let mut found = Vec::new();
    for HeldValues { id, custom_fields: text } in rows {
        let values: CustomValues = serde_json::from_str(&text)?;
        if values.get(key).is_some() {
            found.push((id, values));
        }
    }
    Ok(found)
}

/// Writes records' converted custom values (a definition change); each record's version
/// moves on, so clients holding the old one see the change.
pub fn rewrite(
    conn: &mut DbConnection,
    record_type: RecordType,
    converted: &[(String, CustomValues)],
    now: DateTime<Utc>,
) -> StoreResult<()> {
    use diesel::sql_types::{Text, Timestamp};
    let now = to_db_time(now);
    let statement = format!(
        "UPDATE {} SET custom_fields = {}, version = version + 1, updated_at = {} WHERE id = {}",
        domain::registry::linked(record_type).table(),
        crate::sql::placeholder(conn, 1),
        crate::sql::placeholder(conn, 2),
        crate::sql::placeholder(conn, 3)
    );
    for (id, values) in converted {
        diesel::sql_query(&statement)
            .bind::<Text, _>(serde_json::to_string(values)?)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(id)
            .execute(conn)?;
    }
    Ok(())
}
