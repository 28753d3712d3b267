//! `ApiGatewayPush` with the real SDK client, against the testkit's stand-in for the API Gateway
//! Management API (the emulator only stubs it: no readback, never `410 Gone`), and the
//! connection registry on `DynamoTable` against the emulator (moto).
//!
//! Connection ids end in `=` as API Gateway's do, so the SDK's percent-encoding of the path is
//! exercised too.

use std::sync::Arc;

use serde_json::json;
use vitrine_app::auth::Principal;
use vitrine_app::notify::connections::{CONNECTION_TTL_SECS, Connections};
use vitrine_app::ports::{Clock, ManualClock, Push, PushError, PushMessage, SystemClock};
use vitrine_aws::dynamo::DynamoTable;
use vitrine_aws::ws_push::{ApiGatewayPush, MAX_PAYLOAD_BYTES, Posted, management_client};
use vitrine_aws::{AwsConfig, sdk_config};
use vitrine_testkit::apigw_management::ManagementApi;
use vitrine_testkit::moto;

fn aws_config(endpoint: &str) -> AwsConfig {
    AwsConfig {
        region: "us-east-1".into(),
        endpoint: Some(endpoint.to_owned()),
        static_credentials: Some(("testing".into(), "testing".into())),
        emulator: true,
    }
}

/// A fresh table on the emulator, a management API server, and the adapter on both, all on
/// one manual clock (starting now).
struct Fixture {
    push: ApiGatewayPush,
    connections: Connections,
    api: ManagementApi,
    clock: Arc<ManualClock>,
}

impl Fixture {
    async fn new() -> Self {
        let endpoint = tokio::task::spawn_blocking(moto::endpoint)
            .await
            .expect("moto endpoint");
        let config = aws_config(endpoint);
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk_config(&config).await);
        let name = moto::unique("vitrine-ws");
        DynamoTable::create_table(&dynamo, &name)
            .await
            .expect("create table");
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let table = Arc::new(DynamoTable::new(dynamo, name, clock.clone()));
        let connections = Connections::new(table, clock.clone());
        let api = ManagementApi::start().await;
        let push = ApiGatewayPush::new(
            management_client(&config, &api.endpoint()).await,
            connections.clone(),
        );
        Self {
            push,
            connections,
            api,
            clock,
        }
    }

    async fn connect(&self, id: &str, sub: &str, admin: bool) {
        let groups = if admin {
            vec!["customer".to_owned(), "admin".to_owned()]
        } else {
            vec!["customer".to_owned()]
        };
        let principal = Principal {
            sub: sub.to_owned(),
            groups,
            username: None,
            email: None,
            session: None,
            issued_at: 0,
        };
        self.connections
            .register(id, &principal)
            .await
            .expect("register the connection");
    }
}

fn message(event_id: &str, customer: Option<&str>) -> PushMessage {
    PushMessage {
        event_id: event_id.to_owned(),
        customer_id: customer.map(str::to_owned),
        payload: json!({
            "type": "event",
            "id": event_id,
            "event_type": "order.paid",
            "order_id": "01JORDER",
            "status": "paid",
            "data": { "order_id": "01JORDER", "status": "paid" },
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_and_the_admins_get_the_message_and_another_customer_nothing() {
    let f = Fixture::new().await;
    f.connect("ana-1=", "ana", false).await;
    f.connect("ana-2=", "ana", false).await;
    f.connect("bia-1=", "bia", false).await;
    f.connect("root-1=", "root", true).await;

    let paid = message("01JEVENT000000000000000001", Some("ana"));
    f.push.push(&paid).await.expect("push");

    for id in ["ana-1=", "ana-2=", "root-1="] {
        assert_eq!(
            f.api.received_json(id),
            std::slice::from_ref(&paid.payload),
            "{id}"
        );
    }
    assert!(f.api.received("bia-1=").is_empty(), "another customer's");

    // A message without a customer is the admins' only.
    let low = message("01JEVENT000000000000000002", None);
    f.push.push(&low).await.expect("push");
    assert_eq!(f.api.received_json("root-1=").len(), 2);
    assert_eq!(f.api.received_json("ana-1=").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_connection_is_removed_from_the_registry_and_is_not_an_error() {
    let f = Fixture::new().await;
    f.connect("ana-open=", "ana", false).await;
    f.connect("ana-closed=", "ana", false).await;
    f.api.mark_gone("ana-closed=");

    let paid = message("01JEVENT000000000000000001", Some("ana"));
    f.push
        .push(&paid)
        .await
        .expect("a gone connection is not a failure");

    assert_eq!(
        f.api.received_json("ana-open="),
        std::slice::from_ref(&paid.payload)
    );
    assert_eq!(f.connections.find("ana-closed=").await.unwrap(), None);
    let audience = f.connections.audience(Some("ana")).await.unwrap();
    let ids: Vec<&str> = audience.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["ana-open="]);
    // Posting to it directly says so.
    assert_eq!(
        f.push.post("ana-closed=", b"{}").await.unwrap(),
        Posted::Gone
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_connection_is_skipped() {
    let f = Fixture::new().await;
    f.connect("ana-old=", "ana", false).await;
    f.connect("root-old=", "root", true).await;
    f.clock.advance_secs(CONNECTION_TTL_SECS - 60);
    f.connect("ana-new=", "ana", false).await;
    f.clock.advance_secs(61);

    let paid = message("01JEVENT000000000000000001", Some("ana"));
    f.push.push(&paid).await.expect("push");

    assert_eq!(
        f.api
            .connections_posted_to()
            .into_iter()
            .collect::<Vec<_>>(),
        ["ana-new="]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_post_is_worth_a_retry_after_the_other_connections_got_the_message() {
    let f = Fixture::new().await;
    f.connect("ana-1=", "ana", false).await;
    f.connect("ana-2=", "ana", false).await;
    f.api.refuse("ana-1=");

    let paid = message("01JEVENT000000000000000001", Some("ana"));
    let result = f.push.push(&paid).await;

    assert!(
        matches!(result, Err(PushError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(
        f.api.received_json("ana-2="),
        std::slice::from_ref(&paid.payload)
    );
    assert!(
        f.connections.find("ana-1=").await.unwrap().is_some(),
        "a refused connection stays registered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_larger_than_api_gateway_takes_is_invalid_and_sent_to_nobody() {
    let f = Fixture::new().await;
    f.connect("ana-1=", "ana", false).await;
    let mut huge = message("01JEVENT000000000000000001", Some("ana"));
    huge.payload["data"]["note"] = json!("x".repeat(MAX_PAYLOAD_BYTES));

    let result = f.push.push(&huge).await;

    assert!(matches!(result, Err(PushError::Invalid(_))), "{result:?}");
    assert!(f.api.connections_posted_to().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_connected_is_a_success() {
    let f = Fixture::new().await;
    f.push
        .push(&message("01JEVENT000000000000000001", Some("ana")))
        .await
        .expect("nobody connected");
    assert!(f.api.connections_posted_to().is_empty());
}
