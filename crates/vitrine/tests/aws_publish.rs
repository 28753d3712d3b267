//! `vitrine aws publish` with the real binary against the AWS emulator: the site is uploaded
//! with its content types and cache headers, the first admin is created in the pool's `admin`
//! group and can sign in, the URLs are printed; a second run changes nothing and says so.
#![cfg(feature = "aws")]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use vitrine_app::Settings;
use vitrine_app::ports::{ClientInfo, SystemClock, UlidIds};
use vitrine_aws::AwsConfig;
use vitrine_aws::compose::{self, AwsResources};
use vitrine_testkit::moto;

const BIN: &str = env!("CARGO_BIN_EXE_vitrine");
const PASSWORD: &str = "senha-forte-2026";

fn web_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// Run `vitrine aws publish` on the emulator with `password` on stdin (if any).
fn publish(bucket: &str, pool: &str, password: Option<&str>) -> (bool, String, String) {
    let data = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--data-dir".to_owned(),
        data.path().display().to_string(),
        "--aws-region".into(),
        "us-east-1".into(),
        "--aws-emulator".into(),
        "aws".into(),
        "publish".into(),
        "--site-bucket".into(),
        bucket.into(),
        "--web-dir".into(),
        web_dir().display().to_string(),
        "--user-pool-id".into(),
        pool.into(),
        "--admin-email".into(),
        "ana@loja.test".into(),
        "--admin-name".into(),
        "Ana".into(),
        "--site-url".into(),
        "https://d111111abcdef8.cloudfront.net".into(),
    ];
    if password.is_some() {
        args.push("--admin-password-stdin".into());
    }
    let mut child = Command::new(BIN)
        .args(&args)
        // The endpoint as the other AWS code takes it.
        .env("AWS_ENDPOINT_URL", moto::endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running vitrine");
    if let Some(p) = password {
        writeln!(child.stdin.take().unwrap(), "{p}").unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn publish_uploads_the_site_creates_the_admin_and_a_second_run_changes_nothing() {
    let aws = AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(moto::endpoint().to_owned()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: true,
    };
    let resources = compose::create_resources(
        &aws,
        &AwsResources {
            table: moto::unique("publish-t"),
            bucket: moto::unique("publish-site"),
            user_pool_id: moto::unique("publish-p"),
            client_id: String::new(),
            mail_from: "loja@loja.test".into(),
            reports_bucket: None,
        },
    )
    .await
    .expect("the emulator's table, bucket and pool");
    let (bucket, pool) = (resources.bucket.clone(), resources.user_pool_id.clone());

    // Without a password, a missing admin is a clear error, and nothing is half made.
    let (ok, _, stderr) = publish(&bucket, &pool, None);
    assert!(!ok);
    assert!(stderr.contains("--admin-password-stdin"), "{stderr}");

    let (ok, stdout, stderr) = publish(&bucket, &pool, Some(PASSWORD));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("user created with its password"),
        "{stdout}"
    );
    assert!(stdout.contains("added to admin"), "{stdout}");
    for line in [
        "storefront: https://d111111abcdef8.cloudfront.net/",
        "admin:      https://d111111abcdef8.cloudfront.net/admin/",
        "API:        https://d111111abcdef8.cloudfront.net/api/v1",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }

    // The files, with the headers S3 serves them with (to CloudFront), read through presigned
    // URLs (the bucket is private); `resources.bucket` is the site bucket here.
    let store = compose::build(
        &aws,
        &resources,
        Settings::default(),
        Arc::new(SystemClock),
        Arc::new(UlidIds),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    for (key, content_type, cache) in [
        ("index.html", "text/html; charset=utf-8", "no-cache"),
        ("admin/index.html", "text/html; charset=utf-8", "no-cache"),
        (
            "js/app.js",
            "text/javascript; charset=utf-8",
            "public, max-age=3600",
        ),
        ("favicon.svg", "image/svg+xml", "public, max-age=3600"),
    ] {
        let res = http
            .get(
                store
                    .app
                    .ports
                    .blobs
                    .download_url(key, 60)
                    .await
                    .unwrap()
                    .expect("S3 presigns"),
            )
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{key}: {}", res.status());
        assert_eq!(res.headers()["content-type"], content_type, "{key}");
        assert_eq!(res.headers()["cache-control"], cache, "{key}");
        let local = std::fs::read(web_dir().join(key)).unwrap();
        assert_eq!(
            res.bytes().await.unwrap().as_ref(),
            local.as_slice(),
            "{key}"
        );
    }

    // The admin signs in with that password and holds an admin's token.
    let tokens = store
        .app
        .sign_in("ana@loja.test", PASSWORD, &ClientInfo::default(), None)
        .await
        .expect("the admin signs in");
    let principal = store
        .keys
        .verify_access(&tokens.access_token, store.app.ports.clock.now())
        .await
        .expect("a valid token");
    assert!(principal.is_admin(), "{principal:?}");

    // Again: nothing to do, and it says so (the password given again is not applied).
    let (ok, stdout, stderr) = publish(&bucket, &pool, Some("another-password-1"));
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("site: unchanged"), "{stdout}");
    assert!(
        stdout.contains("admin ana@loja.test: unchanged"),
        "{stdout}"
    );
    store
        .app
        .sign_in("ana@loja.test", PASSWORD, &ClientInfo::default(), None)
        .await
        .expect("the password is still the first one");
}
