//! `PrefixRoutedBlobs` over two S3 buckets on the emulator: the Blobs conformance suite, and the
//! routing itself (keys under `reports/` in the reports bucket only, the rest in the main one;
//! listings that span both).

use std::sync::Arc;

use bytes::Bytes;
use vitrine_app::ports::blobs::Blobs;
use vitrine_aws::routed_blobs::PrefixRoutedBlobs;
use vitrine_aws::s3::S3Blobs;
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_testkit::moto;

async fn bucket(prefix: &str) -> (S3Blobs, String) {
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
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let name = moto::unique(prefix);
    S3Blobs::create_bucket(&client, &name)
        .await
        .expect("create bucket");
    (S3Blobs::new(client, name.clone()), name)
}

async fn make_blobs() -> (Arc<dyn Blobs>, ()) {
    let (main, _) = bucket("routed-main").await;
    let (reports, _) = bucket("routed-reports").await;
    (
        Arc::new(PrefixRoutedBlobs::new(
            Arc::new(main),
            "reports/",
            Arc::new(reports),
        )),
        (),
    )
}

vitrine_testkit::blobs_conformance!(make_blobs);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_under_the_prefix_live_in_the_routed_bucket_only() {
    let (main, _) = bucket("routed-main").await;
    let (reports, reports_name) = bucket("routed-reports").await;
    let (main, reports) = (Arc::new(main), Arc::new(reports));
    let routed = PrefixRoutedBlobs::new(main.clone(), "reports/", reports.clone());
    for key in [
        "reports/2026-11-28-033000/sales-by-day.csv",
        "invoices/2026/NFe-1.xml",
        "media/p/1.webp",
    ] {
        routed
            .put(key, Bytes::from_static(b"x"), "text/plain")
            .await
            .unwrap();
    }
    let keys = |metas: Vec<vitrine_app::ports::BlobMeta>| -> Vec<String> {
        metas.into_iter().map(|m| m.key).collect()
    };
    assert_eq!(
        keys(reports.list("").await.unwrap()),
        ["reports/2026-11-28-033000/sales-by-day.csv"]
    );
    assert_eq!(
        keys(main.list("").await.unwrap()),
        ["invoices/2026/NFe-1.xml", "media/p/1.webp"]
    );
    assert_eq!(
        keys(routed.list("").await.unwrap()),
        [
            "invoices/2026/NFe-1.xml",
            "media/p/1.webp",
            "reports/2026-11-28-033000/sales-by-day.csv"
        ]
    );
    assert_eq!(
        keys(routed.list("reports/2026").await.unwrap()),
        ["reports/2026-11-28-033000/sales-by-day.csv"]
    );
    assert_eq!(
        keys(routed.list("invoices/").await.unwrap()),
        ["invoices/2026/NFe-1.xml"]
    );
    let url = routed
        .download_url("reports/2026-11-28-033000/sales-by-day.csv", 60)
        .await
        .unwrap()
        .unwrap();
    assert!(url.contains(&reports_name), "{url}");
    routed
        .delete("reports/2026-11-28-033000/sales-by-day.csv")
        .await
        .unwrap();
    assert!(reports.list("").await.unwrap().is_empty());
    routed.ping().await.unwrap();
}
