//! `SmtpMailer`: the Mailer port over SMTP (`lettre`, on tokio, TLS by rustls).
//!
//! Role: the local shape's mail transport when a server is configured (`mail.smtp_url`); the
//! file mailer stays the default. Configured by one URL ([`SmtpUrl`]):
//!
//! | URL | connection | default port |
//! |---|---|---|
//! | `smtps://user:pass@host:port` | TLS from the first byte (implicit TLS) | 465 |
//! | `smtp://user:pass@host:port?tls=starttls` | plain, then `STARTTLS`, required | 587 |
//! | `smtp://host:port` | plain, never encrypted (a local relay or a test server) | 25 |
//!
//! User and password are optional (both or neither) and percent-encoded in the URL. Certificates
//! are checked against the bundled Mozilla roots (`webpki-roots`).
//!
//! Messages: `From` the store's sender, one `To`, the subject as RFC 2047 words when not ASCII,
//! `multipart/alternative` with a plain-text and an HTML part when there is HTML, all UTF-8. A
//! message with attachments is `multipart/mixed`: that text part first, then each file
//! base64-encoded with its `Content-Type` and `Content-Disposition: attachment; filename="…"`
//! (names and size checked by `Email::check_attachments`, as the other mailers do).
//!
//! Invariants:
//! - The `Message-ID` of a message with an idempotency key is `<{key}@{sender's domain}>`, the
//!   same on every re-send, so the receiving side can recognise a duplicate (SMTP itself cannot
//!   refuse one). Without a key it is `<{ulid}@{sender's domain}>`.
//! - Recipients, subjects and keys are checked as the file mailer checks them (one plain address,
//!   no control characters) and refused as `MailError::Invalid` before connecting.
//! - Errors: no answer within 30 s (for the whole send), a refused or broken connection, TLS
//!   failures and 4xx answers are `MailError::Unavailable` (worth a retry); a permanent
//!   mail-system refusal (5x5: unknown or refused mailbox, mailbox full, message refused) is
//!   `MailError::Invalid`. Other 5xx answers (syntax, authentication) mean the configuration is
//!   wrong: `Unavailable`, so nothing is lost while it is fixed. (A 550 for a relay the account
//!   may not use also reads as `Invalid`: SMTP reply codes cannot tell it from an unknown
//!   mailbox.)
//! - Bodies and addresses are personal data: nothing here logs them, and errors never carry the
//!   server's reply text (which often quotes the recipient) nor the password.
//! - The connection pool is created on the first send, inside the runtime that sends: building a
//!   mailer needs no runtime.

use std::fmt;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use lettre::message::header::{ContentDisposition, ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::response::{Category, Severity};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use tokio::sync::OnceCell;
use vitrine_app::ports::mailer::{Email, MailError, Mailer};

use crate::mail::is_plain_address;

/// How long one send may take, from connecting to the server's last answer. (lettre's own timeout
/// covers only the connection attempt, so the whole send is bounded here.)
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text throughout (`smtp://` without `tls`).
    None,
    /// Plain, then `STARTTLS`, which the server must offer (`smtp://…?tls=starttls`).
    StartTls,
    /// TLS from the start (`smtps://`).
    Tls,
}

/// A parsed SMTP server URL. `Debug` and `Display` never show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
}

impl SmtpUrl {
    /// Parse `smtp://[user:pass@]host[:port][?tls=starttls]` or `smtps://[user:pass@]host[:port]`.
    /// Errors never quote the password.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(text.trim())
            .map_err(|e| anyhow!("not a URL ({e}); expected smtp://host:port or smtps://…"))?;
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.into_owned()),
                other => bail!("unknown or repeated URL parameter {other:?} (only tls=starttls)"),
            }
        }
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtp", None | Some("none")) => Security::None,
            ("smtp", Some("starttls" | "required")) => Security::StartTls,
            ("smtps", None) => Security::Tls,
            ("smtp" | "smtps", Some(other)) => {
                bail!("tls={other:?}: use smtp://…?tls=starttls, or smtps:// for implicit TLS")
            }
            (scheme, _) => bail!("the scheme must be smtp or smtps, not {scheme:?}"),
        };
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            // lettre wants the address itself; brackets are URL syntax.
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => bail!("the URL names no host"),
        };
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            bail!("the URL must not have a path or a fragment");
        }
        let decode = |s: &str, what: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| anyhow!("the {what} is not UTF-8 once percent-decoded"))
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => {
                Some((decode(user, "user")?, decode(password, "password")?))
            }
            _ => bail!("give both a user and a password (smtp://user:pass@host), or neither"),
        };
        let port = url.port().unwrap_or(match security {
            Security::None => 25,
            Security::StartTls => 587,
            Security::Tls => 465,
        });
        Ok(Self {
            host,
            port,
            security,
            credentials,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn security(&self) -> Security {
        self.security
    }

    /// The user name, when the server wants one.
    pub fn user(&self) -> Option<&str> {
        self.credentials.as_ref().map(|(user, _)| user.as_str())
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.security == Security::Tls {
            "smtps"
        } else {
            "smtp"
        };
        write!(f, "{scheme}://")?;
        if let Some((user, _)) = &self.credentials {
            write!(f, "{user}:***@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        if self.security == Security::StartTls {
            f.write_str("?tls=starttls")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

/// The Mailer port over SMTP.
pub struct SmtpMailer {
    url: SmtpUrl,
    from: Mailbox,
    /// Domain of the sender, for `Message-ID`.
    domain: String,
    timeout: Duration,
    transport: OnceCell<AsyncSmtpTransport<Tokio1Executor>>,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("url", &self.url)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Send through the server at `url`, as `from`: an address, or `Display Name <address>`
    /// (the name may hold any Unicode). Connects on the first send, not here.
    pub fn new(url: SmtpUrl, from: &str) -> anyhow::Result<Self> {
        let from: Mailbox = from
            .trim()
            .parse()
            .with_context(|| format!("the sender {from:?} is not an e-mail address"))?;
        if !is_plain_address(from.email.as_ref()) {
            bail!("the sender {from} is not a plain e-mail address");
        }
        if from
            .name
            .as_deref()
            .is_some_and(|n| n.chars().any(char::is_control))
        {
            bail!("the sender's name holds control characters");
        }
        let domain = from.email.domain().to_owned();
        Ok(Self {
            url,
            from,
            domain,
            timeout: SEND_TIMEOUT,
            transport: OnceCell::new(),
        })
    }

    /// Give up on a send (connecting included) after `timeout` (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn url(&self) -> &SmtpUrl {
        &self.url
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let url = &self.url;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&url.host)
            .port(url.port)
            .timeout(Some(self.timeout));
        if url.security != Security::None {
            let params = TlsParameters::new(url.host.clone())
                .map_err(|e| MailError::Unavailable(anyhow!("setting up TLS for {url}: {e}")))?;
            builder = builder.tls(match url.security {
                Security::StartTls => Tls::Required(params),
                _ => Tls::Wrapper(params),
            });
        }
        if let Some((user, password)) = &url.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }

    /// The message as lettre builds it, with the checks every mailer makes.
    fn message(&self, email: &Email) -> Result<Message, MailError> {
        let key = email.checked_idempotency_key()?;
        email.check_attachments()?;
        if !is_plain_address(&email.to) {
            return Err(MailError::Invalid(
                "the recipient is not a plain e-mail address".into(),
            ));
        }
        let to: Address = email.to.parse().map_err(|_| {
            MailError::Invalid("the recipient is not a valid e-mail address".into())
        })?;
        if email.subject.chars().any(char::is_control) {
            return Err(MailError::Invalid(
                "the subject holds line breaks or control characters".into(),
            ));
        }
        let left = key.map_or_else(|| ulid::Ulid::new().to_string(), str::to_owned);
        let builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(email.subject.clone())
            .message_id(Some(format!("<{left}@{}>", self.domain)));
        let built = match (&email.html, email.attachments.is_empty()) {
            (None, true) => builder
                .header(ContentType::TEXT_PLAIN)
                .body(email.text.clone()),
            (Some(html), true) => builder.multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                html.clone(),
            )),
            (html, false) => {
                let text = match html {
                    None => MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone())),
                    Some(html) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                        email.text.clone(),
                        html.clone(),
                    )),
                };
                let mut mixed = text;
                for attachment in &email.attachments {
                    let content_type = ContentType::parse(&attachment.content_type)
                        .map_err(|e| MailError::Invalid(format!("{}: {e}", attachment.filename)))?;
                    mixed = mixed.singlepart(
                        SinglePart::builder()
                            .header(content_type)
                            .header(ContentDisposition::attachment(&attachment.filename))
                            .body(
                                Body::new_with_encoding(
                                    attachment.bytes.to_vec(),
                                    ContentTransferEncoding::Base64,
                                )
                                .map_err(|_| {
                                    MailError::Invalid("an attachment cannot be encoded".into())
                                })?,
                            ),
                    );
                }
                builder.multipart(mixed)
            }
        };
        built.map_err(|e| MailError::Invalid(format!("the message cannot be built: {e}")))
    }

    fn error(&self, err: &lettre::transport::smtp::Error) -> MailError {
        // The server's reply text is left out on purpose: it often quotes the recipient.
        match err.status() {
            Some(code)
                if code.severity == Severity::PermanentNegativeCompletion
                    && code.category == Category::MailSystem =>
            {
                MailError::Invalid(format!(
                    "the SMTP server refused the message permanently ({code})"
                ))
            }
            Some(code) => {
                MailError::Unavailable(anyhow!("the SMTP server at {} answered {code}", self.url))
            }
            None => {
                let what = if err.is_timeout() {
                    "timed out".to_owned()
                } else {
                    // Transport errors (connection refused, TLS) quote no message content.
                    err.to_string()
                };
                MailError::Unavailable(anyhow!("cannot send through {}: {what}", self.url))
            }
        }
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: Email) -> Result<(), MailError> {
        let message = self.message(&email)?;
        let transport = self
            .transport
            .get_or_try_init(|| async { self.transport() })
            .await?;
        match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(sent) => sent.map_err(|e| self.error(&e))?,
            Err(_) => {
                return Err(MailError::Unavailable(anyhow!(
                    "cannot send through {}: no answer within {} ms",
                    self.url,
                    self.timeout.as_millis()
                )));
            }
        };
        tracing::debug!(
            smtp.server = %self.url,
            mail.key = email.idempotency_key.as_deref().unwrap_or(""),
            "mail sent over SMTP"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_security_and_the_default_port() {
        let u = SmtpUrl::parse("smtps://loja%40x.com:p%40ss%3Aw@mail.example.com").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.security(), u.user()),
            ("mail.example.com", 465, Security::Tls, Some("loja@x.com"))
        );
        assert_eq!(
            u.credentials.as_ref().map(|(_, p)| p.as_str()),
            Some("p@ss:w")
        );
        let u = SmtpUrl::parse("smtp://u:p@mail.example.com?tls=starttls").unwrap();
        assert_eq!((u.port(), u.security()), (587, Security::StartTls));
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (u.host(), u.port(), u.security(), u.user()),
            ("127.0.0.1", 2525, Security::None, None)
        );
        assert_eq!(SmtpUrl::parse("smtp://[::1]:25").unwrap().host(), "::1");
    }

    #[test]
    fn the_password_never_shows() {
        let u = SmtpUrl::parse("smtp://loja:segredo123@mail.example.com:587?tls=starttls").unwrap();
        assert_eq!(
            u.to_string(),
            "smtp://loja:***@mail.example.com:587?tls=starttls"
        );
        assert!(!format!("{u:?}").contains("segredo123"));
        let mailer = SmtpMailer::new(u, "Loja <loja@example.com>").unwrap();
        assert!(!format!("{mailer:?}").contains("segredo123"));
        for bad in [
            "smtp://loja:segredo123@host?tls=maybe",
            "smtp://loja:segredo123@host/path",
            "http://loja:segredo123@host",
            "smtps://loja:segredo123@host?tls=starttls",
            "smtp://loja:segredo123@host?debug=1",
        ] {
            let err = SmtpUrl::parse(bad).unwrap_err();
            assert!(!format!("{err:#}").contains("segredo123"), "{err:#}");
        }
    }

    #[test]
    fn malformed_urls_are_refused() {
        for bad in [
            "",
            "mail.example.com:25",
            "smtp://",
            "smtp://user@host",
            "smtp://:pass@host",
            "smtp://host?tls=opportunistic",
            "smtp://host?tls=starttls&tls=starttls",
            "smtp://host#x",
        ] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn mailer() -> SmtpMailer {
        SmtpMailer::new(
            SmtpUrl::parse("smtp://127.0.0.1:25").unwrap(),
            "Loja São João <loja@vitrine.example>",
        )
        .unwrap()
    }

    fn email(key: Option<&str>) -> Email {
        Email {
            to: "ana@example.com".into(),
            subject: "Pedido nº 12 confirmado".into(),
            text: "Olá!".into(),
            html: Some("<p>Olá!</p>".into()),
            idempotency_key: key.map(str::to_owned),
            attachments: vec![],
        }
    }

    fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
        raw.split("\r\n")
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
    }

    #[test]
    fn the_message_id_comes_from_the_key_and_is_stable() {
        let m = mailer();
        let key = "01JZ0000000000000000000000.order-mail";
        let first = String::from_utf8(m.message(&email(Some(key))).unwrap().formatted()).unwrap();
        let again = String::from_utf8(m.message(&email(Some(key))).unwrap().formatted()).unwrap();
        let expected = format!("<{key}@vitrine.example>");
        assert_eq!(header(&first, "Message-ID"), Some(expected.as_str()));
        assert_eq!(header(&again, "Message-ID"), Some(expected.as_str()));
        let a = String::from_utf8(m.message(&email(None)).unwrap().formatted()).unwrap();
        let b = String::from_utf8(m.message(&email(None)).unwrap().formatted()).unwrap();
        assert_ne!(header(&a, "Message-ID"), header(&b, "Message-ID"));
        assert!(
            header(&a, "Message-ID")
                .unwrap()
                .ends_with("@vitrine.example>")
        );
        assert!(first.contains("multipart/alternative"), "{first}");
    }

    #[test]
    fn injections_and_bad_keys_are_refused_before_connecting() {
        let m = mailer();
        for bad in [
            Email {
                to: "a@b\r\nBcc: c@d".into(),
                ..email(None)
            },
            Email {
                to: "a@b.com, c@d.com".into(),
                ..email(None)
            },
            Email {
                subject: "x\r\nBcc: c@d".into(),
                ..email(None)
            },
            email(Some("../etc")),
        ] {
            assert!(
                matches!(m.message(&bad), Err(MailError::Invalid(_))),
                "{bad:?}"
            );
        }
        assert!(SmtpMailer::new(SmtpUrl::parse("smtp://h").unwrap(), "not an address").is_err());
    }
}
