//! The key design: how aggregates map to items of the one table. Only this module and the
//! repositories beside it know key formats; use cases speak in aggregates.
//!
//! | item | pk | sk | indexes |
//! |---|---|---|---|
//! | product | `PRODUCT#{id}` | `PRODUCT` | gsi1 `PRODUCTS` / `{id}` |
//! | slug reservation | `SLUG#{slug}` | `SLUG` | |
//! | SKU and its stock | `SKU#{sku}` | `SKU` | gsi1 `STOCK` / `{sku}` |
//! | category | `CATEGORY#{id}` | `CATEGORY` | gsi1 `CATEGORIES` / `{id}` |
//! | customer profile | `CUSTOMER#{sub}` | `PROFILE` | |
//! | customer address | `CUSTOMER#{sub}` | `ADDRESS#{id}` | |
//! | cart | `CART#C#{sub}` or `CART#A#{token}` | `CART` | ttl on anonymous carts |
//! | order | `ORDER#{id}` | `ORDER` | gsi1 `CUSTOMER#{sub}#ORDERS` / `{id}`; gsi2 `STATUS#{status}` / `{id}` |
//! | idempotency record | `IDEMPOTENCY#{sub}#{key}` | `IDEMPOTENCY` | ttl 24 h |
//! | coupon | `COUPON#{code}` | `COUPON` | gsi1 `COUPONS` / `{code}` |
//! | event (outbox) | `EVENT#{id}` | `EVENT` | gsi1 `OUTBOX` / `{id}` until fanned out |
//! | delivery (local dispatcher) | `DELIVERY#{subscriber}` | `{event id}` | gsi1 `QUEUE#{subscriber}` or `DEAD#{subscriber}` / `{event id}` while pending or dead; ttl once done |
//! | WebSocket connection of a customer (AWS) | `WS#CUSTOMER#{sub}` | `CONN#{connection id}` | ttl 2 h |
//! | WebSocket connection of an admin (AWS) | `WS#ADMIN` | `CONN#{connection id}` | ttl 2 h |
//! | WebSocket connection, by id (AWS) | `WSCONN#{connection id}` | `WSCONN` | ttl 2 h |
//!
//! Aggregates are stored as JSON in the `data` attribute; attributes that conditions or indexes
//! need (`version`, `available`, `used`, `status`) are kept beside it as typed values.

use serde::Serialize;
use serde::de::DeserializeOwned;
use vitrine_domain::Event;

use crate::error::{AppError, AppResult};
use crate::ports::table::{GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK};
use crate::ports::{Item, Key, Value};

pub const DATA: &str = "data";
pub const VERSION: &str = "version";
pub const AVAILABLE: &str = "available";

pub fn product(id: &str) -> Key {
    Key::new(format!("PRODUCT#{id}"), "PRODUCT")
}
pub const PRODUCTS: &str = "PRODUCTS";
pub fn slug(slug: &str) -> Key {
    Key::new(format!("SLUG#{slug}"), "SLUG")
}
pub fn sku(sku: &str) -> Key {
    Key::new(format!("SKU#{sku}"), "SKU")
}
pub const STOCK: &str = "STOCK";
pub fn category(id: &str) -> Key {
    Key::new(format!("CATEGORY#{id}"), "CATEGORY")
}
pub const CATEGORIES: &str = "CATEGORIES";
pub fn category_slug(slug: &str) -> Key {
    Key::new(format!("CATSLUG#{slug}"), "CATSLUG")
}
pub fn profile(sub: &str) -> Key {
    Key::new(format!("CUSTOMER#{sub}"), "PROFILE")
}
pub fn address(sub: &str, id: &str) -> Key {
    Key::new(format!("CUSTOMER#{sub}"), format!("ADDRESS#{id}"))
}
pub fn customer_partition(sub: &str) -> String {
    format!("CUSTOMER#{sub}")
}
pub fn customer_cart(sub: &str) -> Key {
    Key::new(format!("CART#C#{sub}"), "CART")
}
pub fn anonymous_cart(token: &str) -> Key {
    Key::new(format!("CART#A#{token}"), "CART")
}
pub fn order(id: &str) -> Key {
    Key::new(format!("ORDER#{id}"), "ORDER")
}
pub fn customer_orders(sub: &str) -> String {
    format!("CUSTOMER#{sub}#ORDERS")
}
pub fn orders_in_status(status: &str) -> String {
    format!("STATUS#{status}")
}
pub fn idempotency(sub: &str, key: &str) -> Key {
    Key::new(format!("IDEMPOTENCY#{sub}#{key}"), "IDEMPOTENCY")
}
pub fn coupon(code: &str) -> Key {
    Key::new(format!("COUPON#{code}"), "COUPON")
}
pub const COUPONS: &str = "COUPONS";
pub fn event(id: &str) -> Key {
    Key::new(format!("EVENT#{id}"), "EVENT")
}
pub const OUTBOX: &str = "OUTBOX";
/// The delivery of one event to one subscriber (the local dispatcher's queues).
pub fn delivery(subscriber: &str, event_id: &str) -> Key {
    Key::new(delivery_partition(subscriber), event_id)
}
pub fn delivery_partition(subscriber: &str) -> String {
    format!("DELIVERY#{subscriber}")
}
/// The index partition of a subscriber's pending deliveries.
pub fn queue(subscriber: &str) -> String {
    format!("QUEUE#{subscriber}")
}
/// The index partition of a subscriber's dead letters.
pub fn dead_letters(subscriber: &str) -> String {
    format!("DEAD#{subscriber}")
}
/// The sort-key prefix of the WebSocket connection items of an audience partition.
pub const WS_CONNECTION_PREFIX: &str = "CONN#";
/// The audience partition of every admin's WebSocket connections.
pub const WS_ADMINS: &str = "WS#ADMIN";
/// The audience partition of one customer's WebSocket connections.
pub fn ws_customer_partition(sub: &str) -> String {
    format!("WS#CUSTOMER#{sub}")
}
/// A customer's WebSocket connection in their audience partition.
pub fn ws_customer_connection(sub: &str, connection_id: &str) -> Key {
    Key::new(
        ws_customer_partition(sub),
        format!("{WS_CONNECTION_PREFIX}{connection_id}"),
    )
}
/// An admin's WebSocket connection in the admins' audience partition.
pub fn ws_admin_connection(connection_id: &str) -> Key {
    Key::new(WS_ADMINS, format!("{WS_CONNECTION_PREFIX}{connection_id}"))
}
/// A WebSocket connection by its id: whose it is (for `$disconnect` and resume).
pub fn ws_connection(connection_id: &str) -> Key {
    Key::new(format!("WSCONN#{connection_id}"), "WSCONN")
}
/// Whether `key` is an event's (outbox) item.
pub fn is_event(key: &Key) -> bool {
    key.sk == "EVENT" && key.pk.starts_with("EVENT#")
}

/// An item holding `value` as JSON in `data`.
pub fn data_item<T: Serialize>(key: Key, value: &T) -> AppResult<Item> {
    let json = serde_json::to_string(value).map_err(|e| AppError::Internal(e.into()))?;
    Ok(Item::new(key).with(DATA, json))
}

/// Decode the aggregate kept in `data`.
pub fn decode<T: DeserializeOwned>(item: &Item) -> AppResult<T> {
    let json = item.str(DATA).ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "item {}/{} has no data",
            item.key.pk,
            item.key.sk
        ))
    })?;
    Ok(serde_json::from_str(json)?)
}

pub fn with_gsi1(item: Item, pk: impl Into<String>, sk: impl Into<String>) -> Item {
    item.with(GSI1_PK, Value::S(pk.into()))
        .with(GSI1_SK, Value::S(sk.into()))
}

pub fn with_gsi2(item: Item, pk: impl Into<String>, sk: impl Into<String>) -> Item {
    item.with(GSI2_PK, Value::S(pk.into()))
        .with(GSI2_SK, Value::S(sk.into()))
}

/// The outbox item for an event: written in the same batch as the change that caused it.
pub fn event_item(id: &str, ev: &Event, at_millis: i64) -> AppResult<Item> {
    let traced;
    let ev = match (&ev.trace_id, crate::trace::current()) {
        (None, Some(trace_id)) => {
            traced = Event {
                trace_id: Some(trace_id),
                ..ev.clone()
            };
            &traced
        }
        _ => ev,
    };
    let item = data_item(event(id), ev)?
        .with("event_type", ev.event_type.clone())
        .with("created_at", at_millis);
    Ok(with_gsi1(item, OUTBOX, id))
}
