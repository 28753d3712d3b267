//! E-mails to the shop's staff: stock running low, an NF-e that could not be issued, payments
//! that differ between a provider and the store (the daily reconciliation), and large
//! orders (the subscription's numeric filter on the order total decides what "large" is; this
//! consumer checks the same threshold, `Settings::large_order_centavos`, and sends).

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vitrine_domain::EventAttr;

use super::templates::{self, OrderView, Shop};
use super::{OrderEvent, idempotency_key, load_order, outgoing_email, reject};
use crate::app::App;
use crate::events::{ConsumeError, Consumer, Delivery};

/// E-mails `Settings::alerts_to` about `stock.low`, `invoice.failed`, `payments.difference` and
/// large `order.placed` events; without that address, does nothing.
pub struct AdminAlerts {
    app: Arc<App>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LowItem {
    sku: String,
    available: i64,
}

#[derive(Deserialize)]
struct StockLowData {
    items: Vec<LowItem>,
}

#[derive(Serialize)]
struct StockLowContext<'a> {
    lang: &'static str,
    shop: &'a Shop,
    items: Vec<LowItem>,
}

#[derive(Serialize)]
struct InvoiceFailedContext<'a> {
    lang: &'static str,
    shop: &'a Shop,
    order_id: &'a str,
    reason: &'a str,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DifferenceItem {
    provider: String,
    reference: String,
    order_id: Option<String>,
    provider_net_centavos: i64,
    store_net_centavos: i64,
    what: String,
}

#[derive(Deserialize)]
struct DifferenceData {
    report: String,
    differences: Vec<DifferenceItem>,
}

#[derive(Serialize)]
struct DifferenceContext<'a> {
    lang: &'static str,
    shop: &'a Shop,
    day: &'a str,
    report: String,
    differences: Vec<DifferenceItem>,
}

#[derive(Serialize)]
struct LargeOrderContext<'a> {
    lang: &'static str,
    shop: &'a Shop,
    buyer_name: &'a str,
    order: OrderView,
}

#[derive(Serialize)]
struct ReturnRequestedContext<'a> {
    lang: &'static str,
    shop: &'a Shop,
    buyer_name: &'a str,
    order: OrderView,
    amount: String,
    reason: &'a str,
}

impl AdminAlerts {
    pub const NAME: &'static str = "admin-alerts";

    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }

    async fn render(&self, delivery: &Delivery) -> Result<templates::Rendered, ConsumeError> {
        let event = &delivery.event;
        let shop = super::load_shop(&self.app).await?;
        let lang = "pt-BR";
        let rendered = if event.event_type == "stock.low" {
            let data: StockLowData = serde_json::from_value(event.data.clone())
                .map_err(|e| reject(format!("stock.low event has malformed data: {e}")))?;
            if data.items.is_empty() {
                return Err(reject("stock.low event names no SKU"));
            }
            let ctx = StockLowContext {
                lang,
                shop: &shop,
                items: data.items,
            };
            templates::render_email("pt-BR/alert_stock_low", &ctx)
        } else if event.event_type == "invoice.failed" {
            let reason = event
                .data
                .get("reason")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| reject("invoice.failed event without a reason"))?;
            let ctx = InvoiceFailedContext {
                lang,
                shop: &shop,
                order_id: &event.subject,
                reason,
            };
            templates::render_email("pt-BR/alert_invoice_failed", &ctx)
        } else if event.event_type == "payments.difference" {
            let data: DifferenceData = serde_json::from_value(event.data.clone()).map_err(|e| {
                reject(format!("payments.difference event has malformed data: {e}"))
            })?;
            if data.differences.is_empty() {
                return Err(reject("payments.difference event lists no difference"));
            }
            let ctx = DifferenceContext {
                lang,
                shop: &shop,
                day: &event.subject,
                report: data.report,
                differences: data.differences,
            };
            templates::render_email("pt-BR/alert_payments_difference", &ctx)
        } else if event.event_type == "order.return_requested" {
            let data = OrderEvent::parse(event)?;
            let order = load_order(&self.app, event, &data).await?;
            let amount = event
                .data
                .get("amount_centavos")
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| reject("order.return_requested event without an amount"))?;
            let ctx = ReturnRequestedContext {
                lang,
                shop: &shop,
                buyer_name: &order.buyer.name,
                order: OrderView::new(&order),
                amount: vitrine_domain::Money::from_centavos(amount).to_string(),
                reason: event
                    .data
                    .get("reason")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default(),
            };
            templates::render_email("pt-BR/alert_return_requested", &ctx)
        } else {
            let data = OrderEvent::parse(event)?;
            let order = load_order(&self.app, event, &data).await?;
            let ctx = LargeOrderContext {
                lang,
                shop: &shop,
                buyer_name: &order.buyer.name,
                order: OrderView::new(&order),
            };
            templates::render_email("pt-BR/alert_large_order", &ctx)
        };
        rendered.map_err(super::template_failed)
    }
}

#[async_trait]
impl Consumer for AdminAlerts {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        let event = &delivery.event;
        if !matches!(
            event.event_type.as_str(),
            "stock.low"
                | "order.placed"
                | "invoice.failed"
                | "payments.difference"
                | "order.return_requested"
        ) {
            tracing::debug!(
                event.id = %delivery.event_id,
                event.r#type = %event.event_type,
                "no admin alert for this event"
            );
            return Ok(());
        }
        // The subscription's filter admits only large orders; on AWS that filter is the
        // template's, so the threshold is checked here too, against the function's settings.
        if event.event_type == "order.placed"
            && let Some(EventAttr::Number(total)) = event.attributes.get("order_total")
            && *total < self.app.settings.large_order_centavos
        {
            tracing::debug!(
                event.id = %delivery.event_id,
                order.total_centavos = total,
                large_order_centavos = self.app.settings.large_order_centavos,
                "no admin alert: the order is below the large-order threshold"
            );
            return Ok(());
        }
        let Some(to) = self.app.settings.alerts_to.as_deref() else {
            tracing::info!(
                event.id = %delivery.event_id,
                event.r#type = %event.event_type,
                "admin alert not e-mailed: no alerts address is configured"
            );
            return Ok(());
        };
        let rendered = self.render(delivery).await?;
        let email = outgoing_email(
            to,
            rendered,
            idempotency_key(&delivery.event_id, Self::NAME),
        );
        self.app
            .ports
            .mailer
            .send(email)
            .await
            .map_err(super::mail_failed)?;
        tracing::info!(
            event.id = %delivery.event_id,
            event.r#type = %event.event_type,
            "admin alert e-mailed"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use vitrine_domain::{Event, EventAttr};

    use super::*;
    use crate::app::Settings;
    use crate::customers::Language;
    use crate::notify::testing::*;

    const ALERTS_TO: &str = "estoque@loja.example";

    fn with_alerts() -> Harness {
        Harness::with_settings(Settings {
            alerts_to: Some(ALERTS_TO.into()),
            ..Settings::default()
        })
    }

    fn stock_low(items: serde_json::Value) -> Event {
        Event::new("stock.low", "CAM-M", serde_json::json!({ "items": items }))
            .attr("available", EventAttr::Number(0))
    }

    #[tokio::test]
    async fn low_stock_is_e_mailed_to_the_alerts_address() {
        let h = with_alerts();
        let event = stock_low(serde_json::json!([
            { "sku": "CAM-M", "available": 2 },
            { "sku": "<CAN>-01", "available": 0 },
        ]));
        AdminAlerts::new(h.app.clone())
            .handle(&delivery("01JEVENT0201", event))
            .await
            .unwrap();
        let sent = h.mailer.sent();
        assert_eq!(sent.len(), 1);
        let email = &sent[0];
        assert_eq!(email.to, ALERTS_TO);
        assert_eq!(email.subject, "Estoque baixo em 2 SKUs");
        assert!(email.text.contains("- CAM-M: 2 unidades"), "{}", email.text);
        assert!(
            email.text.contains("- <CAN>-01: esgotado"),
            "{}",
            email.text
        );
        let html = email.html.as_deref().unwrap();
        assert!(html.contains("CAM-M"));
        assert!(html.contains("&lt;CAN&gt;-01"), "{html}");
        assert_eq!(
            email.idempotency_key.as_deref(),
            Some("01JEVENT0201.admin-alerts")
        );
        assert!(email.checked_idempotency_key().is_ok());
    }

    #[tokio::test]
    async fn one_low_sku_is_named_in_the_subject() {
        let h = with_alerts();
        let event = stock_low(serde_json::json!([{ "sku": "CAM-M", "available": 1 }]));
        AdminAlerts::new(h.app.clone())
            .handle(&delivery("01JEVENT0202", event))
            .await
            .unwrap();
        let email = &h.mailer.sent()[0];
        assert_eq!(email.subject, "Estoque baixo: CAM-M (1 un.)");
        assert!(
            email.text.contains("- CAM-M: 1 unidade\n"),
            "{}",
            email.text
        );
    }

    #[tokio::test]
    async fn a_return_request_is_e_mailed_to_the_staff_with_its_amount_and_reason() {
        let h = with_alerts();
        h.customer(Language::En, None).await;
        let event = h.order_reaching("order.return_requested").await;
        AdminAlerts::new(h.app.clone())
            .handle(&delivery("01JEVENT0204", event))
            .await
            .unwrap();
        let email = &h.mailer.sent()[0];
        assert_eq!(email.to, ALERTS_TO);
        assert!(
            email.subject.starts_with("Devolução pedida"),
            "{}",
            email.subject
        );
        assert!(email.subject.contains(ORDER_ID));
        assert!(email.subject.contains("R$ 1.234,56"), "{}", email.subject);
        assert!(email.text.contains("Motivo: não serviu"), "{}", email.text);
        assert!(email.text.contains("CDC art. 49"), "{}", email.text);
        assert!(email.html.as_deref().unwrap().contains("não serviu"));
    }

    #[tokio::test]
    async fn a_large_order_is_e_mailed_with_its_total_and_items() {
        let h = with_alerts();
        h.customer(Language::En, None).await;
        let event = h.order_reaching("order.placed").await;
        AdminAlerts::new(h.app.clone())
            .handle(&delivery("01JEVENT0203", event))
            .await
            .unwrap();
        let email = &h.mailer.sent()[0];
        assert_eq!(email.to, ALERTS_TO);
        assert!(email.subject.contains("R$ 1.234,56"), "{}", email.subject);
        assert!(email.subject.contains(ORDER_ID));
        // The staff's language, whatever the buyer's.
        assert!(email.text.contains("Ana Souza"), "{}", email.text);
        assert!(email.text.contains("2 x Camiseta Básica"), "{}", email.text);
        assert!(
            email.text.contains("\n-- \nAlerta automático"),
            "{}",
            email.text
        );
        assert!(email.html.as_deref().unwrap().contains("R$ 1.234,56"));
        assert_eq!(
            email.idempotency_key.as_deref(),
            Some("01JEVENT0203.admin-alerts")
        );
    }

    #[tokio::test]
    async fn an_order_below_the_large_order_threshold_is_not_e_mailed() {
        let h = Harness::with_settings(Settings {
            alerts_to: Some(ALERTS_TO.into()),
            large_order_centavos: 123_457,
            ..Settings::default()
        });
        h.customer(Language::En, None).await;
        let event = h.order_reaching("order.placed").await;
        AdminAlerts::new(h.app.clone())
            .handle(&delivery("01JEVENT0209", event))
            .await
            .unwrap();
        assert!(
            h.mailer.sent().is_empty(),
            "R$ 1.234,56 is under R$ 1.234,57"
        );
    }

    #[tokio::test]
    async fn without_an_alerts_address_nothing_is_sent() {
        let h = Harness::new();
        assert_eq!(h.app.settings.alerts_to, None);
        let alerts = AdminAlerts::new(h.app.clone());
        alerts
            .handle(&delivery(
                "01JEVENT0204",
                stock_low(serde_json::json!([{ "sku": "CAM-M", "available": 1 }])),
            ))
            .await
            .unwrap();
        let event = h.order_reaching("order.placed").await;
        alerts
            .handle(&delivery("01JEVENT0205", event))
            .await
            .unwrap();
        assert!(h.mailer.sent().is_empty());
    }

    #[tokio::test]
    async fn malformed_stock_events_and_vanished_orders_are_rejected() {
        let h = with_alerts();
        let alerts = AdminAlerts::new(h.app.clone());
        for data in [
            serde_json::json!([]),
            serde_json::json!([{ "sku": "CAM-M" }]),
        ] {
            let err = alerts
                .handle(&delivery("01JEVENT0206", stock_low(data)))
                .await
                .unwrap_err();
            assert!(matches!(err, ConsumeError::Reject(_)), "{err}");
        }
        let event = h.order_reaching("order.placed").await;
        h.delete_order().await;
        let err = alerts
            .handle(&delivery("01JEVENT0207", event))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Reject(_)), "{err}");
        assert!(h.mailer.sent().is_empty());
    }

    #[tokio::test]
    async fn a_mail_outage_is_retried() {
        let h = with_alerts();
        h.mailer.fail_with(Failure::Unavailable);
        let err = AdminAlerts::new(h.app.clone())
            .handle(&delivery(
                "01JEVENT0208",
                stock_low(serde_json::json!([{ "sku": "CAM-M", "available": 1 }])),
            ))
            .await
            .unwrap_err();
        assert!(matches!(err, ConsumeError::Retry(_)), "{err}");
    }
}
