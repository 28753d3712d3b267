//! Browsing over HTTP: filters, text search, sort, cursor pagination, product pages, categories,
//! shipping quotes, and catalog edits showing up at once.

mod common;

use std::sync::Arc;

use common::{TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::catalog::{ProductQuery, ProductSort};
use vitrine_app::{App, Settings};
use vitrine_testkit::counting_table::CountingTable;
use vitrine_testkit::moto::Recording;

async fn all_pages(t: &TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..50 {
        let mut path = format!("/api/v1/products?{query}");
        if let Some(a) = &after {
            path.push_str(&format!("&after={a}"));
        }
        let res = t.get(&path, None).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        out.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn pages_cover_every_product_once_in_every_sort_order() {
    let t = TestApp::spawn().await;
    let everything = all_pages(&t, "limit=100").await;
    assert_eq!(everything.len(), 12);
    for sort in ["newest", "price_asc", "price_desc", "name"] {
        let paged = all_pages(&t, &format!("limit=5&sort={sort}")).await;
        let ids: Vec<&str> = paged.iter().map(|p| p["id"].as_str().unwrap()).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 12, "{sort}: every product exactly once");
        let prices: Vec<i64> = paged
            .iter()
            .map(|p| p["price_from_centavos"].as_i64().unwrap())
            .collect();
        match sort {
            "price_asc" => assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}"),
            "price_desc" => assert!(prices.windows(2).all(|w| w[0] >= w[1]), "{prices:?}"),
            _ => {}
        }
    }
    t.stop().await;
}

#[tokio::test]
async fn filters_by_category_price_and_text_with_accents_ignored() {
    let t = TestApp::spawn().await;
    // "roupas" includes its subcategories (camisetas, calças): 5 products.
    assert_eq!(all_pages(&t, "category=roupas").await.len(), 5);
    assert_eq!(all_pages(&t, "category=camisetas").await.len(), 3);
    let cheap = all_pages(&t, "max_price_centavos=5000").await;
    assert!(
        cheap
            .iter()
            .all(|p| p["price_from_centavos"].as_i64().unwrap() <= 5000)
    );
    assert!(!cheap.is_empty());
    let found = all_pages(&t, "q=CALCA").await;
    assert_eq!(found.len(), 2, "accent- and case-insensitive: Calça");
    let found = all_pages(&t, "q=cafe%20torrado").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["slug"], "vela-aromatica-cafe");
    assert!(all_pages(&t, "q=inexistente").await.is_empty());
    t.stop().await;
}

#[tokio::test]
async fn a_search_finds_other_forms_and_a_typo_and_counts_its_facets() {
    let t = TestApp::spawn().await;
    let search = |q: &'static str| {
        let t = &t;
        async move {
            let res = t.get(&format!("/api/v1/products?{q}"), None).await;
            assert_eq!(res.status(), 200, "{q}");
            res.json::<Value>().await.unwrap()
        }
    };
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    // The demo catalog: "Caneca de Cerâmica Artesanal", three "Camiseta …".
    assert_eq!(
        names(&search("q=canecas").await),
        ["Caneca de Cerâmica Artesanal"]
    );
    let shirts = search("q=camisteta&limit=2").await;
    assert_eq!(shirts["total"], 3);
    assert_eq!(names(&shirts).len(), 2);
    assert!(shirts["next"].is_string());
    // Facets count all three, not the page's two; a department counts its sections.
    let categories = shirts["facets"]["categories"].as_array().unwrap();
    let count = |slug: &str| {
        categories
            .iter()
            .find(|c| c["slug"] == slug)
            .map(|c| c["count"].as_i64().unwrap())
    };
    assert_eq!((count("camisetas"), count("roupas")), (Some(3), Some(3)));
    let prices: i64 = shirts["facets"]["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(prices, 3);
    let sizes = shirts["facets"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "tamanho")
        .expect("a size facet");
    let gg = sizes["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["key"] == "gg")
        .expect("GG")["count"]
        .as_i64()
        .unwrap();
    let narrowed = search("q=camiseta&options=tamanho:gg;tamanho:xg").await;
    assert_eq!(narrowed["total"].as_i64(), Some(gg));
    assert!(gg < 3, "the filter narrows");
    // Without words a listing has no total or facets.
    let listing = search("category=camisetas").await;
    assert!(listing.get("total").is_none() && listing.get("facets").is_none());
    for bad in [
        "options=tamanho:gg",
        "q=camiseta&options=tamanho",
        "q=camiseta&sort=popular",
    ] {
        let res = t.get(&format!("/api/v1/products?{bad}"), None).await;
        let p = problem(res, 422).await;
        assert!(p["errors"].is_array(), "{bad}: {p}");
    }
    t.stop().await;
}

/// Another instance on the same table (a warm Lambda, a second server) hears of a catalog edit
/// through the change feed: its search index re-reads the product that changed, not the
/// catalog. On the AWS backend the emulator's own recorder shows the requests.
#[tokio::test]
async fn another_instance_learns_of_an_edit_by_reading_only_what_changed() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    for i in 0..48 {
        t.product(&admin, &format!("extra-{i}"), &[(&format!("EXTRA-{i}"), 1)])
            .await;
    }
    // The other instance reads the feed when its last read is a second old.
    let mut ports = t.app.ports.clone();
    let counting = Arc::new(CountingTable::new(ports.table.clone()));
    ports.table = counting.clone();
    let other = App::new(
        ports,
        Settings {
            catalog_cache_secs: 1,
            ..t.app.settings.clone()
        },
    );
    let total = |text: &'static str| {
        let other = other.clone();
        async move {
            let q = ProductQuery {
                text: Some(text.into()),
                sort: ProductSort::Relevance,
                limit: 20,
                ..Default::default()
            };
            other.search_products(&q).await.unwrap().total
        }
    };
    // Its first search builds its index: every product, once.
    assert_eq!(total("xilogravura").await, 0);
    let built = counting.take_partitions();
    let products = built.iter().filter(|pk| pk.starts_with("PRODUCT#")).count();
    assert!(products >= 60, "the build read {products} products");

    let mug: Value = t
        .get_json("/api/v1/products/caneca-de-ceramica-artesanal", None)
        .await;
    let id = mug["id"].as_str().unwrap();
    let current: Value = t
        .get_json(&format!("/api/v1/admin/products/{id}"), Some(&admin))
        .await;
    rename(&t, &admin, &current, "Xilogravura de cordel").await;

    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let recording = match &t.aws_table {
        Some(_) => Some(Recording::start().await),
        None => None,
    };
    counting.take();
    // The search that finds the last read old starts a catch-up in the background.
    let mut found = 0;
    for _ in 0..100 {
        found = total("xilogravuras").await;
        if found == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(found, 1, "the edit reached the other instance's index");
    let read = counting.take_partitions();
    let mut products: Vec<&String> = read
        .iter()
        .filter(|pk| pk.starts_with("PRODUCT#"))
        .collect();
    products.dedup();
    assert_eq!(
        products,
        [&format!("PRODUCT#{id}")],
        "the catch-up read {} items, in a catalog of 60",
        read.len()
    );

    if let (Some(recording), Some(table)) = (recording, &t.aws_table) {
        let requests = recording.requests(table).await;
        let catalog: Vec<_> = requests
            .iter()
            .filter(|r| {
                r.key_strings()
                    .iter()
                    .any(|k| k.starts_with("PRODUCT") || k.starts_with("CATCHANGES#"))
            })
            .collect();
        let summary: Vec<String> = catalog
            .iter()
            .map(|r| format!("{} {:?}", r.operation, r.key_strings()))
            .collect();
        // The feed (one query per hour it spans) and the changed product; never the catalog.
        assert!(
            catalog.iter().any(|r| r.operation == "Query"
                && r.key_strings().iter().any(|k| k.starts_with("CATCHANGES#"))),
            "{summary:#?}"
        );
        let products: Vec<String> = catalog
            .iter()
            .flat_map(|r| r.key_strings())
            .filter(|k| k.starts_with("PRODUCT#") || k == "PRODUCTS")
            .collect();
        assert!(
            !products.is_empty() && products.iter().all(|k| *k == format!("PRODUCT#{id}")),
            "{summary:#?}"
        );
        assert!(catalog.len() <= 4, "{summary:#?}");
        eprintln!(
            "the other instance's catch-up after one edit: {} requests to the emulator: {summary:?}",
            catalog.len()
        );
    }
    t.stop().await;
}

/// Save `product` (as the admin API reads it) under `name`, through the admin API.
async fn rename(t: &TestApp, admin: &str, product: &Value, name: &str) -> Value {
    let variants: Vec<Value> = product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| json!({ "sku": v["sku"], "price_centavos": v["price_centavos"] }))
        .collect();
    let res = t
        .req(
            Method::PUT,
            &format!("/api/v1/admin/products/{}", product["id"].as_str().unwrap()),
            Some(admin),
        )
        .header("if-match", format!("\"{}\"", product["version"]))
        .json(&json!({ "name": name, "variants": variants, "category_id": product["category_id"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A save through the admin reads the listing pages shoppers asked for most again before it
/// answers: the next shopper finds them cached, with the save in them, and waits for no read.
#[tokio::test]
async fn a_save_reads_the_most_asked_for_listing_pages_again_before_it_answers() {
    let counting: std::sync::Mutex<Option<Arc<CountingTable>>> = std::sync::Mutex::new(None);
    let t = TestApp::spawn_with(|store| {
        let mut ports = store.app.ports.clone();
        let table = Arc::new(CountingTable::new(ports.table.clone()));
        *counting.lock().unwrap() = Some(table.clone());
        ports.table = table;
        store.app = App::new(ports, store.app.settings.clone());
    })
    .await;
    let table = counting.lock().unwrap().clone().unwrap();
    let admin = t.admin("admin@loja.test").await;
    let mug: Value = t
        .get_json("/api/v1/products/caneca-de-ceramica-artesanal", None)
        .await;
    let id = mug["id"].as_str().unwrap();
    // Shoppers' pages: the first page of everything (often), of the mug's department (once).
    for _ in 0..3 {
        t.get_json("/api/v1/products?limit=20", None).await;
    }
    t.get_json("/api/v1/products?limit=20&category=casa", None)
        .await;
    let current = t
        .get_json(&format!("/api/v1/admin/products/{id}"), Some(&admin))
        .await;
    rename(&t, &admin, &current, "Caneca Esmaltada").await;
    table.take();
    for query in ["limit=20", "limit=20&category=casa"] {
        let page = t.get_json(&format!("/api/v1/products?{query}"), None).await;
        let shown = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("{query}: the mug is listed"));
        assert_eq!(shown["name"], "Caneca Esmaltada", "{query}");
    }
    assert_eq!(table.take(), 0, "both pages came from the cache");
    t.stop().await;
}

#[tokio::test]
async fn a_product_page_shows_live_stock_and_hostile_text_stays_text() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let hostile = "<img src=x onerror=alert(1)>";
    let res = t
        .post(
            "/api/v1/admin/products",
            Some(&admin),
            json!({ "slug": "hostil", "name": hostile, "description": "\"'<script>", "variants": [{ "sku": "HOST-1", "price_centavos": 100, "stock": 2 }] }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let page: Value = t
        .get("/api/v1/products/hostil", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["name"], hostile);
    assert_eq!(page["variants"][0]["available"], 2);
    // New products show up in listings at once (the catalog snapshot is invalidated).
    let listed = all_pages(&t, "q=onerror").await;
    assert_eq!(listed.len(), 1);

    let token = t.customer("x@example.com").await;
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(&token))
        .header("Idempotency-Key", "h")
        .json(&common::buy_now("HOST-1", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let page: Value = t
        .get("/api/v1/products/hostil", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["variants"][0]["available"], 0, "stock is never cached");
    t.stop().await;
}

#[tokio::test]
async fn inactive_products_are_hidden_from_shoppers_but_not_from_admins() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let res = t
        .post("/api/v1/admin/products", Some(&admin), json!({ "slug": "rascunho", "name": "Rascunho", "active": false, "variants": [{ "sku": "RAS-1", "price_centavos": 100 }] }))
        .await;
    assert_eq!(res.status(), 201);
    problem(t.get("/api/v1/products/rascunho", None).await, 404).await;
    assert!(all_pages(&t, "q=rascunho").await.is_empty());
    problem(
        t.post(
            "/api/v1/cart/items",
            None,
            json!({ "sku": "RAS-1", "quantity": 1 }),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        t.get("/api/v1/products/rascunho", Some(&admin))
            .await
            .status(),
        200
    );
    let admin_list: Value = t
        .get("/api/v1/admin/products?q=rascunho", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin_list["items"].as_array().unwrap().len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn categories_form_a_tree_and_quotes_price_by_cep_and_weight() {
    let t = TestApp::spawn().await;
    let tree: Value = t
        .get("/api/v1/categories", None)
        .await
        .json()
        .await
        .unwrap();
    let roupas = tree
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["slug"] == "roupas")
        .unwrap();
    assert_eq!(roupas["children"].as_array().unwrap().len(), 2);
    let sp: Value = t
        .get("/api/v1/shipping/quote?cep=01310-100&weight_g=800", None)
        .await
        .json()
        .await
        .unwrap();
    let far: Value = t
        .get("/api/v1/shipping/quote?cep=69005-000&weight_g=800", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sp[0]["method_id"], "pac");
    assert!(far[0]["price_centavos"].as_i64().unwrap() > sp[0]["price_centavos"].as_i64().unwrap());
    let heavy: Value = t
        .get("/api/v1/shipping/quote?cep=01310-100&weight_g=2500", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        heavy[0]["price_centavos"].as_i64().unwrap() > sp[0]["price_centavos"].as_i64().unwrap()
    );
    t.stop().await;
}
