//! The API's one error type and its status table; every error is RFC 9457 problem+json.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::access::Denied;
use domain::validation::ValidationErrors;
use persistence::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One refused field in a 400 or 422 answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// JSON path of the field, e.g. `emails[1].email`.
    #[schema(example = "emails[0].email")]
    pub field: String,
    /// Stable machine code, e.g. `invalid_format`, `required`, `too_long`.
    #[schema(example = "invalid_format")]
    pub code: String,
    /// A sentence for people.
    #[schema(example = "must be an email address such as ada@example.com")]
    pub message: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (relative to this server).
    #[schema(example = "/problems/validation")]
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    #[schema(example = "Validation failed")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong with this request.
    #[schema(example = "2 fields are invalid")]
    pub detail: String,
    /// The id of this request, as in the `X-Request-Id` header and the server's log.
    #[schema(example = "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Each refused field, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// The existing records a create looks like, for duplicate conflicts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateRef>,
}

/// An existing record that looks like the same person or organisation, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DuplicateRef {
    pub id: String,
    pub reasons: Vec<domain::duplicates::DuplicateReason>,
}

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { detail: String, errors: Vec<FieldProblem> },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A create that looks like existing records (which the caller may see).
    #[error("{detail}")]
    Duplicate { detail: String, duplicates: Vec<DuplicateRef> },
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    HeadersTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    Unprocessable { detail: String, errors: Vec<FieldProblem> },
    #[error("rate limit exceeded")]
    TooManyRequests { retry_after_seconds: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// The write collided with a concurrent one and was rolled back; safe to run again.
    #[error("{0}")]
    Contended(String),
    /// The detail is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 for a malformed request, naming the field when known.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest { detail: detail.into(), errors: Vec::new() }
    }

    /// A 400 naming one field.
    pub fn bad_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::BadRequest {
            detail: format!("`{field}` {message}"),
            errors: vec![FieldProblem { field: field.into(), code: code.into(), message }],
        }
    }

    /// A 404 for a record kind.
    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    /// A 422 naming one field.
    pub fn invalid_field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        ValidationErrors::from(domain::FieldError::new(field, code, message)).into()
    }

    /// The kind slug, title and status of this error.
    fn kind(&self) -> (&'static str, &'static str, StatusCode) {
        match self {
            ApiError::BadRequest { .. } => ("bad-request", "Malformed request", StatusCode::BAD_REQUEST),
            ApiError::Unauthorized(_) => ("unauthenticated", "Authentication required", StatusCode::UNAUTHORIZED),
            ApiError::Forbidden(_) => ("forbidden", "Not allowed", StatusCode::FORBIDDEN),
            ApiError::NotFound(_) => ("not-found", "Not found", StatusCode::NOT_FOUND),
            ApiError::Conflict(_) => ("conflict", "Conflict", StatusCode::CONFLICT),
            ApiError::Duplicate { .. } => ("duplicate", "Possible duplicate", StatusCode::CONFLICT),
            ApiError::PreconditionFailed(_) => ("stale", "Precondition failed", StatusCode::PRECONDITION_FAILED),
            ApiError::RequestTimeout(_) => ("timeout", "Request timeout", StatusCode::REQUEST_TIMEOUT),
            ApiError::PayloadTooLarge(_) => ("too-large", "Request body too large", StatusCode::PAYLOAD_TOO_LARGE),
            ApiError::HeadersTooLarge(_) => {
                ("headers-too-large", "Request headers too large", StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            }
            ApiError::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "Unsupported media type", StatusCode::UNSUPPORTED_MEDIA_TYPE)
            }
            ApiError::Unprocessable { .. } => ("validation", "Validation failed", StatusCode::UNPROCESSABLE_ENTITY),
            ApiError::TooManyRequests { .. } => ("rate-limited", "Too many requests", StatusCode::TOO_MANY_REQUESTS),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::Contended(_) => ("contended", "Concurrent change", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::Internal(_) => ("internal", "Internal error", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }

    /// The problem body (without request id, which the middleware adds).
    pub fn problem(&self) -> Problem {
        let (slug, title, status) = self.kind();
        let detail = match self {
            ApiError::Internal(_) => "an internal error occurred; quote the request_id when reporting it".to_owned(),
            other => other.to_string(),
        };
        let errors = match self {
            ApiError::BadRequest { errors, .. } | ApiError::Unprocessable { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        let duplicates = match self {
            ApiError::Duplicate { duplicates, .. } => duplicates.clone(),
            _ => Vec::new(),
        };
        Problem {
            problem_type: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            request_id: None,
            errors,
            duplicates,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().2
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::TooManyRequests { retry_after_seconds } => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::Contended(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl ApiError {
    /// A 422 listing each refused field.
    pub fn unprocessable(errors: Vec<FieldProblem>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("`{}` {}", one.field, one.message),
            many => format!("{} fields are invalid", many.len()),
        };
        ApiError::Unprocessable { detail, errors }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::unprocessable(
            errors
                .errors()
                .iter()
                .map(|e| FieldProblem { field: e.field.clone(), code: e.code.to_owned(), message: e.message.clone() })
                .collect(),
        )
    }
}

impl From<domain::FieldError> for ApiError {
    fn from(error: domain::FieldError) -> Self {
        ValidationErrors::from(error).into()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Conflict(what) => ApiError::Conflict(format!("conflicts with existing data ({what})")),
            StoreError::Stale => ApiError::PreconditionFailed(
                "the record changed since you read it; fetch it again and retry with the new ETag".into(),
            ),
            StoreError::Unavailable(detail) => {
                log::warn!("database unavailable: {detail}");
                ApiError::Unavailable("the database is unavailable; retry shortly".into())
            }
            StoreError::Contention(detail) => {
                log::warn!("write rolled back by a concurrent one: {detail}");
                ApiError::Contended("a concurrent change to the same records won; retry the request".into())
            }
            StoreError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<app::error::Duplicate> for DuplicateRef {
    fn from(duplicate: app::error::Duplicate) -> Self {
        DuplicateRef { id: duplicate.id, reasons: duplicate.reasons }
    }
}

/// The one table from business outcomes to HTTP: what the application layer refused or
/// failed with, as the problem a client gets.
impl From<app::error::AppError> for ApiError {
    fn from(error: app::error::AppError) -> Self {
        use app::error::AppError;
        let problems = |errors: Vec<domain::FieldError>| {
            errors
                .into_iter()
                .map(|e| FieldProblem { field: e.field, code: e.code.to_owned(), message: e.message })
                .collect()
        };
        match error {
            AppError::Malformed { detail, errors } => ApiError::BadRequest { detail, errors: problems(errors) },
            AppError::Forbidden(reason) => ApiError::Forbidden(reason),
            AppError::NotFound(reason) => ApiError::NotFound(reason),
            AppError::Conflict(reason) => ApiError::Conflict(reason),
            AppError::Duplicate { detail, duplicates } => {
                ApiError::Duplicate { detail, duplicates: duplicates.into_iter().map(DuplicateRef::from).collect() }
            }
            AppError::Stale(reason) => ApiError::PreconditionFailed(reason),
            AppError::Invalid(errors) => errors.into(),
            AppError::Unavailable(reason) => ApiError::Unavailable(reason),
            AppError::Contended(reason) => ApiError::Contended(reason),
            AppError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Invisible => ApiError::NotFound("not found".into()),
            Denied::Forbidden(reason) => ApiError::Forbidden(reason),
        }
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        shape_errors(&errors).into()
    }
}

/// The request-shape findings of `validator` as the domain's field errors.
pub fn shape_errors(errors: &validator::ValidationErrors) -> ValidationErrors {
    let mut collected = ValidationErrors::new();
    collect_validator(&mut collected, "", errors);
    collected
}

fn collect_validator(into: &mut ValidationErrors, prefix: &str, errors: &validator::ValidationErrors) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    let message = error.message.as_ref().map_or_else(|| describe(error), ToString::to_string);
                    let code = match error.code.as_ref() {
                        "length" => "too_long",
                        "range" => "out_of_range",
                        _ => "invalid",
                    };
                    into.push(domain::FieldError::new(path.clone(), code, message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect_validator(into, &path, inner),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect_validator(into, &format!("{path}[{index}]"), inner);
                }
            }
        }
    }
}

fn describe(error: &validator::ValidationError) -> String {
    let param = |name: &str| error.params.get(name).map(ToString::to_string);
    match (error.code.as_ref(), param("min"), param("max")) {
        ("length", None, Some(max)) => format!("must be at most {max} long"),
        ("length", _, _) if param("equal").is_some() => {
            format!("must be exactly {} long", param("equal").unwrap_or_default())
        }
        ("length", Some(min), Some(max)) => format!("must be between {min} and {max} long"),
        ("range", Some(min), Some(max)) => format!("must be between {min} and {max}"),
        (code, _, _) => format!("failed the `{code}` rule"),
    }
}

fn problem_responses(
    entries: &[(&str, &str)],
) -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    entries
        .iter()
        .map(|(status, description)| {
            let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
            let response = ResponseBuilder::new().description(*description).content(PROBLEM_JSON, content).build();
            ((*status).to_owned(), response.into())
        })
        .collect()
}

/// The error answers every authenticated operation can give: 401, 429 and 503.
pub struct CommonErrors;

impl utoipa::IntoResponses for CommonErrors {
    fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
        problem_responses(&[
            ("401", "Not authenticated: the credential is missing, invalid, expired or revoked"),
            ("429", "Rate limited; retry after `Retry-After` seconds"),
            ("503", "Database unavailable; retry after `Retry-After` seconds"),
        ])
    }
}

/// The error answers every public operation can give: 429 and 503.
pub struct PublicErrors;

impl utoipa::IntoResponses for PublicErrors {
    fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
        problem_responses(&[
            ("429", "Rate limited; retry after `Retry-After` seconds"),
            ("503", "Database unavailable; retry after `Retry-After` seconds"),
        ])
    }
}

macro_rules! error_bundle {
    ($(#[$doc:meta])* $name:ident: $(($status:literal, $description:literal)),+ $(,)?) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses(
            ) -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
                let mut responses = problem_responses(&[$(($status, $description)),+]);
                responses.extend(CommonErrors::responses());
                responses
            }
        }
    };
}

error_bundle!(
    /// Errors of a list: bad parameters, a role that may not read the module.
    ListErrors:
    ("400", "Unknown or malformed parameter"),
    ("403", "The role may not read these records"),
);

error_bundle!(
    /// Errors of reading one resource.
    ReadErrors:
    ("400", "Unknown parameter"),
    ("404", "No such resource, or not visible to the caller"),
);

error_bundle!(
    /// Errors of creating a resource.
    CreateErrors:
    ("400", "Malformed JSON, unknown field or parameter"),
    ("403", "The role may not create this (for that owner)"),
    ("409", "Conflicts with existing data"),
    ("413", "Body too large"),
    ("415", "Body is not JSON"),
    ("422", "Invalid field values, or an Idempotency-Key reused with another body"),
);

error_bundle!(
    /// Errors of creating a resource under another one (a comment on a record, an email
    /// from a template), which may not exist.
    CreateUnderErrors:
    ("400", "Malformed JSON, unknown field or parameter"),
    ("403", "The role may not create this"),
    ("404", "No such parent resource, or not visible to the caller"),
    ("409", "Conflicts with existing data or configuration"),
    ("413", "Body too large"),
    ("415", "Body is not JSON"),
    ("422", "Invalid field values"),
);

error_bundle!(
    /// Errors of changing a resource or running an action on it.
    UpdateErrors:
    ("400", "Malformed JSON, unknown field or parameter, or a malformed If-Match"),
    ("403", "Visible, but the role may not do this"),
    ("404", "No such resource, or not visible to the caller"),
    ("409", "The resource's state does not allow this"),
    ("412", "Changed since the given ETag"),
    ("413", "Body too large"),
    ("415", "Body is not JSON"),
    ("422", "Invalid field values"),
);

error_bundle!(
    /// Errors of deleting a resource.
    DeleteErrors:
    ("400", "Unknown parameter, or a malformed If-Match"),
    ("403", "Visible, but the role may not delete it"),
    ("404", "No such resource, or not visible to the caller"),
    ("409", "Still in use"),
    ("412", "Changed since the given ETag"),
    ("422", "Invalid parameter values"),
);
