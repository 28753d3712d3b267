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
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self {
            inner,
            read: AtomicUsize::new(0),
        }
    }

    /// Items read since the last [`CountingTable::take`] (or since it was made), and start again
    /// from 0.
    pub fn take(&self) -> usize {
        self.read.swap(0, Ordering::SeqCst)
    }
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let item = self.inner.get(key).await?;
        self.read
            .fetch_add(usize::from(item.is_some()), Ordering::SeqCst);
        Ok(item)
    }

    async fn query(&self, query: Query) -> Result<Page, TableError> {
        let page = self.inner.query(query).await?;
        self.read.fetch_add(page.items.len(), Ordering::SeqCst);
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
