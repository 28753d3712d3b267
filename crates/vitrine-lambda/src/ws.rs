//! Realtime order events on AWS, shared by the `ws` binary (the WebSocket API's routes) and the
//! `notify_realtime` binary (the `realtime` subscriber's queue):
//!
//! ```text
//! browser ─ wss ─► API Gateway WebSocket API ─ $connect / $disconnect / $default ─► ws
//!                       ▲                        (connections registry in the table)
//!                       └─ PostToConnection ◄─ notify_realtime ◄─ RealtimeQueue (SNS, order.*)
//! ```
//!
//! - [`WsHandler`] serves the routes. `$connect` verifies the access token exactly as the API
//!   does (`Keys::verify_access` at the Clock port's now) and registers the connection with its
//!   principal (`vitrine_app::notify::connections`); a missing or refused token is a 401, which
//!   refuses the upgrade. The token comes from `Sec-WebSocket-Protocol: bearer, <token>` only
//!   (the response then selects `bearer`, as a browser requires) — the local endpoint's place ([`vitrine_http::realtime::connect_token`]); an
//!   `access_token` in the query string (URLs are logged) is a 400, whatever else is sent.
//!   `$disconnect` removes the connection. `$default` takes
//!   `{"action": "resume", "after": "<event id>"}` (no `after`: nothing to replay) and posts the
//!   order events after that id — the connection's principal's own, or all for an admin, built
//!   with `push_message` like every live one — then `{"type": "ready", "replayed", "truncated"}`:
//!   the local endpoint's replay, asked for with a message because nothing can be sent to a
//!   connection during its `$connect`.
//! - [`RealtimeConsumer`] is the `realtime` subscriber on AWS: it records each order event where
//!   `App::order_events_after` reads it (`App::record_delivered`, the local dispatcher's own
//!   record) and then pushes it through `RealtimePusher` over `ApiGatewayPush`.
//!
//! Invariants:
//! - **No gap at the resume seam**: a connection is registered before the client can send
//!   `resume`, and an event is recorded *before* it is pushed. So an event either finds the
//!   connection registered when its push reads the audience (and is posted live), or was
//!   recorded before the resume read (and is replayed). Recording after the push would lose an
//!   event pushed just before the connection registered and recorded just after the resume read.
//!   The price is the other way round: an event can come both live and in the replay, and live
//!   events can arrive before `ready`; clients drop an `id` they have seen (as for any
//!   re-delivery).
//! - Tokens and payloads never reach a log: the routes log the route, the outcome and counts.

use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderValue, header};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};
use vitrine_app::App;
use vitrine_app::events::{ConsumeError, Consumer, Delivery};
use vitrine_app::keys::{Keys, KeysError};
use vitrine_app::notify::connections::{Connection, Connections};
use vitrine_app::notify::{RealtimePusher, push_message};
use vitrine_app::ports::PushError;
use vitrine_aws::ws_push::{ApiGatewayPush, ManagementClient, Posted, management_client};
use vitrine_http::realtime::{URL_TOKEN_PARAMETER, connect_token, is_event_id};

use crate::AwsEnv;
use crate::emf::{self, Emf, Metric};

/// The variable with the WebSocket API's management URL,
/// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` (the template builds it).
pub const WS_ENDPOINT_ENV: &str = "VITRINE_WS_ENDPOINT";
/// The subprotocol a browser names to carry its token: `Sec-WebSocket-Protocol: bearer, <token>`
/// (the local endpoint's, from `vitrine_http::realtime`, as is the parsing of the list).
pub use vitrine_http::realtime::BEARER_PROTOCOL;
/// At most this many missed events are posted for one `resume` (and never more than the app's
/// `Settings::realtime_resume_max_events`); past it `ready` says `"truncated": true` and the
/// client reloads its orders over REST. Lower than the local endpoint's 1000: each is one
/// `PostToConnection` within the function's timeout.
pub const REPLAY_LIMIT: usize = 200;
/// A client message larger than this is not read (clients only ever send `resume`).
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

/// The WebSocket API's management URL, from [`WS_ENDPOINT_ENV`].
pub fn ws_endpoint(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    let endpoint = get(WS_ENDPOINT_ENV)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            anyhow!(
                "missing environment variable: {WS_ENDPOINT_ENV} (the template sets it on the function)"
            )
        })?;
    anyhow::ensure!(
        endpoint.starts_with("https://") || endpoint.starts_with("http://"),
        "{WS_ENDPOINT_ENV} must be the WebSocket API's https:// management URL"
    );
    Ok(endpoint)
}

/// The Management API client of a function's cold start: the AWS environment and the endpoint
/// from the process environment.
pub async fn management_client_from_env() -> anyhow::Result<ManagementClient> {
    let env = AwsEnv::from_env()?;
    let endpoint = ws_endpoint(|name| std::env::var(name).ok())?;
    Ok(management_client(&env.aws_config(), &endpoint).await)
}

// ---------------------------------------------------------------------------------------------
// The routes

/// Serves the WebSocket API's `$connect`, `$disconnect` and `$default` routes.
pub struct WsHandler {
    app: Arc<App>,
    keys: Arc<Keys>,
    push: ApiGatewayPush,
}

/// The `ws` function's metrics (`crate::emf`), one per route invocation: see [`route_metric`].
pub const WS_METRICS: Emf = Emf::new("ws");

/// What a route invocation counts as: `Connections` (a `$connect` accepted),
/// `ConnectionsRefused` (a `$connect` answered 4xx: no token, a bad one), `ConnectionErrors`
/// (a `$connect` that failed on our side), `Disconnections`, `Resumes` (a `$default` message
/// answered 200) or `MessagesRefused` (any other `$default` answer).
pub fn route_metric(route: Option<&str>, status: i64) -> Metric {
    let name = match (route, status) {
        (Some("$connect"), 200) => "Connections",
        (Some("$connect"), 400..=499) => "ConnectionsRefused",
        (Some("$connect"), _) => "ConnectionErrors",
        (Some("$disconnect"), _) => "Disconnections",
        (_, 200) => "Resumes",
        _ => "MessagesRefused",
    };
    emf::count(name, 1)
}

/// A client's message on `$default`.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase", deny_unknown_fields)]
enum ClientMessage {
    Resume {
        #[serde(default)]
        after: Option<String>,
    },
}

impl WsHandler {
    /// The handler on `app`, checking tokens with `keys`, posting through `client`.
    pub fn new(app: Arc<App>, keys: Arc<Keys>, client: ManagementClient) -> Self {
        let push = ApiGatewayPush::new(client, Connections::of(&app));
        Self { app, keys, push }
    }

    /// The response to one route invocation.
    pub async fn handle(
        &self,
        request: &ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        let context = &request.request_context;
        let Some(connection_id) = context.connection_id.as_deref().filter(|c| !c.is_empty()) else {
            return response(400, "the event names no connection");
        };
        let route = context.route_key.as_deref();
        let answer = match route {
            Some("$connect") => self.connect(request, connection_id).await,
            Some("$disconnect") => self.disconnect(connection_id).await,
            _ => self.message(request, connection_id).await,
        };
        WS_METRICS.emit(&[route_metric(route, answer.status_code)]);
        answer
    }

    async fn connect(
        &self,
        request: &ApiGatewayWebsocketProxyRequest,
        connection_id: &str,
    ) -> ApiGatewayProxyResponse {
        let in_url = request
            .query_string_parameters
            .first(URL_TOKEN_PARAMETER)
            .is_some();
        let token = match connect_token(&[&request.headers, &request.multi_value_headers], in_url) {
            Ok(found) => found,
            Err(refused) => return response(refused.status().into(), refused.detail()),
        };
        let principal = match self
            .keys
            .verify_access(&token, self.app.ports.clock.now())
            .await
        {
            Ok(principal) => principal,
            Err(KeysError::Token(e)) => {
                tracing::debug!(reason = %e, "WebSocket connection refused: bad token");
                return response(401, "the access token was refused");
            }
            Err(KeysError::Unavailable(cause)) => {
                tracing::error!(error = %format!("{cause:#}"), "identity keys unavailable");
                return response(
                    503,
                    "sign-in cannot be checked right now; try again shortly",
                );
            }
        };
        match self.app.is_revoked(&principal).await {
            Ok(false) => {}
            Ok(true) => {
                return response(401, "the access token was refused: its session has ended");
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "reading revoked sessions failed");
                return response(
                    503,
                    "sign-in cannot be checked right now; try again shortly",
                );
            }
        }
        if let Err(e) = self
            .push
            .connections()
            .register(connection_id, &principal)
            .await
        {
            tracing::error!(error = %format!("{e:#}"), "registering a WebSocket connection failed");
            return response(500, "something went wrong on our side; it has been logged");
        }
        tracing::info!(
            ws.route = "$connect",
            admin = principal.is_admin(),
            "WebSocket connection registered"
        );
        let mut ok = response(200, "connected");
        ok.headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(BEARER_PROTOCOL),
        );
        ok
    }

    async fn disconnect(&self, connection_id: &str) -> ApiGatewayProxyResponse {
        match self.push.connections().remove(connection_id).await {
            Ok(registered) => {
                tracing::info!(
                    ws.route = "$disconnect",
                    registered,
                    "WebSocket connection removed"
                );
                response(200, "disconnected")
            }
            Err(e) => {
                // Its items expire with their ttl anyway.
                tracing::error!(error = %format!("{e:#}"), "removing a WebSocket connection failed");
                response(500, "something went wrong on our side; it has been logged")
            }
        }
    }

    async fn message(
        &self,
        request: &ApiGatewayWebsocketProxyRequest,
        connection_id: &str,
    ) -> ApiGatewayProxyResponse {
        let body = request.body.as_deref().unwrap_or_default();
        let parsed = if request.is_base64_encoded || body.len() > MAX_CLIENT_MESSAGE {
            None
        } else {
            serde_json::from_str::<ClientMessage>(body).ok()
        };
        let Some(ClientMessage::Resume { after }) = parsed else {
            return self
                .tell(
                    connection_id,
                    400,
                    "the only message this socket takes is {\"action\": \"resume\", \"after\": \"<id>\"}",
                )
                .await;
        };
        if let Some(after) = &after
            && !is_event_id(after)
        {
            return self
                .tell(
                    connection_id,
                    400,
                    "after must be an event id (the `id` of a message received before)",
                )
                .await;
        }
        let connection = match self.push.connections().find(connection_id).await {
            Ok(Some(connection)) => connection,
            Ok(None) => {
                return self
                    .tell(
                        connection_id,
                        403,
                        "this connection is not registered; reconnect",
                    )
                    .await;
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "reading a WebSocket connection failed");
                return self
                    .tell(
                        connection_id,
                        500,
                        "missed events unavailable; send resume again",
                    )
                    .await;
            }
        };
        self.resume(&connection, after.as_deref()).await
    }

    /// Post the events after `after` that the connection's principal may see, then `ready`.
    async fn resume(
        &self,
        connection: &Connection,
        after: Option<&str>,
    ) -> ApiGatewayProxyResponse {
        let mut replayed = 0usize;
        let mut truncated = false;
        if let Some(after) = after {
            let customer = (!connection.admin).then_some(connection.sub.as_str());
            let missed = match self
                .app
                .order_events_after(after, customer, REPLAY_LIMIT)
                .await
            {
                Ok(missed) => missed,
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "realtime replay failed");
                    return self
                        .tell(
                            &connection.id,
                            500,
                            "missed events unavailable; send resume again",
                        )
                        .await;
                }
            };
            truncated = missed.truncated;
            for (event_id, event) in missed.events {
                let payload = push_message(&event_id, &event).payload;
                match self.send(connection, &payload).await {
                    Ok(true) => replayed += 1,
                    Ok(false) => return response(410, "the connection is gone"),
                    Err(status) => return response(status, "posting to the connection failed"),
                }
            }
        }
        let ready = json!({ "type": "ready", "replayed": replayed, "truncated": truncated });
        let status = match self.send(connection, &ready).await {
            Ok(true) => 200,
            Ok(false) => 410,
            Err(status) => status,
        };
        tracing::info!(
            ws.route = "$default",
            replayed,
            truncated,
            "realtime resume answered"
        );
        response(status, "resumed")
    }

    /// Post one message to the connection: `Ok(true)` sent, `Ok(false)` the connection is gone
    /// (and forgotten), `Err(status)` it could not be sent.
    async fn send(&self, connection: &Connection, message: &Value) -> Result<bool, i64> {
        let data = message.to_string();
        match self.push.post(&connection.id, data.as_bytes()).await {
            Ok(Posted::Sent) => Ok(true),
            Ok(Posted::Gone) => {
                if let Err(e) = self.push.connections().forget(connection).await {
                    tracing::warn!(error = %format!("{e:#}"), "a gone connection could not be removed");
                }
                Ok(false)
            }
            Err(PushError::Invalid(why)) => {
                tracing::error!(
                    reason = why,
                    "a replayed message was refused by API Gateway"
                );
                Err(500)
            }
            Err(PushError::Unavailable(e)) => {
                tracing::error!(error = %format!("{e:#}"), "posting to a WebSocket connection failed");
                Err(502)
            }
        }
    }

    /// Send the client an error frame (`{"type": "error", "detail"}`), as the local endpoint
    /// does; the response's status is only seen by logs and metrics.
    async fn tell(
        &self,
        connection_id: &str,
        status: i64,
        detail: &str,
    ) -> ApiGatewayProxyResponse {
        let frame = json!({ "type": "error", "detail": detail }).to_string();
        if let Err(e) = self.push.post(connection_id, frame.as_bytes()).await {
            tracing::warn!(error = %format!("{e:#}"), "an error frame could not be posted");
        }
        response(status, detail)
    }
}

/// A route's response with a short text body (API Gateway sends the body to nobody unless a
/// route response is configured; the status decides whether `$connect` upgrades).
fn response(status: i64, detail: &str) -> ApiGatewayProxyResponse {
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = status;
    out.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    out.body = Some(Body::Text(detail.to_owned()));
    out
}

/// The `ws` function: build the application, the keys and the Management API client once per
/// cold start, then serve the WebSocket API's route invocations.
pub async fn run_ws() -> anyhow::Result<()> {
    crate::init_tracing();
    let handler = match build_handler().await {
        Ok(handler) => Arc::new(handler),
        Err(err) => return Err(crate::fail_init(err).await),
    };
    tracing::info!("cold start: ready for WebSocket routes");
    lambda_runtime::run(service_fn(
        move |invocation: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
            let handler = Arc::clone(&handler);
            async move {
                let response = handler.handle(&invocation.payload).await;
                Ok::<_, lambda_runtime::Error>(response)
            }
        },
    ))
    .await
    .map_err(|e| anyhow!(e))
}

async fn build_handler() -> anyhow::Result<WsHandler> {
    let endpoint = ws_endpoint(|name| std::env::var(name).ok())?;
    let store = crate::compose_from_env()
        .await
        .context("building the store")?;
    let client = management_client(&store.env.aws_config(), &endpoint).await;
    Ok(WsHandler::new(store.app, store.keys, client))
}

// ---------------------------------------------------------------------------------------------
// The `realtime` subscriber

/// The `realtime` subscriber on AWS: record, then push (see the module docs for the order).
pub struct RealtimeConsumer {
    app: Arc<App>,
    pusher: RealtimePusher,
}

impl RealtimeConsumer {
    /// The consumer on `app`, posting through `client`.
    pub fn new(app: Arc<App>, client: ManagementClient) -> Self {
        let push = ApiGatewayPush::new(client, Connections::of(&app));
        Self {
            app,
            pusher: RealtimePusher::new(Arc::new(push)),
        }
    }
}

#[async_trait]
impl Consumer for RealtimeConsumer {
    fn name(&self) -> &'static str {
        RealtimePusher::NAME
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        // What the pusher pushes (order events) is what a resume replays.
        if delivery.event.event_type.starts_with("order.") {
            self.app
                .record_delivered(
                    RealtimePusher::NAME,
                    &delivery.event_id,
                    &delivery.event,
                    delivery.attempt,
                )
                .await
                .map_err(|e| {
                    ConsumeError::Retry(
                        anyhow::Error::new(e).context("recording the event for resumes"),
                    )
                })?;
        }
        self.pusher.handle(delivery).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_resume_is_a_client_message() {
        let parse = |s: &str| serde_json::from_str::<ClientMessage>(s).ok();
        assert!(matches!(
            parse(r#"{"action":"resume","after":"01J"}"#),
            Some(ClientMessage::Resume { after: Some(a) }) if a == "01J"
        ));
        assert!(matches!(
            parse(r#"{"action":"resume"}"#),
            Some(ClientMessage::Resume { after: None })
        ));
        assert!(parse(r#"{"action":"subscribe"}"#).is_none());
        assert!(parse(r#"{"action":"resume","after":"01J","x":1}"#).is_none());
        assert!(parse("resume").is_none());
    }

    #[test]
    fn the_endpoint_must_be_set_and_a_url() {
        let get = |v: &'static str| move |_: &str| Some(v.to_owned());
        assert!(ws_endpoint(|_| None).is_err());
        assert!(ws_endpoint(get(" ")).is_err());
        assert!(ws_endpoint(get("abc.execute-api")).is_err());
        assert_eq!(
            ws_endpoint(get("https://abc.execute-api.sa-east-1.amazonaws.com/prod")).unwrap(),
            "https://abc.execute-api.sa-east-1.amazonaws.com/prod"
        );
    }
}
