//! Field-level validation errors collected across a whole command.

use std::fmt;

/// One reason a field was refused, addressed by its JSON path (`emails[1].email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    /// A refusal of `field` with a stable machine `code` and a human `message`.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }
}

/// Every refusal found while parsing one command; never empty when returned as an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one refusal, unless the field is already refused: a client gets one reason per
    /// field (the first found, usually the most specific: "too long" rather than a "required"
    /// that only follows from the refused value).
    pub fn push(&mut self, error: FieldError) {
        if !self.0.iter().any(|known| known.field == error.field) {
            self.0.push(error);
        }
    }

    /// Runs `parse` and keeps its value, or records its error and yields `None`.
    pub fn collect<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    /// Adds every refusal of `other`, prefixing their field paths with `prefix`.
    pub fn extend_prefixed(&mut self, prefix: &str, other: ValidationErrors) {
        for mut error in other.0 {
            error.field = format!("{prefix}{}", error.field);
            self.push(error);
        }
    }

    /// `Ok(value)` when nothing was refused.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, ValidationErrors> {
        if self.0.is_empty() { Ok(value()) } else { Err(self) }
    }

    /// The refusals, in the order found.
    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    /// True when nothing was refused.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self(vec![error])
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.0.iter().map(|e| e.field.as_str()).collect();
        write!(f, "invalid fields: {}", fields.join(", "))
    }
}

impl std::error::Error for ValidationErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_reported_once_with_the_first_reason_found() {
        let mut errors = ValidationErrors::new();
        errors.push(FieldError::new("subject", "too_long", "must be at most 200 characters"));
        errors.push(FieldError::new("subject", "required", "an activity needs a subject or a body"));
        errors.extend_prefixed("address.", FieldError::new("city", "too_long", "too long").into());
        errors.extend_prefixed("", FieldError::new("address.city", "invalid", "again").into());
        let found: Vec<_> = errors.errors().iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(found, [("subject", "too_long"), ("address.city", "too_long")]);
    }
}
