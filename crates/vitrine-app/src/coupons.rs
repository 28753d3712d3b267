//! Coupon administration (the item layout is in `store::coupons`).

use vitrine_domain::coupon::{Coupon, parse_code};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::store::{self, Batch};

impl App {
    pub async fn coupons(&self) -> AppResult<Vec<Coupon>> {
        store::coupons::all(&*self.ports.table).await
    }

    pub async fn coupon(&self, code: &str) -> AppResult<Coupon> {
        let code = parse_code(code).map_err(|_| AppError::NotFound("coupon"))?;
        store::coupons::load(&*self.ports.table, &code)
            .await?
            .ok_or(AppError::NotFound("coupon"))
    }

    pub async fn create_coupon(&self, mut coupon: Coupon) -> AppResult<Coupon> {
        coupon.code = parse_code(&coupon.code)?;
        coupon.validate()?;
        coupon.used = 0;
        coupon.version = 1;
        let mut batch = Batch::new();
        batch.put_new_coupon(&coupon)?;
        match self.write(batch).await {
            Err(store::WriteFailed::Condition { .. }) => Err(AppError::Conflict(format!(
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
        let mut batch = Batch::new();
        batch.update_coupon_terms(&coupon, expected_version)?;
        match self.write(batch).await {
            Err(store::WriteFailed::Condition { .. }) => Err(AppError::VersionMismatch("coupon")),
            other => {
                other?;
                self.coupon(&coupon.code).await
            }
        }
    }
}
