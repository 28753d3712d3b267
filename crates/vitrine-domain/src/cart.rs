//! Carts: what a shopper intends to buy. A cart holds SKUs and quantities only; prices are
//! looked up when the cart is shown or checked out, so a cart never carries a stale price.
//!
//! Invariants: at most [`MAX_LINES`] lines, each SKU once, quantities 1..=[`MAX_QTY`].

use serde::{Deserialize, Serialize};

use crate::catalog::Sku;
use crate::error::DomainError;

pub const MAX_LINES: usize = 50;
pub const MAX_QTY: u32 = 99;

/// How many units of one SKU a cart line or an order asks for: 1..=[`MAX_QTY`]. The only place
/// that range is checked; a `Quantity` is valid from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub const MAX: Quantity = Quantity(MAX_QTY);

    /// Parse a requested quantity: an integer 1..=MAX_QTY.
    pub fn parse(quantity: i64) -> Result<Self, DomainError> {
        if (1..=i64::from(MAX_QTY)).contains(&quantity) {
            Ok(Self(quantity as u32))
        } else {
            Err(DomainError::field(
                "quantity",
                format!("the quantity must be between 1 and {MAX_QTY}"),
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The sum, capped at [`Quantity::MAX`].
    pub fn saturating_add(self, other: Quantity) -> Quantity {
        Quantity((self.0 + other.0).min(MAX_QTY))
    }
}

impl TryFrom<u32> for Quantity {
    type Error = DomainError;
    fn try_from(q: u32) -> Result<Self, DomainError> {
        Quantity::parse(i64::from(q))
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Cart {
    pub lines: Vec<CartLine>,
}

impl Cart {
    /// Add units of a SKU (summing with what is there, capped at MAX_QTY).
    pub fn add(&mut self, sku: Sku, quantity: Quantity) -> Result<(), DomainError> {
        if let Some(line) = self.lines.iter_mut().find(|l| l.sku == sku) {
            line.quantity = line.quantity.saturating_add(quantity);
            return Ok(());
        }
        if self.lines.len() >= MAX_LINES {
            return Err(DomainError::Rule(format!(
                "a cart holds at most {MAX_LINES} different items"
            )));
        }
        self.lines.push(CartLine { sku, quantity });
        Ok(())
    }

    /// Set the quantity of a line; `None` (a requested 0) removes it.
    pub fn set(&mut self, sku: &Sku, quantity: Option<Quantity>) -> Result<(), DomainError> {
        let Some(quantity) = quantity else {
            self.remove(sku);
            return Ok(());
        };
        match self.lines.iter_mut().find(|l| &l.sku == sku) {
            Some(line) => {
                line.quantity = quantity;
                Ok(())
            }
            None => self.add(sku.clone(), quantity),
        }
    }

    pub fn remove(&mut self, sku: &Sku) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| &l.sku != sku);
        self.lines.len() != before
    }

    /// Merge an anonymous cart into this (the customer's) cart at sign-in: quantities of the same
    /// SKU are summed (capped), new SKUs appended while there is room.
    pub fn merge(&mut self, other: Cart) {
        for line in other.lines {
            // A full cart silently keeps what it has: merging must never fail a sign-in.
            let _ = self.add(line.sku, line.quantity);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn q(n: i64) -> Quantity {
        Quantity::parse(n).unwrap()
    }

    #[test]
    fn adding_the_same_sku_sums_quantities_up_to_the_cap() {
        let mut cart = Cart::default();
        cart.add(sku("A"), q(60)).unwrap();
        cart.add(sku("A"), q(60)).unwrap();
        assert_eq!(
            cart.lines,
            vec![CartLine {
                sku: sku("A"),
                quantity: Quantity::MAX
            }]
        );
    }

    #[test]
    fn zero_or_negative_quantities_are_refused() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(-3).is_err());
        assert!(Quantity::parse(100).is_err());
        assert_eq!(Quantity::parse(5).unwrap().get(), 5);
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert!(serde_json::from_str::<Quantity>("100").is_err());
        assert_eq!(serde_json::to_string(&q(7)).unwrap(), "7");
    }

    #[test]
    fn setting_zero_removes_the_line() {
        let mut cart = Cart::default();
        cart.add(sku("A"), q(1)).unwrap();
        cart.set(&sku("A"), None).unwrap();
        assert!(cart.is_empty());
    }

    #[test]
    fn merging_an_anonymous_cart_sums_lines() {
        let mut mine = Cart::default();
        mine.add(sku("A"), q(1)).unwrap();
        let mut anon = Cart::default();
        anon.add(sku("A"), q(2)).unwrap();
        anon.add(sku("B"), q(1)).unwrap();
        mine.merge(anon);
        assert_eq!(
            mine.lines,
            vec![
                CartLine {
                    sku: sku("A"),
                    quantity: q(3)
                },
                CartLine {
                    sku: sku("B"),
                    quantity: q(1)
                }
            ]
        );
    }

    #[test]
    fn a_cart_refuses_more_than_the_line_limit() {
        let mut cart = Cart::default();
        for i in 0..MAX_LINES {
            cart.add(sku(&format!("S{i}")), q(1)).unwrap();
        }
        assert!(cart.add(sku("ONE-MORE"), q(1)).is_err());
    }
}
