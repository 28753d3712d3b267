//! Stock: each SKU's `available` count, changed only by conditional updates so that concurrent
//! sales never take it below zero.

use super::{AVAILABLE, Batch, Part, sku};
use crate::ports::{Condition, Update, Value, WriteOp};

impl Batch {
    /// Take `qty` units of `sku`: fails on [`Part::Stock`] when fewer are available.
    pub fn reserve_stock(&mut self, sku_id: &str, qty: i64) {
        self.push(
            Part::Stock(sku_id.to_owned()),
            WriteOp::Update {
                key: sku(sku_id),
                updates: vec![Update::Add(AVAILABLE.into(), -qty)],
                condition: Some(Condition::Ge(AVAILABLE.into(), Value::N(qty))),
            },
        );
    }

    /// Give `qty` units of `sku` back (a cancelled or expired order): fails on
    /// [`Part::Stock`] when the SKU no longer exists.
    pub fn return_stock(&mut self, sku_id: &str, qty: i64) {
        self.push(
            Part::Stock(sku_id.to_owned()),
            WriteOp::Update {
                key: sku(sku_id),
                updates: vec![Update::Add(AVAILABLE.into(), qty)],
                condition: Some(Condition::Exists),
            },
        );
    }

    /// Change `sku`'s stock by `delta`, provided it is still `current`: fails on
    /// [`Part::Stock`] when it changed meanwhile.
    pub fn adjust_stock(&mut self, sku_id: &str, current: i64, delta: i64) {
        self.push(
            Part::Stock(sku_id.to_owned()),
            WriteOp::Update {
                key: sku(sku_id),
                updates: vec![Update::Add(AVAILABLE.into(), delta)],
                condition: Some(Condition::Eq(AVAILABLE.into(), Value::N(current))),
            },
        );
    }
}
