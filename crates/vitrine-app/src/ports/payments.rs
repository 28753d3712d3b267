//! The Payments port: a payment service provider (PSP) that charges, refunds, cancels pending
//! charges, tells the store by webhook that something happened, and answers when asked what
//! became of a payment.
//!
//! Adapters: `payments::sandbox::{PixSandbox, CardSandbox}` (demo only, chosen explicitly: Pix
//! charges made from the store's own key as BR Codes, confirmed by signed webhooks; test cards with
//! fixed outcomes); `vitrine_payments::bcb::BcbPix` (Pix through the shop's bank on the Banco
//! Central's standard API); `vitrine_payments::mercadopago::MercadoPago` (cards, boleto and Pix
//! through Mercado Pago). See `docs/payments.md`.
//!
//! Invariants:
//! - **Idempotent by key**: `charge` with the same [`ChargeRequest::idempotency_key`] and
//!   `refund` with the same `refund_id` do the thing once; a repeated call answers what the first
//!   did. The use cases retry on [`PaymentError::Unavailable`] with the same key.
//! - **No card data kept**: a [`ChargeRequest`] carries a provider's one-time card token (or, for
//!   the sandbox only, the test number) for the call only; what comes back holds the brand and last
//!   four digits at most.
//! - **A webhook is a hint, not a fact**: [`PaymentProvider::webhook`] authenticates what it can
//!   and says which payments to look at; unless the provider vouches for an item itself
//!   ([`NoticeItem::verified`], the sandbox's own signed notices), the store reads each one back with
//!   [`PaymentProvider::lookup`] and settles on what the provider answers (status, amount, charge).
//! - **A real provider never falls back to the sandbox**: [`PaymentProvider::is_sandbox`] is true
//!   only for the sandbox adapters; the composition roots refuse to mix them with a real provider
//!   for the same method.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vitrine_domain::Money;
use vitrine_domain::Timestamp;
use vitrine_domain::card::{CardBrand, CardNumber, InstallmentPlan};
use vitrine_domain::order::PaymentMethod;

/// Who pays: what Pix charges (`devedor`) and boletos (`payer`) must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    pub name: String,
    pub email: String,
    /// CPF (11 digits) or CNPJ (14 characters), without punctuation.
    pub document: String,
}

/// What to charge.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub order_id: String,
    /// The provider does this charge once per key.
    pub idempotency_key: String,
    pub amount: Money,
    pub payer: Payer,
    /// Shown to the payer by their bank or on the boleto ("Pedido 01J…").
    pub description: String,
    pub method: ChargeMethod,
}

#[derive(Debug, Clone)]
pub enum ChargeMethod {
    /// A Pix charge to be paid before `expires_at`.
    Pix { expires_at: Timestamp },
    /// `amount` is what the buyer pays in all (`plan.total`); `price` the order's total before
    /// any installment interest.
    Card {
        card: CardInput,
        price: Money,
        plan: InstallmentPlan,
    },
    /// A boleto due at `expires_at`.
    Boleto { expires_at: Timestamp },
}

/// The card, as the buyer's browser handed it over.
#[derive(Debug, Clone)]
pub enum CardInput {
    /// The number itself: the sandbox's form only (test numbers). Real providers refuse it.
    Number { number: CardNumber, holder: String },
    /// A one-time token made by the provider's own script in the buyer's browser: the number
    /// never reaches the store.
    Token {
        token: String,
        /// The provider's id of the card's brand (`visa`, `master`, …).
        payment_method_id: String,
        issuer_id: Option<String>,
        /// The card's first 6 to 8 digits (the provider's script reports them): its installment
        /// table depends on them.
        bin: String,
    },
}

/// The brand and last digits of the card a charge used: all the store keeps of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    pub brand: CardBrand,
    pub last4: String,
}

/// A boleto as the buyer pays it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boleto {
    /// The "linha digitável" typed into a bank app.
    pub digitable_line: String,
    /// The 44-digit barcode number.
    pub barcode: String,
    /// The provider's printable boleto.
    pub pdf_url: String,
    pub expires_at: Timestamp,
}

/// The provider's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    /// A Pix charge waiting for the payer: show `br_code` (also as a QR code).
    PixPending {
        txid: String,
        br_code: String,
        /// The provider's own id of the charge (the txid when the store chose it).
        reference: String,
    },
    /// A boleto waiting to be paid.
    BoletoPending { reference: String, boleto: Boleto },
    /// Money taken: `reference` identifies the capture for refunds, `authorization` is the
    /// issuer's code (NF-e `cAut`).
    Approved {
        reference: String,
        authorization: String,
        card: Option<CardSummary>,
    },
    /// The provider took the charge but has not decided: a 3-D Secure challenge the buyer must
    /// complete at `challenge_url`, or a review. The outcome comes by webhook (and is read back).
    InProcess {
        reference: String,
        challenge_url: Option<String>,
        card: Option<CardSummary>,
    },
    /// The issuer said no; `reason` is fit to show the buyer.
    Declined {
        reason: DeclineReason,
        card: Option<CardSummary>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    Declined,
    InsufficientFunds,
}

impl DeclineReason {
    pub fn message(self) -> &'static str {
        match self {
            DeclineReason::Declined => "the card issuer declined the payment; try another card",
            DeclineReason::InsufficientFunds => {
                "the card has no limit for this amount; try another card or fewer installments"
            }
        }
    }
}

/// A refund's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refunded {
    /// The provider's id of the refund (a Pix "devolução" id, an acquirer's reversal id).
    pub reference: String,
}

/// The charge a payment belongs to: how the store finds its order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeKey {
    /// A Pix txid (the store's `PIXTXID#` pointer finds the order).
    Txid(String),
    /// The order id, sent to the provider as its external reference.
    Order(String),
}

/// Where a payment stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderStatus {
    /// Money captured (`amount`, minus `refunded` already given back).
    Paid,
    /// Waiting: for the payer (boleto, Pix), for 3-D Secure, or for the provider's review.
    Pending,
    /// Refused by the issuer.
    Declined(DeclineReason),
    /// Cancelled or expired before any money moved.
    Cancelled,
}

/// A payment as the provider reports it when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPayment {
    /// The provider's id of the payment (a Pix end-to-end id, a card payment id): what refunds
    /// name.
    pub reference: String,
    pub charge: ChargeKey,
    pub status: ProviderStatus,
    /// The amount captured (or, while pending, to be captured).
    pub amount: Money,
    /// What has been given back of it so far.
    pub refunded: Money,
    pub authorization: Option<String>,
    pub card: Option<CardSummary>,
}

/// One thing a webhook says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeItem {
    /// The provider's id of this notice (a replay carries the same one).
    pub notice_id: String,
    /// The payment to look at: [`PaymentProvider::lookup`] reads it.
    pub reference: String,
    /// Set only by a provider whose notice is itself the proof (the sandbox signs its own);
    /// otherwise the store reads the payment back.
    pub verified: Option<ProviderPayment>,
}

/// The request parts a webhook carries.
#[derive(Clone, Copy)]
pub struct WebhookRequest<'a> {
    /// Header lookup, by lowercase name.
    pub header: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Query-string lookup (Mercado Pago names the payment in `data.id`).
    pub query: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// The path after `/payments/webhooks/{provider}` (the BCB API appends `/pix`), maybe empty.
    pub subpath: &'a str,
    pub body: &'a [u8],
    pub now: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature: not from the provider.
    #[error("the webhook signature is missing or wrong")]
    BadSignature,
    /// Signed, but too old or from the future: a possible replay.
    #[error("the webhook timestamp is outside the accepted window")]
    Stale,
    /// Signed, but not a notice this store understands.
    #[error("the webhook body is not a valid notice: {0}")]
    Malformed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The request can never succeed (e.g. an amount the provider refuses).
    #[error("payment refused: {0}")]
    Invalid(String),
    /// The provider did not answer; retry with the same idempotency key.
    #[error("payment provider unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// What the storefront loads to tokenise cards with a provider's own script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrowserTokenisation {
    /// The provider's name (`mercadopago`).
    pub provider: String,
    /// The script, from the provider's origin.
    pub script_url: String,
    /// The origins the Content-Security-Policy must allow (script, frames, connections).
    pub origins: Vec<String>,
    /// The provider's public key for the script.
    pub public_key: String,
}

/// A payment service provider. See the module docs for the invariants.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// The provider's name: the `{provider}` of its webhook URL, recorded on every payment.
    fn name(&self) -> &'static str;
    /// The methods it takes.
    fn methods(&self) -> &'static [PaymentMethod];
    /// True only for the demo providers: no money moves.
    fn is_sandbox(&self) -> bool {
        false
    }
    /// How the storefront tokenises cards for this provider, if it takes cards that way.
    fn browser(&self) -> Option<BrowserTokenisation> {
        None
    }
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError>;
    /// Return `amount` of the payment `reference`, once per `refund_id`.
    async fn refund(
        &self,
        reference: &str,
        amount: Money,
        refund_id: &str,
    ) -> Result<Refunded, PaymentError>;
    /// Withdraw a charge nobody paid (the order expired or was cancelled): a Pix charge removed,
    /// a boleto cancelled. `reference` is what [`Charge`] returned. Done already is fine.
    async fn cancel(&self, reference: &str) -> Result<(), PaymentError>;
    /// Authenticate a webhook as far as the provider's scheme allows and say what to look at.
    async fn webhook(&self, request: &WebhookRequest<'_>) -> Result<Vec<NoticeItem>, WebhookError>;
    /// Read a payment back from the provider; `None`: it knows no such payment.
    async fn lookup(&self, reference: &str) -> Result<Option<ProviderPayment>, PaymentError>;
    /// The payments received in `[from, to)`, for reconciliation (a webhook that never came).
    async fn received(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError>;
    /// Tell the provider where to send its notices, where that is done through its API (the
    /// bank's `PUT /webhook/{chave}`); idempotent. Providers configured in their own panel
    /// (Mercado Pago) and the sandboxes have nothing to do.
    async fn register_webhooks(&self) -> Result<(), PaymentError> {
        Ok(())
    }
    /// The provider's installment plans for a card (by its first six to eight digits) and a
    /// price; `None` when the store's own table applies.
    async fn installments(
        &self,
        _total: Money,
        _bin: &str,
    ) -> Result<Option<Vec<InstallmentPlan>>, PaymentError> {
        Ok(None)
    }
}
