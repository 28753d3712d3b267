//! Payments: an order's payment record (beside its order), the Pix txid that points back to the
//! order, and the webhook notices kept to refuse replays. The rules that move a payment are in
//! `crate::payments`; this is how they are stored.
//!
//! | item | pk | sk | |
//! |---|---|---|---|
//! | payment | `ORDER#{id}` | `PAYMENT` | beside its order; `version` beside `data` |
//! | Pix txid | `PIXTXID#{txid}` | `PIXTXID` | `order_id`: the order a txid belongs to |
//! | webhook notice | `NOTICE#{provider}#{id}` | `NOTICE` | `ttl`: replays refused while it lives |

use serde::{Deserialize, Serialize};
use vitrine_domain::card::InstallmentPlan;
use vitrine_domain::order::PaymentMethod;
use vitrine_domain::{Money, Timestamp};

use super::{Batch, Part, VERSION, data_item, notice, payment, pix_txid};
use crate::error::AppResult;
use crate::ports::payments::{Boleto, CardSummary};
use crate::ports::table::TTL;
use crate::ports::{Item, Table};

/// The order a Pix txid item points to.
const ORDER_ID: &str = "order_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Waiting: for the payer (a Pix charge or a boleto shown), for 3-D Secure, or for the
    /// provider's review.
    Pending,
    /// The last attempt was declined; another may be made.
    Failed,
    Confirmed,
    /// The order was cancelled after payment: the money was returned.
    Refunded,
    /// The charge was withdrawn at the provider (its order expired or was cancelled unpaid).
    Withdrawn,
}

/// Why money was not accepted for its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LateReason {
    OrderExpired,
    OrderCancelled,
    AlreadyPaid,
    AmountMismatch,
}

impl LateReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LateReason::OrderExpired => "order_expired",
            LateReason::OrderCancelled => "order_cancelled",
            LateReason::AlreadyPaid => "already_paid",
            LateReason::AmountMismatch => "amount_mismatch",
        }
    }
}

/// Money that arrived but was not accepted; refunded by `crate::payments::Refunds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatePayment {
    pub reference: String,
    pub amount: Money,
    pub at: Timestamp,
    pub reason: LateReason,
    /// The provider's refund id, once refunded.
    pub refund: Option<String>,
}

/// Part of a confirmed payment given back at the shop's request (a damaged item, a discount
/// after the fact): recorded when asked, made by the `payments` consumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialRefund {
    /// The request's id: the provider's idempotency key for it.
    pub id: String,
    pub amount: Money,
    pub reason: String,
    pub requested_at: Timestamp,
    /// The provider's id of the refund, once made.
    pub reference: Option<String>,
}

/// A refund of a confirmed payment (its order was cancelled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRecord {
    pub reference: String,
    pub amount: Money,
    pub at: Timestamp,
}

/// An order's payment: what was charged, how, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub order_id: String,
    pub provider: String,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    /// What the payer pays: the order total, or the installment plan's total.
    pub amount: Money,
    pub txid: Option<String>,
    /// Pix "copia e cola".
    pub br_code: Option<String>,
    /// A Pix charge is good until the order's payment deadline.
    pub expires_at: Timestamp,
    pub card: Option<CardSummary>,
    pub installments: Option<InstallmentPlan>,
    /// The provider's id of the payment that settled the order (Pix end-to-end id, capture id).
    pub reference: Option<String>,
    /// The issuer's authorization code (card) — NF-e `cAut`.
    pub authorization: Option<String>,
    pub attempts: u32,
    /// Why the last attempt failed, in words for the buyer.
    pub failure: Option<String>,
    pub refund: Option<RefundRecord>,
    pub late: Vec<LatePayment>,
    /// The provider's id of the charge while it waits (a Pix txid, a boleto or 3-D Secure
    /// payment id): what is withdrawn when the order expires or is cancelled.
    #[serde(default)]
    pub charge_reference: Option<String>,
    /// A boleto to pay.
    #[serde(default)]
    pub boleto: Option<Boleto>,
    /// A 3-D Secure challenge the buyer must complete at the issuer.
    #[serde(default)]
    pub challenge_url: Option<String>,
    /// Parts given back while the order stands (see [`PartialRefund`]).
    #[serde(default)]
    pub partial_refunds: Vec<PartialRefund>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

/// A provider's webhook notice: remembered so that a replay of it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The provider's name.
    pub provider: String,
    /// The provider's id of the notice.
    pub id: String,
}

impl Payment {
    /// What the partial refunds give back (asked for, made or not).
    pub fn partially_refunded(&self) -> Money {
        Money::from_centavos(
            self.partial_refunds
                .iter()
                .map(|r| r.amount.centavos())
                .sum(),
        )
    }
}

/// The stored item of `p`, with its version.
pub fn payment_item(p: &Payment) -> AppResult<Item> {
    Ok(data_item(payment(&p.order_id), p)?.with(VERSION, p.version as i64))
}

/// The payment of order `order_id`, if one was made.
pub async fn load(table: &dyn Table, order_id: &str) -> AppResult<Option<Payment>> {
    match table.get(&payment(order_id)).await? {
        Some(item) => Ok(Some(super::decode(&item)?)),
        None => Ok(None),
    }
}

/// The order the Pix charge `txid` belongs to, if it is one of ours.
pub async fn order_of_txid(table: &dyn Table, txid: &str) -> AppResult<Option<String>> {
    Ok(table
        .get(&pix_txid(txid))
        .await?
        .and_then(|item| item.str(ORDER_ID).map(str::to_owned)))
}

impl Batch {
    /// Create `p`, which must not exist yet: fails on [`Part::Payment`] when it does.
    pub fn put_new_payment(&mut self, p: &Payment) -> AppResult<()> {
        self.put_new(Part::Payment, payment_item(p)?);
        Ok(())
    }

    /// Save `p` as changed since version `read_version` was read (`None`: it must be new):
    /// fails on [`Part::Payment`] when someone else wrote it meanwhile.
    pub fn save_payment(&mut self, p: &Payment, read_version: Option<u64>) -> AppResult<()> {
        self.put_versioned(Part::Payment, payment_item(p)?, read_version);
        Ok(())
    }

    /// Point the Pix charge `txid` at order `order_id` (whatever it pointed at before).
    pub fn point_txid(&mut self, txid: &str, order_id: &str) {
        self.put(
            Part::PixTxid,
            Item::new(pix_txid(txid)).with(ORDER_ID, order_id.to_owned()),
        );
    }

    /// Remember `notice` until `expires_at` (s since the epoch): fails on [`Part::Notice`] when
    /// it is already remembered (a replay).
    pub fn remember_notice(&mut self, n: &Notice, expires_at: i64) {
        self.put_new(
            Part::Notice,
            Item::new(notice(&n.provider, &n.id)).with(TTL, expires_at),
        );
    }
}
