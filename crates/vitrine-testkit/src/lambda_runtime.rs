//! A local Lambda Runtime API, for running the built Lambda binaries the way Lambda runs them.
//!
//! [`RuntimeApi::start`] serves, on `127.0.0.1` and a free port, the part of the Runtime API a
//! custom runtime speaks:
//! - `GET  /2018-06-01/runtime/invocation/next` — long-polls until an event is queued, then hands
//!   it over with the `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn`
//!   and `-Trace-Id` headers;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` — complete that
//!   invocation (202; 400 for an unknown or already completed id);
//! - `POST /2018-06-01/runtime/init/error` — the runtime's cold start failed (202).
//!
//! Tests queue an event with [`RuntimeApi::enqueue`] and await its [`Outcome`]; an init error
//! completes every invocation awaited after it, so a runtime that fails to start never leaves a
//! test waiting. [`RuntimeApi::lambda_env`] gives the variables a runtime process needs, and
//! [`LambdaProcess`] runs a built Lambda binary against the server and collects its output.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Notify, oneshot, watch};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const RESPONSE: &str = "/2018-06-01/runtime/invocation/{id}/response";
const ERROR: &str = "/2018-06-01/runtime/invocation/{id}/error";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

/// The function name, version and memory the emulated function reports.
pub const FUNCTION_NAME: &str = "vitrine-test-function";
pub const FUNCTION_ARN: &str =
    "arn:aws:lambda:us-east-1:123456789012:function:vitrine-test-function";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST .../{id}/response`: the function's result (for an HTTP function, the API Gateway
    /// response document).
    Response(Bytes),
    /// `POST .../{id}/error`: the function reported an error for this invocation.
    Error(FunctionError),
    /// `POST /runtime/init/error`: the runtime failed to start, so the invocation never ran.
    InitError(FunctionError),
}

impl Outcome {
    /// The response body as JSON; panics (with the outcome) for anything else.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Outcome::Response(body) => serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("the response is not JSON ({e}): {body:?}")),
            other => panic!("expected a response, got {other:?}"),
        }
    }
}

/// An error a runtime reported.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    /// The `Lambda-Runtime-Function-Error-Type` header.
    pub error_type: Option<String>,
    /// The body: `{"errorType": …, "errorMessage": …}` by convention.
    pub body: serde_json::Value,
}

/// A queued event; [`Invocation::outcome`] waits for the runtime's answer.
#[derive(Debug)]
pub struct Invocation {
    pub request_id: String,
    answer: oneshot::Receiver<Outcome>,
    init_error: watch::Receiver<Option<FunctionError>>,
}

impl Invocation {
    /// How the invocation ended: its response or error, or the runtime's init error. Waits as
    /// long as the runtime takes: bound it in the caller.
    pub async fn outcome(mut self) -> Outcome {
        tokio::select! {
            answer = &mut self.answer => match answer {
                Ok(outcome) => outcome,
                // The emulator is gone (dropped): nothing will ever answer.
                Err(_) => std::future::pending().await,
            },
            // The guard `wait_for` gives is cloned out at once, so the future stays `Send`.
            Ok(err) = async {
                self.init_error.wait_for(Option::is_some).await.map(|e| (*e).clone())
            } => {
                Outcome::InitError(err.unwrap_or(FunctionError {
                    error_type: None,
                    body: serde_json::Value::Null,
                }))
            }
        }
    }
}

struct Queued {
    request_id: String,
    event: Bytes,
}

struct Shared {
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: watch::Sender<Option<FunctionError>>,
    next_polls: AtomicU64,
    first_poll: OnceLock<Instant>,
    timeout: Duration,
    function_arn: String,
}

/// The Runtime API server; stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Serve on `127.0.0.1` and a free port. Invocations get a 30 s deadline.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_timeout(Duration::from_secs(30)).await
    }

    /// Serve with `timeout` as every invocation's deadline (what the runtime reads from
    /// `Lambda-Runtime-Deadline-Ms`; this emulator enforces nothing).
    pub async fn start_with_timeout(timeout: Duration) -> std::io::Result<Self> {
        Self::start_for(FUNCTION_ARN, timeout).await
    }

    /// Serve for the function `function_arn` (the `Lambda-Runtime-Invoked-Function-Arn` of every
    /// invocation), with `timeout` as every invocation's deadline. The template runner starts
    /// one per function instance.
    pub async fn start_for(function_arn: &str, timeout: Duration) -> std::io::Result<Self> {
        let (init_error, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            queued: Notify::new(),
            waiting: Mutex::default(),
            init_error,
            next_polls: AtomicU64::new(0),
            first_poll: OnceLock::new(),
            timeout,
            function_arn: function_arn.to_owned(),
        });
        let app = Router::new()
            .route(NEXT, get(next))
            .route(RESPONSE, post(response))
            .route(ERROR, post(error))
            .route(INIT_ERROR, post(init_error_report))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            // Errors here mean the listener died; the tests then see no answer and fail.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The variables Lambda gives every runtime process (the ones `lambda_runtime` requires
    /// and the usual others), pointing at this server.
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512".to_owned()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{FUNCTION_NAME}"),
            ),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/28/[$LATEST]0123456789abcdef".to_owned(),
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Queue `event` (the JSON Lambda would pass the function) for the next `GET .../next`.
    pub fn enqueue(&self, event: impl Into<Bytes>) -> Invocation {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("{:08x}-0000-4000-8000-{n:012x}", std::process::id());
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.waiting).insert(request_id.clone(), tx);
        lock(&self.shared.queue).push_back(Queued {
            request_id: request_id.clone(),
            event: event.into(),
        });
        self.shared.queued.notify_one();
        Invocation {
            request_id,
            answer: rx,
            init_error: self.shared.init_error.subscribe(),
        }
    }

    /// Queue `event` and wait for its outcome (unbounded: bound it in the caller).
    pub async fn invoke(&self, event: impl Into<Bytes>) -> Outcome {
        self.enqueue(event).outcome().await
    }

    /// The init error reported so far, if any.
    pub fn init_error(&self) -> Option<FunctionError> {
        self.shared.init_error.borrow().clone()
    }

    /// How many times a runtime has asked for the next event.
    pub fn next_polls(&self) -> u64 {
        self.shared.next_polls.load(Ordering::Relaxed)
    }

    /// When a runtime first asked for an event: the end of its init phase.
    pub fn first_poll(&self) -> Option<Instant> {
        self.shared.first_poll.get().copied()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.first_poll.get_or_init(Instant::now);
    shared.next_polls.fetch_add(1, Ordering::Relaxed);
    let queued = loop {
        // Register interest before looking, so an enqueue between the look and the wait is
        // not missed.
        let notified = shared.queued.notified();
        if let Some(q) = lock(&shared.queue).pop_front() {
            break q;
        }
        notified.await;
    };
    // If the runtime hangs up before this is sent, the event is lost (as it would be on
    // Lambda); the invocation's waiter is then never answered.
    let deadline = SystemTime::now()
        .checked_add(shared.timeout)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or_default();
    static TRACES: AtomicU64 = AtomicU64::new(1);
    let trace = TRACES.fetch_add(1, Ordering::Relaxed);
    let trace_id = format!(
        "Root=1-{:08x}-{:024x};Parent={trace:016x};Sampled=0",
        deadline / 1000,
        u128::from(std::process::id()) << 64 | u128::from(trace),
    );
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", queued.request_id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set("lambda-runtime-trace-id", trace_id);
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, queued.event).into_response()
}

fn complete(shared: &Shared, id: &str, outcome: Outcome) -> Response {
    match lock(&shared.waiting).remove(id) {
        Some(tx) => {
            // The test may have stopped waiting; the runtime's report was still accepted.
            let _ = tx.send(outcome);
            (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({"status": "OK"})),
            )
                .into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({
                "errorType": "InvalidRequestID",
                "errorMessage": format!("no invocation {id} is waiting for an answer"),
            })),
        )
            .into_response(),
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    complete(&shared, &id, Outcome::Response(body))
}

fn function_error(headers: &HeaderMap, body: &Bytes) -> FunctionError {
    FunctionError {
        error_type: headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(body)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into())),
    }
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    complete(
        &shared,
        &id,
        Outcome::Error(function_error(&headers, &body)),
    )
}

async fn init_error_report(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared
        .init_error
        .send_replace(Some(function_error(&headers, &body)));
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({"status": "OK"})),
    )
        .into_response()
}

/// How long a test waits for a Lambda process before calling it hung. A guard against hangs,
/// not a timing assertion: a debug build answers in well under a second.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// A built Lambda binary running against a [`RuntimeApi`], its output collected. Killed when
/// dropped.
pub struct LambdaProcess {
    child: tokio::process::Child,
    stdout: tokio::task::JoinHandle<String>,
    stderr: tokio::task::JoinHandle<String>,
}

/// What a stopped process wrote.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

impl LambdaProcess {
    /// Start `binary` as Lambda would: a clean environment holding only the Runtime API's
    /// variables ([`RuntimeApi::lambda_env`]) and `env`.
    pub fn spawn(binary: &str, runtime: &RuntimeApi, env: &[(String, String)]) -> Self {
        let mut command = tokio::process::Command::new(binary);
        command
            .env_clear()
            .envs(runtime.lambda_env())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_BACKTRACE", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
        // Read both pipes all along, so a chatty process never blocks on a full pipe.
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Queue `event` and wait for its outcome; panics (with the process's stderr) if the
    /// process exits first or nothing happens within [`HANG_GUARD`].
    pub async fn invoke(&mut self, runtime: &RuntimeApi, event: impl Into<Bytes>) -> Outcome {
        let invocation = runtime.enqueue(event);
        let exited = tokio::select! {
            // The outcome first: a runtime reports its init error before it exits.
            biased;
            outcome = invocation.outcome() => return outcome,
            status = self.child.wait() => format!("exited ({status:?}) before answering"),
            () = tokio::time::sleep(HANG_GUARD) => format!("gave no answer within {HANG_GUARD:?}"),
        };
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let stderr = (&mut self.stderr).await.unwrap_or_default();
        panic!("the Lambda process {exited}; its stderr:\n{stderr}");
    }

    /// Wait for the process to exit by itself (bounded by [`HANG_GUARD`]).
    pub async fn exit_status(&mut self) -> std::process::ExitStatus {
        match tokio::time::timeout(HANG_GUARD, self.child.wait()).await {
            Ok(status) => status.expect("waiting for the Lambda process"),
            Err(_) => panic!("the Lambda process did not exit within {HANG_GUARD:?}"),
        }
    }

    /// Kill the process (if still running) and return what it wrote.
    pub async fn stop(mut self) -> Output {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        Output {
            stdout: (&mut self.stdout).await.unwrap_or_default(),
            stderr: (&mut self.stderr).await.unwrap_or_default(),
        }
    }
}

fn drain<R>(pipe: Option<R>) -> tokio::task::JoinHandle<String>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut out = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut out).await;
        }
        String::from_utf8_lossy(&out).into_owned()
    })
}
