//! Coupons: the terms as JSON with a version, and the use count in its own numeric attribute
//! (`used`) so that checkout can increment it conditionally without rewriting the coupon. Each
//! customer's uses are counted beside it (`COUPON#{code}` / `USE#{sub}`), in the same batch, so
//! that a per-customer limit holds under concurrency too. An order that is cancelled or expires
//! gives its use back, in the batch that moves it: once.

use vitrine_domain::coupon::Coupon;

use super::{
    Batch, COUPONS, DATA, Pager, Part, VERSION, coupon, coupon_use, data_item, decode, with_gsi1,
};
use crate::error::{AppError, AppResult};
use crate::ports::{Condition, Index, Item, Query, Table, Update, Value, WriteOp};

const USED: &str = "used";

fn from_item(item: &Item) -> AppResult<Coupon> {
    let mut c: Coupon = decode(item)?;
    c.used = item.num(USED).unwrap_or(0).max(0) as u32;
    c.version = item.num(VERSION).unwrap_or(1) as u64;
    Ok(c)
}

/// The coupon `code` (already normalised), with its use count and version.
pub async fn load(table: &dyn Table, code: &str) -> AppResult<Option<Coupon>> {
    table
        .get(&coupon(code))
        .await?
        .map(|i| from_item(&i))
        .transpose()
}

/// How many times `sub` has used the coupon `code` (orders given back not counted).
pub async fn uses_by(table: &dyn Table, code: &str, sub: &str) -> AppResult<i64> {
    Ok(table
        .get(&coupon_use(code, sub))
        .await?
        .and_then(|i| i.num(USED))
        .unwrap_or(0))
}

/// Every coupon.
pub async fn all(table: &dyn Table) -> AppResult<Vec<Coupon>> {
    let items = Pager::new(table, Query::new(Index::Gsi1, COUPONS).limit(1000))
        .all()
        .await?;
    items.iter().map(from_item).collect()
}

impl Batch {
    /// Create coupon `c` (version 1, unused); fails on [`Part::Coupon`] when the code exists.
    pub fn put_new_coupon(&mut self, c: &Coupon) -> AppResult<()> {
        let item = data_item(coupon(&c.code), c)?
            .with(VERSION, 1)
            .with(USED, 0);
        self.put_new(Part::Coupon, with_gsi1(item, COUPONS, c.code.clone()));
        Ok(())
    }

    /// Replace coupon `c`'s terms if it is still at `expected_version`, keeping its use count
    /// (an update, not a put: a checkout may be incrementing `used` at this very moment).
    pub fn update_coupon_terms(&mut self, c: &Coupon, expected_version: u64) -> AppResult<()> {
        let data = serde_json::to_string(c).map_err(|e| AppError::Internal(e.into()))?;
        self.push(
            Part::Coupon,
            WriteOp::Update {
                key: coupon(&c.code),
                updates: vec![
                    Update::Set(DATA.into(), Value::S(data)),
                    Update::Set(VERSION.into(), Value::N(c.version as i64)),
                ],
                condition: Some(Condition::Eq(
                    VERSION.into(),
                    Value::N(expected_version as i64),
                )),
            },
        );
        Ok(())
    }

    /// Count one use of coupon `c` by `sub`: fails on [`Part::Coupon`] when it is gone or used
    /// up, on [`Part::CouponUse`] when `sub` has used it as often as it allows.
    pub fn use_coupon_once(&mut self, c: &Coupon, sub: &str) {
        let mut conditions = vec![Condition::Exists];
        if let Some(limit) = c.usage_limit {
            conditions.push(Condition::Not(Box::new(Condition::Ge(
                USED.into(),
                Value::N(i64::from(limit)),
            ))));
        }
        self.push(
            Part::Coupon,
            WriteOp::Update {
                key: coupon(&c.code),
                updates: vec![Update::Add(USED.into(), 1)],
                condition: Some(Condition::And(conditions)),
            },
        );
        let by_customer = c.per_customer_limit.map(|limit| {
            Condition::Not(Box::new(Condition::Ge(
                USED.into(),
                Value::N(i64::from(limit)),
            )))
        });
        self.push(
            Part::CouponUse,
            WriteOp::Update {
                key: coupon_use(&c.code, sub),
                updates: vec![Update::Add(USED.into(), 1)],
                condition: by_customer,
            },
        );
    }

    /// Give back one use of coupon `code` by `sub` (their order was cancelled or expired),
    /// given the counts read: `total` on the coupon, `by_customer` on their use item. A count
    /// already at 0 (a use from before uses were counted per customer, a deleted coupon) is
    /// left alone; fails on [`Part::Coupon`] or [`Part::CouponUse`] when a count read as
    /// positive reached 0 meanwhile (read again).
    pub fn return_coupon_use(&mut self, code: &str, sub: &str, total: i64, by_customer: i64) {
        let give_back = |key| WriteOp::Update {
            key,
            updates: vec![Update::Add(USED.into(), -1)],
            condition: Some(Condition::Ge(USED.into(), Value::N(1))),
        };
        if total > 0 {
            self.push(Part::Coupon, give_back(coupon(code)));
        }
        if by_customer > 0 {
            self.push(Part::CouponUse, give_back(coupon_use(code, sub)));
        }
    }
}
