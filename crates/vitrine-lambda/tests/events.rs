//! The Lambda plumbing on its own: recorded API Gateway events (`infra/events/`) go through
//! `lambda_http::request::from_str` and [`lambda_service`] into a small echo router, which answers
//! with what reached it: the path it matched, the query, the headers and the body. No emulator.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use lambda_http::RequestExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use vitrine_lambda::{AwsEnv, StagePrefix, lambda_service};

use common::{edited_event, event};

fn echo_router() -> Router {
    Router::new()
        .route(
            "/api/v1/products",
            get(|uri: Uri| async move {
                axum::Json(json!({ "route": "products", "path": uri.path(), "query": uri.query() }))
            }),
        )
        .route(
            "/api/v1/orders",
            post(|headers: HeaderMap, body: Bytes| async move {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                axum::Json(json!({
                    "route": "orders",
                    "content_type": header("content-type"),
                    "idempotency_key": header("idempotency-key"),
                    "authorization": header("authorization"),
                    "cookie": header("cookie"),
                    "body": serde_json::from_slice::<Value>(&body).ok(),
                }))
            }),
        )
        .fallback(|uri: Uri| async move { (StatusCode::NOT_FOUND, uri.path().to_owned()) })
}

/// Feed a recorded event's JSON through `lambda_http` and the stage layer into the echo router.
async fn send(event_json: &str, stage: StagePrefix) -> (StatusCode, Value) {
    let req = lambda_http::request::from_str(event_json).expect("a valid API Gateway event");
    send_request(req, stage).await
}

async fn send_request(req: lambda_http::Request, stage: StagePrefix) -> (StatusCode, Value) {
    let res = lambda_service(echo_router(), stage)
        .oneshot(req)
        .await
        .expect("infallible");
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("the body");
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    (status, value)
}

/// What `lambda_http` gives the router when `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set: the
/// event's own path. (Tests cannot set the variable: `set_var` is unsafe, and unsafe code is
/// forbidden here.)
fn as_if_lambda_http_ignored_the_stage(mut req: lambda_http::Request) -> lambda_http::Request {
    let raw = req.raw_http_path().to_owned();
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{raw}?{q}"),
        None => raw,
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().expect("a path"));
    *req.uri_mut() = Uri::from_parts(parts).expect("a URI");
    req
}

fn with_stage(name: &str, stage: &str) -> String {
    edited_event(name, |v| {
        v["requestContext"]["stage"] = Value::String(stage.to_owned());
        if v["version"] == "2.0" {
            // An HTTP API puts a named stage in front of rawPath.
            let raw = v["rawPath"].as_str().unwrap_or_default().to_owned();
            let routed = raw.strip_prefix("/prod").unwrap_or(&raw).to_owned();
            let with = if stage == "$default" {
                routed
            } else {
                format!("/{stage}{routed}")
            };
            v["rawPath"] = Value::String(with.clone());
            v["requestContext"]["http"]["path"] = Value::String(with);
        }
    })
}

fn sorted_query(q: &Value) -> Vec<String> {
    let mut pairs: Vec<String> = q
        .as_str()
        .unwrap_or_default()
        .split('&')
        .map(str::to_owned)
        .collect();
    pairs.sort();
    pairs
}

const LAMBDA_HTTP_ADDS_STAGE: StagePrefix = StagePrefix::new(true);
const LAMBDA_HTTP_IGNORES_STAGE: StagePrefix = StagePrefix::new(false);

#[tokio::test]
async fn a_rest_event_from_a_named_stage_reaches_the_route_without_the_stage() {
    let (status, body) = send(&event("apigw-rest-get-products"), LAMBDA_HTTP_ADDS_STAGE).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["route"], "products");
    assert_eq!(body["path"], "/api/v1/products");
    assert_eq!(
        sorted_query(&body["query"]),
        ["category=calcados", "limit=2", "sort=price_asc"]
    );
}

#[tokio::test]
async fn an_http_api_event_from_a_named_stage_reaches_the_route_without_the_stage() {
    let (status, body) = send(&event("apigw-http-get-products"), LAMBDA_HTTP_ADDS_STAGE).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["path"], "/api/v1/products");
    assert_eq!(body["query"], "category=calcados&limit=2&sort=price_asc");
}

#[tokio::test]
async fn the_stage_is_removed_whether_or_not_lambda_http_was_told_to_ignore_it() {
    for name in ["apigw-rest-get-products", "apigw-http-get-products"] {
        let req = lambda_http::request::from_str(&event(name)).expect("event");
        let (status, body) = send_request(
            as_if_lambda_http_ignored_the_stage(req),
            LAMBDA_HTTP_IGNORES_STAGE,
        )
        .await;

        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["path"], "/api/v1/products", "{name}");
    }
}

#[tokio::test]
async fn an_http_api_event_on_the_default_stage_is_routed_as_sent() {
    let (status, body) = send(
        &with_stage("apigw-http-get-products", "$default"),
        LAMBDA_HTTP_ADDS_STAGE,
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["path"], "/api/v1/products");
}

#[tokio::test]
async fn a_stage_named_like_the_first_path_segment_is_removed_once_and_only_where_it_was_added() {
    // A stage called `api` in front of routes under `/api`: the REST event's path has no stage,
    // the HTTP API's rawPath has it once.
    for (name, stage) in [
        ("apigw-rest-get-products", LAMBDA_HTTP_ADDS_STAGE),
        ("apigw-http-get-products", LAMBDA_HTTP_ADDS_STAGE),
    ] {
        let (status, body) = send(&with_stage(name, "api"), stage).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["path"], "/api/v1/products", "{name}");
    }
    for name in ["apigw-rest-get-products", "apigw-http-get-products"] {
        let req = lambda_http::request::from_str(&with_stage(name, "api")).expect("event");
        let (status, body) = send_request(
            as_if_lambda_http_ignored_the_stage(req),
            LAMBDA_HTTP_IGNORES_STAGE,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name} (stage ignored): {body}");
        assert_eq!(body["path"], "/api/v1/products", "{name} (stage ignored)");
    }
}

#[tokio::test]
async fn a_checkout_event_brings_its_json_body_and_headers_to_the_route() {
    for name in ["apigw-rest-post-order", "apigw-http-post-order"] {
        let recorded: Value = serde_json::from_str(&event(name)).expect("JSON");
        let sent_body: Value =
            serde_json::from_str(recorded["body"].as_str().expect("a body")).expect("JSON body");

        let (status, body) = send(&event(name), LAMBDA_HTTP_ADDS_STAGE).await;

        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["route"], "orders", "{name}");
        assert_eq!(body["content_type"], "application/json", "{name}");
        assert!(
            body["idempotency_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("checkout-")),
            "{name}: {body}"
        );
        assert!(
            body["authorization"]
                .as_str()
                .is_some_and(|a| a.starts_with("Bearer eyJ")),
            "{name}: {body}"
        );
        assert_eq!(body["body"], sent_body, "{name}");
    }
}

#[tokio::test]
async fn http_api_cookies_arrive_as_a_cookie_header() {
    let (_, body) = send(&event("apigw-http-post-order"), LAMBDA_HTTP_ADDS_STAGE).await;

    assert_eq!(body["cookie"], "vitrine_consent=necessary");
}

#[tokio::test]
async fn an_unknown_route_reaches_the_fallback_with_the_stage_removed() {
    for name in ["apigw-rest-unknown-route", "apigw-http-unknown-route"] {
        let (status, body) = send(&event(name), LAMBDA_HTTP_ADDS_STAGE).await;

        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
        assert_eq!(body, "/api/v1/nao-existe", "{name}");
    }
}

#[test]
fn the_settings_name_every_missing_variable_at_once() {
    let err = AwsEnv::from_lookup(|name| (name == "AWS_REGION").then(|| "sa-east-1".to_owned()))
        .expect_err("settings are missing");
    let message = err.to_string();

    for name in [
        "VITRINE_TABLE",
        "VITRINE_BUCKET",
        "VITRINE_USER_POOL_ID",
        "VITRINE_CLIENT_ID",
        "VITRINE_MAIL_FROM",
    ] {
        assert!(message.contains(name), "{message}");
    }
    assert!(!message.contains("AWS_REGION"), "{message}");
}

#[test]
fn the_settings_are_read_with_an_optional_endpoint() {
    let vars = |endpoint: Option<&str>| {
        let endpoint = endpoint.map(str::to_owned);
        move |name: &str| match name {
            "AWS_REGION" => Some("sa-east-1".to_owned()),
            "AWS_ENDPOINT_URL" => endpoint.clone(),
            "VITRINE_TABLE" => Some("vitrine".to_owned()),
            "VITRINE_BUCKET" => Some("vitrine-files".to_owned()),
            "VITRINE_USER_POOL_ID" => Some("sa-east-1_AbCdEf123".to_owned()),
            "VITRINE_CLIENT_ID" => Some("4l2k3j4h5g6f7d8s9a0".to_owned()),
            "VITRINE_MAIL_FROM" => Some("loja@example.com".to_owned()),
            _ => None,
        }
    };

    let on_aws = AwsEnv::from_lookup(vars(None)).expect("complete settings");
    let on_emulator =
        AwsEnv::from_lookup(vars(Some("http://127.0.0.1:5000"))).expect("complete settings");

    assert_eq!(on_aws.endpoint, None);
    assert_eq!(on_aws.resources().table, "vitrine");
    assert_eq!(on_aws.aws_config().region, "sa-east-1");
    assert_eq!(on_aws.aws_config().static_credentials, None);
    assert_eq!(
        on_emulator.aws_config().endpoint.as_deref(),
        Some("http://127.0.0.1:5000")
    );
}

#[test]
fn payload_logging_crates_stay_at_info_whatever_level_is_asked_for() {
    use tracing::Level;
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(vitrine_lambda::log_filter("trace"))
        .with_writer(std::io::sink)
        .finish();

    tracing::subscriber::with_default(subscriber, || {
        assert!(tracing::enabled!(target: "vitrine_http", Level::TRACE));
        assert!(!tracing::enabled!(target: "lambda_runtime", Level::TRACE));
        assert!(!tracing::enabled!(target: "lambda_runtime::layers::api_response", Level::DEBUG));
        assert!(
            !tracing::enabled!(target: "aws_smithy_runtime::client::orchestrator", Level::TRACE)
        );
        assert!(!tracing::enabled!(target: "hyper_util::client", Level::DEBUG));
        assert!(tracing::enabled!(target: "lambda_runtime", Level::INFO));
    });
}
