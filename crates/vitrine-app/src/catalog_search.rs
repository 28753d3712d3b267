//! Search with words: the catalog's full-text index (`crate::search`) kept in step with the
//! table.
//!
//! - The first search of a process builds the index from every product (a page at a time).
//! - A catalog write made through this process is searchable at the next search: the write
//!   records the product's id, and the search re-reads the recorded products and re-indexes
//!   them before it runs.
//! - Writes made by other processes (another Lambda instance, a CLI import) reach the index
//!   through the catalog's change feed (`store::catalog::product_changes`): once the last read
//!   is `catalog_cache_secs` old, a search starts a catch-up in the background, which reads the
//!   changes recorded since (with an overlap of [`FEED_OVERLAP_MS`], for writes that commit
//!   after a later one) and re-indexes those products only. Searches meanwhile use the index as
//!   it is. An index further behind than the feed keeps is rebuilt instead.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use vitrine_domain::catalog::{Category, Product, category_with_descendants, find_category};

use crate::app::App;
use crate::catalog::{
    EntryCursor, MAX_PAGE, ProductQuery, ProductSort, SearchPage, after_key, encode_cursor,
    sort_tag,
};
use crate::error::{AppError, AppResult};
use crate::ports::Table;
use crate::search::{
    BUILD_PAGE, Built, MAX_DEPTH, ProductIndex, SearchOrder, SearchQuery, SearchState, option_key,
};
use crate::store::catalog::{CHANGES_KEPT_MS, ProductChange, load_products, product_changes};
use crate::store::listing;

/// How far back each read of the change feed starts before the previous one ended: a write
/// takes its time before it commits, and another process's clock may lag this one's.
pub const FEED_OVERLAP_MS: i64 = 30_000;

/// How many products a build adds between two commits.
const BUILD_COMMIT_EVERY: usize = 50_000;

/// An index of every product in `table`, read from `now_ms` on, holding this process's changes
/// up to `seq`.
async fn build(table: &dyn Table, seq: u64, now_ms: i64) -> AppResult<Built> {
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
async fn read_now(table: &dyn Table, ids: &[&str]) -> AppResult<Vec<Option<Product>>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(100) {
        out.extend(load_products(table, chunk).await?);
    }
    Ok(out)
}

/// Put products `found` (read for `ids`) in `index`, dropping those that are gone; one commit.
fn apply(index: &ProductIndex, ids: &[&str], found: Vec<Option<Product>>) -> AppResult<()> {
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
/// read, re-indexed. Returns how many products were re-indexed.
async fn catch_up(
    table: &dyn Table,
    state: &SearchState,
    built: &Built,
    now_ms: i64,
) -> AppResult<usize> {
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
    Ok(ids.len())
}

fn internal(e: crate::search::SearchError) -> AppError {
    AppError::Internal(anyhow::Error::new(e))
}

impl App {
    /// The search index, built if this process has none, with this process's writes applied.
    pub async fn search_index(&self) -> AppResult<Arc<Built>> {
        let state = &self.catalog.search;
        let built = match state.current() {
            Some(b) => b,
            None => {
                let _first = state.first.lock().await;
                match state.current() {
                    Some(b) => b,
                    None => {
                        state.building.store(true, Ordering::Release);
                        let result = build(
                            &*self.ports.table,
                            state.seq(),
                            self.ports.clock.now().millis(),
                        )
                        .await;
                        state.building.store(false, Ordering::Release);
                        state.install(result?);
                        state.current().expect("just installed")
                    }
                }
            }
        };
        let mut applied = built.applied.lock().await;
        match state.since(*applied) {
            Some((ids, upto)) => {
                let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
                let found = read_now(&*self.ports.table, &wanted).await?;
                apply(&built.index, &wanted, found)?;
                *applied = upto;
                drop(applied);
                self.refresh_when_stale(&built, false);
            }
            // More changes than remembered: they are in the feed; read it now.
            None => {
                drop(applied);
                self.refresh_when_stale(&built, true);
            }
        }
        Ok(built)
    }

    /// Bring the index up to the change feed in the background when its last read is old (or
    /// `now`), one refresh at a time; rebuild it if it is further behind than the feed keeps.
    fn refresh_when_stale(&self, built: &Arc<Built>, now: bool) {
        let state = &self.catalog.search;
        let at = self.ports.clock.now().millis();
        let due = built.checked_at_ms.load(Ordering::Acquire) + self.catalog_max_age_ms();
        if !(now || at >= due) || state.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = state.clone();
        let table = self.ports.table.clone();
        let built = built.clone();
        self.spawn_worker("search-index", move |stop| async move {
            let work = async {
                // A read of the feed would miss changes it no longer keeps.
                let behind = at - built.checked_at_ms.load(Ordering::Acquire);
                if behind > CHANGES_KEPT_MS - FEED_OVERLAP_MS * 2 {
                    let rebuilt = build(&*table, state.seq(), at).await?;
                    state.install(rebuilt);
                } else {
                    catch_up(&*table, &state, &built, at).await?;
                }
                AppResult::Ok(())
            };
            tokio::select! {
                _ = stop.requested() => {}
                result = work => if let Err(e) = result {
                    tracing::warn!(error = %e, "search index refresh failed; the index serves as it is");
                },
            }
            state.building.store(false, Ordering::Release);
        });
    }

    /// Listing with words, from the search index: relevance first unless another order is
    /// asked for, with facet counts over all results.
    pub async fn search_products(&self, q: &ProductQuery) -> AppResult<SearchPage> {
        let limit = q.limit.clamp(1, MAX_PAGE);
        let all = self.categories().await?;
        let categories = match &q.category {
            Some(c) => {
                let cat = find_category(&all, c)
                    .ok_or_else(|| AppError::field("category", "no such category"))?;
                Some(category_with_descendants(&all, &cat.id))
            }
            None => None,
        };
        let offset = match after_key(q)? {
            None => 0,
            Some(k) => k
                .parse::<usize>()
                .ok()
                .filter(|o| *o < MAX_DEPTH)
                .ok_or_else(|| {
                    AppError::field(
                        "after",
                        "this cursor is not valid; start from the first page",
                    )
                })?,
        };
        let options: Vec<(String, String)> = q
            .options
            .iter()
            .map(|(n, v)| (option_key(n), option_key(v)))
            .collect();
        let built = self.search_index().await?;
        let found = built
            .index
            .search(&SearchQuery {
                text: q.text.as_deref().unwrap_or(""),
                categories: categories.as_deref(),
                min_price: q.min_price.map(|m| m.centavos()),
                max_price: q.max_price.map(|m| m.centavos()),
                options: &options,
                include_inactive: q.include_inactive,
                order: match q.sort {
                    ProductSort::Relevance => SearchOrder::Relevance,
                    ProductSort::Newest => SearchOrder::Newest,
                    ProductSort::PriceAsc => SearchOrder::PriceAsc,
                    ProductSort::PriceDesc => SearchOrder::PriceDesc,
                    ProductSort::Name => SearchOrder::Name,
                },
                offset,
                limit,
            })
            .map_err(internal)?;
        let mut facets = found.facets;
        facets.categories = with_descendants(&facets.categories, &all);
        let end = offset + found.ids.len();
        let next = (end < found.total && end < MAX_DEPTH).then(|| {
            encode_cursor(&EntryCursor {
                o: sort_tag(q.sort).to_owned(),
                k: end.to_string(),
            })
        });
        let products = self.products_by_id(&found.ids).await?;
        let items: Vec<Arc<Product>> = products
            .into_iter()
            .flatten()
            .filter(|p| q.include_inactive || p.active)
            .collect();
        Ok(SearchPage {
            items,
            next,
            total: found.total,
            facets,
            categories: all,
        })
    }
}

/// Per category, the results in it or any of its descendants, from the results per category
/// (`direct`); categories not in `all` are left out.
pub fn with_descendants(direct: &[(String, u64)], all: &[Category]) -> Vec<(String, u64)> {
    let mut total: std::collections::HashMap<&str, u64> = std::collections::HashMap::new();
    for (id, n) in direct {
        let mut at = find_category(all, id);
        // A parent chain longer than the categories would be a cycle.
        for _ in 0..=all.len() {
            let Some(c) = at else { break };
            *total.entry(c.id.as_str()).or_default() += n;
            at = c.parent_id.as_deref().and_then(|p| find_category(all, p));
        }
    }
    all.iter()
        .filter_map(|c| total.get(c.id.as_str()).map(|n| (c.id.clone(), *n)))
        .collect()
}
