//! Simple types: the built-in primitives the package uses, restriction chains and their facets.

use regex::Regex;

/// The built-in datatypes this validator knows. Any other `xs:` type is a compile error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    /// `xs:string` (whiteSpace preserve unless restricted).
    String,
    /// `xs:normalizedString` (whiteSpace replace).
    NormalizedString,
    /// `xs:token` (whiteSpace collapse).
    Token,
    /// `xs:ID`: an NCName, unique in the document.
    Id,
    /// `xs:base64Binary`; lengths count octets.
    Base64Binary,
    /// `xs:anyURI`.
    AnyUri,
    /// `xs:gYearMonth` (`YYYY-MM` with an optional zone).
    GYearMonth,
    /// `xs:dateTime` (`YYYY-MM-DDThh:mm:ss[.s]` with an optional zone; the web-service schemas'
    /// `dhRecbto` of `retConsSitNFe`).
    DateTime,
}

impl Builtin {
    /// The built-in named `local` in the XML Schema namespace.
    pub(crate) fn by_name(local: &str) -> Option<Builtin> {
        Some(match local {
            "string" => Builtin::String,
            "normalizedString" => Builtin::NormalizedString,
            "token" => Builtin::Token,
            "ID" => Builtin::Id,
            "base64Binary" => Builtin::Base64Binary,
            "anyURI" => Builtin::AnyUri,
            "gYearMonth" => Builtin::GYearMonth,
            "dateTime" => Builtin::DateTime,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Builtin::String => "xs:string",
            Builtin::NormalizedString => "xs:normalizedString",
            Builtin::Token => "xs:token",
            Builtin::Id => "xs:ID",
            Builtin::Base64Binary => "xs:base64Binary",
            Builtin::AnyUri => "xs:anyURI",
            Builtin::GYearMonth => "xs:gYearMonth",
            Builtin::DateTime => "xs:dateTime",
        }
    }

    fn whitespace(self) -> WhiteSpace {
        match self {
            Builtin::String => WhiteSpace::Preserve,
            Builtin::NormalizedString => WhiteSpace::Replace,
            _ => WhiteSpace::Collapse,
        }
    }
}

/// The `whiteSpace` facet: how a value is normalized before any other facet sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum WhiteSpace {
    Preserve,
    Replace,
    Collapse,
}

impl WhiteSpace {
    pub(crate) fn parse(value: &str) -> Option<WhiteSpace> {
        Some(match value {
            "preserve" => WhiteSpace::Preserve,
            "replace" => WhiteSpace::Replace,
            "collapse" => WhiteSpace::Collapse,
            _ => return None,
        })
    }

    fn apply(self, value: &str) -> String {
        let replaced = || value.replace(['\t', '\n', '\r'], " ");
        match self {
            WhiteSpace::Preserve => value.to_owned(),
            WhiteSpace::Replace => replaced(),
            WhiteSpace::Collapse => replaced()
                .split(' ')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// The facets of one restriction step. Patterns of one step are alternatives; the steps of a
/// chain all apply.
#[derive(Debug, Default, Clone)]
pub(crate) struct Facets {
    pub(crate) patterns: Vec<(String, Regex)>,
    pub(crate) enumeration: Option<Vec<String>>,
    pub(crate) length: Option<usize>,
    pub(crate) min_length: Option<usize>,
    pub(crate) max_length: Option<usize>,
    /// `minInclusive`, only on `xs:gYearMonth` (checked at compile time): (year, month).
    pub(crate) min_inclusive: Option<(i64, u32)>,
}

/// A simple type: its primitive, its effective whiteSpace and the facets of every step of its
/// restriction chain.
#[derive(Debug, Clone)]
pub(crate) struct SimpleType {
    pub(crate) name: String,
    pub(crate) builtin: Builtin,
    pub(crate) whitespace: WhiteSpace,
    pub(crate) steps: Vec<Facets>,
}

impl SimpleType {
    pub(crate) fn builtin(builtin: Builtin) -> SimpleType {
        SimpleType {
            name: builtin.name().to_owned(),
            builtin,
            whitespace: builtin.whitespace(),
            steps: Vec::new(),
        }
    }

    /// Normalizes `raw` and checks it; `Ok` is the normalized value, `Err` says why not.
    pub(crate) fn check(&self, raw: &str) -> Result<String, String> {
        let value = self.whitespace.apply(raw);
        self.check_lexical(&value)?;
        let length = match self.builtin {
            Builtin::Base64Binary => base64_octets(&value).unwrap_or(0),
            _ => value.chars().count(),
        };
        for facets in &self.steps {
            if let Some(n) = facets.length
                && length != n
            {
                return Err(format!(
                    "has a length of {length}; this differs from the allowed length of {n} ({})",
                    self.name
                ));
            }
            if let Some(n) = facets.min_length
                && length < n
            {
                return Err(format!(
                    "has a length of {length}; this underruns the allowed minimum length of {n} ({})",
                    self.name
                ));
            }
            if let Some(n) = facets.max_length
                && length > n
            {
                return Err(format!(
                    "has a length of {length}; this exceeds the allowed maximum length of {n} ({})",
                    self.name
                ));
            }
            if let Some(values) = &facets.enumeration
                && !values.iter().any(|v| v == &value)
            {
                return Err(format!(
                    "{value:?} is not an element of the set {{{}}} ({})",
                    values.join(", "),
                    self.name
                ));
            }
            if !facets.patterns.is_empty()
                && !facets.patterns.iter().any(|(_, r)| r.is_match(&value))
            {
                let sources: Vec<&str> = facets.patterns.iter().map(|(s, _)| s.as_str()).collect();
                return Err(format!(
                    "{value:?} is not accepted by the pattern {:?} ({})",
                    sources.join("|"),
                    self.name
                ));
            }
            if let Some(min) = facets.min_inclusive {
                let got = parse_year_month(&value)
                    .ok_or_else(|| format!("{value:?} is not a gYearMonth"))?;
                if got < min {
                    return Err(format!(
                        "{value:?} is less than the minimum {:04}-{:02} ({})",
                        min.0, min.1, self.name
                    ));
                }
            }
        }
        Ok(value)
    }

    fn check_lexical(&self, value: &str) -> Result<(), String> {
        let ok = match self.builtin {
            Builtin::String | Builtin::NormalizedString | Builtin::Token | Builtin::AnyUri => true,
            Builtin::Id => is_ncname(value),
            Builtin::Base64Binary => base64_octets(value).is_some(),
            Builtin::GYearMonth => parse_year_month(value).is_some(),
            Builtin::DateTime => is_date_time(value),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{value:?} is not a valid value of the atomic type {}",
                self.builtin.name()
            ))
        }
    }
}

/// XML Namespaces `NCName`: a name without `:`.
pub(crate) fn is_ncname(value: &str) -> bool {
    let mut chars = value.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '\u{B7}'))
}

fn base64_value(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// `xs:base64Binary` as libxml2 (the oracle) reads it: characters outside the alphabet and `=`
/// are ignored (whitespace among them); the alphabet characters come in groups of four, the last
/// group possibly completed by one or two `=` that only trailing ignored characters may follow,
/// and the bits the padding leaves unused are zero. `None` when not valid, else the octets.
fn base64_octets(value: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    let mut data = 0usize;
    let mut last = 0u8;
    let mut at = 0;
    while at < bytes.len() && bytes[at] != b'=' {
        if let Some(v) = base64_value(bytes[at]) {
            data += 1;
            last = v;
        }
        at += 1;
    }
    let mut padding = 0usize;
    for &b in &bytes[at..] {
        if b == b'=' {
            padding += 1;
        } else if base64_value(b).is_some() {
            return None;
        }
    }
    let whole = 3 * (data / 4);
    match padding {
        0 if data.is_multiple_of(4) => Some(whole),
        1 if data % 4 == 3 && last & !0x3c == 0 => Some(whole + 2),
        2 if data % 4 == 2 && last & !0x30 == 0 => Some(whole + 1),
        _ => None,
    }
}

/// `xs:dateTime`: `-?YYYY-MM-DDThh:mm:ss(.s+)?(Z|[+-]hh:mm)?`, with the day valid for the
/// month (29 February only in leap years), hours 00–23 (or `24:00:00`), zone within ±14:00.
pub(crate) fn is_date_time(value: &str) -> bool {
    let two = |s: &str| -> Option<u32> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    // `…YYYY-MM-DD` before the `T`: the year and month as in gYearMonth, then `-DD`.
    let Some(t) = value.find('T').filter(|&t| t >= 3) else {
        return false;
    };
    let Some((year, month)) = parse_year_month(&value[..t - 3]) else {
        return false;
    };
    let Some(day) = value[t - 3..t].strip_prefix('-').and_then(two) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > days {
        return false;
    }
    let time = &value[t + 1..];
    let (clock, zone) = match time.find(['Z', '+', '-']) {
        Some(i) => (&time[..i], &time[i..]),
        None => (time, ""),
    };
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (clock, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let parts: Vec<Option<u32>> = hms.split(':').map(two).collect();
    let [Some(h), Some(m), Some(s)] = parts[..] else {
        return false;
    };
    let midnight =
        h == 24 && m == 0 && s == 0 && fraction.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    if !(midnight || (h < 24 && m < 60 && s < 60)) {
        return false;
    }
    match zone {
        "" | "Z" => true,
        _ => {
            let z = &zone[1..];
            let parts: Vec<Option<u32>> = z.split(':').map(two).collect();
            matches!(parts[..], [Some(zh), Some(zm)] if zm < 60 && (zh < 14 || (zh == 14 && zm == 0)))
        }
    }
}

/// `xs:gYearMonth`: `-?YYYY-MM` (year of four or more digits, no leading zero past four) with an
/// optional `Z` or `±hh:mm` zone (ignored for ordering).
pub(crate) fn parse_year_month(value: &str) -> Option<(i64, u32)> {
    let (negative, rest) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let dash = rest.find('-')?;
    let (year, rest) = (&rest[..dash], &rest[dash + 1..]);
    if year.len() < 4
        || (year.len() > 4 && year.starts_with('0'))
        || !year.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let month = rest.get(..2)?;
    if !month.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month: u32 = month.parse().ok()?;
    if !(1..=12).contains(&month) {
        return None;
    }
    let zone = &rest[2..];
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || (zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':'
            && zone[1..3].parse::<u32>().is_ok_and(|h| h <= 14)
            && zone[4..6].parse::<u32>().is_ok_and(|m| m <= 59));
    if !zone_ok {
        return None;
    }
    let year: i64 = year.parse().ok()?;
    Some((if negative { -year } else { year }, month))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_normalization() {
        assert_eq!(WhiteSpace::Collapse.apply("  a \t\n b  "), "a b");
        assert_eq!(WhiteSpace::Replace.apply("a\tb\n"), "a b ");
        assert_eq!(WhiteSpace::Preserve.apply(" a\t"), " a\t");
    }

    #[test]
    fn token_collapses_before_facets() {
        let mut t = SimpleType::builtin(Builtin::Token);
        t.steps.push(Facets {
            enumeration: Some(vec!["a b".into()]),
            max_length: Some(3),
            ..Facets::default()
        });
        assert_eq!(t.check("  a   b ").unwrap(), "a b");
        assert!(t.check("ab").is_err());
    }

    #[test]
    fn base64_lexical_and_length() {
        let t = SimpleType::builtin(Builtin::Base64Binary);
        assert!(t.check("+GzukUqyGg3ksWFUU/e6HsguR0A=").is_ok());
        assert!(t.check("\n  QUJD\n  REVG  ").is_ok());
        assert!(t.check("").is_ok());
        assert!(t.check("QUJ").is_err());
        assert!(t.check("QU=D").is_err());
        assert!(t.check("QUJ*").is_err());
        assert!(t.check("QUI=").is_ok());
        assert!(t.check("QUJ=").is_err(), "unused bits must be zero");
        assert!(t.check("QUJDRB==").is_err(), "unused bits must be zero");
        // Stray characters are ignored, as libxml2 does.
        assert!(t.check("QUJD*").is_ok());
        assert_eq!(base64_octets("QUJDRA=="), Some(4));
        assert_eq!(base64_octets("QUJDREU="), Some(5));
    }

    #[test]
    fn ids_and_year_months() {
        assert!(is_ncname("NFe4117"));
        assert!(!is_ncname("4117"));
        assert!(!is_ncname("a:b"));
        assert_eq!(parse_year_month("2025-01"), Some((2025, 1)));
        assert_eq!(parse_year_month("2025-12-03:00"), Some((2025, 12)));
        assert_eq!(parse_year_month("2025-13"), None);
        assert_eq!(parse_year_month("25-01"), None);
        assert!(is_date_time("2026-08-20T14:30:00-03:00"));
        assert!(is_date_time("2024-02-29T00:00:00.5Z"));
        assert!(is_date_time("2026-08-20T14:30:00"));
        assert!(!is_date_time("2026-02-29T14:30:00"));
        assert!(!is_date_time("2026-08-20T25:30:00"));
        assert!(!is_date_time("2026-08-20 14:30:00"));
        assert!(!is_date_time("2026-08-20T14:30:00-15:00"));
    }
}
