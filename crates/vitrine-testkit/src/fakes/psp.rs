//! Both fake providers in one service for tests that drive a store from outside its process
//! (the browser tests, binary `fake-psp`): the fake bank ([`FakeBank`]) with the inbox its
//! mutual-TLS notices reach, and the fake Mercado Pago ([`FakeMercadoPago`]) with the inbox its
//! signed notices reach. Every notice either inbox receives is passed on to the store, in the
//! background as it arrives, at the same path, query and signature headers: what the shop's TLS
//! terminator or reverse proxy does in front of the store.
//!
//! A small control API on `127.0.0.1` ([`Psp::control`]) for tests:
//! - `POST /store {"url": "http://127.0.0.1:PORT"}`: where notices are passed on;
//! - `POST /bank/pay/{txid}`: the payer pays the Pix charge (answers its `end_to_end_id`);
//! - `POST /bank/webhook`: the bank's inbox registered as the shop's webhook, as an operator does
//!   in the bank's portal (for a store that does not register it itself);
//! - `POST /mercadopago/boleto/{payment id}/pay`: the boleto is paid;
//! - `GET /report`: `{"requests": {"bcb", "mercadopago"}, "violations": [...], "relayed": [...]}`;
//! - `POST /stop`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::bcb_pix::{self, FakeBank, FakeBankOptions};
use super::mercadopago::{self as mp, FakeMercadoPago};

/// How often the inboxes are looked at for notices to pass on.
const RELAY_EVERY: Duration = Duration::from_millis(50);
/// The store's answer to a passed-on notice is waited for this long.
const RELAY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the bank's client certificate, key and CA are written.
pub struct PemFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

/// One notice passed on to the store, and how it went.
#[derive(Debug, Clone)]
pub struct Relayed {
    pub provider: &'static str,
    pub path: String,
    /// The store's HTTP status, or why it could not be reached.
    pub outcome: Result<u16, String>,
}

struct Relay {
    store: Mutex<Option<String>>,
    relayed: Mutex<Vec<Relayed>>,
}

/// The two fakes, their inboxes, the relay and the control API. Dropping it stops them all.
pub struct Psp {
    bank: Arc<FakeBank>,
    bank_inbox: Arc<bcb_pix::WebhookInbox>,
    mercadopago: Arc<FakeMercadoPago>,
    mp_inbox: Arc<mp::WebhookInbox>,
    relay: Arc<Relay>,
    control: SocketAddr,
    stop: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Psp {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Psp {
    /// Starts everything on `127.0.0.1` and writes the bank's client PEM files into `dir`.
    pub async fn start(dir: &Path) -> Result<Psp, String> {
        let spec = mp::default_spec_path();
        if !spec.is_file() {
            return Err(format!(
                "the Mercado Pago spec is not at {}: the fake needs it",
                spec.display()
            ));
        }
        let bank = Arc::new(FakeBank::start(FakeBankOptions::default()).await?);
        let bank_inbox = Arc::new(bank.inbox().await?);
        let mercadopago = Arc::new(FakeMercadoPago::start(mp::FakeOptions::default()).await);
        let mp_inbox = Arc::new(mp::WebhookInbox::start().await);
        write_pems(dir, &bank)?;
        let relay = Arc::new(Relay {
            store: Mutex::new(None),
            relayed: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(Notify::new());
        let relaying = tokio::spawn(relay_loop(
            relay.clone(),
            bank_inbox.clone(),
            mp_inbox.clone(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("binding the control API on 127.0.0.1: {e}"))?;
        let control = listener
            .local_addr()
            .map_err(|e| format!("the control API's address: {e}"))?;
        let state = Controls {
            bank: bank.clone(),
            inbox_url: bank_inbox.url(),
            mercadopago: mercadopago.clone(),
            relay: relay.clone(),
            stop: stop.clone(),
        };
        let app = Router::new()
            .route("/store", post(set_store))
            .route("/bank/pay/{txid}", post(bank_pay))
            .route("/bank/webhook", post(bank_webhook))
            .route("/mercadopago/boleto/{id}/pay", post(boleto_pay))
            .route("/report", get(report))
            .route("/stop", post(stop_now))
            .with_state(state);
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Psp {
            bank,
            bank_inbox,
            mercadopago,
            mp_inbox,
            relay,
            control,
            stop,
            tasks: vec![relaying, serving],
        })
    }

    /// The facts a test needs, one `name value` line each (no secret of the real world: every
    /// value is the fakes' own).
    pub fn facts(&self, dir: &Path) -> Vec<(String, String)> {
        let files = pem_paths(dir);
        let bank = self.bank.options();
        [
            ("bcb-api", self.bank.api_url()),
            ("bcb-token", self.bank.token_url()),
            ("bcb-client-id", bank.client_id.clone()),
            ("bcb-client-secret", bank.client_secret.clone()),
            ("bcb-pix-key", bank.pix_key.clone()),
            (
                "bcb-certificate-file",
                files.certificate.display().to_string(),
            ),
            ("bcb-key-file", files.key.display().to_string()),
            ("bcb-ca-file", files.ca.display().to_string()),
            ("bcb-webhook", self.bank_inbox.url()),
            ("mercadopago", self.mercadopago.url()),
            ("mercadopago-script", self.mercadopago.script_url()),
            ("mercadopago-access-token", self.mercadopago.access_token()),
            ("public-key", self.mercadopago.public_key()),
            ("webhook-secret", self.mercadopago.webhook_secret()),
            ("mercadopago-notify", self.mp_inbox.url()),
            ("control", format!("http://{}", self.control)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The control API's address.
    pub fn control(&self) -> SocketAddr {
        self.control
    }

    /// Resolves when a test asked the service to stop (`POST /stop`).
    pub async fn stop_requested(&self) {
        self.stop.notified().await;
    }

    /// What [`GET /report`](Self::control) answers.
    pub fn report(&self) -> Value {
        report_of(&self.bank, &self.mercadopago, &self.relay)
    }
}

fn pem_paths(dir: &Path) -> PemFiles {
    PemFiles {
        certificate: dir.join("bcb-client-certificate.pem"),
        key: dir.join("bcb-client-key.pem"),
        ca: dir.join("bcb-ca.pem"),
    }
}

fn write_pems(dir: &Path, bank: &FakeBank) -> Result<PemFiles, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let files = pem_paths(dir);
    for (path, pem) in [
        (&files.certificate, bank.client_certificate_pem()),
        (&files.key, bank.client_key_pem()),
        (&files.ca, bank.ca_pem()),
    ] {
        std::fs::write(path, pem).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(files)
}

/// Passes every notice either inbox receives to the store, once it is known, in order.
async fn relay_loop(
    relay: Arc<Relay>,
    bank_inbox: Arc<bcb_pix::WebhookInbox>,
    mp_inbox: Arc<mp::WebhookInbox>,
) {
    let http = match reqwest::Client::builder().timeout(RELAY_TIMEOUT).build() {
        Ok(http) => http,
        Err(e) => {
            eprintln!("fake-psp: no HTTP client for the relay: {e}");
            return;
        }
    };
    let (mut bank_seen, mut mp_seen) = (0, 0);
    loop {
        tokio::time::sleep(RELAY_EVERY).await;
        let store = relay
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(store) = store else { continue };
        for notice in bank_inbox.received().into_iter().skip(bank_seen) {
            bank_seen += 1;
            let request = http
                .post(format!("{store}{}", notice.path))
                .header("content-type", "application/json")
                .body(notice.body);
            record(&relay, "bcb", notice.path, request.send().await);
        }
        for notice in mp_inbox.received().into_iter().skip(mp_seen) {
            mp_seen += 1;
            let path = "/api/v1/payments/webhooks/mercadopago".to_owned();
            let mut request = http
                .post(format!("{store}{path}"))
                .query(&notice.query)
                .header("content-type", "application/json")
                .body(notice.body.clone());
            for name in ["x-signature", "x-request-id"] {
                if let Some(value) = notice.header(name) {
                    request = request.header(name, value);
                }
            }
            record(&relay, "mercadopago", path, request.send().await);
        }
    }
}

fn record(
    relay: &Relay,
    provider: &'static str,
    path: String,
    sent: Result<reqwest::Response, reqwest::Error>,
) {
    let outcome = sent.map(|r| r.status().as_u16()).map_err(|e| e.to_string());
    relay
        .relayed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Relayed {
            provider,
            path,
            outcome,
        });
}

fn report_of(bank: &FakeBank, mercadopago: &FakeMercadoPago, relay: &Relay) -> Value {
    let violations: Vec<String> = bank
        .violations()
        .into_iter()
        .map(|v| format!("bcb: {v}"))
        .chain(
            mercadopago
                .violations()
                .into_iter()
                .map(|v| format!("mercadopago: {v}")),
        )
        .collect();
    let relayed: Vec<Value> = relay
        .relayed
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|r| match &r.outcome {
            Ok(status) => json!({ "provider": r.provider, "path": r.path, "status": status }),
            Err(error) => json!({ "provider": r.provider, "path": r.path, "error": error }),
        })
        .collect();
    json!({
        "requests": { "bcb": bank.requests(), "mercadopago": mercadopago.requests() },
        "violations": violations,
        "relayed": relayed,
    })
}

#[derive(Clone)]
struct Controls {
    bank: Arc<FakeBank>,
    inbox_url: String,
    mercadopago: Arc<FakeMercadoPago>,
    relay: Arc<Relay>,
    stop: Arc<Notify>,
}

fn refused(status: StatusCode, error: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": error.into() }))).into_response()
}

async fn set_store(State(c): State<Controls>, body: axum::body::Bytes) -> Response {
    let url = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v["url"]
            .as_str()
            .map(|u| u.trim_end_matches('/').to_owned())
    });
    match url {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            *c.relay.store.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
            axum::Json(json!({ "store": url })).into_response()
        }
        _ => refused(
            StatusCode::BAD_REQUEST,
            "the body must be {\"url\": \"http://127.0.0.1:PORT\"}",
        ),
    }
}

async fn bank_pay(State(c): State<Controls>, UrlPath(txid): UrlPath<String>) -> Response {
    match c.bank.pay(&txid).await {
        Ok(e2e) => axum::Json(json!({ "end_to_end_id": e2e })).into_response(),
        Err(e) => refused(StatusCode::CONFLICT, e),
    }
}

/// The inbox registered as the shop's webhook at the bank, as an operator does in the bank's
/// portal (for a store that does not register it itself).
async fn bank_webhook(State(c): State<Controls>) -> Response {
    let url = c.inbox_url.clone();
    c.bank.register_webhook(&url);
    axum::Json(json!({ "webhook": url })).into_response()
}

async fn boleto_pay(State(c): State<Controls>, UrlPath(id): UrlPath<String>) -> Response {
    match c.mercadopago.pay_boleto(&id).await {
        Ok(()) => axum::Json(json!({ "paid": id })).into_response(),
        Err(e) => refused(StatusCode::CONFLICT, e),
    }
}

async fn report(State(c): State<Controls>) -> Response {
    axum::Json(report_of(&c.bank, &c.mercadopago, &c.relay)).into_response()
}

async fn stop_now(State(c): State<Controls>) -> Response {
    c.stop.notify_one();
    axum::Json(json!({ "stopping": true })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reached the store stand-in: each request's path and query, and its signature.
    type Kept = Arc<Mutex<Vec<(String, Option<String>)>>>;

    /// A store stand-in that keeps what reaches it.
    async fn store() -> (String, Kept) {
        let kept: Kept = Arc::default();
        let sink = kept.clone();
        let app = Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                let sink = sink.clone();
                async move {
                    let signature = headers
                        .get("x-signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    sink.lock().unwrap().push((uri.to_string(), signature));
                    axum::Json(json!({ "results": [] }))
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, kept)
    }

    #[tokio::test]
    async fn files_facts_control_and_notices_passed_on_with_their_signature() {
        let dir = std::env::temp_dir().join(format!("fake-psp-{}", ulid::Ulid::new()));
        let psp = Psp::start(&dir).await.unwrap();
        let facts: std::collections::HashMap<_, _> = psp.facts(&dir).into_iter().collect();
        for file in ["bcb-certificate-file", "bcb-key-file", "bcb-ca-file"] {
            let text = std::fs::read_to_string(&facts[file]).unwrap();
            assert!(text.starts_with("-----BEGIN "), "{file}: {text}");
        }
        let control = &facts["control"];
        let http = reqwest::Client::new();
        let bad = http
            .post(format!("{control}/store"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        let (url, kept) = store().await;
        let set = http
            .post(format!("{control}/store"))
            .body(json!({ "url": url }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(set.status(), 200);
        // A notice reaching Mercado Pago's inbox, as the fake sends one.
        let signed = http
            .post(format!(
                "{}?data.id=42&type=payment",
                facts["mercadopago-notify"]
            ))
            .header("x-signature", "ts=1,v1=ab")
            .header("x-request-id", "r-1")
            .body(r#"{"data":{"id":"42"}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200);
        for _ in 0..100 {
            if !kept.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            kept.lock().unwrap().clone(),
            [(
                "/api/v1/payments/webhooks/mercadopago?data.id=42&type=payment".to_owned(),
                Some("ts=1,v1=ab".to_owned())
            )]
        );
        let unknown = http
            .post(format!("{control}/bank/pay/nosuchtxid0000000000000000"))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 409);
        let report: Value = http
            .get(format!("{control}/report"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(report["violations"], json!([]));
        assert_eq!(report["relayed"][0]["status"], 200, "{report}");
        drop(psp);
        let _ = std::fs::remove_dir_all(dir);
    }
}
