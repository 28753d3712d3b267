//! A fake Melhor Envio that holds a client to Melhor Envio's published API v2 (the facts and their
//! sources: `crates/vitrine-shipping/NOTES.md`): plain HTTP on `127.0.0.1`, a random port.
//!
//! Every request is checked before it is served, and an invalid one is answered as Melhor Envio
//! answers, `422 {"message": "The given data was invalid.", "errors": {"<field>": ["…"]}}`, and
//! recorded in [`FakeMelhorEnvio::violations`]:
//! - the route: `POST` under `/api/v2/me/` (`shipment/calculate`, `cart`, `shipment/checkout`,
//!   `shipment/generate`, `shipment/print`, `shipment/tracking`); another path is a 404, another
//!   method a 405;
//! - the headers: `Authorization: Bearer <the token>` (else `401 {"message": "Unauthenticated."}`,
//!   Melhor Envio's answer, not a violation: a token can expire), `Accept: application/json`,
//!   `User-Agent` naming an application and a contact e-mail in parentheses, and `Content-Type:
//!   application/json` (without it the body is not read and every field is missing: the symptom
//!   a developer met on Melhor Envio's forum, the cause this fake's reading of it);
//! - the body: required fields, their types (numbers are JSON numbers; CEPs strings of 8 digits;
//!   money at most two decimals; dimensions and weights above zero), CPF and CNPJ check digits, a
//!   UF that matches its CEP, and the cart's rules: the NF-e key (44 digits, its check digit) with
//!   the sender's inscrição estadual for a commercial shipment, `non_commercial` with products
//!   and no NF-e otherwise.
//!
//! A valid request then meets Melhor Envio's business rules, answered as 422s without a
//! violation: a service that cannot take the parcel or does not serve the route, a label paid
//! twice, a wallet too short, a label printed before it is generated, an id the account does not
//! have.
//!
//! State: five services (Correios PAC, SEDEX and Mini Envios, Jadlog .Package and .Com) priced from
//! the billed weight (the greater of the real and the cubic weight, l×w×h/6000 kg), the declared
//! value (1 %) and the additional services; the shop's markups ([`FakeMelhorEnvio::customise`])
//! come back as `custom_price` / `custom_delivery_time`. Labels go `pending` (in the cart) →
//! `released` (paid from the wallet: [`FakeMelhorEnvio::balance`]) → generated (tracking codes
//! assigned) → `posted` → `delivered` or `undelivered`; `canceled` before posting. The carrier's
//! moves are the test's ([`FakeMelhorEnvio::post`], [`FakeMelhorEnvio::deliver`], …).
//!
//! Faults ([`FakeMelhorEnvio::fail_next`], [`FakeMelhorEnvio::fail_on`]): a 500, an answer held
//! longer than any client waits, a 200 that is not JSON, or the request carried out and its answer
//! lost (a 502 after the state changed).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use regex::Regex;
use serde_json::{Map, Value, json};
use tokio::task::JoinHandle;
use vitrine_domain::{Cep, Cnpj, Cpf, Money, Uf};

/// The paths the fake serves.
pub const CALCULATE: &str = "/api/v2/me/shipment/calculate";
pub const CART: &str = "/api/v2/me/cart";
pub const CHECKOUT: &str = "/api/v2/me/shipment/checkout";
pub const GENERATE: &str = "/api/v2/me/shipment/generate";
pub const PRINT: &str = "/api/v2/me/shipment/print";
pub const TRACKING: &str = "/api/v2/me/shipment/tracking";

const INVALID: &str = "The given data was invalid.";

/// What the fake is started with.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// The one token it takes (default: made at random for each fake).
    pub token: String,
    /// How long [`Failure::Slow`] holds a request.
    pub hold: Duration,
    /// The wallet labels are paid from.
    pub balance: Money,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            token: random_token(),
            hold: Duration::from_secs(5),
            balance: Money::from_centavos(100_000),
        }
    }
}

/// A token shaped like Melhor Envio's (a JWT's three parts), random: no secret is ever written in
/// a test.
pub fn random_token() -> String {
    let mut rng = rand::thread_rng();
    let part = |rng: &mut rand::rngs::ThreadRng, n: usize| -> String {
        (0..n)
            .map(|_| {
                let c = rng.gen_range(0..62u8);
                char::from(match c {
                    0..=9 => b'0' + c,
                    10..=35 => b'a' + c - 10,
                    _ => b'A' + c - 36,
                })
            })
            .collect()
    };
    format!(
        "eyJ{}.{}.{}",
        part(&mut rng, 20),
        part(&mut rng, 40),
        part(&mut rng, 32)
    )
}

/// How a request fails ([`FakeMelhorEnvio::fail_next`], [`FakeMelhorEnvio::fail_on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// `500 {"message": "Server Error."}`, nothing done.
    ServerError,
    /// No answer for [`FakeOptions::hold`], then a 504; nothing done.
    Slow,
    /// `200` with an HTML page; nothing done.
    NotJson,
    /// The request is carried out, and its answer lost: a 502.
    LostAnswer,
}

/// A request the fake received, and its answer's status.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
    pub status: u16,
}

/// A service of a carrier, and what it carries.
#[derive(Debug, Clone, Copy)]
struct Service {
    id: u64,
    name: &'static str,
    company_id: u64,
    company: &'static str,
    base: i64,
    per_kg: i64,
    days: u32,
    max_weight_g: u64,
    /// Largest height, width and length, in cm.
    max_cm: (u32, u32, u32),
    /// A first CEP digit it does not serve (Jadlog does not reach the North here).
    not_region: Option<u8>,
    one_volume: bool,
}

const SERVICES: &[Service] = &[
    Service {
        id: 1,
        name: "PAC",
        company_id: 1,
        company: "Correios",
        base: 1_890,
        per_kg: 450,
        days: 7,
        max_weight_g: 30_000,
        max_cm: (100, 100, 100),
        not_region: None,
        one_volume: true,
    },
    Service {
        id: 2,
        name: "SEDEX",
        company_id: 1,
        company: "Correios",
        base: 2_990,
        per_kg: 900,
        days: 3,
        max_weight_g: 30_000,
        max_cm: (100, 100, 100),
        not_region: None,
        one_volume: true,
    },
    Service {
        id: 3,
        name: ".Package",
        company_id: 2,
        company: "Jadlog",
        base: 2_190,
        per_kg: 380,
        days: 6,
        max_weight_g: 120_000,
        max_cm: (105, 105, 180),
        not_region: Some(6),
        one_volume: false,
    },
    Service {
        id: 4,
        name: ".Com",
        company_id: 2,
        company: "Jadlog",
        base: 2_450,
        per_kg: 420,
        days: 4,
        max_weight_g: 120_000,
        max_cm: (105, 105, 180),
        not_region: Some(6),
        one_volume: false,
    },
    Service {
        id: 17,
        name: "Mini Envios",
        company_id: 1,
        company: "Correios",
        base: 1_290,
        per_kg: 0,
        days: 9,
        max_weight_g: 300,
        max_cm: (4, 16, 24),
        not_region: None,
        one_volume: true,
    },
];

fn service(id: u64) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.id == id)
}

/// A label the fake holds.
#[derive(Debug, Clone)]
struct LabelRecord {
    id: String,
    protocol: String,
    service_id: u64,
    price: Money,
    insurance: Money,
    status: String,
    non_commercial: bool,
    invoice_key: Option<String>,
    tracking: Option<String>,
    melhorenvio_tracking: Option<String>,
    volume: Value,
    products: Value,
    tags: Value,
    created_at: String,
    paid_at: Option<String>,
    generated_at: Option<String>,
    posted_at: Option<String>,
    delivered_at: Option<String>,
    canceled_at: Option<String>,
}

struct Inner {
    opts: FakeOptions,
    base: String,
    balance: Money,
    custom: HashMap<u64, (Money, u32)>,
    unavailable: HashMap<u64, String>,
    labels: BTreeMap<String, LabelRecord>,
    next_protocol: u64,
    next_purchase: u64,
    failures: Vec<(Option<String>, Failure)>,
    requests: Vec<RecordedRequest>,
    violations: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake; stopped when dropped.
pub struct FakeMelhorEnvio {
    addr: SocketAddr,
    state: Shared,
    task: JoinHandle<()>,
}

impl Drop for FakeMelhorEnvio {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeMelhorEnvio {
    /// Start on `127.0.0.1`, a free port.
    pub async fn start(opts: FakeOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("a local address");
        let state = Arc::new(Mutex::new(Inner {
            balance: opts.balance,
            opts,
            base: format!("http://{addr}"),
            custom: HashMap::new(),
            unavailable: HashMap::new(),
            labels: BTreeMap::new(),
            next_protocol: 2_601_000_001,
            next_purchase: 1,
            failures: Vec::new(),
            requests: Vec::new(),
            violations: Vec::new(),
        }));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// `http://127.0.0.1:{port}`: the base URL, as `https://melhorenvio.com.br` is.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token it takes.
    pub fn token(&self) -> String {
        self.lock().opts.token.clone()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The requests to `path` (e.g. [`CART`]).
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Every way a client strayed from the published API.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// The next `n` requests, whatever their path, fail as `failure`.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.lock()
            .failures
            .extend(std::iter::repeat_n((None, failure), n));
    }

    /// The next request to `path` fails as `failure`.
    pub fn fail_on(&self, path: &str, failure: Failure) {
        self.lock().failures.push((Some(path.to_owned()), failure));
    }

    /// The shop's own price and days for a service, as configured in Melhor Envio's panel: quotes
    /// answer them as `custom_price` and `custom_delivery_time`.
    pub fn customise(&self, service_id: u64, price: Money, days: u32) {
        self.lock().custom.insert(service_id, (price, days));
    }

    /// The service answers quotes with this `error` (and refuses labels).
    pub fn make_unavailable(&self, service_id: u64, message: &str) {
        self.lock()
            .unavailable
            .insert(service_id, message.to_owned());
    }

    /// What the wallet holds.
    pub fn balance(&self) -> Money {
        self.lock().balance
    }

    pub fn set_balance(&self, balance: Money) {
        self.lock().balance = balance;
    }

    /// A label as `POST /cart` answered it, with its current status and dates.
    pub fn label(&self, id: &str) -> Option<Value> {
        self.lock().labels.get(id).map(label_json)
    }

    /// How many labels the account has (in the cart or bought).
    pub fn label_count(&self) -> usize {
        self.lock().labels.len()
    }

    /// The carrier collects the parcel: `posted`. Only a generated label can be posted.
    pub fn post(&self, id: &str) -> Result<(), String> {
        self.carrier(id, |l| {
            if l.status != "released" || l.generated_at.is_none() {
                return Err(format!("label {} is {} and not generated", l.id, l.status));
            }
            l.status = "posted".into();
            l.posted_at = Some(now());
            Ok(())
        })
    }

    /// The parcel is delivered.
    pub fn deliver(&self, id: &str) -> Result<(), String> {
        self.carrier(id, |l| {
            if l.status != "posted" {
                return Err(format!("label {} is {}, not posted", l.id, l.status));
            }
            l.status = "delivered".into();
            l.delivered_at = Some(now());
            Ok(())
        })
    }

    /// The carrier could not deliver (returned to the sender).
    pub fn fail_delivery(&self, id: &str) -> Result<(), String> {
        self.carrier(id, |l| {
            if l.status != "posted" {
                return Err(format!("label {} is {}, not posted", l.id, l.status));
            }
            l.status = "undelivered".into();
            Ok(())
        })
    }

    /// The label is cancelled before posting; a paid one is refunded to the wallet.
    pub fn cancel(&self, id: &str) -> Result<(), String> {
        let mut inner = self.lock();
        let label = inner
            .labels
            .get_mut(id)
            .ok_or_else(|| format!("no label {id}"))?;
        if !matches!(label.status.as_str(), "pending" | "released") {
            return Err(format!("label {id} is {}", label.status));
        }
        let refund = if label.paid_at.is_some() {
            label.price
        } else {
            Money::ZERO
        };
        label.status = "canceled".into();
        label.canceled_at = Some(now());
        inner.balance = Money::from_centavos(inner.balance.centavos() + refund.centavos());
        Ok(())
    }

    /// Any status, for a test of one the client does not know.
    pub fn set_status(&self, id: &str, status: &str) -> Result<(), String> {
        self.carrier(id, |l| {
            l.status = status.to_owned();
            Ok(())
        })
    }

    fn carrier(
        &self,
        id: &str,
        change: impl FnOnce(&mut LabelRecord) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut inner = self.lock();
        let label = inner
            .labels
            .get_mut(id)
            .ok_or_else(|| format!("no label {id}"))?;
        change(label)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.lock().expect("the fake's state")
    }
}

/// A 44-digit NF-e access key: `first43` (digits) and its modulo-11 check digit.
pub fn invoice_key(first43: &str) -> String {
    assert!(
        first43.len() == 43 && first43.bytes().all(|b| b.is_ascii_digit()),
        "43 digits"
    );
    format!("{first43}{}", nfe_check_digit(first43))
}

fn nfe_check_digit(first43: &str) -> u32 {
    let sum: u32 = first43
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * (2 + (i as u32 % 8)))
        .sum();
    match 11 - sum % 11 {
        10 | 11 => 0,
        dv => dv,
    }
}

/// What one request comes to.
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body,
        }
    }

    fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }

    /// A business refusal: Melhor Envio's error shape, not the client's fault.
    fn refused(message: &str, field: &str, detail: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": message, "errors": {field: [detail]}}),
        )
    }
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let (failure, hold) = {
        let mut inner = state.lock().expect("state");
        let at = inner
            .failures
            .iter()
            .position(|(p, _)| p.as_deref().is_none_or(|p| p == path));
        let failure = at.map(|i| inner.failures.remove(i).1);
        (failure, inner.opts.hold)
    };
    let answer = match failure {
        Some(Failure::ServerError) => Answer::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "Server Error."}),
        ),
        Some(Failure::Slow) => {
            tokio::time::sleep(hold).await;
            Answer::new(
                StatusCode::GATEWAY_TIMEOUT,
                json!({"message": "Gateway Timeout."}),
            )
        }
        Some(Failure::NotJson) => {
            record(&state, &method, &path, &headers, &body, 200);
            return (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html><html><body><h1>Estamos em manutenção</h1></body></html>",
            )
                .into_response();
        }
        Some(Failure::LostAnswer) => {
            let mut inner = state.lock().expect("state");
            let _ = api(&mut inner, &method, &path, &headers, &body);
            Answer::new(StatusCode::BAD_GATEWAY, json!({"message": "Bad Gateway."}))
        }
        None => {
            let mut inner = state.lock().expect("state");
            api(&mut inner, &method, &path, &headers, &body)
        }
    };
    record(
        &state,
        &method,
        &path,
        &headers,
        &body,
        answer.status.as_u16(),
    );
    let mut response = (answer.status, axum::Json(answer.body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn record(
    state: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
    status: u16,
) {
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = serde_json::from_slice(body).ok();
    state.lock().expect("state").requests.push(RecordedRequest {
        method: method.to_string(),
        path: path.to_owned(),
        headers,
        body,
        status,
    });
}

/// The API proper, under the state's lock.
fn api(inner: &mut Inner, method: &Method, path: &str, headers: &HeaderMap, raw: &Bytes) -> Answer {
    let known = [CALCULATE, CART, CHECKOUT, GENERATE, PRINT, TRACKING];
    if !known.contains(&path) {
        inner
            .violations
            .push(format!("{method} {path}: not a path of the API"));
        return Answer::new(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
    }
    if method != Method::POST {
        inner
            .violations
            .push(format!("{method} {path}: the route takes POST only"));
        return Answer::new(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": format!("The {method} method is not supported for this route. Supported methods: POST.")}),
        );
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(inner.opts.token.as_str()) {
        return Answer::new(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Unauthenticated."}),
        );
    }
    let mut check = Check::default();
    check_headers(&mut check, headers);
    let json_type = header_str(headers, header::CONTENT_TYPE).is_some_and(|t| {
        t.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    if !json_type {
        inner.violations.push(format!(
            "POST {path}: Content-Type is not application/json, so the body is not read"
        ));
    }
    let body: Value = if !json_type || raw.is_empty() {
        Value::Object(Map::new())
    } else {
        match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) | Err(_) => {
                check.fail("body", "O corpo da requisição deve ser um objeto JSON.");
                Value::Object(Map::new())
            }
        }
    };
    let valid = match path {
        CALCULATE => check_calculate(&mut check, &body),
        CART => check_cart(&mut check, &body),
        _ => check_orders(&mut check, &body).map(|_| ()),
    };
    if !check.errors.is_empty() || valid.is_none() {
        let problems: Vec<String> = check
            .errors
            .iter()
            .flat_map(|(f, ms)| ms.iter().map(move |m| format!("{f}: {m}")))
            .collect();
        inner
            .violations
            .push(format!("POST {path}: {}", problems.join("; ")));
        return Answer::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"message": INVALID, "errors": check.errors}),
        );
    }
    match path {
        CALCULATE => calculate(inner, &body),
        CART => add_to_cart(inner, &body),
        CHECKOUT => checkout(inner, &orders_of(&body)),
        GENERATE => generate(inner, &orders_of(&body)),
        PRINT => print(inner, &orders_of(&body)),
        _ => tracking(inner, &orders_of(&body)),
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn check_headers(check: &mut Check, headers: &HeaderMap) {
    let accepts_json = header_str(headers, header::ACCEPT).is_some_and(|a| {
        a.split(',').any(|t| {
            t.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
    });
    if !accepts_json {
        check.fail("accept", "O cabeçalho Accept deve ser application/json.");
    }
    // "Aplicação (email para contato técnico)".
    let agent = Regex::new(r"^\S.*\(\s*[^\s()@]+@[^\s()@]+\.[^\s()@]+\s*\)\s*$").expect("a regex");
    if !header_str(headers, header::USER_AGENT).is_some_and(|ua| agent.is_match(ua)) {
        check.fail(
            "user-agent",
            "O cabeçalho User-Agent deve ser \"Aplicação (email para contato técnico)\".",
        );
    }
}

/// Field errors, by dotted name, in Melhor Envio's (Laravel's) words.
#[derive(Default)]
struct Check {
    errors: BTreeMap<String, Vec<String>>,
}

/// A field's name as Laravel writes it in messages: `from.postal_code` → `from.postal code`.
fn attr(field: &str) -> String {
    field.replace('_', " ")
}

fn at<'a>(body: &'a Value, field: &str) -> Option<&'a Value> {
    field
        .split('.')
        .try_fold(body, |v, key| match v {
            Value::Array(items) => items.get(key.parse::<usize>().ok()?),
            _ => v.get(key),
        })
        .filter(|v| !v.is_null())
}

impl Check {
    fn fail(&mut self, field: &str, message: &str) {
        self.errors
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    }

    fn required<'a>(&mut self, body: &'a Value, field: &str) -> Option<&'a Value> {
        let value = at(body, field);
        if value.is_none_or(|v| v.as_str().is_some_and(|s| s.trim().is_empty())) {
            self.fail(field, &format!("O campo {} é obrigatório.", attr(field)));
            return None;
        }
        value
    }

    fn string<'a>(&mut self, body: &'a Value, field: &str, required: bool) -> Option<&'a str> {
        let value = if required {
            self.required(body, field)?
        } else {
            at(body, field)?
        };
        let text = value.as_str();
        if text.is_none() {
            self.fail(
                field,
                &format!("O campo {} deve ser uma string.", attr(field)),
            );
        }
        text
    }

    fn cep(&mut self, body: &Value, field: &str) -> Option<Cep> {
        let text = self.string(body, field, true)?;
        let cep = (text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Cep::parse(text).ok())
            .flatten();
        if cep.is_none() {
            self.fail(
                field,
                &format!("O campo {} deve ser um CEP de 8 dígitos.", attr(field)),
            );
        }
        cep
    }

    /// A JSON number above zero.
    fn positive(&mut self, body: &Value, field: &str) -> Option<f64> {
        let value = self.required(body, field)?;
        let Some(n) = value.as_f64().filter(|_| value.is_number()) else {
            self.fail(
                field,
                &format!("O campo {} deve ser um número.", attr(field)),
            );
            return None;
        };
        if n.is_finite() && n > 0.0 {
            Some(n)
        } else {
            self.fail(
                field,
                &format!("O campo {} deve ser maior que 0.", attr(field)),
            );
            None
        }
    }

    /// Reais: a JSON number, not negative, at most two decimals.
    fn money(&mut self, body: &Value, field: &str, required: bool) -> Option<Money> {
        let value = if required {
            self.required(body, field)?
        } else {
            at(body, field)?
        };
        let money = match value {
            Value::Number(n) => centavos(&n.to_string()).map(Money::from_centavos),
            _ => None,
        };
        if money.is_none() {
            self.fail(
                field,
                &format!(
                    "O campo {} deve ser um valor em reais, não negativo, com até 2 casas decimais.",
                    attr(field)
                ),
            );
        }
        money
    }

    fn boolean(&mut self, body: &Value, field: &str) -> Option<bool> {
        let value = at(body, field)?;
        let b = value.as_bool();
        if b.is_none() {
            self.fail(
                field,
                &format!("O campo {} deve ser verdadeiro ou falso.", attr(field)),
            );
        }
        b
    }

    fn integer(&mut self, body: &Value, field: &str, min: u64) -> Option<u64> {
        let value = self.required(body, field)?;
        let n = value.as_u64().filter(|n| *n >= min);
        if n.is_none() {
            self.fail(
                field,
                &format!(
                    "O campo {} deve ser um número inteiro de no mínimo {min}.",
                    attr(field)
                ),
            );
        }
        n
    }

    fn array<'a>(&mut self, body: &'a Value, field: &str, required: bool) -> Option<&'a [Value]> {
        let value = if required {
            self.required(body, field)?
        } else {
            at(body, field)?
        };
        match value.as_array() {
            Some(items) if !items.is_empty() => Some(items),
            _ => {
                self.fail(
                    field,
                    &format!("O campo {} deve ser uma lista com itens.", attr(field)),
                );
                None
            }
        }
    }

    fn object(&mut self, body: &Value, field: &str, required: bool) -> bool {
        let value = if required {
            self.required(body, field)
        } else {
            at(body, field)
        };
        match value {
            Some(Value::Object(_)) => true,
            Some(_) => {
                self.fail(
                    field,
                    &format!("O campo {} deve ser um objeto.", attr(field)),
                );
                false
            }
            None => false,
        }
    }

    /// `height`, `width`, `length` (cm) and `weight` (kg) under `prefix`.
    fn dimensions(&mut self, body: &Value, prefix: &str) -> Option<Dimensions> {
        let h = self.positive(body, &format!("{prefix}.height"));
        let w = self.positive(body, &format!("{prefix}.width"));
        let l = self.positive(body, &format!("{prefix}.length"));
        let kg = self.positive(body, &format!("{prefix}.weight"));
        Some(Dimensions {
            height: h?,
            width: w?,
            length: l?,
            weight_kg: kg?,
        })
    }
}

/// Reais as decimal text, in centavos (at most two decimals, not negative).
fn centavos(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        || fraction.trim_end_matches('0').len() > 2
    {
        return None;
    }
    let mut cents: Vec<u8> = fraction.bytes().take(2).collect();
    cents.resize(2, b'0');
    whole.bytes().chain(cents).try_fold(0i64, |n, b| {
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

#[derive(Debug, Clone, Copy)]
struct Dimensions {
    height: f64,
    width: f64,
    length: f64,
    weight_kg: f64,
}

impl Dimensions {
    fn json(&self) -> Value {
        json!({"height": self.height, "width": self.width, "length": self.length, "weight": self.weight_kg})
    }
}

/// One parcel to price: the billed grams and what is declared.
#[derive(Debug, Clone, Copy)]
struct Load {
    dims: Dimensions,
    volumes: usize,
    insurance: Money,
    receipt: bool,
    own_hand: bool,
}

fn check_calculate(check: &mut Check, body: &Value) -> Option<()> {
    check.cep(body, "from.postal_code");
    check.cep(body, "to.postal_code");
    let package = at(body, "package").is_some();
    let products = at(body, "products").is_some();
    match (package, products) {
        (false, false) => {
            check.fail(
                "package",
                "O campo package é obrigatório quando products não está presente.",
            );
            check.fail(
                "products",
                "O campo products é obrigatório quando package não está presente.",
            );
        }
        (true, true) => check.fail(
            "package",
            "O campo package não deve estar presente quando products está presente.",
        ),
        (true, false) => {
            if check.object(body, "package", true) {
                check.dimensions(body, "package");
            }
        }
        (false, true) => {
            if let Some(items) = check.array(body, "products", true) {
                for i in 0..items.len() {
                    let p = format!("products.{i}");
                    check.dimensions(body, &p);
                    check.money(body, &format!("{p}.insurance_value"), true);
                    check.integer(body, &format!("{p}.quantity"), 1);
                }
            }
        }
    }
    if check.object(body, "options", false) {
        check.money(body, "options.insurance_value", false);
        check.boolean(body, "options.receipt");
        check.boolean(body, "options.own_hand");
    }
    if let Some(services) = check.string(body, "services", false) {
        let list = Regex::new(r"^\d+(,\d+)*$").expect("a regex");
        if !list.is_match(services) {
            check.fail(
                "services",
                "O campo services deve ser uma lista de ids separados por vírgula.",
            );
        }
    }
    Some(())
}

fn calculate(inner: &mut Inner, body: &Value) -> Answer {
    let from = at(body, "from.postal_code")
        .and_then(Value::as_str)
        .and_then(|c| Cep::parse(c).ok());
    let to = at(body, "to.postal_code")
        .and_then(Value::as_str)
        .and_then(|c| Cep::parse(c).ok());
    let (Some(from), Some(to)) = (from, to) else {
        return Answer::refused(INVALID, "to.postal_code", "CEP inválido.");
    };
    let flag = |f: &str| at(body, f).and_then(Value::as_bool).unwrap_or(false);
    let load = match at(body, "package") {
        Some(p) => Load {
            dims: dims_of(p),
            volumes: 1,
            insurance: at(body, "options.insurance_value")
                .and_then(|v| centavos(&v.to_string()))
                .map(Money::from_centavos)
                .unwrap_or(Money::ZERO),
            receipt: flag("options.receipt"),
            own_hand: flag("options.own_hand"),
        },
        None => products_load(body, flag("options.receipt"), flag("options.own_hand")),
    };
    let wanted: Option<Vec<u64>> = at(body, "services")
        .and_then(Value::as_str)
        .map(|s| s.split(',').filter_map(|id| id.parse().ok()).collect());
    let quotes: Vec<Value> = SERVICES
        .iter()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.id)))
        .map(|s| quote_json(inner, s, &from, &to, &load))
        .collect();
    Answer::ok(Value::Array(quotes))
}

fn dims_of(v: &Value) -> Dimensions {
    let n = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    Dimensions {
        height: n("height"),
        width: n("width"),
        length: n("length"),
        weight_kg: n("weight"),
    }
}

/// Products packed into one box: stacked heights, the largest width and length, summed weights.
fn products_load(body: &Value, receipt: bool, own_hand: bool) -> Load {
    let mut dims = Dimensions {
        height: 0.0,
        width: 0.0,
        length: 0.0,
        weight_kg: 0.0,
    };
    let mut insurance = 0i64;
    for p in at(body, "products")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let q = p.get("quantity").and_then(Value::as_u64).unwrap_or(1);
        let d = dims_of(p);
        dims.height += d.height * q as f64;
        dims.width = dims.width.max(d.width);
        dims.length = dims.length.max(d.length);
        dims.weight_kg += d.weight_kg * q as f64;
        insurance += p
            .get("insurance_value")
            .and_then(|v| centavos(&v.to_string()))
            .unwrap_or(0)
            * q as i64;
    }
    Load {
        dims,
        volumes: 1,
        insurance: Money::from_centavos(insurance),
        receipt,
        own_hand,
    }
}

/// Why `service` cannot carry `load` from `from` to `to`, if it cannot.
fn cannot_carry(inner: &Inner, s: &Service, to: &Cep, load: &Load) -> Option<String> {
    if let Some(message) = inner.unavailable.get(&s.id) {
        return Some(message.clone());
    }
    if s.not_region == Some(to.region_digit()) {
        return Some("Transportadora não atende este trecho.".into());
    }
    let d = &load.dims;
    let grams = (d.weight_kg * 1000.0).round() as u64;
    let (mh, mw, ml) = s.max_cm;
    if grams > s.max_weight_g
        || d.height > f64::from(mh)
        || d.width > f64::from(mw)
        || d.length > f64::from(ml)
    {
        return Some("Dimensões ou peso acima do permitido pelo serviço.".into());
    }
    if s.one_volume && load.volumes > 1 {
        return Some("O serviço aceita apenas um volume.".into());
    }
    None
}

/// What Melhor Envio charges the shop for the service (before the shop's markup), and in how many
/// business days it delivers.
fn price_of(s: &Service, from: &Cep, to: &Cep, load: &Load) -> (Money, u32) {
    let d = &load.dims;
    let real_g = (d.weight_kg * 1000.0).round() as i64;
    let cubic_g = (d.height * d.width * d.length / 6.0).round() as i64;
    let billed_kg = (real_g.max(cubic_g).max(1) + 999) / 1000;
    let mut centavos = s.base + s.per_kg * (billed_kg - 1) + load.insurance.centavos() / 100;
    if load.receipt && matches!(s.company, "Correios" | "Jadlog") {
        centavos += 790;
    }
    if load.own_hand && s.company == "Correios" {
        centavos += 850;
    }
    let days = s.days
        + if from.region_digit() == to.region_digit() {
            0
        } else {
            2
        };
    (Money::from_centavos(centavos), days)
}

fn company_json(s: &Service) -> Value {
    json!({
        "id": s.company_id,
        "name": s.company,
        "picture": format!("https://sandbox.melhorenvio.com.br/images/shipping-companies/{}.png", s.company.to_ascii_lowercase()),
    })
}

fn quote_json(inner: &Inner, s: &Service, from: &Cep, to: &Cep, load: &Load) -> Value {
    if let Some(error) = cannot_carry(inner, s, to, load) {
        return json!({"id": s.id, "name": s.name, "error": error, "company": company_json(s)});
    }
    let (price, days) = price_of(s, from, to, load);
    let (custom_price, custom_days) = inner.custom.get(&s.id).copied().unwrap_or((price, days));
    let d = &load.dims;
    json!({
        "id": s.id,
        "name": s.name,
        "price": price.format_plain(),
        "custom_price": custom_price.format_plain(),
        "discount": "0.00",
        "currency": "R$",
        "delivery_time": days,
        "delivery_range": {"min": days.saturating_sub(1).max(1), "max": days},
        "custom_delivery_time": custom_days,
        "custom_delivery_range": {"min": custom_days.saturating_sub(1).max(1), "max": custom_days},
        "packages": [{
            "price": price.format_plain(),
            "discount": "0.00",
            "format": "box",
            "dimensions": {"height": d.height, "width": d.width, "length": d.length},
            "weight": format!("{:.2}", d.weight_kg),
            "insurance_value": load.insurance.format_plain(),
        }],
        "additional_services": {"receipt": load.receipt, "own_hand": load.own_hand, "collect": false},
        "company": company_json(s),
    })
}

/// `from` or `to` of a label: a person (CPF) or a company (CNPJ), and an address.
fn check_party(check: &mut Check, body: &Value, party: &str) -> Option<Cep> {
    if !check.object(body, party, true) {
        return None;
    }
    let f = |name: &str| format!("{party}.{name}");
    for required in ["name", "address", "number", "district", "city"] {
        check.string(body, &f(required), true);
    }
    for optional in ["complement", "state_register", "country_id"] {
        check.string(body, &f(optional), false);
    }
    if let Some(country) = at(body, &f("country_id")).and_then(Value::as_str)
        && country != "BR"
    {
        check.fail(
            &f("country_id"),
            &format!("O campo {} selecionado é inválido.", attr(&f("country_id"))),
        );
    }
    if let Some(phone) = check.string(body, &f("phone"), false)
        && !(10..=11).contains(&phone.len())
    {
        check.fail(
            &f("phone"),
            &format!("O campo {} deve ter 10 ou 11 dígitos.", attr(&f("phone"))),
        );
    }
    if let Some(email) = check.string(body, &f("email"), false)
        && !email.contains('@')
    {
        check.fail(
            &f("email"),
            &format!("O campo {} deve ser um e-mail válido.", attr(&f("email"))),
        );
    }
    let document = check.string(body, &f("document"), false);
    let company = check.string(body, &f("company_document"), false);
    match (document, company) {
        (None, None) => check.fail(
            &f("document"),
            &format!(
                "O campo {} é obrigatório quando {} não está presente.",
                attr(&f("document")),
                attr(&f("company_document"))
            ),
        ),
        (Some(cpf), _) if !(cpf.len() == 11 && Cpf::parse(cpf).is_ok()) => check.fail(
            &f("document"),
            &format!("O campo {} não é um CPF válido.", attr(&f("document"))),
        ),
        (_, Some(cnpj)) if !(cnpj.len() == 14 && Cnpj::parse(cnpj).is_ok()) => check.fail(
            &f("company_document"),
            &format!(
                "O campo {} não é um CNPJ válido.",
                attr(&f("company_document"))
            ),
        ),
        _ => {}
    }
    let cep = check.cep(body, &f("postal_code"));
    if let Some(uf) = check.string(body, &f("state_abbr"), false) {
        match (Uf::parse(uf), &cep) {
            (Ok(uf), Some(cep)) if !cep.is_in(uf) => check.fail(
                &f("state_abbr"),
                &format!("O campo {} não corresponde ao CEP.", attr(&f("state_abbr"))),
            ),
            (Err(_), _) => check.fail(
                &f("state_abbr"),
                &format!("O campo {} selecionado é inválido.", attr(&f("state_abbr"))),
            ),
            _ => {}
        }
    }
    cep
}

fn check_cart(check: &mut Check, body: &Value) -> Option<()> {
    if let Some(id) = check.integer(body, "service", 1)
        && service(id).is_none()
    {
        check.fail("service", "O campo service selecionado é inválido.");
    }
    if at(body, "agency").is_some() {
        check.integer(body, "agency", 1);
    }
    check_party(check, body, "from");
    check_party(check, body, "to");
    if let Some(volumes) = check.array(body, "volumes", true) {
        for i in 0..volumes.len() {
            check.dimensions(body, &format!("volumes.{i}"));
        }
    }
    let options = check.object(body, "options", true);
    let non_commercial = if options {
        check.money(body, "options.insurance_value", true);
        for flag in ["options.receipt", "options.own_hand", "options.reverse"] {
            check.boolean(body, flag);
        }
        check.string(body, "options.platform", false);
        if let Some(tags) = check.array(body, "options.tags", false) {
            for i in 0..tags.len() {
                check.string(body, &format!("options.tags.{i}.tag"), true);
            }
        }
        check
            .boolean(body, "options.non_commercial")
            .unwrap_or(false)
    } else {
        false
    };
    let products_required = non_commercial;
    if let Some(products) = check.array(body, "products", products_required) {
        for i in 0..products.len() {
            let p = format!("products.{i}");
            check.string(body, &format!("{p}.name"), true);
            check.integer(body, &format!("{p}.quantity"), 1);
            check.money(body, &format!("{p}.unitary_value"), true);
        }
    }
    let key = at(body, "options.invoice.key");
    if non_commercial {
        if at(body, "options.invoice").is_some() {
            check.fail(
                "options.invoice",
                "Envios não comerciais (declaração de conteúdo) não devem informar nota fiscal.",
            );
        }
    } else if options {
        match key.map(|k| k.as_str()) {
            None => check.fail(
                "options.invoice.key",
                "O campo options.invoice.key é obrigatório quando options.non commercial não é verdadeiro.",
            ),
            Some(Some(k))
                if k.len() == 44
                    && k.bytes().all(|b| b.is_ascii_digit())
                    && nfe_check_digit(&k[..43]) == u32::from(k.as_bytes()[43] - b'0') =>
            {
                if at(body, "from.state_register").is_none() {
                    check.fail(
                        "from.state_register",
                        "O campo from.state register é obrigatório para envios com nota fiscal.",
                    );
                }
            }
            Some(_) => check.fail(
                "options.invoice.key",
                "O campo options.invoice.key deve ser uma chave de NF-e de 44 dígitos válida.",
            ),
        }
    }
    Some(())
}

fn add_to_cart(inner: &mut Inner, body: &Value) -> Answer {
    let Some(s) = at(body, "service")
        .and_then(Value::as_u64)
        .and_then(service)
    else {
        return Answer::refused(
            INVALID,
            "service",
            "O campo service selecionado é inválido.",
        );
    };
    let cep = |f: &str| {
        at(body, f)
            .and_then(Value::as_str)
            .and_then(|c| Cep::parse(c).ok())
    };
    let (Some(from), Some(to)) = (cep("from.postal_code"), cep("to.postal_code")) else {
        return Answer::refused(INVALID, "to.postal_code", "CEP inválido.");
    };
    let volumes = at(body, "volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let flag = |f: &str| at(body, f).and_then(Value::as_bool).unwrap_or(false);
    let first = volumes.first().map(dims_of).unwrap_or(Dimensions {
        height: 0.0,
        width: 0.0,
        length: 0.0,
        weight_kg: 0.0,
    });
    let insurance = at(body, "options.insurance_value")
        .and_then(|v| centavos(&v.to_string()))
        .map(Money::from_centavos)
        .unwrap_or(Money::ZERO);
    let load = Load {
        dims: first,
        volumes: volumes.len(),
        insurance,
        receipt: flag("options.receipt"),
        own_hand: flag("options.own_hand"),
    };
    if let Some(why) = cannot_carry(inner, s, &to, &load) {
        return Answer::refused(&why, "service", &why);
    }
    let (price, _) = price_of(s, &from, &to, &load);
    inner.next_protocol += 1;
    let label = LabelRecord {
        id: uuid(),
        protocol: format!("ORD-{}", inner.next_protocol),
        service_id: s.id,
        price,
        insurance,
        status: "pending".into(),
        non_commercial: flag("options.non_commercial"),
        invoice_key: at(body, "options.invoice.key")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tracking: None,
        melhorenvio_tracking: None,
        volume: first.json(),
        products: at(body, "products").cloned().unwrap_or(json!([])),
        tags: at(body, "options.tags").cloned().unwrap_or(json!([])),
        created_at: now(),
        paid_at: None,
        generated_at: None,
        posted_at: None,
        delivered_at: None,
        canceled_at: None,
    };
    let answer = label_json(&label);
    inner.labels.insert(label.id.clone(), label);
    Answer::new(StatusCode::CREATED, answer)
}

fn label_json(l: &LabelRecord) -> Value {
    json!({
        "id": l.id,
        "protocol": l.protocol,
        "service_id": l.service_id,
        "agency_id": null,
        "price": l.price.format_plain().parse::<f64>().unwrap_or(0.0),
        "discount": 0,
        "status": l.status,
        "insurance_value": l.insurance.format_plain(),
        "weight": l.volume["weight"],
        "width": l.volume["width"],
        "height": l.volume["height"],
        "length": l.volume["length"],
        "format": "box",
        "receipt": false,
        "own_hand": false,
        "collect": false,
        "reverse": false,
        "non_commercial": l.non_commercial,
        "invoice": l.invoice_key.as_ref().map(|k| json!({"key": k})),
        "tracking": l.tracking,
        "self_tracking": null,
        "melhorenvio_tracking": l.melhorenvio_tracking,
        "volumes": [l.volume],
        "products": l.products,
        "tags": l.tags,
        "created_at": l.created_at,
        "updated_at": now(),
        "paid_at": l.paid_at,
        "generated_at": l.generated_at,
        "posted_at": l.posted_at,
        "delivered_at": l.delivered_at,
        "canceled_at": l.canceled_at,
        "expired_at": null,
    })
}

fn check_orders(check: &mut Check, body: &Value) -> Option<Vec<String>> {
    let items = check.array(body, "orders", true)?;
    let mut ids = Vec::new();
    for i in 0..items.len() {
        ids.push(check.string(body, &format!("orders.{i}"), true)?.to_owned());
    }
    if let Some(mode) = check.string(body, "mode", false)
        && !matches!(mode, "private" | "public")
    {
        check.fail("mode", "O campo mode selecionado é inválido.");
    }
    Some(ids)
}

fn orders_of(body: &Value) -> Vec<String> {
    at(body, "orders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The labels named, or the refusal naming the first the account does not have.
fn known(inner: &Inner, ids: &[String]) -> Result<(), Answer> {
    match ids.iter().position(|id| !inner.labels.contains_key(id)) {
        Some(i) => {
            let field = format!("orders.{i}");
            Err(Answer::refused(
                INVALID,
                &field,
                &format!("O campo {} selecionado é inválido.", attr(&field)),
            ))
        }
        None => Ok(()),
    }
}

fn checkout(inner: &mut Inner, ids: &[String]) -> Answer {
    if let Err(refusal) = known(inner, ids) {
        return refusal;
    }
    let mut total = 0i64;
    for id in ids {
        let label = &inner.labels[id];
        if label.status != "pending" {
            return Answer::refused(
                &format!("O envio {id} não está disponível para compra."),
                "orders",
                &format!("O envio {id} está {}.", label.status),
            );
        }
        total += label.price.centavos();
    }
    if total > inner.balance.centavos() {
        return Answer::refused(
            "Saldo insuficiente para realizar a compra.",
            "wallet",
            &format!(
                "O saldo de R$ {} não cobre R$ {}.",
                inner.balance.format_plain(),
                Money::from_centavos(total).format_plain()
            ),
        );
    }
    inner.balance = Money::from_centavos(inner.balance.centavos() - total);
    let paid_at = now();
    let mut orders = Vec::new();
    for id in ids {
        let label = inner.labels.get_mut(id).expect("known");
        label.status = "released".into();
        label.paid_at = Some(paid_at.clone());
        orders.push(label_json(label));
    }
    inner.next_purchase += 1;
    Answer::ok(json!({
        "purchase": {
            "id": uuid(),
            "protocol": format!("PUR-{:08}", inner.next_purchase),
            "total": Money::from_centavos(total).format_plain().parse::<f64>().unwrap_or(0.0),
            "discount": 0,
            "status": "paid",
            "paid_at": paid_at,
            "orders": orders,
        }
    }))
}

fn generate(inner: &mut Inner, ids: &[String]) -> Answer {
    if let Err(refusal) = known(inner, ids) {
        return refusal;
    }
    if let Some(id) = ids.iter().find(|id| inner.labels[*id].status != "released") {
        return Answer::refused(
            &format!("O envio {id} não pode ser gerado."),
            "orders",
            &format!(
                "O envio {id} está {}: pague-o antes.",
                inner.labels[id].status
            ),
        );
    }
    let mut answer = Map::new();
    for id in ids {
        let label = inner.labels.get_mut(id).expect("known");
        if label.generated_at.is_none() {
            label.generated_at = Some(now());
            label.melhorenvio_tracking = Some(format!(
                "ME{}",
                &id.replace('-', "")[..10].to_ascii_uppercase()
            ));
            let correios = service(label.service_id).is_some_and(|s| s.company == "Correios");
            label.tracking = Some(if correios {
                format!(
                    "AA{:09}BR",
                    rand::thread_rng().gen_range(0..1_000_000_000u32)
                )
            } else {
                format!(
                    "{:014}",
                    rand::thread_rng().gen_range(0..100_000_000_000_000u64)
                )
            });
        }
        answer.insert(
            id.clone(),
            json!({"status": true, "message": "Envio gerado com sucesso."}),
        );
    }
    Answer::ok(Value::Object(answer))
}

fn print(inner: &mut Inner, ids: &[String]) -> Answer {
    if let Err(refusal) = known(inner, ids) {
        return refusal;
    }
    if let Some(id) = ids.iter().find(|id| {
        let l = &inner.labels[*id];
        l.generated_at.is_none() || l.status == "canceled"
    }) {
        return Answer::refused(
            &format!("O envio {id} não pode ser impresso."),
            "orders",
            &format!("O envio {id} ainda não foi gerado."),
        );
    }
    Answer::ok(json!({"url": format!("{}/imprimir/{}", inner.base, &uuid()[..13])}))
}

fn tracking(inner: &mut Inner, ids: &[String]) -> Answer {
    if let Err(refusal) = known(inner, ids) {
        return refusal;
    }
    let mut answer = Map::new();
    for id in ids {
        let l = &inner.labels[id];
        answer.insert(
            id.clone(),
            json!({
                "id": l.id,
                "protocol": l.protocol,
                "status": l.status,
                "tracking": l.tracking,
                "melhorenvio_tracking": l.melhorenvio_tracking,
                "created_at": l.created_at,
                "paid_at": l.paid_at,
                "generated_at": l.generated_at,
                "posted_at": l.posted_at,
                "delivered_at": l.delivered_at,
                "canceled_at": l.canceled_at,
                "expired_at": null,
            }),
        );
    }
    Answer::ok(Value::Object(answer))
}

fn uuid() -> String {
    let bytes: [u8; 16] = rand::thread_rng().r#gen();
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// `2026-12-05 21:10:00`, Brasília time, as Melhor Envio writes dates.
fn now() -> String {
    let offset = time::UtcOffset::from_hms(-3, 0, 0).expect("an offset");
    let at = time::OffsetDateTime::now_utc().to_offset(offset);
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_digit_of_an_nfe_key() {
        // The example key of the NF-e manual (MOC 7.0, 5.4).
        let key = "5206043300991100250655012000000780026730161";
        assert_eq!(invoice_key(key).len(), 44);
        assert_eq!(nfe_check_digit(key), 5);
    }

    #[test]
    fn money_text_to_centavos() {
        assert_eq!(centavos("150.0"), Some(15_000));
        assert_eq!(centavos("0.1"), Some(10));
        assert_eq!(centavos("24.875"), None);
        assert_eq!(centavos("-1"), None);
    }
}
