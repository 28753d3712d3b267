//! Coupons, as the admin writes and reads them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_domain::coupon::{Coupon, Discount};
use vitrine_domain::{FieldError, Money};

use super::catalog::yes;
use super::{parse_rfc3339, rfc3339};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponInput {
    #[schema(example = "BEMVINDO10")]
    pub code: String,
    /// `percent` or `fixed`.
    pub kind: String,
    /// For `percent`: basis points (1000 = 10 %).
    pub basis_points: Option<u32>,
    /// For `fixed`.
    pub amount_centavos: Option<i64>,
    #[serde(default)]
    pub min_subtotal_centavos: i64,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub usage_limit: Option<u32>,
    /// How many times one customer may use it (1 or more; absent: no limit). A cancelled or
    /// expired order gives its use back.
    pub per_customer_limit: Option<u32>,
    #[serde(default = "yes")]
    pub active: bool,
}

impl CouponInput {
    pub fn into_coupon(self) -> Result<Coupon, Vec<FieldError>> {
        let mut errors = Vec::new();
        let discount = match (self.kind.as_str(), self.basis_points, self.amount_centavos) {
            ("percent", Some(bp), None) => Some(Discount::Percent { basis_points: bp }),
            ("fixed", None, Some(a)) => Some(Discount::Fixed {
                amount: Money::from_centavos(a),
            }),
            ("percent", _, _) => {
                errors.push(FieldError::new(
                    "basis_points",
                    "a percent coupon needs basis_points and no amount_centavos",
                ));
                None
            }
            ("fixed", _, _) => {
                errors.push(FieldError::new(
                    "amount_centavos",
                    "a fixed coupon needs amount_centavos and no basis_points",
                ));
                None
            }
            _ => {
                errors.push(FieldError::new("kind", "kind is percent or fixed"));
                None
            }
        };
        let mut time = |field: &str, v: &Option<String>| match v {
            None => None,
            Some(s) => match parse_rfc3339(field, s) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        let starts_at = time("starts_at", &self.starts_at);
        let ends_at = time("ends_at", &self.ends_at);
        match discount {
            Some(discount) if errors.is_empty() => Ok(Coupon {
                code: self.code,
                discount,
                min_subtotal: Money::from_centavos(self.min_subtotal_centavos),
                starts_at,
                ends_at,
                usage_limit: self.usage_limit,
                per_customer_limit: self.per_customer_limit,
                used: 0,
                active: self.active,
                version: 0,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CouponDto {
    pub code: String,
    pub kind: String,
    pub basis_points: Option<u32>,
    pub amount_centavos: Option<i64>,
    pub min_subtotal_centavos: i64,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub usage_limit: Option<u32>,
    pub per_customer_limit: Option<u32>,
    /// Uses by orders not cancelled or expired.
    pub used: u32,
    pub active: bool,
    pub version: u64,
}

impl From<&Coupon> for CouponDto {
    fn from(c: &Coupon) -> Self {
        let (kind, basis_points, amount_centavos) = match c.discount {
            Discount::Percent { basis_points } => ("percent", Some(basis_points), None),
            Discount::Fixed { amount } => ("fixed", None, Some(amount.centavos())),
        };
        Self {
            code: c.code.clone(),
            kind: kind.into(),
            basis_points,
            amount_centavos,
            min_subtotal_centavos: c.min_subtotal.centavos(),
            starts_at: c.starts_at.map(rfc3339),
            ends_at: c.ends_at.map(rfc3339),
            usage_limit: c.usage_limit,
            per_customer_limit: c.per_customer_limit,
            used: c.used,
            active: c.active,
            version: c.version,
        }
    }
}
