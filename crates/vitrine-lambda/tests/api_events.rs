//! The recorded API Gateway events through the real API: `lambda_http::request::from_str`, the
//! stage layer, and `vitrine_http::router` over the AWS adapters (DynamoDB, S3, Cognito, SES on
//! the local emulator), built by `vitrine_aws::compose` as the `api` binary builds it.

mod common;

use axum::http::{StatusCode, header};
use serde_json::Value;
use tower::ServiceExt as _;
use vitrine_http::AppState;
use vitrine_lambda::{StagePrefix, lambda_service};

use common::{AwsFixture, RECORDED_SKU, customer_token, event, seed_recorded_catalog, with_bearer};

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Value,
}

async fn send(state: &AppState, event_json: &str) -> Answer {
    let req = lambda_http::request::from_str(event_json).expect("a valid API Gateway event");
    // What the binary runs: the stage rule read from this process's environment.
    let res = lambda_service(vitrine_http::router(state.clone()), StagePrefix::from_env())
        .oneshot(req)
        .await
        .expect("infallible");
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("the body");
    let body = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{status}: not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    Answer {
        status,
        content_type,
        body,
    }
}

async fn seeded_store() -> AppState {
    let fixture = AwsFixture::create().await;
    let state = fixture.state().await;
    seed_recorded_catalog(&state.app).await;
    state
}

#[tokio::test]
async fn the_recorded_product_listings_answer_from_dynamodb_for_rest_and_http_apis() {
    let state = seeded_store().await;

    for name in ["apigw-rest-get-products", "apigw-http-get-products"] {
        let answer = send(&state, &event(name)).await;

        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.body);
        let items = answer.body["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{name}: {}", answer.body);
        assert_eq!(items[0]["variants"][0]["sku"], RECORDED_SKU, "{name}");
        assert_eq!(items[0]["price_from_centavos"], 34_990, "{name}");
    }
}

#[tokio::test]
async fn the_recorded_checkouts_place_orders_with_a_customer_token() {
    let state = seeded_store().await;
    let token = customer_token(&state.app, "lambda-checkout@example.com").await;

    for name in ["apigw-rest-post-order", "apigw-http-post-order"] {
        let answer = send(&state, &with_bearer(name, &token)).await;

        assert_eq!(
            answer.status,
            StatusCode::CREATED,
            "{name}: {}",
            answer.body
        );
        assert_eq!(answer.body["status"], "pending_payment", "{name}");
        assert_eq!(answer.body["lines"][0]["sku"], RECORDED_SKU, "{name}");
        assert_eq!(answer.body["payment_method"], "pix", "{name}");
        assert_eq!(
            answer.body["shipping_address"]["recipient"], "Maria Exemplo",
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_recorded_checkout_replayed_with_its_idempotency_key_returns_the_same_order() {
    let state = seeded_store().await;
    let token = customer_token(&state.app, "lambda-replay@example.com").await;
    let event_json = with_bearer("apigw-rest-post-order", &token);

    let first = send(&state, &event_json).await;
    let again = send(&state, &event_json).await;

    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
}

#[tokio::test]
async fn the_recorded_checkouts_with_their_placeholder_token_are_unauthenticated() {
    let state = AwsFixture::create().await.state().await;

    for name in ["apigw-rest-post-order", "apigw-http-post-order"] {
        let answer = send(&state, &event(name)).await;

        assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            answer.body
        );
        assert!(
            answer.content_type.starts_with("application/problem+json"),
            "{name}: {}",
            answer.content_type
        );
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_not_found_problem() {
    let state = AwsFixture::create().await.state().await;

    for name in ["apigw-rest-unknown-route", "apigw-http-unknown-route"] {
        let answer = send(&state, &event(name)).await;

        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{name}: {}",
            answer.body
        );
        assert!(
            answer.content_type.starts_with("application/problem+json"),
            "{name}: {}",
            answer.content_type
        );
        assert_eq!(answer.body["status"], 404, "{name}");
    }
}
