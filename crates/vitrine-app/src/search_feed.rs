//! Keeping a search index (`crate::search`) in step with the table: built from every product
//! (a page at a time), then brought up to the catalog's change feed
//! (`store::catalog::product_changes`): the changes recorded since the index's last read (with
//! an overlap of [`FEED_OVERLAP_MS`], for writes that commit after a later one), and those
//! products only re-read and re-indexed. Used by the searches of a process
//! (`crate::catalog_search`) and by the publisher of the shared index
//! (`crate::search_published`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Instant;

use vitrine_domain::catalog::Product;

use crate::error::{AppError, AppResult};
use crate::ports::Table;
use crate::search::{BUILD_PAGE, Built, ProductIndex, SearchState};
use crate::store::catalog::{CHANGES_KEPT_MS, ProductChange, load_products, product_changes};
use crate::store::listing;

/// How far back each read of the change feed starts before the previous one ended: a write
/// takes its time before it commits, and another process's clock may lag this one's.
pub const FEED_OVERLAP_MS: i64 = 30_000;

/// How many products a build adds between two commits.
const BUILD_COMMIT_EVERY: usize = 50_000;

/// An index of every product in `table`, read from `now_ms` on, holding this process's changes
/// up to `seq`.
pub(crate) async fn build(table: &dyn Table, seq: u64, now_ms: i64) -> AppResult<Built> {
    let started = Instant::now();
    let index = ProductIndex::new().map_err(internal)?;
    // The feed's recent changes, which the first catch-up reads again: those the build finds
    // in the products (at their version or later) need not be.
    let recent = product_changes(table, now_ms - FEED_OVERLAP_MS, now_ms).await?;
    let mut wanted: HashMap<&str, Vec<&ProductChange>> = HashMap::new();
    for c in &recent {
        wanted.entry(c.product_id.as_str()).or_default().push(c);
    }
    let mut seen = HashSet::new();
    let mut after = None;
    let mut added = 0;
    loop {
        let (products, next) = listing::products_after(table, after, BUILD_PAGE).await?;
        for p in &products {
            index.add_new(p).map_err(internal)?;
            for c in wanted.get(p.id.as_str()).into_iter().flatten() {
                if c.version <= p.version {
                    seen.insert(c.key.clone());
                }
            }
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
        // Committed in steps: until a commit the writer keeps its segments and their merges.
        added += products.len();
        if added >= BUILD_COMMIT_EVERY {
            index.commit().map_err(internal)?;
            added = 0;
        }
    }
    index.commit().map_err(internal)?;
    let took_ms = started.elapsed().as_millis() as i64;
    let (bytes, segments) = index.size();
    tracing::info!(
        products = index.len(),
        took_ms,
        bytes,
        segments,
        "search index built"
    );
    Ok(Built::new(index, now_ms, seq, seen))
}

/// Products `ids` as they are now (`None` for those that are gone), read 100 at a time.
pub(crate) async fn read_now(table: &dyn Table, ids: &[&str]) -> AppResult<Vec<Option<Product>>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(100) {
        out.extend(load_products(table, chunk).await?);
    }
    Ok(out)
}

/// Put products `found` (read for `ids`) in `index`, dropping those that are gone; one commit.
pub(crate) fn apply(
    index: &ProductIndex,
    ids: &[&str],
    found: Vec<Option<Product>>,
) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    for (id, p) in ids.iter().zip(found) {
        match p {
            Some(p) => index.put(&p).map_err(internal)?,
            None => index.remove(id),
        }
    }
    index.commit().map_err(internal)
}

/// Bring `built` up to the change feed as of `now_ms`: the products changed since its last
/// read, re-indexed. Returns how many products were re-indexed, or `None` (nothing read or
/// changed) when more than `most` products changed.
pub(crate) async fn catch_up(
    table: &dyn Table,
    state: &SearchState,
    built: &Built,
    now_ms: i64,
    most: Option<usize>,
) -> AppResult<Option<usize>> {
    let mut feed = built.feed.lock().await;
    // This process's writes so far are in the feed (each is logged once it is written), so this
    // read covers them; those made from here on are re-read by the next search, after this
    // catch-up has put what it read (which may be older).
    let seq = state.seq();
    let changes = product_changes(table, feed.read_to_ms - FEED_OVERLAP_MS, now_ms).await?;
    let ids: BTreeSet<&str> = changes
        .iter()
        .filter(|c| !feed.seen.contains(&c.key))
        .map(|c| c.product_id.as_str())
        .collect();
    if most.is_some_and(|most| ids.len() > most) {
        return Ok(None);
    }
    let ids: Vec<&str> = ids.into_iter().collect();
    let found = read_now(table, &ids).await?;
    {
        // Searches wait for this process's own changes only while the products read are put.
        let mut applied = built.applied.lock().await;
        apply(&built.index, &ids, found)?;
        *applied = seq;
    }
    let next_from = now_ms - FEED_OVERLAP_MS;
    feed.seen = changes
        .iter()
        .filter(|c| c.after(next_from))
        .map(|c| c.key.clone())
        .collect();
    feed.read_to_ms = now_ms;
    built.checked_at_ms.store(now_ms, Ordering::Release);
    if !ids.is_empty() {
        tracing::info!(
            changes = changes.len(),
            products = ids.len(),
            "search index caught up"
        );
    }
    Ok(Some(ids.len()))
}

/// Whether an index that read the feed up to `read_to_ms` is further behind at `now_ms` than
/// the feed keeps: it cannot be brought up to date and is built again.
pub(crate) fn beyond_the_feed(read_to_ms: i64, now_ms: i64) -> bool {
    now_ms - read_to_ms > CHANGES_KEPT_MS - FEED_OVERLAP_MS * 2
}

pub(crate) fn internal(e: crate::search::SearchError) -> AppError {
    AppError::Internal(anyhow::Error::new(e))
}
