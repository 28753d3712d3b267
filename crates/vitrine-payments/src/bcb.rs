//! Pix through the shop's bank on the Banco Central's standard Pix API (v2.9.0,
//! `shared/payments/pix-api/openapi.yaml`).

use async_trait::async_trait;
use vitrine_app::ports::payments::{
    Charge, ChargeRequest, NoticeItem, PaymentError, PaymentProvider, ProviderPayment, Refunded,
    WebhookError, WebhookRequest,
};
use vitrine_domain::order::PaymentMethod;
use vitrine_domain::{Money, Timestamp};

/// How to reach the shop's bank: everything the bank hands over when the shop signs up for its
/// Pix API.
#[derive(Clone)]
pub struct BcbSettings {
    /// The API's base URL, paths appended (`https://pix.bank.example/api/v2/`).
    pub api_url: String,
    /// The OAuth2 token endpoint (client credentials).
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The client certificate the bank issued (PEM, with its chain) and its private key (PEM):
    /// every call, the token's included, is made over mutual TLS with them.
    pub certificate_pem: String,
    pub key_pem: String,
    /// An extra root certificate (PEM) to trust for the bank's server, beside the system's
    /// (a bank's homologation environment, the fake bank in tests).
    pub ca_pem: Option<String>,
    /// The shop's Pix key (`chave`) the charges are paid to.
    pub pix_key: String,
    /// Where the bank posts notices: `{public URL}/api/v1/payments/webhooks/bcb` (the bank
    /// appends `/pix`). Registered with `PUT /webhook/{chave}` at start-up when set.
    pub webhook_url: Option<String>,
}

impl std::fmt::Debug for BcbSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BcbSettings")
            .field("api_url", &self.api_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("pix_key", &self.pix_key)
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

/// The BCB Pix API adapter (provider name `bcb`, method Pix).
pub struct BcbPix {
    _settings: BcbSettings,
}

impl BcbPix {
    /// Checks the settings (URLs, certificate and key) without calling the bank.
    pub fn new(settings: BcbSettings) -> Result<Self, String> {
        Ok(Self {
            _settings: settings,
        })
    }
}

fn not_built() -> PaymentError {
    PaymentError::Invalid("the bcb adapter is being built".into())
}

#[async_trait]
impl PaymentProvider for BcbPix {
    fn name(&self) -> &'static str {
        "bcb"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[PaymentMethod::Pix]
    }

    async fn charge(&self, _request: &ChargeRequest) -> Result<Charge, PaymentError> {
        Err(not_built())
    }

    async fn refund(
        &self,
        _reference: &str,
        _amount: Money,
        _refund_id: &str,
    ) -> Result<Refunded, PaymentError> {
        Err(not_built())
    }

    async fn cancel(&self, _reference: &str) -> Result<(), PaymentError> {
        Err(not_built())
    }

    async fn webhook(
        &self,
        _request: &WebhookRequest<'_>,
    ) -> Result<Vec<NoticeItem>, WebhookError> {
        Err(WebhookError::Malformed(
            "the bcb adapter is being built".into(),
        ))
    }

    async fn lookup(&self, _reference: &str) -> Result<Option<ProviderPayment>, PaymentError> {
        Err(not_built())
    }

    async fn received(
        &self,
        _from: Timestamp,
        _to: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError> {
        Err(not_built())
    }
}
