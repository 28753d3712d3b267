//! Coupon administration. The use count lives in its own numeric attribute (`used`) so that
//! checkout can increment it conditionally without rewriting the coupon.

use vitrine_domain::coupon::{Coupon, parse_code};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::ports::{Condition, Index, Query, TableError, Update, Value, WriteOp};
use crate::store::{self, VERSION};

impl App {
    fn coupon_from(item: &crate::ports::Item) -> AppResult<Coupon> {
        let mut c: Coupon = store::decode(item)?;
        c.used = item.num("used").unwrap_or(0).max(0) as u32;
        c.version = item.num(VERSION).unwrap_or(1) as u64;
        Ok(c)
    }

    pub async fn coupons(&self) -> AppResult<Vec<Coupon>> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .ports
                .table
                .query(
                    Query::new(Index::Gsi1, store::COUPONS)
                        .limit(1000)
                        .after(after),
                )
                .await?;
            for item in &page.items {
                out.push(Self::coupon_from(item)?);
            }
            match page.next {
                Some(c) => after = Some(c),
                None => return Ok(out),
            }
        }
    }

    pub async fn coupon(&self, code: &str) -> AppResult<Coupon> {
        let code = parse_code(code).map_err(|_| AppError::NotFound("coupon"))?;
        match self.ports.table.get(&store::coupon(&code)).await? {
            Some(item) => Self::coupon_from(&item),
            None => Err(AppError::NotFound("coupon")),
        }
    }

    pub async fn create_coupon(&self, mut coupon: Coupon) -> AppResult<Coupon> {
        coupon.code = parse_code(&coupon.code)?;
        coupon.validate()?;
        coupon.used = 0;
        coupon.version = 1;
        let item = store::data_item(store::coupon(&coupon.code), &coupon)?
            .with(VERSION, 1)
            .with("used", 0);
        let item = store::with_gsi1(item, store::COUPONS, coupon.code.clone());
        match self.write_ops(vec![WriteOp::put_new(item)]).await {
            Err(TableError::ConditionFailed { .. }) => Err(AppError::Conflict(format!(
                "coupon {} already exists",
                coupon.code
            ))),
            other => {
                other?;
                Ok(coupon)
            }
        }
    }

    /// Replace a coupon's terms if it is still at `expected_version`. The use count is kept.
    pub async fn update_coupon(
        &self,
        code: &str,
        mut coupon: Coupon,
        expected_version: u64,
    ) -> AppResult<Coupon> {
        let current = self.coupon(code).await?;
        if current.version != expected_version {
            return Err(AppError::VersionMismatch("coupon"));
        }
        coupon.code = current.code.clone();
        coupon.validate()?;
        coupon.version = current.version + 1;
        let data = serde_json::to_string(&coupon).map_err(|e| AppError::Internal(e.into()))?;
        // An update, not a put: a checkout may be incrementing `used` at this very moment.
        let op = WriteOp::Update {
            key: store::coupon(&coupon.code),
            updates: vec![
                Update::Set(store::DATA.into(), Value::S(data)),
                Update::Set(VERSION.into(), Value::N(coupon.version as i64)),
            ],
            condition: Some(Condition::Eq(
                VERSION.into(),
                Value::N(expected_version as i64),
            )),
        };
        match self.write_ops(vec![op]).await {
            Err(TableError::ConditionFailed { .. }) => Err(AppError::VersionMismatch("coupon")),
            other => {
                other?;
                self.coupon(&coupon.code).await
            }
        }
    }
}
