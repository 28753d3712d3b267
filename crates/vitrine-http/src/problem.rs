//! RFC 9457 problem details: every error the API returns, with a stable `type` per kind.
//!
//! The table in [`Problem::from`] is the one place that maps an application error to a status
//! and a type. 5xx bodies say nothing about the cause; the cause travels in a response extension
//! to the logging middleware, which logs it once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_app::ports::IdentityError;
use vitrine_app::{AppError, UnpaidOver};
use vitrine_domain::FieldError;

/// The media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem document (RFC 9457).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI naming the kind of problem, e.g. `urn:vitrine:problem:out-of-stock`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Invalid fields, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldErrorDto>,
    /// Members some problem types add (boxed: most problems have none).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub extra: Option<Box<Extra>>,
}

/// Extension members and out-of-band details of a problem.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Extra {
    /// The SKU that is short, for out-of-stock problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Units available of that SKU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available: Option<i64>,
    /// A stable code for problems a client may word itself, e.g. `too-many-unpaid-orders`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// What is held now, for the unpaid-orders limit: orders (`too-many-unpaid-orders`) or
    /// units (`too-many-unpaid-units`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<i64>,
    /// The units the refused order asked for (`too-many-unpaid-units`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wanted: Option<i64>,
    /// The limit that was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
    /// The cause of a 5xx: logged, never sent.
    #[serde(skip)]
    pub cause: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldErrorDto {
    pub field: String,
    pub message: String,
    /// A stable code for the problems a client may word in its own language, e.g.
    /// `city-not-in-uf`; absent for the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The values that code's wording needs, e.g. `{"uf": "SP", "suggestions": ["São Paulo"]}`.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    #[schema(value_type = Option<Object>)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl From<FieldError> for FieldErrorDto {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            message: e.message,
            code: e.code.map(str::to_owned),
            params: e.params,
        }
    }
}

/// The cause of a 5xx, carried to the logging middleware.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub String);

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            type_: format!("urn:vitrine:problem:{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            extra: None,
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid input",
            detail,
        );
        p.errors = errors.into_iter().map(Into::into).collect();
        p
    }

    pub fn bad_request(kind: &str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, kind, "Bad request", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("{what} not found"),
        )
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            detail,
        )
    }

    pub fn forbidden() -> Self {
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            "this needs the admin group",
        )
    }

    /// Refused to a member of staff whose role does not include `area` of the admin.
    pub fn forbidden_for(area: vitrine_app::auth::StaffArea) -> Self {
        use vitrine_app::auth::StaffArea;
        let who = match area {
            StaffArea::Catalog => "the catalog staff (staff-catalog) or the owner (admin)",
            StaffArea::Orders => "the orders staff (staff-orders) or the owner (admin)",
            StaffArea::Shared => "a member of staff",
            StaffArea::Owner => "the store's owner (the admin group)",
        };
        Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!("this part of the admin is for {who}"),
        )
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        let mut p = Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "something went wrong on our side; it has been logged",
        );
        p.extra = Some(Box::new(Extra {
            cause: Some(cause.into()),
            ..Extra::default()
        }));
        p
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Self {
        use StatusCode as S;
        match e {
            AppError::Invalid(errors) => Problem::validation(errors),
            AppError::NotFound(what) => Problem::not_found(what),
            AppError::OutOfStock { sku, available } => {
                let mut p = Problem::new(
                    S::CONFLICT,
                    "out-of-stock",
                    "Out of stock",
                    format!("not enough stock for SKU {sku}: {available} available"),
                );
                p.extra = Some(Box::new(Extra {
                    sku: Some(sku),
                    available: Some(available.max(0)),
                    ..Extra::default()
                }));
                p
            }
            AppError::UnpaidLimit(over) => {
                let (code, held, wanted, max) = match over {
                    UnpaidOver::Orders { held, max } => ("too-many-unpaid-orders", held, None, max),
                    UnpaidOver::Units { held, wanted, max } => {
                        ("too-many-unpaid-units", held, Some(wanted), max)
                    }
                };
                let mut p = Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "unpaid-limit",
                    "Too much awaiting payment",
                    over.to_string(),
                );
                p.extra = Some(Box::new(Extra {
                    code: Some(code),
                    held: Some(held),
                    wanted,
                    max: Some(max),
                    ..Extra::default()
                }));
                p
            }
            e @ AppError::VersionMismatch(_) => Problem::new(
                S::PRECONDITION_FAILED,
                "version-mismatch",
                "Changed by someone else",
                e.to_string(),
            ),
            e @ AppError::PreconditionRequired => Problem::new(
                S::PRECONDITION_REQUIRED,
                "precondition-required",
                "If-Match required",
                e.to_string(),
            ),
            e @ AppError::IdempotencyMismatch => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                e.to_string(),
            ),
            AppError::Conflict(m) => Problem::new(S::CONFLICT, "conflict", "Conflict", m),
            AppError::Gone(m) => Problem::new(S::GONE, "gone", "Gone", m),
            AppError::Rule(m) => {
                Problem::new(S::UNPROCESSABLE_ENTITY, "rule", "Not allowed now", m)
            }
            AppError::Unauthenticated => Problem::unauthenticated("sign in first"),
            AppError::Forbidden => Problem::forbidden(),
            AppError::TooManyRequests { retry_after_secs } => {
                let mut p = Problem::new(
                    S::TOO_MANY_REQUESTS,
                    "too-many-requests",
                    "Too many attempts",
                    format!("try again in {retry_after_secs} s"),
                );
                p.extra = Some(Box::new(Extra {
                    retry_after: Some(retry_after_secs),
                    ..Extra::default()
                }));
                p
            }
            AppError::Identity(e) => identity_problem(e),
            AppError::PaymentDeclined(m) => Problem::new(
                S::PAYMENT_REQUIRED,
                "payment-declined",
                "Payment declined",
                m,
            ),
            AppError::Unauthorized(m) => Problem::unauthenticated(m),
            AppError::Unavailable(err) => {
                tracing::warn!(error = %format!("{err:#}"), "a service the request needs is unavailable");
                Problem::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "a service this request needs did not answer; try again shortly",
                )
            }
            AppError::Internal(err) => Problem::internal(format!("{err:#}")),
        }
    }
}

fn identity_problem(e: IdentityError) -> Problem {
    use StatusCode as S;
    let detail = e.to_string();
    match e {
        IdentityError::NotAuthorized | IdentityError::InvalidRefreshToken => {
            Problem::new(S::UNAUTHORIZED, "not-authorized", "Not authorized", detail)
        }
        IdentityError::NotConfirmed => Problem::new(
            S::FORBIDDEN,
            "not-confirmed",
            "Account not confirmed",
            detail,
        ),
        IdentityError::CodeMismatch => {
            Problem::new(S::BAD_REQUEST, "code-mismatch", "Wrong code", detail)
        }
        IdentityError::UserExists => Problem::new(S::CONFLICT, "conflict", "Conflict", detail),
        IdentityError::UserNotFound => Problem::not_found("user"),
        IdentityError::InvalidPassword(m) => {
            Problem::validation(vec![FieldError::new("password", m)])
        }
        IdentityError::InvalidParameter(m) => {
            Problem::validation(vec![FieldError::new("email", m)])
        }
        IdentityError::TooManyAttempts { retry_after_secs } => {
            AppError::TooManyRequests { retry_after_secs }.into()
        }
        // The identity provider's storage (or Cognito) did not answer: the same answer as any
        // other dependency that is down.
        IdentityError::Unavailable(err) => AppError::Unavailable(err).into(),
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, body).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        let extra = self.extra.map(|e| *e).unwrap_or_default();
        if let Some(secs) = extra.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = extra.cause {
            res.extensions_mut().insert(ErrorCause(cause));
        }
        res
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, Problem>;
