//! Catalog use cases: browsing and administration (products, variants, stock, categories).
//!
//! Browsing reads pages of listing entries from the table's indexes (`store::listing`), so its
//! cost does not grow with the catalog; product pages, carts and checkout read products by id,
//! slug or SKU (a bounded cache in front for pages and carts; checkout always from the table).
//! Stock is never cached. Text search still reads a snapshot of every product until the search
//! index replaces it. See docs/decisions/0002-catalog-snapshot.md.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use vitrine_domain::catalog::{
    Category, CategoryNode, Product, ProductDraft, Sku, Slug, category_tree,
    category_with_descendants, creates_cycle, find_category,
};
use vitrine_domain::{Event, EventAttr, FieldError, Money};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::store::{self, Batch, Part, WriteFailed};

pub use crate::search::fold;
pub use crate::snapshot::ProductKey;
use crate::store::listing::{self, Listing, Order, Realm};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    #[default]
    Newest,
    /// Best match first (searches with words; a listing without words takes it as newest).
    Relevance,
    PriceAsc,
    PriceDesc,
    Name,
}

#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    pub category: Option<String>,
    pub min_price: Option<Money>,
    pub max_price: Option<Money>,
    pub text: Option<String>,
    /// Option filters for searches with words, as `(name, value)`: values of one name are
    /// alternatives, every name must match.
    pub options: Vec<(String, String)>,
    pub sort: ProductSort,
    pub limit: usize,
    pub after: Option<String>,
    /// Include inactive products (admin listings).
    pub include_inactive: bool,
}

#[derive(Debug, Clone)]
pub struct ProductPage {
    pub items: Vec<Arc<Product>>,
    pub next: Option<String>,
}

/// A page of a search with words: the page, how many products match in all and the facet
/// counts over all of them (category counts include their descendants'), with the categories
/// the counts name.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub items: Vec<Arc<Product>>,
    pub next: Option<String>,
    pub total: usize,
    pub facets: crate::search::Facets,
    pub categories: Arc<Vec<Category>>,
}

/// A product with its live stock per SKU.
#[derive(Debug, Clone)]
pub struct ProductView {
    pub product: Arc<Product>,
    pub stock: HashMap<Sku, i64>,
}

pub const MAX_PAGE: usize = 100;

/// A page's position: its sort order and the last entry's key in that order's index (a
/// listing), or the number of results before the next page (a search with words).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EntryCursor {
    pub(crate) o: String,
    pub(crate) k: String,
}

/// How many entries a listing examines for one page when a price range filters an order that is
/// not by price; past it the page ends early, with a cursor to go on from.
pub const EXAMINED_PER_PAGE: usize = 2_000;

pub(crate) fn sort_tag(sort: ProductSort) -> &'static str {
    match sort {
        ProductSort::Newest => "newest",
        ProductSort::Relevance => "relevance",
        ProductSort::PriceAsc => "price_asc",
        ProductSort::PriceDesc => "price_desc",
        ProductSort::Name => "name",
    }
}

impl App {
    /// A change counter for the catalog, for caches in front of browsing (HTTP responses).
    pub fn catalog_generation(&self) -> u64 {
        self.catalog.generation()
    }

    fn invalidate_catalog(&self, changed: &[&Product]) {
        self.catalog.invalidate(changed);
    }

    pub(crate) fn catalog_max_age_ms(&self) -> i64 {
        self.settings.catalog_cache_secs * 1000
    }

    /// Every category, from this process's copy when fresh (a shop has hundreds).
    pub async fn categories(&self) -> AppResult<Arc<Vec<Category>>> {
        let now = self.ports.clock.now().millis();
        let generation = self.catalog_generation();
        if let Some(all) = self
            .catalog
            .fresh_categories(now, self.catalog_max_age_ms(), generation)
        {
            return Ok(all);
        }
        let all = Arc::new(store::catalog::all_categories(&*self.ports.table).await?);
        self.catalog
            .install_categories(all.clone(), now, generation);
        Ok(all)
    }

    /// A category by id or slug.
    pub async fn category(&self, id_or_slug: &str) -> AppResult<Option<Category>> {
        Ok(find_category(&self.categories().await?, id_or_slug).cloned())
    }

    /// A product by id, slug or SKU: from this process's bounded cache when read less than
    /// `catalog_cache_secs` ago, else from the table (and then cached).
    pub async fn cached_product(&self, by: ProductKey<'_>) -> AppResult<Option<Arc<Product>>> {
        let now = self.ports.clock.now().millis();
        if let Some(p) = self.catalog.product(by, now, self.catalog_max_age_ms()) {
            return Ok(Some(p));
        }
        self.table_product(by).await
    }

    /// Products by id, in order (`None` for each one not found): from the cache when read less
    /// than `catalog_cache_secs` ago, the others from the table in one read (and then cached).
    pub(crate) async fn products_by_id(
        &self,
        ids: &[String],
    ) -> AppResult<Vec<Option<Arc<Product>>>> {
        let now = self.ports.clock.now().millis();
        let max_age = self.catalog_max_age_ms();
        let mut out: Vec<Option<Arc<Product>>> = ids
            .iter()
            .map(|id| self.catalog.product(ProductKey::Id(id), now, max_age))
            .collect();
        let missing: Vec<usize> = (0..ids.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let writes = self.catalog.writes();
        let wanted: Vec<&str> = missing.iter().map(|&i| ids[i].as_str()).collect();
        let loaded = store::catalog::load_products(&*self.ports.table, &wanted).await?;
        for (i, p) in missing.into_iter().zip(loaded) {
            if let Some(p) = p {
                let p = Arc::new(p);
                self.catalog.remember(p.clone(), now, writes);
                out[i] = Some(p);
            }
        }
        Ok(out)
    }

    /// A product by id, slug or SKU, read from the table now (and cached for the others).
    pub async fn table_product(&self, by: ProductKey<'_>) -> AppResult<Option<Arc<Product>>> {
        let writes = self.catalog.writes();
        let table = &*self.ports.table;
        let found = match by {
            ProductKey::Id(id) => store::catalog::load_product(table, id).await?,
            ProductKey::Slug(s) => match store::catalog::product_with_slug(table, s).await? {
                Some(id) => store::catalog::load_product(table, &id).await?,
                None => None,
            },
            ProductKey::Sku(s) => match store::catalog::product_of_sku(table, s.as_str()).await? {
                Some(id) => store::catalog::load_product(table, &id)
                    .await?
                    .filter(|p| p.variant(s).is_some()),
                None => None,
            },
        };
        Ok(found.map(|p| {
            let p = Arc::new(p);
            self.catalog
                .remember(p.clone(), self.ports.clock.now().millis(), writes);
            p
        }))
    }

    /// Whether the catalog has at least one product.
    pub async fn has_products(&self) -> AppResult<bool> {
        Ok(!listing::products_after(&*self.ports.table, None, 1)
            .await?
            .0
            .is_empty())
    }

    /// Build the listing entries of every product when the table does not have them yet (a
    /// data folder, backup or AWS table from before they existed): once, then one read per
    /// start. `progress` hears the number of products done after each batch. Safe beside
    /// catalog writes: an entry is written only while its product is at the version read.
    pub async fn ensure_listings(&self, progress: &dyn Fn(usize)) -> AppResult<usize> {
        let table = &*self.ports.table;
        if listing::listings_built(table).await? {
            return Ok(0);
        }
        // Five operations a product at most (a version check and four entries).
        const PER_BATCH: usize = store::MAX_BATCH_OPS / 5;
        let mut done = 0;
        let mut after = None;
        loop {
            let (products, next) = listing::products_after(table, after, PER_BATCH).await?;
            let mut batch = Batch::with_capacity(products.len() * 5);
            for p in &products {
                batch.product_unchanged(p);
                batch.list_product(p, None);
            }
            if !batch.is_empty() {
                match self.write(batch).await {
                    Ok(()) => {}
                    // Edited meanwhile: that edit wrote its own entries. The others one by one.
                    Err(WriteFailed::Condition { .. }) => {
                        for p in &products {
                            let mut one = Batch::new();
                            one.product_unchanged(p);
                            one.list_product(p, None);
                            match self.write(one).await {
                                Ok(()) | Err(WriteFailed::Condition { .. }) => {}
                                Err(e) => return Err(e.into()),
                            }
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            done += products.len();
            progress(done);
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let mut batch = Batch::new();
        batch.mark_listings_built();
        self.write(batch).await?;
        self.invalidate_catalog(&[]);
        Ok(done)
    }

    /// One page of products: from the listing entries, or with words from the text search.
    pub async fn list_products(&self, q: &ProductQuery) -> AppResult<ProductPage> {
        if q.text
            .as_deref()
            .is_some_and(|t| !fold(t).trim().is_empty())
        {
            let found = self.search_products(q).await?;
            return Ok(ProductPage {
                items: found.items,
                next: found.next,
            });
        }
        let limit = q.limit.clamp(1, MAX_PAGE);
        let categories = match &q.category {
            Some(c) => {
                let all = self.categories().await?;
                let cat = find_category(&all, c)
                    .ok_or_else(|| AppError::field("category", "no such category"))?;
                Some(category_with_descendants(&all, &cat.id))
            }
            None => None,
        };
        let order = match q.sort {
            ProductSort::Newest | ProductSort::Relevance => Order::Newest,
            ProductSort::PriceAsc => Order::PriceAsc,
            ProductSort::PriceDesc => Order::PriceDesc,
            ProductSort::Name => Order::Name,
        };
        let after = after_key(q)?;
        let page = listing::page(
            &*self.ports.table,
            &Listing {
                realm: if q.include_inactive {
                    Realm::All
                } else {
                    Realm::Public
                },
                categories: categories.as_deref(),
                order,
                min_price: q.min_price.map(Money::centavos),
                max_price: q.max_price.map(Money::centavos),
                after: after.as_deref(),
                limit,
                examine: EXAMINED_PER_PAGE,
            },
        )
        .await?;
        // The page's products, most from the cache and the rest in one read. One gone or hidden
        // since its entry was read is left out.
        let found = self.products_by_id(&page.ids).await?;
        Ok(ProductPage {
            items: found
                .into_iter()
                .flatten()
                .filter(|p| q.include_inactive || p.active)
                .collect(),
            next: page.next.map(|k| {
                encode_cursor(&EntryCursor {
                    o: sort_tag(q.sort).to_owned(),
                    k,
                })
            }),
        })
    }

    /// A product by id or slug, with live stock. Inactive products are hidden unless `admin`.
    pub async fn product(&self, id_or_slug: &str, admin: bool) -> AppResult<ProductView> {
        let product = if admin {
            // An admin edits what this returns, with its version as the ETag: always the
            // table's current item, never a copy that another instance (a warm Lambda on AWS)
            // may hold for up to `catalog_cache_secs` after someone else's save.
            self.table_product(ProductKey::Id(id_or_slug)).await?
        } else {
            self.cached_product(ProductKey::Id(id_or_slug)).await?
        };
        let product = match product {
            Some(p) => p,
            None if Slug::parse(id_or_slug).is_ok() => {
                let by_slug = ProductKey::Slug(id_or_slug);
                if admin {
                    self.table_product(by_slug).await?
                } else {
                    self.cached_product(by_slug).await?
                }
                .ok_or(AppError::NotFound("product"))?
            }
            None => return Err(AppError::NotFound("product")),
        };
        if !product.active && !admin {
            return Err(AppError::NotFound("product"));
        }
        let mut stock = HashMap::new();
        for v in &product.variants {
            stock.insert(v.sku.clone(), self.available(&v.sku).await?.unwrap_or(0));
        }
        Ok(ProductView { product, stock })
    }

    /// Units available to sell of a SKU (`None` when the SKU does not exist).
    pub async fn available(&self, sku: &Sku) -> AppResult<Option<i64>> {
        store::catalog::available(&*self.ports.table, sku.as_str()).await
    }

    pub async fn category_tree(&self) -> AppResult<Vec<CategoryNode>> {
        Ok(category_tree(&self.categories().await?))
    }

    // ----- administration -----

    /// Create a product with its variants and their initial stock.
    pub async fn create_product(
        &self,
        draft: ProductDraft,
        stock: &HashMap<Sku, i64>,
    ) -> AppResult<Product> {
        draft.validate()?;
        let slug = draft.slug_or_default()?;
        self.check_category(draft.category_id.as_deref()).await?;
        check_stock_values(stock)?;
        let now = self.ports.clock.now();
        let product = Product {
            id: self.ports.ids.new_id(),
            slug,
            name: draft.name.trim().to_owned(),
            description: draft.description,
            category_id: draft.category_id,
            images: draft.images,
            variants: draft.variants,
            active: draft.active,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut batch = Batch::new();
        batch.put_new_product(&product)?;
        batch.list_product(&product, None);
        batch.record_product_change(&product, now.millis(), &self.ports.ids.new_id());
        batch.reserve_slug(&product);
        for v in &product.variants {
            batch.put_new_sku(&product.id, &v.sku, stock.get(&v.sku).copied().unwrap_or(0));
        }
        match self.write(batch).await {
            Ok(()) => {}
            Err(e) => return Err(catalog_conflict(e, &product)),
        }
        self.invalidate_catalog(&[&product]);
        Ok(product)
    }

    /// Replace a product's editable fields, if it is still at `expected_version`. New variants
    /// get a stock item (with the given stock, default 0); removed variants lose theirs.
    pub async fn update_product(
        &self,
        id: &str,
        draft: ProductDraft,
        expected_version: u64,
        stock: &HashMap<Sku, i64>,
    ) -> AppResult<Product> {
        draft.validate()?;
        check_stock_values(stock)?;
        self.check_category(draft.category_id.as_deref()).await?;
        let old = store::catalog::load_product(&*self.ports.table, id)
            .await?
            .ok_or(AppError::NotFound("product"))?;
        if old.version != expected_version {
            return Err(AppError::VersionMismatch("product"));
        }
        let slug = match &draft.slug {
            Some(s) => s.clone(),
            None => old.slug.clone(),
        };
        let product = Product {
            id: old.id.clone(),
            slug,
            name: draft.name.trim().to_owned(),
            description: draft.description,
            category_id: draft.category_id,
            images: draft.images,
            variants: draft.variants,
            active: draft.active,
            created_at: old.created_at,
            updated_at: self.ports.clock.now(),
            version: old.version + 1,
        };
        let mut batch = Batch::new();
        batch.save_product(&product, old.version)?;
        batch.list_product(&product, Some(&old));
        batch.record_product_change(
            &product,
            product.updated_at.millis(),
            &self.ports.ids.new_id(),
        );
        if product.slug != old.slug {
            batch.reserve_slug(&product);
            batch.release_slug(old.slug.as_str());
        }
        for v in &product.variants {
            if old.variant(&v.sku).is_none() {
                batch.put_new_sku(&product.id, &v.sku, stock.get(&v.sku).copied().unwrap_or(0));
            }
        }
        for v in &old.variants {
            if product.variant(&v.sku).is_none() {
                batch.delete_sku(&v.sku);
            }
        }
        match self.write(batch).await {
            Ok(()) => {}
            Err(e) if e.part() == Some(&Part::Product) => {
                return Err(AppError::VersionMismatch("product"));
            }
            Err(e) => return Err(catalog_conflict(e, &product)),
        }
        self.invalidate_catalog(&[&old, &product]);
        Ok(product)
    }

    async fn check_category(&self, id: Option<&str>) -> AppResult<()> {
        if let Some(id) = id
            && store::catalog::load_category(&*self.ports.table, id)
                .await?
                .is_none()
        {
            return Err(AppError::field("category_id", "no such category"));
        }
        Ok(())
    }

    /// Add (or with a negative delta remove) units of a SKU. Stock never goes below zero.
    /// Returns the new level. Fires `stock.low` when the level falls to the threshold or below.
    pub async fn adjust_stock(&self, sku: &Sku, delta: i64, reason: &str) -> AppResult<i64> {
        if delta == 0 || delta.abs() > 1_000_000 {
            return Err(AppError::field(
                "delta",
                "the adjustment must be a non-zero number of units up to 1000000",
            ));
        }
        if reason.chars().count() > 200 {
            return Err(AppError::field("reason", "at most 200 characters"));
        }
        // Read, then write conditioned on the value read: the event (if any) is decided on the
        // exact new level and committed with it. Retried when a checkout moved stock meanwhile.
        for _ in 0..10 {
            let current = self
                .available(sku)
                .await?
                .ok_or(AppError::NotFound("SKU"))?;
            let new = current + delta;
            if new < 0 {
                return Err(AppError::field(
                    "delta",
                    format!("only {current} units in stock"),
                ));
            }
            let mut batch = Batch::new();
            batch.adjust_stock(sku.as_str(), current, delta);
            let threshold = self.settings.low_stock_threshold;
            if new <= threshold && current > threshold {
                self.stock_low_event(&mut batch, &[(sku, new)])?;
            }
            match self.write(batch).await {
                Ok(()) => {
                    tracing::info!(sku = %sku, delta, reason, "stock adjusted");
                    return Ok(new);
                }
                Err(WriteFailed::Condition { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "stock is changing too fast; try again".into(),
        ))
    }

    /// One `stock.low` event for every SKU that just fell to the threshold or below. One event,
    /// not one per SKU, so a 50-line checkout still fits in one batch of at most 100 operations.
    pub(crate) fn stock_low_event(&self, batch: &mut Batch, low: &[(&Sku, i64)]) -> AppResult<()> {
        let items: Vec<_> = low
            .iter()
            .map(|(sku, level)| serde_json::json!({ "sku": sku, "available": level }))
            .collect();
        let subject = low.first().map(|(s, _)| s.to_string()).unwrap_or_default();
        let lowest = low.iter().map(|(_, l)| *l).min().unwrap_or(0);
        let event = Event::new("stock.low", subject, serde_json::json!({ "items": items }))
            .attr("available", EventAttr::Number(lowest))
            .attr(
                "skus",
                EventAttr::StringArray(low.iter().map(|(s, _)| s.to_string()).collect()),
            );
        batch.append_event(
            &self.ports.ids.new_id(),
            &event,
            self.ports.clock.now().millis(),
        )
    }

    /// SKUs at or below the low-stock threshold (admin dashboard).
    pub async fn low_stock(&self) -> AppResult<Vec<(Sku, i64)>> {
        store::catalog::stock_at_most(&*self.ports.table, self.settings.low_stock_threshold).await
    }

    pub async fn create_category(
        &self,
        name: &str,
        slug: Option<Slug>,
        parent_id: Option<String>,
        position: u32,
    ) -> AppResult<Category> {
        let category = Category {
            id: self.ports.ids.new_id(),
            slug: self.category_slug(name, slug)?,
            name: check_category_name(name)?,
            parent_id,
            position,
            version: 1,
        };
        self.check_category(category.parent_id.as_deref()).await?;
        let mut batch = Batch::new();
        batch.put_new_category(&category)?;
        match self.write(batch).await {
            Err(e) if e.part() == Some(&Part::CategorySlug) => Err(AppError::Conflict(format!(
                "the slug {} is taken",
                category.slug
            ))),
            Err(e) => Err(e.into()),
            Ok(()) => {
                self.invalidate_catalog(&[]);
                Ok(category)
            }
        }
    }

    pub async fn update_category(
        &self,
        id: &str,
        name: &str,
        parent_id: Option<String>,
        position: u32,
        expected_version: u64,
    ) -> AppResult<Category> {
        let (mut category, version) = store::catalog::load_category(&*self.ports.table, id)
            .await?
            .ok_or(AppError::NotFound("category"))?;
        if version != expected_version as i64 {
            return Err(AppError::VersionMismatch("category"));
        }
        if let Some(p) = &parent_id {
            self.check_category(Some(p)).await?;
            let all = store::catalog::all_categories(&*self.ports.table).await?;
            if creates_cycle(&all, id, p) {
                return Err(AppError::field(
                    "parent_id",
                    "a category cannot be inside itself",
                ));
            }
        }
        category.name = check_category_name(name)?;
        category.parent_id = parent_id;
        category.position = position;
        category.version = version as u64 + 1;
        let mut batch = Batch::new();
        batch.save_category(&category, version)?;
        match self.write(batch).await {
            Err(WriteFailed::Condition { .. }) => Err(AppError::VersionMismatch("category")),
            Err(e) => Err(e.into()),
            Ok(()) => {
                self.invalidate_catalog(&[]);
                Ok(category)
            }
        }
    }

    fn category_slug(&self, name: &str, slug: Option<Slug>) -> AppResult<Slug> {
        slug.or_else(|| Slug::from_name(name))
            .ok_or_else(|| AppError::field("slug", "cannot make a slug from this name; give one"))
    }
}

fn check_category_name(name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 80 {
        return Err(AppError::field(
            "name",
            "a category name has 1 to 80 characters",
        ));
    }
    Ok(n.to_owned())
}

fn check_stock_values(stock: &HashMap<Sku, i64>) -> AppResult<()> {
    let bad: Vec<FieldError> = stock
        .iter()
        .filter(|(_, n)| !(0..=1_000_000).contains(*n))
        .map(|(s, _)| {
            FieldError::new(
                format!("stock[{s}]"),
                "stock is between 0 and 1000000 units",
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(bad))
    }
}

/// A failed catalog write explained: a taken slug or an existing SKU.
fn catalog_conflict(failed: WriteFailed, product: &Product) -> AppError {
    match failed.part() {
        Some(Part::Slug) => AppError::Conflict(format!("the slug {} is taken", product.slug)),
        Some(Part::Sku(sku)) => AppError::Conflict(format!("SKU {sku} already exists")),
        _ => failed.into(),
    }
}

/// The key in `q`'s cursor, if it has one; a cursor of another sort order is a field error.
pub(crate) fn after_key(q: &ProductQuery) -> AppResult<Option<String>> {
    let Some(c) = &q.after else {
        return Ok(None);
    };
    let EntryCursor { o, k } = decode_cursor(c)?;
    if o != sort_tag(q.sort) {
        return Err(AppError::field(
            "after",
            "this cursor belongs to another sort order; start from the first page",
        ));
    }
    Ok(Some(k))
}

pub(crate) fn encode_cursor<T: Serialize>(c: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

pub(crate) fn decode_cursor<T: serde::de::DeserializeOwned>(s: &str) -> AppResult<T> {
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            AppError::field(
                "after",
                "this cursor is not valid; start from the first page",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A cursor comes from the client: anything it sends is a field error, never a panic.
        #[test]
        fn no_text_makes_the_cursor_decoder_panic(s in "\\PC{0,80}") {
            let _ = decode_cursor::<EntryCursor>(&s);
        }

        /// Anything base64url that is not our JSON is refused as the `after` field.
        #[test]
        fn undecodable_cursors_are_field_errors(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
            let s = URL_SAFE_NO_PAD.encode(&bytes);
            if let Err(e) = decode_cursor::<EntryCursor>(&s) {
                prop_assert!(matches!(e, AppError::Invalid(ref f) if f[0].field == "after"));
            }
        }

        #[test]
        fn issued_cursors_round_trip(a in "\\PC{0,20}", b in "\\PC{0,20}") {
            let c = EntryCursor { o: a, k: b };
            let back: EntryCursor = decode_cursor(&encode_cursor(&c)).unwrap();
            prop_assert_eq!((back.o, back.k), (c.o, c.k));
        }
    }
}
