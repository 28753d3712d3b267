//! The local AWS emulator (moto server) for tests of the AWS adapters.
//!
//! `scripts/test.sh` installs moto into `.venv/`, and its runner (`scripts/run-tests.py`) starts
//! one server per lane, giving each test binary of the lane its URL as `VITRINE_TEST_MOTO_URL`.
//! A test binary run on its own (plain `cargo test`) starts its own server from
//! `.venv/bin/moto_server` on a free port instead, watched by a small shell loop that stops it
//! when the test process exits. Tests isolate themselves with unique resource names, so one
//! server serves them all.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The emulator's base URL, starting a server for this process if none was given.
pub fn endpoint() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("VITRINE_TEST_MOTO_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => start_own(),
    })
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn start_own() -> String {
    let bin = std::env::var("VITRINE_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv/bin/moto_server"));
    assert!(
        bin.exists(),
        "the AWS emulator is not installed: run `bash scripts/test.sh` once (it installs moto into .venv/), \
         or set VITRINE_TEST_MOTO_URL to a running moto server"
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    // The watchdog: run the server in the background and stop it once our process is gone.
    // The recorder (see [`Recording`]) writes into target/.
    let recording = workspace_root().join("target/moto-recording");
    let script = format!(
        "MOTO_RECORDER_FILEPATH='{recording}' {bin} -H 127.0.0.1 -p {port} >/dev/null 2>&1 & s=$!; while kill -0 {me} 2>/dev/null; do sleep 1; done; kill $s",
        recording = recording.display(),
        bin = bin.display(),
        me = std::process::id()
    );
    #[expect(
        clippy::zombie_processes,
        reason = "the watchdog shell outlives this process by design and is reaped by init"
    )]
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting moto");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return url;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("moto did not start on port {port} within 30 s");
}

/// A name unique to this test run, for tables, buckets and pools.
pub fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// The emulator's whole state (`GET /moto-api/data.json`): what SES sent, SNS texts, Cognito's
/// users. moto builds that dump by walking its live state, and a request that changes the state
/// meanwhile (a function of another test, a runner's poller) makes it answer 500; the dump is
/// asked again then, a bounded number of times.
pub async fn state() -> serde_json::Value {
    let url = format!("{}/moto-api/data.json", endpoint());
    let mut last = String::new();
    for _ in 0..20 {
        match reqwest::get(&url).await.and_then(|r| r.error_for_status()) {
            Ok(answer) => match answer.json().await {
                Ok(state) => return state,
                Err(e) => last = format!("not JSON: {e}"),
            },
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the emulator's state ({url}) could not be read: {last}")
}

/// One DynamoDB request the emulator received, from its recorder.
#[derive(Debug, Clone)]
pub struct DynamoRequest {
    /// The operation: `Query`, `GetItem`, `BatchGetItem`, `TransactWriteItems`, …
    pub operation: String,
    /// The request's JSON body.
    pub body: serde_json::Value,
}

impl DynamoRequest {
    /// Every string value of the request's keys and key conditions (`Key`, `Keys`,
    /// `ExpressionAttributeValues`, and the items of a write): the partitions it touches.
    pub fn key_strings(&self) -> Vec<String> {
        fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        match (k.as_str(), v) {
                            ("S", serde_json::Value::String(s)) => out.push(s.clone()),
                            _ => strings(v, out),
                        }
                    }
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        strings(&self.body, &mut out);
        out
    }
}

/// The emulator's request recorder (`/moto-api/recorder/…`), for a test that shows what a piece
/// of work asks of DynamoDB. The recorder is the emulator's, shared by every test that uses it:
/// [`Recording::requests`] keeps the requests naming one table. One recording at a time (the
/// tests that record hold [`Recording::start`]'s lock).
pub struct Recording {
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

static RECORDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn recorder(action: &str) -> String {
    let url = format!("{}/moto-api/recorder/{action}", endpoint());
    let client = reqwest::Client::new();
    let answer = client
        .post(&url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("the emulator's recorder ({url}): {e}"));
    answer.text().await.unwrap_or_default()
}

impl Recording {
    /// Clear the recorder and start recording every request.
    pub async fn start() -> Recording {
        let guard = RECORDING.lock().await;
        recorder("stop-recording").await;
        recorder("reset-recording").await;
        recorder("start-recording").await;
        Recording {
            _one_at_a_time: guard,
        }
    }

    /// Stop recording; the DynamoDB requests recorded that name `table`, in order.
    pub async fn requests(self, table: &str) -> Vec<DynamoRequest> {
        recorder("stop-recording").await;
        let url = format!("{}/moto-api/recorder/download-recording", endpoint());
        let text = reqwest::get(&url)
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("the emulator's recording ({url}): {e}"))
            .text()
            .await
            .unwrap_or_default();
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let entry: serde_json::Value =
                serde_json::from_str(line).expect("a recorded request is JSON");
            let headers = &entry["headers"];
            let target = headers["X-Amz-Target"]
                .as_str()
                .or_else(|| headers["x-amz-target"].as_str())
                .unwrap_or_default();
            let Some(operation) = target.strip_prefix("DynamoDB_20120810.") else {
                continue;
            };
            let raw = entry["body"].as_str().unwrap_or_default();
            let body: serde_json::Value = if entry["body_encoded"].as_bool() == Some(true) {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .unwrap_or_default();
                serde_json::from_slice(&bytes).unwrap_or_default()
            } else {
                serde_json::from_str(raw).unwrap_or_default()
            };
            if body.to_string().contains(&format!("\"{table}\"")) {
                out.push(DynamoRequest {
                    operation: operation.to_owned(),
                    body,
                });
            }
        }
        out
    }
}
