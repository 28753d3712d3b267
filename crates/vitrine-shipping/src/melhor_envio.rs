//! Melhor Envio (`melhorenvio`): quotes, labels and tracking through Melhor Envio's API v2
//! (facts and sources in `NOTES.md`).
//!
//! Calls, all `POST` under `{base_url}/api/v2/me/`, each with `Authorization: Bearer <token>`,
//! `Accept: application/json`, a JSON body and `User-Agent: vitrine/<version> (<contact e-mail>)`
//! (Melhor Envio asks for the application and a technical contact):
//! - `quote`: `shipment/calculate` with the shop's CEP, the buyer's, one `package` (cm, kg) and the
//!   goods' value as `options.insurance_value`. One [`Quote`] per service that answers a price:
//!   `method_id` `me-{service id}`, name `{company} {service}`, the shop's own `custom_price` and
//!   `custom_delivery_time` when Melhor Envio gives them (markups and extra days configured in its
//!   panel), else `price` and `delivery_time`. Services answering an `error` do not serve the
//!   parcel on that route and are left out. Cheapest first.
//! - `buy_label`: `cart` (one label: sender, recipient, one volume, the NF-e key in
//!   `options.invoice.key`, or `options.non_commercial` with a content declaration when the order
//!   has no NF-e), `shipment/checkout` (paid from the shop's Melhor Envio wallet),
//!   `shipment/generate`, `shipment/print` (the URL to print), then `shipment/tracking` for the
//!   tracking code when already assigned (best effort: the label is bought either way).
//! - `track`: `shipment/tracking`, its `status` mapped to [`TrackingState`].
//!
//! A purchase is four calls and money moves at the second: a failure part-way leaves a label in
//! Melhor Envio's cart, or paid and not generated. The adapter remembers, per store order, the
//! steps that succeeded, and a retry for the same order resumes at the step that failed instead of
//! adding (and paying) another label. When a checkout's answer was lost and the retry is refused,
//! the label's status says whether the first one paid. One call at a time buys an order's label: a
//! second call while the first is under way is `Unavailable` rather than a second label. This
//! memory lives in the process: after a restart a retry starts over with a new label (the port has
//! no durable purchase key), and the unpaid one left in the cart is cancelled by Melhor Envio after
//! seven days.
//!
//! Prices are read from their decimal text (`"24.87"`, or a JSON number's shortest text) into
//! centavos exactly; an amount finer than a centavo is an answer the adapter does not understand.
//! Amounts and weights sent are JSON numbers with at most two (money) or three (kg) decimals: an
//! integer divided by 100 or 1000 is the double nearest the decimal, whose shortest text is that
//! decimal.
//!
//! Errors: no answer, a timeout, a 5xx, a 429 (250 requests a minute), an answer that is not what
//! the API documents, or a refused token (401/403: the token expires after 30 days and the shop
//! must renew it; the buyer's CEP is not at fault) are [`ShippingError::Unavailable`]; another 4xx
//! is [`ShippingError::Refused`] with Melhor Envio's `message` and each field's `errors`. The token
//! never appears in errors or logs.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use url::Url;
use vitrine_app::ports::shipping::{
    Label, LabelRequest, Parcel, QuoteRequest, Recipient, Shipping, ShippingError, Tracking,
    TrackingState,
};
use vitrine_domain::shipping::Quote;
use vitrine_domain::{Cep, Money};

/// Melhor Envio's production API.
pub const PRODUCTION_URL: &str = "https://melhorenvio.com.br";
/// Melhor Envio's sandbox (its own accounts, tokens and test balance; no label ever ships).
pub const SANDBOX_URL: &str = "https://sandbox.melhorenvio.com.br";
/// How long one call may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take at most (less when the whole call is given less).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const CALCULATE: &str = "api/v2/me/shipment/calculate";
const CART: &str = "api/v2/me/cart";
const CHECKOUT: &str = "api/v2/me/shipment/checkout";
const GENERATE: &str = "api/v2/me/shipment/generate";
const PRINT: &str = "api/v2/me/shipment/print";
const TRACKING: &str = "api/v2/me/shipment/tracking";

/// The prefix of every option this adapter quotes: `me-{service id}`.
const METHOD_PREFIX: &str = "me-";

/// How the shop reaches Melhor Envio.
#[derive(Clone)]
pub struct MelhorEnvioConfig {
    /// [`PRODUCTION_URL`], [`SANDBOX_URL`] or a test's fake.
    pub base_url: String,
    /// The access token (OAuth2, or made in Melhor Envio's panel for the shop's own account).
    pub token: String,
    /// Where parcels leave from.
    pub from_cep: Cep,
    /// A technical contact, sent in the `User-Agent` as Melhor Envio asks.
    pub contact_email: String,
    /// The most one call may take; past it the call is [`ShippingError::Unavailable`].
    pub timeout: Duration,
    /// Who sends the parcels, printed on labels: without it the adapter quotes but sells no label.
    pub sender: Option<Sender>,
}

impl std::fmt::Debug for MelhorEnvioConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelhorEnvioConfig")
            .field("base_url", &self.base_url)
            .field("from_cep", &self.from_cep)
            .field("contact_email", &self.contact_email)
            .field("timeout", &self.timeout)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

/// The shop as a label's sender (Melhor Envio's `from`); its CEP is [`MelhorEnvioConfig::from_cep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub name: String,
    /// CPF (a person) or CNPJ (a company), punctuation allowed.
    pub tax_id: String,
    /// The inscrição estadual, which commercial shipments (with an NF-e) need.
    pub state_register: Option<String>,
    pub email: String,
    pub phone: String,
    pub street: String,
    pub number: String,
    pub complement: Option<String>,
    pub district: String,
    pub city: String,
    /// Two letters (`SP`), checked by Melhor Envio against the CEP.
    pub uf: String,
}

/// The Melhor Envio adapter.
pub struct MelhorEnvio {
    config: MelhorEnvioConfig,
    api: Url,
    http: reqwest::Client,
    purchases: Purchases,
}

impl std::fmt::Debug for MelhorEnvio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelhorEnvio")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Purchases begun and not finished, by store order id, and the orders whose purchase is under way
/// right now (one at a time for an order: two at once would each add a label).
#[derive(Default)]
struct Purchases {
    book: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    begun: HashMap<String, Purchase>,
    under_way: HashSet<String>,
}

impl Purchases {
    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        // A panic while holding the book leaves it consistent (whole entries are swapped).
        self.book
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The order's purchase for the length of the guard; `None` while another call holds it.
    fn take(&self, order_id: &str) -> Option<InFlight<'_>> {
        self.lock()
            .under_way
            .insert(order_id.to_owned())
            .then(|| InFlight {
                purchases: self,
                order_id: order_id.to_owned(),
            })
    }
}

/// One order's purchase under way: its saved steps, released when dropped.
struct InFlight<'a> {
    purchases: &'a Purchases,
    order_id: String,
}

impl InFlight<'_> {
    fn saved(&self) -> Option<Purchase> {
        self.purchases.lock().begun.get(&self.order_id).cloned()
    }

    fn save(&self, purchase: &Purchase) {
        self.purchases
            .lock()
            .begun
            .insert(self.order_id.clone(), purchase.clone());
    }

    fn finish(&self) {
        self.purchases.lock().begun.remove(&self.order_id);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.purchases.lock().under_way.remove(&self.order_id);
    }
}

/// How far the purchase of one order's label went.
#[derive(Debug, Clone)]
struct Purchase {
    service: u64,
    label_id: String,
    price: Money,
    checkout_tried: bool,
    paid: bool,
    generated: bool,
}

impl MelhorEnvio {
    /// Checks the configuration without calling Melhor Envio.
    pub fn new(config: MelhorEnvioConfig) -> Result<Self, String> {
        let api = base_url(&config.base_url)?;
        let token = config.token.trim();
        if token.is_empty() {
            return Err("melhorenvio: the token is empty".into());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "melhorenvio: the token has spaces or characters a header cannot hold".into(),
            );
        }
        if !looks_like_email(&config.contact_email) {
            return Err(format!(
                "melhorenvio: contact_email {:?} is not an e-mail address (Melhor Envio asks for a technical contact)",
                config.contact_email
            ));
        }
        if config.timeout.is_zero() {
            return Err("melhorenvio: the timeout is zero".into());
        }
        let http = reqwest::Client::builder()
            .user_agent(user_agent(&config.contact_email))
            .connect_timeout(CONNECT_TIMEOUT.min(config.timeout))
            // An API call is never sent on somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("melhorenvio: cannot build the HTTPS client: {e}"))?;
        Ok(Self {
            config,
            api,
            http,
            purchases: Purchases::default(),
        })
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &MelhorEnvioConfig {
        &self.config
    }

    /// One call: the JSON answer of a 2xx, or the error its status and body mean.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, ShippingError> {
        let url = self
            .api
            .join(path)
            .map_err(|e| unavailable(path, format!("bad path: {e}")))?;
        let response = self
            .http
            .post(url)
            .timeout(self.config.timeout)
            .bearer_auth(self.config.token.trim())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body)
            .send()
            .await
            .map_err(|e| {
                // reqwest's errors name the URL, never the headers: the token stays out.
                tracing::warn!(path, error = %e, "melhorenvio: no answer");
                unavailable(path, format!("no answer: {e}"))
            })?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| unavailable(path, format!("the answer broke off: {e}")))?;
        outcome(path, status, &text)
    }

    fn sender(&self) -> Result<&Sender, ShippingError> {
        self.config.sender.as_ref().ok_or(ShippingError::Unsupported(
            "melhorenvio: labels need the shop's sender (name, CPF/CNPJ, address) in the settings",
        ))
    }

    /// Adds the label to Melhor Envio's cart: its id and price.
    async fn add_to_cart(
        &self,
        service: u64,
        request: &LabelRequest,
    ) -> Result<Purchase, ShippingError> {
        let body = cart_body(self.sender()?, &self.config.from_cep, service, request);
        let answer = self.post(CART, &body).await?;
        let label_id =
            id_of(&answer).ok_or_else(|| unavailable(CART, "an answer without an id"))?;
        let price = answer
            .get("price")
            .and_then(reais_of)
            .ok_or_else(|| unavailable(CART, format!("label {label_id} came without a price")))?;
        tracing::info!(
            order.id = %request.order_id,
            label.id = %label_id,
            service,
            "melhorenvio: label added to the cart"
        );
        Ok(Purchase {
            service,
            label_id,
            price,
            checkout_tried: false,
            paid: false,
            generated: false,
        })
    }

    /// Pays the label. A refusal of a `retry` (an earlier attempt's answer was lost) asks the
    /// label's status: paid and on its way (not `pending`, not cancelled), that attempt paid.
    async fn checkout(&self, id: &str, retry: bool) -> Result<(), ShippingError> {
        match self.post(CHECKOUT, &json!({"orders": [id]})).await {
            Ok(answer) => {
                let paid = answer
                    .get("purchase")
                    .and_then(|p| p.get("orders"))
                    .and_then(Value::as_array)
                    .is_some_and(|orders| orders.iter().any(|o| id_of(o).as_deref() == Some(id)));
                if !paid {
                    return Err(unavailable(
                        CHECKOUT,
                        format!("the purchase does not name label {id}"),
                    ));
                }
                Ok(())
            }
            Err(ShippingError::Refused(why)) if retry => {
                let (status, _) = self.lookup(id).await?;
                let unpaid = matches!(tracking_state(&status), None | Some(TrackingState::Failed))
                    || status == "pending";
                if unpaid {
                    Err(ShippingError::Refused(why))
                } else {
                    tracing::info!(label.id = %id, status, "melhorenvio: an earlier checkout had paid");
                    Ok(())
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn generate(&self, id: &str) -> Result<(), ShippingError> {
        let answer = self.post(GENERATE, &json!({"orders": [id]})).await?;
        match answer.get(id) {
            Some(entry) if entry.get("status") == Some(&Value::Bool(false)) => {
                Err(ShippingError::Refused(
                    entry
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("Melhor Envio did not generate the label")
                        .to_owned(),
                ))
            }
            _ => Ok(()),
        }
    }

    async fn print(&self, id: &str) -> Result<String, ShippingError> {
        let answer = self.post(PRINT, &json!({"orders": [id]})).await?;
        answer
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| unavailable(PRINT, format!("no URL to print label {id}")))
    }

    /// The label's status and tracking code (the carrier's, else Melhor Envio's own).
    async fn lookup(&self, id: &str) -> Result<(String, Option<String>), ShippingError> {
        let answer = self.post(TRACKING, &json!({"orders": [id]})).await?;
        let entry = answer
            .get(id)
            .ok_or_else(|| ShippingError::Refused(format!("Melhor Envio knows no label {id}")))?;
        let status = entry
            .get("status")
            .and_then(Value::as_str)
            .ok_or_else(|| unavailable(TRACKING, format!("label {id} came without a status")))?;
        let code = ["tracking", "melhorenvio_tracking"]
            .iter()
            .find_map(|k| entry.get(*k).and_then(Value::as_str))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok((status.to_owned(), code))
    }
}

#[async_trait]
impl Shipping for MelhorEnvio {
    fn name(&self) -> &'static str {
        "melhorenvio"
    }

    async fn quote(&self, request: &QuoteRequest) -> Result<Vec<Quote>, ShippingError> {
        check_parcel(&request.parcel)?;
        let body = json!({
            "from": {"postal_code": self.config.from_cep.as_str()},
            "to": {"postal_code": request.to.as_str()},
            "package": package(&request.parcel),
            "options": {
                "insurance_value": reais(request.subtotal),
                "receipt": false,
                "own_hand": false,
            },
        });
        let answer = self.post(CALCULATE, &body).await?;
        quotes_from(&answer).map_err(|why| unavailable(CALCULATE, why))
    }

    async fn buy_label(&self, request: &LabelRequest) -> Result<Label, ShippingError> {
        let service = service_id(&request.method_id).ok_or_else(|| {
            ShippingError::Refused(format!(
                "{:?} is not a Melhor Envio option (me-<service id>)",
                request.method_id
            ))
        })?;
        self.sender()?;
        check_parcel(&request.parcel)?;
        let order = request.order_id.as_str();
        let Some(flight) = self.purchases.take(order) else {
            return Err(unavailable(
                CART,
                format!("a label for order {order} is being bought already"),
            ));
        };
        let mut purchase = match flight.saved() {
            // A label already paid is resumed whatever was chosen since: it cannot be changed.
            Some(p) if p.paid || p.service == service => {
                tracing::info!(order.id = %order, label.id = %p.label_id, "melhorenvio: resuming a purchase");
                p
            }
            _ => {
                let p = self.add_to_cart(service, request).await?;
                flight.save(&p);
                p
            }
        };
        if !purchase.paid {
            let retry = purchase.checkout_tried;
            purchase.checkout_tried = true;
            flight.save(&purchase);
            self.checkout(&purchase.label_id, retry).await?;
            purchase.paid = true;
            flight.save(&purchase);
            tracing::info!(order.id = %order, label.id = %purchase.label_id, price = %purchase.price, "melhorenvio: label paid");
        }
        if !purchase.generated {
            self.generate(&purchase.label_id).await?;
            purchase.generated = true;
            flight.save(&purchase);
        }
        let print_url = self.print(&purchase.label_id).await?;
        flight.finish();
        drop(flight);
        let tracking_code = match self.lookup(&purchase.label_id).await {
            Ok((_, code)) => code,
            Err(e) => {
                // The label is bought: its code is read again by `track`.
                tracing::warn!(label.id = %purchase.label_id, error = %e, "melhorenvio: no tracking code yet");
                None
            }
        };
        Ok(Label {
            id: purchase.label_id,
            tracking_code,
            print_url: Some(print_url),
            price: purchase.price,
        })
    }

    async fn track(&self, label_id: &str) -> Result<Tracking, ShippingError> {
        let (status, tracking_code) = self.lookup(label_id).await?;
        let state = tracking_state(&status).ok_or_else(|| {
            unavailable(
                TRACKING,
                format!("label {label_id} has a status this adapter does not know: {status:?}"),
            )
        })?;
        Ok(Tracking {
            state,
            tracking_code,
        })
    }
}

/// `Melhor Envio`'s statuses as the port's states; `None` for one it does not know.
pub fn tracking_state(status: &str) -> Option<TrackingState> {
    match status.trim().to_ascii_lowercase().as_str() {
        "pending" | "released" | "paid" | "generated" => Some(TrackingState::Pending),
        "posted" => Some(TrackingState::Posted),
        "delivered" => Some(TrackingState::Delivered),
        "canceled" | "cancelled" | "undelivered" | "expired" | "suspended" => {
            Some(TrackingState::Failed)
        }
        _ => None,
    }
}

/// The service id in an option's `method_id` (`me-2` → 2).
pub fn service_id(method_id: &str) -> Option<u64> {
    let digits = method_id.strip_prefix(METHOD_PREFIX)?;
    (!digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// An amount in reais, as decimal text (`"24.87"`, `"24.8"`, `"24"`, `"24.870"`), in centavos:
/// `None` for anything else, a negative amount or a fraction of a centavo.
pub fn centavos_of(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) if !f.is_empty() => (w, f),
        Some(_) => return None,
        None => (text, ""),
    };
    if whole.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // Digits past the centavos must be zeros: a price is never rounded here.
    if fraction.bytes().skip(2).any(|b| b != b'0') {
        return None;
    }
    let mut cents = fraction.bytes().take(2).collect::<Vec<u8>>();
    cents.resize(2, b'0');
    whole.bytes().chain(cents).try_fold(0i64, |n, b| {
        n.checked_mul(10)?.checked_add(i64::from(b - b'0'))
    })
}

/// A price as Melhor Envio writes it (a decimal string, or a number read as its shortest text).
fn reais_of(value: &Value) -> Option<Money> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    centavos_of(&text).map(Money::from_centavos)
}

/// Money as the API takes it: a decimal number of reais with two decimals at most.
fn reais(amount: Money) -> Value {
    let centavos = amount.centavos().max(0);
    json!(centavos as f64 / 100.0)
}

/// One parcel as a `package` or a `volume`: centimetres, and kilograms to the gram.
fn package(parcel: &Parcel) -> Value {
    json!({
        "height": parcel.height_cm,
        "width": parcel.width_cm,
        "length": parcel.length_cm,
        "weight": parcel.weight_g as f64 / 1000.0,
    })
}

fn check_parcel(parcel: &Parcel) -> Result<(), ShippingError> {
    if parcel.weight_g == 0
        || parcel.height_cm == 0
        || parcel.width_cm == 0
        || parcel.length_cm == 0
    {
        return Err(ShippingError::Refused(
            "a parcel needs a weight and three dimensions".into(),
        ));
    }
    Ok(())
}

/// The options in a `shipment/calculate` answer, cheapest first.
fn quotes_from(answer: &Value) -> Result<Vec<Quote>, String> {
    let services: Vec<&Value> = match answer {
        Value::Array(all) => all.iter().collect(),
        // With one service asked for, the API may answer that one alone.
        Value::Object(one) if one.contains_key("id") => vec![answer],
        _ => return Err("the answer is not a list of services".into()),
    };
    let mut quotes = Vec::new();
    for service in services {
        let id = service
            .get("id")
            .and_then(number_of)
            .ok_or("a service without an id")?;
        if let Some(error) = service.get("error").filter(|e| !is_blank(e)) {
            tracing::debug!(service = id, %error, "melhorenvio: service unavailable for this parcel");
            continue;
        }
        let name = service
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("service {id} has no name"))?;
        let company = service
            .get("company")
            .and_then(|c| c.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("service {id} has no company"))?;
        let price = preferred(service, "custom_price", "price")
            .ok_or_else(|| format!("service {id} has no price"))?;
        let price = reais_of(price).ok_or_else(|| {
            format!("service {id}'s price {price} is not an amount in reais and centavos")
        })?;
        let days = preferred(service, "custom_delivery_time", "delivery_time")
            .ok_or_else(|| format!("service {id} has no delivery time"))?;
        let days = number_of(days)
            .and_then(|d| u32::try_from(d).ok())
            .ok_or_else(|| {
                format!("service {id}'s delivery time {days} is not a number of days")
            })?;
        quotes.push(Quote {
            method_id: format!("{METHOD_PREFIX}{id}"),
            name: format!("{} {}", company.trim(), name.trim()),
            price,
            days,
        });
    }
    quotes.sort_by(|a, b| (a.price, a.days, &a.method_id).cmp(&(b.price, b.days, &b.method_id)));
    Ok(quotes)
}

/// `custom` when the service has it, else `plain`.
fn preferred<'a>(service: &'a Value, custom: &str, plain: &str) -> Option<&'a Value> {
    service
        .get(custom)
        .filter(|v| !is_blank(v))
        .or_else(|| service.get(plain).filter(|v| !is_blank(v)))
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A whole number written as a JSON number or as digits.
fn number_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An object's `id`, a string (labels are UUIDs) or a number.
fn id_of(value: &Value) -> Option<String> {
    match value.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The body of `POST /cart` for one label.
fn cart_body(sender: &Sender, from_cep: &Cep, service: u64, request: &LabelRequest) -> Value {
    let mut from = json!({
        "name": sender.name,
        "address": sender.street,
        "number": sender.number,
        "district": sender.district,
        "city": sender.city,
        "state_abbr": sender.uf.trim().to_ascii_uppercase(),
        "country_id": "BR",
        "postal_code": from_cep.as_str(),
    });
    put_tax_id(&mut from, &sender.tax_id);
    put_contact(&mut from, Some(&sender.phone), &sender.email);
    if let Some(ie) = sender
        .state_register
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        from["state_register"] = json!(ie.trim());
    }
    if let Some(c) = sender
        .complement
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        from["complement"] = json!(c);
    }
    let mut options = json!({
        "insurance_value": reais(request.declared),
        "receipt": false,
        "own_hand": false,
        "reverse": false,
        "non_commercial": request.invoice_key.is_none(),
        "platform": "vitrine",
        "tags": [{"tag": request.order_id, "url": null}],
    });
    if let Some(key) = &request.invoice_key {
        options["invoice"] = json!({"key": digits(key)});
    }
    json!({
        "service": service,
        "from": from,
        "to": recipient(&request.recipient),
        // The content declaration of a non-commercial shipment; it does not change the price.
        "products": [{
            "name": format!("Pedido {}", request.order_id),
            "quantity": 1,
            "unitary_value": reais(request.declared),
        }],
        "volumes": [package(&request.parcel)],
        "options": options,
    })
}

fn recipient(r: &Recipient) -> Value {
    let mut to = json!({
        "name": r.name,
        "address": r.street,
        "number": r.number,
        "district": r.district,
        "city": r.city,
        "state_abbr": r.uf.trim().to_ascii_uppercase(),
        "country_id": "BR",
        "postal_code": r.cep.as_str(),
    });
    put_tax_id(&mut to, &r.tax_id);
    put_contact(&mut to, r.phone.as_deref(), &r.email);
    if let Some(c) = r.complement.as_deref().filter(|s| !s.trim().is_empty()) {
        to["complement"] = json!(c);
    }
    to
}

/// A CPF as `document`, a CNPJ (digits or the new alphanumeric form) as `company_document`.
fn put_tax_id(party: &mut Value, tax_id: &str) {
    let id: String = tax_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let field = if id.len() == 11 {
        "document"
    } else {
        "company_document"
    };
    party[field] = json!(id);
}

/// The phone (digits) and e-mail, each left out when empty rather than sent blank.
fn put_contact(party: &mut Value, phone: Option<&str>, email: &str) {
    if let Some(phone) = phone.map(digits).filter(|p| !p.is_empty()) {
        party["phone"] = json!(phone);
    }
    if !email.trim().is_empty() {
        party["email"] = json!(email.trim());
    }
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn user_agent(contact_email: &str) -> String {
    format!(
        "vitrine/{} ({})",
        env!("CARGO_PKG_VERSION"),
        contact_email.trim()
    )
}

fn looks_like_email(text: &str) -> bool {
    let text = text.trim();
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '(' | ')'))
}

fn base_url(value: &str) -> Result<Url, String> {
    let mut url =
        Url::parse(value.trim()).map_err(|e| format!("melhorenvio: base_url is not a URL: {e}"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err("melhorenvio: base_url must be an http(s) URL".into());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn unavailable(path: &str, why: impl std::fmt::Display) -> ShippingError {
    ShippingError::Unavailable(anyhow::anyhow!("melhorenvio {path}: {why}"))
}

/// What an answer means: its JSON for a 2xx, else the error (see the module docs).
fn outcome(path: &str, status: u16, text: &str) -> Result<Value, ShippingError> {
    if (200..300).contains(&status) {
        return serde_json::from_str(text)
            .map_err(|e| unavailable(path, format!("the answer is not JSON: {e}")));
    }
    let message = error_message(status, text);
    match status {
        401 | 403 => {
            tracing::error!(path, status, message, "melhorenvio: the token was refused");
            Err(unavailable(
                path,
                format!("the token was refused ({status} {message}): renew it in the settings"),
            ))
        }
        429 | 500..=599 => {
            tracing::warn!(path, status, message, "melhorenvio: unavailable");
            Err(unavailable(path, format!("{status} {message}")))
        }
        400..=499 => {
            tracing::info!(path, status, message, "melhorenvio: refused");
            Err(ShippingError::Refused(message))
        }
        _ => Err(unavailable(path, format!("unexpected status {status}"))),
    }
}

/// Melhor Envio's `message`, followed by each field's `errors` (`field: message`), or the start of
/// a body that is not its error shape.
fn error_message(status: u16, text: &str) -> String {
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        let start: String = text.trim().chars().take(200).collect();
        return if start.is_empty() {
            format!("HTTP {status}")
        } else {
            start
        };
    };
    let mut details = Vec::new();
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        for (field, messages) in errors {
            let messages: Vec<&str> = match messages {
                Value::Array(all) => all.iter().filter_map(Value::as_str).collect(),
                Value::String(one) => vec![one.as_str()],
                _ => Vec::new(),
            };
            for m in messages {
                details.push(format!("{field}: {m}"));
            }
        }
    }
    let message = body
        .get("message")
        .or_else(|| body.get("error"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|m| !m.is_empty());
    match (message, details.is_empty()) {
        (Some(m), true) => m.to_owned(),
        (Some(m), false) => format!("{m} ({})", details.join("; ")),
        (None, false) => details.join("; "),
        (None, true) => format!("HTTP {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_is_read_to_the_centavo() {
        assert_eq!(centavos_of("24.87"), Some(2487));
        assert_eq!(centavos_of("24.8"), Some(2480));
        assert_eq!(centavos_of("24"), Some(2400));
        assert_eq!(centavos_of("0.05"), Some(5));
        assert_eq!(centavos_of("24.870"), Some(2487));
        assert_eq!(centavos_of(" 1234.50 "), Some(123_450));
        assert_eq!(centavos_of("0.10"), Some(10));
    }

    #[test]
    fn anything_but_reais_and_centavos_is_refused() {
        for bad in [
            "",
            "-1.00",
            "24,87",
            "24.875",
            "1e3",
            ".5",
            "5.",
            "R$ 5",
            "1.2.3",
            "abc",
            "+1",
            "99999999999999999999",
        ] {
            assert_eq!(centavos_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prices_as_strings_or_numbers() {
        assert_eq!(reais_of(&json!("24.87")), Some(Money::from_centavos(2487)));
        assert_eq!(reais_of(&json!(24.87)), Some(Money::from_centavos(2487)));
        assert_eq!(reais_of(&json!(0.1)), Some(Money::from_centavos(10)));
        assert_eq!(
            reais_of(&json!(1_234.3)),
            Some(Money::from_centavos(123_430))
        );
        assert_eq!(reais_of(&json!(15)), Some(Money::from_centavos(1500)));
        assert_eq!(reais_of(&json!(24.875)), None);
        assert_eq!(reais_of(&json!(null)), None);
    }

    #[test]
    fn amounts_and_weights_are_sent_as_their_decimals() {
        assert_eq!(reais(Money::from_centavos(2487)).to_string(), "24.87");
        assert_eq!(reais(Money::from_centavos(10)).to_string(), "0.1");
        assert_eq!(reais(Money::from_centavos(15_000)).to_string(), "150.0");
        for c in 0..100_000 {
            let text = reais(Money::from_centavos(c)).to_string();
            assert_eq!(centavos_of(&text), Some(c), "{c} → {text}");
        }
        let parcel = Parcel {
            weight_g: 300,
            length_cm: 20,
            width_cm: 15,
            height_cm: 5,
        };
        assert_eq!(package(&parcel)["weight"].to_string(), "0.3");
    }

    #[test]
    fn statuses_map_to_tracking_states() {
        for (status, state) in [
            ("pending", TrackingState::Pending),
            ("released", TrackingState::Pending),
            ("paid", TrackingState::Pending),
            ("generated", TrackingState::Pending),
            ("posted", TrackingState::Posted),
            ("delivered", TrackingState::Delivered),
            ("Delivered", TrackingState::Delivered),
            ("canceled", TrackingState::Failed),
            ("cancelled", TrackingState::Failed),
            ("undelivered", TrackingState::Failed),
            ("expired", TrackingState::Failed),
            ("suspended", TrackingState::Failed),
        ] {
            assert_eq!(tracking_state(status), Some(state), "{status}");
        }
        assert_eq!(tracking_state("teleported"), None);
        assert_eq!(tracking_state(""), None);
    }

    #[test]
    fn method_ids_name_a_service() {
        assert_eq!(service_id("me-2"), Some(2));
        assert_eq!(service_id("me-17"), Some(17));
        assert_eq!(service_id("me-"), None);
        assert_eq!(service_id("pac"), None);
        assert_eq!(service_id("me-2a"), None);
        assert_eq!(service_id("me--2"), None);
    }

    #[test]
    fn quotes_prefer_the_shops_custom_values_skip_errors_and_sort() {
        let answer = json!([
            {"id": 2, "name": "SEDEX", "price": "40.10", "custom_price": "45.00",
             "delivery_time": 2, "custom_delivery_time": 4, "company": {"id": 1, "name": "Correios"}},
            {"id": 1, "name": "PAC", "price": "20.50", "delivery_time": 7,
             "company": {"id": 1, "name": "Correios"}},
            {"id": 17, "name": "Mini Envios", "error": "Peso acima do limite.",
             "company": {"id": 1, "name": "Correios"}},
            {"id": 3, "name": ".Package", "price": 20.5, "custom_price": null, "delivery_time": "5",
             "company": {"id": 2, "name": "Jadlog"}},
        ]);
        let quotes = quotes_from(&answer).expect("quotes");
        let got: Vec<(&str, &str, i64, u32)> = quotes
            .iter()
            .map(|q| {
                (
                    q.method_id.as_str(),
                    q.name.as_str(),
                    q.price.centavos(),
                    q.days,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("me-3", "Jadlog .Package", 2050, 5),
                ("me-1", "Correios PAC", 2050, 7),
                ("me-2", "Correios SEDEX", 4500, 4),
            ]
        );
    }

    #[test]
    fn a_price_the_adapter_cannot_read_is_an_error_not_a_guess() {
        let answer = json!([{"id": 1, "name": "PAC", "price": "20,50", "delivery_time": 7,
            "company": {"name": "Correios"}}]);
        assert!(quotes_from(&answer).is_err());
        assert!(quotes_from(&json!({"message": "?"})).is_err());
    }

    #[test]
    fn error_messages_carry_each_field() {
        let text = r#"{"message":"The given data was invalid.","errors":{"to.postal_code":["O campo to.postal code é obrigatório."]}}"#;
        assert_eq!(
            error_message(422, text),
            "The given data was invalid. (to.postal_code: O campo to.postal code é obrigatório.)"
        );
        assert_eq!(
            error_message(401, r#"{"message":"Unauthenticated."}"#),
            "Unauthenticated."
        );
        assert_eq!(error_message(502, ""), "HTTP 502");
        assert_eq!(error_message(400, "<html>bad</html>"), "<html>bad</html>");
    }

    #[test]
    fn statuses_are_refused_or_unavailable() {
        let refused = |s| matches!(outcome("p", s, "{}"), Err(ShippingError::Refused(_)));
        let unavailable = |s| matches!(outcome("p", s, "{}"), Err(ShippingError::Unavailable(_)));
        assert!(refused(400) && refused(404) && refused(422));
        assert!(unavailable(401) && unavailable(403) && unavailable(429));
        assert!(unavailable(500) && unavailable(502) && unavailable(302));
        assert!(outcome("p", 200, "[]").is_ok());
        assert!(matches!(
            outcome("p", 200, "<html>"),
            Err(ShippingError::Unavailable(_))
        ));
    }

    #[test]
    fn tax_ids_go_where_melhor_envio_reads_them() {
        let mut party = json!({});
        put_tax_id(&mut party, "123.456.789-09");
        assert_eq!(party, json!({"document": "12345678909"}));
        let mut party = json!({});
        put_tax_id(&mut party, "12.abc.345/01de-35");
        assert_eq!(party, json!({"company_document": "12ABC34501DE35"}));
    }

    #[test]
    fn the_configuration_is_checked() {
        let config = MelhorEnvioConfig {
            base_url: SANDBOX_URL.into(),
            token: "t0ken".into(),
            from_cep: Cep::parse("01310-100").expect("a CEP"),
            contact_email: "dev@loja.example".into(),
            timeout: DEFAULT_TIMEOUT,
            sender: None,
        };
        assert!(MelhorEnvio::new(config.clone()).is_ok());
        let bad = |f: &dyn Fn(&mut MelhorEnvioConfig)| {
            let mut c = config.clone();
            f(&mut c);
            MelhorEnvio::new(c).is_err()
        };
        assert!(bad(&|c| c.token = " ".into()));
        assert!(bad(&|c| c.token = "a b".into()));
        assert!(bad(&|c| c.contact_email = "nobody".into()));
        assert!(bad(&|c| c.contact_email = "a (b)@c.d".into()));
        assert!(bad(&|c| c.base_url = "ftp://x".into()));
        assert!(bad(&|c| c.timeout = Duration::ZERO));
        assert!(!format!("{config:?}").contains("t0ken"));
        assert_eq!(
            user_agent("dev@loja.example"),
            format!("vitrine/{} (dev@loja.example)", env!("CARGO_PKG_VERSION"))
        );
    }
}
