//! Withdrawal and returns (CDC art. 49, [docs/returns.md]): the buyer opens a return within 7
//! days of delivery; the shop marks the goods received (their units back in stock), then
//! approves it (the amount refunded through the payment provider, with the payments' partial
//! refund machinery) or refuses it with a reason.
//!
//! Every step is a move of the order that holds the return, written in one batch with its
//! event, the return's entry in the admin's list, and what the step gives back (stock, a
//! refund), under the version condition of the order it read. Two concurrent clicks: one wins,
//! the other re-reads and is refused by the state machine, so stock comes back once and money
//! goes back once.

use vitrine_domain::Event;
use vitrine_domain::order::Order;
use vitrine_domain::returns::ReturnWanted;

use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::store::returns::ReturnEntry;
use crate::store::{self, Batch, Part, WriteFailed};

/// One page of the admin's list of returns.
#[derive(Debug, Clone)]
pub struct ReturnPage {
    pub items: Vec<ReturnEntry>,
    pub next: Option<String>,
}

/// A step the shop takes on a return.
#[derive(Debug, Clone)]
pub enum ReturnStep {
    Receive,
    Approve,
    Refuse { reason: String },
}

impl App {
    /// The buyer withdraws from (part of) their delivered order: `wanted` lines and a reason.
    pub async fn request_return(
        &self,
        who: &Principal,
        order_id: &str,
        wanted: &[ReturnWanted],
        reason: &str,
    ) -> AppResult<Order> {
        let order = self.load_order(order_id).await?;
        // Only the buyer withdraws; anyone else's order does not exist for them.
        if order.customer_id != who.sub {
            return Err(AppError::NotFound("order"));
        }
        let return_id = self.ports.ids.new_id();
        for _ in 0..5 {
            let mut order = self.load_order(order_id).await?;
            let read = order.version;
            let now = self.ports.clock.now();
            let event = order.request_return(&return_id, wanted, reason, now)?;
            let mut batch = Batch::new();
            self.save_return_move(&mut batch, &order, read, &return_id, &event)?;
            match self.write(batch).await {
                Ok(()) => {
                    tracing::info!(order.id = %order.id, return.id = %return_id, "return requested");
                    return Ok(order);
                }
                Err(e) if e.part() == Some(&Part::Order) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(too_fast())
    }

    /// The shop takes `step` on `order_id`'s return `return_id`. With `expected_version`,
    /// refuse if the order changed since it was read.
    pub async fn move_return(
        &self,
        order_id: &str,
        return_id: &str,
        expected_version: Option<u64>,
        step: ReturnStep,
    ) -> AppResult<Order> {
        for _ in 0..5 {
            let mut order = self.load_order(order_id).await?;
            if order.find_return(return_id).is_none() {
                return Err(AppError::NotFound("return"));
            }
            if expected_version.is_some_and(|v| v != order.version) {
                return Err(AppError::VersionMismatch("order"));
            }
            let read = order.version;
            let now = self.ports.clock.now();
            let mut batch = Batch::new();
            let event = match &step {
                ReturnStep::Receive => {
                    let (event, units) = order.receive_return(return_id, now)?;
                    for (sku, qty) in units {
                        // A SKU deleted since the sale has no stock to return to.
                        if self.available(&sku).await?.is_some() {
                            batch.return_stock(sku.as_str(), i64::from(qty));
                        }
                    }
                    event
                }
                ReturnStep::Approve => {
                    let payment = self.load_payment(order_id).await?.ok_or_else(|| {
                        AppError::Rule(
                            "this order was not paid through the store: refund it by hand".into(),
                        )
                    })?;
                    let refund_id = self.ports.ids.new_id();
                    let (event, amount) = order.approve_return(return_id, &refund_id, now)?;
                    let reason = format!("return {return_id} (withdrawal, CDC art. 49)");
                    self.add_partial_refund(
                        &mut batch, &order, &payment, &refund_id, amount, &reason,
                    )
                    .map_err(|e| match e {
                        AppError::Invalid(_) => AppError::Rule(
                            "the payment has less left to give back than this return: refund it by hand".into(),
                        ),
                        other => other,
                    })?;
                    event
                }
                ReturnStep::Refuse { reason } => {
                    let (event, units) = order.refuse_return(return_id, reason, now)?;
                    for (sku, qty) in units {
                        if self.available(&sku).await?.is_some() {
                            batch.reserve_stock(sku.as_str(), i64::from(qty));
                        }
                    }
                    event
                }
            };
            self.save_return_move(&mut batch, &order, read, return_id, &event)?;
            match self.write(batch).await {
                Ok(()) => {
                    tracing::info!(order.id = %order.id, return.id = %return_id, step = ?step, "return moved");
                    return Ok(order);
                }
                Err(e) if e.part() == Some(&Part::Order) && expected_version.is_some() => {
                    return Err(AppError::VersionMismatch("order"));
                }
                // The order or its payment changed under us: read again, and let the state
                // machine decide (a second click finds the step taken).
                Err(e) if matches!(e.part(), Some(Part::Order | Part::Payment)) => continue,
                Err(WriteFailed::Condition {
                    part: Part::Stock(sku),
                    ..
                }) => {
                    return Err(AppError::Conflict(format!(
                        "the received units of {sku} are no longer in stock (sold meanwhile); \
                         adjust the stock before refusing the return"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(too_fast())
    }

    /// Every return, open ones first (oldest request first), then decided ones.
    pub async fn returns_page(&self, limit: usize, after: Option<String>) -> AppResult<ReturnPage> {
        let (items, next) = store::one_page(
            &*self.ports.table,
            store::returns::listing(),
            limit.clamp(1, 100),
            after,
        )
        .await?;
        let items = items
            .iter()
            .map(store::decode)
            .collect::<AppResult<Vec<ReturnEntry>>>()?;
        Ok(ReturnPage { items, next })
    }

    fn save_return_move(
        &self,
        batch: &mut Batch,
        order: &Order,
        read: u64,
        return_id: &str,
        event: &Event,
    ) -> AppResult<()> {
        let now = self.ports.clock.now();
        batch.save_moved_order(order, read, &self.ports.ids.new_id(), event, now.millis())?;
        batch.put_return_entry(order, return_id)
    }
}

fn too_fast() -> AppError {
    AppError::Conflict("the order is changing too fast; try again".into())
}
