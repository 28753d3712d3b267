//! `FileMailer`: the Mailer port as a folder of `.eml` files.
//!
//! Role: the local shape's default mail transport (`SmtpMailer` in `smtp.rs` replaces it when an
//! SMTP server is configured). Every message becomes one RFC 5322 file a developer can open in
//! any mail client, and that tests read back (`vitrine_testkit::mail`) to find confirmation codes.
//!
//! Format: CRLF line endings; `From`, `To`, `Subject`, `Date`, `Message-ID`, `MIME-Version`
//! headers; non-ASCII header text as RFC 2047 `=?UTF-8?B?…?=` encoded-words; bodies in UTF-8,
//! quoted-printable (readable in a text editor, unlike base64); `multipart/alternative` with a
//! plain-text and an HTML part when there is HTML. Line breaks in bodies are written as CRLF, so a
//! reader gets the text back with its line breaks normalised. A message with attachments is
//! `multipart/mixed`: that text (or text-and-HTML) part first, then each file base64-encoded with
//! its `Content-Type` and `Content-Disposition: attachment; filename="…"`. Attachments are
//! checked first (`Email::check_attachments`): a bad name or an oversized message is
//! `MailError::Invalid`.
//!
//! Invariants:
//! - A file appears whole or not at all: it is written under a dot-name that is not `.eml`,
//!   fsynced, then renamed, and the folder is fsynced.
//! - A message without an idempotency key is named `{millis:013}-{ulid}.eml`: millis from the
//!   Clock port, zero-padded, then a monotonic ULID, so sorting such names sorts them in sending
//!   order, even within a millisecond.
//! - A message with an idempotency key is named `{key}.eml`, from the key only, and its
//!   `Message-ID` is `<{key}@{sender's domain}>`: sending it again rewrites the same file (with the
//!   new `Date`) instead of adding one, as `FileSms` does. A key that breaks the port's rules
//!   (`Email::checked_idempotency_key`) is refused as `MailError::Invalid`. Keys are
//!   `{event_id}.{consumer}` with ULID event ids, so keyed names sort by event time among
//!   themselves but not against keyless names: a folder's sending order is its `Date` headers
//!   (to the second), then names, which is how `vitrine_testkit::mail` reads it.
//! - A recipient or subject that could inject headers (line breaks, controls, several addresses)
//!   is refused as `MailError::Invalid`.
//! - Bodies and addresses are personal data: nothing here logs them, not even in errors.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use vitrine_app::ports::clock::{Clock, SystemClock};
use vitrine_app::ports::mailer::{Email, MailError, Mailer};

/// The longest line quoted-printable may write, soft break included (RFC 2045).
const QP_LINE: usize = 76;
/// Bytes of text per encoded-word: 39 bytes make 52 base64 characters, 64 with `=?UTF-8?B?` and
/// `?=`, so that even the first word, after `Subject: `, keeps its line within the 76 characters
/// RFC 2047 allows (and the 78 RFC 5322 recommends).
const WORD_BYTES: usize = 39;
/// The longest header line written when there is a choice (RFC 5322 §2.1.1).
const HEADER_LINE: usize = 78;
/// Subjects longer than this are sent as encoded-words, which can be folded; a raw header line
/// must stay under RFC 5322's 998 characters.
const RAW_SUBJECT_MAX: usize = 900;

/// The Mailer port as `.eml` files in a folder.
pub struct FileMailer {
    dir: PathBuf,
    /// The `From` header, already encoded.
    from: String,
    /// Domain of the sender, for `Message-ID`.
    domain: String,
    clock: Arc<dyn Clock>,
    ids: Mutex<ulid::Generator>,
}

impl std::fmt::Debug for FileMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileMailer")
            .field("dir", &self.dir)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl FileMailer {
    /// Write messages into `dir` (created when missing), sent by `from`: an address, or
    /// `Display Name <address>` (the name may hold any Unicode).
    pub fn open(dir: impl Into<PathBuf>, from: &str) -> anyhow::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)
            .with_context(|| format!("creating the mail folder {}", dir.display()))?;
        let (name, address) = match from.trim().rsplit_once('<') {
            Some((name, rest)) => {
                let address = rest
                    .strip_suffix('>')
                    .ok_or_else(|| anyhow!("the sender must end with '>'"))?;
                (Some(name.trim()).filter(|n| !n.is_empty()), address)
            }
            None => (None, from.trim()),
        };
        if !is_plain_address(address) {
            bail!("the sender {from:?} is not a plain e-mail address");
        }
        let from = match name {
            Some(name) => {
                if name.chars().any(char::is_control) {
                    bail!("the sender's name holds control characters");
                }
                let phrase = encode_phrase(name);
                // Fold before the address when the line would run long (folding whitespace is
                // allowed between a display name and its address).
                let last_line = "From: ".len() + phrase.rsplit("\r\n").next().unwrap_or("").len();
                let gap = if last_line + address.len() + 3 > HEADER_LINE {
                    "\r\n "
                } else {
                    " "
                };
                format!("{phrase}{gap}<{address}>")
            }
            None => address.to_owned(),
        };
        let domain = address
            .rsplit_once('@')
            .map(|(_, d)| d.to_owned())
            .unwrap_or_default();
        Ok(Self {
            dir,
            from,
            domain,
            clock: Arc::new(SystemClock),
            ids: Mutex::new(ulid::Generator::new()),
        })
    }

    /// Take time from `clock` (dates and file names) instead of the system clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The folder messages are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn next_id(&self) -> ulid::Ulid {
        let mut ids = self
            .ids
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // The generator fails only after 2^80 ids in one millisecond; a random one is then fine.
        ids.generate().unwrap_or_else(|_| ulid::Ulid::new())
    }

    /// Render `email` as an RFC 5322 message. `id` names the MIME boundary, and the Message-ID
    /// unless the message has an idempotency `key`, which names it instead.
    fn render(
        &self,
        email: &Email,
        millis: i64,
        id: ulid::Ulid,
        key: Option<&str>,
    ) -> Result<String, MailError> {
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
        let date = OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
            .ok()
            .and_then(|t| t.format(&Rfc2822).ok())
            .ok_or_else(|| MailError::Unavailable(anyhow!("the clock reads an impossible date")))?;

        let mut out = String::new();
        let mut header = |name: &str, value: &str| {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        };
        header("From", &self.from);
        header("To", &email.to);
        header("Subject", &encode_unstructured(&email.subject));
        header("Date", &date);
        let left = key.map_or_else(|| id.to_string(), str::to_owned);
        header("Message-ID", &format!("<{left}@{}>", self.domain));
        header("MIME-Version", "1.0");
        if email.attachments.is_empty() {
            out.push_str(&body_entity(email, id));
            return Ok(out);
        }
        // Distinct from the alternative part's boundary, and neither is a prefix of the other.
        let boundary = format!("=_vitrine_mixed_{id}");
        out.push_str(&format!(
            "Content-Type: multipart/mixed;\r\n boundary=\"{boundary}\"\r\n\r\n"
        ));
        out.push_str(&format!("--{boundary}\r\n"));
        out.push_str(&body_entity(email, id));
        for attachment in &email.attachments {
            // Names and media types were checked: printable ASCII without quotes or
            // backslashes, so they are safe inside a quoted parameter.
            let name = &attachment.filename;
            out.push_str(&format!(
                "--{boundary}\r\nContent-Type: {};\r\n name=\"{name}\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\
                 Content-Disposition: attachment;\r\n filename=\"{name}\"\r\n\r\n",
                attachment.content_type
            ));
            out.push_str(&base64_lines(&attachment.bytes));
        }
        out.push_str(&format!("--{boundary}--\r\n"));
        Ok(out)
    }
}

/// The text of `email` as one MIME entity: its headers, a blank line, its content ending with a
/// line break. `id` names the boundary of a `multipart/alternative`.
fn body_entity(email: &Email, id: ulid::Ulid) -> String {
    let mut out = String::new();
    match &email.html {
        None => {
            out.push_str(&part_headers("text/plain"));
            out.push_str("\r\n");
            out.push_str(&quoted_printable(&email.text));
            out.push_str("\r\n");
        }
        Some(html) => {
            // "=_" never occurs in quoted-printable text ('=' is always followed by hex digits
            // or a line break there), nor in base64 ('=' only pads its end), so the boundary
            // cannot appear in a part.
            let boundary = format!("=_vitrine_{id}");
            out.push_str(&format!(
                "Content-Type: multipart/alternative;\r\n boundary=\"{boundary}\"\r\n\r\n"
            ));
            for (content_type, body) in [("text/plain", &email.text), ("text/html", html)] {
                out.push_str(&format!("--{boundary}\r\n"));
                out.push_str(&part_headers(content_type));
                out.push_str("\r\n");
                out.push_str(&quoted_printable(body));
                out.push_str("\r\n");
            }
            out.push_str(&format!("--{boundary}--\r\n"));
        }
    }
    out
}

/// Base64 of `bytes` in lines of 76 characters (RFC 2045 §6.8), each ending with CRLF.
fn base64_lines(bytes: &[u8]) -> String {
    let encoded = STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38 + 2);
    // Base64 is ASCII, so every chunk is whole characters.
    for line in encoded.as_bytes().chunks(QP_LINE) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push_str("\r\n");
    }
    out
}

fn part_headers(content_type: &str) -> String {
    format!(
        "Content-Type: {content_type}; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    )
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: Email) -> Result<(), MailError> {
        let key = email.checked_idempotency_key()?;
        email.check_attachments()?;
        let millis = self.clock.now().millis();
        let id = self.next_id();
        let message = self.render(&email, millis, id, key)?;
        let name = match key {
            Some(key) => format!("{key}.eml"),
            None => format!("{:013}-{id}.eml", millis.max(0)),
        };
        let dir = self.dir.clone();
        let file = name.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &file, message.as_bytes()))
            .await
            .map_err(|e| {
                MailError::Unavailable(anyhow::Error::new(e).context("mail file task failed"))
            })?
            .map_err(MailError::Unavailable)?;
        tracing::debug!(mail.file = %name, "mail written to the mail folder");
        Ok(())
    }
}

/// Write `name` into `dir` whole or not at all, readable by the owner only (0600 on unix,
/// whatever the umask: the copies hold reset codes and customers' addresses).
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let temp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, dir.join(name))?;
        // The rename is durable only once the folder is.
        File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.with_context(|| format!("writing {name} into the mail folder {}", dir.display()))
}

/// One address, nothing that a header parser could read as more (no spaces, brackets, commas,
/// quotes, line breaks). Internationalised addresses are out of scope.
pub(crate) fn is_plain_address(address: &str) -> bool {
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

/// A `Subject:` text: raw when it is plain ASCII, folded before spaces to keep lines short;
/// otherwise encoded-words. Folding only inserts CRLF before an existing space, so unfolding
/// gives the text back exactly; edge spaces would be lost to header trimming, so such texts are
/// encoded too.
fn encode_unstructured(text: &str) -> String {
    let raw_ok = text.len() <= RAW_SUBJECT_MAX
        && !text.contains("=?")
        && text.trim() == text
        && text.bytes().all(|b| (0x20..0x7F).contains(&b));
    if !raw_ok {
        return encoded_words(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut line = "Subject: ".len();
    for (n, word) in text.split(' ').enumerate() {
        if n > 0 {
            if line + 1 + word.len() > HEADER_LINE {
                out.push_str("\r\n");
                line = 0;
            }
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

/// A display name: quoted when plain ASCII, encoded-words otherwise.
fn encode_phrase(name: &str) -> String {
    if name
        .bytes()
        .all(|b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\')
        && !name.contains("=?")
    {
        format!("\"{name}\"")
    } else {
        encoded_words(name)
    }
}

/// RFC 2047 B encoding, split on character boundaries so that each word decodes on its own,
/// folded with CRLF + space (which a reader drops between adjacent encoded-words).
fn encoded_words(text: &str) -> String {
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > WORD_BYTES {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
    }
    words.join("\r\n ")
}

/// Quoted-printable (RFC 2045 §6.7) of UTF-8 text. `\n` and `\r\n` become hard line breaks.
fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            out.push_str("\r\n");
        }
        let bytes = line.as_bytes();
        let mut width = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            // Trailing spaces and tabs are encoded: transports may strip them.
            let literal =
                (b.is_ascii_graphic() && b != b'=') || ((b == b' ' || b == b'\t') && !last);
            let token = if literal {
                char::from(b).to_string()
            } else {
                format!("={b:02X}")
            };
            // Room for the token, plus the '=' of a soft break unless this is the line's end.
            let room = if last { QP_LINE } else { QP_LINE - 1 };
            if width + token.len() > room {
                out.push_str("=\r\n");
                width = 0;
            }
            out.push_str(&token);
            width += token.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use vitrine_app::ports::clock::ManualClock;
    use vitrine_domain::Timestamp;

    use super::*;

    #[test]
    fn quoted_printable_keeps_lines_short_and_encodes_what_it_must() {
        let qp = quoted_printable(&format!("Olá, João!\nfim \r\n{}", "x".repeat(200)));
        assert!(qp.starts_with("Ol=C3=A1, Jo=C3=A3o!\r\nfim=20\r\n"), "{qp}");
        for line in qp.split("\r\n") {
            assert!(line.len() <= QP_LINE, "{line:?}");
        }
        assert_eq!(quoted_printable("a=b"), "a=3Db");
    }

    #[test]
    fn a_soft_break_never_splits_an_escape() {
        let qp = quoted_printable(&"é".repeat(40));
        for line in qp.split("=\r\n") {
            assert!(line.len() < QP_LINE, "{line:?}");
            assert_eq!(line.len() % 3, 0, "{line:?}");
        }
    }

    #[test]
    fn headers_are_raw_when_plain_and_encoded_words_otherwise() {
        assert_eq!(encode_unstructured("Seu pedido"), "Seu pedido");
        let long = ["word"; 40].join(" ");
        let folded = encode_unstructured(&long);
        assert!(
            format!("Subject: {folded}")
                .split("\r\n")
                .all(|l| l.len() <= HEADER_LINE),
            "{folded}"
        );
        assert_eq!(folded.replace("\r\n", ""), long);
        assert!(encode_unstructured(" edge ").starts_with("=?UTF-8?B?"));
        assert_eq!(
            encode_unstructured("Confirmação"),
            "=?UTF-8?B?Q29uZmlybWHDp8Ojbw==?="
        );
        let long = encode_unstructured(&"ã".repeat(100));
        for word in long.split("\r\n ") {
            assert!(
                word.len() + "Subject: ".len() <= 76
                    && word.starts_with("=?UTF-8?B?")
                    && word.ends_with("?="),
                "{word}"
            );
        }
        assert_eq!(encode_phrase("Loja"), "\"Loja\"");
        assert!(encode_phrase("Loja São João").starts_with("=?UTF-8?B?"));
    }

    #[test]
    fn only_plain_single_addresses_are_accepted() {
        assert!(is_plain_address("ana.souza+pedidos@example.com.br"));
        for bad in [
            "",
            "ana",
            "@x",
            "ana@",
            "a@b@c",
            "a b@c",
            "a@b\r\nBcc: x@y",
            "a@b,c@d",
            "<a@b>",
            "ção@x",
        ] {
            assert!(!is_plain_address(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_message_is_one_crlf_file_named_by_time_then_ulid() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_751_367_157_123)));
        let mailer = FileMailer::open(dir.path(), "Loja São João <loja@vitrine.example>")
            .unwrap()
            .with_clock(clock);
        let email = Email {
            to: "ana@example.com".into(),
            subject: "Oi".into(),
            text: "a\nb".into(),
            html: None,
            idempotency_key: None,
            attachments: vec![],
        };
        mailer.send(email.clone()).await.unwrap();
        mailer.send(email).await.unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2);
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("1751367157123-") && n.ends_with(".eml")),
            "{names:?}"
        );
        // The copies hold reset codes: the owner's alone, whatever the umask.
        #[cfg(unix)]
        for name in &names {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let text = fs::read_to_string(dir.path().join(&names[0])).unwrap();
        assert!(
            text.contains("Date: Tue, 01 Jul 2025 10:52:37 +0000\r\n"),
            "{text}"
        );
        assert!(text.contains("From: =?UTF-8?B?"), "{text}");
        assert!(text.contains("Message-ID: <"), "{text}");
        assert!(text.ends_with("\r\n\r\na\r\nb\r\n"), "{text:?}");
        assert!(!text.replace("\r\n", "").contains('\n'));
        // The generator is monotonic, so two messages of one millisecond keep their order.
        assert!(names[0] < names[1]);
    }

    #[tokio::test]
    async fn header_injection_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = FileMailer::open(dir.path(), "loja@vitrine.example").unwrap();
        let bad_to = Email {
            to: "a@b\r\nBcc: c@d".into(),
            subject: "x".into(),
            text: "x".into(),
            html: None,
            idempotency_key: None,
            attachments: vec![],
        };
        let bad_subject = Email {
            to: "a@b".into(),
            subject: "x\r\nBcc: c@d".into(),
            text: "x".into(),
            html: None,
            idempotency_key: None,
            attachments: vec![],
        };
        assert!(matches!(
            mailer.send(bad_to).await,
            Err(MailError::Invalid(_))
        ));
        assert!(matches!(
            mailer.send(bad_subject).await,
            Err(MailError::Invalid(_))
        ));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(FileMailer::open(dir.path(), "x\r\n@y").is_err());
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn keyed(key: Option<&str>, text: &str) -> Email {
        Email {
            to: "ana@example.com".into(),
            subject: "Pedido pago".into(),
            text: text.into(),
            html: Some("<p>pago</p>".into()),
            idempotency_key: key.map(str::to_owned),
            attachments: vec![],
        }
    }

    #[tokio::test]
    async fn the_same_key_twice_rewrites_one_file_with_a_stable_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_751_367_157_123)));
        let mailer = FileMailer::open(dir.path(), "Loja <loja@vitrine.example>")
            .unwrap()
            .with_clock(clock.clone());
        let key = "01JZ0000000000000000000000.order-mail";

        mailer.send(keyed(Some(key), "primeira")).await.unwrap();
        clock.advance_secs(90);
        mailer.send(keyed(Some(key), "segunda")).await.unwrap();
        mailer
            .send(keyed(
                Some("01JZ0000000000000000000001.order-mail"),
                "outra",
            ))
            .await
            .unwrap();
        mailer.send(keyed(None, "sem chave")).await.unwrap();

        let names = files(dir.path());
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(names[0], "01JZ0000000000000000000000.order-mail.eml");
        assert_eq!(names[1], "01JZ0000000000000000000001.order-mail.eml");
        assert!(
            names[2].starts_with("1751367247123-"),
            "keyless naming is kept: {names:?}"
        );
        let text = fs::read_to_string(dir.path().join(&names[0])).unwrap();
        assert!(
            text.contains(&format!("Message-ID: <{key}@vitrine.example>\r\n")),
            "{text}"
        );
        assert!(
            text.contains("segunda") && !text.contains("primeira"),
            "{text}"
        );
        assert!(
            text.contains("Date: Tue, 01 Jul 2025 10:54:07 +0000\r\n"),
            "the re-send's date: {text}"
        );
        let keyless = fs::read_to_string(dir.path().join(&names[2])).unwrap();
        assert!(
            keyless.contains(&format!(
                "Message-ID: <{}@vitrine.example>",
                &names[2][14..40]
            )),
            "{keyless}"
        );
    }

    #[tokio::test]
    async fn keys_that_are_not_safe_file_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = FileMailer::open(dir.path(), "loja@vitrine.example").unwrap();
        for key in ["../x", ".hidden", "a/b", "", "a..b", "x.", &"k".repeat(201)] {
            assert!(
                matches!(
                    mailer.send(keyed(Some(key), "x")).await,
                    Err(MailError::Invalid(_))
                ),
                "{key:?}"
            );
        }
        mailer
            .send(keyed(Some(&"k".repeat(200)), "x"))
            .await
            .unwrap();
        assert_eq!(files(dir.path()), [format!("{}.eml", "k".repeat(200))]);
    }
}
