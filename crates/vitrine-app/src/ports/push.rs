//! The Push port: order events pushed to the browsers that are connected right now.
//!
//! Adapters: `vitrine_http::realtime::Hub` (the local shape: an in-process registry of the
//! WebSocket connections of this server) and `vitrine_aws::ws_push::ApiGatewayPush` (AWS: the
//! connection items of `notify::connections` in the table, and the API Gateway Management API's
//! `PostToConnection`, dropping connections that answer 410 Gone).
//!
//! Invariants:
//! - **Audience**: a message goes to the sockets of the order's owner
//!   ([`PushMessage::customer_id`]) and to the sockets of every admin, and to no one else. A
//!   message without a customer goes to admins only. The adapter decides who is connected; the
//!   caller only says whose message it is.
//! - **Best effort, at-least-once**: pushing to no connected client at all is a success (a client
//!   that was away asks for what it missed when it reconnects). The same message can be pushed
//!   twice (a re-delivered event); clients drop a message whose `id` they have already seen.
//! - Payloads are built by the caller (`notify::realtime`) and sent as they are; adapters never
//!   log them (they name customers' orders), only the event id.

use async_trait::async_trait;

/// One message for the connected clients of one audience.
#[derive(Debug, Clone, PartialEq)]
pub struct PushMessage {
    /// The id of the event the message is about: clients deduplicate by it, and resume after it.
    pub event_id: String,
    /// The owner of the order the message is about; `None`: admins only.
    pub customer_id: Option<String>,
    /// The JSON object sent to each client, as it is.
    pub payload: serde_json::Value,
}

/// Why a message could not be pushed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The message can never be pushed (e.g. larger than the transport takes).
    #[error("invalid message: {0}")]
    Invalid(String),
    /// The transport did not answer (worth retrying).
    #[error("push transport unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// Pushes messages to connected clients. See the module docs for the audience rule: the order's
/// owner and every admin; nobody connected is a success.
#[async_trait]
pub trait Push: Send + Sync {
    /// Push `message` to the connected sockets of its audience: the sockets of
    /// `message.customer_id` and the sockets of every admin.
    async fn push(&self, message: &PushMessage) -> Result<(), PushError>;
}
