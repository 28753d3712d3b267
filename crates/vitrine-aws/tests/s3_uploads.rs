//! The Uploads port on S3 (`S3Uploads`) against the moto emulator: a presigned PUT sent the way
//! a browser sends it, then registration through the use case on S3 and DynamoDB, which reads
//! the object back and makes it the product's image.
//!
//! moto stores what a presigned PUT sends without checking its signature, so what S3 would do
//! with a changed request is checked here by recomputing the signature as S3 does (SigV4 with
//! query-string authentication: AWS S3 API reference, "Authenticating Requests: Using Query
//! Parameters (AWS Signature Version 4)"): the URL's signature matches the request that sends
//! the signed type and size, and no request that sends another.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use vitrine_app::media::MAX_IMAGE_BYTES;
use vitrine_app::ports::blobs::Blobs;
use vitrine_app::ports::{Clock, SystemClock, UlidIds, UploadSpec, Uploads};
use vitrine_app::{App, AppError, Ports, Settings};
use vitrine_aws::dynamo::DynamoTable;
use vitrine_aws::s3::S3Blobs;
use vitrine_aws::s3_presign::S3Uploads;
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_domain::Money;
use vitrine_domain::catalog::{Dimensions, Fiscal, ProductDraft, Sku, Variant};
use vitrine_testkit::doubles::{RecordingMailer, RecordingSms, Unused};
use vitrine_testkit::moto;

const SECRET: &str = "testing";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

async fn sdk() -> aws_config::SdkConfig {
    let endpoint = tokio::task::spawn_blocking(moto::endpoint)
        .await
        .expect("moto endpoint");
    sdk_config(&AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(endpoint.to_owned()),
        static_credentials: Some(("testing".into(), SECRET.into())),
        emulator: true,
    })
    .await
}

async fn s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], text: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn decode(v: &str) -> String {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// What S3 would compute for a PUT to `url` that sends `headers` (lower-case names), under
/// the secret key: the URL's own `X-Amz-Signature` when the request is the one signed.
fn expected_signature(url: &str, headers: &BTreeMap<&str, String>) -> (String, String) {
    let (base, query) = url.split_once('?').unwrap();
    let (_, rest) = base.split_once("://").unwrap();
    let path = &rest[rest.find('/').unwrap()..];
    let mut params: Vec<(&str, &str)> = query
        .split('&')
        .map(|p| p.split_once('=').unwrap())
        .collect();
    let given = params
        .iter()
        .find(|(k, _)| *k == "X-Amz-Signature")
        .unwrap()
        .1
        .to_owned();
    params.retain(|(k, _)| *k != "X-Amz-Signature");
    params.sort();
    let param = |name: &str| decode(params.iter().find(|(k, _)| *k == name).unwrap().1);
    let signed = param("X-Amz-SignedHeaders");
    let canonical_query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical_headers: String = signed
        .split(';')
        .map(|h| format!("{h}:{}\n", headers.get(h).map(|v| v.trim()).unwrap_or("")))
        .collect();
    let canonical = format!(
        "PUT\n{path}\n{}\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD",
        canonical_query.join("&")
    );
    let date = param("X-Amz-Date");
    let credential = param("X-Amz-Credential");
    let scope = credential.split_once('/').unwrap().1.to_owned();
    let parts: Vec<&str> = scope.split('/').collect();
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{SECRET}").as_bytes(), parts[0]);
    for part in &parts[1..] {
        key = hmac(&key, part);
    }
    (given, hex(&hmac(&key, &to_sign)))
}

/// An app on DynamoDB and S3 (moto), with presigned uploads into the same bucket.
async fn app(sdk: &aws_config::SdkConfig, bucket: &str) -> Arc<App> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let table = moto::unique("vitrine-media");
    DynamoTable::create_table(&dynamo, &table).await.unwrap();
    let s3 = s3(sdk).await;
    let ports = Ports {
        table: Arc::new(DynamoTable::new(dynamo, table, clock.clone())),
        blobs: Arc::new(S3Blobs::new(s3.clone(), bucket)),
        identity: Arc::new(Unused),
        mailer: Arc::new(RecordingMailer::default()),
        sms: Arc::new(RecordingSms::default()),
        clock,
        ids: Arc::new(UlidIds),
        payments: Vec::new(),
        fiscal: None,
        uploads: Arc::new(S3Uploads::new(s3, bucket)),
        shipping: None,
    };
    App::new(ports, Settings::default())
}

fn draft() -> ProductDraft {
    ProductDraft {
        slug: None,
        name: "Caneca".into(),
        description: "De cerâmica.".into(),
        category_id: None,
        images: vec![],
        variants: vec![Variant {
            sku: Sku::parse("CANECA-1").unwrap(),
            options: BTreeMap::new(),
            price: Money::from_centavos(5_000),
            compare_at: None,
            dimensions: Dimensions {
                weight_g: 300,
                length_cm: 10,
                width_cm: 10,
                height_cm: 10,
            },
            fiscal: Fiscal::default(),
        }],
        active: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presigned_put_binds_type_and_size_and_registration_reads_it_back() {
    let sdk = sdk().await;
    let client = s3(&sdk).await;
    let bucket = moto::unique("vitrine-media");
    S3Blobs::create_bucket(&client, &bucket).await.unwrap();
    let app = app(&sdk, &bucket).await;
    let product = app.create_product(draft(), &HashMap::new()).await.unwrap();

    let upload = app
        .request_image_upload(&product.id, "image/png", PNG.len() as u64)
        .await
        .unwrap();
    let url = upload.target.url.clone();
    assert!(
        url.contains(&format!("/{bucket}/uploads/{}/", product.id)),
        "{url}"
    );
    assert!(
        url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"),
        "{url}"
    );
    assert_eq!(
        upload.target.headers,
        vec![("content-type".to_owned(), "image/png".to_owned())]
    );

    // The request the URL was signed for, and what S3 makes of changed ones.
    let host = url.split("://").nth(1).unwrap().split('/').next().unwrap();
    let request = |content_type: &str, length: usize| {
        BTreeMap::from([
            ("host", host.to_owned()),
            ("content-type", content_type.to_owned()),
            ("content-length", length.to_string()),
        ])
    };
    let (given, computed) = expected_signature(&url, &request("image/png", PNG.len()));
    assert_eq!(given, computed, "the signed request verifies");
    for (content_type, length) in [
        ("image/jpeg", PNG.len()),
        ("text/html", PNG.len()),
        ("image/png", PNG.len() + 1),
        ("image/png", MAX_IMAGE_BYTES * 10),
    ] {
        let (given, computed) = expected_signature(&url, &request(content_type, length));
        assert_ne!(given, computed, "{content_type} {length} must be refused");
    }

    // The browser's PUT, as the target says.
    let http = reqwest::Client::new();
    let mut put = http.put(&url).body(PNG.to_vec());
    for (name, value) in &upload.target.headers {
        put = put.header(name, value);
    }
    let res = put.send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let head = client
        .head_object()
        .bucket(&bucket)
        .key(&upload.key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("image/png"));
    assert_eq!(head.content_length(), Some(PNG.len() as i64));

    // Registration reads it back from the bucket and moves it to its image key.
    let edited = app
        .register_image_upload(&product.id, &upload.key, product.version)
        .await
        .unwrap();
    let image = &edited.images[0];
    assert!(
        image.starts_with(&format!("images/{}/", product.id)),
        "{image}"
    );
    let blobs = S3Blobs::new(client.clone(), &bucket);
    let stored = blobs.get(image).await.unwrap().unwrap();
    assert_eq!(stored.bytes.as_ref(), PNG);
    assert_eq!(stored.content_type, "image/png");
    assert_eq!(
        blobs.get(&upload.key).await.unwrap(),
        None,
        "the staged object is gone"
    );
    let again = app
        .register_image_upload(&product.id, &upload.key, edited.version)
        .await;
    assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");

    // Markup sent through a valid URL (S3 checks type and size, not content) is refused at
    // registration and deleted.
    let markup = b"<html><script>alert(1)</script></html>";
    let upload = app
        .request_image_upload(&product.id, "image/png", markup.len() as u64)
        .await
        .unwrap();
    let mut put = http.put(&upload.target.url).body(markup.to_vec());
    for (name, value) in &upload.target.headers {
        put = put.header(name, value);
    }
    assert!(put.send().await.unwrap().status().is_success());
    let refused = app
        .register_image_upload(&product.id, &upload.key, edited.version)
        .await;
    assert!(matches!(refused, Err(AppError::Invalid(_))), "{refused:?}");
    assert_eq!(blobs.get(&upload.key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_receives_no_upload_itself_on_s3() {
    let sdk = sdk().await;
    let uploads = S3Uploads::new(s3(&sdk).await, "any-bucket");
    let spec = UploadSpec {
        key: "uploads/01P/01x-1-1.png".into(),
        content_type: "image/png".into(),
        size: 1,
        expires_at: SystemClock.now().plus_secs(60),
    };
    assert_eq!(
        uploads.check_put(&spec, "00", SystemClock.now()),
        Err(vitrine_app::ports::UploadRefused::NotHere)
    );
    // A key the Blobs port would refuse is never presigned.
    let bad = UploadSpec {
        key: "../x.png".into(),
        ..spec
    };
    assert!(uploads.target(&bad).await.is_err());
}
