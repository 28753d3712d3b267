//! What this process keeps of the catalog: the categories (a shop has hundreds, not millions),
//! a bounded cache of products read by id, slug or SKU, and the search index's state
//! (`crate::catalog_search`). No I/O here: the catalog use cases (`crate::catalog`) load them
//! through the repository layer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use vitrine_domain::catalog::{Category, Product, Sku};

use crate::search::SearchState;

/// A value built at a time from what was there at a catalog generation.
type Slot<T> = RwLock<Option<(Arc<T>, i64, u64)>>;

/// This process's catalog caches, with the change counter that invalidates what depends on the
/// whole catalog (the category list, cached listing pages).
#[derive(Default)]
pub struct CatalogCache {
    generation: AtomicU64,
    /// The search index and the products changed since it was built.
    pub(crate) search: Arc<SearchState>,
    categories: Slot<Vec<Category>>,
    products: Mutex<ProductCache>,
}

fn fresh_in<T>(slot: &Slot<T>, now_ms: i64, max_age_ms: i64, generation: u64) -> Option<Arc<T>> {
    match slot.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some((v, at, g)) if *g == generation && now_ms - at < max_age_ms => Some(v.clone()),
        _ => None,
    }
}

impl CatalogCache {
    /// The change counter: bumped by every catalog write made through this process.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The catalog changed: forget what depends on all of it, and `products` (as they were
    /// before the write) from the product cache; the search index hears of them.
    pub fn invalidate(&self, products: &[&Product]) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.search.changed(products.iter().map(|p| p.id.as_str()));
        *self.categories.write().unwrap_or_else(|e| e.into_inner()) = None;
        let mut cache = self.products.lock().unwrap_or_else(|e| e.into_inner());
        for p in products {
            cache.forget(p);
        }
        cache.writes += 1;
    }

    /// The categories, if read at `generation` less than `max_age_ms` before `now_ms`.
    pub fn fresh_categories(
        &self,
        now_ms: i64,
        max_age_ms: i64,
        generation: u64,
    ) -> Option<Arc<Vec<Category>>> {
        fresh_in(&self.categories, now_ms, max_age_ms, generation)
    }

    /// Keep the categories, read at `now_ms` from what was there at `generation` — unless a
    /// write happened while they were loading; then the next reader reloads.
    pub fn install_categories(&self, all: Arc<Vec<Category>>, now_ms: i64, generation: u64) {
        let mut slot = self.categories.write().unwrap_or_else(|e| e.into_inner());
        if self.generation() == generation {
            *slot = Some((all, now_ms, generation));
        }
    }

    /// A cached product by id, slug or SKU, read less than `max_age_ms` before `now_ms`.
    pub fn product(
        &self,
        by: ProductKey<'_>,
        now_ms: i64,
        max_age_ms: i64,
    ) -> Option<Arc<Product>> {
        let cache = self.products.lock().unwrap_or_else(|e| e.into_inner());
        let id = match by {
            ProductKey::Id(id) => id,
            ProductKey::Slug(s) => cache.by_slug.get(s)?.as_str(),
            ProductKey::Sku(s) => cache.by_sku.get(s)?.as_str(),
        };
        let (p, at) = cache.by_id.get(id)?;
        (now_ms - at < max_age_ms).then(|| p.clone())
    }

    /// How many catalog writes this process has made: read before loading a product, handed
    /// back to [`CatalogCache::remember`].
    pub fn writes(&self) -> u64 {
        self.products
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .writes
    }

    /// Keep `p`, read at `now_ms` — unless a catalog write happened since `writes` was read
    /// (the product read may be older than the write). Bounded: emptied when full.
    pub fn remember(&self, p: Arc<Product>, now_ms: i64, writes: u64) {
        let mut cache = self.products.lock().unwrap_or_else(|e| e.into_inner());
        if cache.writes != writes {
            return;
        }
        if cache.by_id.len() >= PRODUCTS_CACHED {
            cache.by_id.clear();
            cache.by_slug.clear();
            cache.by_sku.clear();
        }
        cache.forget(&p);
        cache
            .by_slug
            .insert(p.slug.as_str().to_owned(), p.id.clone());
        for v in &p.variants {
            cache.by_sku.insert(v.sku.clone(), p.id.clone());
        }
        cache.by_id.insert(p.id.clone(), (p, now_ms));
    }

    /// How many products the cache holds now.
    pub fn products_cached(&self) -> usize {
        self.products
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_id
            .len()
    }
}

/// How a product is looked up.
#[derive(Debug, Clone, Copy)]
pub enum ProductKey<'a> {
    Id(&'a str),
    Slug(&'a str),
    Sku(&'a Sku),
}

/// The most products one process keeps (about 2 KB each).
pub const PRODUCTS_CACHED: usize = 10_000;

#[derive(Default)]
struct ProductCache {
    by_id: HashMap<String, (Arc<Product>, i64)>,
    by_slug: HashMap<String, String>,
    by_sku: HashMap<Sku, String>,
    writes: u64,
}

impl ProductCache {
    fn forget(&mut self, p: &Product) {
        if let Some((cached, _)) = self.by_id.remove(&p.id) {
            self.by_slug.remove(cached.slug.as_str());
            for v in &cached.variants {
                self.by_sku.remove(&v.sku);
            }
        }
        self.by_slug.remove(p.slug.as_str());
        for v in &p.variants {
            self.by_sku.remove(&v.sku);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, slug: &str, sku: &str) -> Arc<Product> {
        Arc::new(crate::store::listing::tests::a_product(id, slug, sku, 100))
    }

    #[test]
    fn a_product_is_found_by_id_slug_and_sku_until_it_is_too_old() {
        let cache = CatalogCache::default();
        let p = product("01A", "caneca", "CAN-1");
        cache.remember(p, 1_000, cache.writes());
        let sku = Sku::parse("CAN-1").expect("sku");
        for key in [
            ProductKey::Id("01A"),
            ProductKey::Slug("caneca"),
            ProductKey::Sku(&sku),
        ] {
            assert!(cache.product(key, 1_500, 10_000).is_some(), "{key:?}");
        }
        assert!(
            cache
                .product(ProductKey::Id("01A"), 20_000, 10_000)
                .is_none()
        );
    }

    #[test]
    fn a_write_forgets_the_product_and_a_read_older_than_it_is_not_kept() {
        let cache = CatalogCache::default();
        let p = product("01A", "caneca", "CAN-1");
        cache.remember(p.clone(), 0, cache.writes());
        let before = cache.writes();
        cache.invalidate(&[&p]);
        assert!(
            cache
                .product(ProductKey::Slug("caneca"), 1, 10_000)
                .is_none()
        );
        // Read before the write, kept after it: refused.
        cache.remember(p, 1, before);
        assert_eq!(cache.products_cached(), 0);
    }

    #[test]
    fn the_product_cache_is_bounded() {
        let cache = CatalogCache::default();
        for i in 0..PRODUCTS_CACHED + 5 {
            let p = product(&format!("{i:05}"), &format!("p-{i}"), &format!("S-{i}"));
            cache.remember(p, 0, cache.writes());
        }
        assert!(cache.products_cached() <= PRODUCTS_CACHED);
    }
}
