//! Web security over HTTP: the headers every answer carries, the API docs page's script policy,
//! the CORS allow-list, the per-client rate limit, the body limit.

mod common;

use base64::Engine as _;
use common::{TestApp, problem};
use reqwest::Method;
use serde_json::json;
use sha2::Digest as _;
use vitrine_http::{RateLimit, Security};

#[tokio::test]
async fn api_answers_carry_the_security_headers_and_no_hsts_over_plain_http() {
    let t = TestApp::spawn().await;
    for path in ["/api/v1/products", "/api/v1/orders", "/health", "/api/nope"] {
        let res = t.get(path, None).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            h["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
        assert!(h.get("strict-transport-security").is_none(), "{path}");
    }
    // An error from outside the handlers (the router's 405) turned into a problem document keeps
    // the headers and names its request.
    let res = t
        .req(Method::DELETE, "/api/v1/products", None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let h = res.headers();
    assert!(
        h["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json"),
        "{h:?}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff", "{h:?}");
    assert_eq!(h["x-frame-options"], "DENY", "{h:?}");
    assert_eq!(h["allow"], "GET,HEAD", "{h:?}");
    assert!(h.contains_key("x-request-id"), "{h:?}");
    // Pages keep their own policy (tests/site.rs checks it).
    let res = t.get("/", None).await;
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    t.stop().await;
}

#[tokio::test]
async fn the_docs_page_allows_its_inline_script_by_hash_only() {
    let t = TestApp::spawn().await;
    let res = t.get("/api/docs", None).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = res.text().await.unwrap();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    for (open, close, directive) in [
        ("<script>", "</script>", "script-src"),
        ("<style>", "</style>", "style-src"),
    ] {
        let start = page.find(open).unwrap() + open.len();
        let end = start + page[start..].find(close).unwrap();
        let digest = sha2::Sha256::digest(&page.as_bytes()[start..end]);
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        assert!(
            csp.contains(&format!("{directive} 'sha256-{hash}'")),
            "{directive} allows exactly the page's inline block: {csp}"
        );
    }
    t.stop().await;
}

#[tokio::test]
async fn only_listed_origins_get_cors_answers() {
    let t = TestApp::spawn_with(|store| {
        store.security = Security {
            cors_origins: vec!["https://loja.example.com".into()],
            ..Security::default()
        };
    })
    .await;
    let preflight = |origin: &'static str| {
        t.req(Method::OPTIONS, "/api/v1/orders", None)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let ok = preflight("https://loja.example.com").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://loja.example.com"
    );
    let methods = ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("POST"), "{methods}");
    assert!(
        ok.headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "tokens are headers, never cookies: no credentials"
    );

    let evil = preflight("https://evil.example").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    let get = t
        .req(Method::GET, "/api/v1/products", None)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(get.headers().get("access-control-allow-origin").is_none());
    let get = t
        .req(Method::GET, "/api/v1/products", None)
        .header("origin", "https://loja.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        get.headers()["access-control-allow-origin"],
        "https://loja.example.com"
    );
    t.stop().await;
}

#[tokio::test]
async fn without_a_list_no_origin_gets_cors_answers() {
    let t = TestApp::spawn().await;
    let res = t
        .req(Method::GET, "/api/v1/products", None)
        .header("origin", "https://loja.example.com")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    t.stop().await;
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after_and_pages_are_not_counted() {
    let t = TestApp::spawn_with(|store| {
        store.security = Security {
            rate_limit: Some(RateLimit {
                per_minute: 6,
                burst: 10,
            }),
            hsts: true,
            ..Security::default()
        };
    })
    .await;
    // Pages and files are outside the limit.
    for _ in 0..15 {
        assert_eq!(t.get("/", None).await.status(), 200);
    }
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = t.get("/api/v1/products", None).await;
        let status = res.status().as_u16();
        statuses.push(status);
        if status == 429 {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=10).contains(&retry), "{retry}");
            assert!(res.headers().get("strict-transport-security").is_some());
            let body = problem(res, 429).await;
            assert_eq!(body["type"], "urn:vitrine:problem:too-many-requests");
        }
    }
    assert_eq!(&statuses[..10], &[200; 10], "the burst passes");
    assert_eq!(&statuses[10..], &[429, 429], "then the client waits");
    // HSTS, for a store served over TLS.
    let res = t.get("/health", None).await;
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    t.stop().await;
}

#[tokio::test]
async fn product_images_count_against_the_client_s_rate_and_a_cached_one_costs_no_read() {
    let t = TestApp::spawn_with(|store| {
        store.security = Security {
            rate_limit: Some(RateLimit {
                per_minute: 6,
                burst: 10,
            }),
            ..Security::default()
        };
    })
    .await;
    // A browser that has an image is answered 304 (image keys never change).
    let res = t
        .req(Method::GET, "/media/images/qualquer.webp", None)
        .header("if-none-match", "\"images/qualquer.webp\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    // The attack: reading images (here, ones that do not exist) as fast as possible.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let res = t.get(&format!("/media/images/x{i}.webp"), None).await;
        statuses.push(res.status().as_u16());
    }
    assert_eq!(&statuses[..9], &[404; 9], "the burst passes: {statuses:?}");
    assert_eq!(
        &statuses[10..],
        &[429, 429],
        "then the client waits: {statuses:?}"
    );
    t.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_413_and_writes_nothing() {
    let t = TestApp::spawn().await;
    let token = t.customer("grande@example.com").await;
    let huge = "x".repeat(vitrine_http::BODY_LIMIT + 1);
    let res = t
        .req(Method::POST, "/api/v1/orders", Some(&token))
        .header("Idempotency-Key", "grande-1")
        .json(&json!({ "items": [{ "sku": "X", "quantity": 1 }], "note": huge }))
        .send()
        .await
        .unwrap();
    problem(res, 413).await;
    let orders: serde_json::Value = t
        .get("/api/v1/orders", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), 0);
    t.stop().await;
}
