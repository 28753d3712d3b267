//! Invoices: an NF-e (model 55) for every paid order, issued by the `invoices` consumer on
//! `order.paid`, built, signed and schema-checked with `vitrine_nfe`, stored as a file in Blobs.
//! The invoice record and each series' number counter are stored by [`crate::store::invoices`]
//! (their items are listed there).
//!
//! Invariants:
//! - **Gapless numbers per series**: a number is taken in one batch with the invoice item that
//!   holds it (the counter conditioned on the value read, the invoice on not existing), so a
//!   number is never given twice, never skipped, and an order never gets two. Racing issuers
//!   (Lambda instances on AWS) re-read and try again.
//! - **Checked before a number is taken**: the document is first built, signed and validated
//!   against the official schema with a provisional number; a document that fails (bad settings,
//!   a city IBGE does not know, the validator missing) raises `invoice.failed` for the admins and
//!   is never stored, and no number is used up. The real document differs only in its number,
//!   `cNF` and key.
//! - **Retries reproduce the same file**: number, `cNF` and issue time are fixed in the invoice
//!   item before building, and RSA PKCS#1 v1.5 signatures are deterministic, so a retry after a
//!   crash writes the same bytes to the same key.
//! - **The order moves to `invoiced` last**, in one batch with the invoice item's key and file
//!   and the `order.invoiced` event.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::json;
use time::{OffsetDateTime, UtcOffset};
use vitrine_domain::card::CardBrand as DomainCardBrand;
use vitrine_domain::order::{Order, OrderStatus, PaymentMethod};
use vitrine_domain::{Event, Timestamp, ibge};
use vitrine_nfe::money::split_proportionally;
use vitrine_nfe::{
    Address, CardBrand, Cnf, Cnpj, Contingency, ContingencyKind, Cpf, Emitter, FreightMode,
    Item as NfeItem, NfeInput, Origin, Payment as NfePayment, Recipient, SchemaDocument, SignedNfe,
    TaxId, Uf,
};

use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::events::{ConsumeError, Consumer, Delivery};
pub use crate::fiscal::Fiscal;
use crate::payments::Payment;
use crate::ports::{Authoriser, FiscalError, TableError, Transmission};
pub use crate::store::invoices::{
    ContingencyStamp, FiscalEventRecord, FiscalMode, Invoice, InvoiceStatus, Rejection,
};
use crate::store::{self, Batch, Part, WriteFailed};

/// Where the owner gets the XML from.
#[derive(Debug, Clone)]
pub enum InvoiceDownload {
    /// The file itself (local blob store).
    File { name: String, bytes: Bytes },
    /// A short-lived URL of the blob store (S3 presigned).
    Url(String),
}

/// Why an invoice was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The document cannot be made as things are (settings, the order's data, the schema): an
    /// alert for the admins; trying again without a fix gives the same answer.
    #[error("{0}")]
    Invalid(String),
    /// Something did not answer (the table, the blob store, the tax authority): try again.
    #[error("{0:#}")]
    Retry(anyhow::Error),
}

impl From<AppError> for IssueError {
    fn from(e: AppError) -> Self {
        IssueError::Retry(anyhow::Error::new(e))
    }
}

impl From<TableError> for IssueError {
    fn from(e: TableError) -> Self {
        IssueError::Retry(anyhow::Error::new(e))
    }
}

/// What [`App::issue_invoice`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    /// The order now has this invoice.
    Issued(Box<Invoice>),
    /// The order has no invoice to issue (not paid, cancelled before it was issued).
    NotDue(OrderStatus),
}

/// How the store issues its NF-e now, for the admins' notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiscalStatus {
    /// This process issues NF-e (`None`: issuing is off here, or done by another process, as
    /// the `invoices` function on AWS).
    pub issuing: Option<Issuing>,
    /// The store is in contingency: since when and why (shared by every issuer).
    pub contingency: Option<ContingencyStamp>,
}

/// Who issues, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuing {
    /// `tpAmb`: 1 production, 2 homologation.
    pub environment: u8,
    /// The tax authority adapter: `sefaz`, `sefaz-simulator` (demo), `signed-not-transmitted`.
    pub authority: &'static str,
}

/// What became of a change to an invoice record.
enum Saved {
    /// Written: the record with its new version.
    Ours(Invoice),
    /// Another issuer issued it meanwhile.
    Issued(Invoice),
    /// Another issuer changed it first, not issued yet: the record as it is now.
    Theirs(Invoice),
}

/// Attempts at taking a number before giving up for now (the delivery is retried).
const NUMBERING_ATTEMPTS: u32 = 100;

/// Sends of one document in one delivery (a resend follows a timeout whose query found
/// nothing, or a switch to contingency) before the delivery is retried later.
const TRANSMIT_ROUNDS: u32 = 3;

/// `xJust` of a contingency NF-e: 15 to 256 characters.
const MAX_JUSTIFICATION: usize = 256;

impl App {
    fn fiscal(&self) -> Result<&Arc<Fiscal>, IssueError> {
        self.ports
            .fiscal
            .as_ref()
            .ok_or_else(|| IssueError::Invalid("NF-e issuing is not configured".into()))
    }

    async fn load_invoice(&self, order_id: &str) -> AppResult<Option<Invoice>> {
        store::invoices::load(&*self.ports.table, order_id).await
    }

    /// An order's invoice record, for its owner or an admin.
    pub async fn invoice_for(&self, who: &Principal, order_id: &str) -> AppResult<Invoice> {
        self.order_for(who, order_id).await?;
        match self.load_invoice(order_id).await? {
            Some(i) if i.status == InvoiceStatus::Issued => Ok(i),
            _ => Err(AppError::NotFound("invoice")),
        }
    }

    /// An order's issued invoice with the file of its NF-e and its access key, for its owner or
    /// an admin.
    async fn stored_invoice(
        &self,
        who: &Principal,
        order_id: &str,
    ) -> AppResult<(Invoice, String, String)> {
        let invoice = self.invoice_for(who, order_id).await?;
        match (invoice.file.clone(), invoice.access_key.clone()) {
            (Some(file), Some(key)) => Ok((invoice, file, key)),
            _ => Err(AppError::NotFound("invoice")),
        }
    }

    /// The XML of an order's invoice, for its owner or an admin: the file, or a URL to it. For
    /// an authorised NF-e, the `nfeProc` (the document with SEFAZ's protocol: the legal file);
    /// else the signed document.
    pub async fn invoice_download(
        &self,
        who: &Principal,
        order_id: &str,
    ) -> AppResult<InvoiceDownload> {
        let (invoice, file, key) = self.stored_invoice(who, order_id).await?;
        if invoice.protocol.is_some() {
            return self
                .download(&proc_file(&file), format!("{key}-procNFe.xml"))
                .await;
        }
        self.download(&file, format!("{key}-nfe.xml")).await
    }

    /// The DANFE (the printed form of the NF-e, a PDF) of an order's invoice, for its owner or an
    /// admin: drawn when the invoice is issued and kept beside its XML; for an invoice issued
    /// before that (or whose drawing failed then) it is drawn now from the stored XML, and kept
    /// (so that on AWS it is downloaded from S3, as the XML is: the REST API passes no binary).
    pub async fn danfe_download(
        &self,
        who: &Principal,
        order_id: &str,
    ) -> AppResult<InvoiceDownload> {
        let (invoice, file, key) = self.stored_invoice(who, order_id).await?;
        let danfe = danfe_file(&file);
        if self.ports.blobs.get(&danfe).await?.is_none() {
            let source = if invoice.protocol.is_some() {
                proc_file(&file)
            } else {
                file.clone()
            };
            let xml = self.ports.blobs.get(&source).await?.ok_or_else(|| {
                AppError::Internal(anyhow!(
                    "the invoice file {source} is missing from the blob store"
                ))
            })?;
            let xml = std::str::from_utf8(&xml.bytes).map_err(|e| {
                AppError::Internal(anyhow!("the invoice file {source} is not UTF-8: {e}"))
            })?;
            self.store_danfe(&file, xml)
                .await
                .map_err(AppError::Internal)?;
        }
        self.download(&danfe, format!("{key}-danfe.pdf")).await
    }

    /// A stored file as a download: a short-lived URL where the blob store gives one, else the
    /// bytes.
    async fn download(&self, file: &str, name: String) -> AppResult<InvoiceDownload> {
        if let Some(url) = self.ports.blobs.download_url(file, 300).await? {
            return Ok(InvoiceDownload::Url(url));
        }
        let blob = self.ports.blobs.get(file).await?.ok_or_else(|| {
            AppError::Internal(anyhow!(
                "the invoice file {file} is missing from the blob store"
            ))
        })?;
        Ok(InvoiceDownload::File {
            name,
            bytes: blob.bytes,
        })
    }

    /// Draw the DANFE of `xml` (the `nfeProc` of an authorised NF-e, else the signed NF-e, then
    /// marked as without a protocol) and keep it beside the NF-e stored at `file`.
    async fn store_danfe(&self, file: &str, xml: &str) -> anyhow::Result<()> {
        let pdf = vitrine_nfe::danfe::render(xml)
            .map_err(|e| anyhow!("drawing the DANFE of {file}: {e}"))?;
        self.ports
            .blobs
            .put(&danfe_file(file), Bytes::from(pdf), "application/pdf")
            .await?;
        Ok(())
    }

    /// Issue the NF-e of a paid order (see the module docs). Idempotent: an order that has its
    /// invoice gets the same one back.
    pub async fn issue_invoice(&self, order_id: &str) -> Result<Issued, IssueError> {
        let fiscal = self.fiscal()?.clone();
        let order = self.load_order(order_id).await?;
        let existing = self.load_invoice(order_id).await?;
        match (order.status, &existing) {
            (_, Some(i)) if i.status == InvoiceStatus::Issued => {
                return Ok(Issued::Issued(Box::new(i.clone())));
            }
            // Its number is voided (or being voided) with the authority: no NF-e for this order.
            (status, Some(i)) if i.status == InvoiceStatus::Voided || i.voiding.is_some() => {
                return Ok(Issued::NotDue(status));
            }
            (OrderStatus::Paid, _) => {}
            // Numbered, then cancelled before it was issued: the number is issued anyway (a
            // number may not be skipped; the NF-e is then cancelled with the authority).
            (_, Some(_)) => {}
            (status, None) => return Ok(Issued::NotDue(status)),
        }
        let payment = self.load_payment(order_id).await?;
        let invoice = match existing {
            Some(i) => i,
            None => {
                // Check the document with a provisional number before taking a real one.
                let now = self.ports.clock.now();
                let trade_name = self.trade_name(&fiscal).await?;
                let trial = Invoice {
                    order_id: order.id.clone(),
                    environment: fiscal.environment.code(),
                    series: fiscal.series,
                    number: 1,
                    cnf: Cnf::random(&mut rand::thread_rng(), 1).as_digits(),
                    issued_at: now,
                    status: InvoiceStatus::Numbered,
                    access_key: None,
                    file: None,
                    transmission: None,
                    protocol: None,
                    version: 1,
                    pending_key: None,
                    contingency: None,
                    rejection: None,
                    authorized_at: None,
                    cancellation: None,
                    corrections: Vec::new(),
                    voiding: None,
                    trade_name: trade_name.clone(),
                };
                make_document(&fiscal, &order, payment.as_ref(), &trial).await?;
                self.take_number(&fiscal, &order, trade_name).await?
            }
        };
        self.transmit_invoice(&fiscal, &order, payment.as_ref(), invoice)
            .await
    }

    /// Send the document of `invoice` to the authority until it is authorised, rejected, or
    /// the authority stops answering (see the module docs: one sale, one authorised NF-e).
    async fn transmit_invoice(
        &self,
        fiscal: &Arc<Fiscal>,
        order: &Order,
        payment: Option<&Payment>,
        mut invoice: Invoice,
    ) -> Result<Issued, IssueError> {
        for _ in 0..TRANSMIT_ROUNDS {
            if invoice.voiding.is_some() {
                // An admin is voiding its number (the order was cancelled unpaid-for-good).
                return Ok(Issued::NotDue(order.status));
            }
            // 1. A transmission whose outcome is unknown: ask before anything else.
            if let Some(pending) = invoice.pending_key.clone() {
                let signed = self.document(fiscal, order, payment, &invoice).await?;
                if signed.access_key().as_str() != pending {
                    return Err(IssueError::Invalid(format!(
                        "NF-e {pending} was sent, but the document rebuilt from its invoice has key {}: ask the authority about {pending} by hand",
                        signed.access_key().as_str()
                    )));
                }
                match fiscal.authority.query(&signed, via(&invoice)).await {
                    Ok(Some(t)) => return self.finish_invoice(fiscal, invoice, &signed, t).await,
                    // Never received (or refused): send it again below.
                    Ok(None) => {}
                    Err(FiscalError::Rejected { code, reason }) => {
                        return Err(self.rejected(invoice, code, reason).await);
                    }
                    Err(FiscalError::Misconfigured(m)) => return Err(IssueError::Invalid(m)),
                    Err(FiscalError::Unavailable { source, .. }) => {
                        return Err(IssueError::Retry(source.context(format!(
                            "NF-e {pending} was sent without an answer and the authority cannot say what became of it yet"
                        ))));
                    }
                }
            } else {
                // 2. Never sent (or known not received): the authoriser the store uses now.
                let contingency = self.fiscal_mode(fiscal).await?.contingency;
                if contingency != invoice.contingency && fiscal.authority.has_contingency() {
                    // `dhCont` may not be after `dhEmi`: a document numbered before the switch
                    // is issued again now (it never reached anyone, so it may change).
                    if contingency
                        .as_ref()
                        .is_some_and(|c| c.since > invoice.issued_at)
                    {
                        invoice.issued_at = self.ports.clock.now();
                    }
                    invoice.contingency = contingency;
                }
            }
            let signed = self.document(fiscal, order, payment, &invoice).await?;
            let key = signed.access_key().as_str().to_owned();
            let file = invoice_file(&invoice, fiscal, &key)?;
            self.ports
                .blobs
                .put(
                    &file,
                    Bytes::from(signed.xml().to_owned()),
                    "application/xml",
                )
                .await
                .map_err(|e| {
                    IssueError::Retry(anyhow::Error::new(e).context("storing the NF-e"))
                })?;
            if invoice.pending_key.as_deref() != Some(key.as_str()) {
                invoice.pending_key = Some(key.clone());
                match self.save_invoice(invoice).await? {
                    Saved::Ours(saved) => invoice = saved,
                    Saved::Issued(theirs) => return Ok(Issued::Issued(Box::new(theirs))),
                    // Another issuer is sending it: start over from what it recorded.
                    Saved::Theirs(theirs) => {
                        invoice = theirs;
                        continue;
                    }
                }
            }
            let to = via(&invoice);
            let answer = match fiscal.authority.transmit(&signed, to).await {
                Err(FiscalError::Unavailable {
                    outcome_unknown: true,
                    source,
                }) => {
                    // It may have arrived: ask once now; the next delivery asks again.
                    tracing::warn!(order.id = %order.id, nfe.key = %key, error = format!("{source:#}"), "no answer to the NF-e; asking the authority what became of it");
                    match fiscal.authority.query(&signed, to).await {
                        Ok(Some(t)) => Ok(t),
                        Ok(None) => continue,
                        Err(e) => Err(e),
                    }
                }
                other => other,
            };
            match answer {
                Ok(t) => return self.finish_invoice(fiscal, invoice, &signed, t).await,
                Err(FiscalError::Rejected { code, reason }) => {
                    return Err(self.rejected(invoice, code, reason).await);
                }
                Err(FiscalError::Misconfigured(m)) => return Err(IssueError::Invalid(m)),
                Err(FiscalError::Unavailable {
                    outcome_unknown: true,
                    source,
                }) => {
                    return Err(IssueError::Retry(
                        source.context(format!("NF-e {key}: no answer; asked again later")),
                    ));
                }
                Err(FiscalError::Unavailable {
                    outcome_unknown: false,
                    source,
                }) => {
                    // Known not received: this document may go elsewhere.
                    invoice.pending_key = None;
                    invoice = match self.save_invoice(invoice).await? {
                        Saved::Ours(saved) => saved,
                        Saved::Issued(theirs) => return Ok(Issued::Issued(Box::new(theirs))),
                        Saved::Theirs(theirs) => {
                            invoice = theirs;
                            continue;
                        }
                    };
                    if to == Authoriser::Normal
                        && fiscal.authority.has_contingency()
                        && !self.normal_authoriser_answers(fiscal).await
                    {
                        self.enter_contingency(fiscal, &format!("{source:#}"))
                            .await?;
                        continue;
                    }
                    return Err(IssueError::Retry(
                        source.context(format!("NF-e {key}: the authority is unavailable")),
                    ));
                }
            }
        }
        Err(IssueError::Retry(anyhow!(
            "NF-e of order {}: no final answer after {TRANSMIT_ROUNDS} rounds; asked again later",
            order.id
        )))
    }

    /// The signed document of `invoice` (its number, `cNF`, time and contingency fixed there).
    async fn document(
        &self,
        fiscal: &Arc<Fiscal>,
        order: &Order,
        payment: Option<&Payment>,
        invoice: &Invoice,
    ) -> Result<SignedNfe, IssueError> {
        make_document(fiscal, order, payment, invoice)
            .await
            .map_err(|e| match e {
                // The trial passed; this one would need the number voided (inutilização).
                IssueError::Invalid(m) => IssueError::Invalid(format!(
                    "{m} (number {} of series {} is held for this order)",
                    invoice.number, invoice.series
                )),
                other => other,
            })
    }

    /// Save a changed invoice record (not yet issued): the record with its new version, or,
    /// when another issuer changed it meanwhile (racing deliveries of the same event), the
    /// record as that issuer left it.
    async fn save_invoice(&self, mut invoice: Invoice) -> Result<Saved, IssueError> {
        let read = invoice.version;
        invoice.version += 1;
        let mut batch = Batch::new();
        batch.save_invoice(&invoice, read)?;
        match self.write(batch).await {
            Ok(()) => Ok(Saved::Ours(invoice)),
            Err(WriteFailed::Condition { .. }) => {
                match self.load_invoice(&invoice.order_id).await? {
                    Some(theirs) if theirs.status == InvoiceStatus::Issued => {
                        Ok(Saved::Issued(theirs))
                    }
                    Some(theirs) => Ok(Saved::Theirs(theirs)),
                    None => Err(IssueError::Retry(anyhow!(
                        "the invoice of order {} disappeared meanwhile",
                        invoice.order_id
                    ))),
                }
            }
            Err(WriteFailed::Table(e)) => Err(e.into()),
        }
    }

    /// The authority refused the document: kept on the invoice (same number for the retry)
    /// and returned as what the admins are alerted of.
    async fn rejected(&self, mut invoice: Invoice, code: u16, reason: String) -> IssueError {
        let message = format!(
            "SEFAZ rejected NF-e number {} of series {}: {code} {reason}",
            invoice.number, invoice.series
        );
        invoice.pending_key = None;
        invoice.rejection = Some(Rejection {
            code,
            reason,
            at: self.ports.clock.now(),
        });
        // Another issuer changing the record meanwhile does not change the verdict.
        if let Err(e) = self.save_invoice(invoice).await {
            return e;
        }
        IssueError::Invalid(message)
    }

    /// Store the authorised (or, without an authority, signed) document and move the order to
    /// `invoiced`.
    async fn finish_invoice(
        &self,
        fiscal: &Fiscal,
        invoice: Invoice,
        signed: &SignedNfe,
        transmission: Transmission,
    ) -> Result<Issued, IssueError> {
        let key = signed.access_key().as_str().to_owned();
        let file = invoice_file(&invoice, fiscal, &key)?;
        let mut next = invoice;
        next.status = InvoiceStatus::Issued;
        next.access_key = Some(key.clone());
        next.file = Some(file.clone());
        next.pending_key = None;
        next.rejection = None;
        next.version += 1;
        let printed = match transmission {
            Transmission::NotTransmitted => {
                next.transmission = Some(fiscal.authority.name().to_owned());
                signed.xml().to_owned()
            }
            Transmission::Authorized { protocol, nfe_proc } => {
                let proc_file = proc_file(&file);
                self.ports
                    .blobs
                    .put(&proc_file, Bytes::from(nfe_proc.clone()), "application/xml")
                    .await
                    .map_err(|e| IssueError::Retry(anyhow::Error::new(e)))?;
                next.transmission = Some("authorized".into());
                next.protocol = Some(protocol);
                next.authorized_at = Some(self.ports.clock.now());
                nfe_proc
            }
        };
        // The printed form, kept beside the XML; a failure here does not hold the invoice back
        // (the download draws it again).
        if let Err(e) = self.store_danfe(&file, &printed).await {
            tracing::error!(order.id = %next.order_id, error = format!("{e:#}"), "the DANFE was not drawn; it is drawn on its first download");
        }
        self.record_issued(&next).await
    }

    /// The NF-e's trade name (`xFant`) for a new number: `[fiscal] trade_name` when set, else the
    /// shop's name as its look says now. Kept on the invoice, so every later build of the same
    /// document (a retransmission, a contingency copy) is the same document.
    async fn trade_name(&self, fiscal: &Fiscal) -> Result<Option<String>, IssueError> {
        if let Some(configured) = &fiscal.emitter.trade_name {
            return Ok(Some(configured.clone()));
        }
        Ok(Some(self.shop_look().await?.name.clone()))
    }

    /// Take the next number of the series for `order`, with the invoice item that holds it.
    async fn take_number(
        &self,
        fiscal: &Fiscal,
        order: &Order,
        trade_name: Option<String>,
    ) -> Result<Invoice, IssueError> {
        for attempt in 0..NUMBERING_ATTEMPTS {
            if let Some(i) = self.load_invoice(&order.id).await? {
                return Ok(i);
            }
            let last = store::invoices::last_number(
                &*self.ports.table,
                fiscal.environment.code(),
                fiscal.series,
            )
            .await?;
            let number = u32::try_from(last.unwrap_or(0) + 1)
                .ok()
                .filter(|n| *n <= 999_999_999)
                .ok_or_else(|| {
                    IssueError::Invalid(format!(
                        "series {} has used all its numbers; configure another series",
                        fiscal.series
                    ))
                })?;
            let invoice = Invoice {
                order_id: order.id.clone(),
                environment: fiscal.environment.code(),
                series: fiscal.series,
                number,
                cnf: Cnf::random(&mut rand::thread_rng(), number).as_digits(),
                issued_at: self.ports.clock.now(),
                status: InvoiceStatus::Numbered,
                access_key: None,
                file: None,
                transmission: None,
                protocol: None,
                version: 1,
                pending_key: None,
                contingency: None,
                rejection: None,
                authorized_at: None,
                cancellation: None,
                corrections: Vec::new(),
                voiding: None,
                trade_name: trade_name.clone(),
            };
            let mut batch = Batch::new();
            batch.take_invoice_number(&invoice, last)?;
            match self.write(batch).await {
                Ok(()) => {
                    tracing::info!(order.id = %order.id, nfe.series = fiscal.series, nfe.number = number, "NF-e number taken");
                    return Ok(invoice);
                }
                Err(WriteFailed::Condition { .. }) => {
                    // Another issuer took this number (or this order's): a short, growing,
                    // jittered pause, then read again.
                    let cap = 2 + u64::from(attempt.min(20)) * 3;
                    let ms = rand::random::<u64>() % cap;
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                Err(WriteFailed::Table(e)) => return Err(e.into()),
            }
        }
        Err(IssueError::Retry(anyhow!(
            "the invoice numbering stayed contended; will try again"
        )))
    }

    /// Write the issued invoice with the order's move to `invoiced` and its event.
    async fn record_issued(&self, invoice: &Invoice) -> Result<Issued, IssueError> {
        let key = invoice.access_key.clone().unwrap_or_default();
        for _ in 0..5 {
            let mut order = self.load_order(&invoice.order_id).await?;
            let read = order.version;
            let now = self.ports.clock.now();
            let mut batch = Batch::new();
            batch.save_invoice(invoice, invoice.version - 1)?;
            if order.status == OrderStatus::Paid {
                let event = order.invoice(now, &key).map_err(AppError::from)?;
                batch.save_moved_order(
                    &order,
                    read,
                    &self.ports.ids.new_id(),
                    &event,
                    now.millis(),
                )?;
            } else {
                tracing::warn!(order.id = %order.id, order.status = %order.status, nfe.key = %key, "NF-e issued for an order that is no longer paid: cancel it with the tax authority");
            }
            match self.write(batch).await {
                Ok(()) => {
                    tracing::info!(order.id = %order.id, nfe.key = %key, "NF-e issued");
                    return Ok(Issued::Issued(Box::new(invoice.clone())));
                }
                Err(WriteFailed::Condition {
                    part: Part::Invoice,
                    ..
                }) => {
                    // Issued meanwhile by another delivery of the same event.
                    return match self.load_invoice(&invoice.order_id).await? {
                        Some(i) if i.status == InvoiceStatus::Issued => {
                            Ok(Issued::Issued(Box::new(i)))
                        }
                        _ => Err(IssueError::Retry(anyhow!("the invoice changed meanwhile"))),
                    };
                }
                Err(WriteFailed::Condition { .. }) => continue,
                Err(WriteFailed::Table(e)) => return Err(e.into()),
            }
        }
        Err(IssueError::Retry(anyhow!("the order kept changing")))
    }

    /// How the store issues its NF-e (for the admin pages).
    pub async fn fiscal_status(&self) -> AppResult<FiscalStatus> {
        let mode = store::invoices::load_mode(&*self.ports.table).await?;
        Ok(FiscalStatus {
            issuing: self.ports.fiscal.as_ref().map(|f| Issuing {
                environment: f.environment.code(),
                authority: f.authority.name(),
            }),
            contingency: mode.contingency,
        })
    }

    /// The store's authoriser mode; while in contingency, asks the normal authoriser whether it
    /// is back (at most once per `contingency_check`) and returns to it when it is.
    async fn fiscal_mode(&self, fiscal: &Fiscal) -> Result<FiscalMode, IssueError> {
        let mut mode = store::invoices::load_mode(&*self.ports.table).await?;
        let Some(stamp) = mode.contingency.clone() else {
            return Ok(mode);
        };
        let now = self.ports.clock.now();
        let every = i64::try_from(fiscal.contingency_check.as_millis()).unwrap_or(i64::MAX);
        if mode
            .checked_at
            .is_some_and(|at| now.millis().saturating_sub(at.millis()) < every)
        {
            return Ok(mode);
        }
        let back = self.normal_authoriser_answers(fiscal).await;
        mode.checked_at = Some(now);
        let mut batch = Batch::new();
        if back {
            mode.contingency = None;
            let event = Event::new(
                "fiscal.contingency_ended",
                "fiscal".to_owned(),
                json!({
                    "since": stamp.since.millis(),
                    "reason": stamp.reason,
                    "ended": now.millis(),
                }),
            );
            batch.append_event(&self.ports.ids.new_id(), &event, now.millis())?;
        }
        batch.save_fiscal_mode(&mode)?;
        match self.write(batch).await {
            Ok(()) => {
                if back {
                    tracing::warn!("NF-e: the state's authoriser answers again; contingency ended");
                }
                mode.version += 1;
                Ok(mode)
            }
            // Another issuer checked (or switched) meanwhile: its answer stands.
            Err(WriteFailed::Condition { .. }) => {
                Ok(store::invoices::load_mode(&*self.ports.table).await?)
            }
            Err(WriteFailed::Table(e)) => Err(e.into()),
        }
    }

    /// Whether the state's authoriser says it is in operation.
    async fn normal_authoriser_answers(&self, fiscal: &Fiscal) -> bool {
        match fiscal.authority.in_operation(Authoriser::Normal).await {
            Ok(up) => up,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "NF-e: the state's authoriser does not answer its status service"
                );
                false
            }
        }
    }

    /// Move the store's NF-e to the contingency authoriser, recorded with its reason and an
    /// event for the admins. Another issuer having done it already is fine.
    async fn enter_contingency(&self, fiscal: &Fiscal, detail: &str) -> Result<(), IssueError> {
        let mut mode = store::invoices::load_mode(&*self.ports.table).await?;
        if mode.contingency.is_some() {
            return Ok(());
        }
        let now = self.ports.clock.now();
        let reason = justification(detail);
        mode.contingency = Some(ContingencyStamp {
            since: now,
            reason: reason.clone(),
        });
        mode.checked_at = Some(now);
        let kind = ContingencyKind::of(fiscal.emitter.address.uf);
        let event = Event::new(
            "fiscal.contingency_started",
            "fiscal".to_owned(),
            json!({ "since": now.millis(), "reason": reason, "authoriser": kind.name() }),
        );
        let mut batch = Batch::new();
        batch.save_fiscal_mode(&mode)?;
        batch.append_event(&self.ports.ids.new_id(), &event, now.millis())?;
        match self.write(batch).await {
            Ok(()) => {
                tracing::warn!(nfe.authoriser = kind.name(), reason = %reason, "NF-e: the state's authoriser is down; issuing in contingency");
                Ok(())
            }
            Err(WriteFailed::Condition { .. }) => Ok(()),
            Err(WriteFailed::Table(e)) => Err(e.into()),
        }
    }

    /// Record that an order's invoice could not be issued: `invoice.failed` for the admins.
    async fn invoice_failed(&self, order_id: &str, reason: &str) -> AppResult<()> {
        let event = Event::new(
            "invoice.failed",
            order_id.to_owned(),
            json!({ "order_id": order_id, "reason": reason }),
        );
        let now = self.ports.clock.now();
        let mut batch = Batch::new();
        batch.append_event(&self.ports.ids.new_id(), &event, now.millis())?;
        self.write(batch).await?;
        Ok(())
    }
}

/// Where a document is sent: the contingency authoriser for a document issued in contingency.
pub(crate) fn via(invoice: &Invoice) -> Authoriser {
    if invoice.contingency.is_some() {
        Authoriser::Contingency
    } else {
        Authoriser::Normal
    }
}

/// Where the signed document of `invoice`, of access key `key`, is stored.
fn invoice_file(invoice: &Invoice, fiscal: &Fiscal, key: &str) -> Result<String, IssueError> {
    let issued = to_local(invoice.issued_at, fiscal.utc_offset)?;
    Ok(format!(
        "invoices/{:04}/{:02}/{key}-nfe.xml",
        issued.year(),
        u8::from(issued.month())
    ))
}

/// `xJust` of a contingency NF-e: why the state's authoriser was left, in plain ASCII (the
/// schema's text type), 15 to 256 characters.
fn justification(detail: &str) -> String {
    let detail: String = detail
        .chars()
        .map(vitrine_domain::text::fold_accent)
        .map(|c| if c.is_ascii_graphic() { c } else { ' ' })
        .collect();
    let mut text = format!(
        "Autorizadora da UF indisponivel: {}",
        detail.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    if text.len() > MAX_JUSTIFICATION {
        text.truncate(MAX_JUSTIFICATION);
    }
    text.trim_end().to_owned()
}

pub(crate) fn to_local(at: Timestamp, offset: UtcOffset) -> Result<OffsetDateTime, IssueError> {
    OffsetDateTime::from_unix_timestamp(at.secs())
        .map(|t| t.to_offset(offset))
        .map_err(|e| IssueError::Invalid(format!("issue time out of range: {e}")))
}

/// Build, sign and validate the document of `invoice` (CPU and a child process: off the async
/// threads).
async fn make_document(
    fiscal: &Arc<Fiscal>,
    order: &Order,
    payment: Option<&Payment>,
    invoice: &Invoice,
) -> Result<SignedNfe, IssueError> {
    let input = nfe_input(fiscal, order, payment, invoice)?;
    let fiscal = fiscal.clone();
    tokio::task::spawn_blocking(move || {
        let unsigned =
            vitrine_nfe::build(&input).map_err(|e| IssueError::Invalid(e.to_string()))?;
        let signed = unsigned
            .sign(&fiscal.certificate)
            .map_err(|e| IssueError::Invalid(format!("signing: {e}")))?;
        fiscal
            .validator
            .validate(SchemaDocument::Nfe, signed.xml())
            .map_err(|e| match e {
                vitrine_nfe::ValidationError::Invalid(_) => IssueError::Invalid(e.to_string()),
                // Unknown validity: never stored as valid; the delivery is retried, then lands
                // in the dead-letter list where an admin sees it.
                vitrine_nfe::ValidationError::Unavailable(_) => {
                    IssueError::Retry(anyhow::Error::new(e))
                }
            })?;
        Ok(signed)
    })
    .await
    .map_err(|e| IssueError::Retry(anyhow!("the NF-e task failed: {e}")))?
}

/// The NF-e input for an order: the emitter and taxes from the settings, the buyer and the
/// delivery address as the recipient, one item per line with the freight and the discount
/// spread over them in proportion to their value.
fn nfe_input(
    fiscal: &Fiscal,
    order: &Order,
    payment: Option<&Payment>,
    invoice: &Invoice,
) -> Result<NfeInput, IssueError> {
    let invalid = IssueError::Invalid;
    let a = &order.shipping_address;
    let uf = Uf::parse(a.uf.as_str()).map_err(|e| invalid(e.to_string()))?;
    let municipality_code = ibge::municipality_code(a.uf, &a.city).ok_or_else(|| {
        invalid(format!(
            "the delivery city {}/{} is not an IBGE municipality",
            a.city,
            a.uf.as_str()
        ))
    })?;
    let tax_id = match &order.buyer.tax_id {
        vitrine_domain::br::TaxId::Cpf(c) => {
            TaxId::Cpf(Cpf::parse(c.as_str()).map_err(|e| invalid(e.to_string()))?)
        }
        vitrine_domain::br::TaxId::Cnpj(c) => {
            TaxId::Cnpj(Cnpj::parse(c.as_str()).map_err(|e| invalid(e.to_string()))?)
        }
    };
    let recipient = Recipient {
        tax_id,
        name: order.buyer.name.clone(),
        address: Address {
            street: a.street.clone(),
            number: a.number.clone(),
            complement: a.complement.clone(),
            district: a.district.clone(),
            municipality_code,
            municipality_name: a.city.clone(),
            uf,
            cep: a.cep.as_str().to_owned(),
            phone: None,
        },
        email: Some(order.buyer.email.clone()),
    };
    let interstate = fiscal.emitter.address.uf != uf;
    let weights: Vec<i64> = order.lines.iter().map(|l| l.total().centavos()).collect();
    let freight = split_proportionally(order.shipping_total.centavos(), &weights);
    let discount = split_proportionally(order.discount.centavos(), &weights);
    let items = order
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let cfop: u16 = line.fiscal.cfop.parse().map_err(|_| {
                invalid(format!(
                    "SKU {}: CFOP {:?} is not 4 digits",
                    line.sku, line.fiscal.cfop
                ))
            })?;
            // A sale to another state is the same operation in the 6xxx range.
            let cfop = if interstate && (5000..6000).contains(&cfop) {
                cfop + 1000
            } else {
                cfop
            };
            let description = if line.options.is_empty() {
                line.name.clone()
            } else {
                let options: Vec<String> = line
                    .options
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                format!("{} ({})", line.name, options.join(", "))
            };
            Ok(NfeItem {
                code: line.sku.as_str().to_owned(),
                gtin: None,
                description,
                ncm: line.fiscal.ncm.clone(),
                cfop,
                unit: "UN".into(),
                quantity: line.quantity,
                unit_price: line.unit_price.centavos(),
                origin: Origin(line.fiscal.origin),
                freight: freight[i],
                discount: discount[i],
                taxes: fiscal.item_taxes.clone(),
            })
        })
        .collect::<Result<Vec<_>, IssueError>>()?;
    let payment = match (order.payment_method, payment) {
        (PaymentMethod::Pix, p) => NfePayment::Pix {
            psp_cnpj: None,
            end_to_end_id: p.and_then(|p| p.reference.clone()),
        },
        (PaymentMethod::Card, Some(p)) => NfePayment::CreditCard {
            brand: p
                .card
                .as_ref()
                .map(|c| card_brand(c.brand))
                .unwrap_or(CardBrand::Other),
            authorization: p
                .authorization
                .clone()
                .or_else(|| p.reference.clone())
                .ok_or_else(|| invalid("the card payment has no authorization code".into()))?,
            acquirer_cnpj: None,
            installments: p
                .installments
                .as_ref()
                .and_then(|i| u8::try_from(i.count).ok())
                .unwrap_or(1),
        },
        (PaymentMethod::Boleto, _) => NfePayment::Boleto,
        (PaymentMethod::Card, None) => {
            return Err(invalid(
                "the order was marked paid by card without a card payment".into(),
            ));
        }
    };
    let cnf = Cnf::parse(&invoice.cnf).map_err(|e| invalid(e.to_string()))?;
    Ok(NfeInput {
        environment: fiscal.environment,
        series: invoice.series,
        number: invoice.number,
        cnf,
        issued_at: to_local(invoice.issued_at, fiscal.utc_offset)?,
        nature_of_operation: fiscal.nature_of_operation.clone(),
        app_version: concat!("vitrine ", env!("CARGO_PKG_VERSION")).into(),
        emitter: Emitter {
            trade_name: invoice
                .trade_name
                .clone()
                .or_else(|| fiscal.emitter.trade_name.clone()),
            ..fiscal.emitter.clone()
        },
        recipient,
        items,
        freight_total: order.shipping_total.centavos(),
        discount_total: order.discount.centavos(),
        freight_mode: FreightMode::BySeller,
        payment,
        technical_responsible: fiscal.technical_responsible.clone(),
        additional_info: vec![format!("Pedido {}.", order.id)],
        contingency: invoice
            .contingency
            .as_ref()
            .map(|c| -> Result<Contingency, IssueError> {
                Ok(Contingency {
                    kind: ContingencyKind::of(fiscal.emitter.address.uf),
                    since: to_local(c.since, fiscal.utc_offset)?,
                    justification: c.reason.clone(),
                })
            })
            .transpose()?,
    })
}

fn card_brand(brand: DomainCardBrand) -> CardBrand {
    match brand {
        DomainCardBrand::Visa => CardBrand::Visa,
        DomainCardBrand::Mastercard => CardBrand::Mastercard,
        DomainCardBrand::Amex => CardBrand::AmericanExpress,
        DomainCardBrand::Elo => CardBrand::Elo,
        DomainCardBrand::Hipercard => CardBrand::Hipercard,
        DomainCardBrand::Diners => CardBrand::DinersClub,
        DomainCardBrand::Other => CardBrand::Other,
    }
}

/// The `invoices` subscriber: issues the NF-e of each paid order. A document that cannot be
/// made raises `invoice.failed` (an e-mail to the admins) and dead-letters the delivery, to be
/// replayed once the cause is fixed; an unavailable service is retried.
pub struct Invoices {
    app: Arc<App>,
}

impl Invoices {
    pub const NAME: &'static str = "invoices";

    pub fn new(app: Arc<App>) -> Self {
        Self { app }
    }
}

#[async_trait]
impl Consumer for Invoices {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), ConsumeError> {
        let event = &delivery.event;
        if event.event_type != "order.paid" {
            return Ok(());
        }
        match self.app.issue_invoice(&event.subject).await {
            Ok(Issued::Issued(_)) => Ok(()),
            Ok(Issued::NotDue(status)) => {
                tracing::info!(order.id = %event.subject, order.status = %status, "no NF-e: the order is not paid");
                Ok(())
            }
            Err(IssueError::Retry(e)) => Err(ConsumeError::Retry(e)),
            Err(IssueError::Invalid(reason)) => {
                tracing::error!(order.id = %event.subject, reason = %reason, "NF-e not issued");
                self.app
                    .invoice_failed(&event.subject, &reason)
                    .await
                    .map_err(|e| ConsumeError::Retry(anyhow::Error::new(e)))?;
                Err(ConsumeError::Reject(anyhow!("NF-e not issued: {reason}")))
            }
        }
    }
}

/// Where the `nfeProc` of the NF-e stored at `file` is kept.
pub(crate) fn proc_file(file: &str) -> String {
    file.replace("-nfe.xml", "-procNFe.xml")
}

/// Where the DANFE of the NF-e stored at `file` is kept.
pub(crate) fn danfe_file(file: &str) -> String {
    file.replace("-nfe.xml", "-danfe.pdf")
}
