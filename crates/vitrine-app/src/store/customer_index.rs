//! Customer search: the entries a customer is listed and found by.
//!
//! | entry | pk | sk |
//! |---|---|---|
//! | every customer, newest first | `CUSTOMERS` | `{created ms, 15 digits}#{sub}` |
//! | a word of the name (accents and case folded) | `CUSTOMERS#FIND` | `n:{word}\u{1}{sub}` |
//! | the e-mail (lowercase) | `CUSTOMERS#FIND` | `e:{e-mail}\u{1}{sub}` |
//! | the CPF/CNPJ, and the phone's national digits | `CUSTOMERS#FIND` | `d:{digits}\u{1}{sub}` |
//!
//! Each entry holds the `sub`. They are written with the profile, in its batch (a change of name,
//! tax id or phone deletes the entries it no longer has), so they are never older than it. A search
//! walks the start of one kind (`n:sil…`), reads the profiles of each round by key and checks the
//! rest of the query on them.

use std::collections::BTreeSet;

use vitrine_domain::text::fold;

use super::walk::{Pick, RangeWalk, decode_cursor, encode_cursor};
use super::{Batch, Part, VERSION, profile};
use crate::error::AppResult;
use crate::ports::{Condition, Index, Item, Key, Table, Value, WriteOp};

/// The most entries one search request reads.
pub const BUDGET: usize = 1_000;
/// Name words indexed per customer.
const MAX_WORDS: usize = 8;

const ALL: &str = "CUSTOMERS";
const FIND: &str = "CUSTOMERS#FIND";
const SUB: &str = "sub";
const SEP: char = '\u{1}';

/// What a customer is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerFacts<'a> {
    pub sub: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub tax_id: Option<&'a str>,
    /// The phone's national digits (`11987654321`), or all of them for a number abroad.
    pub phone: Option<&'a str>,
    pub created_ms: i64,
}

/// The folded words of a name, as indexed and searched.
pub fn words(name: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    fold(name)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .filter(|w| seen.insert(w.to_string()))
        .map(str::to_owned)
        .collect()
}

fn terms(f: &CustomerFacts<'_>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = words(f.name)
        .into_iter()
        .take(MAX_WORDS)
        .map(|w| format!("n:{w}"))
        .collect();
    out.insert(format!("e:{}", f.email.trim().to_lowercase()));
    for digits in [f.tax_id, f.phone].into_iter().flatten() {
        if !digits.is_empty() {
            out.insert(format!("d:{digits}"));
        }
    }
    out
}

fn every(f: &CustomerFacts<'_>) -> Key {
    Key::new(ALL, format!("{:015}#{}", f.created_ms.max(0), f.sub))
}

fn term_key(term: &str, sub: &str) -> Key {
    Key::new(FIND, format!("{term}{SEP}{sub}"))
}

/// The entries of a customer (see the module docs).
pub fn entries(f: &CustomerFacts<'_>) -> Vec<Item> {
    std::iter::once(Item::new(every(f)).with(SUB, f.sub))
        .chain(
            terms(f)
                .iter()
                .map(|t| Item::new(term_key(t, f.sub)).with(SUB, f.sub)),
        )
        .collect()
}

impl Batch {
    /// Write the entries of a customer's profile `new`, deleting those `old` (what the stored
    /// profile had) has and `new` has not.
    pub fn index_customer(&mut self, new: &CustomerFacts<'_>, old: Option<&CustomerFacts<'_>>) {
        let wanted = terms(new);
        if let Some(old) = old {
            for gone in terms(old).difference(&wanted) {
                self.push(
                    Part::Profile,
                    WriteOp::Delete {
                        key: term_key(gone, old.sub),
                        condition: None,
                    },
                );
            }
        }
        for item in entries(new) {
            self.put(Part::Profile, item);
        }
    }

    /// Fail the batch unless `sub`'s profile is still at `version` (indexing a profile read
    /// earlier).
    pub fn profile_unchanged(&mut self, sub: &str, version: u64) {
        self.push(
            Part::Profile,
            WriteOp::Check {
                key: profile(sub),
                condition: Condition::Eq(VERSION.into(), Value::N(version as i64)),
            },
        );
    }
}

/// Whether the customer's entries exist (a profile from before they did has none).
pub async fn is_indexed(table: &dyn Table, f: &CustomerFacts<'_>) -> AppResult<bool> {
    Ok(table.get(&every(f)).await?.is_some())
}

/// What a search asks for, as the walk reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerQuery {
    /// Every customer, newest first.
    All,
    /// Names with a word starting with each of these (the walk follows the longest).
    Words(Vec<String>),
    /// E-mails starting with this.
    Email(String),
    /// CPF/CNPJ or phone digits starting with these.
    Digits(String),
}

impl CustomerQuery {
    /// What the text an admin typed asks for: an `@` makes it an e-mail, digits (with the
    /// punctuation of documents and phones) a number, anything else words of the name.
    pub fn from_text(q: &str) -> CustomerQuery {
        let q = q.trim();
        if q.is_empty() {
            return CustomerQuery::All;
        }
        if q.contains('@') {
            return CustomerQuery::Email(q.to_lowercase());
        }
        if q.chars()
            .all(|c| c.is_ascii_digit() || " .-/()+".contains(c))
            && q.chars().any(|c| c.is_ascii_digit())
        {
            let digits: String = q.chars().filter(char::is_ascii_digit).collect();
            // A phone typed with its country code: the index holds national digits.
            let digits = match digits.strip_prefix("55") {
                Some(rest) if q.starts_with('+') => rest.to_owned(),
                _ => digits,
            };
            return CustomerQuery::Digits(digits);
        }
        let words = words(q);
        if words.is_empty() {
            CustomerQuery::All
        } else {
            CustomerQuery::Words(words)
        }
    }

    fn tag(&self) -> &'static str {
        match self {
            CustomerQuery::All => "all",
            CustomerQuery::Words(_) => "name",
            CustomerQuery::Email(_) => "email",
            CustomerQuery::Digits(_) => "digits",
        }
    }
}

/// One page of a customer search: their `sub`s in the walk's order, and the next page's cursor.
#[derive(Debug, Default)]
pub struct CustomerHits {
    pub subs: Vec<String>,
    pub next: Option<String>,
}

/// Up to `limit` customers for `query`, after `after` (a cursor of an earlier page of the same kind
/// of query). With several words, the walk follows the longest and reads the profiles it meets to
/// check the others.
pub async fn search(
    table: &dyn Table,
    query: &CustomerQuery,
    limit: usize,
    after: Option<&str>,
) -> AppResult<CustomerHits> {
    let last = decode_cursor(query.tag(), after)?;
    let walk =
        match query {
            CustomerQuery::All => RangeWalk::new(table, Index::Primary, ALL.into(), BUDGET),
            CustomerQuery::Words(words) => {
                let longest = words.iter().max_by_key(|w| w.len()).cloned();
                RangeWalk::new(table, Index::Primary, FIND.into(), BUDGET)
                    .prefixed(format!("n:{}", longest.unwrap_or_default()))
            }
            CustomerQuery::Email(e) => RangeWalk::new(table, Index::Primary, FIND.into(), BUDGET)
                .prefixed(format!("e:{e}")),
            CustomerQuery::Digits(d) => RangeWalk::new(table, Index::Primary, FIND.into(), BUDGET)
                .prefixed(format!("d:{d}")),
        };
    let mut walk = walk.resume(last);
    let others: Vec<String> = match query {
        CustomerQuery::Words(words) if words.len() > 1 => words.clone(),
        _ => Vec::new(),
    };
    let subs = walk
        .gather(
            limit,
            others.is_empty(),
            &Subs {
                table,
                others: &others,
            },
        )
        .await?;
    Ok(CustomerHits {
        subs,
        next: walk.position().map(|last| encode_cursor(query.tag(), last)),
    })
}

/// The customers a round names whose names have every word of `others` (when it has any).
struct Subs<'a> {
    table: &'a dyn Table,
    others: &'a [String],
}

#[async_trait::async_trait]
impl Pick<String> for Subs<'_> {
    async fn pick(&self, items: &[Item]) -> AppResult<Vec<Option<String>>> {
        let subs = items
            .iter()
            .map(|i| i.str(SUB).unwrap_or_default().to_owned());
        if self.others.is_empty() {
            return Ok(subs.map(|s| (!s.is_empty()).then_some(s)).collect());
        }
        let keys: Vec<Key> = items
            .iter()
            .map(|i| profile(i.str(SUB).unwrap_or_default()))
            .collect();
        let profiles = self.table.get_many(&keys).await?;
        Ok(subs
            .zip(profiles)
            .map(|(sub, p)| {
                let name = p.and_then(|p| super::decode::<NameOnly>(&p).ok())?.name;
                let have = words(&name);
                self.others
                    .iter()
                    .all(|w| have.iter().any(|h| h.starts_with(w.as_str())))
                    .then_some(sub)
            })
            .collect())
    }
}

#[derive(serde::Deserialize)]
struct NameOnly {
    name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_admin_types_is_read_as_name_e_mail_or_number() {
        assert_eq!(CustomerQuery::from_text("  "), CustomerQuery::All);
        assert_eq!(
            CustomerQuery::from_text("Ana@Exemplo"),
            CustomerQuery::Email("ana@exemplo".into())
        );
        assert_eq!(
            CustomerQuery::from_text("529.982.247-25"),
            CustomerQuery::Digits("52998224725".into())
        );
        assert_eq!(
            CustomerQuery::from_text("+55 (11) 98765-4321"),
            CustomerQuery::Digits("11987654321".into())
        );
        assert_eq!(
            CustomerQuery::from_text("José  da Silva"),
            CustomerQuery::Words(vec!["jose".into(), "da".into(), "silva".into()])
        );
    }

    #[test]
    fn a_changed_name_drops_the_words_it_lost() {
        let old = CustomerFacts {
            sub: "s1",
            name: "Ana Souza",
            email: "ana@example.com",
            tax_id: Some("52998224725"),
            phone: None,
            created_ms: 5,
        };
        let new = CustomerFacts {
            name: "Ana Lima",
            ..old.clone()
        };
        let mut batch = Batch::new();
        batch.index_customer(&new, Some(&old));
        let (ops, _) = batch.into_parts();
        let deleted: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Delete { key, .. } => Some(key.sk.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(deleted, vec!["n:souza\u{1}s1"]);
        assert!(
            ops.iter()
                .any(|op| op.key().sk == "n:lima\u{1}s1" && matches!(op, WriteOp::Put { .. }))
        );
    }
}
