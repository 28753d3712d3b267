//! Event delivery as the admin sees it: the outbox, each subscriber's queue, the dead letters.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One subscriber's queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueDto {
    pub subscriber: String,
    /// Deliveries waiting (or waiting for a retry).
    pub pending: usize,
    /// Deliveries that failed for good.
    pub dead: usize,
}

/// A delivery that failed for good.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterDto {
    pub subscriber: String,
    pub event_id: String,
    pub event_type: String,
    /// The order id, SKU or customer the event is about.
    pub subject: String,
    pub attempts: u32,
    pub last_error: String,
}

/// The state of event delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsDto {
    /// Events committed but not yet fanned out to their subscribers.
    pub outbox: usize,
    pub queues: Vec<QueueDto>,
    pub dead_letters: Vec<DeadLetterDto>,
}

/// How many dead letters were put back in their queues.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayedDto {
    pub replayed: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReplayParams {
    /// Only this subscriber's dead letters.
    pub subscriber: Option<String>,
}
