//! CSV imports: their lifecycle, what a row that looks like an existing record does, and the
//! checks a row passes before its cells are read.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::csv::{CELLS_MAX, ROW_BYTES_MAX, Row};
use crate::validation::FieldError;

/// Where an import is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is taking its rows (or one stopped and another will resume it).
    Running,
    /// Every row was taken or reported.
    Completed,
    /// Stopped for good before the end (`error` says why); rows taken so far stay.
    Failed,
}

/// What a row does when it names an existing record (by `id`) or looks like one (the duplicate
/// rules of its record type: same email or phone, same name at the same company, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum DedupePolicy {
    /// Leave the existing record alone and count the row as skipped.
    #[default]
    Skip,
    /// Change the existing record with the row's non-empty cells (a merge-patch).
    Update,
    /// Create a new record regardless (an `id` column is refused).
    Create,
}

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Created,
    Updated,
    /// The row named or looked like this existing record, and the policy was `skip`.
    Skipped {
        existing: String,
    },
}

/// Refuses a row that cannot be read as a record of the file: longer than [`ROW_BYTES_MAX`], or
/// with another number of cells than the header.
pub fn check_row(row: &Row, header_cells: usize) -> Result<(), FieldError> {
    if row.bytes > ROW_BYTES_MAX {
        return Err(FieldError::new(
            "row",
            "row_too_long",
            format!("is {} bytes long; a row may have at most {ROW_BYTES_MAX} bytes", row.bytes),
        ));
    }
    if row.cells.len() != header_cells {
        return Err(FieldError::new(
            "row",
            "wrong_cell_count",
            format!("has {} cells but the header has {header_cells}", row.cells.len()),
        ));
    }
    Ok(())
}

/// Refuses a header row that cannot describe records: too long, or with too many columns.
pub fn check_header(row: &Row) -> Result<(), FieldError> {
    if row.bytes > ROW_BYTES_MAX || row.cells.len() > CELLS_MAX {
        return Err(FieldError::new(
            "file",
            "header_too_long",
            format!("the header row may have at most {CELLS_MAX} columns and {ROW_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str], bytes: usize) -> Row {
        Row { line: 2, cells: cells.iter().map(|c| (*c).to_owned()).collect(), bytes }
    }

    #[test]
    fn a_row_must_fit_the_header_and_the_size_limit() {
        assert!(check_row(&row(&["a", "b"], 4), 2).is_ok());
        assert_eq!(check_row(&row(&["a"], 2), 2).map_err(|e| e.code), Err("wrong_cell_count"));
        assert_eq!(check_row(&row(&["a", "b"], ROW_BYTES_MAX + 1), 2).map_err(|e| e.code), Err("row_too_long"));
    }
}
