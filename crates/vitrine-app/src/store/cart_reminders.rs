//! What the cart reminders leave besides the cart (`super::carts` holds the cart's own marks):
//! the record of each reminder sent, each reminded cart that was checked out, and the key the
//! e-mails' links are signed with.
//!
//! | item | pk | sk | indexes |
//! |---|---|---|---|
//! | a reminder sent: the record of an e-mail sent ([`super::privacy`]) | `CUSTOMER#{sub}` | `MAIL#{reminder id}` | gsi1 `CARTREMINDERS` / `{sent ms, 15 digits}#{sub}` |
//! | a reminded cart checked out | `CUSTOMER#{sub}` | `RECOVERED#{reminder id}` | gsi1 `CARTREMINDERS#RECOVERED` / `{reminder sent ms}#{sub}`; `order` (its id), `at` (ms) |
//! | the link key (`crate::links`) | `LINKKEY` | `LINKKEY` | `secret`: 32 random bytes, base64url |
//!
//! The first two are in the customer's partition: erasing the customer erases them (and the
//! dashboard's counts lose them). A recovery is put whatever is there (a checkout retried by its
//! Idempotency-Key writes the same item), so it never fails the checkout it rides in.

use serde::Serialize;

use super::carts::ReminderMark;
use super::privacy::{SentMail, customer_items, mail_item};
use super::{
    Batch, CART_RECOVERIES, CART_REMINDERS, Pager, Part, RECOVERY_PREFIX, cart_recovery, link_key,
    with_gsi1,
};
use crate::error::AppResult;
use crate::ports::{Index, Item, Query, SortKey, Table};

const ORDER: &str = "order";
const AT: &str = "at";
const SECRET: &str = "secret";

fn sent_key(at_ms: i64, sub: &str) -> String {
    format!("{:015}#{sub}", at_ms.max(0))
}

impl Batch {
    /// Record the reminder `mail` sent to customer `sub`: in their e-mails sent, and counted by
    /// the dashboard.
    pub fn record_cart_reminder(&mut self, sub: &str, mail: &SentMail) {
        let item = with_gsi1(
            mail_item(sub, mail),
            CART_REMINDERS,
            sent_key(mail.at_ms, sub),
        );
        self.put(Part::Profile, item);
    }

    /// Record that `sub` checked out the cart `reminder` was about, as order `order_id` at
    /// `at_ms`.
    pub fn record_cart_recovery(
        &mut self,
        sub: &str,
        reminder: &ReminderMark,
        order_id: &str,
        at_ms: i64,
    ) {
        let item = with_gsi1(
            Item::new(cart_recovery(sub, &reminder.id)),
            CART_RECOVERIES,
            sent_key(reminder.at.millis(), sub),
        )
        .with(ORDER, order_id)
        .with(AT, at_ms);
        self.put(Part::Cart, item);
    }

    /// Keep `secret` as the link key, unless one is kept already: fails on [`Part::LinkKey`]
    /// then (another process made it first).
    pub fn put_new_link_key(&mut self, secret: &str) {
        self.put_new(Part::LinkKey, Item::new(link_key()).with(SECRET, secret));
    }
}

/// How many items of the index partition `pk` were written for reminders sent at or after
/// `from_ms`.
async fn count_since(table: &dyn Table, pk: &str, from_ms: i64) -> AppResult<u64> {
    let query = Query::new(Index::Gsi1, pk)
        .sk(SortKey::Ge(format!("{:015}", from_ms.max(0))))
        .limit(1_000);
    let mut pages = Pager::new(table, query);
    let mut n = 0u64;
    while let Some(items) = pages.next_page().await? {
        n += items.len() as u64;
    }
    Ok(n)
}

/// How the reminders sent since a moment did (the dashboard's period).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReminderCounts {
    pub sent: u64,
    /// Of those, the reminders whose cart was checked out.
    pub recovered: u64,
}

/// The reminders sent at or after `from_ms`, and how many of the carts they were about were
/// checked out.
pub async fn counts_since(table: &dyn Table, from_ms: i64) -> AppResult<ReminderCounts> {
    Ok(ReminderCounts {
        sent: count_since(table, CART_REMINDERS, from_ms).await?,
        recovered: count_since(table, CART_RECOVERIES, from_ms).await?,
    })
}

/// A reminded cart that was checked out, as the customer's data export lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CartRecovery {
    /// The reminder's id: the `event_id` of its e-mail among the e-mails sent.
    pub reminder_id: String,
    pub order_id: String,
    pub at_ms: i64,
}

/// `sub`'s reminded carts that were checked out, by reminder.
pub async fn recoveries_of(table: &dyn Table, sub: &str) -> AppResult<Vec<CartRecovery>> {
    let items = customer_items(table, sub, RECOVERY_PREFIX).await?;
    Ok(items
        .iter()
        .map(|i| CartRecovery {
            reminder_id: i.key.sk.trim_start_matches(RECOVERY_PREFIX).to_owned(),
            order_id: i.str(ORDER).unwrap_or_default().to_owned(),
            at_ms: i.num(AT).unwrap_or_default(),
        })
        .collect())
}

/// The link key, if one was made.
pub async fn link_key_secret(table: &dyn Table) -> AppResult<Option<String>> {
    Ok(table
        .get(&link_key())
        .await?
        .and_then(|i| i.str(SECRET).map(str::to_owned)))
}
