//! The event path on AWS, shared by the `events_stream` binary and the consumer binaries
//! (`notify_email`, `notify_sms`, `admin_alerts`):
//!
//! ```text
//! table (outbox item EVENT#{id}/EVENT) ─ DynamoDB Streams ─► events_stream ─► SNS topic
//!   ─ filtered subscriptions (vitrine_app::events::subscriptions) ─► one SQS queue per
//!   subscriber (with a DLQ) ─► that subscriber's Lambda ─► its vitrine_app Consumer
//! ```
//!
//! - [`handle_stream`]: publishes every INSERT of an outbox item to SNS ([`SnsBus`]), in stream
//!   order; other records are ignored. The first record that fails to publish is reported in
//!   `batchItemFailures` with its sequence number and the batch stops there: Lambda retries the
//!   shard from that record. Records published before it are not published again by that retry,
//!   but a retried *invocation* (a timeout, a crash) may publish an event twice — delivery is
//!   at-least-once and every consumer dedupes by event id.
//! - [`handle_queue`]: turns each SQS message (an SNS notification, raw delivery off) back into a
//!   [`Delivery`] and hands it to the consumer; the messages it does not acknowledge are in
//!   `batchItemFailures` by message id.
//!
//! Invariant: the handlers never fail a whole batch for one record: every record's outcome is in
//! the response, so one bad record neither blocks nor repeats the others.

use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use aws_lambda_events::dynamodb;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use serde_dynamo::AttributeValue;
use vitrine_app::App;
use vitrine_app::events::{ConsumeError, Consumer, Delivery};
use vitrine_aws::AwsConfig;
use vitrine_aws::sns_bus::SnsBus;
use vitrine_domain::Event;

use crate::emf::{self, Emf};

/// The variable that names the events topic (the template sets it from `EventsTopic`).
pub const TOPIC_ENV: &str = "VITRINE_EVENTS_TOPIC_ARN";

/// The stream handler's environment: where SNS is and which topic to publish to. It needs no
/// table, bucket or pool: the stream record carries the whole event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEnv {
    /// `AWS_REGION` (set by Lambda).
    pub region: String,
    /// `AWS_ENDPOINT_URL`: another endpoint than AWS's (the local emulator).
    pub endpoint: Option<String>,
    /// [`TOPIC_ENV`]: the SNS topic's ARN.
    pub topic_arn: String,
}

impl StreamEnv {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read through `get`; names every missing variable at once.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let required = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let (region, topic_arn) = (required("AWS_REGION"), required(TOPIC_ENV));
        match (region, topic_arn) {
            (Some(region), Some(topic_arn)) => Ok(Self {
                region,
                endpoint: required("AWS_ENDPOINT_URL"),
                topic_arn,
            }),
            (region, topic) => {
                let missing: Vec<&str> = [
                    region.is_none().then_some("AWS_REGION"),
                    topic.is_none().then_some(TOPIC_ENV),
                ]
                .into_iter()
                .flatten()
                .collect();
                anyhow::bail!(
                    "missing environment variables: {} (the template sets them on the function)",
                    missing.join(", ")
                )
            }
        }
    }

    /// How to reach AWS: the SDK's default credential chain (the function's role).
    pub fn aws_config(&self) -> AwsConfig {
        AwsConfig {
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            static_credentials: None,
            emulator: false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stream handler

/// The outbox event a stream record inserted: `Ok(Some((id, event)))` for an INSERT of an
/// outbox item (`pk` `EVENT#{id}`, `sk` `EVENT`), `Ok(None)` for every other record, `Err` for
/// an outbox item whose `data` is not an event.
pub fn outbox_event(record: &dynamodb::EventRecord) -> anyhow::Result<Option<(String, Event)>> {
    if record.event_name != "INSERT" {
        return Ok(None);
    }
    let image = record.change.new_image.inner();
    let string = |name: &str| match image.get(name) {
        Some(AttributeValue::S(s)) => Some(s.as_str()),
        _ => None,
    };
    let (Some(pk), Some(sk)) = (string("pk"), string("sk")) else {
        return Ok(None);
    };
    let Some(id) = vitrine_app::store::event_id_of(pk, sk).map(str::to_owned) else {
        return Ok(None);
    };
    let data = string(vitrine_app::store::DATA)
        .ok_or_else(|| anyhow!("outbox item {pk} has no string `data`"))?;
    let event: Event =
        serde_json::from_str(data).with_context(|| format!("outbox item {pk}: not an event"))?;
    Ok(Some((id, event)))
}

/// Publish the batch's outbox inserts to SNS, in order (see the module docs).
pub async fn handle_stream(
    bus: &SnsBus,
    batch: &dynamodb::Event,
    trace_header: Option<&str>,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let (mut published, mut failed, mut skipped) = (0, 0, 0);
    for record in &batch.records {
        let sequence = record.change.sequence_number.clone();
        let (id, event) = match outbox_event(record) {
            Ok(Some(found)) => found,
            Ok(None) => continue,
            Err(err) => {
                // A malformed outbox item can never be published: retrying it would block the
                // shard until the record expires (24 h), holding up every later event. It is
                // logged, with its key, and skipped; the item stays in the table.
                tracing::error!(
                    error = format!("{err:#}"),
                    stream.sequence = sequence.as_deref().unwrap_or_default(),
                    "skipping an outbox item that is not an event"
                );
                skipped += 1;
                continue;
            }
        };
        match bus.publish(&id, &event, trace_header).await {
            Ok(message_id) => {
                published += 1;
                tracing::info!(
                    event.id = %id,
                    event.r#type = %event.event_type,
                    sns.message_id = %message_id,
                    "event published"
                )
            }
            Err(err) => {
                tracing::error!(
                    error = format!("{err:#}"),
                    event.id = %id,
                    event.r#type = %event.event_type,
                    "publishing the event failed; the shard is retried from it"
                );
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = sequence;
                response.batch_item_failures.push(failure);
                failed += 1;
                // Lambda retries from the lowest failed sequence number: everything after it
                // comes again, so publishing it now would only publish it twice.
                break;
            }
        }
    }
    STREAM_METRICS.emit(&[
        emf::count("EventsPublished", published),
        emf::count("EventsFailed", failed),
        emf::count("EventsSkipped", skipped),
    ]);
    response
}

/// The stream handler's metrics (`crate::emf`): per batch, the events published to SNS, the
/// one that failed (the shard is retried from it) and the malformed outbox items skipped.
pub const STREAM_METRICS: Emf = Emf::new("events_stream");

/// The `events_stream` function: build the bus once per cold start, then serve stream batches.
pub async fn run_stream_handler() -> anyhow::Result<()> {
    crate::init_tracing();
    let env = match StreamEnv::from_env() {
        Ok(env) => env,
        Err(err) => return Err(crate::fail_init(err).await),
    };
    let bus = Arc::new(SnsBus::connect(&env.aws_config(), env.topic_arn.clone()).await);
    tracing::info!(topic = %env.topic_arn, "cold start: ready for stream batches");
    lambda_runtime::run(service_fn(
        move |invocation: LambdaEvent<dynamodb::Event>| {
            let bus = Arc::clone(&bus);
            async move {
                let trace = invocation.context.xray_trace_id.clone();
                let response = crate::xray_scope(
                    trace.as_deref(),
                    handle_stream(&bus, &invocation.payload, trace.as_deref()),
                )
                .await;
                Ok::<_, lambda_runtime::Error>(response)
            }
        },
    ))
    .await
    .map_err(|e| anyhow!(e))
}

// ---------------------------------------------------------------------------------------------
// The consumers

/// The SNS notification an SQS message holds when the subscription is not raw.
#[derive(Debug, Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Message")]
    message: String,
}

/// The message body [`SnsBus`] publishes.
#[derive(Debug, Deserialize)]
struct Published {
    id: String,
    event: Event,
}

/// The delivery an SQS message carries: the SNS envelope's message, and SQS's receive count as
/// the attempt.
pub fn delivery_of(message: &SqsMessage) -> anyhow::Result<Delivery> {
    let body = message
        .body
        .as_deref()
        .context("an SQS message without a body")?;
    let envelope: SnsEnvelope =
        serde_json::from_str(body).context("the SQS body is not an SNS notification")?;
    let published: Published = serde_json::from_str(&envelope.message)
        .context("the SNS message is not a published event")?;
    let attempt = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    Ok(Delivery {
        event_id: published.id,
        event: published.event,
        attempt,
    })
}

/// Hand each message of the batch to `consumer`; the response lists the messages to leave on
/// the queue. Writes the batch's `MessagesHandled`, `MessagesFailed` (SQS retries them) and
/// `MessagesRejected` (on their way to the dead-letter queue) under the consumer's name.
///
/// `Retry` leaves the message on the queue: SQS hands it out again after its visibility timeout,
/// and after the queue's `maxReceiveCount` moves it to the dead-letter queue.
///
/// `Reject` (and a message that does not decode) also leaves it on the queue, so it reaches the
/// dead-letter queue too, rather than being acknowledged and lost. This matches the local
/// dispatcher, where a rejected delivery is dead-lettered and can be replayed after a fix; here
/// the dead-letter queue is that list, and a redrive is the replay. Acknowledging would leave
/// only a log line of an event a customer may be waiting on. The cost is the few extra receives
/// before the redrive moves it (`maxReceiveCount`), each logged at error, which a consumer's
/// idempotency makes harmless. (Sending it straight to the DLQ would need the DLQ's URL and
/// `sqs:SendMessage` on it in every consumer, for little gain.)
pub async fn handle_queue(consumer: &dyn Consumer, batch: &SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let (mut handled, mut failed, mut rejected_count) = (0, 0, 0);
    for message in &batch.records {
        let message_id = message.message_id.clone().unwrap_or_default();
        let outcome = match delivery_of(message) {
            Ok(delivery) => vitrine_app::events::handle_in_trace(consumer, &delivery)
                .await
                .map_err(|err| {
                    (
                        Some(delivery.event_id.clone()),
                        delivery.attempt,
                        err.to_string(),
                        matches!(err, ConsumeError::Reject(_)),
                    )
                }),
            Err(err) => Err((None, 0, format!("{err:#}"), true)),
        };
        let Err((event_id, attempt, error, rejected)) = outcome else {
            handled += 1;
            continue;
        };
        if rejected {
            rejected_count += 1;
        } else {
            failed += 1;
        }
        let event_id = event_id.unwrap_or_default();
        if rejected {
            tracing::error!(
                consumer = consumer.name(),
                sqs.message_id = %message_id,
                event.id = %event_id,
                attempt,
                error,
                "the delivery was rejected; it goes to the dead-letter queue"
            );
        } else {
            tracing::warn!(
                consumer = consumer.name(),
                sqs.message_id = %message_id,
                event.id = %event_id,
                attempt,
                error,
                "the delivery failed; SQS retries it"
            );
        }
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = message_id;
        response.batch_item_failures.push(failure);
    }
    // Per batch, under the subscriber's name: a new consumer on `run_consumer` has them too.
    Emf::new(consumer.name()).emit(&[
        emf::count("MessagesHandled", handled),
        emf::count("MessagesFailed", failed),
        emf::count("MessagesRejected", rejected_count),
    ]);
    response
}

/// A consumer function: build the application once per cold start on the AWS adapters, the
/// consumer on it with `make`, then serve SQS batches.
pub async fn run_consumer(make: fn(Arc<App>) -> Arc<dyn Consumer>) -> anyhow::Result<()> {
    crate::init_tracing();
    let consumer = match build_consumer(make).await {
        Ok(consumer) => consumer,
        Err(err) => return Err(crate::fail_init(err).await),
    };
    tracing::info!(
        consumer = consumer.name(),
        "cold start: ready for queue batches"
    );
    lambda_runtime::run(service_fn(move |invocation: LambdaEvent<SqsEvent>| {
        let consumer = Arc::clone(&consumer);
        async move {
            let trace = invocation.context.xray_trace_id.clone();
            let response = crate::xray_scope(
                trace.as_deref(),
                handle_queue(consumer.as_ref(), &invocation.payload),
            )
            .await;
            Ok::<_, lambda_runtime::Error>(response)
        }
    }))
    .await
    .map_err(|e| anyhow!(e))
}

async fn build_consumer(
    make: fn(Arc<App>) -> Arc<dyn Consumer>,
) -> anyhow::Result<Arc<dyn Consumer>> {
    Ok(make(crate::compose_from_env().await?.app))
}
