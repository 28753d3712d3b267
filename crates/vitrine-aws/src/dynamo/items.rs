//! Values and items: the port's `Value`s and `Item`s as DynamoDB attribute values, and the
//! reversible escape of attribute names that DynamoDB would take for the key.

use std::collections::HashMap;

use anyhow::{Context, anyhow};
use aws_sdk_dynamodb::types::AttributeValue;
use vitrine_app::ports::table::{Attrs, Item, Key, TableError, Value};

use super::{PK, SK};

pub(super) fn to_av(value: &Value) -> AttributeValue {
    match value {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::L(list) => AttributeValue::L(list.iter().map(to_av).collect()),
        Value::M(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_av(v))).collect())
        }
    }
}

fn from_av(av: &AttributeValue) -> anyhow::Result<Value> {
    Ok(match av {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => Value::N(
            n.parse()
                .with_context(|| format!("number {n:?} is not a 64-bit integer"))?,
        ),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(list) => Value::L(list.iter().map(from_av).collect::<Result<_, _>>()?),
        AttributeValue::M(map) => Value::M(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), from_av(v)?)))
                .collect::<anyhow::Result<_>>()?,
        ),
        other => anyhow::bail!("attribute type {other:?} is not used by vitrine"),
    })
}

pub(super) type RawItem = HashMap<String, AttributeValue>;

pub(super) fn key_av(key: &Key) -> RawItem {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// Marks an attribute name that was escaped on its way to DynamoDB.
const ESCAPE: char = '~';

/// The DynamoDB name of an item attribute. `pk` and `sk` are the key in DynamoDB, but ordinary
/// attribute names in the port (an item may carry an attribute called `sk`), so they are stored
/// as `~pk`/`~sk`; a name that already starts with `~` gets one more, which keeps the mapping
/// reversible ([`logical_name`]). Every other name — `ttl` and the index attributes included —
/// is stored as it is. Readers of the table's stream must undo this too ([`logical_name`]).
pub fn physical_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name == PK || name == SK || name.starts_with(ESCAPE) {
        format!("{ESCAPE}{name}").into()
    } else {
        name.into()
    }
}

/// The port's name of a DynamoDB attribute other than the key (the inverse of [`physical_name`]).
pub fn logical_name(name: &str) -> &str {
    name.strip_prefix(ESCAPE).unwrap_or(name)
}

/// DynamoDB refuses empty strings in key attributes.
pub(super) fn check_key(key: &Key) -> Result<(), TableError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        Err(TableError::Invalid(
            "key attributes must not be empty".into(),
        ))
    } else {
        Ok(())
    }
}

pub(super) fn item_av(item: &Item) -> Result<RawItem, TableError> {
    check_key(&item.key)?;
    let mut raw = key_av(&item.key);
    for (name, value) in &item.attrs {
        raw.insert(physical_name(name).into_owned(), to_av(value));
    }
    Ok(raw)
}

/// An item as DynamoDB holds it (from a read, or a stream record's image) in the port's terms:
/// the key out of `pk`/`sk`, the other attributes under their port names.
pub fn item_from_attributes(raw: &HashMap<String, AttributeValue>) -> anyhow::Result<Item> {
    let key_part = |name: &str| match raw.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        other => Err(anyhow!("item without a string {name}: {other:?}")),
    };
    let key = Key::new(key_part(PK)?, key_part(SK)?);
    let mut attrs = Attrs::new();
    for (name, av) in raw {
        if name != PK && name != SK {
            attrs.insert(
                logical_name(name).to_owned(),
                from_av(av).with_context(|| format!("attribute {name:?}"))?,
            );
        }
    }
    Ok(Item { key, attrs })
}

pub(super) fn decode(raw: &RawItem) -> Result<Item, TableError> {
    item_from_attributes(raw).map_err(|e| TableError::Unavailable(e.context("undecodable item")))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn attribute_names_map_to_dynamodb_and_back() {
        for (name, stored) in [
            ("pk", "~pk"),
            ("sk", "~sk"),
            ("~pk", "~~pk"),
            ("~", "~~"),
            ("ttl", "ttl"),
            ("gsi1pk", "gsi1pk"),
            ("a~", "a~"),
            ("pk2", "pk2"),
        ] {
            assert_eq!(physical_name(name), stored);
            assert_eq!(logical_name(stored), name);
        }
    }
}
