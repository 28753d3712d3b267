//! The WebSocket API's functions with the code they run, on the AWS adapters against the
//! emulator (table and Cognito on moto) and the testkit's stand-in for the API Gateway
//! Management API (moto only stubs it): WebSocket events of the recorded shapes under
//! `tests/data/` (`$connect` with the token in the subprotocol list, or in the query string,
//! which is refused,
//! `$disconnect`, a `resume` message on `$default`) go to [`WsHandler::handle`]; order events,
//! as the SQS batches `notify_realtime` gets, go through `handle_queue` to [`RealtimeConsumer`].

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::sqs::SqsEvent;
use serde_json::{Value, json};
use vitrine_app::App;
use vitrine_app::Settings;
use vitrine_app::keys::Keys;
use vitrine_app::notify::connections::Connections;
use vitrine_app::notify::push_message;
use vitrine_app::ports::{SystemClock, UlidIds};
use vitrine_aws::compose;
use vitrine_aws::ws_push::{ManagementClient, management_client};
use vitrine_domain::Event;
use vitrine_lambda::events::handle_queue;
use vitrine_lambda::ws::{RealtimeConsumer, WsHandler};
use vitrine_testkit::apigw_management::ManagementApi;

use common::{AwsFixture, customer_token};

/// The token the recorded `$connect` events carry (not a valid token).
const RECORDED_TOKEN: &str = "eyJraWQiOiJleGFtcGxlIiwiYWxnIjoiUlMyNTYifQ.placeholder.signature";
/// The connection of the recorded events.
const RECORDED_CONNECTION: &str = "CvR3acMXGjQCFqQ=";

fn recorded(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).expect("recorded events are JSON")
}

/// The recorded event `name` for `connection`, with `token` in place of the recorded one
/// (wherever it is: query string or subprotocol list), as the function gets it.
fn ws_event(name: &str, connection: &str, token: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut v = recorded(name);
    v["requestContext"]["connectionId"] = Value::String(connection.to_owned());
    let text = v.to_string();
    let text = match token {
        Some(token) => text.replace(RECORDED_TOKEN, token),
        None => text,
    };
    serde_json::from_str(&text).expect("a WebSocket event")
}

/// A `$default` message (the recorded resume's shape) with `body`.
fn message(connection: &str, body: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut v = recorded("ws-resume");
    v["requestContext"]["connectionId"] = Value::String(connection.to_owned());
    v["body"] = Value::String(body.to_owned());
    serde_json::from_value(v).expect("a WebSocket event")
}

fn resume(connection: &str, after: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let body = match after {
        Some(after) => json!({ "action": "resume", "after": after }),
        None => json!({ "action": "resume" }),
    };
    message(connection, &body.to_string())
}

/// The store on the emulator, the management API stand-in, and the `ws` function's handler.
struct Ws {
    app: Arc<App>,
    keys: Arc<Keys>,
    api: ManagementApi,
    client: ManagementClient,
    handler: WsHandler,
}

impl Ws {
    async fn new() -> Self {
        let fixture = AwsFixture::create().await;
        let store = compose::build(
            &fixture.aws,
            &fixture.resources,
            Settings::default(),
            Arc::new(SystemClock),
            Arc::new(UlidIds),
        )
        .await
        .expect("building the store on the emulator");
        let api = ManagementApi::start().await;
        let client = management_client(&fixture.aws, &api.endpoint()).await;
        let handler = WsHandler::new(
            Arc::clone(&store.app),
            Arc::clone(&store.keys),
            client.clone(),
        );
        Self {
            app: store.app,
            keys: store.keys,
            api,
            client,
            handler,
        }
    }

    fn connections(&self) -> Connections {
        Connections::of(&self.app)
    }

    async fn sub_of(&self, token: &str) -> String {
        self.keys
            .verify_access(token, self.app.ports.clock.now())
            .await
            .expect("a valid token")
            .sub
    }

    async fn admin_token(&self, email: &str) -> String {
        self.app
            .create_user(email, "senha-forte-123", "Admin Teste", true)
            .await
            .expect("create the admin");
        self.app
            .sign_in(email, "senha-forte-123", &Default::default(), None)
            .await
            .expect("sign the admin in")
            .access_token
    }

    /// `$connect` with the token in the subprotocol list, as a browser sends it.
    async fn connect(&self, connection: &str, token: &str) -> ApiGatewayProxyResponse {
        self.handler
            .handle(&ws_event("ws-connect-subprotocol", connection, Some(token)))
            .await
    }
}

/// The order events as the SQS batch `notify_realtime` gets from RealtimeQueue: SNS
/// notifications (raw delivery off) of what the stream handler publishes.
fn sqs_batch(events: &[(&str, &Event)]) -> SqsEvent {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(n, (id, event))| {
            let published = json!({ "id": id, "event": event }).to_string();
            let envelope = json!({
                "Type": "Notification",
                "MessageId": format!("7e1c0d5e-0000-4000-8000-00000000000{n}"),
                "TopicArn": "arn:aws:sns:sa-east-1:123456789012:vitrine-EventsTopic",
                "Message": published,
                "Timestamp": "2026-11-28T12:00:00.000Z",
                "SignatureVersion": "1",
                "MessageAttributes": {
                    "event_type": { "Type": "String", "Value": event.event_type },
                },
            });
            json!({
                "messageId": format!("m-{n}"),
                "receiptHandle": format!("r-{n}"),
                "body": envelope.to_string(),
                "attributes": { "ApproximateReceiveCount": "1" },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:sa-east-1:123456789012:vitrine-RealtimeQueue",
                "awsRegion": "sa-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SQS event")
}

fn order_event(event_type: &str, order: &str, status: &str, customer: &str) -> Event {
    Event::new(
        event_type,
        order,
        json!({ "order_id": order, "status": status }),
    )
    .for_customer(customer)
}

fn ready(replayed: usize) -> Value {
    json!({ "type": "ready", "replayed": replayed, "truncated": false })
}

#[tokio::test]
async fn a_missing_or_refused_token_refuses_the_upgrade_and_registers_nothing() {
    let ws = Ws::new().await;

    let recorded_placeholder = ws
        .handler
        .handle(&ws_event(
            "ws-connect-subprotocol",
            RECORDED_CONNECTION,
            None,
        ))
        .await;
    assert_eq!(recorded_placeholder.status_code, 401);

    let garbage = ws.connect("bad-1=", "not-a-token").await;
    assert_eq!(garbage.status_code, 401);

    let mut no_token = recorded("ws-connect-subprotocol");
    for map in ["headers", "multiValueHeaders"] {
        no_token[map]
            .as_object_mut()
            .unwrap()
            .remove("Sec-WebSocket-Protocol");
    }
    let none = ws
        .handler
        .handle(&serde_json::from_value(no_token).expect("an event"))
        .await;
    assert_eq!(none.status_code, 401);

    for id in [RECORDED_CONNECTION, "bad-1="] {
        assert_eq!(ws.connections().find(id).await.unwrap(), None, "{id}");
    }
}

#[tokio::test]
async fn a_good_token_registers_the_connection_with_its_principal() {
    let ws = Ws::new().await;
    let token = customer_token(&ws.app, "ana.ws@example.com").await;

    let res = ws.connect(RECORDED_CONNECTION, &token).await;

    assert_eq!(res.status_code, 200);
    assert_eq!(
        res.headers
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("bearer")
    );
    let connection = ws
        .connections()
        .find(RECORDED_CONNECTION)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(connection.sub, ws.sub_of(&token).await);
    assert!(!connection.admin);
}

/// The recorded `$connect` with the token in the query string (as browsers once sent it): a URL
/// is written to access logs, so the token there is refused, even a good one and even beside a
/// good one in the subprotocol list, without repeating it and registering nothing.
#[tokio::test]
async fn a_token_in_the_query_string_is_refused_and_registers_nothing() {
    let ws = Ws::new().await;
    let token = customer_token(&ws.app, "url.ws@example.com").await;

    let in_query = ws_event("ws-connect", "url-1=", Some(&token));
    let mut both = in_query.clone();
    both.headers.insert(
        "sec-websocket-protocol",
        format!("bearer, {token}").parse().unwrap(),
    );
    for (id, event) in [("url-1=", in_query), ("url-2=", both)] {
        let mut event = event;
        event.request_context.connection_id = Some(id.to_owned());
        let res = ws.handler.handle(&event).await;
        assert_eq!(res.status_code, 400, "{id}");
        assert!(res.headers.get("sec-websocket-protocol").is_none(), "{id}");
        let body = match &res.body {
            Some(aws_lambda_events::encodings::Body::Text(t)) => t.clone(),
            other => panic!("{id}: a text body, got {other:?}"),
        };
        assert!(body.contains("Sec-WebSocket-Protocol"), "{id}: {body}");
        assert!(!body.contains(&token), "{id}: the token is echoed");
        assert_eq!(ws.connections().find(id).await.unwrap(), None, "{id}");
    }
}

#[tokio::test]
async fn a_token_in_the_subprotocol_list_registers_and_selects_bearer() {
    let ws = Ws::new().await;
    let token = ws.admin_token("root.ws@example.com").await;
    let connection = "CvR3bdS7GjQCHnA=";

    let res = ws
        .handler
        .handle(&ws_event(
            "ws-connect-subprotocol",
            connection,
            Some(&token),
        ))
        .await;

    assert_eq!(res.status_code, 200);
    assert_eq!(
        res.headers
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("bearer")
    );
    let registered = ws.connections().find(connection).await.unwrap().unwrap();
    assert!(registered.admin, "an admin's connection");
}

#[tokio::test]
async fn disconnect_removes_the_connection() {
    let ws = Ws::new().await;
    let token = customer_token(&ws.app, "bia.ws@example.com").await;
    assert_eq!(
        ws.connect(RECORDED_CONNECTION, &token).await.status_code,
        200
    );

    let res = ws
        .handler
        .handle(&ws_event("ws-disconnect", RECORDED_CONNECTION, None))
        .await;

    assert_eq!(res.status_code, 200);
    assert_eq!(
        ws.connections().find(RECORDED_CONNECTION).await.unwrap(),
        None
    );
    let sub = ws.sub_of(&token).await;
    assert!(
        ws.connections()
            .audience(Some(&sub))
            .await
            .unwrap()
            .is_empty()
    );
    // A second $disconnect (API Gateway retries) is fine.
    let again = ws
        .handler
        .handle(&ws_event("ws-disconnect", RECORDED_CONNECTION, None))
        .await;
    assert_eq!(again.status_code, 200);
}

#[tokio::test]
async fn resume_posts_the_missed_events_of_the_principal_then_ready() {
    let ws = Ws::new().await;
    let ana = customer_token(&ws.app, "ana.resume@example.com").await;
    let bia = customer_token(&ws.app, "bia.resume@example.com").await;
    let root = ws.admin_token("root.resume@example.com").await;
    let (ana_sub, bia_sub) = (ws.sub_of(&ana).await, ws.sub_of(&bia).await);
    assert_eq!(ws.connect("ana-live=", &ana).await.status_code, 200);

    // notify_realtime handles four order events (and an event it has nothing to push for), made
    // now: their ids (ULIDs) carry the time, and a resume replays the last day only.
    let made_now = vitrine_app::ports::Ids::new_id(&UlidIds);
    let id = |n: u8| format!("{}00000000000000E{n}", &made_now[..10]);
    let ids = [id(1), id(2), id(3), id(4), id(5)];
    let events = [
        (
            ids[0].as_str(),
            order_event("order.placed", "01KBORDERANA", "pending_payment", &ana_sub),
        ),
        (
            ids[1].as_str(),
            order_event("order.paid", "01KBORDERANA", "paid", &ana_sub),
        ),
        (
            ids[2].as_str(),
            order_event("order.placed", "01KBORDERBIA", "pending_payment", &bia_sub),
        ),
        (
            ids[3].as_str(),
            order_event("order.invoiced", "01KBORDERANA", "invoiced", &ana_sub),
        ),
        (
            ids[4].as_str(),
            Event::new("stock.low", "CAM-M", json!({ "items": [] })),
        ),
    ];
    let batch: Vec<(&str, &Event)> = events.iter().map(|(id, e)| (*id, e)).collect();
    let consumer = RealtimeConsumer::new(Arc::clone(&ws.app), ws.client.clone());
    let outcome = handle_queue(&consumer, &sqs_batch(&batch)).await;
    assert!(outcome.batch_item_failures.is_empty(), "{outcome:?}");

    let payload = |n: usize| push_message(events[n].0, &events[n].1).payload;
    assert_eq!(
        ws.api.received_json("ana-live="),
        [payload(0), payload(1), payload(3)],
        "live: ana's own order events"
    );

    // Ana comes back on a new connection and asks for what came after the first event.
    assert_eq!(ws.connect("ana-back=", &ana).await.status_code, 200);
    let res = ws
        .handler
        .handle(&resume("ana-back=", Some(events[0].0)))
        .await;
    assert_eq!(res.status_code, 200);
    assert_eq!(
        ws.api.received_json("ana-back="),
        [payload(1), payload(3), ready(2)]
    );

    // From `0`: Ana's own events of the window, read from her index partition on DynamoDB.
    assert_eq!(ws.connect("ana-zero=", &ana).await.status_code, 200);
    let res = ws.handler.handle(&resume("ana-zero=", Some("0"))).await;
    assert_eq!(res.status_code, 200);
    assert_eq!(
        ws.api.received_json("ana-zero="),
        [payload(0), payload(1), payload(3), ready(3)]
    );

    // The recorded event's shape, with the id and the placeholder after.
    assert_eq!(
        ws.connect(RECORDED_CONNECTION, &root).await.status_code,
        200
    );
    let recorded_resume: ApiGatewayWebsocketProxyRequest = serde_json::from_str(
        &recorded("ws-resume")
            .to_string()
            .replace("01KB2X3Y4Z5A6B7C8D9E0F1G2H", events[0].0),
    )
    .unwrap();
    assert_eq!(ws.handler.handle(&recorded_resume).await.status_code, 200);
    assert_eq!(
        ws.api.received_json(RECORDED_CONNECTION),
        [payload(1), payload(2), payload(3), ready(3)],
        "an admin: every order's events"
    );

    // Nothing to resume from: only ready.
    assert_eq!(ws.connect("bia-new=", &bia).await.status_code, 200);
    ws.handler.handle(&resume("bia-new=", None)).await;
    assert_eq!(ws.api.received_json("bia-new="), [ready(0)]);
}

#[tokio::test]
async fn a_message_other_than_resume_or_from_an_unknown_connection_gets_an_error_frame() {
    let ws = Ws::new().await;
    let token = customer_token(&ws.app, "carla.ws@example.com").await;
    assert_eq!(ws.connect("carla-1=", &token).await.status_code, 200);

    for body in [
        "hello",
        r#"{"action":"subscribe"}"#,
        r#"{"action":"resume","after":"../../etc"}"#,
    ] {
        let res = ws.handler.handle(&message("carla-1=", body)).await;
        assert_eq!(res.status_code, 400, "{body}");
    }
    let frames = ws.api.received_json("carla-1=");
    assert_eq!(frames.len(), 3);
    assert!(frames.iter().all(|f| f["type"] == "error"), "{frames:?}");

    let res = ws.handler.handle(&resume("stranger=", Some("01KB3"))).await;
    assert_eq!(res.status_code, 403);
    assert_eq!(ws.api.received_json("stranger=")[0]["type"], "error");
}

#[tokio::test]
async fn resume_to_a_connection_that_is_gone_forgets_it() {
    let ws = Ws::new().await;
    let token = customer_token(&ws.app, "dora.ws@example.com").await;
    assert_eq!(ws.connect("dora-1=", &token).await.status_code, 200);
    ws.api.mark_gone("dora-1=");

    let res = ws.handler.handle(&resume("dora-1=", None)).await;

    assert_eq!(res.status_code, 410);
    assert_eq!(ws.connections().find("dora-1=").await.unwrap(), None);
}
