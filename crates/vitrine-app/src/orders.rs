//! Order use cases after checkout: reading (scoped to the owner), and the lifecycle moves.
//!
//! Every move reads the order, applies the domain transition, and writes the new order
//! conditioned on the version it read, together with its event and what the move gives back
//! ([`App::give_back`]): for a move out of the unpaid states (paid, cancelled, expired) the
//! order's place among its customer's unpaid holds, and for moves that unwind an order the
//! stock and the coupon use. Two racing moves (an admin cancel and an expiry sweep, say): one
//! wins, the other re-reads and is refused by the state machine, so each comes back once.

use vitrine_domain::Event;
use vitrine_domain::order::{Order, OrderStatus, Unwind};

use crate::app::App;
use crate::auth::{Principal, StaffArea};
use crate::error::{AppError, AppResult};
use crate::ports::Query;
use crate::store::unpaid::Release;
use crate::store::{self, Batch, Pager, Part, WriteFailed};

#[derive(Debug, Clone)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub next: Option<String>,
}

/// A lifecycle move an admin (or the system) asks for.
#[derive(Debug, Clone)]
pub enum OrderMove {
    MarkPaid {
        reference: String,
    },
    /// The NF-e was authorised: record its access key. Moved by the invoice issuer, not the API.
    Invoice {
        access_key: String,
    },
    Ship {
        tracking_code: String,
    },
    Deliver,
    Cancel {
        reason: String,
    },
    Expire,
}

impl App {
    pub(crate) async fn load_order(&self, id: &str) -> AppResult<Order> {
        if id.is_empty() || id.len() > 64 {
            return Err(AppError::NotFound("order"));
        }
        store::orders::load(&*self.ports.table, id)
            .await?
            .ok_or(AppError::NotFound("order"))
    }

    /// An order as its owner (or staff who handle orders) sees it. Someone else's order is a 404, not a 403:
    /// the answer must not reveal that the id exists.
    pub async fn order_for(&self, who: &Principal, id: &str) -> AppResult<Order> {
        let order = self.load_order(id).await?;
        if order.customer_id != who.sub && !who.may(StaffArea::Orders) {
            return Err(AppError::NotFound("order"));
        }
        Ok(order)
    }

    /// The caller's orders, newest first.
    pub async fn my_orders(
        &self,
        who: &Principal,
        limit: usize,
        after: Option<String>,
    ) -> AppResult<OrderPage> {
        self.order_page(store::orders::of_customer(&who.sub), limit, after)
            .await
    }

    /// Orders in a status, newest first (admin).
    pub async fn orders_in_status(
        &self,
        status: OrderStatus,
        limit: usize,
        after: Option<String>,
    ) -> AppResult<OrderPage> {
        self.order_page(store::orders::in_status(status), limit, after)
            .await
    }

    async fn order_page(
        &self,
        query: Query,
        limit: usize,
        after: Option<String>,
    ) -> AppResult<OrderPage> {
        let (items, next) = store::one_page(
            &*self.ports.table,
            query.backward(),
            limit.clamp(1, 100),
            after,
        )
        .await?;
        let items = items
            .iter()
            .map(store::decode)
            .collect::<AppResult<Vec<Order>>>()?;
        Ok(OrderPage { items, next })
    }

    /// A customer cancels their own unpaid order.
    pub async fn cancel_my_order(&self, who: &Principal, id: &str) -> AppResult<Order> {
        let order = self.order_for(who, id).await?;
        if !order.status.awaits_payment() {
            return Err(AppError::Rule(
                "only unpaid orders can be cancelled here; contact the shop".into(),
            ));
        }
        self.move_order(
            id,
            None,
            OrderMove::Cancel {
                reason: "cancelled by the customer".into(),
            },
        )
        .await
    }

    /// Apply a lifecycle move. With `expected_version`, refuse if the order changed since.
    pub async fn move_order(
        &self,
        id: &str,
        expected_version: Option<u64>,
        mv: OrderMove,
    ) -> AppResult<Order> {
        for _ in 0..5 {
            let mut order = self.load_order(id).await?;
            if expected_version.is_some_and(|v| v != order.version) {
                return Err(AppError::VersionMismatch("order"));
            }
            let read_version = order.version;
            let was_unpaid = order.status.awaits_payment();
            let now = self.ports.clock.now();
            let (event, unwind): (Event, Unwind) = match &mv {
                OrderMove::MarkPaid { reference } => {
                    (order.pay(now, reference)?, Unwind::default())
                }
                OrderMove::Invoice { access_key } => {
                    (order.invoice(now, access_key)?, Unwind::default())
                }
                OrderMove::Ship { tracking_code } => {
                    (order.ship(now, tracking_code)?, Unwind::default())
                }
                OrderMove::Deliver => (order.deliver(now)?, Unwind::default()),
                OrderMove::Cancel { reason } => order.cancel(now, reason)?,
                OrderMove::Expire => order.expire(now)?,
            };
            let mut batch = Batch::new();
            batch.save_moved_order(
                &order,
                read_version,
                &self.ports.ids.new_id(),
                &event,
                now.millis(),
            )?;
            self.give_back(&mut batch, &order, was_unpaid, unwind)
                .await?;
            match self.write(batch).await {
                Ok(()) => {
                    tracing::info!(order.id = %order.id, order.status = %order.status, "order moved");
                    return Ok(order);
                }
                // The order changed under us: re-read and let the state machine decide again.
                Err(e) if e.part() == Some(&Part::Order) && expected_version.is_none() => continue,
                Err(e) if e.part() == Some(&Part::Order) => {
                    return Err(AppError::VersionMismatch("order"));
                }
                // A SKU vanished between the check and the write, or a counter given back to
                // changed: read again.
                Err(WriteFailed::Condition { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the order is changing too fast; try again".into(),
        ))
    }

    /// Add to `batch` what `order`'s move gives back: its place among its customer's unpaid
    /// holds when it has just left the unpaid states (`was_unpaid`), and, when the move unwinds
    /// it, its stock and its coupon use (every cancellation and expiry: an order that did not
    /// happen does not spend a coupon). The counts are read first; each operation is
    /// conditioned on what was read, and the caller reads again when one no longer holds.
    pub(crate) async fn give_back(
        &self,
        batch: &mut Batch,
        order: &Order,
        was_unpaid: bool,
        unwind: Unwind,
    ) -> AppResult<()> {
        let table = &*self.ports.table;
        if was_unpaid && !order.status.awaits_payment() {
            let read = store::unpaid::load(table, &order.customer_id).await?;
            batch.release_unpaid(
                &order.customer_id,
                Release::of(read, store::unpaid::units_of(order)),
            );
        }
        if !unwind.restock {
            return Ok(());
        }
        for line in &order.lines {
            // A SKU deleted since the sale has no stock to return to.
            if self.available(&line.sku).await?.is_some() {
                batch.return_stock(line.sku.as_str(), i64::from(line.quantity));
            }
        }
        if let Some(code) = &order.coupon {
            let total = store::coupons::load(table, code)
                .await?
                .map_or(0, |c| i64::from(c.used));
            let by_customer = store::coupons::uses_by(table, code, &order.customer_id).await?;
            batch.return_coupon_use(code, &order.customer_id, total, by_customer);
        }
        Ok(())
    }

    /// Expire every unpaid order past its deadline. Safe to run concurrently with itself and
    /// with payments: each order moves at most once. Returns how many expired.
    pub async fn expire_overdue(&self) -> AppResult<usize> {
        let now = self.ports.clock.now();
        let mut expired = 0;
        for status in [OrderStatus::PendingPayment, OrderStatus::PaymentFailed] {
            let mut pages = Pager::new(
                &*self.ports.table,
                store::orders::in_status(status).limit(200),
            );
            while let Some(items) = pages.next_page().await? {
                for item in &items {
                    let order: Order = store::decode(item)?;
                    if order.pay_by <= now {
                        match self.move_order(&order.id, None, OrderMove::Expire).await {
                            Ok(_) => expired += 1,
                            // Paid or expired by someone else meanwhile.
                            Err(AppError::Rule(_)) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        Ok(expired)
    }
}
