//! Browsing from listing entries: every page of every order and filter holds exactly what a
//! direct reading of the catalog says, a page costs reads in proportion to the page and not to
//! the catalog, an edit moves its product at once, and checkout prices from the table.

use std::collections::HashMap;
use std::sync::Arc;

use vitrine_app::catalog::{ProductQuery, ProductSort};
use vitrine_domain::Money;
use vitrine_domain::catalog::{Category, Product, ProductDraft, Slug};
use vitrine_testkit::counting_table::CountingTable;

use crate::world::World;

fn draft(name: &str, sku: &str, centavos: i64, category: Option<&Category>) -> ProductDraft {
    ProductDraft {
        slug: None,
        name: name.to_owned(),
        description: "Para os testes de listagem.".into(),
        category_id: category.map(|c| c.id.clone()),
        images: vec![],
        variants: vec![crate::world::variant(sku, centavos)],
        active: true,
    }
}

/// A catalog of `n` products over a tree (roupas > camisetas, roupas > calças, casa) and none,
/// with prices that repeat (so ties are broken by id) and every fifth product inactive.
async fn catalog(w: &World, n: usize) -> (Vec<Category>, Vec<Product>) {
    w.catalog_of(n, |i, category| {
        let mut d = draft(
            &format!("Produto {:03}", (i * 37) % n),
            &format!("L-{i}"),
            1_000 + ((i * 7) % 13) as i64 * 250,
            category,
        );
        d.active = i % 5 != 3;
        d
    })
    .await
}

/// Every page of `q`, followed to the end.
async fn every_page(w: &World, mut q: ProductQuery) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..1_000 {
        let page = w.app.list_products(&q).await.unwrap();
        assert!(page.items.len() <= q.limit);
        ids.extend(page.items.iter().map(|p| p.id.clone()));
        match page.next {
            Some(next) => q.after = Some(next),
            None => return ids,
        }
    }
    panic!("the pages never ended");
}

/// What `q` should list, read directly from the products.
fn expected(products: &[Product], cats: &[Category], q: &ProductQuery) -> Vec<String> {
    let within: Option<Vec<String>> = q
        .category
        .as_ref()
        .map(|c| vitrine_domain::catalog::category_with_descendants(cats, c));
    let mut hits: Vec<&Product> = products
        .iter()
        .filter(|p| q.include_inactive || p.active)
        .filter(|p| match &within {
            Some(ids) => p.category_id.as_ref().is_some_and(|c| ids.contains(c)),
            None => true,
        })
        .filter(|p| q.min_price.is_none_or(|m| p.price_from() >= m))
        .filter(|p| q.max_price.is_none_or(|m| p.price_from() <= m))
        .collect();
    match q.sort {
        ProductSort::Newest | ProductSort::Relevance => hits.sort_by(|a, b| b.id.cmp(&a.id)),
        ProductSort::PriceAsc => hits.sort_by_key(|p| (p.price_from(), p.id.clone())),
        ProductSort::PriceDesc => {
            hits.sort_by_key(|p| (p.price_from(), p.id.clone()));
            hits.reverse();
        }
        ProductSort::Name => {
            hits.sort_by_key(|p| (vitrine_app::catalog::fold(&p.name), p.id.clone()))
        }
    }
    hits.into_iter().map(|p| p.id.clone()).collect()
}

#[tokio::test]
async fn every_order_and_filter_pages_through_exactly_what_the_catalog_holds() {
    let w = World::new();
    let (cats, products) = catalog(&w, 120).await;
    let sorts = [
        ProductSort::Newest,
        ProductSort::PriceAsc,
        ProductSort::PriceDesc,
        ProductSort::Name,
    ];
    let categories = [
        None,
        Some(cats[0].id.clone()),
        Some(cats[1].id.clone()),
        Some(cats[3].id.clone()),
    ];
    let prices = [
        (None, None),
        (Some(1_500), None),
        (None, Some(2_000)),
        (Some(1_250), Some(2_500)),
    ];
    let mut checked = 0;
    for sort in sorts {
        for category in &categories {
            for (min, max) in prices {
                for include_inactive in [false, true] {
                    let q = ProductQuery {
                        category: category.clone(),
                        min_price: min.map(Money::from_centavos),
                        max_price: max.map(Money::from_centavos),
                        sort,
                        limit: 7,
                        include_inactive,
                        ..Default::default()
                    };
                    let want = expected(&products, &cats, &q);
                    assert_eq!(every_page(&w, q.clone()).await, want, "{q:?}");
                    checked += want.len();
                }
            }
        }
    }
    assert!(checked > 2_000, "the cases listed little: {checked}");
}

#[tokio::test]
async fn a_page_reads_what_it_shows_not_the_catalog() {
    let counting: Arc<std::sync::Mutex<Option<Arc<CountingTable>>>> = Default::default();
    let slot = counting.clone();
    let w = World::on_table(move |inner| {
        let t = Arc::new(CountingTable::new(inner));
        *slot.lock().unwrap() = Some(t.clone());
        t
    });
    let table = counting.lock().unwrap().clone().unwrap();
    let (cats, _) = catalog(&w, 300).await;
    w.app.categories().await.unwrap();
    for (category, partitions) in [(None, 1), (Some(cats[0].id.clone()), 3)] {
        for sort in [
            ProductSort::Newest,
            ProductSort::PriceAsc,
            ProductSort::Name,
        ] {
            table.take();
            let page = w
                .app
                .list_products(&ProductQuery {
                    category: category.clone(),
                    sort,
                    limit: 12,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(page.items.len(), 12);
            let read = table.take();
            // Each merged partition reads at most a page and two entries (the cursor's and one
            // more), and the page's 12 products are read once.
            assert!(
                read <= partitions * 14 + 12,
                "{read} items read for a page of 12 from {partitions} partitions ({sort:?})"
            );
        }
    }
}

#[tokio::test]
async fn an_edit_moves_its_product_in_every_listing_at_once() {
    let w = World::new();
    let (cats, products) = catalog(&w, 20).await;
    let first = |q: ProductQuery| {
        let app = w.app.clone();
        async move { app.list_products(&q).await.unwrap().items }
    };
    let cheapest = ProductQuery {
        sort: ProductSort::PriceAsc,
        limit: 1,
        ..Default::default()
    };
    let p = products
        .iter()
        .find(|p| p.active && p.category_id.as_deref() == Some(&cats[1].id))
        .unwrap();
    let mut d = draft(&p.name, p.variants[0].sku.as_str(), 1, Some(&cats[3]));
    d.slug = Some(p.slug.clone());
    let edited = w
        .app
        .update_product(&p.id, d, p.version, &HashMap::new())
        .await
        .unwrap();
    assert_eq!(
        first(cheapest.clone()).await[0].id,
        p.id,
        "the new price orders it first"
    );
    assert_eq!(
        first(cheapest.clone()).await[0].price_from(),
        Money::from_centavos(1)
    );
    let in_category = |c: &Category| ProductQuery {
        category: Some(c.id.clone()),
        limit: 100,
        ..Default::default()
    };
    assert!(
        !first(in_category(&cats[0]))
            .await
            .iter()
            .any(|x| x.id == p.id),
        "left roupas"
    );
    assert!(
        first(in_category(&cats[3]))
            .await
            .iter()
            .any(|x| x.id == p.id),
        "now in casa"
    );
    // Deactivated: gone from the storefront, still the admin's.
    let mut d = draft(&p.name, p.variants[0].sku.as_str(), 1, Some(&cats[3]));
    d.active = false;
    w.app
        .update_product(&p.id, d, edited.version, &HashMap::new())
        .await
        .unwrap();
    assert_ne!(first(cheapest.clone()).await[0].id, p.id);
    let admin = ProductQuery {
        include_inactive: true,
        ..cheapest
    };
    assert_eq!(first(admin).await[0].id, p.id);
}

/// Delete every listing entry and the mark that they were built, as in a table written by a
/// version from before them.
async fn forget_the_entries(w: &World) {
    use vitrine_app::ports::Key;
    let mut partitions = vec!["LIST#PUB#*".to_owned(), "LIST#ALL#*".to_owned()];
    for c in w.app.categories().await.unwrap().iter() {
        partitions.push(format!("LIST#PUB#C#{}", c.id));
        partitions.push(format!("LIST#ALL#C#{}", c.id));
    }
    w.forget(&partitions, &[Key::new("LISTINGS", "LISTINGS")])
        .await;
}

#[tokio::test]
async fn a_catalog_from_before_the_entries_gets_them_once() {
    let w = World::new();
    let (cats, products) = catalog(&w, 45).await;
    // As a table written by an older version: the products, no entries, no mark.
    forget_the_entries(&w).await;
    let all = ProductQuery {
        limit: 100,
        include_inactive: true,
        ..Default::default()
    };
    assert!(w.app.list_products(&all).await.unwrap().items.is_empty());
    let seen = std::sync::Mutex::new(Vec::new());
    let built = w
        .app
        .ensure_listings(&|n| seen.lock().unwrap().push(n))
        .await
        .unwrap();
    assert_eq!(built, 45);
    assert_eq!(seen.into_inner().unwrap().last(), Some(&45));
    assert_eq!(
        every_page(
            &w,
            ProductQuery {
                limit: 10,
                ..Default::default()
            }
        )
        .await,
        expected(&products, &cats, &ProductQuery::default())
    );
    assert_eq!(w.app.ensure_listings(&|_| {}).await.unwrap(), 0, "once");
}

#[tokio::test]
async fn checkout_prices_from_the_table_whatever_another_process_has_cached() {
    let w = World::new();
    let p = w.product("camiseta", "CAM-1", 10).await;
    let buyer = w.customer("ana@example.com").await;
    // This process has the product in its cache (a product page was seen).
    w.app.product(&p.id, false).await.unwrap();
    // Another instance changes the price.
    let other = w.other_process();
    let mut d = draft(&p.name, "CAM-1", 4_200, None);
    d.slug = Some(Slug::parse("camiseta").unwrap());
    other
        .update_product(&p.id, d, p.version, &HashMap::new())
        .await
        .unwrap();
    let placed = w
        .place(&buyer, "CAM-1", 2, "price-from-table")
        .await
        .unwrap();
    assert_eq!(
        placed.order.lines[0].unit_price,
        Money::from_centavos(4_200)
    );
}
