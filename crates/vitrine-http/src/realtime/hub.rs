//! The [`Hub`]: the WebSocket connections of this process with their principals, the local
//! shape's adapter of the Push port. The endpoint that registers sockets with it is
//! [`crate::routes::realtime`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::{mpsc, watch};
use vitrine_app::auth::{Principal, StaffArea};
use vitrine_app::ports::{Push, PushError, PushMessage};

/// The hub's limits and timers.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Messages queued per socket before it is disconnected as too slow.
    pub buffer: usize,
    /// A WebSocket ping this often.
    pub ping_every: Duration,
    /// A socket that has not answered a ping (pong) for this long is closed.
    pub pong_timeout: Duration,
    /// At most this many missed events are replayed on connect (and never more than the app's
    /// `Settings::realtime_resume_max_events`); past it the `ready` frame says
    /// `"truncated": true` and the client reloads its orders over REST.
    pub replay_limit: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        Self {
            buffer: 256,
            ping_every: Duration::from_secs(25),
            pong_timeout: Duration::from_secs(60),
            replay_limit: 1_000,
        }
    }
}

/// Why the hub dropped a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kick {
    TooSlow,
    ShuttingDown,
}

/// One message for the sockets, serialized once.
#[derive(Clone)]
pub(crate) struct Outgoing {
    pub(crate) event_id: Arc<str>,
    pub(crate) text: Utf8Bytes,
}

struct Registered {
    sub: String,
    admin: bool,
    queue: mpsc::Sender<Outgoing>,
    kick: watch::Sender<Option<Kick>>,
}

/// The connected sockets of this process, with their principals: the Push port, locally.
pub struct Hub {
    settings: HubSettings,
    sockets: Mutex<HashMap<u64, Registered>>,
    next_id: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(HubSettings::default())
    }
}

impl Hub {
    pub fn new(settings: HubSettings) -> Self {
        Self {
            settings,
            sockets: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// How many sockets are connected now.
    pub fn connected(&self) -> usize {
        self.lock().len()
    }

    /// Close every socket (code [`CLOSE_GOING_AWAY`](super::CLOSE_GOING_AWAY)): the server is
    /// stopping.
    pub fn close_all(&self) {
        for (_, socket) in self.lock().drain() {
            socket.kick.send_replace(Some(Kick::ShuttingDown));
        }
    }

    /// Register a socket for `principal`; it is unregistered when the returned value drops.
    pub(crate) fn register(self: &Arc<Self>, principal: &Principal) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, messages) = mpsc::channel(self.settings.buffer.max(1));
        let (kick, kicked) = watch::channel(None);
        self.lock().insert(
            id,
            Registered {
                sub: principal.sub.clone(),
                admin: principal.may(StaffArea::Orders),
                queue,
                kick,
            },
        );
        Subscription {
            hub: Arc::clone(self),
            id,
            messages,
            kicked,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Registered>> {
        self.sockets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Push for Hub {
    async fn push(&self, message: &PushMessage) -> Result<(), PushError> {
        let text = serde_json::to_string(&message.payload)
            .map_err(|e| PushError::Invalid(format!("the payload does not serialize: {e}")))?;
        let out = Outgoing {
            event_id: message.event_id.as_str().into(),
            text: text.into(),
        };
        let (mut sent, mut dropped) = (0usize, 0usize);
        self.lock().retain(|_, socket| {
            let audience = socket.admin || message.customer_id.as_deref() == Some(&socket.sub);
            if !audience {
                return true;
            }
            match socket.queue.try_send(out.clone()) {
                Ok(()) => {
                    sent += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    socket.kick.send_replace(Some(Kick::TooSlow));
                    dropped += 1;
                    false
                }
                // Its connection ended and has not unregistered yet.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        if dropped > 0 {
            tracing::warn!(event.id = %message.event_id, sockets = dropped, "realtime sockets too slow: disconnected");
        }
        tracing::debug!(event.id = %message.event_id, sockets = sent, "realtime message queued");
        Ok(())
    }
}

/// A registered socket's end of the hub.
pub(crate) struct Subscription {
    hub: Arc<Hub>,
    pub(crate) id: u64,
    pub(crate) messages: mpsc::Receiver<Outgoing>,
    pub(crate) kicked: watch::Receiver<Option<Kick>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn principal(sub: &str, admin: bool) -> Principal {
        Principal {
            sub: sub.into(),
            groups: if admin { vec!["admin".into()] } else { vec![] },
            username: None,
            email: None,
            session: None,
            issued_at: 0,
        }
    }

    fn message(event_id: &str, customer: Option<&str>) -> PushMessage {
        PushMessage {
            event_id: event_id.into(),
            customer_id: customer.map(Into::into),
            payload: json!({ "type": "event", "id": event_id }),
        }
    }

    fn drain(s: &mut Subscription) -> Vec<String> {
        let mut ids = Vec::new();
        while let Ok(out) = s.messages.try_recv() {
            ids.push(out.event_id.to_string());
        }
        ids
    }

    #[tokio::test]
    async fn a_message_reaches_its_owner_and_the_admins_and_nobody_else() {
        let hub = Arc::new(Hub::default());
        let mut a = hub.register(&principal("a", false));
        let mut a_again = hub.register(&principal("a", false));
        let mut b = hub.register(&principal("b", false));
        let mut admin = hub.register(&principal("root", true));

        hub.push(&message("E1", Some("a"))).await.unwrap();
        hub.push(&message("E2", None)).await.unwrap();

        assert_eq!(drain(&mut a), ["E1"]);
        assert_eq!(drain(&mut a_again), ["E1"]);
        assert!(drain(&mut b).is_empty());
        assert_eq!(drain(&mut admin), ["E1", "E2"]);
    }

    #[tokio::test]
    async fn pushing_to_nobody_connected_succeeds() {
        let hub = Hub::default();
        hub.push(&message("E1", Some("a"))).await.unwrap();
        assert_eq!(hub.connected(), 0);
    }

    #[tokio::test]
    async fn a_socket_whose_queue_is_full_is_disconnected_not_grown() {
        let hub = Arc::new(Hub::new(HubSettings {
            buffer: 2,
            ..HubSettings::default()
        }));
        let mut slow = hub.register(&principal("a", false));
        let mut other = hub.register(&principal("root", true));
        for id in ["E1", "E2", "E3"] {
            hub.push(&message(id, Some("a"))).await.unwrap();
            drain(&mut other);
        }
        assert_eq!(*slow.kicked.borrow_and_update(), Some(Kick::TooSlow));
        assert_eq!(hub.connected(), 1, "the slow socket is unregistered");
        assert_eq!(drain(&mut slow), ["E1", "E2"]);
        hub.push(&message("E4", Some("a"))).await.unwrap();
        assert_eq!(drain(&mut other), ["E4"]);
    }

    #[tokio::test]
    async fn a_dropped_socket_is_unregistered() {
        let hub = Arc::new(Hub::default());
        let a = hub.register(&principal("a", false));
        assert_eq!(hub.connected(), 1);
        drop(a);
        assert_eq!(hub.connected(), 0);
    }
}
