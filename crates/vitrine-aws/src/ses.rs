//! `SesMailer`: the Mailer port on Amazon SES (API v2, `SendEmail` with simple content).
//!
//! Role: the AWS shape's outgoing mail. SES builds the MIME message itself (a plain-text part and,
//! when given, an HTML part, both declared UTF-8), so nothing here encodes headers or bodies.
//!
//! Invariants:
//! - One recipient per message, a plain address: anything that could add recipients or headers
//!   (commas, angle brackets, spaces, line breaks) is refused as `MailError::Invalid` before SES
//!   is called, as the file mailer does.
//! - Every part is sent with charset UTF-8, so accents and `nº` arrive intact.
//! - Attachments travel as the `Attachments` of simple content (SES API v2, present in the
//!   aws-sdk-sesv2 1.145 the workspace locks), each with its file name, media type, disposition
//!   `ATTACHMENT` and base64 transfer encoding: SES writes the `multipart/mixed` message
//!   (<https://docs.aws.amazon.com/ses/latest/dg/attachments.html>). They are checked first, as
//!   every mailer checks them (`Email::check_attachments`: names, and 10 MB a message).
//! - A permanent refusal by SES (unverified sender, or recipient in the sandbox) is
//!   `MailError::Invalid` — retrying cannot help until the account is fixed; throttling and
//!   outages are `MailError::Unavailable`, worth a retry.
//! - Bodies and recipients are personal data: nothing here logs them, and errors carry neither
//!   (SES's own messages can quote the recipient, so they are not passed on).
//! - An idempotency key travels as the header [`IDEMPOTENCY_HEADER`] (SES v2 `Headers` of simple
//!   content), after the same checks as the other mailers. SES cannot deduplicate: it has no
//!   idempotency token for `SendEmail`, and it replaces any `Message-ID` it is given with its own,
//!   so a message sent twice is delivered twice; the header only lets the receiving side (or a
//!   support person reading the mail) recognise the copy. Consumers must record what they sent.

use crate::LazyClient;
use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{
    Attachment, AttachmentContentDisposition, AttachmentContentTransferEncoding, Body, Content,
    Destination, EmailContent, Message, MessageHeader,
};
use vitrine_app::ports::mailer::{Email, MailError, Mailer};

const CHARSET: &str = "UTF-8";

/// The header that carries `Email::idempotency_key`.
pub const IDEMPOTENCY_HEADER: &str = "X-Vitrine-Idempotency-Key";

/// Sends through SES from one sender identity.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: LazyClient<Client>,
    from: String,
}

impl SesMailer {
    /// `from` is an SES-verified address, optionally with a display name
    /// (`vitrine <loja@example.com>`).
    pub fn new(client: impl Into<LazyClient<Client>>, from: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            from: from.into(),
        }
    }

    pub fn from(&self) -> &str {
        &self.from
    }

    /// Register the sender's address as an SES identity (tests, the emulator, first runs). On AWS
    /// this mails a verification link to the address, and sending works once it is clicked; the
    /// emulator accepts the identity at once. Registering an address twice is fine.
    pub async fn verify_sender(client: &Client, from: &str) -> anyhow::Result<()> {
        let address = bare_address(from);
        match client
            .create_email_identity()
            .email_identity(address)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("AlreadyExistsException") => Ok(()),
            Err(e) => Err(anyhow!(
                "SES CreateEmailIdentity failed: {}",
                DisplayErrorContext(&e)
            )),
        }
    }
}

/// The address inside `Name <address>`, or the whole text when there are no angle brackets.
fn bare_address(from: &str) -> &str {
    match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => from[open + 1..close].trim(),
        _ => from.trim(),
    }
}

/// One plain address, nothing that could smuggle in another recipient or a header.
fn is_plain_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && address
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"<>()[]\\,;:\"".contains(&b))
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset(CHARSET)
        .build()
        .map_err(|e| MailError::Unavailable(anyhow!(e)))
}

/// The simple content SES builds the MIME message from, after the checks every mailer makes.
fn content(email: &Email) -> Result<EmailContent, MailError> {
    let key = email.checked_idempotency_key()?;
    email.check_attachments()?;
    if !is_plain_address(&email.to) {
        return Err(MailError::Invalid(
            "the recipient is not a plain e-mail address".into(),
        ));
    }
    if email.subject.chars().any(char::is_control) {
        return Err(MailError::Invalid(
            "the subject holds line breaks or control characters".into(),
        ));
    }
    let mut body = Body::builder().text(utf8(&email.text)?);
    if let Some(html) = &email.html {
        body = body.html(utf8(html)?);
    }
    let mut message = Message::builder()
        .subject(utf8(&email.subject)?)
        .body(body.build());
    if let Some(key) = key {
        message = message.headers(
            MessageHeader::builder()
                .name(IDEMPOTENCY_HEADER)
                .value(key)
                .build()
                .map_err(|e| MailError::Unavailable(anyhow!(e)))?,
        );
    }
    for attachment in &email.attachments {
        message = message.attachments(
            Attachment::builder()
                .file_name(&attachment.filename)
                .content_type(&attachment.content_type)
                .content_disposition(AttachmentContentDisposition::Attachment)
                .content_transfer_encoding(AttachmentContentTransferEncoding::Base64)
                .raw_content(Blob::new(attachment.bytes.to_vec()))
                .build()
                .map_err(|e| MailError::Unavailable(anyhow!(e)))?,
        );
    }
    Ok(EmailContent::builder().simple(message.build()).build())
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: Email) -> Result<(), MailError> {
        let content = content(&email)?;
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(content)
            .send()
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }
}

impl SesMailer {
    fn error<E>(&self, err: SdkError<E>) -> MailError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err.code() {
            Some("MessageRejected") => MailError::Invalid(format!(
                "SES rejected the message: the sender {} is not a verified identity (or, while \
                 the account is in the SES sandbox, the recipient is not)",
                self.from
            )),
            Some("MailFromDomainNotVerifiedException") => MailError::Invalid(format!(
                "SES rejected the message: the MAIL FROM domain of {} is not verified",
                self.from
            )),
            Some("BadRequestException") => MailError::Invalid(
                "SES refused the message as malformed (BadRequestException)".into(),
            ),
            Some(code) => MailError::Unavailable(anyhow!("SES SendEmail failed: {code}")),
            // No answer from SES: the transport's own error quotes no message content.
            None => MailError::Unavailable(anyhow!(
                "SES SendEmail failed: {}",
                DisplayErrorContext(&err)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_address_is_taken_from_a_display_name_form() {
        assert_eq!(
            bare_address("vitrine <loja@vitrine.test>"),
            "loja@vitrine.test"
        );
        assert_eq!(bare_address(" loja@vitrine.test "), "loja@vitrine.test");
    }

    #[test]
    fn only_single_plain_addresses_are_recipients() {
        assert!(is_plain_address("ana@example.com"));
        for bad in [
            "",
            "ana",
            "ana@example.com, bob@example.com",
            "Ana <ana@example.com>",
            "ana@example.com\r\nBcc: x@y.z",
            "ana@@example.com",
        ] {
            assert!(!is_plain_address(bad), "{bad:?}");
        }
    }

    fn email(key: Option<&str>) -> Email {
        Email {
            to: "ana@example.com".into(),
            subject: "Pedido nº 12 pago".into(),
            text: "Olá".into(),
            html: Some("<p>Olá</p>".into()),
            idempotency_key: key.map(str::to_owned),
            attachments: vec![],
        }
    }

    #[test]
    fn the_idempotency_key_travels_as_a_header() {
        let key = "01JZ0000000000000000000000.order-paid-mail";
        let keyed = content(&email(Some(key))).unwrap();
        let simple = keyed.simple().unwrap();
        let headers: Vec<(&str, &str)> = simple
            .headers()
            .iter()
            .map(|h| (h.name(), h.value()))
            .collect();
        assert_eq!(headers, [(IDEMPOTENCY_HEADER, key)]);
        assert_eq!(simple.body().unwrap().html().unwrap().data(), "<p>Olá</p>");
        assert_eq!(simple.body().unwrap().text().unwrap().data(), "Olá");

        let keyless = content(&email(None)).unwrap();
        assert!(keyless.simple().unwrap().headers().is_empty());
        assert!(keyless.simple().unwrap().attachments().is_empty());
    }

    #[test]
    fn attachments_travel_with_their_names_types_and_bytes() {
        let pdf = bytes::Bytes::from_static(b"%PDF-1.4\n\x00\xff binary\n%%EOF\n");
        let xml = bytes::Bytes::from_static("<nfeProc>São Paulo</nfeProc>".as_bytes());
        let with_files = Email {
            attachments: vec![
                vitrine_app::ports::Attachment {
                    filename: "DANFE-1.pdf".into(),
                    content_type: "application/pdf".into(),
                    bytes: pdf.clone(),
                },
                vitrine_app::ports::Attachment {
                    filename: "NFe1.xml".into(),
                    content_type: "application/xml".into(),
                    bytes: xml.clone(),
                },
            ],
            ..email(None)
        };
        let sent = content(&with_files).unwrap();
        let files: Vec<_> = sent
            .simple()
            .unwrap()
            .attachments()
            .iter()
            .map(|a| {
                (
                    a.file_name(),
                    a.content_type(),
                    a.content_disposition().map(|d| d.as_str()),
                    a.raw_content().as_ref(),
                )
            })
            .collect();
        assert_eq!(
            files,
            [
                (
                    "DANFE-1.pdf",
                    Some("application/pdf"),
                    Some("ATTACHMENT"),
                    pdf.as_ref()
                ),
                (
                    "NFe1.xml",
                    Some("application/xml"),
                    Some("ATTACHMENT"),
                    xml.as_ref()
                ),
            ]
        );

        let mut bad = with_files.clone();
        bad.attachments[0].filename = "../DANFE.pdf".into();
        assert!(matches!(content(&bad), Err(MailError::Invalid(_))));
    }

    #[test]
    fn a_key_that_breaks_the_rules_is_refused() {
        for bad in ["", ".x", "a b", "a\r\nBcc: x@y.z", "a..b"] {
            assert!(
                matches!(content(&email(Some(bad))), Err(MailError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
