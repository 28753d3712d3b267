//! Cards: the number's checks (Luhn, brand) and installments ("parcelas") with interest.
//!
//! Invariants and decisions:
//! - A [`CardNumber`] is 12 to 19 digits that pass the Luhn check; spaces and dashes people type
//!   are dropped. It is never serialized: only [`CardNumber::last4`] and the [`CardBrand`] are
//!   kept anywhere.
//! - Installments are computed in whole centavos with integer arithmetic only
//!   ([`InstallmentTable::plan`]). The rule, shown to the buyer as "N× de R$ X":
//!   - without interest, the price is split evenly and the centavos that do not divide go one
//!     each to the first installments (R$ 100,00 in 3× is 33,34 + 33,33 + 33,33);
//!   - with a monthly rate `i`, each installment is the Price-table (French amortization)
//!     payment `P·i / (1 − (1+i)^−n)` rounded half-up to the centavo, computed as an exact
//!     fraction, and the total charged is `n ×` that installment;
//!   - either way, the installments add up to the plan's total exactly.

use num_bigint::BigUint;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::money::Money;

/// A card number that passed the Luhn check. Not `Serialize`: it must not be stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl std::fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CardNumber(…{})", self.last4())
    }
}

impl CardNumber {
    pub fn parse(input: &str) -> Result<CardNumber, DomainError> {
        let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() < 12 || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DomainError::field(
                "card.number",
                "a card number has 12 to 19 digits",
            ));
        }
        if !luhn_valid(&digits) {
            return Err(DomainError::field(
                "card.number",
                "this card number is not valid; check the digits",
            ));
        }
        Ok(CardNumber(digits))
    }

    pub fn digits(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// The brand, by the number's leading digits (IIN ranges as the schemes publish them;
    /// Elo and Hipercard by their best-known prefixes).
    pub fn brand(&self) -> CardBrand {
        let d = &self.0;
        let prefix = |n: usize| d[..n.min(d.len())].parse::<u32>().unwrap_or(0);
        if [
            "401178", "401179", "431274", "438935", "451416", "457393", "504175", "506699",
            "509000", "627780", "636297", "636368", "650031", "650901", "651652", "655000",
        ]
        .iter()
        .any(|p| d.starts_with(p))
        {
            CardBrand::Elo
        } else if d.starts_with("606282") || d.starts_with("3841") {
            CardBrand::Hipercard
        } else if d.starts_with("34") || d.starts_with("37") {
            CardBrand::Amex
        } else if d.starts_with('4') {
            CardBrand::Visa
        } else if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) {
            CardBrand::Mastercard
        } else if d.starts_with("36") || d.starts_with("38") || (300..=305).contains(&prefix(3)) {
            CardBrand::Diners
        } else {
            CardBrand::Other
        }
    }
}

/// The Luhn (mod 10) check over a string of digits.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Elo,
    Hipercard,
    Diners,
    Other,
}

impl CardBrand {
    /// NF-e `card/tBand` (NOTES.md §3 "pag"): 01 Visa, 02 Mastercard, 03 Amex, 05 Diners,
    /// 06 Elo, 07 Hipercard, 99 others.
    pub fn nfe_code(self) -> &'static str {
        match self {
            CardBrand::Visa => "01",
            CardBrand::Mastercard => "02",
            CardBrand::Amex => "03",
            CardBrand::Diners => "05",
            CardBrand::Elo => "06",
            CardBrand::Hipercard => "07",
            CardBrand::Other => "99",
        }
    }
}

/// The interest a shop charges per number of installments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallmentTable {
    /// The monthly rate, in basis points (199 = 1,99 % a.m.), for 1, 2, 3, … installments; its
    /// length is the most installments offered. 0 means "sem juros".
    pub monthly_rate_bp: Vec<u32>,
    /// No installment below this (a plan whose installment would be smaller is not offered).
    pub min_installment: Money,
}

impl Default for InstallmentTable {
    /// Up to 12×: 1× to 3× without interest, 4× to 12× at 1,99 % a.m.; installments of at least
    /// R$ 5,00.
    fn default() -> Self {
        let mut rates = vec![0; 3];
        rates.extend([199; 9]);
        InstallmentTable {
            monthly_rate_bp: rates,
            min_installment: Money::from_centavos(500),
        }
    }
}

/// One way to pay a price in installments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallmentPlan {
    pub count: u32,
    pub monthly_rate_bp: u32,
    /// Each installment, first to last; they add up to `total`.
    pub installments: Vec<Money>,
    /// What the buyer pays in all: the price, plus interest when there is a rate.
    pub total: Money,
}

impl InstallmentPlan {
    /// The largest installment (the first one), the figure shown as "N× de R$ X".
    pub fn installment(&self) -> Money {
        self.installments[0]
    }

    pub fn interest(&self, price: Money) -> Money {
        Money::from_centavos(self.total.centavos() - price.centavos())
    }
}

impl InstallmentTable {
    /// Check a table from settings.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.monthly_rate_bp.is_empty() || self.monthly_rate_bp.len() > 24 {
            return Err(DomainError::field(
                "installments",
                "offer between 1 and 24 installments",
            ));
        }
        if self.monthly_rate_bp.iter().any(|&r| r > 2_000) {
            return Err(DomainError::field(
                "installments",
                "a monthly rate above 20 % is refused",
            ));
        }
        if self.min_installment.centavos() < 1 {
            return Err(DomainError::field(
                "installments",
                "the smallest installment must be at least R$ 0,01",
            ));
        }
        Ok(())
    }

    /// Every plan offered for `price`: 1× always, then each count whose installment is at
    /// least the minimum.
    pub fn plans(&self, price: Money) -> Vec<InstallmentPlan> {
        (1..=self.monthly_rate_bp.len() as u32)
            .filter_map(|n| self.plan(price, n).ok())
            .collect()
    }

    /// `price` in `count` installments, or why not.
    pub fn plan(&self, price: Money, count: u32) -> Result<InstallmentPlan, DomainError> {
        let p = price.centavos();
        if p <= 0 {
            return Err(DomainError::Rule("nothing to pay".into()));
        }
        let Some(&rate) = count
            .checked_sub(1)
            .and_then(|i| self.monthly_rate_bp.get(i as usize))
        else {
            return Err(DomainError::field(
                "installments",
                format!(
                    "choose between 1 and {} installments",
                    self.monthly_rate_bp.len()
                ),
            ));
        };
        let n = i64::from(count);
        let installments: Vec<Money> = if rate == 0 {
            let (base, extra) = (p / n, p % n);
            (0..n)
                .map(|k| Money::from_centavos(base + i64::from(k < extra)))
                .collect()
        } else {
            let each = price_table_payment(p, rate, count);
            vec![Money::from_centavos(each); count as usize]
        };
        if count > 1 && installments[count as usize - 1] < self.min_installment {
            return Err(DomainError::field(
                "installments",
                format!(
                    "installments of at least {} only; choose fewer",
                    self.min_installment
                ),
            ));
        }
        let total = Money::from_centavos(installments.iter().map(|m| m.centavos()).sum());
        Ok(InstallmentPlan {
            count,
            monthly_rate_bp: rate,
            installments,
            total,
        })
    }
}

/// `P·i / (1 − (1+i)^−n)` with `i = rate_bp / 10 000`, rounded half-up to the centavo, exactly:
/// with `A = 10 000 + rate_bp` and `B = 10 000` it is `P·rate_bp·A^n / (B·(A^n − B^n))`.
fn price_table_payment(price_centavos: i64, rate_bp: u32, n: u32) -> i64 {
    let a = BigUint::from(10_000u32 + rate_bp);
    let b = BigUint::from(10_000u32);
    let an = a.pow(n);
    let bn = b.pow(n);
    let numerator = BigUint::from(price_centavos as u64) * BigUint::from(rate_bp) * &an;
    let denominator = &b * (an - bn);
    // Half-up: floor((2·num + den) / (2·den)).
    let rounded = (numerator * 2u32 + &denominator) / (denominator * 2u32);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// What the card sandbox does with a test card number (`docs/payments.md` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxOutcome {
    Approve,
    Decline,
    InsufficientFunds,
    /// The acquirer did not answer: the attempt may be retried.
    ProcessorError,
}

/// The sandbox's test cards: these four numbers have fixed outcomes; any other valid number is
/// approved.
pub const SANDBOX_CARDS: [(&str, SandboxOutcome); 4] = [
    ("4111111111111111", SandboxOutcome::Approve),
    ("4000000000000002", SandboxOutcome::Decline),
    ("4000000000009995", SandboxOutcome::InsufficientFunds),
    ("4000000000000119", SandboxOutcome::ProcessorError),
];

/// The sandbox's answer for `card`.
pub fn sandbox_outcome(card: &CardNumber) -> SandboxOutcome {
    SANDBOX_CARDS
        .iter()
        .find(|(n, _)| *n == card.digits())
        .map_or(SandboxOutcome::Approve, |(_, o)| *o)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn m(c: i64) -> Money {
        Money::from_centavos(c)
    }

    #[test]
    fn luhn_accepts_test_cards_and_refuses_a_changed_digit() {
        for (n, _) in SANDBOX_CARDS {
            assert!(CardNumber::parse(n).is_ok(), "{n}");
        }
        assert!(CardNumber::parse("4111 1111 1111 1111").is_ok());
        assert!(CardNumber::parse("4111-1111-1111-1112").is_err());
        assert!(CardNumber::parse("411111").is_err());
        assert!(CardNumber::parse("4111a11111111111").is_err());
    }

    #[test]
    fn brands_from_leading_digits() {
        let brand = |n: &str| CardNumber::parse(n).unwrap().brand();
        assert_eq!(brand("4111111111111111"), CardBrand::Visa);
        assert_eq!(brand("5555555555554444"), CardBrand::Mastercard);
        assert_eq!(brand("2223003122003222"), CardBrand::Mastercard);
        assert_eq!(brand("378282246310005"), CardBrand::Amex);
        assert_eq!(brand("6362970000457013"), CardBrand::Elo);
        assert_eq!(brand("6062825624254001"), CardBrand::Hipercard);
        assert_eq!(brand("36227206271667"), CardBrand::Diners);
        assert_eq!(CardBrand::Elo.nfe_code(), "06");
    }

    #[test]
    fn the_number_never_shows_in_debug_output() {
        let n = CardNumber::parse("4111111111111111").unwrap();
        assert_eq!(format!("{n:?}"), "CardNumber(…1111)");
    }

    #[test]
    fn without_interest_the_odd_centavos_go_to_the_first_installments() {
        let plan = InstallmentTable::default().plan(m(10_000), 3).unwrap();
        assert_eq!(plan.installments, vec![m(3_334), m(3_333), m(3_333)]);
        assert_eq!(plan.total, m(10_000));
        assert_eq!(plan.installment(), m(3_334));
    }

    #[test]
    fn with_interest_each_installment_is_the_rounded_price_table_payment() {
        // R$ 1.000,00 in 10× at 1,99 % a.m.: 1000·0.0199/(1−1.0199^−10) = 111.2683… → 111,27.
        let plan = InstallmentTable::default().plan(m(100_000), 10).unwrap();
        assert_eq!(plan.installment(), m(11_127));
        assert_eq!(plan.total, m(111_270));
        assert_eq!(plan.interest(m(100_000)), m(11_270));
        // R$ 500,00 in 4× at 1,99 %: 131.2800… → 131,28.
        assert_eq!(
            InstallmentTable::default()
                .plan(m(50_000), 4)
                .unwrap()
                .installment(),
            m(13_128)
        );
    }

    #[test]
    fn plans_stop_at_the_minimum_installment() {
        let plans = InstallmentTable::default().plans(m(1_200));
        // 1× 12,00; 2× 6,00; 3× 4,00 is under R$ 5,00.
        assert_eq!(plans.iter().map(|p| p.count).collect::<Vec<_>>(), [1, 2]);
        assert!(InstallmentTable::default().plan(m(1_200), 3).is_err());
        assert!(InstallmentTable::default().plan(m(1_200), 0).is_err());
        assert!(InstallmentTable::default().plan(m(100_000), 13).is_err());
    }

    #[test]
    fn tables_from_settings_are_checked() {
        assert!(InstallmentTable::default().validate().is_ok());
        let bad = InstallmentTable {
            monthly_rate_bp: vec![],
            min_installment: m(100),
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn the_sandbox_outcomes_follow_the_test_cards() {
        let outcome = |n: &str| sandbox_outcome(&CardNumber::parse(n).unwrap());
        assert_eq!(outcome("4111111111111111"), SandboxOutcome::Approve);
        assert_eq!(outcome("4000000000000002"), SandboxOutcome::Decline);
        assert_eq!(
            outcome("4000000000009995"),
            SandboxOutcome::InsufficientFunds
        );
        assert_eq!(outcome("5555555555554444"), SandboxOutcome::Approve);
    }

    proptest! {
        #[test]
        fn installments_always_add_up_to_the_total(
            price in 1i64..1_000_000_000,
            count in 1u32..=12,
            rate in prop::sample::select(vec![0u32, 1, 99, 199, 299, 1500]),
        ) {
            let table = InstallmentTable {
                monthly_rate_bp: vec![rate; 12],
                min_installment: m(1),
            };
            if let Ok(plan) = table.plan(m(price), count) {
                let sum: i64 = plan.installments.iter().map(|i| i.centavos()).sum();
                prop_assert_eq!(sum, plan.total.centavos());
                prop_assert_eq!(plan.installments.len(), count as usize);
                if rate == 0 {
                    prop_assert_eq!(plan.total, m(price));
                    let spread = plan.installments[0].centavos() - plan.installments[count as usize - 1].centavos();
                    prop_assert!(spread <= 1);
                } else {
                    // Interest is never negative and never below the one-installment case.
                    prop_assert!(plan.total >= m(price));
                }
            }
        }

        #[test]
        fn a_luhn_check_digit_makes_any_digits_valid(body in "[0-9]{11,18}") {
            let check = (0..10).find(|d| luhn_valid(&format!("{body}{d}"))).unwrap();
            let n = format!("{body}{check}");
            prop_assert!(CardNumber::parse(&n).is_ok());
            let wrong = format!("{body}{}", (check + 1) % 10);
            prop_assert!(CardNumber::parse(&wrong).is_err());
        }
    }
}
