//! The pages rendered on the server (`/produto/{slug}`, `/categoria/{slug}`, `/`) and what
//! search engines read (`sitemap.xml`, `robots.txt`), over HTTP on the real server: head tags,
//! schema.org JSON-LD with live stock, escaping of catalog text, 404s, and a sitemap that lists
//! every active product, in one file or in parts. The sitemap's validity against the sitemaps.org
//! schema and reading a page with scripts off are checked in the browser tests
//! (`e2e/pages.test.js`).

mod common;

use std::collections::BTreeSet;

use common::{TestApp, test_config};
use reqwest::Method;
use serde_json::{Value, json};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

/// The JSON-LD blocks of a page.
fn json_ld(html: &str) -> Vec<Value> {
    const OPEN: &str = "<script type=\"application/ld+json\">";
    html.split(OPEN)
        .skip(1)
        .map(|rest| {
            let end = rest.find("</script>").expect("a closed script element");
            serde_json::from_str(&rest[..end]).expect("JSON-LD is JSON")
        })
        .collect()
}

fn of_type<'a>(blocks: &'a [Value], kind: &str) -> &'a Value {
    blocks
        .iter()
        .find(|b| b["@type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {blocks:?}"))
}

/// The text between `open` and the next `close` after it.
fn between<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    let start = html
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in {html}"))
        + open.len();
    let end = html[start..].find(close).unwrap() + start;
    &html[start..end]
}

async fn page(t: &TestApp, path: &str) -> (u16, String) {
    let res = t.get(path, None).await;
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn a_product_page_carries_its_head_and_json_ld_with_live_stock() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let product = t
        .product(&admin, "caneca-de-barro", &[("BARRO-P", 0), ("BARRO-G", 0)])
        .await;
    let id = product["id"].as_str().unwrap();

    let res = t.get("/produto/caneca-de-barro", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=0, s-maxage=60"
    );
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = res.text().await.unwrap();
    let canonical = t.url("/produto/caneca-de-barro");
    assert_eq!(
        between(&html, "<title>", "</title>"),
        "Produto caneca-de-barro — vitrine"
    );
    assert!(html.contains(&format!("<link rel=\"canonical\" href=\"{canonical}\">")));
    assert!(html.contains("<meta property=\"og:type\" content=\"product\">"));
    assert!(html.contains(&format!(
        "<meta property=\"og:url\" content=\"{canonical}\">"
    )));
    // The storefront's scripts come with it, to take the page over.
    assert!(html.contains("<script type=\"module\" src=\"/js/app.js\"></script>"));
    // Readable without scripts: name, price, availability.
    assert_eq!(between(&html, "<h1>", "</h1>"), "Produto caneca-de-barro");
    assert!(html.contains("<span data-price=\"50.00\">R$ 50,00</span>"));
    assert!(html.contains("data-availability=\"out_of_stock\">Esgotado<"));

    let blocks = json_ld(&html);
    let ld = of_type(&blocks, "Product");
    assert_eq!(ld["@context"], "https://schema.org");
    assert_eq!(ld["name"], "Produto caneca-de-barro");
    assert_eq!(ld["url"], canonical);
    assert!(ld.get("image").is_none(), "no image yet: {ld}");
    let offers = ld["offers"].as_array().unwrap();
    assert_eq!(offers.len(), 2);
    for o in offers {
        assert_eq!(o["@type"], "Offer");
        assert_eq!(o["price"], "50.00");
        assert_eq!(o["priceCurrency"], "BRL");
        assert_eq!(o["availability"], "https://schema.org/OutOfStock");
    }
    let crumbs = of_type(&blocks, "BreadcrumbList")["itemListElement"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(crumbs.first().unwrap()["item"], t.url("/"));
    assert_eq!(crumbs.last().unwrap()["item"], canonical);

    // Stock arrives for one size, an image is added: the next read shows both.
    let res = t
        .post(
            "/api/v1/admin/stock/BARRO-G/adjustments",
            Some(&admin),
            json!({ "delta": 4, "reason": "chegou" }),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let res = t
        .req(
            Method::POST,
            &format!("/api/v1/admin/products/{id}/images"),
            Some(&admin),
        )
        .header("content-type", "image/png")
        .header("if-match", "\"1\"")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let key = res.json::<Value>().await.unwrap()["images"][0]
        .as_str()
        .unwrap()
        .to_owned();

    let (_, html) = page(&t, "/produto/caneca-de-barro").await;
    assert!(html.contains("data-availability=\"in_stock\">Em estoque<"));
    let blocks = json_ld(&html);
    let ld = of_type(&blocks, "Product");
    let image = t.url(&format!("/media/{key}"));
    assert_eq!(ld["image"], json!([image]));
    assert!(html.contains(&format!("<meta property=\"og:image\" content=\"{image}\">")));
    let availability: BTreeSet<(String, String)> = ld["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["sku"].as_str().unwrap().to_owned(),
                o["availability"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        availability,
        BTreeSet::from([
            ("BARRO-G".into(), "https://schema.org/InStock".into()),
            ("BARRO-P".into(), "https://schema.org/OutOfStock".into()),
        ])
    );
    // The image itself is served at the address the page gives.
    assert_eq!(t.get(&format!("/media/{key}"), None).await.status(), 200);
    t.stop().await;
}

#[tokio::test]
async fn catalog_text_is_shown_as_text_and_cannot_end_the_json_ld() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let name = "</script><script>alert(1)</script> <b>Caneca</b> & \"pires\"";
    let res = t
        .post(
            "/api/v1/admin/products",
            Some(&admin),
            json!({
                "slug": "caneca-hostil",
                "name": name,
                "description": "<img src=x onerror=alert(2)>",
                "variants": [{ "sku": "HOSTIL-1", "options": {}, "price_centavos": 1990, "weight_g": 100, "stock": 1 }],
            }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let (status, html) = page(&t, "/produto/caneca-hostil").await;
    assert_eq!(status, 200);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("<b>Caneca"), "{html}");
    assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The only script elements are the storefront's module and the JSON-LD blocks.
    assert_eq!(html.matches("<script").count(), 3, "{html}");
    let blocks = json_ld(&html);
    assert_eq!(of_type(&blocks, "Product")["name"], name);
    t.stop().await;
}

#[tokio::test]
async fn category_and_home_pages_link_to_the_product_pages() {
    let t = TestApp::spawn().await;
    let (status, html) = page(&t, "/categoria/roupas").await;
    assert_eq!(status, 200);
    assert_eq!(between(&html, "<h1>", "</h1>"), "Roupas");
    // Its subcategories, and the products of the whole department.
    assert!(html.contains("<a href=\"/categoria/camisetas\">Camisetas</a>"));
    assert!(html.contains("<a href=\"/produto/camiseta-basica-algodao\">"));
    assert!(html.contains("<a href=\"/produto/calca-jeans-reta\">"));
    assert!(!html.contains("/produto/caneca"), "not in Roupas");
    let blocks = json_ld(&html);
    let crumbs = &of_type(&blocks, "BreadcrumbList")["itemListElement"];
    assert_eq!(crumbs[1]["item"], t.url("/categoria/roupas"));

    // A subcategory's trail goes through its parent.
    let (_, html) = page(&t, "/categoria/camisetas").await;
    assert!(html.contains(
        "<li><a href=\"/categoria/roupas\">Roupas</a></li><li aria-current=\"page\">Camisetas</li>"
    ));

    let (status, html) = page(&t, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Bem-vindo à vitrine</h1>"));
    assert!(html.contains("<a href=\"/categoria/casa\">"));
    assert!(html.contains("<a href=\"/produto/"));
    assert_eq!(of_type(&json_ld(&html), "WebSite")["url"], t.url("/"));
    t.stop().await;
}

#[tokio::test]
async fn a_category_lists_its_products_a_page_at_a_time() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let cat: Value = t
        .post(
            "/api/v1/admin/categories",
            Some(&admin),
            json!({ "slug": "papelaria", "name": "Papelaria" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let cat = cat["id"].as_str().unwrap();
    for i in 0..30 {
        let res = t
            .post(
                "/api/v1/admin/products",
                Some(&admin),
                json!({
                    "slug": format!("caderno-{i:02}"), "name": format!("Caderno {i:02}"),
                    "category_id": cat,
                    "variants": [{ "sku": format!("CAD-{i:02}"), "options": {}, "price_centavos": 1500, "weight_g": 200, "stock": 5 }],
                }),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let mut seen = BTreeSet::new();
    let mut path = "/categoria/papelaria".to_owned();
    let mut pages = 0;
    loop {
        let (status, html) = page(&t, &path).await;
        assert_eq!(status, 200, "{path}");
        pages += 1;
        for part in html.split("<a href=\"/produto/").skip(1) {
            assert!(seen.insert(part[..part.find('"').unwrap()].to_owned()));
        }
        match html.split("<a rel=\"next\" href=\"").nth(1) {
            Some(rest) => path = rest[..rest.find('"').unwrap()].replace("&amp;", "&"),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(seen.len(), 30);
    t.stop().await;
}

/// Take `product` (as the admin API answered its creation) off the storefront.
async fn hide(t: &TestApp, admin: &str, product: &Value) {
    let variants: Vec<Value> = product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| json!({ "sku": v["sku"], "options": v["options"], "price_centavos": v["price_centavos"], "weight_g": v["weight_g"] }))
        .collect();
    let res = t
        .req(
            Method::PUT,
            &format!("/api/v1/admin/products/{}", product["id"].as_str().unwrap()),
            Some(admin),
        )
        .header("if-match", format!("\"{}\"", product["version"]))
        .json(&json!({ "slug": product["slug"], "name": product["name"], "variants": variants, "active": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn what_is_not_there_is_a_404_page_that_is_not_indexed() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let product = t.product(&admin, "oculta", &[("OCULTA-1", 2)]).await;
    hide(&t, &admin, &product).await;

    for (path, heading) in [
        ("/produto/nao-existe", "Produto não encontrado"),
        ("/produto/oculta", "Produto não encontrado"),
        ("/categoria/nao-existe", "Categoria não encontrada"),
        (
            "/categoria/roupas?apos=nao-e-um-cursor",
            "Página não encontrada",
        ),
    ] {
        let res = t.get(path, None).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
        let html = res.text().await.unwrap();
        assert_eq!(between(&html, "<h1>", "</h1>"), heading, "{path}");
        assert!(html.contains("<meta name=\"robots\" content=\"noindex\">"));
    }
    t.stop().await;
}

/// The product slugs a urlset lists.
fn product_locs(xml: &str, base: &str) -> Vec<String> {
    let prefix = format!("<loc>{base}/produto/");
    xml.split(&prefix)
        .skip(1)
        .map(|rest| rest[..rest.find("</loc>").unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn the_sitemap_lists_every_active_product_and_robots_points_to_it() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "nova-caneca", &[("NOVA-1", 1)]).await;
    let hidden = t.product(&admin, "fora-de-linha", &[("FORA-1", 1)]).await;
    hide(&t, &admin, &hidden).await;

    let res = t.get("/robots.txt", None).await;
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    let robots = res.text().await.unwrap();
    assert!(robots.contains("Disallow: /admin/\n"), "{robots}");
    assert!(robots.contains("Disallow: /api/\n"), "{robots}");
    assert!(robots.contains(&format!("Sitemap: {}\n", t.url("/sitemap.xml"))));

    let res = t.get("/sitemap.xml", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let xml = res.text().await.unwrap();
    assert!(xml.contains("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"));
    assert!(xml.contains(&format!("<loc>{}</loc>", t.url("/"))));
    assert!(xml.contains(&format!("<loc>{}</loc>", t.url("/categoria/casa"))));
    let listed: BTreeSet<String> = product_locs(&xml, &t.base).into_iter().collect();
    let mut active = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/products?limit=100&after={a}"),
            None => "/api/v1/products?limit=100".into(),
        };
        let page = t.get_json(&path, None).await;
        for p in page["items"].as_array().unwrap() {
            active.insert(p["slug"].as_str().unwrap().to_owned());
        }
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert!(active.contains("nova-caneca"));
    assert_eq!(listed, active);
    assert!(!xml.contains("fora-de-linha"));
    assert!(
        xml.contains("<lastmod>20"),
        "each product with its last change"
    );

    // Sent gzip-compressed to a client that accepts it: the same document.
    let res = t
        .req(Method::GET, "/sitemap.xml", None)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let gz = res.bytes().await.unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    assert!(gz.len() * 2 < xml.len(), "{} vs {}", gz.len(), xml.len());
    t.stop().await;
}

#[tokio::test]
async fn a_large_catalog_is_listed_in_parts_under_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path().join("data"));
    let store = vitrine::compose::build_default(&config).expect("build store");
    vitrine::seed::seed(&store.app).await.expect("seed");
    let app = store.app.clone();
    // Three products a part: the demo catalog's takes several.
    let state =
        vitrine_http::AppState::with_keys(store.app, store.keys, store.jwks).with_sitemap_part(3);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, vitrine_http::router(state).into_make_service()).await
    });
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let res = client.get(path).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let total = {
        let page = app
            .list_products(&vitrine_app::catalog::ProductQuery {
                category: None,
                min_price: None,
                max_price: None,
                text: None,
                options: Vec::new(),
                sort: vitrine_app::catalog::ProductSort::Newest,
                limit: 100,
                after: None,
                include_inactive: false,
            })
            .await
            .unwrap();
        assert!(page.next.is_none());
        page.items
            .iter()
            .map(|p| p.slug.to_string())
            .collect::<BTreeSet<_>>()
    };
    assert!(total.len() > 6, "the demo catalog has more than two parts");

    let (status, index) = get(format!("{base}/sitemap.xml")).await;
    assert_eq!(status, 200);
    assert!(index.contains("<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"));
    let files: Vec<String> = index
        .split("<loc>")
        .skip(1)
        .map(|rest| rest[..rest.find("</loc>").unwrap()].to_owned())
        .collect();
    assert_eq!(files[0], format!("{base}/sitemaps/paginas.xml"));
    assert_eq!(files.len(), 1 + total.len().div_ceil(3), "{index}");
    let (status, pages) = get(files[0].clone()).await;
    assert_eq!(status, 200);
    assert!(pages.contains(&format!("<loc>{base}/categoria/roupas</loc>")));
    assert!(!pages.contains("/produto/"));
    let mut listed = Vec::new();
    for f in &files[1..] {
        let (status, part) = get(f.clone()).await;
        assert_eq!(status, 200, "{f}");
        let slugs = product_locs(&part, &base);
        assert!((1..=3).contains(&slugs.len()), "{f}: {slugs:?}");
        listed.extend(slugs);
    }
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "each product once: {listed:?}");
    assert_eq!(unique, total);
    // Past the last part, and names that are no part at all.
    for path in ["produtos-99.xml", "produtos-0.xml", "outra.xml"] {
        let (status, _) = get(format!("{base}/sitemaps/{path}")).await;
        assert_eq!(status, 404, "{path}");
    }
    server.abort();
}
