//! Product image uploads through the use cases: a target from the Uploads port (here the store's
//! own HMAC-signed URL, `SignedUploads`), the PUT it receives, and the registration that checks
//! the file and attaches it.

use bytes::Bytes;
use vitrine_app::AppError;
use vitrine_app::media::{ImageUpload, REGISTER_GRACE_SECS, UPLOAD_URL_SECS};

use crate::world::World;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01";

/// The PUT a browser makes to a target of the store itself: its query, the type it sends.
async fn put(
    w: &World,
    upload: &ImageUpload,
    content_type: &str,
    bytes: &[u8],
) -> Result<(), AppError> {
    let (path, query) = upload.target.url.split_once('?').unwrap();
    let key = path.strip_prefix("/uploads/").unwrap();
    let mut expires = 0;
    let mut signature = "";
    for pair in query.split('&') {
        match pair.split_once('=').unwrap() {
            ("expires", v) => expires = v.parse().unwrap(),
            ("signature", v) => signature = v,
            _ => panic!("{pair}"),
        }
    }
    w.app
        .receive_upload(
            key,
            content_type,
            expires,
            signature,
            Bytes::copy_from_slice(bytes),
        )
        .await
}

#[tokio::test]
async fn a_sent_upload_is_registered_once_and_becomes_the_products_image() {
    let w = World::new();
    let product = w.product("caneca", "CANECA-1", 1).await;
    let upload = w
        .app
        .request_image_upload(&product.id, "image/png", PNG.len() as u64)
        .await
        .unwrap();
    assert_eq!(upload.target.method, "PUT");
    assert_eq!(upload.expires_at.secs(), crate::world::T0 + UPLOAD_URL_SECS);
    assert_eq!(w.blobs_under("uploads/").await, 0);
    put(&w, &upload, "image/png", PNG).await.unwrap();
    assert_eq!(w.blobs_under("uploads/").await, 1);

    let edited = w
        .app
        .register_image_upload(&product.id, &upload.key, product.version)
        .await
        .unwrap();
    assert_eq!(edited.version, product.version + 1);
    assert_eq!(edited.images.len(), 1);
    let image = w.app.media(&edited.images[0]).await.unwrap().unwrap();
    assert_eq!(image.0.bytes.as_ref(), PNG);
    assert_eq!(image.0.content_type, "image/png");
    assert_eq!(w.blobs_under("uploads/").await, 0);

    let again = w
        .app
        .register_image_upload(&product.id, &upload.key, edited.version)
        .await;
    assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
}

#[tokio::test]
async fn the_target_refuses_what_was_not_signed_and_registration_what_is_not_an_image() {
    let w = World::new();
    let product = w.product("caneca", "CANECA-1", 1).await;
    let upload = w
        .app
        .request_image_upload(&product.id, "image/png", PNG.len() as u64)
        .await
        .unwrap();
    let other_type = put(&w, &upload, "image/jpeg", PNG).await;
    assert!(
        matches!(other_type, Err(AppError::Unauthorized(_))),
        "{other_type:?}"
    );
    let other_size = put(&w, &upload, "image/png", &PNG[1..]).await;
    assert!(
        matches!(other_size, Err(AppError::Unauthorized(_))),
        "{other_size:?}"
    );
    assert_eq!(w.blobs_under("uploads/").await, 0);

    // Right type and size on the wire, but not a PNG inside.
    let fake = vec![b'<'; PNG.len()];
    put(&w, &upload, "image/png", &fake).await.unwrap();
    let refused = w
        .app
        .register_image_upload(&product.id, &upload.key, product.version)
        .await;
    assert!(matches!(refused, Err(AppError::Invalid(_))), "{refused:?}");
    assert_eq!(w.blobs_under("uploads/").await, 0);
    assert_eq!(w.blobs_under("images/").await, 0);

    for (content_type, size) in [
        ("image/svg+xml", 10),
        ("image/png", 0),
        ("image/png", 5 * 1024 * 1024 + 1),
    ] {
        let r = w
            .app
            .request_image_upload(&product.id, content_type, size)
            .await;
        assert!(
            matches!(r, Err(AppError::Invalid(_))),
            "{content_type} {size}: {r:?}"
        );
    }
    let r = w
        .app
        .request_image_upload("01NOSUCH", "image/png", 10)
        .await;
    assert!(matches!(r, Err(AppError::NotFound("product"))), "{r:?}");
}

#[tokio::test]
async fn an_upload_expires_for_sending_then_for_registering() {
    let w = World::new();
    let product = w.product("caneca", "CANECA-1", 1).await;
    let late = w
        .app
        .request_image_upload(&product.id, "image/png", PNG.len() as u64)
        .await
        .unwrap();
    let stale = w
        .app
        .request_image_upload(&product.id, "image/png", PNG.len() as u64)
        .await
        .unwrap();
    put(&w, &stale, "image/png", PNG).await.unwrap();
    w.clock.advance_secs(UPLOAD_URL_SECS + 1);
    let r = put(&w, &late, "image/png", PNG).await;
    assert!(matches!(r, Err(AppError::Gone(_))), "{r:?}");
    // Within the grace after the URL's expiry, a sent file may still be registered...
    w.clock.advance_secs(REGISTER_GRACE_SECS - 2);
    let version = product.version;
    let registered = w
        .app
        .register_image_upload(&product.id, &stale.key, version)
        .await
        .unwrap();
    // ...not after.
    let third = w
        .app
        .request_image_upload(&product.id, "image/png", PNG.len() as u64)
        .await
        .unwrap();
    put(&w, &third, "image/png", PNG).await.unwrap();
    w.clock
        .advance_secs(UPLOAD_URL_SECS + REGISTER_GRACE_SECS + 1);
    let r = w
        .app
        .register_image_upload(&product.id, &third.key, registered.version)
        .await;
    assert!(matches!(r, Err(AppError::Gone(_))), "{r:?}");
    assert_eq!(w.blobs_under("uploads/").await, 0);
}
