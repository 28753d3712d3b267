//! Orders: the order item with its index keys (by customer, by status), and the writes that
//! create or move one.

use vitrine_domain::Event;
use vitrine_domain::order::{Order, OrderStatus};

use super::{
    Batch, Part, VERSION, customer_orders, data_item, idempotency, order, orders_in_status,
};
use super::{with_gsi1, with_gsi2};
use crate::error::AppResult;
use crate::ports::table::TTL;
use crate::ports::{Index, Item, Query, Table};

/// The stored item of `order`, with its index keys (customer, status).
pub fn order_item(o: &Order) -> AppResult<Item> {
    let item = data_item(order(&o.id), o)?
        .with(VERSION, o.version as i64)
        .with("status", o.status.as_str());
    let item = with_gsi1(item, customer_orders(&o.customer_id), o.id.clone());
    Ok(with_gsi2(
        item,
        orders_in_status(o.status.as_str()),
        o.id.clone(),
    ))
}

/// The order `id`, if it exists.
pub async fn load(table: &dyn Table, id: &str) -> AppResult<Option<Order>> {
    match table.get(&order(id)).await? {
        Some(item) => Ok(Some(super::decode(&item)?)),
        None => Ok(None),
    }
}

/// A customer's orders, oldest first.
pub fn of_customer(sub: &str) -> Query {
    Query::new(Index::Gsi1, customer_orders(sub))
}

/// The orders in `status`, oldest first.
pub fn in_status(status: OrderStatus) -> Query {
    Query::new(Index::Gsi2, orders_in_status(status.as_str()))
}

impl Batch {
    /// Create `o`, which must not exist yet.
    pub fn put_new_order(&mut self, o: &Order) -> AppResult<()> {
        self.put_new(Part::Order, order_item(o)?);
        self.index_new_order(o);
        Ok(())
    }

    /// Put `o` whatever is stored (test fixtures that set an order up as they need it).
    #[cfg(test)]
    pub(crate) fn put_order(&mut self, o: &Order) -> AppResult<()> {
        self.put(Part::Order, order_item(o)?);
        self.index_order(o);
        Ok(())
    }

    /// Delete the order `id` (test fixtures).
    #[cfg(test)]
    pub(crate) fn delete_order(&mut self, id: &str) {
        self.push(
            Part::Order,
            crate::ports::WriteOp::Delete {
                key: order(id),
                condition: None,
            },
        );
    }

    /// Save `o` as changed since version `read_version` was read: fails on
    /// [`Part::Order`] when someone else changed it meanwhile.
    pub fn save_order(&mut self, o: &Order, read_version: u64) -> AppResult<()> {
        self.put_versioned(Part::Order, order_item(o)?, Some(read_version));
        Ok(())
    }

    /// Save an order moved by the state machine since `read_version`, with the event the move
    /// yielded (`event_id`, at `at_millis`).
    pub fn save_moved_order(
        &mut self,
        o: &Order,
        read_version: u64,
        event_id: &str,
        event: &Event,
        at_millis: i64,
    ) -> AppResult<()> {
        self.save_order(o, read_version)?;
        self.append_event(event_id, event, at_millis)
    }
}

/// A checkout's Idempotency-Key record: the request's fingerprint and the order it placed.
pub struct IdempotencyRecord {
    pub fingerprint: String,
    pub order_id: String,
}

const FINGERPRINT: &str = "fingerprint";
const ORDER_ID: &str = "order_id";

/// The record of `sub`'s Idempotency-Key `key`, if a checkout claimed it.
pub async fn idempotency_record(
    table: &dyn Table,
    sub: &str,
    key: &str,
) -> AppResult<Option<IdempotencyRecord>> {
    Ok(table
        .get(&idempotency(sub, key))
        .await?
        .map(|item| IdempotencyRecord {
            fingerprint: item.str(FINGERPRINT).unwrap_or_default().to_owned(),
            order_id: item.str(ORDER_ID).unwrap_or_default().to_owned(),
        }))
}

impl Batch {
    /// Claim `sub`'s Idempotency-Key `key` for `order_id` until `expires_at` (seconds): fails on
    /// [`Part::Idempotency`] when an earlier request claimed it.
    pub fn claim_idempotency_key(
        &mut self,
        sub: &str,
        key: &str,
        fingerprint: &str,
        order_id: &str,
        expires_at: i64,
    ) {
        self.put_new(
            Part::Idempotency,
            Item::new(idempotency(sub, key))
                .with(FINGERPRINT, fingerprint)
                .with(ORDER_ID, order_id)
                .with(TTL, expires_at),
        );
    }
}
