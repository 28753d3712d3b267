//! Reconciliation: what each real provider says it received, against what the store recorded.
//!
//! - **The sweep** ([`App::reconcile_payments`], every 10 minutes over the last 24 hours): every
//!   payment a provider lists as received is applied like a webhook that was read back
//!   (`apply_provider_payment`), so an order whose webhook never came is paid (or, if it can no
//!   longer take the money, the payment is recorded as late and refunded).
//! - **The daily report** ([`App::daily_reconciliation`], once a day over the previous 24 hours):
//!   the same, then each payment's net amount at the provider (captured minus refunded) against
//!   the store's (the payment it settled minus its refund, or a late payment minus its refund).
//!   Every difference is listed in `reports/reconciliation-{date}/differences.csv` and raises a
//!   `payments.difference` event, which e-mails the admins. None is expected: a difference means
//!   money the store does not know about, or a refund the provider did not make.
//!
//! Sandbox providers list nothing (no money moves), so a demo store reconciles to nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use vitrine_domain::{Event, Money, Timestamp};

use super::{PaymentStatus, Settlement};
use crate::app::App;
use crate::dashboard::{date_of_day, local_day};
use crate::error::AppResult;
use crate::payments::payment_failed;
use crate::ports::payments::{PaymentProvider, ProviderPayment, ProviderStatus};
use crate::store::Batch;

/// The sweep's window: a day back, so a webhook lost overnight is still found.
pub const SWEEP_WINDOW_MS: i64 = 24 * 3_600_000;

/// What a reconciliation found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Payments the providers listed.
    pub checked: usize,
    /// Orders paid by this run (their webhook never came).
    pub settled: usize,
    /// Money recorded as late by this run (to be refunded).
    pub late: usize,
    pub differences: Vec<Difference>,
}

/// A payment whose net amount differs between the provider and the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub provider: String,
    /// The provider's id of the payment.
    pub reference: String,
    /// The order it belongs to, when the store knows one.
    pub order_id: Option<String>,
    /// Captured minus refunded, at the provider.
    pub provider_net: Money,
    /// Settled minus refunded, in the store.
    pub store_net: Money,
    pub what: &'static str,
}

impl App {
    /// The real providers in use, once each.
    fn real_providers(&self) -> Vec<&Arc<dyn PaymentProvider>> {
        let mut seen = BTreeSet::new();
        self.ports
            .payments
            .iter()
            .filter(|p| !p.is_sandbox() && seen.insert(p.name()))
            .collect()
    }

    /// Apply every payment the providers received in `[from, to)` (see the module docs) and
    /// compare the net amounts.
    pub async fn reconcile_payments(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> AppResult<Reconciliation> {
        let mut run = Reconciliation::default();
        for provider in self.real_providers() {
            let received = provider.received(from, to).await.map_err(payment_failed)?;
            for paid in received {
                run.checked += 1;
                if paid.status != ProviderStatus::Paid {
                    continue;
                }
                match self
                    .apply_provider_payment(provider, paid.clone(), None, false)
                    .await?
                {
                    Settlement::Paid => {
                        tracing::warn!(provider = provider.name(), reference = %paid.reference, "a payment whose webhook never came: order paid by reconciliation");
                        run.settled += 1;
                    }
                    Settlement::Late(_) => run.late += 1,
                    _ => {}
                }
                if let Some(difference) = self.difference(provider.name(), &paid).await? {
                    run.differences.push(difference);
                }
            }
        }
        Ok(run)
    }

    /// The store's side of one provider payment, if it differs.
    async fn difference(
        &self,
        provider: &str,
        paid: &ProviderPayment,
    ) -> AppResult<Option<Difference>> {
        let provider_net = net(paid.amount, paid.refunded);
        let (order_id, payment) = self.payment_of_charge(&paid.charge).await?;
        let (store_net, what) = match &payment {
            None => (
                Money::ZERO,
                "received by the provider for no order of this store",
            ),
            Some(p) if p.reference.as_deref() == Some(&paid.reference) => {
                let refunded = p
                    .refund
                    .as_ref()
                    .map_or(Money::ZERO, |r| r.amount)
                    .centavos()
                    + p.partial_refunds
                        .iter()
                        .filter(|r| r.reference.is_some())
                        .map(|r| r.amount.centavos())
                        .sum::<i64>();
                let refunded = Money::from_centavos(refunded);
                let settled = match p.status {
                    PaymentStatus::Confirmed | PaymentStatus::Refunded => p.amount,
                    _ => Money::ZERO,
                };
                (net(settled, refunded), "settled amount minus refunds")
            }
            Some(p) => match p.late.iter().find(|l| l.reference == paid.reference) {
                Some(l) if l.refund.is_some() => (Money::ZERO, "late payment, refunded"),
                Some(l) => (l.amount, "late payment, refund pending"),
                None => (Money::ZERO, "not recorded on the order's payment"),
            },
        };
        Ok((store_net != provider_net).then(|| Difference {
            provider: provider.to_owned(),
            reference: paid.reference.clone(),
            order_id: order_id.filter(|_| payment.is_some()),
            provider_net,
            store_net,
            what,
        }))
    }

    /// The daily report: reconcile the 24 hours before now, store the differences as CSV under
    /// `reports/`, and raise `payments.difference` (an admin alert) when there is any. Returns
    /// the run and the report's key; `None` when no real provider is in use (nothing to
    /// reconcile in a demo store).
    pub async fn daily_reconciliation(&self) -> AppResult<Option<(Reconciliation, String)>> {
        if self.real_providers().is_empty() {
            return Ok(None);
        }
        let now = self.ports.clock.now();
        let from = Timestamp::from_millis(now.millis() - SWEEP_WINDOW_MS);
        let run = self.reconcile_payments(from, now).await?;
        let key = format!(
            "{}reconciliation-{}/differences.csv",
            crate::reports::PREFIX,
            date_of_day(local_day(now))
        );
        let mut csv = String::from(
            "provider,reference,order_id,provider_net_centavos,store_net_centavos,what\n",
        );
        for d in &run.differences {
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                d.provider,
                d.reference,
                d.order_id.as_deref().unwrap_or(""),
                d.provider_net.centavos(),
                d.store_net.centavos(),
                d.what
            ));
        }
        self.ports
            .blobs
            .put(&key, Bytes::from(csv), "text/csv; charset=utf-8")
            .await?;
        if !run.differences.is_empty() {
            let event = Event::new(
                "payments.difference",
                date_of_day(local_day(now)),
                json!({
                    "from": from.millis(),
                    "to": now.millis(),
                    "report": key,
                    "differences": run.differences.iter().map(|d| json!({
                        "provider": d.provider,
                        "reference": d.reference,
                        "order_id": d.order_id,
                        "provider_net_centavos": d.provider_net.centavos(),
                        "store_net_centavos": d.store_net.centavos(),
                        "what": d.what,
                    })).collect::<Vec<_>>(),
                }),
            );
            let mut batch = Batch::new();
            batch.append_event(&self.ports.ids.new_id(), &event, now.millis())?;
            self.write(batch).await?;
            tracing::error!(differences = run.differences.len(), report = %key, "payments differ between the providers and the store");
        }
        tracing::info!(
            checked = run.checked,
            settled = run.settled,
            late = run.late,
            differences = run.differences.len(),
            "payments reconciled"
        );
        Ok(Some((run, key)))
    }

    /// Register the real providers' webhooks where that is done by API (see
    /// `PaymentProvider::register_webhooks`); a failure is logged, and the reconciliation still
    /// finds the money whose notice never comes. Returns how many failed.
    pub async fn register_payment_webhooks(&self) -> usize {
        let mut failed = 0;
        for provider in self.real_providers() {
            if let Err(e) = provider.register_webhooks().await {
                failed += 1;
                tracing::error!(
                    provider = provider.name(),
                    error = format!("{:#}", anyhow::Error::new(e)),
                    "could not register the provider's webhook; reconciliation will find its payments"
                );
            }
        }
        failed
    }

    /// True when a real provider is in use: the reconciliation has something to ask.
    pub fn reconciles_payments(&self) -> bool {
        !self.real_providers().is_empty()
    }
}

/// `amount - refunded` in centavos (negative when more went back than came in: itself a
/// difference worth seeing).
fn net(amount: Money, refunded: Money) -> Money {
    Money::from_centavos(amount.centavos() - refunded.centavos())
}
