//! The BUILT `api` binary, run as Lambda runs it: against a local Runtime API
//! (`vitrine_testkit::lambda_runtime`), with the environment the template gives it, on AWS
//! resources in the local emulator. Proves the binary starts, answers REST and HTTP API events
//! in their own response formats, logs JSON without personal data, and reports a failed cold
//! start to the Runtime API.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use vitrine_testkit::lambda_runtime::{HANG_GUARD, LambdaProcess, Outcome, RuntimeApi};

use common::{
    AwsFixture, RECORDED_PERSONAL_DATA, RECORDED_SKU, RECORDED_TOKEN_PREFIX, customer_token,
    emf_spec_violation, event, seed_recorded_catalog, with_bearer,
};

const API: &str = env!("CARGO_BIN_EXE_api");

fn body_json(response: &Value) -> Value {
    let body = response["body"].as_str().expect("a text body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {body}"))
}

#[tokio::test]
async fn the_api_binary_starts_answers_recorded_events_and_logs_no_personal_data() {
    let fixture = AwsFixture::create().await;
    let state = fixture.state().await;
    seed_recorded_catalog(&state.app).await;
    let token = customer_token(&state.app, "lambda-binary@example.com").await;
    let runtime = RuntimeApi::start().await.expect("the Runtime API");
    let mut env = fixture.api_env();
    // The most verbose level a deployment can ask for: still no payloads in the logs.
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "TRACE".into()));
    let mut api = LambdaProcess::spawn(API, &runtime, &env);

    let listing = api
        .invoke(&runtime, event("apigw-rest-get-products"))
        .await
        .json();
    let order = api
        .invoke(&runtime, with_bearer("apigw-http-post-order", &token))
        .await
        .json();
    let refused = api
        .invoke(&runtime, event("apigw-rest-post-order"))
        .await
        .json();
    let missing = api
        .invoke(&runtime, event("apigw-http-unknown-route"))
        .await
        .json();
    let output = api.stop().await;

    // A REST API (v1) response: status, both header maps, the body as text.
    assert_eq!(listing["statusCode"], 200, "{listing}");
    assert_eq!(listing["isBase64Encoded"], false, "{listing}");
    assert!(listing["multiValueHeaders"].is_object(), "{listing}");
    assert!(listing.get("cookies").is_none(), "{listing}");
    assert_eq!(
        body_json(&listing)["items"][0]["variants"][0]["sku"],
        RECORDED_SKU
    );
    // An HTTP API (v2) response: status, headers, cookies, the body as text.
    assert_eq!(order["statusCode"], 201, "{order}");
    assert!(order["cookies"].is_array(), "{order}");
    assert_eq!(body_json(&order)["lines"][0]["sku"], RECORDED_SKU);
    assert_eq!(refused["statusCode"], 401, "{refused}");
    assert_eq!(missing["statusCode"], 404, "{missing}");
    assert_eq!(body_json(&missing)["status"], 404);

    let lines: Vec<Value> = output
        .stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"))
        })
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["http.route"] == "/api/v1/products"
                && l["span"]["request_id"].is_string()
                && l["span"]["trace_id"].is_string()),
        "the router logs its route template, without the stage, with request and trace ids:\n{}",
        output.stdout
    );
    // One CloudWatch EMF record per request, valid by the specification.
    let emf: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert_eq!(
        emf.len(),
        4,
        "one EMF record per request:\n{}",
        output.stdout
    );
    for record in &emf {
        if let Err(why) = emf_spec_violation(record) {
            panic!("{why}: {record}");
        }
    }
    let routes: Vec<(&str, &str)> = emf
        .iter()
        .map(|r| (r["Route"].as_str().unwrap(), r["Status"].as_str().unwrap()))
        .collect();
    assert!(routes.contains(&("/api/v1/products", "200")), "{routes:?}");
    assert!(routes.contains(&("/api/v1/orders", "201")), "{routes:?}");
    assert!(routes.contains(&("unmatched", "404")), "{routes:?}");
    for secret in RECORDED_PERSONAL_DATA.iter().copied().chain([
        RECORDED_TOKEN_PREFIX,
        token.as_str(),
        "lambda-binary@example.com",
    ]) {
        assert!(
            !output.stdout.contains(secret) && !output.stderr.contains(secret),
            "{secret:?} reached the logs:\n{}\n{}",
            output.stdout,
            output.stderr
        );
    }
}

/// The api's cold start reaches no AWS service: its clients are built, the user pool's keys
/// fetched and the search index opened by the first request that needs each. So what its init
/// costs does not grow with the catalog (a million products or one). Its AWS endpoint here is a
/// listener that counts the connections made to it.
#[tokio::test]
async fn the_api_cold_start_reaches_no_aws_service_so_it_does_not_grow_with_the_catalog() {
    let fixture = AwsFixture::create().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a listener");
    let endpoint = format!("http://{}", listener.local_addr().expect("its address"));
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let accepting = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let runtime = RuntimeApi::start().await.expect("the Runtime API");
    let env: Vec<(String, String)> = fixture
        .api_env()
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "AWS_ENDPOINT_URL" => (k, endpoint.clone()),
            _ => (k, v),
        })
        .collect();
    let api = LambdaProcess::spawn(API, &runtime, &env);
    // Its init ends when it first asks the Runtime API for an event, or fails this test when
    // it connects (the listener never answers). Bounded: a guard against hangs, not a timing
    // assertion.
    let start = tokio::time::Instant::now();
    while runtime.first_poll().is_none() && connections.load(Ordering::SeqCst) == 0 {
        assert!(
            start.elapsed() < HANG_GUARD,
            "the api never asked for an event"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let output = api.stop().await;
    accepting.abort();
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the cold start connected to AWS:\n{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("cold start: ready"),
        "{}",
        output.stdout
    );
}

#[tokio::test]
async fn a_cold_start_without_its_settings_is_reported_as_an_init_error_and_exits() {
    let runtime = RuntimeApi::start().await.expect("the Runtime API");
    let env = [("AWS_REGION".to_owned(), "us-east-1".to_owned())];
    let mut api = LambdaProcess::spawn(API, &runtime, &env);

    let outcome = api.invoke(&runtime, event("apigw-rest-get-products")).await;
    let status = api.exit_status().await;

    let Outcome::InitError(error) = outcome else {
        panic!("expected an init error, got {outcome:?}");
    };
    assert_eq!(error.error_type.as_deref(), Some("Runtime.InitError"));
    assert_eq!(error.body["errorType"], "Runtime.InitError");
    let message = error.body["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("VITRINE_TABLE"), "{message}");
    assert!(!status.success(), "{status:?}");
    let output = api.stop().await;
    assert!(
        output
            .stdout
            .lines()
            .any(|l| l.contains("cold start failed")),
        "{}",
        output.stdout
    );
}

#[test]
fn the_emf_check_catches_records_that_break_the_specification() {
    let good =
        vitrine_app::metrics::emf_request(1_767_225_600_000, "api", "/api/v1/products", 200, 3.5);
    assert_eq!(emf_spec_violation(&good), Ok(()));
    type Breaks = fn(&mut Value);
    let broken: [(&str, Breaks); 6] = [
        ("seconds, not ms", |r| {
            r["_aws"]["Timestamp"] = serde_json::json!(1_767_225_600)
        }),
        ("no namespace", |r| {
            r["_aws"]["CloudWatchMetrics"][0]["Namespace"] = Value::Null
        }),
        ("dimension missing", |r| {
            r.as_object_mut().unwrap().remove("Route");
        }),
        ("dimension not a string", |r| {
            r["Status"] = serde_json::json!(200)
        }),
        ("unknown unit", |r| {
            r["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"] = serde_json::json!("ms")
        }),
        ("value missing", |r| {
            r.as_object_mut().unwrap().remove("Latency");
        }),
    ];
    for (what, breaks) in broken {
        let mut record = good.clone();
        breaks(&mut record);
        assert!(emf_spec_violation(&record).is_err(), "{what} passed");
    }
}
