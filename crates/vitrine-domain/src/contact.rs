//! How to reach a customer: e-mail address, phone number, name.
//!
//! Invariants: an [`Email`], [`Phone`] or [`PersonName`] is valid by construction (`parse`,
//! also behind `FromStr` and serde's `Deserialize`) and holds its normalized form, which
//! `as_str`, `Display` and serde use. These values are personal data: they belong in orders and
//! e-mails, never in logs or error messages (the [`ParseError`] messages do not repeat them).
//!
//! The checks are deliberately shallow: an e-mail address is only proven by a message that
//! arrives, a phone by a call. They refuse what is certainly wrong and what could do harm
//! downstream (spaces, control characters, the characters that separate addresses in a mail
//! header).

use crate::br::{ParseError, string_value};

/// An e-mail address: `local@domain`, trimmed, with the domain lowercased (the local part keeps
/// its case: some servers honour it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP can carry (RFC 5321 path limit minus the angle brackets).
    pub const MAX_CHARS: usize = 254;

    /// Accepts one unquoted address: exactly one `@`, a non-empty local part, a domain with a dot
    /// and no empty label, at most 254 characters, no whitespace or control characters, none of
    /// `( ) < > [ ] , ; : \ "` (quoted local parts and IP-literal domains are not supported).
    pub fn parse(input: &str) -> Result<Email, ParseError> {
        let what = "e-mail address";
        let invalid = |problem| ParseError::Invalid { what, problem };
        let text = input.trim();
        if text.is_empty() {
            return Err(ParseError::Empty { what });
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        if text.contains(['(', ')', '<', '>', '[', ']', ',', ';', ':', '\\', '"']) {
            return Err(invalid("must not contain ( ) < > [ ] , ; : \\ or \""));
        }
        let Some((local, domain)) = text.split_once('@') else {
            return Err(invalid("must contain exactly one @"));
        };
        if domain.contains('@') {
            return Err(invalid("must contain exactly one @"));
        }
        if local.is_empty() {
            return Err(invalid("has nothing before the @"));
        }
        if domain.is_empty() {
            return Err(invalid("has nothing after the @"));
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(invalid(
                "must have a domain such as example.com after the @",
            ));
        }
        let address = format!("{local}@{}", domain.to_lowercase());
        if address.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::TooLong {
                what,
                max: Self::MAX_CHARS,
            });
        }
        Ok(Email(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What comes before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(local, _)| local)
    }

    /// What comes after the `@`, lowercase.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

string_value!(Email);

/// A phone number in E.164 form: `+` and 10 to 15 digits, e.g. `+5511987654321`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    const WHAT: &'static str = "phone number";

    /// Accepts E.164 with any spacing (`+55 11 98765-4321`, `+1 (415) 555-2671`) and, without a
    /// `+`, Brazilian numbers as people write them: `(11) 98765-4321`, `11 3456-7890` (+55 is
    /// assumed), or `55 11 98765-4321`. Spaces, parentheses, dashes and dots are ignored.
    ///
    /// Brazilian numbers (+55) must have a 2-digit area code (DDD) without a 0 — so a trunk or
    /// carrier prefix such as `0 11 …` or `0 21 11 …` is refused, not guessed — and 8 digits, or
    /// 9 starting with 9 (mobile). Other countries get only the E.164 length check.
    pub fn parse(input: &str) -> Result<Phone, ParseError> {
        let what = Self::WHAT;
        let text = input.trim();
        if text.is_empty() {
            return Err(ParseError::Empty { what });
        }
        let (international, rest) = match text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' if digits.len() < 16 => digits.push(c),
                '0'..='9' | ' ' | '(' | ')' | '-' | '.' => {}
                _ => {
                    return Err(ParseError::InvalidCharacter {
                        what,
                        allowed: "digits, spaces, parentheses, dashes, dots and a leading +",
                    });
                }
            }
        }
        let national = if international {
            if !(10..=15).contains(&digits.len()) {
                return Err(ParseError::WrongLength {
                    what,
                    expected: "10 to 15 digits including the country code",
                });
            }
            if digits.starts_with('0') {
                return Err(ParseError::Invalid {
                    what,
                    problem: "has a country code starting with 0",
                });
            }
            if !digits.starts_with("55") {
                return Ok(Phone(format!("+{digits}")));
            }
            digits[2..].to_owned()
        } else {
            match digits.len() {
                10 | 11 => digits,
                12 | 13 if digits.starts_with("55") => digits[2..].to_owned(),
                _ => {
                    return Err(ParseError::WrongLength {
                        what,
                        expected: "a 2-digit area code and 8 or 9 digits, or a + and the country code",
                    });
                }
            }
        };
        Self::check_brazilian(&national)?;
        Ok(Phone(format!("+55{national}")))
    }

    fn check_brazilian(national: &str) -> Result<(), ParseError> {
        let what = Self::WHAT;
        let b = national.as_bytes();
        if !(10..=11).contains(&b.len()) {
            return Err(ParseError::WrongLength {
                what,
                expected: "a 2-digit area code and 8 or 9 digits after +55",
            });
        }
        if b[0] == b'0' || b[1] == b'0' {
            return Err(ParseError::Invalid {
                what,
                problem: "has an area code (DDD) that does not exist",
            });
        }
        if b.len() == 11 && b[2] != b'9' {
            return Err(ParseError::Invalid {
                what,
                problem: "has 9 digits after the area code but does not start with 9",
            });
        }
        Ok(())
    }

    /// Whether this is a Brazilian mobile number: `+55`, an area code (DDD) in use, and 9 digits
    /// starting with 9. Anatel's numbering rules give mobile (SMP) numbers the ninth digit 9
    /// (Resolução nº 553/2010, in force in every area code since the last stage of Ato
    /// nº 6.305/2012 in 2016; numbering now under the Regulamento de Numeração, Resolução
    /// nº 749/2022); the area codes are those that Ato lists per state, plus 11. Fixed lines
    /// (8 digits, starting 2 to 5) cannot receive texts.
    pub fn is_brazilian_mobile(&self) -> bool {
        let Some(national) = self.national_number() else {
            return false;
        };
        let b = national.as_bytes();
        b.len() == 11 && b[2] == b'9' && BRAZILIAN_AREA_CODES.contains(&&national[..2])
    }

    /// Whether the number belongs to country calling code `code` (`+55`, `351`). Country codes
    /// are prefix-free (ITU-T E.164), so a plain prefix test is exact.
    pub fn has_country_code(&self, code: &str) -> bool {
        let digits = code.trim().trim_start_matches('+');
        !digits.is_empty() && self.0[1..].starts_with(digits)
    }

    /// `+5511987654321`: the form Pix keys, SMS gateways and WhatsApp links take.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The area code and number of a Brazilian (+55) phone, `11987654321`, as NF-e's `fone`
    /// wants it; `None` for other countries.
    pub fn national_number(&self) -> Option<&str> {
        self.0.strip_prefix("+55")
    }

    /// The number as people read it: `(11) 98765-4321`, `(31) 3456-7890` in Brazil, the E.164
    /// form elsewhere.
    pub fn display(&self) -> String {
        match self.national_number() {
            Some(n) if n.len() >= 10 => {
                let (ddd, rest) = n.split_at(2);
                let (a, b) = rest.split_at(rest.len() - 4);
                format!("({ddd}) {a}-{b}")
            }
            _ => self.0.clone(),
        }
    }
}

string_value!(Phone);

/// The Brazilian area codes (DDD) in use: 11, and those Anatel's Ato nº 6.305/2012 lists state by
/// state for the ninth digit (São Paulo 12–19; Rio de Janeiro and Espírito Santo 21, 22, 24, 27,
/// 28; the North 91–99; Minas Gerais and the Northeast 31–35, 37, 38, 71, 73–75, 77, 79, 81–89;
/// the South and Centre-West 41–49, 51, 53–55, 61–69).
const BRAZILIAN_AREA_CODES: [&str; 67] = [
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "22", "24", "27", "28", "31", "32",
    "33", "34", "35", "37", "38", "41", "42", "43", "44", "45", "46", "47", "48", "49", "51", "53",
    "54", "55", "61", "62", "63", "64", "65", "66", "67", "68", "69", "71", "73", "74", "75", "77",
    "79", "81", "82", "83", "84", "85", "86", "87", "88", "89", "91", "92", "93", "94", "95", "96",
    "97", "98", "99",
];

/// A person's name as they give it: trimmed, 1 to 120 characters, no control characters.
/// Nothing else is assumed about names (one word, accents, apostrophes and hyphens are fine).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 120;

    pub fn parse(input: &str) -> Result<PersonName, ParseError> {
        let what = "name";
        let text = input.trim();
        if text.is_empty() {
            return Err(ParseError::Empty { what });
        }
        if text.chars().any(char::is_control) {
            return Err(ParseError::Invalid {
                what,
                problem: "must not contain control characters",
            });
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::TooLong {
                what,
                max: Self::MAX_CHARS,
            });
        }
        Ok(PersonName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_value!(PersonName);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones_display_as_people_read_them() {
        assert_eq!(
            Phone::parse("11987654321").unwrap().display(),
            "(11) 98765-4321"
        );
        assert_eq!(
            Phone::parse("(31) 3456-7890").unwrap().display(),
            "(31) 3456-7890"
        );
        assert_eq!(
            Phone::parse("+1 415 555 2671").unwrap().display(),
            "+14155552671"
        );
    }

    #[test]
    fn an_email_is_trimmed_and_its_domain_lowercased() {
        let email = Email::parse("  Maria.Silva@Exemplo.COM.br ").unwrap();
        assert_eq!(email.as_str(), "Maria.Silva@exemplo.com.br");
        assert_eq!(email.local_part(), "Maria.Silva");
        assert_eq!(email.domain(), "exemplo.com.br");
        assert_eq!(email.to_string(), "Maria.Silva@exemplo.com.br");
        assert_eq!(Email::parse("a+tag@b.co").unwrap().as_str(), "a+tag@b.co");
        assert_eq!(
            Email::parse("joão@exemplo.com.br").unwrap().local_part(),
            "joão"
        );
    }

    #[test]
    fn a_malformed_email_is_refused_with_the_reason() {
        let err = |s: &str| Email::parse(s).unwrap_err().to_string();
        assert_eq!(err(" "), "e-mail address is empty");
        assert_eq!(
            err("maria.exemplo.com"),
            "e-mail address must contain exactly one @"
        );
        assert_eq!(
            err("maria@@exemplo.com"),
            "e-mail address must contain exactly one @"
        );
        assert_eq!(
            err("a@b@exemplo.com"),
            "e-mail address must contain exactly one @"
        );
        assert_eq!(
            err("@exemplo.com"),
            "e-mail address has nothing before the @"
        );
        assert_eq!(err("maria@"), "e-mail address has nothing after the @");
        assert_eq!(
            err("maria@localhost"),
            "e-mail address must have a domain such as example.com after the @"
        );
        assert_eq!(
            err("maria@exemplo."),
            "e-mail address must have a domain such as example.com after the @"
        );
        assert_eq!(
            err("maria@exemplo..com"),
            "e-mail address must have a domain such as example.com after the @"
        );
        assert_eq!(
            err("maria silva@exemplo.com"),
            "e-mail address must not contain spaces or control characters"
        );
        assert_eq!(
            err("maria@exemplo.com\r\nBcc: x@y.z"),
            "e-mail address must not contain spaces or control characters"
        );
        assert_eq!(
            err("maria@exemplo.com,x@y.z"),
            "e-mail address must not contain ( ) < > [ ] , ; : \\ or \""
        );
        assert_eq!(
            err("Maria <maria@exemplo.com>"),
            "e-mail address must not contain spaces or control characters"
        );
        let long = format!("{}@exemplo.com", "a".repeat(243));
        assert_eq!(err(&long), "e-mail address is longer than 254 characters");
        assert!(Email::parse(&format!("{}@exemplo.com", "a".repeat(242))).is_ok());
    }

    #[test]
    fn a_brazilian_phone_written_locally_becomes_e164() {
        let e164 = |s: &str| Phone::parse(s).unwrap().as_str().to_owned();
        assert_eq!(e164("(11) 98765-4321"), "+5511987654321");
        assert_eq!(e164("11987654321"), "+5511987654321");
        assert_eq!(e164("+55 11 98765-4321"), "+5511987654321");
        assert_eq!(e164("55 (11) 98765-4321"), "+5511987654321");
        assert_eq!(e164("(21) 3456-7890"), "+552134567890");
        assert_eq!(e164("+1 (415) 555-2671"), "+14155552671");
        assert_eq!(
            Phone::parse("(11) 98765-4321").unwrap().national_number(),
            Some("11987654321")
        );
        assert_eq!(
            Phone::parse("+14155552671").unwrap().national_number(),
            None
        );
    }

    #[test]
    fn an_impossible_phone_is_refused_with_the_reason() {
        let err = |s: &str| Phone::parse(s).unwrap_err().to_string();
        assert_eq!(err(""), "phone number is empty");
        assert_eq!(
            err("98765-4321"),
            "phone number must have a 2-digit area code and 8 or 9 digits, or a + and the country code"
        );
        assert_eq!(
            err("+1 555 1234"),
            "phone number must have 10 to 15 digits including the country code"
        );
        assert_eq!(
            err("+1234567890123456"),
            "phone number must have 10 to 15 digits including the country code"
        );
        assert_eq!(
            err("(01) 98765-4321"),
            "phone number has an area code (DDD) that does not exist"
        );
        assert_eq!(
            err("(11) 88765-4321"),
            "phone number has 9 digits after the area code but does not start with 9"
        );
        assert_eq!(
            err("+55 11 9876-54321 0"),
            "phone number must have a 2-digit area code and 8 or 9 digits after +55"
        );
        assert_eq!(
            err("+0 11 98765 4321"),
            "phone number has a country code starting with 0"
        );
        assert_eq!(
            err("11 98765-4321 ramal 2"),
            "phone number may contain only digits, spaces, parentheses, dashes, dots and a leading +"
        );
        assert!(Phone::parse("++5511987654321").is_err());
    }

    #[test]
    fn a_name_is_trimmed_and_bounded() {
        assert_eq!(
            PersonName::parse("  Maria d'Ávila-Souza ")
                .unwrap()
                .as_str(),
            "Maria d'Ávila-Souza"
        );
        assert_eq!(PersonName::parse("Xuxa").unwrap().as_str(), "Xuxa");
        assert_eq!(
            PersonName::parse("\t").unwrap_err().to_string(),
            "name is empty"
        );
        assert_eq!(
            PersonName::parse("Maria\u{0}").unwrap_err().to_string(),
            "name must not contain control characters"
        );
        assert!(
            PersonName::parse(&"é".repeat(120)).is_ok(),
            "characters are counted, not bytes"
        );
        assert_eq!(
            PersonName::parse(&"a".repeat(121)).unwrap_err().to_string(),
            "name is longer than 120 characters"
        );
    }

    #[test]
    fn contacts_serialize_as_strings_and_refuse_invalid_input_when_deserialized() {
        let email = Email::parse("maria@exemplo.com").unwrap();
        assert_eq!(
            serde_json::to_string(&email).unwrap(),
            r#""maria@exemplo.com""#
        );
        assert_eq!(
            serde_json::from_str::<Email>(r#"" maria@EXEMPLO.com""#).unwrap(),
            email
        );
        assert!(serde_json::from_str::<Email>(r#""maria""#).is_err());
        assert_eq!(
            serde_json::from_str::<Phone>(r#""(11) 98765-4321""#)
                .unwrap()
                .as_str(),
            "+5511987654321"
        );
        assert!(
            serde_json::from_str::<Phone>("5511987654321").is_err(),
            "a number is not a phone"
        );
        assert!(serde_json::from_str::<PersonName>(r#""""#).is_err());
        assert_eq!("Maria".parse::<PersonName>().unwrap().to_string(), "Maria");
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9-]{1,20}"
    }

    proptest! {
        #[test]
        fn no_input_makes_a_contact_parser_panic(s in ".{0,300}") {
            let _ = Email::parse(&s);
            let _ = Phone::parse(&s);
            let _ = PersonName::parse(&s);
        }

        #[test]
        fn every_plain_address_parses_and_parsing_is_idempotent(
            local in "[a-zA-Z0-9._%+-]{1,40}",
            labels in prop::collection::vec(label(), 2..5),
        ) {
            let input = format!("{local}@{}", labels.join("."));
            let email = Email::parse(&input).unwrap();
            prop_assert_eq!(email.local_part(), local.as_str());
            prop_assert_eq!(email.domain(), labels.join(".").to_lowercase());
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
            let json = serde_json::to_string(&email).unwrap();
            prop_assert_eq!(serde_json::from_str::<Email>(&json).unwrap(), email);
        }

        #[test]
        fn a_parsed_email_never_holds_whitespace_or_a_second_at(s in "[a-z@. \t,<>]{0,30}") {
            if let Ok(email) = Email::parse(&s) {
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
                prop_assert!(!email.as_str().contains(char::is_whitespace));
            }
        }

        #[test]
        fn every_brazilian_number_reads_the_same_however_it_is_written(
            ddd in 1u8..=9,
            ddd2 in 1u8..=9,
            mobile in any::<bool>(),
            number in 0u32..100_000_000,
            style in 0usize..5,
        ) {
            let area = format!("{ddd}{ddd2}");
            let subscriber = if mobile { format!("9{number:08}") } else { format!("{number:08}") };
            let (head, tail) = subscriber.split_at(subscriber.len() - 4);
            let input = match style {
                0 => format!("({area}) {head}-{tail}"),
                1 => format!("{area}{subscriber}"),
                2 => format!("+55 {area} {head}-{tail}"),
                3 => format!("55{area}{subscriber}"),
                _ => format!(" {area}.{head}.{tail} "),
            };
            let phone = Phone::parse(&input).unwrap();
            prop_assert_eq!(phone.as_str(), format!("+55{area}{subscriber}"));
            let national = format!("{area}{subscriber}");
            prop_assert_eq!(phone.national_number(), Some(national.as_str()));
            prop_assert_eq!(Phone::parse(phone.as_str()).unwrap(), phone.clone());
            let json = serde_json::to_string(&phone).unwrap();
            prop_assert_eq!(serde_json::from_str::<Phone>(&json).unwrap(), phone);
        }

        #[test]
        fn a_parsed_phone_is_always_e164(s in "\\+?[0-9 ()-]{0,25}") {
            if let Ok(phone) = Phone::parse(&s) {
                let digits = &phone.as_str()[1..];
                prop_assert!(phone.as_str().starts_with('+'));
                prop_assert!((10..=15).contains(&digits.len()));
                prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
            }
        }

        #[test]
        fn a_parsed_name_is_trimmed_bounded_and_idempotent(s in "\\PC{0,130}") {
            if let Ok(name) = PersonName::parse(&s) {
                prop_assert_eq!(name.as_str(), s.trim());
                prop_assert!((1..=120).contains(&name.as_str().chars().count()));
                prop_assert_eq!(PersonName::parse(name.as_str()).unwrap(), name);
            } else {
                let n = s.trim().chars().count();
                prop_assert!(n == 0 || n > 120);
            }
        }
    }

    #[test]
    fn only_brazilian_mobiles_are_mobiles() {
        let mobile = |s: &str| Phone::parse(s).unwrap().is_brazilian_mobile();
        assert!(mobile("+55 11 98765-4321"));
        assert!(mobile("(21) 99876-5432"));
        assert!(mobile("+55 99 91234-5678"));
        // A fixed line (8 digits), an area code not in use (23, 25, 26, 29, 52…), abroad.
        assert!(!mobile("+55 11 3456-7890"));
        assert!(!mobile("+55 25 98765-4321"));
        assert!(!mobile("+55 23 98765-4321"));
        assert!(!mobile("+55 52 98765-4321"));
        assert!(!mobile("+351 912 345 678"));
        assert!(!mobile("+1 415 555 2671"));
        assert_eq!(BRAZILIAN_AREA_CODES.len(), 67);
        assert!(BRAZILIAN_AREA_CODES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_number_belongs_to_its_country_calling_code() {
        let phone = |s: &str| Phone::parse(s).unwrap();
        assert!(phone("(11) 98765-4321").has_country_code("+55"));
        assert!(phone("(11) 98765-4321").has_country_code("55"));
        assert!(phone("+351 912 345 678").has_country_code("+351"));
        assert!(!phone("+351 912 345 678").has_country_code("+55"));
        assert!(phone("+1 415 555 2671").has_country_code("+1"));
        assert!(!phone("+1 415 555 2671").has_country_code(""));
    }
}
