//! A fake bank serving the Banco Central's standard Pix API (v2.9.0,
//! `shared/payments/pix-api/openapi.yaml`) to one receiver, the shop.
//!
//! - **Transport**: HTTPS on `127.0.0.1` with mutual TLS: a client without a certificate from the
//!   fake's CA fails the handshake. The CA, the server certificate and the shop's client
//!   certificate are made at start ([`FakeBank::ca_pem`], [`FakeBank::client_certificate_pem`],
//!   [`FakeBank::client_key_pem`]).
//! - **OAuth2** client credentials at `POST /oauth/token` (HTTP Basic); tokens carry the scopes
//!   asked for and expire after [`FakeBankOptions::token_lifetime`]; each API call needs its
//!   operation's scope (else 403 `AcessoNegado`).
//! - **API** under `/api/v2`: `PUT`/`PATCH`/`GET /cob/{txid}`, `GET /pix/{e2eid}`, `GET /pix`,
//!   `PUT`/`GET /pix/{e2eid}/devolucao/{id}`, `PUT`/`GET /webhook/{chave}`, with the spec's rules:
//!   a txid once, a charge no longer `ATIVA` cannot change (`CobOperacaoInvalida`), refunds add up
//!   to the Pix's value at most and an id once (`PixDevolucaoInvalida`), errors as
//!   `application/problem+json`. Other operations of the spec answer 403 `AcessoNegado` (not
//!   contracted).
//! - **Contract**: every request (path, query, body) and every answer is checked against the
//!   spec; a request that violates it is refused with 400, and every violation is kept
//!   ([`FakeBank::violations`]). So is every webhook body, against the `listaPix` callback.
//! - **Test controls**: [`FakeBank::pay`] plays a payer (the Pix is recorded, the charge becomes
//!   `CONCLUIDA`, the webhook is posted to the registered URL + `/pix`), [`WebhookMode`] (normal,
//!   twice, late, never), [`FakeBank::send_foreign_webhook`], and faults for the next requests
//!   ([`Fault`]: 5xx, a hang past the client's timeout, 429, expired tokens).
//!
//! The answers of the layers in front of the API are not in the spec and not checked: the token
//! endpoint's, 401 (no valid token) and 429 (throttling).
//!
//! One tolerance: `PixConsultados` (the `GET /pix` answer) requires a `cobs` list in v2.9.0, a
//! slip for `pix`; that one violation is not counted.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vitrine_domain::Money;

use super::tls::{Handler, Pki, TlsServer};
use crate::openapi::{OpenApi, shared_spec};

/// Where the API lives on the fake's origin.
const API_BASE: &str = "/api/v2";
const TOKEN_PATH: &str = "/oauth/token";
/// The fake bank's ISPB (in end-to-end and return ids).
const ISPB: &str = "99999999";
const PROBLEM_BASE: &str = "https://pix.bcb.gov.br/api/v2/error/";
/// `GET /pix` answers violate `PixConsultados.required: ["parametros", "cobs"]`, a slip of v2.9.0.
const TOLERATED: &str = "required property cobs is missing";

/// How the fake bank is set up.
#[derive(Debug, Clone)]
pub struct FakeBankOptions {
    pub client_id: String,
    pub client_secret: String,
    /// The shop's Pix key: the only `chave` the bank takes charges and webhooks for.
    pub pix_key: String,
    /// The shop's CNPJ (the webhook's `cnpj`).
    pub receiver_cnpj: String,
    pub token_lifetime: Duration,
    /// The most Pix a `GET /pix` page holds, whatever the client asks (a bank's own cap).
    pub max_page_size: usize,
    /// How long a [`Fault::Hang`] request waits before it answers.
    pub hang: Duration,
}

impl Default for FakeBankOptions {
    fn default() -> Self {
        Self {
            client_id: "vitrine-shop".into(),
            client_secret: "fake-bank-client-secret".into(),
            pix_key: "7d9f0335-8dcc-4054-9bf9-0dbd61d36906".into(),
            receiver_cnpj: "12345678000195".into(),
            token_lifetime: Duration::from_secs(300),
            max_page_size: 1000,
            hang: Duration::from_secs(10),
        }
    }
}

/// When the bank posts its notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookMode {
    /// Once, at once.
    Normal,
    /// Twice (a retried delivery).
    Twice,
    /// Once, after a delay.
    Late(Duration),
    /// Never (the store must reconcile).
    Never,
}

/// A failure of the bank's side for the next requests to the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 `ServicoIndisponivel`.
    ServerError,
    /// No answer for [`FakeBankOptions::hang`].
    Hang,
    /// 429 Too Many Requests.
    TooManyRequests,
    /// 401, whatever the token: as if it had expired or been revoked at the bank.
    ExpiredToken,
}

/// A webhook delivery the bank made.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub url: String,
    pub body: Value,
    /// The HTTP status the shop answered, or the error.
    pub outcome: Result<u16, String>,
}

/// A notice the shop's webhook receiver got.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The request path (`/api/v1/payments/webhooks/bcb/pix`).
    pub path: String,
    pub body: Vec<u8>,
}

/// The shop's side of the webhook in tests. See [`FakeBank::inbox`].
pub struct WebhookInbox {
    server: TlsServer,
    received: Arc<Mutex<Vec<Notice>>>,
}

impl WebhookInbox {
    /// What the shop registers: `https://127.0.0.1:{port}/api/v1/payments/webhooks/bcb`.
    pub fn url(&self) -> String {
        format!(
            "https://127.0.0.1:{}/api/v1/payments/webhooks/bcb",
            self.server.addr.port()
        )
    }

    pub fn received(&self) -> Vec<Notice> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until `count` notices arrived (or `within` passed) and returns what arrived.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Notice> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct Token {
    scopes: Vec<String>,
    expires: Instant,
}

struct Cob {
    txid: String,
    status: String,
    revisao: u32,
    criacao: String,
    expiracao: i64,
    original: i64,
    chave: String,
    devedor: Option<Value>,
    solicitacao: Option<String>,
    loc_id: u64,
    pix: Vec<String>,
}

struct Devolucao {
    id: String,
    rtr_id: String,
    valor: i64,
    status: String,
    solicitacao: String,
    liquidacao: Option<String>,
}

struct Pix {
    e2eid: String,
    txid: Option<String>,
    valor: i64,
    chave: String,
    horario: OffsetDateTime,
    devolucoes: Vec<Devolucao>,
}

struct State {
    tokens: HashMap<String, Token>,
    token_requests: usize,
    requests: usize,
    violations: Vec<String>,
    cobs: HashMap<String, Cob>,
    pix: BTreeMap<String, Pix>,
    webhooks: HashMap<String, (String, String)>,
    webhook_mode: WebhookMode,
    fault: Option<(Fault, usize)>,
    deliveries: Vec<Delivery>,
}

struct Shared {
    options: FakeBankOptions,
    api: OpenApi,
    state: Mutex<State>,
    serial: AtomicU64,
    /// Posts webhooks as the bank does: over TLS, with the bank's certificate as the client's.
    sender: reqwest::Client,
}

/// The fake bank. See the module docs.
pub struct FakeBank {
    shared: Arc<Shared>,
    pki: Pki,
    server: TlsServer,
}

/// An answer: status and JSON body.
type Answer = (StatusCode, Option<Value>);

impl FakeBank {
    /// Starts the bank on `127.0.0.1`, a random port, with a fresh CA and certificates.
    pub async fn start(options: FakeBankOptions) -> Result<FakeBank, String> {
        let api = OpenApi::load(shared_spec("pix-api/openapi.yaml"))?;
        let pki = Pki::generate("fake bank")?;
        let identity = format!("{}\n{}", pki.server.cert_pem, pki.server.key_pem);
        let sender = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(
                reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).map_err(|e| e.to_string())?,
            )
            .identity(reqwest::Identity::from_pem(identity.as_bytes()).map_err(|e| e.to_string())?)
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            options,
            api,
            state: Mutex::new(State {
                tokens: HashMap::new(),
                token_requests: 0,
                requests: 0,
                violations: Vec::new(),
                cobs: HashMap::new(),
                pix: BTreeMap::new(),
                webhooks: HashMap::new(),
                webhook_mode: WebhookMode::Normal,
                fault: None,
                deliveries: Vec::new(),
            }),
            serial: AtomicU64::new(1),
            sender,
        });
        let for_handler = shared.clone();
        let handler: Handler = Arc::new(move |request| {
            let shared = for_handler.clone();
            Box::pin(async move { shared.serve(request).await })
        });
        let server = TlsServer::start(pki.acceptor()?, handler).await?;
        Ok(FakeBank {
            shared,
            pki,
            server,
        })
    }

    /// `https://127.0.0.1:{port}/api/v2/`
    pub fn api_url(&self) -> String {
        format!("https://127.0.0.1:{}{API_BASE}/", self.server.addr.port())
    }

    pub fn token_url(&self) -> String {
        format!("https://127.0.0.1:{}{TOKEN_PATH}", self.server.addr.port())
    }

    /// The CA that issued the server's and the client's certificates.
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// The shop's client certificate, as the bank would issue it.
    pub fn client_certificate_pem(&self) -> &str {
        &self.pki.client.cert_pem
    }

    pub fn client_key_pem(&self) -> &str {
        &self.pki.client.key_pem
    }

    /// The bank's server certificate and key: the shop's webhook receiver in tests serves with
    /// them (the fake's CA vouches for `127.0.0.1`), and requires the bank's certificate back.
    pub fn server_certificate_pem(&self) -> &str {
        &self.pki.server.cert_pem
    }

    pub fn options(&self) -> &FakeBankOptions {
        &self.shared.options
    }

    /// A TLS acceptor like the bank's (its certificate, client certificates from its CA), for a
    /// test's webhook receiver.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, String> {
        self.pki.acceptor()
    }

    /// Every contract violation seen: requests, answers and webhooks that do not fit the spec.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// API requests served (the token endpoint's included).
    pub fn requests(&self) -> usize {
        self.shared.lock().requests
    }

    /// Token requests answered with a token.
    pub fn token_requests(&self) -> usize {
        self.shared.lock().token_requests
    }

    /// TLS handshakes refused (e.g. a client without a certificate).
    pub fn refused_handshakes(&self) -> usize {
        self.server.refused_handshakes()
    }

    pub fn set_webhook_mode(&self, mode: WebhookMode) {
        self.shared.lock().webhook_mode = mode;
    }

    /// The next `count` API requests fail with `fault`.
    pub fn fail_next(&self, fault: Fault, count: usize) {
        self.shared.lock().fault = Some((fault, count));
    }

    /// Every token issued so far is refused from now on (401), as after it expired.
    pub fn expire_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// Webhook deliveries made so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    /// How many charges the bank holds.
    pub fn charge_count(&self) -> usize {
        self.shared.lock().cobs.len()
    }

    /// A charge as `GET /cob/{txid}` shows it.
    pub fn charge(&self, txid: &str) -> Option<Value> {
        let state = self.shared.lock();
        state
            .cobs
            .get(txid)
            .map(|cob| self.shared.cob_json(&state, cob, true))
    }

    /// A received Pix as `GET /pix/{e2eid}` shows it.
    pub fn pix(&self, e2eid: &str) -> Option<Value> {
        self.shared.lock().pix.get(e2eid).map(pix_json)
    }

    /// What has been given back of a Pix (refunds not refused).
    pub fn refunded(&self, e2eid: &str) -> Money {
        let state = self.shared.lock();
        Money::from_centavos(state.pix.get(e2eid).map_or(0, refunded_centavos))
    }

    /// Starts a receiver for the bank's webhooks, as the shop's TLS terminator would be: HTTPS on
    /// `127.0.0.1`, requiring the bank's certificate. Register [`WebhookInbox::url`].
    pub async fn inbox(&self) -> Result<WebhookInbox, String> {
        let received: Arc<Mutex<Vec<Notice>>> = Arc::default();
        let sink = received.clone();
        let handler: Handler = Arc::new(move |request: Request<Incoming>| {
            let sink = sink.clone();
            Box::pin(async move {
                let path = request.uri().path().to_string();
                let body = match request.into_body().collect().await {
                    Ok(body) => body.to_bytes().to_vec(),
                    Err(_) => Vec::new(),
                };
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Notice { path, body });
                respond((StatusCode::OK, None))
            })
        });
        let server = TlsServer::start(self.pki.acceptor()?, handler).await?;
        Ok(WebhookInbox { server, received })
    }

    /// The shop's operator registers `url` as the webhook of the shop's Pix key in the bank's
    /// portal (what `PUT /webhook/{chave}` does through the API).
    pub fn register_webhook(&self, url: &str) {
        let chave = self.shared.options.pix_key.clone();
        self.shared
            .lock()
            .webhooks
            .insert(chave, (url.to_string(), now_rfc3339()));
    }

    /// A payer pays the charge `txid` in full: returns the Pix's end-to-end id.
    pub async fn pay(&self, txid: &str) -> Result<String, String> {
        let amount = {
            let state = self.shared.lock();
            let cob = state
                .cobs
                .get(txid)
                .ok_or_else(|| format!("no charge {txid}"))?;
            Money::from_centavos(cob.original)
        };
        self.pay_amount(txid, amount).await
    }

    /// A payer pays `amount` to the charge `txid` (a charge whose value the payer may change, or
    /// a payer's app that lets another amount through): the Pix is recorded, the charge becomes
    /// `CONCLUIDA`, and the webhook is posted.
    pub async fn pay_amount(&self, txid: &str, amount: Money) -> Result<String, String> {
        let (e2eid, notice) = {
            let mut state = self.shared.lock();
            let e2eid = self.shared.next_id('E');
            let cob = state
                .cobs
                .get_mut(txid)
                .ok_or_else(|| format!("no charge {txid}"))?;
            if cob.status != "ATIVA" {
                return Err(format!(
                    "the charge {txid} is {}: it takes no payment",
                    cob.status
                ));
            }
            cob.status = "CONCLUIDA".into();
            cob.pix.push(e2eid.clone());
            let pix = Pix {
                e2eid: e2eid.clone(),
                txid: Some(txid.to_string()),
                valor: amount.centavos(),
                chave: cob.chave.clone(),
                horario: OffsetDateTime::now_utc(),
                devolucoes: Vec::new(),
            };
            let notice = json!({ "pix": [pix_json(&pix)] });
            state.pix.insert(e2eid.clone(), pix);
            (e2eid, notice)
        };
        self.shared.clone().notify(notice).await;
        Ok(e2eid)
    }

    /// A payer sends `amount` to the shop's key without a charge (a static QR code, or typing
    /// the key): a Pix without txid, which the bank lists but never notifies. Returns its
    /// end-to-end id.
    pub fn receive_without_txid(&self, amount: Money) -> String {
        let e2eid = self.shared.next_id('E');
        let pix = Pix {
            e2eid: e2eid.clone(),
            txid: None,
            valor: amount.centavos(),
            chave: self.shared.options.pix_key.clone(),
            horario: OffsetDateTime::now_utc(),
            devolucoes: Vec::new(),
        };
        self.shared.lock().pix.insert(e2eid.clone(), pix);
        e2eid
    }

    /// Posts a notice naming a Pix that is not the shop's (another receiver's, at the same
    /// bank): the bank does not show it to the shop. Returns its end-to-end id.
    pub async fn send_foreign_webhook(&self) -> String {
        let e2eid = self.shared.next_id('E');
        let notice = json!({ "pix": [{
            "endToEndId": e2eid,
            "txid": "f0000000000000000000000000000001",
            "valor": "10.00",
            "chave": "another-receiver@bank.example",
            "horario": now_rfc3339(),
        }]});
        self.shared.clone().notify(notice).await;
        e2eid
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An end-to-end (`E`) or return (`D`) id: letter, ISPB, `yyyyMMddHHmm`, 11 characters.
    fn next_id(&self, letter: char) -> String {
        let now = OffsetDateTime::now_utc();
        format!(
            "{letter}{ISPB}{:04}{:02}{:02}{:02}{:02}{:011}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            self.serial.fetch_add(1, Ordering::SeqCst)
        )
    }

    fn violation(&self, what: String) {
        if !what.ends_with(TOLERATED) {
            self.lock().violations.push(what);
        }
    }

    async fn serve(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();
        let raw_query = request.uri().query().unwrap_or("").to_string();
        let authorization = request
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match request.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => Bytes::new(),
        };
        self.lock().requests += 1;
        if path == TOKEN_PATH && method == "POST" {
            return self.token(authorization.as_deref(), &body);
        }
        let Some(api_path) = path.strip_prefix(API_BASE).map(str::to_string) else {
            return respond(problem(
                StatusCode::NOT_FOUND,
                "NaoEncontrado",
                "Não Encontrado",
                "no such path",
            ));
        };
        let fault = {
            let mut state = self.lock();
            match state.fault.as_mut() {
                Some((fault, left)) if *left > 0 => {
                    *left -= 1;
                    Some(*fault)
                }
                _ => None,
            }
        };
        match fault {
            Some(Fault::ServerError) => {
                let answer = problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServicoIndisponivel",
                    "Serviço Indisponível",
                    "fault injected by the test",
                );
                self.check_answer(&method, &api_path, &answer);
                return respond(answer);
            }
            Some(Fault::TooManyRequests) => return respond((StatusCode::TOO_MANY_REQUESTS, None)),
            Some(Fault::ExpiredToken) => return respond((StatusCode::UNAUTHORIZED, None)),
            Some(Fault::Hang) => {
                tokio::time::sleep(self.options.hang).await;
                return respond((StatusCode::SERVICE_UNAVAILABLE, None));
            }
            None => {}
        }
        let query: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let json_body = if body.is_empty() {
            None
        } else {
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.violation(format!("{method} {api_path}: the body is not JSON: {e}"));
                    return respond(problem(
                        StatusCode::BAD_REQUEST,
                        "RequisicaoInvalida",
                        "Requisição inválida",
                        "the body is not JSON",
                    ));
                }
            }
        };
        let scopes = match self.authorize(authorization.as_deref()) {
            Some(scopes) => scopes,
            None => return respond((StatusCode::UNAUTHORIZED, None)),
        };
        let request_violations =
            self.api
                .check_request(&method, &api_path, &query, json_body.as_ref());
        let answer = if !request_violations.is_empty() {
            let detail = request_violations.join("; ");
            for v in request_violations {
                self.violation(format!("request: {v}"));
            }
            let kind = if api_path.starts_with("/pix") {
                "PixDevolucaoInvalida"
            } else {
                "CobOperacaoInvalida"
            };
            problem(
                StatusCode::BAD_REQUEST,
                kind,
                "Requisição inválida",
                &detail,
            )
        } else {
            self.route(&method, &api_path, &query, json_body, &scopes)
        };
        self.check_answer(&method, &api_path, &answer);
        respond(answer)
    }

    fn check_answer(&self, method: &str, path: &str, answer: &Answer) {
        for v in self
            .api
            .check_response(method, path, answer.0.as_u16(), answer.1.as_ref())
        {
            self.violation(format!("response: {v}"));
        }
    }

    fn token(&self, authorization: Option<&str>, body: &[u8]) -> Response<Full<Bytes>> {
        let expected = format!("{}:{}", self.options.client_id, self.options.client_secret);
        let given = authorization
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok());
        if given.as_deref() != Some(expected.as_str()) {
            return respond((
                StatusCode::UNAUTHORIZED,
                Some(json!({"error": "invalid_client"})),
            ));
        }
        let form: HashMap<String, String> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return respond((
                StatusCode::BAD_REQUEST,
                Some(json!({"error": "unsupported_grant_type"})),
            ));
        }
        let scopes: Vec<String> = form
            .get("scope")
            .map(|s| s.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        let token = format!("fake-token-{}", self.serial.fetch_add(1, Ordering::SeqCst));
        let mut state = self.lock();
        state.token_requests += 1;
        state.tokens.insert(
            token.clone(),
            Token {
                scopes: scopes.clone(),
                expires: Instant::now() + self.options.token_lifetime,
            },
        );
        respond((
            StatusCode::OK,
            Some(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.options.token_lifetime.as_secs(),
                "scope": scopes.join(" "),
            })),
        ))
    }

    /// The scopes of a valid bearer token.
    fn authorize(&self, authorization: Option<&str>) -> Option<Vec<String>> {
        let token = authorization?.strip_prefix("Bearer ")?;
        let state = self.lock();
        let token = state.tokens.get(token)?;
        (Instant::now() < token.expires).then(|| token.scopes.clone())
    }

    fn route(
        self: &Arc<Self>,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<Value>,
        scopes: &[String],
    ) -> Answer {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let decoded: Vec<String> = segments
            .iter()
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let d: Vec<&str> = decoded.iter().map(String::as_str).collect();
        let scope = match (method, d.as_slice()) {
            ("PUT" | "PATCH", ["cob", _]) => "cob.write",
            ("GET", ["cob", _]) => "cob.read",
            ("GET", ["pix", ..]) => "pix.read",
            ("PUT", ["pix", _, "devolucao", _]) => "pix.write",
            ("PUT", ["webhook", _]) => "webhook.write",
            ("GET", ["webhook", _]) => "webhook.read",
            _ => {
                return problem(
                    StatusCode::FORBIDDEN,
                    "AcessoNegado",
                    "Acesso Negado",
                    "this operation is not part of the receiver's contract with the bank",
                );
            }
        };
        if !scopes.iter().any(|s| s == scope) {
            return problem(
                StatusCode::FORBIDDEN,
                "AcessoNegado",
                "Acesso Negado",
                &format!("the token lacks the scope {scope}"),
            );
        }
        let body = body.unwrap_or(Value::Null);
        match (method, d.as_slice()) {
            ("PUT", ["cob", txid]) => self.create_cob(txid, &body),
            ("PATCH", ["cob", txid]) => self.revise_cob(txid, &body),
            ("GET", ["cob", txid]) => {
                let state = self.lock();
                match state.cobs.get(*txid) {
                    Some(cob) => (StatusCode::OK, Some(self.cob_json(&state, cob, true))),
                    None => cob_not_found(),
                }
            }
            ("GET", ["pix"]) => self.list_pix(query),
            ("GET", ["pix", e2eid]) => match self.lock().pix.get(*e2eid) {
                Some(pix) => (StatusCode::OK, Some(pix_json(pix))),
                None => problem(
                    StatusCode::NOT_FOUND,
                    "NaoEncontrado",
                    "Não Encontrado",
                    "no Pix with this e2eid",
                ),
            },
            ("PUT", ["pix", e2eid, "devolucao", id]) => self.refund(e2eid, id, &body),
            ("GET", ["pix", e2eid, "devolucao", id]) => {
                let state = self.lock();
                match state
                    .pix
                    .get(*e2eid)
                    .and_then(|p| p.devolucoes.iter().find(|d| d.id == *id))
                {
                    Some(d) => (StatusCode::OK, Some(devolucao_json(d))),
                    None => problem(
                        StatusCode::NOT_FOUND,
                        "NaoEncontrado",
                        "Não Encontrado",
                        "no such refund",
                    ),
                }
            }
            ("PUT", ["webhook", chave]) => {
                if *chave != self.options.pix_key {
                    return problem(
                        StatusCode::BAD_REQUEST,
                        "WebhookOperacaoInvalida",
                        "Webhook inválido",
                        "the key does not belong to the receiver",
                    );
                }
                let url = body["webhookUrl"].as_str().unwrap_or_default().to_string();
                self.lock()
                    .webhooks
                    .insert(chave.to_string(), (url, now_rfc3339()));
                (StatusCode::OK, None)
            }
            ("GET", ["webhook", chave]) => match self.lock().webhooks.get(*chave) {
                Some((url, criacao)) => (
                    StatusCode::OK,
                    Some(
                        json!({"webhookUrl": url, "chave": chave, "cnpj": self.options.receiver_cnpj, "criacao": criacao}),
                    ),
                ),
                None => problem(
                    StatusCode::NOT_FOUND,
                    "NaoEncontrado",
                    "Não Encontrado",
                    "no webhook for this key",
                ),
            },
            _ => problem(
                StatusCode::FORBIDDEN,
                "AcessoNegado",
                "Acesso Negado",
                "not contracted",
            ),
        }
    }

    fn create_cob(&self, txid: &str, body: &Value) -> Answer {
        let invalid = |detail: &str| {
            problem(
                StatusCode::BAD_REQUEST,
                "CobOperacaoInvalida",
                "Cobrança inválida.",
                detail,
            )
        };
        if !(26..=35).contains(&txid.len()) || !txid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return invalid("the txid must be 26 to 35 letters or digits");
        }
        let chave = body["chave"].as_str().unwrap_or_default();
        if chave != self.options.pix_key {
            return invalid("the key (chave) does not belong to the receiver");
        }
        let Some(original) = body["valor"]["original"].as_str().and_then(centavos) else {
            return invalid("valor.original is not an amount");
        };
        if original <= 0 {
            return invalid("valor.original must be above zero");
        }
        let expiracao = body["calendario"]["expiracao"].as_i64().unwrap_or(86400);
        if expiracao <= 0 {
            return invalid("calendario.expiracao must be above zero");
        }
        let mut state = self.lock();
        if state.cobs.contains_key(txid) {
            return invalid("the txid is already in use by another charge of the receiver");
        }
        let cob = Cob {
            txid: txid.to_string(),
            status: "ATIVA".into(),
            revisao: 0,
            criacao: now_rfc3339(),
            expiracao,
            original,
            chave: chave.to_string(),
            devedor: body.get("devedor").cloned(),
            solicitacao: body["solicitacaoPagador"].as_str().map(String::from),
            loc_id: self.serial.fetch_add(1, Ordering::SeqCst),
            pix: Vec::new(),
        };
        let answer = self.cob_json(&state, &cob, false);
        state.cobs.insert(txid.to_string(), cob);
        (StatusCode::CREATED, Some(answer))
    }

    fn revise_cob(&self, txid: &str, body: &Value) -> Answer {
        let mut state = self.lock();
        let Some(cob) = state.cobs.get_mut(txid) else {
            return cob_not_found();
        };
        if cob.status != "ATIVA" {
            return problem(
                StatusCode::BAD_REQUEST,
                "CobOperacaoInvalida",
                "Cobrança inválida.",
                &format!("the charge is {}: it can no longer change", cob.status),
            );
        }
        if let Some(status) = body["status"].as_str() {
            if status != "REMOVIDA_PELO_USUARIO_RECEBEDOR" {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "CobOperacaoInvalida",
                    "Cobrança inválida.",
                    "the receiver can only remove a charge",
                );
            }
            cob.status = status.to_string();
        }
        if let Some(original) = body["valor"]["original"].as_str().and_then(centavos) {
            cob.original = original;
        }
        if let Some(expiracao) = body["calendario"]["expiracao"].as_i64() {
            cob.expiracao = expiracao;
        }
        if let Some(message) = body["solicitacaoPagador"].as_str() {
            cob.solicitacao = Some(message.to_string());
        }
        cob.revisao += 1;
        let state = &*state;
        let cob = &state.cobs[txid];
        (StatusCode::OK, Some(self.cob_json(state, cob, false)))
    }

    fn refund(self: &Arc<Self>, e2eid: &str, id: &str, body: &Value) -> Answer {
        let invalid = |detail: &str| {
            problem(
                StatusCode::BAD_REQUEST,
                "PixDevolucaoInvalida",
                "Devolução inválida.",
                detail,
            )
        };
        let Some(valor) = body["valor"].as_str().and_then(centavos) else {
            return invalid("valor is not an amount");
        };
        let mut state = self.lock();
        let Some(pix) = state.pix.get_mut(e2eid) else {
            return problem(
                StatusCode::NOT_FOUND,
                "NaoEncontrado",
                "Não Encontrado",
                "no Pix with this e2eid",
            );
        };
        if pix.devolucoes.iter().any(|d| d.id == id) {
            return invalid("the refund id is already used for this Pix");
        }
        if valor <= 0 {
            return invalid("valor must be above zero");
        }
        if refunded_centavos(pix) + valor > pix.valor {
            return invalid("the refunds would exceed the Pix's value");
        }
        let devolucao = Devolucao {
            id: id.to_string(),
            rtr_id: self.next_id('D'),
            valor,
            status: "EM_PROCESSAMENTO".into(),
            solicitacao: now_rfc3339(),
            liquidacao: None,
        };
        let answer = devolucao_json(&devolucao);
        pix.devolucoes.push(devolucao);
        // The bank settles the refund at once and tells the shop (a final status is notified).
        let settled = pix.devolucoes.last_mut().expect("just pushed");
        settled.status = "DEVOLVIDO".into();
        settled.liquidacao = Some(now_rfc3339());
        let notice = json!({ "pix": [pix_json(pix)] });
        drop(state);
        let shared = self.clone();
        tokio::spawn(async move { shared.notify(notice).await });
        (StatusCode::CREATED, Some(answer))
    }

    fn list_pix(&self, query: &[(String, String)]) -> Answer {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let parse = |v: Option<&str>| v.and_then(|v| OffsetDateTime::parse(v, &Rfc3339).ok());
        let (Some(inicio), Some(fim)) = (parse(get("inicio")), parse(get("fim"))) else {
            return problem(
                StatusCode::BAD_REQUEST,
                "PixDevolucaoInvalida",
                "Consulta inválida",
                "inicio and fim are RFC 3339 dates",
            );
        };
        let page: usize = get("paginacao.paginaAtual")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let size: usize = get("paginacao.itensPorPagina")
            .and_then(|v| v.parse().ok())
            .unwrap_or(100)
            .clamp(1, self.options.max_page_size.max(1));
        let state = self.lock();
        let mut matching: Vec<&Pix> = state
            .pix
            .values()
            .filter(|p| p.chave == self.options.pix_key && p.horario >= inicio && p.horario <= fim)
            .collect();
        matching.sort_by_key(|p| (p.horario, p.e2eid.clone()));
        let total = matching.len();
        let pages = total.div_ceil(size).max(1);
        let items: Vec<Value> = matching
            .iter()
            .skip(page * size)
            .take(size)
            .map(|p| pix_json(p))
            .collect();
        (
            StatusCode::OK,
            Some(json!({
                "parametros": {
                    "inicio": get("inicio"),
                    "fim": get("fim"),
                    "paginacao": {
                        "paginaAtual": page,
                        "itensPorPagina": size,
                        "quantidadeDePaginas": pages,
                        "quantidadeTotalDeItens": total,
                    }
                },
                "pix": items,
            })),
        )
    }

    fn cob_json(&self, state: &State, cob: &Cob, complete: bool) -> Value {
        let location = format!("fakebank.example/qr/v2/{:032x}", cob.loc_id);
        let valor = Money::from_centavos(cob.original).format_plain();
        let mut out = json!({
            "txid": cob.txid,
            "revisao": cob.revisao,
            "calendario": { "criacao": cob.criacao, "expiracao": cob.expiracao },
            "status": cob.status,
            "valor": { "original": valor },
            "chave": cob.chave,
            "loc": { "id": cob.loc_id, "location": location, "tipoCob": "cob", "criacao": cob.criacao, "txid": cob.txid },
            "location": location,
            "pixCopiaECola": br_code(&location, &valor),
        });
        if let Some(devedor) = &cob.devedor {
            out["devedor"] = devedor.clone();
        }
        if let Some(message) = &cob.solicitacao {
            out["solicitacaoPagador"] = json!(message);
        }
        if complete && !cob.pix.is_empty() {
            out["pix"] = cob
                .pix
                .iter()
                .filter_map(|e| state.pix.get(e))
                .map(pix_json)
                .collect();
        }
        out
    }

    /// Posts a notice to the webhook registered for the shop's key, as the mode says.
    async fn notify(self: Arc<Self>, notice: Value) {
        for v in self.api.check_callback("listaPix", &notice) {
            self.violation(format!("webhook: {v}"));
        }
        let (url, mode) = {
            let state = self.lock();
            let Some((url, _)) = state.webhooks.get(&self.options.pix_key) else {
                return;
            };
            (
                format!("{}/pix", url.trim_end_matches('/')),
                state.webhook_mode,
            )
        };
        let times = match mode {
            WebhookMode::Never => return,
            WebhookMode::Twice => 2,
            WebhookMode::Normal | WebhookMode::Late(_) => 1,
        };
        let shared = self.clone();
        let task = async move {
            if let WebhookMode::Late(delay) = mode {
                tokio::time::sleep(delay).await;
            }
            for _ in 0..times {
                let outcome = shared
                    .sender
                    .post(&url)
                    .json(&notice)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .map_err(|e| e.to_string());
                shared.lock().deliveries.push(Delivery {
                    url: url.clone(),
                    body: notice.clone(),
                    outcome,
                });
            }
        };
        if matches!(mode, WebhookMode::Late(_)) {
            tokio::spawn(task);
        } else {
            task.await;
        }
    }
}

fn respond((status, body): Answer) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(status);
    let bytes = match body {
        Some(body) => {
            let problem = body.get("type").is_some() && body.get("title").is_some();
            builder = builder.header(
                hyper::header::CONTENT_TYPE,
                if problem {
                    "application/problem+json"
                } else {
                    "application/json"
                },
            );
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(bytes)).expect("a valid response")
}

fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Answer {
    (
        status,
        Some(json!({
            "type": format!("{PROBLEM_BASE}{kind}"),
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        })),
    )
}

fn cob_not_found() -> Answer {
    problem(
        StatusCode::NOT_FOUND,
        "CobNaoEncontrado",
        "Cobrança não encontrada.",
        "no charge with this txid",
    )
}

fn pix_json(pix: &Pix) -> Value {
    let mut out = json!({
        "endToEndId": pix.e2eid,
        "valor": Money::from_centavos(pix.valor).format_plain(),
        "chave": pix.chave,
        "horario": pix.horario.format(&Rfc3339).expect("a formattable date"),
    });
    if let Some(txid) = &pix.txid {
        out["txid"] = json!(txid);
    }
    if !pix.devolucoes.is_empty() {
        out["devolucoes"] = pix.devolucoes.iter().map(devolucao_json).collect();
    }
    out
}

fn devolucao_json(d: &Devolucao) -> Value {
    let mut horario = json!({ "solicitacao": d.solicitacao });
    if let Some(liquidacao) = &d.liquidacao {
        horario["liquidacao"] = json!(liquidacao);
    }
    json!({
        "id": d.id,
        "rtrId": d.rtr_id,
        "valor": Money::from_centavos(d.valor).format_plain(),
        "natureza": "ORIGINAL",
        "horario": horario,
        "status": d.status,
    })
}

fn refunded_centavos(pix: &Pix) -> i64 {
    pix.devolucoes
        .iter()
        .filter(|d| d.status != "NAO_REALIZADO")
        .map(|d| d.valor)
        .sum()
}

/// `"12.34"` in centavos (the spec's `\d{1,10}\.\d{2}`).
fn centavos(valor: &str) -> Option<i64> {
    let (reais, cents) = valor.split_once('.')?;
    if reais.is_empty() || reais.len() > 10 || cents.len() != 2 {
        return None;
    }
    if !reais
        .bytes()
        .chain(cents.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(reais.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .expect("a formattable date")
}

/// A dynamic BR Code: the payload URL (field 26, sub-field 25), txid `***`, CRC-16.
fn br_code(location: &str, valor: &str) -> String {
    let tlv = |id: &str, value: &str| format!("{id}{:02}{value}", value.len());
    let account = tlv("00", "br.gov.bcb.pix") + &tlv("25", location);
    let mut out = tlv("00", "01") + &tlv("01", "12") + &tlv("26", &account);
    out += &tlv("52", "0000");
    out += &tlv("53", "986");
    out += &tlv("54", valor);
    out += &tlv("58", "BR");
    out += &tlv("59", "LOJA VITRINE");
    out += &tlv("60", "SAO PAULO");
    out += &tlv("62", &tlv("05", "***"));
    out += "6304";
    let crc = vitrine_domain::pix::crc16_ccitt(out.as_bytes());
    format!("{out}{crc:04X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_the_spec_writes_them() {
        assert_eq!(centavos("123.45"), Some(12345));
        assert_eq!(centavos("0.01"), Some(1));
        assert_eq!(centavos("12.5"), None);
        assert_eq!(centavos("-1.00"), None);
        assert_eq!(centavos("1,00"), None);
    }

    #[test]
    fn the_br_code_carries_its_location_and_a_valid_crc() {
        let code = br_code("fakebank.example/qr/v2/1", "10.00");
        assert!(code.contains("fakebank.example/qr/v2/1"));
        assert!(vitrine_domain::pix::crc_matches(&code));
    }
}
