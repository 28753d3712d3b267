//! The SNS SMS adapter against the AWS emulator (moto), reading sent messages back from its state
//! dump: moto records every SMS publish under `sns` → `SMS` as `{phone_number, message,
//! message_id}`.

use vitrine_app::ports::sms::{Sms, SmsError, SmsMessage};
use vitrine_aws::sns::SnsSms;
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_testkit::moto;

async fn sms() -> SnsSms {
    let config = AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(moto::endpoint().into()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: true,
    };
    let client = aws_sdk_sns::Client::new(&sdk_config(&config).await);
    SnsSms::new(client, Some("Vitrine".into()))
}

/// A Brazilian mobile number no other test of this run uses.
fn unique_number() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let pid = u64::from(std::process::id());
    format!("+55119{:08}", (pid * 100 + n) % 100_000_000)
}

/// The texts moto recorded as sent to `number`.
async fn sent_to(number: &str) -> Vec<String> {
    let state = moto::state().await;
    state["sns"]["SMS"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| m["phone_number"] == number)
                .map(|m| m["message"].as_str().expect("a text").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_portuguese_text_reaches_the_number_it_was_sent_to() {
    let sms = sms().await;
    let to = unique_number();
    let text = "Loja: seu pedido nº 1042 foi pago. Obrigado, João! Ação: nenhuma.";

    sms.send(SmsMessage {
        to: to.clone(),
        text: text.into(),
        idempotency_key: Some("01JZ0000000000000000000000.order-paid-sms".into()),
    })
    .await
    .unwrap();

    assert_eq!(sent_to(&to).await, [text]);
}

#[tokio::test]
async fn numbers_that_are_not_e164_are_refused_before_publishing() {
    let sms = sms().await;
    let national = unique_number().trim_start_matches("+55").to_owned();
    // moto would take `11…` (its E.164 check makes the `+` optional); SNS would not.
    for to in [
        national.clone(),
        "+0511987654321".into(),
        "+55 11 98765-4321".into(),
        String::new(),
    ] {
        let result = sms
            .send(SmsMessage {
                to: to.clone(),
                text: "Oi".into(),
                idempotency_key: None,
            })
            .await;
        let Err(SmsError::Invalid(reason)) = result else {
            panic!("{to:?}: {result:?}");
        };
        assert!(
            to.is_empty() || !reason.contains(&to),
            "no number in errors: {reason}"
        );
    }
    assert!(sent_to(&national).await.is_empty());

    let too_long = sms
        .send(SmsMessage {
            to: unique_number(),
            text: "ã".repeat(801),
            idempotency_key: None,
        })
        .await;
    assert!(
        matches!(too_long, Err(SmsError::Invalid(_))),
        "{too_long:?}"
    );
}

#[tokio::test]
async fn sending_again_sends_again_since_sns_has_no_idempotency_for_sms() {
    let sms = sms().await;
    let to = unique_number();
    let message = SmsMessage {
        to: to.clone(),
        text: "Loja: seu pedido saiu para entrega.".into(),
        idempotency_key: Some("01JZ0000000000000000000001.order-shipped-sms".into()),
    };

    sms.send(message.clone()).await.unwrap();
    sms.send(message).await.unwrap();

    assert_eq!(
        sent_to(&to).await.len(),
        2,
        "consumers must record what they sent"
    );
}
