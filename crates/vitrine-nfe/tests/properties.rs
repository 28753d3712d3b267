//! Property tests: key check digits, money formatting, text sanitizing.

use proptest::prelude::*;
use vitrine_nfe::key::check_digit;
use vitrine_nfe::money::{MAX_CENTAVOS, Rate, format_centavos, split_proportionally};
use vitrine_nfe::text::{is_tstring, sanitize, sanitize_max};
use vitrine_nfe::{AccessKey, KeyError};

/// `TDec_1302`: `0|0\.[0-9]{2}|[1-9][0-9]{0,12}(\.[0-9]{2})?`, checked by hand.
fn is_tdec_1302(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let Some((int, frac)) = s.split_once('.') else {
        return !s.is_empty()
            && s.len() <= 13
            && !s.starts_with('0')
            && s.bytes().all(|c| c.is_ascii_digit());
    };
    let int_ok = int == "0"
        || (!int.is_empty()
            && int.len() <= 13
            && !int.starts_with('0')
            && int.bytes().all(|c| c.is_ascii_digit()));
    int_ok && frac.len() == 2 && frac.bytes().all(|c| c.is_ascii_digit())
}

/// A 43-character key body: `[0-9]{6}[0-9A-Z]{12}[0-9]{25}`.
fn key_body() -> impl Strategy<Value = String> {
    "[0-9]{6}[0-9A-Z]{12}[0-9]{25}"
}

proptest! {
    #[test]
    fn every_key_body_gets_one_check_digit_that_parses(body in key_body()) {
        let dv = check_digit(&body).unwrap();
        prop_assert!(dv <= 9);
        let key = format!("{body}{dv}");
        prop_assert_eq!(AccessKey::parse(&key).unwrap().check_digit(), dv);
        for wrong in (0..=9u8).filter(|d| *d != dv) {
            let is_check_digit_error = matches!(
                AccessKey::parse(&format!("{body}{wrong}")),
                Err(KeyError::CheckDigit { .. })
            );
            prop_assert!(is_check_digit_error);
        }
    }

    #[test]
    fn the_check_digit_catches_every_single_character_change(
        body in key_body(),
        position in 0usize..43,
        pick in 0usize..36,
    ) {
        const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        // Positions 7-18 (CNPJ root and order) may hold letters; the others are digits.
        let alphabet = if (6..18).contains(&position) { ALPHANUMERIC } else { &ALPHANUMERIC[..10] };
        let original = body.as_bytes()[position];
        let mut replacement = alphabet[pick % alphabet.len()];
        if replacement == original {
            replacement = alphabet[(pick + 1) % alphabet.len()];
        }
        // Mod 11 with weights 2..9 changes the sum's remainder for every single substitution
        // whose value difference is not a multiple of 11 (digits: always; letters: ASCII−48
        // values can differ by 11). Remainders 0 and 1 share the check digit 0.
        prop_assume!((i32::from(original) - i32::from(replacement)) % 11 != 0);
        let mut changed = body.clone().into_bytes();
        changed[position] = replacement;
        let changed = String::from_utf8(changed).unwrap();
        let (before, after) = (check_digit(&body), check_digit(&changed));
        prop_assert!(before != after || before == Some(0), "{} {}", body, changed);
    }

    #[test]
    fn numeric_keys_follow_the_classic_rule(body in "[0-9]{43}") {
        let sum: u32 = body
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, c)| u32::from(c - b'0') * (2 + (i as u32 % 8)))
            .sum();
        let expected = match sum % 11 { 0 | 1 => 0, r => 11 - r } as u8;
        prop_assert_eq!(check_digit(&body), Some(expected));
    }

    #[test]
    fn money_is_always_a_valid_tdec_1302_that_round_trips(centavos in 0..=MAX_CENTAVOS) {
        let s = format_centavos(centavos);
        prop_assert!(is_tdec_1302(&s), "{}", s);
        let (int, frac) = s.split_once('.').unwrap();
        prop_assert_eq!(int.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap(), centavos);
    }

    #[test]
    fn rates_round_half_up_within_half_a_centavo(base in 0i64..=MAX_CENTAVOS, bp in 0u32..=10_000) {
        let value = Rate::from_basis_points(bp).apply(base);
        let exact = i128::from(base) * i128::from(bp); // in 1/10000 centavo
        let diff = i128::from(value) * 10_000 - exact;
        // Half-up: the rounding error is in (-0.5, +0.5] centavo.
        prop_assert!(diff > -5_000 && diff <= 5_000, "{} {} -> {}", base, bp, value);
    }

    #[test]
    fn proportional_splits_add_up(total in 0i64..1_000_000_000, weights in prop::collection::vec(0i64..10_000_000, 1..50)) {
        let parts = split_proportionally(total, &weights);
        prop_assert_eq!(parts.len(), weights.len());
        prop_assert_eq!(parts.iter().sum::<i64>(), total);
        prop_assert!(parts.iter().all(|p| *p >= 0));
    }

    #[test]
    fn sanitized_text_is_always_a_tstring_or_empty(input in any::<String>()) {
        let s = sanitize(&input);
        prop_assert!(s.is_empty() || is_tstring(&s), "{:?} -> {:?}", input, s);
        prop_assert!(!s.contains("  "));
        let invisible = s.chars().any(|c| c.is_control() || c == '\u{a0}' || c == '\u{ad}');
        prop_assert!(!invisible, "{:?}", s);
        prop_assert_eq!(sanitize(&s), s.clone(), "idempotent");
    }

    #[test]
    fn truncated_text_stays_a_tstring_within_the_limit(input in "\\PC{0,300}", max in 1usize..130) {
        let s = sanitize_max(&input, max);
        prop_assert!(s.chars().count() <= max);
        prop_assert!(s.is_empty() || is_tstring(&s));
    }

    #[test]
    fn latin1_text_without_spacing_issues_is_kept_as_is(input in "[A-Za-z0-9À-ÿ.,;:()/&<>\"'-]{1,40}( [A-Za-z0-9À-ÿ]{1,10}){0,3}") {
        prop_assume!(!input.contains('\u{ad}'));
        prop_assert_eq!(sanitize(&input), input);
    }
}
