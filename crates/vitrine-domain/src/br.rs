//! Brazilian documents and codes: CPF, CNPJ (numeric and alphanumeric), CEP and UF, plus
//! [`ParseError`], the error every value parser of this crate returns (`money` and `contact` use
//! it too; it lives here because this module came first, and is re-exported at the crate root).
//!
//! Invariants:
//! - A [`Cpf`], [`Cnpj`], [`TaxId`], [`Cep`] or [`Uf`] is valid by construction: the only ways in
//!   are `parse` (also behind `FromStr` and serde's `Deserialize`) and the `from_base` helpers,
//!   which compute the check digits.
//! - Each keeps its canonical form, the one NF-e wants: digits only (a CNPJ: `[0-9A-Z]{12}[0-9]{2}`,
//!   letters uppercase). `as_str`, `Display` and serde use it; `formatted()` adds the mask people
//!   are used to (`529.982.247-25`, `12.ABC.345/01DE-35`, `01310-100`).
//! - Parsers take what people type: surrounding whitespace and the mask characters (`.`, `-`, and
//!   `/` for a CNPJ) are ignored wherever they appear; anything else is refused, never skipped.
//!
//! The check-digit rules are those of `shared/nfe/NOTES.md` §8. Mod 11 with "remainder 0 or 1 gives
//! 0" does not catch every single-character change: about 0.2 % of one-digit changes to a CPF keep
//! it valid, and in an alphanumeric CNPJ a character swapped for one whose value differs by 11
//! (`6` ↔ `A`, `7` ↔ `B`, …) goes unnoticed. The tests state exactly which changes can slip through.

use std::fmt;

/// Why a piece of text is not a valid value. The message names the problem in plain English and
/// starts with what was being read ("CPF check digits do not match"); the caller adds the field.
/// Messages never repeat the input, which may be personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("{what} is empty")]
    Empty { what: &'static str },
    /// Too few or too many digits or characters, e.g. "CPF must have 11 digits".
    #[error("{what} must have {expected}")]
    WrongLength {
        what: &'static str,
        expected: &'static str,
    },
    /// Over a maximum length counted in characters.
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
    /// A character outside the allowed set, e.g. "CEP may contain only digits and a dash".
    #[error("{what} may contain only {allowed}")]
    InvalidCharacter {
        what: &'static str,
        allowed: &'static str,
    },
    #[error("{what} check digits do not match")]
    CheckDigits { what: &'static str },
    /// `111.111.111-11` and the like: they pass the arithmetic but are not real numbers.
    #[error("{what} cannot have all digits equal")]
    RepeatedDigits { what: &'static str },
    #[error("{what} cannot be negative")]
    Negative { what: &'static str },
    #[error("{what} has more than 2 decimal places")]
    TooManyDecimals { what: &'static str },
    #[error("{what} is too large")]
    OutOfRange { what: &'static str },
    /// Any other problem; `problem` completes the sentence, e.g. "must contain exactly one @".
    #[error("{what} {problem}")]
    Invalid {
        what: &'static str,
        problem: &'static str,
    },
}

/// `Display`, `FromStr`, `AsRef<str>` and string serde for a type with `parse` and `as_str`.
/// Deserialization goes through `parse`, so invalid input is refused there too.
macro_rules! string_value {
    ($t:ty) => {
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $t {
            type Err = $crate::br::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Self::parse(&text).map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_value;

/// Trim, drop the `separators`, keep the other characters if `keep` accepts them (uppercased),
/// refuse anything else. Stops early once the text is longer than `len`, so a huge input costs
/// nothing; the caller then reports the length.
fn significant(
    input: &str,
    what: &'static str,
    separators: &[char],
    keep: fn(char) -> bool,
    allowed: &'static str,
    len: usize,
) -> Result<String, ParseError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(ParseError::Empty { what });
    }
    let mut out = String::with_capacity(len);
    for c in trimmed.chars() {
        if separators.contains(&c) {
            continue;
        }
        if !keep(c) {
            return Err(ParseError::InvalidCharacter { what, allowed });
        }
        if out.len() == len {
            // One more than allowed is enough to say the length is wrong.
            out.push(c);
            break;
        }
        out.push(c.to_ascii_uppercase());
    }
    Ok(out)
}

fn all_equal(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().all(|&c| c == b[0])
}

/// The mod-11 digit of NOTES §8: `r = Σ value × weight mod 11`, 0 when `r < 2`, else `11 − r`.
/// A character's value is its ASCII code − 48 (`0`–`9` → 0–9, `A` → 17, …, `Z` → 42).
fn mod11_digit(chars: &[u8], weights: &[u32]) -> u8 {
    let sum: u32 = chars
        .iter()
        .zip(weights)
        .map(|(&c, &w)| u32::from(c.wrapping_sub(b'0')) * w)
        .sum();
    let r = sum % 11;
    let dv = if r < 2 { 0 } else { 11 - r };
    // dv ≤ 9, so this is an ASCII digit.
    b'0' + dv as u8
}

const CPF_WEIGHTS: [u32; 10] = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_WEIGHTS: [u32; 13] = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

/// The two check digits of a CPF base, as ASCII digits: `cpf_check_digits(b"529982247") == *b"25"`.
/// `base` holds 9 ASCII digits; other bytes give a meaningless (but harmless) answer.
pub fn cpf_check_digits(base: &[u8; 9]) -> [u8; 2] {
    let dv1 = mod11_digit(base, &CPF_WEIGHTS[1..]);
    let mut with_dv1 = [0u8; 10];
    with_dv1[..9].copy_from_slice(base);
    with_dv1[9] = dv1;
    [dv1, mod11_digit(&with_dv1, &CPF_WEIGHTS)]
}

/// The two check digits of a CNPJ base (root + order, 12 ASCII characters `0-9A-Z`), as ASCII
/// digits: `cnpj_check_digits(b"12ABC34501DE") == *b"35"`. Other bytes give a meaningless answer.
pub fn cnpj_check_digits(base: &[u8; 12]) -> [u8; 2] {
    let dv1 = mod11_digit(base, &CNPJ_WEIGHTS[1..]);
    let mut with_dv1 = [0u8; 13];
    with_dv1[..12].copy_from_slice(base);
    with_dv1[12] = dv1;
    [dv1, mod11_digit(&with_dv1, &CNPJ_WEIGHTS)]
}

/// A CPF (Cadastro de Pessoas Físicas): 11 digits, the last two check digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpf(String);

impl Cpf {
    const WHAT: &'static str = "CPF";

    /// Accepts `529.982.247-25` or `52998224725` (dots and dashes are ignored); refuses wrong
    /// check digits and the repeated-digit numbers (`111.111.111-11`).
    pub fn parse(input: &str) -> Result<Cpf, ParseError> {
        let what = Self::WHAT;
        let digits = significant(
            input,
            what,
            &['.', '-'],
            |c| c.is_ascii_digit(),
            "digits, dots and a dash",
            11,
        )?;
        if digits.len() != 11 {
            return Err(ParseError::WrongLength {
                what,
                expected: "11 digits",
            });
        }
        if all_equal(&digits) {
            return Err(ParseError::RepeatedDigits { what });
        }
        let (base, dv) = digits.as_bytes().split_at(9);
        let base: &[u8; 9] = base.try_into().map_err(|_| ParseError::WrongLength {
            what,
            expected: "11 digits",
        })?;
        if cpf_check_digits(base) != dv {
            return Err(ParseError::CheckDigits { what });
        }
        Ok(Cpf(digits))
    }

    /// The CPF with these 9 base digits (ASCII) and the check digits computed, e.g. to seed a
    /// test store. Refuses non-digits and repeated digits.
    pub fn from_base(base: &[u8; 9]) -> Result<Cpf, ParseError> {
        let mut all = [0u8; 11];
        all[..9].copy_from_slice(base);
        all[9..].copy_from_slice(&cpf_check_digits(base));
        let text = std::str::from_utf8(&all).map_err(|_| ParseError::InvalidCharacter {
            what: Self::WHAT,
            allowed: "digits, dots and a dash",
        })?;
        Cpf::parse(text)
    }

    /// The 11 digits, as NF-e and the Pix key want them.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `529.982.247-25`.
    pub fn formatted(&self) -> String {
        let d = &self.0;
        format!("{}.{}.{}-{}", &d[..3], &d[3..6], &d[6..9], &d[9..])
    }
}

string_value!(Cpf);

/// A CNPJ (Cadastro Nacional da Pessoa Jurídica), numeric or alphanumeric (IN RFB 2.229/2024):
/// 8 root + 4 order characters `[0-9A-Z]`, then 2 numeric check digits. Stored as 14 characters,
/// never as a number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cnpj(String);

impl Cnpj {
    const WHAT: &'static str = "CNPJ";
    const ALLOWED: &'static str = "letters, digits, dots, a slash and a dash";

    /// Accepts `12.ABC.345/01DE-35`, `12abc34501de35` or `11.222.333/0001-81`: dots, slashes and
    /// dashes are ignored, letters uppercased. Refuses wrong check digits and all-equal digits.
    pub fn parse(input: &str) -> Result<Cnpj, ParseError> {
        let what = Self::WHAT;
        let chars = significant(
            input,
            what,
            &['.', '/', '-'],
            |c| c.is_ascii_alphanumeric(),
            Self::ALLOWED,
            14,
        )?;
        if chars.len() != 14 {
            return Err(ParseError::WrongLength {
                what,
                expected: "14 characters",
            });
        }
        let (base, dv) = chars.as_bytes().split_at(12);
        if !dv.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::Invalid {
                what,
                problem: "must end in two numeric check digits",
            });
        }
        if all_equal(&chars) {
            return Err(ParseError::RepeatedDigits { what });
        }
        let base: &[u8; 12] = base.try_into().map_err(|_| ParseError::WrongLength {
            what,
            expected: "14 characters",
        })?;
        if cnpj_check_digits(base) != dv {
            return Err(ParseError::CheckDigits { what });
        }
        Ok(Cnpj(chars))
    }

    /// The CNPJ with this 12-character base (ASCII `0-9A-Z`, lowercase accepted) and the check
    /// digits computed.
    pub fn from_base(base: &[u8; 12]) -> Result<Cnpj, ParseError> {
        let upper = base.map(|b| b.to_ascii_uppercase());
        let mut all = [0u8; 14];
        all[..12].copy_from_slice(&upper);
        all[12..].copy_from_slice(&cnpj_check_digits(&upper));
        let text = std::str::from_utf8(&all).map_err(|_| ParseError::InvalidCharacter {
            what: Self::WHAT,
            allowed: Self::ALLOWED,
        })?;
        Cnpj::parse(text)
    }

    /// The 14 characters, as NF-e wants them.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The root (first 8 characters): the company, shared by all its establishments; an e-CNPJ
    /// certificate signs only for its own root.
    pub fn root(&self) -> &str {
        &self.0[..8]
    }

    /// `12.ABC.345/01DE-35`.
    pub fn formatted(&self) -> String {
        let c = &self.0;
        format!(
            "{}.{}.{}/{}-{}",
            &c[..2],
            &c[2..5],
            &c[5..8],
            &c[8..12],
            &c[12..]
        )
    }
}

string_value!(Cnpj);

/// A buyer's or company's tax id: a CPF (people) or a CNPJ (companies). Serialized as its bare
/// characters; which one it is follows from the length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaxId {
    Cpf(Cpf),
    Cnpj(Cnpj),
}

impl TaxId {
    const WHAT: &'static str = "CPF or CNPJ";

    /// Decides by the number of letters and digits: 11 is a CPF, 14 a CNPJ; the chosen parser
    /// then checks the rest (so `529 982 247 25` is refused as a CPF with a space, not as a CNPJ).
    pub fn parse(input: &str) -> Result<TaxId, ParseError> {
        if input.trim().is_empty() {
            return Err(ParseError::Empty { what: Self::WHAT });
        }
        match input
            .chars()
            .filter(|c| c.is_alphanumeric())
            .take(15)
            .count()
        {
            11 => Cpf::parse(input).map(TaxId::Cpf),
            14 => Cnpj::parse(input).map(TaxId::Cnpj),
            _ => Err(ParseError::WrongLength {
                what: Self::WHAT,
                expected: "11 digits (CPF) or 14 characters (CNPJ)",
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TaxId::Cpf(cpf) => cpf.as_str(),
            TaxId::Cnpj(cnpj) => cnpj.as_str(),
        }
    }

    pub fn formatted(&self) -> String {
        match self {
            TaxId::Cpf(cpf) => cpf.formatted(),
            TaxId::Cnpj(cnpj) => cnpj.formatted(),
        }
    }
}

impl From<Cpf> for TaxId {
    fn from(cpf: Cpf) -> Self {
        TaxId::Cpf(cpf)
    }
}

impl From<Cnpj> for TaxId {
    fn from(cnpj: Cnpj) -> Self {
        TaxId::Cnpj(cnpj)
    }
}

string_value!(TaxId);

/// A CEP (Código de Endereçamento Postal): 8 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cep(String);

impl Cep {
    const WHAT: &'static str = "CEP";

    /// Accepts `01310-100`, `01310100` or the older `01.310-100`. Refuses `00000-000`, which
    /// forms use as "unknown" and no address has.
    pub fn parse(input: &str) -> Result<Cep, ParseError> {
        let what = Self::WHAT;
        let digits = significant(
            input,
            what,
            &['-', '.'],
            |c| c.is_ascii_digit(),
            "digits and a dash",
            8,
        )?;
        if digits.len() != 8 {
            return Err(ParseError::WrongLength {
                what,
                expected: "8 digits",
            });
        }
        if digits == "00000000" {
            return Err(ParseError::Invalid {
                what,
                problem: "00000-000 does not exist",
            });
        }
        Ok(Cep(digits))
    }

    /// The 8 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `01310-100`.
    pub fn formatted(&self) -> String {
        format!("{}-{}", &self.0[..5], &self.0[5..])
    }

    /// The first digit, 0–9: the postal region (0 = Greater São Paulo, 2 = Rio de Janeiro and
    /// Espírito Santo, 9 = Rio Grande do Sul, …).
    pub fn region_digit(&self) -> u8 {
        self.0.as_bytes()[0] - b'0'
    }

    /// The CEP as a number, `01310-100` → 1310100, to compare with [`CEP_RANGES`].
    pub fn number(&self) -> u32 {
        // Eight ASCII digits by construction.
        self.0.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0'))
    }

    /// The UF whose Correios ranges hold this CEP (`20040-002` → RJ); `None` for a CEP in no
    /// state's range (`00100-000`).
    pub fn uf(&self) -> Option<Uf> {
        let n = self.number();
        CEP_RANGES
            .iter()
            .find(|(_, from, to)| (*from..=*to).contains(&n))
            .map(|&(uf, ..)| uf)
    }

    /// Whether this CEP lies in one of `uf`'s ranges.
    pub fn is_in(&self, uf: Uf) -> bool {
        self.uf() == Some(uf)
    }
}

string_value!(Cep);

/// The CEP ranges of each UF, as `(uf, first, last)` with the CEPs as numbers (`01000000` is
/// 01000-000), in CEP order; no two overlap.
///
/// Source: the Correios' per-UF table of CEP ranges ("faixas de CEP por UF", their "Busca Faixa
/// de CEP" service), a public fact republished in many places. Most states have one range; three
/// have two because their numbers interleave: DF holds 70000-000..72799-999 and
/// 73000-000..73699-999 with GO's 72800-000..72999-999 (Águas Lindas de Goiás, Luziânia, …)
/// between them and GO's 73700-000..76799-999 after; AM's two ranges surround RR's; RO has
/// 76800-000..76999-999 and, as the published tables list it, 78900-000..78999-999 [verify:
/// whether any CEP in use lies in 789xx-xxx; it lies outside MT's 78000-000..78899-999 either
/// way, so keeping it for RO refuses nothing real].
pub const CEP_RANGES: [(Uf, u32, u32); 31] = [
    (Uf::Sp, 1_000_000, 19_999_999),
    (Uf::Rj, 20_000_000, 28_999_999),
    (Uf::Es, 29_000_000, 29_999_999),
    (Uf::Mg, 30_000_000, 39_999_999),
    (Uf::Ba, 40_000_000, 48_999_999),
    (Uf::Se, 49_000_000, 49_999_999),
    (Uf::Pe, 50_000_000, 56_999_999),
    (Uf::Al, 57_000_000, 57_999_999),
    (Uf::Pb, 58_000_000, 58_999_999),
    (Uf::Rn, 59_000_000, 59_999_999),
    (Uf::Ce, 60_000_000, 63_999_999),
    (Uf::Pi, 64_000_000, 64_999_999),
    (Uf::Ma, 65_000_000, 65_999_999),
    (Uf::Pa, 66_000_000, 68_899_999),
    (Uf::Ap, 68_900_000, 68_999_999),
    (Uf::Am, 69_000_000, 69_299_999),
    (Uf::Rr, 69_300_000, 69_399_999),
    (Uf::Am, 69_400_000, 69_899_999),
    (Uf::Ac, 69_900_000, 69_999_999),
    (Uf::Df, 70_000_000, 72_799_999),
    (Uf::Go, 72_800_000, 72_999_999),
    (Uf::Df, 73_000_000, 73_699_999),
    (Uf::Go, 73_700_000, 76_799_999),
    (Uf::Ro, 76_800_000, 76_999_999),
    (Uf::To, 77_000_000, 77_999_999),
    (Uf::Mt, 78_000_000, 78_899_999),
    (Uf::Ro, 78_900_000, 78_999_999),
    (Uf::Ms, 79_000_000, 79_999_999),
    (Uf::Pr, 80_000_000, 87_999_999),
    (Uf::Sc, 88_000_000, 89_999_999),
    (Uf::Rs, 90_000_000, 99_999_999),
];

/// One of the 27 federative units (26 states and the Federal District).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Uf {
    Ro,
    Ac,
    Am,
    Rr,
    Pa,
    Ap,
    To,
    Ma,
    Pi,
    Ce,
    Rn,
    Pb,
    Pe,
    Al,
    Se,
    Ba,
    Mg,
    Es,
    Rj,
    Sp,
    Pr,
    Sc,
    Rs,
    Ms,
    Mt,
    Go,
    Df,
}

/// In the order of the enum (which is the order of the IBGE codes): variant, abbreviation, IBGE
/// code, name.
const UF_TABLE: [(Uf, &str, u8, &str); 27] = [
    (Uf::Ro, "RO", 11, "Rondônia"),
    (Uf::Ac, "AC", 12, "Acre"),
    (Uf::Am, "AM", 13, "Amazonas"),
    (Uf::Rr, "RR", 14, "Roraima"),
    (Uf::Pa, "PA", 15, "Pará"),
    (Uf::Ap, "AP", 16, "Amapá"),
    (Uf::To, "TO", 17, "Tocantins"),
    (Uf::Ma, "MA", 21, "Maranhão"),
    (Uf::Pi, "PI", 22, "Piauí"),
    (Uf::Ce, "CE", 23, "Ceará"),
    (Uf::Rn, "RN", 24, "Rio Grande do Norte"),
    (Uf::Pb, "PB", 25, "Paraíba"),
    (Uf::Pe, "PE", 26, "Pernambuco"),
    (Uf::Al, "AL", 27, "Alagoas"),
    (Uf::Se, "SE", 28, "Sergipe"),
    (Uf::Ba, "BA", 29, "Bahia"),
    (Uf::Mg, "MG", 31, "Minas Gerais"),
    (Uf::Es, "ES", 32, "Espírito Santo"),
    (Uf::Rj, "RJ", 33, "Rio de Janeiro"),
    (Uf::Sp, "SP", 35, "São Paulo"),
    (Uf::Pr, "PR", 41, "Paraná"),
    (Uf::Sc, "SC", 42, "Santa Catarina"),
    (Uf::Rs, "RS", 43, "Rio Grande do Sul"),
    (Uf::Ms, "MS", 50, "Mato Grosso do Sul"),
    (Uf::Mt, "MT", 51, "Mato Grosso"),
    (Uf::Go, "GO", 52, "Goiás"),
    (Uf::Df, "DF", 53, "Distrito Federal"),
];

impl Uf {
    /// All 27, in IBGE code order.
    pub const ALL: [Uf; 27] = {
        let mut all = [Uf::Ro; 27];
        let mut i = 0;
        while i < 27 {
            all[i] = UF_TABLE[i].0;
            i += 1;
        }
        all
    };

    /// Accepts the two-letter abbreviation in any case: `SP`, `sp`, ` Sp `.
    pub fn parse(input: &str) -> Result<Uf, ParseError> {
        let what = "UF";
        let code = input.trim();
        if code.is_empty() {
            return Err(ParseError::Empty { what });
        }
        UF_TABLE
            .iter()
            .find(|(_, abbr, _, _)| abbr.eq_ignore_ascii_case(code))
            .map(|&(uf, ..)| uf)
            .ok_or(ParseError::Invalid {
                what,
                problem: "is not one of the 27 two-letter codes, such as SP",
            })
    }

    /// The UF with this IBGE code (the `cUF` of NF-e), e.g. 35 → SP.
    pub fn from_code(code: u8) -> Option<Uf> {
        UF_TABLE
            .iter()
            .find(|&&(_, _, c, _)| c == code)
            .map(|&(uf, ..)| uf)
    }

    /// The IBGE numeric code: SP = 35. NF-e's `cUF` and the first two digits of an access key.
    pub const fn code(self) -> u8 {
        UF_TABLE[self as usize].2
    }

    /// `SP`.
    pub const fn as_str(self) -> &'static str {
        UF_TABLE[self as usize].1
    }

    /// `São Paulo`.
    pub const fn name(self) -> &'static str {
        UF_TABLE[self as usize].3
    }
}

impl fmt::Display for Uf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Uf {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Uf {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Uf {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An independent reading of NOTES §8: the remainder of Σ value × weight, weights read from
    /// the right (2, 3, …, wrapping after 9 for a CNPJ).
    fn remainder(values: &[u32], cnpj: bool) -> u32 {
        let n = values.len();
        let sum: u32 = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let from_right = (n - i) as u32; // 1 for the last
                let w = if cnpj {
                    2 + (from_right - 1) % 8
                } else {
                    from_right + 1
                };
                v * w
            })
            .sum();
        sum % 11
    }

    fn value(c: u8) -> u32 {
        u32::from(c - b'0')
    }

    fn digit_from_remainder(r: u32) -> u8 {
        if r < 2 { b'0' } else { b'0' + (11 - r) as u8 }
    }

    #[test]
    fn the_notes_worked_cpf_example_has_check_digits_2_and_5() {
        assert_eq!(&cpf_check_digits(b"529982247"), b"25");
        assert_eq!(
            Cpf::parse("529.982.247-25").unwrap().as_str(),
            "52998224725"
        );
    }

    #[test]
    fn a_cpf_is_accepted_with_or_without_its_mask() {
        let masked = Cpf::parse(" 529.982.247-25 ").unwrap();
        let bare = Cpf::parse("52998224725").unwrap();
        assert_eq!(masked, bare);
        assert_eq!(masked.formatted(), "529.982.247-25");
        assert_eq!(masked.to_string(), "52998224725");
    }

    #[test]
    fn a_cpf_with_wrong_check_digits_is_refused_with_a_plain_message() {
        let err = Cpf::parse("529.982.247-26").unwrap_err();
        assert_eq!(err, ParseError::CheckDigits { what: "CPF" });
        assert_eq!(err.to_string(), "CPF check digits do not match");
    }

    #[test]
    fn every_repeated_digit_cpf_is_refused_although_its_arithmetic_passes() {
        for d in b'0'..=b'9' {
            let text = String::from_utf8(vec![d; 11]).unwrap();
            let base: [u8; 9] = [d; 9];
            assert_eq!(
                cpf_check_digits(&base),
                [d, d],
                "the arithmetic passes for {text}"
            );
            assert_eq!(
                Cpf::parse(&text),
                Err(ParseError::RepeatedDigits { what: "CPF" })
            );
        }
        assert_eq!(
            Cpf::parse("111.111.111-11").unwrap_err().to_string(),
            "CPF cannot have all digits equal"
        );
    }

    #[test]
    fn a_cpf_of_the_wrong_length_or_with_other_characters_is_refused() {
        assert_eq!(
            Cpf::parse("5299822472"),
            Err(ParseError::WrongLength {
                what: "CPF",
                expected: "11 digits"
            })
        );
        assert_eq!(
            Cpf::parse("529982247250"),
            Err(ParseError::WrongLength {
                what: "CPF",
                expected: "11 digits"
            })
        );
        assert_eq!(Cpf::parse("   "), Err(ParseError::Empty { what: "CPF" }));
        assert_eq!(
            Cpf::parse("529 982 247 25").unwrap_err().to_string(),
            "CPF may contain only digits, dots and a dash"
        );
        assert!(Cpf::parse("529/982/247-25").is_err());
        assert!(
            Cpf::parse("５２９９８２２４７２５").is_err(),
            "full-width digits are not ASCII digits"
        );
    }

    #[test]
    fn the_receita_alphanumeric_cnpj_example_is_valid() {
        assert_eq!(&cnpj_check_digits(b"12ABC34501DE"), b"35");
        let cnpj = Cnpj::parse("12.ABC.345/01DE-35").unwrap();
        assert_eq!(cnpj.as_str(), "12ABC34501DE35");
        assert_eq!(cnpj.formatted(), "12.ABC.345/01DE-35");
        assert_eq!(cnpj.root(), "12ABC345");
        assert_eq!(
            Cnpj::parse("12abc34501de35").unwrap(),
            cnpj,
            "letters are uppercased"
        );
    }

    #[test]
    fn the_sample_emitters_numeric_cnpj_is_valid() {
        assert_eq!(&cnpj_check_digits(b"061174730001"), b"50");
        assert_eq!(
            Cnpj::parse("06.117.473/0001-50").unwrap().as_str(),
            "06117473000150"
        );
    }

    #[test]
    fn a_cnpj_with_wrong_or_lettered_check_digits_is_refused() {
        assert_eq!(
            Cnpj::parse("12.ABC.345/01DE-36"),
            Err(ParseError::CheckDigits { what: "CNPJ" })
        );
        assert_eq!(
            Cnpj::parse("12ABC34501DE3A").unwrap_err().to_string(),
            "CNPJ must end in two numeric check digits"
        );
        assert_eq!(
            Cnpj::parse("00.000.000/0000-00"),
            Err(ParseError::RepeatedDigits { what: "CNPJ" })
        );
        assert_eq!(
            Cnpj::parse("12ABC34501DE35X").unwrap_err().to_string(),
            "CNPJ must have 14 characters"
        );
        assert_eq!(
            Cnpj::parse("12_ABC_345_01DE_35").unwrap_err().to_string(),
            "CNPJ may contain only letters, digits, dots, a slash and a dash"
        );
    }

    #[test]
    fn a_tax_id_is_a_cpf_or_a_cnpj_by_its_length() {
        assert!(matches!(TaxId::parse("529.982.247-25"), Ok(TaxId::Cpf(_))));
        assert!(matches!(
            TaxId::parse("12.ABC.345/01DE-35"),
            Ok(TaxId::Cnpj(_))
        ));
        assert_eq!(
            TaxId::parse("12.ABC.345/01DE-35").unwrap().formatted(),
            "12.ABC.345/01DE-35"
        );
        assert_eq!(
            TaxId::parse("1234").unwrap_err().to_string(),
            "CPF or CNPJ must have 11 digits (CPF) or 14 characters (CNPJ)"
        );
        assert_eq!(
            TaxId::parse("529.982.247-26"),
            Err(ParseError::CheckDigits { what: "CPF" })
        );
        assert_eq!(
            TaxId::parse(""),
            Err(ParseError::Empty {
                what: "CPF or CNPJ"
            })
        );
        assert_eq!(
            TaxId::parse("529 982 247 25").unwrap_err().to_string(),
            "CPF may contain only digits, dots and a dash"
        );
    }

    #[test]
    fn documents_serialize_as_bare_strings_and_refuse_invalid_input_when_deserialized() {
        let id = TaxId::parse("529.982.247-25").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""52998224725""#);
        assert_eq!(
            serde_json::from_str::<TaxId>(r#""529.982.247-25""#).unwrap(),
            id
        );
        let err = serde_json::from_str::<Cpf>(r#""529.982.247-26""#).unwrap_err();
        assert!(
            err.to_string().starts_with("CPF check digits do not match"),
            "{err}"
        );
        assert!(
            serde_json::from_str::<Cnpj>("12").is_err(),
            "a number is not a CNPJ"
        );
        assert_eq!(serde_json::to_string(&Uf::Sp).unwrap(), r#""SP""#);
        assert_eq!(serde_json::from_str::<Uf>(r#""sp""#).unwrap(), Uf::Sp);
        assert!(serde_json::from_str::<Uf>(r#""XX""#).is_err());
        assert_eq!(
            serde_json::from_str::<Cep>(r#""01310-100""#)
                .unwrap()
                .as_str(),
            "01310100"
        );
    }

    #[test]
    fn a_cep_is_accepted_with_or_without_its_dash() {
        let cep = Cep::parse("01310-100").unwrap();
        assert_eq!(cep, Cep::parse("01310100").unwrap());
        assert_eq!(cep, Cep::parse("01.310-100").unwrap());
        assert_eq!(cep.as_str(), "01310100");
        assert_eq!(cep.formatted(), "01310-100");
        assert_eq!(cep.region_digit(), 0);
        assert_eq!(Cep::parse("90010-000").unwrap().region_digit(), 9);
    }

    #[test]
    fn the_cep_ranges_are_in_order_disjoint_and_give_every_uf_one() {
        for pair in CEP_RANGES.windows(2) {
            let [(a, from_a, to_a), (b, from_b, _)] = pair else {
                unreachable!()
            };
            assert!(from_a <= to_a, "{a}");
            assert!(to_a < from_b, "{a} overlaps or precedes {b}");
        }
        for uf in Uf::ALL {
            assert!(
                CEP_RANGES.iter().any(|&(u, ..)| u == uf),
                "{uf} has no CEP range"
            );
        }
        // From 01000-000 to 99999-999 with no hole.
        assert_eq!(CEP_RANGES[0].1, 1_000_000);
        assert_eq!(CEP_RANGES[CEP_RANGES.len() - 1].2, 99_999_999);
        for pair in CEP_RANGES.windows(2) {
            assert_eq!(pair[0].2 + 1, pair[1].1, "a hole after {}", pair[0].0);
        }
    }

    #[test]
    fn a_cep_belongs_to_its_state() {
        let uf = |cep: &str| Cep::parse(cep).unwrap().uf();
        assert_eq!(uf("01310-100"), Some(Uf::Sp));
        assert_eq!(uf("19999-999"), Some(Uf::Sp));
        assert_eq!(uf("20040-002"), Some(Uf::Rj));
        assert_eq!(uf("80020-310"), Some(Uf::Pr));
        assert_eq!(uf("90010-000"), Some(Uf::Rs));
        assert_eq!(uf("69301-000"), Some(Uf::Rr)); // Boa Vista, between AM's two ranges
        assert_eq!(uf("69010-000"), Some(Uf::Am)); // Manaus
        assert_eq!(uf("69900-000"), Some(Uf::Ac)); // Rio Branco
        assert_eq!(uf("76801-000"), Some(Uf::Ro)); // Porto Velho
        // Brasília and its neighbours on both sides of the DF line.
        assert_eq!(uf("70040-010"), Some(Uf::Df));
        assert_eq!(uf("72800-000"), Some(Uf::Go)); // Luziânia
        assert_eq!(uf("72799-999"), Some(Uf::Df));
        assert_eq!(uf("73010-000"), Some(Uf::Df)); // Sobradinho
        assert_eq!(uf("73699-999"), Some(Uf::Df));
        assert_eq!(uf("73700-000"), Some(Uf::Go));
        assert_eq!(uf("74000-000"), Some(Uf::Go)); // Goiânia
        assert_eq!(uf("00100-000"), None);
        assert!(Cep::parse("20040-002").unwrap().is_in(Uf::Rj));
        assert!(!Cep::parse("20040-002").unwrap().is_in(Uf::Sp));
        assert_eq!(Cep::parse("01310-100").unwrap().number(), 1_310_100);
    }

    #[test]
    fn a_malformed_cep_is_refused() {
        assert_eq!(
            Cep::parse("1310-100").unwrap_err().to_string(),
            "CEP must have 8 digits"
        );
        assert_eq!(
            Cep::parse("01310-1000").unwrap_err().to_string(),
            "CEP must have 8 digits"
        );
        assert_eq!(
            Cep::parse("0131O-100").unwrap_err().to_string(),
            "CEP may contain only digits and a dash"
        );
        assert_eq!(
            Cep::parse("00000-000").unwrap_err().to_string(),
            "CEP 00000-000 does not exist"
        );
    }

    #[test]
    fn every_uf_has_its_ibge_code_and_parses_in_any_case() {
        assert_eq!(Uf::Sp.code(), 35);
        assert_eq!(Uf::Pr.code(), 41);
        assert_eq!(Uf::Df.code(), 53);
        assert_eq!(Uf::parse("sp").unwrap(), Uf::Sp);
        assert_eq!(" Rj ".parse::<Uf>().unwrap(), Uf::Rj);
        assert_eq!(Uf::Sp.name(), "São Paulo");
        assert_eq!(Uf::ALL.len(), 27);
        for (i, uf) in Uf::ALL.into_iter().enumerate() {
            assert_eq!(UF_TABLE[i].0, uf, "the table follows the enum's order");
            assert_eq!(Uf::parse(uf.as_str()), Ok(uf));
            assert_eq!(Uf::from_code(uf.code()), Some(uf));
        }
        assert_eq!(Uf::from_code(34), None);
        assert_eq!(
            Uf::parse("São Paulo").unwrap_err().to_string(),
            "UF is not one of the 27 two-letter codes, such as SP"
        );
    }

    #[test]
    fn a_document_can_be_built_from_its_base() {
        assert_eq!(
            Cpf::from_base(b"529982247").unwrap().as_str(),
            "52998224725"
        );
        assert_eq!(
            Cnpj::from_base(b"12abc34501de").unwrap().as_str(),
            "12ABC34501DE35"
        );
        assert!(Cpf::from_base(b"111111111").is_err());
        assert!(Cpf::from_base(b"12345678x").is_err());
        assert!(Cnpj::from_base(&[0xff; 12]).is_err());
    }

    fn cpf_base() -> impl Strategy<Value = [u8; 9]> {
        prop::array::uniform9(b'0'..=b'9').prop_filter("not all equal", |b| {
            !all_equal(std::str::from_utf8(b).unwrap())
        })
    }

    fn cnpj_char() -> impl Strategy<Value = u8> {
        prop_oneof![b'0'..=b'9', b'A'..=b'Z']
    }

    fn cnpj_base() -> impl Strategy<Value = [u8; 12]> {
        prop::array::uniform12(cnpj_char()).prop_filter("not all zeros", |b| b != b"000000000000")
    }

    fn cpf_from(base: &[u8; 9]) -> String {
        let mut all = base.to_vec();
        all.extend(cpf_check_digits(base));
        String::from_utf8(all).unwrap()
    }

    fn cnpj_from(base: &[u8; 12]) -> String {
        let mut all = base.to_vec();
        all.extend(cnpj_check_digits(base));
        String::from_utf8(all).unwrap()
    }

    proptest! {
        #[test]
        fn no_input_makes_a_document_parser_panic(s in ".{0,40}") {
            let _ = Cpf::parse(&s);
            let _ = Cnpj::parse(&s);
            let _ = TaxId::parse(&s);
            let _ = Cep::parse(&s);
            let _ = Uf::parse(&s);
        }

        #[test]
        fn no_mask_like_input_makes_a_document_parser_panic(s in "[0-9A-Za-z./ -]{0,20}") {
            let _ = Cpf::parse(&s);
            let _ = Cnpj::parse(&s);
            let _ = TaxId::parse(&s);
            let _ = Cep::parse(&s);
        }

        #[test]
        fn the_check_digit_helpers_agree_with_an_independent_reading_of_the_rules(
            cpf in prop::array::uniform9(b'0'..=b'9'),
            cnpj in prop::array::uniform12(cnpj_char()),
        ) {
            let v: Vec<u32> = cpf.iter().map(|&c| value(c)).collect();
            let dv1 = digit_from_remainder(remainder(&v, false));
            let v2: Vec<u32> = v.iter().copied().chain([value(dv1)]).collect();
            prop_assert_eq!(cpf_check_digits(&cpf), [dv1, digit_from_remainder(remainder(&v2, false))]);

            let v: Vec<u32> = cnpj.iter().map(|&c| value(c)).collect();
            let dv1 = digit_from_remainder(remainder(&v, true));
            let v2: Vec<u32> = v.iter().copied().chain([value(dv1)]).collect();
            prop_assert_eq!(cnpj_check_digits(&cnpj), [dv1, digit_from_remainder(remainder(&v2, true))]);
        }

        #[test]
        fn every_generated_cpf_parses_and_its_formatting_round_trips(base in cpf_base()) {
            let text = cpf_from(&base);
            let cpf = Cpf::parse(&text).unwrap();
            prop_assert_eq!(cpf.as_str(), text.as_str());
            prop_assert_eq!(Cpf::parse(&cpf.formatted()).unwrap(), cpf.clone());
            prop_assert_eq!(cpf.to_string().parse::<Cpf>().unwrap(), cpf.clone());
            let json = serde_json::to_string(&cpf).unwrap();
            prop_assert_eq!(serde_json::from_str::<Cpf>(&json).unwrap(), cpf.clone());
            prop_assert_eq!(TaxId::parse(&cpf.formatted()).unwrap(), TaxId::Cpf(cpf));
        }

        /// A changed check digit is always caught. A changed base digit moves the first remainder
        /// (its weight times the change is never a multiple of 11), so it slips through only when
        /// both the old and new remainders are 0 or 1 (both give check digit 0) — and likewise for
        /// the second remainder, except for the first digit, whose weight there is 11.
        #[test]
        fn changing_one_digit_of_a_cpf_makes_it_invalid_unless_mod_11_collapses(
            base in cpf_base(),
            pos in 0usize..11,
            delta in 1u8..10,
        ) {
            let original = cpf_from(&base);
            let mut bytes = original.clone().into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes.clone()).unwrap();
            if Cpf::parse(&changed).is_ok() {
                let rem = |s: &[u8], n: usize| remainder(&s[..n].iter().map(|&c| value(c)).collect::<Vec<_>>(), false);
                let collapsed = |n| rem(original.as_bytes(), n) < 2 && rem(&bytes, n) < 2;
                prop_assert!(pos < 9, "a changed check digit slipped through: {}", changed);
                prop_assert!(collapsed(9), "first remainder did not collapse: {}", changed);
                prop_assert!(pos == 0 || collapsed(10), "second remainder did not collapse: {}", changed);
            }
        }

        #[test]
        fn every_generated_cnpj_parses_and_its_formatting_round_trips(base in cnpj_base(), lower in any::<bool>()) {
            let text = cnpj_from(&base);
            let input = if lower { cnpj_from(&base).to_lowercase() } else { text.clone() };
            let cnpj = Cnpj::parse(&input).unwrap();
            prop_assert_eq!(cnpj.as_str(), text.as_str());
            prop_assert_eq!(Cnpj::parse(&cnpj.formatted()).unwrap(), cnpj.clone());
            prop_assert_eq!(cnpj.to_string().parse::<Cnpj>().unwrap(), cnpj.clone());
            let json = serde_json::to_string(&cnpj).unwrap();
            prop_assert_eq!(serde_json::from_str::<Cnpj>(&json).unwrap(), cnpj.clone());
            prop_assert_eq!(TaxId::parse(&cnpj.formatted()).unwrap(), TaxId::Cnpj(cnpj));
        }

        /// As for the CPF, with the CNPJ weights (2–9, never a multiple of 11). Among letters, a
        /// change by a multiple of 11 in value (`6` → `A`) is invisible to mod 11: the rule's
        /// known blind spot, allowed here explicitly.
        #[test]
        fn changing_one_character_of_a_cnpj_makes_it_invalid_unless_mod_11_collapses(
            base in cnpj_base(),
            pos in 0usize..14,
            shift in 1usize..36,
        ) {
            const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
            let original = cnpj_from(&base);
            let mut bytes = original.clone().into_bytes();
            let current = ALPHABET.iter().position(|&c| c == bytes[pos]).unwrap();
            // Another letter or digit in the base; another digit in the check digits.
            let replacement =
                if pos < 12 { ALPHABET[(current + shift) % 36] } else { ALPHABET[(current + 1 + shift % 9) % 10] };
            let delta = value(bytes[pos]).abs_diff(value(replacement));
            bytes[pos] = replacement;
            let changed = String::from_utf8(bytes.clone()).unwrap();
            if Cnpj::parse(&changed).is_ok() {
                let rem = |s: &[u8], n: usize| remainder(&s[..n].iter().map(|&c| value(c)).collect::<Vec<_>>(), true);
                let collapsed = |n| rem(original.as_bytes(), n) < 2 && rem(&bytes, n) < 2;
                prop_assert!(pos < 12, "a changed check digit slipped through: {}", changed);
                let blind_spot = delta.is_multiple_of(11);
                prop_assert!(blind_spot || (collapsed(12) && collapsed(13)), "{} slipped through", changed);
            }
        }

        #[test]
        fn every_eight_digit_cep_but_zero_round_trips(n in 1u32..100_000_000) {
            let text = format!("{n:08}");
            let cep = Cep::parse(&text).unwrap();
            prop_assert_eq!(cep.as_str(), text.as_str());
            prop_assert_eq!(Cep::parse(&cep.formatted()).unwrap(), cep.clone());
            prop_assert_eq!(u32::from(cep.region_digit()), n / 10_000_000);
            let json = serde_json::to_string(&cep).unwrap();
            prop_assert_eq!(serde_json::from_str::<Cep>(&json).unwrap(), cep);
        }
    }
}
