//! Carts: what a shopper intends to buy. A cart holds SKUs and quantities only; prices are
//! looked up when the cart is shown or checked out, so a cart never carries a stale price.
//!
//! Invariants: at most [`MAX_LINES`] lines, each SKU once, quantities 1..=[`MAX_QTY`].

use serde::{Deserialize, Serialize};

use crate::catalog::Sku;
use crate::error::DomainError;

pub const MAX_LINES: usize = 50;
pub const MAX_QTY: u32 = 99;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: Sku,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Cart {
    pub lines: Vec<CartLine>,
}

/// Parse a requested quantity: an integer 1..=MAX_QTY.
pub fn check_quantity(quantity: i64) -> Result<u32, DomainError> {
    if (1..=i64::from(MAX_QTY)).contains(&quantity) {
        Ok(quantity as u32)
    } else {
        Err(DomainError::field(
            "quantity",
            format!("the quantity must be between 1 and {MAX_QTY}"),
        ))
    }
}

impl Cart {
    /// Add units of a SKU (summing with what is there, capped at MAX_QTY).
    pub fn add(&mut self, sku: Sku, quantity: u32) -> Result<(), DomainError> {
        check_quantity(i64::from(quantity))?;
        if let Some(line) = self.lines.iter_mut().find(|l| l.sku == sku) {
            line.quantity = (line.quantity + quantity).min(MAX_QTY);
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

    /// Set the quantity of a line; 0 removes it.
    pub fn set(&mut self, sku: &Sku, quantity: u32) -> Result<(), DomainError> {
        if quantity == 0 {
            self.remove(sku);
            return Ok(());
        }
        check_quantity(i64::from(quantity))?;
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
            let _ = self.add(line.sku, line.quantity.clamp(1, MAX_QTY));
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

    #[test]
    fn adding_the_same_sku_sums_quantities_up_to_the_cap() {
        let mut cart = Cart::default();
        cart.add(sku("A"), 60).unwrap();
        cart.add(sku("A"), 60).unwrap();
        assert_eq!(
            cart.lines,
            vec![CartLine {
                sku: sku("A"),
                quantity: MAX_QTY
            }]
        );
    }

    #[test]
    fn zero_or_negative_quantities_are_refused() {
        assert!(check_quantity(0).is_err());
        assert!(check_quantity(-3).is_err());
        assert!(check_quantity(100).is_err());
        assert_eq!(check_quantity(5).unwrap(), 5);
    }

    #[test]
    fn setting_zero_removes_the_line() {
        let mut cart = Cart::default();
        cart.add(sku("A"), 1).unwrap();
        cart.set(&sku("A"), 0).unwrap();
        assert!(cart.is_empty());
    }

    #[test]
    fn merging_an_anonymous_cart_sums_lines() {
        let mut mine = Cart::default();
        mine.add(sku("A"), 1).unwrap();
        let mut anon = Cart::default();
        anon.add(sku("A"), 2).unwrap();
        anon.add(sku("B"), 1).unwrap();
        mine.merge(anon);
        assert_eq!(
            mine.lines,
            vec![
                CartLine {
                    sku: sku("A"),
                    quantity: 3
                },
                CartLine {
                    sku: sku("B"),
                    quantity: 1
                }
            ]
        );
    }

    #[test]
    fn a_cart_refuses_more_than_the_line_limit() {
        let mut cart = Cart::default();
        for i in 0..MAX_LINES {
            cart.add(sku(&format!("S{i}")), 1).unwrap();
        }
        assert!(cart.add(sku("ONE-MORE"), 1).is_err());
    }
}
