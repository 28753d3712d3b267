//! The template's CloudFront distribution (`AWS::CloudFront::Distribution`), served the way
//! CloudFront serves it:
//!
//! - the behaviour is the first `CacheBehaviors` entry whose `PathPattern` matches the request
//!   path (`*` any run of characters, `?` one character, case-sensitive, a pattern without a
//!   leading `/` as with one), else `DefaultCacheBehavior`; a method outside its
//!   `AllowedMethods` is answered `403`;
//! - the behaviour's viewer-request CloudFront Function (`AWS::CloudFront::Function`, runtime
//!   `cloudfront-js-2.0`) runs first, on CloudFront's event object (`version`, `context`,
//!   `viewer`, `request` with `method`, `uri`, `querystring`, `headers`, `cookies`); it returns
//!   the request to send on (modified) or a response to answer with. The code runs in a
//!   long-lived `node` process (`cloudfront_function.js`), in a `vm` context of its own;
//! - `DefaultRootObject` for `/`;
//! - the S3 origin (a bucket's `RegionalDomainName`, read through Origin Access Control): a GET
//!   or HEAD of the key on the emulator; a missing key is `403 AccessDenied`, as S3 answers
//!   CloudFront when the distribution may not list the bucket;
//! - the custom origin of the REST API (`{api}.execute-api.{region}.amazonaws.com` plus
//!   `OriginPath`) reached at [`Origins::rest_api`]; the viewer's headers forwarded per the
//!   behaviour's origin request policy, by its managed id (AllViewer, AllViewerExceptHostHeader,
//!   AllViewerAndCloudFrontHeaders-2022-06: the ids are listed in the CloudFront Developer
//!   Guide, "Use managed origin request policies"); without a policy only `Content-Type` goes on;
//! - `CustomErrorResponses` (`ErrorCode` → `ResponsePagePath`, `ResponseCode`);
//! - the behaviour's response headers policy (`AWS::CloudFront::ResponseHeadersPolicy`):
//!   security headers and custom headers, each set over the origin's only when `Override` is
//!   true, and `RemoveHeadersConfig`.
//!
//! Not done (so the runner never pretends to): caching (every request goes to the origin),
//! compression, viewer-response functions and Lambda@Edge (the template refers to none; one is
//! an error at start), CORS and Server-Timing settings of a headers policy (errors at start),
//! WAF (`WebACLId` is not enforced), `ViewerProtocolPolicy` (the runner serves plain HTTP on
//! the loopback), and WebSocket upgrades (the storefront opens the WebSocket
//! API's own URL, as on AWS).

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::apigw::Served;
use super::{Resolved, Resource};

/// Where the distribution's custom origins are served on this machine.
#[derive(Debug, Clone)]
pub struct Origins {
    /// The REST API's URL ([`super::apigw::RestApi::url`]): the origin
    /// `{api}.execute-api.{region}.amazonaws.com` is reached there.
    pub rest_api: String,
}

/// The largest request body passed to an origin.
const MAX_BODY: usize = 20 * 1024 * 1024;
/// How long a CloudFront Function may take here (CloudFront's limit is far lower; this only
/// keeps a looping function from hanging the runner).
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(5);

const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";
const ALL_VIEWER_AND_CLOUDFRONT: &str = "33f36d7e-f396-46d9-90e0-52428a34d9dc";
const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// The running distribution; stops when dropped.
pub struct Distribution {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Served,
}

impl Distribution {
    /// Serve the template's distribution on `listener`.
    pub async fn start(
        listener: tokio::net::TcpListener,
        resolved: Arc<Resolved>,
        origins: Origins,
    ) -> anyhow::Result<Distribution> {
        let config = Config::read(&resolved, &origins)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            emulator: resolved.emulator.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            functions: FunctionRunner::default(),
            requests: AtomicU64::new(0),
        });
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(&shared));
        let server = Served::spawn(listener, app);
        Ok(Distribution {
            addr,
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`, the distribution's address.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Viewer requests received.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Stop serving (also done on drop).
    pub fn stop(&self) {
        self.server.stop();
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        self.server.stop();
    }
}

struct Shared {
    config: Config,
    emulator: String,
    client: reqwest::Client,
    functions: FunctionRunner,
    requests: AtomicU64,
}

#[derive(Debug)]
struct Config {
    id: String,
    domain: String,
    default_root_object: Option<String>,
    /// The `CacheBehaviors` in order, then the default behaviour (pattern `*`).
    behaviors: Vec<Behavior>,
    error_responses: Vec<ErrorResponse>,
}

#[derive(Debug, Clone)]
struct Behavior {
    pattern: String,
    origin: Origin,
    allowed_methods: Vec<String>,
    /// The viewer-request function's code.
    function: Option<String>,
    forward: Forward,
    headers_policy: Option<HeadersPolicy>,
}

#[derive(Debug, Clone, PartialEq)]
enum Origin {
    S3 { bucket: String },
    Api { base: String },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Forward {
    /// No origin request policy: only `Content-Type`.
    Minimal,
    AllViewer,
    AllViewerExceptHost,
}

#[derive(Debug, Clone)]
struct ErrorResponse {
    code: u16,
    page: Option<String>,
    response_code: Option<u16>,
}

#[derive(Debug, Clone, Default)]
struct HeadersPolicy {
    /// `(name, value, override)`.
    set: Vec<(String, String, bool)>,
    remove: Vec<String>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn find_by_id<'a>(
    resolved: &'a Resolved,
    kind: &'a str,
    id: &str,
    attribute: &str,
) -> Option<(&'a str, &'a Resource)> {
    resolved
        .of_kind(kind)
        .find(|(_, r)| r.physical_id == id || r.attributes.get(attribute).is_some_and(|a| a == id))
}

impl Config {
    fn read(resolved: &Resolved, origins: &Origins) -> anyhow::Result<Self> {
        let distributions: Vec<_> = resolved.of_kind("AWS::CloudFront::Distribution").collect();
        let [(logical, distribution)] = distributions.as_slice() else {
            bail!(
                "the template declares {} AWS::CloudFront::Distribution; the runner serves exactly one",
                distributions.len()
            );
        };
        let config = distribution
            .properties
            .get("DistributionConfig")
            .ok_or_else(|| anyhow!("{logical}: no DistributionConfig"))?;
        let mut origin_by_id = Vec::new();
        for origin in config
            .get("Origins")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id =
                str_of(origin, "Id").ok_or_else(|| anyhow!("{logical}: an origin has no Id"))?;
            let domain = str_of(origin, "DomainName")
                .ok_or_else(|| anyhow!("{logical}: origin {id} has no DomainName"))?;
            let path = str_of(origin, "OriginPath").unwrap_or_default();
            let kind = if let Some((bucket, _)) = domain.split_once(".s3.") {
                if resolved
                    .of_kind("AWS::S3::Bucket")
                    .all(|(_, b)| b.physical_id != bucket)
                {
                    bail!("{logical}: origin {id}: {domain} is not a bucket of the template");
                }
                if origin.get("OriginAccessControlId").is_none() {
                    bail!(
                        "{logical}: origin {id}: the bucket is read without Origin Access Control; the runner reads it as OAC does"
                    );
                }
                Origin::S3 {
                    bucket: bucket.to_owned(),
                }
            } else if let Some((api, _)) = domain.split_once(".execute-api.") {
                if resolved
                    .of_kind("AWS::ApiGateway::RestApi")
                    .all(|(_, a)| a.physical_id != api)
                {
                    bail!("{logical}: origin {id}: {domain} is not the REST API of the template");
                }
                Origin::Api {
                    base: format!("{}{path}", origins.rest_api.trim_end_matches('/')),
                }
            } else {
                bail!(
                    "{logical}: origin {id}: {domain} is neither a bucket nor the REST API of the template"
                );
            };
            origin_by_id.push((id.to_owned(), kind));
        }

        let behavior = |b: &Value, pattern: &str| -> anyhow::Result<Behavior> {
            let target = str_of(b, "TargetOriginId")
                .ok_or_else(|| anyhow!("{logical}: behaviour {pattern} has no TargetOriginId"))?;
            let origin = origin_by_id
                .iter()
                .find(|(id, _)| id == target)
                .map(|(_, o)| o.clone())
                .ok_or_else(|| anyhow!("{logical}: behaviour {pattern}: no origin {target}"))?;
            let allowed_methods = b
                .get("AllowedMethods")
                .and_then(Value::as_array)
                .map(|m| {
                    m.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_else(|| vec!["GET".to_owned(), "HEAD".to_owned()]);
            if b.get("LambdaFunctionAssociations")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
            {
                bail!("{logical}: behaviour {pattern}: Lambda@Edge is not run by the runner");
            }
            let mut function = None;
            for association in b
                .get("FunctionAssociations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let event = str_of(association, "EventType").unwrap_or_default();
                let arn = str_of(association, "FunctionARN").unwrap_or_default();
                if event != "viewer-request" {
                    bail!(
                        "{logical}: behaviour {pattern}: a {event} function; the runner runs viewer-request functions only"
                    );
                }
                let (name, f) = find_by_id(resolved, "AWS::CloudFront::Function", arn, "FunctionARN")
                    .ok_or_else(|| anyhow!("{logical}: behaviour {pattern}: {arn} is no AWS::CloudFront::Function of the template"))?;
                let runtime = f
                    .properties
                    .pointer("/FunctionConfig/Runtime")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if runtime != "cloudfront-js-2.0" && runtime != "cloudfront-js-1.0" {
                    bail!("{name}: runtime {runtime} is not a CloudFront Functions runtime");
                }
                let code = str_of(&f.properties, "FunctionCode")
                    .ok_or_else(|| anyhow!("{name}: no FunctionCode"))?;
                function = Some(code.to_owned());
            }
            let forward = match str_of(b, "OriginRequestPolicyId") {
                None => Forward::Minimal,
                Some(ALL_VIEWER | ALL_VIEWER_AND_CLOUDFRONT) => Forward::AllViewer,
                Some(ALL_VIEWER_EXCEPT_HOST) => Forward::AllViewerExceptHost,
                Some(other) => bail!(
                    "{logical}: behaviour {pattern}: origin request policy {other} is not one the runner knows (AllViewer, AllViewerExceptHostHeader, AllViewerAndCloudFrontHeaders-2022-06)"
                ),
            };
            let headers_policy = match str_of(b, "ResponseHeadersPolicyId") {
                None => None,
                Some(id) => {
                    let (name, policy) =
                        find_by_id(resolved, "AWS::CloudFront::ResponseHeadersPolicy", id, "Id")
                            .ok_or_else(|| anyhow!("{logical}: behaviour {pattern}: response headers policy {id} is not declared in the template"))?;
                    Some(
                        HeadersPolicy::read(&policy.properties)
                            .with_context(|| format!("{name}: the response headers policy"))?,
                    )
                }
            };
            Ok(Behavior {
                pattern: pattern.to_owned(),
                origin,
                allowed_methods,
                function,
                forward,
                headers_policy,
            })
        };

        let mut behaviors = Vec::new();
        for b in config
            .get("CacheBehaviors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let pattern = str_of(b, "PathPattern")
                .ok_or_else(|| anyhow!("{logical}: a cache behaviour has no PathPattern"))?;
            behaviors.push(behavior(b, pattern)?);
        }
        let default = config
            .get("DefaultCacheBehavior")
            .ok_or_else(|| anyhow!("{logical}: no DefaultCacheBehavior"))?;
        behaviors.push(behavior(default, "*")?);

        let error_responses = config
            .get("CustomErrorResponses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some(ErrorResponse {
                    code: super::apigw::number_of(e.get("ErrorCode")?)? as u16,
                    page: str_of(e, "ResponsePagePath").map(str::to_owned),
                    response_code: e
                        .get("ResponseCode")
                        .and_then(super::apigw::number_of)
                        .map(|c| c as u16),
                })
            })
            .collect();

        let id = distribution.physical_id.clone();
        let domain = distribution
            .attributes
            .get("DomainName")
            .cloned()
            .unwrap_or_else(|| format!("{}.cloudfront.net", id.to_ascii_lowercase()));
        Ok(Self {
            id,
            domain,
            default_root_object: str_of(config, "DefaultRootObject")
                .filter(|o| !o.is_empty())
                .map(str::to_owned),
            behaviors,
            error_responses,
        })
    }

    fn behavior(&self, path: &str) -> &Behavior {
        self.behaviors
            .iter()
            .find(|b| path_matches(&b.pattern, path))
            .unwrap_or_else(|| &self.behaviors[self.behaviors.len() - 1])
    }
}

impl HeadersPolicy {
    fn read(properties: &Value) -> anyhow::Result<Self> {
        let config = properties
            .get("ResponseHeadersPolicyConfig")
            .ok_or_else(|| anyhow!("no ResponseHeadersPolicyConfig"))?;
        if config.get("CorsConfig").is_some() {
            bail!("CorsConfig is not applied by the runner");
        }
        if config
            .pointer("/ServerTimingHeadersConfig/Enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            bail!("ServerTimingHeadersConfig is not applied by the runner");
        }
        let mut policy = HeadersPolicy::default();
        let overrides = |v: &Value| v.get("Override").and_then(Value::as_bool).unwrap_or(false);
        if let Some(security) = config.get("SecurityHeadersConfig") {
            if let Some(h) = security.get("StrictTransportSecurity") {
                let mut value = format!(
                    "max-age={}",
                    h.get("AccessControlMaxAgeSec")
                        .and_then(super::apigw::number_of)
                        .ok_or_else(|| anyhow!(
                            "StrictTransportSecurity has no AccessControlMaxAgeSec"
                        ))? as u64
                );
                if h.get("IncludeSubdomains").and_then(Value::as_bool) == Some(true) {
                    value.push_str("; includeSubDomains");
                }
                if h.get("Preload").and_then(Value::as_bool) == Some(true) {
                    value.push_str("; preload");
                }
                policy
                    .set
                    .push(("strict-transport-security".into(), value, overrides(h)));
            }
            if let Some(h) = security.get("ContentTypeOptions") {
                policy.set.push((
                    "x-content-type-options".into(),
                    "nosniff".into(),
                    overrides(h),
                ));
            }
            if let Some(h) = security.get("FrameOptions") {
                let value = str_of(h, "FrameOption")
                    .ok_or_else(|| anyhow!("FrameOptions has no FrameOption"))?;
                policy
                    .set
                    .push(("x-frame-options".into(), value.into(), overrides(h)));
            }
            if let Some(h) = security.get("ReferrerPolicy") {
                let value = str_of(h, "ReferrerPolicy")
                    .ok_or_else(|| anyhow!("ReferrerPolicy has no ReferrerPolicy"))?;
                policy
                    .set
                    .push(("referrer-policy".into(), value.into(), overrides(h)));
            }
            if let Some(h) = security.get("ContentSecurityPolicy") {
                let value = str_of(h, "ContentSecurityPolicy")
                    .ok_or_else(|| anyhow!("ContentSecurityPolicy has no ContentSecurityPolicy"))?;
                policy
                    .set
                    .push(("content-security-policy".into(), value.into(), overrides(h)));
            }
            if let Some(h) = security.get("XSSProtection") {
                let mut value = if h.get("Protection").and_then(Value::as_bool) == Some(true) {
                    "1".to_owned()
                } else {
                    "0".to_owned()
                };
                if h.get("ModeBlock").and_then(Value::as_bool) == Some(true) {
                    value.push_str("; mode=block");
                }
                if let Some(uri) = str_of(h, "ReportUri") {
                    value.push_str(&format!("; report={uri}"));
                }
                policy
                    .set
                    .push(("x-xss-protection".into(), value, overrides(h)));
            }
        }
        for item in config
            .pointer("/CustomHeadersConfig/Items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name =
                str_of(item, "Header").ok_or_else(|| anyhow!("a custom header has no Header"))?;
            let value = str_of(item, "Value")
                .ok_or_else(|| anyhow!("custom header {name} has no Value"))?;
            policy
                .set
                .push((name.to_ascii_lowercase(), value.into(), overrides(item)));
        }
        for item in config
            .pointer("/RemoveHeadersConfig/Items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = str_of(item, "Header") {
                policy.remove.push(name.to_ascii_lowercase());
            }
        }
        Ok(policy)
    }

    fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name.as_str());
        }
        for (name, value, override_) in &self.set {
            let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) else {
                continue;
            };
            if *override_ || !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        }
    }
}

/// CloudFront's path pattern match: `*` any run of characters (`/` included), `?` exactly one;
/// a pattern without a leading `/` is read with one.
fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = if pattern.starts_with('/') || pattern.starts_with('*') {
        pattern.to_owned()
    } else {
        format!("/{pattern}")
    };
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    // Iterative glob with backtracking to the last `*`.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < s.len() {
        if i < p.len() && (p[i] == '?' || p[i] == s[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

/// The long-lived `node` process that runs CloudFront Functions; started on first use and
/// again after it dies.
#[derive(Default)]
struct FunctionRunner {
    process: tokio::sync::Mutex<Option<NodeProcess>>,
}

struct NodeProcess {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: u64,
}

const HARNESS: &str = include_str!("cloudfront_function.js");

impl NodeProcess {
    fn spawn() -> anyhow::Result<Self> {
        let mut child = tokio::process::Command::new("node")
            .arg("-e")
            .arg(HARNESS)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting node to run the CloudFront Function (is node installed?)")?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| anyhow!("node has no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("node has no stdout"))?;
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            next_id: 0,
        })
    }

    async fn call(&mut self, code: &str, event: &Value) -> anyhow::Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut line = json!({ "id": id, "code": code, "event": event }).to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let answer = tokio::time::timeout(FUNCTION_TIMEOUT, self.stdout.next_line())
            .await
            .map_err(|_| anyhow!("the CloudFront Function took longer than {FUNCTION_TIMEOUT:?}"))??
            .ok_or_else(|| anyhow!("node exited"))?;
        let answer: Value = serde_json::from_str(&answer)?;
        if answer.get("id").and_then(Value::as_u64) != Some(id) {
            bail!("node answered another request");
        }
        if let Some(error) = answer.get("error") {
            return Err(FunctionError(error.as_str().unwrap_or_default().to_owned()).into());
        }
        Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }
}

/// The function itself threw (the process is fine).
#[derive(Debug)]
struct FunctionError(String);

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the CloudFront Function failed: {}", self.0)
    }
}

impl std::error::Error for FunctionError {}

impl FunctionRunner {
    async fn run(&self, code: &str, event: &Value) -> anyhow::Result<Value> {
        let mut process = self.process.lock().await;
        let mut last = None;
        for _ in 0..2 {
            if process.is_none() {
                *process = Some(NodeProcess::spawn()?);
            }
            let Some(node) = process.as_mut() else {
                continue;
            };
            match node.call(code, event).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is::<FunctionError>() => return Err(e),
                Err(e) => {
                    // The process is broken (died, hung, or out of step): replace it.
                    let _ = node.child.start_kill();
                    *process = None;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("node could not run the CloudFront Function")))
    }
}

/// CloudFront's event object for a viewer-request function.
fn function_event(
    config: &Config,
    viewer_ip: &str,
    method: &Method,
    uri: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    request_id: &str,
) -> Value {
    let mut querystring = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        add_multi(&mut querystring, &k, &v);
    }
    let mut header_map = Map::new();
    let mut cookies = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            for pair in value.split(';') {
                let pair = pair.trim();
                if pair.is_empty() {
                    continue;
                }
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                add_multi(&mut cookies, k, v);
            }
        } else {
            add_multi(&mut header_map, name.as_str(), &value);
        }
    }
    json!({
        "version": "1.0",
        "context": {
            "distributionDomainName": config.domain,
            "distributionId": config.id,
            "eventType": "viewer-request",
            "requestId": request_id,
        },
        "viewer": { "ip": viewer_ip },
        "request": {
            "method": method.as_str(),
            "uri": uri,
            "querystring": querystring,
            "headers": header_map,
            "cookies": cookies,
        },
    })
}

/// `{name: {value}}`, a repeated name getting `multiValue` as CloudFront gives it.
fn add_multi(map: &mut Map<String, Value>, name: &str, value: &str) {
    match map.get_mut(name) {
        None => {
            map.insert(name.to_owned(), json!({ "value": value }));
        }
        Some(entry) => {
            let first = entry["value"].clone();
            let multi = entry.as_object_mut().map(|o| {
                o.entry("multiValue")
                    .or_insert_with(|| json!([{ "value": first }]))
            });
            if let Some(Value::Array(items)) = multi {
                items.push(json!({ "value": value }));
            }
        }
    }
}

/// The values of a CloudFront `{value, multiValue}` entry.
fn values_of(entry: &Value) -> Vec<String> {
    match entry.get("multiValue").and_then(Value::as_array) {
        Some(items) if !items.is_empty() => items
            .iter()
            .filter_map(|i| str_of(i, "value").map(str::to_owned))
            .collect(),
        _ => match entry {
            Value::String(s) => vec![s.clone()],
            other => str_of(other, "value")
                .map(str::to_owned)
                .into_iter()
                .collect(),
        },
    }
}

/// The request a viewer-request function returned: `(uri, query, headers)`.
fn request_from_function(request: &Value) -> anyhow::Result<(String, Option<String>, HeaderMap)> {
    let uri = str_of(request, "uri")
        .ok_or_else(|| anyhow!("the function's request has no uri"))?
        .to_owned();
    let query = match request.get("querystring") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(params)) => {
            let mut out = url::form_urlencoded::Serializer::new(String::new());
            for (k, entry) in params {
                for v in values_of(entry) {
                    out.append_pair(k, &v);
                }
            }
            Some(out.finish())
        }
        _ => None,
    }
    .filter(|q| !q.is_empty());
    let mut headers = HeaderMap::new();
    for (name, entry) in request
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let name = HeaderName::try_from(name.as_str())?;
        for v in values_of(entry) {
            headers.append(&name, HeaderValue::try_from(v)?);
        }
    }
    let cookies: Vec<String> = request
        .get("cookies")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(k, entry)| {
            values_of(entry)
                .into_iter()
                .map(move |v| format!("{k}={v}"))
        })
        .collect();
    if !cookies.is_empty() {
        headers.insert("cookie", HeaderValue::try_from(cookies.join("; "))?);
    }
    Ok((uri, query, headers))
}

/// The response a viewer-request function returned.
fn response_from_function(answer: &Value) -> anyhow::Result<Response> {
    let status = answer
        .get("statusCode")
        .and_then(super::apigw::number_of)
        .ok_or_else(|| anyhow!("the function's response has no statusCode"))?
        as u16;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::from_u16(status)?;
    let headers = response.headers_mut();
    for (name, entry) in answer
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let name = HeaderName::try_from(name.as_str())?;
        for v in values_of(entry) {
            headers.append(&name, HeaderValue::try_from(v)?);
        }
    }
    for (name, entry) in answer
        .get("cookies")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let value = str_of(entry, "value").unwrap_or_default();
        let cookie = match str_of(entry, "attributes") {
            Some(attributes) if !attributes.is_empty() => format!("{name}={value}; {attributes}"),
            _ => format!("{name}={value}"),
        };
        headers.append("set-cookie", HeaderValue::try_from(cookie)?);
    }
    let body = match answer.get("body") {
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(b @ Value::Object(_)) => {
            let data = str_of(b, "data").unwrap_or_default();
            if str_of(b, "encoding") == Some("base64") {
                STANDARD.decode(data)?
            } else {
                data.as_bytes().to_vec()
            }
        }
        _ => Vec::new(),
    };
    *response.body_mut() = Body::from(body);
    Ok(response)
}

fn plain(status: StatusCode, content_type: &'static str, body: &str) -> Response {
    let mut response = Response::new(Body::from(body.to_owned()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    response
}

fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
    )
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let request_id = super::apigw::request_id();
    let (parts, body) = request.into_parts();
    let behavior = shared.config.behavior(parts.uri.path()).clone();
    if !behavior
        .allowed_methods
        .iter()
        .any(|m| m.eq_ignore_ascii_case(parts.method.as_str()))
    {
        return finish(
            &behavior,
            &request_id,
            &shared.config.domain,
            plain(
                StatusCode::FORBIDDEN,
                "text/html",
                "This distribution is not configured to allow the HTTP request method that was used for this request.",
            ),
        );
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "text/plain",
                "request body too large",
            );
        }
    };

    let mut uri = parts.uri.path().to_owned();
    let mut query = parts.uri.query().map(str::to_owned);
    let mut headers = parts.headers.clone();
    if let Some(code) = &behavior.function {
        let event = function_event(
            &shared.config,
            &peer.ip().to_string(),
            &parts.method,
            &uri,
            query.as_deref(),
            &headers,
            &request_id,
        );
        let answer = match shared.functions.run(code, &event).await {
            Ok(answer) => answer,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the CloudFront Function failed");
                return finish(
                    &behavior,
                    &request_id,
                    &shared.config.domain,
                    plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/html",
                        "The CloudFront function associated with the request failed.",
                    ),
                );
            }
        };
        let outcome = if answer.get("statusCode").is_some() {
            response_from_function(&answer).map(Err)
        } else {
            request_from_function(&answer).map(Ok)
        };
        match outcome {
            Ok(Err(response)) => {
                return finish(&behavior, &request_id, &shared.config.domain, response);
            }
            Ok(Ok((u, q, h))) => {
                uri = u;
                query = q;
                headers = h;
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the CloudFront Function returned an invalid object");
                return finish(
                    &behavior,
                    &request_id,
                    &shared.config.domain,
                    plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/html",
                        "The CloudFront function returned an invalid value.",
                    ),
                );
            }
        }
    }
    if uri == "/"
        && let Some(root) = &shared.config.default_root_object
    {
        uri = format!("/{root}");
    }

    let mut response = match fetch(
        &shared,
        &behavior,
        &parts.method,
        &uri,
        query.as_deref(),
        &headers,
        peer,
        body,
        &request_id,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "a CloudFront origin could not be reached");
            plain(
                StatusCode::BAD_GATEWAY,
                "text/html",
                "CloudFront could not connect to the origin.",
            )
        }
    };

    let status = response.status().as_u16();
    if status >= 400
        && let Some(custom) = shared
            .config
            .error_responses
            .iter()
            .find(|e| e.code == status)
    {
        if let Some(page) = &custom.page {
            let page_behavior = shared.config.behavior(page).clone();
            if let Ok(page_response) = fetch(
                &shared,
                &page_behavior,
                &Method::GET,
                page,
                None,
                &HeaderMap::new(),
                peer,
                Bytes::new(),
                &request_id,
            )
            .await
            {
                response = page_response;
            }
        }
        let code = custom.response_code.unwrap_or(status);
        *response.status_mut() = StatusCode::from_u16(code).unwrap_or(response.status());
    }
    finish(&behavior, &request_id, &shared.config.domain, response)
}

/// What CloudFront adds to every response: the behaviour's headers policy and its own headers.
fn finish(behavior: &Behavior, request_id: &str, domain: &str, mut response: Response) -> Response {
    let headers = response.headers_mut();
    if let Some(policy) = &behavior.headers_policy {
        policy.apply(headers);
    }
    headers.insert("x-cache", HeaderValue::from_static("Miss from cloudfront"));
    if let Ok(via) = HeaderValue::try_from(format!("1.1 {domain} (CloudFront)")) {
        headers.append("via", via);
    }
    if let Ok(id) = HeaderValue::try_from(request_id) {
        headers.insert("x-amz-cf-id", id);
    }
    response
}

#[allow(clippy::too_many_arguments)]
async fn fetch(
    shared: &Shared,
    behavior: &Behavior,
    method: &Method,
    uri: &str,
    query: Option<&str>,
    viewer_headers: &HeaderMap,
    peer: SocketAddr,
    body: Bytes,
    request_id: &str,
) -> anyhow::Result<Response> {
    let (url, mut headers, method, body) = match &behavior.origin {
        Origin::S3 { bucket } => {
            // OAC signs GET and HEAD for the object; other methods are not for an S3 origin.
            let method = if method == Method::HEAD {
                Method::HEAD
            } else {
                Method::GET
            };
            let mut headers = HeaderMap::new();
            for name in [
                "range",
                "if-none-match",
                "if-modified-since",
                "if-match",
                "if-unmodified-since",
            ] {
                if let Some(v) = viewer_headers.get(name) {
                    headers.insert(name, v.clone());
                }
            }
            // The key as S3 canonicalises it: each segment decoded, then encoded once.
            let key_path: String = uri
                .split('/')
                .map(|segment| {
                    let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
                    percent_encoding::percent_encode(&decoded, S3_SEGMENT).to_string()
                })
                .collect::<Vec<_>>()
                .join("/");
            let path = format!("/{bucket}{key_path}");
            let host = shared
                .emulator
                .split_once("://")
                .map_or(shared.emulator.as_str(), |(_, h)| h)
                .to_owned();
            for (name, value) in sigv4(&method, &host, &path, time::OffsetDateTime::now_utc()) {
                headers.insert(name, HeaderValue::try_from(value)?);
            }
            (
                format!("{}{path}", shared.emulator),
                headers,
                method,
                Bytes::new(),
            )
        }
        Origin::Api { base } => {
            let mut url = format!("{base}{uri}");
            if let Some(q) = query {
                url.push('?');
                url.push_str(q);
            }
            let mut headers = HeaderMap::new();
            match behavior.forward {
                Forward::Minimal => {
                    if let Some(v) = viewer_headers.get("content-type") {
                        headers.insert("content-type", v.clone());
                    }
                }
                Forward::AllViewer | Forward::AllViewerExceptHost => {
                    for (name, value) in viewer_headers {
                        if is_hop_by_hop(name.as_str()) || name == "content-length" {
                            continue;
                        }
                        if name == "host" && behavior.forward == Forward::AllViewerExceptHost {
                            continue;
                        }
                        headers.append(name, value.clone());
                    }
                }
            }
            let forwarded_for = match viewer_headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
            {
                Some(prior) => format!("{prior}, {}", peer.ip()),
                None => peer.ip().to_string(),
            };
            headers.insert("x-forwarded-for", HeaderValue::try_from(forwarded_for)?);
            headers.insert("x-amz-cf-id", HeaderValue::try_from(request_id)?);
            headers.insert(
                "via",
                HeaderValue::try_from(format!("1.1 {} (CloudFront)", shared.config.domain))?,
            );
            (url, headers, method.clone(), body)
        }
    };
    headers.remove("host");
    let answer = shared
        .client
        .request(method, &url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .with_context(|| url.to_string())?;
    let mut status = answer.status();
    let mut out_headers = HeaderMap::new();
    for (name, value) in answer.headers() {
        if is_hop_by_hop(name.as_str()) || name.as_str().starts_with("x-amz-") || name == "server" {
            continue;
        }
        out_headers.append(name, value.clone());
    }
    let mut bytes = answer.bytes().await?;
    if matches!(behavior.origin, Origin::S3 { .. }) && status == StatusCode::NOT_FOUND {
        // Through OAC without s3:ListBucket, S3 answers a missing key 403 AccessDenied.
        status = StatusCode::FORBIDDEN;
        out_headers.clear();
        out_headers.insert("content-type", HeaderValue::from_static("application/xml"));
        bytes = Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>{request_id}</RequestId></Error>"
        ));
    }
    out_headers.remove("content-length");
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = out_headers;
    Ok(response)
}

/// The characters SigV4 leaves unencoded in a path segment (RFC 3986 unreserved).
const S3_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The headers of an Origin Access Control request: SigV4 for S3 (an empty payload), with the
/// emulator's credentials (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, else `test`).
fn sigv4(
    method: &Method,
    host: &str,
    path: &str,
    now: time::OffsetDateTime,
) -> Vec<(&'static str, String)> {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let hmac = |key: &[u8], data: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    let access = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "test".into());
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "test".into());
    let region = super::REGION;
    let date = format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        now.hour(),
        now.minute(),
        now.second()
    );
    let payload = hex(&Sha256::digest(b""));
    let canonical = format!(
        "{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{stamp}\n\nhost;x-amz-content-sha256;x-amz-date\n{payload}"
    );
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = ["s3", "aws4_request"].iter().fold(
        hmac(&hmac(format!("AWS4{secret}").as_bytes(), &date), region),
        |k, part| hmac(&k, part),
    );
    let signature = hex(&hmac(&key, &to_sign));
    vec![
        ("x-amz-date", stamp),
        ("x-amz-content-sha256", payload),
        (
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}"
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_node_process_is_replaced_when_it_dies() {
        let runner = FunctionRunner::default();
        let code =
            "function handler(event) { event.request.uri += '/index.html'; return event.request; }";
        let event = json!({"request": {"uri": "/a"}});
        let first = runner.run(code, &event).await.unwrap();
        assert_eq!(first["uri"], "/a/index.html");
        {
            let mut process = runner.process.lock().await;
            let node = process.as_mut().unwrap();
            node.child.kill().await.unwrap();
        }
        let again = runner.run(code, &event).await.unwrap();
        assert_eq!(again["uri"], "/a/index.html");
        // A function that throws is its own error, and the process stays.
        let err = runner
            .run("function handler() { throw new Error('no'); }", &event)
            .await
            .unwrap_err();
        assert!(err.is::<FunctionError>());
        assert!(runner.process.lock().await.is_some());
        // Code without a handler is refused.
        assert!(runner.run("var x = 1;", &event).await.is_err());
    }

    #[test]
    fn path_patterns_match_as_cloudfront_matches_them() {
        assert!(path_matches("/api/*", "/api/v1/products"));
        assert!(path_matches("api/*", "/api/v1"));
        assert!(!path_matches("/api/*", "/apix"));
        assert!(path_matches("*", "/anything/at/all"));
        assert!(path_matches("/images/*.jp?", "/images/a/b.jpg"));
        assert!(!path_matches("/images/*.jp?", "/images/a/b.jpeg"));
        assert!(path_matches("/a?c", "/abc"));
        assert!(!path_matches("/API/*", "/api/x"));
    }

    #[test]
    fn a_headers_policy_overrides_only_where_it_says_so() {
        let policy = HeadersPolicy::read(&json!({"ResponseHeadersPolicyConfig": {
            "SecurityHeadersConfig": {
                "StrictTransportSecurity": {"AccessControlMaxAgeSec": 63072000, "IncludeSubdomains": true, "Preload": false, "Override": true},
                "ReferrerPolicy": {"ReferrerPolicy": "no-referrer", "Override": false}
            },
            "CustomHeadersConfig": {"Items": [{"Header": "X-Extra", "Value": "1", "Override": true}]}
        }}))
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("referrer-policy", HeaderValue::from_static("origin"));
        headers.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=1"),
        );
        policy.apply(&mut headers);
        assert_eq!(headers["referrer-policy"], "origin");
        assert_eq!(
            headers["strict-transport-security"],
            "max-age=63072000; includeSubDomains"
        );
        assert_eq!(headers["x-extra"], "1");
    }

    #[test]
    fn a_function_event_carries_repeated_values_and_cookies_apart() {
        let config = Config {
            id: "E1".into(),
            domain: "d1.cloudfront.net".into(),
            default_root_object: None,
            behaviors: Vec::new(),
            error_responses: Vec::new(),
        };
        let mut headers = HeaderMap::new();
        headers.insert("cookie", HeaderValue::from_static("a=1; b=2"));
        headers.append("accept", HeaderValue::from_static("x"));
        headers.append("accept", HeaderValue::from_static("y"));
        let event = function_event(
            &config,
            "10.0.0.1",
            &Method::GET,
            "/p",
            Some("q=1&q=2&r=3"),
            &headers,
            "id",
        );
        assert_eq!(event["request"]["cookies"]["b"]["value"], "2");
        assert!(event["request"]["headers"].get("cookie").is_none());
        assert_eq!(
            event["request"]["headers"]["accept"]["multiValue"][1]["value"],
            "y"
        );
        assert_eq!(
            event["request"]["querystring"]["q"]["multiValue"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let (uri, query, back) = request_from_function(&event["request"]).unwrap();
        assert_eq!(uri, "/p");
        assert_eq!(query.as_deref(), Some("q=1&q=2&r=3"));
        assert_eq!(back["cookie"], "a=1; b=2");
        assert_eq!(back.get_all("accept").iter().count(), 2);
    }
}
