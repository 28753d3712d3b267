//! The Mailer port: outgoing e-mail to people.
//!
//! Adapters: `.eml` files in a mail folder and SMTP (`vitrine-local`), SES (`vitrine-aws`).
//! Message bodies may hold personal data and codes: adapters never log them.

use async_trait::async_trait;
use bytes::Bytes;

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
    /// Files sent with the message, in this order, after the text and HTML. Adapters check them
    /// with [`Email::check_attachments`].
    pub attachments: Vec<Attachment>,
}

/// A file carried by an [`Email`].
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name the recipient sees: 1 to [`MAX_ATTACHMENT_NAME`] printable ASCII characters,
    /// without `/`, `\\` or `"`, not starting or ending with a space.
    pub filename: String,
    /// A media type such as `application/pdf`, without parameters.
    pub content_type: String,
    pub bytes: Bytes,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bytes are a document (personal data, and long): only their size is shown.
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The longest idempotency key adapters accept.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// The longest attachment file name adapters accept.
pub const MAX_ATTACHMENT_NAME: usize = 100;

/// The largest message adapters accept, counted as it travels: subject and bodies, plus the
/// attachments once base64-encoded (4 characters for every 3 bytes). 10 MB is Amazon SES's limit
/// for its API v1 (its API v2, which `vitrine-aws` uses, takes 40 MB:
/// <https://docs.aws.amazon.com/ses/latest/dg/attachments.html>); the port keeps the smaller.
/// Every adapter takes the same, so what one accepts, all do.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;

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

impl Email {
    /// Check the attachments: names and media types that are safe in a MIME header (see
    /// [`Attachment`]), and a message within [`MAX_MESSAGE_BYTES`]. Errors are
    /// [`MailError::Invalid`], naming the file (never its content).
    pub fn check_attachments(&self) -> Result<(), MailError> {
        for attachment in &self.attachments {
            let name = attachment.filename.as_str();
            let valid_name = !name.is_empty()
                && name.len() <= MAX_ATTACHMENT_NAME
                && name
                    .bytes()
                    .all(|b| (0x20..0x7F).contains(&b) && !b"/\\\"".contains(&b))
                && name.trim() == name;
            if !valid_name {
                return Err(MailError::Invalid(format!(
                    "the attachment name {name:?} must be 1-{MAX_ATTACHMENT_NAME} printable ASCII \
                     characters without '/', '\\' or '\"', not starting or ending with a space"
                )));
            }
            if !is_media_type(&attachment.content_type) {
                return Err(MailError::Invalid(format!(
                    "the attachment {name} has the media type {:?}: expected type/subtype, such \
                     as application/pdf",
                    attachment.content_type
                )));
            }
        }
        let encoded: usize = self
            .attachments
            .iter()
            .map(|a| a.bytes.len().div_ceil(3) * 4)
            .sum();
        let size = encoded
            + self.subject.len()
            + self.text.len()
            + self.html.as_deref().map_or(0, str::len);
        if size > MAX_MESSAGE_BYTES {
            return Err(MailError::Invalid(format!(
                "the message comes to {size} bytes with its {} attachment(s) encoded, over the \
                 {MAX_MESSAGE_BYTES} bytes (10 MB) a message may carry",
                self.attachments.len()
            )));
        }
        Ok(())
    }
}

/// `type/subtype`, both RFC 2045 tokens, nothing more (no parameters, no spaces).
fn is_media_type(text: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.len() <= 127
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    text.split_once('/')
        .is_some_and(|(kind, subtype)| token(kind) && token(subtype))
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
            attachments: vec![],
        }
    }

    fn attaching(filename: &str, content_type: &str, len: usize) -> Email {
        Email {
            attachments: vec![Attachment {
                filename: filename.into(),
                content_type: content_type.into(),
                bytes: Bytes::from(vec![b'x'; len]),
            }],
            ..keyed("k")
        }
    }

    #[test]
    fn attachment_names_and_types_must_be_safe_in_a_header() {
        let long = "a".repeat(MAX_ATTACHMENT_NAME);
        for good in [
            "NFe35250100000000000100550010000000011000000010.xml",
            "DANFE-1.pdf",
            "nota fiscal (1).pdf",
            long.as_str(),
        ] {
            attaching(good, "application/pdf", 10)
                .check_attachments()
                .unwrap();
        }
        let too_long = "a".repeat(MAX_ATTACHMENT_NAME + 1);
        for bad in [
            "",
            "../x.pdf",
            "a/b.pdf",
            "a\\b.pdf",
            "a\"b.pdf",
            "nota\r\nBcc: x@y.pdf",
            "ação.pdf",
            " x.pdf",
            too_long.as_str(),
        ] {
            let err = attaching(bad, "application/pdf", 1).check_attachments();
            assert!(matches!(err, Err(MailError::Invalid(_))), "{bad:?}");
        }
        for bad in ["pdf", "application/pdf; name=x", "text/", "a/b\r\nX: y"] {
            let err = attaching("x.pdf", bad, 1).check_attachments();
            assert!(matches!(err, Err(MailError::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn a_message_over_ten_megabytes_once_encoded_is_refused() {
        // 7.5 MiB of bytes is 10 MiB of base64: with the subject and text, 4 bytes too many.
        let over = attaching("big.pdf", "application/pdf", MAX_MESSAGE_BYTES / 4 * 3);
        let Err(MailError::Invalid(why)) = over.check_attachments() else {
            panic!("accepted");
        };
        assert!(why.contains("10 MB"), "{why}");
        let under = attaching("big.pdf", "application/pdf", MAX_MESSAGE_BYTES / 4 * 3 - 3);
        under.check_attachments().unwrap();
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
