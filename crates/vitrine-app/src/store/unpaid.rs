//! What a customer's unpaid orders hold: one counter item per customer with the number of
//! unpaid orders (`orders`) and the units they reserve (`units`). Checkout adds to it under a
//! condition in the order's own batch, so concurrent checkouts of one customer never pass the
//! cap ([`UnpaidCap`]); the move that takes an order out of the unpaid states (paid, cancelled,
//! expired) takes it back off in the move's batch, so each order is counted off once.

use vitrine_domain::order::Order;

use super::{Batch, Part, unpaid_holds};
use crate::error::AppResult;
use crate::ports::{Condition, Table, Update, Value, WriteOp};
use crate::settings::UnpaidCap;

const ORDERS: &str = "orders";
const UNITS: &str = "units";

/// What a customer's unpaid orders hold, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Held {
    pub orders: i64,
    pub units: i64,
}

/// The units an order reserves.
pub fn units_of(order: &Order) -> i64 {
    order.lines.iter().map(|l| i64::from(l.quantity)).sum()
}

/// What `sub`'s unpaid orders hold (nothing when the counter was never written).
pub async fn load(table: &dyn Table, sub: &str) -> AppResult<Option<Held>> {
    Ok(table.get(&unpaid_holds(sub)).await?.map(|item| Held {
        orders: item.num(ORDERS).unwrap_or(0),
        units: item.num(UNITS).unwrap_or(0),
    }))
}

/// How an order leaving the unpaid states is counted off a counter read as `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Nothing to take off: no counter (orders placed before it existed).
    Nothing,
    /// Take one order and `units` off; commutes with concurrent checkouts and releases.
    Subtract { units: i64 },
    /// Set the counter to `to`, provided it is still `read`: the counter holds less than this
    /// order (it was placed before the counter existed, or the counter was repaired), so it is
    /// clamped at zero rather than taken below it.
    Clamp { read: Held, to: Held },
}

impl Release {
    /// The release of an order of `units` units from a counter read as `read`.
    pub fn of(read: Option<Held>, units: i64) -> Release {
        match read {
            None => Release::Nothing,
            Some(held) if held.orders >= 2 && held.units >= units => Release::Subtract { units },
            Some(held) if held.orders == 1 && held.units == units => Release::Subtract { units },
            Some(held) if held.orders <= 0 && held.units <= 0 => Release::Nothing,
            Some(held) => {
                let orders = (held.orders - 1).max(0);
                // The last order out leaves nothing held, whatever the units said.
                let units = if orders == 0 {
                    0
                } else {
                    (held.units - units).max(0)
                };
                Release::Clamp {
                    read: held,
                    to: Held { orders, units },
                }
            }
        }
    }
}

impl Batch {
    /// Count one more unpaid order of `units` units for `sub`: fails on [`Part::UnpaidHolds`]
    /// when that would pass `cap` (checked beforehand with [`UnpaidCap::refuses`] too: an
    /// absent counter satisfies every condition, even for one order larger than the cap).
    pub fn hold_unpaid(&mut self, sub: &str, units: i64, cap: UnpaidCap) {
        self.push(
            Part::UnpaidHolds,
            WriteOp::Update {
                key: unpaid_holds(sub),
                updates: vec![
                    Update::Add(ORDERS.into(), 1),
                    Update::Add(UNITS.into(), units),
                ],
                condition: Some(Condition::And(vec![
                    Condition::Not(Box::new(Condition::Ge(ORDERS.into(), Value::N(cap.orders)))),
                    Condition::Not(Box::new(Condition::Gt(
                        UNITS.into(),
                        Value::N(cap.units - units),
                    ))),
                ])),
            },
        );
    }

    /// Count an order of `sub` off the unpaid ones as `release` says: fails on
    /// [`Part::UnpaidHolds`] when the counter changed in a way that forbids it (read again).
    pub fn release_unpaid(&mut self, sub: &str, release: Release) {
        let (updates, condition) = match release {
            Release::Nothing => return,
            Release::Subtract { units } => (
                vec![
                    Update::Add(ORDERS.into(), -1),
                    Update::Add(UNITS.into(), -units),
                ],
                Condition::And(vec![
                    Condition::Ge(ORDERS.into(), Value::N(1)),
                    Condition::Ge(UNITS.into(), Value::N(units)),
                ]),
            ),
            Release::Clamp { read, to } => (
                vec![
                    Update::Set(ORDERS.into(), Value::N(to.orders)),
                    Update::Set(UNITS.into(), Value::N(to.units)),
                ],
                Condition::And(vec![
                    Condition::Eq(ORDERS.into(), Value::N(read.orders)),
                    Condition::Eq(UNITS.into(), Value::N(read.units)),
                ]),
            ),
        };
        self.push(
            Part::UnpaidHolds,
            WriteOp::Update {
                key: unpaid_holds(sub),
                updates,
                condition: Some(condition),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(orders: i64, units: i64) -> Option<Held> {
        Some(Held { orders, units })
    }

    #[test]
    fn a_counted_order_is_subtracted_and_a_miscounted_one_is_clamped_at_zero() {
        assert_eq!(Release::of(None, 5), Release::Nothing);
        assert_eq!(Release::of(held(2, 10), 5), Release::Subtract { units: 5 });
        assert_eq!(Release::of(held(1, 5), 5), Release::Subtract { units: 5 });
        assert_eq!(Release::of(held(0, 0), 5), Release::Nothing);
        // The last order out leaves nothing held, even when the units disagree.
        assert_eq!(
            Release::of(held(1, 7), 5),
            Release::Clamp {
                read: held(1, 7).unwrap(),
                to: Held::default()
            }
        );
        // An order placed before the counter existed never takes it below zero.
        assert_eq!(
            Release::of(held(2, 3), 5),
            Release::Clamp {
                read: held(2, 3).unwrap(),
                to: held(1, 0).unwrap()
            }
        );
    }
}
