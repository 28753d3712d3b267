//! Pix through the shop's bank on the Banco Central's standard Pix API (v2.9.0,
//! `shared/payments/pix-api/openapi.yaml`; what a store needs of it: `NOTES.md` beside it).
//!
//! - **Transport**: every call, the token's included, is made over mutual TLS with the client
//!   certificate the bank issued (`BcbSettings::certificate_pem`/`key_pem`), and carries a bearer
//!   token from OAuth2 client credentials (HTTP Basic `client_id:client_secret`), cached until
//!   shortly before it expires and renewed once when the bank answers 401.
//! - **Charges** are immediate charges (`cob`) made with `PUT /cob/{txid}`, the txid derived
//!   from the request's idempotency key, so a retried charge is the same charge at the bank; a
//!   txid the bank already knows is read back (`GET /cob/{txid}`) and answered the same way.
//! - **Refunds** are "devoluções" (`PUT /pix/{e2eid}/devolucao/{id}`), the id derived from the
//!   refund id the same way.
//! - **Webhooks** carry no signature (the bank is authenticated by mutual TLS at the shop's TLS
//!   terminator): each Pix in a notice is only a hint, read back with `GET /pix/{e2eid}` by the
//!   store before it settles anything. A Pix without txid, or to another key, is not the shop's.
//! - **Errors**: no answer, a timeout, a 5xx or a 429 are `Unavailable` (retry with the same key);
//!   a 4xx `application/problem+json` is `Invalid` with the bank's title and detail. Tokens,
//!   secrets and keys are never logged.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;
use url::Url;
use vitrine_app::ports::payments::{
    Charge, ChargeKey, ChargeMethod, ChargeRequest, NoticeItem, PaymentError, PaymentProvider,
    ProviderPayment, ProviderStatus, Refunded, WebhookError, WebhookRequest,
};
use vitrine_domain::order::PaymentMethod;
use vitrine_domain::{Money, Timestamp};

/// How to reach the shop's bank: everything the bank hands over when the shop signs up for its
/// Pix API.
#[derive(Clone)]
pub struct BcbSettings {
    /// The API's base URL, paths appended (`https://pix.bank.example/api/v2/`).
    pub api_url: String,
    /// The OAuth2 token endpoint (client credentials).
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The client certificate the bank issued (PEM, with its chain) and its private key (PEM):
    /// every call, the token's included, is made over mutual TLS with them.
    pub certificate_pem: String,
    pub key_pem: String,
    /// An extra root certificate (PEM) to trust for the bank's server, beside the system's
    /// (a bank's homologation environment, the fake bank in tests).
    pub ca_pem: Option<String>,
    /// The shop's Pix key (`chave`) the charges are paid to.
    pub pix_key: String,
    /// Where the bank posts notices: `{public URL}/api/v1/payments/webhooks/bcb` (the bank
    /// appends `/pix`). Registered with `PUT /webhook/{chave}` at start-up when set.
    pub webhook_url: Option<String>,
}

impl std::fmt::Debug for BcbSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcbSettings")
            .field("api_url", &self.api_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("pix_key", &self.pix_key)
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

/// How long the adapter waits for the bank.
#[derive(Debug, Clone, Copy)]
pub struct BcbTimeouts {
    /// To open the connection (TCP and TLS).
    pub connect: Duration,
    /// For a whole request and its answer.
    pub request: Duration,
}

impl Default for BcbTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(20),
        }
    }
}

/// The OAuth2 scopes the adapter asks for: immediate charges, received Pix and refunds, the
/// webhook ([spec: securitySchemes.OAuth2]).
const SCOPES: &str = "cob.write cob.read pix.write pix.read webhook.write webhook.read";

/// A token is renewed this long before the bank says it expires (at most half its life).
const TOKEN_MARGIN: Duration = Duration::from_secs(30);

/// The shortest and longest life given to a charge (`calendario.expiracao`, seconds).
const MIN_EXPIRY_SECS: i64 = 60;
const MAX_EXPIRY_SECS: i64 = 60 * 60 * 24 * 365;

/// The BCB Pix API adapter (provider name `bcb`, method Pix).
pub struct BcbPix {
    settings: BcbSettings,
    api: Url,
    token_url: Url,
    client: reqwest::Client,
    token: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    value: Arc<str>,
    renew_at: Instant,
}

impl BcbPix {
    /// Checks the settings (URLs, certificate and key) without calling the bank.
    pub fn new(settings: BcbSettings) -> Result<Self, String> {
        Self::with_timeouts(settings, BcbTimeouts::default())
    }

    /// [`BcbPix::new`] with other timeouts than the default (5 s to connect, 20 s a request).
    pub fn with_timeouts(settings: BcbSettings, timeouts: BcbTimeouts) -> Result<Self, String> {
        let api = https_url("api_url", &settings.api_url)?;
        let token_url = https_url("token_url", &settings.token_url)?;
        if settings.client_id.is_empty() || settings.client_secret.is_empty() {
            return Err("bcb: client_id and client_secret are required".into());
        }
        if settings.pix_key.is_empty() || settings.pix_key.chars().count() > 77 {
            return Err("bcb: pix_key must have 1 to 77 characters".into());
        }
        if let Some(webhook) = &settings.webhook_url {
            https_url("webhook_url", webhook)?;
        }
        if !settings
            .certificate_pem
            .contains("-----BEGIN CERTIFICATE-----")
        {
            return Err("bcb: certificate_pem holds no PEM certificate".into());
        }
        if !settings.key_pem.contains("PRIVATE KEY-----") {
            return Err("bcb: key_pem holds no PEM private key".into());
        }
        let identity_pem = format!("{}\n{}", settings.certificate_pem, settings.key_pem);
        let identity = reqwest::Identity::from_pem(identity_pem.as_bytes())
            .map_err(|e| format!("bcb: the client certificate or its key is unusable: {e}"))?;
        let builder = reqwest::Client::builder()
            .use_rustls_tls()
            .identity(identity)
            .https_only(true)
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request);
        let client = crate::client::provider_client("bcb", builder, settings.ca_pem.as_deref())?;
        Ok(Self {
            settings,
            api,
            token_url,
            client,
            token: Mutex::new(None),
        })
    }

    /// The txid a charge gets at the bank: 32 hex characters derived from its idempotency key
    /// (`[a-zA-Z0-9]{26,35}`, [spec: TxId]), so that a retry names the same charge.
    pub fn txid_for(idempotency_key: &str) -> String {
        digest_id("vitrine-bcb-txid", idempotency_key)
    }

    /// The "devolução" id a refund gets at the bank (`[a-zA-Z0-9]{1,35}`, [spec: DevolucaoId]).
    pub fn devolucao_id_for(refund_id: &str) -> String {
        digest_id("vitrine-bcb-devolucao", refund_id)
    }

    /// Registers `webhook_url` for the shop's Pix key (`PUT /webhook/{chave}`); nothing to do
    /// when it is not set.
    pub async fn register_webhook(&self) -> Result<(), PaymentError> {
        let Some(url) = &self.settings.webhook_url else {
            return Ok(());
        };
        let answer = self
            .call(
                Method::PUT,
                &["webhook", &self.settings.pix_key],
                &[],
                Some(json!({ "webhookUrl": url })),
            )
            .await?;
        if answer.status.is_success() {
            tracing::info!(provider = "bcb", "webhook registered for the Pix key");
            return Ok(());
        }
        Err(answer.refusal("registering the webhook"))
    }

    /// A call to the API, with a token; a 401 renews the token once and the call is retried.
    /// Transport failures, 5xx and 429 come back as `Unavailable`; other statuses are the
    /// caller's to read.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Answer, PaymentError> {
        let mut url = self.api.clone();
        url.path_segments_mut()
            .map_err(|_| PaymentError::Invalid("bcb: api_url cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let operation = format!("{method} /{}", segments.first().copied().unwrap_or(""));
        for attempt in 0..2 {
            let token = self.token(attempt > 0).await?;
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .bearer_auth(&*token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let started = Instant::now();
            let response = request
                .send()
                .await
                .map_err(|e| transport_error(&operation, e))?;
            let status = response.status();
            let text = response
                .text()
                .await
                .map_err(|e| transport_error(&operation, e))?;
            tracing::debug!(
                provider = "bcb",
                operation,
                status = status.as_u16(),
                duration_ms = started.elapsed().as_millis() as u64,
                "bank call"
            );
            if status == StatusCode::UNAUTHORIZED {
                if attempt == 0 {
                    tracing::info!(
                        provider = "bcb",
                        operation,
                        "token refused (401): renewing it"
                    );
                    continue;
                }
                break;
            }
            check_available(&operation, status)?;
            let body = if text.trim().is_empty() {
                None
            } else {
                Some(serde_json::from_str(&text).map_err(|e| {
                    PaymentError::Unavailable(anyhow::anyhow!(
                        "bcb {operation}: the bank answered {status} with a body that is not JSON: {e}"
                    ))
                })?)
            };
            return Ok(Answer {
                status,
                body,
                operation,
            });
        }
        Err(PaymentError::Invalid(format!(
            "bcb {operation}: the bank refused a fresh token (401): check the client credentials and certificate"
        )))
    }

    /// The cached token, or a new one when it is about to expire or `renew` is set (the bank
    /// refused it).
    async fn token(&self, renew: bool) -> Result<Arc<str>, PaymentError> {
        let mut cached = self.token.lock().await;
        if !renew
            && let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        *cached = None;
        let response = self
            .client
            .post(self.token_url.clone())
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", SCOPES)])
            .send()
            .await
            .map_err(|e| transport_error("token", e))?;
        let status = response.status();
        check_available("token", status)?;
        if !status.is_success() {
            return Err(PaymentError::Invalid(format!(
                "bcb: the bank refused the client credentials ({status})"
            )));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: String,
            expires_in: Option<u64>,
        }
        let answer: TokenAnswer = response.json().await.map_err(|e| {
            PaymentError::Unavailable(anyhow::anyhow!("bcb token: unreadable answer: {e}"))
        })?;
        let life = Duration::from_secs(answer.expires_in.unwrap_or(300));
        let margin = TOKEN_MARGIN.min(life / 2);
        let value: Arc<str> = answer.access_token.into();
        *cached = Some(CachedToken {
            value: value.clone(),
            renew_at: Instant::now() + life - margin,
        });
        tracing::info!(
            provider = "bcb",
            expires_in_s = life.as_secs(),
            "new access token"
        );
        Ok(value)
    }

    fn cob_body(&self, request: &ChargeRequest, expires_at: Timestamp) -> Value {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let expiracao = (expires_at.secs() - now).clamp(MIN_EXPIRY_SECS, MAX_EXPIRY_SECS);
        let mut body = json!({
            "calendario": { "expiracao": expiracao },
            "valor": { "original": request.amount.format_plain() },
            "chave": self.settings.pix_key,
        });
        let document = request.payer.document.trim();
        let name: String = request.payer.name.trim().chars().take(200).collect();
        let kind = if document.len() == 11 && document.bytes().all(|b| b.is_ascii_digit()) {
            Some("cpf")
        } else if document.len() == 14
            && document
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        {
            Some("cnpj")
        } else {
            None
        };
        match kind {
            Some(kind) if !name.is_empty() => {
                body["devedor"] = json!({ kind: document, "nome": name });
            }
            _ => tracing::warn!(
                provider = "bcb",
                order.id = request.order_id,
                "the payer has no CPF/CNPJ or name the bank takes: the charge names no devedor"
            ),
        }
        let message: String = request.description.trim().chars().take(140).collect();
        if !message.is_empty() {
            body["solicitacaoPagador"] = json!(message);
        }
        body
    }

    /// A charge the bank already holds under `txid`, answered as the first call did when it is
    /// the same charge.
    async fn existing_charge(
        &self,
        txid: &str,
        wanted: &Value,
    ) -> Result<Option<Charge>, PaymentError> {
        let answer = self.call(Method::GET, &["cob", txid], &[], None).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(answer.refusal("reading the charge back"));
        }
        let cob: Cob = answer.parse()?;
        if cob.valor.original != wanted["valor"]["original"].as_str().unwrap_or_default()
            || cob.chave != self.settings.pix_key
        {
            return Err(PaymentError::Invalid(format!(
                "bcb: txid {txid} already names another charge at the bank"
            )));
        }
        if cob.status.starts_with("REMOVIDA") {
            return Err(PaymentError::Invalid(format!(
                "bcb: the charge {txid} was removed ({})",
                cob.status
            )));
        }
        cob.pending().map(Some)
    }

    /// A received Pix as the store reads it, or `None` when it is not the shop's.
    fn payment(&self, pix: ReceivedPix) -> Result<Option<ProviderPayment>, PaymentError> {
        let Some(txid) = pix.txid.filter(|t| !t.is_empty()) else {
            tracing::warn!(
                provider = "bcb",
                pix.e2eid = pix.end_to_end_id,
                "a Pix without txid: not a charge of the store"
            );
            return Ok(None);
        };
        if let Some(key) = &pix.chave
            && key != &self.settings.pix_key
        {
            tracing::warn!(
                provider = "bcb",
                pix.e2eid = pix.end_to_end_id,
                "a Pix to another key: not the store's"
            );
            return Ok(None);
        }
        let amount = money(&pix.valor)?;
        let mut refunded = Money::ZERO;
        for devolucao in &pix.devolucoes {
            if matches!(devolucao.status.as_str(), "DEVOLVIDO" | "EM_PROCESSAMENTO") {
                refunded = refunded
                    .checked_add(money(&devolucao.valor)?)
                    .ok_or_else(|| unreadable("the refunds add up past any amount"))?;
            }
        }
        Ok(Some(ProviderPayment {
            reference: pix.end_to_end_id,
            charge: ChargeKey::Txid(txid),
            status: ProviderStatus::Paid,
            amount,
            refunded,
            authorization: None,
            card: None,
        }))
    }
}

/// An answer from the bank that was not a transport failure, 5xx or 429.
struct Answer {
    status: StatusCode,
    body: Option<Value>,
    operation: String,
}

impl Answer {
    fn parse<T: serde::de::DeserializeOwned>(self) -> Result<T, PaymentError> {
        let body = self.body.unwrap_or(Value::Null);
        serde_json::from_value(body).map_err(|e| {
            unreadable(&format!(
                "{}: the bank's answer is not what the Pix API specifies: {e}",
                self.operation
            ))
        })
    }

    /// The bank's refusal, with the problem's title and detail ([spec: Problema], RFC 7807).
    fn refusal(&self, doing: &str) -> PaymentError {
        let field = |name: &str| {
            self.body
                .as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (kind, title, detail) = (field("type"), field("title"), field("detail"));
        tracing::warn!(
            provider = "bcb",
            operation = self.operation,
            status = self.status.as_u16(),
            problem.kind = kind,
            "the bank refused a call"
        );
        let kind = kind.rsplit('/').next().unwrap_or_default();
        let mut message = format!("bcb: {doing}: the bank answered {}", self.status.as_u16());
        for part in [kind, title.as_str(), detail.as_str()] {
            if !part.is_empty() {
                message.push_str(": ");
                message.push_str(part);
            }
        }
        PaymentError::Invalid(message)
    }
}

#[derive(Deserialize)]
struct Cob {
    txid: String,
    status: String,
    chave: String,
    valor: CobValor,
    #[serde(rename = "pixCopiaECola")]
    pix_copia_e_cola: Option<String>,
}

#[derive(Deserialize)]
struct CobValor {
    original: String,
}

impl Cob {
    fn pending(self) -> Result<Charge, PaymentError> {
        let br_code = self
            .pix_copia_e_cola
            .filter(|c| !c.is_empty())
            .ok_or_else(|| unreadable("the charge has no pixCopiaECola"))?;
        Ok(Charge::PixPending {
            reference: self.txid.clone(),
            txid: self.txid,
            br_code,
        })
    }
}

#[derive(Deserialize)]
struct ReceivedPix {
    #[serde(rename = "endToEndId")]
    end_to_end_id: String,
    txid: Option<String>,
    valor: String,
    chave: Option<String>,
    horario: String,
    #[serde(default)]
    devolucoes: Vec<Devolucao>,
}

#[derive(Deserialize)]
struct Devolucao {
    id: String,
    #[serde(rename = "rtrId")]
    rtr_id: Option<String>,
    valor: String,
    status: String,
    motivo: Option<String>,
}

#[derive(Deserialize)]
struct PixPage {
    #[serde(default)]
    pix: Vec<ReceivedPix>,
    parametros: PixPageParams,
}

#[derive(Deserialize)]
struct PixPageParams {
    paginacao: Paginacao,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Paginacao {
    pagina_atual: u64,
    quantidade_de_paginas: u64,
}

#[derive(Deserialize)]
struct WebhookBody {
    pix: Vec<WebhookPix>,
}

#[derive(Deserialize)]
struct WebhookPix {
    #[serde(rename = "endToEndId")]
    end_to_end_id: String,
    #[serde(default)]
    devolucoes: Vec<WebhookDevolucao>,
}

#[derive(Deserialize)]
struct WebhookDevolucao {
    id: String,
    status: String,
}

#[async_trait]
impl PaymentProvider for BcbPix {
    async fn register_webhooks(&self) -> Result<(), PaymentError> {
        self.register_webhook().await
    }

    fn name(&self) -> &'static str {
        "bcb"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[PaymentMethod::Pix]
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let ChargeMethod::Pix { expires_at } = &request.method else {
            return Err(PaymentError::Invalid(
                "bcb takes Pix only: the bank's Pix API has no cards or boletos".into(),
            ));
        };
        let txid = Self::txid_for(&request.idempotency_key);
        let body = self.cob_body(request, *expires_at);
        let answer = self
            .call(Method::PUT, &["cob", &txid], &[], Some(body.clone()))
            .await?;
        if answer.status.is_success() {
            tracing::info!(
                provider = "bcb",
                order.id = request.order_id,
                pix.txid = txid,
                "charge created"
            );
            return answer.parse::<Cob>()?.pending();
        }
        // A retry of a charge the bank made: the txid is taken, by this very charge.
        if answer.status.is_client_error()
            && let Some(charge) = self.existing_charge(&txid, &body).await?
        {
            tracing::info!(
                provider = "bcb",
                order.id = request.order_id,
                pix.txid = txid,
                "charge existed: answered again"
            );
            return Ok(charge);
        }
        Err(answer.refusal("creating the charge"))
    }

    async fn refund(
        &self,
        reference: &str,
        amount: Money,
        refund_id: &str,
    ) -> Result<Refunded, PaymentError> {
        if amount <= Money::ZERO {
            return Err(PaymentError::Invalid(
                "bcb: a refund must be positive".into(),
            ));
        }
        let id = Self::devolucao_id_for(refund_id);
        let valor = amount.format_plain();
        let answer = self
            .call(
                Method::PUT,
                &["pix", reference, "devolucao", &id],
                &[],
                Some(json!({ "valor": valor })),
            )
            .await?;
        let devolucao: Devolucao = if answer.status.is_success() {
            answer.parse()?
        } else if answer.status.is_client_error() {
            // A repeat: the id is taken, by this very refund.
            let existing = self
                .call(
                    Method::GET,
                    &["pix", reference, "devolucao", &id],
                    &[],
                    None,
                )
                .await?;
            if !existing.status.is_success() {
                return Err(answer.refusal("refunding"));
            }
            let devolucao: Devolucao = existing.parse()?;
            if devolucao.valor != valor {
                return Err(PaymentError::Invalid(format!(
                    "bcb: the refund {refund_id} was asked before with another amount ({})",
                    devolucao.valor
                )));
            }
            devolucao
        } else {
            return Err(answer.refusal("refunding"));
        };
        if devolucao.status == "NAO_REALIZADO" {
            return Err(PaymentError::Invalid(format!(
                "bcb: the bank did not make the refund: {}",
                devolucao.motivo.unwrap_or_else(|| "no reason given".into())
            )));
        }
        tracing::info!(
            provider = "bcb",
            pix.e2eid = reference,
            refund.status = devolucao.status,
            "refund asked"
        );
        Ok(Refunded {
            reference: devolucao.rtr_id.unwrap_or(devolucao.id),
        })
    }

    async fn cancel(&self, reference: &str) -> Result<(), PaymentError> {
        let answer = self
            .call(
                Method::PATCH,
                &["cob", reference],
                &[],
                Some(json!({ "status": "REMOVIDA_PELO_USUARIO_RECEBEDOR" })),
            )
            .await?;
        if answer.status.is_success() {
            tracing::info!(provider = "bcb", pix.txid = reference, "charge removed");
            return Ok(());
        }
        if answer.status == StatusCode::NOT_FOUND {
            tracing::warn!(
                provider = "bcb",
                pix.txid = reference,
                "no such charge to remove"
            );
            return Ok(());
        }
        // A charge no longer ATIVA cannot change [spec: CobOperacaoInvalida]: paid or removed
        // already is done.
        let current = self
            .call(Method::GET, &["cob", reference], &[], None)
            .await?;
        if current.status.is_success() {
            let cob: Cob = current.parse()?;
            if cob.status != "ATIVA" {
                tracing::info!(
                    provider = "bcb",
                    pix.txid = reference,
                    cob.status = cob.status,
                    "charge no longer active"
                );
                return Ok(());
            }
        }
        Err(answer.refusal("removing the charge"))
    }

    async fn webhook(&self, request: &WebhookRequest<'_>) -> Result<Vec<NoticeItem>, WebhookError> {
        if request.subpath.trim_matches('/') != "pix" {
            return Err(WebhookError::Malformed(format!(
                "the bank posts Pix notices to …/pix, not …/{}",
                request.subpath.trim_matches('/')
            )));
        }
        let body: WebhookBody = serde_json::from_slice(request.body).map_err(|e| {
            WebhookError::Malformed(format!("not a Pix notice ({{\"pix\":[…]}}): {e}"))
        })?;
        let mut items = Vec::with_capacity(body.pix.len());
        for pix in body.pix {
            let valid = pix.end_to_end_id.len() == 32
                && pix.end_to_end_id.bytes().all(|b| b.is_ascii_alphanumeric());
            if !valid {
                return Err(WebhookError::Malformed(format!(
                    "{:?} is not an endToEndId",
                    pix.end_to_end_id
                )));
            }
            let mut notice_id = pix.end_to_end_id.clone();
            for devolucao in &pix.devolucoes {
                notice_id.push_str(&format!(":{}={}", devolucao.id, devolucao.status));
            }
            items.push(NoticeItem {
                notice_id,
                reference: pix.end_to_end_id,
                verified: None,
            });
        }
        Ok(items)
    }

    async fn lookup(&self, reference: &str) -> Result<Option<ProviderPayment>, PaymentError> {
        if reference.len() != 32 || !reference.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let answer = self
            .call(Method::GET, &["pix", reference], &[], None)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(answer.refusal("reading the Pix"));
        }
        self.payment(answer.parse()?)
    }

    async fn received(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError> {
        let (inicio, fim) = (rfc3339(from)?, rfc3339(to)?);
        let mut payments = Vec::new();
        let mut page = 0u64;
        loop {
            let query = [
                ("inicio", inicio.clone()),
                ("fim", fim.clone()),
                ("paginacao.paginaAtual", page.to_string()),
                ("paginacao.itensPorPagina", "100".to_string()),
            ];
            let answer = self.call(Method::GET, &["pix"], &query, None).await?;
            if !answer.status.is_success() {
                return Err(answer.refusal("listing received Pix"));
            }
            let listing: PixPage = answer.parse()?;
            for pix in listing.pix {
                // The bank's `fim` is inclusive; the port's `to` is not.
                let at = OffsetDateTime::parse(&pix.horario, &Rfc3339)
                    .map_err(|e| unreadable(&format!("a Pix horario {:?}: {e}", pix.horario)))?;
                if at.unix_timestamp() * 1000 + i64::from(at.millisecond()) >= to.millis() {
                    continue;
                }
                payments.extend(self.payment(pix)?);
            }
            let paging = listing.parametros.paginacao;
            page = paging.pagina_atual + 1;
            if page >= paging.quantidade_de_paginas {
                return Ok(payments);
            }
        }
    }
}

fn https_url(name: &str, value: &str) -> Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("bcb: {name} is not a URL: {e}"))?;
    if url.scheme() != "https" {
        return Err(format!("bcb: {name} must be https (mutual TLS)"));
    }
    Ok(url)
}

fn digest_id(domain: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{domain}:{key}").as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn transport_error(operation: &str, error: reqwest::Error) -> PaymentError {
    let what = if error.is_timeout() {
        "the bank did not answer in time"
    } else if error.is_connect() {
        "cannot connect to the bank"
    } else {
        "the call to the bank failed"
    };
    // reqwest's errors name the URL, never the headers: no token or secret leaks here.
    PaymentError::Unavailable(anyhow::anyhow!("bcb {operation}: {what}: {error}"))
}

fn check_available(operation: &str, status: StatusCode) -> Result<(), PaymentError> {
    if status.is_server_error() {
        return Err(PaymentError::Unavailable(anyhow::anyhow!(
            "bcb {operation}: the bank failed ({status})"
        )));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(PaymentError::Unavailable(anyhow::anyhow!(
            "bcb {operation}: the bank is rate limiting us (429)"
        )));
    }
    Ok(())
}

fn unreadable(what: &str) -> PaymentError {
    PaymentError::Unavailable(anyhow::anyhow!("bcb: {what}"))
}

fn money(valor: &str) -> Result<Money, PaymentError> {
    Money::parse_decimal(valor).map_err(|e| unreadable(&format!("the amount {valor:?}: {e}")))
}

fn rfc3339(at: Timestamp) -> Result<String, PaymentError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| PaymentError::Invalid(format!("bcb: {} ms is not a date", at.millis())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txids_and_refund_ids_are_stable_and_fit_the_spec() {
        let txid = BcbPix::txid_for("order-1:attempt-1");
        assert_eq!(txid, BcbPix::txid_for("order-1:attempt-1"));
        assert_ne!(txid, BcbPix::txid_for("order-1:attempt-2"));
        assert_eq!(txid.len(), 32);
        assert!(txid.bytes().all(|b| b.is_ascii_alphanumeric()));
        let id = BcbPix::devolucao_id_for("evt-1");
        assert!(id.len() <= 35 && id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(id, BcbPix::txid_for("evt-1"));
    }

    #[test]
    fn settings_without_https_or_a_certificate_are_refused() {
        let settings = BcbSettings {
            api_url: "http://bank.example/api/v2/".into(),
            token_url: "https://bank.example/oauth/token".into(),
            client_id: "id".into(),
            client_secret: "secret".into(),
            certificate_pem: String::new(),
            key_pem: String::new(),
            ca_pem: None,
            pix_key: "key".into(),
            webhook_url: None,
        };
        let error = BcbPix::new(settings.clone()).err().unwrap();
        assert!(error.contains("api_url must be https"), "{error}");
        let error = BcbPix::new(BcbSettings {
            api_url: "https://bank.example/api/v2/".into(),
            ..settings
        })
        .err()
        .unwrap();
        assert!(error.contains("certificate"), "{error}");
    }

    #[test]
    fn timestamps_are_written_as_rfc_3339() {
        assert_eq!(
            rfc3339(Timestamp::from_secs(0)).unwrap(),
            "1970-01-01T00:00:00Z"
        );
    }
}
