//! `FileSms`: the Sms port as text files in the mail folder.
//!
//! Role: the local shape's SMS transport. Each message is one small UTF-8 file a developer can
//! read, and tests read back:
//!
//! ```text
//! To: +5511987654321
//! Date: 2026-11-28T12:00:00Z
//!
//! Loja: seu pedido 01J... foi pago.
//! ```
//!
//! Invariants:
//! - A file appears whole or not at all (written under a temporary name, fsynced, renamed).
//! - Names end in `.sms`: `{millis:013}-{ulid}.sms`, or `{key}.sms` for a message with an
//!   idempotency key, so sending the same message again rewrites the same file instead of adding
//!   one.
//! - Numbers must be E.164; texts and numbers are never logged.

use std::fs;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_trait::async_trait;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vitrine_app::ports::clock::Clock;
use vitrine_app::ports::sms::{Sms, SmsError, SmsMessage};

use crate::mail::write_atomically;

/// The longest text accepted: ten concatenated SMS segments of 153 GSM characters.
pub const MAX_TEXT_CHARS: usize = 1_530;

/// The Sms port as `.sms` files in a folder.
pub struct FileSms {
    dir: PathBuf,
    clock: Arc<dyn Clock>,
    ids: Mutex<ulid::Generator>,
}

impl std::fmt::Debug for FileSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSms")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl FileSms {
    /// Write messages into `dir` (created when missing).
    pub fn open(dir: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)
            .with_context(|| format!("creating the SMS folder {}", dir.display()))?;
        Ok(Self {
            dir,
            clock,
            ids: Mutex::new(ulid::Generator::new()),
        })
    }

    fn file_name(&self, message: &SmsMessage, millis: i64) -> Result<String, SmsError> {
        match &message.idempotency_key {
            Some(key) => {
                let safe = !key.is_empty()
                    && key.len() <= 200
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                    && !key.starts_with('.');
                if !safe {
                    return Err(SmsError::Invalid(
                        "the idempotency key must be 1-200 letters, digits, '.', '_' or '-'".into(),
                    ));
                }
                Ok(format!("{key}.sms"))
            }
            None => {
                let id = self
                    .ids
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .generate()
                    .map_err(|e| SmsError::Unavailable(anyhow::Error::new(e)))?;
                Ok(format!("{:013}-{id}.sms", millis.max(0)))
            }
        }
    }
}

/// An E.164 number: `+`, then 8 to 15 digits, the first not zero.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

#[async_trait]
impl Sms for FileSms {
    async fn send(&self, message: SmsMessage) -> Result<(), SmsError> {
        if !is_e164(&message.to) {
            return Err(SmsError::Invalid(
                "the number must be E.164 (+5511…)".into(),
            ));
        }
        if message.text.trim().is_empty() || message.text.chars().count() > MAX_TEXT_CHARS {
            return Err(SmsError::Invalid(format!(
                "the text must have 1 to {MAX_TEXT_CHARS} characters"
            )));
        }
        let millis = self.clock.now().millis();
        let name = self.file_name(&message, millis)?;
        let date = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .ok()
            .and_then(|d| d.format(&Rfc3339).ok())
            .unwrap_or_default();
        let body = format!("To: {}\nDate: {date}\n\n{}\n", message.to, message.text);
        let dir = self.dir.clone();
        let file = name.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, &file, body.as_bytes()))
            .await
            .map_err(|e| {
                SmsError::Unavailable(anyhow::Error::new(e).context("SMS file task failed"))
            })?
            .map_err(SmsError::Unavailable)?;
        tracing::debug!(sms.file = %name, "SMS written to the folder");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use vitrine_app::ports::clock::ManualClock;
    use vitrine_domain::Timestamp;

    use super::*;

    fn sms(dir: &std::path::Path) -> FileSms {
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_800_000_000)));
        FileSms::open(dir, clock).unwrap()
    }

    fn message(key: Option<&str>) -> SmsMessage {
        SmsMessage {
            to: "+5511987654321".into(),
            text: "Loja: seu pedido foi pago. Obrigado!".into(),
            idempotency_key: key.map(str::to_owned),
        }
    }

    fn files(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn a_message_is_one_readable_file() {
        let dir = tempfile::tempdir().unwrap();
        sms(dir.path()).send(message(None)).await.unwrap();
        let names = files(dir.path());
        assert_eq!(names.len(), 1);
        assert!(names[0].ends_with(".sms"), "{names:?}");
        let text = fs::read_to_string(dir.path().join(&names[0])).unwrap();
        assert!(
            text.starts_with("To: +5511987654321\nDate: 2027-01-15T08:00:00Z\n\n"),
            "{text}"
        );
        assert!(text.contains("seu pedido foi pago"));
    }

    #[tokio::test]
    async fn the_same_key_twice_is_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = sms(dir.path());
        s.send(message(Some("01JEVENT.sms"))).await.unwrap();
        s.send(message(Some("01JEVENT.sms"))).await.unwrap();
        s.send(message(Some("01JOTHER.sms"))).await.unwrap();
        assert_eq!(files(dir.path()), ["01JEVENT.sms.sms", "01JOTHER.sms.sms"]);
    }

    #[tokio::test]
    async fn bad_numbers_texts_and_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let s = sms(dir.path());
        for to in [
            "11987654321",
            "+0511987654321",
            "+55 11 98765",
            "+55119876543210000",
            "",
        ] {
            let m = SmsMessage {
                to: to.into(),
                ..message(None)
            };
            assert!(matches!(s.send(m).await, Err(SmsError::Invalid(_))), "{to}");
        }
        let long = SmsMessage {
            text: "x".repeat(MAX_TEXT_CHARS + 1),
            ..message(None)
        };
        assert!(matches!(s.send(long).await, Err(SmsError::Invalid(_))));
        for key in ["../x", ".hidden", "a/b", ""] {
            assert!(
                matches!(s.send(message(Some(key))).await, Err(SmsError::Invalid(_))),
                "{key}"
            );
        }
        assert!(files(dir.path()).is_empty());
    }
}
