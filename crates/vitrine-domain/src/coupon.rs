//! Coupons: a percent or fixed discount on the subtotal, with a minimum subtotal, a validity
//! window and a usage limit. The limit is enforced atomically by the repository (a conditional
//! increment in the checkout batch); this module decides whether a coupon applies and how much.

use serde::{Deserialize, Serialize};

use crate::error::{DomainError, FieldError};
use crate::money::Money;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discount {
    /// Basis points of the subtotal: 1000 = 10 %.
    Percent {
        basis_points: u32,
    },
    Fixed {
        amount: Money,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// Uppercase code customers type.
    pub code: String,
    pub discount: Discount,
    pub min_subtotal: Money,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub usage_limit: Option<u32>,
    /// How many times one customer may use it (orders cancelled or expired give their use
    /// back); enforced atomically by the repository, as `usage_limit` is.
    #[serde(default)]
    pub per_customer_limit: Option<u32>,
    pub used: u32,
    pub active: bool,
    pub version: u64,
}

/// Normalise and check a coupon code: 3..=32 of `A-Z 0-9 - _`.
pub fn parse_code(code: &str) -> Result<String, DomainError> {
    let c = code.trim().to_ascii_uppercase();
    if (3..=32).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(c)
    } else {
        Err(DomainError::field(
            "coupon",
            "a coupon code has 3 to 32 letters, digits, '-' or '_'",
        ))
    }
}

impl Coupon {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut errors = Vec::new();
        match self.discount {
            Discount::Percent { basis_points } if basis_points == 0 || basis_points > 10_000 => {
                errors.push(FieldError::new(
                    "basis_points",
                    "a percent discount is between 0.01 % and 100 %",
                ))
            }
            Discount::Fixed { amount } if amount.centavos() <= 0 => errors.push(FieldError::new(
                "amount_centavos",
                "a fixed discount must be positive",
            )),
            _ => {}
        }
        if self.min_subtotal.centavos() < 0 {
            errors.push(FieldError::new(
                "min_subtotal_centavos",
                "the minimum subtotal cannot be negative",
            ));
        }
        if self.per_customer_limit == Some(0) {
            errors.push(FieldError::new(
                "per_customer_limit",
                "a per-customer limit is 1 or more (leave it out for no limit)",
            ));
        }
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at)
            && e <= s
        {
            errors.push(FieldError::new(
                "ends_at",
                "the end must come after the start",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(errors))
        }
    }

    /// The discount this coupon gives on `subtotal` at `now`, or why it does not apply.
    pub fn discount_for(&self, subtotal: Money, now: Timestamp) -> Result<Money, DomainError> {
        let refuse = |m: &str| Err(DomainError::field("coupon", m));
        if !self.active {
            return refuse("this coupon is not active");
        }
        if self.starts_at.is_some_and(|s| now < s) {
            return refuse("this coupon is not valid yet");
        }
        if self.ends_at.is_some_and(|e| now >= e) {
            return refuse("this coupon has expired");
        }
        if self.usage_limit.is_some_and(|l| self.used >= l) {
            return refuse("this coupon has been used up");
        }
        if subtotal < self.min_subtotal {
            return Err(DomainError::field(
                "coupon",
                format!(
                    "this coupon needs a subtotal of at least {}",
                    self.min_subtotal
                ),
            ));
        }
        let discount = match self.discount {
            Discount::Percent { basis_points } => subtotal.percent_of(basis_points),
            Discount::Fixed { amount } => amount,
        };
        // A discount never makes the goods free of charge beyond their price.
        Ok(discount.min(subtotal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(discount: Discount) -> Coupon {
        Coupon {
            code: "BEMVINDO".into(),
            discount,
            min_subtotal: Money::from_centavos(5_000),
            starts_at: Some(Timestamp::from_secs(100)),
            ends_at: Some(Timestamp::from_secs(200)),
            usage_limit: Some(2),
            per_customer_limit: None,
            used: 0,
            active: true,
            version: 1,
        }
    }

    #[test]
    fn a_percent_coupon_discounts_the_subtotal() {
        let c = coupon(Discount::Percent {
            basis_points: 1_000,
        });
        assert_eq!(
            c.discount_for(Money::from_centavos(10_000), Timestamp::from_secs(150))
                .unwrap()
                .centavos(),
            1_000
        );
    }

    #[test]
    fn a_fixed_coupon_never_exceeds_the_subtotal() {
        let mut c = coupon(Discount::Fixed {
            amount: Money::from_centavos(9_000),
        });
        c.min_subtotal = Money::from_centavos(0);
        assert_eq!(
            c.discount_for(Money::from_centavos(5_000), Timestamp::from_secs(150))
                .unwrap()
                .centavos(),
            5_000
        );
    }

    #[test]
    fn an_expired_or_future_or_used_up_coupon_is_refused() {
        let mut c = coupon(Discount::Percent {
            basis_points: 1_000,
        });
        let s = Money::from_centavos(10_000);
        assert!(c.discount_for(s, Timestamp::from_secs(99)).is_err());
        assert!(c.discount_for(s, Timestamp::from_secs(200)).is_err());
        c.used = 2;
        assert!(c.discount_for(s, Timestamp::from_secs(150)).is_err());
    }

    #[test]
    fn a_coupon_below_its_minimum_subtotal_is_refused() {
        let c = coupon(Discount::Percent {
            basis_points: 1_000,
        });
        assert!(
            c.discount_for(Money::from_centavos(4_999), Timestamp::from_secs(150))
                .is_err()
        );
    }

    #[test]
    fn a_per_customer_limit_of_zero_is_refused() {
        let mut c = coupon(Discount::Percent {
            basis_points: 1_000,
        });
        c.per_customer_limit = Some(1);
        assert!(c.validate().is_ok());
        c.per_customer_limit = Some(0);
        let Err(DomainError::Invalid(errors)) = c.validate() else {
            panic!("a limit of 0 passed");
        };
        assert_eq!(errors[0].field, "per_customer_limit");
    }

    #[test]
    fn coupon_codes_are_normalised() {
        assert_eq!(parse_code(" bemvindo10 ").unwrap(), "BEMVINDO10");
        assert!(parse_code("x").is_err());
        assert!(parse_code("no spaces").is_err());
    }
}
