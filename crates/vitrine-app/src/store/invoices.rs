//! Invoices: an order's NF-e record (beside its order) and the counter of each series' numbers.
//! The rules (gapless numbers, the document checked before a number is taken) are in
//! `crate::invoices`; this is how they are stored.
//!
//! | item | pk | sk | |
//! |---|---|---|---|
//! | invoice | `ORDER#{id}` | `INVOICE` | beside its order: number, `cNF`, time; then key and file; `version` beside `data` |
//! | numbering | `NFECOUNTER#{tpAmb}#{série}` | `NFECOUNTER` | `last`: the last number given |
//! | authoriser mode | `FISCALMODE` | `FISCALMODE` | normal or contingency (since, why), last check of the normal authoriser; `version` |

use serde::{Deserialize, Serialize};
use vitrine_domain::Timestamp;

use super::{Batch, Part, VERSION, data_item, fiscal_mode, invoice, nfe_counter};
use crate::error::AppResult;
use crate::ports::{Condition, Item, Table, TableError, Value, WriteOp};

/// The last number given, on a series' counter.
const LAST: &str = "last";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// A number is held for the order; the document is being issued.
    Numbered,
    /// Signed, valid, stored.
    Issued,
    /// Never authorised, and its number voided with the tax authority (inutilização): the
    /// order gets no NF-e.
    Voided,
}

/// An order's NF-e.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub order_id: String,
    /// `tpAmb`: 1 production, 2 homologation.
    pub environment: u8,
    pub series: u16,
    pub number: u32,
    /// `cNF`, 8 digits.
    pub cnf: String,
    pub issued_at: Timestamp,
    pub status: InvoiceStatus,
    pub access_key: Option<String>,
    /// The file in Blobs: `invoices/{yyyy}/{mm}/{key}-nfe.xml`.
    pub file: Option<String>,
    /// `signed-not-transmitted`, or `authorized` with the protocol.
    pub transmission: Option<String>,
    pub protocol: Option<String>,
    pub version: u64,
    /// The access key of a transmission whose outcome is unknown (sent, no answer read): the
    /// authority is asked about it before anything is sent again.
    #[serde(default)]
    pub pending_key: Option<String>,
    /// The document is issued in contingency (`tpEmis` 6/7): since when and why (`dhCont`,
    /// `xJust`).
    #[serde(default)]
    pub contingency: Option<ContingencyStamp>,
    /// The authority's last refusal of this document, until it is authorised.
    #[serde(default)]
    pub rejection: Option<Rejection>,
    /// When the authority authorised it (the clock of this store when the answer came).
    #[serde(default)]
    pub authorized_at: Option<Timestamp>,
    /// The cancellation (event 110111): asked for, then registered.
    #[serde(default)]
    pub cancellation: Option<FiscalEventRecord>,
    /// Correction letters (event 110110), in sequence; each replaces the ones before it.
    #[serde(default)]
    pub corrections: Vec<FiscalEventRecord>,
    /// The voiding of its number (inutilização): asked for, then registered.
    #[serde(default)]
    pub voiding: Option<FiscalEventRecord>,
    /// `xFant` as fixed when the number was taken (`None` on invoices from before: the
    /// configured one).
    #[serde(default)]
    pub trade_name: Option<String>,
}

impl Invoice {
    /// Its cancellation, once the authority registered it (or, for a document never sent,
    /// once recorded).
    pub fn cancelled(&self) -> bool {
        self.cancellation.as_ref().is_some_and(|c| c.done)
    }
}

/// An event on an NF-e (cancellation, correction letter) or a voiding of its number, as the
/// store asked for it and as the authority registered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiscalEventRecord {
    /// `nSeqEvento` (1 for a cancellation or a voiding).
    pub sequence: u8,
    /// `xJust` / `xCorrecao`.
    pub text: String,
    /// Who asked (an admin's e-mail).
    pub by: String,
    /// When it was asked for: the event's `dhEvento` (kept for a resend).
    pub requested_at: Timestamp,
    /// Registered (or, for a document never sent, recorded in the store alone).
    pub done: bool,
    /// The authority's `nProt`, once registered.
    pub protocol: Option<String>,
    pub registered_at: Option<Timestamp>,
    /// The archive in Blobs (`procEventoNFe` / `ProcInutNFe`).
    pub file: Option<String>,
}

/// Why and since when a document is issued in contingency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContingencyStamp {
    pub since: Timestamp,
    pub reason: String,
}

/// A refusal by the tax authority: its `cStat` and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub code: u16,
    pub reason: String,
    pub at: Timestamp,
}

/// Where the store's NF-e go: the state's authoriser, or its contingency service while the
/// authoriser is down (shared by every issuer: all Lambda instances see the same mode).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiscalMode {
    /// `Some` while in contingency.
    pub contingency: Option<ContingencyStamp>,
    /// When the normal authoriser was last asked whether it is back.
    pub checked_at: Option<Timestamp>,
    /// The stored version (0: never stored).
    #[serde(skip)]
    pub version: u64,
}

/// The store's NF-e authoriser mode (normal when never stored).
pub async fn load_mode(table: &dyn Table) -> AppResult<FiscalMode> {
    match table.get(&fiscal_mode()).await? {
        Some(item) => {
            let mut mode: FiscalMode = super::decode(&item)?;
            mode.version = item.num(VERSION).unwrap_or(0) as u64;
            Ok(mode)
        }
        None => Ok(FiscalMode::default()),
    }
}

/// The stored item of `i`, with its version.
pub fn invoice_item(i: &Invoice) -> AppResult<Item> {
    Ok(data_item(invoice(&i.order_id), i)?.with(VERSION, i.version as i64))
}

/// The invoice of order `order_id`, if it has one (numbered or issued).
pub async fn load(table: &dyn Table, order_id: &str) -> AppResult<Option<Invoice>> {
    match table.get(&invoice(order_id)).await? {
        Some(item) => Ok(Some(super::decode(&item)?)),
        None => Ok(None),
    }
}

/// The last number given in series `series` of environment `environment` (`tpAmb`): `None`
/// when the series has no counter yet (no number given).
pub async fn last_number(
    table: &dyn Table,
    environment: u8,
    series: u16,
) -> Result<Option<i64>, TableError> {
    Ok(table
        .get(&nfe_counter(environment, series))
        .await?
        .map(|item| item.num(LAST).unwrap_or(0)))
}

impl Batch {
    /// Give `number` in the series of `i` with the invoice item that holds it, provided the
    /// series' counter is still at `last` (`None`: it has none yet): fails on
    /// [`Part::NfeCounter`] when another issuer took a number meanwhile, and on
    /// [`Part::Invoice`] when the order has an invoice already.
    pub fn take_invoice_number(&mut self, i: &Invoice, last: Option<i64>) -> AppResult<()> {
        self.push(
            Part::NfeCounter,
            WriteOp::Put {
                item: Item::new(nfe_counter(i.environment, i.series))
                    .with(LAST, i64::from(i.number)),
                condition: Some(match last {
                    Some(v) => Condition::Eq(LAST.into(), Value::N(v)),
                    None => Condition::NotExists,
                }),
            },
        );
        self.put_new(Part::Invoice, invoice_item(i)?);
        Ok(())
    }

    /// Save `i` as changed since version `read_version` was read: fails on [`Part::Invoice`]
    /// when someone else changed it meanwhile.
    pub fn save_invoice(&mut self, i: &Invoice, read_version: u64) -> AppResult<()> {
        self.put_versioned(Part::Invoice, invoice_item(i)?, Some(read_version));
        Ok(())
    }

    /// Save the authoriser mode over the version read: fails on [`Part::FiscalMode`] when
    /// another issuer changed it meanwhile.
    pub fn save_fiscal_mode(&mut self, mode: &FiscalMode) -> AppResult<()> {
        let item = data_item(fiscal_mode(), mode)?.with(VERSION, (mode.version + 1) as i64);
        let read = (mode.version > 0).then_some(mode.version);
        self.put_versioned(Part::FiscalMode, item, read);
        Ok(())
    }
}
