//! The REST API of the template (`AWS::ApiGateway::RestApi` with an OpenAPI `Body`), served the
//! way API Gateway serves it at `https://{api}.execute-api.{region}.amazonaws.com/{stage}/...`:
//!
//! - routing over the `Body`'s `paths`: at each segment a literal beats `{param}`, which beats
//!   `{proxy+}`; the resource is chosen first, then its method (or
//!   `x-amazon-apigateway-any-method`); no resource or no method is the gateway response
//!   `MISSING_AUTHENTICATION_TOKEN`, as on AWS;
//! - the Cognito user pool authorizer of an operation's `security` (a `securitySchemes` entry
//!   with `x-amazon-apigateway-authorizer` of type `cognito_user_pools`): the `Authorization`
//!   header's token (bare or after `Bearer `) checked for an RS256 signature by a key of the
//!   pool's JWKS (fetched from the emulator), `iss`, `exp`, and, with authorization scopes, an
//!   access token whose `scope` holds one of them (else an ID token); a failure is `UNAUTHORIZED`;
//! - the Lambda proxy integration (`aws_proxy`, payload format 1.0): the event built as API
//!   Gateway builds it, the function found by the ARN in the integration `uri`, its answer
//!   (`statusCode`, `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`) mapped back;
//!   a function error or a malformed answer is `502 {"message": "Internal server error"}`
//!   (rendered by `DEFAULT_5XX` when the template customises it), no answer within 29 s is
//!   `INTEGRATION_TIMEOUT`;
//! - binary media types (`BinaryMediaTypes` or `x-amazon-apigateway-binary-media-types`): a
//!   request body whose `Content-Type` matches one is passed base64-encoded; a base64 answer is
//!   decoded when the first media type of the request's `Accept` matches one (as the API Gateway
//!   Developer Guide, "Binary media types for REST APIs", says), else sent as the base64 text;
//! - the 10 MB payload limit (`REQUEST_TOO_LARGE`); the stage's throttling (`MethodSettings` of
//!   `/*` `*`: a token bucket of `ThrottlingRateLimit` per second holding up to
//!   `ThrottlingBurstLimit`) answering `THROTTLED`;
//! - gateway responses rendered from `x-amazon-apigateway-gateway-responses` (and
//!   `AWS::ApiGateway::GatewayResponse` resources): a type without a definition falls back to
//!   `DEFAULT_4XX`/`DEFAULT_5XX`, then to API Gateway's default body.
//!
//! Not done: API keys and usage plans, request validators, VTL mapping templates (a response
//! template is rendered with `$context.error.message(String)` and `$context.requestId` only),
//! caching, and authorizer result caching.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use super::{ACCOUNT, Invoke, InvokeError, REGION, Resolved, Source};

/// API Gateway's largest request payload.
pub const MAX_PAYLOAD: usize = 10 * 1024 * 1024;
/// API Gateway's integration timeout for a REST API (the default and the usual maximum).
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// The running REST API; stops when dropped.
pub struct RestApi {
    addr: SocketAddr,
    stage: String,
    api_id: String,
    shared: Arc<Shared>,
    server: Served,
}

impl RestApi {
    /// Serve the template's REST API on `listener`, invoking its functions through `invoker`.
    pub async fn start(
        listener: tokio::net::TcpListener,
        resolved: Arc<Resolved>,
        invoker: Arc<dyn Invoke>,
    ) -> anyhow::Result<RestApi> {
        Self::start_with_timeout(listener, resolved, invoker, INTEGRATION_TIMEOUT).await
    }

    /// As [`RestApi::start`], with another integration timeout (tests use a short one).
    pub async fn start_with_timeout(
        listener: tokio::net::TcpListener,
        resolved: Arc<Resolved>,
        invoker: Arc<dyn Invoke>,
        timeout: Duration,
    ) -> anyhow::Result<RestApi> {
        let api = ApiDefinition::read(&resolved)?;
        let jwks = JwksCache::new(resolved.emulator.clone());
        let addr = listener.local_addr()?;
        let stage = api.stage.clone();
        let api_id = api.id.clone();
        let shared = Arc::new(Shared {
            bucket: api
                .throttle
                .map(|(rate, burst)| Mutex::new(TokenBucket::new(rate, burst))),
            api,
            invoker,
            jwks,
            timeout,
            requests: AtomicU64::new(0),
        });
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(&shared));
        let server = Served::spawn(listener, app);
        Ok(RestApi {
            addr,
            stage,
            api_id,
            shared,
            server,
        })
    }

    /// `http://127.0.0.1:PORT`; the API is under `/{stage}/`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The stage name (the first path segment of every route).
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// The API's id (`Ref` of the `AWS::ApiGateway::RestApi`).
    pub fn api_id(&self) -> &str {
        &self.api_id
    }

    /// Requests received, answered or not.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Stop serving (also done on drop).
    pub fn stop(&self) {
        self.server.stop();
    }
}

impl Drop for RestApi {
    fn drop(&mut self) {
        self.server.stop();
    }
}

struct Shared {
    api: ApiDefinition,
    invoker: Arc<dyn Invoke>,
    jwks: JwksCache,
    bucket: Option<Mutex<TokenBucket>>,
    timeout: Duration,
    requests: AtomicU64,
}

/// A server that shuts down gracefully when stopped or dropped: it stops accepting, closes idle
/// connections and lets the requests under way finish.
pub(crate) struct Served {
    stop: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Served {
    pub(crate) fn spawn(listener: tokio::net::TcpListener, app: Router) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        });
        Self {
            stop: Mutex::new(Some(stop)),
        }
    }

    pub(crate) fn stop(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = stop.send(());
        }
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` held; starts full.
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Take one token; false when none is left.
    pub(crate) fn take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The parts of the template that make up the API.
#[derive(Debug)]
struct ApiDefinition {
    id: String,
    stage: String,
    /// `(rate per second, burst)` of the stage.
    throttle: Option<(f64, f64)>,
    resources: Vec<ApiResource>,
    binary_media_types: Vec<String>,
    gateway_responses: BTreeMap<String, GatewayResponse>,
}

#[derive(Debug)]
struct ApiResource {
    path: String,
    segments: Vec<Segment>,
    /// By upper-case method, `ANY` for `x-amazon-apigateway-any-method`.
    methods: BTreeMap<String, Operation>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

#[derive(Debug, Clone)]
struct Operation {
    /// The function's ARN, from the integration `uri`.
    function: String,
    /// `None`: no authorizer. `Some((pools, scopes))`: a Cognito authorizer.
    auth: Option<(Vec<String>, Vec<String>)>,
}

#[derive(Debug, Clone, Default)]
struct GatewayResponse {
    status: Option<u16>,
    headers: Vec<(String, String)>,
    template: Option<String>,
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A number that CloudFormation may hold as a string (`Ref` to a `Number` parameter).
pub(crate) fn number_of(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

impl ApiDefinition {
    fn read(resolved: &Resolved) -> anyhow::Result<Self> {
        let apis: Vec<_> = resolved.of_kind("AWS::ApiGateway::RestApi").collect();
        let [(logical, api)] = apis.as_slice() else {
            bail!(
                "the template declares {} AWS::ApiGateway::RestApi; the runner serves exactly one",
                apis.len()
            );
        };
        let body = api.properties.get("Body").ok_or_else(|| {
            anyhow!("{logical}: the RestApi has no Body (an OpenAPI document); the runner reads its routes from it")
        })?;
        let id = api.physical_id.clone();
        let stage_resource = resolved
            .of_kind("AWS::ApiGateway::Stage")
            .find(|(_, s)| str_of(&s.properties, "RestApiId") == Some(id.as_str()))
            .ok_or_else(|| anyhow!("{logical}: no AWS::ApiGateway::Stage of this RestApi"))?;
        let stage = str_of(&stage_resource.1.properties, "StageName")
            .ok_or_else(|| anyhow!("{}: the Stage has no StageName", stage_resource.0))?
            .to_owned();
        let throttle = stage_resource
            .1
            .properties
            .get("MethodSettings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|m| {
                str_of(m, "ResourcePath") == Some("/*") && str_of(m, "HttpMethod") == Some("*")
            })
            .and_then(|m| {
                Some((
                    number_of(m.get("ThrottlingRateLimit")?)?,
                    number_of(m.get("ThrottlingBurstLimit")?)?,
                ))
            });

        let mut authorizers = BTreeMap::new();
        let schemes = body
            .pointer("/components/securitySchemes")
            .or_else(|| body.get("securityDefinitions"))
            .and_then(Value::as_object);
        for (name, scheme) in schemes.into_iter().flatten() {
            let Some(authorizer) = scheme.get("x-amazon-apigateway-authorizer") else {
                continue;
            };
            let kind = str_of(authorizer, "type").unwrap_or_default();
            if kind != "cognito_user_pools" {
                bail!(
                    "{logical}: authorizer {name} is of type {kind}; the runner runs cognito_user_pools only"
                );
            }
            let mut pools = Vec::new();
            for arn in authorizer
                .get("providerARNs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let arn = arn.as_str().unwrap_or_default();
                let pool = arn
                    .rsplit_once("userpool/")
                    .map(|(_, p)| p)
                    .ok_or_else(|| {
                        anyhow!("{logical}: authorizer {name}: {arn} is not a user pool ARN")
                    })?;
                pools.push(pool.to_owned());
            }
            authorizers.insert(name.clone(), pools);
        }

        let mut resources = Vec::new();
        for (path, item) in body
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let segments = parse_path(path)
                .with_context(|| format!("{logical}: the path {path} of the Body"))?;
            let mut methods = BTreeMap::new();
            for (method, op) in item.as_object().into_iter().flatten() {
                let method = match method.as_str() {
                    "x-amazon-apigateway-any-method" => "ANY".to_owned(),
                    m @ ("get" | "put" | "post" | "delete" | "options" | "head" | "patch") => {
                        m.to_ascii_uppercase()
                    }
                    _ => continue,
                };
                let integration = op.get("x-amazon-apigateway-integration").ok_or_else(|| {
                    anyhow!("{logical}: {method} {path} has no x-amazon-apigateway-integration")
                })?;
                let kind = str_of(integration, "type").unwrap_or_default();
                if !kind.eq_ignore_ascii_case("aws_proxy") {
                    bail!(
                        "{logical}: {method} {path}: integration type {kind}; the runner runs aws_proxy only"
                    );
                }
                let uri = str_of(integration, "uri").unwrap_or_default();
                let function = uri
                    .split_once("/functions/")
                    .and_then(|(_, rest)| rest.strip_suffix("/invocations"))
                    .ok_or_else(|| {
                        anyhow!("{logical}: {method} {path}: integration uri {uri} names no Lambda function")
                    })?
                    .to_owned();
                let mut auth = None;
                for requirement in op
                    .get("security")
                    .or_else(|| body.get("security"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    for (scheme, scopes) in requirement.as_object().into_iter().flatten() {
                        let pools = authorizers.get(scheme).ok_or_else(|| {
                            anyhow!("{logical}: {method} {path}: security scheme {scheme} is not declared")
                        })?;
                        let scopes = scopes
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect();
                        auth = Some((pools.clone(), scopes));
                    }
                }
                methods.insert(method, Operation { function, auth });
            }
            resources.push(ApiResource {
                path: path.clone(),
                segments,
                methods,
            });
        }

        let mut binary_media_types: Vec<String> = api
            .properties
            .get("BinaryMediaTypes")
            .or_else(|| body.get("x-amazon-apigateway-binary-media-types"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            // CloudFormation's BinaryMediaTypes escape `/` as `~1`.
            .map(|t| t.replace("~1", "/"))
            .collect();
        binary_media_types.dedup();

        let mut gateway_responses = BTreeMap::new();
        for (kind, def) in body
            .get("x-amazon-apigateway-gateway-responses")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            gateway_responses.insert(
                kind.clone(),
                GatewayResponse::read(
                    def.get("statusCode"),
                    def.get("responseParameters"),
                    def.get("responseTemplates"),
                ),
            );
        }
        for (_, r) in resolved.of_kind("AWS::ApiGateway::GatewayResponse") {
            if str_of(&r.properties, "RestApiId") != Some(id.as_str()) {
                continue;
            }
            if let Some(kind) = str_of(&r.properties, "ResponseType") {
                gateway_responses.insert(
                    kind.to_owned(),
                    GatewayResponse::read(
                        r.properties.get("StatusCode"),
                        r.properties.get("ResponseParameters"),
                        r.properties.get("ResponseTemplates"),
                    ),
                );
            }
        }

        Ok(Self {
            id,
            stage,
            throttle,
            resources,
            binary_media_types,
            gateway_responses,
        })
    }

    /// The resource for `path` (below the stage), by API Gateway's precedence, with its path
    /// parameters.
    fn route(&self, path: &str) -> Option<(&ApiResource, BTreeMap<String, String>)> {
        let parts: Vec<&str> = if path == "/" || path.is_empty() {
            Vec::new()
        } else {
            path.trim_start_matches('/').split('/').collect()
        };
        let mut best: Option<(Vec<u8>, &ApiResource, BTreeMap<String, String>)> = None;
        for resource in &self.resources {
            if let Some((rank, params)) = match_segments(&resource.segments, &parts)
                && best.as_ref().is_none_or(|(b, _, _)| rank < *b)
            {
                best = Some((rank, resource, params));
            }
        }
        best.map(|(_, r, p)| (r, p))
    }

    fn is_binary(&self, content_type: Option<&str>) -> bool {
        let Some(content_type) = content_type else {
            return false;
        };
        let media = content_type
            .split([';', ','])
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        self.binary_media_types.iter().any(|t| {
            let t = t.to_ascii_lowercase();
            t == media
                || t == "*/*"
                || t.strip_suffix("/*")
                    .is_some_and(|major| media.split('/').next() == Some(major))
        })
    }
}

fn parse_path(path: &str) -> anyhow::Result<Vec<Segment>> {
    if !path.starts_with('/') {
        bail!("does not start with /");
    }
    let mut segments = Vec::new();
    let parts: Vec<&str> = path[1..].split('/').filter(|s| !s.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            if i + 1 != parts.len() {
                bail!("a greedy {{{name}+}} must be the last segment");
            }
            segments.push(Segment::Greedy(name.to_owned()));
        } else if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            segments.push(Segment::Param(name.to_owned()));
        } else {
            segments.push(Segment::Literal((*part).to_owned()));
        }
    }
    Ok(segments)
}

/// Whether `segments` match `parts`; the rank orders matches (lower is more specific): one
/// digit per segment, 0 literal, 1 parameter, 2 greedy, compared left to right.
fn match_segments(
    segments: &[Segment],
    parts: &[&str],
) -> Option<(Vec<u8>, BTreeMap<String, String>)> {
    let mut rank = Vec::new();
    let mut params = BTreeMap::new();
    for (i, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Greedy(name) => {
                if i >= parts.len() {
                    return None;
                }
                params.insert(name.clone(), parts[i..].join("/"));
                rank.push(2);
                return Some((rank, params));
            }
            Segment::Literal(l) => {
                if parts.get(i) != Some(&l.as_str()) {
                    return None;
                }
                rank.push(0);
            }
            Segment::Param(name) => {
                let part = parts.get(i).filter(|p| !p.is_empty())?;
                params.insert(name.clone(), percent_decode(part));
                rank.push(1);
            }
        }
    }
    (segments.len() == parts.len()).then_some((rank, params))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl GatewayResponse {
    fn read(status: Option<&Value>, params: Option<&Value>, templates: Option<&Value>) -> Self {
        let status = status.and_then(number_of).map(|n| n as u16);
        let headers = params
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("gatewayresponse.header.")?;
                let value = v.as_str()?;
                // Only static values ('...') are rendered; a mapping expression is skipped.
                let value = value.strip_prefix('\'')?.strip_suffix('\'')?;
                Some((name.to_owned(), value.to_owned()))
            })
            .collect();
        let template = templates
            .and_then(|t| t.get("application/json"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        Self {
            status,
            headers,
            template,
        }
    }
}

/// API Gateway's default status and message of a gateway response type.
fn default_response(kind: &str) -> (u16, &'static str) {
    match kind {
        "ACCESS_DENIED" => (403, "Forbidden"),
        "EXPIRED_TOKEN" => (403, "The security token included in the request is expired"),
        "INTEGRATION_FAILURE" => (504, "Internal server error"),
        "INTEGRATION_TIMEOUT" => (504, "Endpoint request timed out"),
        "MISSING_AUTHENTICATION_TOKEN" => (403, "Missing Authentication Token"),
        "REQUEST_TOO_LARGE" => (413, "Request Too Long"),
        "RESOURCE_NOT_FOUND" => (404, "Not Found"),
        "THROTTLED" => (429, "Too Many Requests"),
        "UNAUTHORIZED" => (401, "Unauthorized"),
        "WAF_FILTERED" => (403, "Forbidden"),
        _ => (500, "Internal server error"),
    }
}

impl Shared {
    /// The gateway response `kind`, with `status` overriding the type's default status (a
    /// Lambda error is a 502 rendered by `DEFAULT_5XX`).
    fn gateway_response(&self, kind: &str, status: Option<u16>, request_id: &str) -> Response {
        let (default_status, message) = default_response(kind);
        let status = status.unwrap_or(default_status);
        let fallback = if status >= 500 {
            "DEFAULT_5XX"
        } else {
            "DEFAULT_4XX"
        };
        let defined = self
            .api
            .gateway_responses
            .get(kind)
            .or_else(|| self.api.gateway_responses.get(fallback))
            .cloned()
            .unwrap_or_default();
        let status = defined.status.unwrap_or(status);
        let message_json = serde_json::to_string(message).unwrap_or_default();
        let body = match defined.template {
            Some(t) => t
                .replace("$context.error.messageString", &message_json)
                .replace("$context.error.message", message)
                .replace("$context.requestId", request_id),
            None => json!({ "message": message }).to_string(),
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-amzn-errortype", header_value(kind_error_type(kind)));
        for (name, value) in defined.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                headers.insert(n, v);
            }
        }
        headers.insert("x-amzn-requestid", header_value(request_id));
        response
    }
}

fn kind_error_type(kind: &str) -> &'static str {
    match kind {
        "MISSING_AUTHENTICATION_TOKEN" => "IncompleteSignatureException",
        "UNAUTHORIZED" => "UnauthorizedException",
        "THROTTLED" => "TooManyRequestsException",
        "REQUEST_TOO_LARGE" => "RequestTooLargeException",
        "ACCESS_DENIED" => "AccessDeniedException",
        _ => "InternalServerErrorException",
    }
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A request id in API Gateway's shape (a UUID).
pub(crate) fn request_id() -> String {
    let u = ulid::Ulid::new().0.to_be_bytes();
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `dd/Mon/yyyy:HH:mm:ss +0000`, API Gateway's `requestTime`.
pub(crate) fn request_time(now: time::OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        now.day(),
        MONTHS[usize::from(u8::from(now.month())) - 1],
        now.year(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Headers as API Gateway gives them to a function: the last value in `headers`, every value
/// in `multiValueHeaders`; `None` (JSON `null`) when there are none.
pub(crate) fn header_maps(headers: &HeaderMap) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single.insert(name.as_str().to_owned(), Value::String(value.clone()));
        if let Some(a) = multi
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            a.push(Value::String(value))
        }
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), Value::Object(multi))
    }
}

/// The query string as `queryStringParameters` (last value) and
/// `multiValueQueryStringParameters`; `null` when empty.
pub(crate) fn query_maps(query: Option<&str>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        single.insert(k.to_string(), Value::String(v.to_string()));
        if let Some(a) = multi
            .entry(k.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
        {
            a.push(Value::String(v.to_string()))
        }
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), Value::Object(multi))
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let request_id = request_id();
    let (parts, body) = request.into_parts();
    let raw_path = parts.uri.path().to_owned();
    let stage_prefix = format!("/{}", shared.api.stage);
    let path = if raw_path == stage_prefix {
        Some("/".to_owned())
    } else {
        raw_path
            .strip_prefix(&format!("{stage_prefix}/"))
            .map(|rest| format!("/{rest}"))
    };
    let Some(path) = path else {
        // Outside the stage: API Gateway answers as for a missing route.
        return shared.gateway_response("MISSING_AUTHENTICATION_TOKEN", None, &request_id);
    };

    if let Some(bucket) = &shared.bucket
        && !bucket.lock().unwrap_or_else(|e| e.into_inner()).take()
    {
        return shared.gateway_response("THROTTLED", None, &request_id);
    }

    let method = parts.method.as_str().to_ascii_uppercase();
    let Some((resource, path_params)) = shared.api.route(&path) else {
        return shared.gateway_response("MISSING_AUTHENTICATION_TOKEN", None, &request_id);
    };
    let Some(operation) = resource
        .methods
        .get(&method)
        .or_else(|| resource.methods.get("ANY"))
    else {
        return shared.gateway_response("MISSING_AUTHENTICATION_TOKEN", None, &request_id);
    };

    let body = match axum::body::to_bytes(body, MAX_PAYLOAD + 1).await {
        Ok(b) if b.len() <= MAX_PAYLOAD => b,
        _ => return shared.gateway_response("REQUEST_TOO_LARGE", None, &request_id),
    };

    let claims = match &operation.auth {
        None => None,
        Some((pools, scopes)) => {
            let token = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                        .unwrap_or(v)
                        .trim()
                });
            let Some(token) = token.filter(|t| !t.is_empty()) else {
                return shared.gateway_response("UNAUTHORIZED", None, &request_id);
            };
            match shared.jwks.authorize(token, pools, scopes).await {
                Ok(claims) => Some(claims),
                Err(why) => {
                    tracing::debug!(%why, "the Cognito authorizer refused a token");
                    return shared.gateway_response("UNAUTHORIZED", None, &request_id);
                }
            }
        }
    };

    let domain = format!("{}.execute-api.{REGION}.amazonaws.com", shared.api.id);
    let mut headers = parts.headers.clone();
    headers.insert("host", header_value(&domain));
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    headers.insert("x-forwarded-for", header_value(&forwarded_for));
    headers.insert("x-forwarded-port", HeaderValue::from_static("443"));
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    let source_ip = forwarded_for
        .split(',')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let (single_headers, multi_headers) = header_maps(&headers);
    let (query, multi_query) = query_maps(parts.uri.query());
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let binary = shared.api.is_binary(content_type);
    let (body_value, is_base64) = if body.is_empty() {
        (Value::Null, false)
    } else if binary {
        (Value::String(STANDARD.encode(&body)), true)
    } else {
        (
            Value::String(String::from_utf8_lossy(&body).into_owned()),
            false,
        )
    };
    let now = time::OffsetDateTime::now_utc();
    let user_agent = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map_or(Value::Null, |s| Value::String(s.to_owned()));
    let path_parameters = if path_params.is_empty() {
        Value::Null
    } else {
        json!(path_params)
    };
    let mut authorizer = Value::Null;
    if let Some(claims) = claims {
        authorizer = json!({ "claims": claims });
    }
    let event = json!({
        "resource": resource.path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": Value::Null,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": shared.api.id,
            "authorizer": authorizer,
            "domainName": domain,
            "domainPrefix": shared.api.id,
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": null, "accountId": null, "caller": null,
                "cognitoAuthenticationProvider": null, "cognitoAuthenticationType": null,
                "cognitoIdentityId": null, "cognitoIdentityPoolId": null,
                "principalOrgId": null, "sourceIp": source_ip, "user": null,
                "userAgent": user_agent, "userArn": null,
            },
            "path": format!("{stage_prefix}{path}"),
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": request_time(now),
            "requestTimeEpoch": (now.unix_timestamp_nanos() / 1_000_000) as i64,
            "resourceId": resource_id(&resource.path),
            "resourcePath": resource.path,
            "stage": shared.api.stage,
        },
        "body": body_value,
        "isBase64Encoded": is_base64,
    });

    let answer = tokio::time::timeout(
        shared.timeout,
        shared
            .invoker
            .invoke(&operation.function, Source::RestApi, event),
    )
    .await;
    let answer = match answer {
        Err(_) | Ok(Err(InvokeError::Timeout)) => {
            return shared.gateway_response("INTEGRATION_TIMEOUT", None, &request_id);
        }
        Ok(Err(e)) => {
            tracing::warn!(function = %operation.function, error = %e, "REST API integration failed");
            return shared.gateway_response("DEFAULT_5XX", Some(502), &request_id);
        }
        Ok(Ok(answer)) => answer,
    };
    let accept = headers.get("accept").and_then(|v| v.to_str().ok());
    // "API Gateway uses the first Accept header from clients to determine if a response should
    // return binary media" (API Gateway Developer Guide, "Binary media types for REST APIs").
    let binary_answer = match accept {
        Some(accept) => shared.api.is_binary(Some(accept)),
        None => shared.api.binary_media_types.iter().any(|t| t == "*/*"),
    };
    match proxy_response(&answer, binary_answer) {
        Ok(mut response) => {
            response
                .headers_mut()
                .insert("x-amzn-requestid", header_value(&request_id));
            response
        }
        Err(why) => {
            tracing::warn!(function = %operation.function, %why, "malformed Lambda proxy response");
            shared.gateway_response("DEFAULT_5XX", Some(502), &request_id)
        }
    }
}

/// A resource id in API Gateway's shape (six lowercase characters), stable per path.
fn resource_id(path: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|i| {
            let d = ((h >> (i * 5)) % 36) as u8;
            char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 })
        })
        .collect()
}

/// The function's proxy answer as an HTTP response; `decode_binary` says whether a base64 body
/// is decoded (else it is sent as its base64 text).
fn proxy_response(answer: &Value, decode_binary: bool) -> anyhow::Result<Response> {
    let object = answer
        .as_object()
        .ok_or_else(|| anyhow!("the answer is not a JSON object"))?;
    for key in object.keys() {
        if !matches!(
            key.as_str(),
            "statusCode" | "headers" | "multiValueHeaders" | "body" | "isBase64Encoded"
        ) {
            bail!("the answer has an unexpected field {key}");
        }
    }
    let status = object
        .get("statusCode")
        .map(|s| number_of(s).ok_or_else(|| anyhow!("statusCode is not a number")))
        .transpose()?
        .unwrap_or(200.0) as u16;
    let mut response = Response::new(Body::empty());
    *response.status_mut() =
        StatusCode::from_u16(status).map_err(|_| anyhow!("statusCode {status} is not valid"))?;
    let headers = response.headers_mut();
    if let Some(h) = object.get("headers").filter(|h| !h.is_null()) {
        for (name, value) in h
            .as_object()
            .ok_or_else(|| anyhow!("headers is not an object"))?
        {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers.insert(
                HeaderName::try_from(name.as_str())?,
                HeaderValue::try_from(value)?,
            );
        }
    }
    if let Some(h) = object.get("multiValueHeaders").filter(|h| !h.is_null()) {
        for (name, values) in h
            .as_object()
            .ok_or_else(|| anyhow!("multiValueHeaders is not an object"))?
        {
            let name = HeaderName::try_from(name.as_str())?;
            headers.remove(&name);
            for value in values
                .as_array()
                .ok_or_else(|| anyhow!("multiValueHeaders.{name} is not a list"))?
            {
                let value = match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                headers.append(&name, HeaderValue::try_from(value)?);
            }
        }
    }
    if !headers.contains_key("content-type") {
        headers.insert("content-type", HeaderValue::from_static("application/json"));
    }
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            let base64 = object
                .get("isBase64Encoded")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if base64 && decode_binary {
                STANDARD
                    .decode(s)
                    .map_err(|_| anyhow!("isBase64Encoded but the body is not base64"))?
            } else {
                s.clone().into_bytes()
            }
        }
        Some(_) => bail!("body is not a string"),
    };
    *response.body_mut() = Body::from(body);
    Ok(response)
}

/// The user pools' keys, fetched from the emulator once per pool (and again for an unknown
/// `kid`).
pub(crate) struct JwksCache {
    emulator: String,
    client: reqwest::Client,
    keys: tokio::sync::Mutex<BTreeMap<String, BTreeMap<String, rsa::RsaPublicKey>>>,
}

impl JwksCache {
    pub(crate) fn new(emulator: String) -> Self {
        Self {
            emulator: emulator.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            keys: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }

    async fn key(&self, pool: &str, kid: &str) -> anyhow::Result<rsa::RsaPublicKey> {
        let mut keys = self.keys.lock().await;
        if let Some(key) = keys.get(pool).and_then(|k| k.get(kid)) {
            return Ok(key.clone());
        }
        let url = format!("{}/{pool}/.well-known/jwks.json", self.emulator);
        let jwks: Value = self
            .client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?
            .error_for_status()?
            .json()
            .await
            .with_context(|| format!("{url} is not JSON"))?;
        let mut found = BTreeMap::new();
        for k in jwks
            .get("keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(id), Some(n), Some(e)) = (str_of(k, "kid"), str_of(k, "n"), str_of(k, "e"))
            else {
                continue;
            };
            if str_of(k, "kty") != Some("RSA") {
                continue;
            }
            let n = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(n)?);
            let e = rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(e)?);
            found.insert(id.to_owned(), rsa::RsaPublicKey::new(n, e)?);
        }
        let key = found.get(kid).cloned();
        keys.insert(pool.to_owned(), found);
        key.ok_or_else(|| anyhow!("no key {kid} in the JWKS of {pool}"))
    }

    /// Check `token` as a Cognito user pool authorizer with `pools` and `scopes` does; the
    /// claims as API Gateway passes them (every value a string).
    pub(crate) async fn authorize(
        &self,
        token: &str,
        pools: &[String],
        scopes: &[String],
    ) -> anyhow::Result<Map<String, Value>> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!("not a JWT");
        };
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h)?)?;
        if str_of(&header, "alg") != Some("RS256") {
            bail!("not RS256");
        }
        let kid = str_of(&header, "kid").ok_or_else(|| anyhow!("no kid"))?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p)?)?;
        let iss = str_of(&claims, "iss").ok_or_else(|| anyhow!("no iss"))?;
        let pool = pools
            .iter()
            .find(|pool| iss == format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}"))
            .ok_or_else(|| anyhow!("iss {iss} is none of the authorizer's pools"))?;
        let key = self.key(pool, kid).await?;
        let signature = rsa::pkcs1v15::Signature::try_from(URL_SAFE_NO_PAD.decode(s)?.as_slice())?;
        use rsa::signature::Verifier;
        rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key)
            .verify(&token.as_bytes()[..h.len() + 1 + p.len()], &signature)
            .map_err(|_| anyhow!("bad signature"))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| anyhow!("no exp"))?;
        if exp <= now {
            bail!("expired");
        }
        let token_use = str_of(&claims, "token_use").unwrap_or_default();
        if scopes.is_empty() {
            if token_use != "id" {
                bail!("an ID token is required (no authorization scopes), got {token_use}");
            }
        } else {
            if token_use != "access" {
                bail!("an access token is required (authorization scopes), got {token_use}");
            }
            let held = str_of(&claims, "scope").unwrap_or_default();
            if !held.split(' ').any(|s| scopes.iter().any(|w| w == s)) {
                bail!("the token's scope {held:?} holds none of {scopes:?}");
            }
        }
        let mut flat = Map::new();
        for (k, v) in claims.as_object().into_iter().flatten() {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            flat.insert(k.clone(), Value::String(text));
        }
        Ok(flat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(paths: &[&str]) -> ApiDefinition {
        ApiDefinition {
            id: "abc".into(),
            stage: "prod".into(),
            throttle: None,
            resources: paths
                .iter()
                .map(|p| ApiResource {
                    path: (*p).into(),
                    segments: parse_path(p).unwrap(),
                    methods: BTreeMap::new(),
                })
                .collect(),
            binary_media_types: vec!["image/*".into(), "application/octet-stream".into()],
            gateway_responses: BTreeMap::new(),
        }
    }

    #[test]
    fn literal_beats_parameter_beats_greedy() {
        let api = def(&[
            "/api/{proxy+}",
            "/api/v1/orders/{proxy+}",
            "/api/v1/orders",
            "/api/v1/{thing}",
            "/api/v1/cart/merge",
        ]);
        let route = |p: &str| api.route(p).map(|(r, params)| (r.path.clone(), params));
        assert_eq!(route("/api/v1/orders").unwrap().0, "/api/v1/orders");
        assert_eq!(route("/api/v1/cart").unwrap().0, "/api/v1/{thing}");
        assert_eq!(route("/api/v1/cart").unwrap().1["thing"], "cart");
        assert_eq!(route("/api/v1/cart/merge").unwrap().0, "/api/v1/cart/merge");
        let (path, params) = route("/api/v1/orders/01J/cancel").unwrap();
        assert_eq!(path, "/api/v1/orders/{proxy+}");
        assert_eq!(params["proxy"], "01J/cancel");
        assert_eq!(route("/api/v2/x/y").unwrap().0, "/api/{proxy+}");
        // A greedy parameter needs at least one segment.
        assert!(route("/api").is_none());
        assert!(route("/other").is_none());
    }

    #[test]
    fn binary_media_types_match_wildcards_and_parameters() {
        let api = def(&[]);
        assert!(api.is_binary(Some("image/png")));
        assert!(api.is_binary(Some("application/octet-stream; charset=x")));
        assert!(!api.is_binary(Some("application/json")));
        assert!(!api.is_binary(None));
    }

    #[test]
    fn a_token_bucket_allows_the_burst_then_refuses() {
        let mut bucket = TokenBucket::new(0.0, 3.0);
        assert!(bucket.take() && bucket.take() && bucket.take());
        assert!(!bucket.take());
    }

    #[test]
    fn a_malformed_proxy_answer_is_refused() {
        assert!(proxy_response(&json!({"statusCode": 200, "bogus": 1}), false).is_err());
        assert!(proxy_response(&json!("text"), false).is_err());
        assert!(proxy_response(&json!({"statusCode": 200, "body": 5}), false).is_err());
        let r = proxy_response(
            &json!({"statusCode": 201, "headers": {"x-a": "1"}, "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]}, "body": "aGk=", "isBase64Encoded": true}),
            true,
        )
        .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn request_time_is_in_api_gateways_format() {
        let t = time::OffsetDateTime::from_unix_timestamp(1_795_867_200).unwrap();
        assert_eq!(request_time(t), "28/Nov/2026:12:00:00 +0000");
    }
}
