//! Brazilian identifiers the document carries: CNPJ (numeric or alphanumeric), CPF, UF, GTIN.
//!
//! Each is parsed once into a newtype that is valid from then on (pattern **and** check digits),
//! so the builder never writes an identifier SEFAZ would reject for its form.

use std::fmt;

use thiserror::Error;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct IdError {
    /// `CNPJ`, `CPF`, `UF` or `GTIN`.
    pub kind: &'static str,
    /// The input as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn id_error(kind: &'static str, value: &str, reason: &'static str) -> IdError {
    IdError {
        kind,
        value: value.to_owned(),
        reason,
    }
}

/// Removes the usual mask characters (`. / -` and spaces).
fn unmask(input: &str) -> String {
    input
        .chars()
        .filter(|c| !matches!(c, '.' | '/' | '-' | ' '))
        .collect()
}

/// Value of a CNPJ/key character in the mod-11 rules: `ASCII − 48` (digits keep their value,
/// `A` = 17 … `Z` = 42).
pub(crate) fn char_value(c: u8) -> u32 {
    u32::from(c) - 48
}

fn mod11_dv(sum: u32) -> u8 {
    let r = sum % 11;
    if r < 2 { 0 } else { (11 - r) as u8 }
}

/// A CNPJ: 14 characters, `[0-9A-Z]{12}[0-9]{2}`, with valid check digits (IN RFB 2.229/2024,
/// `ASCII − 48` values, so the classic numeric CNPJs keep their digits).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cnpj(String);

impl Cnpj {
    /// Parses a CNPJ, with or without mask (`12.ABC.345/01DE-35` → `12ABC34501DE35`); lowercase
    /// letters are uppercased.
    pub fn parse(input: &str) -> Result<Cnpj, IdError> {
        let s = unmask(input).to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 14 {
            return Err(id_error("CNPJ", input, "must have 14 characters"));
        }
        if !b[..12]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            || !b[12..].iter().all(u8::is_ascii_digit)
        {
            return Err(id_error(
                "CNPJ",
                input,
                "must be 12 characters 0-9/A-Z then 2 digits",
            ));
        }
        if b.iter().all(|c| *c == b'0') {
            return Err(id_error("CNPJ", input, "all zeros"));
        }
        let dv1 = mod11_dv(
            b[..12]
                .iter()
                .zip([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
                .map(|(c, w)| char_value(*c) * w)
                .sum(),
        );
        let dv2 = mod11_dv(
            b[..12]
                .iter()
                .map(|c| char_value(*c))
                .chain([u32::from(dv1)])
                .zip([6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
                .map(|(v, w)| v * w)
                .sum(),
        );
        if b[12] - b'0' != dv1 || b[13] - b'0' != dv2 {
            return Err(id_error("CNPJ", input, "wrong check digits"));
        }
        Ok(Cnpj(s))
    }

    /// The 14 characters, unmasked.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The root (first 8 characters): the company, shared by all its establishments.
    pub fn root(&self) -> &str {
        &self.0[..8]
    }
}

impl fmt::Debug for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cnpj({})", self.0)
    }
}

impl fmt::Display for Cnpj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CPF: 11 digits with valid check digits, not one of the eleven repeated-digit strings.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cpf(String);

impl Cpf {
    /// Parses a CPF, with or without mask (`529.982.247-25`).
    pub fn parse(input: &str) -> Result<Cpf, IdError> {
        let s = unmask(input);
        let b = s.as_bytes();
        if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) {
            return Err(id_error("CPF", input, "must have 11 digits"));
        }
        if b.iter().all(|c| *c == b[0]) {
            return Err(id_error("CPF", input, "repeated digits"));
        }
        let digits: Vec<u32> = b.iter().map(|c| u32::from(c - b'0')).collect();
        let dv1 = mod11_dv(
            digits[..9]
                .iter()
                .zip((2..=10).rev())
                .map(|(d, w)| d * w)
                .sum(),
        );
        let dv2 = mod11_dv(
            digits[..9]
                .iter()
                .copied()
                .chain([u32::from(dv1)])
                .zip((2..=11).rev())
                .map(|(d, w)| d * w)
                .sum(),
        );
        if digits[9] != u32::from(dv1) || digits[10] != u32::from(dv2) {
            return Err(id_error("CPF", input, "wrong check digits"));
        }
        Ok(Cpf(s))
    }

    /// The 11 digits, unmasked.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cpf {
    // A CPF is personal data: never print it whole in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cpf(***{})", &self.0[9..])
    }
}

/// The recipient's tax id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaxId {
    /// A person (`dest/CPF`).
    Cpf(Cpf),
    /// A company (`dest/CNPJ`).
    Cnpj(Cnpj),
}

/// A GTIN (EAN/UPC) with a valid GS1 check digit: 8, 12, 13 or 14 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gtin(String);

impl Gtin {
    /// Parses a GTIN-8/12/13/14 and checks its GS1 check digit (SEFAZ rejection 611).
    pub fn parse(input: &str) -> Result<Gtin, IdError> {
        let s = input.trim();
        let b = s.as_bytes();
        if !matches!(b.len(), 8 | 12 | 13 | 14) || !b.iter().all(u8::is_ascii_digit) {
            return Err(id_error("GTIN", input, "must have 8, 12, 13 or 14 digits"));
        }
        let (body, check) = b.split_at(b.len() - 1);
        let sum: u32 = body
            .iter()
            .rev()
            .enumerate()
            .map(|(i, c)| u32::from(c - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        if (10 - sum % 10) % 10 != u32::from(check[0] - b'0') {
            return Err(id_error("GTIN", input, "wrong check digit"));
        }
        Ok(Gtin(s.to_owned()))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! ufs {
    ($($uf:ident = $code:literal, $name:literal;)*) => {
        /// A Brazilian state (unidade federativa), with its IBGE code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Uf {
            $(#[doc = $name] $uf,)*
        }

        impl Uf {
            /// Every UF, in IBGE code order.
            pub const ALL: &'static [Uf] = &[$(Uf::$uf,)*];

            /// The two-letter abbreviation (`SP`).
            pub fn as_str(self) -> &'static str {
                match self { $(Uf::$uf => stringify!($uf),)* }
            }

            /// The IBGE code (`35` for SP): `ide/cUF` and the first two digits of municipality codes.
            pub fn ibge_code(self) -> u8 {
                match self { $(Uf::$uf => $code,)* }
            }

            /// Parses a two-letter abbreviation (case-insensitive).
            pub fn parse(input: &str) -> Result<Uf, IdError> {
                match input.trim().to_ascii_uppercase().as_str() {
                    $(stringify!($uf) => Ok(Uf::$uf),)*
                    _ => Err(id_error("UF", input, "unknown state abbreviation")),
                }
            }
        }
    };
}

ufs! {
    RO = 11, "Rondônia"; AC = 12, "Acre"; AM = 13, "Amazonas"; RR = 14, "Roraima"; PA = 15, "Pará";
    AP = 16, "Amapá"; TO = 17, "Tocantins"; MA = 21, "Maranhão"; PI = 22, "Piauí"; CE = 23, "Ceará";
    RN = 24, "Rio Grande do Norte"; PB = 25, "Paraíba"; PE = 26, "Pernambuco"; AL = 27, "Alagoas";
    SE = 28, "Sergipe"; BA = 29, "Bahia"; MG = 31, "Minas Gerais"; ES = 32, "Espírito Santo";
    RJ = 33, "Rio de Janeiro"; SP = 35, "São Paulo"; PR = 41, "Paraná"; SC = 42, "Santa Catarina";
    RS = 43, "Rio Grande do Sul"; MS = 50, "Mato Grosso do Sul"; MT = 51, "Mato Grosso";
    GO = 52, "Goiás"; DF = 53, "Distrito Federal";
}

impl fmt::Display for Uf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_and_alphanumeric_cnpjs_parse() {
        assert_eq!(
            Cnpj::parse("06.117.473/0001-50").unwrap().as_str(),
            "06117473000150"
        );
        let alnum = Cnpj::parse("12.abc.345/01de-35").unwrap();
        assert_eq!(alnum.as_str(), "12ABC34501DE35");
        assert_eq!(alnum.root(), "12ABC345");
    }

    #[test]
    fn bad_cnpjs_are_refused() {
        assert!(Cnpj::parse("06117473000151").is_err());
        assert!(Cnpj::parse("0611747300015").is_err());
        assert!(Cnpj::parse("00000000000000").is_err());
        assert!(Cnpj::parse("12ABC34501DEA5").is_err());
        assert!(Cnpj::parse("12ABC34501DE36").is_err());
    }

    #[test]
    fn cpfs_check_their_digits() {
        assert_eq!(
            Cpf::parse("529.982.247-25").unwrap().as_str(),
            "52998224725"
        );
        assert!(Cpf::parse("52998224724").is_err());
        assert!(Cpf::parse("11111111111").is_err());
        assert!(Cpf::parse("5299822472").is_err());
        assert_eq!(
            format!("{:?}", Cpf::parse("52998224725").unwrap()),
            "Cpf(***25)"
        );
    }

    #[test]
    fn gtins_check_their_digit() {
        assert!(Gtin::parse("7891000315507").is_ok());
        assert!(Gtin::parse("7891000315508").is_err());
        assert!(Gtin::parse("96385074").is_ok());
        assert!(Gtin::parse("SEM GTIN").is_err());
    }

    #[test]
    fn ufs_know_their_ibge_codes() {
        assert_eq!(Uf::parse("sp").unwrap().ibge_code(), 35);
        assert_eq!(Uf::PR.ibge_code(), 41);
        assert_eq!(Uf::ALL.len(), 27);
        assert!(Uf::parse("XX").is_err());
    }
}
