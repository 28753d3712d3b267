//! A small Code 128 encoder for the access-key barcode.
//!
//! The DANFE prints the 44-digit access key as **Code 128 subset C** (pairs of digits): quiet
//! zone, Start C, 22 pair values, the check character, Stop, quiet zone
//! (`shared/nfe/DANFE.md`, section "Barcode", after the MOC "DANFE e Código de Barras").
//!
//! Code 128 itself (ISO/IEC 15417): every symbol character is 11 modules wide, three bars and
//! three spaces of 1 to 4 modules each, starting with a bar; Stop is 13 modules (a fourth bar of
//! 2). The check value is `(start value + Σ position × value) mod 103`, positions counted from 1.
//!
//! A key with an alphanumeric CNPJ (allowed by the PL_010 schemas) has letters, which subset C
//! cannot carry: such a key is encoded whole in subset B (ASCII − 32) \[verify against the
//! technical note that introduces the alphanumeric CNPJ\].

/// Element widths (bar, space, bar, space, bar, space) in modules of the symbol characters
/// 0 to 105 (103 = Start A, 104 = Start B, 105 = Start C), and Stop (index 106, seven elements,
/// the last one a bar), as tabulated in the Code 128 standard.
const PATTERNS: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];

const START_B: u8 = 104;
const START_C: u8 = 105;
const STOP: u8 = 106;

/// Quiet zone on each side, in modules (the standard's minimum is 10).
pub const QUIET_ZONE: u32 = 10;

/// Why a text cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Code128Error {
    /// Subset C needs an even, non-zero number of digits.
    #[error("subset C needs an even number of digits, got {0:?}")]
    NotDigitPairs(String),
    /// Subset B carries printable ASCII only.
    #[error("subset B carries printable ASCII only, got {0:?}")]
    NotPrintableAscii(String),
}

/// An encoded barcode: symbol values (start, data, check, stop) and the element widths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barcode {
    /// The symbol values, start character first, then data, check character, Stop (106).
    pub values: Vec<u8>,
}

impl Barcode {
    /// The check character's value.
    pub fn check_value(&self) -> u8 {
        self.values[self.values.len() - 2]
    }

    /// The alternating element widths in modules, starting and ending with a bar (quiet zones
    /// not included).
    pub fn elements(&self) -> Vec<u8> {
        self.values
            .iter()
            .flat_map(|&v| PATTERNS[usize::from(v)].bytes().map(|b| b - b'0'))
            .collect()
    }

    /// The bars as `(start, width)` in modules from the left edge of the symbol, quiet zone
    /// included (so the first bar starts at [`QUIET_ZONE`]).
    pub fn bars(&self) -> Vec<(u32, u32)> {
        let mut x = QUIET_ZONE;
        let mut bars = Vec::new();
        for (i, w) in self.elements().into_iter().enumerate() {
            let w = u32::from(w);
            if i % 2 == 0 {
                bars.push((x, w));
            }
            x += w;
        }
        bars
    }

    /// The whole width in modules, both quiet zones included.
    pub fn total_modules(&self) -> u32 {
        self.elements().iter().map(|&w| u32::from(w)).sum::<u32>() + 2 * QUIET_ZONE
    }
}

/// Encodes digits in subset C (two digits per symbol character).
pub fn encode_c(digits: &str) -> Result<Barcode, Code128Error> {
    if digits.is_empty()
        || !digits.len().is_multiple_of(2)
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Code128Error::NotDigitPairs(digits.to_owned()));
    }
    let data = digits
        .as_bytes()
        .chunks(2)
        .map(|p| (p[0] - b'0') * 10 + (p[1] - b'0'));
    Ok(with_check(START_C, data))
}

/// Encodes printable ASCII in subset B.
pub fn encode_b(text: &str) -> Result<Barcode, Code128Error> {
    if text.is_empty() || !text.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        return Err(Code128Error::NotPrintableAscii(text.to_owned()));
    }
    Ok(with_check(START_B, text.bytes().map(|b| b - b' ')))
}

/// Subset C for an even number of digits, subset B otherwise (an alphanumeric key).
pub fn encode_key(key: &str) -> Result<Barcode, Code128Error> {
    encode_c(key).or_else(|_| encode_b(key))
}

fn with_check(start: u8, data: impl Iterator<Item = u8>) -> Barcode {
    let mut values = vec![start];
    values.extend(data);
    let sum: u64 = u64::from(start)
        + values[1..]
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u64 + 1) * u64::from(v))
            .sum::<u64>();
    values.push((sum % 103) as u8);
    values.push(STOP);
    Barcode { values }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE_KEY: &str = "41170706117473000150550010000463201612756527";

    #[test]
    fn every_symbol_is_eleven_modules_of_three_bars_and_three_spaces_and_stop_is_thirteen() {
        for (value, pattern) in PATTERNS.iter().enumerate() {
            let widths: Vec<u32> = pattern.bytes().map(|b| u32::from(b - b'0')).collect();
            assert!(widths.iter().all(|w| (1..=4).contains(w)), "{value}");
            let total: u32 = widths.iter().sum();
            if value == usize::from(STOP) {
                assert_eq!((widths.len(), total), (7, 13));
            } else {
                assert_eq!((widths.len(), total), (6, 11), "{value}");
                // An even number of modules in the bars (the standard's parity rule).
                assert_eq!(
                    (widths[0] + widths[2] + widths[4]) % 2,
                    0,
                    "bar parity of {value}"
                );
            }
        }
        let mut unique: Vec<&str> = PATTERNS.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), PATTERNS.len(), "patterns are distinct");
    }

    #[test]
    fn the_sample_key_is_start_c_then_22_pairs_then_check_34_then_stop() {
        let code = encode_c(SAMPLE_KEY).unwrap();
        assert_eq!(code.values.len(), 1 + 22 + 1 + 1);
        assert_eq!(code.values[0], 105);
        assert_eq!(
            &code.values[1..23],
            &[
                41, 17, 7, 6, 11, 74, 73, 0, 1, 50, 55, 0, 10, 0, 4, 63, 20, 16, 12, 75, 65, 27
            ]
        );
        // (105 + 1·41 + 2·17 + … + 22·27) mod 103, computed by hand = 34.
        assert_eq!(code.check_value(), 34);
        assert_eq!(*code.values.last().unwrap(), 106);
        // 24 symbols of 11 modules, Stop of 13, two quiet zones of 10.
        assert_eq!(code.total_modules(), 24 * 11 + 13 + 20);
        assert_eq!(code.bars().len(), 24 * 3 + 4);
        assert_eq!(
            code.bars()[0],
            (QUIET_ZONE, 2),
            "Start C begins with a bar of 2"
        );
    }

    #[test]
    fn short_subset_c_and_b_checks_computed_by_hand() {
        // "1234": Start C 105 + 1·12 + 2·34 = 185 → 185 mod 103 = 82.
        assert_eq!(encode_c("1234").unwrap().check_value(), 82);
        // Subset B "AB": 104 + 1·33 + 2·34 = 205 → 102.
        assert_eq!(encode_b("AB").unwrap().check_value(), 102);
    }

    #[test]
    fn odd_or_non_digit_texts_are_refused_in_subset_c() {
        assert!(matches!(
            encode_c("123"),
            Err(Code128Error::NotDigitPairs(_))
        ));
        assert!(matches!(
            encode_c("12a4"),
            Err(Code128Error::NotDigitPairs(_))
        ));
        assert!(matches!(encode_c(""), Err(Code128Error::NotDigitPairs(_))));
        assert!(matches!(
            encode_b("ç"),
            Err(Code128Error::NotPrintableAscii(_))
        ));
    }

    #[test]
    fn an_alphanumeric_key_falls_back_to_subset_b() {
        let key = "35260812ABC34501DE3555001000001234161275652X";
        let code = encode_key(key).unwrap();
        assert_eq!(code.values[0], 104);
        assert_eq!(code.values.len(), 44 + 3);
        assert_eq!(encode_key(SAMPLE_KEY).unwrap().values[0], 105);
    }
}
