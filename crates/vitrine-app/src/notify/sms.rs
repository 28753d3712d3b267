//! Text messages to customers who opted in: payment confirmed, shipped, cancelled.
//!
//! The texts are plain ASCII so that they fit the GSM 7-bit alphabet: one segment holds 160 such
//! characters, but only 70 once a single `ã` or `ç` forces UCS-2. With the longest order ids
//! and tracking codes they still fit in one segment.
//!
//! Against SMS pumping (issue 18, finding 5; docs/operations.md, "Abuse limits"): only numbers
//! [`check_sms_number`] accepts may opt in — Brazilian mobiles unless the shop lists other
//! country codes — and at most `sms_per_number_per_day` texts go to one number a day, counted in
//! the table, however many orders (of however many accounts) name it. Both are checked again
//! when sending, so a profile saved before a rule changed gets no text it would now be refused.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use super::templates::{self, Shop};
use super::{OrderEvent, idempotency_key, language_of, load_order, load_profile};
use crate::app::App;
use crate::events::{ConsumeError, Consumer, Delivery};
use crate::ports::SmsMessage;
pub use crate::settings::check_sms_number;
use crate::store::budgets::{self, Budget};

/// Texts the buyer about payment, shipping and cancellation, when their profile opted in and
/// has a phone number.
pub struct SmsNotifier {
    app: Arc<App>,
}

fn template_of(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "order.paid" => "order_paid",
        "order.shipped" => "order_shipped",
        "order.cancelled" => "order_cancelled",
        _ => return None,
    })
}

#[derive(Serialize)]
struct SmsContext<'a> {
    shop: &'a Shop,
    order_id: &'a str,
    total: String,
    tracking_code: Option<String>,
    refund: bool,
}

impl SmsNotifier {
    pub const NAME: &'static str = "sms";

    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl Consumer for SmsNotifier {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        let event = &delivery.event;
        let Some(template) = template_of(&event.event_type) else {
            tracing::debug!(
                event.id = %delivery.event_id,
                event.r#type = %event.event_type,
                "no text message for this event"
            );
            return Ok(());
        };
        let data = OrderEvent::parse(event)?;
        let order = load_order(&self.app, event, &data).await?;
        // The profile is read now, not trusted from the event's attributes: a customer who
        // opted out since the order was placed gets no more texts.
        let profile = load_profile(&self.app, &order.customer_id).await?;
        let phone = match &profile {
            Some(p) if p.sms_opt_in => p.phone.clone(),
            _ => None,
        };
        let Some(phone) = phone else {
            tracing::debug!(
                event.id = %delivery.event_id,
                event.r#type = %event.event_type,
                "customer did not opt in to text messages"
            );
            return Ok(());
        };
        if let Err(why) = check_sms_number(&phone, &self.app.settings.send_limits) {
            tracing::info!(
                event.id = %delivery.event_id,
                event.r#type = %event.event_type,
                reason = %why,
                "no text message: the number may not receive texts"
            );
            return Ok(());
        }
        let language = language_of(profile.as_ref());
        let tracking_code = if event.event_type == "order.shipped" {
            Some(data.tracking_code(&order)?)
        } else {
            None
        };
        let shop = super::load_shop(&self.app).await?;
        let ctx = SmsContext {
            shop: &shop,
            order_id: &order.id,
            total: order.total.to_string(),
            tracking_code,
            refund: data.refund(&order),
        };
        let text = templates::render_sms(
            &format!("{}/sms/{template}.txt", templates::folder(language)),
            &ctx,
        )
        .map_err(super::template_failed)?;
        let per_number = Budget {
            kind: "sms",
            limit: self.app.settings.send_limits.sms_per_number_per_day,
            window_secs: 24 * 3600,
        };
        let now = self.app.ports.clock.now().secs();
        let taken = budgets::take(&*self.app.ports.table, &per_number, phone.as_str(), now)
            .await
            .map_err(|e| super::app_failed(e, "the number's text budget"))?;
        if !taken.granted() {
            tracing::warn!(
                event.id = %delivery.event_id,
                event.r#type = %event.event_type,
                order.id = %order.id,
                "no text message: the number's daily budget is spent"
            );
            return Ok(());
        }
        let message = SmsMessage {
            to: phone.as_str().to_owned(),
            text,
            idempotency_key: Some(idempotency_key(&delivery.event_id, Self::NAME)),
        };
        self.app
            .ports
            .sms
            .send(message)
            .await
            .map_err(super::sms_failed)?;
        tracing::info!(
            event.id = %delivery.event_id,
            event.r#type = %event.event_type,
            order.id = %order.id,
            "order text message sent"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::Language;
    use crate::notify::testing::*;
    use crate::settings::SendLimits;
    use vitrine_domain::contact::Phone;

    const PHONE: &str = "+5511987654321";

    #[tokio::test]
    async fn no_text_without_opt_in() {
        let h = Harness::new();
        h.customer(Language::PtBr, None).await;
        let event = h.order_reaching("order.paid").await;
        SmsNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0101", event))
            .await
            .unwrap();
        assert!(h.sms.sent().is_empty());
    }

    #[tokio::test]
    async fn no_text_when_the_customer_has_no_profile() {
        let h = Harness::new();
        let event = h.order_reaching("order.paid").await;
        SmsNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0102", event))
            .await
            .unwrap();
        assert!(h.sms.sent().is_empty());
    }

    #[tokio::test]
    async fn no_text_once_the_customer_opted_out_even_if_the_event_says_otherwise() {
        let h = Harness::new();
        h.customer(Language::PtBr, Some(PHONE)).await;
        h.opt_out_of_sms().await;
        let event = h.order_reaching("order.paid").await.attr(
            "sms_opt_in",
            vitrine_domain::EventAttr::String("true".into()),
        );
        SmsNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0103", event))
            .await
            .unwrap();
        assert!(h.sms.sent().is_empty());
    }

    #[tokio::test]
    async fn an_opted_in_customer_gets_one_short_text_per_step() {
        let cases = [
            ("order.paid", Language::PtBr, "pagamento do pedido"),
            ("order.paid", Language::En, "payment for order"),
            ("order.shipped", Language::PtBr, TRACKING),
            ("order.shipped", Language::En, TRACKING),
            ("order.cancelled", Language::PtBr, "estorno de R$ 1.234,56"),
            ("order.cancelled", Language::En, "refund R$ 1.234,56"),
        ];
        for (event_type, language, says) in cases {
            let h = Harness::new();
            h.customer(language, Some(PHONE)).await;
            let event = h.order_reaching(event_type).await;
            SmsNotifier::new(h.app.clone())
                .handle(&delivery("01JEVENT0104", event))
                .await
                .unwrap();
            let sent = h.sms.sent();
            assert_eq!(sent.len(), 1);
            let message = &sent[0];
            assert_eq!(message.to, PHONE);
            assert!(message.text.contains(ORDER_ID), "{}", message.text);
            assert!(message.text.contains(says), "{}", message.text);
            assert!(message.text.chars().count() <= 160, "{}", message.text);
            assert!(message.text.is_ascii(), "{}", message.text);
            assert_eq!(message.idempotency_key.as_deref(), Some("01JEVENT0104.sms"));
        }
    }

    #[tokio::test]
    async fn the_longest_tracking_code_still_fits_one_segment() {
        let h = Harness::new();
        h.customer(Language::PtBr, Some(PHONE)).await;
        let code = "A".repeat(vitrine_domain::order::MAX_TRACKING_LEN);
        let event = h.order_shipped_with(&code).await;
        SmsNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0105", event))
            .await
            .unwrap();
        let text = &h.sms.sent()[0].text;
        assert!(text.contains(&code));
        assert!(
            text.chars().count() <= 160,
            "{} chars",
            text.chars().count()
        );
    }

    #[tokio::test]
    async fn an_sms_outage_is_retried_and_a_refused_number_rejected() {
        let h = Harness::new();
        h.customer(Language::PtBr, Some(PHONE)).await;
        let event = h.order_reaching("order.paid").await;
        let notifier = SmsNotifier::new(h.app.clone());
        h.sms.fail_with(Failure::Unavailable);
        let err = notifier
            .handle(&delivery("01JEVENT0106", event.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Retry(_)), "{err}");
        h.sms.fail_with(Failure::Invalid);
        let err = notifier
            .handle(&delivery("01JEVENT0106", event))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Reject(_)), "{err}");
    }

    #[tokio::test]
    async fn events_without_a_text_are_ignored() {
        let h = Harness::new();
        h.customer(Language::PtBr, Some(PHONE)).await;
        let event = h.order_reaching("order.delivered").await;
        SmsNotifier::new(h.app.clone())
            .handle(&delivery("01JEVENT0107", event))
            .await
            .unwrap();
        assert!(h.sms.sent().is_empty());
    }

    #[test]
    fn only_brazilian_mobiles_may_get_texts_unless_the_shop_lists_other_codes() {
        let phone = |s: &str| Phone::parse(s).unwrap();
        let brazil = SendLimits::default();
        assert_eq!(check_sms_number(&phone(PHONE), &brazil), Ok(()));
        for refused in ["+55 11 3456-7890", "+351 912 345 678", "+1 415 555 2671"] {
            let why = check_sms_number(&phone(refused), &brazil).unwrap_err();
            assert!(why.contains("Brazilian mobile numbers"), "{refused}: {why}");
        }
        let with_portugal = SendLimits {
            sms_country_codes: vec!["+55".into(), "+351".into()],
            ..SendLimits::default()
        };
        assert_eq!(
            check_sms_number(&phone("+351 912 345 678"), &with_portugal),
            Ok(())
        );
        assert_eq!(check_sms_number(&phone(PHONE), &with_portugal), Ok(()));
        let why = check_sms_number(&phone("+55 11 3456-7890"), &with_portugal).unwrap_err();
        assert!(why.contains("+55, +351") && why.contains("mobile"), "{why}");
        assert!(check_sms_number(&phone("+1 415 555 2671"), &with_portugal).is_err());
        let portugal_only = SendLimits {
            sms_country_codes: vec!["+351".into()],
            ..SendLimits::default()
        };
        assert!(check_sms_number(&phone(PHONE), &portugal_only).is_err());
    }

    #[tokio::test]
    async fn one_number_gets_at_most_its_daily_budget_of_texts() {
        let mut settings = crate::Settings::default();
        settings.send_limits.sms_per_number_per_day = 2;
        let h = Harness::with_settings(settings);
        h.customer(Language::PtBr, Some(PHONE)).await;
        let event = h.order_reaching("order.cancelled").await;
        let notifier = SmsNotifier::new(h.app.clone());
        for id in [
            "01JEVENT0111",
            "01JEVENT0112",
            "01JEVENT0113",
            "01JEVENT0114",
        ] {
            notifier.handle(&delivery(id, event.clone())).await.unwrap();
        }
        assert_eq!(h.sms.sent().len(), 2);
    }

    #[tokio::test]
    async fn a_number_saved_before_the_rule_gets_no_text() {
        // Opted in while the shop allowed Portugal; then the setting went back to Brazil only.
        let mut settings = crate::Settings::default();
        settings.send_limits.sms_country_codes = vec!["+55".into(), "+351".into()];
        let h = Harness::with_settings(settings);
        h.customer(Language::PtBr, Some("+351 912 345 678")).await;
        let event = h.order_reaching("order.paid").await;
        let now = App::new(h.app.ports.clone(), crate::Settings::default());
        SmsNotifier::new(now)
            .handle(&delivery("01JEVENT0115", event))
            .await
            .unwrap();
        assert!(h.sms.sent().is_empty());
    }
}
