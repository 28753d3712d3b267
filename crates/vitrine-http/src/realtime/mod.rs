//! Realtime order events over WebSocket, apart from any route: the [`Hub`] (the local shape's
//! adapter of the Push port), the close codes of the protocol, and the parsing the local endpoint
//! (`GET /api/v1/ws`, [`crate::routes::realtime`]) shares with the AWS WebSocket API's `ws`
//! function (`vitrine_lambda::ws`): where a connect request's token is ([`connect_token`]: the
//! subprotocol list for browsers, never the URL) and what an event id looks like
//! ([`is_event_id`]).
//!
//! A browser connects with its access token, gets what it missed since the last event id it saw
//! (`after=<id>`), then every order event of its own orders — every order's, for an admin — as
//! JSON text frames, until it leaves, stops answering pings, reads too slowly, or its token
//! expires. `docs/api.md` ("Realtime") documents the protocol.
//!
//! Invariants:
//! - **Audience**: a message goes to the sockets of the order's owner and of admins, never to
//!   another customer's (the Push port's rule). Each socket is registered with its principal's
//!   `sub` and admin flag, checked once at the handshake.
//! - **Bounded memory**: each socket has a bounded queue ([`HubSettings::buffer`] messages); a
//!   socket whose queue is full is disconnected (close code [`CLOSE_TOO_SLOW`]), never allowed to
//!   grow. A message is serialized once and shared by every socket it goes to.

use axum::http::{HeaderMap, header};

mod hub;

pub use hub::{Hub, HubSettings};
pub(crate) use hub::{Kick, Subscription};

/// Close code: the access token expired; sign in again (refresh) and reconnect.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// Close code: the client read too slowly and its queue filled up; reconnect with `after`.
pub const CLOSE_TOO_SLOW: u16 = 4002;
/// Close code: no pong for [`HubSettings::pong_timeout`].
pub const CLOSE_NO_PONG: u16 = 4003;
/// Close code: the missed events could not be read; reconnect with the same `after`.
pub const CLOSE_REPLAY_FAILED: u16 = 1011;
/// Close code: the client sent a frame over 4 KiB, or one that breaks the protocol.
pub const CLOSE_BAD_FRAME: u16 = 1008;
/// Close code: the server is shutting down; reconnect with `after`.
pub const CLOSE_GOING_AWAY: u16 = 1001;

/// The subprotocol a browser names to carry its token: `Sec-WebSocket-Protocol: bearer, <token>`.
pub const BEARER_PROTOCOL: &str = "bearer";

/// `Sec-WebSocket-Protocol: bearer, <token>` → the token: the value after [`BEARER_PROTOCOL`] in
/// the subprotocol list, across every `Sec-WebSocket-Protocol` header of `headers`.
pub fn protocol_token(headers: &HeaderMap) -> Option<String> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let at = offered
        .iter()
        .position(|p| p.eq_ignore_ascii_case(BEARER_PROTOCOL))?;
    offered.get(at + 1).map(|t| (*t).to_owned())
}

/// The query parameter a token was once accepted in; a request naming it is refused.
pub const URL_TOKEN_PARAMETER: &str = "access_token";

/// Why a connect request is refused before its token is even looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No token where one is read.
    Missing,
    /// The URL names [`URL_TOKEN_PARAMETER`]: a URL is written to the access logs of every proxy
    /// and load balancer it crosses, so a token there is refused (with or without another one).
    InUrl,
}

impl TokenRefusal {
    /// The HTTP status of the refusal: 401 for no token, 400 for a token in the URL.
    pub fn status(self) -> u16 {
        match self {
            TokenRefusal::Missing => 401,
            TokenRefusal::InUrl => 400,
        }
    }

    /// What the client is told (never the token).
    pub fn detail(self) -> &'static str {
        match self {
            TokenRefusal::Missing => {
                "send the access token in the subprotocol list: Sec-WebSocket-Protocol: bearer, \
                 <token>"
            }
            TokenRefusal::InUrl => {
                "an access token in the URL is refused (proxies log URLs): send it in the \
                 subprotocol list: Sec-WebSocket-Protocol: bearer, <token>"
            }
        }
    }
}

/// The access token of a WebSocket connect request: the value after `bearer` in its
/// subprotocol list (`Sec-WebSocket-Protocol: bearer, <token>`; the answer must then select
/// [`BEARER_PROTOCOL`]), across every map of `headers`. Only there: a browser can send nothing
/// else, and one place to look is one place to audit (an `Authorization` header is not read).
/// `token_in_url`: the request's URL names [`URL_TOKEN_PARAMETER`], which refuses it whatever
/// else it carries.
pub fn connect_token(headers: &[&HeaderMap], token_in_url: bool) -> Result<String, TokenRefusal> {
    if token_in_url {
        return Err(TokenRefusal::InUrl);
    }
    headers
        .iter()
        .find_map(|map| protocol_token(map))
        .ok_or(TokenRefusal::Missing)
}

/// Event ids are ULIDs; accept any short alphanumeric id, refuse anything else.
pub fn is_event_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_token_is_the_value_after_bearer_in_the_subprotocol_list() {
        let mut headers = HeaderMap::new();
        assert_eq!(protocol_token(&headers), None);
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("bearer, p.t.k"),
        );
        assert_eq!(protocol_token(&headers).as_deref(), Some("p.t.k"));
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("bearer"),
        );
        assert_eq!(protocol_token(&headers), None);
    }

    #[test]
    fn the_token_comes_from_the_subprotocol_only_never_a_header_or_the_url() {
        let mut protocol = HeaderMap::new();
        protocol.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("bearer, p.t.k"),
        );
        assert_eq!(connect_token(&[&protocol], false), Ok("p.t.k".into()));
        let mut both = protocol.clone();
        both.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer h.t.k"),
        );
        assert_eq!(connect_token(&[&both], false), Ok("p.t.k".into()));
        // Split over two maps (API Gateway's `headers` and `multiValueHeaders`).
        assert_eq!(
            connect_token(&[&HeaderMap::new(), &protocol], false),
            Ok("p.t.k".into())
        );
        assert_eq!(
            connect_token(&[&HeaderMap::new()], false),
            Err(TokenRefusal::Missing)
        );
        let mut header_only = HeaderMap::new();
        header_only.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer h.t.k"),
        );
        assert_eq!(
            connect_token(&[&header_only], false),
            Err(TokenRefusal::Missing)
        );
        // A token in the URL is refused even beside a good one.
        assert_eq!(connect_token(&[&both], true), Err(TokenRefusal::InUrl));
    }

    #[test]
    fn event_ids_are_short_and_alphanumeric() {
        assert!(is_event_id("01JQ8Z6V3N4K5M6P7R8S9T0VWX"));
        assert!(!is_event_id(""));
        assert!(!is_event_id("01J' OR 1=1"));
        assert!(!is_event_id(&"A".repeat(65)));
    }
}
