//! The duplicate check of contacts and companies: which visible records a new or existing
//! one looks like (shared match keys), used on create, by imports, conversion and the
//! candidates endpoints.

use std::collections::BTreeMap;

use domain::company::CompanyData;
use domain::contact::ContactData;
use domain::duplicates::{self, DuplicateReason, MatchKey};
use persistence::{DbConnection, keys};

use crate::actor::Actor;
use crate::error::{AppError, Duplicate};
use crate::kinds::{COMPANIES, CONTACTS};
use crate::records::{RecordData, RecordKind};

/// Most candidates one duplicate check reads.
const CANDIDATES_MAX: i64 = 50;

/// Existing records sharing keys with `keys`, that the caller may see and that `counts`
/// accepts, grouped by record with every reason.
fn candidates<D: RecordData>(
    conn: &mut DbConnection,
    caller: &Actor,
    kind: &RecordKind<D>,
    keys: &[MatchKey],
    exclude: Option<&str>,
    counts: impl Fn(DuplicateReason, &D) -> bool,
) -> Result<Vec<Duplicate>, AppError> {
    let mut found: BTreeMap<String, Vec<DuplicateReason>> = BTreeMap::new();
    for (id, reason) in keys::matching(conn, kind.spec.noun, keys, exclude, CANDIDATES_MAX)? {
        found.entry(id).or_default().push(reason);
    }
    let mut duplicates = Vec::new();
    for (id, reasons) in found {
        // Records the caller may not see are never named: that would leak them.
        let Ok(existing) = kind.find_visible(conn, caller, &id) else { continue };
        let reasons: Vec<DuplicateReason> = reasons.into_iter().filter(|r| counts(*r, &existing.data)).collect();
        if !reasons.is_empty() {
            duplicates.push(Duplicate { id, reasons });
        }
    }
    Ok(duplicates)
}

/// Visible contacts that look like `data` (other than `exclude`), with the reasons.
pub fn contact_candidates(
    conn: &mut DbConnection,
    caller: &Actor,
    data: &ContactData,
    exclude: Option<&str>,
) -> Result<Vec<Duplicate>, AppError> {
    let keys = duplicates::contact_keys(data);
    candidates(conn, caller, &CONTACTS, &keys, exclude, |reason, existing| {
        duplicates::contact_match_counts(reason, data, existing)
    })
}

/// Visible companies that look like `data` (other than `exclude`), with the reasons.
pub fn company_candidates(
    conn: &mut DbConnection,
    caller: &Actor,
    data: &CompanyData,
    exclude: Option<&str>,
) -> Result<Vec<Duplicate>, AppError> {
    candidates(conn, caller, &COMPANIES, &duplicates::company_keys(data), exclude, |_, _| true)
}

fn refuse_duplicates(noun: &str, duplicates: Vec<Duplicate>) -> Result<(), AppError> {
    if duplicates.is_empty() {
        return Ok(());
    }
    Err(AppError::Duplicate {
        detail: format!(
            "this {noun} looks like {} existing one(s); merge them, or send ?allow_duplicate=true to create it anyway",
            duplicates.len()
        ),
        duplicates,
    })
}

/// The first visible contact `data` looks like, for imports.
pub fn contact_duplicate(
    conn: &mut DbConnection,
    caller: &Actor,
    data: &ContactData,
) -> Result<Option<String>, AppError> {
    Ok(contact_candidates(conn, caller, data, None)?.into_iter().next().map(|found| found.id))
}

/// The first visible company `data` looks like, for imports.
pub fn company_duplicate(
    conn: &mut DbConnection,
    caller: &Actor,
    data: &CompanyData,
) -> Result<Option<String>, AppError> {
    Ok(company_candidates(conn, caller, data, None)?.into_iter().next().map(|found| found.id))
}

/// Which of many new contacts may look like a stored one (`false`: certainly none), in one
/// statement: the prefilter of an import batch before the exact check of each candidate.
pub fn contacts_maybe_duplicated(conn: &mut DbConnection, data: &[&ContactData]) -> Result<Vec<bool>, AppError> {
    maybe_duplicated(conn, "contact", data.iter().map(|d| duplicates::contact_keys(d)).collect())
}

/// Which of many new companies may look like a stored one (`false`: certainly none).
pub fn companies_maybe_duplicated(conn: &mut DbConnection, data: &[&CompanyData]) -> Result<Vec<bool>, AppError> {
    maybe_duplicated(conn, "company", data.iter().map(|d| duplicates::company_keys(d)).collect())
}

fn maybe_duplicated(
    conn: &mut DbConnection,
    record_type: &str,
    keys: Vec<Vec<MatchKey>>,
) -> Result<Vec<bool>, AppError> {
    let all: Vec<MatchKey> = keys.iter().flatten().cloned().collect();
    let stored: std::collections::BTreeSet<MatchKey> = keys::stored(conn, record_type, &all)?.into_iter().collect();
    Ok(keys.iter().map(|keys| keys.iter().any(|key| stored.contains(key))).collect())
}

/// The create-time check of contacts: 409 naming visible look-alikes unless allowed.
pub fn check_new_contact(
    conn: &mut DbConnection,
    caller: &Actor,
    data: &ContactData,
    allow_duplicate: bool,
) -> Result<(), AppError> {
    if allow_duplicate {
        return Ok(());
    }
    refuse_duplicates("contact", contact_candidates(conn, caller, data, None)?)
}

/// The create-time check of companies.
pub fn check_new_company(
    conn: &mut DbConnection,
    caller: &Actor,
    data: &CompanyData,
    allow_duplicate: bool,
) -> Result<(), AppError> {
    if allow_duplicate {
        return Ok(());
    }
    refuse_duplicates("company", company_candidates(conn, caller, data, None)?)
}
