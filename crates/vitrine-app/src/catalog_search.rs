//! Search with words: the catalog's full-text index (`crate::search`) kept in step with the
//! table.
//!
//! - The first search of a process builds the index from every product (a page at a time), or
//!   opens the published one (`crate::search_published`) when the process is set to.
//! - A catalog write made through this process is searchable at the next search: the write
//!   records the product's id, and the search re-reads the recorded products and re-indexes
//!   them before it runs.
//! - Writes made by other processes (another Lambda instance, a CLI import) reach the index
//!   through the catalog's change feed (`crate::search_feed`): once the last read is
//!   `catalog_cache_secs` old, a search starts a catch-up in the background. Searches meanwhile
//!   use the index as it is. An index further behind than the feed keeps is rebuilt instead.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use vitrine_domain::catalog::{Category, Product, category_with_descendants, find_category};

use crate::app::App;
use crate::catalog::{
    EntryCursor, MAX_PAGE, ProductQuery, ProductSort, SearchPage, after_key, encode_cursor,
    sort_tag,
};
use crate::error::{AppError, AppResult};
use crate::search::{Built, MAX_DEPTH, SearchOrder, SearchQuery, option_key};
use crate::search_feed::{apply, beyond_the_feed, build, catch_up, internal, read_now};

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
                        let result = self.first_index().await;
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

    /// A process's first index: the published one when this process opens it
    /// ([`App::open_published_search_index`]) and the blob store has one recent enough, else
    /// one built from the catalog.
    async fn first_index(&self) -> AppResult<Built> {
        let now_ms = self.ports.clock.now().millis();
        if self.catalog.search.published.load(Ordering::Acquire) {
            match crate::search_published::open(&*self.ports.blobs, now_ms, None).await {
                Ok(Some(opened)) => return Ok(opened),
                Ok(None) => tracing::info!(
                    "no published search index recent enough; building one from the catalog"
                ),
                Err(e) => tracing::warn!(
                    error = %e,
                    "the published search index could not be opened; building one from the catalog"
                ),
            }
        }
        build(&*self.ports.table, self.catalog.search.seq(), now_ms).await
    }

    /// Bring the index up to the change feed in the background when its last read is old (or
    /// `now`), one refresh at a time; rebuild it if it is further behind than the feed keeps.
    /// A process that opens the published index opens a newer one instead when more products
    /// changed than [`crate::search_published::REOPEN_OVER`], or when its own is beyond the
    /// feed.
    fn refresh_when_stale(&self, built: &Arc<Built>, now: bool) {
        let state = &self.catalog.search;
        let at = self.ports.clock.now().millis();
        let due = built.checked_at_ms.load(Ordering::Acquire) + self.catalog_max_age_ms();
        if !(now || at >= due) || state.building.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = state.clone();
        let table = self.ports.table.clone();
        let blobs = self.ports.blobs.clone();
        let built = built.clone();
        self.spawn_worker("search-index", move |stop| async move {
            let (state, table) = (&*state, &*table);
            let published = state.published.load(Ordering::Acquire);
            let work = async {
                // A read of the feed would miss changes it no longer keeps.
                if beyond_the_feed(built.checked_at_ms.load(Ordering::Acquire), at) {
                    let fresh = match published {
                        true => crate::search_published::open(&*blobs, at, None).await?,
                        false => None,
                    };
                    let rebuilt = match fresh {
                        Some(b) => b,
                        None => build(table, state.seq(), at).await?,
                    };
                    state.install(rebuilt);
                    return AppResult::Ok(());
                }
                let most = published.then_some(crate::search_published::REOPEN_OVER);
                if catch_up(table, state, &built, at, most).await?.is_none() {
                    let read_to = built.feed.lock().await.read_to_ms;
                    match crate::search_published::open(&*blobs, at, Some(read_to)).await? {
                        Some(newer) => state.install(newer),
                        None => {
                            catch_up(table, state, &built, at, None).await?;
                        }
                    }
                }
                Ok(())
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
        // A search takes milliseconds of CPU at a large catalog (on up to `SEARCH_THREADS` of
        // tantivy's threads): it runs on a blocking thread, so that the request workers go on
        // serving listings and checkouts meanwhile, a bounded number at once.
        let turn = self
            .catalog
            .search
            .turns
            .acquire()
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        let text = q.text.clone().unwrap_or_default();
        let (min_price, max_price) = (
            q.min_price.map(|m| m.centavos()),
            q.max_price.map(|m| m.centavos()),
        );
        let (include_inactive, sort) = (q.include_inactive, q.sort);
        let found = tokio::task::spawn_blocking(move || {
            built.index.search(&SearchQuery {
                text: &text,
                categories: categories.as_deref(),
                min_price,
                max_price,
                options: &options,
                include_inactive,
                order: match sort {
                    ProductSort::Relevance => SearchOrder::Relevance,
                    ProductSort::Newest => SearchOrder::Newest,
                    ProductSort::PriceAsc => SearchOrder::PriceAsc,
                    ProductSort::PriceDesc => SearchOrder::PriceDesc,
                    ProductSort::Name => SearchOrder::Name,
                },
                offset,
                limit,
            })
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(internal)?;
        drop(turn);
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
