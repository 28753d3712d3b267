//! vitrine's application layer: the use cases, the port traits every adapter implements, and the
//! repositories written once on the Table port (only [`store`] knows item keys).
//!
//! Invariants:
//! - Every state change writes its event to the outbox in the same atomic batch.
//! - Every customer-owned read is keyed or checked by the caller's `sub`.
//! - Money is integer centavos; time and ids come from the Clock and Ids ports.

// Unit tests compile vitrine-testkit's `MemTable` from its file (`notify/testing.rs`); there,
// its `vitrine_app::` paths name this crate.
#[cfg(test)]
extern crate self as vitrine_app;

pub mod accounts;
pub mod admin_search;
pub mod app;
pub mod auth;
pub mod cart;
pub mod cart_reminders;
pub mod catalog;
pub mod catalog_search;
pub mod checkout;
mod code_mails;
pub mod coupons;
pub mod customers;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod fiscal;
pub mod invoice_events;
pub mod invoices;
pub mod keys;
pub mod labels;
pub mod links;
pub mod media;
pub mod metrics;
pub mod notify;
pub mod orders;
pub mod payment_choice;
pub mod payments;
pub mod ports;
pub mod privacy;
pub mod reports;
pub mod returns;
pub mod search;
pub(crate) mod search_feed;
pub mod search_published;
pub mod sessions;
pub mod settings;
pub mod shipping;
pub mod shop;
pub mod sitemap;
pub mod snapshot;
pub mod store;
pub mod trace;
pub mod uploads;
pub mod workers;

pub use app::{App, Ports};
pub use error::{AppError, AppResult};
pub use settings::{Settings, SettingsError, UnpaidCap, UnpaidOver};
