//! The event path on AWS, on the local emulator, with the code the functions run:
//! a checkout through the API's router writes outbox items; the table's real DynamoDB Streams
//! records (read back from the emulator) become the Lambda event `events_stream` gets;
//! [`handle_stream`] publishes them to an SNS topic whose SQS subscriptions carry the code's own
//! filter policies (`vitrine_app::events::subscriptions`); each queue must hold exactly the events
//! its policy admits. Then the e-mail queue's messages, as the SQS event `notify_email` gets, go
//! through [`handle_queue`] to the real `EmailNotifier` on the AWS adapters, and SES (the
//! emulator's record of it) must hold the buyer's e-mail.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use vitrine_app::Settings;
use vitrine_app::events::{ConsumeError, Consumer, Delivery, subscriptions};
use vitrine_app::notify::EmailNotifier;
use vitrine_aws::sdk_config;
use vitrine_aws::sns_bus::SnsBus;
use vitrine_domain::Event;
use vitrine_lambda::events::{
    StreamEnv, TOPIC_ENV, delivery_of, handle_queue, handle_stream, outbox_event,
};
use vitrine_lambda::{StagePrefix, lambda_service};
use vitrine_testkit::moto;

use common::{
    AwsFixture, customer_token, seed_recorded_catalog, stream_event, stream_records, with_bearer,
};

// ---------------------------------------------------------------------------------------------
// The emulator's side: the stream, the topic and the queues

/// An SNS topic, and one SQS queue per subscriber subscribed to it with the code's filter
/// policy (as the template declares them).
struct Topic {
    arn: String,
    /// subscriber name → (queue URL, queue ARN)
    queues: BTreeMap<&'static str, (String, String)>,
    sqs: aws_sdk_sqs::Client,
}

impl Topic {
    async fn create(fixture: &AwsFixture) -> Self {
        let sdk = sdk_config(&fixture.aws).await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let arn = sns
            .create_topic()
            .name(moto::unique("vitrine-events"))
            .send()
            .await
            .expect("CreateTopic")
            .topic_arn()
            .expect("a topic ARN")
            .to_owned();
        let mut queues = BTreeMap::new();
        for subscription in subscriptions(&Settings::default()) {
            let url = sqs
                .create_queue()
                .queue_name(moto::unique(&format!("vitrine-{}", subscription.name)))
                .send()
                .await
                .expect("CreateQueue")
                .queue_url()
                .expect("a queue URL")
                .to_owned();
            let queue_arn = sqs
                .get_queue_attributes()
                .queue_url(&url)
                .attribute_names(QueueAttributeName::QueueArn)
                .send()
                .await
                .expect("GetQueueAttributes")
                .attributes()
                .and_then(|a| a.get(&QueueAttributeName::QueueArn))
                .expect("the queue's ARN")
                .clone();
            sns.subscribe()
                .topic_arn(&arn)
                .protocol("sqs")
                .endpoint(&queue_arn)
                .attributes("FilterPolicy", subscription.policy.to_string())
                .attributes("FilterPolicyScope", "MessageAttributes")
                .send()
                .await
                .expect("Subscribe");
            queues.insert(subscription.name, (url, queue_arn));
        }
        Self { arn, queues, sqs }
    }

    /// Every message now on the subscriber's queue (received once; bounded by `expected` + one
    /// empty receive that shows nothing more is there).
    async fn drain(&self, subscriber: &str, expected: usize) -> Vec<aws_sdk_sqs::types::Message> {
        let (url, _) = &self.queues[subscriber];
        let mut messages = Vec::new();
        for _ in 0..=expected {
            let page = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("ReceiveMessage");
            if page.messages().is_empty() {
                break;
            }
            messages.extend_from_slice(page.messages());
        }
        messages
    }

    /// The messages as the SQS event a consumer function gets.
    fn sqs_event(&self, subscriber: &str, messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
        let (_, queue_arn) = &self.queues[subscriber];
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: BTreeMap<&str, &str> = m
                    .attributes()
                    .map(|a| a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": queue_arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        serde_json::from_value(json!({ "Records": records })).expect("a Lambda SQS event")
    }
}

/// The event ids of the SNS notifications in these messages.
fn event_ids(messages: &[aws_sdk_sqs::types::Message]) -> BTreeSet<String> {
    messages
        .iter()
        .map(|m| {
            let envelope: Value = serde_json::from_str(m.body().expect("a body")).expect("JSON");
            let published: Value =
                serde_json::from_str(envelope["Message"].as_str().expect("an SNS notification"))
                    .expect("the published event");
            published["id"].as_str().expect("an event id").to_owned()
        })
        .collect()
}

/// The messages moto recorded as sent through SES to `to`.
async fn mail_sent_to(to: &str) -> Vec<Value> {
    let state = moto::state().await;
    state["ses"]["Message"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .filter(|m| {
                    m["destinations"]["ToAddresses"]
                        .as_array()
                        .is_some_and(|to_addresses| to_addresses.iter().any(|a| a == to))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The tests

#[tokio::test]
async fn a_checkout_reaches_exactly_the_queues_whose_policies_admit_its_events_and_mails_the_buyer()
{
    let fixture = AwsFixture::create().await;
    let state = fixture.state().await;
    seed_recorded_catalog(&state.app).await;
    let buyer = format!("{}@example.com", moto::unique("buyer"));
    let token = customer_token(&state.app, &buyer).await;
    // Three pairs (R$ 1.049,70): a large order, which the admin alerts get too.
    let mut checkout: Value =
        serde_json::from_str(&with_bearer("apigw-rest-post-order", &token)).expect("JSON");
    let mut body: Value =
        serde_json::from_str(checkout["body"].as_str().expect("a body")).expect("JSON");
    body["items"][0]["quantity"] = json!(3);
    checkout["body"] = Value::String(body.to_string());
    let req =
        lambda_http::request::from_str(&checkout.to_string()).expect("a valid API Gateway event");
    let res = lambda_service(vitrine_http::router(state.clone()), StagePrefix::from_env())
        .oneshot(req)
        .await
        .expect("infallible");
    assert_eq!(res.status(), StatusCode::CREATED);

    // The stream, as Lambda hands it to `events_stream`.
    let batch = stream_event(stream_records(&fixture).await);
    let outbox: Vec<(String, Event)> = batch
        .records
        .iter()
        .filter_map(|r| outbox_event(r).expect("every outbox item holds an event"))
        .collect();
    let types: BTreeSet<&str> = outbox.iter().map(|(_, e)| e.event_type.as_str()).collect();
    assert!(types.contains("order.placed"), "{types:?}");
    assert!(
        batch.records.len() > outbox.len(),
        "the stream also holds the order, stock and catalog items, which are not published"
    );

    let topic = Topic::create(&fixture).await;
    let bus = SnsBus::connect(&fixture.aws, topic.arn.clone()).await;
    let response = handle_stream(
        &bus,
        &batch,
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );

    let mut email_messages = Vec::new();
    let mut admitted = BTreeMap::new();
    for subscription in subscriptions(&Settings::default()) {
        let expected: BTreeSet<String> = outbox
            .iter()
            .filter(|(_, e)| subscription.admits(&e.attributes, &e.data))
            .map(|(id, _)| id.clone())
            .collect();
        let messages = topic.drain(subscription.name, expected.len()).await;
        assert_eq!(event_ids(&messages), expected, "{}", subscription.name);
        assert_eq!(messages.len(), expected.len(), "{}", subscription.name);
        admitted.insert(subscription.name, messages.len());
        if subscription.name == EmailNotifier::NAME {
            email_messages = messages;
        }
    }
    assert!(
        !email_messages.is_empty(),
        "order.placed reaches the e-mail queue"
    );

    // The e-mail queue's messages through the `notify_email` function's code, on an app built as
    // the binary builds it.
    let consumer_state = fixture.state().await;
    let notifier = EmailNotifier::new(consumer_state.app.clone());
    let response = handle_queue(
        &notifier,
        &topic.sqs_event(EmailNotifier::NAME, &email_messages),
    )
    .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let sent = mail_sent_to(&buyer).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
}

fn record(sequence: &str, event_name: &str, image: Value) -> Value {
    json!({
        "eventID": format!("ev-{sequence}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_700_000_000.0,
            "Keys": { "pk": image["pk"], "sk": image["sk"] },
            "NewImage": image,
            "SequenceNumber": sequence,
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    })
}

fn outbox_image(id: &str, event_type: &str) -> Value {
    let event = Event::new(event_type, "01JORDER", json!({}));
    json!({
        "pk": { "S": format!("EVENT#{id}") },
        "sk": { "S": "EVENT" },
        "data": { "S": serde_json::to_string(&event).unwrap() },
        "event_type": { "S": event_type },
    })
}

#[tokio::test]
async fn a_failed_publish_is_reported_by_sequence_number_and_ends_the_batch() {
    let fixture = AwsFixture::create().await;
    let missing_topic = "arn:aws:sns:us-east-1:123456789012:vitrine-no-such-topic";
    let bus = SnsBus::connect(&fixture.aws, missing_topic).await;
    let batch = stream_event(vec![
        record(
            "100",
            "INSERT",
            json!({ "pk": { "S": "ORDER#1" }, "sk": { "S": "ORDER" } }),
        ),
        record("200", "MODIFY", outbox_image("01A", "order.placed")),
        record("300", "INSERT", outbox_image("01B", "order.placed")),
        record("400", "INSERT", outbox_image("01C", "order.paid")),
    ]);

    let response = handle_stream(&bus, &batch, None).await;

    let failed: Vec<Option<&str>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_deref())
        .collect();
    assert_eq!(failed, [Some("300")]);
}

#[test]
fn only_inserts_of_outbox_items_are_events_and_a_malformed_one_is_an_error() {
    let batch = stream_event(vec![
        record(
            "1",
            "INSERT",
            json!({ "pk": { "S": "ORDER#1" }, "sk": { "S": "ORDER" } }),
        ),
        record(
            "2",
            "INSERT",
            json!({ "pk": { "S": "EVENT#01A" }, "sk": { "S": "OTHER" } }),
        ),
        record("3", "REMOVE", outbox_image("01B", "order.placed")),
        record("4", "INSERT", outbox_image("01C", "order.paid")),
        record(
            "5",
            "INSERT",
            json!({ "pk": { "S": "EVENT#01D" }, "sk": { "S": "EVENT" }, "data": { "S": "{" } }),
        ),
    ]);
    let found: Vec<Option<String>> = batch.records[..4]
        .iter()
        .map(|r| {
            outbox_event(r)
                .unwrap()
                .map(|(id, e)| format!("{id} {}", e.event_type))
        })
        .collect();
    assert_eq!(found, [None, None, None, Some("01C order.paid".to_owned())]);
    assert!(outbox_event(&batch.records[4]).is_err());
}

/// Answers by event id: `retry…` → Retry, `reject…` → Reject, anything else → handled.
struct Scripted {
    handled: AtomicUsize,
}

#[async_trait]
impl Consumer for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        if delivery.event_id.starts_with("retry") {
            Err(ConsumeError::Retry(anyhow::anyhow!("down")))
        } else if delivery.event_id.starts_with("reject") {
            Err(ConsumeError::Reject(anyhow::anyhow!("malformed")))
        } else {
            self.handled.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }
}

fn sns_message(message_id: &str, body: &str, receive_count: u32) -> Value {
    let envelope = json!({
        "Type": "Notification",
        "MessageId": format!("sns-{message_id}"),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:events",
        "Message": body,
        "Timestamp": "2026-11-01T12:00:00.000Z",
    });
    json!({
        "messageId": message_id,
        "receiptHandle": format!("rh-{message_id}"),
        "body": envelope.to_string(),
        "attributes": { "ApproximateReceiveCount": receive_count.to_string() },
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:email",
        "awsRegion": "us-east-1",
    })
}

fn published(id: &str) -> String {
    vitrine_aws::sns_bus::message_body(id, &Event::new("order.paid", "01JORDER", json!({})))
        .unwrap()
}

#[tokio::test]
async fn retried_rejected_and_undecodable_messages_stay_on_the_queue_the_rest_are_acknowledged() {
    let mut raw = sns_message("m-raw", "", 1);
    raw["body"] = Value::String(published("raw-delivery"));
    let batch: SqsEvent = serde_json::from_value(json!({ "Records": [
        sns_message("m-ok", &published("ok-1"), 1),
        sns_message("m-retry", &published("retry-1"), 3),
        sns_message("m-reject", &published("reject-1"), 1),
        sns_message("m-garbage", "not json", 1),
        raw,
        sns_message("m-ok2", &published("ok-2"), 2),
    ] }))
    .unwrap();
    let consumer = Scripted {
        handled: AtomicUsize::new(0),
    };

    let response = handle_queue(&consumer, &batch).await;

    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m-retry", "m-reject", "m-garbage", "m-raw"]);
    assert_eq!(consumer.handled.load(Ordering::SeqCst), 2);
}

#[test]
fn a_delivery_carries_the_event_its_id_and_the_receive_count_as_the_attempt() {
    let batch: SqsEvent = serde_json::from_value(json!({ "Records": [
        sns_message("m-1", &published("01JEVENT"), 3),
    ] }))
    .unwrap();
    let delivery = delivery_of(&batch.records[0]).unwrap();
    assert_eq!(delivery.event_id, "01JEVENT");
    assert_eq!(delivery.event.event_type, "order.paid");
    assert_eq!(delivery.attempt, 3);
}

#[test]
fn the_stream_handler_needs_its_region_and_topic() {
    let env = HashMap::from([
        ("AWS_REGION", "sa-east-1"),
        (TOPIC_ENV, "arn:aws:sns:sa-east-1:1:events"),
    ]);
    let read = StreamEnv::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).unwrap();
    assert_eq!(read.topic_arn, "arn:aws:sns:sa-east-1:1:events");
    assert_eq!(read.endpoint, None);
    let err = StreamEnv::from_lookup(|_| None).unwrap_err().to_string();
    assert!(
        err.contains("AWS_REGION") && err.contains(TOPIC_ENV),
        "{err}"
    );
}

#[test]
fn admin_alerts_go_to_the_configured_address() {
    let settings =
        Settings::from_lookup(|k| (k == "VITRINE_ALERTS_TO").then(|| "ops@example.com".into()))
            .unwrap();
    assert_eq!(settings.alerts_to.as_deref(), Some("ops@example.com"));
    assert_eq!(Settings::from_lookup(|_| None).unwrap().alerts_to, None);
}
