//! Small text helpers shared by the Brazilian formats (Pix BR Codes, IBGE names), search, and
//! what is written into HTML or SVG (the report's chart, the pages rendered on the server).

/// `s` for HTML or SVG, in content or a quoted attribute: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The unaccented ASCII letter for the Latin-1 letters Portuguese (and Spanish) use.
pub fn fold_accent(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ã' | 'ä' => 'a',
        'Á' | 'À' | 'Â' | 'Ã' | 'Ä' => 'A',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'É' | 'È' | 'Ê' | 'Ë' => 'E',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'Í' | 'Ì' | 'Î' | 'Ï' => 'I',
        'ó' | 'ò' | 'ô' | 'õ' | 'ö' => 'o',
        'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' => 'O',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'Ú' | 'Ù' | 'Û' | 'Ü' => 'U',
        'ç' => 'c',
        'Ç' => 'C',
        'ñ' => 'n',
        'Ñ' => 'N',
        other => other,
    }
}

/// Lowercase with accents folded, so "cafe" finds "Café" (`"Calça Térmica"` → `"calca termica"`).
pub fn fold(s: &str) -> String {
    s.chars()
        .map(fold_accent)
        .flat_map(char::to_lowercase)
        .collect()
}

/// A name reduced for comparison: accents folded, ASCII letters and digits only, lowercase
/// (`"Santa Bárbara d'Oeste"` → `"santabarbaradoeste"`).
pub fn comparable(name: &str) -> String {
    name.chars()
        .map(fold_accent)
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The edit distance between two ASCII strings — letters inserted, deleted, substituted, or two
/// neighbours swapped (optimal string alignment) — if it is at most `limit`; `None` beyond, found
/// without finishing the table when a whole row is already over.
pub fn edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    // Three rows of the table: the one before the previous (for swaps), the previous, this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(row[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        if row.iter().all(|&d| d > limit) {
            return None;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut row);
    }
    Some(previous[b.len()]).filter(|&d| d <= limit)
}

/// RFC 4180: quoted when it holds a comma, a quote or a line break (quotes doubled); a leading
/// `=`, `+`, `-` or `@` gets a `'` so spreadsheets do not run it as a formula.
pub fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_distance_counts_each_kind_of_slip_once() {
        assert_eq!(edit_distance("saopaulo", "saopaulo", 2), Some(0));
        assert_eq!(edit_distance("saopaolo", "saopaulo", 2), Some(1)); // changed
        assert_eq!(edit_distance("curitba", "curitiba", 2), Some(1)); // dropped
        assert_eq!(edit_distance("curitibaa", "curitiba", 2), Some(1)); // added
        assert_eq!(edit_distance("curtiiba", "curitiba", 2), Some(1)); // swapped
        assert_eq!(edit_distance("", "abc", 3), Some(3));
        assert_eq!(edit_distance("kitten", "sitting", 3), Some(3));
        assert_eq!(edit_distance("kitten", "sitting", 2), None);
        assert_eq!(edit_distance("a", "abcdef", 2), None);
    }
}
