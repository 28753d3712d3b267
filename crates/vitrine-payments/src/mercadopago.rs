//! Cards, boleto and Pix through Mercado Pago (official OpenAPI 3.1 spec,
//! `shared/payments/mercadopago/spec3.yaml`).

use async_trait::async_trait;
use vitrine_app::ports::payments::{
    Charge, ChargeRequest, NoticeItem, PaymentError, PaymentProvider, ProviderPayment, Refunded,
    WebhookError, WebhookRequest,
};
use vitrine_domain::order::PaymentMethod;
use vitrine_domain::{Money, Timestamp};

/// The shop's Mercado Pago credentials ("Suas integrações" → the application).
#[derive(Clone)]
pub struct MercadoPagoSettings {
    /// `https://api.mercadopago.com` (the fake provider's URL in tests).
    pub api_url: String,
    /// The private access token (`APP_USR-…`): server calls only.
    pub access_token: String,
    /// The public key the browser script tokenises cards with.
    pub public_key: String,
    /// The webhook "assinatura secreta" that signs `x-signature`.
    pub webhook_secret: String,
    /// The tokenisation script (`https://sdk.mercadopago.com/js/v2`).
    pub script_url: String,
    /// An extra root certificate (PEM) to trust for the API (tests).
    pub ca_pem: Option<String>,
    /// Sent as each payment's `notification_url`: `{public URL}/api/v1/payments/webhooks/mercadopago`.
    pub notification_url: Option<String>,
}

impl std::fmt::Debug for MercadoPagoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MercadoPagoSettings")
            .field("api_url", &self.api_url)
            .field("public_key", &self.public_key)
            .field("script_url", &self.script_url)
            .field("notification_url", &self.notification_url)
            .finish_non_exhaustive()
    }
}

/// The Mercado Pago adapter (provider name `mercadopago`; card, boleto and Pix).
pub struct MercadoPago {
    _settings: MercadoPagoSettings,
}

impl MercadoPago {
    /// Checks the settings without calling the provider.
    pub fn new(settings: MercadoPagoSettings) -> Result<Self, String> {
        Ok(Self {
            _settings: settings,
        })
    }
}

fn not_built() -> PaymentError {
    PaymentError::Invalid("the mercadopago adapter is being built".into())
}

#[async_trait]
impl PaymentProvider for MercadoPago {
    fn name(&self) -> &'static str {
        "mercadopago"
    }

    fn methods(&self) -> &'static [PaymentMethod] {
        &[
            PaymentMethod::Card,
            PaymentMethod::Boleto,
            PaymentMethod::Pix,
        ]
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
            "the mercadopago adapter is being built".into(),
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
