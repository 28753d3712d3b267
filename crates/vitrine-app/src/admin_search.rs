//! The admin's customers and order search: customers listed and found by name, e-mail, CPF/CNPJ
//! or phone, one customer's record, orders found by any combination of filters, an export of
//! what a search finds, and the backfill of the entries these read for a table from before they
//! existed. The entries and walks are the repository's (`store::order_index`,
//! `store::customer_index`); nothing here reads the table whole.

use vitrine_domain::order::{Order, OrderStatus, PaymentMethod};
use vitrine_domain::{FieldError, TaxId};

use crate::app::App;
use crate::customers::{MAX_ADDRESSES, Profile, SavedAddress};
use crate::dashboard::day_of_date;
use crate::error::{AppError, AppResult};
use crate::orders::OrderPage;
use crate::store::customer_index::{self, CustomerQuery};
use crate::store::order_index::{self, OrderSearch};
use crate::store::{self, Batch, WriteFailed};

/// The most orders one export file holds.
pub const EXPORT_ROWS: usize = 10_000;
/// The most search requests one export file makes (each reads at most
/// [`order_index::BUDGET`] entries): a narrow export over a large store stops there and points
/// at the rest.
const EXPORT_WALKS: usize = 100;

/// The longest text a search puts into a key (an id, a customer's `sub`, what is typed to find a
/// customer): DynamoDB refuses keys past 1,024 bytes, and nothing real is this long.
const MAX_KEY_TEXT: usize = 256;

/// An order search as typed in the admin (query parameters), before it is checked.
#[derive(Debug, Clone, Default)]
pub struct OrderSearchInput {
    pub id: Option<String>,
    pub customer: Option<String>,
    pub tax_id: Option<String>,
    pub status: Option<String>,
    pub method: Option<String>,
    /// `YYYY-MM-DD`, São Paulo.
    pub from: Option<String>,
    pub to: Option<String>,
    pub min_total_centavos: Option<i64>,
    pub max_total_centavos: Option<i64>,
}

fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl OrderSearchInput {
    /// The search, or every field that is wrong.
    pub fn check(self) -> AppResult<OrderSearch> {
        let mut errors = Vec::new();
        for (name, v) in [("id", &self.id), ("customer", &self.customer)] {
            if v.as_ref().is_some_and(|v| v.len() > MAX_KEY_TEXT) {
                errors.push(FieldError::new(
                    name,
                    format!("at most {MAX_KEY_TEXT} characters"),
                ));
            }
        }
        let mut search = OrderSearch {
            id: given(self.id),
            customer: given(self.customer),
            min_total: self.min_total_centavos,
            max_total: self.max_total_centavos,
            ..Default::default()
        };
        if let Some(t) = given(self.tax_id) {
            match TaxId::parse(&t) {
                Ok(t) => search.tax_id = Some(t.as_str().to_owned()),
                Err(e) => errors.push(FieldError::new("tax_id", e.to_string())),
            }
        }
        if let Some(s) = given(self.status) {
            match OrderStatus::parse(&s) {
                Some(s) => search.status = Some(s),
                None => errors.push(FieldError::new("status", "not an order status")),
            }
        }
        if let Some(m) = given(self.method) {
            match [
                PaymentMethod::Pix,
                PaymentMethod::Card,
                PaymentMethod::Boleto,
            ]
            .into_iter()
            .find(|p| p.as_str() == m)
            {
                Some(m) => search.method = Some(m),
                None => errors.push(FieldError::new("method", "one of pix, card, boleto")),
            }
        }
        let day = |name: &str, v: Option<String>, errors: &mut Vec<_>| {
            let v = given(v)?;
            let d = day_of_date(&v);
            if d.is_none() {
                errors.push(FieldError::new(name, "a date like 2026-12-01"));
            }
            d
        };
        let from = day("from", self.from, &mut errors);
        let to = day("to", self.to, &mut errors);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            errors.push(FieldError::new(
                "from",
                "the first day comes after the last",
            ));
        }
        search.from_ms = from.map(crate::dashboard::day_start_ms);
        search.until_ms = to.map(|t| crate::dashboard::day_start_ms(t + 1));
        for (name, v) in [
            ("min_total_centavos", search.min_total),
            ("max_total_centavos", search.max_total),
        ] {
            if v.is_some_and(|v| v < 0) {
                errors.push(FieldError::new(name, "not negative"));
            }
        }
        if let (Some(lo), Some(hi)) = (search.min_total, search.max_total)
            && lo > hi
        {
            errors.push(FieldError::new(
                "min_total_centavos",
                "the minimum is above the maximum",
            ));
        }
        if errors.is_empty() {
            Ok(search)
        } else {
            Err(AppError::Invalid(errors))
        }
    }
}

/// One page of customers.
#[derive(Debug)]
pub struct CustomerPage {
    pub items: Vec<Profile>,
    pub next: Option<String>,
}

/// One file of an export: the orders, and the cursor of the next file when more match.
#[derive(Debug)]
pub struct OrderExport {
    pub orders: Vec<Order>,
    pub next: Option<String>,
}

impl App {
    /// Orders matching `search`, newest first (by total, largest first, when only totals
    /// narrow it), `limit` a page.
    pub async fn search_orders(
        &self,
        search: &OrderSearch,
        limit: usize,
        after: Option<String>,
    ) -> AppResult<OrderPage> {
        let hits = order_index::search(
            &*self.ports.table,
            search,
            limit.clamp(1, 100),
            after.as_deref(),
        )
        .await?;
        Ok(OrderPage {
            items: hits.orders,
            next: hits.next,
        })
    }

    /// Up to [`EXPORT_ROWS`] orders matching `search` from `after`, and where the next file starts.
    pub async fn export_orders(
        &self,
        search: &OrderSearch,
        mut after: Option<String>,
    ) -> AppResult<OrderExport> {
        let mut orders = Vec::new();
        for _ in 0..EXPORT_WALKS {
            let want = (EXPORT_ROWS - orders.len()).min(100);
            let page = self.search_orders(search, want, after.take()).await?;
            orders.extend(page.items);
            after = page.next;
            if after.is_none() || orders.len() >= EXPORT_ROWS {
                break;
            }
        }
        Ok(OrderExport {
            orders,
            next: after,
        })
    }

    /// Customers for what an admin typed (see [`CustomerQuery::from_text`]), newest first when
    /// nothing was typed.
    pub async fn search_customers(
        &self,
        text: &str,
        limit: usize,
        after: Option<String>,
    ) -> AppResult<CustomerPage> {
        if text.len() > MAX_KEY_TEXT {
            return Err(AppError::field(
                "q",
                format!("at most {MAX_KEY_TEXT} characters"),
            ));
        }
        let query = CustomerQuery::from_text(text);
        let hits = customer_index::search(
            &*self.ports.table,
            &query,
            limit.clamp(1, 100),
            after.as_deref(),
        )
        .await?;
        let profiles = store::customers::load_profiles::<Profile>(&*self.ports.table, &hits.subs)
            .await?
            .into_iter()
            .flatten()
            .collect();
        Ok(CustomerPage {
            items: profiles,
            next: hits.next,
        })
    }

    /// A customer's profile and saved addresses (their orders: [`App::search_orders`] by
    /// customer).
    pub async fn customer_record(&self, sub: &str) -> AppResult<(Profile, Vec<SavedAddress>)> {
        if sub.len() > MAX_KEY_TEXT {
            return Err(AppError::NotFound("customer"));
        }
        let profile = store::customers::load_profile::<Profile>(&*self.ports.table, sub)
            .await?
            .ok_or(AppError::NotFound("customer"))?;
        let addresses = store::customers::addresses(&*self.ports.table, sub, MAX_ADDRESSES).await?;
        Ok((profile, addresses))
    }

    /// Write the order and customer search entries when the table does not have them yet (a
    /// data folder, backup or AWS table from before they existed): every order of every status,
    /// and the profile of each customer who ordered; other customers' entries are written when
    /// they next sign in. Once, then one read per start. `progress` hears the orders done.
    pub async fn ensure_admin_indexes(&self, progress: &dyn Fn(usize)) -> AppResult<usize> {
        let table = &*self.ports.table;
        if order_index::admin_indexes_built(table).await? {
            return Ok(0);
        }
        const PER_BATCH: usize = store::MAX_BATCH_OPS / 2;
        let mut done = 0;
        let mut customers = std::collections::BTreeSet::new();
        for status in OrderStatus::ALL {
            let mut after = None;
            loop {
                let (orders, next) =
                    order_index::orders_in_status_after(table, status, after, PER_BATCH).await?;
                let mut batch = Batch::with_capacity(orders.len() * 2);
                for o in &orders {
                    batch.index_order(o);
                    customers.insert(o.customer_id.clone());
                }
                if !batch.is_empty() {
                    self.write(batch).await?;
                }
                done += orders.len();
                progress(done);
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
        }
        for sub in &customers {
            if let Some(p) = store::customers::load_profile::<Profile>(table, sub).await? {
                self.index_if_missing(&p).await?;
            }
        }
        let mut batch = Batch::new();
        batch.mark_admin_indexes_built();
        match self.write(batch).await {
            Ok(()) | Err(WriteFailed::Condition { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(done)
    }
}
