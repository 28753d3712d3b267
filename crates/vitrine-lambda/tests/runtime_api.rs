//! The local Lambda Runtime API (`vitrine_testkit::lambda_runtime`) speaks the protocol the
//! runtime expects: checked here with a plain HTTP client playing the runtime.

use std::time::Duration;

use serde_json::json;
use vitrine_testkit::lambda_runtime::{FUNCTION_ARN, HANG_GUARD, Outcome, RuntimeApi};

fn url(runtime: &RuntimeApi, path: &str) -> String {
    format!("http://{}/2018-06-01/runtime{path}", runtime.address())
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_owned()
}

#[tokio::test]
async fn next_hands_over_a_queued_event_with_the_runtime_headers_and_the_response_completes_it() {
    let runtime = RuntimeApi::start().await.expect("start");
    let http = reqwest::Client::new();
    let invocation = runtime.enqueue(r#"{"hello":"lambda"}"#);
    let request_id = invocation.request_id.clone();

    let next = http
        .get(url(&runtime, "/invocation/next"))
        .send()
        .await
        .expect("next");
    let status = next.status();
    let id = header(&next, "lambda-runtime-aws-request-id");
    let deadline: u128 = header(&next, "lambda-runtime-deadline-ms")
        .parse()
        .expect("ms");
    let arn = header(&next, "lambda-runtime-invoked-function-arn");
    let trace = header(&next, "lambda-runtime-trace-id");
    let event = next.text().await.expect("event");
    let posted = http
        .post(url(&runtime, &format!("/invocation/{id}/response")))
        .body(r#"{"statusCode":200}"#)
        .send()
        .await
        .expect("response");

    assert_eq!(status, 200);
    assert_eq!(id, request_id);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    assert!(deadline > now, "the deadline is in the future");
    assert_eq!(arn, FUNCTION_ARN);
    assert!(trace.starts_with("Root=1-"), "{trace}");
    assert_eq!(event, r#"{"hello":"lambda"}"#);
    assert_eq!(posted.status(), 202);
    assert_eq!(
        invocation.outcome().await.json(),
        json!({"statusCode": 200})
    );
}

#[tokio::test]
async fn next_waits_for_an_event_queued_after_it_asked() {
    let runtime = RuntimeApi::start().await.expect("start");
    let next_url = url(&runtime, "/invocation/next");
    let poll = tokio::spawn(async move {
        reqwest::get(next_url)
            .await
            .expect("next")
            .text()
            .await
            .expect("event")
    });
    let waited = tokio::time::timeout(HANG_GUARD, async {
        while runtime.next_polls() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "the poll never arrived");

    let _invocation = runtime.enqueue("42");

    assert_eq!(poll.await.expect("the poll"), "42");
}

#[tokio::test]
async fn an_error_report_completes_the_invocation_with_its_type_and_body() {
    let runtime = RuntimeApi::start().await.expect("start");
    let http = reqwest::Client::new();
    let invocation = runtime.enqueue("{}");
    let next = http
        .get(url(&runtime, "/invocation/next"))
        .send()
        .await
        .expect("next");
    let id = header(&next, "lambda-runtime-aws-request-id");

    let posted = http
        .post(url(&runtime, &format!("/invocation/{id}/error")))
        .header("Lambda-Runtime-Function-Error-Type", "Unhandled")
        .body(r#"{"errorType":"Boom","errorMessage":"it broke"}"#)
        .send()
        .await
        .expect("error");

    assert_eq!(posted.status(), 202);
    let Outcome::Error(error) = invocation.outcome().await else {
        panic!("expected an error outcome");
    };
    assert_eq!(error.error_type.as_deref(), Some("Unhandled"));
    assert_eq!(error.body["errorMessage"], "it broke");
}

#[tokio::test]
async fn a_report_for_an_unknown_or_completed_invocation_is_refused() {
    let runtime = RuntimeApi::start().await.expect("start");
    let http = reqwest::Client::new();
    let _invocation = runtime.enqueue("{}");
    let next = http
        .get(url(&runtime, "/invocation/next"))
        .send()
        .await
        .expect("next");
    let id = header(&next, "lambda-runtime-aws-request-id");
    let respond = |id: String| {
        http.post(url(&runtime, &format!("/invocation/{id}/response")))
            .body("{}")
            .send()
    };

    let unknown = respond("not-a-request-id".into()).await.expect("post");
    let first = respond(id.clone()).await.expect("post");
    let second = respond(id).await.expect("post");

    assert_eq!(unknown.status(), 400);
    assert_eq!(first.status(), 202);
    assert_eq!(second.status(), 400);
}

#[tokio::test]
async fn an_init_error_completes_the_invocations_waiting_for_the_runtime() {
    let runtime = RuntimeApi::start().await.expect("start");
    let invocation = runtime.enqueue("{}");

    let posted = reqwest::Client::new()
        .post(url(&runtime, "/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")
        .body(r#"{"errorType":"Runtime.InitError","errorMessage":"no table"}"#)
        .send()
        .await
        .expect("init error");

    assert_eq!(posted.status(), 202);
    let Outcome::InitError(error) = invocation.outcome().await else {
        panic!("expected an init error");
    };
    assert_eq!(error.error_type.as_deref(), Some("Runtime.InitError"));
    assert_eq!(error.body["errorMessage"], "no table");
    assert!(runtime.init_error().is_some());
}
