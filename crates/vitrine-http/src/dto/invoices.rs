//! An order's NF-e record.

use super::rfc3339;
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_app::invoices::Invoice;

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceDto {
    pub order_id: String,
    /// The 44-character chave de acesso.
    #[schema(example = "35261111222333000181550010000000011234567893")]
    pub access_key: String,
    /// `homologation` (no legal value) or `production`.
    pub environment: &'static str,
    pub series: u16,
    pub number: u32,
    pub issued_at: String,
    /// `signed-not-transmitted`, or `authorized` once the tax authority accepted it.
    pub transmission: String,
    /// The authorization protocol, once authorized.
    pub protocol: Option<String>,
}

impl From<&Invoice> for InvoiceDto {
    fn from(i: &Invoice) -> Self {
        Self {
            order_id: i.order_id.clone(),
            access_key: i.access_key.clone().unwrap_or_default(),
            environment: if i.environment == 1 {
                "production"
            } else {
                "homologation"
            },
            series: i.series,
            number: i.number,
            issued_at: rfc3339(i.issued_at),
            transmission: i.transmission.clone().unwrap_or_default(),
            protocol: i.protocol.clone(),
        }
    }
}
