//! Search with words: the catalog's full-text index (`crate::search`) kept in step with the
//! table.
//!
//! - The first search of a process builds the index from every product (a page at a time).
//! - A catalog write made through this process is searchable at the next search: the write
//!   records the product's id, and the search re-reads the recorded products and re-indexes
//!   them before it runs.
//! - Writes made by other processes (another Lambda instance, a CLI import) reach the index by a
//!   rebuild in the background once it is older than `catalog_cache_secs`, and never more often
//!   than ten times the last build's duration (so rebuilding takes at most a tenth of a core);
//!   searches meanwhile use the index as it is.

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
    BUILD_PAGE, Built, MAX_DEPTH, ProductIndex, SearchOrder, SearchQuery, option_key,
};
use crate::store::listing;

/// An index of every product in `table`, holding the changes up to `seq`.
async fn build(table: &dyn Table, seq: u64, now_ms: i64) -> AppResult<Built> {
    let started = Instant::now();
    let index = ProductIndex::new().map_err(internal)?;
    let mut after = None;
    loop {
        let (products, next) = listing::products_after(table, after, BUILD_PAGE).await?;
        for p in &products {
            index.put(p).map_err(internal)?;
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
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
    Ok(Built {
        index,
        built_at_ms: now_ms,
        took_ms,
        applied: tokio::sync::Mutex::new(seq),
    })
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
                if !ids.is_empty() {
                    let wanted: Vec<&str> = ids.iter().map(String::as_str).collect();
                    let found =
                        crate::store::catalog::load_products(&*self.ports.table, &wanted).await?;
                    for (id, p) in ids.iter().zip(found) {
                        match p {
                            Some(p) => built.index.put(&p).map_err(internal)?,
                            None => built.index.remove(id),
                        }
                    }
                    built.index.commit().map_err(internal)?;
                }
                *applied = upto;
                drop(applied);
                self.refresh_when_stale(&built, false);
            }
            // More changes than remembered: rebuild now in the background.
            None => {
                drop(applied);
                self.refresh_when_stale(&built, true);
            }
        }
        Ok(built)
    }

    /// Rebuild the index in the background when it is old (or `now`), one build at a time.
    fn refresh_when_stale(&self, built: &Built, now: bool) {
        let state = &self.catalog.search;
        let at = self.ports.clock.now().millis();
        let due = built.built_at_ms + self.catalog_max_age_ms().max(built.took_ms * 10);
        if !(now || at >= due) || state.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = state.clone();
        let table = self.ports.table.clone();
        let seq = state.seq();
        self.spawn_worker("search-index", move |stop| async move {
            tokio::select! {
                _ = stop.requested() => {}
                result = build(&*table, seq, at) => match result {
                    Ok(b) => state.install(b),
                    Err(e) => tracing::warn!(error = %e, "search index rebuild failed; the old one serves"),
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
