//! Product images over HTTP: the admin upload (`POST /api/v1/admin/products/{id}/images`) with
//! its version rules and checks, and the public read (`GET /media/{key}`).

mod common;

use common::{TestApp, problem};
use reqwest::Method;
use serde_json::Value;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1,
];

async fn upload(
    t: &TestApp,
    token: &str,
    id: &str,
    content_type: &str,
    if_match: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = t
        .req(
            Method::POST,
            &format!("/api/v1/admin/products/{id}/images"),
            Some(token),
        )
        .header("content-type", content_type)
        .body(body);
    if let Some(v) = if_match {
        req = req.header("if-match", v);
    }
    req.send().await.unwrap()
}

/// Files under the blob folder's `images/` (what the uploads left behind).
fn stored_images(t: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    let root = t.data_dir.join("blobs").join("images");
    let Ok(products) = std::fs::read_dir(&root) else {
        return out;
    };
    for p in products {
        let p = p.unwrap().path();
        for f in std::fs::read_dir(&p).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            // The folder adapter keeps each object's type beside it (`name@type`).
            if !name.starts_with('.') && !name.contains('@') {
                out.push(name);
            }
        }
    }
    out
}

#[tokio::test]
async fn an_uploaded_image_is_appended_to_the_product_and_served_publicly() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let product = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let id = product["id"].as_str().unwrap();

    let res = upload(&t, &admin, id, "image/png", Some("\"1\""), PNG.to_vec()).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let images = body["images"].as_array().unwrap();
    assert_eq!(images.len(), 1);
    let key = images[0].as_str().unwrap();
    assert!(
        key.starts_with(&format!("images/{id}/")) && key.ends_with(".png"),
        "{key}"
    );
    assert_eq!(location, format!("/media/{key}"));
    assert_eq!(body["version"], 2);

    // A second one, in another format, goes after it.
    let res = upload(&t, &admin, id, "image/jpeg", Some("\"2\""), JPEG.to_vec()).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["images"][0], key);
    assert!(body["images"][1].as_str().unwrap().ends_with(".jpg"));

    // The store shows them, and anyone can fetch them.
    let public: Value = t
        .get("/api/v1/products/caneca", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["images"].as_array().unwrap().len(), 2);
    let res = t.get(&location, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    t.stop().await;
}

#[tokio::test]
async fn an_upload_follows_the_products_version_rules() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let product = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let id = product["id"].as_str().unwrap();

    let res = upload(&t, &admin, id, "image/png", None, PNG.to_vec()).await;
    problem(res, 428).await;
    let res = upload(&t, &admin, id, "image/png", Some("\"7\""), PNG.to_vec()).await;
    let body = problem(res, 412).await;
    assert_eq!(body["type"], "urn:vitrine:problem:version-mismatch");
    let res = upload(
        &t,
        &admin,
        "01NOSUCHPRODUCT0000000000",
        "image/png",
        Some("\"1\""),
        PNG.to_vec(),
    )
    .await;
    problem(res, 404).await;
    assert!(stored_images(&t).is_empty(), "{:?}", stored_images(&t));

    // An edit made meanwhile makes the upload stale: refused, and its bytes are not kept.
    let current: Value = t
        .get(&format!("/api/v1/admin/products/{id}"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let edit = serde_json::json!({
        "name": "Caneca nova",
        "variants": [{ "sku": "CANECA-1", "price_centavos": 5000 }],
    });
    let res = t
        .req(
            Method::PUT,
            &format!("/api/v1/admin/products/{id}"),
            Some(&admin),
        )
        .header("if-match", format!("\"{}\"", current["version"]))
        .json(&edit)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = upload(&t, &admin, id, "image/png", Some("\"1\""), PNG.to_vec()).await;
    problem(res, 412).await;
    assert!(stored_images(&t).is_empty());
    t.stop().await;
}

#[tokio::test]
async fn only_real_images_of_accepted_types_and_sizes_are_stored() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let product = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let id = product["id"].as_str().unwrap();
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();

    for ct in ["image/svg+xml", "text/html", "application/octet-stream"] {
        let res = upload(&t, &admin, id, ct, Some("\"1\""), svg.clone()).await;
        let body = problem(res, 415).await;
        assert_eq!(body["type"], "urn:vitrine:problem:unsupported-media-type");
    }
    // Declared PNG, but it is markup.
    let res = upload(&t, &admin, id, "image/png", Some("\"1\""), svg).await;
    let body = problem(res, 422).await;
    assert_eq!(body["errors"][0]["field"], "body");
    // A JPEG declared as a PNG.
    let res = upload(&t, &admin, id, "image/png", Some("\"1\""), JPEG.to_vec()).await;
    problem(res, 422).await;
    // Over 5 MiB.
    let mut big = PNG.to_vec();
    big.resize(5 * 1024 * 1024 + 1, 0);
    let res = upload(&t, &admin, id, "image/png", Some("\"1\""), big).await;
    let body = problem(res, 413).await;
    assert_eq!(body["type"], "urn:vitrine:problem:payload-too-large");
    // Exactly 5 MiB is fine: the route is not held to the API's 64 KiB body limit.
    let mut max = PNG.to_vec();
    max.resize(5 * 1024 * 1024, 0);
    let res = upload(&t, &admin, id, "image/png", Some("\"1\""), max).await;
    assert_eq!(res.status(), 201);
    assert_eq!(stored_images(&t).len(), 1, "{:?}", stored_images(&t));
    t.stop().await;
}

#[tokio::test]
async fn a_customer_cannot_upload_images() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let customer = t.customer("ana@example.com").await;
    let product = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let id = product["id"].as_str().unwrap();
    let res = upload(&t, &customer, id, "image/png", Some("\"1\""), PNG.to_vec()).await;
    problem(res, 403).await;
    let res = t
        .req(
            Method::POST,
            &format!("/api/v1/admin/products/{id}/images"),
            None,
        )
        .header("content-type", "image/png")
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    problem(res, 401).await;
    assert!(stored_images(&t).is_empty());
    t.stop().await;
}

#[tokio::test]
async fn the_media_route_serves_product_images_and_nothing_else() {
    let t = TestApp::spawn().await;
    // Other things kept in the same blob store: an invoice, a report, a key-like name.
    let blobs = &t.app.ports.blobs;
    blobs
        .put(
            "invoices/01ORDER.xml",
            axum::body::Bytes::from_static(b"<NFe/>"),
            "application/xml",
        )
        .await
        .unwrap();
    blobs
        .put(
            "reports/sales.png",
            axum::body::Bytes::from_static(PNG),
            "image/png",
        )
        .await
        .unwrap();
    blobs
        .put(
            "images/01P/notes.txt",
            axum::body::Bytes::from_static(b"hello"),
            "text/plain",
        )
        .await
        .unwrap();
    for path in [
        "/media/invoices/01ORDER.xml",
        "/media/reports/sales.png",
        "/media/images/01P/notes.txt",
        "/media/images/01P/missing.png",
        "/media/images/..%2Finvoices%2F01ORDER.xml",
        "/media/images",
    ] {
        let res = t.get(path, None).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    t.stop().await;
}
