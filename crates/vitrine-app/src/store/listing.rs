//! Listing entries: where browsing reads its pages, so that a listing costs a page of index
//! reads whatever the catalog's size.
//!
//! Each product has one entry per *realm* it appears in — `PUB` (the storefront: active products
//! only) and `ALL` (the admin: every product) — and per *scope*: `*` (the whole catalog) and
//! the product's own category. One entry serves the three orders at once:
//!
//! | order | index | sort key |
//! |---|---|---|
//! | newest first | primary (read backward) | `{product id}` (ids are ULIDs: time-ordered) |
//! | price | gsi1 | `{price_from, 19 digits}#{product id}` |
//! | name | gsi2 | `{folded name}\u{1}{product id}` |
//!
//! An entry is small (its keys and the price, about 200 bytes: no overflow page on SQLite); a
//! page is one query per partition for the ids, then the products by id (a bounded cache in
//! front of the table). Entries are written in the same batch as the product they copy (under its version
//! condition), so they are never older than the product. A category listing merges the
//! partitions of the category and its descendants in key order; moving a category therefore
//! rewrites nothing.

use std::collections::VecDeque;

use vitrine_domain::catalog::Product;

use super::{Batch, Pager, Part, decode, one_page, with_gsi1, with_gsi2};
use crate::error::AppResult;
use crate::ports::{Condition, Index, Item, Key, Query, SortKey, Table, Value, WriteOp};

/// Which products a realm lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    /// The storefront's: active products.
    Public,
    /// The admin's: every product.
    All,
}

impl Realm {
    fn tag(self) -> &'static str {
        match self {
            Realm::Public => "PUB",
            Realm::All => "ALL",
        }
    }
}

/// The order of a listing, with the index that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Newest,
    PriceAsc,
    PriceDesc,
    Name,
}

impl Order {
    fn index(self) -> Index {
        match self {
            Order::Newest => Index::Primary,
            Order::PriceAsc | Order::PriceDesc => Index::Gsi1,
            Order::Name => Index::Gsi2,
        }
    }
    fn backward(self) -> bool {
        matches!(self, Order::Newest | Order::PriceDesc)
    }
}

const MARKER: &str = "LISTINGS";
/// Which version of the entries the table holds (bumped if their layout changes).
const LAYOUT: i64 = 1;
const PRICE: &str = "price";

fn partition(realm: Realm, category: Option<&str>) -> String {
    match category {
        None => format!("LIST#{}#*", realm.tag()),
        Some(c) => format!("LIST#{}#C#{c}", realm.tag()),
    }
}

/// The sort key of `p` in the price index.
fn price_key(p: &Product) -> String {
    format!("{:019}#{}", p.price_from().centavos().max(0), p.id)
}

fn name_key(p: &Product) -> String {
    format!("{}\u{1}{}", crate::search::fold(&p.name), p.id)
}

/// The partitions `p` has an entry in.
fn partitions_of(p: &Product) -> Vec<String> {
    let mut out = Vec::with_capacity(4);
    let mut realms = vec![Realm::All];
    if p.active {
        realms.push(Realm::Public);
    }
    for realm in realms {
        out.push(partition(realm, None));
        if let Some(c) = &p.category_id {
            out.push(partition(realm, Some(c)));
        }
    }
    out
}

fn entry(pk: String, p: &Product) -> Item {
    let item = Item::new(Key::new(pk.clone(), p.id.clone())).with(PRICE, p.price_from().centavos());
    with_gsi2(with_gsi1(item, pk.clone(), price_key(p)), pk, name_key(p))
}

impl Batch {
    /// Write `p`'s listing entries, removing those `old` (the product as it was) had and `p` no
    /// longer has (another category, deactivated).
    pub fn list_product(&mut self, p: &Product, old: Option<&Product>) {
        let now = partitions_of(p);
        if let Some(old) = old {
            for pk in partitions_of(old) {
                if !now.contains(&pk) {
                    self.push(
                        Part::Listing,
                        WriteOp::Delete {
                            key: Key::new(pk, old.id.clone()),
                            condition: None,
                        },
                    );
                }
            }
        }
        for pk in now {
            self.put(Part::Listing, entry(pk, p));
        }
    }

    /// Fail the batch unless product `p` is still at the version it was read at (the backfill,
    /// which must not overwrite the entries of an edit made meanwhile).
    pub fn product_unchanged(&mut self, p: &Product) {
        self.push(
            Part::Product,
            WriteOp::Check {
                key: super::product(&p.id),
                condition: Condition::Eq(super::VERSION.into(), Value::N(p.version as i64)),
            },
        );
    }

    /// Record that every product has its entries.
    pub fn mark_listings_built(&mut self) {
        self.put(
            Part::Listing,
            Item::new(Key::new(MARKER, MARKER)).with(super::VERSION, LAYOUT),
        );
    }
}

/// Whether every product's entries were built (by the backfill, or since the first product).
pub async fn listings_built(table: &dyn Table) -> AppResult<bool> {
    Ok(table
        .get(&Key::new(MARKER, MARKER))
        .await?
        .and_then(|i| i.num(super::VERSION))
        .is_some_and(|v| v >= LAYOUT))
}

/// What a listing asks for.
#[derive(Debug, Clone)]
pub struct Listing<'a> {
    pub realm: Realm,
    /// The categories whose products are listed (a category and its descendants); `None`: all.
    pub categories: Option<&'a [String]>,
    pub order: Order,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// The sort key of the last entry of the previous page.
    pub after: Option<&'a str>,
    pub limit: usize,
    /// How many entries a request may examine when a price range filters an order that is not
    /// by price; past it, the page ends early with a cursor to go on from.
    pub examine: usize,
}

/// One page: the products' ids in order, and the sort key to continue after (when there may be
/// more).
#[derive(Debug)]
pub struct ListedPage {
    pub ids: Vec<String>,
    pub next: Option<String>,
}

/// One partition read in key order, a page at a time.
struct Stream<'a> {
    pages: Pager<'a>,
    order: Order,
    buffered: VecDeque<(String, Item)>,
}

impl Stream<'_> {
    /// Read the next page when nothing is buffered and there is more.
    async fn fill(&mut self) -> AppResult<()> {
        while self.buffered.is_empty() {
            let Some(items) = self.pages.next_page().await? else {
                return Ok(());
            };
            for item in items {
                let key = sort_key(&item, self.order).to_owned();
                self.buffered.push_back((key, item));
            }
        }
        Ok(())
    }

    async fn head(&mut self) -> AppResult<Option<&str>> {
        self.fill().await?;
        Ok(self.buffered.front().map(|(k, _)| k.as_str()))
    }
}

fn sort_key(item: &Item, order: Order) -> &str {
    use crate::ports::table::{GSI1_SK, GSI2_SK};
    match order {
        Order::Newest => &item.key.sk,
        Order::PriceAsc | Order::PriceDesc => item.str(GSI1_SK).unwrap_or(""),
        Order::Name => item.str(GSI2_SK).unwrap_or(""),
    }
}

/// The range of sort keys a listing reads, inclusive; the entry equal to the cursor is skipped
/// by the reader.
fn range(l: &Listing<'_>) -> Option<SortKey> {
    let (mut lo, mut hi): (Option<String>, Option<String>) = (None, None);
    if matches!(l.order, Order::PriceAsc | Order::PriceDesc) {
        lo = l.min_price.map(|m| format!("{:019}#", m.max(0)));
        hi = l.max_price.map(|m| format!("{:019}#\u{10FFFF}", m.max(0)));
    }
    if let Some(after) = l.after {
        let after = after.to_owned();
        if l.order.backward() {
            hi = Some(match hi {
                Some(h) if h < after => h,
                _ => after,
            });
        } else {
            lo = Some(match lo {
                Some(x) if x > after => x,
                _ => after,
            });
        }
    }
    match (lo, hi) {
        (Some(lo), Some(hi)) => Some(SortKey::Between(lo, hi)),
        (Some(lo), None) => Some(SortKey::Ge(lo)),
        (None, Some(hi)) => Some(SortKey::Le(hi)),
        (None, None) => None,
    }
}

/// One page of a listing: the partitions of every listed category merged in key order.
pub async fn page(table: &dyn Table, l: &Listing<'_>) -> AppResult<ListedPage> {
    let partitions: Vec<String> = match l.categories {
        None => vec![partition(l.realm, None)],
        Some(ids) => ids.iter().map(|c| partition(l.realm, Some(c))).collect(),
    };
    let keys = range(l);
    let by_price = matches!(l.order, Order::PriceAsc | Order::PriceDesc);
    let filtering = !by_price && (l.min_price.is_some() || l.max_price.is_some());
    // One partition: enough for the page, the cursor's entry and one more, in one query.
    // Several: a share each, refilled as the merge uses them up.
    let chunk = match (filtering, partitions.len()) {
        (true, _) => 100,
        (false, 1) => l.limit + 2,
        (false, k) => (l.limit / k + 2).max(4),
    };
    let mut streams: Vec<Stream<'_>> = partitions
        .into_iter()
        .map(|pk| {
            let mut q = Query::new(l.order.index(), pk).limit(chunk);
            if let Some(k) = &keys {
                q = q.sk(k.clone());
            }
            if l.order.backward() {
                q = q.backward();
            }
            Stream {
                pages: Pager::new(table, q),
                order: l.order,
                buffered: VecDeque::new(),
            }
        })
        .collect();
    // The first page of every partition at once (on DynamoDB, one round trip's wait for all).
    futures::future::try_join_all(streams.iter_mut().map(Stream::fill)).await?;
    let mut ids = Vec::with_capacity(l.limit);
    let mut examined = 0usize;
    let mut last: Option<String> = None;
    loop {
        // The stream whose head comes first in this order.
        let mut best: Option<(usize, String)> = None;
        for (i, s) in streams.iter_mut().enumerate() {
            if let Some(k) = s.head().await? {
                let better = match &best {
                    None => true,
                    Some((_, b)) if l.order.backward() => k > b.as_str(),
                    Some((_, b)) => k < b.as_str(),
                };
                if better {
                    best = Some((i, k.to_owned()));
                }
            }
        }
        let Some((i, key)) = best else {
            return Ok(ListedPage { ids, next: None });
        };
        if ids.len() == l.limit {
            // There is at least one more: the page ends at the last one taken.
            return Ok(ListedPage { ids, next: last });
        }
        let (_, item) = streams[i].buffered.pop_front().expect("a head was seen");
        if l.after == Some(key.as_str()) {
            continue;
        }
        examined += 1;
        let price = item.num(PRICE).unwrap_or(0);
        let wanted = !filtering
            || (l.min_price.is_none_or(|m| price >= m) && l.max_price.is_none_or(|m| price <= m));
        last = Some(key);
        if wanted {
            ids.push(item.key.sk);
        } else if examined >= l.examine {
            return Ok(ListedPage { ids, next: last });
        }
    }
}

/// Every product, a page at a time after `after` (the backfill's reader).
pub async fn products_after(
    table: &dyn Table,
    after: Option<String>,
    limit: usize,
) -> AppResult<(Vec<Product>, Option<String>)> {
    let (items, next) = one_page(
        table,
        Query::new(Index::Gsi1, super::PRODUCTS),
        limit,
        after,
    )
    .await?;
    let products = items
        .iter()
        .map(decode)
        .collect::<AppResult<Vec<Product>>>()?;
    Ok((products, next))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn price_keys_sort_as_prices_do() {
        let mut p = product("01A", 990);
        let cheap = price_key(&p);
        p.variants[0].price = vitrine_domain::Money::from_centavos(10_000);
        assert!(cheap < price_key(&p));
    }

    #[test]
    fn a_name_sorts_before_its_longer_forms_whatever_follows() {
        let mut a = product("01A", 100);
        a.name = "Caneca".into();
        let mut b = product("01B", 100);
        b.name = "Caneca Azul".into();
        assert!(name_key(&a) < name_key(&b));
    }

    #[test]
    fn an_inactive_product_is_listed_for_the_admin_only() {
        let mut p = product("01A", 100);
        p.category_id = Some("c1".into());
        assert_eq!(partitions_of(&p).len(), 4);
        p.active = false;
        assert_eq!(
            partitions_of(&p),
            vec!["LIST#ALL#*".to_owned(), "LIST#ALL#C#c1".to_owned()]
        );
    }

    #[test]
    fn a_cursor_narrows_the_range_on_the_side_the_order_walks() {
        let l = Listing {
            realm: Realm::Public,
            categories: None,
            order: Order::PriceDesc,
            min_price: Some(100),
            max_price: Some(900),
            after: Some("0000000000000000500#01X"),
            limit: 10,
            examine: 100,
        };
        assert_eq!(
            range(&l),
            Some(SortKey::Between(
                "0000000000000000100#".into(),
                "0000000000000000500#01X".into()
            ))
        );
    }

    fn product(id: &str, centavos: i64) -> Product {
        a_product(id, &format!("p-{}", id.to_lowercase()), "SKU-1", centavos)
    }

    /// A valid product with one variant (the tests of the catalog's caches and entries).
    pub(crate) fn a_product(id: &str, slug: &str, sku: &str, centavos: i64) -> Product {
        serde_json::from_value(serde_json::json!({
            "id": id, "slug": slug, "name": "P", "description": "",
            "category_id": null, "images": [], "active": true,
            "created_at": 0, "updated_at": 0, "version": 1,
            "variants": [{"sku": sku, "options": {}, "price": centavos, "compare_at": null,
                "dimensions": {"weight_g": 1, "length_cm": 1, "width_cm": 1, "height_cm": 1},
                "fiscal": {"ncm": "61091000", "cfop": "5102", "origin": 0}}]
        }))
        .expect("a product")
    }
}
