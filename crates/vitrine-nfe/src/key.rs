//! The chave de acesso (44 characters), its mod-11 check digit, and the random code `cNF`.
//!
//! Layout (NOTES.md §2): `cUF(2) AAMM(4) CNPJ(14) mod(2) serie(3) nNF(9) tpEmis(1) cNF(8) cDV(1)`.
//! Since the alphanumeric CNPJ, positions 7–18 may hold `A–Z`; every character then counts as
//! `ASCII − 48` in the check digit (digits keep their value, `A` = 17), weights 2..9 cycling from
//! the right, `cDV = 0` when `sum mod 11 < 2`, else `11 − sum mod 11`.

use std::fmt;

use rand::Rng;
use thiserror::Error;

use crate::ids::char_value;

/// Why a key or a `cNF` was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Not `[0-9]{6}[0-9A-Z]{12}[0-9]{26}`.
    #[error("an access key is [0-9]{{6}}[0-9A-Z]{{12}}[0-9]{{26}}, got {0:?}")]
    Format(String),
    /// The last digit is not the mod-11 check digit of the first 43.
    #[error("access key {key}: check digit should be {expected}")]
    CheckDigit {
        /// The key as given.
        key: String,
        /// The computed check digit.
        expected: u8,
    },
    /// `cNF` is not 8 digits.
    #[error("cNF must be 8 digits, got {0:?}")]
    CnfFormat(String),
    /// `cNF` is one of the trivial values SEFAZ refuses (NT 2019.001).
    #[error("cNF {0} is trivial (repeated digits or a 1-step sequence)")]
    CnfTrivial(String),
}

/// The mod-11 check digit of a 43-character key body (`[0-9A-Z]`), or `None` when the body is not
/// 43 such characters.
///
/// ```
/// use vitrine_nfe::key::check_digit;
/// assert_eq!(check_digit("4117070611747300015055001000046320161275652"), Some(7));
/// assert_eq!(check_digit("35260712ABC34501DE3555001000000001100000001"), Some(4));
/// ```
pub fn check_digit(body: &str) -> Option<u8> {
    let b = body.as_bytes();
    if b.len() != 43
        || !b
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return None;
    }
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| char_value(*c) * (2 + (i as u32 % 8)))
        .sum();
    let r = sum % 11;
    Some(if r < 2 { 0 } else { (11 - r) as u8 })
}

/// A chave de acesso: 44 characters with a valid check digit.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccessKey(String);

impl AccessKey {
    /// Parses a 44-character key and checks its pattern and check digit.
    pub fn parse(input: &str) -> Result<AccessKey, KeyError> {
        let b = input.as_bytes();
        let pattern_ok = b.len() == 44
            && b[..6].iter().all(u8::is_ascii_digit)
            && b[6..18]
                .iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            && b[18..].iter().all(u8::is_ascii_digit);
        if !pattern_ok {
            return Err(KeyError::Format(input.to_owned()));
        }
        let expected = check_digit(&input[..43]).expect("pattern checked above");
        if b[43] - b'0' != expected {
            return Err(KeyError::CheckDigit {
                key: input.to_owned(),
                expected,
            });
        }
        Ok(AccessKey(input.to_owned()))
    }

    /// Builds a key from a 43-character body by appending its check digit.
    pub(crate) fn from_body(body: &str) -> Result<AccessKey, KeyError> {
        let dv = check_digit(body).ok_or_else(|| KeyError::Format(body.to_owned()))?;
        AccessKey::parse(&format!("{body}{dv}"))
    }

    /// The 44 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The check digit (`ide/cDV`).
    pub fn check_digit(&self) -> u8 {
        self.0.as_bytes()[43] - b'0'
    }

    /// `infNFe/@Id`: `"NFe"` + the key.
    pub fn id(&self) -> String {
        format!("NFe{}", self.0)
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessKey({})", self.0)
    }
}

impl fmt::Display for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `ide/cNF`: the 8 random digits of the key, chosen by the emitter so the key cannot be guessed
/// from the invoice number.
///
/// Refused as trivial (NT 2019.001 added rejections for them): all digits equal (`11111111`), a
/// run of consecutive digits up or down (`12345678`, `01234567`, `98765432`), and — checked by
/// [`Cnf::is_allowed_for`] and by the builder, which knows `nNF` — a value equal to `nNF`.
/// Draw one with [`Cnf::random`]; tests pass a fixed one for deterministic documents.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cnf(u32);

impl Cnf {
    /// Parses 8 digits and refuses the trivial values.
    pub fn parse(input: &str) -> Result<Cnf, KeyError> {
        if input.len() != 8 || !input.bytes().all(|c| c.is_ascii_digit()) {
            return Err(KeyError::CnfFormat(input.to_owned()));
        }
        let value: u32 = input.parse().expect("8 digits");
        if is_trivial(value) {
            return Err(KeyError::CnfTrivial(input.to_owned()));
        }
        Ok(Cnf(value))
    }

    /// Draws a non-trivial `cNF` different from `nnf` from `rng` (use a CSPRNG such as
    /// `rand::thread_rng()` in production: the code is what keeps keys unguessable).
    pub fn random<R: Rng + ?Sized>(rng: &mut R, nnf: u32) -> Cnf {
        loop {
            let value = rng.gen_range(0..100_000_000u32);
            if !is_trivial(value) && value != nnf {
                return Cnf(value);
            }
        }
    }

    /// Whether this code may be used with invoice number `nnf` (it must differ from it).
    pub fn is_allowed_for(self, nnf: u32) -> bool {
        self.0 != nnf
    }

    /// The numeric value.
    pub fn value(self) -> u32 {
        self.0
    }

    /// The 8 digits, zero-padded.
    pub fn as_digits(self) -> String {
        format!("{:08}", self.0)
    }
}

impl fmt::Debug for Cnf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cnf({:08})", self.0)
    }
}

fn is_trivial(value: u32) -> bool {
    let digits: Vec<i32> = format!("{value:08}")
        .bytes()
        .map(|c| i32::from(c - b'0'))
        .collect();
    let steps: Vec<i32> = digits.windows(2).map(|w| w[1] - w[0]).collect();
    steps.iter().all(|s| *s == 0) || steps.iter().all(|s| *s == 1) || steps.iter().all(|s| *s == -1)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn the_samples_key_has_check_digit_7() {
        let key = "41170706117473000150550010000463201612756527";
        assert_eq!(check_digit(&key[..43]), Some(7));
        let parsed = AccessKey::parse(key).unwrap();
        assert_eq!(parsed.check_digit(), 7);
        assert_eq!(parsed.id(), format!("NFe{key}"));
    }

    #[test]
    fn the_alphanumeric_example_has_check_digit_4() {
        let body = "35260712ABC34501DE3555001000000001100000001";
        assert_eq!(check_digit(body), Some(4));
        assert_eq!(
            AccessKey::from_body(body).unwrap().as_str(),
            format!("{body}4")
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(matches!(
            AccessKey::parse("41170706117473000150550010000463201612756528"),
            Err(KeyError::CheckDigit { expected: 7, .. })
        ));
        assert!(AccessKey::parse("4117070611747300015055001000046320161275652").is_err());
        assert!(AccessKey::parse("4117070611747300015055001000046320161275652A").is_err());
        assert!(AccessKey::parse("41a70706117473000150550010000463201612756527").is_err());
        assert_eq!(check_digit("abc"), None);
        assert_eq!(
            check_digit("35260712abc34501DE3555001000000001100000001"),
            None
        );
    }

    #[test]
    fn trivial_cnfs_are_refused() {
        for t in [
            "00000000", "11111111", "99999999", "12345678", "23456789", "01234567", "98765432",
            "87654321", "76543210",
        ] {
            assert!(matches!(Cnf::parse(t), Err(KeyError::CnfTrivial(_))), "{t}");
        }
        assert!(Cnf::parse("1234567").is_err());
        assert!(Cnf::parse("1234567a").is_err());
        let ok = Cnf::parse("61275652").unwrap();
        assert_eq!(ok.as_digits(), "61275652");
        assert!(ok.is_allowed_for(46320));
        assert!(!Cnf::parse("00046320").unwrap().is_allowed_for(46320));
    }

    #[test]
    fn random_cnfs_are_never_trivial_nor_the_number() {
        let mut rng = StdRng::seed_from_u64(7);
        for nnf in 0..2_000u32 {
            let cnf = Cnf::random(&mut rng, nnf);
            assert!(Cnf::parse(&cnf.as_digits()).is_ok());
            assert!(cnf.is_allowed_for(nnf));
        }
    }
}
