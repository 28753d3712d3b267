//! Search with words through the app: facet counts equal a direct count of the catalog, a write
//! through this process is found at the next search, another process's after the index's
//! refresh, and pages follow each other to the total.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use vitrine_app::ports::{Clock, ManualClock};
use vitrine_app::search_published::{PREFIX, REOPEN_OVER, pointer};
use vitrine_app::{App, Settings};
use vitrine_domain::Timestamp;
use vitrine_testkit::counting_table::CountingTable;

use vitrine_app::catalog::{ProductQuery, ProductSort, SearchPage, fold};
use vitrine_domain::catalog::{Category, Product, ProductDraft, category_with_descendants};

use crate::world::World;

const NAMES: [&str; 4] = ["Camiseta", "Caneca", "Mochila", "Vela"];
const COLOURS: [&str; 3] = ["Azul", "Verde", "Preta"];
const SIZES: [&str; 3] = ["P", "M", "G"];

fn draft(i: usize, category: Option<&Category>) -> ProductDraft {
    let mut variants = Vec::new();
    for k in 0..=(i % 2) {
        let mut v =
            crate::world::variant(&format!("S-{i}-{k}"), 2_000 + ((i * 3_331) % 60_000) as i64);
        v.options = BTreeMap::from([
            ("Cor".to_owned(), COLOURS[(i + k) % 3].to_owned()),
            ("Tamanho".to_owned(), SIZES[(i / 3 + k) % 3].to_owned()),
        ]);
        variants.push(v);
    }
    ProductDraft {
        slug: None,
        name: format!("{} número {i}", NAMES[i % 4]),
        description: "Feita à mão no Brasil.".into(),
        category_id: category.map(|c| c.id.clone()),
        images: vec![],
        variants,
        active: i % 7 != 6,
    }
}

async fn catalog(w: &World, n: usize) -> (Vec<Category>, Vec<Product>) {
    w.catalog_of(n, draft).await
}

fn search(text: &str) -> ProductQuery {
    ProductQuery {
        text: Some(text.into()),
        sort: ProductSort::Relevance,
        limit: 100,
        ..Default::default()
    }
}

/// A search's total, counts per category and counts per (option name, value).
type Counts = (usize, Vec<(String, u64)>, BTreeMap<(String, String), u64>);

/// The facets a search for `word` (a whole word of the names) should count, read from the
/// products themselves.
fn direct(products: &[Product], cats: &[Category], word: &str, colour: Option<&str>) -> Counts {
    let hits: Vec<&Product> = products
        .iter()
        .filter(|p| p.active)
        .filter(|p| fold(&p.name).split_whitespace().any(|w| w == word))
        .filter(|p| {
            colour.is_none_or(|c| {
                p.variants
                    .iter()
                    .any(|v| v.options.get("Cor").is_some_and(|x| fold(x) == c))
            })
        })
        .collect();
    let mut categories = Vec::new();
    for c in cats {
        let within = category_with_descendants(cats, &c.id);
        let n = hits
            .iter()
            .filter(|p| p.category_id.as_ref().is_some_and(|x| within.contains(x)))
            .count() as u64;
        if n > 0 {
            categories.push((c.id.clone(), n));
        }
    }
    let mut options = BTreeMap::new();
    for p in &hits {
        let values: std::collections::BTreeSet<(String, String)> = p
            .variants
            .iter()
            .flat_map(|v| v.options.iter().map(|(n, x)| (fold(n), fold(x))))
            .collect();
        for v in values {
            *options.entry(v).or_default() += 1;
        }
    }
    (hits.len(), categories, options)
}

fn counted(page: &SearchPage) -> Counts {
    let mut categories = page.facets.categories.clone();
    categories.sort();
    let mut options = BTreeMap::new();
    for o in &page.facets.options {
        for v in &o.values {
            options.insert((o.name.clone(), v.key.clone()), v.count);
        }
    }
    (page.total, categories, options)
}

#[tokio::test]
async fn facet_counts_equal_a_direct_count_of_the_catalog() {
    let w = World::new();
    let (cats, products) = catalog(&w, 160).await;
    let mut checked = 0;
    for (text, word) in [
        ("camisetas", "camiseta"),
        ("CANECA", "caneca"),
        ("mochilla", "mochila"),
    ] {
        for colour in [None, Some("azul")] {
            let mut q = search(text);
            if let Some(c) = colour {
                q.options = vec![("cor".into(), c.into())];
            }
            let page = w.app.search_products(&q).await.unwrap();
            let (total, mut categories, options) = direct(&products, &cats, word, colour);
            categories.sort();
            assert!(total > 5, "{text}: the case has results");
            assert_eq!(
                counted(&page),
                (total, categories, options),
                "{text} {colour:?}"
            );
            let prices: u64 = page.facets.prices.iter().map(|p| p.2).sum();
            assert_eq!(prices as usize, total, "every result is in one price range");
            assert_eq!(page.items.len(), total.min(100));
            checked += total;
        }
    }
    assert!(checked > 100);
}

#[tokio::test]
async fn pages_follow_each_other_to_the_total_in_the_order_asked() {
    let w = World::new();
    let (_, products) = catalog(&w, 90).await;
    let mut q = ProductQuery {
        limit: 7,
        sort: ProductSort::PriceAsc,
        ..search("camiseta")
    };
    let mut seen: Vec<std::sync::Arc<Product>> = Vec::new();
    let mut total = 0;
    for _ in 0..100 {
        let page = w.app.search_products(&q).await.unwrap();
        total = page.total;
        seen.extend(page.items);
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
    let expected = products
        .iter()
        .filter(|p| p.active && p.name.starts_with("Camiseta"))
        .count();
    assert_eq!((seen.len(), total), (expected, expected));
    assert!(
        seen.windows(2)
            .all(|w| w[0].price_from() <= w[1].price_from())
    );
    // A cursor of another order is refused.
    q.sort = ProductSort::Name;
    assert!(w.app.search_products(&q).await.is_err());
}

/// How many products a search for `text` finds through `w`'s app.
async fn total(w: &World, text: &str) -> usize {
    w.app.search_products(&search(text)).await.unwrap().total
}

#[tokio::test]
async fn a_write_through_this_process_is_found_at_the_next_search() {
    let w = World::new();
    let p = w.product("caneca-azul", "CAN-1", 5).await;
    assert_eq!(total(&w, "caneca").await, 1);
    let mut d = draft(1, None);
    d.name = "Xícara de porcelana".into();
    d.variants = p.variants.clone();
    w.app
        .update_product(&p.id, d, p.version, &HashMap::new())
        .await
        .unwrap();
    assert_eq!(total(&w, "caneca").await, 0);
    let found = w.app.search_products(&search("xicaras")).await.unwrap();
    assert_eq!(found.items[0].id, p.id);
}

/// Search `w` for `text` until it finds `n` products (a refresh runs in the background), at
/// most two seconds.
async fn until_found(w: &World, text: &str, n: usize) {
    until_found_by(&w.app, text, n).await;
}

/// The products read, each once, among partitions read (the search that finds a product reads
/// it too, to show it).
fn products_in(partitions: &[String]) -> Vec<String> {
    let mut products: Vec<String> = partitions
        .iter()
        .filter(|pk| pk.starts_with("PRODUCT#"))
        .cloned()
        .collect();
    products.sort();
    products.dedup();
    products
}

/// A world whose table counts what is read from it.
fn counted_world() -> (World, Arc<CountingTable>) {
    let counting: Arc<Mutex<Option<Arc<CountingTable>>>> = Default::default();
    let slot = counting.clone();
    let w = World::on_table(move |inner| {
        let t = Arc::new(CountingTable::new(inner));
        *slot.lock().unwrap() = Some(t.clone());
        t
    });
    let table = counting.lock().unwrap().clone().unwrap();
    (w, table)
}

#[tokio::test]
async fn another_process_write_reaches_the_index_through_the_change_feed() {
    let (w, table) = counted_world();
    // More products than one page of the build (500): a rebuild would read them all.
    catalog(&w, 620).await;
    // The catalog's changes are in the feed's overlap when the index is built: the build, which
    // read them, marks them applied.
    assert_eq!(total(&w, "xicara").await, 0);
    let other = w.other_process();
    let mut d = draft(1003, None);
    d.name = "Xícara de porcelana".into();
    let stock = d.variants.iter().map(|v| (v.sku.clone(), 3)).collect();
    let made = other.create_product(d, &stock).await.unwrap();
    // Not yet: this process's index read the feed less than `catalog_cache_secs` ago.
    assert_eq!(total(&w, "xicara").await, 0);
    w.clock.advance_secs(w.app.settings.catalog_cache_secs + 1);
    table.take();
    // The search that finds the index old starts a catch-up and answers from the index as it is.
    until_found(&w, "xicaras", 1).await;
    let read = table.take_partitions();
    assert_eq!(
        products_in(&read),
        [format!("PRODUCT#{}", made.id)],
        "one change in a catalog of 620: {} items read",
        read.len()
    );
    // Beside it, the feed's items: this change and the catalog's, made within its overlap.
    assert!(read.len() <= 620 + 1 + 10, "{}", read.len());

    // A write whose clock lags this process's by 20 s (inside the feed's overlap) is found too,
    // and the changes already applied are not read again.
    let mut lagging = w.ports.clone();
    lagging.clock = Arc::new(ManualClock::new(Timestamp::from_millis(
        w.clock.now().millis() - 20_000,
    )));
    let late = App::new(lagging, Settings::default());
    let mut d = draft(1005, None);
    d.name = "Xícara esmaltada".into();
    let stock = d.variants.iter().map(|v| (v.sku.clone(), 3)).collect();
    let later = late.create_product(d, &stock).await.unwrap();
    w.clock.advance_secs(w.app.settings.catalog_cache_secs + 1);
    table.take();
    until_found(&w, "xicaras", 2).await;
    // The product found before is read to be shown; the new one to be indexed.
    let read = products_in(&table.take_partitions());
    assert!(read.contains(&format!("PRODUCT#{}", later.id)), "{read:?}");
    assert!(read.len() <= 2, "{read:?}");

    // An index further behind than the feed keeps is rebuilt from the catalog.
    other
        .update_product(
            &made.id,
            ProductDraft {
                name: "Caneca de porcelana".into(),
                ..draft(1003, None)
            },
            made.version,
            &HashMap::new(),
        )
        .await
        .unwrap();
    w.clock.advance_secs(3 * 24 * 3_600);
    table.take();
    until_found(&w, "xicaras", 1).await;
    assert!(
        products_in(&table.take_partitions()).len() >= 620,
        "a rebuild reads every product, and the edit is in it"
    );
}

/// The products `app` finds for `text`, asking for a page of one (a search reads the products
/// of its page to show them).
async fn total_of(app: &App, text: &str) -> usize {
    let q = ProductQuery {
        limit: 1,
        ..search(text)
    };
    app.search_products(&q).await.unwrap().total
}

/// A process that opens the published index (an api instance on AWS) searches without reading
/// the catalog, keeps up with a few changes through the feed, and opens the newer published
/// index when more products changed than it would read one by one.
#[tokio::test]
async fn a_reader_opens_the_published_index_instead_of_reading_the_catalog() {
    let (w, table) = counted_world();
    catalog(&w, 620).await;
    let publisher = w.other_process();
    let first = publisher.publish_search_index().await.unwrap();
    assert!(first.built && first.stored, "{first:?}");
    assert_eq!(first.products, 620);
    // Nothing changed since: nothing is stored again.
    let again = publisher.publish_search_index().await.unwrap();
    assert!(!again.stored && !again.built, "{again:?}");
    assert_eq!(again.version, first.version);

    // Left alone for an hour, a run moves the pointer's position on (same version): a catalog
    // nobody edits for days is not taken for one beyond the feed.
    w.clock.advance_secs(3_600);
    let quiet = publisher.publish_search_index().await.unwrap();
    assert_eq!(
        (quiet.version.as_str(), quiet.stored),
        (first.version.as_str(), false)
    );
    let moved = pointer(&*w.ports.blobs).await.unwrap().unwrap();
    assert_eq!(moved.read_to_ms, w.clock.now().millis());
    assert_eq!(moved.version, first.version);

    let reader = w.other_process();
    reader.open_published_search_index();
    table.take();
    assert_eq!(total_of(&reader, "xilogravura").await, 0);
    assert_eq!(
        products_in(&table.take_partitions()),
        Vec::<String>::new(),
        "the reader opened the published index: no product read"
    );
    // It answers as an index built from the catalog does.
    for word in ["camisetas", "canecas", "mochila", "velas"] {
        let ours = reader.search_products(&search(word)).await.unwrap();
        let built = w.app.search_products(&search(word)).await.unwrap();
        assert_eq!(ours.total, built.total, "{word}");
        assert_eq!(ours.facets, built.facets, "{word}");
    }

    // A change made elsewhere reaches it through the feed: that product is read, no other.
    let other = w.other_process();
    let mut d = draft(2001, None);
    d.name = "Xícara de porcelana".into();
    d.active = true;
    let stock = d.variants.iter().map(|v| (v.sku.clone(), 3)).collect();
    let made = other.create_product(d, &stock).await.unwrap();
    w.clock.advance_secs(w.app.settings.catalog_cache_secs + 1);
    table.take();
    until_found_by(&reader, "xicaras", 1).await;
    assert_eq!(
        products_in(&table.take_partitions()),
        [format!("PRODUCT#{}", made.id)]
    );

    // Many changes: the publisher stores a new version, and the reader opens it rather than
    // read each changed product.
    for i in 0..=REOPEN_OVER {
        let mut d = draft(3000 + i, None);
        d.name = format!("Lanterna número {i}");
        d.active = true;
        let stock = d.variants.iter().map(|v| (v.sku.clone(), 3)).collect();
        other.create_product(d, &stock).await.unwrap();
    }
    w.clock.advance_secs(1);
    let second = publisher.publish_search_index().await.unwrap();
    assert!(second.stored && !second.built, "{second:?}");
    assert_eq!(second.changed, REOPEN_OVER + 2, "the lanterns and the cup");
    assert_eq!(second.products, 620 + 2 + REOPEN_OVER as u64);
    // This version and the one before it are kept, with the pointer.
    assert_eq!(w.blobs_under(PREFIX).await, 3);
    w.clock.advance_secs(w.app.settings.catalog_cache_secs + 1);
    table.take();
    until_found_by(&reader, "lanternas", REOPEN_OVER + 1).await;
    let read = products_in(&table.take_partitions());
    assert!(
        read.len() <= 2,
        "opened, not read one by one: {} read",
        read.len()
    );

    // A third version deletes the first.
    w.clock.advance_secs(1);
    let mut d = draft(4001, None);
    d.name = "Lanterna solar".into();
    d.active = true;
    let stock = d.variants.iter().map(|v| (v.sku.clone(), 3)).collect();
    other.create_product(d, &stock).await.unwrap();
    let third = publisher.publish_search_index().await.unwrap();
    assert_eq!((third.changed, third.stored), (1, true));
    assert_eq!(w.blobs_under(PREFIX).await, 3);
    assert_eq!(
        w.blobs_ending(PREFIX, &format!("{}.idx", first.version))
            .await,
        0
    );
}

/// Search `app` for `text` until it finds `n` products, at most two seconds.
async fn until_found_by(app: &App, text: &str, n: usize) {
    let mut found = 0;
    for _ in 0..200 {
        found = total_of(app, text).await;
        if found == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{text}: found {found}, not {n}");
}
