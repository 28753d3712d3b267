//! The admin's search access patterns as Table conformance cases (run by `table_conformance!` on
//! every adapter): the entries the store writes for orders and customers, searched through the
//! store's own walks (`vitrine_app::store::order_index`, `customer_index`), each result set
//! compared with a direct filter of everything written, and the items read counted
//! ([`CountingTable`]): a search reads its index partition's range and the records it names,
//! never the rest — what a scan would read is many times more.
//!
//! These cases write the store's fixed partitions (`ORDERS`, `CUSTOMERS#FIND`, …): every adapter
//! gives each case a table of its own.

use std::collections::BTreeMap;
use std::sync::Arc;

use vitrine_app::ports::table::{Item, Table, WriteOp};
use vitrine_app::store::customer_index::{self, CustomerFacts, CustomerQuery};
use vitrine_app::store::order_index::{self, Driver, OrderSearch};
use vitrine_app::store::{DATA, orders::order_item, profile};
use vitrine_domain::Timestamp;
use vitrine_domain::br::{Cep, TaxId, Uf};
use vitrine_domain::catalog::{Fiscal, Sku};
use vitrine_domain::money::Money;
use vitrine_domain::order::{
    Address, Buyer, Channels, NewOrder, Order, OrderLine, OrderStatus, PaymentMethod,
    ShippingChoice,
};

use crate::counting_table::CountingTable;

const CPFS: [&str; 3] = ["52998224725", "11144477735", "39053344705"];
const METHODS: [PaymentMethod; 3] = [
    PaymentMethod::Pix,
    PaymentMethod::Card,
    PaymentMethod::Boleto,
];
/// 2026-11-01T03:00:00Z, midnight in São Paulo.
const START_MS: i64 = 1_793_502_000_000;
const HOUR_MS: i64 = 3_600_000;

fn an_order(i: usize) -> Order {
    let line = OrderLine {
        sku: Sku::parse("CANECA-1").expect("a SKU"),
        product_id: "p1".into(),
        name: "Caneca".into(),
        options: BTreeMap::new(),
        unit_price: Money::from_centavos(1_000 + 137 * i as i64),
        quantity: 1,
        weight_g: 300,
        fiscal: Fiscal::default(),
    };
    let (mut order, _) = Order::place(NewOrder {
        // Ids sort as they were placed, as ULIDs do.
        id: format!("01ORDER{i:04}"),
        customer_id: format!("customer-{}", i % 4),
        lines: vec![line],
        buyer: Buyer {
            name: "Ana".into(),
            email: "ana@example.com".into(),
            tax_id: TaxId::parse(CPFS[i % 3]).expect("a CPF"),
            phone: None,
        },
        shipping_address: Address {
            recipient: "Ana".into(),
            street: "Av. Paulista".into(),
            number: "1000".into(),
            complement: None,
            district: "Bela Vista".into(),
            city: "São Paulo".into(),
            uf: Uf::parse("SP").expect("a UF"),
            cep: Cep::parse("01310100").expect("a CEP"),
        },
        shipping: ShippingChoice {
            method_id: "pac".into(),
            name: "PAC".into(),
            price: Money::from_centavos(0),
            days: 3,
        },
        coupon: None,
        payment_method: METHODS[(i / 2) % 3],
        payment_provider: "sandbox".into(),
        now: Timestamp::from_millis(START_MS + 7 * HOUR_MS * i as i64),
        pay_within_secs: 1_800,
        channels: Channels::default(),
    })
    .expect("a valid order");
    if i.is_multiple_of(5) {
        order.status = OrderStatus::Cancelled;
    }
    order
}

async fn put_all(table: &Arc<dyn Table>, items: Vec<Item>) {
    for chunk in items.chunks(25) {
        table
            .write(chunk.iter().cloned().map(WriteOp::put).collect())
            .await
            .expect("write");
    }
}

/// Every page of `search` in pages of `limit`: the orders' ids, and the most items one page read.
async fn walk_orders(
    counting: &CountingTable,
    search: &OrderSearch,
    limit: usize,
) -> (Vec<String>, usize) {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    let mut most = 0;
    for _ in 0..200 {
        counting.take();
        let hits = order_index::search(counting, search, limit, after.as_deref())
            .await
            .expect("search");
        most = most.max(counting.take());
        assert!(hits.orders.len() <= limit);
        found.extend(hits.orders.into_iter().map(|o| o.id));
        match hits.next {
            Some(n) => after = Some(n),
            None => return (found, most),
        }
    }
    panic!("{search:?} does not end");
}

/// 60 orders over two weeks: four customers, three CPFs, three payment methods, a fifth of them
/// cancelled, every total different. Each search's pages hold exactly the orders a direct filter
/// of all 60 finds, in the driver's order, each once; what it reads is bounded by the part of its
/// index partition the driver's own filters select (an entry and an order each), plus a look
/// past each page's end — never by the 60.
pub async fn order_search_reads_one_index_range_and_the_orders_it_names(table: Arc<dyn Table>) {
    const N: usize = 60;
    let orders: Vec<Order> = (0..N).map(an_order).collect();
    let mut items = Vec::new();
    for o in &orders {
        items.push(order_item(o).expect("order item"));
        items.extend(order_index::entries(o));
    }
    put_all(&table, items).await;
    let counting = CountingTable::new(table.clone());
    let day = |d: i64| START_MS + d * 24 * HOUR_MS;
    let searches = vec![
        OrderSearch::default(),
        OrderSearch {
            id: Some(orders[17].id.clone()),
            ..Default::default()
        },
        OrderSearch {
            tax_id: Some(CPFS[1].into()),
            ..Default::default()
        },
        OrderSearch {
            tax_id: Some(CPFS[2].into()),
            from_ms: Some(day(3)),
            until_ms: Some(day(9)),
            status: Some(OrderStatus::PendingPayment),
            ..Default::default()
        },
        OrderSearch {
            customer: Some("customer-3".into()),
            ..Default::default()
        },
        OrderSearch {
            method: Some(PaymentMethod::Card),
            from_ms: Some(day(2)),
            until_ms: Some(day(12)),
            ..Default::default()
        },
        OrderSearch {
            min_total: Some(3_000),
            max_total: Some(5_000),
            ..Default::default()
        },
        OrderSearch {
            status: Some(OrderStatus::Cancelled),
            ..Default::default()
        },
        OrderSearch {
            from_ms: Some(day(5)),
            until_ms: Some(day(6)),
            ..Default::default()
        },
    ];
    for search in &searches {
        let mut expected: Vec<&Order> = orders.iter().filter(|o| search.matches(o)).collect();
        match search.driver() {
            Driver::Total => {
                expected.sort_by_key(|o| std::cmp::Reverse((o.total.centavos(), o.id.clone())))
            }
            _ => expected.sort_by_key(|o| std::cmp::Reverse(o.id.clone())),
        }
        let expected: Vec<String> = expected.iter().map(|o| o.id.clone()).collect();
        assert!(!expected.is_empty(), "{search:?} finds something");
        let walked = orders
            .iter()
            .filter(|o| search.driver_filter().matches(o))
            .count();
        for limit in [1, 4, 100] {
            let (found, most) = walk_orders(&counting, search, limit).await;
            assert_eq!(found, expected, "{search:?} in pages of {limit}");
            // No page reads past its index range: an entry and an order for each order in it,
            // and a look past the end.
            let bound = 2 * walked + 2;
            assert!(
                most <= bound,
                "{search:?}: a page of {limit} read {most} items; its index range holds {walked}"
            );
            // A narrow search reads less than the orders alone (a scan reads them and their
            // entries).
            if walked < N / 2 {
                assert!(
                    most < N,
                    "{search:?} read {most} items of {N} orders: a scan"
                );
            }
        }
    }
}

/// Which of the customers (by number) a query should find.
type Wanted<'a> = Box<dyn Fn(usize) -> bool + 'a>;

fn a_customer(i: usize) -> (String, String, String, Option<String>, Option<String>) {
    const FIRST: [&str; 5] = ["Ana", "Beatriz", "Carlos", "Anália", "João"];
    const LAST: [&str; 4] = ["Souza", "Lima", "da Silva", "Santos"];
    let name = format!("{} {}", FIRST[i % 5], LAST[i % 4]);
    const MAILBOX: [&str; 5] = ["ana", "bia", "carlos", "analia", "joao"];
    let email = format!("{}{i}@example.com", MAILBOX[i % 5]);
    let tax = i.is_multiple_of(3).then(|| CPFS[0].to_owned());
    let phone = i.is_multiple_of(2).then(|| format!("119876{i:05}"));
    (format!("sub-{i:03}"), name, email, tax, phone)
}

/// 40 customers: each query's pages hold exactly the customers a direct check of all 40 finds,
/// each once, in the index's order; a query reads the entries of its prefix (and, with several
/// words, the profiles they name), never the 40.
pub async fn customer_search_reads_one_prefix_and_the_profiles_it_needs(table: Arc<dyn Table>) {
    const N: usize = 40;
    let people: Vec<_> = (0..N).map(a_customer).collect();
    let mut items = Vec::new();
    for (i, (sub, name, email, tax, phone)) in people.iter().enumerate() {
        let facts = CustomerFacts {
            sub,
            name,
            email,
            tax_id: tax.as_deref(),
            phone: phone.as_deref(),
            created_ms: START_MS + i as i64,
        };
        items.extend(customer_index::entries(&facts));
        items.push(
            Item::new(profile(sub)).with(DATA, serde_json::json!({ "name": name }).to_string()),
        );
    }
    put_all(&table, items).await;
    let counting = CountingTable::new(table.clone());
    let words_of = |name: &str| customer_index::words(name);
    let cases: Vec<(&str, Wanted<'_>)> = vec![
        ("", Box::new(|_| true)),
        (
            "ana",
            Box::new(|i| words_of(&people[i].1).iter().any(|w| w.starts_with("ana"))),
        ),
        (
            "ana san",
            Box::new(|i| {
                let w = words_of(&people[i].1);
                w.iter().any(|w| w.starts_with("ana")) && w.iter().any(|w| w.starts_with("san"))
            }),
        ),
        ("beatriz1", Box::new(|_| false)),
        ("Joao4@", Box::new(|i| people[i].2.starts_with("joao4@"))),
        (
            "529.982",
            Box::new(|i| {
                people[i]
                    .3
                    .as_deref()
                    .is_some_and(|t| t.starts_with("529982"))
            }),
        ),
        (
            "(11) 98760-001",
            Box::new(|i| {
                people[i]
                    .4
                    .as_deref()
                    .is_some_and(|p| p.starts_with("1198760001"))
            }),
        ),
    ];
    for (text, wanted) in &cases {
        let query = CustomerQuery::from_text(text);
        let mut expected: Vec<String> = (0..N)
            .filter(|i| wanted(*i))
            .map(|i| people[i].0.clone())
            .collect();
        expected.sort();
        let multi_word = matches!(&query, CustomerQuery::Words(w) if w.len() > 1);
        // What the walk follows: the prefix of its one term (the longest word).
        let walked = match &query {
            CustomerQuery::All => N,
            CustomerQuery::Words(w) => {
                let longest = w
                    .iter()
                    .max_by_key(|w| w.len())
                    .cloned()
                    .unwrap_or_default();
                (0..N)
                    .filter(|i| {
                        words_of(&people[*i].1)
                            .iter()
                            .any(|x| x.starts_with(&longest))
                    })
                    .count()
            }
            _ => expected.len(),
        };
        for limit in [1, 3, 100] {
            let mut found = Vec::new();
            let mut after: Option<String> = None;
            let mut most = 0;
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(pages < 200, "{text:?} does not end");
                counting.take();
                let hits = customer_index::search(&counting, &query, limit, after.as_deref())
                    .await
                    .expect("search");
                most = most.max(counting.take());
                assert!(hits.subs.len() <= limit);
                found.extend(hits.subs);
                match hits.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            if matches!(query, CustomerQuery::All) {
                let newest_first: Vec<String> = people.iter().rev().map(|p| p.0.clone()).collect();
                assert_eq!(found, newest_first, "{text:?} in pages of {limit}");
            } else {
                let mut sorted = found.clone();
                sorted.sort();
                sorted.dedup();
                assert_eq!(sorted.len(), found.len(), "{text:?}: a customer twice");
                assert_eq!(sorted, expected, "{text:?} in pages of {limit}");
            }
            // No page reads past its prefix: each entry in it (and the profile it names, with
            // several words), and a look past the end.
            let per = if multi_word { 2 } else { 1 };
            let bound = per * walked + 2;
            assert!(
                most <= bound,
                "{text:?}: a page of {limit} read {most} (bound {bound})"
            );
            if walked < N / 2 {
                assert!(
                    most < N,
                    "{text:?} read {most} items for {N} customers: a scan"
                );
            }
        }
    }
}
