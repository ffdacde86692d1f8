//! Contact steps beyond the shared record flow: the company a contact names.

use domain::access::{Action, Module};
use domain::contact::ContactData;
use persistence::{DbConnection, StoreError, companies};

use crate::actor::Actor;
use crate::error::AppError;

/// A company a contact names must be one the actor can see.
pub fn check_company(conn: &mut DbConnection, caller: &Actor, company_id: Option<&str>) -> Result<(), AppError> {
    let Some(company_id) = company_id else {
        return Ok(());
    };
    let visibility = caller.principal.visibility(Module::Companies, Action::Read);
    match companies::find(conn, company_id, &visibility) {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound) => Err(AppError::invalid("company_id", "not_found", "names no company you can see")),
        Err(other) => Err(other.into()),
    }
}

/// What a contact change must satisfy: a newly named company is visible.
pub fn changed(
    conn: &mut DbConnection,
    caller: &Actor,
    _: &str,
    before: &ContactData,
    after: &ContactData,
) -> Result<(), AppError> {
    match &after.company_id {
        Some(company_id) if after.company_id != before.company_id => check_company(conn, caller, Some(company_id)),
        _ => Ok(()),
    }
}
