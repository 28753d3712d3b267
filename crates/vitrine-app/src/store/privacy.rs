//! A person's data (LGPD): what is kept of them, the record of the e-mails sent to them, and the
//! writes that erase them.
//!
//! | item | pk | sk | |
//! |---|---|---|---|
//! | an e-mail sent to a customer | `CUSTOMER#{sub}` | `MAIL#{event id}` | `kind` (the event), `subject`, `at` (ms): in the customer's partition, so erasing it erases them; a cart reminder's also in the dashboard's index ([`super::cart_reminders`]) |
//! | the record of an erasure | `ERASURE#{sub}` | `ERASURE` | `at` (ms), `by` (`self` or the admin's `sub`), `orders` (how many were anonymised) |
//!
//! Erasing a customer deletes every item of their partition (profile, addresses, unpaid holds,
//! e-mails sent), their cart, their customer search entries and their orders' tax id entries,
//! and saves each order with the buyer erased (`Order::erase_buyer`) under its version.

use serde::{Deserialize, Serialize};
use vitrine_domain::order::Order;

use super::customer_index::{self, CustomerFacts};
use super::{Batch, Pager, Part, customer_cart, customer_partition, decode};
use crate::error::AppResult;
use crate::ports::{Index, Item, Key, Query, Table, WriteOp};

const MAIL_PREFIX: &str = "MAIL#";

/// An e-mail sent to a customer, as the export lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMail {
    pub event_id: String,
    /// The event it told of (`order.paid`, …).
    pub kind: String,
    pub subject: String,
    pub at_ms: i64,
}

/// The record of `mail`, sent to customer `sub`.
pub(super) fn mail_item(sub: &str, mail: &SentMail) -> Item {
    Item::new(Key::new(
        customer_partition(sub),
        format!("{MAIL_PREFIX}{}", mail.event_id),
    ))
    .with("kind", mail.kind.as_str())
    .with("subject", mail.subject.as_str())
    .with("at", mail.at_ms)
}

impl Batch {
    /// Record that an e-mail about event `event_id` went to customer `sub`.
    pub fn record_mail_sent(&mut self, sub: &str, mail: &SentMail) {
        self.put(Part::Profile, mail_item(sub, mail));
    }
}

/// Every item of `sub`'s partition whose sort key starts with `prefix`, in order.
pub(super) async fn customer_items(
    table: &dyn Table,
    sub: &str,
    prefix: &str,
) -> AppResult<Vec<Item>> {
    Pager::new(
        table,
        Query::new(Index::Primary, customer_partition(sub))
            .sk(crate::ports::SortKey::BeginsWith(prefix.into())),
    )
    .all()
    .await
}

/// The e-mails sent to `sub`, oldest first.
pub async fn mails_sent(table: &dyn Table, sub: &str) -> AppResult<Vec<SentMail>> {
    let items = customer_items(table, sub, MAIL_PREFIX).await?;
    Ok(items
        .iter()
        .map(|i| SentMail {
            event_id: i.key.sk.trim_start_matches(MAIL_PREFIX).to_owned(),
            kind: i.str("kind").unwrap_or_default().to_owned(),
            subject: i.str("subject").unwrap_or_default().to_owned(),
            at_ms: i.num("at").unwrap_or_default(),
        })
        .collect())
}

/// Every order of `sub`, oldest first.
pub async fn orders_of(table: &dyn Table, sub: &str) -> AppResult<Vec<Order>> {
    let items = Pager::new(table, super::orders::of_customer(sub))
        .all()
        .await?;
    items.iter().map(decode).collect()
}

/// The keys of what erasing `sub` deletes: their partition's items, their cart, and their
/// customer search entries (`facts`, from their profile, when it exists).
pub async fn erasable_keys(
    table: &dyn Table,
    sub: &str,
    facts: Option<&CustomerFacts<'_>>,
) -> AppResult<Vec<Key>> {
    let mut keys: Vec<Key> = Pager::new(table, Query::new(Index::Primary, customer_partition(sub)))
        .all()
        .await?
        .into_iter()
        .map(|i| i.key)
        .collect();
    keys.push(customer_cart(sub));
    if let Some(f) = facts {
        keys.extend(customer_index::entries(f).into_iter().map(|i| i.key));
    }
    Ok(keys)
}

/// Who asked for an erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Erasure {
    pub at_ms: i64,
    /// `self`, or the `sub` of the admin who did it on request.
    pub by: String,
    pub orders: i64,
}

fn erasure_key(sub: &str) -> Key {
    Key::new(format!("ERASURE#{sub}"), "ERASURE")
}

impl Batch {
    /// Delete each of `keys` (whatever is there).
    pub fn forget(&mut self, keys: &[Key]) {
        for key in keys {
            self.push(
                Part::Profile,
                WriteOp::Delete {
                    key: key.clone(),
                    condition: None,
                },
            );
        }
    }

    /// Save `o` with its buyer erased (read at `read_version`), and delete its tax id entry.
    pub fn save_erased_order(
        &mut self,
        o: &Order,
        read_version: u64,
        tax_id: &str,
    ) -> AppResult<()> {
        self.save_order(o, read_version)?;
        // The admin's list of returns keeps a copy of each: erased with the order.
        for r in &o.returns {
            self.put_return_entry(o, &r.id)?;
        }
        self.push(
            Part::Order,
            WriteOp::Delete {
                key: super::order_index::tax_entry(o, tax_id),
                condition: None,
            },
        );
        Ok(())
    }

    /// Record the erasure of `sub`.
    pub fn record_erasure(&mut self, sub: &str, e: &Erasure) {
        self.put(
            Part::Profile,
            Item::new(erasure_key(sub))
                .with("at", e.at_ms)
                .with("by", e.by.as_str())
                .with("orders", e.orders),
        );
    }
}

/// The record of `sub`'s erasure, if they were erased.
pub async fn erasure(table: &dyn Table, sub: &str) -> AppResult<Option<Erasure>> {
    Ok(table.get(&erasure_key(sub)).await?.map(|i| Erasure {
        at_ms: i.num("at").unwrap_or_default(),
        by: i.str("by").unwrap_or_default().to_owned(),
        orders: i.num("orders").unwrap_or_default(),
    }))
}
