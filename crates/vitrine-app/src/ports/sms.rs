//! The Sms port: short text messages to customers' phones.
//!
//! Adapters: a file per message in the mail folder (`vitrine-local`), SNS publish to a phone
//! number (`vitrine-aws`). Texts and numbers are personal data: adapters never log them.

use async_trait::async_trait;

/// One text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// E.164, e.g. `+5511987654321` (see `vitrine_domain::Phone`).
    pub to: String,
    pub text: String,
    /// The same key twice is the same message: adapters that can, send it once (the file adapter
    /// names the file after it). Consumers pass the event id.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("invalid message: {0}")]
    Invalid(String),
    #[error("SMS transport unavailable")]
    Unavailable(#[source] anyhow::Error),
}

#[async_trait]
pub trait Sms: Send + Sync {
    async fn send(&self, message: SmsMessage) -> Result<(), SmsError>;
}
