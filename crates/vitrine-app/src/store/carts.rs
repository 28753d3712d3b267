//! Carts: one item per cart, the cart as JSON with a version; anonymous carts expire (ttl).

use vitrine_domain::cart::Cart;

use super::{Batch, Part, VERSION, anonymous_cart, customer_cart, data_item, decode};
use crate::error::AppResult;
use crate::ports::table::TTL;
use crate::ports::{Condition, Key, Table, Value, WriteOp};

/// Whose cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartOwner {
    Customer(String),
    Anonymous(String),
}

impl CartOwner {
    fn key(&self) -> Key {
        match self {
            CartOwner::Customer(sub) => customer_cart(sub),
            CartOwner::Anonymous(token) => anonymous_cart(token),
        }
    }
}

/// `owner`'s cart and its version, if there is one.
pub async fn load(table: &dyn Table, owner: &CartOwner) -> AppResult<Option<(Cart, i64)>> {
    match table.get(&owner.key()).await? {
        Some(item) => Ok(Some((decode(&item)?, item.num(VERSION).unwrap_or(0)))),
        None => Ok(None),
    }
}

impl Batch {
    /// Save `owner`'s cart over the version read (`None`: it must not exist yet); an anonymous
    /// cart is forgotten at `expires_at` (seconds).
    pub fn save_cart(
        &mut self,
        owner: &CartOwner,
        cart: &Cart,
        read_version: Option<i64>,
        expires_at: Option<i64>,
    ) -> AppResult<()> {
        let mut item = data_item(owner.key(), cart)?.with(VERSION, read_version.unwrap_or(0) + 1);
        if let Some(at) = expires_at {
            item = item.with(TTL, at);
        }
        self.put_versioned(Part::Cart, item, read_version.map(|v| v as u64));
        Ok(())
    }

    /// Delete `owner`'s cart if it is still at `version`.
    pub fn delete_cart(&mut self, owner: &CartOwner, version: i64) {
        self.push(
            Part::Cart,
            WriteOp::Delete {
                key: owner.key(),
                condition: Some(Condition::Eq(VERSION.into(), Value::N(version))),
            },
        );
    }

    /// Delete a customer's cart, whatever is in it (checked out).
    pub fn clear_customer_cart(&mut self, sub: &str) {
        self.push(
            Part::Cart,
            WriteOp::Delete {
                key: customer_cart(sub),
                condition: None,
            },
        );
    }
}
