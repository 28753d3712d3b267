//! IBGE municipality codes: the 7-digit `cMun` NF-e wants for every address, found by UF and
//! city name.
//!
//! The table (`data/ibge_municipalities.tsv`, 5,570 municipalities, with its source in its header)
//! is compiled in and parsed once. Names match ignoring case, accents, spaces and punctuation, so
//! `"SAO PAULO"`, `"são paulo"` and `"São Paulo"` are the same city; a misspelt name finds nothing
//! rather than a guess.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::br::Uf;
use crate::text::comparable;

static TABLE: &str = include_str!("../data/ibge_municipalities.tsv");

struct Index {
    by_name: HashMap<(Uf, String), u32>,
    by_code: HashMap<u32, (Uf, &'static str)>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_name = HashMap::new();
        let mut by_code = HashMap::new();
        for line in TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let mut parts = line.split('\t');
            let (Some(code), Some(uf), Some(name)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(code), Ok(uf)) = (code.parse::<u32>(), Uf::parse(uf)) else {
                continue;
            };
            by_name.insert((uf, comparable(name)), code);
            by_code.insert(code, (uf, name));
        }
        Index { by_name, by_code }
    })
}

/// The IBGE code of the municipality `city` in `uf`, e.g. (SP, "São Paulo") → 3550308.
pub fn municipality_code(uf: Uf, city: &str) -> Option<u32> {
    index().by_name.get(&(uf, comparable(city))).copied()
}

/// The UF and official name of the municipality with this IBGE code.
pub fn municipality(code: u32) -> Option<(Uf, &'static str)> {
    index().by_code.get(&code).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_capitals_whatever_the_spelling_of_case_and_accents() {
        assert_eq!(municipality_code(Uf::Sp, "São Paulo"), Some(3550308));
        assert_eq!(municipality_code(Uf::Sp, "SAO PAULO"), Some(3550308));
        assert_eq!(municipality_code(Uf::Pr, "curitiba"), Some(4106902));
        assert_eq!(municipality_code(Uf::Df, "Brasília"), Some(5300108));
        assert_eq!(
            municipality_code(Uf::Sp, "Santa Bárbara d'Oeste"),
            Some(3545803)
        );
    }

    #[test]
    fn the_uf_matters_and_unknown_names_find_nothing() {
        // Two different Bom Jesus.
        assert_ne!(
            municipality_code(Uf::Rs, "Bom Jesus"),
            municipality_code(Uf::Pi, "Bom Jesus")
        );
        assert_eq!(municipality_code(Uf::Rj, "São Paulo"), None);
        assert_eq!(municipality_code(Uf::Sp, "Sao Paolo"), None);
    }

    #[test]
    fn the_table_has_every_municipality_once_and_codes_start_with_the_uf() {
        assert_eq!(index().by_code.len(), 5570);
        for (code, (uf, _)) in &index().by_code {
            assert_eq!(code / 100_000, u32::from(uf.code()), "{code}");
        }
        assert_eq!(municipality(3550308), Some((Uf::Sp, "São Paulo")));
    }
}
