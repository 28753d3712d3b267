//! Free text as the schema's `TString` wants it.
//!
//! `TString` is `[!-ÿ]{1}[ -ÿ]{0,}[!-ÿ]{1}|[!-ÿ]{1}`: characters in U+0020–U+00FF only, first and
//! last character not a space, at least one character. Product names, addresses and customer names
//! come from people and web forms, so they are sanitized here, never rejected for their spelling:
//!
//! 1. decomposed accents (`a` + U+0301, as macOS keyboards send them) are composed back to the
//!    Latin-1 letter (`á`); Latin-1 letters (`ÇÃÉ…`) are kept as they are;
//! 2. characters above U+00FF are transliterated where there is an obvious ASCII spelling (“smart
//!    quotes”, dashes, `…`, `€`, Latin Extended-A letters such as `ł`, `ő`, `Ž`, `Œ`) and dropped
//!    otherwise (emoji, CJK, symbols);
//! 3. control characters (C0 and C1, tab, line breaks), U+00A0 and the Unicode spaces become a
//!    space; zero-width characters and the soft hyphen disappear;
//! 4. runs of spaces collapse to one, and the result is trimmed;
//! 5. [`sanitize_max`] then cuts at the schema's maximum length (in characters, as XSD counts)
//!    and trims again.
//!
//! The result may be empty (the input had nothing printable): the caller decides whether that is
//! an error (a required field) or means "omit" (an optional one). Escaping of `& < >` happens when
//! the text is written (`escape_text_into`), so lengths are counted on the unescaped text, as the
//! schema does.

/// Sanitizes `input` into a `TString` value (or an empty string); see the module doc.
pub fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    // `pending_space` collapses runs of whitespace and drops leading ones.
    let mut pending_space = false;
    let push = |out: &mut String, s: &str, pending_space: &mut bool| {
        for c in s.chars() {
            if c == ' ' {
                *pending_space = !out.is_empty();
            } else {
                if *pending_space {
                    out.push(' ');
                    *pending_space = false;
                }
                out.push(c);
            }
        }
    };
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        // Compose "base letter + combining mark" into one Latin-1 letter when there is one.
        if let Some(&mark) = chars.peek()
            && let Some(composed) = compose(c, mark)
        {
            chars.next();
            let mut buf = [0u8; 4];
            push(&mut out, composed.encode_utf8(&mut buf), &mut pending_space);
            continue;
        }
        match classify(c) {
            Class::Keep => {
                let mut buf = [0u8; 4];
                push(&mut out, c.encode_utf8(&mut buf), &mut pending_space);
            }
            Class::Space => push(&mut out, " ", &mut pending_space),
            Class::Drop => {}
            Class::Replace(s) => push(&mut out, s, &mut pending_space),
        }
    }
    out
}

/// [`sanitize`], then cut to at most `max_chars` characters and trimmed again.
pub fn sanitize_max(input: &str, max_chars: usize) -> String {
    let mut s = sanitize(input);
    if let Some((byte_index, _)) = s.char_indices().nth(max_chars) {
        s.truncate(byte_index);
        let trimmed = s.trim_end_matches(' ').len();
        s.truncate(trimmed);
    }
    s
}

/// Whether `s` matches the schema's `TString` pattern (non-empty, U+0020–U+00FF, no leading or
/// trailing space). The pattern itself allows C1 controls and U+00A0; [`sanitize`] never produces
/// them, and this check is the schema's, not the sanitizer's.
pub fn is_tstring(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
}

/// Appends `s` to `out` with `&`, `<`, `>` (and a carriage return, which sanitized text never has)
/// escaped exactly as Canonical XML 1.0 escapes text nodes, so written text is already canonical.
pub(crate) fn escape_text_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

enum Class {
    Keep,
    Space,
    Drop,
    Replace(&'static str),
}

fn classify(c: char) -> Class {
    match c {
        '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ac}' | '\u{ae}'..='\u{ff}' => Class::Keep,
        // C0/C1 controls (tab and line breaks included), DEL, no-break space, Unicode spaces.
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{a0}'
        | '\u{2000}'..='\u{200a}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{202f}'
        | '\u{205f}'
        | '\u{3000}' => Class::Space,
        // Soft hyphen, zero-width characters, BOM, combining marks left over after composing.
        '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}' | '\u{300}'..='\u{36f}' => {
            Class::Drop
        }
        '\u{100}'..='\u{17f}' => Class::Replace(latin_extended_a(c)),
        '\u{218}' | '\u{219}' => Class::Replace(if c == '\u{218}' { "S" } else { "s" }),
        '\u{21a}' | '\u{21b}' => Class::Replace(if c == '\u{21a}' { "T" } else { "t" }),
        '\u{192}' => Class::Replace("f"),
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}' | '\u{2032}' => Class::Replace("'"),
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{201f}' | '\u{2033}' => Class::Replace("\""),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Class::Replace("-"),
        '\u{2026}' => Class::Replace("..."),
        '\u{2022}' | '\u{2023}' | '\u{2043}' => Class::Replace("-"),
        '\u{2039}' => Class::Replace("<"),
        '\u{203a}' => Class::Replace(">"),
        '\u{20ac}' => Class::Replace("EUR"),
        '\u{2122}' => Class::Replace("TM"),
        '\u{2116}' => Class::Replace("No"),
        _ => Class::Drop,
    }
}

/// ASCII spelling of the Latin Extended-A block (U+0100–U+017F).
fn latin_extended_a(c: char) -> &'static str {
    // One letter per code point, in block order; `*` marks the ligatures handled below.
    const TABLE: &[u8; 128] = b"AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi**JjKkkLlLlLlLlLlNnNnNnnNnOoOoOo**RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";
    const LETTERS: [&str; 128] = {
        let mut out = [""; 128];
        let mut i = 0;
        while i < 128 {
            out[i] = match TABLE[i] {
                b'A' => "A",
                b'a' => "a",
                b'C' => "C",
                b'c' => "c",
                b'D' => "D",
                b'd' => "d",
                b'E' => "E",
                b'e' => "e",
                b'G' => "G",
                b'g' => "g",
                b'H' => "H",
                b'h' => "h",
                b'I' => "I",
                b'i' => "i",
                b'J' => "J",
                b'j' => "j",
                b'K' => "K",
                b'k' => "k",
                b'L' => "L",
                b'l' => "l",
                b'N' => "N",
                b'n' => "n",
                b'O' => "O",
                b'o' => "o",
                b'R' => "R",
                b'r' => "r",
                b'S' => "S",
                b's' => "s",
                b'T' => "T",
                b't' => "t",
                b'U' => "U",
                b'u' => "u",
                b'W' => "W",
                b'w' => "w",
                b'Y' => "Y",
                b'y' => "y",
                b'Z' => "Z",
                b'z' => "z",
                _ => "",
            };
            i += 1;
        }
        out
    };
    match c {
        '\u{132}' => "IJ",
        '\u{133}' => "ij",
        '\u{152}' => "OE",
        '\u{153}' => "oe",
        _ => LETTERS[(c as usize) - 0x100],
    }
}

/// The Latin-1 letter for `base` + combining `mark`, if there is one.
fn compose(base: char, mark: char) -> Option<char> {
    const TABLE: &[(char, char, char)] = &[
        ('A', '\u{300}', 'À'),
        ('A', '\u{301}', 'Á'),
        ('A', '\u{302}', 'Â'),
        ('A', '\u{303}', 'Ã'),
        ('A', '\u{308}', 'Ä'),
        ('A', '\u{30a}', 'Å'),
        ('C', '\u{327}', 'Ç'),
        ('E', '\u{300}', 'È'),
        ('E', '\u{301}', 'É'),
        ('E', '\u{302}', 'Ê'),
        ('E', '\u{308}', 'Ë'),
        ('I', '\u{300}', 'Ì'),
        ('I', '\u{301}', 'Í'),
        ('I', '\u{302}', 'Î'),
        ('I', '\u{308}', 'Ï'),
        ('N', '\u{303}', 'Ñ'),
        ('O', '\u{300}', 'Ò'),
        ('O', '\u{301}', 'Ó'),
        ('O', '\u{302}', 'Ô'),
        ('O', '\u{303}', 'Õ'),
        ('O', '\u{308}', 'Ö'),
        ('U', '\u{300}', 'Ù'),
        ('U', '\u{301}', 'Ú'),
        ('U', '\u{302}', 'Û'),
        ('U', '\u{308}', 'Ü'),
        ('Y', '\u{301}', 'Ý'),
        ('a', '\u{300}', 'à'),
        ('a', '\u{301}', 'á'),
        ('a', '\u{302}', 'â'),
        ('a', '\u{303}', 'ã'),
        ('a', '\u{308}', 'ä'),
        ('a', '\u{30a}', 'å'),
        ('c', '\u{327}', 'ç'),
        ('e', '\u{300}', 'è'),
        ('e', '\u{301}', 'é'),
        ('e', '\u{302}', 'ê'),
        ('e', '\u{308}', 'ë'),
        ('i', '\u{300}', 'ì'),
        ('i', '\u{301}', 'í'),
        ('i', '\u{302}', 'î'),
        ('i', '\u{308}', 'ï'),
        ('n', '\u{303}', 'ñ'),
        ('o', '\u{300}', 'ò'),
        ('o', '\u{301}', 'ó'),
        ('o', '\u{302}', 'ô'),
        ('o', '\u{303}', 'õ'),
        ('o', '\u{308}', 'ö'),
        ('u', '\u{300}', 'ù'),
        ('u', '\u{301}', 'ú'),
        ('u', '\u{302}', 'û'),
        ('u', '\u{308}', 'ü'),
        ('y', '\u{301}', 'ý'),
        ('y', '\u{308}', 'ÿ'),
    ];
    if !('\u{300}'..='\u{36f}').contains(&mark) {
        return None;
    }
    TABLE
        .iter()
        .find(|(b, m, _)| *b == base && *m == mark)
        .map(|(_, _, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portuguese_accents_are_kept() {
        assert_eq!(sanitize("AÇÃO São João"), "AÇÃO São João");
    }

    #[test]
    fn decomposed_accents_are_composed_back() {
        assert_eq!(sanitize("Joa\u{303}o Cafe\u{301}"), "João Café");
        assert_eq!(sanitize("x\u{301}"), "x");
    }

    #[test]
    fn smart_punctuation_is_transliterated() {
        assert_eq!(
            sanitize("“Caneca” – 300 ml… ‘nova’ €5"),
            "\"Caneca\" - 300 ml... 'nova' EUR5"
        );
    }

    #[test]
    fn latin_extended_letters_lose_their_marks() {
        assert_eq!(
            sanitize("Łódź Žižek Őrség Œuvre"),
            "Lódz Zizek Orség OEuvre"
        );
        assert_eq!(sanitize("ſ"), "s");
        assert_eq!(sanitize("\u{17e}"), "z");
    }

    #[test]
    fn emoji_and_unknown_scripts_are_dropped() {
        assert_eq!(sanitize("Bolo 🎂 de 東京 chocolate"), "Bolo de chocolate");
        assert_eq!(sanitize("🎂"), "");
    }

    #[test]
    fn whitespace_collapses_and_trims() {
        assert_eq!(
            sanitize("  Rua\t\tdas\r\nFlores\u{a0}\u{a0}10  "),
            "Rua das Flores 10"
        );
        assert_eq!(sanitize("a\u{200b}b\u{ad}c"), "abc");
    }

    #[test]
    fn truncation_counts_characters_and_retrims() {
        assert_eq!(sanitize_max("ÇÇÇÇ", 2), "ÇÇ");
        assert_eq!(sanitize_max("abc def", 4), "abc");
        assert_eq!(sanitize_max("abc", 10), "abc");
    }

    #[test]
    fn text_escaping_is_the_canonical_one() {
        let mut out = String::new();
        escape_text_into(&mut out, "a & b < c > d \"e\" 'f'");
        assert_eq!(out, "a &amp; b &lt; c &gt; d \"e\" 'f'");
    }

    #[test]
    fn tstring_check_follows_the_schema_pattern() {
        assert!(is_tstring("a"));
        assert!(is_tstring("AÇÃO"));
        assert!(!is_tstring(""));
        assert!(!is_tstring(" a"));
        assert!(!is_tstring("a "));
        assert!(!is_tstring("a\nb"));
        assert!(!is_tstring("“a”"));
    }
}
