//! The Table port: one logical table of items keyed like DynamoDB.
//!
//! Every piece of persistent state lives here. The vocabulary is typed — no expression strings —
//! so that SQLite and DynamoDB can both implement it, and the same conformance suite
//! (`vitrine-testkit::table`) proves they behave alike.
//!
//! Invariants every adapter keeps:
//! - An item is addressed by `(pk, sk)`. The attributes named [`GSI1_PK`]/[`GSI1_SK`] and
//!   [`GSI2_PK`]/[`GSI2_SK`] place it in the two secondary indexes (sparse: an item without the
//!   index's partition attribute is not in it). Index keys and `sk` are strings compared bytewise.
//! - An item whose numeric [`TTL`] attribute (epoch seconds) is in the past is expired: reads never
//!   return it and conditions treat it as absent, whether or not it was physically removed yet.
//! - [`Table::write`] applies a batch of 1..=[`MAX_BATCH`] operations all-or-nothing. When a
//!   condition fails, nothing is applied and the error names the index of the failing operation.
//!   No two operations of a batch may address the same item.
//! - A batch acknowledged with `Ok` is durable.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The most operations one atomic batch may hold (DynamoDB's `TransactWriteItems` limit).
pub const MAX_BATCH: usize = 100;
/// Attribute holding the partition key of the first secondary index.
pub const GSI1_PK: &str = "gsi1pk";
/// Attribute holding the sort key of the first secondary index.
pub const GSI1_SK: &str = "gsi1sk";
/// Attribute holding the partition key of the second secondary index.
pub const GSI2_PK: &str = "gsi2pk";
/// Attribute holding the sort key of the second secondary index.
pub const GSI2_SK: &str = "gsi2sk";
/// Attribute holding the expiry time, in seconds since the Unix epoch.
pub const TTL: &str = "ttl";

/// An attribute value. Numbers are integers: money is centavos, times are milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Value {
    S(String),
    N(i64),
    Bool(bool),
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
    Null,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::S(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::N(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::N(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// The attributes of an item other than its key.
pub type Attrs = BTreeMap<String, Value>;

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// One item: its key and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: Key,
    pub attrs: Attrs,
}

impl Item {
    pub fn new(key: Key) -> Self {
        Self {
            key,
            attrs: Attrs::new(),
        }
    }
    /// Builder-style attribute setter.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(name.to_owned(), value.into());
        self
    }
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.attrs.get(name)
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_str)
    }
    pub fn num(&self, name: &str) -> Option<i64> {
        self.attrs.get(name).and_then(Value::as_i64)
    }
}

/// A condition on the current state of one item, evaluated atomically with the write it guards.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists (and is not expired).
    Exists,
    /// The item does not exist (or is expired).
    NotExists,
    AttrExists(String),
    AttrNotExists(String),
    /// Comparisons hold only when the attribute exists and has the same type as the operand
    /// (strings bytewise, numbers numerically), as in DynamoDB.
    Eq(String, Value),
    Ne(String, Value),
    Lt(String, Value),
    Le(String, Value),
    Gt(String, Value),
    Ge(String, Value),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

/// One change to an attribute inside an [`WriteOp::Update`].
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Set(String, Value),
    /// Numeric add; a missing attribute counts as 0 (DynamoDB `ADD`).
    Add(String, i64),
    Remove(String),
}

/// One operation of an atomic batch.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Replace the whole item.
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    /// Change some attributes; creates the item when it does not exist (unless the condition
    /// forbids it), as DynamoDB's `UpdateItem` does.
    Update {
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Write nothing; fail the batch unless the condition holds.
    Check { key: Key, condition: Condition },
}

impl WriteOp {
    pub fn put(item: Item) -> Self {
        WriteOp::Put {
            item,
            condition: None,
        }
    }
    pub fn put_new(item: Item) -> Self {
        WriteOp::Put {
            item,
            condition: Some(Condition::NotExists),
        }
    }
    pub fn key(&self) -> &Key {
        match self {
            WriteOp::Put { item, .. } => &item.key,
            WriteOp::Update { key, .. }
            | WriteOp::Delete { key, .. }
            | WriteOp::Check { key, .. } => key,
        }
    }
}

/// Which key a query runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Index {
    #[default]
    Primary,
    Gsi1,
    Gsi2,
}

/// A condition on the sort key of the queried index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Eq(String),
    BeginsWith(String),
    /// Inclusive on both ends.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

/// A position in a query's results, opaque to callers: pass back [`Page::next`] unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

/// A query: one partition of one index, optionally narrowed on the sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Index,
    pub pk: String,
    pub sk: Option<SortKey>,
    /// Ascending sort key order when true.
    pub forward: bool,
    /// At most this many items per page (the adapter may cap it).
    pub limit: usize,
    pub after: Option<Cursor>,
}

impl Query {
    pub fn new(index: Index, pk: impl Into<String>) -> Self {
        Self {
            index,
            pk: pk.into(),
            sk: None,
            forward: true,
            limit: 100,
            after: None,
        }
    }
    pub fn sk(mut self, sk: SortKey) -> Self {
        self.sk = Some(sk);
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.after = cursor;
        self
    }
}

/// One page of query results. `next` is `Some` when more items may follow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The condition of the operation at `index` in the batch did not hold; nothing was written.
    #[error("condition of operation {index} failed")]
    ConditionFailed { index: usize },
    /// The request itself is malformed (empty or oversize batch, two operations on one item,
    /// a cursor this table did not issue, ...). A programming error or hostile input.
    #[error("invalid table request: {0}")]
    Invalid(String),
    /// The engine failed (I/O, disk full, throttled past retries, ...).
    #[error("table unavailable")]
    Unavailable(#[source] anyhow::Error),
}

/// The table. Implementations are cheap to share (`Arc<dyn Table>`).
#[async_trait]
pub trait Table: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError>;
    /// Several items, in the order of `keys` (`None` for each one missing or expired). The
    /// default reads them concurrently with [`Table::get`]; an adapter may read them in one go.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, TableError> {
        futures::future::try_join_all(keys.iter().map(|k| self.get(k))).await
    }
    async fn query(&self, query: Query) -> Result<Page, TableError>;
    /// Apply the batch atomically (see the module docs).
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), TableError>;
    /// One update that returns the item as it is after the update (for counters).
    async fn update_returning(
        &self,
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, TableError>;
    /// Whether the engine answers (for `/ready`).
    async fn ping(&self) -> Result<(), TableError>;
    /// Make what was deleted unreadable from the engine's own files too (a person's erasure):
    /// SQLite overwrites freed pages as it frees them and empties its write-ahead log here;
    /// DynamoDB keeps nothing of a deleted item to read (its backups are the operator's).
    async fn scrub(&self) -> Result<(), TableError> {
        Ok(())
    }
}

/// Validate a batch's shape, shared by every adapter so they reject the same inputs.
pub fn check_batch(ops: &[WriteOp]) -> Result<(), TableError> {
    if ops.is_empty() {
        return Err(TableError::Invalid(
            "a batch needs at least one operation".into(),
        ));
    }
    if ops.len() > MAX_BATCH {
        return Err(TableError::Invalid(format!(
            "a batch holds at most {MAX_BATCH} operations, got {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    for op in ops {
        if !seen.insert(op.key()) {
            return Err(TableError::Invalid(format!(
                "two operations on one item ({}, {})",
                op.key().pk,
                op.key().sk
            )));
        }
    }
    Ok(())
}

/// Evaluate a condition against the current item (`None` when absent or expired). Adapters that
/// evaluate conditions themselves (SQLite) use this, so semantics are defined in one place.
pub fn evaluate(condition: &Condition, item: Option<&Item>) -> bool {
    use std::cmp::Ordering;
    let cmp = |name: &str, operand: &Value| -> Option<Ordering> {
        match (item?.attrs.get(name)?, operand) {
            (Value::S(a), Value::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::N(a), Value::N(b)) => Some(a.cmp(b)),
            (a, b) if a == b => Some(Ordering::Equal),
            _ => None,
        }
    };
    match condition {
        Condition::Exists => item.is_some(),
        Condition::NotExists => item.is_none(),
        Condition::AttrExists(n) => item.is_some_and(|i| i.attrs.contains_key(n)),
        Condition::AttrNotExists(n) => !item.is_some_and(|i| i.attrs.contains_key(n)),
        Condition::Eq(n, v) => cmp(n, v) == Some(Ordering::Equal),
        // DynamoDB: `a <> v` is true when `a` is absent or of another type.
        Condition::Ne(n, v) => cmp(n, v) != Some(Ordering::Equal),
        Condition::Lt(n, v) => cmp(n, v) == Some(Ordering::Less),
        Condition::Le(n, v) => matches!(cmp(n, v), Some(Ordering::Less | Ordering::Equal)),
        Condition::Gt(n, v) => cmp(n, v) == Some(Ordering::Greater),
        Condition::Ge(n, v) => matches!(cmp(n, v), Some(Ordering::Greater | Ordering::Equal)),
        Condition::And(cs) => cs.iter().all(|c| evaluate(c, item)),
        Condition::Or(cs) => cs.iter().any(|c| evaluate(c, item)),
        Condition::Not(c) => !evaluate(c, item),
    }
}

/// Apply updates to an item (creating it from its key when absent). Shared by adapters that
/// apply updates themselves. Fails when `Add` meets a non-number.
pub fn apply_updates(
    key: &Key,
    current: Option<Item>,
    updates: &[Update],
) -> Result<Item, TableError> {
    let mut item = current.unwrap_or_else(|| Item::new(key.clone()));
    for update in updates {
        match update {
            Update::Set(n, v) => {
                item.attrs.insert(n.clone(), v.clone());
            }
            Update::Remove(n) => {
                item.attrs.remove(n);
            }
            Update::Add(n, delta) => {
                let now = match item.attrs.get(n) {
                    None => 0,
                    Some(Value::N(x)) => *x,
                    Some(_) => {
                        return Err(TableError::Invalid(format!(
                            "ADD on non-numeric attribute {n}"
                        )));
                    }
                };
                let sum = now
                    .checked_add(*delta)
                    .ok_or_else(|| TableError::Invalid(format!("ADD overflows attribute {n}")))?;
                item.attrs.insert(n.clone(), Value::N(sum));
            }
        }
    }
    Ok(item)
}

/// Whether an item is expired at `now_secs`.
pub fn is_expired(item: &Item, now_secs: i64) -> bool {
    item.num(TTL).is_some_and(|t| t <= now_secs)
}
