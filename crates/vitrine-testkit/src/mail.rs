//! Reading back the mail folder that `vitrine_local::mail::FileMailer` writes.
//!
//! Tests use [`read_mail_folder`] to find what the system sent (confirmation codes, order
//! e-mails) without a mail server. It decodes just the MIME that the file mailer produces, plus
//! the usual variants of it (base64 or quoted-printable parts, B or Q encoded-words, LF or CRLF),
//! and panics with the file name on anything else: a test helper fails loudly.
//!
//! Order: messages come back in sending order, read as their `Date` header (to the second), then
//! their file name. File names alone no longer give it: the file mailer names a keyless message
//! `{millis:013}-{ulid}.eml`, which sorts by time, but a message with an idempotency key
//! `{key}.eml` (`{event_id}.{consumer}`: event ULIDs sort by time among themselves, yet every
//! one sorts before every millis name). Within one second, keyed messages come before keyless
//! ones. A keyed message sent again is rewritten with the new `Date`, so it moves to its last
//! sending.
//!
//! Attachments (parts with `Content-Disposition: attachment`, at any depth of nested multiparts)
//! come back as bytes in [`ReceivedMail::attachments`].
//!
//! [`parse_mail`] decodes one message from its text, for mail that arrives some other way (the
//! SMTP test server's Maildir, `crate::smtp`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use vitrine_app::ports::Attachment;

/// One message found in the mail folder, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub to: String,
    pub subject: String,
    /// The plain-text body, line breaks as `\n`.
    pub text: String,
    /// The HTML body, when the message had one.
    pub html: Option<String>,
    /// The files the message carried (parts with `Content-Disposition: attachment`), in order.
    pub attachments: Vec<ReceivedAttachment>,
    /// The `Message-ID` header as written, angle brackets included.
    pub message_id: Option<String>,
    /// Every header of the message, names lower-cased, folded values unfolded (not decoded).
    /// A header that appears more than once keeps its last value.
    pub headers: BTreeMap<String, String>,
    pub path: PathBuf,
}

/// A file carried by a message, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAttachment {
    /// The `filename` of its `Content-Disposition` (else the `name` of its `Content-Type`).
    pub filename: String,
    /// The media type, lower-cased, without parameters.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What the parts of a message hold, gathered through nested multiparts.
#[derive(Default)]
struct Parts {
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<ReceivedAttachment>,
}

/// Gather one part (the message itself at first), descending into multiparts: attachments by
/// their disposition, the first `text/plain` and `text/html` other parts as the bodies.
fn walk(
    headers: &BTreeMap<String, String>,
    body: &str,
    top: bool,
    found: &mut Parts,
) -> Result<(), String> {
    let content_type = headers
        .get("content-type")
        .map_or("text/plain", String::as_str);
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let boundary = parameter(content_type, "boundary").ok_or("multipart without a boundary")?;
        for part in split_multipart(body, &boundary)? {
            let (part_headers, part_body) = split_message(part).ok_or("a part without headers")?;
            walk(&part_headers, part_body, false, found)?;
        }
        return Ok(());
    }
    let disposition = headers.get("content-disposition");
    if let Some(disposition) =
        disposition.filter(|d| d.to_ascii_lowercase().starts_with("attachment"))
    {
        let filename = extended_parameter(disposition, "filename")?
            .or_else(|| parameter(content_type, "name"))
            .ok_or("an attachment without a file name")?;
        let (content_type, bytes) = decode_bytes(headers, body)?;
        found.attachments.push(ReceivedAttachment {
            filename,
            content_type,
            bytes,
        });
        return Ok(());
    }
    let kind = media_type(content_type);
    let slot = match kind.as_str() {
        "text/html" => &mut found.html,
        "text/plain" => &mut found.text,
        // A single-part message is its text, whatever it declares; other parts are skipped.
        _ if top => &mut found.text,
        _ => return Ok(()),
    };
    if slot.is_none() {
        *slot = Some(decode_part(headers, body)?.1);
    }
    Ok(())
}

/// The media type of a `Content-Type` value, lower-cased, without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Two files for the mailers' tests, as the "invoiced" e-mail carries: a PDF holding every byte
/// value (so that any transfer encoding that is not binary-safe shows), and an XML with accents
/// and lines longer than a mail line.
pub fn sample_attachments() -> Vec<Attachment> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    pdf.extend((0..=255u8).cycle().take(3 * 256 + 7));
    pdf.extend_from_slice(b"\n%%EOF\n");
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<nfeProc><xMun>São João d'Aliança</xMun>\
         <infCpl>{}</infCpl></nfeProc>\n",
        "Ação ".repeat(40)
    );
    vec![
        Attachment {
            filename: "DANFE-35250100000000000100550010000000011000000010.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: Bytes::from(pdf),
        },
        Attachment {
            filename: "NFe35250100000000000100550010000000011000000010.xml".into(),
            content_type: "application/xml".into(),
            bytes: Bytes::from(xml),
        },
    ]
}

/// Assert that `mail` carries `sent`, in order: names, media types and bytes.
pub fn assert_attachments(mail: &ReceivedMail, sent: &[Attachment]) {
    let got: Vec<Attachment> = mail
        .attachments
        .iter()
        .map(|a| Attachment {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            bytes: Bytes::from(a.bytes.clone()),
        })
        .collect();
    assert_eq!(got, sent, "{}", mail.path.display());
}

/// Every `.eml` message in `dir`, in sending order (`Date`, then file name). A missing folder
/// holds no messages. Files being written (dot-names) are skipped.
pub fn read_mail_folder(dir: &Path) -> Vec<ReceivedMail> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("cannot list the mail folder {}: {e}", dir.display()),
    };
    let paths: Vec<PathBuf> = entries
        .map(|e| {
            e.unwrap_or_else(|e| panic!("cannot list the mail folder {}: {e}", dir.display()))
                .path()
        })
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".eml") && !name.starts_with('.')
        })
        .collect();
    in_sending_order(paths.iter().map(|path| read_message(path)).collect())
}

impl ReceivedMail {
    /// The first run of exactly six digits in the text: the code of a confirmation or reset mail.
    pub fn code(&self) -> Option<&str> {
        self.text
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
    }
}

/// The codes of the mails in `dir` that `wanted` picks, in sending order, once there are at least
/// `count` of them (code mails may leave from a worker after the request was answered). Waits up
/// to 30 s, then panics naming what it found.
pub async fn codes_once_mailed(
    dir: &Path,
    wanted: impl Fn(&ReceivedMail) -> bool,
    count: usize,
) -> Vec<String> {
    let mut codes = Vec::new();
    for _ in 0..600 {
        codes = read_mail_folder(dir)
            .iter()
            .filter(|m| wanted(m))
            .filter_map(|m| m.code().map(str::to_owned))
            .collect();
        if codes.len() >= count {
            return codes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{count} code mails expected in {} within 30 s; found {codes:?}",
        dir.display()
    )
}

/// Sort messages by their `Date` (seconds since the epoch), then by file name.
pub fn in_sending_order(mails: Vec<ReceivedMail>) -> Vec<ReceivedMail> {
    let mut keyed: Vec<(i64, ReceivedMail)> = mails
        .into_iter()
        .map(|mail| {
            let date = mail
                .headers
                .get("date")
                .unwrap_or_else(|| panic!("{}: no Date header", mail.path.display()));
            let secs = parse_date(date)
                .unwrap_or_else(|why| panic!("{}: Date {date:?}: {why}", mail.path.display()));
            (secs, mail)
        })
        .collect();
    keyed.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.path.cmp(&y.path)));
    keyed.into_iter().map(|(_, mail)| mail).collect()
}

fn read_message(path: &Path) -> ReceivedMail {
    let raw = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_mail(&raw, path)
}

/// Decode one message (`path` only names it in panics and in the result).
pub fn parse_mail(raw: &str, path: &Path) -> ReceivedMail {
    let fail = |why: &str| -> ! { panic!("{}: {why}", path.display()) };
    let (headers, body) =
        split_message(raw).unwrap_or_else(|| fail("no blank line after the headers"));
    let header = |name: &str| headers.get(&name.to_ascii_lowercase()).cloned();
    let to = header("To").unwrap_or_else(|| fail("no To header"));
    let subject =
        decode_header(&header("Subject").unwrap_or_default()).unwrap_or_else(|why| fail(&why));
    let mut found = Parts::default();
    let is_multipart =
        header("Content-Type").is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/"));
    // The message's last line break ends the file, not the text (in a multipart, the line break
    // before each delimiter belongs to the delimiter instead).
    let body = if is_multipart {
        body
    } else {
        body.strip_suffix("\r\n")
            .or_else(|| body.strip_suffix('\n'))
            .unwrap_or(body)
    };
    walk(&headers, body, true, &mut found).unwrap_or_else(|why| fail(&why));
    let Parts {
        text,
        html,
        attachments,
    } = found;
    ReceivedMail {
        to,
        subject,
        text: text.unwrap_or_default(),
        html,
        attachments,
        message_id: header("Message-ID"),
        headers,
        path: path.to_owned(),
    }
}

/// An RFC 5322 date-time (`Tue, 01 Jul 2025 10:52:37 +0000`; the day of the week and the seconds
/// are optional; `GMT`, `UT` and `UTC` stand for `+0000`) as seconds since the epoch.
fn parse_date(value: &str) -> Result<i64, String> {
    let value = value.split_once(',').map_or(value, |(_, rest)| rest);
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [day, month, year, time, zone, ..] = fields[..] else {
        return Err("expected day, month, year, time and zone".into());
    };
    let number = |s: &str| s.parse::<i64>().map_err(|e| format!("{s:?}: {e}"));
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month))
        .ok_or_else(|| format!("unknown month {month:?}"))?;
    let mut hms = time.split(':').map(number);
    let (hour, minute) = (
        hms.next().ok_or("no hour")??,
        hms.next().ok_or("no minute")??,
    );
    let second = hms.next().transpose()?.unwrap_or(0);
    let offset = match zone {
        "GMT" | "UT" | "UTC" | "Z" => 0,
        _ => {
            let sign = match zone.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(format!("unknown zone {zone:?}")),
            };
            let digits = number(&zone[1..])?;
            sign * ((digits / 100) * 3600 + (digits % 100) * 60)
        }
    };
    let days = days_from_civil(number(year)?, month as i64 + 1, number(day)?);
    Ok(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Headers (unfolded, names lower-cased) and the body after the first blank line.
fn split_message(raw: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let (head, body) = match (raw.find("\r\n\r\n"), raw.find("\n\n")) {
        (Some(crlf), Some(lf)) if lf < crlf => (&raw[..lf], &raw[lf + 2..]),
        (Some(crlf), _) => (&raw[..crlf], &raw[crlf + 4..]),
        (None, Some(lf)) => (&raw[..lf], &raw[lf + 2..]),
        (None, None) => return None,
    };
    let mut headers = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            // A folded line continues the previous header; the line break itself is dropped.
            if let Some((_, value)) = current.as_mut() {
                value.push_str(line);
            }
            continue;
        }
        if let Some((name, value)) = current.take() {
            headers.insert(name, value);
        }
        let (name, value) = line.split_once(':')?;
        current = Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    if let Some((name, value)) = current {
        headers.insert(name, value);
    }
    Some((headers, body))
}

/// A parameter of a header such as `Content-Type`, unquoted.
fn parameter(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (key, value) = p.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// A parameter that may be split or encoded as RFC 2231 allows (`name*0="…"; name*1="…"`,
/// `name*=utf-8''%C3%A9`), as lettre writes long file names; else the plain parameter.
fn extended_parameter(header: &str, name: &str) -> Result<Option<String>, String> {
    if let Some(plain) = parameter(header, name) {
        return Ok(Some(plain));
    }
    let mut pieces: Vec<(usize, bool, String)> = Vec::new();
    for p in header.split(';').skip(1) {
        let Some((key, value)) = p.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let Some(rest) = key.strip_prefix(&format!("{}*", name.to_ascii_lowercase())) else {
            continue;
        };
        let (index, encoded) = match rest.strip_suffix('*') {
            Some(index) => (index, true),
            None if rest.is_empty() => ("", true),
            None => (rest, false),
        };
        let index = if index.is_empty() {
            0
        } else {
            index
                .parse::<usize>()
                .map_err(|_| format!("bad RFC 2231 parameter {key}"))?
        };
        pieces.push((index, encoded, value.trim().trim_matches('"').to_owned()));
    }
    if pieces.is_empty() {
        return Ok(None);
    }
    pieces.sort_by_key(|(index, _, _)| *index);
    let mut bytes = Vec::new();
    for (n, (index, encoded, value)) in pieces.iter().enumerate() {
        if *index != n {
            return Err(format!("RFC 2231 parameter {name} misses its piece {n}"));
        }
        if !encoded {
            bytes.extend_from_slice(value.as_bytes());
            continue;
        }
        // The first encoded piece starts with `charset'language'`.
        let value = if n == 0 {
            let mut parts = value.splitn(3, '\'');
            let charset = parts.next().unwrap_or("");
            let _language = parts.next();
            let text = parts
                .next()
                .ok_or_else(|| format!("RFC 2231 parameter {name} without its charset"))?;
            if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("us-ascii") {
                return Err(format!("unsupported parameter charset {charset}"));
            }
            text
        } else {
            value.as_str()
        };
        let raw = value.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'%' && i + 3 <= raw.len() {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).map_err(|e| e.to_string())?;
                bytes.push(u8::from_str_radix(hex, 16).map_err(|e| format!("{hex}: {e}"))?);
                i += 3;
            } else {
                bytes.push(raw[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| format!("parameter {name} is not UTF-8"))
}

fn split_multipart<'a>(body: &'a str, boundary: &str) -> Result<Vec<&'a str>, String> {
    let delimiter = format!("--{boundary}");
    let mut sections = body.split(delimiter.as_str());
    sections.next(); // the preamble
    let mut parts = Vec::new();
    for section in sections {
        if section.starts_with("--") {
            return Ok(parts);
        }
        let section = section
            .strip_prefix("\r\n")
            .or_else(|| section.strip_prefix('\n'))
            .unwrap_or(section);
        // The line break before a delimiter belongs to the delimiter.
        let section = section
            .strip_suffix("\r\n")
            .or_else(|| section.strip_suffix('\n'))
            .unwrap_or(section);
        parts.push(section);
    }
    Err("multipart without its closing delimiter".into())
}

/// A part's media type (lower-cased, without parameters) and its decoded text.
fn decode_part(headers: &BTreeMap<String, String>, body: &str) -> Result<(String, String), String> {
    let content_type = headers
        .get("content-type")
        .map_or("text/plain", String::as_str);
    if let Some(charset) = parameter(content_type, "charset")
        && !charset.eq_ignore_ascii_case("utf-8")
        && !charset.eq_ignore_ascii_case("us-ascii")
    {
        return Err(format!("unsupported charset {charset}"));
    }
    let (kind, bytes) = decode_bytes(headers, body)?;
    let text = String::from_utf8(bytes).map_err(|_| "a body that is not UTF-8".to_owned())?;
    Ok((kind, text.replace("\r\n", "\n")))
}

/// A part's media type (lower-cased, without parameters) and its bytes, transfer-decoded.
fn decode_bytes(
    headers: &BTreeMap<String, String>,
    body: &str,
) -> Result<(String, Vec<u8>), String> {
    let kind = media_type(
        headers
            .get("content-type")
            .map_or("text/plain", String::as_str),
    );
    let encoding = headers
        .get("content-transfer-encoding")
        .map_or("7bit".into(), |e| e.to_ascii_lowercase());
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body)?,
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            STANDARD
                .decode(compact)
                .map_err(|e| format!("bad base64 body: {e}"))?
        }
        "7bit" | "8bit" | "binary" => body.as_bytes().to_vec(),
        other => return Err(format!("unsupported transfer encoding {other}")),
    };
    Ok((kind, bytes))
}

fn decode_quoted_printable(body: &str) -> Result<Vec<u8>, String> {
    let bytes = body.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match &bytes[i + 1..] {
            [b'\r', b'\n', ..] => i += 3, // soft line break
            [b'\n', ..] => i += 2,
            [a, b, ..] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).map_err(|e| e.to_string())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 3;
            }
            _ => return Err(format!("bad quoted-printable escape at byte {i}")),
        }
    }
    Ok(out)
}

/// Decode RFC 2047 encoded-words in a header; whitespace between two encoded-words is dropped.
fn decode_header(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            break;
        };
        let (before, word_and_more) = rest.split_at(start);
        let word = parse_encoded_word(word_and_more);
        match word {
            Some((decoded, consumed)) => {
                if !(after_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded?);
                rest = &word_and_more[consumed..];
                after_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &word_and_more[2..];
                after_word = false;
            }
        }
    }
    Ok(out)
}

/// Parse one `=?charset?B|Q?text?=` at the start of `s`: its decoded text and length.
fn parse_encoded_word(s: &str) -> Option<(Result<String, String>, usize)> {
    let inner = s.strip_prefix("=?")?;
    let mut pieces = inner.splitn(3, '?');
    let charset = pieces.next()?;
    let encoding = pieces.next()?;
    let tail = pieces.next()?;
    let end = tail.find("?=")?;
    let text = &tail[..end];
    let consumed = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("us-ascii") {
        return Some((
            Err(format!("unsupported header charset {charset}")),
            consumed,
        ));
    }
    let bytes = match encoding {
        "B" | "b" => STANDARD
            .decode(text)
            .map_err(|e| format!("bad encoded-word: {e}")),
        "Q" | "q" => decode_quoted_printable(&text.replace('_', " ")),
        _ => return None,
    };
    let decoded = bytes.and_then(|b| {
        String::from_utf8(b).map_err(|_| "an encoded-word that is not UTF-8".to_owned())
    });
    Some((decoded, consumed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_decode_and_the_space_between_them_goes() {
        assert_eq!(
            decode_header("=?UTF-8?B?Q29uZmlybWHDp8Ojbw==?=").unwrap(),
            "Confirmação"
        );
        assert_eq!(
            decode_header("=?UTF-8?B?w6E=?=\r\n =?UTF-8?B?w6k=?=").unwrap(),
            "áé"
        );
        assert_eq!(
            decode_header("Pedido =?utf-8?Q?n=C2=BA_12?= pago").unwrap(),
            "Pedido nº 12 pago"
        );
        assert_eq!(decode_header("a =? b").unwrap(), "a =? b");
    }

    #[test]
    fn dates_read_as_seconds_since_the_epoch() {
        assert_eq!(
            parse_date("Tue, 01 Jul 2025 10:52:37 +0000").unwrap(),
            1_751_367_157
        );
        assert_eq!(
            parse_date("1 Jul 2025 07:52:37 -0300").unwrap(),
            1_751_367_157
        );
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00 GMT").unwrap(), 0);
        assert_eq!(
            parse_date("Fri, 29 Feb 2036 12:00:00 +0000").unwrap(),
            2_087_899_200
        );
        assert!(parse_date("yesterday").is_err());
    }

    #[test]
    fn rfc_2231_parameters_are_joined_and_decoded() {
        let split = "attachment; filename*0=\"NFe3525\";\r\n filename*1=\"0100.xml\"";
        assert_eq!(
            extended_parameter(split, "filename").unwrap().as_deref(),
            Some("NFe35250100.xml")
        );
        let encoded = "attachment; filename*0*=utf-8''S%C3%A3o; filename*1=\" Jo\"";
        assert_eq!(
            extended_parameter(encoded, "filename").unwrap().as_deref(),
            Some("São Jo")
        );
        assert_eq!(
            extended_parameter("attachment; filename=\"a.pdf\"", "filename")
                .unwrap()
                .as_deref(),
            Some("a.pdf")
        );
        assert!(extended_parameter("attachment; filename*1=\"x\"", "filename").is_err());
    }

    #[test]
    fn quoted_printable_decodes_escapes_and_soft_breaks() {
        assert_eq!(
            decode_quoted_printable("Ol=C3=A1=\r\n mundo=3D").unwrap(),
            "Olá mundo=".as_bytes()
        );
        assert!(decode_quoted_printable("bad =ZZ").is_err());
    }
}
