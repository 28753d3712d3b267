//! The Mailer port: outgoing e-mail to people.
//!
//! Adapters: `.eml` files in a mail folder (`vitrine-local`); SMTP and SES come with the
//! notification consumers. Message bodies may hold personal data and codes: adapters never log
//! them.

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid message: {0}")]
    Invalid(String),
    #[error("mail transport unavailable")]
    Unavailable(#[source] anyhow::Error),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: Email) -> Result<(), MailError>;
}
