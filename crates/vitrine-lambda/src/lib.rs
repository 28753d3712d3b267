//! The Lambda plumbing every vitrine Lambda binary shares: JSON logs, the typed environment, the
//! API Gateway stage prefix, and reporting a failed cold start to the Runtime API.
//!
//! Each binary in `src/bin/` is one Lambda function and an AWS composition root: it reads the
//! environment once, builds its clients once per cold start (before the runtime loop starts), and
//! hands the same axum router `vitrine serve` uses to `lambda_http`. Every function that runs the
//! application builds it with [`compose_from_env`]: the resources ([`AwsEnv`]), the business
//! settings (`vitrine_app::Settings::from_lookup`, the function `vitrine serve` reads its own
//! with) and the payment providers ([`payments`]), all from the function's environment.
//!
//! Invariants:
//! - Logs are one JSON object per line on stdout; crates that log request or response payloads
//!   at debug/trace level are capped at info ([`PAYLOAD_LOGGING_TARGETS`]), whatever the log level
//!   asked for, so no personal data reaches CloudWatch through them.
//! - The router sees the path API Gateway routed on, with no stage in front, for REST (v1) and
//!   HTTP API (v2) events alike, with or without `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`
//!   ([`StagePrefix`]).
//! - A cold start that fails is reported to `/runtime/init/error` before the process exits, so
//!   Lambda shows why instead of a bare `Runtime.ExitError`.
//!
//! ## Why a path-rewriting layer rather than `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`
//!
//! `lambda_http` puts `/{stage}` in front of the path unless that variable is set. The variable
//! alone is not enough, and not testable here:
//! - An HTTP API (v2) with a named stage sends `rawPath` *with* the stage in it
//!   (`/prod/api/v1/products`); the variable keeps that path as it is, so v2 named stages still
//!   miss every route.
//! - It is read from the process environment on every request; tests cannot set it (edition 2024
//!   makes `std::env::set_var` unsafe and the workspace forbids `unsafe`), so the plain
//!   `from_str` → router tests could never cover what Lambda actually runs.
//! - Forgetting it in the template would 404 every route, with nothing failing at build time.
//!
//! [`StagePrefix`] instead removes exactly the prefixes that were not part of the routed path:
//! the one `lambda_http` added (known from its own rule and whether the variable is set, read
//! once at cold start), and the one an HTTP API puts in `rawPath`. It works whether or not the
//! template sets the variable, and the same code runs in the tests and on Lambda.

pub mod carrier;
pub mod emf;
pub mod events;
pub mod invoices;
pub mod payments;
pub mod ws;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::http::Uri;
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::{RequestExt as _, Service};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use vitrine_app::keys::Keys;
use vitrine_app::ports::{SystemClock, UlidIds};
use vitrine_app::{App, Settings};

/// The variable with which `lambda_http` is told not to put the stage in front of paths.
pub const IGNORE_STAGE_ENV: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";

/// Crates that log whole events, requests or responses (which hold personal data) at debug or
/// trace level: `lambda_runtime` logs every raw event at trace, the AWS SDK's runtime and hyper
/// log bodies and headers. They never log below info, whatever the requested level.
pub const PAYLOAD_LOGGING_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_sigv4",
    "aws_config",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "reqwest",
];

/// Set up logging, once per process: JSON lines on stdout (CloudWatch's structured format),
/// at the level of `AWS_LAMBDA_LOG_LEVEL` (Lambda's logging controls) or `RUST_LOG`, `info` by
/// default. Calling it again does nothing.
pub fn init_tracing() {
    let spec = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .map(|level| lambda_level(&level).to_owned())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_default();
    let _already_set = tracing_subscriber::fmt()
        .json()
        .with_env_filter(log_filter(&spec))
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .with_target(true)
        .with_current_span(true)
        .with_span_list(false)
        .try_init();
}

/// Lambda's log levels (`TRACE` … `FATAL`) as tracing filter directives.
fn lambda_level(level: &str) -> &'static str {
    match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => "info",
    }
}

/// The filter for `spec` (RUST_LOG syntax), with [`PAYLOAD_LOGGING_TARGETS`] capped at info.
pub fn log_filter(spec: &str) -> EnvFilter {
    let mut filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse_lossy(spec);
    for target in PAYLOAD_LOGGING_TARGETS {
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Takes the API Gateway stage out of request paths (see the module docs for why this is a
/// layer). Built once per cold start with [`StagePrefix::from_env`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StagePrefix {
    /// Whether `lambda_http` was told not to add the stage (it then leaves paths as sent).
    lambda_http_adds_stage: bool,
}

impl StagePrefix {
    /// What this process's `lambda_http` does, from [`IGNORE_STAGE_ENV`] (read as `lambda_http`
    /// reads it: set to anything means "ignore the stage").
    pub fn from_env() -> Self {
        Self::new(std::env::var(IGNORE_STAGE_ENV).is_err())
    }

    /// `lambda_http_adds_stage` is false when [`IGNORE_STAGE_ENV`] is set for `lambda_http`.
    pub const fn new(lambda_http_adds_stage: bool) -> Self {
        Self {
            lambda_http_adds_stage,
        }
    }

    /// The request with the path API Gateway routed on: no stage in front. Requests that did not
    /// come from an API Gateway REST or HTTP API event pass unchanged.
    pub fn strip<B>(self, mut req: axum::http::Request<B>) -> axum::http::Request<B> {
        let (stage, stage_in_raw_path) = match req.extensions().get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV1(ctx)) => (ctx.stage.clone(), false),
            Some(RequestContext::ApiGatewayV2(ctx)) => (ctx.stage.clone(), true),
            _ => return req,
        };
        let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
            return req;
        };
        let prefix = format!("/{stage}");
        let raw = req.raw_http_path();
        let raw_starts_with_stage = raw
            .strip_prefix(&prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        // `lambda_http`'s own rule: it adds `/{stage}` unless told not to or unless the raw path
        // already starts with `/{stage}/`.
        let added = self.lambda_http_adds_stage && !raw.starts_with(&format!("{prefix}/"));
        // An HTTP API puts the (named) stage in `rawPath`; a REST API's `path` never has it.
        let sent = stage_in_raw_path && raw_starts_with_stage;
        let count = usize::from(added) + usize::from(sent);
        if count == 0 {
            return req;
        }
        let mut path = req.uri().path();
        for _ in 0..count {
            path = match path.strip_prefix(&prefix) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
                _ => path,
            };
        }
        let path = if path.is_empty() { "/" } else { path };
        let path_and_query = match req.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        match path_and_query.parse() {
            Ok(pq) => parts.path_and_query = Some(pq),
            Err(_) => return req,
        }
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
        req
    }
}

/// The router as the Lambda runtime calls it: stage prefix removed before routing (a
/// `Router::layer` would run after routing, too late).
pub fn lambda_service(
    router: Router,
    stage: StagePrefix,
) -> impl Service<lambda_http::Request, Response = Response, Error = Infallible, Future: Send + 'static>
+ Clone
+ Send
+ 'static {
    let inner = router.map_request(move |req: lambda_http::Request| stage.strip(req));
    tower::service_fn(move |req: lambda_http::Request| {
        // The invocation's X-Ray trace: the AWS calls made for this request are its subsegments.
        let trace = req
            .lambda_context_ref()
            .and_then(|c| c.xray_trace_id.clone());
        let call = inner.clone().oneshot(req);
        async move { xray_scope(trace.as_deref(), call).await }
    })
}

/// Run `f` with its AWS calls sent as subsegments of the invocation's trace `header` to the
/// X-Ray daemon Lambda names (`vitrine_aws::xray`); without either, just run it.
pub async fn xray_scope<F: std::future::Future>(header: Option<&str>, f: F) -> F::Output {
    static DAEMON: std::sync::OnceLock<Option<vitrine_aws::xray::Daemon>> =
        std::sync::OnceLock::new();
    let daemon = DAEMON
        .get_or_init(vitrine_aws::xray::Daemon::from_env)
        .clone();
    let trace = header.and_then(vitrine_aws::xray::TraceHeader::parse);
    vitrine_aws::xray::scope(daemon.zip(trace), f).await
}

/// Serve `router` to API Gateway events until the runtime stops: the last step of an HTTP
/// Lambda's `main`, once everything is built.
pub async fn run_http(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_service(router, StagePrefix::from_env())).await
}

/// The settings of the AWS resources a Lambda function runs on, from its environment (the
/// template sets them from its own resources). Read once per cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsEnv {
    /// `AWS_REGION` (set by Lambda).
    pub region: String,
    /// `AWS_ENDPOINT_URL`: another endpoint than AWS's (the local emulator).
    pub endpoint: Option<String>,
    /// `VITRINE_TABLE`: the DynamoDB table.
    pub table: String,
    /// `VITRINE_BUCKET`: the S3 bucket.
    pub bucket: String,
    /// `VITRINE_USER_POOL_ID`: the Cognito user pool.
    pub user_pool_id: String,
    /// `VITRINE_CLIENT_ID`: the pool's app client for the storefront.
    pub client_id: String,
    /// `VITRINE_MAIL_FROM`: the SES-verified sender.
    pub mail_from: String,
    /// `VITRINE_REPORTS_BUCKET` (optional): the bucket of the sales reports (`reports/…`);
    /// unset or empty, they are kept in [`AwsEnv::bucket`].
    pub reports_bucket: Option<String>,
}

impl AwsEnv {
    /// Read from the process environment; names every missing variable at once.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read through `get` (tests pass a map rather than touch the process environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut missing = Vec::new();
        let mut required = |name: &'static str| {
            let value = get(name).filter(|v| !v.trim().is_empty());
            if value.is_none() {
                missing.push(name);
            }
            value.unwrap_or_default()
        };
        let env = Self {
            region: required("AWS_REGION"),
            table: required("VITRINE_TABLE"),
            bucket: required("VITRINE_BUCKET"),
            user_pool_id: required("VITRINE_USER_POOL_ID"),
            client_id: required("VITRINE_CLIENT_ID"),
            mail_from: required("VITRINE_MAIL_FROM"),
            endpoint: get("AWS_ENDPOINT_URL").filter(|v| !v.trim().is_empty()),
            reports_bucket: get("VITRINE_REPORTS_BUCKET").filter(|v| !v.trim().is_empty()),
        };
        if !missing.is_empty() {
            anyhow::bail!(
                "missing environment variables: {} (the template sets them on every function)",
                missing.join(", ")
            );
        }
        Ok(env)
    }

    /// How to reach AWS: the SDK's default credential chain (the function's role).
    pub fn aws_config(&self) -> vitrine_aws::AwsConfig {
        vitrine_aws::AwsConfig {
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            static_credentials: None,
            emulator: false,
        }
    }

    /// The resources to run on.
    pub fn resources(&self) -> vitrine_aws::compose::AwsResources {
        vitrine_aws::compose::AwsResources {
            table: self.table.clone(),
            bucket: self.bucket.clone(),
            user_pool_id: self.user_pool_id.clone(),
            client_id: self.client_id.clone(),
            mail_from: self.mail_from.clone(),
            reports_bucket: self.reports_bucket.clone(),
        }
    }
}

/// A function's application, composed once per cold start by [`compose_from_env`].
pub struct Composed {
    /// The resources it runs on (the `ws` functions also reach the WebSocket API with them).
    pub env: AwsEnv,
    pub app: Arc<App>,
    /// The keys of the user pool's tokens, downloaded when first needed.
    pub keys: Arc<Keys>,
}

/// Compose a function's application from its environment: see [`compose`].
pub async fn compose_from_env() -> anyhow::Result<Composed> {
    compose(|name| std::env::var(name).ok()).await
}

/// The one composition of every function that runs the application, with its settings read
/// through `get`: the AWS resources ([`AwsEnv`]), the business settings
/// (`Settings::from_lookup`: `VITRINE_PAY_WITHIN_MINUTES`, `VITRINE_LOW_STOCK_THRESHOLD`, …,
/// the same names `vitrine serve` reads), the payment providers ([`payments::providers`]) and
/// the carrier ([`carrier::shipping`]).
/// A missing or malformed setting is an error that names it. Makes no AWS request, but for
/// reading the payments secret when a real payment provider is chosen.
pub async fn compose(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Composed> {
    compose_with_fiscal(get, None).await
}

/// [`compose`], issuing NF-e with `fiscal` (the `invoices` function).
pub async fn compose_with_fiscal(
    get: impl Fn(&str) -> Option<String>,
    fiscal: Option<Arc<vitrine_app::invoices::Fiscal>>,
) -> anyhow::Result<Composed> {
    let env = AwsEnv::from_lookup(&get)?;
    let settings = Settings::from_lookup(&get)?;
    let payments = payment_providers(&env, &get).await?;
    let shipping = carrier::shipping(&env.aws_config(), &get, fiscal.as_deref()).await?;
    let store = vitrine_aws::compose::build_with(
        &env.aws_config(),
        &env.resources(),
        settings,
        Arc::new(SystemClock),
        Arc::new(UlidIds),
        payments,
        fiscal,
        shipping,
    )
    .await?;
    Ok(Composed {
        env,
        app: store.app,
        keys: store.keys,
    })
}

/// The payment providers (`payments::providers`): the environment, then the payments secret's
/// values, read once per cold start when a real provider is chosen.
async fn payment_providers(
    env: &AwsEnv,
    get: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<Arc<dyn vitrine_app::ports::PaymentProvider>>> {
    let choices = payments::choices(get)?;
    let secret_arn = get(payments::SECRET_ENV).filter(|v| !v.trim().is_empty());
    let secret = match secret_arn {
        Some(arn) if payments::needs_secret(&choices) => {
            let secrets =
                vitrine_aws::secrets::SecretsManagerSecrets::connect(&env.aws_config()).await;
            let text = secrets.text(&arn).await?;
            payments::secret_values(&arn, &text)?
        }
        _ => Default::default(),
    };
    payments::providers(|name| {
        get(name)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| secret.get(name).cloned())
    })
}

/// The whole `main` of a function that runs the application on plain JSON events (schedules,
/// the stream): JSON logs, the application composed once per cold start ([`compose_from_env`];
/// a failure is reported by [`fail_init`]), the `ready` line, then each event handed to
/// `handle` with the application.
pub async fn run_app_events<F, Fut>(ready: &'static str, handle: F) -> anyhow::Result<()>
where
    F: Fn(Arc<App>, lambda_runtime::LambdaEvent<serde_json::Value>) -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value, lambda_runtime::Error>>,
{
    init_tracing();
    let app = match compose_from_env().await {
        Ok(composed) => composed.app,
        Err(err) => return Err(fail_init(err).await),
    };
    tracing::info!("cold start: {ready}");
    let handle = &handle;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        handle(Arc::clone(&app), event)
    }))
    .await
    .map_err(|e| anyhow::anyhow!(e))
}

/// Log a failed cold start and report it to the Runtime API's `/runtime/init/error` (when
/// `AWS_LAMBDA_RUNTIME_API` is set), then hand the error back for `main` to exit with.
pub async fn fail_init(err: anyhow::Error) -> anyhow::Error {
    tracing::error!(error = format!("{err:#}"), "cold start failed");
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API")
        && let Err(report) = report_init_error(&api, &err).await
    {
        tracing::error!(
            error = format!("{report:#}"),
            "could not report the failed cold start"
        );
    }
    err
}

/// `POST /2018-06-01/runtime/init/error` on the Runtime API at `api` (`host:port`). A plain
/// HTTP/1.1 exchange: the runtime's own client is not public, and this runs once, at most.
pub async fn report_init_error(api: &str, err: &anyhow::Error) -> anyhow::Result<()> {
    let body = serde_json::to_vec(&serde_json::json!({
        "errorType": "Runtime.InitError",
        "errorMessage": format!("{err:#}"),
    }))?;
    let head = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.InitError\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(api).await?;
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        anyhow::Ok(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .context("the Runtime API did not answer within 5 s")?
        .context("talking to the Runtime API")?;
    let status_line = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    let status = String::from_utf8_lossy(status_line);
    anyhow::ensure!(
        status.split_whitespace().nth(1) == Some("202"),
        "the Runtime API answered {}",
        status.trim()
    );
    Ok(())
}
