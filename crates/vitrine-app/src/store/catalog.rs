//! The catalog's items: products (with their slug reservations), SKUs with their stock, and
//! categories (with theirs); and the catalog's change feed.
//!
//! The change feed: every product write records, in the same batch, a small item naming the
//! product, under `CATCHANGES#{hour}` / `{time in ms, 15 digits}#{change id}`, kept two days
//! (`ttl`). A process that holds something built from the catalog (the search index) reads the
//! changes since it last looked — reads proportional to what changed, not to the catalog.

use vitrine_domain::catalog::{Category, Product, Sku};

use super::{
    AVAILABLE, Batch, CATEGORIES, PRODUCTS, Pager, Part, STOCK, VERSION, category, category_slug,
    data_item, decode, product, sku, slug, with_gsi1,
};
use crate::error::AppResult;
use crate::ports::table::TTL;
use crate::ports::{Index, Item, Key, Query, SortKey, Table, WriteOp};

const PRODUCT_ID: &str = "product_id";
const SKU: &str = "sku";

/// How long the change feed keeps a change: a process further behind rebuilds instead.
pub const CHANGES_KEPT_MS: i64 = 2 * 24 * 3_600_000;
/// The feed's partitions: one per hour of changes.
const CHANGE_BUCKET_MS: i64 = 3_600_000;

fn change_partition(bucket: i64) -> String {
    format!("CATCHANGES#{bucket}")
}

/// Where in the feed a change made at `at_ms` sorts (before every change made later).
fn change_position(at_ms: i64) -> String {
    format!("{:015}", at_ms.max(0))
}

/// One change read from the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductChange {
    /// The change's key in the feed (its time first): unique, and ordered by time.
    pub key: String,
    pub product_id: String,
    /// The product's version the change wrote.
    pub version: u64,
}

impl ProductChange {
    /// Whether the change was made after `ms`.
    pub fn after(&self, ms: i64) -> bool {
        self.key.as_str() > change_position(ms).as_str()
    }
}

/// The product changes recorded after `from_ms` up to `to_ms`, oldest first: one query per hour
/// of the interval (a caller more than [`CHANGES_KEPT_MS`] behind should rebuild instead).
pub async fn product_changes(
    table: &dyn Table,
    from_ms: i64,
    to_ms: i64,
) -> AppResult<Vec<ProductChange>> {
    let from_ms = from_ms.max(0);
    let mut out = Vec::new();
    for bucket in from_ms.div_euclid(CHANGE_BUCKET_MS)..=to_ms.div_euclid(CHANGE_BUCKET_MS) {
        let query = Query::new(Index::Primary, change_partition(bucket))
            .sk(SortKey::Gt(change_position(from_ms)));
        for item in Pager::new(table, query).all().await? {
            if let Some(id) = item.str(PRODUCT_ID) {
                out.push(ProductChange {
                    product_id: id.to_owned(),
                    version: item.num(VERSION).unwrap_or(0).max(0) as u64,
                    key: item.key.sk,
                });
            }
        }
    }
    Ok(out)
}

/// The product `id`, if it exists.
pub async fn load_product(table: &dyn Table, id: &str) -> AppResult<Option<Product>> {
    table
        .get(&product(id))
        .await?
        .map(|i| decode(&i))
        .transpose()
}

/// The products `ids`, in order (`None` for each one that does not exist), in one read.
pub async fn load_products(table: &dyn Table, ids: &[&str]) -> AppResult<Vec<Option<Product>>> {
    let keys: Vec<_> = ids.iter().map(|id| product(id)).collect();
    table
        .get_many(&keys)
        .await?
        .iter()
        .map(|i| i.as_ref().map(decode).transpose())
        .collect()
}

/// The id of the product that holds slug `s`, if one does.
pub async fn product_with_slug(table: &dyn Table, s: &str) -> AppResult<Option<String>> {
    Ok(table
        .get(&slug(s))
        .await?
        .and_then(|i| i.str(PRODUCT_ID).map(str::to_owned)))
}

/// The id of the product SKU `s` belongs to, if the SKU exists.
pub async fn product_of_sku(table: &dyn Table, s: &str) -> AppResult<Option<String>> {
    Ok(sku_item(table, s).await?.map(|(id, _)| id))
}

/// The product SKU `s` belongs to and its units available, if the SKU exists: one read.
pub async fn sku_item(table: &dyn Table, s: &str) -> AppResult<Option<(String, i64)>> {
    Ok(table.get(&sku(s)).await?.and_then(|i| {
        let id = i.str(PRODUCT_ID)?.to_owned();
        Some((id, i.num(AVAILABLE).unwrap_or(0)))
    }))
}

/// Every product.
pub async fn all_products(table: &dyn Table) -> AppResult<Vec<Product>> {
    Pager::new(table, Query::new(Index::Gsi1, PRODUCTS).limit(1000))
        .all_decoded()
        .await
}

/// Every category.
pub async fn all_categories(table: &dyn Table) -> AppResult<Vec<Category>> {
    Pager::new(table, Query::new(Index::Gsi1, CATEGORIES).limit(1000))
        .all_decoded()
        .await
}

/// The category `id` and its version, if it exists.
pub async fn load_category(table: &dyn Table, id: &str) -> AppResult<Option<(Category, i64)>> {
    match table.get(&category(id)).await? {
        Some(item) => Ok(Some((decode(&item)?, item.num(VERSION).unwrap_or(1)))),
        None => Ok(None),
    }
}

/// Units available to sell of `s` (`None` when the SKU does not exist).
pub async fn available(table: &dyn Table, s: &str) -> AppResult<Option<i64>> {
    Ok(table
        .get(&sku(s))
        .await?
        .map(|i| i.num(AVAILABLE).unwrap_or(0)))
}

/// Every SKU with `available` at or below `threshold`.
pub async fn stock_at_most(table: &dyn Table, threshold: i64) -> AppResult<Vec<(Sku, i64)>> {
    let mut out = Vec::new();
    let mut pages = Pager::new(table, Query::new(Index::Gsi1, STOCK).limit(1000));
    while let Some(items) = pages.next_page().await? {
        for item in &items {
            let level = item.num(AVAILABLE).unwrap_or(0);
            if level <= threshold
                && let Some(s) = item.str(SKU).and_then(|s| Sku::parse(s).ok())
            {
                out.push((s, level));
            }
        }
    }
    Ok(out)
}

fn product_item(p: &Product) -> AppResult<Item> {
    let item = data_item(product(&p.id), p)?.with(VERSION, p.version as i64);
    Ok(with_gsi1(item, PRODUCTS, p.id.clone()))
}

fn category_item(c: &Category, version: i64) -> AppResult<Item> {
    let item = data_item(category(&c.id), c)?.with(VERSION, version);
    Ok(with_gsi1(item, CATEGORIES, c.id.clone()))
}

impl Batch {
    /// Create product `p`; fails on [`Part::Product`] when the id exists.
    pub fn put_new_product(&mut self, p: &Product) -> AppResult<()> {
        self.put_new(Part::Product, product_item(p)?);
        Ok(())
    }

    /// Save product `p` over version `read_version`: fails on [`Part::Product`] when it changed.
    pub fn save_product(&mut self, p: &Product, read_version: u64) -> AppResult<()> {
        self.put_versioned(Part::Product, product_item(p)?, Some(read_version));
        Ok(())
    }

    /// Record in the change feed that product `p` changed (to its version) at `at_ms` (change
    /// `change_id`, unique).
    pub fn record_product_change(&mut self, p: &Product, at_ms: i64, change_id: &str) {
        let key = Key::new(
            change_partition(at_ms.div_euclid(CHANGE_BUCKET_MS)),
            format!("{}#{change_id}", change_position(at_ms)),
        );
        let item = Item::new(key)
            .with(PRODUCT_ID, p.id.as_str())
            .with(VERSION, p.version as i64)
            .with(TTL, (at_ms + CHANGES_KEPT_MS) / 1000);
        self.put(Part::Listing, item);
    }

    /// Reserve `p`'s slug for it: fails on [`Part::Slug`] when another product holds it.
    pub fn reserve_slug(&mut self, p: &Product) {
        self.put_new(
            Part::Slug,
            Item::new(slug(p.slug.as_str())).with(PRODUCT_ID, p.id.clone()),
        );
    }

    /// Free the slug `s`.
    pub fn release_slug(&mut self, s: &str) {
        self.push(
            Part::Slug,
            WriteOp::Delete {
                key: slug(s),
                condition: None,
            },
        );
    }

    /// Create SKU `s` of product `product_id` with `available` units: fails on
    /// [`Part::Sku`] when the SKU exists.
    pub fn put_new_sku(&mut self, product_id: &str, s: &Sku, available: i64) {
        let item = Item::new(sku(s.as_str()))
            .with(PRODUCT_ID, product_id)
            .with(SKU, s.as_str())
            .with(AVAILABLE, available);
        self.put_new(Part::Sku(s.to_string()), with_gsi1(item, STOCK, s.as_str()));
    }

    /// Delete SKU `s` and its stock.
    pub fn delete_sku(&mut self, s: &Sku) {
        self.push(
            Part::Sku(s.to_string()),
            WriteOp::Delete {
                key: sku(s.as_str()),
                condition: None,
            },
        );
    }

    /// Create category `c` (version 1) with its slug reservation: fails on
    /// [`Part::CategorySlug`] when the slug is taken.
    pub fn put_new_category(&mut self, c: &Category) -> AppResult<()> {
        self.put_new(Part::Category, category_item(c, 1)?);
        self.put_new(
            Part::CategorySlug,
            data_item(category_slug(c.slug.as_str()), &c.id)?,
        );
        Ok(())
    }

    /// Save category `c` over version `read_version`: fails on [`Part::Category`] when it
    /// changed.
    pub fn save_category(&mut self, c: &Category, read_version: i64) -> AppResult<()> {
        self.put_versioned(
            Part::Category,
            category_item(c, read_version + 1)?,
            Some(read_version as u64),
        );
        Ok(())
    }
}
