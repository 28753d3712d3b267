//! Carts: one item per cart, the cart as JSON with a version; anonymous carts expire (ttl).
//!
//! A customer's cart also carries what its reminder needs (`crate::cart_reminders`):
//!
//! | attribute | |
//! |---|---|
//! | `touched` | when a line was last added, changed or removed (ms) |
//! | gsi1 `CARTS#TOUCHED` / `{touched ms, 15 digits}#{sub}` | while the cart has lines and no reminder was sent (or skipped) since that touch: the carts the sweep walks, oldest touch first |
//! | `reminded_version` | the version of the cart its last reminder was about: equal to `version`, the reminder for the current touch went out |
//! | `reminder`, `reminder_at` | the id of the last reminder e-mailed about this cart and when (ms): kept across touches, so that checking the cart out later counts as a recovery |
//!
//! A save is an update, not a put, so that the reminder attributes outlive the touch; it sets
//! the index attributes when the cart has lines and removes them when it has none. A checked-out
//! cart is deleted, which takes it out of the index with everything else.

use vitrine_domain::Timestamp;
use vitrine_domain::cart::Cart;

use super::walk::{Pick, RangeWalk};
use super::{
    Batch, CARTS_TOUCHED, DATA, Part, VERSION, anonymous_cart, customer_cart, customer_cart_owner,
    decode,
};
use crate::error::{AppError, AppResult};
use crate::ports::table::{GSI1_PK, GSI1_SK, TTL};
use crate::ports::{Condition, Index, Item, Key, Table, Update, Value, WriteOp};

const TOUCHED: &str = "touched";
const REMINDED_VERSION: &str = "reminded_version";
const REMINDER: &str = "reminder";
const REMINDER_AT: &str = "reminder_at";

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

/// A reminder e-mailed about a cart: its id (the e-mail's) and when it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderMark {
    pub id: String,
    pub at: Timestamp,
}

/// A cart as stored: the cart, its version, and the last reminder sent about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCart {
    pub cart: Cart,
    pub version: i64,
    pub reminder: Option<ReminderMark>,
}

fn stored(item: &Item) -> AppResult<StoredCart> {
    Ok(StoredCart {
        cart: decode(item)?,
        version: item.num(VERSION).unwrap_or(0),
        reminder: match (item.str(REMINDER), item.num(REMINDER_AT)) {
            (Some(id), Some(at)) => Some(ReminderMark {
                id: id.to_owned(),
                at: Timestamp::from_millis(at),
            }),
            _ => None,
        },
    })
}

/// `owner`'s cart, if there is one.
pub async fn load(table: &dyn Table, owner: &CartOwner) -> AppResult<Option<StoredCart>> {
    table
        .get(&owner.key())
        .await?
        .as_ref()
        .map(stored)
        .transpose()
}

/// The sort key of a customer's cart in the index of carts awaiting a reminder.
fn touched_key(touched_ms: i64, sub: &str) -> String {
    format!("{:015}#{sub}", touched_ms.max(0))
}

/// The index attributes that put `sub`'s cart, touched at `touched_ms`, in the carts awaiting a
/// reminder.
fn index_updates(touched_ms: i64, sub: &str) -> [Update; 2] {
    [
        Update::Set(GSI1_PK.into(), Value::S(CARTS_TOUCHED.into())),
        Update::Set(GSI1_SK.into(), Value::S(touched_key(touched_ms, sub))),
    ]
}

const LEAVE_INDEX: [&str; 2] = [GSI1_PK, GSI1_SK];

impl Batch {
    /// Save `owner`'s cart, touched `now`, over the version read (`None`: it must not exist
    /// yet); an anonymous cart is forgotten at `expires_at` (seconds). A customer's cart with
    /// lines (re)enters the carts awaiting a reminder; an empty one leaves them.
    pub fn save_cart(
        &mut self,
        owner: &CartOwner,
        cart: &Cart,
        read_version: Option<i64>,
        expires_at: Option<i64>,
        now: Timestamp,
    ) -> AppResult<()> {
        let json = serde_json::to_string(cart).map_err(|e| AppError::Internal(e.into()))?;
        let mut updates = vec![
            Update::Set(DATA.into(), Value::S(json)),
            Update::Set(VERSION.into(), Value::N(read_version.unwrap_or(0) + 1)),
            Update::Set(TOUCHED.into(), Value::N(now.millis())),
        ];
        if let Some(at) = expires_at {
            updates.push(Update::Set(TTL.into(), Value::N(at)));
        }
        if let CartOwner::Customer(sub) = owner {
            if cart.is_empty() {
                updates.extend(LEAVE_INDEX.map(|a| Update::Remove(a.into())));
            } else {
                updates.extend(index_updates(now.millis(), sub));
            }
        }
        let condition = match read_version {
            Some(v) => Condition::Eq(VERSION.into(), Value::N(v)),
            None => Condition::NotExists,
        };
        self.push(
            Part::Cart,
            WriteOp::Update {
                key: owner.key(),
                updates,
                condition: Some(condition),
            },
        );
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

    /// Claim the reminder of `c` (read at its version): it leaves the carts awaiting a reminder
    /// and records `reminder` as its last. Fails on [`Part::Cart`] when the cart was touched
    /// since it was read or its reminder for this version was already claimed (another sweep):
    /// one reminder per cart state, however many sweeps run at once.
    pub fn claim_cart_reminder(&mut self, c: &IdleCart, reminder: &ReminderMark) {
        let mut updates = vec![Update::Set(REMINDED_VERSION.into(), Value::N(c.version))];
        updates.extend(mark_updates(Some(reminder)));
        updates.extend(LEAVE_INDEX.map(|a| Update::Remove(a.into())));
        let unclaimed = Condition::Not(Box::new(Condition::Eq(
            REMINDED_VERSION.into(),
            Value::N(c.version),
        )));
        self.update_idle_cart(c, updates, Some(unclaimed));
    }

    /// Give back a claim whose e-mail was not sent: the cart has the last reminder it had
    /// before, and awaits its reminder again when `awaiting` (else until its next touch). Fails
    /// on [`Part::Cart`] when the cart changed since (a touch put it back in the index itself; a
    /// checkout deleted it).
    pub fn release_cart_reminder(&mut self, c: &IdleCart, reminder: &ReminderMark, awaiting: bool) {
        let mut updates = vec![Update::Remove(REMINDED_VERSION.into())];
        updates.extend(mark_updates(c.last_reminder.as_ref()));
        if awaiting {
            updates.extend(index_updates(c.touched.millis(), &c.sub));
        }
        let claimed = Condition::Eq(REMINDER.into(), Value::S(reminder.id.clone()));
        self.update_idle_cart(c, updates, Some(claimed));
    }

    /// Take `c` out of the carts awaiting a reminder without one (its customer opted out or is
    /// gone, nothing in it is sold any more): until its next touch. Fails on [`Part::Cart`]
    /// when it was touched since it was read.
    pub fn skip_cart_reminder(&mut self, c: &IdleCart) {
        let updates = LEAVE_INDEX.map(|a| Update::Remove(a.into())).to_vec();
        self.update_idle_cart(c, updates, None);
    }

    /// Update `c`'s cart item, on the condition that it is still at the version read (and that
    /// `also` holds).
    fn update_idle_cart(&mut self, c: &IdleCart, updates: Vec<Update>, also: Option<Condition>) {
        let at_version = Condition::Eq(VERSION.into(), Value::N(c.version));
        let condition = match also {
            Some(more) => Condition::And(vec![at_version, more]),
            None => at_version,
        };
        self.push(
            Part::Cart,
            WriteOp::Update {
                key: customer_cart(&c.sub),
                updates,
                condition: Some(condition),
            },
        );
    }
}

/// The attributes that name `mark` as a cart's last reminder (none: remove them).
fn mark_updates(mark: Option<&ReminderMark>) -> [Update; 2] {
    match mark {
        Some(m) => [
            Update::Set(REMINDER.into(), Value::S(m.id.clone())),
            Update::Set(REMINDER_AT.into(), Value::N(m.at.millis())),
        ],
        None => [
            Update::Remove(REMINDER.into()),
            Update::Remove(REMINDER_AT.into()),
        ],
    }
}

/// A customer's cart awaiting its reminder, as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdleCart {
    pub sub: String,
    pub cart: Cart,
    pub version: i64,
    pub touched: Timestamp,
    /// The last reminder sent about this cart (before this touch), if any.
    pub last_reminder: Option<ReminderMark>,
}

/// The carts awaiting a reminder that were last touched between `from` and `until` (both
/// inclusive), oldest touch first: one range of one index partition, read a round at a time,
/// at most `budget` index items in all.
pub fn idle_carts(
    table: &dyn Table,
    from: Timestamp,
    until: Timestamp,
    budget: usize,
) -> IdleCarts<'_> {
    let walk = RangeWalk::new(table, Index::Gsi1, CARTS_TOUCHED.to_owned(), budget)
        .between(
            Some(format!("{:015}", from.millis().max(0))),
            Some(format!("{:015}#~", until.millis().max(0))),
        )
        .forward();
    IdleCarts { walk }
}

/// A walk over the carts awaiting a reminder ([`idle_carts`]).
pub struct IdleCarts<'a> {
    walk: RangeWalk<'a>,
}

impl IdleCarts<'_> {
    /// The next `n` carts (fewer at the end of the range or of the budget; none after).
    pub async fn next(&mut self, n: usize) -> AppResult<Vec<IdleCart>> {
        self.walk.gather(n, true, &DecodeIdle).await
    }
}

/// Every item of the index partition is a customer's cart.
struct DecodeIdle;

#[async_trait::async_trait]
impl Pick<IdleCart> for DecodeIdle {
    async fn pick(&self, items: &[Item]) -> AppResult<Vec<Option<IdleCart>>> {
        items
            .iter()
            .map(|item| {
                let Some(sub) = customer_cart_owner(&item.key) else {
                    return Ok(None);
                };
                let StoredCart {
                    cart,
                    version,
                    reminder,
                } = stored(item)?;
                Ok(Some(IdleCart {
                    sub: sub.to_owned(),
                    cart,
                    version,
                    touched: Timestamp::from_millis(item.num(TOUCHED).unwrap_or(0)),
                    last_reminder: reminder,
                }))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_touched_key_sorts_by_time_and_names_the_customer() {
        let early = touched_key(999, "zed");
        let late = touched_key(1_000, "abe");
        assert!(early < late);
        assert_eq!(late, "000000000001000#abe");
        // The walk's inclusive upper bound covers every customer touched in that millisecond.
        assert!(late.as_str() <= format!("{:015}#~", 1_000).as_str());
        assert!(late.as_str() > format!("{:015}#~", 999).as_str());
    }
}
