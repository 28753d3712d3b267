//! IBGE municipality codes: the 7-digit `cMun` NF-e wants for every address, found by UF and
//! city name.
//!
//! The table (`data/ibge_municipalities.tsv`, 5,570 municipalities, with its source in its header)
//! is compiled in and parsed once. Names match ignoring case, accents, spaces and punctuation, so
//! `"SAO PAULO"`, `"são paulo"` and `"São Paulo"` are the same city; a misspelt name finds nothing
//! rather than a guess. To help whoever typed it, [`closest_municipalities`] offers the names of
//! the UF that are a few keystrokes away, and [`ufs_of`] says where a name does exist.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::br::Uf;
use crate::text::{comparable, edit_distance};

static TABLE: &str = include_str!("../data/ibge_municipalities.tsv");

struct Index {
    by_name: HashMap<(Uf, String), u32>,
    by_code: HashMap<u32, (Uf, &'static str)>,
    /// Every municipality as (UF, comparable name, official name), in the table's order.
    names: Vec<(Uf, String, &'static str)>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_name = HashMap::new();
        let mut by_code = HashMap::new();
        let mut names = Vec::new();
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
            names.push((uf, comparable(name), name));
        }
        Index {
            by_name,
            by_code,
            names,
        }
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

/// Up to `max` official names of `uf`'s municipalities close to `city`, closest first (ties in
/// alphabetical order of the compared form): `(SP, "Sao Paolo")` → `["São Paulo"]`. Close means
/// at most one edit (a letter added, dropped, changed, or two swapped) per four letters of the
/// compared form, and at least one; a name that is nothing like any municipality gets nothing.
pub fn closest_municipalities(uf: Uf, city: &str, max: usize) -> Vec<&'static str> {
    let wanted = comparable(city);
    if wanted.is_empty() {
        return Vec::new();
    }
    let limit = (wanted.len() / 4).clamp(1, 3);
    let mut found: Vec<(usize, &str, &'static str)> = index()
        .names
        .iter()
        .filter(|(u, ..)| *u == uf)
        .filter_map(|(_, name, official)| {
            edit_distance(&wanted, name, limit).map(|d| (d, name.as_str(), *official))
        })
        .collect();
    found.sort_unstable();
    found.into_iter().take(max).map(|(.., n)| n).collect()
}

/// The UFs that have a municipality named `city` (compared as [`municipality_code`] does), in
/// IBGE order: `"Curitiba"` → `[PR]`, `"Bom Jesus"` → `[PI, PB, RN, SC, RS]`.
pub fn ufs_of(city: &str) -> Vec<Uf> {
    let wanted = comparable(city);
    Uf::ALL
        .into_iter()
        .filter(|&uf| index().by_name.contains_key(&(uf, wanted.clone())))
        .collect()
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

    #[test]
    fn a_misspelt_city_finds_the_close_names_of_its_uf_only() {
        assert_eq!(
            closest_municipalities(Uf::Sp, "Sao Paolo", 3),
            ["São Paulo"]
        );
        assert_eq!(closest_municipalities(Uf::Pr, "Curitba", 3), ["Curitiba"]);
        // A swap of two letters is one edit.
        assert_eq!(closest_municipalities(Uf::Pr, "Curitbia", 3), ["Curitiba"]);
        assert_eq!(
            closest_municipalities(Uf::Df, "Brasília - DF", 3),
            ["Brasília"]
        );
        assert_eq!(closest_municipalities(Uf::Df, "Brazilia", 3), ["Brasília"]);
        // Only names of the UF asked about.
        assert!(closest_municipalities(Uf::Rj, "Sao Paolo", 3).is_empty());
        // Nothing like any municipality: no guess.
        assert!(closest_municipalities(Uf::Sp, "Cidade Que Não Existe", 3).is_empty());
        assert!(closest_municipalities(Uf::Sp, "", 3).is_empty());
        // Two as close: both, alphabetically.
        assert_eq!(
            closest_municipalities(Uf::Sp, "Itapeve", 3),
            ["Itapeva", "Itapevi"]
        );
        assert_eq!(closest_municipalities(Uf::Sp, "Itapeve", 1), ["Itapeva"]);
    }

    #[test]
    fn a_name_is_found_in_the_ufs_that_have_it() {
        assert_eq!(ufs_of("curitiba"), [Uf::Pr]);
        assert_eq!(ufs_of("São Paulo"), [Uf::Sp]);
        assert!(ufs_of("Bom Jesus").len() >= 2);
        assert!(ufs_of("Bom Jesus").contains(&Uf::Rs));
        assert!(ufs_of("Nowhere").is_empty());
    }
}
