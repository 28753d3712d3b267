//! The WebSocket endpoint's query string (`GET /api/v1/ws`).

use serde::Deserialize;

/// The endpoint's query string.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectQuery {
    /// Not a place for the access token (proxies log URLs): read only to refuse the request
    /// (`realtime::URL_TOKEN_PARAMETER`).
    pub access_token: Option<String>,
    /// The last event id the client saw: the events after it are sent first.
    pub after: Option<String>,
}
