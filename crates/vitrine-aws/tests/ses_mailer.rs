//! The SES mailer against the AWS emulator (moto), reading sent mail back from its state dump.
//!
//! moto keeps one body per message: the HTML part when there is one, else the text part. So the
//! text of a message with HTML cannot be read back here; the two cases are sent separately. moto
//! also drops the `Headers` of simple content, so the idempotency header is checked by the unit
//! tests of `ses.rs` (on the request content), and here only for being accepted.
//!
//! moto (5.2) accepts the `Attachments` of simple content but keeps none of them. So the test of
//! attachments reads them where they leave: the request body the SDK sends to moto (recorded by
//! an interceptor), as SES receives it, then checks that moto accepted and recorded the message.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use vitrine_app::ports::{Email, MailError, Mailer};
use vitrine_aws::ses::SesMailer;
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_testkit::identity::unique_email;
use vitrine_testkit::mail::sample_attachments;
use vitrine_testkit::moto;

async fn client() -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(&moto_config().await)
}

async fn moto_config() -> aws_config::SdkConfig {
    let config = AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(moto::endpoint().into()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: true,
    };
    sdk_config(&config).await
}

/// A sender unique to the test, verified in moto.
async fn verified_mailer(tag: &str) -> SesMailer {
    let client = client().await;
    let address = format!("{}@vitrine.test", moto::unique(tag));
    SesMailer::verify_sender(&client, &address).await.unwrap();
    SesMailer::new(client, format!("vitrine <{address}>"))
}

/// The messages moto recorded as sent to `to`.
async fn sent_to(to: &str) -> Vec<serde_json::Value> {
    let state = moto::state().await;
    state["ses"]["Message"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| m["destinations"]["ToAddresses"] == serde_json::json!([to]))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

const SUBJECT: &str = "Seu pedido nº 1042 foi confirmado — obrigado, João!";
const TEXT: &str = "Olá, João!\n\nRecebemos o pagamento de R$ 149,90 (cartão de crédito).\n\
                    Ação necessária: nenhuma. Até logo!\n";

#[tokio::test]
async fn a_portuguese_text_mail_arrives_intact() {
    let mailer = verified_mailer("text").await;
    let to = unique_email("joao");

    mailer
        .send(Email {
            to: to.clone(),
            subject: SUBJECT.into(),
            text: TEXT.into(),
            html: None,
            idempotency_key: None,
            attachments: vec![],
        })
        .await
        .unwrap();

    let sent = sent_to(&to).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["subject"], SUBJECT);
    assert_eq!(sent[0]["body"], TEXT);
    assert_eq!(sent[0]["source"], mailer.from());
}

#[tokio::test]
async fn the_html_part_is_sent_too() {
    let mailer = verified_mailer("html").await;
    let to = unique_email("maria");
    let html = "<p>Olá, <strong>Maria</strong>! Seu código é <b>123456</b>. Ação: nenhuma.</p>";

    mailer
        .send(Email {
            to: to.clone(),
            subject: "Código de verificação".into(),
            text: "Olá, Maria! Seu código é 123456.".into(),
            html: Some(html.into()),
            idempotency_key: None,
            attachments: vec![],
        })
        .await
        .unwrap();

    let sent = sent_to(&to).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["subject"], "Código de verificação");
    assert_eq!(sent[0]["body"], html, "moto keeps the HTML part");
}

#[tokio::test]
async fn an_unverified_sender_is_refused_clearly() {
    let sender = format!("{}@vitrine.test", moto::unique("unverified"));
    let mailer = SesMailer::new(client().await, sender.clone());
    let to = unique_email("ninguem");

    let result = mailer
        .send(Email {
            to: to.clone(),
            subject: "Olá".into(),
            text: "Segredo: 987654".into(),
            html: None,
            idempotency_key: None,
            attachments: vec![],
        })
        .await;

    let Err(MailError::Invalid(reason)) = result else {
        panic!("{result:?}");
    };
    assert!(reason.contains(&sender), "{reason}");
    assert!(reason.contains("not a verified identity"), "{reason}");
    assert!(
        !reason.contains(&to) && !reason.contains("987654"),
        "no personal data in errors: {reason}"
    );
    assert!(sent_to(&to).await.is_empty());
}

#[tokio::test]
async fn verifying_a_sender_twice_is_fine() {
    let client = client().await;
    let address = format!("{}@vitrine.test", moto::unique("twice"));
    SesMailer::verify_sender(&client, &address).await.unwrap();
    SesMailer::verify_sender(&client, &format!("Loja <{address}>"))
        .await
        .unwrap();
}

#[tokio::test]
async fn recipients_that_could_add_others_are_refused_before_sending() {
    let mailer = verified_mailer("inject").await;
    for to in [
        "ana@example.com, bob@example.com",
        "Ana <ana@example.com>",
        "ana@example.com\r\nBcc: eve@example.com",
        "sem-arroba",
    ] {
        let result = mailer
            .send(Email {
                to: to.into(),
                subject: "Olá".into(),
                text: "Oi".into(),
                html: None,
                idempotency_key: None,
                attachments: vec![],
            })
            .await;
        assert!(matches!(result, Err(MailError::Invalid(_))), "{to:?}");
    }
    let result = mailer
        .send(Email {
            to: unique_email("subject"),
            subject: "Olá\r\nBcc: eve@example.com".into(),
            text: "Oi".into(),
            html: None,
            idempotency_key: None,
            attachments: vec![],
        })
        .await;
    assert!(matches!(result, Err(MailError::Invalid(_))));
}

#[tokio::test]
async fn a_keyed_order_mail_is_accepted_and_reads_back() {
    let mailer = verified_mailer("keyed").await;
    let to = unique_email("conceicao");
    let html = "<p>Olá, <b>Conceição</b>! Seu pedido nº 1042 foi pago.</p>";

    mailer
        .send(Email {
            to: to.clone(),
            subject: SUBJECT.into(),
            text: TEXT.into(),
            html: Some(html.into()),
            idempotency_key: Some("01JZ0000000000000000000000.order-paid-mail".into()),
            attachments: vec![],
        })
        .await
        .unwrap();

    let sent = sent_to(&to).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0]["destinations"]["ToAddresses"],
        serde_json::json!([to])
    );
    assert_eq!(sent[0]["subject"], SUBJECT);
    assert_eq!(sent[0]["body"], html);
    assert_eq!(sent[0]["source"], mailer.from());
}

#[tokio::test]
async fn a_bad_key_or_attachment_name_is_refused_before_sending() {
    let mailer = verified_mailer("badkey").await;
    let to = unique_email("ninguem");
    let mut files = sample_attachments();
    files[1].filename = "../NFe.xml".into();
    let email = Email {
        to: to.clone(),
        subject: "Olá".into(),
        text: "Oi".into(),
        html: None,
        idempotency_key: Some("../../etc/passwd".into()),
        attachments: vec![],
    };
    let bad_name = Email {
        idempotency_key: None,
        attachments: files,
        ..email.clone()
    };
    for bad in [email, bad_name] {
        let result = mailer.send(bad).await;
        assert!(matches!(result, Err(MailError::Invalid(_))), "{result:?}");
    }
    assert!(sent_to(&to).await.is_empty());
}

/// Keeps the body of every request its client sends.
#[derive(Debug, Clone, Default)]
struct RequestBodies(Arc<Mutex<Vec<Vec<u8>>>>);

impl Intercept for RequestBodies {
    fn name(&self) -> &'static str {
        "RequestBodies"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        self.0.lock().unwrap().push(body.to_vec());
        Ok(())
    }
}

#[tokio::test]
async fn attachments_leave_byte_for_byte_and_moto_accepts_them() {
    let bodies = RequestBodies::default();
    let client = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(&moto_config().await)
            .interceptor(bodies.clone())
            .build(),
    );
    let address = format!("{}@vitrine.test", moto::unique("attach"));
    SesMailer::verify_sender(&client, &address).await.unwrap();
    let mailer = SesMailer::new(client, format!("vitrine <{address}>"));
    let to = unique_email("nota");
    let files = sample_attachments();

    mailer
        .send(Email {
            to: to.clone(),
            subject: "Nota fiscal emitida: pedido nº 1042".into(),
            text: TEXT.into(),
            html: None,
            idempotency_key: Some("01JZ0000000000000000000000.email".into()),
            attachments: files.clone(),
        })
        .await
        .unwrap();

    let requests = bodies.0.lock().unwrap().clone();
    let sent: serde_json::Value = serde_json::from_slice(requests.last().unwrap()).unwrap();
    let attachments = sent["Content"]["Simple"]["Attachments"]
        .as_array()
        .unwrap_or_else(|| panic!("no attachments in the request: {sent}"));
    assert_eq!(attachments.len(), files.len());
    for (wire, file) in attachments.iter().zip(&files) {
        assert_eq!(wire["FileName"], file.filename.as_str());
        assert_eq!(wire["ContentType"], file.content_type.as_str());
        assert_eq!(wire["ContentDisposition"], "ATTACHMENT");
        assert_eq!(wire["ContentTransferEncoding"], "BASE64");
        let bytes = STANDARD
            .decode(wire["RawContent"].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes, file.bytes.as_ref(), "{}", file.filename);
    }

    let recorded = sent_to(&to).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["body"], TEXT);
}
