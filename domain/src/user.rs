//! Users of the CRM and the rules for managing them.

use crate::validation::{FieldError, ValidationErrors};
use crate::values::{EmailAddress, SHORT_TEXT_MAX, required_text};

/// Shortest accepted password; length beats composition rules (NIST SP 800-63B).
pub const PASSWORD_MIN: usize = 12;
/// Longest accepted password, so hashing cost stays bounded.
pub const PASSWORD_MAX: usize = 256;

/// A password that meets the policy; never printed.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// Checks length only, as NIST recommends; whitespace is kept as typed.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let length = raw.chars().count();
        if length < PASSWORD_MIN {
            return Err(FieldError::new(field, "too_short", format!("must be at least {PASSWORD_MIN} characters")));
        }
        if length > PASSWORD_MAX {
            return Err(FieldError::new(field, "too_long", format!("must be at most {PASSWORD_MAX} characters")));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The plain text, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A new user as an admin describes it.
#[derive(Debug)]
pub struct NewUser {
    pub email: EmailAddress,
    pub name: String,
    pub password: Password,
    pub role_id: String,
}

impl NewUser {
    /// Validates every field at once.
    pub fn parse(email: &str, name: &str, password: &str, role_id: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = errors.collect(EmailAddress::parse("email", email));
        let name = errors.collect(required_text("name", name, SHORT_TEXT_MAX));
        let password = errors.collect(Password::parse("password", password));
        let role_id = errors.collect(required_text("role_id", role_id, 100));
        match (email, name, password, role_id) {
            (Some(email), Some(name), Some(password), Some(role_id)) => Ok(Self { email, name, password, role_id }),
            _ => Err(errors),
        }
    }
}

/// Why a change to a user would leave the installation unmanageable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChangeRefused {
    SelfLockout,
    LastAdmin,
}

/// An admin may not deactivate or demote themselves, and the last active admin stays one.
pub fn check_admin_change(
    actor_id: &str,
    target_id: &str,
    target_is_active_admin: bool,
    stays_active_admin: bool,
    active_admin_count: i64,
) -> Result<(), UserChangeRefused> {
    if !target_is_active_admin || stays_active_admin {
        return Ok(());
    }
    if actor_id == target_id {
        return Err(UserChangeRefused::SelfLockout);
    }
    if active_admin_count <= 1 {
        return Err(UserChangeRefused::LastAdmin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_passwords_are_refused() {
        assert!(Password::parse("password", "short").is_err());
        assert!(Password::parse("password", "correct horse battery").is_ok());
    }

    #[test]
    fn every_bad_field_of_a_new_user_is_reported() {
        let errors = NewUser::parse("nope", " ", "x", "sales").err().map(|e| e.errors().len());
        assert_eq!(errors, Some(3));
    }

    #[test]
    fn the_last_admin_cannot_be_removed() {
        assert_eq!(check_admin_change("a", "b", true, false, 1), Err(UserChangeRefused::LastAdmin));
        assert_eq!(check_admin_change("a", "a", true, false, 3), Err(UserChangeRefused::SelfLockout));
        assert_eq!(check_admin_change("a", "b", true, false, 2), Ok(()));
        assert_eq!(check_admin_change("a", "a", true, true, 1), Ok(()));
    }
}
