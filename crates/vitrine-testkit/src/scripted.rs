//! A stand-in for an AWS JSON-protocol endpoint (Cognito, DynamoDB): answers each request with
//! the next scripted `(status, JSON body)` and records what it was sent, so a test can make the
//! service throttle, conflict or fail on cue. Speaks just enough HTTP/1.1 for the SDK (one
//! request per connection, `Connection: close`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// One request the stand-in received: the operation (from `X-Amz-Target`, else the request
/// line) and its JSON body (`Null` when there is none).
#[derive(Debug, Clone)]
pub struct Received {
    pub operation: String,
    pub body: serde_json::Value,
}

pub struct ScriptedServer {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ScriptedServer {
    /// Serve `script` on 127.0.0.1 with this `content_type` (`application/x-amz-json-1.1` for
    /// Cognito, `-1.0` for DynamoDB). Past the script's end every answer is a 500.
    pub async fn start(script: Vec<(u16, serde_json::Value)>, content_type: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (log, script) = (log.clone(), script.clone());
                tokio::spawn(async move {
                    let Some((operation, body)) = read_request(&mut socket).await else {
                        return;
                    };
                    log.lock().unwrap().push(Received { operation, body });
                    let (status, answer) = script
                        .lock()
                        .unwrap()
                        .pop_front()
                        .unwrap_or((500, serde_json::json!({"__type": "ScriptExhausted"})));
                    let answer = answer.to_string();
                    let response = format!(
                        "HTTP/1.1 {status} Scripted\r\ncontent-type: {content_type}\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { url, received }
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// An AWS JSON-protocol error answer.
pub fn error(code: &str, message: &str) -> (u16, serde_json::Value) {
    (400, serde_json::json!({"__type": code, "message": message}))
}

pub fn ok(body: serde_json::Value) -> (u16, serde_json::Value) {
    (200, body)
}

/// Read one request; returns the operation name and the JSON body.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<(String, serde_json::Value)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length").map_or(Some(0), |l| l.parse().ok())?;
    while buffer.len() < header_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    // AWS JSON operations are named by this header; other requests (a JWKS) by their line.
    let operation = match header("x-amz-target") {
        Some(target) => target.rsplit('.').next()?.to_owned(),
        None => head.lines().next()?.to_owned(),
    };
    let body = serde_json::from_slice(&buffer[header_end..header_end + length])
        .unwrap_or(serde_json::Value::Null);
    Some((operation, body))
}
