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
mod client;
pub mod mercadopago;

use vitrine_app::payment_choice::{self as choice, ProviderLookup};

/// The shop's bank's Pix API from its settings (`vitrine_app::payment_choice::BCB_*`, the same
/// names in `vitrine serve` and the Lambda functions).
pub fn bcb_from(l: &ProviderLookup<'_>) -> anyhow::Result<bcb::BcbPix> {
    let settings = bcb::BcbSettings {
        api_url: l.required(choice::BCB_API_URL)?,
        token_url: l.required(choice::BCB_TOKEN_URL)?,
        client_id: l.required(choice::BCB_CLIENT_ID)?,
        client_secret: l.required(choice::BCB_CLIENT_SECRET)?,
        certificate_pem: l.required(choice::BCB_CERTIFICATE_PEM)?,
        key_pem: l.required(choice::BCB_KEY_PEM)?,
        ca_pem: l.optional(choice::BCB_CA_PEM),
        pix_key: l.required(choice::PIX_KEY)?,
        webhook_url: l.webhook_url(choice::BCB_WEBHOOK_URL, "bcb"),
    };
    bcb::BcbPix::new(settings).map_err(|why| l.refused("bcb", why))
}

/// Mercado Pago from its settings (`vitrine_app::payment_choice::MERCADOPAGO_*`).
pub fn mercadopago_from(l: &ProviderLookup<'_>) -> anyhow::Result<mercadopago::MercadoPago> {
    let settings = mercadopago::MercadoPagoSettings {
        api_url: l.or(
            choice::MERCADOPAGO_API_URL,
            choice::MERCADOPAGO_DEFAULT_API_URL,
        ),
        access_token: l.required(choice::MERCADOPAGO_ACCESS_TOKEN)?,
        public_key: l.required(choice::MERCADOPAGO_PUBLIC_KEY)?,
        webhook_secret: l.required(choice::MERCADOPAGO_WEBHOOK_SECRET)?,
        script_url: l.or(
            choice::MERCADOPAGO_SCRIPT_URL,
            choice::MERCADOPAGO_DEFAULT_SCRIPT_URL,
        ),
        ca_pem: l.optional(choice::MERCADOPAGO_CA_PEM),
        notification_url: l.webhook_url(choice::MERCADOPAGO_NOTIFICATION_URL, "mercadopago"),
    };
    mercadopago::MercadoPago::new(settings).map_err(|why| l.refused("mercadopago", why))
}
