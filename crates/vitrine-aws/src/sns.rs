//! `SnsSms`: the Sms port as SNS `Publish` to a phone number.
//!
//! Messages are sent as `Transactional` (delivery over cost, as order updates need) with the
//! store's sender id when one is set. SNS has no idempotency key for SMS: a message sent again is
//! sent again, so consumers record what they sent (see the notification consumers).
//! Numbers and texts are personal data: never logged, never put into errors.
//!
//! Invariant: numbers must be E.164 (`+`, then 8 to 15 digits, the first not zero, as the file
//! adapter requires) and texts 1 to [`MAX_TEXT_BYTES`] bytes; anything else is
//! `SmsError::Invalid` before SNS is called. SNS checks too, but its emulator accepts numbers
//! without `+` that SNS refuses, so the adapter does not rely on either.

use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use vitrine_app::ports::sms::{Sms, SmsError, SmsMessage};

use crate::LazyClient;

/// The longest text SNS accepts for one SMS publish (it splits it into segments).
pub const MAX_TEXT_BYTES: usize = 1_600;

/// Sends text messages through SNS.
#[derive(Debug, Clone)]
pub struct SnsSms {
    client: LazyClient<Client>,
    sender_id: Option<String>,
}

impl SnsSms {
    /// `sender_id`: the alphanumeric sender shown where carriers allow it (up to 11 characters).
    pub fn new(client: impl Into<LazyClient<Client>>, sender_id: Option<String>) -> Self {
        Self {
            client: client.into(),
            sender_id,
        }
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type is set")
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
impl Sms for SnsSms {
    async fn send(&self, message: SmsMessage) -> Result<(), SmsError> {
        if !is_e164(&message.to) {
            return Err(SmsError::Invalid(
                "the number must be E.164 (+5511…)".into(),
            ));
        }
        if message.text.trim().is_empty() || message.text.len() > MAX_TEXT_BYTES {
            return Err(SmsError::Invalid(format!(
                "the text must have 1 to {MAX_TEXT_BYTES} bytes"
            )));
        }
        let mut request = self
            .client
            .publish()
            .phone_number(&message.to)
            .message(&message.text)
            .message_attributes("AWS.SNS.SMS.SMSType", attribute("Transactional"));
        if let Some(sender) = &self.sender_id {
            request = request.message_attributes("AWS.SNS.SMS.SenderID", attribute(sender));
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) => {
                let code = err
                    .as_service_error()
                    .and_then(aws_sdk_sns::error::ProvideErrorMetadata::code)
                    .map(str::to_owned);
                match code.as_deref() {
                    Some("InvalidParameter" | "InvalidParameterValue") => Err(SmsError::Invalid(
                        "SNS refused the number or the text".into(),
                    )),
                    _ => Err(SmsError::Unavailable(anyhow!(
                        "SNS Publish failed: {}",
                        DisplayErrorContext(&err)
                    ))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_e164_numbers_are_sent() {
        assert!(is_e164("+5511987654321"));
        for bad in [
            "5511987654321",
            "+0511987654321",
            "+55 11 98765",
            "+5511",
            "",
            "+",
        ] {
            assert!(!is_e164(bad), "{bad:?}");
        }
    }
}
