//! Shipping labels bought from the carrier (the Shipping port's `buy_label`) for an order whose
//! shipping option came from it, and their tracking into the order (`track`).
//!
//! **Money is spent, so a label is bought at most once per order.** Buying claims first: the
//! label record (`store::labels`, beside the order) is written in the `buying` state on the
//! condition that none exists (or that the one read, a refused purchase, is unchanged). Only the
//! request that wins that write calls the carrier; a second click, a second admin or a retry
//! meets the claim and is answered 409 with what the record says. Then:
//! - the carrier sells the label: the record becomes `bought` (carrier id, tracking code, print
//!   URL, price) and joins the open labels' index; with a tracking code, an invoiced order is
//!   shipped with it by the ordinary ship move (its event, its e-mail);
//! - the carrier refuses (no balance, a CEP it does not serve, …): the record becomes `refused`
//!   with the carrier's message, which the admin also gets as the 422's detail; buying again is
//!   allowed;
//! - the carrier does not answer (timeout, 5xx): whether it sold the label is unknown, so the
//!   claim stays, noted "check the carrier's panel" — buying again at once could pay twice;
//! - the process dies mid-call: the claim stays as it was.
//!
//! A claim that stays is shown to the admin as "buying since …"; the admin checks the carrier's
//! panel and releases it ([`App::release_label_claim`]) once the call is known to have ended
//! (noted) or [`CLAIM_RELEASABLE_AFTER_MS`] after the claim (a call never lasts that long: the
//! adapter gives up after its timeout). Releasing deletes the claim under its version.
//!
//! The parcel is the order's units sized as checkout sized them ([`crate::shipping::parcel_of`]),
//! each unit with the weight recorded on its line at the sale and the box of its variant as the
//! catalog has it **now**: a product whose dimensions changed since the sale is packed at its new
//! size (a deleted variant at the smallest box carriers take). The declared value is the goods'
//! value net of discount, the NF-e's.
//!
//! Tracking ([`App::track_labels`]): a bounded sweep over the open labels' index (never the
//! table), those asked about longest ago first. Posted with a tracking code: the order is shipped
//! with it (if invoiced and not shipped yet); delivered: shipped if need be, then delivered;
//! failed: recorded on the label for the admin and logged as a warning. A delivered or failed
//! label leaves the index. Each order move is the ordinary one under the order's version, and
//! each label write is under the label's: a sweep racing another sweep or an admin re-reads
//! rather than moving anything twice.

use vitrine_domain::Timestamp;
use vitrine_domain::catalog::Dimensions;
use vitrine_domain::order::{Order, OrderStatus};

use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::orders::OrderMove;
use crate::ports::ShippingError;
use crate::ports::shipping::{Label, LabelRequest, Recipient, Tracking, TrackingState};
use crate::snapshot::ProductKey;
use crate::store::labels::{LabelState, ShippingLabel};
use crate::store::{self, Batch, Part};

/// How long after its claim a purchase nobody heard the end of may be released by an admin.
pub const CLAIM_RELEASABLE_AFTER_MS: i64 = 10 * 60 * 1_000;

/// The most labels one tracking sweep asks the carrier about.
pub const TRACK_PER_RUN: usize = 100;

/// The answer to a store on its own rate table.
pub const NO_LABELS: &str = "this store's shipping is its own rate table: no labels to buy";

/// An order's label as the admin sees it.
#[derive(Debug, Clone)]
pub struct LabelView {
    /// The Shipping adapter in use (`table`, `melhorenvio`).
    pub carrier: &'static str,
    /// Whether it sells labels (not the rate table).
    pub sells_labels: bool,
    pub label: Option<ShippingLabel>,
    /// A claim the admin may release now.
    pub releasable: bool,
}

/// What one tracking sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tracked {
    /// Labels asked about.
    pub asked: usize,
    pub shipped: usize,
    pub delivered: usize,
    pub failed: usize,
    /// Labels whose carrier did not answer (the sweep stops at the first).
    pub unanswered: usize,
}

impl App {
    fn sells_labels(&self) -> bool {
        self.ports.shipping.is_some()
    }

    /// The label of order `order_id` (none when none was claimed), and what the admin may do.
    pub async fn shipping_label(&self, order_id: &str) -> AppResult<LabelView> {
        let order = self.load_order(order_id).await?;
        let label = store::labels::load(&*self.ports.table, &order.id).await?;
        let now = self.ports.clock.now();
        Ok(LabelView {
            carrier: self.carrier().name(),
            sells_labels: self.sells_labels(),
            releasable: label.as_ref().is_some_and(|l| releasable(l, now)),
            label,
        })
    }

    /// Buy the label of order `order_id` from the carrier (see the module docs): once, whoever
    /// asks and however often.
    pub async fn buy_shipping_label(
        &self,
        who: &Principal,
        order_id: &str,
    ) -> AppResult<ShippingLabel> {
        if !self.sells_labels() {
            return Err(AppError::Rule(NO_LABELS.into()));
        }
        let order = self.load_order(order_id).await?;
        // A second click meets the first one's label before anything else.
        if let Some(l) = store::labels::load(&*self.ports.table, &order.id).await?
            && l.state != LabelState::Refused
        {
            return Err(AppError::Conflict(already(&l)));
        }
        self.check_label_wanted(&order)?;
        let request = self.label_request(&order).await?;
        let mut label = self.claim_label(who, &order).await?;
        let outcome = self.carrier().buy_label(&request).await;
        let claimed = label.version;
        label.version += 1;
        let failure = match outcome {
            Ok(bought) => {
                record_bought(&mut label, bought, self.ports.clock.now());
                self.complete_purchase(&label, claimed).await?;
                if let Some(code) = label.tracking_code.clone()
                    && let Err(e) = self.ship_with(&order.id, &code).await
                {
                    // The label is bought and recorded: the tracking sweep ships the order.
                    tracing::warn!(order.id = %order.id, error = %e, "label bought; the order was not shipped yet");
                }
                return Ok(label);
            }
            Err(ShippingError::Refused(why)) => {
                label.state = LabelState::Refused;
                label.note = Some(why.clone());
                AppError::Rule(format!("the carrier refused the label: {why}"))
            }
            Err(ShippingError::Unsupported(what)) => {
                label.state = LabelState::Refused;
                label.note = Some(what.to_owned());
                AppError::Rule(what.to_owned())
            }
            Err(ShippingError::Unavailable(e)) => {
                // Whether the carrier sold it is unknown: the claim stays until someone looks.
                label.note = Some(
                    "the carrier did not answer: check its panel for a label of this order before releasing the claim"
                        .into(),
                );
                tracing::warn!(order.id = %order.id, error = %format!("{e:#}"), "label purchase outcome unknown");
                AppError::Unavailable(e.context("buying a shipping label"))
            }
        };
        let mut batch = Batch::new();
        batch.save_label(&label, Some(claimed))?;
        self.write(batch).await?;
        Err(failure)
    }

    /// Release a purchase claim nobody heard the end of (the module docs): allowed once the
    /// call is known to have ended, or [`CLAIM_RELEASABLE_AFTER_MS`] after the claim.
    pub async fn release_label_claim(
        &self,
        who: &Principal,
        order_id: &str,
    ) -> AppResult<LabelView> {
        let order = self.load_order(order_id).await?;
        let label = store::labels::load(&*self.ports.table, &order.id)
            .await?
            .ok_or(AppError::NotFound("label"))?;
        let now = self.ports.clock.now();
        if label.state != LabelState::Buying {
            return Err(AppError::Rule(format!(
                "the label is {}: there is no purchase claim to release",
                label.state.as_str()
            )));
        }
        if !releasable(&label, now) {
            return Err(AppError::Conflict(format!(
                "the label is being bought since {} ms: it may be released {} minutes after that",
                label.claimed_at.millis(),
                CLAIM_RELEASABLE_AFTER_MS / 60_000
            )));
        }
        let mut batch = Batch::new();
        batch.delete_label(&order.id, label.version);
        match self.write(batch).await {
            Ok(()) => {}
            Err(e) if e.part() == Some(&Part::Label) => {
                return Err(AppError::VersionMismatch("label"));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::warn!(order.id = %order.id, by = %who.sub, "label purchase claim released");
        self.shipping_label(&order.id).await
    }

    /// Ask the carrier where the open labels are and move their orders (the module docs): at
    /// most [`TRACK_PER_RUN`] labels, those asked about longest ago first. Safe to run
    /// concurrently with itself and with the admin's moves.
    pub async fn track_labels(&self) -> AppResult<Tracked> {
        let mut tracked = Tracked::default();
        if !self.sells_labels() {
            return Ok(tracked);
        }
        let page = self
            .ports
            .table
            .query(store::labels::open(TRACK_PER_RUN))
            .await?;
        for item in &page.items {
            let listed: ShippingLabel = store::decode(item)?;
            let Some(label_id) = listed.label_id.clone() else {
                continue;
            };
            tracked.asked += 1;
            match self.carrier().track(&label_id).await {
                Ok(t) => self.follow(&listed.order_id, t, &mut tracked).await?,
                Err(ShippingError::Unavailable(e)) => {
                    tracked.unanswered += 1;
                    tracing::warn!(carrier = self.carrier().name(), error = %format!("{e:#}"), "tracking: the carrier did not answer; the next run goes on");
                    break;
                }
                Err(e) => {
                    tracing::warn!(order.id = %listed.order_id, label.id = %label_id, error = %e, "tracking: the carrier refused");
                    self.note_checked(&listed.order_id, None).await?;
                }
            }
        }
        Ok(tracked)
    }

    /// Apply what the carrier says of an order's label: to the order, then to the label.
    async fn follow(&self, order_id: &str, t: Tracking, tracked: &mut Tracked) -> AppResult<()> {
        let code = t.tracking_code.as_deref();
        match t.state {
            TrackingState::Pending => {}
            TrackingState::Posted => {
                if let Some(code) = code
                    && self.ship_with(order_id, code).await?
                {
                    tracked.shipped += 1;
                }
            }
            TrackingState::Delivered => {
                if let Some(code) = code
                    && self.ship_with(order_id, code).await?
                {
                    tracked.shipped += 1;
                }
                if self.deliver_shipped(order_id).await? {
                    tracked.delivered += 1;
                }
            }
            TrackingState::Failed => {
                tracked.failed += 1;
                tracing::warn!(order.id = %order_id, "tracking: the carrier reports the parcel failed (cancelled, returned or lost)");
            }
        }
        self.note_checked(order_id, Some(t)).await
    }

    /// Record on the label that the carrier was asked now, with its answer: re-read and applied
    /// again when someone else wrote the label meanwhile.
    async fn note_checked(&self, order_id: &str, answer: Option<Tracking>) -> AppResult<()> {
        for _ in 0..5 {
            let Some(mut label) = store::labels::load(&*self.ports.table, order_id).await? else {
                return Ok(());
            };
            if !label.state.open() {
                return Ok(());
            }
            let read = label.version;
            label.version += 1;
            label.checked_at = Some(self.ports.clock.now());
            if let Some(t) = &answer {
                apply_tracking(&mut label, t);
            }
            let mut batch = Batch::new();
            batch.save_label(&label, Some(read))?;
            match self.write(batch).await {
                Ok(()) => return Ok(()),
                Err(e) if e.part() == Some(&Part::Label) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the label is changing too fast; try again".into(),
        ))
    }

    /// Ship order `order_id` with `code` if it is invoiced; whether this call shipped it. An
    /// order not invoiced yet waits (goods travel with their NF-e); one shipped or moved on by
    /// someone else is left as it is.
    async fn ship_with(&self, order_id: &str, code: &str) -> AppResult<bool> {
        let order = self.load_order(order_id).await?;
        if order.status != OrderStatus::Invoiced {
            return Ok(false);
        }
        let mv = OrderMove::Ship {
            tracking_code: code.to_owned(),
        };
        match self.move_order(order_id, None, mv).await {
            Ok(_) => Ok(true),
            // Shipped by hand or by another sweep since it was read.
            Err(AppError::Rule(why)) => {
                tracing::info!(order.id = %order_id, %why, "label: the order was not shipped");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Mark order `order_id` delivered if it is shipped; whether this call did.
    async fn deliver_shipped(&self, order_id: &str) -> AppResult<bool> {
        if self.load_order(order_id).await?.status != OrderStatus::Shipped {
            return Ok(false);
        }
        match self.move_order(order_id, None, OrderMove::Deliver).await {
            Ok(_) => Ok(true),
            Err(AppError::Rule(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Refuse a label for an order that cannot have one now.
    fn check_label_wanted(&self, order: &Order) -> AppResult<()> {
        match order.status {
            // Goods travel with their NF-e: a store that issues them waits for it.
            OrderStatus::Paid if self.ports.fiscal.is_some() => Err(AppError::Rule(
                "the label carries the order's NF-e: buy it once the NF-e is issued".into(),
            )),
            OrderStatus::Paid | OrderStatus::Invoiced => {
                if order.erased_at.is_some() {
                    return Err(AppError::Rule(
                        "the buyer's data was erased from this order: there is no one to address it to".into(),
                    ));
                }
                Ok(())
            }
            other => Err(AppError::Rule(format!(
                "a label is bought for a paid or invoiced order; this one is {other}"
            ))),
        }
    }

    /// Claim the purchase of `order`'s label: the record in `buying`, written only if none is
    /// there (or the refused one read is unchanged). A claim someone else holds is a 409.
    async fn claim_label(&self, who: &Principal, order: &Order) -> AppResult<ShippingLabel> {
        let existing = store::labels::load(&*self.ports.table, &order.id).await?;
        let read = match &existing {
            None => None,
            Some(l) if l.state == LabelState::Refused => Some(l.version),
            Some(l) => return Err(AppError::Conflict(already(l))),
        };
        let label = ShippingLabel {
            order_id: order.id.clone(),
            state: LabelState::Buying,
            carrier: self.carrier().name().to_owned(),
            method_id: order.shipping.method_id.clone(),
            claimed_at: self.ports.clock.now(),
            claimed_by: who.email.clone().unwrap_or_else(|| who.sub.clone()),
            label_id: None,
            tracking_code: None,
            print_url: None,
            price: None,
            bought_at: None,
            checked_at: None,
            note: None,
            version: read.map_or(1, |v| v + 1),
        };
        let mut batch = Batch::new();
        batch.save_label(&label, read)?;
        match self.write(batch).await {
            Ok(()) => Ok(label),
            Err(e) if e.part() == Some(&Part::Label) => {
                let now = store::labels::load(&*self.ports.table, &order.id).await?;
                Err(AppError::Conflict(now.as_ref().map_or_else(
                    || "another purchase of this label just ended; reload".to_owned(),
                    already,
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Save the bought label over its claim. The claim cannot have been released meanwhile
    /// unless the call outlived [`CLAIM_RELEASABLE_AFTER_MS`]; if it was, the label is saved
    /// over whatever a release left (nothing, or a refusal), and a second purchase racing it is
    /// reported loudly: the carrier sold two.
    async fn complete_purchase(&self, label: &ShippingLabel, claimed: u64) -> AppResult<()> {
        let mut batch = Batch::new();
        batch.save_label(label, Some(claimed))?;
        match self.write(batch).await {
            Ok(()) => Ok(()),
            Err(e) if e.part() == Some(&Part::Label) => {
                let now = store::labels::load(&*self.ports.table, &label.order_id).await?;
                tracing::error!(
                    order.id = %label.order_id,
                    label.id = label.label_id.as_deref().unwrap_or_default(),
                    "a label was bought after its claim was released: check the carrier's panel for two labels"
                );
                let read = match &now {
                    Some(l) if l.state != LabelState::Refused => {
                        return Err(AppError::Conflict(format!(
                            "label {} was bought, but its purchase claim had been released and another purchase is recorded: cancel one in the carrier's panel",
                            label.label_id.as_deref().unwrap_or_default()
                        )));
                    }
                    Some(l) => Some(l.version),
                    None => None,
                };
                let mut label = label.clone();
                label.version = read.map_or(1, |v| v + 1);
                let mut batch = Batch::new();
                batch.save_label(&label, read)?;
                self.write(batch).await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What the carrier needs to sell `order`'s label.
    async fn label_request(&self, order: &Order) -> AppResult<LabelRequest> {
        let mut sizes = Vec::with_capacity(order.lines.len());
        for line in &order.lines {
            let variant_box = self
                .cached_product(ProductKey::Sku(&line.sku))
                .await?
                .and_then(|p| p.variant(&line.sku).map(|v| v.dimensions))
                .unwrap_or_default();
            sizes.push((
                Dimensions {
                    weight_g: line.weight_g,
                    ..variant_box
                },
                line.quantity,
            ));
        }
        let a = &order.shipping_address;
        Ok(LabelRequest {
            method_id: order.shipping.method_id.clone(),
            order_id: order.id.clone(),
            recipient: Recipient {
                name: a.recipient.clone(),
                tax_id: order.buyer.tax_id.as_str().to_owned(),
                email: order.buyer.email.clone(),
                phone: order.buyer.phone.clone(),
                street: a.street.clone(),
                number: a.number.clone(),
                complement: a.complement.clone(),
                district: a.district.clone(),
                city: a.city.clone(),
                uf: a.uf.as_str().to_owned(),
                cep: a.cep.clone(),
            },
            parcel: crate::shipping::parcel_of(&sizes),
            declared: order
                .subtotal
                .checked_sub(order.discount)
                .unwrap_or(order.subtotal),
            invoice_key: order.invoice_key.clone(),
        })
    }
}

/// Whether an admin may release `label`'s claim at `now`.
fn releasable(label: &ShippingLabel, now: Timestamp) -> bool {
    label.state == LabelState::Buying
        && (label.note.is_some()
            || now.millis() - label.claimed_at.millis() >= CLAIM_RELEASABLE_AFTER_MS)
}

/// Why a label cannot be claimed again: what its record says.
fn already(l: &ShippingLabel) -> String {
    match l.state {
        LabelState::Buying => format!(
            "this order's label is being bought since {} ms (by {}): wait, or check the carrier's panel",
            l.claimed_at.millis(),
            l.claimed_by
        ),
        state => format!(
            "this order already has a label ({}, carrier id {})",
            state.as_str(),
            l.label_id.as_deref().unwrap_or("unknown")
        ),
    }
}

/// `label` as the carrier sold it at `now`.
fn record_bought(label: &mut ShippingLabel, bought: Label, now: Timestamp) {
    label.state = LabelState::Bought;
    label.label_id = Some(bought.id);
    label.tracking_code = bought.tracking_code;
    label.print_url = bought.print_url;
    label.price = Some(bought.price);
    label.bought_at = Some(now);
    label.note = None;
}

/// `label` as the carrier now says it is.
fn apply_tracking(label: &mut ShippingLabel, t: &Tracking) {
    if let Some(code) = &t.tracking_code {
        label.tracking_code = Some(code.clone());
    }
    match t.state {
        TrackingState::Pending => {}
        TrackingState::Posted => label.state = LabelState::Posted,
        TrackingState::Delivered => label.state = LabelState::Delivered,
        TrackingState::Failed => {
            label.state = LabelState::Failed;
            label.note = Some("the carrier reports the parcel cancelled, returned or lost".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use vitrine_domain::Money;
    use vitrine_domain::shipping::Quote;

    use super::*;
    use crate::notify::testing::{CountingTable, Harness, INVOICE_KEY, ORDER_ID};
    use crate::ports::shipping::QuoteRequest;
    use crate::ports::{Shipping, Table};

    /// A carrier that sells labels as the test scripts: each purchase answers the next scripted
    /// outcome (a label by default), optionally held until the test lets it go; tracking
    /// answers the state set.
    #[derive(Default)]
    struct ScriptedCarrier {
        outcomes: Mutex<VecDeque<Result<(), ShippingError>>>,
        /// Purchases the carrier completed (money spent).
        sold: Mutex<Vec<LabelRequest>>,
        hold: Option<Arc<tokio::sync::Semaphore>>,
        tracking: Mutex<Option<Tracking>>,
        code_at_purchase: Option<&'static str>,
    }

    #[async_trait]
    impl Shipping for ScriptedCarrier {
        fn name(&self) -> &'static str {
            "scripted"
        }
        async fn quote(&self, _: &QuoteRequest) -> Result<Vec<Quote>, ShippingError> {
            Ok(Vec::new())
        }
        async fn buy_label(&self, request: &LabelRequest) -> Result<Label, ShippingError> {
            if let Some(hold) = &self.hold {
                hold.acquire().await.unwrap().forget();
            }
            let next = self.outcomes.lock().unwrap().pop_front().unwrap_or(Ok(()));
            next?;
            let mut sold = self.sold.lock().unwrap();
            sold.push(request.clone());
            Ok(Label {
                id: format!("ME-{}", sold.len()),
                tracking_code: self.code_at_purchase.map(str::to_owned),
                print_url: Some("https://carrier.test/print/1".into()),
                price: Money::from_centavos(2_487),
            })
        }
        async fn track(&self, _: &str) -> Result<Tracking, ShippingError> {
            self.tracking
                .lock()
                .unwrap()
                .clone()
                .ok_or_else(|| ShippingError::Unavailable(anyhow::anyhow!("no answer")))
        }
    }

    fn admin() -> Principal {
        Principal {
            sub: "admin-sub".into(),
            groups: vec!["admin".into()],
            username: None,
            email: Some("dona@loja.test".into()),
            session: None,
            issued_at: 0,
        }
    }

    async fn invoiced_order_with(carrier: Arc<ScriptedCarrier>) -> Harness {
        let h = Harness::with_shipping(carrier);
        h.order_reaching("order.invoiced").await;
        h
    }

    fn tracking(state: TrackingState, code: Option<&str>) -> Option<Tracking> {
        Some(Tracking {
            state,
            tracking_code: code.map(str::to_owned),
        })
    }

    #[tokio::test]
    async fn a_label_bought_ships_the_invoiced_order_with_its_code_and_is_never_bought_again() {
        let carrier = Arc::new(ScriptedCarrier {
            code_at_purchase: Some("BR123456789"),
            ..Default::default()
        });
        let h = invoiced_order_with(carrier.clone()).await;

        let label = h.app.buy_shipping_label(&admin(), ORDER_ID).await.unwrap();

        assert_eq!(label.state, LabelState::Bought);
        assert_eq!(label.tracking_code.as_deref(), Some("BR123456789"));
        assert_eq!(label.price, Some(Money::from_centavos(2_487)));
        let order = h.order().await;
        assert_eq!(order.status, OrderStatus::Shipped);
        assert_eq!(order.tracking_code.as_deref(), Some("BR123456789"));
        let sold = carrier.sold.lock().unwrap().clone();
        assert_eq!(sold.len(), 1);
        // The request carries the NF-e key, the goods net of discount and the buyer's address.
        assert_eq!(sold[0].invoice_key.as_deref(), Some(INVOICE_KEY));
        assert_eq!(sold[0].declared, Money::from_centavos(120_000));
        assert_eq!(sold[0].recipient.cep.as_str(), "01310100");
        assert_eq!(sold[0].method_id, "sedex");
        // 3 units of 300 g; no catalog variant (deleted since): the smallest box.
        assert_eq!(sold[0].parcel.weight_g, 900);
        assert_eq!(sold[0].parcel.length_cm, 16);

        let again = h.app.buy_shipping_label(&admin(), ORDER_ID).await;
        assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
        assert_eq!(carrier.sold.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn two_purchases_at_once_buy_one_label() {
        let hold = Arc::new(tokio::sync::Semaphore::new(0));
        let carrier = Arc::new(ScriptedCarrier {
            hold: Some(hold.clone()),
            ..Default::default()
        });
        let h = invoiced_order_with(carrier.clone()).await;
        let (a, b) = (h.app.clone(), h.app.clone());
        let first = tokio::spawn(async move { a.buy_shipping_label(&admin(), ORDER_ID).await });
        let second = tokio::spawn(async move { b.buy_shipping_label(&admin(), ORDER_ID).await });
        // One is refused at the claim while the other waits on the carrier.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        hold.add_permits(2);
        let results = [first.await.unwrap(), second.await.unwrap()];

        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(AppError::Conflict(m)) if m.contains("being bought"))),
            "{results:?}"
        );
        assert_eq!(carrier.sold.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_refusal_releases_the_claim_with_the_carriers_message() {
        let carrier = Arc::new(ScriptedCarrier::default());
        carrier
            .outcomes
            .lock()
            .unwrap()
            .push_back(Err(ShippingError::Refused("Saldo insuficiente".into())));
        let h = invoiced_order_with(carrier.clone()).await;

        let refused = h.app.buy_shipping_label(&admin(), ORDER_ID).await;
        assert!(
            matches!(&refused, Err(AppError::Rule(m)) if m.contains("Saldo insuficiente")),
            "{refused:?}"
        );
        let view = h.app.shipping_label(ORDER_ID).await.unwrap();
        let label = view.label.unwrap();
        assert_eq!(label.state, LabelState::Refused);
        assert_eq!(label.note.as_deref(), Some("Saldo insuficiente"));

        // Bought on the next try, once.
        let label = h.app.buy_shipping_label(&admin(), ORDER_ID).await.unwrap();
        assert_eq!(label.state, LabelState::Bought);
        assert_eq!(carrier.sold.lock().unwrap().len(), 1);
        // No tracking code yet: the order waits for the carrier to post it.
        assert_eq!(h.order().await.status, OrderStatus::Invoiced);
    }

    #[tokio::test]
    async fn a_purchase_nobody_heard_the_end_of_keeps_its_claim_until_an_admin_releases_it() {
        let carrier = Arc::new(ScriptedCarrier::default());
        carrier
            .outcomes
            .lock()
            .unwrap()
            .push_back(Err(ShippingError::Unavailable(anyhow::anyhow!("timeout"))));
        let h = invoiced_order_with(carrier.clone()).await;

        let lost = h.app.buy_shipping_label(&admin(), ORDER_ID).await;
        assert!(matches!(lost, Err(AppError::Unavailable(_))), "{lost:?}");
        let view = h.app.shipping_label(ORDER_ID).await.unwrap();
        assert_eq!(view.label.as_ref().unwrap().state, LabelState::Buying);
        assert!(view.label.unwrap().note.unwrap().contains("panel"));
        assert!(view.releasable, "the call ended: the admin may release it");
        let again = h.app.buy_shipping_label(&admin(), ORDER_ID).await;
        assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");

        let view = h.app.release_label_claim(&admin(), ORDER_ID).await.unwrap();
        assert!(view.label.is_none());
        h.app.buy_shipping_label(&admin(), ORDER_ID).await.unwrap();
        assert_eq!(carrier.sold.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_claim_left_by_a_crash_is_released_only_after_ten_minutes() {
        let h = invoiced_order_with(Arc::new(ScriptedCarrier::default())).await;
        // What a process that died mid-call leaves: a claim and nothing else.
        let order = h.order().await;
        h.app.claim_label(&admin(), &order).await.unwrap();

        let early = h.app.release_label_claim(&admin(), ORDER_ID).await;
        assert!(matches!(early, Err(AppError::Conflict(_))), "{early:?}");
        assert!(!h.app.shipping_label(ORDER_ID).await.unwrap().releasable);
        h.clock.advance_secs(CLAIM_RELEASABLE_AFTER_MS / 1_000);
        let view = h.app.release_label_claim(&admin(), ORDER_ID).await.unwrap();
        assert!(view.label.is_none());
    }

    #[tokio::test]
    async fn a_store_on_its_rate_table_has_no_labels_to_buy() {
        let h = Harness::new();
        h.order_reaching("order.invoiced").await;
        let err = h.app.buy_shipping_label(&admin(), ORDER_ID).await;
        assert!(
            matches!(&err, Err(AppError::Rule(m)) if m == NO_LABELS),
            "{err:?}"
        );
        assert_eq!(h.app.track_labels().await.unwrap(), Tracked::default());
    }

    #[tokio::test]
    async fn only_paid_or_invoiced_orders_get_a_label() {
        let h = Harness::with_shipping(Arc::new(ScriptedCarrier::default()));
        h.order_reaching("order.shipped").await;
        let err = h.app.buy_shipping_label(&admin(), ORDER_ID).await;
        assert!(
            matches!(&err, Err(AppError::Rule(m)) if m.contains("shipped")),
            "{err:?}"
        );
        assert!(
            h.app
                .shipping_label(ORDER_ID)
                .await
                .unwrap()
                .label
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_sweep_ships_posted_labels_delivers_delivered_ones_and_reads_only_the_index() {
        let carrier = Arc::new(ScriptedCarrier::default());
        let h = invoiced_order_with(carrier.clone()).await;
        h.app.buy_shipping_label(&admin(), ORDER_ID).await.unwrap();
        // Labels of other orders, delivered long ago: out of the index, read by no sweep.
        for n in 0..30 {
            let mut done = h.app.shipping_label(ORDER_ID).await.unwrap().label.unwrap();
            done.order_id = format!("OTHER{n}");
            done.state = LabelState::Delivered;
            done.version = 1;
            let mut batch = Batch::new();
            batch.save_label(&done, None).unwrap();
            h.app.write(batch).await.unwrap();
        }
        let counting = Arc::new(CountingTable::new(h.table.clone() as Arc<dyn Table>));
        let app = sweeper_on(&h, counting.clone(), carrier.clone());

        // Not posted yet: nothing moves.
        *carrier.tracking.lock().unwrap() = tracking(TrackingState::Pending, None);
        assert_eq!(app.track_labels().await.unwrap().asked, 1);
        assert_eq!(h.order().await.status, OrderStatus::Invoiced);

        *carrier.tracking.lock().unwrap() = tracking(TrackingState::Posted, Some("QB987654321BR"));
        counting.take_partitions();
        let run = app.track_labels().await.unwrap();
        assert_eq!((run.asked, run.shipped), (1, 1));
        let order = h.order().await;
        assert_eq!(order.status, OrderStatus::Shipped);
        assert_eq!(order.tracking_code.as_deref(), Some("QB987654321BR"));
        let read = counting.take_partitions();
        let own = crate::store::order(ORDER_ID).pk;
        assert!(read.iter().all(|pk| *pk == own), "{read:?}");

        // A second sweep (or one racing it) moves nothing twice.
        assert_eq!(app.track_labels().await.unwrap().shipped, 0);

        *carrier.tracking.lock().unwrap() =
            tracking(TrackingState::Delivered, Some("QB987654321BR"));
        let run = app.track_labels().await.unwrap();
        assert_eq!((run.shipped, run.delivered), (0, 1));
        assert_eq!(h.order().await.status, OrderStatus::Delivered);
        let label = h.app.shipping_label(ORDER_ID).await.unwrap().label.unwrap();
        assert_eq!(label.state, LabelState::Delivered);
        // Out of the index: the next sweep asks about nothing.
        assert_eq!(app.track_labels().await.unwrap(), Tracked::default());
    }

    #[tokio::test]
    async fn a_failed_parcel_is_recorded_for_the_admin_and_leaves_the_index() {
        let carrier = Arc::new(ScriptedCarrier::default());
        let h = invoiced_order_with(carrier.clone()).await;
        h.app.buy_shipping_label(&admin(), ORDER_ID).await.unwrap();
        *carrier.tracking.lock().unwrap() = tracking(TrackingState::Failed, None);

        let run = h.app.track_labels().await.unwrap();

        assert_eq!(run.failed, 1);
        let label = h.app.shipping_label(ORDER_ID).await.unwrap().label.unwrap();
        assert_eq!(label.state, LabelState::Failed);
        assert!(label.note.is_some());
        assert_eq!(h.order().await.status, OrderStatus::Invoiced);
        assert_eq!(h.app.track_labels().await.unwrap().asked, 0);
    }

    #[tokio::test]
    async fn a_carrier_that_does_not_answer_ends_the_sweep_and_moves_nothing() {
        let carrier = Arc::new(ScriptedCarrier::default());
        let h = invoiced_order_with(carrier.clone()).await;
        h.app.buy_shipping_label(&admin(), ORDER_ID).await.unwrap();

        let run = h.app.track_labels().await.unwrap();

        assert_eq!((run.asked, run.unanswered), (1, 1));
        let label = h.app.shipping_label(ORDER_ID).await.unwrap().label.unwrap();
        assert_eq!(label.state, LabelState::Bought);
    }

    /// Another app on the harness's data, reading through `table`, with `carrier`.
    fn sweeper_on(
        h: &Harness,
        table: Arc<CountingTable>,
        carrier: Arc<ScriptedCarrier>,
    ) -> Arc<App> {
        let mut ports = h.app.ports.clone();
        ports.table = table;
        ports.shipping = Some(carrier);
        App::new(ports, h.app.settings.clone())
    }
}
