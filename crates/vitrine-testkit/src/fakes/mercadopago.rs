//! A fake Mercado Pago that holds a client to the official OpenAPI spec
//! (`shared/payments/mercadopago/spec3.yaml`): plain HTTP on `127.0.0.1`, a random port.
//!
//! It serves, each request checked against the spec (path, query, body) and each of its answers
//! too, every mismatch recorded in [`FakeMercadoPago::violations`]:
//! - `POST /v1/payments` (cards by token, `bolbradesco`, `pix`; `X-Idempotency-Key`: the same
//!   key answers the same payment), `GET /v1/payments/{id}`, `PUT /v1/payments/{id}`
//!   (`{"status":"cancelled"}`), `GET /v1/payments/search`, `POST /v1/payments/{id}/refunds`,
//!   `GET /v1/payment_methods`, `GET /v1/payment_methods/installments`: with the access token;
//! - `POST /v1/card_tokens` (in the spec; with the public key in `X-Public-Key`, the spec's
//!   `publicKey` scheme) and `GET /v1/payment_methods/search?bin=` (not in the spec: what the
//!   script's `getPaymentMethods` asks, kept out of validation); `GET
//!   /v1/payment_methods/installments` also takes the public key, for the script;
//! - `GET /js/v2`: `mercadopago.js`, a small stand-in of MercadoPago.js v2 (see that file);
//! - `GET /challenge/{id}`: the 3-D Secure page of a card payment left `pending_challenge`, whose
//!   buttons (`POST /challenge/{id}/approve|refuse`) decide it and send the webhook;
//! - `GET /boletos/{id}` and `GET /pix/{id}`: the printable boleto and the Pix ticket.
//!
//! Outcomes follow the cardholder name, as Mercado Pago's test cards do (docs, test-cards):
//! `APRO` approved, `OTHE` declined, `FUND` insufficient funds, `CONT` pending (`in_process`),
//! `3DS` a 3-D Secure challenge (`pending` / `pending_challenge`, when the payment was sent with
//! `three_d_secure_mode` `optional` or `mandatory`); any other name is approved.
//! Boletos and Pix charges stay pending until [`FakeMercadoPago::pay_boleto`],
//! [`FakeMercadoPago::pay_pix`] or [`FakeMercadoPago::expire`].
//!
//! Every change of a payment is notified to its `notification_url` as Mercado Pago does:
//! `POST {url}?data.id={id}&type=payment`, a `WebhookNotification` body, `x-request-id` and
//! `x-signature: ts=…,v1=…` signed with the webhook secret (manifest
//! `id:{data.id};request-id:{x-request-id};ts:{ts};`, HMAC-SHA256, lowercase hex).
//!
//! Fault modes ([`FakeMercadoPago::fail_next`], [`FakeMercadoPago::webhooks`]): the next N API
//! requests answered 500, 429 or not at all (held longer than any client waits); webhooks sent
//! twice, preceded by one naming a payment of another account (its id answers 404 to this
//! shop's token), or never sent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use regex::Regex;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::task::JoinHandle;
use vitrine_domain::card::{CardNumber, InstallmentTable};
use vitrine_domain::pix::BrCode;
use vitrine_domain::{Money, Timestamp};

use crate::openapi::{OpenApi, shared_spec};

/// The tokenisation script served at `/js/v2`.
const SCRIPT: &str = include_str!("mercadopago.js");

/// The shop's account at the fake.
const COLLECTOR_ID: u64 = 1_912_345_678;

/// What the fake is started with.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    pub access_token: String,
    pub public_key: String,
    pub webhook_secret: String,
    /// The spec every request and answer is checked against (default: the vendored
    /// `shared/payments/mercadopago/spec3.yaml` beside the repository).
    pub spec_path: std::path::PathBuf,
    /// How long a request is held in the timeout mode.
    pub hold: Duration,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            access_token: "TEST-1234567890123456-120600-fakeaccesstoken-1912345678".into(),
            public_key: "TEST-fake0000-pub1-4c0f-9d2e-publickey000".into(),
            webhook_secret: "fake-webhook-secret".into(),
            spec_path: default_spec_path(),
            hold: Duration::from_secs(10),
        }
    }
}

/// `shared/payments/mercadopago/spec3.yaml` beside the workspace
/// ([`crate::openapi::shared_spec`]).
pub fn default_spec_path() -> std::path::PathBuf {
    shared_spec("mercadopago/spec3.yaml")
}

/// How the next API requests fail ([`FakeMercadoPago::fail_next`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `500 internal_error`.
    ServerError,
    /// `429 too_many_requests` with `Retry-After`.
    TooManyRequests,
    /// No answer for [`FakeOptions::hold`].
    Timeout,
}

/// How payment notifications are sent ([`FakeMercadoPago::webhooks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookMode {
    /// One notice per change.
    #[default]
    Normal,
    /// Each notice twice (the same notice id).
    Duplicate,
    /// Before each notice, one naming another account's payment.
    Foreign,
    /// None.
    Never,
}

/// A notice the fake sent.
#[derive(Debug, Clone)]
pub struct SentWebhook {
    pub url: String,
    pub notice_id: u64,
    pub data_id: String,
    pub request_id: String,
    /// The receiver's status, or `None` when it did not answer.
    pub status: Option<u16>,
}

/// A card tokenised by [`FakeMercadoPago::tokenise`]: what the browser hands the store.
#[derive(Debug, Clone)]
pub struct CardToken {
    pub id: String,
    pub payment_method_id: String,
    /// The first six digits.
    pub bin: String,
    pub last_four: String,
}

/// A card token: what the fake keeps of a card (never the number).
#[derive(Debug, Clone)]
struct TokenCard {
    first_six: String,
    last_four: String,
    holder: String,
    payment_method_id: String,
    expiration_month: i64,
    expiration_year: i64,
    identification: Value,
    used: bool,
}

struct Inner {
    opts: FakeOptions,
    base: String,
    spec: Arc<OpenApi>,
    payments: BTreeMap<u64, Value>,
    created_ms: HashMap<u64, i64>,
    foreign: BTreeSet<u64>,
    /// (operation, key) → the answer given.
    idempotent: HashMap<(String, String), (u16, Value)>,
    tokens: HashMap<String, TokenCard>,
    next_id: u64,
    next_refund: u64,
    next_notice: u64,
    failures: Vec<Failure>,
    webhook_mode: WebhookMode,
    requests: usize,
    violations: Vec<String>,
    sent: Arc<Mutex<Vec<SentWebhook>>>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake; stopped when dropped.
pub struct FakeMercadoPago {
    addr: SocketAddr,
    state: Shared,
    task: JoinHandle<()>,
    http: reqwest::Client,
}

impl Drop for FakeMercadoPago {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeMercadoPago {
    /// Start on `127.0.0.1`, a free port. Panics when the spec cannot be loaded.
    pub async fn start(opts: FakeOptions) -> Self {
        let spec = OpenApi::load(&opts.spec_path).unwrap_or_else(|e| {
            panic!(
                "the fake Mercado Pago needs the spec at {}: {e}",
                opts.spec_path.display()
            )
        });
        let (listener, addr) = bind_local().await;
        let state = Arc::new(Mutex::new(Inner {
            opts,
            base: format!("http://{addr}"),
            spec: Arc::new(spec),
            payments: BTreeMap::new(),
            created_ms: HashMap::new(),
            foreign: BTreeSet::new(),
            idempotent: HashMap::new(),
            tokens: HashMap::new(),
            next_id: 1_325_000_001,
            next_refund: 2_600_000_001,
            next_notice: 110_000_001,
            failures: Vec::new(),
            webhook_mode: WebhookMode::Normal,
            requests: 0,
            violations: Vec::new(),
            sent: Arc::default(),
        }));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let app = Router::new()
            .fallback(handle)
            .with_state((Arc::clone(&state), http.clone()));
        let task = serve(listener, app);
        Self {
            addr,
            state,
            task,
            http,
        }
    }

    /// `http://127.0.0.1:{port}`: the API's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The tokenisation script: `{url}/js/v2`.
    pub fn script_url(&self) -> String {
        format!("{}/js/v2", self.url())
    }

    pub fn access_token(&self) -> String {
        self.lock().opts.access_token.clone()
    }

    pub fn public_key(&self) -> String {
        self.lock().opts.public_key.clone()
    }

    pub fn webhook_secret(&self) -> String {
        self.lock().opts.webhook_secret.clone()
    }

    /// Requests served so far (every path, the script's included).
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    /// Every departure from the spec or from how Mercado Pago is called, by the client or by
    /// the fake itself.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// The next `n` API requests fail as `failure`.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.lock().failures.extend(std::iter::repeat_n(failure, n));
    }

    /// How notices are sent from now on.
    pub fn webhooks(&self, mode: WebhookMode) {
        self.lock().webhook_mode = mode;
    }

    /// The notices sent so far (delivery is asynchronous: see [`Self::wait_webhooks`]).
    pub fn sent_webhooks(&self) -> Vec<SentWebhook> {
        self.lock().sent.lock().expect("sent").clone()
    }

    /// Wait (at most `within`) until `n` notices were delivered or failed.
    pub async fn wait_webhooks(&self, n: usize, within: Duration) -> Vec<SentWebhook> {
        wait_for_count(n, within, || self.sent_webhooks()).await
    }

    /// The payment as `GET /v1/payments/{id}` shows it.
    pub fn payment(&self, id: &str) -> Option<Value> {
        let id: u64 = id.parse().ok()?;
        self.lock().payments.get(&id).cloned()
    }

    /// The boleto is paid: the payment is approved.
    pub async fn pay_boleto(&self, id: &str) -> Result<(), String> {
        self.settle(id, "bolbradesco", Settle::Approve).await
    }

    /// The Pix charge is paid: the payment is approved.
    pub async fn pay_pix(&self, id: &str) -> Result<(), String> {
        self.settle(id, "pix", Settle::Approve).await
    }

    /// The boleto or Pix charge expired unpaid: `cancelled` / `expired`.
    pub async fn expire(&self, id: &str) -> Result<(), String> {
        self.settle(id, "", Settle::Expire).await
    }

    /// The buyer completes (or fails) the 3-D Secure challenge, as the challenge page's buttons
    /// do.
    pub async fn challenge(&self, id: &str, approve: bool) -> Result<(), String> {
        let how = if approve {
            Settle::Approve
        } else {
            Settle::Refuse
        };
        self.settle(id, "", how).await
    }

    /// Tokenise a card as the script does in the buyer's browser (`POST /v1/card_tokens` with
    /// the public key, then `GET /v1/payment_methods/search?bin=`): expiry 11/2030, security
    /// code 123 (1234 for Amex), the holder's name choosing the outcome.
    pub async fn tokenise(&self, number: &str, holder: &str) -> Result<CardToken, String> {
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let code = if digits.starts_with("34") || digits.starts_with("37") {
            "1234"
        } else {
            "123"
        };
        let token = self
            .with_public_key(self.http.post(format!("{}/v1/card_tokens", self.url())).json(&json!({
                "card_number": digits,
                "expiration_month": 11,
                "expiration_year": 2030,
                "security_code": code,
                "cardholder": {"name": holder, "identification": {"type": "CPF", "number": "12345678909"}},
            })))
            .await?;
        let id = token["id"]
            .as_str()
            .ok_or_else(|| format!("no token: {token}"))?
            .to_owned();
        let bin = digits.get(..6).unwrap_or_default().to_owned();
        let methods = self
            .with_public_key(
                self.http
                    .get(format!("{}/v1/payment_methods/search", self.url()))
                    .query(&[("bin", &bin)]),
            )
            .await?;
        let payment_method_id = methods["results"][0]["id"]
            .as_str()
            .ok_or_else(|| format!("no brand for {bin}"))?
            .to_owned();
        Ok(CardToken {
            id,
            payment_method_id,
            bin,
            last_four: digits
                .get(digits.len().saturating_sub(4)..)
                .unwrap_or_default()
                .to_owned(),
        })
    }

    /// A call as the script makes it: the public key in `X-Public-Key`, JSON back.
    async fn with_public_key(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        request
            .header("x-public-key", self.public_key())
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())
    }

    /// `x-signature` for a notice about `data_id` (for tests that forge or replay notices).
    pub fn sign(&self, data_id: &str, request_id: &str, ts: i64) -> String {
        let secret = self.webhook_secret();
        signature(&secret, data_id, request_id, ts)
    }

    async fn settle(&self, id: &str, method: &str, how: Settle) -> Result<(), String> {
        let jobs = {
            let mut inner = self.lock();
            settle(&mut inner, id, method, how)?
        };
        send_all(Arc::clone(&self.state), self.http.clone(), jobs).await;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().expect("the fake's state")
    }
}

#[derive(Clone, Copy)]
enum Settle {
    Approve,
    Refuse,
    Expire,
}

fn settle(inner: &mut Inner, id: &str, method: &str, how: Settle) -> Result<Vec<Job>, String> {
    let key: u64 = id
        .parse()
        .map_err(|_| format!("{id} is not a payment id"))?;
    let now = now_ms();
    let payment = inner
        .payments
        .get_mut(&key)
        .ok_or_else(|| format!("no payment {id}"))?;
    let status = payment["status"].as_str().unwrap_or_default().to_owned();
    if !matches!(status.as_str(), "pending" | "in_process") {
        return Err(format!("payment {id} is {status}, not pending"));
    }
    if !method.is_empty() && payment["payment_method_id"] != method {
        return Err(format!("payment {id} is not a {method} payment"));
    }
    match how {
        Settle::Approve => {
            payment["status"] = json!("approved");
            payment["status_detail"] = json!("accredited");
            payment["date_approved"] = json!(iso(now));
            let total = payment["transaction_details"]["total_paid_amount"]
                .as_f64()
                .filter(|t| *t > 0.0)
                .or(payment["transaction_amount"].as_f64())
                .unwrap_or(0.0);
            payment["transaction_details"]["total_paid_amount"] = json!(total);
            payment["transaction_details"]["net_received_amount"] = json!(total);
            if payment.get("card").is_some() {
                payment["authorization_code"] = json!(format!("{:06}", key % 1_000_000));
            }
        }
        Settle::Refuse => {
            payment["status"] = json!("rejected");
            payment["status_detail"] = json!("cc_rejected_3ds_challenge");
        }
        Settle::Expire => {
            payment["status"] = json!("cancelled");
            payment["status_detail"] = json!("expired");
        }
    }
    if let Some(info) = payment.as_object_mut() {
        info.remove("three_ds_info");
    }
    payment["date_last_updated"] = json!(iso(now));
    Ok(notices(inner, key, "payment.updated"))
}

/// A notice to deliver.
struct Job {
    url: String,
    notice_id: u64,
    data_id: String,
    action: String,
    secret: String,
    spec: Arc<OpenApi>,
}

/// The notices a change of payment `id` makes, by the current mode.
fn notices(inner: &mut Inner, id: u64, action: &str) -> Vec<Job> {
    let Some(url) = inner.payments[&id]["notification_url"]
        .as_str()
        .map(str::to_owned)
    else {
        return Vec::new();
    };
    let job = |inner: &mut Inner, data_id: u64| {
        inner.next_notice += 1;
        Job {
            url: url.clone(),
            notice_id: inner.next_notice,
            data_id: data_id.to_string(),
            action: action.to_owned(),
            secret: inner.opts.webhook_secret.clone(),
            spec: inner.spec.clone(),
        }
    };
    match inner.webhook_mode {
        WebhookMode::Never => Vec::new(),
        WebhookMode::Normal => vec![job(inner, id)],
        WebhookMode::Duplicate => {
            let first = job(inner, id);
            let again = Job {
                url: first.url.clone(),
                notice_id: first.notice_id,
                data_id: first.data_id.clone(),
                action: first.action.clone(),
                secret: first.secret.clone(),
                spec: first.spec.clone(),
            };
            vec![first, again]
        }
        WebhookMode::Foreign => {
            inner.next_id += 1;
            let foreign = inner.next_id;
            inner.foreign.insert(foreign);
            vec![job(inner, foreign), job(inner, id)]
        }
    }
}

async fn send_all(state: Shared, http: reqwest::Client, jobs: Vec<Job>) {
    for job in jobs {
        let request_id = uuid_like(&format!("{}-{}", job.notice_id, now_ms()));
        let ts = now_ms() / 1000;
        let body = json!({
            "id": job.notice_id,
            "live_mode": false,
            "type": "payment",
            "date_created": iso(now_ms()),
            "user_id": COLLECTOR_ID,
            "api_version": "v1",
            "action": job.action,
            "data": {"id": job.data_id},
        });
        let problems = job.spec.check_schema("WebhookNotification", &body);
        record(&state, "webhook WebhookNotification", problems);
        let mut url = match url::Url::parse(&job.url) {
            Ok(url) => url,
            Err(e) => {
                record(
                    &state,
                    "webhook",
                    vec![format!("bad notification_url: {e}")],
                );
                continue;
            }
        };
        url.query_pairs_mut()
            .append_pair("data.id", &job.data_id)
            .append_pair("type", "payment");
        let status = http
            .post(url)
            .header(
                "x-signature",
                signature(&job.secret, &job.data_id, &request_id, ts),
            )
            .header("x-request-id", &request_id)
            .json(&body)
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16());
        let sent = Arc::clone(&state.lock().expect("state").sent);
        sent.lock().expect("sent").push(SentWebhook {
            url: job.url,
            notice_id: job.notice_id,
            data_id: job.data_id,
            request_id,
            status,
        });
    }
}

fn signature(secret: &str, data_id: &str, request_id: &str, ts: i64) -> String {
    let manifest = format!(
        "id:{};request-id:{request_id};ts:{ts};",
        data_id.to_lowercase()
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(manifest.as_bytes());
    let v1: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("ts={ts},v1={v1}")
}

async fn bind_local() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("a local address");
    (listener, addr)
}

fn serve(listener: tokio::net::TcpListener, app: Router) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// Ask `list` again until it holds `n` items or `within` has passed.
async fn wait_for_count<T>(n: usize, within: Duration, list: impl Fn() -> Vec<T>) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let items = list();
        if items.len() >= n || tokio::time::Instant::now() >= deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn record(state: &Shared, what: &str, problems: Vec<String>) {
    if problems.is_empty() {
        return;
    }
    let mut inner = state.lock().expect("state");
    inner
        .violations
        .extend(problems.into_iter().map(|p| format!("{what}: {p}")));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `2026-12-05T21:10:00.000-03:00`, as Mercado Pago writes dates.
fn iso(ms: i64) -> String {
    let offset = time::UtcOffset::from_hms(-3, 0, 0).expect("offset");
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    at.format(&format).unwrap_or_default()
}

fn parse_iso(text: &str) -> Option<i64> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A UUID-shaped id made from `seed` (notices' `x-request-id`, card tokens).
fn uuid_like(seed: &str) -> String {
    use sha2::Digest;
    let d = Sha256::digest(seed.as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn money(value: &Value) -> Option<Money> {
    let v = value.as_f64()?;
    (v.is_finite() && v >= 0.0).then(|| Money::from_centavos((v * 100.0).round() as i64))
}

fn decimal(m: Money) -> f64 {
    m.centavos() as f64 / 100.0
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (
        status,
        json!({"status": status.as_u16(), "error": code, "message": message, "cause": []}),
    )
}

/// The card brands the fake takes, with the BIN patterns `GET /v1/payment_methods` shows
/// (first match wins: Elo and Hipercard before Visa and Mastercard).
const CARD_METHODS: &[(&str, &str, &str, &str)] = &[
    (
        "elo",
        "Elo",
        "^(401178|401179|431274|438935|451416|457393|504175|506699|509000|627780|636297|636368|650031|650901|651652|655000)",
        "",
    ),
    ("hipercard", "Hipercard", "^(606282|3841)", ""),
    ("amex", "American Express", "^(34|37)", ""),
    (
        "visa",
        "Visa",
        "^4",
        "^(401178|401179|431274|438935|451416|457393)",
    ),
    (
        "master",
        "Mastercard",
        "^(5[0-5]|2(2[2-9][1-9]|[3-6]\\d\\d|7[01]\\d|720))",
        "^(504175|506699|509000)",
    ),
];

fn method_for_bin(bin: &str) -> Option<&'static str> {
    CARD_METHODS
        .iter()
        .find(|(_, _, pattern, exclusion)| {
            Regex::new(pattern).is_ok_and(|r| r.is_match(bin))
                && (exclusion.is_empty() || !Regex::new(exclusion).is_ok_and(|r| r.is_match(bin)))
        })
        .map(|(id, ..)| *id)
}

fn method_json(id: &str, name: &str, pattern: &str, exclusion: &str) -> Value {
    let mut bin = json!({"pattern": pattern, "installments_pattern": "^\\d"});
    if !exclusion.is_empty() {
        bin["exclusion_pattern"] = json!(exclusion);
    }
    let code_length = if id == "amex" { 4 } else { 3 };
    json!({
        "id": id,
        "name": name,
        "payment_type_id": "credit_card",
        "status": "active",
        "deferred_capture": "supported",
        "settings": {
            "bin": bin,
            "card_number": {"length": if id == "amex" { 15 } else { 16 }, "validation": "standard"},
            "security_code": {"length": code_length, "mode": "mandatory", "card_location": "back"},
        },
        "additional_info_needed": ["cardholder_name", "cardholder_identification_type", "cardholder_identification_number"],
        "min_allowed_amount": 0.5,
        "max_allowed_amount": 60000.0,
        "accreditation_time": 2880,
        "financial_institutions": [],
        "processing_modes": ["aggregator"],
    })
}

/// The installment table of a BIN: Mercado Pago's test Mastercard (503143) up to 12× (1× to
/// 3× without interest, then 1,99 % a.m.), its test Visa (423564) up to 6× (2× to 6× at
/// 2,49 % a.m.), its test Amex (375365) 1× only; any other card 1× to 3× without interest.
/// Installments of at least R$ 5,00.
pub fn installment_table(bin: &str) -> InstallmentTable {
    let rates = if bin.starts_with("503143") {
        let mut r = vec![0; 3];
        r.extend([199; 9]);
        r
    } else if bin.starts_with("423564") {
        let mut r = vec![0];
        r.extend([249; 5]);
        r
    } else if bin.starts_with("375365") {
        vec![0]
    } else {
        vec![0; 3]
    };
    InstallmentTable {
        monthly_rate_bp: rates,
        min_installment: Money::from_centavos(500),
    }
}

fn payer_costs(bin: &str, amount: Money) -> Vec<Value> {
    installment_table(bin)
        .plans(amount)
        .into_iter()
        .map(|plan| {
            let interest = plan.total.centavos() - amount.centavos();
            let rate = (interest as f64 * 10_000.0 / amount.centavos() as f64).round() / 100.0;
            json!({
                "installments": plan.count,
                "installment_rate": rate,
                "discount_rate": 0.0,
                "labels": if interest == 0 { vec!["CFT_0,00%|TEA_0,00%"] } else { Vec::new() },
                "total_amount": decimal(plan.total),
                "installment_amount": decimal(plan.installment()),
            })
        })
        .collect()
}

/// A boleto's 44-digit barcode and 47-digit digitable line (FEBRABAN layout: bank 237, currency
/// 9, check digit by modulo 11, due-date factor, amount, a 25-digit free field from the payment
/// id; the line's three fields with modulo-10 check digits).
fn boleto_numbers(id: u64, amount: Money, due_ms: i64) -> (String, String) {
    let days = (due_ms / 86_400_000 - 10_141).max(0); // 1997-10-07 is day 10141 of the epoch
    let factor = if days <= 9_999 {
        days
    } else {
        (days - 10_000) % 9_000 + 1_000
    };
    let free = format!(
        "{:04}{:02}{:011}{:07}0",
        3380,
        9,
        id % 100_000_000_000,
        63_333
    );
    let partial = format!("2379{factor:04}{:010}{free}", amount.centavos());
    let dv = mod11(&partial);
    let barcode = format!("{}{dv}{}", &partial[..4], &partial[4..]);
    let f1 = format!("2379{}", &free[..5]);
    let f2 = free[5..15].to_owned();
    let f3 = free[15..25].to_owned();
    let line = format!(
        "{f1}{}{f2}{}{f3}{}{dv}{factor:04}{:010}",
        mod10(&f1),
        mod10(&f2),
        mod10(&f3),
        amount.centavos()
    );
    (barcode, line)
}

fn mod10(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
            d / 10 + d % 10
        })
        .sum();
    (10 - sum % 10) % 10
}

fn mod11(digits: &str) -> u32 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * (2 + (i as u32 % 8)))
        .sum();
    match 11 - sum % 11 {
        0 | 10 | 11 => 1,
        d => d,
    }
}

type AppState = (Shared, reqwest::Client);

async fn handle(
    State((state, http)): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    if method == Method::OPTIONS {
        return cors(StatusCode::NO_CONTENT.into_response());
    }
    let (failure, hold, spec) = {
        let mut inner = state.lock().expect("state");
        inner.requests += 1;
        let failure = (path.starts_with("/v1/") && !inner.failures.is_empty())
            .then(|| inner.failures.remove(0));
        (failure, inner.opts.hold, inner.spec.clone())
    };
    // Pages and the script: no API, no spec.
    if !path.starts_with("/v1/") {
        return cors(page(&state, &http, &method, &path).await);
    }
    let json_body: Option<Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(e) => {
                record(
                    &state,
                    &format!("{method} {path}"),
                    vec![format!("the body is not JSON: {e}")],
                );
                let (s, b) = error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the body is not JSON",
                );
                return cors((s, axum::Json(b)).into_response());
            }
        }
    };
    let in_spec = path != "/v1/payment_methods/search";
    if in_spec {
        let problems = spec.check_request(method.as_str(), &path, &query, json_body.as_ref());
        record(&state, &format!("request {method} {path}"), problems);
    }
    let (status, answer, extra) = match failure {
        Some(Failure::ServerError) => {
            let (s, b) = error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error",
            );
            (s, b, None)
        }
        Some(Failure::TooManyRequests) => {
            let (s, b) = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many requests",
            );
            (s, b, Some(("retry-after", "1")))
        }
        Some(Failure::Timeout) => {
            tokio::time::sleep(hold).await;
            let (s, b) = error(StatusCode::GATEWAY_TIMEOUT, "timeout", "held too long");
            (s, b, None)
        }
        None => {
            let (s, b, jobs) = {
                let mut inner = state.lock().expect("state");
                api(
                    &mut inner,
                    &method,
                    &path,
                    &query,
                    &headers,
                    json_body.as_ref(),
                )
            };
            // Delivered in the background, as Mercado Pago does: the answer does not wait.
            tokio::spawn(send_all(Arc::clone(&state), http.clone(), jobs));
            (s, b, None)
        }
    };
    // An injected fault is outside the spec on purpose (it declares no 5xx, and 429 only in
    // its components): its answer is not checked.
    if in_spec && failure.is_none() {
        let problems = spec.check_response(method.as_str(), &path, status.as_u16(), Some(&answer));
        record(
            &state,
            &format!("response {method} {path} {}", status.as_u16()),
            problems,
        );
    }
    let mut response = (status, axum::Json(answer)).into_response();
    if let Some((name, value)) = extra {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    cors(response)
}

fn cors(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-public-key"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    response
}

fn html(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// The script, the 3-D Secure page and the printable documents.
async fn page(state: &Shared, http: &reqwest::Client, method: &Method, path: &str) -> Response {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["js", "v2"]) => (
            [(
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            )],
            SCRIPT,
        )
            .into_response(),
        ("GET", ["challenge", id]) => {
            let pending = state
                .lock()
                .expect("state")
                .payments
                .get(&id.parse().unwrap_or(0))
                .is_some_and(|p| p["status_detail"] == "pending_challenge");
            if !pending {
                return (StatusCode::NOT_FOUND, "no challenge for this payment").into_response();
            }
            html(format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>3-D Secure</title></head>\
                 <body><h1>Confirm the payment {id}</h1><p>Your bank asks you to confirm this purchase.</p>\
                 <form method=\"post\" action=\"/challenge/{id}/approve\"><button id=\"approve\" type=\"submit\">Confirm</button></form>\
                 <form method=\"post\" action=\"/challenge/{id}/refuse\"><button id=\"refuse\" type=\"submit\">Refuse</button></form>\
                 </body></html>"
            ))
        }
        ("POST", ["challenge", id, decision @ ("approve" | "refuse")]) => {
            let how = if *decision == "approve" {
                Settle::Approve
            } else {
                Settle::Refuse
            };
            let jobs = {
                let mut inner = state.lock().expect("state");
                let pending = inner
                    .payments
                    .get(&id.parse().unwrap_or(0))
                    .is_some_and(|p| p["status_detail"] == "pending_challenge");
                if !pending {
                    return (StatusCode::CONFLICT, "this challenge is over").into_response();
                }
                match settle(&mut inner, id, "", how) {
                    Ok(jobs) => jobs,
                    Err(e) => return (StatusCode::CONFLICT, e).into_response(),
                }
            };
            tokio::spawn(send_all(Arc::clone(state), http.clone(), jobs));
            html(format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>3-D Secure</title></head>\
                 <body><p id=\"result\">{}</p></body></html>",
                if *decision == "approve" {
                    "Confirmed: you may close this page."
                } else {
                    "Refused."
                }
            ))
        }
        ("GET", ["boletos", id]) | ("GET", ["pix", id]) => {
            let inner = state.lock().expect("state");
            match inner.payments.get(&id.parse().unwrap_or(0)) {
                Some(p) => html(format!(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Payment {id}</title></head>\
                     <body><h1>{}</h1><p>{}</p><pre>{}</pre></body></html>",
                    p["payment_method_id"].as_str().unwrap_or_default(),
                    p["transaction_amount"],
                    p["transaction_details"]["digitable_line"]
                        .as_str()
                        .or(p["point_of_interaction"]["transaction_data"]["qr_code"].as_str())
                        .unwrap_or_default(),
                )),
                None => (StatusCode::NOT_FOUND, "no such payment").into_response(),
            }
        }
        _ => {
            // Outside the API (a browser's /favicon.ico): not the client's fault.
            (StatusCode::NOT_FOUND, "not found").into_response()
        }
    }
}

fn bearer_ok(inner: &Inner, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == inner.opts.access_token)
}

fn public_key_ok(inner: &Inner, headers: &HeaderMap) -> bool {
    headers
        .get("x-public-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| k == inner.opts.public_key)
}

/// A wrong public key: `400 bad_request` (the only error the spec declares for card tokens).
fn bad_public_key() -> (StatusCode, Value, Vec<Job>) {
    let (s, b) = error(StatusCode::BAD_REQUEST, "bad_request", "invalid public_key");
    (s, b, Vec::new())
}

fn unauthorized() -> (StatusCode, Value, Vec<Job>) {
    let (s, b) = error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "invalid access token",
    );
    (s, b, Vec::new())
}

/// The API proper, under the state's lock; the notices to send after it.
fn api(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    body: Option<&Value>,
) -> (StatusCode, Value, Vec<Job>) {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let q = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let no_jobs = |(s, b): (StatusCode, Value)| (s, b, Vec::new());
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["v1", "card_tokens"]) => {
            if !public_key_ok(inner, headers) {
                return bad_public_key();
            }
            if headers.contains_key(header::AUTHORIZATION) {
                inner
                    .violations
                    .push("POST /v1/card_tokens: sent with an access token (client-side only, public key)".into());
            }
            no_jobs(card_token(inner, body.unwrap_or(&Value::Null)))
        }
        ("GET", ["v1", "payment_methods", "search"]) => {
            if !public_key_ok(inner, headers) {
                return bad_public_key();
            }
            let bin = q("bin").unwrap_or_default();
            let results: Vec<Value> = CARD_METHODS
                .iter()
                .filter(|(id, ..)| method_for_bin(bin) == Some(*id))
                .map(|(id, name, p, e)| method_json(id, name, p, e))
                .collect();
            let total = results.len();
            no_jobs((
                StatusCode::OK,
                json!({"paging": {"total": total, "limit": 30, "offset": 0}, "results": results}),
            ))
        }
        ("GET", ["v1", "payment_methods"]) => {
            if !bearer_ok(inner, headers) {
                return unauthorized();
            }
            let mut all: Vec<Value> = CARD_METHODS
                .iter()
                .map(|(id, name, p, e)| method_json(id, name, p, e))
                .collect();
            all.push(json!({"id": "bolbradesco", "name": "Boleto", "payment_type_id": "ticket", "status": "active",
                "deferred_capture": "does_not_apply", "settings": {}, "additional_info_needed": [],
                "min_allowed_amount": 3.0, "max_allowed_amount": 100000.0, "accreditation_time": 1440,
                "financial_institutions": [], "processing_modes": ["aggregator"]}));
            all.push(json!({"id": "pix", "name": "Pix", "payment_type_id": "bank_transfer", "status": "active",
                "deferred_capture": "does_not_apply", "settings": {}, "additional_info_needed": [],
                "min_allowed_amount": 0.01, "max_allowed_amount": 100000.0, "accreditation_time": 0,
                "financial_institutions": [], "processing_modes": ["aggregator"]}));
            no_jobs((StatusCode::OK, Value::Array(all)))
        }
        ("GET", ["v1", "payment_methods", "installments"]) => {
            if !bearer_ok(inner, headers) && !public_key_ok(inner, headers) {
                return unauthorized();
            }
            let amount = q("amount")
                .and_then(|a| a.parse::<f64>().ok())
                .filter(|a| a.is_finite() && *a > 0.0)
                .map(|a| Money::from_centavos((a * 100.0).round() as i64));
            let (Some(amount), Some(method_id)) = (amount, q("payment_method_id")) else {
                return no_jobs(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "amount and payment_method_id are required",
                ));
            };
            let bin = q("bin").unwrap_or_default();
            if !bin.is_empty() && method_for_bin(bin) != Some(method_id) {
                return no_jobs(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the bin does not belong to payment_method_id",
                ));
            }
            no_jobs((
                StatusCode::OK,
                json!([{
                    "payment_method_id": method_id,
                    "payment_type_id": "credit_card",
                    "issuer": {"id": 24, "name": "Banco Fake"},
                    "payer_costs": payer_costs(bin, amount),
                }]),
            ))
        }
        _ if !bearer_ok(inner, headers) => unauthorized(),
        ("POST", ["v1", "payments"]) => {
            create_payment(inner, headers, body.unwrap_or(&Value::Null))
        }
        ("GET", ["v1", "payments", "search"]) => no_jobs(search(inner, q)),
        ("GET", ["v1", "payments", id]) => match own_payment(inner, id) {
            Some(key) => no_jobs((StatusCode::OK, inner.payments[&key].clone())),
            None => not_found(),
        },
        ("PUT", ["v1", "payments", id]) => update_payment(inner, id, body.unwrap_or(&Value::Null)),
        ("POST", ["v1", "payments", id, "refunds"]) => {
            refund(inner, id, headers, body.unwrap_or(&Value::Null))
        }
        _ => {
            inner
                .violations
                .push(format!("{method} {path}: not a path the fake serves"));
            no_jobs(error(
                StatusCode::NOT_FOUND,
                "not_found",
                "resource not found",
            ))
        }
    }
}

fn card_token(inner: &mut Inner, body: &Value) -> (StatusCode, Value) {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "bad_request", m);
    let Some(number) = body["card_number"].as_str() else {
        return bad("card_number is required");
    };
    let Ok(card) = CardNumber::parse(number) else {
        return bad("invalid card_number");
    };
    let digits = card.digits().to_owned();
    let Some(method) = method_for_bin(&digits[..6]) else {
        return bad("card brand not accepted");
    };
    let (month, year) = (
        body["expiration_month"].as_i64().unwrap_or(0),
        body["expiration_year"].as_i64().unwrap_or(0),
    );
    let now = time::OffsetDateTime::now_utc();
    let current = i64::from(now.year()) * 12 + i64::from(u8::from(now.month()));
    if !(1..=12).contains(&month) || year * 12 + month < current {
        return bad("invalid expiration date");
    }
    let code = body["security_code"].as_str().unwrap_or_default();
    let code_length = if method == "amex" { 4 } else { 3 };
    if code.len() != code_length || !code.bytes().all(|b| b.is_ascii_digit()) {
        return bad("invalid security_code");
    }
    let holder = body["cardholder"]["name"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if holder.is_empty() {
        return bad("cardholder.name is required");
    }
    let id = uuid_like(&format!("token-{}-{}", digits, now_ms())).replace('-', "");
    let identification = body["cardholder"]["identification"].clone();
    let token = TokenCard {
        first_six: digits[..6].to_owned(),
        last_four: card.last4().to_owned(),
        holder: holder.clone(),
        payment_method_id: method.to_owned(),
        expiration_month: month,
        expiration_year: year,
        identification: identification.clone(),
        used: false,
    };
    let now = now_ms();
    let mut cardholder = json!({"name": holder});
    if identification.is_object() {
        cardholder["identification"] = identification;
    }
    let answer = json!({
        "id": id,
        "first_six_digits": token.first_six,
        "last_four_digits": token.last_four,
        "expiration_month": month,
        "expiration_year": year,
        "date_created": iso(now),
        "date_due": iso(now + 7 * 86_400_000),
        "luhn_validation": true,
        "status": "active",
        "cardholder": cardholder,
    });
    inner.tokens.insert(id, token);
    (StatusCode::CREATED, answer)
}

fn idempotency_key(inner: &mut Inner, headers: &HeaderMap, what: &str) -> Option<String> {
    let key = headers
        .get("x-idempotency-key")
        .and_then(|v| v.to_str().ok())?
        .to_owned();
    if !is_uuid(&key) {
        inner.violations.push(format!(
            "{what}: X-Idempotency-Key {key:?} is not a uuid (the spec's format)"
        ));
    }
    Some(key)
}

fn create_payment(
    inner: &mut Inner,
    headers: &HeaderMap,
    body: &Value,
) -> (StatusCode, Value, Vec<Job>) {
    let key = idempotency_key(inner, headers, "POST /v1/payments");
    if let Some(key) = &key
        && let Some((status, answer)) = inner.idempotent.get(&("payment".into(), key.clone()))
    {
        // The same payment, as it stands now.
        let answer = answer["id"]
            .as_u64()
            .and_then(|id| inner.payments.get(&id).cloned())
            .unwrap_or_else(|| answer.clone());
        return (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
            answer,
            Vec::new(),
        );
    }
    let (status, answer) = match new_payment(inner, body) {
        Ok(payment) => (StatusCode::CREATED, payment),
        Err(e) => (e.0, e.1),
    };
    if let Some(key) = key {
        inner
            .idempotent
            .insert(("payment".into(), key), (status.as_u16(), answer.clone()));
    }
    let jobs = match answer["id"].as_u64() {
        Some(id) if status == StatusCode::CREATED => notices(inner, id, "payment.created"),
        _ => Vec::new(),
    };
    (status, answer, jobs)
}

fn new_payment(inner: &mut Inner, body: &Value) -> Result<Value, (StatusCode, Value)> {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "bad_request", m);
    let amount = money(&body["transaction_amount"])
        .filter(|m| m.centavos() > 0)
        .ok_or_else(|| bad("transaction_amount must be a positive number"))?;
    let email = body["payer"]["email"]
        .as_str()
        .filter(|e| e.contains('@'))
        .ok_or_else(|| bad("payer.email is required"))?;
    let method = body["payment_method_id"]
        .as_str()
        .ok_or_else(|| bad("payment_method_id is required"))?
        .to_owned();
    let now = now_ms();
    inner.next_id += 1;
    let id = inner.next_id;
    let base = inner.base.clone();
    let mut payer = json!({"email": email, "type": "guest"});
    if body["payer"]["identification"].is_object() {
        payer["identification"] = body["payer"]["identification"].clone();
    }
    let mut payment = json!({
        "id": id,
        "date_created": iso(now),
        "date_last_updated": iso(now),
        "operation_type": "regular_payment",
        "payment_method_id": method,
        "currency_id": "BRL",
        "description": body["description"].as_str().unwrap_or_default(),
        "payer": payer,
        "metadata": {},
        "additional_info": {},
        "transaction_amount": decimal(amount),
        "transaction_amount_refunded": 0.0,
        "coupon_amount": 0.0,
        "captured": true,
        "binary_mode": false,
        "installments": 1,
        "processing_mode": "aggregator",
        "collector_id": COLLECTOR_ID,
    });
    for field in [
        "external_reference",
        "notification_url",
        "statement_descriptor",
    ] {
        if let Some(v) = body[field].as_str() {
            payment[field] = json!(v);
        }
    }
    let expires_ms = match body["date_of_expiration"].as_str() {
        Some(text) => {
            Some(parse_iso(text).ok_or_else(|| bad("date_of_expiration is not a date-time"))?)
        }
        None => None,
    };
    match method.as_str() {
        "bolbradesco" => {
            if body["payer"]["first_name"]
                .as_str()
                .is_none_or(str::is_empty)
                || body["payer"]["identification"]["number"].as_str().is_none()
            {
                return Err(bad(
                    "a boleto needs payer.first_name and payer.identification",
                ));
            }
            let due = expires_ms.unwrap_or(now + 3 * 86_400_000);
            let (barcode, line) = boleto_numbers(id, amount, due);
            payment["payment_type_id"] = json!("ticket");
            payment["status"] = json!("pending");
            payment["status_detail"] = json!("pending_waiting_payment");
            payment["date_of_expiration"] = json!(iso(due));
            payment["barcode"] = json!({"content": barcode});
            payment["transaction_details"] = json!({
                "net_received_amount": 0.0,
                "total_paid_amount": decimal(amount),
                "overpaid_amount": 0.0,
                "installment_amount": 0.0,
                "external_resource_url": format!("{base}/boletos/{id}"),
                "digitable_line": line,
                "barcode": {"content": barcode},
                "payment_method_reference_id": format!("{id}"),
            });
        }
        "pix" => {
            let due = expires_ms.unwrap_or(now + 86_400_000);
            let br_code = BrCode::new(
                "fake-mercadopago@vitrine.invalid",
                "MERCADO PAGO FAKE",
                "OSASCO",
                Some(amount),
                Some(&format!("mp{id}")),
            )
            .map_err(|e| bad(&format!("cannot make the Pix code: {e}")))?
            .payload();
            payment["payment_type_id"] = json!("bank_transfer");
            payment["status"] = json!("pending");
            payment["status_detail"] = json!("pending_waiting_transfer");
            payment["date_of_expiration"] = json!(iso(due));
            payment["transaction_details"] = json!({
                "net_received_amount": 0.0,
                "total_paid_amount": decimal(amount),
                "overpaid_amount": 0.0,
                "installment_amount": 0.0,
            });
            payment["point_of_interaction"] = json!({
                "type": "PIX",
                "transaction_data": {
                    "qr_code": br_code,
                    "ticket_url": format!("{base}/pix/{id}"),
                },
            });
        }
        card_method if CARD_METHODS.iter().any(|(m, ..)| *m == card_method) => {
            let token_id = body["token"]
                .as_str()
                .ok_or_else(|| bad("token is required for card payments"))?;
            let token = inner
                .tokens
                .get(token_id)
                .cloned()
                .ok_or_else(|| bad("invalid card token"))?;
            if token.used {
                return Err(bad("the card token was used already"));
            }
            if token.payment_method_id != card_method {
                return Err(bad("payment_method_id does not match the card"));
            }
            let count = body["installments"].as_u64().unwrap_or(1) as u32;
            let plan = installment_table(&token.first_six)
                .plan(amount, count)
                .map_err(|_| bad("invalid installments for this card and amount"))?;
            if let Some(t) = inner.tokens.get_mut(token_id) {
                t.used = true;
            }
            let (status, detail) = match token.holder.to_uppercase().as_str() {
                "OTHE" => ("rejected", "cc_rejected_other_reason"),
                "FUND" => ("rejected", "cc_rejected_insufficient_amount"),
                "CONT" => ("in_process", "pending_contingency"),
                // A challenge only when the client asked for 3-D Secure.
                "3DS"
                    if matches!(
                        body["three_d_secure_mode"].as_str(),
                        Some("optional" | "mandatory")
                    ) =>
                {
                    ("pending", "pending_challenge")
                }
                _ => ("approved", "accredited"),
            };
            payment["payment_type_id"] = json!("credit_card");
            payment["status"] = json!(status);
            payment["status_detail"] = json!(detail);
            payment["installments"] = json!(count);
            if let Some(issuer) = body["issuer_id"].as_str() {
                payment["issuer_id"] = json!(issuer);
            }
            let paid = if status == "approved" {
                plan.total
            } else {
                Money::ZERO
            };
            payment["transaction_details"] = json!({
                "net_received_amount": decimal(paid),
                "total_paid_amount": decimal(plan.total),
                "overpaid_amount": 0.0,
                "installment_amount": decimal(plan.installment()),
            });
            let mut cardholder = json!({"name": token.holder});
            if token.identification.is_object() {
                cardholder["identification"] = token.identification.clone();
            }
            payment["card"] = json!({
                "first_six_digits": token.first_six,
                "last_four_digits": token.last_four,
                "expiration_month": token.expiration_month,
                "expiration_year": token.expiration_year,
                "date_created": iso(now),
                "date_last_updated": iso(now),
                "cardholder": cardholder,
            });
            if status == "approved" {
                payment["date_approved"] = json!(iso(now));
                payment["authorization_code"] = json!(format!("{:06}", id % 1_000_000));
            }
            if detail == "pending_challenge" {
                payment["three_ds_info"] = json!({
                    "external_resource_url": format!("{base}/challenge/{id}"),
                    "creq": format!("fake-creq-{id}"),
                });
            }
        }
        _ => return Err(bad("payment_method_id not found")),
    }
    inner.created_ms.insert(id, now);
    inner.payments.insert(id, payment.clone());
    Ok(payment)
}

/// The id of a payment of this shop's account (another account's reads as unknown).
fn own_payment(inner: &Inner, id: &str) -> Option<u64> {
    id.parse::<u64>()
        .ok()
        .filter(|k| inner.payments.contains_key(k) && !inner.foreign.contains(k))
}

fn not_found() -> (StatusCode, Value, Vec<Job>) {
    let (s, b) = error(StatusCode::NOT_FOUND, "not_found", "Payment not found");
    (s, b, Vec::new())
}

fn update_payment(inner: &mut Inner, id: &str, body: &Value) -> (StatusCode, Value, Vec<Job>) {
    let Some(key) = own_payment(inner, id) else {
        return not_found();
    };
    if body["status"] != "cancelled" {
        let (s, b) = error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "only {\"status\":\"cancelled\"} is supported by the fake",
        );
        return (s, b, Vec::new());
    }
    let payment = inner.payments.get_mut(&key).expect("checked above");
    let status = payment["status"].as_str().unwrap_or_default().to_owned();
    if !matches!(status.as_str(), "pending" | "in_process" | "authorized") {
        let (s, b) = error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("a payment that is {status} cannot be cancelled"),
        );
        return (s, b, Vec::new());
    }
    payment["status"] = json!("cancelled");
    payment["status_detail"] = json!("by_collector");
    payment["date_last_updated"] = json!(iso(now_ms()));
    if let Some(p) = payment.as_object_mut() {
        p.remove("three_ds_info");
    }
    let answer = payment.clone();
    let jobs = notices(inner, key, "payment.updated");
    (StatusCode::OK, answer, jobs)
}

fn refund(
    inner: &mut Inner,
    id: &str,
    headers: &HeaderMap,
    body: &Value,
) -> (StatusCode, Value, Vec<Job>) {
    let what = format!("POST /v1/payments/{id}/refunds");
    let key = idempotency_key(inner, headers, &what);
    if let Some(key) = &key
        && let Some((status, answer)) = inner.idempotent.get(&("refund".into(), key.clone()))
    {
        return (
            StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
            answer.clone(),
            Vec::new(),
        );
    }
    let Some(pid) = own_payment(inner, id) else {
        return not_found();
    };
    let payment = inner.payments.get_mut(&pid).expect("checked above");
    let paid = money(&payment["transaction_details"]["total_paid_amount"])
        .filter(|m| m.centavos() > 0)
        .or_else(|| money(&payment["transaction_amount"]))
        .unwrap_or(Money::ZERO);
    let refunded = money(&payment["transaction_amount_refunded"]).unwrap_or(Money::ZERO);
    let left = Money::from_centavos(paid.centavos() - refunded.centavos());
    let result = if payment["status"] != "approved" {
        Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "only approved payments can be refunded",
        ))
    } else {
        let amount = match body.get("amount") {
            None => Ok(left),
            Some(a) => money(a).filter(|m| m.centavos() > 0).ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "amount must be a positive number",
                )
            }),
        };
        amount.and_then(|amount| {
            if amount > left {
                Err(error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the amount is more than what is left to refund",
                ))
            } else {
                Ok(amount)
            }
        })
    };
    let (status, answer, jobs) = match result {
        Err((s, b)) => (s, b, Vec::new()),
        Ok(amount) => {
            let total = Money::from_centavos(refunded.centavos() + amount.centavos());
            payment["transaction_amount_refunded"] = json!(decimal(total));
            if total >= paid {
                payment["status"] = json!("refunded");
                payment["status_detail"] = json!("refunded");
            }
            payment["date_last_updated"] = json!(iso(now_ms()));
            inner.next_refund += 1;
            let refund = json!({
                "id": inner.next_refund,
                "payment_id": pid,
                "amount": decimal(amount),
                "metadata": {},
                "source": {"id": COLLECTOR_ID.to_string(), "name": "vitrine", "type": "collector"},
                "date_created": iso(now_ms()),
                "unique_sequence_number": format!("{}", inner.next_refund),
                "refund_mode": "standard",
                "status": "approved",
                "partition_details": [],
            });
            let jobs = notices(inner, pid, "payment.updated");
            (StatusCode::CREATED, refund, jobs)
        }
    };
    if let Some(key) = key {
        inner
            .idempotent
            .insert(("refund".into(), key), (status.as_u16(), answer.clone()));
    }
    (status, answer, jobs)
}

fn search<'a>(inner: &Inner, q: impl Fn(&str) -> Option<&'a str>) -> (StatusCode, Value) {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "bad_request", m);
    if q("sort").is_none() || q("criteria").is_none() {
        return bad("sort and criteria are required");
    }
    let begin = match q("begin_date").map(parse_iso) {
        Some(None) => return bad("begin_date is not a date-time"),
        Some(Some(ms)) => Some(ms),
        None => None,
    };
    let end = match q("end_date").map(parse_iso) {
        Some(None) => return bad("end_date is not a date-time"),
        Some(Some(ms)) => Some(ms),
        None => None,
    };
    let limit: usize = q("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(30)
        .min(1000);
    let offset: usize = q("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let mut matching: Vec<(&u64, &Value)> = inner
        .payments
        .iter()
        .filter(|(id, _)| !inner.foreign.contains(id))
        .filter(|(_, p)| q("status").is_none_or(|s| p["status"] == s))
        .filter(|(_, p)| q("external_reference").is_none_or(|r| p["external_reference"] == r))
        .filter(|(id, _)| {
            let at = inner.created_ms.get(id).copied().unwrap_or(0);
            begin.is_none_or(|b| at >= b) && end.is_none_or(|e| at <= e)
        })
        .collect();
    if q("criteria") == Some("desc") {
        matching.reverse();
    }
    let total = matching.len();
    let results: Vec<Value> = matching
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, p)| p.clone())
        .collect();
    (
        StatusCode::OK,
        json!({"results": results, "paging": {"total": total, "limit": limit, "offset": offset}}),
    )
}

/// A receiver for the fake's notices (the store's webhook endpoint, in tests).
pub struct WebhookInbox {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<ReceivedWebhook>>>,
    task: JoinHandle<()>,
}

/// One notice as it arrived.
#[derive(Debug, Clone)]
pub struct ReceivedWebhook {
    pub query: Vec<(String, String)>,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub at: Timestamp,
}

impl ReceivedWebhook {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    pub fn query(&self, name: &str) -> Option<String> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

impl Drop for WebhookInbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookInbox {
    /// Start on `127.0.0.1`, a free port; every POST is kept and answered 200.
    pub async fn start() -> Self {
        let received: Arc<Mutex<Vec<ReceivedWebhook>>> = Arc::default();
        let kept = Arc::clone(&received);
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let kept = Arc::clone(&kept);
            async move {
                kept.lock().expect("inbox").push(ReceivedWebhook {
                    query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                        .into_owned()
                        .collect(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect(),
                    body,
                    at: Timestamp::from_millis(now_ms()),
                });
                StatusCode::OK
            }
        });
        let (listener, addr) = bind_local().await;
        let task = serve(listener, app);
        Self {
            addr,
            received,
            task,
        }
    }

    /// The URL to give as `notification_url`.
    pub fn url(&self) -> String {
        format!("http://{}/api/v1/payments/webhooks/mercadopago", self.addr)
    }

    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.received.lock().expect("inbox").clone()
    }

    /// Wait (at most `within`) for `n` notices.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<ReceivedWebhook> {
        wait_for_count(n, within, || self.received()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boleto_numbers_have_their_check_digits() {
        let (barcode, line) = boleto_numbers(
            1_325_000_002,
            Money::from_centavos(12_345),
            1_767_225_600_000,
        );
        assert_eq!(barcode.len(), 44);
        assert_eq!(line.len(), 47);
        assert!(barcode.starts_with("2379"));
        // The barcode's check digit (position 5) is modulo 11 of the other 43.
        let rest = format!("{}{}", &barcode[..4], &barcode[5..]);
        assert_eq!(barcode[4..5], mod11(&rest).to_string());
        assert_eq!(line[9..10], mod10(&line[..9]).to_string());
        assert_eq!(
            &barcode[19..],
            &format!("{}{}{}", &line[4..9], &line[10..20], &line[21..31])
        );
    }

    #[test]
    fn bins_and_tables() {
        assert_eq!(method_for_bin("503143"), Some("master"));
        assert_eq!(method_for_bin("423564"), Some("visa"));
        assert_eq!(method_for_bin("375365"), Some("amex"));
        assert_eq!(method_for_bin("636368"), Some("elo"));
        assert_eq!(installment_table("503143").monthly_rate_bp.len(), 12);
        let costs = payer_costs("503143", Money::from_centavos(100_000));
        assert_eq!(costs.len(), 12);
        assert_eq!(costs[9]["total_amount"], json!(1112.7));
    }

    #[test]
    fn signatures_match_the_documented_vector() {
        assert_eq!(
            signature(
                "test-secret",
                "123456",
                "bb56a2f1-6aae-46ac-982e-9dcd3581d08e",
                1_704_908_010
            ),
            "ts=1704908010,v1=aa03614f237c28380f08b45b5ad11eea289b7546c54c5c6a042611e605f16b3d"
        );
    }
}
