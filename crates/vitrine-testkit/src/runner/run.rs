//! The runner as a whole: the front door's listeners bound first, the template translated and
//! resolved, its resources made on the emulator, its functions and event sources started, and
//! a small control API.
//!
//! Control API (its own listener):
//! - `GET /invocations`: the invocation table, as JSON rows `{function, source, invocations,
//!   errors}`;
//! - `POST /schedules/{rule}/fire`: fire a scheduled rule now; each target's result;
//! - `POST /functions/{id}/kill`: kill the function's processes running an invocation;
//! - `GET /resources`: logical id → physical id;
//! - `POST /stop`: stop the runner (as SIGTERM does).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::functions::{Functions, Options as FunctionOptions};
use super::resources::{Emulator, physical_ids, verify_ses_identities};
use super::sources::Sources;
use super::template::{random_id, resolve, translate};
use super::{REGION, Resolved, RunnerError};

/// What the runner is given.
#[derive(Debug, Clone)]
pub struct Options {
    pub template: PathBuf,
    pub emulator: String,
    pub parameters: BTreeMap<String, String>,
    pub bin_dir: PathBuf,
    pub work: PathBuf,
    pub max_concurrency: usize,
    /// The Python with the SAM translator (`.venv/bin/python`).
    pub python: PathBuf,
    /// The stack name (a prefix of every generated name); a fresh one when `None`, so several
    /// runners share one emulator.
    pub stack_name: Option<String>,
}

/// How long stopping waits for invocations in flight before killing them.
pub const STOP_GRACE: Duration = Duration::from_secs(30);

/// A running template.
pub struct Runner {
    pub resolved: Arc<Resolved>,
    pub functions: Functions,
    pub sources: Arc<Sources>,
    /// The front door's addresses (the servers on them are started by the REST API, WebSocket
    /// API and CloudFront parts of the runner).
    pub api: SocketAddr,
    pub websocket: SocketAddr,
    pub cloudfront: SocketAddr,
    pub control: SocketAddr,
    stop: watch::Sender<bool>,
    control_task: tokio::task::JoinHandle<()>,
}

async fn bind() -> Result<TcpListener, RunnerError> {
    TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| RunnerError(format!("binding a listener on 127.0.0.1: {e}")))
}

fn addr(listener: &TcpListener) -> Result<SocketAddr, RunnerError> {
    listener
        .local_addr()
        .map_err(|e| RunnerError(format!("a listener's address: {e}")))
}

/// The template's API URLs (`https://{id}.execute-api.{region}.amazonaws.com`, and `wss://`
/// for a WebSocket API) mapped to the runner's local addresses.
pub fn url_map(
    resolved: &Resolved,
    api: SocketAddr,
    websocket: SocketAddr,
) -> Result<Vec<(String, String)>, RunnerError> {
    let host = |id: &str| format!("{id}.execute-api.{REGION}.amazonaws.com");
    let mut map = Vec::new();
    let rest: Vec<_> = resolved.of_kind("AWS::ApiGateway::RestApi").collect();
    if rest.len() > 1 {
        return Err(RunnerError(format!(
            "the runner serves one REST API; the template declares {}",
            rest.iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for (_, r) in rest {
        map.push((
            format!("https://{}", host(&r.physical_id)),
            format!("http://{api}"),
        ));
    }
    let ws: Vec<_> = resolved
        .of_kind("AWS::ApiGatewayV2::Api")
        .filter(|(_, r)| {
            r.properties.get("ProtocolType").and_then(Value::as_str) == Some("WEBSOCKET")
        })
        .collect();
    if ws.len() > 1 {
        return Err(RunnerError(format!(
            "the runner serves one WebSocket API; the template declares {}",
            ws.iter().map(|(id, _)| *id).collect::<Vec<_>>().join(", ")
        )));
    }
    for (_, r) in ws {
        map.push((
            format!("wss://{}", host(&r.physical_id)),
            format!("ws://{websocket}"),
        ));
        map.push((
            format!("https://{}", host(&r.physical_id)),
            format!("http://{websocket}"),
        ));
    }
    Ok(map)
}

impl Runner {
    /// Bind, translate, create, start. Nothing is left running if this fails.
    pub async fn start(options: Options) -> Result<Self, RunnerError> {
        // The front door first: its addresses go into the functions' environment.
        let api_listener = bind().await?;
        let ws_listener = bind().await?;
        let cloudfront_listener = bind().await?;
        let control_listener = bind().await?;
        let (api, websocket, cloudfront, control) = (
            addr(&api_listener)?,
            addr(&ws_listener)?,
            addr(&cloudfront_listener)?,
            addr(&control_listener)?,
        );

        let (python, template, parameters) = (
            options.python.clone(),
            options.template.clone(),
            options.parameters.clone(),
        );
        let translated =
            tokio::task::spawn_blocking(move || translate(&python, &template, &parameters))
                .await
                .map_err(|e| RunnerError(format!("the translator's task: {e}")))??;
        let stack = options.stack_name.clone().unwrap_or_else(|| {
            format!(
                "runner-{}",
                random_id(6, b"abcdefghijklmnopqrstuvwxyz0123456789")
            )
        });
        let mut emulator = Emulator::new(&options.emulator);
        let resolved = resolve(
            &translated,
            &stack,
            &options.emulator,
            &options.parameters,
            &mut emulator,
        )
        .await?;
        verify_ses_identities(&emulator, &resolved).await?;
        let resolved = Arc::new(resolved);

        let functions = Functions::new(
            &resolved,
            &FunctionOptions {
                bin_dir: options.bin_dir.clone(),
                work: options.work.clone(),
                max_concurrency: options.max_concurrency,
            },
        )?;
        functions.set_url_map(url_map(&resolved, api, websocket)?);
        // The per-function AWS endpoint (IAM checks, Cognito's mails, request counts):
        // functions.set_endpoint(proxy::Proxy::start(resolved.clone()).await?.endpoint_for());
        let sources = Arc::new(Sources::start(&resolved, &functions)?);

        // The front door, served by the REST API, WebSocket API and CloudFront parts:
        // let invoker: Arc<dyn Invoke> = Arc::new(functions.clone());
        // apigw::RestApi::start(api_listener, resolved.clone(), invoker.clone());
        // websocket::WebSocketApi::start(ws_listener, resolved.clone(), invoker.clone());
        // cloudfront::Distribution::start(cloudfront_listener, resolved.clone(), format!("http://{api}"));
        drop((api_listener, ws_listener, cloudfront_listener));

        let (stop, _) = watch::channel(false);
        let state = Arc::new(Control {
            resolved: resolved.clone(),
            functions: functions.clone(),
            sources: sources.clone(),
            stop: stop.clone(),
        });
        let app = Router::new()
            .route("/invocations", get(invocations))
            .route("/schedules/{rule}/fire", post(fire))
            .route("/functions/{id}/kill", post(kill))
            .route("/resources", get(resources))
            .route("/stop", post(stop_now))
            .with_state(state);
        let mut stopped = stop.subscribe();
        let control_task = tokio::spawn(async move {
            let _ = axum::serve(control_listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        Ok(Self {
            resolved,
            functions,
            sources,
            api,
            websocket,
            cloudfront,
            control,
            stop,
            control_task,
        })
    }

    /// The lines the binary prints once ready.
    pub fn endpoint_lines(&self) -> Vec<String> {
        vec![
            format!("runner: cloudfront http://{}", self.cloudfront),
            format!("runner: api http://{}", self.api),
            format!("runner: websocket ws://{}", self.websocket),
            format!("runner: control http://{}", self.control),
        ]
    }

    /// Ask the runner to stop (as `POST /stop` does).
    pub fn request_stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Wait until a stop is asked for (`POST /stop` or [`Runner::request_stop`]).
    pub async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stop pollers and timers, let invocations in flight finish (within [`STOP_GRACE`]),
    /// stop every process; the final invocation table.
    pub async fn shutdown(self) -> String {
        let _ = self.stop.send(true);
        self.sources.stop(STOP_GRACE).await;
        self.functions.stop(STOP_GRACE).await;
        let _ = self.control_task.await;
        self.functions.invocation_table_text()
    }
}

struct Control {
    resolved: Arc<Resolved>,
    functions: Functions,
    sources: Arc<Sources>,
    stop: watch::Sender<bool>,
}

async fn invocations(State(c): State<Arc<Control>>) -> Response {
    let rows: Vec<Value> = c
        .functions
        .invocation_table()
        .iter()
        .map(|r| r.to_json())
        .collect();
    axum::Json(rows).into_response()
}

async fn fire(State(c): State<Arc<Control>>, Path(rule): Path<String>) -> Response {
    match c.sources.fire(&rule).await {
        Ok(results) => {
            let out: Vec<Value> = results
                .into_iter()
                .map(|r| match r {
                    Ok(v) => json!({"ok": v}),
                    Err(e) => json!({"error": e.to_string()}),
                })
                .collect();
            axum::Json(out).into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, axum::Json(json!({"error": e.0}))).into_response(),
    }
}

async fn kill(State(c): State<Arc<Control>>, Path(id): Path<String>) -> Response {
    match c.functions.kill(&id) {
        Ok(n) => axum::Json(json!({"killed": n})).into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn resources(State(c): State<Arc<Control>>) -> Response {
    axum::Json(physical_ids(&c.resolved)).into_response()
}

async fn stop_now(State(c): State<Arc<Control>>) -> Response {
    let _ = c.stop.send(true);
    (StatusCode::ACCEPTED, axum::Json(json!({"stopping": true}))).into_response()
}
