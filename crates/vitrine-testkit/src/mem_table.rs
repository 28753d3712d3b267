//! `MemTable`: the Table port in memory, for fast tests of the use cases with no engine behind
//! them. It runs the Table conformance suite (`tests/mem_table.rs`), so what passes on it holds
//! on SQLite and DynamoDB too.
//!
//! Semantics come from the port's shared helpers (`check_batch`, `evaluate`, `apply_updates`,
//! `is_expired`); what is its own: items in one `BTreeMap` behind a mutex (so a batch is atomic
//! and concurrent writers are serialised), index partitions found by scanning, expiry read from
//! the clock it is given, and cursors that name the last item returned.
//!
//! vitrine-app's own unit tests compile this very file (`notify/testing.rs` includes it by path,
//! with `vitrine_app` naming the crate itself there): a crate's unit tests cannot use a type of
//! a crate that depends on it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use async_trait::async_trait;
use vitrine_app::ports::clock::{Clock, SystemClock};
use vitrine_app::ports::table::{
    self, Condition, Cursor, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, Index, Item, Key, Page, Query,
    SortKey, Table, TableError, Update, WriteOp,
};

/// The most items one page holds, whatever the query's limit (as SQLite's adapter).
const MAX_LIMIT: usize = 1000;

/// The in-memory Table. `set_down(true)` makes every call fail as an engine outage.
pub struct MemTable {
    items: Mutex<BTreeMap<Key, Item>>,
    down: AtomicBool,
    clock: Arc<dyn Clock>,
}

impl Default for MemTable {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl MemTable {
    /// A table whose items expire (`ttl`) by `clock`: give it the app's clock when the test
    /// moves time by hand.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            items: Mutex::new(BTreeMap::new()),
            down: AtomicBool::new(false),
            clock,
        }
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check_up(&self) -> Result<(), TableError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(TableError::Unavailable(anyhow!("the table is down (test)")));
        }
        Ok(())
    }

    fn now(&self) -> i64 {
        self.clock.now().secs()
    }

    /// The item as reads and conditions see it: `None` when absent or expired.
    fn live<'a>(items: &'a BTreeMap<Key, Item>, key: &Key, now: i64) -> Option<&'a Item> {
        items.get(key).filter(|i| !table::is_expired(i, now))
    }
}

/// Where an item sits in the order of one index: its index sort key, then its primary key (so
/// items that share an index sort key keep one order across pages).
type Position = (String, String, String);

fn index_name(index: Index) -> &'static str {
    match index {
        Index::Primary => "p",
        Index::Gsi1 => "g1",
        Index::Gsi2 => "g2",
    }
}

/// The (partition, position) of an item in `index`, when the item is in it.
fn placed(index: Index, item: &Item) -> Option<(&str, Position)> {
    let pair = |pk: &str, sk: &str| Some((item.str(pk)?, item.str(sk)?.to_owned()));
    let (partition, sort) = match index {
        Index::Primary => (item.key.pk.as_str(), item.key.sk.clone()),
        Index::Gsi1 => pair(GSI1_PK, GSI1_SK)?,
        Index::Gsi2 => pair(GSI2_PK, GSI2_SK)?,
    };
    Some((partition, (sort, item.key.pk.clone(), item.key.sk.clone())))
}

fn selects(condition: &Option<SortKey>, sk: &str) -> bool {
    match condition {
        None => true,
        Some(SortKey::Eq(v)) => sk == v,
        Some(SortKey::BeginsWith(v)) => sk.starts_with(v.as_str()),
        Some(SortKey::Between(a, b)) => sk >= a.as_str() && sk <= b.as_str(),
        Some(SortKey::Lt(v)) => sk < v.as_str(),
        Some(SortKey::Le(v)) => sk <= v.as_str(),
        Some(SortKey::Gt(v)) => sk > v.as_str(),
        Some(SortKey::Ge(v)) => sk >= v.as_str(),
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// `mem.` then the index, the partition and the position, each in hex, joined by dots.
fn encode_cursor(query: &Query, at: &Position) -> Cursor {
    let parts = [
        index_name(query.index),
        query.pk.as_str(),
        at.0.as_str(),
        at.1.as_str(),
        at.2.as_str(),
    ];
    Cursor(format!(
        "mem.{}",
        parts.iter().map(|p| hex(p)).collect::<Vec<_>>().join(".")
    ))
}

fn decode_cursor(cursor: &Cursor, query: &Query) -> Result<Position, TableError> {
    let invalid = || TableError::Invalid("the cursor was not issued for this query".into());
    let body = cursor.0.strip_prefix("mem.").ok_or_else(invalid)?;
    let parts = body
        .split('.')
        .map(unhex)
        .collect::<Option<Vec<String>>>()
        .ok_or_else(invalid)?;
    match <[String; 5]>::try_from(parts) {
        Ok([index, pk, sort, item_pk, item_sk])
            if index == index_name(query.index) && pk == query.pk =>
        {
            Ok((sort, item_pk, item_sk))
        }
        _ => Err(invalid()),
    }
}

#[async_trait]
impl Table for MemTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        self.check_up()?;
        let now = self.now();
        Ok(Self::live(&self.items.lock().unwrap(), key, now).cloned())
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        self.check_up()?;
        if query.limit == 0 {
            return Err(TableError::Invalid(
                "a query limit must be at least 1".into(),
            ));
        }
        if let Some(SortKey::Between(a, b)) = &query.sk
            && a > b
        {
            return Err(TableError::Invalid(format!(
                "BETWEEN bounds are reversed ({a:?} > {b:?})"
            )));
        }
        let after = query
            .after
            .as_ref()
            .map(|c| decode_cursor(c, &query))
            .transpose()?;
        let now = self.now();
        let items = self.items.lock().unwrap();
        let mut found: Vec<(Position, &Item)> = items
            .values()
            .filter(|item| !table::is_expired(item, now))
            .filter_map(|item| {
                let (partition, at) = placed(query.index, item)?;
                (partition == query.pk && selects(&query.sk, &at.0)).then_some((at, item))
            })
            .filter(|(at, _)| match &after {
                None => true,
                Some(last) if query.forward => at > last,
                Some(last) => at < last,
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        if !query.forward {
            found.reverse();
        }
        let limit = query.limit.min(MAX_LIMIT);
        let more = found.len() > limit;
        found.truncate(limit);
        let next = match found.last() {
            Some((at, _)) if more => Some(encode_cursor(&query, at)),
            _ => None,
        };
        Ok(Page {
            items: found.into_iter().map(|(_, item)| item.clone()).collect(),
            next,
        })
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), TableError> {
        self.check_up()?;
        table::check_batch(&ops)?;
        let now = self.now();
        let mut items = self.items.lock().unwrap();
        // Every condition first, then every change: all or nothing.
        let mut changed = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            let current = Self::live(&items, op.key(), now);
            let condition = match op {
                WriteOp::Put { condition, .. }
                | WriteOp::Update { condition, .. }
                | WriteOp::Delete { condition, .. } => condition.as_ref(),
                WriteOp::Check { condition, .. } => Some(condition),
            };
            if let Some(c) = condition
                && !table::evaluate(c, current)
            {
                return Err(TableError::ConditionFailed { index });
            }
            changed.push(match op {
                WriteOp::Put { item, .. } => Some(Some(item.clone())),
                WriteOp::Update { key, updates, .. } => {
                    Some(Some(table::apply_updates(key, current.cloned(), updates)?))
                }
                WriteOp::Delete { .. } => Some(None),
                WriteOp::Check { .. } => None,
            });
        }
        for (op, change) in ops.iter().zip(changed) {
            match change {
                Some(Some(item)) => {
                    items.insert(item.key.clone(), item);
                }
                Some(None) => {
                    items.remove(op.key());
                }
                None => {}
            }
        }
        Ok(())
    }

    async fn update_returning(
        &self,
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.check_up()?;
        let now = self.now();
        let mut items = self.items.lock().unwrap();
        let current = Self::live(&items, &key, now);
        if let Some(c) = &condition
            && !table::evaluate(c, current)
        {
            return Err(TableError::ConditionFailed { index: 0 });
        }
        let item = table::apply_updates(&key, current.cloned(), &updates)?;
        items.insert(key, item.clone());
        Ok(item)
    }

    async fn ping(&self) -> Result<(), TableError> {
        self.check_up()
    }
}
