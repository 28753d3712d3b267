//! [`Fiscal`]: how the store issues its NF-e — the settings and services the invoices consumer
//! (`crate::invoices`) works with, chosen by the composition root. No use case lives here.

use std::sync::Arc;

use time::UtcOffset;
use vitrine_nfe::{
    Emitter, Environment, ItemTaxes, SchemaValidator, SigningCertificate, TechnicalResponsible,
};

use crate::ports::FiscalAuthority;

/// How the store issues its NF-e: who it is, its taxes, its certificate and the services that
/// check and receive the documents. Built by the composition root from the settings.
pub struct Fiscal {
    pub environment: Environment,
    /// `serie`, 0–999.
    pub series: u16,
    pub emitter: Emitter,
    /// The taxes of every item, per the emitter's regime.
    pub item_taxes: ItemTaxes,
    pub technical_responsible: TechnicalResponsible,
    pub certificate: SigningCertificate,
    pub validator: Arc<dyn SchemaValidator>,
    pub authority: Arc<dyn FiscalAuthority>,
    /// The emitter's offset from UTC (`dhEmi`): −3 h in most of Brazil.
    pub utc_offset: UtcOffset,
    /// `natOp`.
    pub nature_of_operation: String,
}

impl std::fmt::Debug for Fiscal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fiscal")
            .field("environment", &self.environment)
            .field("series", &self.series)
            .field("emitter", &self.emitter.cnpj)
            .field("authority", &self.authority.name())
            .finish_non_exhaustive()
    }
}
