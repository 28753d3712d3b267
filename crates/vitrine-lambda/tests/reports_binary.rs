//! The BUILT `reports` binary, run as Lambda runs it (a local Runtime API, the environment the
//! template gives it, resources in the emulator): the report goes to `ReportsBucket`
//! (`VITRINE_REPORTS_BUCKET`), not to the data bucket, and the application the `api` function
//! composes lists it and presigns its download there.

mod common;

use std::sync::Arc;

use serde_json::json;
use vitrine_app::Settings;
use vitrine_app::ports::{SystemClock, UlidIds};
use vitrine_aws::compose::{self, AwsResources};
use vitrine_testkit::lambda_runtime::{LambdaProcess, RuntimeApi};

use common::AwsFixture;

/// The keys under `reports/` of one bucket alone (no routing).
async fn report_keys(fixture: &AwsFixture, bucket: &str) -> Vec<String> {
    let plain = AwsResources {
        bucket: bucket.to_owned(),
        reports_bucket: None,
        ..fixture.resources.clone()
    };
    let store = compose::build(
        &fixture.aws,
        &plain,
        Settings::default(),
        Arc::new(SystemClock),
        Arc::new(UlidIds),
    )
    .await
    .expect("a store on one bucket");
    store
        .app
        .ports
        .blobs
        .list("reports/")
        .await
        .expect("listing the bucket")
        .into_iter()
        .map(|m| m.key)
        .collect()
}

#[tokio::test]
async fn the_reports_function_writes_to_the_reports_bucket_where_the_api_reads_them() {
    let fixture = AwsFixture::create().await;
    let reports_bucket = fixture
        .resources
        .reports_bucket
        .clone()
        .expect("the fixture has a reports bucket, as the template");
    let runtime = RuntimeApi::start().await.expect("the Runtime API");
    let mut reports =
        LambdaProcess::spawn(env!("CARGO_BIN_EXE_reports"), &runtime, &fixture.api_env());
    let schedule = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-11-28T06:30:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/vitrine-reports"], "detail": {}
    });
    let answer = reports.invoke(&runtime, schedule.to_string()).await.json();
    let output = reports.stop().await;
    let folder = answer["folder"]
        .as_str()
        .expect("the report's folder")
        .to_owned();
    assert!(folder.starts_with("reports/"), "{answer}");

    let in_reports = report_keys(&fixture, &reports_bucket).await;
    assert!(
        in_reports.contains(&format!("{folder}/sales-by-day.csv")),
        "{in_reports:?}\n{}",
        output.stdout
    );
    assert!(
        report_keys(&fixture, &fixture.resources.bucket)
            .await
            .is_empty(),
        "a report was written to the data bucket"
    );

    // The api function's composition (VITRINE_REPORTS_BUCKET set, as in Globals).
    let state = fixture.state().await;
    let listed = state.app.report_files().await.expect("listing reports");
    assert!(
        listed
            .iter()
            .any(|f| f.key == format!("{folder}/sales-by-day.csv")),
        "{listed:?}"
    );
    let (url, bytes) = state
        .app
        .report_file(&format!("{folder}/sales-by-day.csv"))
        .await
        .expect("a report's download");
    let url = url.expect("S3 answers with a presigned URL");
    assert!(bytes.is_none());
    assert!(url.contains(&reports_bucket), "{url}");
    let csv = reqwest::get(&url)
        .await
        .expect("the presigned URL answers")
        .text()
        .await
        .unwrap();
    assert!(
        csv.starts_with("date,orders,revenue_brl,average_ticket_brl"),
        "{csv}"
    );
}
