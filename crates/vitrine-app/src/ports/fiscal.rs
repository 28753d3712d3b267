//! The FiscalAuthority port: hands a signed NF-e to the tax authority (SEFAZ's NFeAutorizacao4)
//! and says what became of it.
//!
//! The default adapter, [`SignedNotTransmitted`], transmits nothing and records the document as
//! signed but not transmitted — what a store runs in homologation before it is accredited, and
//! what the tests run. A real adapter wraps the signed `<NFe>` in `enviNFe`, posts it over mutual
//! TLS with the same A1 certificate, and answers [`Transmission::Authorized`] with the protocol
//! number (see `docs/invoices.md`, "Transmitting to SEFAZ", and `vitrine_nfe`'s crate docs).

use async_trait::async_trait;

/// What the authority made of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmission {
    /// Not sent: the document is signed and stored, and can be transmitted later.
    NotTransmitted,
    /// Authorized (`cStat` 100): the protocol number and the `nfeProc` XML to archive.
    Authorized { protocol: String, nfe_proc: String },
}

#[derive(Debug, thiserror::Error)]
pub enum FiscalError {
    /// The authority refused the document (`cStat` and its text): it must be fixed and sent
    /// again with the same number, or the number voided.
    #[error("rejected by the tax authority: {0}")]
    Rejected(String),
    /// The authority did not answer; ask again (by access key) later.
    #[error("the tax authority is unavailable")]
    Unavailable(#[source] anyhow::Error),
}

#[async_trait]
pub trait FiscalAuthority: Send + Sync {
    /// A short name for logs and the invoice record (`signed-not-transmitted`, `sefaz-sp`…).
    fn name(&self) -> &'static str;
    /// Transmit one signed document (`access_key`, its `<NFe>` element without the XML
    /// declaration). Idempotent by access key: asking again about the same document answers
    /// what the first call did.
    async fn transmit(&self, access_key: &str, nfe: &str) -> Result<Transmission, FiscalError>;
}

/// The default adapter: records documents as signed, not transmitted.
#[derive(Debug, Default, Clone, Copy)]
pub struct SignedNotTransmitted;

#[async_trait]
impl FiscalAuthority for SignedNotTransmitted {
    fn name(&self) -> &'static str {
        "signed-not-transmitted"
    }

    async fn transmit(&self, _access_key: &str, _nfe: &str) -> Result<Transmission, FiscalError> {
        Ok(Transmission::NotTransmitted)
    }
}
