//! An order's NF-e record.

use super::rfc3339;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_app::invoices::FiscalEventRecord;
use vitrine_app::invoices::{FiscalStatus, Invoice, InvoiceStatus};

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

/// An order's NF-e record for the admin pages, in any state, with what happened to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminInvoiceDto {
    #[serde(flatten)]
    pub invoice: InvoiceDto,
    /// `numbered` (a number is held; not issued yet), `issued` or `voided`.
    pub status: &'static str,
    /// The authority's last refusal, until the NF-e is authorised.
    pub rejection: Option<RejectionDto>,
    /// When the authority authorised it.
    pub authorized_at: Option<String>,
    /// `true` once cancelled (the cancellation registered by SEFAZ, or recorded in the store for
    /// a document never sent).
    pub cancelled: bool,
    pub cancellation: Option<FiscalEventDto>,
    /// Correction letters, in sequence (the last one is in force).
    pub corrections: Vec<FiscalEventDto>,
    pub voiding: Option<FiscalEventDto>,
    /// Until when it may be cancelled (24 hours after its authorisation); `null` when it cannot
    /// be (not authorised, cancelled).
    pub cancellable_until: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectionDto {
    /// SEFAZ's `cStat`.
    pub code: u16,
    pub reason: String,
    pub at: String,
}

/// A cancellation, a correction letter or a voiding: asked for, then registered.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiscalEventDto {
    /// `nSeqEvento`.
    pub sequence: u8,
    /// The justification or the correction.
    pub text: String,
    /// The admin who asked.
    pub by: String,
    pub requested_at: String,
    /// `false` while SEFAZ's answer is awaited (send it again).
    pub registered: bool,
    /// SEFAZ's protocol, once registered.
    pub protocol: Option<String>,
    pub registered_at: Option<String>,
}

impl From<&FiscalEventRecord> for FiscalEventDto {
    fn from(r: &FiscalEventRecord) -> Self {
        Self {
            sequence: r.sequence,
            text: r.text.clone(),
            by: r.by.clone(),
            requested_at: rfc3339(r.requested_at),
            registered: r.done,
            protocol: r.protocol.clone(),
            registered_at: r.registered_at.map(rfc3339),
        }
    }
}

impl From<&Invoice> for AdminInvoiceDto {
    fn from(i: &Invoice) -> Self {
        let cancellable =
            i.status == InvoiceStatus::Issued && i.protocol.is_some() && !i.cancelled();
        Self {
            invoice: InvoiceDto::from(i),
            status: match i.status {
                InvoiceStatus::Numbered => "numbered",
                InvoiceStatus::Issued => "issued",
                InvoiceStatus::Voided => "voided",
            },
            rejection: i.rejection.as_ref().map(|r| RejectionDto {
                code: r.code,
                reason: r.reason.clone(),
                at: rfc3339(r.at),
            }),
            authorized_at: i.authorized_at.map(rfc3339),
            cancelled: i.cancelled(),
            cancellation: i.cancellation.as_ref().map(FiscalEventDto::from),
            corrections: i.corrections.iter().map(FiscalEventDto::from).collect(),
            voiding: i.voiding.as_ref().map(FiscalEventDto::from),
            cancellable_until: cancellable.then(|| {
                let from = i.authorized_at.unwrap_or(i.issued_at);
                rfc3339(from.plus_secs(vitrine_app::invoice_events::CANCELLATION_WINDOW_SECS))
            }),
        }
    }
}

/// Cancel an NF-e, or void its number: why (15 to 255 characters, sent to SEFAZ as `xJust`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JustificationInput {
    #[schema(example = "Pedido cancelado a pedido do cliente antes do envio")]
    pub justification: String,
}

/// A correction letter: what it corrects (15 to 1000 characters, `xCorrecao`). It replaces the
/// letters before it, so it says everything that is corrected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    #[schema(example = "Onde se le Rua das Flores 10, leia-se Rua das Flores 100")]
    pub correction: String,
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
