//! The realtime pusher: every order event, as one JSON message, to the connected browsers of the
//! order's owner and of every admin, through the [`Push`] port.
//!
//! Invariants:
//! - The message is built from the event alone ([`push_message`]): no read of the order, so a
//!   push costs no database round trip. The WebSocket endpoint's replay (events missed while
//!   away) builds its messages with the same function, so a replayed message and a live one are
//!   the same bytes.
//! - Idempotent by event id: the message carries the event id as `id`, and clients drop an `id`
//!   they have seen. A re-delivered event is pushed again; nothing else happens.
//! - Nobody connected is a success, not a retry: a client that was away asks for what it
//!   missed (`after=<last id>`) when it reconnects.
//! - A transport that does not answer is a [`ConsumeError::Retry`]; a message it can never take
//!   is a [`ConsumeError::Reject`].

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use serde_json::{Value, json};
use vitrine_domain::{Event, EventAttr};

use crate::events::{ConsumeError, Consumer, Delivery};
use crate::ports::{Push, PushError, PushMessage};

/// Pushes every order event to the owner's and the admins' connected clients.
pub struct RealtimePusher {
    push: Arc<dyn Push>,
}

impl RealtimePusher {
    /// The subscriber's name (see `events::subscriptions`).
    pub const NAME: &'static str = "realtime";

    pub fn new(push: Arc<dyn Push>) -> Self {
        Self { push }
    }
}

/// The message clients receive for the order event `event_id`:
/// `{"type": "event", "id", "event_type", "order_id", "status", "data"}` — `status` is the order's
/// status after the event, `data` the event's body as stored.
pub fn push_message(event_id: &str, event: &Event) -> PushMessage {
    let status = event
        .data
        .get("status")
        .filter(|s| s.is_string())
        .cloned()
        .or_else(|| match event.attributes.get("status") {
            Some(EventAttr::String(s)) => Some(Value::String(s.clone())),
            _ => None,
        })
        .unwrap_or(Value::Null);
    PushMessage {
        event_id: event_id.to_owned(),
        customer_id: event.customer_id.clone(),
        payload: json!({
            "type": "event",
            "id": event_id,
            "event_type": event.event_type,
            "order_id": event.subject,
            "status": status,
            "data": event.data,
        }),
    }
}

#[async_trait]
impl Consumer for RealtimePusher {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        let event = &delivery.event;
        if !event.event_type.starts_with("order.") {
            tracing::debug!(
                event.id = %delivery.event_id,
                event.r#type = %event.event_type,
                "not an order event: nothing to push"
            );
            return Ok(());
        }
        let message = push_message(&delivery.event_id, event);
        match self.push.push(&message).await {
            Ok(()) => {
                tracing::debug!(event.id = %delivery.event_id, event.r#type = %event.event_type, "order event pushed");
                Ok(())
            }
            Err(PushError::Invalid(why)) => Err(ConsumeError::Reject(anyhow!(
                "the push transport refused the message: {why}"
            ))),
            Err(PushError::Unavailable(e)) => {
                Err(ConsumeError::Retry(e.context("push transport unavailable")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn the_store_indexes_this_subscriber_s_deliveries_by_customer() {
        assert!(crate::store::deliveries::BY_CUSTOMER.contains(&RealtimePusher::NAME));
    }
    use crate::events::Delivery;

    #[derive(Default)]
    struct Recording {
        pushed: Mutex<Vec<PushMessage>>,
        fail: Option<fn() -> PushError>,
    }

    #[async_trait]
    impl Push for Recording {
        async fn push(&self, message: &PushMessage) -> Result<(), PushError> {
            if let Some(fail) = self.fail {
                return Err(fail());
            }
            self.pushed.lock().unwrap().push(message.clone());
            Ok(())
        }
    }

    fn paid() -> Event {
        Event::new(
            "order.paid",
            "01JORDER",
            json!({ "order_id": "01JORDER", "status": "paid", "total_centavos": 5000 }),
        )
        .for_customer("sub-a")
        .attr("status", EventAttr::String("paid".into()))
    }

    fn delivery(event: Event) -> Delivery {
        Delivery {
            event_id: "01JEVENT".into(),
            event,
            attempt: 1,
        }
    }

    #[tokio::test]
    async fn an_order_event_is_pushed_to_its_owner_with_its_id() {
        let port = Arc::new(Recording::default());
        let pusher = RealtimePusher::new(port.clone());
        pusher.handle(&delivery(paid())).await.unwrap();
        let pushed = port.pushed.lock().unwrap().clone();
        assert_eq!(pushed.len(), 1);
        assert_eq!(pushed[0].event_id, "01JEVENT");
        assert_eq!(pushed[0].customer_id.as_deref(), Some("sub-a"));
        assert_eq!(
            pushed[0].payload,
            json!({
                "type": "event",
                "id": "01JEVENT",
                "event_type": "order.paid",
                "order_id": "01JORDER",
                "status": "paid",
                "data": { "order_id": "01JORDER", "status": "paid", "total_centavos": 5000 },
            })
        );
    }

    #[tokio::test]
    async fn a_redelivered_event_is_the_same_message_again() {
        let port = Arc::new(Recording::default());
        let pusher = RealtimePusher::new(port.clone());
        pusher.handle(&delivery(paid())).await.unwrap();
        pusher.handle(&delivery(paid())).await.unwrap();
        let pushed = port.pushed.lock().unwrap().clone();
        assert_eq!(pushed[0], pushed[1]);
    }

    #[tokio::test]
    async fn events_other_than_order_events_are_not_pushed() {
        let port = Arc::new(Recording::default());
        let pusher = RealtimePusher::new(port.clone());
        let low = Event::new("stock.low", "CAM-M", json!({ "items": [] }));
        pusher.handle(&delivery(low)).await.unwrap();
        assert!(port.pushed.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_transport_down_is_retried_and_a_refused_message_is_rejected() {
        let down = RealtimePusher::new(Arc::new(Recording {
            fail: Some(|| PushError::Unavailable(anyhow!("connection refused"))),
            ..Recording::default()
        }));
        assert!(matches!(
            down.handle(&delivery(paid())).await,
            Err(ConsumeError::Retry(_))
        ));
        let refusing = RealtimePusher::new(Arc::new(Recording {
            fail: Some(|| PushError::Invalid("too large".into())),
            ..Recording::default()
        }));
        assert!(matches!(
            refusing.handle(&delivery(paid())).await,
            Err(ConsumeError::Reject(_))
        ));
    }
}
