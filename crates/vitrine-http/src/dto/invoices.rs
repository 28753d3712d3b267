//! An order's NF-e record.

use super::rfc3339;
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_app::invoices::{FiscalStatus, Invoice};

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

/// How the store issues its NF-e (`GET /api/v1/admin/fiscal`).
#[derive(Debug, Serialize, ToSchema)]
pub struct FiscalStatusDto {
    /// `false`: this server does not issue NF-e (issuing off, or done by another process: the
    /// `invoices` function on AWS).
    pub issuing: bool,
    /// `homologation` (no legal value) or `production`; `null` when not issuing here.
    pub environment: Option<&'static str>,
    /// `sefaz` (the state's SEFAZ), `sefaz-simulator` (the demo: vitrine's built-in SEFAZ
    /// simulator) or `signed-not-transmitted`; `null` when not issuing here.
    #[schema(example = "sefaz")]
    pub authority: Option<&'static str>,
    /// Set while the state's authoriser is down and NF-e go to its contingency service.
    pub contingency: Option<ContingencyDto>,
}

/// Since when and why the store is in contingency.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContingencyDto {
    pub since: String,
    pub reason: String,
}

impl From<&FiscalStatus> for FiscalStatusDto {
    fn from(f: &FiscalStatus) -> Self {
        Self {
            issuing: f.issuing.is_some(),
            environment: f.issuing.as_ref().map(|i| {
                if i.environment == 1 {
                    "production"
                } else {
                    "homologation"
                }
            }),
            authority: f.issuing.as_ref().map(|i| i.authority),
            contingency: f.contingency.as_ref().map(|c| ContingencyDto {
                since: rfc3339(c.since),
                reason: c.reason.clone(),
            }),
        }
    }
}
