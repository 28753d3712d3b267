//! Real payment providers: adapters of `vitrine_app::ports::payments::PaymentProvider` that move
//! money.
//!
//! - [`bcb::BcbPix`] (`bcb`): Pix through the shop's own bank on the Banco Central's standard
//!   Pix API (OAuth2 client credentials over mutual TLS; `cob`, `pix`, `devolucao`, `webhook`).
//! - [`mercadopago::MercadoPago`] (`mercadopago`): cards (tokenised in the buyer's browser by the
//!   provider's own script), boleto and Pix through Mercado Pago's API.
//!
//! Neither is ever a sandbox: `is_sandbox()` is false, and neither takes a card number typed into
//! the store's own form. Each is held to its provider's published OpenAPI spec by a fake of the
//! provider in `vitrine-testkit` that validates every request (contract tests in `tests/`).
//! See docs/payments.md.

pub mod bcb;
pub mod mercadopago;
