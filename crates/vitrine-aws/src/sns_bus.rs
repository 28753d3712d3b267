//! `SnsBus`: publishes the store's events to the events topic, where filtered subscriptions
//! hand each one to the queues of the subscribers that want it (see
//! `vitrine_app::events::subscriptions`).
//!
//! One event is one SNS message:
//! - the body is [`message_body`]: `{"id": <event id>, "event": <vitrine_domain::Event>}`;
//! - the message attributes are the event's attributes, as
//!   `vitrine_filter_policy::to_sns_attributes` writes them — what the subscriptions'
//!   filter policies (scope `MessageAttributes`) match on;
//! - the X-Ray trace header, when given, travels as the Publish request's `X-Amzn-Trace-Id`
//!   header: SNS Publish has no `AWSTraceHeader` system attribute (that is SQS's), and a topic
//!   with active tracing continues the trace of the request that published to it.
//!
//! Invariant: a message is published only whole — an event SNS cannot carry (more attributes
//! than SNS takes, an empty attribute value) is an error before SNS is called, never a message
//! with attributes left out, which the filter policies would then route wrongly.
//!
//! Delivery is at-least-once: publishing the same event twice publishes it twice; consumers
//! dedupe by event id.

use anyhow::{Context as _, anyhow, bail};
use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use vitrine_app::events::subscriptions::message_attributes;
use vitrine_domain::Event;
use vitrine_filter_policy::to_sns_attributes;

use crate::{AwsConfig, LazyClient, sdk_config};

/// The most message attributes SNS takes on one message.
pub const MAX_ATTRIBUTES: usize = 10;

/// The HTTP header that carries the X-Ray trace context to an AWS service.
pub const TRACE_HEADER: &str = "x-amzn-trace-id";

/// Publishes events to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsBus {
    client: LazyClient<Client>,
    topic_arn: String,
}

/// The SNS message body of an event: what the consumers' queues receive (inside the SNS
/// envelope) and decode back into a delivery.
pub fn message_body(event_id: &str, event: &Event) -> anyhow::Result<String> {
    serde_json::to_string(&serde_json::json!({ "id": event_id, "event": event }))
        .context("encoding the event")
}

impl SnsBus {
    pub fn new(client: impl Into<LazyClient<Client>>, topic_arn: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            topic_arn: topic_arn.into(),
        }
    }

    /// A bus on `topic_arn`, its client built from `config` when first used.
    pub async fn connect(config: &AwsConfig, topic_arn: impl Into<String>) -> Self {
        let sdk = sdk_config(config).await;
        Self::new(
            LazyClient::new(move || {
                Client::from_conf(
                    aws_sdk_sns::config::Builder::from(&sdk)
                        .interceptor(crate::xray::XrayInterceptor)
                        .build(),
                )
            }),
            topic_arn,
        )
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publish one event; `trace_header` is the X-Ray trace header of the invocation publishing
    /// it (`Root=…;Parent=…;Sampled=…`). Returns SNS's message id.
    pub async fn publish(
        &self,
        event_id: &str,
        event: &Event,
        trace_header: Option<&str>,
    ) -> anyhow::Result<String> {
        let attributes = to_sns_attributes(&message_attributes(&event.attributes));
        if attributes.len() > MAX_ATTRIBUTES {
            bail!(
                "event {event_id} has {} message attributes; SNS takes at most {MAX_ATTRIBUTES}",
                attributes.len()
            );
        }
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(message_body(event_id, event)?);
        for (name, data_type, value) in attributes {
            if value.is_empty() {
                bail!("event {event_id}: attribute {name} is empty, which SNS refuses");
            }
            let attribute = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(value)
                .build()
                .context("a message attribute")?;
            request = request.message_attributes(name, attribute);
        }
        let output = match trace_header.filter(|h| !h.is_empty()) {
            Some(header) => {
                let header = header.to_owned();
                request
                    .customize()
                    .mutate_request(move |req| {
                        req.headers_mut().insert(TRACE_HEADER, header.clone());
                    })
                    .send()
                    .await
            }
            None => request.send().await,
        }
        .map_err(|err| {
            anyhow!(
                "SNS Publish of event {event_id} ({}) to {} failed: {}",
                event.event_type,
                self.topic_arn,
                DisplayErrorContext(&err)
            )
        })?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vitrine_domain::EventAttr;

    use super::*;

    #[test]
    fn the_body_holds_the_id_and_the_whole_event() {
        let event = Event::new("order.placed", "01JORDER", json!({"total": 1}))
            .attr("order_total", EventAttr::Number(1))
            .for_customer("sub-1");
        let body: serde_json::Value =
            serde_json::from_str(&message_body("01JEVENT", &event).unwrap()).unwrap();
        assert_eq!(body["id"], "01JEVENT");
        let back: Event = serde_json::from_value(body["event"].clone()).unwrap();
        assert_eq!(back, event);
    }
}
