//! Order processing on events: subscriptions declared once, consumers, and the local dispatcher.
//!
//! Every state change writes its [`Event`] to the outbox in the same batch (see `store`). From
//! there an event reaches each subscriber whose filter policy admits it:
//! - locally, the [`dispatch`] module moves outbox items into one persisted queue per subscriber
//!   and runs the consumers, with retries, backoff and a dead-letter list;
//! - on AWS, a DynamoDB Streams handler publishes outbox items to SNS, whose subscriptions (with
//!   the same filter policies, from [`subscriptions`]) feed one SQS queue per consumer.
//!
//! Consumers are the same code in both shapes: they implement [`Consumer`] and are idempotent by
//! event id, because delivery is at-least-once in both.

pub mod dispatch;
pub mod subscriptions;

use async_trait::async_trait;
use vitrine_domain::Event;

pub use subscriptions::{Subscription, subscriptions};

/// One event handed to one subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event's id (a ULID: ordered by creation). Consumers use it as their idempotency key.
    pub event_id: String,
    pub event: Event,
    /// 1 on the first attempt.
    pub attempt: u32,
}

/// Why a consumer did not handle a delivery.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// Worth trying again later (a transport down, a timeout): the delivery is retried with
    /// backoff, then dead-lettered.
    #[error("temporary failure: {0:#}")]
    Retry(anyhow::Error),
    /// Will never succeed (a malformed event): dead-lettered at once.
    #[error("permanent failure: {0:#}")]
    Reject(anyhow::Error),
}

/// A subscriber's handler. `name` is the subscription's name (see [`subscriptions`]).
#[async_trait]
pub trait Consumer: Send + Sync {
    fn name(&self) -> &'static str;
    /// Handle one delivery. Must be idempotent by `delivery.event_id`: the same delivery can
    /// arrive again after a crash or a lost acknowledgement.
    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError>;
}

/// Hand `delivery` to `consumer` inside a `consume` span and the event's trace (so the events
/// the consumer writes stay in it): what the local dispatcher and the queue functions on AWS
/// both do.
pub async fn handle_in_trace(
    consumer: &dyn Consumer,
    delivery: &Delivery,
) -> Result<(), ConsumeError> {
    let event = &delivery.event;
    let span = tracing::info_span!(
        "consume",
        subscriber = consumer.name(),
        event.id = %delivery.event_id,
        event.r#type = %event.event_type,
        trace_id = event.trace_id.as_deref().unwrap_or_default(),
        attempt = delivery.attempt,
    );
    crate::trace::scope(
        event.trace_id.clone(),
        tracing::Instrument::instrument(consumer.handle(delivery), span),
    )
    .await
}
