//! The FiscalAuthority port: hands a signed NF-e to the tax authority (SEFAZ's NFeAutorizacao4)
//! and says what became of it; asks what the authority knows of a document it may have
//! received (NFeConsultaProtocolo4); asks whether an authoriser is in operation
//! (NFeStatusServico4); registers events on an authorised document (NFeRecepcaoEvento4:
//! cancellation, correction letter); voids numbers never used (NFeInutilizacao4).
//!
//! Adapters: [`SignedNotTransmitted`] (here) transmits nothing and records documents as signed
//! but not transmitted; `vitrine_fiscal::SefazAuthority` talks to the state's authoriser and to
//! its contingency service (SVC-AN / SVC-RS) over mutual TLS. The rules that keep one sale to
//! one authorised NF-e (query before any resend, contingency only for documents known not to
//! have been received) are the application's: `crate::invoices`.

use async_trait::async_trait;
use vitrine_nfe::SignedNfe;
use vitrine_nfe::sefaz::{Event, Voiding};

/// Where a document goes: the state's own authoriser, or its contingency service (documents
/// issued with `tpEmis` 6 for SVC-AN, 7 for SVC-RS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authoriser {
    Normal,
    Contingency,
}

/// What the authority made of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmission {
    /// Not sent: the document is signed and stored, and can be transmitted later.
    NotTransmitted,
    /// Authorized (`cStat` 100/150): the protocol number and the `nfeProc` XML to archive.
    Authorized { protocol: String, nfe_proc: String },
}

/// An event or a voiding the authority registered: its protocol number and the archive to keep
/// (`procEventoNFe` / `ProcInutNFe`, the signed request with the authority's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// `cStat` of the registration (135/136/155 for events, 102 for a voiding).
    pub code: u16,
    /// `nProt`.
    pub protocol: String,
    /// The archive, valid against its official schema.
    pub xml: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FiscalError {
    /// The authority refused the document (`cStat` and its text): it must be fixed and sent
    /// again with the same number, or the number voided.
    #[error("rejected by the tax authority: {code} {reason}")]
    Rejected { code: u16, reason: String },
    /// The authority did not answer. `outcome_unknown`: the document may have reached it (a
    /// timeout after sending); ask [`FiscalAuthority::query`] before sending anything again.
    #[error(
        "the tax authority did not answer (the document may have reached it: {outcome_unknown})"
    )]
    Unavailable {
        outcome_unknown: bool,
        #[source]
        source: anyhow::Error,
    },
    /// Nothing was sent and trying again will not help: the adapter's settings (certificate,
    /// endpoints) or a request that fails its own schema.
    #[error("the tax authority cannot be reached as configured: {0}")]
    Misconfigured(String),
}

#[async_trait]
pub trait FiscalAuthority: Send + Sync {
    /// A short name for logs and the invoice record (`signed-not-transmitted`, `sefaz`…).
    fn name(&self) -> &'static str;
    /// Whether documents can be sent to a contingency authoriser when the normal one is down.
    fn has_contingency(&self) -> bool;
    /// Transmit one signed document to `to`. The answer for a document the authority has
    /// already authorised (SEFAZ's 204, "duplicate") is its authorisation, never an error.
    async fn transmit(&self, nfe: &SignedNfe, to: Authoriser) -> Result<Transmission, FiscalError>;
    /// What `to` knows of `nfe` (by its access key): its authorisation, or `None` when it has
    /// none (never received, or received and rejected). A document whose use was denied is
    /// [`FiscalError::Rejected`].
    async fn query(
        &self,
        nfe: &SignedNfe,
        to: Authoriser,
    ) -> Result<Option<Transmission>, FiscalError>;
    /// Whether `to` says it is in operation.
    async fn in_operation(&self, to: Authoriser) -> Result<bool, FiscalError>;
    /// Register `event` (signed by the adapter) with `to`. An event the authority already has
    /// (an earlier send whose answer was lost: SEFAZ's 573) is answered with that registration.
    async fn register_event(
        &self,
        event: &Event,
        to: Authoriser,
    ) -> Result<Registered, FiscalError>;
    /// Void a range of numbers never used (inutilização), with the state's authoriser.
    async fn void(&self, voiding: &Voiding) -> Result<Registered, FiscalError>;
}

/// The default adapter: records documents as signed, not transmitted.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignedNotTransmitted;

#[async_trait]
impl FiscalAuthority for SignedNotTransmitted {
    fn name(&self) -> &'static str {
        "signed-not-transmitted"
    }

    fn has_contingency(&self) -> bool {
        false
    }

    async fn transmit(
        &self,
        _nfe: &SignedNfe,
        _to: Authoriser,
    ) -> Result<Transmission, FiscalError> {
        Ok(Transmission::NotTransmitted)
    }

    async fn query(
        &self,
        _nfe: &SignedNfe,
        _to: Authoriser,
    ) -> Result<Option<Transmission>, FiscalError> {
        Ok(None)
    }

    async fn in_operation(&self, _to: Authoriser) -> Result<bool, FiscalError> {
        Ok(true)
    }

    async fn register_event(
        &self,
        _event: &Event,
        _to: Authoriser,
    ) -> Result<Registered, FiscalError> {
        Err(FiscalError::Misconfigured(NOT_SENT.into()))
    }

    async fn void(&self, _voiding: &Voiding) -> Result<Registered, FiscalError> {
        Err(FiscalError::Misconfigured(NOT_SENT.into()))
    }
}

const NOT_SENT: &str = "this store does not send NF-e to SEFAZ (fiscal.transmit is off): there is no authority to register events or voidings with";
