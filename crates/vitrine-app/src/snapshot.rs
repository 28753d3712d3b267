//! The catalog snapshot browsing reads (every product and category, indexed by id, slug and SKU,
//! with folded search text) and the cache that holds it in this process. No I/O here: the
//! catalog use cases (`crate::catalog`) load it through the repository layer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

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

/// This process's catalog snapshot, with the change counter that invalidates it.
#[derive(Default)]
pub struct CatalogCache {
    generation: AtomicU64,
    current: RwLock<Option<(Arc<Snapshot>, i64, u64)>>,
}

impl CatalogCache {
    /// The change counter: bumped by every catalog write made through this process.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Forget the snapshot: the catalog changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The snapshot, if it was built at `generation` less than `max_age_ms` before `now_ms`.
    pub fn fresh(&self, now_ms: i64, max_age_ms: i64, generation: u64) -> Option<Arc<Snapshot>> {
        match self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            Some((snap, at, g)) if *g == generation && now_ms - at < max_age_ms => {
                Some(snap.clone())
            }
            _ => None,
        }
    }

    /// Keep `snap`, built at `now_ms` from what was there at `generation` — unless a write
    /// happened while it was loading; then the next reader reloads.
    pub fn install(&self, snap: Arc<Snapshot>, now_ms: i64, generation: u64) {
        let mut slot = self.current.write().unwrap_or_else(|e| e.into_inner());
        if self.generation() == generation {
            *slot = Some((snap, now_ms, generation));
        }
    }
}
