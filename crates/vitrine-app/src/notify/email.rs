//! E-mails to customers: one per customer-facing order event, and the account e-mails (codes)
//! the identity providers send.
//!
//! The "invoiced" e-mail carries the NF-e the app issued: its XML (`NFe{key}.xml`, the authorised
//! `nfeProc` when SEFAZ returned a protocol, else the signed NF-e) and its DANFE
//! (`DANFE-{key}.pdf`, the stored one, or drawn from the XML when none was stored). An order
//! invoiced by hand with a key from elsewhere has no stored invoice, and its e-mail no
//! attachments. The files are never left out for a passing failure: a blob store that does not
//! answer is a retry, a stored invoice whose XML is missing or unreadable a rejection (it names
//! the file), so the e-mail waits in the dead-letter queue for the file to be restored.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;

use super::templates::{self, OrderView, Shop};
use super::{OrderEvent, idempotency_key, language_of, load_order, load_profile, outgoing_email};
use crate::app::App;
use crate::customers::Language;
use crate::events::{ConsumeError, Consumer, Delivery};
use crate::invoices::{danfe_file, proc_file};
use crate::ports::{Attachment, BlobError, Email};
use crate::store::invoices::Invoice;

/// Sends the buyer an e-mail for each step of their order, in their profile's language.
pub struct EmailNotifier {
    app: Arc<App>,
}

/// The order events that have an e-mail, and its template.
fn template_of(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "order.placed" => "order_placed",
        "order.paid" => "order_paid",
        "order.invoiced" => "order_invoiced",
        "order.shipped" => "order_shipped",
        "order.delivered" => "order_delivered",
        "order.cancelled" => "order_cancelled",
        "order.expired" => "order_expired",
        "order.payment_late" => "order_payment_late",
        "order.refunded" => "order_refunded",
        "order.return_requested" => "order_return_requested",
        "order.return_received" => "order_return_received",
        "order.return_approved" => "order_return_approved",
        "order.return_refused" => "order_return_refused",
        _ => return None,
    })
}

#[derive(Serialize)]
struct OrderEmailContext<'a> {
    lang: &'static str,
    shop: &'a Shop,
    first_name: Option<String>,
    order: OrderView,
    /// `order.shipped` only.
    tracking_code: Option<String>,
    /// `order.cancelled`: whether the money goes back.
    refund: bool,
    /// `order.placed`: how long the buyer has to pay, in words.
    pay_within: String,
    /// `order.payment_late`, `order.refunded` and the returns' events: the amount the event is about, formatted.
    amount: Option<String>,
    /// `order.payment_late`: why the payment was not accepted; a return's reason (the buyer's,
    /// or the shop's refusal).
    reason: Option<String>,
    /// `order.invoiced`: the NF-e's XML and DANFE are attached.
    invoice_attached: bool,
}

impl EmailNotifier {
    pub const NAME: &'static str = "email";

    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl Consumer for EmailNotifier {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        let event = &delivery.event;
        let Some(template) = template_of(&event.event_type) else {
            tracing::debug!(
                event.id = %delivery.event_id,
                event.r#type = %event.event_type,
                "no customer e-mail for this event"
            );
            return Ok(());
        };
        let data = OrderEvent::parse(event)?;
        let order = load_order(&self.app, event, &data).await?;
        let profile = load_profile(&self.app, &order.customer_id).await?;
        let language = language_of(profile.as_ref());
        let tracking_code = if event.event_type == "order.shipped" {
            Some(data.tracking_code(&order)?)
        } else {
            None
        };
        let attachments = if event.event_type == "order.invoiced" {
            invoice_attachments(&self.app, &order.id).await?
        } else {
            Vec::new()
        };
        let shop = super::load_shop(&self.app).await?;
        let ctx = OrderEmailContext {
            lang: language.as_str(),
            shop: &shop,
            first_name: templates::first_name(&order.buyer.name),
            order: OrderView::new(&order),
            tracking_code,
            refund: data.refund(&order),
            pay_within: templates::duration_words(
                (order.pay_by.millis() - order.created_at.millis()) / 1000,
                language,
            ),
            amount: event
                .data
                .get("amount_centavos")
                .and_then(serde_json::Value::as_i64)
                .map(|c| vitrine_domain::Money::from_centavos(c).to_string()),
            reason: event
                .data
                .get("reason")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            invoice_attached: !attachments.is_empty(),
        };
        let rendered =
            templates::render_email(&format!("{}/{template}", templates::folder(language)), &ctx)
                .map_err(super::template_failed)?;
        let subject = rendered.subject.clone();
        let email = Email {
            attachments,
            ..outgoing_email(
                &order.buyer.email,
                rendered,
                idempotency_key(&delivery.event_id, Self::NAME),
            )
        };
        self.app
            .ports
            .mailer
            .send(email)
            .await
            .map_err(super::mail_failed)?;
        // What the customer's data export lists. The mail went out: a failed record is logged,
        // not retried (a retry would mail them again).
        self.app
            .record_mail_sent(
                &order.customer_id,
                &crate::store::privacy::SentMail {
                    event_id: delivery.event_id.clone(),
                    kind: event.event_type.clone(),
                    subject,
                    at_ms: self.app.ports.clock.now().millis(),
                },
            )
            .await;
        tracing::info!(
            event.id = %delivery.event_id,
            event.r#type = %event.event_type,
            order.id = %order.id,
            "order e-mail sent"
        );
        Ok(())
    }
}

/// The XML and the DANFE of the NF-e the app issued for `order_id`, as attachments; none when
/// the app stored no invoice file for it (an order invoiced with a key from elsewhere).
async fn invoice_attachments(app: &App, order_id: &str) -> Result<Vec<Attachment>, ConsumeError> {
    let invoice = crate::store::invoices::load(app.ports.table.as_ref(), order_id)
        .await
        .map_err(|e| super::app_failed(e, &format!("the invoice of order {order_id}")))?;
    let Some(Invoice {
        file: Some(file),
        access_key: Some(key),
        protocol,
        ..
    }) = invoice
    else {
        return Ok(Vec::new());
    };
    let source = if protocol.is_some() {
        proc_file(&file)
    } else {
        file.clone()
    };
    let xml = read_blob(app, &source)
        .await?
        .ok_or_else(|| missing(&source))?;
    let danfe_key = danfe_file(&file);
    let pdf = match read_blob(app, &danfe_key).await? {
        Some(pdf) => pdf,
        None => {
            let text = std::str::from_utf8(&xml).map_err(|e| {
                super::reject(format!("the invoice file {source} is not UTF-8: {e}"))
            })?;
            let pdf = vitrine_nfe::danfe::render(text)
                .map_err(|e| ConsumeError::Reject(anyhow!("drawing the DANFE of {source}: {e}")))?;
            Bytes::from(pdf)
        }
    };
    Ok(vec![
        Attachment {
            filename: format!("DANFE-{key}.pdf"),
            content_type: "application/pdf".into(),
            bytes: pdf,
        },
        Attachment {
            filename: format!("NFe{key}.xml"),
            content_type: "application/xml".into(),
            bytes: xml,
        },
    ])
}

/// A file of the blob store; an outage is a retry.
async fn read_blob(app: &App, key: &str) -> Result<Option<Bytes>, ConsumeError> {
    match app.ports.blobs.get(key).await {
        Ok(blob) => Ok(blob.map(|b| b.bytes)),
        Err(BlobError::Unavailable(e)) => {
            Err(ConsumeError::Retry(e.context(format!("reading {key}"))))
        }
        Err(e @ BlobError::InvalidKey(_)) => Err(ConsumeError::Reject(
            anyhow::Error::new(e).context(format!("reading {key}")),
        )),
    }
}

fn missing(key: &str) -> ConsumeError {
    super::reject(format!(
        "the invoice file {key} is missing from the blob store: the invoiced e-mail is not sent \
         without it"
    ))
}

/// The account e-mails that carry a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountEmail {
    /// The code that confirms a new account (sign-up, resend).
    Confirmation,
    /// The code that lets the user choose a new password.
    PasswordReset,
}

impl AccountEmail {
    fn template(self) -> &'static str {
        match self {
            AccountEmail::Confirmation => "account_confirmation",
            AccountEmail::PasswordReset => "account_password_reset",
        }
    }

    /// How long the code is accepted, in seconds. Kept equal to the built-in identity
    /// provider's lifetimes (docs/configuration.md, "Fixed in code"): 24 h and 1 h.
    fn valid_for_secs(self) -> i64 {
        match self {
            AccountEmail::Confirmation => 24 * 3600,
            AccountEmail::PasswordReset => 3600,
        }
    }
}

#[derive(Serialize)]
struct AccountEmailContext<'a> {
    lang: &'static str,
    shop: Shop,
    first_name: Option<String>,
    code: &'a str,
    valid_for: String,
}

/// The e-mail that carries an account code to `to`, in `language`, greeting `name` (may be
/// empty). It answers no event, so it has no idempotency key: a resent code is a new message.
pub fn account_email(
    kind: AccountEmail,
    language: Language,
    code: &str,
    name: &str,
    to: &str,
) -> Email {
    let ctx = AccountEmailContext {
        lang: language.as_str(),
        shop: Shop::default(),
        first_name: templates::first_name(name),
        code,
        valid_for: templates::duration_words(kind.valid_for_secs(), language),
    };
    let base = format!("{}/{}", templates::folder(language), kind.template());
    // The templates are compiled in and every one is rendered by the tests: a failure here is
    // a build defect, not a runtime condition a caller could handle.
    let rendered = templates::render_email(&base, &ctx)
        .unwrap_or_else(|e| panic!("template {base} does not render: {e:#}"));
    Email {
        to: to.to_owned(),
        subject: rendered.subject,
        text: rendered.text,
        html: Some(rendered.html),
        idempotency_key: None,
        attachments: vec![],
    }
}

#[cfg(test)]
mod tests {
    use vitrine_domain::order::OrderStatus;

    use super::*;
    use crate::notify::testing::*;

    const EVENTS: [&str; 7] = [
        "order.placed",
        "order.paid",
        "order.invoiced",
        "order.shipped",
        "order.delivered",
        "order.cancelled",
        "order.expired",
    ];

    async fn email_for(event_type: &str, language: Language) -> Email {
        let h = Harness::new();
        h.customer(language, None).await;
        let event = h.order_reaching(event_type).await;
        let notifier = EmailNotifier::new(h.app.clone());
        notifier
            .handle(&delivery("01JEVENT0001", event))
            .await
            .unwrap();
        let mut sent = h.mailer.sent();
        assert_eq!(sent.len(), 1, "{event_type}");
        sent.remove(0)
    }

    #[tokio::test]
    async fn every_order_event_e_mails_the_buyer_in_portuguese_by_default() {
        for event_type in EVENTS {
            let email = email_for(event_type, Language::PtBr).await;
            let html = email.html.as_deref().unwrap();
            assert_eq!(email.to, BUYER_EMAIL);
            for part in [&email.subject, &email.text, html] {
                assert!(part.contains(ORDER_ID), "{event_type}: {part}");
            }
            for part in [&email.text, html] {
                assert!(part.contains("Olá, Ana!"), "{event_type}: {part}");
                assert!(part.contains("R$ 1.234,56"), "{event_type}: {part}");
                assert!(part.contains("Total"), "{event_type}: {part}");
            }
            assert!(
                email
                    .text
                    .contains("2 x Camiseta Básica (Tamanho: M): R$ 1.000,00")
            );
            assert!(email.text.contains("CEP 01310-100"));
            assert!(html.contains("Camiseta Básica"));
            assert!(html.contains("R$ 500,00 cada"));
            assert!(html.contains("<html lang=\"pt-BR\">"), "{html}");
            assert!(!email.subject.contains('\n'));
            assert!(email.subject.chars().count() <= 70, "{}", email.subject);
        }
    }

    #[tokio::test]
    async fn the_e_mails_wear_the_shops_look_and_give_its_contact() {
        let h = Harness::new();
        h.customer(Language::En, None).await;
        let draft = vitrine_domain::shop::LookDraft {
            name: "Ateliê <Bela> Flor".into(),
            brand: "#7a1f5c".into(),
            accent: "#1d4e89".into(),
            email: Some("contato@belaflor.com.br".into()),
            whatsapp: Some("31 98765-4321".into()),
            ..Default::default()
        };
        h.app.update_shop_look(&draft, 0).await.unwrap();
        let event = h.order_reaching("order.paid").await;
        EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0001", event))
            .await
            .unwrap();
        let email = h.mailer.sent().remove(0);
        let html = email.html.as_deref().unwrap();
        assert!(html.contains("background:#7a1f5c;color:#ffffff;"), "{html}");
        assert!(html.contains("Ateliê &lt;Bela&gt; Flor"), "{html}");
        assert!(!html.contains("<Bela>"), "{html}");
        assert!(
            html.contains("contato@belaflor.com.br · WhatsApp (31) 98765-4321"),
            "{html}"
        );
        assert!(
            email
                .text
                .contains("Thank you for shopping at Ateliê <Bela> Flor.")
        );
        assert!(
            email.text.contains(
                "Ateliê <Bela> Flor · contato@belaflor.com.br · WhatsApp (31) 98765-4321"
            ),
            "{}",
            email.text
        );
    }

    #[tokio::test]
    async fn each_step_of_a_return_e_mails_the_buyer_its_amount_or_reason_in_their_language() {
        let cases = [
            (
                "order.return_requested",
                Language::PtBr,
                "Pedido de devolução",
                "não serviu",
            ),
            (
                "order.return_received",
                Language::PtBr,
                "Recebemos os produtos",
                "R$ 1.234,56",
            ),
            (
                "order.return_approved",
                Language::PtBr,
                "aprovada",
                "R$ 1.234,56",
            ),
            (
                "order.return_refused",
                Language::PtBr,
                "recusada",
                "produto usado",
            ),
            (
                "order.return_requested",
                Language::En,
                "Return request",
                "article 49",
            ),
            (
                "order.return_approved",
                Language::En,
                "approved",
                "will be refunded",
            ),
            (
                "order.return_refused",
                Language::En,
                "refused",
                "produto usado",
            ),
        ];
        for (event_type, language, subject, says) in cases {
            let email = email_for(event_type, language).await;
            assert!(
                email.subject.contains(subject),
                "{event_type}: {}",
                email.subject
            );
            assert!(email.subject.contains(ORDER_ID), "{event_type}");
            let html = email.html.as_deref().unwrap();
            for part in [&email.text, html] {
                assert!(part.contains(says), "{event_type}: {part}");
            }
        }
    }

    #[tokio::test]
    async fn every_order_event_e_mails_the_buyer_in_english_when_the_profile_says_so() {
        for event_type in EVENTS {
            let email = email_for(event_type, Language::En).await;
            let html = email.html.as_deref().unwrap();
            for part in [&email.subject, &email.text, html] {
                assert!(part.contains(ORDER_ID), "{event_type}: {part}");
            }
            for part in [&email.text, html] {
                assert!(part.contains("Hi Ana,"), "{event_type}: {part}");
                assert!(part.contains("R$ 1.234,56"), "{event_type}: {part}");
                assert!(!part.contains("Olá"), "{event_type}: {part}");
            }
            assert!(html.contains("<html lang=\"en\">"), "{html}");
        }
    }

    #[tokio::test]
    async fn each_message_says_what_happened_and_what_comes_next() {
        let cases = [
            (
                "order.placed",
                Language::PtBr,
                "Recebemos seu pedido",
                "30 minutos",
            ),
            (
                "order.placed",
                Language::En,
                "We received your order",
                "30 minutes",
            ),
            (
                "order.paid",
                Language::PtBr,
                "Pagamento confirmado",
                "código de rastreamento",
            ),
            (
                "order.paid",
                Language::En,
                "Payment confirmed",
                "tracking code",
            ),
            (
                "order.invoiced",
                Language::PtBr,
                "Nota fiscal emitida",
                "3525 0100",
            ),
            (
                "order.invoiced",
                Language::En,
                "Invoice issued",
                "Access key",
            ),
            ("order.shipped", Language::PtBr, "enviado", TRACKING),
            ("order.shipped", Language::En, "has shipped", TRACKING),
            ("order.delivered", Language::PtBr, "entregue", "7 dias"),
            ("order.delivered", Language::En, "delivered", "7 days"),
            (
                "order.cancelled",
                Language::PtBr,
                "cancelado",
                "faremos o estorno",
            ),
            (
                "order.cancelled",
                Language::En,
                "cancelled",
                "we will refund",
            ),
            (
                "order.expired",
                Language::PtBr,
                "expirado",
                "Nada foi cobrado",
            ),
            ("order.expired", Language::En, "expired", "not charged"),
        ];
        for (event_type, language, subject, body) in cases {
            let email = email_for(event_type, language).await;
            assert!(email.subject.contains(subject), "{}", email.subject);
            assert!(email.text.contains(body), "{event_type}: {}", email.text);
            assert!(email.html.unwrap().contains(body), "{event_type}");
        }
    }

    #[tokio::test]
    async fn a_shipped_e_mail_carries_the_tracking_code_in_both_parts() {
        let email = email_for("order.shipped", Language::PtBr).await;
        assert!(
            email
                .text
                .contains(&format!("Código de rastreamento: {TRACKING}"))
        );
        assert!(email.html.unwrap().contains(TRACKING));
    }

    #[tokio::test]
    async fn a_cancelled_unpaid_order_says_nothing_was_charged() {
        let h = Harness::new();
        h.customer(Language::PtBr, None).await;
        let event = h.order_cancelled_unpaid().await;
        assert_eq!(
            event.attributes["refund"],
            vitrine_domain::EventAttr::String("no".into())
        );
        EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0002", event))
            .await
            .unwrap();
        let email = &h.mailer.sent()[0];
        assert!(email.text.contains("nada foi cobrado"), "{}", email.text);
        assert!(!email.text.contains("estorno"));
    }

    #[tokio::test]
    async fn a_cancellation_without_the_refund_attribute_is_judged_from_the_history() {
        let h = Harness::new();
        h.customer(Language::En, None).await;
        let mut event = h.order_reaching("order.cancelled").await;
        event.attributes.remove("refund");
        EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0003", event))
            .await
            .unwrap();
        assert!(
            h.mailer.sent()[0]
                .text
                .contains("we will refund R$ 1.234,56")
        );
    }

    #[tokio::test]
    async fn hostile_names_arrive_escaped_in_the_html_part() {
        let h = Harness::new();
        h.customer(Language::PtBr, None).await;
        let event = h
            .order_with(
                "<script>alert(1)</script> & \"Co\"",
                "<b>Ana</b> Souza",
                "order.paid",
            )
            .await;
        EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0004", event))
            .await
            .unwrap();
        let email = &h.mailer.sent()[0];
        let html = email.html.as_deref().unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>Ana</b>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; &quot;Co&quot;"));
        assert!(html.contains("&lt;b&gt;Ana&lt;&#x2f;b&gt;"), "{html}");
        // Plain text is plain: shown as typed.
        assert!(email.text.contains("<script>alert(1)</script>"));
    }

    #[tokio::test]
    async fn the_e_mail_carries_the_event_id_as_its_idempotency_key() {
        let h = Harness::new();
        h.customer(Language::PtBr, None).await;
        let event = h.order_reaching("order.paid").await;
        let notifier = EmailNotifier::new(h.app.clone());
        let d = delivery("01JEVENT0005", event);
        notifier.handle(&d).await.unwrap();
        // A re-delivery sends the same key again: the mailer keeps one message per key.
        notifier.handle(&d).await.unwrap();
        let sent = h.mailer.sent();
        assert_eq!(sent.len(), 2);
        for email in &sent {
            assert_eq!(email.idempotency_key.as_deref(), Some("01JEVENT0005.email"));
            assert!(email.checked_idempotency_key().is_ok());
        }
        assert_eq!(sent[0], sent[1]);
        assert_eq!(h.mailer.distinct_keys(), 1);
    }

    #[tokio::test]
    async fn a_buyer_without_a_profile_gets_portuguese() {
        let h = Harness::new();
        let event = h.order_reaching("order.placed").await;
        EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0006", event))
            .await
            .unwrap();
        assert!(h.mailer.sent()[0].text.contains("Olá, Ana!"));
    }

    #[tokio::test]
    async fn an_order_that_does_not_exist_is_rejected() {
        let h = Harness::new();
        let event = h.order_reaching("order.paid").await;
        h.delete_order().await;
        let err = EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0007", event))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Reject(_)), "{err}");
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(h.mailer.sent().is_empty());
    }

    #[tokio::test]
    async fn malformed_event_data_is_rejected_with_a_clear_message() {
        let h = Harness::new();
        let mut event = h.order_reaching("order.paid").await;
        event.data = serde_json::json!({ "status": "paid" });
        let err = EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0008", event))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Reject(_)));
        assert!(err.to_string().contains("malformed data"), "{err}");
    }

    #[tokio::test]
    async fn a_mail_transport_outage_is_retried_and_a_refused_address_rejected() {
        let h = Harness::new();
        let event = h.order_reaching("order.paid").await;
        let notifier = EmailNotifier::new(h.app.clone());
        h.mailer.fail_with(Failure::Unavailable);
        let err = notifier
            .handle(&delivery("01JEVENT0009", event.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Retry(_)), "{err}");
        h.mailer.fail_with(Failure::Invalid);
        let err = notifier
            .handle(&delivery("01JEVENT0009", event))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Reject(_)), "{err}");
    }

    #[tokio::test]
    async fn a_table_outage_is_retried() {
        let h = Harness::new();
        let event = h.order_reaching("order.paid").await;
        h.table.set_down(true);
        let err = EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0010", event))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Retry(_)), "{err}");
    }

    #[tokio::test]
    async fn events_without_an_e_mail_are_ignored() {
        let h = Harness::new();
        let mut event = h.order_reaching("order.placed").await;
        event.event_type = "order.payment_failed".into();
        EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0011", event))
            .await
            .unwrap();
        assert!(h.mailer.sent().is_empty());
        assert_eq!(h.order().await.status, OrderStatus::PendingPayment);
    }

    /// A real authorised NF-e (the NF-e crate's test sample), so that a DANFE can be drawn.
    const SAMPLE_KEY: &str = "41170706117473000150550010000463201612756527";
    const SAMPLE_PROC: &str = include_str!(
        "../../../vitrine-nfe/tests/data/41170706117473000150550010000463201612756527-procNFe.xml"
    );

    async fn put(h: &Harness, key: &str, bytes: &'static [u8], content_type: &str) {
        use crate::ports::Blobs as _;
        h.blobs
            .put(key, Bytes::from_static(bytes), content_type)
            .await
            .unwrap();
    }

    async fn invoiced_email(h: &Harness, language: Language) -> Result<Email, ConsumeError> {
        h.customer(language, None).await;
        let event = h.order_reaching("order.invoiced").await;
        EmailNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0012", event))
            .await?;
        let mut sent = h.mailer.sent();
        assert_eq!(sent.len(), 1);
        Ok(sent.remove(0))
    }

    #[tokio::test]
    async fn the_invoiced_e_mail_carries_the_authorised_xml_and_the_stored_danfe() {
        let h = Harness::new();
        let file = h.invoice(INVOICE_KEY, Some("135250000000001")).await;
        let stem = file.trim_end_matches("-nfe.xml");
        put(&h, &file, b"<NFe>signed</NFe>", "application/xml").await;
        put(
            &h,
            &format!("{stem}-procNFe.xml"),
            b"<nfeProc>authorised</nfeProc>",
            "application/xml",
        )
        .await;
        put(
            &h,
            &format!("{stem}-danfe.pdf"),
            b"%PDF-1.4 stored\x00\xff",
            "application/pdf",
        )
        .await;

        let email = invoiced_email(&h, Language::PtBr).await.unwrap();
        assert_eq!(
            email.attachments,
            [
                Attachment {
                    filename: format!("DANFE-{INVOICE_KEY}.pdf"),
                    content_type: "application/pdf".into(),
                    bytes: Bytes::from_static(b"%PDF-1.4 stored\x00\xff"),
                },
                Attachment {
                    filename: format!("NFe{INVOICE_KEY}.xml"),
                    content_type: "application/xml".into(),
                    bytes: Bytes::from_static(b"<nfeProc>authorised</nfeProc>"),
                },
            ]
        );
        for part in [&email.text, email.html.as_deref().unwrap()] {
            assert!(part.contains("anexados a este e-mail"), "{part}");
        }

        let english = {
            let h2 = Harness::new();
            let file = h2.invoice(INVOICE_KEY, None).await;
            put(&h2, &file, b"<NFe>signed</NFe>", "application/xml").await;
            put(
                &h2,
                &file.replace("-nfe.xml", "-danfe.pdf"),
                b"%PDF-1.4",
                "application/pdf",
            )
            .await;
            invoiced_email(&h2, Language::En).await.unwrap()
        };
        // Not authorised: the signed NF-e is the XML sent.
        assert_eq!(english.attachments[1].bytes.as_ref(), b"<NFe>signed</NFe>");
        for part in [&english.text, english.html.as_deref().unwrap()] {
            assert!(part.contains("attached to this e-mail"), "{part}");
        }
    }

    #[tokio::test]
    async fn a_danfe_that_was_not_stored_is_drawn_from_the_xml() {
        let h = Harness::new();
        let file = h.invoice(SAMPLE_KEY, Some("141170000000000")).await;
        put(
            &h,
            &file.replace("-nfe.xml", "-procNFe.xml"),
            SAMPLE_PROC.as_bytes(),
            "application/xml",
        )
        .await;

        let email = invoiced_email(&h, Language::PtBr).await.unwrap();
        assert_eq!(email.attachments.len(), 2);
        let danfe = &email.attachments[0];
        assert_eq!(danfe.filename, format!("DANFE-{SAMPLE_KEY}.pdf"));
        assert!(danfe.bytes.starts_with(b"%PDF-"), "{danfe:?}");
        assert_eq!(email.attachments[1].bytes.as_ref(), SAMPLE_PROC.as_bytes());
    }

    #[tokio::test]
    async fn an_order_invoiced_without_a_stored_invoice_gets_no_attachments() {
        let h = Harness::new();
        let email = invoiced_email(&h, Language::PtBr).await.unwrap();
        assert!(email.attachments.is_empty());
        assert!(!email.text.contains("anexados"), "{}", email.text);
    }

    #[tokio::test]
    async fn without_its_files_the_invoiced_e_mail_waits() {
        // The blob store is down: a retry, and nothing sent.
        let h = Harness::without_blob_store();
        h.invoice(INVOICE_KEY, None).await;
        let err = invoiced_email(&h, Language::PtBr).await.unwrap_err();
        assert!(matches!(err, ConsumeError::Retry(_)), "{err}");
        assert!(h.mailer.sent().is_empty());

        // The XML is missing: rejected, naming the file.
        let h = Harness::new();
        let file = h.invoice(INVOICE_KEY, Some("135250000000001")).await;
        put(&h, &file, b"<NFe>signed</NFe>", "application/xml").await;
        let err = invoiced_email(&h, Language::PtBr).await.unwrap_err();
        assert!(matches!(err, ConsumeError::Reject(_)), "{err}");
        assert!(
            format!("{err:#}").contains("-procNFe.xml is missing"),
            "{err:#}"
        );
        assert!(h.mailer.sent().is_empty());
    }

    #[test]
    fn account_e_mails_exist_in_both_languages() {
        let cases = [
            (
                AccountEmail::Confirmation,
                Language::PtBr,
                "confirmação",
                "24 horas",
            ),
            (
                AccountEmail::Confirmation,
                Language::En,
                "confirmation",
                "24 hours",
            ),
            (
                AccountEmail::PasswordReset,
                Language::PtBr,
                "redefinir",
                "1 hora",
            ),
            (
                AccountEmail::PasswordReset,
                Language::En,
                "password reset",
                "1 hour",
            ),
        ];
        for (kind, language, subject, validity) in cases {
            let email = account_email(kind, language, "483920", "Ana <Souza>", "ana@example.com");
            let html = email.html.as_deref().unwrap();
            assert_eq!(email.to, "ana@example.com");
            assert_eq!(email.idempotency_key, None);
            assert!(email.subject.contains(subject), "{}", email.subject);
            assert!(email.text.contains("483920"));
            assert!(email.text.contains(validity), "{}", email.text);
            assert!(html.contains("483920"));
            assert!(html.contains(validity));
            assert!(html.contains(&format!("<html lang=\"{}\">", language.as_str())));
        }
        let email = account_email(AccountEmail::Confirmation, Language::PtBr, "1", "", "a@b.c");
        assert!(email.text.starts_with("Olá!\n"), "{}", email.text);
        let email = account_email(
            AccountEmail::PasswordReset,
            Language::En,
            "1",
            "<i>Bob</i>",
            "a@b.c",
        );
        assert!(
            email
                .html
                .unwrap()
                .contains("Hi &lt;i&gt;Bob&lt;&#x2f;i&gt;,")
        );
    }
}
