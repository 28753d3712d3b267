//! Money in integer centavos, rates in basis points, and their schema formats.
//!
//! Amounts are `i64` centavos everywhere (never floats). The schema's money type `TDec_1302` is
//! `0|0\.[0-9]{2}|[1-9][0-9]{0,12}(\.[0-9]{2})?`: always written here with exactly two decimals, a
//! dot, no leading zeros and no thousands separator (`84.90`, `0.00`), so at most
//! [`MAX_CENTAVOS`]. Rates are [`Rate`]s in basis points (1 bp = 0.01 %), written `18.00` (schema
//! `TDec_0302a04`: 2–4 decimals).
//!
//! **Rounding**: a tax value is `base × rate`, rounded half-up to the centavo, once per item
//! ([`Rate::apply`]); document totals are sums of the rounded item values, which is what SEFAZ
//! checks (rejections 531–535 and 610 compare totals with item sums).

use std::fmt::Write as _;

/// The largest amount `TDec_1302` can carry: 13 integer digits and 2 decimals.
pub const MAX_CENTAVOS: i64 = 999_999_999_999_999; // 9 999 999 999 999.99

/// Formats centavos as the schema's decimal: `8490` → `84.90`, `0` → `0.00`, `-5` → `-0.05`.
///
/// Negative values are formatted for diagnostics only; the builder never writes one.
pub fn format_centavos(centavos: i64) -> String {
    let mut out = String::with_capacity(16);
    if centavos < 0 {
        out.push('-');
    }
    let abs = centavos.unsigned_abs();
    let _ = write!(out, "{}.{:02}", abs / 100, abs % 100);
    out
}

/// A tax rate in basis points: `Rate::from_basis_points(1800)` is 18 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rate(u32);

impl Rate {
    /// Zero percent.
    pub const ZERO: Rate = Rate(0);

    /// A rate of `basis_points` hundredths of a percent (`1800` = 18.00 %, `165` = 1.65 %).
    pub const fn from_basis_points(basis_points: u32) -> Rate {
        Rate(basis_points)
    }

    /// The rate in basis points.
    pub const fn basis_points(self) -> u32 {
        self.0
    }

    /// `base × rate`, rounded half-up to the centavo (`base` must be ≥ 0).
    ///
    /// `1005` × 18 % = 180.9 centavos → `181`; `250` × 1.65 % = 4.125 → `4`.
    pub fn apply(self, base_centavos: i64) -> i64 {
        let product = i128::from(base_centavos) * i128::from(self.0);
        let rounded = (product + 5_000).div_euclid(10_000);
        i64::try_from(rounded).unwrap_or(i64::MAX)
    }

    /// The schema's percent format with two decimals: `1800` → `18.00`, `165` → `1.65`, `0` → `0.00`.
    pub fn to_percent_string(self) -> String {
        format!("{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// Splits `total` centavos over `weights` in proportion, by the largest-remainder method: the parts
/// are ≥ 0 and add up to `total` exactly (ties go to the earlier item). Use it to spread an order's
/// freight or discount over its items (`prod/vFrete`, `prod/vDesc`), weighting by each item's
/// `vProd`. All weights zero → the whole amount goes to the first item. Empty `weights` → empty.
///
/// # Panics
/// When `total` or a weight is negative.
pub fn split_proportionally(total: i64, weights: &[i64]) -> Vec<i64> {
    assert!(total >= 0, "split_proportionally: negative total");
    assert!(
        weights.iter().all(|w| *w >= 0),
        "split_proportionally: negative weight"
    );
    if weights.is_empty() {
        return Vec::new();
    }
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if sum == 0 {
        let mut out = vec![0; weights.len()];
        out[0] = total;
        return out;
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut allocated: i128 = 0;
    for (i, w) in weights.iter().enumerate() {
        let exact = i128::from(total) * i128::from(*w);
        let part = exact / sum;
        parts.push(part);
        remainders.push((exact % sum, i));
        allocated += part;
    }
    let mut left = i128::from(total) - allocated;
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
        .into_iter()
        .map(|p| i64::try_from(p).expect("a part never exceeds the total"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals_and_no_leading_zeros() {
        assert_eq!(format_centavos(8490), "84.90");
        assert_eq!(format_centavos(0), "0.00");
        assert_eq!(format_centavos(5), "0.05");
        assert_eq!(format_centavos(100), "1.00");
        assert_eq!(format_centavos(MAX_CENTAVOS), "9999999999999.99");
        assert_eq!(format_centavos(-5), "-0.05");
    }

    #[test]
    fn rates_round_half_up_on_the_centavo() {
        let icms = Rate::from_basis_points(1800);
        assert_eq!(icms.apply(1005), 181); // 180.9
        assert_eq!(Rate::from_basis_points(165).apply(250), 4); // 4.125
        assert_eq!(Rate::from_basis_points(5000).apply(1), 1); // 0.5 -> 1
        assert_eq!(Rate::from_basis_points(5000).apply(3), 2); // 1.5 -> 2
        assert_eq!(Rate::ZERO.apply(123_456), 0);
    }

    #[test]
    fn rates_are_written_as_percent_with_two_decimals() {
        assert_eq!(Rate::from_basis_points(1800).to_percent_string(), "18.00");
        assert_eq!(Rate::from_basis_points(165).to_percent_string(), "1.65");
        assert_eq!(Rate::from_basis_points(760).to_percent_string(), "7.60");
        assert_eq!(Rate::from_basis_points(5).to_percent_string(), "0.05");
        assert_eq!(Rate::ZERO.to_percent_string(), "0.00");
    }

    #[test]
    fn proportional_split_adds_up_exactly() {
        assert_eq!(split_proportionally(1000, &[1, 1, 1]), vec![334, 333, 333]);
        assert_eq!(split_proportionally(1, &[5, 5]), vec![1, 0]);
        assert_eq!(split_proportionally(0, &[5, 5]), vec![0, 0]);
        assert_eq!(split_proportionally(7, &[0, 0]), vec![7, 0]);
        assert_eq!(split_proportionally(1500, &[8490, 1510]), vec![1274, 226]);
        assert!(split_proportionally(10, &[]).is_empty());
    }
}
