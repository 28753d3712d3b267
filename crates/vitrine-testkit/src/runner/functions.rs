//! The template's functions, each run from its built binary under a local Lambda Runtime API,
//! the way Lambda runs a `provided.al2023` function.
//!
//! - Execution environments: an invocation takes an idle process of its function (warm), or
//!   starts one (cold) while the function has fewer than its limit, its
//!   `ReservedConcurrentExecutions` or else the runner's `--max-concurrency`; otherwise it
//!   waits for one to become idle. Each process serves one invocation at a time, through a
//!   Runtime API of its own ([`RuntimeApi::start_for`]).
//!   <https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html>
//! - The environment: what Lambda sets (`AWS_LAMBDA_FUNCTION_NAME`, memory, log group, region,
//!   credentials, `AWS_LAMBDA_LOG_FORMAT`/`LEVEL` from `LoggingConfig`), `AWS_ENDPOINT_URL` and
//!   the function's own credentials from [`Functions::set_endpoint`] (the AWS endpoint the
//!   functions call), then the template's `Environment.Variables` with the template's own API
//!   URLs rewritten to the runner's local addresses ([`Functions::set_url_map`]).
//!   <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>
//! - `Timeout`: an invocation not answered in time kills its process
//!   ([`InvokeError::Timeout`]); a process that dies mid-invocation is replaced
//!   ([`InvokeError::Crashed`]).
//! - Each function's processes write their stdout and stderr to `{work}/logs/{LogicalId}.log`.
//! - Every invocation is counted per function and [`Source`], with its errors
//!   ([`Functions::invocation_table`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Notify;

use super::resources::text;
use super::{ACCOUNT, Invoke, InvokeError, REGION, Resolved, RunnerError, Source};
use crate::lambda_runtime::{Outcome, RuntimeApi};

/// The AWS endpoint a function calls, and the credentials it calls it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub key_id: String,
    pub secret: String,
}

/// Gives each function (by logical id) its endpoint and credentials.
pub type EndpointFor = Arc<dyn Fn(&str) -> Endpoint + Send + Sync>;

/// How the functions run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the built binaries are (`target/debug`).
    pub bin_dir: PathBuf,
    /// Where the logs go (`{work}/logs/`).
    pub work: PathBuf,
    /// Processes per function when the template reserves no concurrency.
    pub max_concurrency: usize,
}

/// One function of the template.
pub struct Function {
    pub logical_id: String,
    pub name: String,
    pub arn: String,
    pub binary: PathBuf,
    /// The template's variables, resolved (before the URL rewriting).
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    pub memory_mb: u64,
    /// The most processes it may run at once.
    pub limit: usize,
    log_group: String,
    log_format: Option<String>,
    log_level: Option<String>,
    pool: Mutex<Pool>,
    freed: Notify,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Instance>,
    /// Running processes, idle or busy.
    instances: usize,
    /// The kill switch of each busy process, by instance number.
    busy: HashMap<u64, Arc<Notify>>,
}

struct Instance {
    number: u64,
    runtime: RuntimeApi,
    child: tokio::process::Child,
}

/// One row of the invocation table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationRow {
    pub function: String,
    /// `None` for a function never invoked.
    pub source: Option<String>,
    pub invocations: u64,
    pub errors: u64,
    /// The summed wall-clock time of these invocations, in milliseconds (from handing the event
    /// over to the answer, a cold start's process launch included): what Lambda bills.
    pub duration_ms: u64,
}

impl InvocationRow {
    /// `{"function", "source", "invocations", "errors", "duration_ms"}` (`source` null when
    /// never invoked).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "function": self.function,
            "source": self.source,
            "invocations": self.invocations,
            "errors": self.errors,
            "duration_ms": self.duration_ms,
        })
    }
}

/// The invocations of one function from one source.
#[derive(Default)]
struct Tally {
    invocations: u64,
    errors: u64,
    /// Summed over the invocations.
    duration: Duration,
}

/// The template's functions; cheap to clone (shared).
#[derive(Clone)]
pub struct Functions {
    inner: Arc<Inner>,
}

struct Inner {
    functions: BTreeMap<String, Arc<Function>>,
    /// Physical name and ARN → logical id.
    names: HashMap<String, String>,
    endpoint_for: RwLock<EndpointFor>,
    urls: RwLock<Vec<(String, String)>>,
    /// Per function and source.
    counts: Mutex<BTreeMap<(String, Source), Tally>>,
    logs: PathBuf,
    numbers: AtomicU64,
    closed: AtomicBool,
    in_flight: AtomicUsize,
    settled: Notify,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Functions {
    /// Every `AWS::Lambda::Function` of `resolved`; a function without a built binary in
    /// `bin_dir` is an error naming it.
    pub fn new(resolved: &Resolved, options: &Options) -> Result<Self, RunnerError> {
        let logs = options.work.join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|e| RunnerError(format!("creating {}: {e}", logs.display())))?;
        let mut functions = BTreeMap::new();
        let mut names = HashMap::new();
        for (id, res) in resolved.of_kind("AWS::Lambda::Function") {
            let props = &res.properties;
            let bin = resolved.binaries.get(id).ok_or_else(|| {
                RunnerError(format!(
                    "{id}: no CodeUri ../target/lambda/<binary>/ was recorded for it"
                ))
            })?;
            // Absolute: the process runs in its binary's folder, as Lambda runs it in /var/task.
            let binary = std::path::absolute(options.bin_dir.join(bin))
                .map_err(|e| RunnerError(format!("{id}: the binary's path: {e}")))?;
            if !binary.is_file() {
                return Err(RunnerError(format!(
                    "{id}: its binary {} is not built (cargo build -p vitrine-lambda --bins)",
                    binary.display()
                )));
            }
            let environment = props
                .pointer("/Environment/Variables")
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default();
            let number = |key: &str, default: u64| {
                props
                    .get(key)
                    .and_then(|v| text(v).parse().ok())
                    .unwrap_or(default)
            };
            let limit = props
                .get("ReservedConcurrentExecutions")
                .and_then(|v| text(v).parse::<usize>().ok())
                .unwrap_or(options.max_concurrency)
                .max(1);
            let arn = res.attributes.get("Arn").cloned().unwrap_or_else(|| {
                format!(
                    "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}",
                    res.physical_id
                )
            });
            let logging = props.get("LoggingConfig");
            let log_group = logging
                .and_then(|l| l.get("LogGroup"))
                .map(text)
                .unwrap_or_else(|| format!("/aws/lambda/{}", res.physical_id));
            let function = Function {
                logical_id: id.to_owned(),
                name: res.physical_id.clone(),
                arn: arn.clone(),
                binary,
                environment,
                // Lambda's default timeout is 3 seconds, its default memory 128 MB.
                timeout: Duration::from_secs(number("Timeout", 3)),
                memory_mb: number("MemorySize", 128),
                limit,
                log_group,
                log_format: logging.and_then(|l| l.get("LogFormat")).map(text),
                log_level: logging.and_then(|l| l.get("ApplicationLogLevel")).map(text),
                pool: Mutex::default(),
                freed: Notify::new(),
            };
            names.insert(res.physical_id.clone(), id.to_owned());
            names.insert(arn, id.to_owned());
            names.insert(id.to_owned(), id.to_owned());
            functions.insert(id.to_owned(), Arc::new(function));
        }
        let emulator = resolved.emulator.clone();
        let endpoint_for: EndpointFor = Arc::new(move |id: &str| Endpoint {
            url: emulator.clone(),
            key_id: format!("fn-{id}"),
            secret: "runner-secret".to_owned(),
        });
        Ok(Self {
            inner: Arc::new(Inner {
                functions,
                names,
                endpoint_for: RwLock::new(endpoint_for),
                urls: RwLock::default(),
                counts: Mutex::default(),
                logs,
                numbers: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                settled: Notify::new(),
            }),
        })
    }

    /// Where each function's calls go: until the proxy (the per-function AWS endpoint) is
    /// installed here, the emulator itself with a key naming the function.
    pub fn set_endpoint(&self, endpoint_for: EndpointFor) {
        *self
            .inner
            .endpoint_for
            .write()
            .unwrap_or_else(|e| e.into_inner()) = endpoint_for;
    }

    /// The endpoint and credentials of `function` (logical id).
    pub fn endpoint_for(&self, function: &str) -> Endpoint {
        let f = self
            .inner
            .endpoint_for
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        f(function)
    }

    /// Rewrites applied to every environment value of processes started from now on: each
    /// `(from, to)` replaces the prefix `from` (e.g. `https://{id}.execute-api.{region}.amazonaws.com`)
    /// by `to` (`http://127.0.0.1:{port}`).
    pub fn set_url_map(&self, map: Vec<(String, String)>) {
        *self.inner.urls.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// The functions, by logical id.
    pub fn functions(&self) -> impl Iterator<Item = &Arc<Function>> {
        self.inner.functions.values()
    }

    /// The logical id of a function named by logical id, name or ARN (qualified or not).
    pub fn logical_id(&self, reference: &str) -> Option<&str> {
        let names = &self.inner.names;
        names
            .get(reference)
            .or_else(|| {
                // A qualified ARN (`…:function:name:$LATEST`): drop the qualifier.
                let parts: Vec<&str> = reference.split(':').collect();
                (parts.len() == 8)
                    .then(|| names.get(&parts[..7].join(":")))
                    .flatten()
            })
            .map(String::as_str)
    }

    /// The environment a new process of `f` gets, after Lambda's own variables.
    pub fn environment(&self, f: &Function, runtime: &RuntimeApi) -> Vec<(String, String)> {
        let endpoint = self.endpoint_for(&f.logical_id);
        let mut env = runtime.lambda_env();
        let lambda = [
            ("AWS_LAMBDA_FUNCTION_NAME", f.name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", f.memory_mb.to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", f.log_group.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", endpoint.key_id),
            ("AWS_SECRET_ACCESS_KEY", endpoint.secret),
            ("AWS_ENDPOINT_URL", endpoint.url),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
            ("_HANDLER", "bootstrap".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ];
        env.extend(lambda.into_iter().map(|(k, v)| (k.to_owned(), v)));
        if let Some(format) = &f.log_format {
            env.push(("AWS_LAMBDA_LOG_FORMAT".to_owned(), format.clone()));
        }
        if let Some(level) = &f.log_level {
            env.push(("AWS_LAMBDA_LOG_LEVEL".to_owned(), level.clone()));
        }
        let urls = self
            .inner
            .urls
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (k, v) in &f.environment {
            env.push((k.clone(), rewrite(v, &urls)));
        }
        env
    }

    async fn start(&self, f: &Function) -> Result<Instance, InvokeError> {
        let runtime = RuntimeApi::start_for(&f.arn, f.timeout)
            .await
            .map_err(|e| InvokeError::Crashed(format!("starting the Runtime API: {e}")))?;
        let number = self.inner.numbers.fetch_add(1, Ordering::Relaxed);
        let log_path = self.inner.logs.join(format!("{}.log", f.logical_id));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| InvokeError::Crashed(format!("opening {}: {e}", log_path.display())))?;
        let err_log = log
            .try_clone()
            .map_err(|e| InvokeError::Crashed(format!("opening {}: {e}", log_path.display())))?;
        let mut env = self.environment(f, &runtime);
        env.push((
            "AWS_LAMBDA_LOG_STREAM_NAME".to_owned(),
            format!("2026/01/01/[$LATEST]{number:032x}"),
        ));
        let child = tokio::process::Command::new(&f.binary)
            .env_clear()
            .envs(env)
            .current_dir(f.binary.parent().unwrap_or(Path::new(".")))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(log))
            .stderr(std::process::Stdio::from(err_log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| InvokeError::Crashed(format!("starting {}: {e}", f.binary.display())))?;
        Ok(Instance {
            number,
            runtime,
            child,
        })
    }

    /// An idle process of `f`, or a new one within its limit, or the next one freed.
    async fn acquire(&self, f: &Function) -> Result<Instance, InvokeError> {
        loop {
            let freed = f.freed.notified();
            let start = {
                let mut pool = lock(&f.pool);
                let mut found = None;
                while let Some(mut instance) = pool.idle.pop() {
                    if matches!(instance.child.try_wait(), Ok(None)) {
                        found = Some(instance);
                        break;
                    }
                    // It died while idle.
                    pool.instances -= 1;
                }
                if let Some(instance) = found {
                    return Ok(instance);
                }
                if pool.instances < f.limit {
                    pool.instances += 1;
                    true
                } else {
                    false
                }
            };
            if start {
                return match self.start(f).await {
                    Ok(instance) => Ok(instance),
                    Err(e) => {
                        lock(&f.pool).instances -= 1;
                        f.freed.notify_one();
                        Err(e)
                    }
                };
            }
            freed.await;
        }
    }

    fn release(&self, f: &Function, instance: Option<Instance>) {
        let mut pool = lock(&f.pool);
        match instance {
            Some(i) if !self.inner.closed.load(Ordering::Relaxed) => pool.idle.push(i),
            Some(mut i) => {
                let _ = i.child.start_kill();
                pool.instances -= 1;
            }
            None => pool.instances -= 1,
        }
        drop(pool);
        f.freed.notify_one();
    }

    async fn run(&self, f: &Function, event: Value) -> Result<Value, InvokeError> {
        let mut instance = self.acquire(f).await?;
        let kill = Arc::new(Notify::new());
        lock(&f.pool).busy.insert(instance.number, kill.clone());
        let body = serde_json::to_vec(&event).unwrap_or_default();
        let invocation = instance.runtime.enqueue(body);
        let ended = tokio::select! {
            biased;
            outcome = invocation.outcome() => Ok(outcome),
            status = instance.child.wait() => Err(InvokeError::Crashed(format!(
                "the process exited ({}) before answering",
                status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())
            ))),
            () = kill.notified() => Err(InvokeError::Crashed("killed by the runner".to_owned())),
            () = tokio::time::sleep(f.timeout) => Err(InvokeError::Timeout),
        };
        lock(&f.pool).busy.remove(&instance.number);
        match ended {
            Ok(Outcome::Response(body)) => {
                self.release(f, Some(instance));
                Ok(if body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_slice(&body).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&body).into_owned())
                    })
                })
            }
            Ok(Outcome::Error(e)) => {
                self.release(f, Some(instance));
                Err(function_error(e.error_type, &e.body))
            }
            Ok(Outcome::InitError(e)) => {
                // Lambda discards an environment whose init failed.
                let _ = instance.child.kill().await;
                self.release(f, None);
                Err(function_error(e.error_type, &e.body))
            }
            Err(e) => {
                let _ = instance.child.kill().await;
                self.release(f, None);
                Err(e)
            }
        }
    }

    /// Kill `function`'s processes that are running an invocation now (their invocations end
    /// with [`InvokeError::Crashed`]); how many.
    pub fn kill(&self, function: &str) -> Result<usize, InvokeError> {
        let id = self
            .logical_id(function)
            .ok_or_else(|| InvokeError::Unknown(function.to_owned()))?;
        let f = &self.inner.functions[id];
        let pool = lock(&f.pool);
        for switch in pool.busy.values() {
            switch.notify_one();
        }
        Ok(pool.busy.len())
    }

    /// Invocations in progress of `function`.
    pub fn busy(&self, function: &str) -> usize {
        self.logical_id(function)
            .map(|id| lock(&self.inner.functions[id].pool).busy.len())
            .unwrap_or_default()
    }

    /// Running processes of `function` (idle or busy).
    pub fn instances(&self, function: &str) -> usize {
        self.logical_id(function)
            .map(|id| lock(&self.inner.functions[id].pool).instances)
            .unwrap_or_default()
    }

    /// Every function and source with its invocations and errors; a function never invoked
    /// has one row with no source.
    pub fn invocation_table(&self) -> Vec<InvocationRow> {
        let counts = lock(&self.inner.counts);
        let mut rows = Vec::new();
        for id in self.inner.functions.keys() {
            let mine: Vec<_> = counts.iter().filter(|((f, _), _)| f == id).collect();
            if mine.is_empty() {
                rows.push(InvocationRow {
                    function: id.clone(),
                    source: None,
                    invocations: 0,
                    errors: 0,
                    duration_ms: 0,
                });
            }
            for ((_, source), tally) in mine {
                rows.push(InvocationRow {
                    function: id.clone(),
                    source: Some(source.to_string()),
                    invocations: tally.invocations,
                    errors: tally.errors,
                    duration_ms: u64::try_from(tally.duration.as_millis()).unwrap_or(u64::MAX),
                });
            }
        }
        rows
    }

    /// The invocation table as text, one line per row.
    pub fn invocation_table_text(&self) -> String {
        let rows = self.invocation_table();
        let mut out = format!(
            "{:<32} {:<16} {:>11} {:>7}\n",
            "function", "source", "invocations", "errors"
        );
        for r in rows {
            out.push_str(&format!(
                "{:<32} {:<16} {:>11} {:>7}\n",
                r.function,
                r.source.as_deref().unwrap_or("-"),
                r.invocations,
                r.errors
            ));
        }
        out
    }

    /// Stop: refuse new invocations, let those in flight finish within `grace` (then kill
    /// them), and stop every process.
    pub async fn stop(&self, grace: Duration) {
        self.inner.closed.store(true, Ordering::Relaxed);
        let settled = async {
            loop {
                let notified = self.inner.settled.notified();
                if self.inner.in_flight.load(Ordering::Relaxed) == 0 {
                    break;
                }
                notified.await;
            }
        };
        if tokio::time::timeout(grace, settled).await.is_err() {
            for f in self.inner.functions.values() {
                for switch in lock(&f.pool).busy.values() {
                    switch.notify_one();
                }
            }
        }
        for f in self.inner.functions.values() {
            let idle: Vec<Instance> = std::mem::take(&mut lock(&f.pool).idle);
            for mut instance in idle {
                let _ = instance.child.kill().await;
                lock(&f.pool).instances -= 1;
            }
        }
        // The invocations killed above release their processes as they end.
        let gone = async {
            loop {
                let notified = self.inner.settled.notified();
                if self.inner.in_flight.load(Ordering::Relaxed) == 0 {
                    break;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), gone).await;
    }
}

/// Counts an invocation in flight while alive.
struct InFlight<'a>(&'a Inner);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.settled.notify_waiters();
    }
}

fn function_error(header: Option<String>, body: &Value) -> InvokeError {
    let error_type = body
        .get("errorType")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(header)
        .unwrap_or_else(|| "Unhandled".to_owned());
    let message = body
        .get("errorMessage")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| body.to_string());
    InvokeError::Function {
        error_type,
        message,
    }
}

/// `value` with each `from` prefix found in it replaced by its `to`.
pub fn rewrite(value: &str, urls: &[(String, String)]) -> String {
    let mut out = value.to_owned();
    for (from, to) in urls {
        out = out.replace(from.as_str(), to);
    }
    out
}

#[async_trait]
impl Invoke for Functions {
    async fn invoke(
        &self,
        function: &str,
        source: Source,
        event: Value,
    ) -> Result<Value, InvokeError> {
        let id = self
            .logical_id(function)
            .ok_or_else(|| InvokeError::Unknown(function.to_owned()))?
            .to_owned();
        if self.inner.closed.load(Ordering::Relaxed) {
            return Err(InvokeError::Crashed("the runner is stopping".to_owned()));
        }
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        let _in_flight = InFlight(&self.inner);
        let f = self.inner.functions[&id].clone();
        let started = std::time::Instant::now();
        let result = self.run(&f, event).await;
        let took = started.elapsed();
        let mut counts = lock(&self.inner.counts);
        let entry = counts.entry((id, source)).or_default();
        entry.invocations += 1;
        entry.duration += took;
        if result.is_err() {
            entry.errors += 1;
        }
        result
    }
}

/// The SDK configuration for calls made as `endpoint` (a poller acting for a function).
pub async fn sdk_config(endpoint: &Endpoint) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    let mut http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    if endpoint.url.starts_with("http://") {
        // A plain-HTTP endpoint needs no root certificates.
        if let Ok(context) = tls::TlsContext::builder()
            .with_trust_store(tls::TrustStore::empty())
            .build()
        {
            http = http.tls_context(context);
        }
    }
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&endpoint.url)
        .http_client(http.build_https())
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            &endpoint.key_id,
            &endpoint.secret,
            None,
            None,
            "vitrine-runner",
        ))
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_urls_are_rewritten() {
        let map = vec![
            (
                "https://abc.execute-api.us-east-1.amazonaws.com".to_owned(),
                "http://127.0.0.1:9".to_owned(),
            ),
            (
                "wss://def.execute-api.us-east-1.amazonaws.com".to_owned(),
                "ws://127.0.0.1:8".to_owned(),
            ),
        ];
        assert_eq!(
            rewrite("https://abc.execute-api.us-east-1.amazonaws.com/prod", &map),
            "http://127.0.0.1:9/prod"
        );
        assert_eq!(
            rewrite("wss://def.execute-api.us-east-1.amazonaws.com/prod", &map),
            "ws://127.0.0.1:8/prod"
        );
        assert_eq!(rewrite("plain", &map), "plain");
    }

    #[test]
    fn function_errors_take_the_body_s_type_and_message() {
        let e = function_error(
            Some("Unhandled".into()),
            &serde_json::json!({"errorType": "Boom", "errorMessage": "no"}),
        );
        assert_eq!(
            e,
            InvokeError::Function {
                error_type: "Boom".into(),
                message: "no".into()
            }
        );
    }
}
