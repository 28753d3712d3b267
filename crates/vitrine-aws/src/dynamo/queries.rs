//! Queries: key conditions on the table and its indexes, pages capped at `MAX_PAGE`, and
//! cursors bound to the query that issued them.

use std::collections::BTreeMap;

use anyhow::anyhow;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use vitrine_app::ports::table::{
    Cursor, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, Index, Item, Query, SortKey, TableError,
};

use super::expressions::Placeholders;
use super::items::RawItem;
use super::{DynamoTable, GSI1, GSI2, PK, SK};

/// What a cursor holds: the query it belongs to and the key of the last item returned.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct CursorBody {
    /// Index: "p", "1" or "2".
    i: String,
    /// The queried partition.
    p: String,
    /// Direction.
    f: bool,
    /// The sort-key condition, as `[operator, operand...]`.
    c: Vec<String>,
    /// The key attributes of the last item returned (DynamoDB's `ExclusiveStartKey`).
    k: BTreeMap<String, String>,
}

fn index_tag(index: Index) -> &'static str {
    match index {
        Index::Primary => "p",
        Index::Gsi1 => "1",
        Index::Gsi2 => "2",
    }
}

/// The index's name in DynamoDB (none for the table) and its key attributes.
pub(super) fn index_shape(index: Index) -> (Option<&'static str>, &'static str, &'static str) {
    match index {
        Index::Primary => (None, PK, SK),
        Index::Gsi1 => (Some(GSI1), GSI1_PK, GSI1_SK),
        Index::Gsi2 => (Some(GSI2), GSI2_PK, GSI2_SK),
    }
}

fn sort_key_tag(sk: Option<&SortKey>) -> Vec<String> {
    let tag = |op: &str, args: &[&String]| {
        std::iter::once(op.to_owned())
            .chain(args.iter().map(|a| (*a).clone()))
            .collect()
    };
    match sk {
        None => vec![],
        Some(SortKey::Eq(v)) => tag("eq", &[v]),
        Some(SortKey::BeginsWith(v)) => tag("begins_with", &[v]),
        Some(SortKey::Between(a, b)) => tag("between", &[a, b]),
        Some(SortKey::Lt(v)) => tag("lt", &[v]),
        Some(SortKey::Le(v)) => tag("le", &[v]),
        Some(SortKey::Gt(v)) => tag("gt", &[v]),
        Some(SortKey::Ge(v)) => tag("ge", &[v]),
    }
}

fn sort_key_holds(condition: Option<&SortKey>, key: &str) -> bool {
    let k = key.as_bytes();
    match condition {
        None => true,
        Some(SortKey::Eq(v)) => k == v.as_bytes(),
        Some(SortKey::BeginsWith(p)) => k.starts_with(p.as_bytes()),
        Some(SortKey::Between(a, b)) => k >= a.as_bytes() && k <= b.as_bytes(),
        Some(SortKey::Lt(v)) => k < v.as_bytes(),
        Some(SortKey::Le(v)) => k <= v.as_bytes(),
        Some(SortKey::Gt(v)) => k > v.as_bytes(),
        Some(SortKey::Ge(v)) => k >= v.as_bytes(),
    }
}

/// What to ask DynamoDB for a sort-key condition. DynamoDB refuses empty strings in key
/// conditions and an inverted BETWEEN, while the port gives them plain meanings (key
/// attributes are never empty here): `Some(None)` = no condition, `None` = nothing matches.
pub(super) fn effective_sort_key(sk: Option<&SortKey>) -> Option<Option<SortKey>> {
    let Some(sk) = sk else {
        return Some(None);
    };
    match sk {
        SortKey::Eq(v) | SortKey::Lt(v) | SortKey::Le(v) if v.is_empty() => None,
        SortKey::BeginsWith(v) | SortKey::Gt(v) | SortKey::Ge(v) if v.is_empty() => Some(None),
        SortKey::Between(a, b) if a.as_bytes() > b.as_bytes() || b.is_empty() => None,
        SortKey::Between(a, b) if a.is_empty() => Some(Some(SortKey::Le(b.clone()))),
        other => Some(Some(other.clone())),
    }
}

pub(super) fn key_condition(
    index: Index,
    pk: &str,
    sk: Option<&SortKey>,
    p: &mut Placeholders,
) -> String {
    let (_, pk_attr, sk_attr) = index_shape(index);
    let partition = format!(
        "{} = {}",
        p.name(pk_attr),
        p.value(AttributeValue::S(pk.to_owned()))
    );
    let Some(sk) = sk else {
        return partition;
    };
    let n = p.name(sk_attr);
    let mut v = |s: &String| p.value(AttributeValue::S(s.clone()));
    let range = match sk {
        SortKey::Eq(x) => format!("{n} = {}", v(x)),
        SortKey::BeginsWith(x) => format!("begins_with({n}, {})", v(x)),
        SortKey::Between(a, b) => {
            let (a, b) = (v(a), v(b));
            format!("{n} BETWEEN {a} AND {b}")
        }
        SortKey::Lt(x) => format!("{n} < {}", v(x)),
        SortKey::Le(x) => format!("{n} <= {}", v(x)),
        SortKey::Gt(x) => format!("{n} > {}", v(x)),
        SortKey::Ge(x) => format!("{n} >= {}", v(x)),
    };
    format!("{partition} AND {range}")
}

impl DynamoTable {
    pub(super) fn encode_cursor(query: &Query, item: &Item) -> Result<Cursor, TableError> {
        let (_, pk_attr, sk_attr) = index_shape(query.index);
        let mut k = BTreeMap::from([
            (PK.to_owned(), item.key.pk.clone()),
            (SK.to_owned(), item.key.sk.clone()),
        ]);
        if query.index != Index::Primary {
            for attr in [pk_attr, sk_attr] {
                let value = item.str(attr).ok_or_else(|| {
                    TableError::Unavailable(anyhow!("an index item without a string {attr}"))
                })?;
                k.insert(attr.to_owned(), value.to_owned());
            }
        }
        let body = CursorBody {
            i: index_tag(query.index).to_owned(),
            p: query.pk.clone(),
            f: query.forward,
            c: sort_key_tag(query.sk.as_ref()),
            k,
        };
        let json = serde_json::to_vec(&body)
            .map_err(|e| TableError::Unavailable(anyhow!(e).context("encoding a cursor")))?;
        Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
    }

    /// The `ExclusiveStartKey` a cursor stands for, if it belongs to this very query.
    pub(super) fn decode_cursor(query: &Query, cursor: &Cursor) -> Result<RawItem, TableError> {
        let invalid = || TableError::Invalid("a cursor this query did not issue".into());
        let json = URL_SAFE_NO_PAD
            .decode(cursor.0.as_bytes())
            .map_err(|_| invalid())?;
        let body: CursorBody = serde_json::from_slice(&json).map_err(|_| invalid())?;
        let (_, pk_attr, sk_attr) = index_shape(query.index);
        let mut expected_keys = vec![PK, SK];
        if query.index != Index::Primary {
            expected_keys.extend([pk_attr, sk_attr]);
        }
        expected_keys.sort_unstable();
        expected_keys.dedup();
        let keys_ok = body
            .k
            .keys()
            .map(String::as_str)
            .eq(expected_keys.iter().copied())
            && body.k.values().all(|v| !v.is_empty());
        let same_query = body.i == index_tag(query.index)
            && body.p == query.pk
            && body.f == query.forward
            && body.c == sort_key_tag(query.sk.as_ref());
        let inside = body.k.get(pk_attr) == Some(&query.pk)
            && body
                .k
                .get(sk_attr)
                .is_some_and(|sk| sort_key_holds(query.sk.as_ref(), sk));
        if !(keys_ok && same_query && inside) {
            return Err(invalid());
        }
        Ok(body
            .k
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use vitrine_app::ports::table::Key;

    use super::*;
    #[test]
    fn cursors_are_bound_to_their_query() {
        let query = Query::new(Index::Gsi1, "g").sk(SortKey::BeginsWith("x".into()));
        let item = Item::new(Key::new("p", "s"))
            .with(GSI1_PK, "g")
            .with(GSI1_SK, "x1");
        let cursor = DynamoTable::encode_cursor(&query, &item).unwrap();
        assert!(DynamoTable::decode_cursor(&query, &cursor).is_ok());
        for other in [
            Query::new(Index::Gsi1, "h").sk(SortKey::BeginsWith("x".into())),
            Query::new(Index::Gsi2, "g").sk(SortKey::BeginsWith("x".into())),
            Query::new(Index::Gsi1, "g"),
            query.clone().backward(),
        ] {
            assert!(matches!(
                DynamoTable::decode_cursor(&other, &cursor),
                Err(TableError::Invalid(_))
            ));
        }
    }
}
