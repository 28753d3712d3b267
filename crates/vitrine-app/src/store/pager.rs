//! [`Pager`]: every page of a query, one after another — the one paging loop.

use crate::error::{AppError, AppResult};
use crate::ports::{Cursor, Item, Query, Table, TableError};

/// Reads a query page by page, following each page's cursor until the last.
pub struct Pager<'a> {
    table: &'a dyn Table,
    query: Option<Query>,
}

impl<'a> Pager<'a> {
    pub fn new(table: &'a dyn Table, query: Query) -> Self {
        Self {
            table,
            query: Some(query),
        }
    }

    /// The next page's items, or `None` after the last page.
    pub async fn next_page(&mut self) -> AppResult<Option<Vec<Item>>> {
        let Some(query) = self.query.take() else {
            return Ok(None);
        };
        let page = self.table.query(query.clone()).await?;
        if let Some(next) = page.next {
            self.query = Some(query.after(Some(next)));
        }
        Ok(Some(page.items))
    }

    /// Every item of every page.
    pub async fn all(mut self) -> AppResult<Vec<Item>> {
        let mut out = Vec::new();
        while let Some(items) = self.next_page().await? {
            out.extend(items);
        }
        Ok(out)
    }

    /// The first `n` items (fewer when the query has fewer), never reading more: each page asks
    /// only for what is still missing, so a partition of any size costs at most `n` items.
    pub async fn first(mut self, n: usize) -> AppResult<Vec<Item>> {
        let mut out = Vec::new();
        while out.len() < n {
            let Some(query) = self.query.take() else {
                break;
            };
            let query = query.limit(n - out.len());
            let page = self.table.query(query.clone()).await?;
            if let Some(next) = page.next {
                self.query = Some(query.after(Some(next)));
            }
            out.extend(page.items);
        }
        out.truncate(n);
        Ok(out)
    }

    /// Every item of every page, decoded from `data`.
    pub async fn all_decoded<T: serde::de::DeserializeOwned>(mut self) -> AppResult<Vec<T>> {
        let mut out = Vec::new();
        while let Some(items) = self.next_page().await? {
            for item in &items {
                out.push(super::decode(item)?);
            }
        }
        Ok(out)
    }
}

/// One page of `query` for an API listing: at most `limit` items after the caller's opaque
/// cursor, and the cursor of the next page. A cursor this table did not issue is a field error
/// on `after`.
pub async fn one_page(
    table: &dyn Table,
    query: Query,
    limit: usize,
    after: Option<String>,
) -> AppResult<(Vec<Item>, Option<String>)> {
    let page = table
        .query(query.limit(limit).after(after.map(Cursor)))
        .await
        .map_err(|e| match e {
            TableError::Invalid(_) => AppError::field(
                "after",
                "this cursor is not valid; start from the first page",
            ),
            other => other.into(),
        })?;
    Ok((page.items, page.next.map(|c| c.0)))
}
