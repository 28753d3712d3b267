//! What the web apps need to know about this deployment.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientConfigDto {
    /// The realtime WebSocket URL; `null`: `/api/v1/ws` on the API's own origin.
    #[schema(example = "wss://abc123.execute-api.sa-east-1.amazonaws.com/prod")]
    pub realtime_url: Option<String>,
    pub payments: PaymentsConfigDto,
}

/// How this store takes payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentsConfigDto {
    /// The methods offered at checkout (`pix`, `card`, `boleto`); the others are off.
    #[schema(example = json!(["pix", "card"]))]
    pub methods: Vec<String>,
    /// The provider of each offered method: `sandbox`, `bcb` or `mercadopago`.
    #[schema(example = json!({"pix": "bcb", "card": "mercadopago"}))]
    pub providers: BTreeMap<String, String>,
    /// Some method is taken by the sandbox: demo mode, no payment is charged. The web apps say
    /// so on every page.
    pub sandbox: bool,
    /// How the storefront tokenises cards; `null`: the store's own card form (the sandbox) or
    /// no cards.
    pub card_tokenisation: Option<CardTokenisationDto>,
}

/// The card provider's own script, which turns the card into a one-time token in the browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct CardTokenisationDto {
    #[schema(example = "mercadopago")]
    pub provider: String,
    #[schema(example = "https://sdk.mercadopago.com/js/v2")]
    pub script_url: String,
    #[schema(example = "APP_USR-00000000-0000-0000-0000-000000000000")]
    pub public_key: String,
}
