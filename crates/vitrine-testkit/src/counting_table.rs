//! `CountingTable`: a Table in front of another that counts the items it hands out (query pages
//! and gets), so that a test can show a read is bounded by what the data holds, not by a timer.
//! Writes pass through uncounted.
//!
//! vitrine-app's own unit tests compile this very file (`notify/testing.rs` includes it by path,
//! as it does `mem_table.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use vitrine_app::ports::table::{
    Condition, Item, Key, Page, Query, Table, TableError, Update, WriteOp,
};

/// `inner`, counting the items read through it.
pub struct CountingTable {
    inner: Arc<dyn Table>,
    read: AtomicUsize,
    /// The partition key of each item read, since the last take.
    partitions: std::sync::Mutex<Vec<String>>,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self {
            inner,
            read: AtomicUsize::new(0),
            partitions: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Items read since the last [`CountingTable::take`] (or since it was made), and start again
    /// from 0.
    pub fn take(&self) -> usize {
        self.partitions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.read.swap(0, Ordering::SeqCst)
    }

    /// The partition key of each item read since the last take, in order, and start again.
    pub fn take_partitions(&self) -> Vec<String> {
        self.read.store(0, Ordering::SeqCst);
        std::mem::take(&mut *self.partitions.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn count<'a>(&self, items: impl Iterator<Item = &'a Item>) {
        let mut partitions = self.partitions.lock().unwrap_or_else(|e| e.into_inner());
        for item in items {
            self.read.fetch_add(1, Ordering::SeqCst);
            partitions.push(item.key.pk.clone());
        }
    }
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let item = self.inner.get(key).await?;
        self.count(item.iter());
        Ok(item)
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        let page = self.inner.query(query).await?;
        self.count(page.items.iter());
        Ok(page)
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), TableError> {
        self.inner.write(ops).await
    }

    async fn update_returning(
        &self,
        key: Key,
        updates: Vec<Update>,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.inner.update_returning(key, updates, condition).await
    }

    async fn ping(&self) -> Result<(), TableError> {
        self.inner.ping().await
    }
}
