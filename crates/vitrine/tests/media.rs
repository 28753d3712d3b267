//! Product images over HTTP: the upload flow the web admin uses (an upload target, the PUT to
//! it, the registration) with its errors, the direct upload (`POST
//! /api/v1/admin/products/{id}/images`) with its version rules and checks, and the public read
//! (`GET /media/{key}`).

mod common;

use std::sync::Arc;

use common::{TestApp, problem};
use reqwest::Method;
use serde_json::{Value, json};
use vitrine_app::ports::{Clock, ManualClock, SystemClock};

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

// ---------------------------------------------------------------- upload target → PUT → register

/// Ask for an upload target.
async fn request_upload(
    t: &TestApp,
    token: &str,
    id: &str,
    content_type: &str,
    size: usize,
) -> reqwest::Response {
    t.post(
        &format!("/api/v1/admin/products/{id}/image-uploads"),
        Some(token),
        json!({ "content_type": content_type, "size": size }),
    )
    .await
}

/// Send `body` to a target as a browser would: its method, its URL (resolved against the
/// store's origin), its headers, with `content_type` in place of the one it names when given.
async fn send(
    t: &TestApp,
    target: &Value,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> reqwest::Response {
    send_to(
        t,
        target["url"].as_str().unwrap(),
        target,
        body,
        content_type,
    )
    .await
}

async fn send_to(
    t: &TestApp,
    url: &str,
    target: &Value,
    body: Vec<u8>,
    content_type: Option<&str>,
) -> reqwest::Response {
    assert_eq!(target["method"], "PUT");
    let url = if url.starts_with('/') {
        t.url(url)
    } else {
        url.to_owned()
    };
    let mut req = t.client.put(url).body(body);
    for (name, value) in target["headers"].as_object().unwrap() {
        let value = match (name.as_str(), content_type) {
            ("content-type", Some(other)) => other,
            _ => value.as_str().unwrap(),
        };
        req = req.header(name, value);
    }
    req.send().await.unwrap()
}

async fn register(
    t: &TestApp,
    token: &str,
    id: &str,
    key: &str,
    if_match: Option<&str>,
) -> reqwest::Response {
    let mut req = t
        .req(
            Method::POST,
            &format!("/api/v1/admin/products/{id}/image-uploads/register"),
            Some(token),
        )
        .json(&json!({ "key": key }));
    if let Some(v) = if_match {
        req = req.header("if-match", v);
    }
    req.send().await.unwrap()
}

/// Files staged under the blob folder's `uploads/`.
fn staged_uploads(t: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    let root = t.data_dir.join("blobs").join("uploads");
    let Ok(products) = std::fs::read_dir(&root) else {
        return out;
    };
    for p in products {
        for f in std::fs::read_dir(p.unwrap().path()).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            if !name.contains('@') {
                out.push(name);
            }
        }
    }
    out
}

#[tokio::test]
async fn an_image_goes_to_its_upload_target_then_is_registered_and_served() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let product = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let id = product["id"].as_str().unwrap();

    let res = request_upload(&t, &admin, id, "image/png", PNG.len()).await;
    assert_eq!(res.status(), 201);
    let target: Value = res.json().await.unwrap();
    let key = target["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with(&format!("uploads/{id}/")) && key.ends_with(&format!("-{}.png", PNG.len())),
        "{key}"
    );
    // The local shape's target: the store's own signed URL, of the same shape as S3's.
    let url = target["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("/uploads/{key}?expires=")) && url.contains("&signature="),
        "{url}"
    );
    assert_eq!(target["headers"], json!({ "content-type": "image/png" }));
    assert!(target["expires_at"].as_str().unwrap().ends_with('Z'));
    // Nothing is stored, nor is the product changed, until the file comes and is registered.
    assert!(staged_uploads(&t).is_empty());

    let res = send(&t, &target, PNG.to_vec(), None).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(staged_uploads(&t).len(), 1);
    // A staged file is not public.
    problem(t.get(&format!("/media/{key}"), None).await, 404).await;

    let res = register(&t, &admin, id, &key, Some("\"1\"")).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let image = body["images"][0].as_str().unwrap();
    let id_part = key.rsplit('/').next().unwrap().split('-').next().unwrap();
    assert_eq!(image, format!("images/{id}/{id_part}.png"));
    assert_eq!(location, format!("/media/{image}"));
    // Moved, not copied: nothing is left staged.
    assert!(staged_uploads(&t).is_empty(), "{:?}", staged_uploads(&t));
    assert_eq!(stored_images(&t).len(), 1);

    let res = t.get(&location, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);

    // Registering the same upload again is refused, whatever the version.
    let body = problem(register(&t, &admin, id, &key, Some("\"2\"")).await, 409).await;
    assert_eq!(body["type"], "urn:vitrine:problem:conflict");
    let public: Value = t
        .get("/api/v1/products/caneca", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["images"].as_array().unwrap().len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn an_upload_target_takes_only_the_signed_type_size_and_key() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let product = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let id = product["id"].as_str().unwrap();
    let target: Value = request_upload(&t, &admin, id, "image/png", PNG.len())
        .await
        .json()
        .await
        .unwrap();
    let url = target["url"].as_str().unwrap().to_owned();

    // Another type, another size, another key, another expiry, a forged signature, none.
    let res = send(&t, &target, PNG.to_vec(), Some("image/jpeg")).await;
    let body = problem(res, 401).await;
    assert!(
        body["detail"].as_str().unwrap().contains("signature"),
        "{body}"
    );
    let mut longer = PNG.to_vec();
    longer.push(0);
    problem(send(&t, &target, longer, None).await, 401).await;
    problem(
        send(&t, &target, PNG[..PNG.len() - 1].to_vec(), None).await,
        401,
    )
    .await;
    let other_key = url.replacen(
        &format!("/uploads/uploads/{id}/"),
        &format!("/uploads/uploads/{id}/0"),
        1,
    );
    problem(
        send_to(&t, &other_key, &target, PNG.to_vec(), None).await,
        401,
    )
    .await;
    let (before, after) = url.split_once("?expires=").unwrap();
    let later = format!("{before}?expires=9{after}");
    problem(send_to(&t, &later, &target, PNG.to_vec(), None).await, 401).await;
    let (unsigned, signature) = url.split_once("&signature=").unwrap();
    let forged = format!("{unsigned}&signature={}", "0".repeat(signature.len()));
    problem(send_to(&t, &forged, &target, PNG.to_vec(), None).await, 401).await;
    problem(
        send_to(&t, unsigned, &target, PNG.to_vec(), None).await,
        401,
    )
    .await;
    // Only staging keys are targets: never an image key, nor anything else.
    let image_key = format!(
        "/uploads/images/{id}/x.png?{}",
        url.split_once('?').unwrap().1
    );
    problem(
        send_to(&t, &image_key, &target, PNG.to_vec(), None).await,
        404,
    )
    .await;
    assert!(staged_uploads(&t).is_empty(), "{:?}", staged_uploads(&t));
    assert!(stored_images(&t).is_empty());

    // Over 5 MiB is refused before it is read whole.
    let big = vec![0u8; 5 * 1024 * 1024 + 1];
    problem(send(&t, &target, big, None).await, 413).await;

    // The URL as given still works.
    assert_eq!(send(&t, &target, PNG.to_vec(), None).await.status(), 200);
    t.stop().await;
}

#[tokio::test]
async fn an_upload_target_is_given_only_for_an_image_of_an_accepted_type_and_size() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let customer = t.customer("ana@example.com").await;
    let product = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let id = product["id"].as_str().unwrap();

    for ct in ["image/svg+xml", "text/html", "application/octet-stream", ""] {
        let body = problem(request_upload(&t, &admin, id, ct, 100).await, 422).await;
        assert_eq!(body["errors"][0]["field"], "content_type", "{ct}");
    }
    let body = problem(request_upload(&t, &admin, id, "image/png", 0).await, 422).await;
    assert_eq!(body["errors"][0]["field"], "size");
    let body = problem(
        request_upload(&t, &admin, id, "image/png", 5 * 1024 * 1024 + 1).await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "size");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("5 MiB")
    );
    // Exactly 5 MiB is fine; every accepted type; `image/jpg` means JPEG.
    assert_eq!(
        request_upload(&t, &admin, id, "image/png", 5 * 1024 * 1024)
            .await
            .status(),
        201
    );
    for (ct, ext) in [
        ("image/jpeg", "jpg"),
        ("image/jpg", "jpg"),
        ("image/webp", "webp"),
        ("image/avif", "avif"),
    ] {
        let res = request_upload(&t, &admin, id, ct, 100).await;
        assert_eq!(res.status(), 201, "{ct}");
        let target: Value = res.json().await.unwrap();
        assert!(target["key"].as_str().unwrap().ends_with(ext), "{target}");
        // The canonical type is the one signed: the browser sends that.
        assert_ne!(target["headers"]["content-type"], "image/jpg");
    }
    problem(
        request_upload(&t, &admin, "01NOSUCHPRODUCT0000000000", "image/png", 100).await,
        404,
    )
    .await;
    let res = t
        .post(
            &format!("/api/v1/admin/products/{id}/image-uploads"),
            Some(&admin),
            json!({ "content_type": "image/png", "size": 10, "name": "x.png" }),
        )
        .await;
    problem(res, 422).await;
    // Admins only.
    problem(
        request_upload(&t, &customer, id, "image/png", 100).await,
        403,
    )
    .await;
    problem(
        register(&t, &customer, id, "uploads/x/y-1-1.png", Some("\"1\"")).await,
        403,
    )
    .await;
    t.stop().await;
}

#[tokio::test]
async fn registration_checks_the_key_the_file_and_the_version() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let caneca = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let prato = t.product(&admin, "prato", &[("PRATO-1", 3)]).await;
    let id = caneca["id"].as_str().unwrap();

    // Unknown keys: malformed, not a staging key, another product's, or never sent.
    for key in [
        "nada",
        "images/x/y.png",
        "uploads/../x-1-1.png",
        "../uploads/x/y-1-1.png",
    ] {
        let body = problem(register(&t, &admin, id, key, Some("\"1\"")).await, 404).await;
        assert_eq!(body["type"], "urn:vitrine:problem:not-found", "{key}");
    }
    let target: Value = request_upload(&t, &admin, id, "image/png", PNG.len())
        .await
        .json()
        .await
        .unwrap();
    let key = target["key"].as_str().unwrap();
    problem(register(&t, &admin, id, key, Some("\"1\"")).await, 404).await;
    assert_eq!(send(&t, &target, PNG.to_vec(), None).await.status(), 200);
    problem(
        register(
            &t,
            &admin,
            prato["id"].as_str().unwrap(),
            key,
            Some("\"1\""),
        )
        .await,
        404,
    )
    .await;

    // The product's version rules, as for every edit; a stale registration keeps the file.
    problem(register(&t, &admin, id, key, None).await, 428).await;
    let body = problem(register(&t, &admin, id, key, Some("\"7\"")).await, 412).await;
    assert_eq!(body["type"], "urn:vitrine:problem:version-mismatch");
    assert_eq!(staged_uploads(&t).len(), 1);
    assert!(stored_images(&t).is_empty());
    assert_eq!(
        register(&t, &admin, id, key, Some("\"1\"")).await.status(),
        201
    );

    // A file that is not what it was announced as: markup sent as a PNG passes the URL (like
    // S3, the target checks type and size, not content) and is refused at registration.
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
    let target: Value = request_upload(&t, &admin, id, "image/png", svg.len())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(send(&t, &target, svg, None).await.status(), 200);
    let body = problem(
        register(
            &t,
            &admin,
            id,
            target["key"].as_str().unwrap(),
            Some("\"2\""),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "key");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a PNG"),
        "{body}"
    );
    // Refused for good: its file is deleted.
    assert!(staged_uploads(&t).is_empty(), "{:?}", staged_uploads(&t));
    let body = problem(
        register(
            &t,
            &admin,
            id,
            target["key"].as_str().unwrap(),
            Some("\"2\""),
        )
        .await,
        404,
    )
    .await;
    assert_eq!(body["type"], "urn:vitrine:problem:not-found");
    // A JPEG announced as a PNG, the same.
    let target: Value = request_upload(&t, &admin, id, "image/png", JPEG.len())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(send(&t, &target, JPEG.to_vec(), None).await.status(), 200);
    problem(
        register(
            &t,
            &admin,
            id,
            target["key"].as_str().unwrap(),
            Some("\"2\""),
        )
        .await,
        422,
    )
    .await;
    let current: Value = t
        .get(&format!("/api/v1/admin/products/{id}"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["version"], 2);
    assert_eq!(current["images"].as_array().unwrap().len(), 1);
    t.stop().await;
}

#[tokio::test]
async fn an_upload_expires() {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let t = TestApp::spawn_with_clock(clock.clone(), |_| {}).await;
    let admin = t.admin("admin@loja.test").await;
    let product = t.product(&admin, "caneca", &[("CANECA-1", 3)]).await;
    let id = product["id"].as_str().unwrap();

    // A URL used after its 10 minutes.
    let late: Value = request_upload(&t, &admin, id, "image/png", PNG.len())
        .await
        .json()
        .await
        .unwrap();
    // A file sent in time but registered more than an hour after its URL expired.
    let stale: Value = request_upload(&t, &admin, id, "image/png", PNG.len())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(send(&t, &stale, PNG.to_vec(), None).await.status(), 200);
    clock.advance_secs(601);
    let body = problem(send(&t, &late, PNG.to_vec(), None).await, 410).await;
    assert_eq!(body["type"], "urn:vitrine:problem:gone");
    clock.advance_secs(3600);
    // Tokens last an hour: sign in again.
    let admin = t.sign_in("admin@loja.test", "senha-forte-123").await;
    let body = problem(
        register(
            &t,
            &admin,
            id,
            stale["key"].as_str().unwrap(),
            Some("\"1\""),
        )
        .await,
        410,
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    assert!(staged_uploads(&t).is_empty(), "{:?}", staged_uploads(&t));
    t.stop().await;
}
