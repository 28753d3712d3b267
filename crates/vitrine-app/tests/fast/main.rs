//! Fast tests of the use cases on in-memory adapters ([`world::World`]): checkout, payment
//! settlement, invoicing and event dispatch, through the app's public API, with no socket.

mod admin_search;
mod cart_reminders;
mod checkout;
mod code_mails;
mod dispatch;
mod invoices;
mod listing;
mod media;
mod payments;
mod reconcile;
mod search;
mod sessions;
mod world;
