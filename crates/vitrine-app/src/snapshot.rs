//! What this process keeps of the catalog, and nothing that grows with it unbounded: the
//! categories (a shop has hundreds, not millions), a bounded cache of products read by id, slug or
//! SKU, and — for text search only, until the search index replaces it — a snapshot of every
//! product with folded search text. No I/O here: the catalog use cases (`crate::catalog`) load
//! them through the repository layer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use vitrine_domain::catalog::{Category, Product, Sku};

/// Everything browsing needs, immutable once built.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub products: Vec<Arc<Product>>,
    pub categories: Vec<Category>,
    by_id: HashMap<String, usize>,
    by_slug: HashMap<String, usize>,
    by_sku: HashMap<Sku, usize>,
    /// Accent- and case-folded name + description, for text search.
    search_text: Vec<String>,
}

impl Snapshot {
    pub fn build(products: Vec<Product>, categories: Vec<Category>) -> Self {
        let mut s = Snapshot {
            categories,
            ..Default::default()
        };
        for (i, p) in products.into_iter().enumerate() {
            s.by_id.insert(p.id.clone(), i);
            s.by_slug.insert(p.slug.as_str().to_owned(), i);
            for v in &p.variants {
                s.by_sku.insert(v.sku.clone(), i);
            }
            s.search_text
                .push(fold(&format!("{} {}", p.name, p.description)));
            s.products.push(Arc::new(p));
        }
        s
    }

    pub fn product(&self, id_or_slug: &str) -> Option<&Arc<Product>> {
        self.by_id
            .get(id_or_slug)
            .or_else(|| self.by_slug.get(id_or_slug))
            .map(|&i| &self.products[i])
    }

    pub fn product_by_sku(&self, sku: &Sku) -> Option<&Arc<Product>> {
        self.by_sku.get(sku).map(|&i| &self.products[i])
    }

    /// The folded name and description of the `i`th product, for text search.
    pub fn search_text(&self, i: usize) -> &str {
        &self.search_text[i]
    }

    pub fn category(&self, id_or_slug: &str) -> Option<&Category> {
        self.categories
            .iter()
            .find(|c| c.id == id_or_slug || c.slug.as_str() == id_or_slug)
    }
}

/// Lowercase and strip Portuguese accents, so "cafe" finds "Café".
pub fn fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'Á' | 'À' | 'Â' | 'Ã' | 'Ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
            'ó' | 'ò' | 'ô' | 'õ' | 'ö' | 'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// A value built at a time from what was there at a catalog generation.
type Slot<T> = RwLock<Option<(Arc<T>, i64, u64)>>;

/// This process's catalog caches, with the change counter that invalidates what depends on the
/// whole catalog (the category list, the search snapshot, cached listing pages).
#[derive(Default)]
pub struct CatalogCache {
    generation: AtomicU64,
    search: Slot<Snapshot>,
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
    /// before the write) from the product cache.
    pub fn invalidate(&self, products: &[&Product]) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.search.write().unwrap_or_else(|e| e.into_inner()) = None;
        *self.categories.write().unwrap_or_else(|e| e.into_inner()) = None;
        let mut cache = self.products.lock().unwrap_or_else(|e| e.into_inner());
        for p in products {
            cache.forget(p);
        }
        cache.writes += 1;
    }

    /// The search snapshot, if it was built at `generation` less than `max_age_ms` before `now_ms`.
    pub fn fresh(&self, now_ms: i64, max_age_ms: i64, generation: u64) -> Option<Arc<Snapshot>> {
        fresh_in(&self.search, now_ms, max_age_ms, generation)
    }

    /// Keep `snap`, built at `now_ms` from what was there at `generation` — unless a write
    /// happened while it was loading; then the next reader reloads.
    pub fn install(&self, snap: Arc<Snapshot>, now_ms: i64, generation: u64) {
        let mut slot = self.search.write().unwrap_or_else(|e| e.into_inner());
        if self.generation() == generation {
            *slot = Some((snap, now_ms, generation));
        }
    }

    /// The categories, as [`CatalogCache::fresh`] says.
    pub fn fresh_categories(
        &self,
        now_ms: i64,
        max_age_ms: i64,
        generation: u64,
    ) -> Option<Arc<Vec<Category>>> {
        fresh_in(&self.categories, now_ms, max_age_ms, generation)
    }

    /// Keep the categories, as [`CatalogCache::install`] does.
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
