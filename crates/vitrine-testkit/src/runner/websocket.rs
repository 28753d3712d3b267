//! The WebSocket API of the template (`AWS::ApiGatewayV2::Api` of protocol `WEBSOCKET`), with
//! its Management API on the same listener, as API Gateway serves them:
//!
//! - `GET /{stage}` with an upgrade: the `$connect` route's function is invoked with the
//!   `CONNECT` event (headers, query string, `Sec-WebSocket-Protocol` kept); a non-2xx answer
//!   refuses the handshake with that status, a function error with `500`; the subprotocol the
//!   function answers in `Sec-WebSocket-Protocol` is the one the handshake selects;
//! - each message: the route chosen by the API's `RouteSelectionExpression`
//!   (`$request.body.<path>`, read from a JSON body) or `$default`, invoked with the `MESSAGE`
//!   event; no route is answered on the socket with `{"message": "Forbidden", ...}`, a
//!   function error with `{"message": "Internal server error", ...}`, as API Gateway does (a
//!   route's answer reaches nobody: the template declares no route responses);
//! - close (by the client, or `DELETE` on the Management API): `$disconnect` with the
//!   `DISCONNECT` event;
//! - the stage's `DefaultRouteSettings` throttling (a token bucket shared by connects and
//!   messages): a refused connect is `429`, a refused message is answered
//!   `{"message": "Too Many Requests", ...}`;
//! - the Management API, `/{stage}/@connections/{id}`: `POST` sends the body to the socket
//!   (`410 GoneException` for an unknown or closed connection, `413 PayloadTooLargeException`
//!   over 128 KiB), `GET` gives the connection's `connectedAt`, `lastActiveAt` and `identity`,
//!   `DELETE` closes it. Requests are SigV4-signed by the functions' SDK; the signature is not
//!   verified (the emulator's credentials are not secret).
//!
//! Not done: route-level settings, the 10-minute idle and 2-hour connection limits.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::apigw::{
    Served, TokenBucket, header_maps, number_of, query_maps, request_id, request_time,
};
use super::{Invoke, InvokeError, REGION, Resolved, Source};

/// The largest message API Gateway sends to a connection (and takes from one).
pub const MAX_MESSAGE: usize = 128 * 1024;

/// The running WebSocket API; stops when dropped.
pub struct WebSocketApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Served,
}

impl WebSocketApi {
    /// Serve the template's WebSocket API (and its Management API) on `listener`.
    pub async fn start(
        listener: tokio::net::TcpListener,
        resolved: Arc<Resolved>,
        invoker: Arc<dyn Invoke>,
    ) -> anyhow::Result<WebSocketApi> {
        let api = WsDefinition::read(&resolved)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            bucket: api
                .throttle
                .map(|(rate, burst)| Mutex::new(TokenBucket::new(rate, burst))),
            api,
            invoker,
            connections: Mutex::new(HashMap::new()),
            requests: AtomicU64::new(0),
        });
        let management = get(get_connection)
            .post(post_to_connection)
            .delete(delete_connection);
        let app = Router::new()
            .route("/{stage}", get(upgrade))
            .route("/{stage}/@connections/{id}", management)
            .with_state(Arc::clone(&shared));
        let server = Served::spawn(listener, app);
        Ok(WebSocketApi {
            addr,
            shared,
            server,
        })
    }

    /// `ws://127.0.0.1:PORT/{stage}`, what a client connects to.
    pub fn url(&self) -> String {
        format!("ws://{}/{}", self.addr, self.shared.api.stage)
    }

    /// `http://127.0.0.1:PORT/{stage}`, the Management API endpoint (`VITRINE_WS_ENDPOINT`).
    pub fn management_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.shared.api.stage)
    }

    /// Requests received: handshakes, messages and Management API calls.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The connections open now.
    pub fn connections(&self) -> usize {
        self.shared.lock().len()
    }

    /// Stop serving (also done on drop).
    pub fn stop(&self) {
        self.server.stop();
    }
}

impl Drop for WebSocketApi {
    fn drop(&mut self) {
        self.server.stop();
        for (_, c) in self.shared.lock().drain() {
            let _ = c.outbox.send(Outgoing::Close);
        }
    }
}

struct Shared {
    api: WsDefinition,
    invoker: Arc<dyn Invoke>,
    bucket: Option<Mutex<TokenBucket>>,
    connections: Mutex<HashMap<String, Connection>>,
    requests: AtomicU64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Connection>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn throttled(&self) -> bool {
        self.bucket
            .as_ref()
            .is_some_and(|b| !b.lock().unwrap_or_else(|e| e.into_inner()).take())
    }
}

struct Connection {
    outbox: mpsc::UnboundedSender<Outgoing>,
    connected_at: time::OffsetDateTime,
    last_active: time::OffsetDateTime,
    source_ip: String,
    user_agent: Option<String>,
}

enum Outgoing {
    Data(Bytes),
    Close,
}

#[derive(Debug)]
struct WsDefinition {
    id: String,
    stage: String,
    throttle: Option<(f64, f64)>,
    /// `$request.body.a.b` as `["a", "b"]`.
    selection: Vec<String>,
    /// Route key → function ARN.
    routes: BTreeMap<String, String>,
}

impl WsDefinition {
    fn read(resolved: &Resolved) -> anyhow::Result<Self> {
        let apis: Vec<_> = resolved
            .of_kind("AWS::ApiGatewayV2::Api")
            .filter(|(_, a)| {
                a.properties.get("ProtocolType").and_then(Value::as_str) == Some("WEBSOCKET")
            })
            .collect();
        let [(logical, api)] = apis.as_slice() else {
            bail!(
                "the template declares {} WebSocket AWS::ApiGatewayV2::Api; the runner serves exactly one",
                apis.len()
            );
        };
        let id = api.physical_id.clone();
        let expression = api
            .properties
            .get("RouteSelectionExpression")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{logical}: no RouteSelectionExpression"))?;
        let selection = expression
            .strip_prefix("$request.body.")
            .ok_or_else(|| {
                anyhow!("{logical}: RouteSelectionExpression {expression}: the runner reads $request.body.<path> only")
            })?
            .split('.')
            .map(str::to_owned)
            .collect();
        let of_api = |r: &&super::Resource| {
            r.properties.get("ApiId").and_then(Value::as_str) == Some(id.as_str())
        };
        let (stage_logical, stage) = resolved
            .of_kind("AWS::ApiGatewayV2::Stage")
            .find(|(_, s)| of_api(s))
            .ok_or_else(|| anyhow!("{logical}: no AWS::ApiGatewayV2::Stage of this API"))?;
        let stage_name = stage
            .properties
            .get("StageName")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{stage_logical}: no StageName"))?
            .to_owned();
        let throttle = stage.properties.get("DefaultRouteSettings").and_then(|s| {
            Some((
                number_of(s.get("ThrottlingRateLimit")?)?,
                number_of(s.get("ThrottlingBurstLimit")?)?,
            ))
        });
        let mut integrations = BTreeMap::new();
        for (name, integration) in resolved.of_kind("AWS::ApiGatewayV2::Integration") {
            if !of_api(&integration) {
                continue;
            }
            let kind = integration
                .properties
                .get("IntegrationType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if kind != "AWS_PROXY" {
                bail!("{name}: IntegrationType {kind}; the runner runs AWS_PROXY only");
            }
            let uri = integration
                .properties
                .get("IntegrationUri")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let function = uri
                .split_once("/functions/")
                .and_then(|(_, rest)| rest.strip_suffix("/invocations"))
                .ok_or_else(|| anyhow!("{name}: IntegrationUri {uri} names no Lambda function"))?;
            integrations.insert(integration.physical_id.clone(), function.to_owned());
        }
        let mut routes = BTreeMap::new();
        for (name, route) in resolved.of_kind("AWS::ApiGatewayV2::Route") {
            if !of_api(&route) {
                continue;
            }
            let key = route
                .properties
                .get("RouteKey")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("{name}: no RouteKey"))?;
            let auth = route
                .properties
                .get("AuthorizationType")
                .and_then(Value::as_str)
                .unwrap_or("NONE");
            if auth != "NONE" {
                bail!("{name}: AuthorizationType {auth}; the runner runs NONE only");
            }
            let target = route
                .properties
                .get("Target")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("{name}: the route has no Target"))?;
            let integration = target
                .strip_prefix("integrations/")
                .ok_or_else(|| anyhow!("{name}: Target {target} is not integrations/<id>"))?;
            let function = integrations.get(integration).ok_or_else(|| {
                anyhow!("{name}: Target {target}: no AWS::ApiGatewayV2::Integration {integration} of this API")
            })?;
            routes.insert(key.to_owned(), function.clone());
        }
        Ok(Self {
            id,
            stage: stage_name,
            throttle,
            selection,
            routes,
        })
    }

    fn domain(&self) -> String {
        format!("{}.execute-api.{REGION}.amazonaws.com", self.id)
    }

    /// The route key for a message body, and its function.
    fn select(&self, body: &str) -> Option<(&str, &str)> {
        let selected = serde_json::from_str::<Value>(body).ok().and_then(|v| {
            let mut at = &v;
            for key in &self.selection {
                at = at.get(key)?;
            }
            at.as_str().map(str::to_owned)
        });
        selected
            .and_then(|key| self.routes.get_key_value(key.as_str()))
            .or_else(|| self.routes.get_key_value("$default"))
            .map(|(k, f)| (k.as_str(), f.as_str()))
    }
}

/// A connection id in API Gateway's shape: 15 letters and digits and `=`.
fn connection_id() -> String {
    use rand::Rng as _;
    let text: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(15)
        .map(char::from)
        .collect();
    format!("{text}=")
}

fn epoch_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

#[allow(clippy::too_many_arguments)]
fn request_context(
    api: &WsDefinition,
    route_key: &str,
    event_type: &str,
    connection_id: &str,
    connected_at: time::OffsetDateTime,
    source_ip: &str,
    user_agent: Option<&str>,
) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let id = request_id();
    json!({
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": id,
        "requestTime": request_time(now),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": epoch_ms(connected_at),
        "requestTimeEpoch": epoch_ms(now),
        "identity": { "userAgent": user_agent, "sourceIp": source_ip },
        "requestId": id,
        "domainName": api.domain(),
        "connectionId": connection_id,
        "apiId": api.id,
    })
}

/// A function's answer as a route result: its status code (an answer without one is `200`).
fn answered_status(answer: &Value) -> u16 {
    answer
        .get("statusCode")
        .and_then(number_of)
        .map_or(200, |s| s as u16)
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(stage): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if stage != shared.api.stage {
        return (StatusCode::FORBIDDEN, "{\"message\":\"Forbidden\"}").into_response();
    }
    let Ok(ws) = ws else {
        return (StatusCode::BAD_REQUEST, "a WebSocket upgrade is expected").into_response();
    };
    if shared.throttled() {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "{\"message\":\"Too Many Requests\"}",
        )
            .into_response();
    }
    let api = &shared.api;
    let id = connection_id();
    let connected_at = time::OffsetDateTime::now_utc();
    let source_ip = peer.ip().to_string();
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut event_headers = headers.clone();
    event_headers.insert(
        "host",
        HeaderValue::try_from(api.domain()).unwrap_or(HeaderValue::from_static("")),
    );
    event_headers.insert(
        "x-forwarded-for",
        HeaderValue::try_from(source_ip.as_str()).unwrap_or(HeaderValue::from_static("")),
    );
    event_headers.insert("x-forwarded-port", HeaderValue::from_static("443"));
    event_headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    for hop in ["connection", "upgrade"] {
        event_headers.remove(hop);
    }
    let (single, multi) = header_maps(&event_headers);
    let (q, mq) = query_maps(query.as_deref());
    let mut event = json!({
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": request_context(api, "$connect", "CONNECT", &id, connected_at, &source_ip, user_agent.as_deref()),
        "isBase64Encoded": false,
    });
    if !q.is_null() {
        event["queryStringParameters"] = q;
        event["multiValueQueryStringParameters"] = mq;
    }
    let mut protocol = None;
    if let Some(function) = api.routes.get("$connect") {
        match shared
            .invoker
            .invoke(function, Source::WebSocket, event)
            .await
        {
            Ok(answer) => {
                let status = answered_status(&answer);
                if !(200..300).contains(&status) {
                    return StatusCode::from_u16(status)
                        .unwrap_or(StatusCode::FORBIDDEN)
                        .into_response();
                }
                protocol = answer
                    .get("headers")
                    .and_then(Value::as_object)
                    .and_then(|h| {
                        h.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol"))
                    })
                    .and_then(|(_, v)| v.as_str())
                    .map(str::to_owned);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the WebSocket $connect integration failed");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "{\"message\":\"Internal server error\"}",
                )
                    .into_response();
            }
        }
    }
    let ws = match protocol {
        Some(p) => ws.protocols([p]),
        None => ws,
    };
    let (outbox, inbox) = mpsc::unbounded_channel();
    shared.lock().insert(
        id.clone(),
        Connection {
            outbox,
            connected_at,
            last_active: connected_at,
            source_ip: source_ip.clone(),
            user_agent: user_agent.clone(),
        },
    );
    let (failed_shared, failed_id) = (Arc::clone(&shared), id.clone());
    let shared = Arc::clone(&shared);
    ws.on_failed_upgrade(move |_| {
        failed_shared.lock().remove(&failed_id);
    })
    .on_upgrade(move |socket| async move {
        run_connection(
            shared,
            socket,
            inbox,
            id,
            connected_at,
            source_ip,
            user_agent,
        )
        .await;
    })
}

#[allow(clippy::too_many_arguments)]
async fn run_connection(
    shared: Arc<Shared>,
    socket: WebSocket,
    mut inbox: mpsc::UnboundedReceiver<Outgoing>,
    id: String,
    connected_at: time::OffsetDateTime,
    source_ip: String,
    user_agent: Option<String>,
) {
    let (mut sink, mut stream) = socket.split();
    let (status, reason) = loop {
        tokio::select! {
            out = inbox.recv() => match out {
                Some(Outgoing::Data(bytes)) => {
                    let message = match String::from_utf8(bytes.to_vec()) {
                        Ok(text) => Message::Text(text.into()),
                        Err(_) => Message::Binary(bytes),
                    };
                    if sink.send(message).await.is_err() {
                        break (1006, "Going away");
                    }
                }
                Some(Outgoing::Close) | None => {
                    let _ = sink.send(Message::Close(None)).await;
                    break (1005, "Connection closed by the Management API");
                }
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    on_message(&shared, &id, connected_at, &source_ip, user_agent.as_deref(), text.as_str().to_owned(), false).await;
                }
                Some(Ok(Message::Binary(bytes))) => {
                    on_message(&shared, &id, connected_at, &source_ip, user_agent.as_deref(), STANDARD.encode(&bytes), true).await;
                }
                Some(Ok(Message::Close(frame))) => {
                    break (frame.map_or(1005, |f| f.code), "Client-side close frame status not set");
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break (1006, "Going away"),
            },
        }
    };
    shared.lock().remove(&id);
    if let Some(function) = shared.api.routes.get("$disconnect") {
        let api = &shared.api;
        let mut context = request_context(
            api,
            "$disconnect",
            "DISCONNECT",
            &id,
            connected_at,
            &source_ip,
            user_agent.as_deref(),
        );
        context["disconnectStatusCode"] = json!(status);
        context["disconnectReason"] = json!(reason);
        let host = api.domain();
        let event = json!({
            "headers": { "Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": "" },
            "multiValueHeaders": { "Host": [host], "x-api-key": [""], "X-Forwarded-For": [""], "x-restapi": [""] },
            "requestContext": context,
            "isBase64Encoded": false,
        });
        if let Err(e) = shared
            .invoker
            .invoke(function, Source::WebSocket, event)
            .await
        {
            tracing::warn!(error = %e, "the WebSocket $disconnect integration failed");
        }
    }
}

async fn on_message(
    shared: &Arc<Shared>,
    id: &str,
    connected_at: time::OffsetDateTime,
    source_ip: &str,
    user_agent: Option<&str>,
    body: String,
    is_base64: bool,
) {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(c) = shared.lock().get_mut(id) {
        c.last_active = time::OffsetDateTime::now_utc();
    }
    let reply = |message: &str, request_id: &str| {
        let text =
            json!({ "message": message, "connectionId": id, "requestId": request_id }).to_string();
        if let Some(c) = shared.lock().get(id) {
            let _ = c.outbox.send(Outgoing::Data(Bytes::from(text)));
        }
    };
    if shared.throttled() {
        reply("Too Many Requests", &request_id());
        return;
    }
    let selected = if is_base64 {
        shared
            .api
            .routes
            .get_key_value("$default")
            .map(|(k, f)| (k.as_str(), f.as_str()))
    } else {
        shared.api.select(&body)
    };
    let Some((route_key, function)) = selected else {
        reply("Forbidden", &request_id());
        return;
    };
    let mut context = request_context(
        &shared.api,
        route_key,
        "MESSAGE",
        id,
        connected_at,
        source_ip,
        user_agent,
    );
    context["messageId"] = json!(connection_id());
    let request_id = context["requestId"].as_str().unwrap_or_default().to_owned();
    let event = json!({
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_base64,
    });
    match shared
        .invoker
        .invoke(function, Source::WebSocket, event)
        .await
    {
        Ok(_) => {}
        Err(InvokeError::Timeout) => reply("Endpoint request timed out", &request_id),
        Err(e) => {
            tracing::warn!(error = %e, "a WebSocket route integration failed");
            reply("Internal server error", &request_id);
        }
    }
}

fn management_error(status: StatusCode, code: &'static str, message: &str) -> Response {
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json!({ "message": message }).to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    response
}

fn gone() -> Response {
    management_error(StatusCode::GONE, "GoneException", "")
}

fn wrong_stage() -> Response {
    management_error(StatusCode::FORBIDDEN, "ForbiddenException", "Forbidden")
}

async fn post_to_connection(
    State(shared): State<Arc<Shared>>,
    Path((stage, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if stage != shared.api.stage {
        return wrong_stage();
    }
    if body.len() > MAX_MESSAGE {
        return management_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "Message too long",
        );
    }
    let connections = shared.lock();
    match connections.get(&id) {
        Some(c) if c.outbox.send(Outgoing::Data(body)).is_ok() => StatusCode::OK.into_response(),
        _ => gone(),
    }
}

fn iso(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

async fn get_connection(
    State(shared): State<Arc<Shared>>,
    Path((stage, id)): Path<(String, String)>,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if stage != shared.api.stage {
        return wrong_stage();
    }
    let connections = shared.lock();
    let Some(c) = connections.get(&id) else {
        return gone();
    };
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json!({
            "connectedAt": iso(c.connected_at),
            "lastActiveAt": iso(c.last_active),
            "identity": { "sourceIp": c.source_ip, "userAgent": c.user_agent },
        })
        .to_string(),
    )
        .into_response()
}

async fn delete_connection(
    State(shared): State<Arc<Shared>>,
    Path((stage, id)): Path<(String, String)>,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if stage != shared.api.stage {
        return wrong_stage();
    }
    let connection = shared.lock().remove(&id);
    match connection {
        Some(c) => {
            let _ = c.outbox.send(Outgoing::Close);
            StatusCode::NO_CONTENT.into_response()
        }
        None => gone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selection_expression_picks_a_declared_route_or_default() {
        let api = WsDefinition {
            id: "abc".into(),
            stage: "prod".into(),
            throttle: None,
            selection: vec!["action".into()],
            routes: BTreeMap::from([
                ("$default".into(), "default-fn".into()),
                ("ping".into(), "ping-fn".into()),
            ]),
        };
        assert_eq!(
            api.select(r#"{"action":"ping"}"#),
            Some(("ping", "ping-fn"))
        );
        assert_eq!(
            api.select(r#"{"action":"other"}"#),
            Some(("$default", "default-fn"))
        );
        assert_eq!(api.select("not json"), Some(("$default", "default-fn")));
    }

    #[test]
    fn connection_ids_look_like_api_gateways() {
        let a = connection_id();
        assert_eq!(a.len(), 16);
        assert!(a.ends_with('='));
        assert_ne!(a, connection_id());
    }
}
