//! Money: Brazilian reais held as a whole number of centavos, never as a float.
//!
//! Invariants and decisions:
//! - [`Money`] is an `i64` of centavos (±92 quadrillion reais). It is signed so that validation
//!   can name a negative input ("the price must be positive") instead of failing to build it;
//!   prices, totals and discounts are checked to be positive or zero where they are accepted.
//! - Serde: a bare integer of centavos (`1990` is R$ 19,90). The API names such fields
//!   `*_centavos`; the same integer goes to SQLite, DynamoDB and events, so no decimal text is
//!   ever re-parsed on the way.
//! - Arithmetic is checked: `checked_add`, `checked_sub` and `checked_mul` return `None` on
//!   overflow rather than wrapping or panicking.
//! - Only BRL exists for now ([`Currency`]); the currency is not serialized with the amount.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::br::ParseError;

/// The currencies the store sells in. Just the real for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "BRL")]
    Brl,
}

impl Currency {
    /// ISO 4217 letter code: `BRL`.
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Brl => "BRL",
        }
    }

    /// ISO 4217 numeric code: 986 (the Pix BR Code's field 53).
    pub const fn numeric_code(self) -> u16 {
        match self {
            Currency::Brl => 986,
        }
    }
}

/// An amount of Brazilian reais, in centavos. Serialized as that integer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money {
    centavos: i64,
}

const WHAT: &str = "amount";

impl Money {
    pub const ZERO: Money = Money { centavos: 0 };

    pub const fn from_centavos(centavos: i64) -> Money {
        Money { centavos }
    }

    pub const fn centavos(self) -> i64 {
        self.centavos
    }

    pub const fn currency(self) -> Currency {
        Currency::Brl
    }

    /// `None` on overflow.
    pub const fn checked_add(self, other: Money) -> Option<Money> {
        match self.centavos.checked_add(other.centavos) {
            Some(centavos) => Some(Money { centavos }),
            None => None,
        }
    }

    /// `None` on overflow. The result may be negative: callers that subtract a discount cap it
    /// first (`discount.min(subtotal)`).
    pub const fn checked_sub(self, other: Money) -> Option<Money> {
        match self.centavos.checked_sub(other.centavos) {
            Some(centavos) => Some(Money { centavos }),
            None => None,
        }
    }

    /// A unit price times a quantity; `None` on overflow.
    pub const fn checked_mul(self, quantity: u32) -> Option<Money> {
        match self.centavos.checked_mul(quantity as i64) {
            Some(centavos) => Some(Money { centavos }),
            None => None,
        }
    }

    /// `basis_points` ten-thousandths of this amount (1000 = 10 %, 10 000 = 100 %), rounded half
    /// up to the centavo: 10 % of R$ 0,05 is R$ 0,01 (0,5 centavo rounds up), 10 % of R$ 0,04 is
    /// R$ 0,00. Never negative: percentages are taken of prices and subtotals, and a negative
    /// amount gives zero rather than a negative discount. A result beyond the largest `Money`
    /// (only possible above 100 %) is capped there.
    pub fn percent_of(self, basis_points: u32) -> Money {
        if self.centavos <= 0 {
            return Money::ZERO;
        }
        let exact_times_10k = i128::from(self.centavos) * i128::from(basis_points);
        let rounded = (exact_times_10k + 5_000) / 10_000;
        Money {
            centavos: i64::try_from(rounded).unwrap_or(i64::MAX),
        }
    }

    /// Reads an amount as spreadsheets and people write it (CSV import): `12,50`, `12.50`,
    /// `1.234,56`, `1,234.56`, `1234`, `12,5`, optionally after `R$` (so `Display`'s output reads
    /// back). The rules:
    /// - with both `.` and `,`, the last one is the decimal separator and the other groups
    ///   thousands (groups of exactly 3 digits);
    /// - with only one of them: once, it is the decimal separator; repeated, it groups thousands;
    /// - at most 2 decimals, so an amount such as `1.234` (one separator, three digits after it)
    ///   is refused as ambiguous rather than guessed;
    /// - no sign (negatives are refused), no spaces inside, no exponent, at least one digit
    ///   before the decimal separator and one after it.
    pub fn parse_decimal(input: &str) -> Result<Money, ParseError> {
        let malformed = ParseError::Invalid {
            what: WHAT,
            problem: "is not a number such as 1.234,56 or 1234.56",
        };
        let mut text = input.trim();
        if let Some(rest) = text.strip_prefix("R$") {
            text = rest.trim_start();
        }
        if text.is_empty() {
            return Err(ParseError::Empty { what: WHAT });
        }
        if text.starts_with('-') {
            return Err(ParseError::Negative { what: WHAT });
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        {
            return Err(malformed);
        }
        let dots = text.matches('.').count();
        let commas = text.matches(',').count();
        let (decimal, thousands) = match (dots, commas) {
            (0, 0) => (None, None),
            (1, 0) => (Some('.'), None),
            (0, 1) => (Some(','), None),
            (_, 0) => (None, Some('.')),
            (0, _) => (None, Some(',')),
            _ if text.rfind('.') > text.rfind(',') => (Some('.'), Some(',')),
            _ => (Some(','), Some('.')),
        };
        let (whole, fraction) = match decimal {
            Some(sep) => {
                let (whole, fraction) = text.rsplit_once(sep).ok_or(malformed.clone())?;
                if whole.contains(sep) {
                    return Err(malformed);
                }
                (whole, fraction)
            }
            None => (text, ""),
        };
        let whole_digits = match thousands {
            Some(sep) => {
                let mut groups = whole.split(sep);
                let first = groups.next().unwrap_or_default();
                if first.is_empty() || first.len() > 3 || !groups.all(|g| g.len() == 3) {
                    return Err(malformed);
                }
                whole.replace(sep, "")
            }
            None => whole.to_owned(),
        };
        // Only digits remain in both parts: every separator was accounted for above.
        if whole_digits.is_empty() || (decimal.is_some() && fraction.is_empty()) {
            return Err(malformed);
        }
        if !whole_digits
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return Err(malformed);
        }
        if fraction.len() > 2 {
            return Err(ParseError::TooManyDecimals { what: WHAT });
        }
        let too_large = ParseError::OutOfRange { what: WHAT };
        let mut centavos: i64 = 0;
        for b in whole_digits
            .bytes()
            .chain(fraction.bytes())
            .chain(std::iter::repeat_n(b'0', 2 - fraction.len()))
        {
            centavos = centavos
                .checked_mul(10)
                .and_then(|c| c.checked_add(i64::from(b - b'0')))
                .ok_or(too_large.clone())?;
        }
        Ok(Money { centavos })
    }

    /// `R$1,234.56`, for English-language pages and e-mails. Negative: `-R$1,234.56`.
    pub fn format_en(self) -> String {
        self.format_with("R$", ',', '.')
    }

    /// `1234.56`: no symbol, no thousands separator, a dot and always two decimals (spreadsheet
    /// exports; `parse_decimal` reads it back).
    pub fn format_plain(self) -> String {
        let sign = if self.centavos < 0 { "-" } else { "" };
        let abs = self.centavos.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    fn format_with(self, symbol: &str, thousands: char, decimal: char) -> String {
        let abs = self.centavos.unsigned_abs();
        let reais = (abs / 100).to_string();
        let mut out = String::with_capacity(reais.len() + reais.len() / 3 + 8);
        if self.centavos < 0 {
            out.push('-');
        }
        out.push_str(symbol);
        for (i, digit) in reais.chars().enumerate() {
            if i > 0 && (reais.len() - i).is_multiple_of(3) {
                out.push(thousands);
            }
            out.push(digit);
        }
        out.push(decimal);
        out.push_str(&format!("{:02}", abs % 100));
        out
    }
}

/// Brazilian Portuguese: `R$ 1.234,56` (a plain space after the symbol), `-R$ 1.234,56`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_with("R$ ", '.', ','))
    }
}

/// Splits `total` into `n` installments ("parcelas") that add up to exactly `total`: each is
/// `total / n` rounded toward zero, and the first also takes the remainder centavos, as card
/// statements show it (R$ 100,00 in 3 → 33,34 + 33,33 + 33,33). `n == 0` gives no installments:
/// the caller bounds `n` (the store offers 1 to 12), which also bounds the allocation.
pub fn split_installments(total: Money, n: u32) -> Vec<Money> {
    if n == 0 {
        return Vec::new();
    }
    let count = i64::from(n);
    let each = total.centavos / count;
    let remainder = total.centavos % count;
    let mut parts = vec![Money { centavos: each }; n as usize];
    parts[0] = Money {
        centavos: each + remainder,
    };
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brl(centavos: i64) -> Money {
        Money::from_centavos(centavos)
    }

    #[test]
    fn money_serializes_as_an_integer_number_of_centavos() {
        assert_eq!(serde_json::to_string(&brl(1_990)).unwrap(), "1990");
        assert_eq!(serde_json::from_str::<Money>("1990").unwrap(), brl(1_990));
        assert!(serde_json::from_str::<Money>(r#""19,90""#).is_err());
        assert!(serde_json::from_str::<Money>("19.9").is_err());
        assert_eq!(serde_json::to_string(&Currency::Brl).unwrap(), r#""BRL""#);
        assert_eq!(brl(1).currency().numeric_code(), 986);
    }

    #[test]
    fn money_displays_in_brazilian_portuguese_and_in_english() {
        assert_eq!(brl(123_456).to_string(), "R$ 1.234,56");
        assert_eq!(brl(123_456).format_en(), "R$1,234.56");
        assert_eq!(brl(123_456).format_plain(), "1234.56");
        assert_eq!(brl(0).to_string(), "R$ 0,00");
        assert_eq!(brl(5).to_string(), "R$ 0,05");
        assert_eq!(brl(100_000_000).to_string(), "R$ 1.000.000,00");
        assert_eq!(brl(-123_456).to_string(), "-R$ 1.234,56");
        assert_eq!(brl(-5).format_plain(), "-0.05");
        assert_eq!(brl(i64::MIN).to_string(), "-R$ 92.233.720.368.547.758,08");
    }

    #[test]
    fn checked_arithmetic_returns_none_on_overflow() {
        assert_eq!(brl(1_000).checked_add(brl(990)), Some(brl(1_990)));
        assert_eq!(brl(1_000).checked_sub(brl(1_500)), Some(brl(-500)));
        assert_eq!(brl(1_990).checked_mul(3), Some(brl(5_970)));
        assert_eq!(brl(i64::MAX).checked_add(brl(1)), None);
        assert_eq!(brl(i64::MIN).checked_sub(brl(1)), None);
        assert_eq!(brl(i64::MAX / 2).checked_mul(3), None);
    }

    #[test]
    fn a_percentage_rounds_half_up_to_the_centavo() {
        assert_eq!(brl(10_000).percent_of(1_000), brl(1_000));
        assert_eq!(brl(5).percent_of(1_000), brl(1), "0,5 centavo rounds up");
        assert_eq!(brl(4).percent_of(1_000), brl(0));
        assert_eq!(
            brl(1_999).percent_of(1_500),
            brl(300),
            "299,85 rounds to 300"
        );
        assert_eq!(brl(1_999).percent_of(10_000), brl(1_999));
        assert_eq!(brl(1_999).percent_of(0), brl(0));
        assert_eq!(brl(-1_000).percent_of(1_000), brl(0), "never negative");
        assert_eq!(
            brl(i64::MAX).percent_of(u32::MAX),
            brl(i64::MAX),
            "capped, not wrapped"
        );
    }

    #[test]
    fn decimal_amounts_are_read_in_both_conventions() {
        let ok = |s: &str| Money::parse_decimal(s).unwrap().centavos();
        assert_eq!(ok("12,50"), 1_250);
        assert_eq!(ok("12.50"), 1_250);
        assert_eq!(ok("12,5"), 1_250);
        assert_eq!(ok("1.234,56"), 123_456);
        assert_eq!(ok("1,234.56"), 123_456);
        assert_eq!(ok("1.234.567"), 123_456_700);
        assert_eq!(ok("1.234.567,8"), 123_456_780);
        assert_eq!(ok("1234"), 123_400);
        assert_eq!(ok("0,99"), 99);
        assert_eq!(ok(" R$ 1.234,56 "), 123_456);
        assert_eq!(
            ok("R$\u{a0}1.234,56"),
            123_456,
            "the no-break space browsers put after R$"
        );
        assert_eq!(ok("007,50"), 750);
    }

    #[test]
    fn decimal_amounts_with_too_many_decimals_a_sign_or_garbage_are_refused() {
        let err = |s: &str| Money::parse_decimal(s).unwrap_err().to_string();
        assert_eq!(err("12,505"), "amount has more than 2 decimal places");
        assert_eq!(
            err("1.234"),
            "amount has more than 2 decimal places",
            "ambiguous, not guessed"
        );
        assert_eq!(err("-12,50"), "amount cannot be negative");
        assert_eq!(err("-R$ 12,50"), "amount cannot be negative");
        assert_eq!(err(""), "amount is empty");
        assert_eq!(err("R$"), "amount is empty");
        for garbage in [
            "abc",
            "12,50 BRL",
            "1 234,56",
            "+12",
            "1e3",
            ",50",
            "12,",
            "1.2.3,45",
            "12,50,00",
            "1.234.56,7",
            "1,234,56.7,8",
            "1..5",
            "1,,5",
            "١٢",
            "NaN",
        ] {
            assert_eq!(
                err(garbage),
                "amount is not a number such as 1.234,56 or 1234.56",
                "{garbage:?}"
            );
        }
        assert_eq!(err("92233720368547758,08"), "amount is too large");
        assert_eq!(
            Money::parse_decimal("92233720368547758,07"),
            Ok(brl(i64::MAX))
        );
    }

    #[test]
    fn installments_add_up_and_the_first_takes_the_remainder() {
        assert_eq!(
            split_installments(brl(10_000), 3),
            vec![brl(3_334), brl(3_333), brl(3_333)]
        );
        assert_eq!(
            split_installments(brl(10_002), 4),
            vec![brl(2_502), brl(2_500), brl(2_500), brl(2_500)]
        );
        assert_eq!(split_installments(brl(2), 3), vec![brl(2), brl(0), brl(0)]);
        assert_eq!(split_installments(brl(1_990), 1), vec![brl(1_990)]);
        assert!(split_installments(brl(1_990), 0).is_empty());
    }

    proptest! {
        #[test]
        fn no_input_makes_parse_decimal_panic(s in ".{0,40}") {
            let _ = Money::parse_decimal(&s);
        }

        #[test]
        fn no_number_like_input_makes_parse_decimal_panic(s in "(R\\$ ?)?-?[0-9.,]{0,30}") {
            if let Ok(m) = Money::parse_decimal(&s) {
                prop_assert!(m.centavos() >= 0);
            }
        }

        #[test]
        fn every_format_reads_back_as_the_same_amount(c in 0i64..=i64::MAX) {
            let m = brl(c);
            prop_assert_eq!(Money::parse_decimal(&m.to_string()), Ok(m));
            prop_assert_eq!(Money::parse_decimal(&m.format_en()), Ok(m));
            prop_assert_eq!(Money::parse_decimal(&m.format_plain()), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        }

        #[test]
        fn a_decimal_with_up_to_two_decimals_reads_as_its_value(
            reais in 0i64..10_000_000_000,
            cents in 0i64..100,
            comma in any::<bool>(),
        ) {
            let sep = if comma { ',' } else { '.' };
            let text = format!("{reais}{sep}{cents:02}");
            prop_assert_eq!(Money::parse_decimal(&text), Ok(brl(reais * 100 + cents)));
        }

        #[test]
        fn checked_arithmetic_matches_wide_arithmetic(a in any::<i64>(), b in any::<i64>(), q in any::<u32>()) {
            let wide = |x: i128| i64::try_from(x).ok().map(brl);
            prop_assert_eq!(brl(a).checked_add(brl(b)), wide(i128::from(a) + i128::from(b)));
            prop_assert_eq!(brl(a).checked_sub(brl(b)), wide(i128::from(a) - i128::from(b)));
            prop_assert_eq!(brl(a).checked_mul(q), wide(i128::from(a) * i128::from(q)));
        }

        #[test]
        fn a_percentage_is_the_nearest_centavo_never_negative_and_never_above_the_whole(
            c in any::<i64>(),
            bp in 0u32..=10_000,
        ) {
            let p = brl(c).percent_of(bp).centavos();
            prop_assert!(p >= 0);
            if c > 0 {
                prop_assert!(p <= c);
                // p − c·bp/10000 is within ½ centavo, a tie going up.
                let diff = i128::from(p) * 10_000 - i128::from(c) * i128::from(bp);
                prop_assert!((-4_999..=5_000).contains(&diff), "diff {}", diff);
            }
        }

        #[test]
        fn installments_always_add_up_to_the_total(c in any::<i64>(), n in 1u32..=48) {
            let parts = split_installments(brl(c), n);
            prop_assert_eq!(parts.len(), n as usize);
            let sum: i128 = parts.iter().map(|m| i128::from(m.centavos())).sum();
            prop_assert_eq!(sum, i128::from(c));
            let each = parts[parts.len() - 1];
            prop_assert!(parts[1..].iter().all(|&p| p == each), "all but the first are equal");
            let extra = parts[0].centavos() - each.centavos();
            prop_assert!(extra.unsigned_abs() < u64::from(n), "the first takes less than n extra centavos");
            prop_assert_eq!(extra, c % i64::from(n));
        }
    }
}
