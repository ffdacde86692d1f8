//! Query pieces every business record table shares, written once.
//!
//! Each record table has `id`, `owner_id`, `team_id`, `tags`, `search_text`, `sort_name`,
//! `created_at`, `updated_at` and `deleted_at`; `record_queries!` builds visibility,
//! common filters and keyset pagination for one such table.

use domain::listing::{Direction, Position, RecordSort, SortKey, SortValue};
use domain::record::{Page, Stored};

use crate::error::{StoreError, StoreResult};
use crate::sql::Fragment;

/// A loaded row of a record table.
pub(crate) trait RecordRow {
    type Data;
    /// The row's cursor values for these sort keys.
    fn position(&self, keys: &[SortKey<RecordSort>]) -> Position;
    /// The row as domain data; fails only on corrupt stored JSON.
    fn into_stored(self) -> StoreResult<Stored<Self::Data>>;
}

/// Turns `limit + 1` loaded rows into a page and the cursor of the next one.
pub(crate) fn into_page<R: RecordRow>(
    mut rows: Vec<R>,
    keys: &[SortKey<RecordSort>],
    limit: usize,
) -> StoreResult<Page<Stored<R::Data>>> {
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let next = if has_more { rows.last().map(|row| row.position(keys)) } else { None };
    let items = rows.into_iter().map(RecordRow::into_stored).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { items, next })
}

/// The LIKE pattern matching one tag inside the stored JSON array (`["a","b"]`).
pub(crate) fn tag_pattern(tag: &str) -> String {
    format!("%\"{}\"%", crate::escape_like(tag))
}

/// The cursor values of a row for the given sort keys.
pub(crate) fn position_of(
    keys: &[SortKey<RecordSort>],
    id: &str,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    sort_name: &str,
) -> Position {
    let values = keys
        .iter()
        .map(|key| match key.key {
            RecordSort::CreatedAt => SortValue::Time(created_at.and_utc().timestamp_micros()),
            RecordSort::UpdatedAt => SortValue::Time(updated_at.and_utc().timestamp_micros()),
            RecordSort::Name => SortValue::Text(sort_name.to_owned()),
        })
        .collect();
    Position { values, id: id.to_owned() }
}

/// The rows after `position` in the order of `keys` then `id`.
///
/// When every key runs in the tie's direction (any single-key sort), this is one row
/// comparison, `(k, id) < (v, last_id)`, which both backends answer as a range over the
/// `(k, id)` index: a deep page costs what the first one does. Mixed directions spell the
/// order out, `k1 > v1 OR (k1 = v1 AND (k2 < v2 OR ...))`, bounded by `k1 >= v1` so the index
/// on the first key still narrows the scan.
pub(crate) fn keyset_after(table: &str, keys: &[SortKey<RecordSort>], position: &Position) -> StoreResult<Fragment> {
    let column = |key: RecordSort| match key {
        RecordSort::CreatedAt => "created_at",
        RecordSort::UpdatedAt => "updated_at",
        RecordSort::Name => "sort_name",
    };
    let bind = |fragment: Fragment, key: RecordSort, value: &SortValue| -> StoreResult<Fragment> {
        Ok(match key {
            RecordSort::Name => fragment.text(cursor_text(value)?),
            RecordSort::CreatedAt | RecordSort::UpdatedAt => fragment.time(cursor_time(value)?),
        })
    };
    let beyond = |direction: Direction| match direction {
        Direction::Ascending => ">",
        Direction::Descending => "<",
    };
    if keys.len() != position.values.len() {
        return Err(StoreError::Internal("cursor does not fit its sort keys".into()));
    }
    let tie = tie_direction(keys);
    if keys.iter().all(|key| key.direction == tie) {
        let mut columns: Vec<String> = keys.iter().map(|key| format!("{table}.{}", column(key.key))).collect();
        columns.push(format!("{table}.id"));
        let mut row = Fragment::sql(&format!("({}) {} (", columns.join(", "), beyond(tie)));
        for (key, value) in keys.iter().zip(&position.values) {
            row = bind(row, key.key, value)?.push(", ");
        }
        return Ok(row.text(position.id.clone()).push(")"));
    }
    let mut rest = Fragment::sql(&format!("{table}.id {} ", beyond(tie))).text(position.id.clone());
    for (key, value) in keys.iter().zip(&position.values).rev() {
        let name = format!("{table}.{}", column(key.key));
        let after = bind(Fragment::sql(&format!("{name} {} ", beyond(key.direction))), key.key, value)?;
        let equal = bind(Fragment::sql(&format!("{name} = ")), key.key, value)?;
        rest = Fragment::any(vec![after, Fragment::all(vec![equal, rest])]);
    }
    let (first, first_value) = (&keys[0], &position.values[0]);
    let bound = bind(
        Fragment::sql(&format!("{table}.{} {}= ", column(first.key), beyond(first.direction))),
        first.key,
        first_value,
    )?;
    Ok(Fragment::all(vec![bound, rest]))
}

/// A cursor time value as the database stores it.
pub(crate) fn cursor_time(value: &SortValue) -> StoreResult<chrono::NaiveDateTime> {
    match value {
        SortValue::Time(micros) => chrono::DateTime::from_timestamp_micros(*micros)
            .map(|t| t.naive_utc())
            .ok_or_else(|| StoreError::Internal("cursor time out of range".into())),
        SortValue::Text(_) => Err(StoreError::Internal("cursor value does not fit its sort key".into())),
    }
}

/// A cursor text value.
pub(crate) fn cursor_text(value: &SortValue) -> StoreResult<String> {
    match value {
        SortValue::Text(text) => Ok(text.clone()),
        SortValue::Time(_) => Err(StoreError::Internal("cursor value does not fit its sort key".into())),
    }
}

/// The direction the `id` tie-breaker follows: the last key's.
pub(crate) fn tie_direction(keys: &[SortKey<RecordSort>]) -> Direction {
    keys.last().map_or(Direction::Ascending, |k| k.direction)
}

/// Stores new records many at once (each record table's `insert_many`).
pub type InsertManyFn<D> = fn(
    &mut crate::DbConnection,
    Vec<D>,
    chrono::DateTime<chrono::Utc>,
) -> crate::StoreResult<Vec<domain::record::Stored<D>>>;

macro_rules! record_queries {
    ($table:ident, $row:ty, $data:ty, $columns:ty) => {
        /// A live record the visibility reaches; `NotFound` otherwise.
        pub fn find(
            conn: &mut crate::DbConnection,
            id: &str,
            visibility: &domain::access::Visibility,
        ) -> crate::StoreResult<domain::record::Stored<$data>> {
            use diesel::prelude::*;
            let row: $row = queries::visible(visibility, false).filter($table::id.eq(id)).first(conn)?;
            crate::records::RecordRow::into_stored(row)
        }

        /// Inserts a new record with a fresh id.
        pub fn insert(
            conn: &mut crate::DbConnection,
            data: &$data,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::StoreResult<domain::record::Stored<$data>> {
            use diesel::prelude::*;
            let now = crate::to_db_time(now);
            let row: $row = diesel::insert_into($table::table)
                .values((
                    $table::id.eq(crate::new_id()),
                    <$columns>::from_data(data)?,
                    $table::version.eq(1_i64),
                    $table::created_at.eq(now),
                    $table::updated_at.eq(now),
                ))
                .returning($table::all_columns)
                .get_result(conn)?;
            crate::records::RecordRow::into_stored(row)
        }

        /// Inserts new records with fresh ids, a multi-row statement per chunk (an import's
        /// batch); they are stored as given, so nothing is read back.
        pub fn insert_many(
            conn: &mut crate::DbConnection,
            data: Vec<$data>,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::StoreResult<Vec<domain::record::Stored<$data>>> {
            use diesel::prelude::*;
            let at = crate::to_db_time(now);
            let ids: Vec<String> = data.iter().map(|_| crate::new_id()).collect();
            let rows = data
                .iter()
                .zip(&ids)
                .map(|(data, id)| {
                    Ok((
                        $table::id.eq(id),
                        <$columns>::from_data(data)?,
                        $table::version.eq(1_i64),
                        $table::created_at.eq(at),
                        $table::updated_at.eq(at),
                    ))
                })
                .collect::<crate::StoreResult<Vec<_>>>()?;
            crate::connection::insert_rows!(conn, $table::table, rows);
            let stamped = crate::from_db_time(at);
            Ok(ids
                .into_iter()
                .zip(data)
                .map(|(id, data)| domain::record::Stored {
                    id,
                    data,
                    version: 1,
                    created_at: stamped,
                    updated_at: stamped,
                    deleted_at: None,
                })
                .collect())
        }

        /// Writes `data` over the record if it is still at `version`; `Stale` otherwise.
        pub fn update(
            conn: &mut crate::DbConnection,
            id: &str,
            version: i64,
            data: &$data,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::StoreResult<domain::record::Stored<$data>> {
            use diesel::prelude::*;
            let row: Option<$row> = diesel::update($table::table)
                .filter($table::id.eq(id).and($table::version.eq(version)).and($table::deleted_at.is_null()))
                .set((
                    <$columns>::from_data(data)?,
                    $table::version.eq(version + 1),
                    $table::updated_at.eq(crate::to_db_time(now)),
                ))
                .returning($table::all_columns)
                .get_result(conn)
                .optional()?;
            crate::records::RecordRow::into_stored(row.ok_or(crate::StoreError::Stale)?)
        }

        /// Soft-deletes the record if it is still at `version`; `Stale` otherwise.
        pub fn soft_delete(
            conn: &mut crate::DbConnection,
            id: &str,
            version: i64,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::StoreResult<()> {
            use diesel::prelude::*;
            let now = crate::to_db_time(now);
            let changed = diesel::update($table::table)
                .filter($table::id.eq(id).and($table::version.eq(version)).and($table::deleted_at.is_null()))
                .set(($table::deleted_at.eq(Some(now)), $table::version.eq(version + 1), $table::updated_at.eq(now)))
                .execute(conn)?;
            if changed == 0 { Err(crate::StoreError::Stale) } else { Ok(()) }
        }

        /// Brings a soft-deleted record back.
        pub fn restore(
            conn: &mut crate::DbConnection,
            id: &str,
            now: chrono::DateTime<chrono::Utc>,
        ) -> crate::StoreResult<domain::record::Stored<$data>> {
            use diesel::prelude::*;
            let changed = diesel::update($table::table)
                .filter($table::id.eq(id).and($table::deleted_at.is_not_null()))
                .set((
                    $table::deleted_at.eq(None::<chrono::NaiveDateTime>),
                    $table::version.eq($table::version + 1),
                    $table::updated_at.eq(crate::to_db_time(now)),
                ))
                .execute(conn)?;
            if changed == 0 {
                return Err(crate::StoreError::NotFound);
            }
            find(conn, id, &domain::access::Visibility::Everything)
        }

        /// Shared list machinery for this record table.
        pub(crate) mod queries {
            use diesel::prelude::*;
            use domain::access::Visibility;
            use domain::listing::{CommonFilters, Direction, Position, RecordSort, SortKey};

            use crate::Db;
            use crate::error::StoreResult;
            use crate::records::{tag_pattern, tie_direction};
            use crate::schema::$table;

            pub(crate) type Query<'a> = $table::BoxedQuery<'a, Db>;

            /// Rows the visibility reaches, live or soft-deleted.
            pub(crate) fn visible<'a>(visibility: &Visibility, deleted: bool) -> Query<'a> {
                let query = if deleted {
                    $table::table.filter($table::deleted_at.is_not_null()).into_boxed()
                } else {
                    $table::table.filter($table::deleted_at.is_null()).into_boxed()
                };
                match visibility {
                    Visibility::Everything => query,
                    Visibility::Nothing => query.filter($table::id.is_null()),
                    Visibility::OwnedBy(user_id) => query.filter($table::owner_id.eq(user_id.clone())),
                    Visibility::Team { teammate_ids, team_ids } => query.filter(
                        $table::owner_id.eq_any(teammate_ids.clone()).or($table::team_id.eq_any(team_ids.clone())),
                    ),
                }
            }

            /// Applies the filters all record lists share.
            pub(crate) fn filtered<'a>(
                mut query: Query<'a>,
                filters: &CommonFilters,
                conn: &mut crate::DbConnection,
            ) -> StoreResult<Query<'a>> {
                if let Some(owner_id) = &filters.owner_id {
                    query = query.filter($table::owner_id.eq(owner_id.clone()));
                }
                if let Some(tag) = &filters.tag {
                    query = query.filter($table::tags.like(tag_pattern(tag)).escape('\\'));
                }
                if let Some(after) = filters.created_after {
                    query = query.filter($table::created_at.gt(crate::to_db_time(after)));
                }
                if let Some(before) = filters.created_before {
                    query = query.filter($table::created_at.lt(crate::to_db_time(before)));
                }
                if let Some(q) = &filters.q {
                    query = query.filter(crate::text_search::contains(conn, stringify!($table), q)?);
                }
                Ok(query)
            }

            /// Orders by the sort keys plus `id`, and starts after `position` when given
            /// (see `keyset_after`).
            pub(crate) fn paged<'a>(
                mut query: Query<'a>,
                keys: &[SortKey<RecordSort>],
                position: Option<&Position>,
                limit: i64,
            ) -> StoreResult<Query<'a>> {
                use domain::listing::RecordSort;
                for key in keys {
                    query = match (key.key, key.direction) {
                        (RecordSort::CreatedAt, Direction::Ascending) => query.then_order_by($table::created_at.asc()),
                        (RecordSort::CreatedAt, Direction::Descending) => {
                            query.then_order_by($table::created_at.desc())
                        }
                        (RecordSort::UpdatedAt, Direction::Ascending) => query.then_order_by($table::updated_at.asc()),
                        (RecordSort::UpdatedAt, Direction::Descending) => {
                            query.then_order_by($table::updated_at.desc())
                        }
                        (RecordSort::Name, Direction::Ascending) => query.then_order_by($table::sort_name.asc()),
                        (RecordSort::Name, Direction::Descending) => query.then_order_by($table::sort_name.desc()),
                    };
                }
                let tie = tie_direction(keys);
                query = match tie {
                    Direction::Ascending => query.then_order_by($table::id.asc()),
                    Direction::Descending => query.then_order_by($table::id.desc()),
                };
                if let Some(position) = position {
                    query = query.filter(crate::records::keyset_after(stringify!($table), keys, position)?);
                }
                Ok(query.limit(limit))
            }
        }

        impl crate::records::RecordRow for $row {
            type Data = $data;
            fn position(
                &self,
                keys: &[domain::listing::SortKey<domain::listing::RecordSort>],
            ) -> domain::listing::Position {
                crate::records::position_of(keys, &self.id, self.created_at, self.updated_at, &self.sort_name)
            }
            fn into_stored(self) -> crate::StoreResult<domain::record::Stored<Self::Data>> {
                self.into_domain()
            }
        }
    };
}

pub(crate) use record_queries;

/// Declares `search` for a record table the filter language covers.
macro_rules! searchable_records {
    ($table:ident, $row:ty, $data:ty, $record_type:expr) => {
        /// Records the visibility reaches that match a search's filter and text, in its
        /// order, starting after its cursor: at most `limit`, and whether more follow.
        pub fn search(
            conn: &mut crate::DbConnection,
            visibility: &domain::access::Visibility,
            request: &crate::search::SearchRequest,
        ) -> crate::StoreResult<crate::search::SearchPage<$data>> {
            use diesel::prelude::*;
            let dialect = crate::sql::Dialect::of(conn);
            let text = domain::listing::CommonFilters { q: request.q.clone(), ..Default::default() };
            let (order, keyset) =
                crate::search::ordering(dialect, $record_type, &request.sort, request.after.as_ref())?;
            let mut query = queries::filtered(queries::visible(visibility, false), &text, conn)?
                .filter(crate::search::compile(dialect, $record_type, &request.filter, &request.related)?);
            if let Some(keyset) = keyset {
                query = query.filter(keyset);
            }
            let limit = request.limit as usize;
            let mut rows: Vec<$row> = query.order_by(order).limit(limit as i64 + 1).load(conn)?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let items =
                rows.into_iter().map(crate::records::RecordRow::into_stored).collect::<crate::StoreResult<_>>()?;
            Ok(crate::search::SearchPage { items, more })
        }

        /// Which of `ids` are records the visibility reaches (live ones, or deleted ones when
        /// `deleted`) that match the filter.
        pub fn matching(
            conn: &mut crate::DbConnection,
            visibility: &domain::access::Visibility,
            filter: &domain::filter::Filter,
            related: &crate::search::RelatedVisibility,
            (ids, deleted): (&[&str], bool),
        ) -> crate::StoreResult<Vec<String>> {
            use diesel::prelude::*;
            let dialect = crate::sql::Dialect::of(conn);
            Ok(queries::visible(visibility, deleted)
                .filter($table::id.eq_any(ids))
                .filter(crate::search::compile(dialect, $record_type, filter, related)?)
                .select($table::id)
                .load(conn)?)
        }

        /// The ids of live records that match the filter, in id order after `after`: at
        /// most `limit`.
        pub fn matching_after(
            conn: &mut crate::DbConnection,
            filter: &domain::filter::Filter,
            related: &crate::search::RelatedVisibility,
            after: Option<&str>,
            limit: i64,
        ) -> crate::StoreResult<Vec<String>> {
            use diesel::prelude::*;
            let dialect = crate::sql::Dialect::of(conn);
            let mut query = queries::visible(&domain::access::Visibility::Everything, false)
                .filter(crate::search::compile(dialect, $record_type, filter, related)?);
            if let Some(after) = after {
                query = query.filter($table::id.gt(after.to_owned()));
            }
            Ok(query.order($table::id.asc()).limit(limit).select($table::id).load(conn)?)
        }
    };
}

pub(crate) use searchable_records;

/// Removes for good the rows of a record type soft-deleted before `cutoff`; the rows of other
/// types that point at them stay and lose the link. Table and column names come from the
/// registry, never from a client.
pub fn purge_deleted_before(
    conn: &mut crate::DbConnection,
    spec: &domain::registry::RecordTypeSpec,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> StoreResult<usize> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Timestamp;
    let (table, at) = (spec.table(), crate::sql::placeholder(conn, 1));
    let expired = format!("SELECT id FROM {table} WHERE deleted_at < {at}");
    for (referring, column) in spec.referred_by {
        diesel::sql_query(format!("UPDATE {referring} SET {column} = NULL WHERE {column} IN ({expired})"))
            .bind::<Timestamp, _>(crate::to_db_time(cutoff))
            .execute(conn)?;
    }
    Ok(diesel::sql_query(format!("DELETE FROM {table} WHERE deleted_at < {at}"))
        .bind::<Timestamp, _>(crate::to_db_time(cutoff))
        .execute(conn)?)
}

/// The owner and team of a live record of any declared type; `None` when there is none
/// (deleted, or never was). The table name comes from the registry, never from a client.
pub fn record_ownership(
    conn: &mut crate::DbConnection,
    spec: &domain::registry::RecordTypeSpec,
    id: &str,
) -> StoreResult<Option<(Option<String>, Option<String>)>> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::{Nullable, Text};
    #[derive(diesel::QueryableByName)]
    struct Owners {
        #[diesel(sql_type = Nullable<Text>)]
        owner_id: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        team_id: Option<String>,
    }
    let at = crate::sql::placeholder(conn, 1);
    let statement = format!("SELECT owner_id, team_id FROM {} WHERE id = {at} AND deleted_at IS NULL", spec.table());
    let found: Vec<Owners> = diesel::sql_query(statement).bind::<Text, _>(id.to_owned()).load(conn)?;
    Ok(found.into_iter().next().map(|row| (row.owner_id, row.team_id)))
}

/// Every record of every type assigned to a team loses the team (before the team goes).
pub fn clear_team(conn: &mut crate::DbConnection, team_id: &str) -> StoreResult<()> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Text;
    let at = crate::sql::placeholder(conn, 1);
    for spec in domain::registry::RECORD_TYPES {
        diesel::sql_query(format!("UPDATE {} SET team_id = NULL WHERE team_id = {at}", spec.table()))
            .bind::<Text, _>(team_id)
            .execute(conn)?;
    }
    Ok(())
}

/// Removes the links, match keys and history rows whose record or item no longer exists
/// (after a purge), for every record type as its declaration says.
pub fn forget_missing(conn: &mut crate::DbConnection) -> StoreResult<usize> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Text;
    let at = crate::sql::placeholder(conn, 1);
    let mut removed = 0;
    for spec in domain::registry::RECORD_TYPES {
        let mut orphans = |table: &str, kind_column: &str, id_column: &str, kind: &str| {
            diesel::sql_query(format!(
                "DELETE FROM {table} WHERE {kind_column} = {at} AND {id_column} NOT IN (SELECT id FROM {})",
                spec.table()
            ))
            .bind::<Text, _>(kind.to_owned())
            .execute(conn)
        };
        if let Some(item) = spec.link_item {
            removed += orphans("record_links", "item_type", "item_id", item)?;
        }
        if spec.linked_as.is_some() {
            removed += orphans("record_links", "record_type", "record_id", spec.noun)?;
        }
        if spec.match_keys {
            removed += orphans("record_keys", "record_type", "record_id", spec.noun)?;
        }
        if spec.change_history {
            removed += orphans("record_changes", "record_type", "record_id", spec.noun)?;
        }
    }
    Ok(removed)
}
