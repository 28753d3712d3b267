//! The repository layer: the only door to the table. How aggregates map to items (the key
//! design below, spelled once in [`keys`]), typed operations that say what a write means
//! ([`Batch`]: reserve stock, use a coupon once, save a moved order with its event under a
//! version condition, append an event…), the one [`Pager`] over query results, and the reads of
//! each aggregate. Use cases never build a `WriteOp`, `Condition` or `Key` themselves
//! (`tests/repository_layer.rs` fails the build when they do).
//!
//! | item | pk | sk | indexes |
//! |---|---|---|---|
//! | product | `PRODUCT#{id}` | `PRODUCT` | gsi1 `PRODUCTS` / `{id}` |
//! | slug reservation | `SLUG#{slug}` | `SLUG` | |
//! | SKU and its stock | `SKU#{sku}` | `SKU` | gsi1 `STOCK` / `{sku}` |
//! | listing entry: a copy of a product where browsing reads it ([`listing`]) | `LIST#{PUB or ALL}#{* or C#category id}` | `{product id}` | gsi1 same / `{price}#{id}`; gsi2 same / `{folded name}\u{1}{id}` |
//! | listing entries are complete | `LISTINGS` | `LISTINGS` | `version` of their layout |
//! | category | `CATEGORY#{id}` | `CATEGORY` | gsi1 `CATEGORIES` / `{id}` |
//! | customer profile | `CUSTOMER#{sub}` | `PROFILE` | |
//! | customer address | `CUSTOMER#{sub}` | `ADDRESS#{id}` | |
//! | what a customer's unpaid orders hold | `CUSTOMER#{sub}` | `UNPAID` | `orders` and `units` counters |
//! | cart ([`carts`]) | `CART#C#{sub}` or `CART#A#{token}` | `CART` | ttl on anonymous carts; a customer's with lines and no reminder since its last touch: gsi1 `CARTS#TOUCHED` / `{touched ms, 15 digits}#{sub}` |
//! | a cart reminder sent ([`cart_reminders`]): the record of its e-mail | `CUSTOMER#{sub}` | `MAIL#{reminder id}` | gsi1 `CARTREMINDERS` / `{sent ms}#{sub}` |
//! | a reminded cart checked out | `CUSTOMER#{sub}` | `RECOVERED#{reminder id}` | gsi1 `CARTREMINDERS#RECOVERED` / `{reminder sent ms}#{sub}` |
//! | the key e-mail links are signed with | `LINKKEY` | `LINKKEY` | `secret` |
//! | order | `ORDER#{id}` | `ORDER` | gsi1 `CUSTOMER#{sub}#ORDERS` / `{id}`; gsi2 `STATUS#{status}` / `{id}` |
//! | order search entries ([`order_index`]) | `ORDERS` / `ORDERS#TAX#{tax id}` | `{created ms}#{id}` | every order: gsi1 `ORDERS#TOTAL` / `{total}#{created}#{id}`, gsi2 `ORDERS#PAY#{method}` / `{created}#{id}` |
//! | customer search entries ([`customer_index`]) | `CUSTOMERS` / `CUSTOMERS#FIND` | `{created ms}#{sub}` / `{n: e: or d:}{word, e-mail or digits}\u{1}{sub}` | |
//! | an e-mail sent to a customer ([`privacy`]) | `CUSTOMER#{sub}` | `MAIL#{event id}` | |
//! | the record of a customer's erasure (LGPD) | `ERASURE#{sub}` | `ERASURE` | |
//! | the search entries are complete | `ADMININDEX` | `ADMININDEX` | `version` of their layout |
//! | idempotency record | `IDEMPOTENCY#{sub}#{key}` | `IDEMPOTENCY` | ttl 24 h |
//! | coupon | `COUPON#{code}` | `COUPON` | gsi1 `COUPONS` / `{code}` |
//! | a customer's uses of a coupon | `COUPON#{code}` | `USE#{sub}` | `used` counter |
//! | event (outbox) | `EVENT#{id}` | `EVENT` | gsi1 `OUTBOX` / `{id}` until fanned out |
//! | delivery (local dispatcher; on AWS the record of one) | `DELIVERY#{subscriber}` | `{event id}` | gsi1 `QUEUE#{subscriber}` or `DEAD#{subscriber}` / `{event id}` while pending or dead; ttl once done; realtime deliveries of an event with a customer: gsi2 `DELIVERY#realtime#CUSTOMER#{sub}` / `{event id}` (a customer's resume) |
//! | WebSocket connection of a customer (AWS) | `WS#CUSTOMER#{sub}` | `CONN#{connection id}` | ttl 2 h |
//! | WebSocket connection of an admin (AWS) | `WS#ADMIN` | `CONN#{connection id}` | ttl 2 h |
//! | WebSocket connection, by id (AWS) | `WSCONN#{connection id}` | `WSCONN` | ttl 2 h |
//! | payment | `ORDER#{id}` | `PAYMENT` | beside its order |
//! | Pix txid | `PIXTXID#{txid}` | `PIXTXID` | the order a txid belongs to |
//! | webhook notice | `NOTICE#{provider}#{id}` | `NOTICE` | ttl 30 days: replays refused |
//! | invoice | `ORDER#{id}` | `INVOICE` | beside its order |
//! | shipping label ([`labels`]): its purchase claim, then the label bought and its tracking | `ORDER#{id}` | `LABEL` | `version`; until delivered or failed: gsi1 `LABELS#OPEN` / `{last asked ms, 15 digits}#{order id}` |
//! | return entry ([`returns`]): a copy of one return of the order, for the admin's list | `ORDER#{id}` | `RETURN#{return id}` | gsi1 `RETURNS` / `{0 open, 1 decided}#{requested ms}#{order id}#{return id}` |
//! | NF-e number counter | `NFECOUNTER#{environment}#{series}` | `NFECOUNTER` | |
//! | the shop's look ([`shop`]) | `SHOP` | `LOOK` | `version` |
//! | NF-e authoriser mode | `FISCALMODE` | `FISCALMODE` | normal or contingency, since when and why |
//! | category slug reservation | `CATSLUG#{slug}` | `CATSLUG` | |
//! | revoked session / user's tokens before a reset | `REVOKED` | `SESSION#{origin_jti}` / `RESET#{sub}` | ttl: when the tokens expire ([`revocations`]) |
//! | send budget window ([`budgets`]) | `BUDGET#{kind}#{digest of the recipient or client}` | `W#{window secs}#{window index}` | ttl at the window's end |
//!
//! Aggregates are stored as JSON in the `data` attribute; attributes that conditions or indexes
//! need (`version`, `available`, `used`, `status`) are kept beside it as typed values; counter
//! items (a customer's unpaid holds and coupon uses) have only typed values.

mod batch;
pub mod keys;
mod pager;
mod walk;

pub mod budgets;
pub mod cart_reminders;
pub mod carts;
pub mod catalog;
pub mod coupons;
pub mod customer_index;
pub mod customers;
pub mod events;
pub mod listing;
pub mod order_index;
pub mod orders;
pub mod privacy;
pub mod returns;
pub mod shop;
pub mod stock;
pub mod unpaid;

pub mod connections;
pub mod deliveries;
pub mod invoices;
pub mod labels;
pub mod payments;
pub mod revocations;

pub use batch::{Batch, Part, WriteFailed};

/// The most operations one batch may hold.
pub const MAX_BATCH_OPS: usize = crate::ports::table::MAX_BATCH;
pub use events::event_item;
pub use keys::*;
pub use pager::{Pager, one_page};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};
use crate::ports::table::{GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK};
use crate::ports::{Item, Key, Value};

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
