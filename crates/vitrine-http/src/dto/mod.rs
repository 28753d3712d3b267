//! The API's wire types. Requests reject unknown fields and parse into domain values here
//! (`TryFrom`), so handlers receive valid input. Money is integer centavos in `*_centavos`
//! fields; times are RFC 3339 strings.
//!
//! Every wire type of the API lives here, one file per area (the route modules hold none); they
//! are all re-exported here, so `crate::dto::OrderDto` names one wherever it is.

use vitrine_domain::{FieldError, Timestamp};

mod auth;
mod cart;
mod catalog;
mod config;
mod coupons;
mod customers;
mod dashboard;
mod events;
mod invoices;
mod media;
mod orders;
mod payments;
mod realtime;
mod reports;
mod returns;
mod shipping;
mod shop;

pub use auth::*;
pub use cart::*;
pub use catalog::*;
pub use config::*;
pub use coupons::*;
pub use customers::*;
pub use dashboard::*;
pub use events::*;
pub use invoices::*;
pub use media::*;
pub use orders::*;
pub use payments::*;
pub use realtime::*;
pub use reports::*;
pub use returns::*;
pub use shipping::*;
pub use shop::*;

pub fn rfc3339(t: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.millis()) * 1_000_000)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

pub fn parse_rfc3339(field: &str, s: &str) -> Result<Timestamp, FieldError> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|d| Timestamp::from_millis((d.unix_timestamp_nanos() / 1_000_000) as i64))
        .map_err(|_| {
            FieldError::new(
                field,
                "expected an RFC 3339 time like 2026-12-01T00:00:00-03:00",
            )
        })
}

pub const CURRENCY: &str = "BRL";
