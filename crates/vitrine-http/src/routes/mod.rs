//! Route groups, one module per area.

pub mod admin;
pub mod admin_search;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod config;
pub mod dashboard;
pub mod invoices;
pub mod labels;
pub mod me;
pub mod media;
pub mod orders;
pub mod payments;
/// The WebSocket endpoint `GET /api/v1/ws` (not in a route table: OpenAPI cannot describe it).
pub mod realtime;
pub mod reports;
pub mod returns;
pub mod shop;
