//! The use cases' error: every way a request can fail, in terms the API maps to one stable
//! problem type and status each (see `vitrine-http::problem`).

use vitrine_domain::{DomainError, FieldError};

use crate::ports::{BlobError, IdentityError, MailError, TableError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that breaks a rule, field by field.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The customer's unpaid orders already hold as much as one customer may (abuse limit).
    #[error(transparent)]
    UnpaidLimit(crate::settings::UnpaidOver),
    /// Not enough stock for this SKU.
    #[error("out of stock: {sku}")]
    OutOfStock { sku: String, available: i64 },
    /// The resource changed since the caller read it (`If-Match` did not match).
    #[error("the {0} was changed by someone else; reload and try again")]
    VersionMismatch(&'static str),
    /// `If-Match` is required for this update.
    #[error("this update needs an If-Match header with the current ETag")]
    PreconditionRequired,
    /// The same Idempotency-Key was used with another request body.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    /// Something with this name exists already.
    #[error("{0}")]
    Conflict(String),
    /// Something that existed for a while and is gone for good (an expired upload).
    #[error("{0}")]
    Gone(String),
    /// A state-machine move that is not allowed now, or a business rule.
    #[error("{0}")]
    Rule(String),
    #[error("authentication required")]
    Unauthenticated,
    #[error("not allowed")]
    Forbidden,
    #[error("too many attempts; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error(transparent)]
    Identity(IdentityError),
    /// The card was declined; the message is fit for the buyer.
    #[error("{0}")]
    PaymentDeclined(String),
    /// A caller that is not who it says (a webhook with a wrong signature).
    #[error("{0}")]
    Unauthorized(String),
    /// A service the request needs (a payment provider) did not answer; worth retrying.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// An engine failed. Reported as 503/500 without detail; logged once by the HTTP layer.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(errors) => AppError::Invalid(errors),
            e @ DomainError::IllegalTransition { .. } => AppError::Rule(e.to_string()),
            DomainError::Rule(m) => AppError::Rule(m),
        }
    }
}

impl From<TableError> for AppError {
    fn from(e: TableError) -> Self {
        // Malformed requests to the table are programming errors; the one that user input can
        // cause (a forged cursor) is mapped where cursors are passed in. A table that does not
        // answer (I/O error, disk full, read-only folder, throttling past the retries) is a 503
        // the client may retry: nothing was written.
        match e {
            TableError::Unavailable(err) => AppError::Unavailable(err),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<BlobError> for AppError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::InvalidKey(k) => AppError::field("key", format!("invalid key {k}")),
            BlobError::Unavailable(err) => AppError::Unavailable(err),
        }
    }
}

impl From<MailError> for AppError {
    fn from(e: MailError) -> Self {
        AppError::Internal(anyhow::Error::new(e))
    }
}

impl From<IdentityError> for AppError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::TooManyAttempts { retry_after_secs } => {
                AppError::TooManyRequests { retry_after_secs }
            }
            IdentityError::Unavailable(err) => AppError::Unavailable(err),
            IdentityError::InvalidPassword(m) => AppError::field("password", m),
            IdentityError::InvalidParameter(m) => AppError::field("email", m),
            other => AppError::Identity(other),
        }
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Internal(anyhow::Error::new(e).context("stored item does not decode"))
    }
}

pub type AppResult<T> = Result<T, AppError>;
