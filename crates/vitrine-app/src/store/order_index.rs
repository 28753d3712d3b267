//! Order search: the index entries an order is found by, and the walk that answers a search.
//!
//! Beside the order item (gsi1 by customer, gsi2 by status), each order has, written once in the
//! batch that places it (none of their keys changes afterwards):
//!
//! | entry | pk | sk | indexes |
//! |---|---|---|---|
//! | every order | `ORDERS` | `{created ms, 15 digits}#{id}` | gsi1 `ORDERS#TOTAL` / `{total, 19 digits}#{created}#{id}`; gsi2 `ORDERS#PAY#{method}` / `{created}#{id}` |
//! | by the buyer's tax id | `ORDERS#TAX#{CPF or CNPJ}` | `{created}#{id}` | |
//!
//! A search walks one partition, chosen from its filters ([`Driver`]), newest first, with the
//! date range in the sort key where the partition has it, reads the orders of each round by key
//! and checks the other filters on them. A request reads at most [`BUDGET`] entries: a narrow
//! search returns a short page with a cursor rather than reading on. Nothing reads the table
//! whole.

use vitrine_domain::order::{Order, OrderStatus, PaymentMethod};

use super::walk::{Pick, RangeWalk, decode_cursor, encode_cursor};
use super::{Batch, Part, customer_orders, decode, order, orders_in_status, with_gsi1, with_gsi2};
use crate::error::AppResult;
use crate::ports::{Index, Item, Key, Table};

/// The most index entries one search request reads.
pub const BUDGET: usize = 1_000;

const ALL: &str = "ORDERS";
const TOTALS: &str = "ORDERS#TOTAL";
const ORDER_ID: &str = "order";

fn by_method(method: PaymentMethod) -> String {
    format!("ORDERS#PAY#{}", method.as_str())
}

fn by_tax_id(tax_id: &str) -> String {
    format!("ORDERS#TAX#{tax_id}")
}

fn when(ms: i64) -> String {
    format!("{:015}", ms.max(0))
}

/// What an admin searches orders by; every filter set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderSearch {
    pub id: Option<String>,
    pub customer: Option<String>,
    /// The buyer's CPF or CNPJ as stored (`TaxId::as_str`).
    pub tax_id: Option<String>,
    pub status: Option<OrderStatus>,
    pub method: Option<PaymentMethod>,
    /// Created at or after (milliseconds).
    pub from_ms: Option<i64>,
    /// Created before (milliseconds, exclusive).
    pub until_ms: Option<i64>,
    pub min_total: Option<i64>,
    pub max_total: Option<i64>,
}

impl OrderSearch {
    /// Whether `o` is one of the orders searched for.
    pub fn matches(&self, o: &Order) -> bool {
        let created = o.created_at.millis();
        let total = o.total.centavos();
        self.id.as_ref().is_none_or(|id| *id == o.id)
            && self.customer.as_ref().is_none_or(|c| *c == o.customer_id)
            && self
                .tax_id
                .as_ref()
                .is_none_or(|t| t == o.buyer.tax_id.as_str())
            && self.status.is_none_or(|s| s == o.status)
            && self.method.is_none_or(|m| m == o.payment_method)
            && self.from_ms.is_none_or(|f| created >= f)
            && self.until_ms.is_none_or(|u| created < u)
            && self.min_total.is_none_or(|m| total >= m)
            && self.max_total.is_none_or(|m| total <= m)
    }

    /// The partition the search walks.
    pub fn driver(&self) -> Driver {
        if let Some(id) = &self.id {
            Driver::Id(id.clone())
        } else if let Some(t) = &self.tax_id {
            Driver::TaxId(t.clone())
        } else if let Some(c) = &self.customer {
            Driver::Customer(c.clone())
        } else if let Some(m) = self.method {
            Driver::Method(m)
        } else if self.min_total.is_some() || self.max_total.is_some() {
            Driver::Total
        } else if let (Some(s), None, None) = (self.status, self.from_ms, self.until_ms) {
            Driver::Status(s)
        } else {
            Driver::Date
        }
    }

    /// The date range as inclusive bounds of `{created}#{id}` sort keys.
    fn date_bounds(&self) -> (Option<String>, Option<String>) {
        (
            self.from_ms.map(when),
            self.until_ms.map(|u| format!("{}#~", when(u - 1))),
        )
    }
}

/// Which partition a search walks, by the most selective filter it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// One order, read by key.
    Id(String),
    /// The buyer's tax id entries, by date.
    TaxId(String),
    /// The customer's orders (the order items' gsi1).
    Customer(String),
    /// The payment method's entries (gsi2 of the every-order entries), by date.
    Method(PaymentMethod),
    /// The every-order entries by total (gsi1), largest first.
    Total,
    /// The status's orders (the order items' gsi2).
    Status(OrderStatus),
    /// The every-order entries by date.
    Date,
}

impl Driver {
    /// The name its cursors carry.
    pub fn tag(&self) -> &'static str {
        match self {
            Driver::Id(_) => "id",
            Driver::TaxId(_) => "tax",
            Driver::Customer(_) => "customer",
            Driver::Method(_) => "method",
            Driver::Total => "total",
            Driver::Status(_) => "status",
            Driver::Date => "date",
        }
    }
}

/// The entries of `o` (see the module docs).
pub fn entries(o: &Order) -> Vec<Item> {
    let created = when(o.created_at.millis());
    let dated = format!("{created}#{}", o.id);
    let every = Item::new(Key::new(ALL, dated.clone())).with(ORDER_ID, o.id.as_str());
    let every = with_gsi1(
        every,
        TOTALS,
        format!("{:019}#{dated}", o.total.centavos().max(0)),
    );
    let every = with_gsi2(every, by_method(o.payment_method), dated.clone());
    let by_tax = Item::new(Key::new(by_tax_id(o.buyer.tax_id.as_str()), dated))
        .with(ORDER_ID, o.id.as_str());
    vec![every, by_tax]
}

/// The key of `o`'s entry under the buyer's tax id `tax_id` (as placed: erasing the buyer
/// changes the order's, not the entry's).
pub fn tax_entry(o: &Order, tax_id: &str) -> Key {
    Key::new(
        by_tax_id(tax_id),
        format!("{}#{}", when(o.created_at.millis()), o.id),
    )
}

impl Batch {
    /// Write the search entries of a new order `o` (in the batch that places it).
    pub fn index_new_order(&mut self, o: &Order) {
        for item in entries(o) {
            self.put_new(Part::Order, item);
        }
    }

    /// Write the search entries of an order placed before they existed (the backfill: the same
    /// entries again are harmless).
    pub fn index_order(&mut self, o: &Order) {
        for item in entries(o) {
            self.put(Part::Order, item);
        }
    }
}

/// One page of a search: orders newest first (by total for [`Driver::Total`]), and the cursor of
/// the next page when the walk was not finished.
#[derive(Debug, Default)]
pub struct OrderHits {
    pub orders: Vec<Order>,
    pub next: Option<String>,
}

/// Up to `limit` orders matching `search`, after `after` (a cursor of an earlier page of the same
/// kind of search).
pub async fn search(
    table: &dyn Table,
    search: &OrderSearch,
    limit: usize,
    after: Option<&str>,
) -> AppResult<OrderHits> {
    let driver = search.driver();
    let last = decode_cursor(driver.tag(), after)?;
    let (index, pk, bounds, entries_only) = match &driver {
        Driver::Id(id) => {
            if last.is_some() {
                return Ok(OrderHits::default());
            }
            let found = match table.get(&order(id)).await? {
                Some(item) => Some(decode::<Order>(&item)?),
                None => None,
            };
            return Ok(OrderHits {
                orders: found.into_iter().filter(|o| search.matches(o)).collect(),
                next: None,
            });
        }
        Driver::TaxId(t) => (Index::Primary, by_tax_id(t), search.date_bounds(), true),
        Driver::Customer(c) => (Index::Gsi1, customer_orders(c), (None, None), false),
        Driver::Method(m) => (Index::Gsi2, by_method(*m), search.date_bounds(), true),
        Driver::Total => (
            Index::Gsi1,
            TOTALS.to_owned(),
            (
                search.min_total.map(|m| format!("{:019}", m.max(0))),
                search.max_total.map(|m| format!("{:019}#~", m.max(0))),
            ),
            true,
        ),
        Driver::Status(s) => (
            Index::Gsi2,
            orders_in_status(s.as_str()),
            (None, None),
            false,
        ),
        Driver::Date => (Index::Primary, ALL.to_owned(), search.date_bounds(), true),
    };
    let mut walk = RangeWalk::new(table, index, pk, BUDGET)
        .between(bounds.0, bounds.1)
        .resume(last);
    let exact = search == &search.driver_filter();
    let pick = Orders {
        table,
        search,
        entries_only,
    };
    let orders = walk.gather(limit, exact, &pick).await?;
    Ok(OrderHits {
        orders,
        next: walk
            .position()
            .map(|last| encode_cursor(driver.tag(), last)),
    })
}

/// The orders a round names (by the entries' `order`, or the order items themselves) that match.
struct Orders<'a> {
    table: &'a dyn Table,
    search: &'a OrderSearch,
    entries_only: bool,
}

#[async_trait::async_trait]
impl Pick<Order> for Orders<'_> {
    async fn pick(&self, items: &[Item]) -> AppResult<Vec<Option<Order>>> {
        let found: Vec<Option<Order>> = if self.entries_only {
            let keys: Vec<Key> = items
                .iter()
                .map(|i| order(i.str(ORDER_ID).unwrap_or_default()))
                .collect();
            self.table
                .get_many(&keys)
                .await?
                .iter()
                .map(|i| i.as_ref().map(decode).transpose())
                .collect::<AppResult<_>>()?
        } else {
            items
                .iter()
                .map(|i| decode(i).map(Some))
                .collect::<AppResult<_>>()?
        };
        Ok(found
            .into_iter()
            .map(|o| o.filter(|o| self.search.matches(o)))
            .collect())
    }
}

impl OrderSearch {
    /// This search with only the filters its driver's walk applies by key: what the walk reads
    /// is what this finds.
    pub fn driver_filter(&self) -> OrderSearch {
        driver_filter(self)
    }
}

fn driver_filter(s: &OrderSearch) -> OrderSearch {
    let dates = (s.from_ms, s.until_ms);
    match s.driver() {
        Driver::Id(id) => OrderSearch {
            id: Some(id),
            ..Default::default()
        },
        Driver::TaxId(t) => OrderSearch {
            tax_id: Some(t),
            from_ms: dates.0,
            until_ms: dates.1,
            ..Default::default()
        },
        Driver::Customer(c) => OrderSearch {
            customer: Some(c),
            ..Default::default()
        },
        Driver::Method(m) => OrderSearch {
            method: Some(m),
            from_ms: dates.0,
            until_ms: dates.1,
            ..Default::default()
        },
        Driver::Total => OrderSearch {
            min_total: s.min_total,
            max_total: s.max_total,
            ..Default::default()
        },
        Driver::Status(st) => OrderSearch {
            status: Some(st),
            ..Default::default()
        },
        Driver::Date => OrderSearch {
            from_ms: dates.0,
            until_ms: dates.1,
            ..Default::default()
        },
    }
}

const BUILT: &str = "ADMININDEX";
/// Which version of the search entries the table holds (bumped if their layout changes).
const LAYOUT: i64 = 1;

impl Batch {
    /// Record that every order's and ordering customer's search entries exist.
    pub fn mark_admin_indexes_built(&mut self) {
        self.put(
            Part::Order,
            Item::new(Key::new(BUILT, BUILT)).with(super::VERSION, LAYOUT),
        );
    }
}

/// Whether the search entries were built (by the backfill, or since the first order).
pub async fn admin_indexes_built(table: &dyn Table) -> AppResult<bool> {
    Ok(table
        .get(&Key::new(BUILT, BUILT))
        .await?
        .and_then(|i| i.num(super::VERSION))
        .is_some_and(|v| v >= LAYOUT))
}

/// Every order, a page at a time after `after` (the backfill's reader): each status's orders.
pub async fn orders_in_status_after(
    table: &dyn Table,
    status: OrderStatus,
    after: Option<String>,
    limit: usize,
) -> AppResult<(Vec<Order>, Option<String>)> {
    let (items, next) =
        super::one_page(table, super::orders::in_status(status), limit, after).await?;
    let orders = items.iter().map(decode).collect::<AppResult<_>>()?;
    Ok((orders, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_selective_filter_drives_the_search() {
        let mut s = OrderSearch::default();
        assert_eq!(s.driver(), Driver::Date);
        s.status = Some(OrderStatus::Paid);
        assert_eq!(s.driver(), Driver::Status(OrderStatus::Paid));
        s.from_ms = Some(1);
        assert_eq!(
            s.driver(),
            Driver::Date,
            "a status within dates walks the dates"
        );
        s.max_total = Some(10_000);
        assert_eq!(s.driver(), Driver::Total);
        s.method = Some(PaymentMethod::Pix);
        assert_eq!(s.driver(), Driver::Method(PaymentMethod::Pix));
        s.customer = Some("sub".into());
        assert_eq!(s.driver(), Driver::Customer("sub".into()));
        s.tax_id = Some("52998224725".into());
        assert_eq!(s.driver(), Driver::TaxId("52998224725".into()));
        s.id = Some("01X".into());
        assert_eq!(s.driver(), Driver::Id("01X".into()));
    }

    #[test]
    fn a_date_range_is_inclusive_of_its_first_and_last_millisecond() {
        let s = OrderSearch {
            from_ms: Some(1_000),
            until_ms: Some(2_000),
            ..Default::default()
        };
        let (lo, hi) = s.date_bounds();
        let (lo, hi) = (lo.unwrap(), hi.unwrap());
        let at = |ms: i64| format!("{}#01ID", when(ms));
        assert!(at(1_000) >= lo && at(1_000) <= hi);
        assert!(at(1_999) >= lo && at(1_999) <= hi);
        assert!(at(999) < lo);
        assert!(at(2_000) > hi);
    }
}
