//! The Blobs conformance suite on S3, through the real AWS SDK against the moto emulator, plus
//! a presigned URL fetched the way a browser would. Each case gets a fresh bucket.

use std::sync::Arc;

use bytes::Bytes;
use vitrine_app::ports::blobs::{BlobError, Blobs};
use vitrine_aws::s3::S3Blobs;
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_testkit::moto;

async fn client() -> aws_sdk_s3::Client {
    let endpoint = tokio::task::spawn_blocking(moto::endpoint)
        .await
        .expect("moto endpoint");
    let config = AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(endpoint.to_owned()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: true,
    };
    let sdk = sdk_config(&config).await;
    // The emulator serves buckets by path, not by virtual host.
    let s3 = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

async fn fresh_blobs() -> S3Blobs {
    let client = client().await;
    let bucket = moto::unique("vitrine-blobs");
    S3Blobs::create_bucket(&client, &bucket)
        .await
        .expect("create bucket");
    S3Blobs::new(client, bucket)
}

async fn make_blobs() -> (Arc<dyn Blobs>, ()) {
    (Arc::new(fresh_blobs().await), ())
}

vitrine_testkit::blobs_conformance!(make_blobs);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presigned_url_serves_the_bytes_to_a_plain_http_client() {
    let blobs = fresh_blobs().await;
    let content: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    blobs
        .put(
            "invoices/2025/NFe-1.pdf",
            Bytes::from(content.clone()),
            "application/pdf",
        )
        .await
        .unwrap();
    let url = blobs
        .download_url("invoices/2025/NFe-1.pdf", 60)
        .await
        .unwrap()
        .expect("S3 offers presigned URLs");
    assert!(url.contains("X-Amz-Signature="), "{url}");
    assert!(url.contains("X-Amz-Expires=60"), "{url}");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), content.as_slice());

    // Expiry is capped, whatever the caller asks.
    let long = blobs
        .download_url("invoices/2025/NFe-1.pdf", 30 * 86_400)
        .await
        .unwrap()
        .unwrap();
    assert!(long.contains("X-Amz-Expires=3600"), "{long}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_through_more_than_one_response() {
    let blobs = fresh_blobs().await;
    // ListObjectsV2 returns at most 1000 keys per response.
    let keys: Vec<String> = (0..1005).map(|n| format!("many/{n:04}.txt")).collect();
    for chunk in keys.chunks(50) {
        let puts: Vec<_> = chunk
            .iter()
            .map(|key| {
                let (blobs, key) = (blobs.clone(), key.clone());
                tokio::spawn(async move {
                    blobs
                        .put(&key, Bytes::from_static(b"x"), "text/plain")
                        .await
                })
            })
            .collect();
        for put in puts {
            put.await.unwrap().unwrap();
        }
    }
    let listed: Vec<String> = blobs
        .list("many/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(listed, keys);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_bucket_is_idempotent_and_ping_fails_for_a_missing_bucket() {
    let client = client().await;
    let bucket = moto::unique("vitrine-idem");
    S3Blobs::create_bucket(&client, &bucket).await.unwrap();
    S3Blobs::create_bucket(&client, &bucket).await.unwrap();
    S3Blobs::new(client.clone(), bucket).ping().await.unwrap();
    let missing = S3Blobs::new(client, moto::unique("never-created"));
    assert!(matches!(
        missing.ping().await,
        Err(BlobError::Unavailable(_))
    ));
}
