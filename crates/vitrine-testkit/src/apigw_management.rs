//! A stand-in for the API Gateway Management API of a WebSocket API, for tests of the code that
//! pushes to WebSocket connections on AWS (`vitrine_aws::ws_push`). The AWS emulator only stubs
//! this API (it keeps nothing and never answers `410 Gone`), so tests point the real SDK client
//! at this small HTTP server instead.
//!
//! It speaks the three routes the SDK calls, under the stage path or without one
//! (`/{stage}/@connections/{id}` and `/@connections/{id}`):
//! - `POST`: records the body for the connection and answers `200`; `410 GoneException` for a
//!   connection marked gone ([`ManagementApi::mark_gone`]) or deleted; `403
//!   ForbiddenException` for one marked refused ([`ManagementApi::refuse`]); `413
//!   PayloadTooLargeException` over 128 KiB.
//! - `DELETE`: marks the connection gone (`204`), `410` when it already is.
//! - `GET`: `200` with the connection's `connectedAt`, or `410`.
//!
//! Errors carry the error code in `x-amzn-ErrorType`, as API Gateway's do, so the SDK reads them
//! as the modelled exceptions. Requests are not checked for signatures.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::task::JoinHandle;

/// The largest message API Gateway takes for one connection.
const MAX_MESSAGE: usize = 128 * 1024;

#[derive(Default)]
struct Connections {
    /// Bodies posted, per connection id, in order.
    posted: BTreeMap<String, Vec<Bytes>>,
    gone: BTreeSet<String>,
    refused: BTreeSet<String>,
    deleted: Vec<String>,
}

type Shared = Arc<Mutex<Connections>>;

/// The running server; stopped when dropped.
pub struct ManagementApi {
    addr: SocketAddr,
    state: Shared,
    task: JoinHandle<()>,
}

impl ManagementApi {
    /// Start a server on `127.0.0.1`, on a free port.
    pub async fn start() -> Self {
        let state = Shared::default();
        let routes = post(post_to_connection)
            .delete(delete_connection)
            .get(get_connection);
        let app = Router::new()
            .route("/@connections/{id}", routes.clone())
            .route("/{stage}/@connections/{id}", routes)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("a local address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// The management URL of a WebSocket API's stage `prod` on this server (what
    /// `VITRINE_WS_ENDPOINT` is set to).
    pub fn endpoint(&self) -> String {
        format!("http://{}/prod", self.addr)
    }

    /// From now on, posts to `connection_id` are answered `410 Gone`.
    pub fn mark_gone(&self, connection_id: &str) {
        self.lock().gone.insert(connection_id.to_owned());
    }

    /// From now on, posts to `connection_id` are answered `403 ForbiddenException`.
    pub fn refuse(&self, connection_id: &str) {
        self.lock().refused.insert(connection_id.to_owned());
    }

    /// The bodies posted to `connection_id` (and accepted), oldest first.
    pub fn received(&self, connection_id: &str) -> Vec<Bytes> {
        self.lock()
            .posted
            .get(connection_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The bodies posted to `connection_id`, as JSON (panics on a body that is not JSON).
    pub fn received_json(&self, connection_id: &str) -> Vec<serde_json::Value> {
        self.received(connection_id)
            .iter()
            .map(|b| serde_json::from_slice(b).expect("a JSON message"))
            .collect()
    }

    /// Every connection id that was posted to (and accepted).
    pub fn connections_posted_to(&self) -> BTreeSet<String> {
        self.lock().posted.keys().cloned().collect()
    }

    /// The connection ids deleted through `DELETE`, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.lock().deleted.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ManagementApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `{id}` of the path (axum has percent-decoded it: `TWeg%3D` is `TWeg=`).
fn connection_id(mut params: HashMap<String, String>) -> String {
    params.remove("id").unwrap_or_default()
}

fn error(status: StatusCode, code: &'static str, message: &str) -> Response {
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-amzn-ErrorType", HeaderValue::from_static(code));
    response
}

fn gone() -> Response {
    error(StatusCode::GONE, "GoneException", "the connection is gone")
}

async fn post_to_connection(
    State(state): State<Shared>,
    Path(params): Path<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let id = connection_id(params);
    let mut connections = state.lock().unwrap_or_else(|e| e.into_inner());
    if connections.gone.contains(&id) {
        return gone();
    }
    if connections.refused.contains(&id) {
        return error(
            StatusCode::FORBIDDEN,
            "ForbiddenException",
            "not allowed to manage this connection",
        );
    }
    if body.len() > MAX_MESSAGE {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "message too large",
        );
    }
    connections.posted.entry(id).or_default().push(body);
    StatusCode::OK.into_response()
}

async fn delete_connection(
    State(state): State<Shared>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = connection_id(params);
    let mut connections = state.lock().unwrap_or_else(|e| e.into_inner());
    if !connections.gone.insert(id.clone()) {
        return gone();
    }
    connections.deleted.push(id);
    StatusCode::NO_CONTENT.into_response()
}

async fn get_connection(
    State(state): State<Shared>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = connection_id(params);
    let connections = state.lock().unwrap_or_else(|e| e.into_inner());
    if connections.gone.contains(&id) {
        return gone();
    }
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::json!({
            "connectedAt": "2026-01-01T00:00:00Z",
            "lastActiveAt": "2026-01-01T00:00:00Z",
            "identity": { "sourceIp": "127.0.0.1", "userAgent": "test" },
        })
        .to_string(),
    )
        .into_response()
}
