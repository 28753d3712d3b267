//! Payments: paying an order by Pix or card, the providers' webhooks, late payments and refunds.
//! The payment record, the Pix txid and the webhook notices are stored by
//! [`crate::store::payments`] (their items are listed there).
//!
//! Invariants:
//! - **Settled once, atomically**: money arriving for an order ([`App::settle`]) is written in one
//!   batch with the order's move to `paid`, its `order.paid` event and the webhook notice's id;
//!   each part conditioned on what was read. Two racing notices, or a notice racing the expiry
//!   sweep: one wins, the other re-reads and takes the path the new state gives it.
//! - **Never silently accepted**: money for an order that is expired, cancelled, already paid by
//!   another payment, or of another amount is recorded on the payment as a late payment with an
//!   `order.payment_late` event (the customer is told), and the `payments` consumer
//!   ([`Refunds`]) refunds it through the provider and emits `order.refunded`.
//! - **A replayed notice changes nothing**: its id was written with the first one (409).
//! - **No card data stored**: brand and last four digits only.

pub mod reconcile;
pub mod sandbox;

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use serde_json::json;
use vitrine_domain::card::InstallmentPlan;
use vitrine_domain::order::{Order, OrderStatus, PaymentMethod};
use vitrine_domain::{Event, EventAttr, Money};

use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::events::{ConsumeError, Consumer, Delivery};
use crate::ports::payments::{
    CardInput, Charge, ChargeKey, ChargeMethod, ChargeRequest, DeclineReason, Payer, PaymentError,
    PaymentProvider, ProviderPayment, ProviderStatus, WebhookError, WebhookRequest,
};
use crate::store::payments::Notice;
pub use crate::store::payments::{
    LatePayment, LateReason, PartialRefund, Payment, PaymentStatus, RefundRecord,
};
use crate::store::{self, Batch, Part, WriteFailed};

/// A boleto is due this long after the order is placed...
pub const BOLETO_DUE_SECS: i64 = 3 * 24 * 3600;
/// ...and the order holds its stock this long after that: a boleto paid on its due date is
/// reported by the bank up to three business days later.
pub const BOLETO_CLEARING_SECS: i64 = 3 * 24 * 3600;
/// How long a boleto order waits for its money before it expires (its `pay_by`).
pub const BOLETO_HOLD_SECS: i64 = BOLETO_DUE_SECS + BOLETO_CLEARING_SECS;

/// How long a webhook notice id is remembered (a provider retries for hours, not weeks).
const NOTICE_TTL_SECS: i64 = 30 * 24 * 3600;

/// How the buyer wants to pay.
#[derive(Debug, Clone)]
pub enum PayInput {
    Pix,
    Card { card: CardInput, installments: u32 },
    Boleto,
}

/// What happened to money that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The order is now paid.
    Paid,
    /// The same payment again (a provider's duplicate): nothing changed.
    AlreadyPaid,
    /// Not accepted: recorded, to be refunded, the customer told.
    Late(LateReason),
    /// The card payment was refused after all (3-D Secure failed, review refused).
    Failed,
    /// Nothing to do: still pending, not ours, or not about money arriving.
    Ignored,
}

impl Settlement {
    pub fn as_str(self) -> &'static str {
        match self {
            Settlement::Paid => "paid",
            Settlement::AlreadyPaid => "already_paid",
            Settlement::Late(_) => "refund",
            Settlement::Failed => "failed",
            Settlement::Ignored => "ignored",
        }
    }
}

/// The webhook request as the HTTP entry point received it.
pub struct WebhookInput<'a> {
    pub provider: &'a str,
    pub subpath: &'a str,
    pub header: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub query: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub body: &'a [u8],
}

/// Money arriving for an order.
struct Incoming {
    reference: String,
    authorization: Option<String>,
    amount: Money,
}

impl App {
    /// The provider that takes `method`.
    fn provider_for(&self, method: PaymentMethod) -> AppResult<&Arc<dyn PaymentProvider>> {
        self.ports
            .payments
            .iter()
            .find(|p| p.methods().contains(&method))
            .ok_or_else(|| AppError::Rule(format!("{} payments are not set up", method.as_str())))
    }

    fn provider_named(&self, name: &str) -> AppResult<&Arc<dyn PaymentProvider>> {
        self.ports
            .payments
            .iter()
            .find(|p| p.name() == name)
            .ok_or(AppError::NotFound("payment provider"))
    }

    pub(crate) async fn load_payment(&self, order_id: &str) -> AppResult<Option<Payment>> {
        store::payments::load(&*self.ports.table, order_id).await
    }

    /// The installment plans offered for `total`: the card provider's own for the card's
    /// first digits (`bin`) when it has a table, else the store's.
    pub async fn installment_plans(
        &self,
        total: Money,
        bin: Option<&str>,
    ) -> AppResult<Vec<InstallmentPlan>> {
        if let (Some(bin), Ok(provider)) = (bin, self.provider_for(PaymentMethod::Card))
            && let Some(plans) = provider
                .installments(total, bin)
                .await
                .map_err(payment_failed)?
        {
            return Ok(plans);
        }
        Ok(self.settings.installments.plans(total))
    }

    /// The providers in use, and whether any of them is a sandbox (no money moves).
    pub fn payment_providers(&self) -> Vec<(PaymentMethod, &'static str, bool)> {
        [
            PaymentMethod::Pix,
            PaymentMethod::Card,
            PaymentMethod::Boleto,
        ]
        .into_iter()
        .filter_map(|m| {
            self.provider_for(m)
                .ok()
                .map(|p| (m, p.name(), p.is_sandbox()))
        })
        .collect()
    }

    /// An order's payment, for its owner or an admin.
    pub async fn payment_for(&self, who: &Principal, order_id: &str) -> AppResult<Payment> {
        self.order_for(who, order_id).await?;
        self.load_payment(order_id)
            .await?
            .ok_or(AppError::NotFound("payment"))
    }

    /// Pay an order: a Pix charge (the same one again while it is pending), or a card charge
    /// that settles the order at once or is declined (402).
    pub async fn pay_order(
        &self,
        who: &Principal,
        order_id: &str,
        input: PayInput,
    ) -> AppResult<Payment> {
        let order = self.order_for(who, order_id).await?;
        let method = match input {
            PayInput::Pix => PaymentMethod::Pix,
            PayInput::Card { .. } => PaymentMethod::Card,
            PayInput::Boleto => PaymentMethod::Boleto,
        };
        if order.payment_method != method {
            return Err(AppError::Rule(format!(
                "this order is to be paid by {}",
                order.payment_method.as_str()
            )));
        }
        if !order.status.awaits_payment() {
            return Err(AppError::Rule(format!(
                "this order is {}; it cannot be paid",
                order.status
            )));
        }
        let existing = self.load_payment(order_id).await?;
        match input {
            PayInput::Pix | PayInput::Boleto => self.waiting_charge(&order, existing).await,
            PayInput::Card { card, installments } => {
                self.card_charge(&order, existing, card, installments).await
            }
        }
    }

    /// A charge the buyer pays later, by Pix or boleto: the same one again while it is pending.
    async fn waiting_charge(&self, order: &Order, existing: Option<Payment>) -> AppResult<Payment> {
        if let Some(p) = existing
            && p.status == PaymentStatus::Pending
        {
            return Ok(p);
        }
        let method = order.payment_method;
        let provider = self.provider_for(method)?;
        let request = ChargeRequest {
            order_id: order.id.clone(),
            idempotency_key: format!("{}-{}", order.id, method.as_str()),
            amount: order.total,
            payer: payer_of(order),
            description: format!("Pedido {}", order.id),
            method: match method {
                PaymentMethod::Boleto => ChargeMethod::Boleto {
                    expires_at: order.pay_by.plus_secs(-BOLETO_CLEARING_SECS),
                },
                _ => ChargeMethod::Pix {
                    expires_at: order.pay_by,
                },
            },
        };
        let (txid, br_code, boleto, reference) =
            match provider.charge(&request).await.map_err(payment_failed)? {
                Charge::PixPending {
                    txid,
                    br_code,
                    reference,
                } if method == PaymentMethod::Pix => (Some(txid), Some(br_code), None, reference),
                Charge::BoletoPending { reference, boleto } if method == PaymentMethod::Boleto => {
                    (None, None, Some(boleto), reference)
                }
                other => {
                    return Err(AppError::Internal(anyhow!(
                        "the {} provider answered a {} charge with {other:?}",
                        provider.name(),
                        method.as_str()
                    )));
                }
            };
        let now = self.ports.clock.now();
        let payment = Payment {
            order_id: order.id.clone(),
            provider: provider.name().to_owned(),
            method,
            status: PaymentStatus::Pending,
            amount: order.total,
            txid: txid.clone(),
            br_code,
            expires_at: order.pay_by,
            card: None,
            installments: None,
            reference: None,
            authorization: None,
            attempts: 1,
            failure: None,
            refund: None,
            late: Vec::new(),
            charge_reference: Some(reference),
            boleto,
            challenge_url: None,
            partial_refunds: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut batch = Batch::new();
        batch.put_new_payment(&payment)?;
        if let Some(txid) = &txid {
            batch.point_txid(txid, &order.id);
        }
        match self.write(batch).await {
            Ok(()) => Ok(payment),
            // Another request made it first: that one is the charge.
            Err(WriteFailed::Condition { .. }) => self
                .load_payment(&order.id)
                .await?
                .ok_or(AppError::NotFound("payment")),
            Err(e) => Err(e.into()),
        }
    }

    async fn card_charge(
        &self,
        order: &Order,
        existing: Option<Payment>,
        card: CardInput,
        installments: u32,
    ) -> AppResult<Payment> {
        if let Some(p) = &existing
            && p.status == PaymentStatus::Pending
            && p.charge_reference.is_some()
        {
            return Err(AppError::Rule(
                "this order's card payment is waiting for the issuer (3-D Secure or review)".into(),
            ));
        }
        let provider = self.provider_for(PaymentMethod::Card)?;
        let (card, bin) = match card {
            CardInput::Number { number, holder } => {
                let holder = holder.trim().to_owned();
                if holder.is_empty() || holder.chars().count() > 60 {
                    return Err(AppError::field(
                        "card.holder",
                        "the name on the card has 1 to 60 characters",
                    ));
                }
                let bin = number.digits()[..6].to_owned();
                (CardInput::Number { number, holder }, bin)
            }
            CardInput::Token {
                token,
                payment_method_id,
                issuer_id,
                bin,
            } => {
                if token.is_empty() || token.len() > 256 || !token.is_ascii() {
                    return Err(AppError::field("card.token", "not a card token"));
                }
                if !(6..=8).contains(&bin.len()) || !bin.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(AppError::field(
                        "card.bin",
                        "the card's first 6 to 8 digits",
                    ));
                }
                let card = CardInput::Token {
                    token,
                    payment_method_id,
                    issuer_id,
                    bin: bin.clone(),
                };
                (card, bin)
            }
        };
        let plan = match provider
            .installments(order.total, &bin)
            .await
            .map_err(payment_failed)?
        {
            Some(plans) => plans
                .into_iter()
                .find(|p| p.count == installments)
                .ok_or_else(|| {
                    AppError::field(
                        "installments",
                        format!("the card's issuer does not offer {installments} installments"),
                    )
                })?,
            None => self.settings.installments.plan(order.total, installments)?,
        };
        let now = self.ports.clock.now();
        let (base, read_version) = match existing {
            Some(p) => {
                let v = p.version;
                (p, Some(v))
            }
            None => (
                Payment {
                    order_id: order.id.clone(),
                    provider: String::new(),
                    method: PaymentMethod::Card,
                    status: PaymentStatus::Pending,
                    amount: plan.total,
                    txid: None,
                    br_code: None,
                    expires_at: order.pay_by,
                    card: None,
                    installments: None,
                    reference: None,
                    authorization: None,
                    attempts: 0,
                    failure: None,
                    refund: None,
                    late: Vec::new(),
                    charge_reference: None,
                    boleto: None,
                    challenge_url: None,
                    partial_refunds: Vec::new(),
                    created_at: now,
                    updated_at: now,
                    version: 0,
                },
                None,
            ),
        };
        let attempt = base.attempts + 1;
        let request = ChargeRequest {
            order_id: order.id.clone(),
            idempotency_key: format!("{}-card-{attempt}", order.id),
            amount: plan.total,
            payer: payer_of(order),
            description: format!("Pedido {}", order.id),
            method: ChargeMethod::Card {
                card,
                price: order.total,
                plan: plan.clone(),
            },
        };
        let charge = provider.charge(&request).await.map_err(payment_failed)?;
        let mut payment = Payment {
            provider: provider.name().to_owned(),
            amount: plan.total,
            installments: Some(plan),
            attempts: attempt,
            updated_at: now,
            version: base.version + 1,
            ..base
        };
        match charge {
            Charge::Approved {
                reference,
                authorization,
                card,
            } => {
                payment.card = card;
                payment.failure = None;
                let incoming = Incoming {
                    reference,
                    authorization: Some(authorization),
                    amount: payment.amount,
                };
                // The attempt is recorded first (conditioned on the version read), then the
                // money settles the order like any other arrival of money.
                let mut batch = Batch::new();
                batch.save_payment(&payment, read_version)?;
                self.write(batch).await.map_err(|e| match e {
                    WriteFailed::Condition { .. } => AppError::Conflict(
                        "another payment of this order is in progress; try again".into(),
                    ),
                    other => other.into(),
                })?;
                self.settle(&order.id, incoming, None).await?;
                self.load_payment(&order.id)
                    .await?
                    .ok_or(AppError::NotFound("payment"))
            }
            Charge::InProcess {
                reference,
                challenge_url,
                card,
            } => {
                // Waiting for 3-D Secure or a review: the webhook (read back) settles it.
                payment.card = card;
                payment.status = PaymentStatus::Pending;
                payment.failure = None;
                payment.charge_reference = Some(reference);
                payment.challenge_url = challenge_url;
                let mut batch = Batch::new();
                batch.save_payment(&payment, read_version)?;
                self.write(batch).await.map_err(|e| match e {
                    WriteFailed::Condition { .. } => AppError::Conflict(
                        "another payment of this order is in progress; try again".into(),
                    ),
                    other => other.into(),
                })?;
                Ok(payment)
            }
            Charge::Declined { reason, card } => {
                payment.card = card;
                self.record_decline(order, payment, read_version, reason)
                    .await?;
                Err(AppError::PaymentDeclined(reason.message().to_owned()))
            }
            other @ (Charge::PixPending { .. } | Charge::BoletoPending { .. }) => {
                Err(AppError::Internal(anyhow!(
                    "the card provider answered a card charge with {other:?}"
                )))
            }
        }
    }

    /// A declined card attempt: the payment failed, the order `payment_failed` (another card
    /// may be tried before the deadline).
    async fn record_decline(
        &self,
        order: &Order,
        mut payment: Payment,
        read_version: Option<u64>,
        reason: DeclineReason,
    ) -> AppResult<()> {
        let now = self.ports.clock.now();
        payment.status = PaymentStatus::Failed;
        payment.failure = Some(reason.message().to_owned());
        payment.charge_reference = None;
        payment.challenge_url = None;
        let mut batch = Batch::new();
        batch.save_payment(&payment, read_version)?;
        let mut order = order.clone();
        let read = order.version;
        if order.status == OrderStatus::PendingPayment {
            let event = order.fail_payment(now, reason.message())?;
            batch.save_moved_order(&order, read, &self.ports.ids.new_id(), &event, now.millis())?;
        }
        match self.write(batch).await {
            Ok(()) | Err(WriteFailed::Condition { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Give back part of a paid order's money (the admin's call): recorded on the payment with
    /// an `order.refund_requested` event in one write, made through the provider by the
    /// `payments` consumer. Never more than what was paid minus what was already given back.
    pub async fn request_refund(
        &self,
        order_id: &str,
        amount: Money,
        reason: &str,
    ) -> AppResult<Payment> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 200 {
            return Err(AppError::field("reason", "1 to 200 characters"));
        }
        if amount.centavos() <= 0 {
            return Err(AppError::field("amount_centavos", "above zero"));
        }
        for _ in 0..5 {
            let order = self.load_order(order_id).await?;
            let payment = self
                .load_payment(order_id)
                .await?
                .ok_or(AppError::NotFound("payment"))?;
            let mut batch = Batch::new();
            let refund_id = self.ports.ids.new_id();
            let next =
                self.add_partial_refund(&mut batch, &order, &payment, &refund_id, amount, reason)?;
            match self.write(batch).await {
                Ok(()) => return Ok(next),
                Err(WriteFailed::Condition { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the payment is changing too fast; try again".into(),
        ))
    }

    /// Add to `batch` a partial refund of `amount` of `order`'s `payment`, as `refund_id`: the
    /// payment saved with it under its version condition, and the `order.refund_requested`
    /// event the `payments` consumer makes it from (the refund id is the provider's idempotency
    /// key). Never more than what was paid minus what was already given back. Returns the
    /// payment as saved. Used by the admin's partial refunds and by approved returns.
    pub(crate) fn add_partial_refund(
        &self,
        batch: &mut Batch,
        order: &Order,
        payment: &Payment,
        refund_id: &str,
        amount: Money,
        reason: &str,
    ) -> AppResult<Payment> {
        if payment.status != PaymentStatus::Confirmed {
            return Err(AppError::Rule(format!(
                "only a confirmed payment can be partly refunded; this one is {}",
                serde_json::to_value(payment.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            )));
        }
        let left = payment.amount.centavos() - payment.partially_refunded().centavos();
        if amount.centavos() > left {
            return Err(AppError::field(
                "amount_centavos",
                format!("at most {left} centavos are left to give back"),
            ));
        }
        let now = self.ports.clock.now();
        let mut next = payment.clone();
        next.version += 1;
        next.updated_at = now;
        next.partial_refunds.push(PartialRefund {
            id: refund_id.to_owned(),
            amount,
            reason: reason.to_owned(),
            requested_at: now,
            reference: None,
        });
        let event = Event::new(
            "order.refund_requested",
            order.id.clone(),
            json!({
                "order_id": order.id,
                "refund_id": refund_id,
                "amount_centavos": amount.centavos(),
                "reason": reason,
            }),
        )
        .for_customer(order.customer_id.clone())
        .attr("status", EventAttr::String(order.status.as_str().into()));
        batch.save_payment(&next, Some(payment.version))?;
        batch.append_event(&self.ports.ids.new_id(), &event, now.millis())?;
        Ok(next)
    }

    /// A provider's webhook: authenticate it as far as its scheme allows, then read each payment
    /// it names back from the provider and act on what the provider says (never on the notice
    /// alone, unless the provider vouches for it: the sandbox's own signed notices).
    pub async fn payment_webhook(&self, input: &WebhookInput<'_>) -> AppResult<Vec<Settlement>> {
        let provider = self.provider_named(input.provider)?;
        let items = provider
            .webhook(&WebhookRequest {
                header: input.header,
                query: input.query,
                subpath: input.subpath,
                body: input.body,
                now: self.ports.clock.now(),
            })
            .await
            .map_err(|e| match e {
                WebhookError::BadSignature | WebhookError::Stale => {
                    AppError::Unauthorized(e.to_string())
                }
                WebhookError::Malformed(m) => AppError::field("body", m),
            })?;
        let mut settlements = Vec::with_capacity(items.len());
        for item in items {
            let vouched = item.verified.is_some();
            let paid = match item.verified {
                Some(p) => p,
                None => match provider
                    .lookup(&item.reference)
                    .await
                    .map_err(payment_failed)?
                {
                    Some(p) => p,
                    None => {
                        tracing::warn!(provider = provider.name(), reference = %item.reference, "webhook for a payment the provider does not know: ignored");
                        settlements.push(Settlement::Ignored);
                        continue;
                    }
                },
            };
            // A vouched notice is remembered so that its replay is refused; a payment read back
            // from the provider needs no such guard: settling it again finds it settled.
            let notice = vouched.then(|| Notice {
                provider: provider.name().to_owned(),
                id: item.notice_id,
            });
            let settlement = self
                .apply_provider_payment(provider, paid, notice, vouched)
                .await?;
            settlements.push(settlement);
        }
        Ok(settlements)
    }

    /// Act on a payment as the provider reports it: money captured settles its order; a card
    /// refused after 3-D Secure or review fails the attempt; anything else waits.
    /// `strict`: an unknown charge is an error (the sandbox's notices), not something to skip.
    /// The order a provider's charge belongs to, and its payment record.
    pub(crate) async fn payment_of_charge(
        &self,
        charge: &ChargeKey,
    ) -> AppResult<(Option<String>, Option<Payment>)> {
        let order_id = match charge {
            ChargeKey::Txid(txid) => {
                store::payments::order_of_txid(&*self.ports.table, txid).await?
            }
            ChargeKey::Order(id) => Some(id.clone()),
        };
        let payment = match &order_id {
            Some(id) => self.load_payment(id).await?,
            None => None,
        };
        Ok((order_id, payment))
    }

    pub(crate) async fn apply_provider_payment(
        &self,
        provider: &Arc<dyn PaymentProvider>,
        paid: ProviderPayment,
        notice: Option<Notice>,
        strict: bool,
    ) -> AppResult<Settlement> {
        let (_, payment) = self.payment_of_charge(&paid.charge).await?;
        let Some(payment) = payment.filter(|p| p.provider == provider.name()) else {
            if strict {
                return Err(AppError::NotFound("charge"));
            }
            // Someone else's payment at the same provider, or a charge made outside the store.
            tracing::warn!(provider = provider.name(), reference = %paid.reference, "a payment for no charge of this store: ignored");
            return Ok(Settlement::Ignored);
        };
        let order_id = payment.order_id.clone();
        let settlement = match paid.status {
            ProviderStatus::Paid => {
                self.settle(
                    &order_id,
                    Incoming {
                        reference: paid.reference,
                        authorization: paid.authorization,
                        amount: paid.amount,
                    },
                    notice,
                )
                .await?
            }
            ProviderStatus::Declined(reason)
                if payment.status == PaymentStatus::Pending
                    && payment.method == PaymentMethod::Card
                    && payment.charge_reference.as_deref() == Some(&paid.reference) =>
            {
                let order = self.load_order(&order_id).await?;
                let version = payment.version;
                let next = Payment {
                    version: version + 1,
                    updated_at: self.ports.clock.now(),
                    ..payment
                };
                self.record_decline(&order, next, Some(version), reason)
                    .await?;
                Settlement::Failed
            }
            _ => Settlement::Ignored,
        };
        tracing::info!(order.id = %order_id, provider = provider.name(), ?settlement, "payment notice handled");
        Ok(settlement)
    }

    /// Money arrived for an order (see the module docs). `notice`: the webhook notice, remembered
    /// in the same batch so that a replay is refused.
    async fn settle(
        &self,
        order_id: &str,
        incoming: Incoming,
        notice: Option<Notice>,
    ) -> AppResult<Settlement> {
        for _ in 0..5 {
            let mut order = self.load_order(order_id).await?;
            let payment = self
                .load_payment(order_id)
                .await?
                .ok_or(AppError::NotFound("payment"))?;
            let now = self.ports.clock.now();
            let mut next = payment.clone();
            next.version += 1;
            next.updated_at = now;
            let mut batch = Batch::new();
            let settlement;
            if payment.status == PaymentStatus::Confirmed
                && payment.reference.as_deref() == Some(&incoming.reference)
            {
                settlement = Settlement::AlreadyPaid;
            } else if next.late.iter().any(|l| l.reference == incoming.reference) {
                // The same late payment again: already recorded and being refunded.
                settlement = Settlement::AlreadyPaid;
            } else if order.status.awaits_payment() && incoming.amount == payment.amount {
                let read = order.version;
                let event = order.pay(now, &incoming.reference)?;
                // Paid: no longer among the customer's unpaid holds.
                self.give_back(&mut batch, &order, true, Default::default())
                    .await?;
                next.status = PaymentStatus::Confirmed;
                next.reference = Some(incoming.reference.clone());
                next.authorization = incoming.authorization.clone();
                batch.save_moved_order(
                    &order,
                    read,
                    &self.ports.ids.new_id(),
                    &event,
                    now.millis(),
                )?;
                batch.save_payment(&next, Some(payment.version))?;
                settlement = Settlement::Paid;
            } else {
                let reason = match order.status {
                    s if s.awaits_payment() => LateReason::AmountMismatch,
                    OrderStatus::Expired => LateReason::OrderExpired,
                    OrderStatus::Cancelled => LateReason::OrderCancelled,
                    _ => LateReason::AlreadyPaid,
                };
                next.late.push(LatePayment {
                    reference: incoming.reference.clone(),
                    amount: incoming.amount,
                    at: now,
                    reason,
                    refund: None,
                });
                batch.save_payment(&next, Some(payment.version))?;
                let event = late_event(&order, &incoming, reason);
                batch.append_event(&self.ports.ids.new_id(), &event, now.millis())?;
                tracing::warn!(order.id = %order.id, reason = reason.as_str(), "payment not accepted; it will be refunded");
                settlement = Settlement::Late(reason);
            }
            if let Some(notice) = &notice {
                batch.remember_notice(notice, now.secs() + NOTICE_TTL_SECS);
            }
            if batch.is_empty() {
                return Ok(settlement);
            }
            match self.write(batch).await {
                Ok(()) => {
                    if settlement == Settlement::Paid {
                        self.metrics.revenue(incoming.amount.centavos());
                    }
                    return Ok(settlement);
                }
                Err(WriteFailed::Condition {
                    part: Part::Notice, ..
                }) => {
                    return Err(AppError::Conflict(
                        "this notice was already processed".into(),
                    ));
                }
                // The order or the payment changed under us: read again and decide again.
                Err(WriteFailed::Condition { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the order is changing too fast; try again".into(),
        ))
    }
}

/// Who pays an order, as providers need it.
fn payer_of(order: &Order) -> Payer {
    Payer {
        name: order.buyer.name.clone(),
        email: order.buyer.email.clone(),
        document: order.buyer.tax_id.as_str().to_owned(),
    }
}

/// `order.payment_late`: money that will go back, for the customer's e-mail and the refunder.
fn late_event(order: &Order, incoming: &Incoming, reason: LateReason) -> Event {
    Event::new(
        "order.payment_late",
        order.id.clone(),
        json!({
            "order_id": order.id,
            "status": order.status,
            "amount_centavos": incoming.amount.centavos(),
            "reference": incoming.reference,
            "reason": reason.as_str(),
        }),
    )
    .for_customer(order.customer_id.clone())
    .attr("status", EventAttr::String(order.status.as_str().into()))
    .attr(
        "language",
        EventAttr::String(order.channels.language.clone()),
    )
    .attr(
        "payment_method",
        EventAttr::String(order.payment_method.as_str().into()),
    )
}

fn refunded_event(order: &Order, amount: Money, reference: &str) -> Event {
    Event::new(
        "order.refunded",
        order.id.clone(),
        json!({
            "order_id": order.id,
            "status": order.status,
            "amount_centavos": amount.centavos(),
            "reference": reference,
        }),
    )
    .for_customer(order.customer_id.clone())
    .attr("status", EventAttr::String(order.status.as_str().into()))
    .attr(
        "language",
        EventAttr::String(order.channels.language.clone()),
    )
    .attr(
        "payment_method",
        EventAttr::String(order.payment_method.as_str().into()),
    )
}

pub(crate) fn payment_failed(e: PaymentError) -> AppError {
    match e {
        PaymentError::Invalid(m) => AppError::Rule(format!("the payment provider refused: {m}")),
        PaymentError::Unavailable(e) => AppError::Unavailable(e.context("payment provider")),
    }
}

/// The `payments` subscriber: refunds cancelled paid orders (`order.cancelled` with
/// `refund=yes`) and late payments (`order.payment_late`) through the provider that took the
/// money, once each, and emits `order.refunded`; withdraws the pending charge of an order that
/// ended unpaid (`order.expired`, `order.cancelled` with `refund=no`). A provider that is down is
/// retried; one that refuses leaves the event in the dead-letter list, where an admin sees it.
pub struct Refunds {
    app: Arc<App>,
}

impl Refunds {
    pub const NAME: &'static str = "payments";

    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }

    /// An order that ended unpaid (expired, or cancelled before payment): its pending charge is
    /// withdrawn at the provider (a Pix charge removed, a boleto cancelled), so the buyer cannot
    /// pay it any more. Money that arrives anyway is a late payment, refunded.
    async fn withdraw(&self, order_id: &str) -> Result<(), ConsumeError> {
        let app = &self.app;
        for _ in 0..5 {
            let Some(payment) = app.load_payment(order_id).await.map_err(app_failed)? else {
                return Ok(());
            };
            let (PaymentStatus::Pending, Some(reference)) =
                (payment.status, payment.charge_reference.clone())
            else {
                return Ok(());
            };
            let provider = app.provider_named(&payment.provider).map_err(app_failed)?;
            provider.cancel(&reference).await.map_err(|e| match e {
                PaymentError::Invalid(m) => {
                    reject(format!("the provider refused to withdraw the charge: {m}"))
                }
                PaymentError::Unavailable(e) => ConsumeError::Retry(e.context("withdrawing")),
            })?;
            let mut next = payment.clone();
            next.version += 1;
            next.updated_at = app.ports.clock.now();
            next.status = PaymentStatus::Withdrawn;
            next.challenge_url = None;
            let mut batch = Batch::new();
            batch
                .save_payment(&next, Some(payment.version))
                .map_err(app_failed)?;
            match app.write(batch).await {
                Ok(()) => {
                    tracing::info!(order.id = %order_id, provider = provider.name(), "pending charge withdrawn");
                    return Ok(());
                }
                // Paid meanwhile (the settlement won): the money is handled as a late payment.
                Err(WriteFailed::Condition { .. }) => continue,
                Err(WriteFailed::Table(e)) => {
                    return Err(ConsumeError::Retry(anyhow::Error::new(e)));
                }
            }
        }
        Err(ConsumeError::Retry(anyhow!("the payment kept changing")))
    }

    /// Record a refund the provider made (`next`, read as `before`) with its `order.refunded`
    /// event, in one write; false when the payment changed meanwhile (read again, ask again).
    async fn record_refund(
        &self,
        order: &Order,
        before: &Payment,
        next: &Payment,
        amount: Money,
        reference: &str,
    ) -> Result<bool, ConsumeError> {
        let app = &self.app;
        let now = app.ports.clock.now();
        let event = refunded_event(order, amount, reference);
        let mut batch = Batch::new();
        batch
            .save_payment(next, Some(before.version))
            .map_err(app_failed)?;
        batch
            .append_event(&app.ports.ids.new_id(), &event, now.millis())
            .map_err(app_failed)?;
        match app.write(batch).await {
            Ok(()) => {
                tracing::info!(order.id = %order.id, amount = amount.centavos(), "refunded");
                Ok(true)
            }
            Err(WriteFailed::Condition { .. }) => Ok(false),
            Err(WriteFailed::Table(e)) => Err(ConsumeError::Retry(anyhow::Error::new(e))),
        }
    }

    /// `order.refund_requested`: make the partial refund the admin asked for, once.
    async fn partial(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        let event = &delivery.event;
        let order_id = event.subject.as_str();
        let refund_id = event
            .data
            .get("refund_id")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| reject("order.refund_requested without a refund_id"))?
            .to_owned();
        let app = &self.app;
        for _ in 0..5 {
            let order = app.load_order(order_id).await.map_err(app_failed)?;
            let payment = app
                .load_payment(order_id)
                .await
                .map_err(app_failed)?
                .ok_or_else(|| reject("a partial refund of an order without a payment"))?;
            let Some(asked) = payment.partial_refunds.iter().find(|r| r.id == refund_id) else {
                return Err(reject("a partial refund that is not recorded"));
            };
            if asked.reference.is_some() {
                return Ok(());
            }
            let amount = asked.amount;
            let reference = payment
                .reference
                .clone()
                .ok_or_else(|| reject("a partial refund of a payment with no reference"))?;
            let provider = app.provider_named(&payment.provider).map_err(app_failed)?;
            let refunded = provider
                .refund(&reference, amount, &refund_id)
                .await
                .map_err(refund_failed)?;
            let now = app.ports.clock.now();
            let mut next = payment.clone();
            next.version += 1;
            next.updated_at = now;
            if let Some(r) = next.partial_refunds.iter_mut().find(|r| r.id == refund_id) {
                r.reference = Some(refunded.reference.clone());
            }
            if self
                .record_refund(&order, &payment, &next, amount, &refunded.reference)
                .await?
            {
                return Ok(());
            }
        }
        Err(ConsumeError::Retry(anyhow!("the payment kept changing")))
    }

    async fn refund(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        let event = &delivery.event;
        let order_id = event.subject.as_str();
        let late_reference = match event.event_type.as_str() {
            "order.expired" => return self.withdraw(order_id).await,
            "order.refund_requested" => return self.partial(delivery).await,
            "order.cancelled" => {
                if !matches!(event.attributes.get("refund"), Some(EventAttr::String(s)) if s == "yes")
                {
                    return self.withdraw(order_id).await;
                }
                None
            }
            "order.payment_late" => Some(
                event
                    .data
                    .get("reference")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| reject("order.payment_late without a reference"))?
                    .to_owned(),
            ),
            _ => return Ok(()),
        };
        for _ in 0..5 {
            let app = &self.app;
            let order = app.load_order(order_id).await.map_err(app_failed)?;
            let Some(payment) = app.load_payment(order_id).await.map_err(app_failed)? else {
                // Marked paid by an admin (money taken outside the store): nothing to return here.
                tracing::warn!(order.id = %order_id, "cancelled paid order without a payment record: refund it outside the store");
                return Ok(());
            };
            let (reference, amount) = match &late_reference {
                Some(r) => match payment.late.iter().find(|l| &l.reference == r) {
                    Some(l) if l.refund.is_some() => return Ok(()),
                    Some(l) => (l.reference.clone(), l.amount),
                    None => return Err(reject("a late payment that is not recorded")),
                },
                None => match (&payment.status, &payment.reference) {
                    (PaymentStatus::Refunded, _) => return Ok(()),
                    (PaymentStatus::Confirmed, Some(r)) => (
                        r.clone(),
                        Money::from_centavos(
                            payment.amount.centavos() - payment.partially_refunded().centavos(),
                        ),
                    ),
                    _ => return Ok(()),
                },
            };
            let provider = app.provider_named(&payment.provider).map_err(app_failed)?;
            let refunded = provider
                .refund(&reference, amount, &delivery.event_id)
                .await
                .map_err(refund_failed)?;
            let now = app.ports.clock.now();
            let mut next = payment.clone();
            next.version += 1;
            next.updated_at = now;
            match &late_reference {
                Some(r) => {
                    if let Some(l) = next.late.iter_mut().find(|l| &l.reference == r) {
                        l.refund = Some(refunded.reference.clone());
                    }
                }
                None => {
                    next.status = PaymentStatus::Refunded;
                    next.refund = Some(RefundRecord {
                        reference: refunded.reference.clone(),
                        amount,
                        at: now,
                    });
                }
            }
            // Not written when the payment changed meanwhile (another refund, a late payment):
            // the provider's refund is idempotent by this event id, so asking again returns
            // the same refund.
            if self
                .record_refund(&order, &payment, &next, amount, &refunded.reference)
                .await?
            {
                return Ok(());
            }
        }
        Err(ConsumeError::Retry(anyhow!("the payment kept changing")))
    }
}

fn refund_failed(e: PaymentError) -> ConsumeError {
    match e {
        PaymentError::Invalid(m) => reject(format!("the provider refused the refund: {m}")),
        PaymentError::Unavailable(e) => ConsumeError::Retry(e.context("refunding")),
    }
}

fn reject(m: impl Into<String>) -> ConsumeError {
    ConsumeError::Reject(anyhow!(m.into()))
}

fn app_failed(e: AppError) -> ConsumeError {
    match e {
        AppError::Internal(e) | AppError::Unavailable(e) => ConsumeError::Retry(e),
        other => ConsumeError::Reject(anyhow::Error::new(other)),
    }
}

#[async_trait]
impl Consumer for Refunds {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        self.refund(delivery).await
    }
}
