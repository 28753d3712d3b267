//! `GET /api/v1/ws`: the WebSocket endpoint of realtime order events (the protocol, the hub and
//! the close codes are in [`crate::realtime`]).
//!
//! Invariants:
//! - **No gap, no duplicate at the resume seam**: the socket is registered with the hub *before*
//!   the missed events are read, so an event is either in the replay or pushed live after it; a
//!   live event that was already replayed is skipped.
//! - **Tokens never reach a log**: a token travels in the subprotocol list only; one in the URL, which proxies log, is refused. The endpoint logs its route
//!   template only (`log_requests` never logs the query string); the token is not echoed in any
//!   problem or frame.
//! - The endpoint is not in the OpenAPI document (OpenAPI cannot describe a WebSocket):
//!   `docs/api.md` ("Realtime") documents it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{
    CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade,
    rejection::WebSocketUpgradeRejection,
};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;
use vitrine_app::auth::{Principal, StaffArea};
use vitrine_app::notify::push_message;
use vitrine_domain::FieldError;

use crate::dto::ConnectQuery;
use crate::extract::Query;
use crate::problem::Problem;
use crate::realtime::{
    BEARER_PROTOCOL, CLOSE_BAD_FRAME, CLOSE_GOING_AWAY, CLOSE_NO_PONG, CLOSE_REPLAY_FAILED,
    CLOSE_TOKEN_EXPIRED, CLOSE_TOO_SLOW, Kick, Subscription, TokenRefusal, connect_token,
    is_event_id,
};
use crate::state::AppState;

/// A client frame larger than this ends the connection (clients have nothing to say).
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;
/// How long a write to a socket may take before the client is judged gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the closing handshake may take before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /api/v1/ws`: upgrade to a WebSocket of order events.
///
/// The access token comes from the subprotocol list `Sec-WebSocket-Protocol: bearer, <token>`
/// only (the server then selects `bearer`). A missing or refused token is a 401 problem before any upgrade; a token in
/// the URL (`access_token=`, which proxies log) is a 400, whatever else the request carries.
pub async fn connect(
    State(state): State<AppState>,
    Query(query): Query<ConnectQuery>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let token = match connect_token(&[&headers], query.access_token.is_some()) {
        Ok(found) => found,
        Err(refused @ TokenRefusal::InUrl) => {
            return Problem::bad_request("token_in_url", refused.detail()).into_response();
        }
        Err(refused @ TokenRefusal::Missing) => {
            return Problem::unauthenticated(refused.detail()).into_response();
        }
    };
    let principal = match state.verify(&token).await {
        Ok(p) => p,
        Err(problem) => return problem.into_response(),
    };
    if let Some(after) = &query.after
        && !is_event_id(after)
    {
        return Problem::validation(vec![FieldError::new(
            "after",
            "must be an event id (the `id` of a message received before)",
        )])
        .into_response();
    }
    // Verified above, so its claims can be read as they are.
    let Some(expires_at_ms) = expiry_ms(&token) else {
        return Problem::unauthenticated("the access token has no expiry").into_response();
    };
    let upgrade = match upgrade {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        .protocols([BEARER_PROTOCOL])
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| {
            let connection = Connection {
                state,
                principal,
                expires_at_ms,
            };
            connection.run(socket, query.after)
        })
}

/// The `exp` claim (seconds) of a token already verified, in milliseconds.
fn expiry_ms(token: &str) -> Option<i64> {
    #[derive(Deserialize)]
    struct Exp {
        exp: i64,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Exp = serde_json::from_slice(&bytes).ok()?;
    claims.exp.checked_mul(1000)
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed or vanished: nothing more to send.
    Gone,
    /// Close with this code and reason.
    Close(u16, &'static str),
}

struct Connection {
    state: AppState,
    principal: Principal,
    /// The access token's expiry (ms since the epoch).
    expires_at_ms: i64,
}

impl Connection {
    async fn run(self, mut socket: WebSocket, after: Option<String>) {
        let hub = Arc::clone(self.state.realtime());
        let mut subscription = hub.register(&self.principal);
        tracing::debug!(
            realtime.socket = subscription.id,
            admin = self.principal.is_admin(),
            "realtime socket connected"
        );
        let end = match self.replay(&mut socket, &mut subscription, after).await {
            Ok(replayed) => self.live(&mut socket, &mut subscription, replayed).await,
            Err(end) => end,
        };
        let id = subscription.id;
        drop(subscription);
        if let End::Close(code, reason) = end {
            let frame = Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            }));
            // The closing handshake: wait (briefly) for the client's close before dropping the
            // TCP connection, so that the close frame is not lost to a reset.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                if socket.send(frame).await.is_ok() {
                    while let Some(Ok(message)) = socket.recv().await {
                        if matches!(message, Message::Close(_)) {
                            break;
                        }
                    }
                }
            })
            .await;
        }
        tracing::debug!(realtime.socket = id, end = ?end, "realtime socket closed");
    }

    /// Send the events after `after` (the caller's own, or all for an admin), then `ready`.
    /// Returns the ids sent, so that the same events arriving live are skipped.
    async fn replay(
        &self,
        socket: &mut WebSocket,
        subscription: &mut Subscription,
        after: Option<String>,
    ) -> Result<HashSet<String>, End> {
        let limit = self.state.realtime().settings().replay_limit;
        let mut replayed = HashSet::new();
        let mut truncated = false;
        if let Some(after) = after {
            let customer =
                (!self.principal.may(StaffArea::Orders)).then_some(self.principal.sub.as_str());
            let missed = self
                .state
                .app
                .order_events_after(&after, customer, limit)
                .await
                .map_err(|e| {
                    tracing::error!(error = %format!("{e:#}"), "realtime replay failed");
                    End::Close(CLOSE_REPLAY_FAILED, "missed events unavailable; reconnect")
                })?;
            truncated = missed.truncated;
            for (event_id, event) in missed.events {
                let text = serde_json::to_string(&push_message(&event_id, &event).payload)
                    .unwrap_or_default();
                send(socket, subscription, Message::Text(text.into())).await?;
                replayed.insert(event_id);
            }
        }
        let ready = json!({ "type": "ready", "replayed": replayed.len(), "truncated": truncated });
        send(
            socket,
            subscription,
            Message::Text(ready.to_string().into()),
        )
        .await?;
        Ok(replayed)
    }

    /// Live events, pings, and whatever the client sends, until the connection ends.
    async fn live(
        &self,
        socket: &mut WebSocket,
        subscription: &mut Subscription,
        replayed: HashSet<String>,
    ) -> End {
        let settings = self.state.realtime().settings().clone();
        let clock = Arc::clone(&self.state.app.ports.clock);
        let token_left =
            |now_ms: i64| Duration::from_millis((self.expires_at_ms - now_ms).max(0) as u64);
        let expiry = tokio::time::sleep(token_left(clock.now().millis()));
        let no_pong = tokio::time::sleep(settings.pong_timeout);
        tokio::pin!(expiry, no_pong);
        let mut ping =
            tokio::time::interval_at(Instant::now() + settings.ping_every, settings.ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let step = tokio::select! {
                biased;
                _ = subscription.kicked.changed() => Err(kick_end(*subscription.kicked.borrow())),
                () = &mut expiry => Err(End::Close(CLOSE_TOKEN_EXPIRED, "access token expired")),
                () = &mut no_pong => Err(End::Close(CLOSE_NO_PONG, "no pong")),
                incoming = socket.recv() => match incoming {
                    None => Err(End::Gone),
                    // A frame over the size limit, or not a WebSocket frame at all.
                    Some(Err(_)) => Err(End::Close(CLOSE_BAD_FRAME, "unreadable or oversized frame")),
                    Some(Ok(Message::Pong(_))) => {
                        no_pong.as_mut().reset(Instant::now() + settings.pong_timeout);
                        Ok(None)
                    }
                    // Pings are answered by the protocol layer; a close is answered on the next
                    // read, which then ends the stream.
                    Some(Ok(Message::Ping(_) | Message::Close(_))) => Ok(None),
                    Some(Ok(Message::Text(_) | Message::Binary(_))) => Ok(Some(Message::Text(
                        json!({
                            "type": "error",
                            "detail": "this socket takes no messages; it only sends order events",
                        })
                        .to_string()
                        .into(),
                    ))),
                },
                message = subscription.messages.recv() => match message {
                    // Unregistered by the hub: the kick says why.
                    None => Err(kick_end(*subscription.kicked.borrow())),
                    Some(out) if replayed.contains(&*out.event_id) => Ok(None),
                    Some(out) => Ok(Some(Message::Text(out.text))),
                },
                _ = ping.tick() => {
                    if clock.now().millis() >= self.expires_at_ms {
                        Err(End::Close(CLOSE_TOKEN_EXPIRED, "access token expired"))
                    } else {
                        Ok(Some(Message::Ping(bytes::Bytes::new())))
                    }
                }
            };
            match step {
                Ok(None) => {}
                Ok(Some(message)) => {
                    if let Err(end) = send(socket, subscription, message).await {
                        return end;
                    }
                }
                Err(end) => return end,
            }
        }
    }
}

fn kick_end(kick: Option<Kick>) -> End {
    match kick {
        Some(Kick::TooSlow) => End::Close(CLOSE_TOO_SLOW, "too slow; reconnect with after"),
        Some(Kick::ShuttingDown) | None => {
            End::Close(CLOSE_GOING_AWAY, "server going away; reconnect with after")
        }
    }
}

/// Send one frame, unless the hub drops the socket meanwhile or the write stalls.
async fn send(
    socket: &mut WebSocket,
    subscription: &mut Subscription,
    message: Message,
) -> Result<(), End> {
    tokio::select! {
        biased;
        _ = subscription.kicked.changed() => Err(kick_end(*subscription.kicked.borrow())),
        sent = tokio::time::timeout(SEND_TIMEOUT, socket.send(message)) => match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(CLOSE_TOO_SLOW, "too slow; reconnect with after")),
        },
    }
}
