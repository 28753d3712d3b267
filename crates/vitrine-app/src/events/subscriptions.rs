//! The subscriptions, declared once: which subscriber gets which events, as SNS subscription
//! filter policies. The local dispatcher matches them with `vitrine_filter_policy`; the
//! CloudFormation template declares the same policies on the SNS subscriptions (a test checks the
//! template against [`subscriptions`]).
//!
//! | subscriber | gets |
//! |---|---|
//! | `email` | customer-facing order events (returns included) |
//! | `sms` | paid, shipped, cancelled — only for buyers who opted in to text messages |
//! | `realtime` | every order event (the WebSocket pusher: owner and admins) |
//! | `admin-alerts` | `stock.low`, `invoice.failed`, `payments.difference`, `order.return_requested`, and `order.placed` at or above the large-order total |
//! | `invoices` | `order.paid`: issues the NF-e |
//! | `payments` | `order.cancelled` with a refund due, `order.payment_late`: refunds |

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vitrine_domain::EventAttr;
use vitrine_filter_policy::{FilterPolicy, FilterScope, MessageAttribute, PolicyError};

use crate::app::Settings;

/// One subscriber and the filter policy in front of it.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The subscriber's name: its consumer's `name()`, its queue's name on AWS.
    pub name: &'static str,
    pub scope: FilterScope,
    /// The policy as SNS takes it (the template's `FilterPolicy`).
    pub policy: Value,
    compiled: FilterPolicy,
}

impl Subscription {
    fn new(name: &'static str, policy: Value) -> Result<Self, PolicyError> {
        Ok(Self {
            name,
            scope: FilterScope::MessageAttributes,
            compiled: FilterPolicy::parse_scoped(&policy, FilterScope::MessageAttributes)?,
            policy,
        })
    }

    /// Whether this subscriber gets an event with these message attributes and body.
    pub fn admits(&self, attributes: &BTreeMap<String, EventAttr>, body: &Value) -> bool {
        self.compiled
            .matches(self.scope, &message_attributes(attributes), body)
    }
}

/// An event's attributes as the message attributes of its SNS message: what the filter policies
/// match on, here and (published by `vitrine_aws::sns_bus`) in SNS.
pub fn message_attributes(
    attributes: &BTreeMap<String, EventAttr>,
) -> BTreeMap<String, MessageAttribute> {
    attributes
        .iter()
        .map(|(name, attr)| {
            let attribute = match attr {
                EventAttr::String(value) => MessageAttribute::String(value.clone()),
                EventAttr::Number(value) => MessageAttribute::Number(*value),
                EventAttr::StringArray(values) => MessageAttribute::StringArray(values.clone()),
            };
            (name.clone(), attribute)
        })
        .collect()
}

/// Every subscription, with the thresholds from `settings`.
pub fn subscriptions(settings: &Settings) -> Vec<Subscription> {
    let declared = [
        (
            "email",
            json!({
                "event_type": [
                    "order.placed", "order.paid", "order.invoiced", "order.shipped",
                    "order.delivered", "order.cancelled", "order.expired",
                    "order.payment_late", "order.refunded", "order.return_requested",
                    "order.return_received", "order.return_approved", "order.return_refused"
                ]
            }),
        ),
        (
            "sms",
            json!({
                "event_type": ["order.paid", "order.shipped", "order.cancelled"],
                "sms_opt_in": ["true"]
            }),
        ),
        (
            "realtime",
            json!({ "event_type": [{ "prefix": "order." }] }),
        ),
        (
            "admin-alerts",
            json!({
                "$or": [
                    {
                        "event_type": [
                            "stock.low", "invoice.failed", "payments.difference",
                            "order.return_requested"
                        ]
                    },
                    {
                        "event_type": ["order.placed"],
                        "order_total": [{ "numeric": [">=", settings.large_order_centavos] }]
                    }
                ]
            }),
        ),
        ("invoices", json!({ "event_type": ["order.paid"] })),
        (
            "payments",
            json!({
                "event_type": [
                    "order.cancelled",
                    "order.expired",
                    "order.payment_late",
                    "order.refund_requested"
                ]
            }),
        ),
    ];
    declared
        .into_iter()
        .map(|(name, policy)| {
            Subscription::new(name, policy)
                .unwrap_or_else(|e| panic!("the {name} subscription's policy is invalid: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use vitrine_domain::Event;

    use super::*;

    fn admitted(event: &Event) -> Vec<&'static str> {
        subscriptions(&Settings::default())
            .into_iter()
            .filter(|s| s.admits(&event.attributes, &event.data))
            .map(|s| s.name)
            .collect()
    }

    fn order_event(event_type: &str, total: i64, sms: bool) -> Event {
        Event::new(event_type, "01JORDER", json!({}))
            .attr("order_total", EventAttr::Number(total))
            .attr("sms_opt_in", EventAttr::String(sms.to_string()))
    }

    #[test]
    fn each_event_reaches_the_subscribers_that_want_it() {
        assert_eq!(
            admitted(&order_event("order.placed", 5_000, false)),
            ["email", "realtime"]
        );
        assert_eq!(
            admitted(&order_event("order.placed", 100_000, false)),
            ["email", "realtime", "admin-alerts"]
        );
        assert_eq!(
            admitted(&order_event("order.paid", 5_000, true)),
            ["email", "sms", "realtime", "invoices"]
        );
        assert_eq!(
            admitted(&order_event("order.paid", 5_000, false)),
            ["email", "realtime", "invoices"]
        );
        assert_eq!(
            admitted(&Event::new("invoice.failed", "01JORDER", json!({}))),
            ["admin-alerts"]
        );
        assert_eq!(
            admitted(&order_event("order.payment_failed", 5_000, true)),
            ["realtime"]
        );
        assert_eq!(
            admitted(&Event::new("stock.low", "CAM-M", json!({}))),
            ["admin-alerts"]
        );
        assert!(admitted(&Event::new("customer.registered", "sub", json!({}))).is_empty());
        let cancelled = |refund: &str| {
            order_event("order.cancelled", 5_000, false)
                .attr("refund", EventAttr::String(refund.into()))
        };
        assert_eq!(
            admitted(&cancelled("yes")),
            ["email", "realtime", "payments"]
        );
        assert_eq!(
            admitted(&cancelled("no")),
            ["email", "realtime", "payments"]
        );
        assert_eq!(
            admitted(&order_event("order.payment_late", 5_000, false)),
            ["email", "realtime", "payments"]
        );
        assert_eq!(
            admitted(&order_event("order.refunded", 5_000, false)),
            ["email", "realtime"]
        );
        assert_eq!(
            admitted(&order_event("order.return_requested", 5_000, false)),
            ["email", "realtime", "admin-alerts"]
        );
        for step in ["received", "approved", "refused"] {
            assert_eq!(
                admitted(&order_event(&format!("order.return_{step}"), 5_000, false)),
                ["email", "realtime"]
            );
        }
    }

    #[test]
    fn the_large_order_threshold_comes_from_the_settings() {
        let settings = Settings {
            large_order_centavos: 1_000,
            ..Settings::default()
        };
        let alerts = subscriptions(&settings)
            .into_iter()
            .find(|s| s.name == "admin-alerts")
            .unwrap();
        let event = order_event("order.placed", 1_000, false);
        assert!(alerts.admits(&event.attributes, &event.data));
        let event = order_event("order.placed", 999, false);
        assert!(!alerts.admits(&event.attributes, &event.data));
    }
}
