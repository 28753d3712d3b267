//! The Mailer port: outgoing e-mail to people.
//!
//! Adapters: `.eml` files in a mail folder and SMTP (`vitrine-local`), SES (`vitrine-aws`).
//! Message bodies may hold personal data and codes: adapters never log them.

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// The same key twice is the same message: adapters that can, deliver it once or make the
    /// second copy recognisable (the file mailer rewrites the same file, SMTP reuses the same
    /// `Message-ID`, SES carries it as a header). Consumers pass `{event_id}.{consumer}`;
    /// `None` for mail that answers no event (sign-up codes). Keys are 1 to 200 ASCII letters,
    /// digits, `.`, `_` or `-`, neither starting nor ending with `.` and without `..`; adapters
    /// refuse others as [`MailError::Invalid`].
    pub idempotency_key: Option<String>,
}

/// The longest idempotency key adapters accept.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

impl Email {
    /// The idempotency key when it follows the rules of [`Email::idempotency_key`], which make it
    /// safe as a file name and as the left part of a `Message-ID` (an RFC 5322 dot-atom).
    pub fn checked_idempotency_key(&self) -> Result<Option<&str>, MailError> {
        let Some(key) = self.idempotency_key.as_deref() else {
            return Ok(None);
        };
        let valid = !key.is_empty()
            && key.len() <= MAX_IDEMPOTENCY_KEY
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..");
        if valid {
            Ok(Some(key))
        } else {
            Err(MailError::Invalid(format!(
                "the idempotency key must be 1-{MAX_IDEMPOTENCY_KEY} letters, digits, '.', '_' or \
                 '-', not starting or ending with '.' nor holding '..'"
            )))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(key: &str) -> Email {
        Email {
            to: "ana@example.com".into(),
            subject: "Oi".into(),
            text: "Oi".into(),
            html: None,
            idempotency_key: Some(key.into()),
        }
    }

    #[test]
    fn event_and_consumer_keys_are_valid_and_unsafe_ones_are_not() {
        for good in ["01JEVENT0000000000000000AB.order-mail", "a", "a_b-c.d"] {
            assert_eq!(
                keyed(good).checked_idempotency_key().unwrap(),
                Some(good),
                "{good}"
            );
        }
        let too_long = "k".repeat(MAX_IDEMPOTENCY_KEY + 1);
        for bad in [
            "",
            ".hidden",
            "end.",
            "a..b",
            "../x",
            "a/b",
            "a b",
            "ação",
            "a@b",
            too_long.as_str(),
        ] {
            assert!(
                matches!(
                    keyed(bad).checked_idempotency_key(),
                    Err(MailError::Invalid(_))
                ),
                "{bad:?}"
            );
        }
        let keyless = Email {
            idempotency_key: None,
            ..keyed("x")
        };
        assert_eq!(keyless.checked_idempotency_key().unwrap(), None);
    }
}
