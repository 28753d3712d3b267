//! The XSD regular-expression dialect (XML Schema 1.0 Part 2, appendix F) translated to the
//! syntax of the `regex` crate.
//!
//! XSD patterns are implicitly anchored at both ends, have no anchors of their own (`^` and `$`
//! are ordinary characters), and have multi-character escapes the `regex` crate does not know
//! (`\i`, `\c`) or defines differently (`\s`, `\w`, `.`). Every literal character is written as
//! a `\x{…}` escape, so no character of the source can take a meaning it did not have. Anything
//! this module does not understand is an error naming the pattern — never a looser match.

use regex::Regex;

/// Compiles an XSD `pattern` facet value into an anchored [`Regex`].
pub(crate) fn compile(xsd: &str) -> Result<Regex, String> {
    let translated = translate(xsd)?;
    Regex::new(&translated).map_err(|e| format!("pattern {xsd:?}: {e}"))
}

/// The `regex` crate expression (anchored) equivalent to the XSD pattern `xsd`.
pub(crate) fn translate(xsd: &str) -> Result<String, String> {
    let chars: Vec<char> = xsd.chars().collect();
    let mut p = Parser {
        chars: &chars,
        at: 0,
        source: xsd,
    };
    let mut out = String::from("^(?:");
    let mut depth = 0usize;
    while let Some(c) = p.next() {
        match c {
            '\\' => out.push_str(&p.escape(false)?),
            '[' => out.push_str(&p.class()?),
            '.' => out.push_str(r"[^\n\r]"),
            '(' => {
                if p.peek() == Some('?') {
                    return Err(p.error("`(?` is not XSD syntax"));
                }
                depth += 1;
                out.push_str("(?:");
            }
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| p.error("unbalanced `)`"))?;
                out.push(')');
            }
            '|' | '?' | '*' | '+' => out.push(c),
            '{' => {
                let mut quantifier = String::from("{");
                loop {
                    match p.next() {
                        Some('}') => break,
                        Some(d @ ('0'..='9' | ',')) => quantifier.push(d),
                        _ => return Err(p.error("bad quantifier")),
                    }
                }
                quantifier.push('}');
                out.push_str(&quantifier);
            }
            ']' | '}' => return Err(p.error(&format!("unescaped `{c}`"))),
            literal => out.push_str(&hex(literal)),
        }
    }
    if depth != 0 {
        return Err(p.error("unbalanced `(`"));
    }
    out.push_str(")$");
    Ok(out)
}

fn hex(c: char) -> String {
    format!("\\x{{{:X}}}", c as u32)
}

/// XML whitespace as XSD's `\s` means it.
const SPACE: &str = r"\x{20}\x{9}\x{A}\x{D}";
/// XML 1.0 `Letter | '_' | ':'` (the first character of a name), by Unicode category.
const NAME_START: &str = r"\p{L}\p{Nl}_:";
/// XML 1.0 `NameChar`, by Unicode category.
const NAME_CHAR: &str = r"\p{L}\p{Nl}\p{Nd}\p{Mn}\p{Mc}\p{Lm}\x{B7}._:\-";

struct Parser<'a> {
    chars: &'a [char],
    at: usize,
    source: &'a str,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.at).copied();
        self.at += 1;
        c
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn error(&self, why: &str) -> String {
        format!(
            "pattern {:?}: {why} (at character {})",
            self.source, self.at
        )
    }

    /// After a `\`: the translation, as a standalone item (`in_class` = inside `[…]`, where a
    /// class escape is written without its brackets when it can be).
    fn escape(&mut self, in_class: bool) -> Result<String, String> {
        let c = self.next().ok_or_else(|| self.error("trailing `\\`"))?;
        let set = |positive: &str, negated: bool| {
            if negated {
                format!("[^{positive}]")
            } else if in_class {
                positive.to_owned()
            } else {
                format!("[{positive}]")
            }
        };
        Ok(match c {
            'n' => hex('\n'),
            'r' => hex('\r'),
            't' => hex('\t'),
            '\\' | '|' | '.' | '-' | '^' | '?' | '*' | '+' | '{' | '}' | '(' | ')' | '[' | ']' => {
                hex(c)
            }
            'd' => set(r"\p{Nd}", false),
            'D' => set(r"\p{Nd}", true),
            's' => set(SPACE, false),
            'S' => set(SPACE, true),
            'i' => set(NAME_START, false),
            'I' => set(NAME_START, true),
            'c' => set(NAME_CHAR, false),
            'C' => set(NAME_CHAR, true),
            // XSD: all characters except punctuation, separators and "other".
            'w' => r"[^\p{P}\p{Z}\p{C}]".to_owned(),
            'W' => r"[\p{P}\p{Z}\p{C}]".to_owned(),
            'p' | 'P' => {
                if self.next() != Some('{') {
                    return Err(self.error("`\\p` without `{`"));
                }
                let mut name = String::new();
                loop {
                    match self.next() {
                        Some('}') => break,
                        Some(n) if n.is_ascii_alphanumeric() => name.push(n),
                        _ => return Err(self.error("bad `\\p{…}` name")),
                    }
                }
                if name.starts_with("Is") {
                    return Err(self.error("Unicode block escapes (`\\p{Is…}`) are not supported"));
                }
                format!("\\{c}{{{name}}}")
            }
            other => return Err(self.error(&format!("unknown escape `\\{other}`"))),
        })
    }

    /// After a `[`: a character class, with XSD's `-[…]` subtraction.
    fn class(&mut self) -> Result<String, String> {
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            self.at += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            let c = self
                .next()
                .ok_or_else(|| self.error("unterminated character class"))?;
            match c {
                ']' if !first => break,
                '-' if self.peek() == Some('[') && !first => {
                    self.at += 1;
                    let subtracted = self.class()?;
                    out.push_str("--");
                    out.push_str(&subtracted);
                    if self.next() != Some(']') {
                        return Err(self.error("a subtraction must end the class"));
                    }
                    break;
                }
                '[' => return Err(self.error("unescaped `[` in a class")),
                _ => {
                    let start = if c == '\\' {
                        let before = self.at;
                        let escaped = self.escape(true)?;
                        // A single-character escape can start a range; a class escape cannot.
                        let single = self.chars[before];
                        if "nrt\\|.-^?*+{}()[]".contains(single) {
                            Some(match single {
                                'n' => '\n',
                                'r' => '\r',
                                't' => '\t',
                                other => other,
                            })
                        } else {
                            out.push_str(&escaped);
                            None
                        }
                    } else {
                        Some(c)
                    };
                    if let Some(start) = start {
                        let is_range = self.peek() == Some('-')
                            && !matches!(self.chars.get(self.at + 1), Some(']' | '[') | None);
                        if is_range {
                            self.at += 1;
                            let end = match self.next() {
                                Some('\\') => {
                                    let e = self.next().ok_or_else(|| self.error("bad range"))?;
                                    match e {
                                        'n' => '\n',
                                        'r' => '\r',
                                        't' => '\t',
                                        e if "\\|.-^?*+{}()[]".contains(e) => e,
                                        _ => return Err(self.error("a class escape ends a range")),
                                    }
                                }
                                Some(e) => e,
                                None => return Err(self.error("unterminated range")),
                            };
                            if end < start {
                                return Err(self.error("range out of order"));
                            }
                            out.push_str(&hex(start));
                            out.push('-');
                            out.push_str(&hex(end));
                        } else {
                            out.push_str(&hex(start));
                        }
                    }
                }
            }
            first = false;
        }
        out.push(']');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::compile;

    fn matches(pattern: &str, value: &str) -> bool {
        compile(pattern).unwrap().is_match(value)
    }

    #[test]
    fn patterns_are_anchored_at_both_ends() {
        assert!(matches("[0-9]{8}", "61275652"));
        assert!(!matches("[0-9]{8}", "6127565"));
        assert!(!matches("[0-9]{8}", "612756521"));
        assert!(!matches("0|[1-9]", "10"));
    }

    #[test]
    fn caret_and_dollar_are_ordinary_characters() {
        assert!(matches("a^b$", "a^b$"));
        assert!(!matches("a^b$", "ab"));
    }

    #[test]
    fn latin1_ranges_and_the_tstring_pattern() {
        let t = "[!-ÿ]{1}[ -ÿ]{0,}[!-ÿ]{1}|[!-ÿ]{1}";
        assert!(matches(t, "VENDA DE MERCADORIA"));
        assert!(matches(t, "São Paulo"));
        assert!(!matches(t, " VENDA"));
        assert!(!matches(t, "VENDA "));
        assert!(!matches(t, "caf☕"));
    }

    #[test]
    fn class_escapes_and_ranges_with_punctuation() {
        assert!(matches(r"[\-,\+](0[0-9]|10):00", "-03:00"));
        assert!(matches(r"[\-,\+](0[0-9]|10):00", "+10:00"));
        assert!(!matches(r"[\-,\+](0[0-9]|10):00", "*03:00"));
        // `+-/` is the range + , - . /
        assert!(matches("[A-Za-z0-9.:+-/)(]{5}", "a,b-/"));
        assert!(!matches("[A-Za-z0-9.:+-/)(]{5}", "a,b-*"));
        assert!(matches(r"\d\s\i\c", "1 _9"));
        assert!(!matches(r"\d", "a"));
        assert!(matches(r"a.c", "abc"));
        assert!(!matches(r"a.c", "a\nc"));
        assert!(matches(r"[a-z-[aeiou]]+", "bcd"));
        assert!(!matches(r"[a-z-[aeiou]]+", "bad"));
    }

    #[test]
    fn what_is_not_xsd_is_an_error() {
        assert!(compile("(?i)a").is_err());
        assert!(compile("a]").is_err());
        assert!(compile(r"\q").is_err());
        assert!(compile("(a").is_err());
        assert!(compile(r"\p{IsBasicLatin}").is_err());
    }
}
