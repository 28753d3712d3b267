//! The Payments port: a payment service provider (PSP) that charges, refunds, and tells the store
//! by webhook that money arrived.
//!
//! Adapters: `payments::sandbox::{PixSandbox, CardSandbox}` (the default: Pix charges made from
//! the store's own key as BR Codes, confirmed by signed webhooks; test cards with fixed
//! outcomes). A real PSP's adapter (Pix cob + card acquiring) implements this same trait; see
//! `docs/payments.md` for what it must do.
//!
//! Invariants:
//! - **Idempotent by key**: `charge` with the same [`ChargeRequest::idempotency_key`] and
//!   `refund` with the same `refund_id` do the thing once; a repeated call answers what the first
//!   did. The use cases retry on [`PaymentError::Unavailable`] with the same key.
//! - **No card data kept**: a [`ChargeRequest`] carries the card number for the call only; what
//!   comes back ([`Charge`]) holds the brand and last four digits at most.
//! - **Webhooks are authenticated by the provider**: [`PaymentProvider::verify_webhook`] checks
//!   the signature and freshness and returns what the notice says; the store then decides
//!   (unknown txid, replayed id, amount mismatch).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use vitrine_domain::Money;
use vitrine_domain::Timestamp;
use vitrine_domain::card::{CardBrand, CardNumber, InstallmentPlan};
use vitrine_domain::order::PaymentMethod;

/// What to charge.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub order_id: String,
    /// The provider does this charge once per key.
    pub idempotency_key: String,
    pub amount: Money,
    pub method: ChargeMethod,
}

#[derive(Debug, Clone)]
pub enum ChargeMethod {
    /// A Pix charge to be paid before `expires_at`.
    Pix { expires_at: Timestamp },
    Card {
        number: CardNumber,
        holder: String,
        plan: InstallmentPlan,
    },
}

/// The brand and last digits of the card a charge used: all the store keeps of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    pub brand: CardBrand,
    pub last4: String,
}

/// The provider's answer to a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Charge {
    /// A Pix charge waiting for the payer: show `br_code` (also as a QR code).
    PixPending {
        txid: String,
        br_code: String,
        /// The provider's own id of the charge (for a Pix charge made by the store itself, the
        /// txid).
        reference: String,
    },
    /// Money taken: `reference` identifies the capture for refunds, `authorization` is the
    /// issuer's code (NF-e `cAut`).
    Approved {
        reference: String,
        authorization: String,
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

/// What a verified webhook says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookNotice {
    /// The provider's id of this notice: a replay carries the same one.
    pub notice_id: String,
    pub kind: NoticeKind,
    /// The charge it is about: a Pix txid.
    pub txid: String,
    pub amount: Money,
    /// The provider's id of the payment (a Pix end-to-end id).
    pub reference: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// Money arrived for the charge.
    Paid,
}

/// The request parts a webhook signature covers.
#[derive(Clone, Copy)]
pub struct WebhookRequest<'a> {
    /// Header lookup, by lowercase name.
    pub header: &'a (dyn Fn(&str) -> Option<String> + Sync),
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

/// A payment service provider. See the module docs for the invariants.
#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// The provider's name: the `{provider}` of its webhook URL.
    fn name(&self) -> &'static str;
    /// The methods it takes.
    fn methods(&self) -> &'static [PaymentMethod];
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError>;
    /// Return `amount` of the payment `reference`, once per `refund_id`.
    async fn refund(
        &self,
        reference: &str,
        amount: Money,
        refund_id: &str,
    ) -> Result<Refunded, PaymentError>;
    /// Authenticate a webhook and read it.
    fn verify_webhook(&self, request: &WebhookRequest<'_>) -> Result<WebhookNotice, WebhookError>;
}
