//! The runner as a whole: the front door's listeners bound first, the template translated and
//! resolved, its resources made on the emulator, its functions and event sources started, and
//! a small control API.
//!
//! Control API (its own listener):
//! - `GET /invocations`: the invocation table, as JSON rows `{function, source, invocations,
//!   errors, duration_ms}` (`duration_ms` summed over the row's invocations);
//! - `POST /schedules/{rule}/fire`: fire a scheduled rule now; each target's result;
//! - `POST /functions/{id}/kill`: kill the function's processes running an invocation;
//! - `GET /resources`: logical id → physical id;
//! - `GET /schedules`: the logical ids of the scheduled rules (what `/schedules/{rule}/fire`
//!   takes);
//! - `GET /denials`: every AWS call a function made that its role in the template does not
//!   allow (each one also fails the run: see [`Runner::shutdown`]);
//! - `GET /counts`: the AWS requests and estimated capacity per function and action (the
//!   proxy's [`super::proxy::Counts`]), and the front door's request counts;
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

use super::apigw::RestApi;
use super::cloudfront::{Distribution, Origins};
use super::functions::{Endpoint, Functions, Options as FunctionOptions, rewrite};
use super::proxy::Proxy;
use super::resources::{Emulator, physical_ids, verify_ses_identities};
use super::sources::Sources;
use super::template::{random_id, resolve, translate};
use super::websocket::WebSocketApi;
use super::{Invoke, REGION, Resolved, RunnerError};

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
    pub proxy: Arc<Proxy>,
    pub rest_api: Option<Arc<RestApi>>,
    pub websocket_api: Option<Arc<WebSocketApi>>,
    pub distribution: Option<Arc<Distribution>>,
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
/// for a WebSocket API) mapped to the runner's local addresses, and its buckets' URLs
/// (`https://{bucket}.s3.{region}.amazonaws.com`, `https://{bucket}.s3.amazonaws.com`) to the
/// AWS endpoint the functions use (`s3`): a presigned URL a function hands to a browser points
/// there, so that is the address the storefront's content security policy must name.
pub fn url_map(
    resolved: &Resolved,
    api: SocketAddr,
    websocket: SocketAddr,
    s3: &str,
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
    for (_, r) in resolved.of_kind("AWS::S3::Bucket") {
        let s3 = s3.trim_end_matches('/').to_owned();
        if let Some(regional) = r.attributes.get("RegionalDomainName") {
            map.push((format!("https://{regional}"), s3.clone()));
        }
        map.push((format!("https://{}.s3.amazonaws.com", r.physical_id), s3));
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
        // Every AWS call of a function goes through the proxy (IAM checks against its role,
        // Cognito's mails, request counts).
        let proxy = Arc::new(
            Proxy::start(Arc::new(resolved.clone()))
                .await
                .map_err(|e| RunnerError(format!("the AWS endpoint proxy: {e:#}")))?,
        );
        // The runner serves plain HTTP on 127.0.0.1: every https:// and wss:// URL of the
        // template's own APIs and buckets, wherever the template writes it (functions'
        // environment, the storefront's content security policy), is its local address.
        let urls = url_map(&resolved, api, websocket, &proxy.url())?;
        let resolved = Arc::new(rewrite_urls(resolved, &urls));

        let functions = Functions::new(
            &resolved,
            &FunctionOptions {
                bin_dir: options.bin_dir.clone(),
                work: options.work.clone(),
                max_concurrency: options.max_concurrency,
            },
        )?;
        functions.set_url_map(urls);
        // Set before the sources start: pollers take their function's credentials when they
        // start.
        let for_functions = proxy.clone();
        functions.set_endpoint(Arc::new(move |function: &str| {
            let c = for_functions.credentials_for(function);
            Endpoint {
                url: for_functions.url(),
                key_id: c.access_key_id,
                secret: c.secret_access_key,
            }
        }));
        let sources = Arc::new(Sources::start(&resolved, &functions)?);

        // The front door: each server only when the template declares what it serves (a
        // template of queue consumers alone has none).
        let invoker: Arc<dyn Invoke> = Arc::new(functions.clone());
        let front = |what: &str, e: anyhow::Error| RunnerError(format!("{what}: {e:#}"));
        let declares = |kind: &str| resolved.of_kind(kind).next().is_some();
        let rest_api = match declares("AWS::ApiGateway::RestApi") {
            true => Some(Arc::new(
                RestApi::start(api_listener, resolved.clone(), invoker.clone())
                    .await
                    .map_err(|e| front("the REST API", e))?,
            )),
            false => None,
        };
        let websocket_api = match declares("AWS::ApiGatewayV2::Api") {
            true => Some(Arc::new(
                WebSocketApi::start(ws_listener, resolved.clone(), invoker.clone())
                    .await
                    .map_err(|e| front("the WebSocket API", e))?,
            )),
            false => None,
        };
        let distribution = match declares("AWS::CloudFront::Distribution") {
            true => Some(Arc::new(
                Distribution::start(
                    cloudfront_listener,
                    resolved.clone(),
                    Origins {
                        rest_api: rest_api.as_ref().map(|a| a.url()).unwrap_or_default(),
                    },
                )
                .await
                .map_err(|e| front("the CloudFront distribution", e))?,
            )),
            false => None,
        };

        let (stop, _) = watch::channel(false);
        let state = Arc::new(Control {
            resolved: resolved.clone(),
            functions: functions.clone(),
            sources: sources.clone(),
            proxy: proxy.clone(),
            front: [
                ("cloudfront", weak(&distribution)),
                ("rest_api", weak(&rest_api)),
                ("websocket", weak(&websocket_api)),
            ],
            stop: stop.clone(),
        });
        let app = Router::new()
            .route("/invocations", get(invocations))
            .route("/schedules/{rule}/fire", post(fire))
            .route("/functions/{id}/kill", post(kill))
            .route("/resources", get(resources))
            .route("/schedules", get(schedules))
            .route("/denials", get(denials))
            .route("/counts", get(counts))
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
            proxy,
            rest_api,
            websocket_api,
            distribution,
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
            format!("runner: aws {}", self.proxy.url()),
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

    /// Stop the front door, pollers and timers, let invocations in flight finish (within
    /// [`STOP_GRACE`]), stop every process. The final invocation table, and the calls the
    /// template does not allow (an `Err` when there was any: the template lacks a permission).
    pub async fn shutdown(self) -> Result<String, String> {
        let _ = self.stop.send(true);
        if let Some(d) = &self.distribution {
            d.stop();
        }
        if let Some(a) = &self.rest_api {
            a.stop();
        }
        if let Some(w) = &self.websocket_api {
            w.stop();
        }
        self.sources.stop(STOP_GRACE).await;
        self.functions.stop(STOP_GRACE).await;
        let _ = self.control_task.await;
        let table = self.functions.invocation_table_text();
        let denials = self.proxy.denials();
        if denials.is_empty() {
            return Ok(table);
        }
        let mut text = format!(
            "{table}\nthe template does not allow {} call(s) its functions made:\n",
            denials.len()
        );
        for d in denials {
            text.push_str(&format!("  {d}\n"));
        }
        Err(text)
    }
}

/// A front-door server's request count.
trait Counted: Send + Sync {
    fn count(&self) -> u64;
}

impl Counted for Distribution {
    fn count(&self) -> u64 {
        self.requests()
    }
}

impl Counted for RestApi {
    fn count(&self) -> u64 {
        self.requests()
    }
}

impl Counted for WebSocketApi {
    fn count(&self) -> u64 {
        self.requests()
    }
}

fn weak<T: Counted + 'static>(server: &Option<Arc<T>>) -> Option<std::sync::Weak<dyn Counted>> {
    server.as_ref().map(|s| {
        let weak: std::sync::Weak<dyn Counted> = Arc::downgrade(s) as std::sync::Weak<T>;
        weak
    })
}

struct Control {
    resolved: Arc<Resolved>,
    functions: Functions,
    sources: Arc<Sources>,
    proxy: Arc<Proxy>,
    front: [(&'static str, Option<std::sync::Weak<dyn Counted>>); 3],
    stop: watch::Sender<bool>,
}

/// The resolved template with every string value rewritten through `urls` (see [`url_map`]).
fn rewrite_urls(mut resolved: Resolved, urls: &[(String, String)]) -> Resolved {
    fn walk(value: &mut Value, urls: &[(String, String)]) {
        match value {
            Value::String(s) => {
                let rewritten = rewrite_anywhere(s, urls);
                if rewritten != *s {
                    *s = rewritten;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, urls)),
            Value::Object(map) => map.values_mut().for_each(|v| walk(v, urls)),
            _ => {}
        }
    }
    for resource in resolved.resources.values_mut() {
        walk(&mut resource.properties, urls);
        if resource.kind == "AWS::CloudFront::ResponseHeadersPolicy"
            && let Some(Value::String(policy)) = resource.properties.pointer_mut(
                "/ResponseHeadersPolicyConfig/SecurityHeadersConfig/ContentSecurityPolicy/ContentSecurityPolicy",
            )
        {
            *policy = without_upgrade(policy);
        }
    }
    for value in resolved.outputs.values_mut() {
        *value = rewrite(value, urls);
    }
    resolved
}

/// A content security policy without `upgrade-insecure-requests`: the runner serves plain HTTP
/// on 127.0.0.1 where CloudFront serves HTTPS, and that directive would turn the browser's
/// requests to the runner's other local addresses (the presigned URLs of the AWS endpoint)
/// into `https://` ones that nothing answers.
fn without_upgrade(policy: &str) -> String {
    policy
        .split(';')
        .filter(|d| d.trim() != "upgrade-insecure-requests")
        .collect::<Vec<_>>()
        .join(";")
}

/// Like [`rewrite`], but for URLs anywhere in a text (a content security policy lists several).
fn rewrite_anywhere(text: &str, urls: &[(String, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in urls {
        out = out.replace(from.as_str(), to);
    }
    out
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

async fn schedules(State(c): State<Arc<Control>>) -> Response {
    let rules: Vec<&str> = c
        .resolved
        .of_kind("AWS::Events::Rule")
        .filter(|(_, r)| r.properties.get("ScheduleExpression").is_some())
        .map(|(id, _)| id)
        .collect();
    axum::Json(rules).into_response()
}

async fn denials(State(c): State<Arc<Control>>) -> Response {
    let rows: Vec<Value> = c
        .proxy
        .denials()
        .iter()
        .map(|d| Value::String(d.to_string()))
        .collect();
    axum::Json(rows).into_response()
}

async fn counts(State(c): State<Arc<Control>>) -> Response {
    let front: serde_json::Map<String, Value> = c
        .front
        .iter()
        .filter_map(|(name, server)| {
            Some((name.to_string(), json!(server.as_ref()?.upgrade()?.count())))
        })
        .collect();
    axum::Json(json!({"aws": c.proxy.counts(), "front_door": front})).into_response()
}

async fn stop_now(State(c): State<Arc<Control>>) -> Response {
    let _ = c.stop.send(true);
    (StatusCode::ACCEPTED, axum::Json(json!({"stopping": true}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_insecure_requests_is_dropped_and_the_rest_of_the_policy_kept() {
        assert_eq!(
            without_upgrade("default-src 'self'; upgrade-insecure-requests; connect-src 'self'"),
            "default-src 'self'; connect-src 'self'"
        );
        assert_eq!(
            without_upgrade("default-src 'self'; upgrade-insecure-requests"),
            "default-src 'self'"
        );
        assert_eq!(without_upgrade("img-src data:"), "img-src data:");
    }

    #[test]
    fn every_listed_url_in_a_text_is_rewritten() {
        let urls = vec![
            (
                "wss://abc.execute-api.us-east-1.amazonaws.com".to_owned(),
                "ws://127.0.0.1:1".to_owned(),
            ),
            (
                "https://b.s3.us-east-1.amazonaws.com".to_owned(),
                "http://127.0.0.1:2".to_owned(),
            ),
        ];
        assert_eq!(
            rewrite_anywhere(
                "connect-src 'self' wss://abc.execute-api.us-east-1.amazonaws.com https://b.s3.us-east-1.amazonaws.com",
                &urls
            ),
            "connect-src 'self' ws://127.0.0.1:1 http://127.0.0.1:2"
        );
    }
}
