//! vitrine's domain: the store's rules, with no I/O, no async, no clock and no randomness.
//!
//! Values are parsed at the edge into the newtypes here (`Money`, `Sku`, `Cpf`, `Cep`, …) and are
//! valid from then on. Every state change is a function that validates the move and returns the
//! event it yields; illegal moves are errors.

pub mod br;
pub mod card;
pub mod cart;
pub mod catalog;
pub mod contact;
pub mod coupon;
pub mod error;
pub mod events;
pub mod ibge;
pub mod money;
pub mod order;
pub mod pix;
pub mod report;
pub mod returns;
pub mod shipping;
pub mod shop;
pub mod text;
pub mod time;

pub use br::{Cep, Cnpj, Cpf, ParseError, TaxId, Uf};
pub use contact::{Email, PersonName, Phone};
pub use error::{DomainError, FieldError};
pub use events::{Event, EventAttr};
pub use money::Money;
pub use time::Timestamp;
