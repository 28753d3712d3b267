//! Notifications: the consumers that turn events into e-mails and text messages.
//!
//! | consumer | events | sends |
//! |---|---|---|
//! | [`EmailNotifier`] (`email`) | `order.placed`, `paid`, `invoiced`, `shipped`, `delivered`, `cancelled`, `expired`, `payment_late`, `refunded`, `return_requested`, `return_received`, `return_approved`, `return_refused` | one e-mail to the order's buyer, in the language of their profile |
//! | [`SmsNotifier`] (`sms`) | `order.paid`, `shipped`, `cancelled` | one text, only when the profile opted in and has a phone |
//! | [`AdminAlerts`] (`admin-alerts`) | `stock.low`, `invoice.failed`, `payments.difference`, large `order.placed`, `order.return_requested` | one e-mail to `Settings::alerts_to`, when set |
//!
//! The subscriptions' filter policies (`events::subscriptions`) decide which events reach which
//! consumer; a consumer that is handed an event it has no message for does nothing.
//!
//! The cart reminder ([`cart_reminder_email`]) answers no event: `crate::cart_reminders` sends
//! it from its sweep, keyed `{reminder id}.cart-reminder`.
//!
//! Invariants:
//! - Idempotent by event id: every message carries the key `{event_id}.{consumer}`; the file
//!   and SMTP adapters deliver one message per key, and on AWS (SES and SNS cannot) the queue
//!   functions wrap each consumer in [`SendOnce`], which records each send in the table.
//! - What the message says is read from the order as stored (lines, buyer, address) and from
//!   the event (its type, tracking code, refund), never from anything global: the consumers get
//!   everything from the [`App`] they are built with.
//! - A transport that is down is a [`ConsumeError::Retry`]; a message the transport refuses, an
//!   event without what its message needs, or an order that does not exist is a
//!   [`ConsumeError::Reject`] (it would never succeed).
//! - No personal data in logs: event id, event type and order id only.
//! - HTML parts escape every value (templates ending in `.html` are auto-escaped).

mod alerts;
pub mod connections;
mod email;
mod once;
mod realtime;
mod reminders;
mod sms;
mod templates;

#[cfg(test)]
pub(crate) mod testing;

use std::sync::Arc;

use anyhow::anyhow;
use serde::Deserialize;
use vitrine_domain::order::{Order, OrderStatus};
use vitrine_domain::{Event, EventAttr};

use crate::app::App;
use crate::customers::{Language, Profile};
use crate::error::AppError;
use crate::events::{ConsumeError, Consumer};
use crate::ports::{Email, MailError, SmsError};

pub use alerts::AdminAlerts;
pub use email::{AccountEmail, EmailNotifier, account_email};
pub use once::SendOnce;
pub use realtime::{RealtimePusher, push_message};
pub use reminders::{CART_REMINDER, CartReminder, ReminderLine, cart_reminder_email};
pub use sms::{SmsNotifier, check_sms_number};
pub use templates::Shop;

/// The three notification consumers, for the dispatcher (or a queue handler on AWS).
pub fn consumers(app: &Arc<App>) -> Vec<Arc<dyn Consumer>> {
    vec![
        Arc::new(EmailNotifier::new(Arc::clone(app))),
        Arc::new(SmsNotifier::new(Arc::clone(app))),
        Arc::new(AdminAlerts::new(Arc::clone(app))),
    ]
}

/// The idempotency key of the message a consumer sends for an event.
fn idempotency_key(event_id: &str, consumer: &str) -> String {
    format!("{event_id}.{consumer}")
}

/// An e-mail from rendered parts. The one place messages are assembled, so every consumer sets
/// the idempotency key the same way.
fn outgoing_email(to: &str, rendered: templates::Rendered, idempotency_key: String) -> Email {
    Email {
        to: to.to_owned(),
        subject: rendered.subject,
        text: rendered.text,
        html: Some(rendered.html),
        idempotency_key: Some(idempotency_key),
        attachments: vec![],
    }
}

/// What an order event carries (`Order::event`), as far as the messages need it.
#[derive(Debug, Clone)]
struct OrderEvent {
    order_id: String,
    tracking_code: Option<String>,
    /// From the `refund` attribute of `order.cancelled`, when present.
    refund: Option<bool>,
}

#[derive(Deserialize)]
struct OrderEventData {
    order_id: String,
    #[serde(default)]
    tracking_code: Option<String>,
}

impl OrderEvent {
    fn parse(event: &Event) -> Result<Self, ConsumeError> {
        let data: OrderEventData = serde_json::from_value(event.data.clone()).map_err(|e| {
            reject(format!(
                "{} event has malformed data: {e}",
                event.event_type
            ))
        })?;
        if data.order_id.is_empty() || data.order_id != event.subject {
            return Err(reject(format!(
                "{} event is about order {:?} but its data names order {:?}",
                event.event_type, event.subject, data.order_id
            )));
        }
        let refund = match event.attributes.get("refund") {
            None => None,
            Some(EventAttr::String(s)) if s == "yes" => Some(true),
            Some(EventAttr::String(s)) if s == "no" => Some(false),
            Some(other) => {
                return Err(reject(format!(
                    "{} event has a malformed refund attribute: {other:?}",
                    event.event_type
                )));
            }
        };
        Ok(Self {
            order_id: data.order_id,
            tracking_code: data.tracking_code.filter(|c| !c.trim().is_empty()),
            refund,
        })
    }

    /// The tracking code of a shipped order: the event's snapshot, else the order's.
    fn tracking_code(&self, order: &Order) -> Result<String, ConsumeError> {
        self.tracking_code
            .clone()
            .or_else(|| order.tracking_code.clone())
            .ok_or_else(|| {
                reject(format!(
                    "order.shipped for order {} carries no tracking code",
                    order.id
                ))
            })
    }

    /// Whether a cancellation gave money back: the event says so (`refund` attribute); events
    /// without it are judged from the order's history (cancelled after it was paid).
    fn refund(&self, order: &Order) -> bool {
        self.refund.unwrap_or_else(|| {
            order
                .history
                .iter()
                .any(|change| change.status == OrderStatus::Paid)
        })
    }
}

/// The order an event is about. Gone (or never there): the event can never be handled.
/// The shop as the messages name it (its look, from the app's cache).
async fn load_shop(app: &App) -> Result<Shop, ConsumeError> {
    app.shop_for_messages()
        .await
        .map_err(|e| app_failed(e, "the shop's look"))
}

async fn load_order(app: &App, event: &Event, data: &OrderEvent) -> Result<Order, ConsumeError> {
    let order = app
        .load_order(&data.order_id)
        .await
        .map_err(|e| app_failed(e, &format!("order {}", data.order_id)))?;
    if let Some(customer) = &event.customer_id
        && *customer != order.customer_id
    {
        return Err(reject(format!(
            "{} event for order {} names another customer than the order",
            event.event_type, order.id
        )));
    }
    Ok(order)
}

/// The customer's profile; `None` when they have none (orders keep the buyer's contact).
async fn load_profile(app: &App, sub: &str) -> Result<Option<Profile>, ConsumeError> {
    match app.profile(sub).await {
        Ok(profile) => Ok(Some(profile)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(app_failed(e, "the customer's profile")),
    }
}

fn language_of(profile: Option<&Profile>) -> Language {
    profile.map(|p| p.language).unwrap_or_default()
}

fn reject(message: impl Into<String>) -> ConsumeError {
    ConsumeError::Reject(anyhow!(message.into()))
}

/// A use case failed: engines down are worth retrying; what is missing stays missing.
fn app_failed(error: AppError, what: &str) -> ConsumeError {
    match error {
        AppError::NotFound(_) => reject(format!("{what} does not exist")),
        AppError::Internal(e) | AppError::Unavailable(e) => {
            ConsumeError::Retry(e.context(format!("reading {what}")))
        }
        other => ConsumeError::Reject(anyhow::Error::new(other).context(format!("reading {what}"))),
    }
}

fn mail_failed(error: MailError) -> ConsumeError {
    match error {
        MailError::Invalid(m) => reject(format!("the mailer refused the e-mail: {m}")),
        MailError::Unavailable(e) => ConsumeError::Retry(e.context("mail transport unavailable")),
    }
}

fn sms_failed(error: SmsError) -> ConsumeError {
    match error {
        SmsError::Invalid(m) => reject(format!("the SMS transport refused the message: {m}")),
        SmsError::Unavailable(e) => ConsumeError::Retry(e.context("SMS transport unavailable")),
    }
}

fn template_failed(error: minijinja::Error) -> ConsumeError {
    // A template that does not render is a bug, not a passing outage: dead-letter the event so
    // it can be replayed once fixed.
    ConsumeError::Reject(anyhow::Error::new(error).context("rendering the message"))
}
