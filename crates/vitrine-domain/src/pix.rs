//! Pix BR Code: the "copia e cola" payload behind a Pix QR code (EMV® Merchant-Presented Mode as
//! profiled by the Banco Central do Brasil).
//!
//! The payload is a string of TLV fields: a 2-digit id, a 2-digit decimal length (in characters)
//! and the value; ids ascending, the CRC (`63`) last. Field list, limits and CRC parameters:
//! `shared/nfe/NOTES.md` §7, after BCB's "Manual de Padrões para Iniciação do Pix" §1.5.4.
//!
//! Invariants:
//! - A [`BrCode`] only exists valid: [`BrCode::new`] checks every field's length and character
//!   set (plain ASCII only: names and cities are transliterated first, as some banking apps
//!   refuse other bytes), so [`BrCode::payload`] cannot fail.
//! - The CRC is CRC-16/CCITT-FALSE over the whole payload including the literal `6304`, written as
//!   4 uppercase hex digits ([`crc16_ccitt`]).

use crate::error::DomainError;
use crate::money::Money;

/// The Pix arrangement's globally unique identifier (field 26, sub-field 00).
pub const PIX_GUI: &str = "br.gov.bcb.pix";

/// The longest txid (field 62, sub-field 05).
pub const MAX_TXID: usize = 25;

/// A BR Code for one charge: the store's Pix key, its name and city, the amount and the charge's
/// transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrCode {
    key: String,
    merchant_name: String,
    merchant_city: String,
    amount: Option<Money>,
    txid: String,
}

impl BrCode {
    /// Check and keep the fields. `merchant_name` and `merchant_city` are transliterated to
    /// ASCII and cut to 25 and 15 characters; the other fields are refused when they do not fit:
    /// `key` up to 77 characters (a CPF/CNPJ, e-mail, `+55…` phone or random key), `txid` 1 to 25
    /// of `[A-Za-z0-9]` (or `None`: `***`, a code that any payment matches), `amount` above zero.
    pub fn new(
        key: &str,
        merchant_name: &str,
        merchant_city: &str,
        amount: Option<Money>,
        txid: Option<&str>,
    ) -> Result<BrCode, DomainError> {
        let key = key.trim();
        if key.is_empty() || key.chars().count() > 77 || !key.is_ascii() {
            return Err(DomainError::field(
                "pix_key",
                "a Pix key has 1 to 77 ASCII characters",
            ));
        }
        let merchant_name = ascii_upto(merchant_name, 25);
        let merchant_city = ascii_upto(merchant_city, 15);
        if merchant_name.is_empty() {
            return Err(DomainError::field(
                "merchant_name",
                "the store's name is needed",
            ));
        }
        if merchant_city.is_empty() {
            return Err(DomainError::field(
                "merchant_city",
                "the store's city is needed",
            ));
        }
        if let Some(a) = amount {
            // Field 54 holds at most 13 characters: up to 10 integer digits, '.', 2 decimals.
            if a.centavos() <= 0 || a.centavos() > 999_999_999_999 {
                return Err(DomainError::field(
                    "amount",
                    "a Pix amount is above zero and below R$ 10 billion",
                ));
            }
        }
        let txid = match txid {
            None => "***".to_owned(),
            Some(t) if is_txid(t) => t.to_owned(),
            Some(_) => {
                return Err(DomainError::field(
                    "txid",
                    format!("a Pix txid has 1 to {MAX_TXID} letters or digits"),
                ));
            }
        };
        Ok(BrCode {
            key: key.to_owned(),
            merchant_name,
            merchant_city,
            amount,
            txid,
        })
    }

    /// The "copia e cola" text, CRC included.
    pub fn payload(&self) -> String {
        let account = tlv("00", PIX_GUI) + &tlv("01", &self.key);
        let mut out = String::with_capacity(160);
        out += &tlv("00", "01");
        out += &tlv("26", &account);
        out += &tlv("52", "0000");
        out += &tlv("53", "986");
        if let Some(a) = self.amount {
            out += &tlv(
                "54",
                &format!("{}.{:02}", a.centavos() / 100, a.centavos() % 100),
            );
        }
        out += &tlv("58", "BR");
        out += &tlv("59", &self.merchant_name);
        out += &tlv("60", &self.merchant_city);
        out += &tlv("62", &tlv("05", &self.txid));
        out += "6304";
        let crc = crc16_ccitt(out.as_bytes());
        out += &format!("{crc:04X}");
        out
    }

    pub fn txid(&self) -> &str {
        &self.txid
    }
}

/// Whether `t` can be a BR Code txid: 1 to 25 ASCII letters or digits.
pub fn is_txid(t: &str) -> bool {
    !t.is_empty() && t.len() <= MAX_TXID && t.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A txid derived from an id made of letters, digits and separators (an order id): its letters
/// and digits, the last 25 of them (a ULID's random tail is the end).
pub fn txid_for(id: &str) -> Option<String> {
    let clean: Vec<char> = id.chars().filter(char::is_ascii_alphanumeric).collect();
    let start = clean.len().saturating_sub(MAX_TXID);
    let txid: String = clean[start..].iter().collect();
    is_txid(&txid).then_some(txid)
}

/// Whether `payload` is a well-formed BR Code whose CRC matches.
pub fn crc_matches(payload: &str) -> bool {
    // ASCII first: the byte offsets below are then character boundaries.
    if !payload.is_ascii() {
        return false;
    }
    let Some(body) = payload.len().checked_sub(4).map(|n| &payload[..n]) else {
        return false;
    };
    body.ends_with("6304")
        && format!("{:04X}", crc16_ccitt(body.as_bytes())) == payload[payload.len() - 4..]
}

fn tlv(id: &str, value: &str) -> String {
    // Every value reaching here is ASCII and at most 99 characters (checked in `new`).
    format!("{id}{:02}{value}", value.len())
}

/// `text` with accents removed and anything else outside printable ASCII dropped, whitespace
/// collapsed, cut to `max` characters.
fn ascii_upto(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = crate::text::fold_accent(c);
        if c.is_ascii_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if c.is_ascii_graphic() {
            out.push(c);
        }
    }
    let cut: String = out.trim_end().chars().take(max).collect();
    cut.trim_end().to_owned()
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final xor.
/// Check value: `crc16_ccitt(b"123456789") == 0x29B1`.
pub fn crc16_ccitt(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_crc_has_the_standard_check_value() {
        assert_eq!(crc16_ccitt(b"123456789"), 0x29B1);
    }

    /// BCB, "Manual de Padrões para Iniciação do Pix" §1.5.4, static QR example (NOTES.md §7).
    #[test]
    fn reproduces_the_bcb_static_example_and_its_crc() {
        let code = BrCode::new(
            "123e4567-e12b-12d1-a456-426655440000",
            "Fulano de Tal",
            "BRASILIA",
            None,
            None,
        )
        .unwrap();
        let payload = code.payload();
        assert_eq!(
            payload,
            "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
        );
        assert!(payload.ends_with("1D3D"));
        assert!(crc_matches(&payload));
    }

    /// The same key with an amount and a txid (NOTES.md §7, CRC B680).
    #[test]
    fn amount_and_txid_go_in_fields_54_and_62() {
        let code = BrCode::new(
            "123e4567-e12b-12d1-a456-426655440000",
            "Fulano de Tal",
            "BRASILIA",
            Some(Money::from_centavos(1000)),
            Some("PEDIDO12345"),
        )
        .unwrap();
        assert_eq!(
            code.payload(),
            "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000520400005303986540510.005802BR5913Fulano de Tal6008BRASILIA62150511PEDIDO123456304B680"
        );
    }

    #[test]
    fn names_and_cities_are_plain_ascii_and_cut_to_their_limits() {
        let code = BrCode::new(
            "loja@example.com",
            "Confecções São João da Barra Ltda",
            "São José dos Campos",
            Some(Money::from_centavos(5)),
            Some("ABC"),
        )
        .unwrap();
        let payload = code.payload();
        assert!(payload.is_ascii());
        assert!(payload.contains("5925Confeccoes Sao Joao da B"));
        assert!(payload.contains("6015Sao Jose dos Ca"));
        assert!(payload.contains("54040.05"));
    }

    #[test]
    fn bad_fields_are_refused_with_their_names() {
        let err = |r: Result<BrCode, DomainError>| match r {
            Err(DomainError::Invalid(f)) => f[0].field.clone(),
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(err(BrCode::new("", "Loja", "SP", None, None)), "pix_key");
        assert_eq!(
            err(BrCode::new("k", "Loja", "SP", None, Some("has space"))),
            "txid"
        );
        assert_eq!(
            err(BrCode::new("k", "Loja", "SP", None, Some(&"A".repeat(26)))),
            "txid"
        );
        assert_eq!(
            err(BrCode::new(
                "k",
                "Loja",
                "SP",
                Some(Money::from_centavos(0)),
                None
            )),
            "amount"
        );
        assert_eq!(
            err(BrCode::new("k", "✓✓", "SP", None, None)),
            "merchant_name"
        );
    }

    #[test]
    fn a_txid_is_the_tail_of_an_order_id() {
        assert_eq!(
            txid_for("01JD6X1Z9Q4W8E2R7T5Y3U6I0P").as_deref(),
            Some("1JD6X1Z9Q4W8E2R7T5Y3U6I0P")
        );
        assert_eq!(txid_for("ord-123").as_deref(), Some("ord123"));
        assert_eq!(txid_for("---"), None);
    }

    #[test]
    fn a_changed_payload_fails_its_crc() {
        let payload = BrCode::new("k", "Loja", "SP", Some(Money::from_centavos(990)), None)
            .unwrap()
            .payload();
        assert!(crc_matches(&payload));
        assert!(!crc_matches(&payload.replace("9.90", "1.90")));
        assert!(!crc_matches("6304"));
        assert!(!crc_matches(""));
    }

    proptest! {
        #[test]
        fn every_payload_checks_and_its_lengths_add_up(
            key in "[a-z0-9@.+-]{1,77}",
            name in "\\PC{1,40}",
            city in "\\PC{1,30}",
            centavos in 1i64..100_000_000_000,
            txid in "[A-Za-z0-9]{1,25}",
        ) {
            let Ok(code) = BrCode::new(&key, &name, &city, Some(Money::from_centavos(centavos)), Some(&txid)) else {
                // Only a name or city with no ASCII left is refused.
                return Ok(());
            };
            let payload = code.payload();
            prop_assert!(crc_matches(&payload));
            // Walk the top-level TLVs: each length is right and the CRC is last.
            let mut rest = payload.as_str();
            let mut ids = Vec::new();
            while !rest.is_empty() {
                let id = &rest[..2];
                let len: usize = rest[2..4].parse().unwrap();
                ids.push(id.to_owned());
                rest = &rest[4 + len..];
            }
            prop_assert_eq!(ids.last().map(String::as_str), Some("63"));
            let mut sorted = ids.clone();
            sorted.sort();
            prop_assert_eq!(ids, sorted);
        }

        /// The BR Code reader never panics, whatever it is given (a payload pasted by a person,
        /// or sent by anyone to the API), including text with multi-byte characters.
        #[test]
        fn no_text_makes_the_br_code_check_panic(s in "\\PC{0,120}") {
            let _ = crc_matches(&s);
        }

        /// Changing one character of a valid payload makes the check fail.
        #[test]
        fn one_changed_character_fails_the_crc(at in 0usize..200, with in "[A-Z0-9]") {
            let code = BrCode::new("pix@loja.example", "Loja", "Sao Paulo", Some(Money::from_centavos(1990)), Some("ABC123")).unwrap();
            let payload = code.payload();
            let at = at % payload.len();
            let mut changed = payload.clone();
            changed.replace_range(at..=at, &with);
            prop_assert_eq!(crc_matches(&changed), changed == payload);
        }
    }

    #[test]
    fn a_multibyte_character_where_the_crc_goes_is_not_a_panic() {
        assert!(!crc_matches("00020101021126580014br.gov.bcb.pix6304AéB"));
        assert!(!crc_matches("é"));
    }
}
