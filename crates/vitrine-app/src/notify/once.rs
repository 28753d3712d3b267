//! [`SendOnce`]: a message-sending consumer made safe against re-deliveries on AWS.
//!
//! On AWS each subscriber's SQS queue feeds its own function, and a delivery comes back whenever
//! its batch was not acknowledged: a function killed or timed out mid-batch, a lost
//! acknowledgement, an event published twice (SNS and the stream handler are at-least-once).
//! The transports cannot tell a copy from a new message (SES has no idempotency token and
//! replaces any `Message-ID`), so without a record a re-delivered batch mails every buyer whose
//! message went out before the crash a second time.
//!
//! The guarantee, per subscriber and event id:
//! - **Nothing is lost**: a delivery is acknowledged only after the message was accepted by the
//!   transport (or the consumer decided there is nothing to send).
//! - **Sent once**: right after the transport accepts it, the send is recorded in the table (the
//!   `DELIVERY#{subscriber}` item the local dispatcher also leaves, kept 7 days); a re-delivery
//!   finds the record and is acknowledged without sending.
//! - The one window left is between the transport accepting the message and the record being
//!   written (a crash in those milliseconds): the message is then sent again. Recording *before*
//!   sending would close it at the price of losing the message when the crash comes before the
//!   send, and a lost order e-mail is worse than a duplicate one.
//!
//! When the record cannot be read the delivery is retried (sending blind could duplicate);
//! when it cannot be written after a send, the delivery is still acknowledged (the message went
//! out; retrying would send it again) and the failure is logged.
//!
//! Not for the local dispatcher: there the delivery item is the queue itself, and the file and
//! SMTP mailers already deliver one message per idempotency key.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;

use crate::app::App;
use crate::events::{ConsumeError, Consumer, Delivery};

/// `inner`, sending at most once per event id (see the [module](self)).
pub struct SendOnce {
    app: Arc<App>,
    inner: Arc<dyn Consumer>,
}

impl SendOnce {
    pub fn new(app: Arc<App>, inner: Arc<dyn Consumer>) -> Self {
        Self { app, inner }
    }
}

#[async_trait]
impl Consumer for SendOnce {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        let name = self.inner.name();
        match self.app.was_delivered(name, &delivery.event_id).await {
            Ok(true) => {
                tracing::info!(
                    consumer = name,
                    event.id = %delivery.event_id,
                    attempt = delivery.attempt,
                    "already sent for this event: acknowledged without sending again"
                );
                return Ok(());
            }
            Ok(false) => {}
            Err(e) => {
                return Err(ConsumeError::Retry(anyhow!(
                    "reading whether {name} already handled event {}: {e}",
                    delivery.event_id
                )));
            }
        }
        self.inner.handle(delivery).await?;
        if let Err(e) = self
            .app
            .record_delivered(name, &delivery.event_id, &delivery.event, delivery.attempt)
            .await
        {
            tracing::error!(
                consumer = name,
                event.id = %delivery.event_id,
                error = %e,
                "the message was sent but the send could not be recorded: a re-delivery would send it again"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::Language;
    use crate::notify::EmailNotifier;
    use crate::notify::testing::*;

    fn once(h: &Harness) -> SendOnce {
        SendOnce::new(h.app.clone(), Arc::new(EmailNotifier::new(h.app.clone())))
    }

    #[tokio::test]
    async fn a_redelivered_event_is_acknowledged_without_a_second_message() {
        let h = Harness::new();
        h.customer(Language::PtBr, None).await;
        let event = h.order_reaching("order.paid").await;
        let consumer = once(&h);
        consumer
            .handle(&delivery("01JEVENT0001", event.clone()))
            .await
            .unwrap();
        let mut again = delivery("01JEVENT0001", event.clone());
        again.attempt = 2;
        consumer.handle(&again).await.unwrap();
        assert_eq!(h.mailer.sent().len(), 1);
        assert!(
            h.app
                .was_delivered(EmailNotifier::NAME, "01JEVENT0001")
                .await
                .unwrap()
        );
        // Another event of the same order is another message.
        consumer
            .handle(&delivery("01JEVENT0002", event))
            .await
            .unwrap();
        assert_eq!(h.mailer.sent().len(), 2);
    }

    #[tokio::test]
    async fn without_the_record_a_redelivery_sends_again() {
        // What the wrapper is for: the notifier alone cannot tell a copy.
        let h = Harness::new();
        h.customer(Language::PtBr, None).await;
        let event = h.order_reaching("order.paid").await;
        let notifier = EmailNotifier::new(h.app.clone());
        for _ in 0..2 {
            notifier
                .handle(&delivery("01JEVENT0001", event.clone()))
                .await
                .unwrap();
        }
        assert_eq!(h.mailer.sent().len(), 2);
    }

    #[tokio::test]
    async fn a_failed_send_is_not_recorded_so_its_retry_sends() {
        let h = Harness::new();
        h.customer(Language::PtBr, None).await;
        let event = h.order_reaching("order.paid").await;
        let consumer = once(&h);
        h.mailer.fail_with(Failure::Unavailable);
        let failed = consumer
            .handle(&delivery("01JEVENT0001", event.clone()))
            .await;
        assert!(matches!(failed, Err(ConsumeError::Retry(_))), "{failed:?}");
        assert!(
            !h.app
                .was_delivered(EmailNotifier::NAME, "01JEVENT0001")
                .await
                .unwrap()
        );
        assert!(h.mailer.sent().is_empty());
    }
}
