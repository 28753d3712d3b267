//! Domain events: what happened, with message attributes that subscriptions filter on (the SNS
//! subscription filter-policy pattern of DESIGN.md). The outbox stores them in the same batch as
//! the change that caused them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One message attribute, with SNS's data types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum EventAttr {
    String(String),
    Number(i64),
    #[serde(rename = "String.Array")]
    StringArray(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Dotted type, e.g. `order.placed`.
    pub event_type: String,
    /// The aggregate the event is about (order id, SKU, customer id).
    pub subject: String,
    /// The customer the event concerns, when any: realtime push and notifications use it.
    pub customer_id: Option<String>,
    pub attributes: BTreeMap<String, EventAttr>,
    /// The event's body: a snapshot of what consumers need.
    pub data: serde_json::Value,
    /// The trace of the request that caused the event (32 hex digits), carried to every
    /// consumer so that one trace shows an order from checkout to its e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl Event {
    pub fn new(event_type: &str, subject: impl Into<String>, data: serde_json::Value) -> Self {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "event_type".to_owned(),
            EventAttr::String(event_type.to_owned()),
        );
        Self {
            event_type: event_type.to_owned(),
            subject: subject.into(),
            customer_id: None,
            attributes,
            data,
            trace_id: None,
        }
    }
    pub fn attr(mut self, name: &str, value: EventAttr) -> Self {
        self.attributes.insert(name.to_owned(), value);
        self
    }
    pub fn for_customer(mut self, customer_id: impl Into<String>) -> Self {
        self.customer_id = Some(customer_id.into());
        self
    }
}
