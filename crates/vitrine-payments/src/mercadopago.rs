//! Cards, boleto and Pix through Mercado Pago (official OpenAPI 3.1 spec,
//! `shared/payments/mercadopago/spec3.yaml`; webhook signature rule in
//! `shared/payments/CARD-PROVIDERS.md`).
//!
//! Calls (all with `Authorization: Bearer <access token>`, amounts as decimal BRL):
//! - `charge`: `POST /v1/payments` (`X-Idempotency-Key`, `external_reference` = the order id).
//!   Cards only as a token made by Mercado Pago's script in the buyer's browser: a card number is
//!   refused before any call. Boleto is `payment_method_id` `bolbradesco`, Pix is `pix`.
//! - `installments`: `GET /v1/payment_methods/installments` (`amount`, `bin`, and the card's
//!   `payment_method_id`, which the spec marks required). The id is found from the BIN by the
//!   `settings[].bin.pattern` / `exclusion_pattern` of the credit cards `GET /v1/payment_methods`
//!   lists (kept an hour; `settings` read as an object, as the spec types it, or as the array
//!   the live API returns [verify]), else by the brand of the domain's IIN ranges.
//!   `payment_type_id` is not sent: the spec declares no such parameter. Each plan's
//!   installments are Mercado Pago's `installment_amount`, the centavos that do not divide added
//!   to the first ones (or taken from the last), so they add up to `total_amount` exactly;
//!   `monthly_rate_bp` is derived (Mercado Pago gives only `installment_rate`, the interest over
//!   the whole plan): 0 without interest, else the Price-table monthly rate that yields the
//!   installment, to the basis point.
//! - `lookup`: `GET /v1/payments/{id}`; `received`: `GET /v1/payments/search` (approved, by
//!   `date_created`, page by page); `refund`: `POST /v1/payments/{id}/refunds` `{"amount"}`;
//!   `cancel`: `PUT /v1/payments/{id}` `{"status":"cancelled"}`.
//! - `webhook`: `x-signature` (`ts`, `v1`) over the manifest
//!   `id:{data.id};request-id:{x-request-id};ts:{ts};`, HMAC-SHA256 with the webhook secret,
//!   compared in constant time; `ts` more than 5 minutes from now is stale (`ts` is read as
//!   seconds, or as milliseconds when it has 13 digits or more: the docs say milliseconds, the
//!   spec and the docs' own example seconds).
//!
//! Idempotency keys: the spec declares `X-Idempotency-Key` as `format: uuid`. A key that is a
//! UUID already is sent as is; any other key (the store's ULIDs, event ids) is sent as a UUID
//! derived from it by SHA-256 (version 8 layout), so the same key always names the same request.
//!
//! Fields the spec's `Payment` schema does not list (it allows other properties) are read where
//! Mercado Pago's developer documentation puts them [verify]: `authorization_code`,
//! `three_ds_info.external_resource_url` (3-D Secure challenge), `point_of_interaction
//! .transaction_data.qr_code` (Pix), `transaction_details.digitable_line` and
//! `transaction_details.barcode.content` (boleto; also the older top-level `barcode.content`).
//!
//! Errors: a timeout, a connection failure, a 5xx or a 429 is [`PaymentError::Unavailable`]
//! (retry with the same key); another 4xx is [`PaymentError::Invalid`] with the API's message.
//! The access token never appears in errors or logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;
use vitrine_app::ports::payments::{
    Boleto, BrowserTokenisation, CardInput, CardSummary, Charge, ChargeKey, ChargeMethod,
    ChargeRequest, DeclineReason, NoticeItem, PaymentError, PaymentProvider, ProviderPayment,
    ProviderStatus, Refunded, WebhookError, WebhookRequest,
};
use vitrine_domain::card::{CardBrand, CardNumber, InstallmentPlan, luhn_valid};
use vitrine_domain::order::PaymentMethod;
use vitrine_domain::{Money, Timestamp};

/// The shop's Mercado Pago credentials ("Suas integrações" → the application).
#[derive(Clone)]
pub struct MercadoPagoSettings {
    /// `https://api.mercadopago.com` (the fake provider's URL in tests).
    pub api_url: String,
    /// The private access token (`APP_USR-…`): server calls only.
    pub access_token: String,
    /// The public key the browser script tokenises cards with.
    pub public_key: String,
    /// The webhook "assinatura secreta" that signs `x-signature`.
    pub webhook_secret: String,
    /// The tokenisation script (`https://sdk.mercadopago.com/js/v2`).
    pub script_url: String,
    /// An extra root certificate (PEM) to trust for the API (tests).
    pub ca_pem: Option<String>,
    /// Sent as each payment's `notification_url`: `{public URL}/api/v1/payments/webhooks/mercadopago`.
    pub notification_url: Option<String>,
}

impl std::fmt::Debug for MercadoPagoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MercadoPagoSettings")
            .field("api_url", &self.api_url)
            .field("public_key", &self.public_key)
            .field("script_url", &self.script_url)
            .field("notification_url", &self.notification_url)
            .finish_non_exhaustive()
    }
}

/// How far a webhook's `ts` may be from the server's clock.
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// How long one call may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Payments per page of `GET /v1/payments/search`.
const SEARCH_PAGE: usize = 50;

/// The Mercado Pago adapter (provider name `mercadopago`; card, boleto and Pix).
pub struct MercadoPago {
    settings: MercadoPagoSettings,
    api: Url,
    http: reqwest::Client,
    timeout: Duration,
    card_methods: tokio::sync::Mutex<Option<(Instant, Arc<Vec<CardMethod>>)>>,
}

/// A credit card `payment_method_id` and the BINs it covers.
struct CardMethod {
    id: String,
    patterns: Vec<(Regex, Option<Regex>)>,
}

/// How long the list of card methods is kept.
const CARD_METHODS_TTL: Duration = Duration::from_secs(3600);

impl std::fmt::Debug for MercadoPago {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MercadoPago")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl MercadoPago {
    /// Checks the settings without calling the provider.
    pub fn new(settings: MercadoPagoSettings) -> Result<Self, String> {
        let api = parse_base_url("api_url", &settings.api_url)?;
        parse_base_url("script_url", &settings.script_url)?;
        if let Some(url) = &settings.notification_url {
            parse_base_url("notification_url", url)?;
        }
        for (name, value) in [
            ("access_token", &settings.access_token),
            ("public_key", &settings.public_key),
            ("webhook_secret", &settings.webhook_secret),
        ] {
            if value.trim().is_empty() {
                return Err(format!("mercadopago: {name} is empty"));
            }
        }
        let builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
        let http =
            crate::client::provider_client("mercadopago", builder, settings.ca_pem.as_deref())?;
        Ok(Self {
            settings,
            api,
            http,
            timeout: DEFAULT_TIMEOUT,
            card_methods: tokio::sync::Mutex::new(None),
        })
    }

    /// The most one call may take (default [`DEFAULT_TIMEOUT`]); past it the call is
    /// [`PaymentError::Unavailable`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &MercadoPagoSettings {
        &self.settings
    }

    fn endpoint(&self, path: &str) -> Result<Url, PaymentError> {
        self.api
            .join(path.trim_start_matches('/'))
            .map_err(|e| PaymentError::Invalid(format!("mercadopago: bad path {path}: {e}")))
    }

    /// One call: the bearer token, an optional idempotency key and JSON body; `Ok(None)` for a
    /// 404, the JSON answer for a 2xx.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        idempotency_key: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Option<Value>, PaymentError> {
        let url = self.endpoint(path)?;
        let mut request = self
            .http
            .request(method.clone(), url)
            .timeout(self.timeout)
            .bearer_auth(&self.settings.access_token)
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(key) = idempotency_key {
            request = request.header("X-Idempotency-Key", idempotency_uuid(key));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            // reqwest's errors name the URL, never the headers: the token stays out.
            tracing::warn!(%method, path, error = %e, "mercadopago: no answer");
            PaymentError::Unavailable(anyhow::anyhow!("mercadopago {method} {path}: {e}"))
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            PaymentError::Unavailable(anyhow::anyhow!(
                "mercadopago {method} {path}: the answer broke off: {e}"
            ))
        })?;
        if status.is_success() {
            let value = serde_json::from_str(&text).map_err(|e| {
                PaymentError::Unavailable(anyhow::anyhow!(
                    "mercadopago {method} {path}: the answer is not JSON: {e}"
                ))
            })?;
            return Ok(Some(value));
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let message = api_message(&text);
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            tracing::warn!(%method, path, %status, message, "mercadopago: unavailable");
            return Err(PaymentError::Unavailable(anyhow::anyhow!(
                "mercadopago {method} {path}: {status}: {message}"
            )));
        }
        tracing::warn!(%method, path, %status, message, "mercadopago: refused");
        Err(PaymentError::Invalid(format!(
            "Mercado Pago refused the request ({}): {message}",
            status.as_u16()
        )))
    }

    /// The credit cards Mercado Pago takes, with their BIN patterns (kept [`CARD_METHODS_TTL`]).
    async fn card_methods(&self) -> Result<Arc<Vec<CardMethod>>, PaymentError> {
        let mut cached = self.card_methods.lock().await;
        if let Some((at, methods)) = cached.as_ref()
            && at.elapsed() < CARD_METHODS_TTL
        {
            return Ok(Arc::clone(methods));
        }
        let list = self.get("v1/payment_methods", &[]).await?;
        let methods: Vec<CardMethod> = list
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| str_at(m, &["payment_type_id"]) == Some("credit_card"))
            .filter(|m| str_at(m, &["status"]) != Some("deactivated"))
            .filter_map(|m| {
                let id = str_at(m, &["id"])?.to_owned();
                let settings: Vec<&Value> = match m.get("settings") {
                    Some(Value::Array(all)) => all.iter().collect(),
                    Some(one @ Value::Object(_)) => vec![one],
                    _ => Vec::new(),
                };
                let patterns = settings
                    .into_iter()
                    .filter_map(|s| {
                        let pattern = Regex::new(str_at(s, &["bin", "pattern"])?).ok()?;
                        let exclusion = str_at(s, &["bin", "exclusion_pattern"])
                            .and_then(|p| Regex::new(p).ok());
                        Some((pattern, exclusion))
                    })
                    .collect();
                Some(CardMethod { id, patterns })
            })
            .collect();
        let methods = Arc::new(methods);
        *cached = Some((Instant::now(), Arc::clone(&methods)));
        Ok(methods)
    }

    /// The `payment_method_id` of the card whose first digits are `bin`.
    async fn payment_method_of(&self, bin: &str) -> Result<String, PaymentError> {
        let methods = self.card_methods().await?;
        let by_pattern = methods.iter().find(|m| {
            m.patterns.iter().any(|(pattern, exclusion)| {
                pattern.is_match(bin) && !exclusion.as_ref().is_some_and(|e| e.is_match(bin))
            })
        });
        by_pattern
            .map(|m| m.id.clone())
            .or_else(|| payment_method_for_bin(bin).map(str::to_owned))
            .ok_or_else(|| {
                PaymentError::Invalid(
                    "the card's first digits match no card Mercado Pago takes".into(),
                )
            })
    }

    /// A `GET` whose 404 is an error.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, PaymentError> {
        let answer = self
            .call(reqwest::Method::GET, path, query, None, None)
            .await?;
        found(path, answer)
    }

    fn payment_body(&self, request: &ChargeRequest) -> Result<Value, PaymentError> {
        let payer = &request.payer;
        let document: String = payer
            .document
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let document_type = match document.len() {
            11 => "CPF",
            14 => "CNPJ",
            _ => {
                return Err(PaymentError::Invalid(
                    "the payer's document is neither a CPF (11 digits) nor a CNPJ (14)".into(),
                ));
            }
        };
        let mut payer_json = json!({
            "email": payer.email,
            "identification": {"type": document_type, "number": document},
        });
        let mut names = payer.name.split_whitespace();
        if let Some(first) = names.next() {
            payer_json["first_name"] = json!(first);
            let last = names.collect::<Vec<_>>().join(" ");
            if !last.is_empty() {
                payer_json["last_name"] = json!(last);
            }
        }
        let mut body = json!({
            "transaction_amount": decimal(request.amount),
            "description": request.description,
            "external_reference": request.order_id,
            "payer": payer_json,
        });
        if let Some(url) = &self.settings.notification_url {
            body["notification_url"] = json!(url);
        }
        match &request.method {
            ChargeMethod::Card { card, price, plan } => match card {
                CardInput::Number { .. } => {
                    return Err(PaymentError::Invalid(
                        "mercadopago: card numbers are not accepted; the card is tokenised by \
                         Mercado Pago's script"
                            .into(),
                    ));
                }
                CardInput::Token {
                    token,
                    payment_method_id,
                    issuer_id,
                    ..
                } => {
                    // Mercado Pago adds the installment interest itself: it is sent the price.
                    body["transaction_amount"] = json!(decimal(*price));
                    body["token"] = json!(token);
                    body["payment_method_id"] = json!(payment_method_id);
                    body["installments"] = json!(plan.count.max(1));
                    // 3-D Secure when the issuer asks for it (developer docs, "3DS 2.0";
                    // not in the spec's PaymentRequest, which allows other properties) [verify].
                    body["three_d_secure_mode"] = json!("optional");
                    if let Some(issuer) = issuer_id {
                        body["issuer_id"] = json!(issuer);
                    }
                }
            },
            ChargeMethod::Boleto { expires_at } => {
                body["payment_method_id"] = json!("bolbradesco");
                body["date_of_expiration"] = json!(format_brt(*expires_at));
            }
            ChargeMethod::Pix { expires_at } => {
                body["payment_method_id"] = json!("pix");
                body["date_of_expiration"] = json!(format_brt(*expires_at));
            }
        }
        Ok(body)
    }

    fn charge_from(
        &self,
        request: &ChargeRequest,
        payment: &Value,
    ) -> Result<Charge, PaymentError> {
        let reference = payment_id(payment)?;
        let status = str_at(payment, &["status"]).unwrap_or_default();
        let detail = str_at(payment, &["status_detail"]).unwrap_or_default();
        let card = card_summary(payment);
        let incomplete = |what: &str| {
            PaymentError::Unavailable(anyhow::anyhow!(
                "mercadopago: payment {reference} ({status}) came without {what}"
            ))
        };
        match (status, &request.method) {
            ("approved", _) => Ok(Charge::Approved {
                authorization: str_at(payment, &["authorization_code"])
                    .unwrap_or_default()
                    .to_owned(),
                reference,
                card,
            }),
            ("rejected", _) => Ok(Charge::Declined {
                reason: decline_reason(detail),
                card,
            }),
            ("pending" | "in_process" | "authorized", ChargeMethod::Card { .. }) => {
                let challenge_url = (detail == "pending_challenge")
                    .then(|| str_at(payment, &["three_ds_info", "external_resource_url"]))
                    .flatten()
                    .map(str::to_owned);
                Ok(Charge::InProcess {
                    reference,
                    challenge_url,
                    card,
                })
            }
            ("pending" | "in_process", ChargeMethod::Boleto { expires_at }) => {
                let digitable_line = str_at(payment, &["transaction_details", "digitable_line"])
                    .ok_or_else(|| incomplete("a digitable line"))?;
                let barcode = str_at(payment, &["transaction_details", "barcode", "content"])
                    .or_else(|| str_at(payment, &["barcode", "content"]))
                    .ok_or_else(|| incomplete("a barcode"))?;
                let pdf_url = str_at(payment, &["transaction_details", "external_resource_url"])
                    .ok_or_else(|| incomplete("the boleto's URL"))?;
                let expires_at = str_at(payment, &["date_of_expiration"])
                    .and_then(parse_timestamp)
                    .unwrap_or(*expires_at);
                Ok(Charge::BoletoPending {
                    reference,
                    boleto: Boleto {
                        digitable_line: digitable_line.to_owned(),
                        barcode: barcode.to_owned(),
                        pdf_url: pdf_url.to_owned(),
                        expires_at,
                    },
                })
            }
            ("pending" | "in_process", ChargeMethod::Pix { .. }) => {
                let br_code = str_at(
                    payment,
                    &["point_of_interaction", "transaction_data", "qr_code"],
                )
                .ok_or_else(|| incomplete("a Pix QR code"))?;
                Ok(Charge::PixPending {
                    txid: reference.clone(),
                    br_code: br_code.to_owned(),
                    reference,
                })
            }
            _ => Err(PaymentError::Invalid(format!(
                "Mercado Pago answered the new payment {reference} with status {status:?} ({detail})"
            ))),
        }
    }
}

/// An answer that must be there: a 404 is an error.
fn found(path: &str, answer: Option<Value>) -> Result<Value, PaymentError> {
    answer.ok_or_else(|| {
        PaymentError::Invalid(format!("Mercado Pago knows no such resource: {path}"))
    })
}

fn parse_base_url(name: &str, value: &str) -> Result<Url, String> {
    let mut url =
        Url::parse(value).map_err(|e| format!("mercadopago: {name} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(format!("mercadopago: {name} must be an http(s) URL"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The message of an error answer (`Error.message`), or the start of the text.
fn api_message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// `12345` centavos as the decimal number `123.45`.
fn decimal(amount: Money) -> f64 {
    amount.centavos() as f64 / 100.0
}

/// A decimal amount back into centavos (rounded to the nearest).
fn centavos(value: &Value) -> Option<Money> {
    let number = value.as_f64()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    Some(Money::from_centavos((number * 100.0).round() as i64))
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))?
        .as_str()
        .filter(|s| !s.is_empty())
}

fn payment_id(payment: &Value) -> Result<String, PaymentError> {
    match payment.get("id") {
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(PaymentError::Unavailable(anyhow::anyhow!(
            "mercadopago: a payment without an id"
        ))),
    }
}

/// Mercado Pago's `payment_method_id` of a card as the store's brand.
fn brand_of(payment_method_id: &str) -> CardBrand {
    match payment_method_id {
        "visa" | "debvisa" => CardBrand::Visa,
        "master" | "debmaster" => CardBrand::Mastercard,
        "amex" => CardBrand::Amex,
        "elo" | "debelo" => CardBrand::Elo,
        "hipercard" => CardBrand::Hipercard,
        "diners" => CardBrand::Diners,
        _ => CardBrand::Other,
    }
}

/// The card's `payment_method_id` for its BIN (first 6 to 8 digits): the brand by the domain's
/// IIN ranges, read from the BIN completed with zeros and a Luhn check digit.
fn payment_method_for_bin(bin: &str) -> Option<&'static str> {
    if !(6..=8).contains(&bin.len()) || !bin.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let body = format!("{bin:0<15}");
    let number = (0..10)
        .map(|d| format!("{body}{d}"))
        .find(|candidate| luhn_valid(candidate))?;
    match CardNumber::parse(&number).ok()?.brand() {
        CardBrand::Visa => Some("visa"),
        CardBrand::Mastercard => Some("master"),
        CardBrand::Amex => Some("amex"),
        CardBrand::Elo => Some("elo"),
        CardBrand::Hipercard => Some("hipercard"),
        CardBrand::Diners => Some("diners"),
        CardBrand::Other => None,
    }
}

fn card_summary(payment: &Value) -> Option<CardSummary> {
    let last4 = str_at(payment, &["card", "last_four_digits"])?;
    let method = str_at(payment, &["payment_method_id"]).unwrap_or_default();
    Some(CardSummary {
        brand: brand_of(method),
        last4: last4.to_owned(),
    })
}

fn decline_reason(status_detail: &str) -> DeclineReason {
    match status_detail {
        "cc_rejected_insufficient_amount" => DeclineReason::InsufficientFunds,
        _ => DeclineReason::Declined,
    }
}

/// Brasília time (UTC−3, no daylight saving since 2019), as the spec's examples write dates:
/// `2024-12-31T23:59:59.000-03:00`.
fn format_brt(at: Timestamp) -> String {
    let offset = time::UtcOffset::from_hms(-3, 0, 0).expect("a valid offset");
    let when = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
    );
    when.format(&format).unwrap_or_default()
}

/// An RFC 3339 date-time as a [`Timestamp`].
fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let when =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let millis = when.unix_timestamp_nanos() / 1_000_000;
    Some(Timestamp::from_millis(i64::try_from(millis).ok()?))
}

/// The `X-Idempotency-Key` sent for `key` (see the module docs).
fn idempotency_uuid(key: &str) -> String {
    if is_uuid(key) {
        return key.to_ascii_lowercase();
    }
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8: custom
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
    let hex = hex(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest Mercado Pago signs: `id:{data.id};request-id:{x-request-id};ts:{ts};`, each pair
/// left out when its value is absent; an alphanumeric `data.id` lower-cased.
pub fn signature_manifest(data_id: Option<&str>, request_id: Option<&str>, ts: &str) -> String {
    let mut manifest = String::new();
    if let Some(id) = data_id.filter(|s| !s.is_empty()) {
        manifest.push_str(&format!("id:{};", id.to_lowercase()));
    }
    if let Some(request_id) = request_id.filter(|s| !s.is_empty()) {
        manifest.push_str(&format!("request-id:{request_id};"));
    }
    manifest.push_str(&format!("ts:{ts};"));
    manifest
}

/// `v1` for a manifest: lowercase hex HMAC-SHA256 with the webhook secret.
pub fn sign_manifest(secret: &str, manifest: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(manifest.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// `ts` and `v1` of an `x-signature` header (`ts=…,v1=…`, parts split on `,`, each on its first
/// `=`, trimmed).
fn parse_signature_header(header: &str) -> Option<(String, String)> {
    let (mut ts, mut v1) = (None, None);
    for part in header.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key.trim() {
            "ts" => ts = Some(value.trim().to_owned()),
            "v1" => v1 = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    Some((ts?, v1?))
}

/// `ts` as milliseconds: 13 digits or more are milliseconds already, fewer are seconds.
fn ts_millis(ts: &str) -> Option<i64> {
    if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = ts.parse().ok()?;
    Some(if ts.len() >= 13 {
        value
    } else {
        value.checked_mul(1000)?
    })
}

#[derive(Deserialize)]
struct Notification {
    id: Value,
    #[serde(rename = "type")]
    kind: String,
}

fn status_of(payment: &Value) -> (ProviderStatus, bool) {
    let detail = str_at(payment, &["status_detail"]).unwrap_or_default();
    match str_at(payment, &["status"]).unwrap_or_default() {
        "approved" => (ProviderStatus::Paid, false),
        "refunded" | "charged_back" => (ProviderStatus::Paid, true),
        "rejected" => (ProviderStatus::Declined(decline_reason(detail)), false),
        "cancelled" | "expired" => (ProviderStatus::Cancelled, false),
        // pending, in_process, authorized, in_mediation: not settled yet.
        _ => (ProviderStatus::Pending, false),
    }
}

/// A payment as the port reports it. A payment made without an `external_reference` (not by
/// this store) names the order `""`, which no order has.
fn provider_payment(payment: &Value) -> Result<ProviderPayment, PaymentError> {
    let reference = payment_id(payment)?;
    let transaction_amount = payment
        .get("transaction_amount")
        .and_then(centavos)
        .unwrap_or(Money::ZERO);
    let amount = payment
        .get("transaction_details")
        .and_then(|d| d.get("total_paid_amount"))
        .and_then(centavos)
        .filter(|m| m.centavos() > 0)
        .unwrap_or(transaction_amount);
    let (status, all_returned) = status_of(payment);
    let refunded = if all_returned {
        amount
    } else {
        payment
            .get("transaction_amount_refunded")
            .and_then(centavos)
            .unwrap_or(Money::ZERO)
    };
    Ok(ProviderPayment {
        reference,
        charge: ChargeKey::Order(
            str_at(payment, &["external_reference"])
                .unwrap_or_default()
                .to_owned(),
        ),
        status,
        amount,
        refunded,
        authorization: str_at(payment, &["authorization_code"]).map(str::to_owned),
        card: card_summary(payment),
    })
}

/// A payment id as the spec types it (an integer): anything else names no payment.
fn numeric_id(reference: &str) -> Option<&str> {
    (!reference.is_empty()
        && reference.len() <= 19
        && reference.bytes().all(|b| b.is_ascii_digit()))
    .then_some(reference)
}

/// `n` installments that add up to `total` exactly, each `each` but for the centavos that do not
/// divide: added one each to the first installments, or taken one each from the last.
fn installments_adding_up(each: Money, total: Money, n: u32) -> Vec<Money> {
    let count = i64::from(n.max(1));
    let mut parts = vec![each.centavos(); count as usize];
    let mut diff = total.centavos() - each.centavos() * count;
    if diff.abs() > count {
        // Not a rounding difference: spread the total evenly instead.
        let (base, extra) = (total.centavos() / count, total.centavos() % count);
        return (0..count)
            .map(|k| Money::from_centavos(base + i64::from(k < extra)))
            .collect();
    }
    let mut k = 0usize;
    while diff > 0 {
        parts[k] += 1;
        diff -= 1;
        k += 1;
    }
    let mut k = parts.len();
    while diff < 0 {
        k -= 1;
        parts[k] -= 1;
        diff += 1;
    }
    parts.into_iter().map(Money::from_centavos).collect()
}

/// The monthly rate, in basis points, of a Price-table plan that pays `price` in `n`
/// installments of `each` (`total` in all): 0 when there is no interest (`total` is the price), else found by bisection and rounded to
/// the basis point. Mercado Pago reports only `installment_rate` (the interest over the whole
/// plan, in percent), so this is derived, for display; the amounts are Mercado Pago's.
fn monthly_rate_bp(price: Money, each: Money, total: Money, n: u32) -> u32 {
    let (p, a) = (price.centavos() as f64, each.centavos() as f64);
    let n = f64::from(n.max(1));
    if n <= 1.0 || total <= price || p <= 0.0 {
        return 0;
    }
    let payment = |i: f64| p * i / (1.0 - (1.0 + i).powf(-n));
    let (mut low, mut high) = (1e-9, 1.0);
    for _ in 0..100 {
        let mid = (low + high) / 2.0;
        if payment(mid) < a {
            low = mid;
        } else {
            high = mid;
        }
    }
    ((low + high) / 2.0 * 10_000.0).round() as u32
}

#[async_trait]
impl PaymentProvider for MercadoPago {
    fn name(&self) -> &'static str {
        "mercadopago"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[
            PaymentMethod::Card,
            PaymentMethod::Boleto,
            PaymentMethod::Pix,
        ]
    }

    fn browser(&self) -> Option<BrowserTokenisation> {
        let origin = |u: &str| {
            Url::parse(u)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default()
        };
        let mut origins = vec![origin(&self.settings.script_url)];
        let api = origin(&self.settings.api_url);
        if !origins.contains(&api) {
            origins.push(api);
        }
        Some(BrowserTokenisation {
            provider: "mercadopago".into(),
            script_url: self.settings.script_url.clone(),
            origins,
            public_key: self.settings.public_key.clone(),
        })
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        let body = self.payment_body(request)?;
        let path = "v1/payments";
        let answer = self
            .call(
                reqwest::Method::POST,
                path,
                &[],
                Some(&request.idempotency_key),
                Some(&body),
            )
            .await?;
        self.charge_from(request, &found(path, answer)?)
    }

    async fn refund(
        &self,
        reference: &str,
        amount: Money,
        refund_id: &str,
    ) -> Result<Refunded, PaymentError> {
        let id = numeric_id(reference).ok_or_else(|| {
            PaymentError::Invalid(format!("{reference:?} is not a Mercado Pago payment id"))
        })?;
        if amount.centavos() <= 0 {
            return Err(PaymentError::Invalid("nothing to refund".into()));
        }
        let path = format!("v1/payments/{id}/refunds");
        let answer = self
            .call(
                reqwest::Method::POST,
                &path,
                &[],
                Some(refund_id),
                Some(&json!({"amount": decimal(amount)})),
            )
            .await?;
        let refund = found(&path, answer)?;
        if str_at(&refund, &["status"]) == Some("rejected") {
            return Err(PaymentError::Invalid(format!(
                "Mercado Pago rejected the refund of payment {id}"
            )));
        }
        let reference = match refund.get("id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(PaymentError::Unavailable(anyhow::anyhow!(
                    "mercadopago: a refund of payment {id} without an id"
                )));
            }
        };
        Ok(Refunded { reference })
    }

    async fn cancel(&self, reference: &str) -> Result<(), PaymentError> {
        let id = numeric_id(reference).ok_or_else(|| {
            PaymentError::Invalid(format!("{reference:?} is not a Mercado Pago payment id"))
        })?;
        let path = format!("v1/payments/{id}");
        let payment = self.get(&path, &[]).await?;
        match str_at(&payment, &["status"]).unwrap_or_default() {
            "cancelled" | "expired" | "rejected" => return Ok(()),
            "pending" | "in_process" | "authorized" => {}
            other => {
                return Err(PaymentError::Invalid(format!(
                    "Mercado Pago payment {id} is {other}: refund it instead"
                )));
            }
        }
        let answer = self
            .call(
                reqwest::Method::PUT,
                &path,
                &[],
                None,
                Some(&json!({"status": "cancelled"})),
            )
            .await?;
        found(&path, answer).map(drop)
    }

    async fn webhook(&self, request: &WebhookRequest<'_>) -> Result<Vec<NoticeItem>, WebhookError> {
        let header = (request.header)("x-signature").ok_or(WebhookError::BadSignature)?;
        let (ts, v1) = parse_signature_header(&header).ok_or(WebhookError::BadSignature)?;
        let request_id = (request.header)("x-request-id");
        let data_id = (request.query)("data.id");
        let manifest = signature_manifest(data_id.as_deref(), request_id.as_deref(), &ts);
        let expected = sign_manifest(&self.settings.webhook_secret, &manifest);
        if !bool::from(
            expected
                .as_bytes()
                .ct_eq(v1.to_ascii_lowercase().as_bytes()),
        ) {
            return Err(WebhookError::BadSignature);
        }
        let ts = ts_millis(&ts).ok_or(WebhookError::BadSignature)?;
        if (request.now.millis() - ts).abs() > WEBHOOK_TOLERANCE_SECS * 1000 {
            return Err(WebhookError::Stale);
        }
        let notice: Notification = serde_json::from_slice(request.body)
            .map_err(|e| WebhookError::Malformed(format!("not a WebhookNotification: {e}")))?;
        let notice_id = match &notice.id {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.is_empty() => s.clone(),
            _ => return Err(WebhookError::Malformed("the notification has no id".into())),
        };
        if notice.kind != "payment" {
            return Ok(Vec::new());
        }
        let reference = data_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| WebhookError::Malformed("no data.id in the query string".into()))?;
        Ok(vec![NoticeItem {
            notice_id,
            reference,
            verified: None,
        }])
    }

    async fn lookup(&self, reference: &str) -> Result<Option<ProviderPayment>, PaymentError> {
        let Some(id) = numeric_id(reference) else {
            return Ok(None);
        };
        match self
            .call(
                reqwest::Method::GET,
                &format!("v1/payments/{id}"),
                &[],
                None,
                None,
            )
            .await?
        {
            Some(payment) => provider_payment(&payment).map(Some),
            None => Ok(None),
        }
    }

    async fn received(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError> {
        let mut found = Vec::new();
        let mut offset = 0usize;
        // [from, to): the search's range includes its end, so it ends a millisecond earlier.
        let end = Timestamp::from_millis(to.millis() - 1);
        loop {
            let query = [
                ("sort", "date_created".to_owned()),
                ("criteria", "asc".to_owned()),
                ("range", "date_created".to_owned()),
                ("begin_date", format_brt(from)),
                ("end_date", format_brt(end)),
                ("status", "approved".to_owned()),
                ("limit", SEARCH_PAGE.to_string()),
                ("offset", offset.to_string()),
            ];
            let page = self.get("v1/payments/search", &query).await?;
            let results = page
                .get("results")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for payment in &results {
                found.push(provider_payment(payment)?);
            }
            offset += results.len();
            let total = page
                .get("paging")
                .and_then(|p| p.get("total"))
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            if results.is_empty() || offset >= total {
                return Ok(found);
            }
        }
    }

    async fn installments(
        &self,
        total: Money,
        bin: &str,
    ) -> Result<Option<Vec<InstallmentPlan>>, PaymentError> {
        let bin: String = bin.chars().filter(char::is_ascii_digit).take(8).collect();
        if bin.len() < 6 {
            return Err(PaymentError::Invalid(
                "the card's first six digits are needed for its installments".into(),
            ));
        }
        let method = self.payment_method_of(&bin).await?;
        let query = [
            ("amount", decimal(total).to_string()),
            ("bin", bin.clone()),
            ("payment_method_id", method.clone()),
        ];
        let options = self.get("v1/payment_methods/installments", &query).await?;
        let options = options.as_array().cloned().unwrap_or_default();
        let option = options
            .iter()
            .find(|o| str_at(o, &["payment_method_id"]) == Some(method.as_str()))
            .or(options.first())
            .ok_or_else(|| {
                PaymentError::Invalid(format!("Mercado Pago offers no installments for {bin}"))
            })?;
        let mut plans = Vec::new();
        for cost in option
            .get("payer_costs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let count = cost.get("installments").and_then(Value::as_u64);
            let each = cost.get("installment_amount").and_then(centavos);
            let plan_total = cost.get("total_amount").and_then(centavos);
            let (Some(count), Some(each), Some(plan_total)) = (count, each, plan_total) else {
                return Err(PaymentError::Unavailable(anyhow::anyhow!(
                    "mercadopago: an installment option without installments or amounts"
                )));
            };
            let count = u32::try_from(count).unwrap_or(0);
            if count == 0 || count > 48 {
                continue;
            }
            plans.push(InstallmentPlan {
                count,
                monthly_rate_bp: monthly_rate_bp(total, each, plan_total, count),
                installments: installments_adding_up(each, plan_total, count),
                total: plan_total,
            });
        }
        plans.sort_by_key(|p| p.count);
        Ok(Some(plans))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_test_vector_verifies() {
        let manifest = signature_manifest(
            Some("123456"),
            Some("bb56a2f1-6aae-46ac-982e-9dcd3581d08e"),
            "1704908010",
        );
        assert_eq!(
            manifest,
            "id:123456;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1704908010;"
        );
        assert_eq!(
            sign_manifest("test-secret", &manifest),
            "aa03614f237c28380f08b45b5ad11eea289b7546c54c5c6a042611e605f16b3d"
        );
    }

    #[test]
    fn absent_values_are_left_out_of_the_manifest() {
        assert_eq!(
            signature_manifest(None, Some("r"), "1"),
            "request-id:r;ts:1;"
        );
        assert_eq!(signature_manifest(Some("AB12"), None, "1"), "id:ab12;ts:1;");
    }

    #[test]
    fn signature_header_parts() {
        assert_eq!(
            parse_signature_header(" ts=1704908010 , v1=abc=d"),
            Some(("1704908010".into(), "abc=d".into()))
        );
        assert_eq!(parse_signature_header("v1=abc"), None);
    }

    #[test]
    fn ts_in_seconds_or_milliseconds() {
        assert_eq!(ts_millis("1704908010"), Some(1_704_908_010_000));
        assert_eq!(ts_millis("1704908010123"), Some(1_704_908_010_123));
        assert_eq!(ts_millis("-5"), None);
    }

    #[test]
    fn idempotency_keys_are_uuids_and_stable() {
        let u = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e";
        assert_eq!(idempotency_uuid(u), u);
        let k = idempotency_uuid("01JD6X1Z9Q4W8E2R7T5Y3U6I0P");
        assert!(is_uuid(&k), "{k}");
        assert_eq!(k, idempotency_uuid("01JD6X1Z9Q4W8E2R7T5Y3U6I0P"));
        assert_ne!(k, idempotency_uuid("01JD6X1Z9Q4W8E2R7T5Y3U6I0Q"));
    }

    #[test]
    fn installments_add_up_to_the_total() {
        let parts =
            installments_adding_up(Money::from_centavos(3334), Money::from_centavos(10000), 3);
        assert_eq!(parts, [3334, 3333, 3333].map(Money::from_centavos));
        let parts =
            installments_adding_up(Money::from_centavos(3333), Money::from_centavos(10000), 3);
        assert_eq!(parts, [3334, 3333, 3333].map(Money::from_centavos));
        let parts = installments_adding_up(
            Money::from_centavos(11127),
            Money::from_centavos(111270),
            10,
        );
        assert!(parts.iter().all(|p| p.centavos() == 11127));
    }

    #[test]
    fn the_monthly_rate_is_found_back() {
        // R$ 1.000,00 in 10× at 1,99 % a.m. is 10 × 111,27 (docs/payments.md).
        assert_eq!(
            monthly_rate_bp(
                Money::from_centavos(100_000),
                Money::from_centavos(11_127),
                Money::from_centavos(111_270),
                10
            ),
            199
        );
        assert_eq!(
            monthly_rate_bp(
                Money::from_centavos(10_000),
                Money::from_centavos(3_334),
                Money::from_centavos(10_000),
                3
            ),
            0
        );
    }

    #[test]
    fn brands_by_bin() {
        assert_eq!(payment_method_for_bin("423564"), Some("visa"));
        assert_eq!(payment_method_for_bin("375365"), Some("amex"));
        assert_eq!(payment_method_for_bin("636368"), Some("elo"));
        assert_eq!(payment_method_for_bin("12"), None);
    }

    #[test]
    fn dates_in_brasilia_time() {
        let at = Timestamp::from_millis(1_735_700_399_000); // 2025-01-01T02:59:59Z
        assert_eq!(format_brt(at), "2024-12-31T23:59:59.000-03:00");
        assert_eq!(parse_timestamp(&format_brt(at)), Some(at));
    }
}
