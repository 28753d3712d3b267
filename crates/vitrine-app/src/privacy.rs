//! A person's rights over their data (LGPD, Lei 13.709/2018, art. 18): a copy of everything the
//! store keeps of them, and the erasure of their account. Orders stay as sales (what was sold, for
//! how much, when, to which city) with the buyer erased; an NF-e already issued is a fiscal record
//! the law makes the shop keep (CTN art. 173 and 195: five years), so its file stays in the blob
//! store as issued. The erasure is recorded (when, by whom). Consent to marketing e-mails is kept
//! with its date on the profile (`customers::Consent`). See docs/privacy.md.

use serde::Serialize;
use vitrine_domain::order::Order;

use crate::app::App;
use crate::cart::CartOwner;
use crate::customers::{MAX_ADDRESSES, Profile, SavedAddress};
use crate::error::{AppError, AppResult};
use crate::ports::IdentityError;
use crate::store::cart_reminders::CartRecovery;
use crate::store::privacy::{Erasure, SentMail};
use crate::store::{self, Batch, WriteFailed};

/// Everything the store keeps of one person, as they download it.
#[derive(Debug, Serialize)]
pub struct PersonalData {
    /// RFC 3339 is the HTTP layer's; milliseconds here.
    pub exported_at_ms: i64,
    pub profile: Profile,
    pub addresses: Vec<SavedAddress>,
    /// The lines of their cart (SKU and quantity).
    pub cart: Vec<CartLineCopy>,
    pub orders: Vec<Order>,
    /// Each order's payment, without card data (no card number was ever stored; the brand and
    /// last digits are left out too).
    pub payments: Vec<serde_json::Value>,
    /// Each issued NF-e: its number, key and status (the XML itself is the shop's fiscal record;
    /// the customer downloads it from the order page).
    pub invoices: Vec<serde_json::Value>,
    pub emails_sent: Vec<SentMail>,
    /// The carts they checked out after a reminder about them (`crate::cart_reminders`; the
    /// preference itself is the profile's `cart_reminders`).
    pub cart_recoveries: Vec<CartRecovery>,
}

#[derive(Debug, Serialize)]
pub struct CartLineCopy {
    pub sku: String,
    pub quantity: u32,
}

impl App {
    /// A copy of everything the store keeps of `sub` (the customer, or an admin on their
    /// request).
    pub async fn export_personal_data(&self, sub: &str) -> AppResult<PersonalData> {
        let table = &*self.ports.table;
        let profile = self.profile(sub).await?;
        let addresses = store::customers::addresses(table, sub, MAX_ADDRESSES).await?;
        let cart = store::carts::load(table, &CartOwner::Customer(sub.to_owned()))
            .await?
            .map(|stored| {
                stored
                    .cart
                    .lines
                    .iter()
                    .map(|l| CartLineCopy {
                        sku: l.sku.to_string(),
                        quantity: l.quantity.get(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let orders = store::privacy::orders_of(table, sub).await?;
        let mut payments = Vec::new();
        let mut invoices = Vec::new();
        for o in &orders {
            if let Some(p) = store::payments::load(table, &o.id).await? {
                let mut v = serde_json::to_value(&p)?;
                if let Some(map) = v.as_object_mut() {
                    map.remove("card");
                }
                payments.push(v);
            }
            if let Some(i) = store::invoices::load(table, &o.id).await? {
                invoices.push(serde_json::json!({
                    "order_id": i.order_id,
                    "number": i.number,
                    "series": i.series,
                    "access_key": i.access_key,
                    "status": i.status,
                    "issued_at_ms": i.issued_at.millis(),
                }));
            }
        }
        Ok(PersonalData {
            exported_at_ms: self.ports.clock.now().millis(),
            profile,
            addresses,
            cart,
            orders,
            payments,
            invoices,
            emails_sent: store::privacy::mails_sent(table, sub).await?,
            cart_recoveries: store::cart_reminders::recoveries_of(table, sub).await?,
        })
    }

    /// Erase `sub`'s account (LGPD art. 18, VI): their profile, addresses, cart, e-mail record
    /// and search entries are deleted, each order keeps the sale with the buyer erased, the
    /// account is deleted from the identity provider (no sign-in, no refresh), and the erasure is
    /// recorded as done `by` (`self`, or the admin's `sub`). Refused while an order still needs
    /// them (unpaid, or paid and not yet delivered): the message says which.
    pub async fn erase_customer(&self, sub: &str, by: &str) -> AppResult<Erasure> {
        let table = &*self.ports.table;
        let profile = self.profile(sub).await?;
        let orders = store::privacy::orders_of(table, sub).await?;
        if let Some(open) = orders.iter().find(|o| o.in_progress()) {
            return Err(AppError::Conflict(format!(
                "order {} is {}: the account can be erased once it is delivered or cancelled",
                open.id, open.status
            )));
        }
        let now = self.ports.clock.now();
        // The orders first, one at a time under their versions: a concurrent move wins and the
        // erasure of that order is tried again.
        for o in &orders {
            self.erase_order_buyer(o, now).await?;
        }
        let keys = store::privacy::erasable_keys(table, sub, Some(&profile.facts())).await?;
        for chunk in keys.chunks(store::MAX_BATCH_OPS - 1) {
            let mut batch = Batch::with_capacity(chunk.len());
            batch.forget(chunk);
            self.write(batch).await?;
        }
        match self.ports.identity.admin_delete_user(&profile.email).await {
            Ok(()) | Err(IdentityError::UserNotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let erasure = Erasure {
            at_ms: now.millis(),
            by: by.to_owned(),
            orders: orders.len() as i64,
        };
        let mut batch = Batch::new();
        batch.record_erasure(sub, &erasure);
        self.write(batch).await?;
        // What was deleted must not linger in the engine's files (SQLite's free pages and log).
        self.ports.table.scrub().await?;
        tracing::info!(customer = %sub, by, orders = orders.len(), "customer erased");
        Ok(erasure)
    }

    async fn erase_order_buyer(&self, o: &Order, now: vitrine_domain::Timestamp) -> AppResult<()> {
        let tax_id = o.buyer.tax_id.as_str().to_owned();
        let mut current = o.clone();
        for _ in 0..5 {
            if current.erased_at.is_some() {
                return Ok(());
            }
            let read = current.version;
            let mut erased = current.clone();
            erased.erase_buyer(now);
            let mut batch = Batch::new();
            batch.save_erased_order(&erased, read, &tax_id)?;
            match self.write(batch).await {
                Ok(()) => return Ok(()),
                Err(WriteFailed::Condition { .. }) => {
                    current = store::orders::load(&*self.ports.table, &o.id)
                        .await?
                        .ok_or(AppError::NotFound("order"))?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(format!(
            "order {} kept changing while it was being erased; try again",
            o.id
        )))
    }

    /// Record an e-mail sent to customer `sub` (for their data export). Logged when it fails.
    pub(crate) async fn record_mail_sent(&self, sub: &str, mail: &SentMail) {
        let mut batch = Batch::new();
        batch.record_mail_sent(sub, mail);
        if let Err(e) = self.write(batch).await {
            tracing::warn!(customer = %sub, event.id = %mail.event_id, error = %e, "the record of an e-mail sent was not written");
        }
    }

    /// The record of `sub`'s erasure, if they were erased.
    pub async fn erasure(&self, sub: &str) -> AppResult<Option<Erasure>> {
        store::privacy::erasure(&*self.ports.table, sub).await
    }
}
