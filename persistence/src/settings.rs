//! Instance-wide settings kept in the database, shared by every process.

use diesel::prelude::*;

use crate::DbConnection;
use crate::error::{StoreError, StoreResult};
use crate::schema::instance_settings;

/// The stored value for `key`, storing `candidate` first if there is none. Several processes
/// racing on a fresh database all end up with the one value that won.
pub fn get_or_init(conn: &mut DbConnection, key: &str, candidate: &str) -> StoreResult<String> {
    let existing = instance_settings::table
        .filter(instance_settings::key.eq(key))
        .select(instance_settings::value)
        .first::<String>(conn)
        .optional()?;
    if let Some(value) = existing {
        return Ok(value);
    }
    match diesel::insert_into(instance_settings::table)
        .values((instance_settings::key.eq(key), instance_settings::value.eq(candidate)))
        .execute(conn)
    {
        Ok(_) => Ok(candidate.to_owned()),
        Err(error) => match StoreError::from(error) {
            StoreError::Conflict(_) => Ok(instance_settings::table
                .filter(instance_settings::key.eq(key))
                .select(instance_settings::value)
                .first::<String>(conn)?),
            other => Err(other),
        },
    }
}
