//! Errors: the SDK's failures sorted into what is retried (conflicts, throttling) and what is
//! not, and the backoff between attempts.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use vitrine_app::ports::table::TableError;

/// What to do about a failed request.
pub(super) enum Failure {
    /// DynamoDB refused the request as malformed.
    Invalid(String),
    /// Refused without effect, worth another attempt after a pause (throttling, a conflicting
    /// transaction).
    Retry(anyhow::Error),
    /// The engine failed.
    Fatal(anyhow::Error),
}

impl Failure {
    pub(super) fn into_table_error(self) -> TableError {
        match self {
            Failure::Invalid(m) => TableError::Invalid(m),
            Failure::Retry(e) | Failure::Fatal(e) => TableError::Unavailable(e),
        }
    }
}

pub(super) fn classify<E, R>(err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let described = anyhow!("{}", DisplayErrorContext(err));
    match err.code() {
        Some("ValidationException") => {
            Failure::Invalid(err.message().unwrap_or("rejected by DynamoDB").to_owned())
        }
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "TransactionConflictException",
        ) => Failure::Retry(described),
        // Server errors are not retried here: the SDK already retried them with the same
        // idempotency token, and a write retried with a new one might apply twice.
        _ => Failure::Fatal(described),
    }
}

/// Sleep before attempt `attempt + 1`: exponential from 20 ms, capped at 1 s, half of it random
/// so that contenders for one item spread out instead of colliding again in step.
pub(super) async fn backoff(attempt: u32) {
    let cap = 20u64.saturating_mul(1 << attempt.min(6)).min(1000);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let jitter = hasher.finish() % cap.max(1);
    tokio::time::sleep(Duration::from_millis(cap / 2 + jitter / 2)).await;
}
