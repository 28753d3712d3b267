//! The web apps as `vitrine serve` serves them (embedded from `web/`): pages, assets, caching and
//! compression, the single-page-app fallback, and what stays an API answer. The API Lambda's
//! router does not serve them.

mod common;

use common::{TestApp, problem, test_config};
use reqwest::Method;
use vitrine_http::AppState;

#[tokio::test]
async fn the_storefront_and_the_admin_are_served_with_their_headers() {
    let t = TestApp::spawn().await;

    // The storefront's shell as a file (`/` is its home page rendered on the server, tests/pages.rs).
    let res = t.get("/index.html", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/js/app.js"></script>"#));
    assert!(!html.contains("<script>"), "no inline script");

    // Revalidation: the same file is a 304.
    let res = t
        .req(Method::GET, "/index.html", None)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);

    let res = t.get("/admin/", None).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(r#"src="/admin/js/admin.js""#)
    );

    let res = t.get("/js/app.js", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    // Files other than pages carry the API's closed policy (a script's own CSP header does not
    // govern the page that loads it; the page's does).
    assert_eq!(
        res.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    let css = t.get("/css/site.css", None).await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    t.stop().await;
}

#[tokio::test]
async fn text_files_are_gzipped_for_clients_that_accept_it() {
    let t = TestApp::spawn().await;
    let plain = t.get("/js/i18n.js", None).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_len = plain.bytes().await.unwrap().len();
    let res = t
        .req(Method::GET, "/js/i18n.js", None)
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.headers()["vary"], "Accept-Encoding");
    let gz = res.bytes().await.unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    assert!(gz.len() * 2 < plain_len, "{} vs {plain_len}", gz.len());
    let res = t
        .req(Method::GET, "/js/i18n.js", None)
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("content-encoding").is_none());
    t.stop().await;
}

#[tokio::test]
async fn page_paths_fall_back_to_their_app_and_api_paths_stay_problems() {
    let t = TestApp::spawn().await;
    for (path, script) in [
        ("/conta/pedidos", "/js/app.js"),
        ("/carrinho", "/js/app.js"),
        ("/produto/camiseta-basica-algodao", "/js/app.js"),
        ("/admin", "/admin/js/admin.js"),
        ("/admin/produtos/novo", "/admin/js/admin.js"),
    ] {
        let res = t.get(path, None).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.text().await.unwrap().contains(script), "{path}");
    }
    let body = problem(t.get("/js/nope.js", None).await, 404).await;
    assert_eq!(body["detail"], "file not found");
    let body = problem(t.get("/api/v1/nope", None).await, 404).await;
    assert_eq!(body["detail"], "route not found");
    problem(t.get("/api", None).await, 404).await;
    let res = t
        .req(Method::POST, "/js/app.js", None)
        .send()
        .await
        .unwrap();
    problem(res, 404).await;
    // The home page is a route of its own: it takes GET only.
    let res = t.req(Method::POST, "/", None).send().await.unwrap();
    problem(res, 405).await;
    // The API itself is untouched.
    assert_eq!(t.get("/api/v1/products", None).await.status(), 200);
    assert_eq!(t.get("/health", None).await.status(), 200);
    t.stop().await;
}

#[tokio::test]
async fn the_api_router_alone_does_not_serve_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path().join("data"));
    let store = vitrine::compose::build_default(&config).expect("build store");
    let state = AppState::with_keys(store.app, store.keys, store.jwks);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, vitrine_http::router(state).into_make_service()).await
    });
    let client = reqwest::Client::new();
    for path in ["/", "/admin/", "/js/app.js"] {
        let res = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["detail"], "route not found", "{path}");
    }
    // Product images are served by both: they are part of the API's answers.
    let res = client
        .get(format!("{base}/media/images/01P/x.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["detail"], "image not found");
}
