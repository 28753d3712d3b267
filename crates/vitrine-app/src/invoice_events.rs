//! What an admin does to an order's NF-e after it is issued, with the tax authority
//! (`ports::FiscalAuthority`): cancel it within the legal window (the order is cancelled with
//! it, its stock returned and its money refunded), send a correction letter, or void the number
//! of a document that was never authorised.
//!
//! Invariants:
//! - **Asked before sent**: each request is first written on the invoice record (conditioned on
//!   the version read), then sent; two admins racing get one request each, never two
//!   cancellations nor two correction letters with the same sequence number. A request whose
//!   answer was lost is sent again with the same `dhEvento` and sequence, and the authority's
//!   "duplicate event" is answered by the adapter with the registration it already has.
//! - **The order follows the document**: a cancelled NF-e moves its order to `cancelled` in the
//!   same batch as the invoice record (stock back, `order.cancelled` with a refund, which the
//!   refunds consumer makes).
//! - A refusal (out of the window, a wrong protocol, a number used) clears the request, keeps
//!   the document as it was and is returned with the authority's code and text.
//!
//! Sources: cancellation within 24 hours of the authorisation, correction letters numbered 1 to
//! 20 each replacing the ones before (`../shared/nfe/webservices/NOTES.md` §5–§6, the event
//! schemas `e110111_v1.00.xsd` / `e110110_v1.00.xsd`), voiding (§7, `inutNFe_v4.00.xsd`).

use std::sync::Arc;

use anyhow::anyhow;
use bytes::Bytes;
use vitrine_domain::FieldError;
use vitrine_domain::order::{Order, OrderStatus};
use vitrine_nfe::sefaz::{Event, EventDetail, Voiding};
use vitrine_nfe::{AccessKey, Cnpj};

use crate::app::App;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::fiscal::Fiscal;
use crate::invoices::{IssueError, to_local, via};
use crate::ports::{FiscalError, Registered};
use crate::store::invoices::{FiscalEventRecord, Invoice, InvoiceStatus};
use crate::store::{self, Batch, Part, WriteFailed};

/// How long after its authorisation an NF-e may be cancelled (24 h in most states; see the
/// module docs). The authority has the last word: a state with a shorter window refuses.
pub const CANCELLATION_WINDOW_SECS: i64 = 24 * 3600;
/// The most correction letters one NF-e may have.
pub const MAX_CORRECTIONS: u8 = 20;

/// The three requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cancellation,
    Correction,
    Voiding,
}

impl Kind {
    fn field(self) -> &'static str {
        match self {
            Kind::Correction => "correction",
            _ => "justification",
        }
    }

    fn max_len(self) -> usize {
        match self {
            Kind::Correction => 1000,
            _ => 255,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Cancellation => "cancellation",
            Kind::Correction => "correction letter",
            Kind::Voiding => "voiding",
        }
    }
}

impl App {
    fn fiscal_for_admin(&self) -> AppResult<Arc<Fiscal>> {
        self.ports
            .fiscal
            .clone()
            .ok_or_else(|| AppError::Rule("NF-e issuing is not configured on this server".into()))
    }

    /// How an admin is named on the requests they make: their e-mail when they have a profile.
    async fn admin_name(&self, who: &Principal) -> String {
        match self.profile(&who.sub).await {
            Ok(profile) => profile.email,
            Err(_) => who
                .email
                .clone()
                .or_else(|| who.username.clone())
                .unwrap_or_else(|| who.sub.clone()),
        }
    }

    /// An order's NF-e record in any state (numbered, issued, voided), for the admin pages.
    pub async fn invoice_record(&self, order_id: &str) -> AppResult<Invoice> {
        self.load_order(order_id).await?;
        store::invoices::load(&*self.ports.table, order_id)
            .await?
            .ok_or(AppError::NotFound("invoice"))
    }

    /// Cancel the NF-e of an order (event 110111) and, with it, the order: its stock comes back
    /// and its money is refunded. Within [`CANCELLATION_WINDOW_SECS`] of the authorisation, and
    /// only while the goods have not left (an order `invoiced`, or one cancelled before its
    /// NF-e was issued). A document that was never sent to an authority (`transmit` off) is
    /// cancelled in the store alone.
    pub async fn cancel_invoice(
        &self,
        order_id: &str,
        justification: &str,
        who: &Principal,
    ) -> AppResult<Invoice> {
        let by = self.admin_name(who).await;
        let by = by.as_str();
        let text = event_text(Kind::Cancellation, justification)?;
        let fiscal = self.fiscal_for_admin()?;
        let order = self.load_order(order_id).await?;
        let mut invoice = self.issued_invoice(order_id).await?;
        if invoice.cancelled() {
            return Ok(invoice);
        }
        if !matches!(order.status, OrderStatus::Invoiced | OrderStatus::Cancelled) {
            return Err(AppError::Rule(format!(
                "order {} is {}: the goods have left with this NF-e, so it can no longer be cancelled (a return is recorded with an entry NF-e)",
                order.id, order.status
            )));
        }
        let now = self.ports.clock.now();
        let Some(protocol) = invoice.protocol.clone() else {
            // Never authorised by anyone: it has no legal existence to cancel.
            invoice.cancellation = Some(FiscalEventRecord {
                sequence: 1,
                text,
                by: by.to_owned(),
                requested_at: now,
                done: true,
                protocol: None,
                registered_at: Some(now),
                file: None,
            });
            return self.record_cancellation(invoice).await;
        };
        if invoice.cancellation.is_none() {
            let authorised = invoice.authorized_at.unwrap_or(invoice.issued_at);
            if now.secs() - authorised.secs() > CANCELLATION_WINDOW_SECS {
                return Err(AppError::Rule(format!(
                    "NF-e {} of series {} was authorised at {}: an NF-e may be cancelled only within 24 hours of its authorisation",
                    invoice.number,
                    invoice.series,
                    rfc3339(authorised)
                )));
            }
        }
        let (invoice, request) = self
            .ask(invoice, Kind::Cancellation, text, by, |i| {
                i.cancellation.as_ref()
            })
            .await?;
        let detail = EventDetail::Cancellation {
            protocol,
            justification: request.text.clone(),
        };
        let invoice = self
            .register(
                &fiscal,
                invoice,
                Kind::Cancellation,
                &request,
                detail,
                "cancel-procEventoNFe.xml",
            )
            .await?;
        self.record_cancellation(invoice).await
    }

    /// Send a correction letter (event 110110) for an authorised NF-e that is not cancelled:
    /// the next sequence number; the text replaces the letters before it.
    pub async fn correct_invoice(
        &self,
        order_id: &str,
        correction: &str,
        who: &Principal,
    ) -> AppResult<Invoice> {
        let by = self.admin_name(who).await;
        let by = by.as_str();
        let text = event_text(Kind::Correction, correction)?;
        let fiscal = self.fiscal_for_admin()?;
        let invoice = self.issued_invoice(order_id).await?;
        if invoice.cancellation.is_some() {
            return Err(AppError::Rule(format!(
                "NF-e {} of series {} is cancelled (or being cancelled): it takes no correction letter",
                invoice.number, invoice.series
            )));
        }
        if invoice.protocol.is_none() {
            return Err(AppError::Rule(format!(
                "NF-e {} of series {} was never authorised by SEFAZ: a correction letter needs an authorised NF-e",
                invoice.number, invoice.series
            )));
        }
        let (invoice, request) = self
            .ask(invoice, Kind::Correction, text, by, |i| {
                i.corrections.last().filter(|c| !c.done)
            })
            .await?;
        let detail = EventDetail::CorrectionLetter {
            correction: request.text.clone(),
        };
        let suffix = format!("cce-{:02}-procEventoNFe.xml", request.sequence);
        let invoice = self
            .register(
                &fiscal,
                invoice,
                Kind::Correction,
                &request,
                detail,
                &suffix,
            )
            .await?;
        self.save_record(invoice).await
    }

    /// Void the number of an order's NF-e that was never authorised (inutilização), so that
    /// the series has no unexplained gap: for an order that will not be invoiced (cancelled or
    /// expired) whose document the authority refused or never received.
    pub async fn void_invoice_number(
        &self,
        order_id: &str,
        justification: &str,
        who: &Principal,
    ) -> AppResult<Invoice> {
        let by = self.admin_name(who).await;
        let by = by.as_str();
        let text = event_text(Kind::Voiding, justification)?;
        let fiscal = self.fiscal_for_admin()?;
        let order = self.load_order(order_id).await?;
        let invoice = self.invoice_record(order_id).await?;
        match invoice.status {
            InvoiceStatus::Voided => return Ok(invoice),
            InvoiceStatus::Issued => {
                return Err(AppError::Rule(format!(
                    "NF-e {} of series {} is issued: an issued NF-e is cancelled, not voided",
                    invoice.number, invoice.series
                )));
            }
            InvoiceStatus::Numbered => {}
        }
        if matches!(order.status, OrderStatus::Paid) {
            return Err(AppError::Rule(format!(
                "order {} is paid and waits for NF-e {}: fix what SEFAZ refused and issue it again, or cancel the order before voiding its number",
                order.id, invoice.number
            )));
        }
        if invoice.pending_key.is_some() {
            return Err(AppError::Conflict(format!(
                "NF-e {} of series {} was sent and its outcome is not known yet: issue it again (SEFAZ is asked first) before voiding its number",
                invoice.number, invoice.series
            )));
        }
        let (mut invoice, request) = self
            .ask(invoice, Kind::Voiding, text, by, |i| i.voiding.as_ref())
            .await?;
        let at = local(&fiscal, request.requested_at)?;
        let voiding = Voiding {
            uf: fiscal.emitter.address.uf,
            emitter: emitter(&fiscal),
            year: (at.year() % 100) as u8,
            series: invoice.series,
            first: invoice.number,
            last: invoice.number,
            justification: request.text.clone(),
            at,
        };
        let answer = fiscal.authority.void(&voiding).await;
        let registered = self.answered(&mut invoice, Kind::Voiding, answer).await?;
        let file = format!(
            "invoices/voided/{}/{:03}/{:09}-procInutNFe.xml",
            invoice.environment, invoice.series, invoice.number
        );
        self.ports
            .blobs
            .put(
                &file,
                Bytes::from(registered.xml.clone()),
                "application/xml",
            )
            .await?;
        invoice.status = InvoiceStatus::Voided;
        self.mark_registered(&mut invoice, Kind::Voiding, registered, file);
        tracing::info!(order.id = %order.id, nfe.series = invoice.series, nfe.number = invoice.number, "NF-e number voided");
        self.save_record(invoice).await
    }

    /// Send `detail` as the event `request` asked for on `invoice`, and keep what the authority
    /// registered beside the NF-e (`…-{suffix}`): the invoice with the request marked
    /// registered, not saved yet.
    async fn register(
        &self,
        fiscal: &Fiscal,
        mut invoice: Invoice,
        kind: Kind,
        request: &FiscalEventRecord,
        detail: EventDetail,
        suffix: &str,
    ) -> AppResult<Invoice> {
        let event = Event {
            key: access_key(&invoice)?,
            emitter: emitter(fiscal),
            sequence: request.sequence,
            at: local(fiscal, request.requested_at)?,
            detail,
        };
        let answer = fiscal.authority.register_event(&event, via(&invoice)).await;
        let registered = self.answered(&mut invoice, kind, answer).await?;
        let file = self.archive(&invoice, suffix, &registered).await?;
        self.mark_registered(&mut invoice, kind, registered, file);
        Ok(invoice)
    }

    /// Mark the request of `kind` on `invoice` registered, with its protocol and archive.
    fn mark_registered(
        &self,
        invoice: &mut Invoice,
        kind: Kind,
        registered: Registered,
        file: String,
    ) {
        let record = match kind {
            Kind::Cancellation => invoice.cancellation.as_mut(),
            Kind::Correction => invoice.corrections.last_mut(),
            Kind::Voiding => invoice.voiding.as_mut(),
        };
        if let Some(r) = record {
            r.done = true;
            r.protocol = Some(registered.protocol);
            r.registered_at = Some(self.ports.clock.now());
            r.file = Some(file);
        }
    }

    /// The order's issued invoice, or a clear refusal.
    async fn issued_invoice(&self, order_id: &str) -> AppResult<Invoice> {
        let invoice = self.invoice_record(order_id).await?;
        if invoice.status != InvoiceStatus::Issued || invoice.access_key.is_none() {
            return Err(AppError::Rule(format!(
                "order {order_id} has no issued NF-e (number {} of series {} is not issued)",
                invoice.number, invoice.series
            )));
        }
        Ok(invoice)
    }

    /// Write the request on the invoice before sending it (see the module docs), or take the
    /// one already waiting (`pending`): a request whose answer was lost is sent again as it
    /// was; one with another text waits for it.
    async fn ask(
        &self,
        mut invoice: Invoice,
        kind: Kind,
        text: String,
        by: &str,
        pending: impl Fn(&Invoice) -> Option<&FiscalEventRecord>,
    ) -> AppResult<(Invoice, FiscalEventRecord)> {
        if let Some(waiting) = pending(&invoice).filter(|r| !r.done) {
            if waiting.text == text {
                let waiting = waiting.clone();
                return Ok((invoice, waiting));
            }
            return Err(AppError::Conflict(format!(
                "a {} of NF-e {} asked at {} is waiting for SEFAZ's answer ({:?}): send that one again first",
                kind.what(),
                invoice.number,
                rfc3339(waiting.requested_at),
                waiting.text
            )));
        }
        let sequence = match kind {
            Kind::Correction => {
                let next = invoice.corrections.len() + 1;
                if next > usize::from(MAX_CORRECTIONS) {
                    return Err(AppError::Rule(format!(
                        "NF-e {} has {MAX_CORRECTIONS} correction letters, the most SEFAZ accepts",
                        invoice.number
                    )));
                }
                next as u8
            }
            _ => 1,
        };
        let request = FiscalEventRecord {
            sequence,
            text,
            by: by.to_owned(),
            requested_at: self.ports.clock.now(),
            done: false,
            protocol: None,
            registered_at: None,
            file: None,
        };
        match kind {
            Kind::Cancellation => invoice.cancellation = Some(request.clone()),
            Kind::Correction => invoice.corrections.push(request.clone()),
            Kind::Voiding => invoice.voiding = Some(request.clone()),
        }
        let invoice = self.save_record(invoice).await?;
        Ok((invoice, request))
    }

    /// The authority's answer to a request: its registration, or the request taken back (a
    /// refusal, or nothing sent) and the reason as the admin's error. A request without an
    /// answer stays on the invoice to be sent again.
    async fn answered(
        &self,
        invoice: &mut Invoice,
        kind: Kind,
        answer: Result<Registered, FiscalError>,
    ) -> AppResult<Registered> {
        let error = match answer {
            Ok(registered) => return Ok(registered),
            Err(FiscalError::Unavailable { source, .. }) => {
                return Err(AppError::Unavailable(source.context(format!(
                    "SEFAZ did not answer the {} of NF-e {}; it is kept and can be sent again",
                    kind.what(),
                    invoice.number
                ))));
            }
            Err(FiscalError::Rejected { code, reason }) => AppError::Rule(format!(
                "SEFAZ refused the {} of NF-e {} of series {}: {code} {reason}",
                kind.what(),
                invoice.number,
                invoice.series
            )),
            Err(FiscalError::Misconfigured(m)) => AppError::Rule(m),
        };
        match kind {
            Kind::Cancellation => invoice.cancellation = None,
            Kind::Correction => {
                invoice.corrections.pop();
            }
            Kind::Voiding => invoice.voiding = None,
        }
        // Someone changing the record meanwhile does not change the verdict.
        if let Err(e) = self.save_record(invoice.clone()).await {
            tracing::warn!(order.id = %invoice.order_id, error = %e, "a refused NF-e request was not taken back from its invoice");
        }
        Err(error)
    }

    /// Keep an event's archive beside the NF-e (`…-{suffix}` next to `…-nfe.xml`).
    async fn archive(
        &self,
        invoice: &Invoice,
        suffix: &str,
        registered: &Registered,
    ) -> AppResult<String> {
        let file = invoice
            .file
            .as_deref()
            .ok_or_else(|| AppError::Internal(anyhow!("an issued invoice without its file")))?
            .replace("nfe.xml", suffix);
        self.ports
            .blobs
            .put(
                &file,
                Bytes::from(registered.xml.clone()),
                "application/xml",
            )
            .await?;
        Ok(file)
    }

    /// Save a changed invoice record over the version it was read at.
    async fn save_record(&self, mut invoice: Invoice) -> AppResult<Invoice> {
        let read = invoice.version;
        invoice.version += 1;
        let mut batch = Batch::new();
        batch.save_invoice(&invoice, read)?;
        match self.write(batch).await {
            Ok(()) => Ok(invoice),
            Err(WriteFailed::Condition { .. }) => Err(AppError::VersionMismatch("invoice")),
            Err(WriteFailed::Table(e)) => Err(e.into()),
        }
    }

    /// Save a cancelled invoice with its order's move to `cancelled` (stock back, refund), in
    /// one batch; an order cancelled before its NF-e was issued stays as it is.
    async fn record_cancellation(&self, invoice: Invoice) -> AppResult<Invoice> {
        for _ in 0..5 {
            let mut order: Order = self.load_order(&invoice.order_id).await?;
            let read = order.version;
            let now = self.ports.clock.now();
            let mut saved = invoice.clone();
            saved.version += 1;
            let mut batch = Batch::new();
            batch.save_invoice(&saved, invoice.version)?;
            if order.status == OrderStatus::Invoiced {
                let reason = format!(
                    "NF-e {} cancelled: {}",
                    invoice.number,
                    invoice
                        .cancellation
                        .as_ref()
                        .map(|c| c.text.as_str())
                        .unwrap_or_default()
                );
                let (event, unwind) = order.cancel_invoiced(now, &reason)?;
                batch.save_moved_order(
                    &order,
                    read,
                    &self.ports.ids.new_id(),
                    &event,
                    now.millis(),
                )?;
                // Stock and coupon use back (an invoiced order was paid: no unpaid hold).
                self.give_back(&mut batch, &order, false, unwind).await?;
            }
            match self.write(batch).await {
                Ok(()) => {
                    tracing::info!(order.id = %order.id, nfe.number = invoice.number, "NF-e cancelled");
                    return Ok(saved);
                }
                Err(WriteFailed::Condition {
                    part: Part::Invoice,
                    ..
                }) => return Err(AppError::VersionMismatch("invoice")),
                // The order (or a SKU) changed meanwhile: read again.
                Err(WriteFailed::Condition { .. }) => continue,
                Err(WriteFailed::Table(e)) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the order is changing too fast; try again".into(),
        ))
    }
}

/// The text of a request as the schemas take it (`TString`: Latin-1 characters, no line breaks,
/// no space at either end), 15 characters at least.
fn event_text(kind: Kind, text: &str) -> AppResult<String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let field = |message: String| AppError::Invalid(vec![FieldError::new(kind.field(), message)]);
    if let Some(c) = text
        .chars()
        .find(|c| u32::from(*c) > 0xFF || c.is_control())
    {
        return Err(field(format!(
            "{c:?} cannot be sent to SEFAZ: use letters, digits and punctuation"
        )));
    }
    let len = text.chars().count();
    if !(15..=kind.max_len()).contains(&len) {
        return Err(field(format!(
            "SEFAZ takes 15 to {} characters here; this has {len}",
            kind.max_len()
        )));
    }
    Ok(text)
}

fn rfc3339(at: vitrine_domain::Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp(at.secs())
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.secs().to_string())
}

fn access_key(invoice: &Invoice) -> AppResult<AccessKey> {
    let key = invoice.access_key.as_deref().unwrap_or_default();
    AccessKey::parse(key)
        .map_err(|e| AppError::Internal(anyhow!("the stored access key {key:?}: {e}")))
}

fn emitter(fiscal: &Fiscal) -> Cnpj {
    fiscal.emitter.cnpj.clone()
}

fn local(fiscal: &Fiscal, at: vitrine_domain::Timestamp) -> AppResult<time::OffsetDateTime> {
    to_local(at, fiscal.utc_offset).map_err(|e| match e {
        IssueError::Invalid(m) => AppError::Internal(anyhow!(m)),
        IssueError::Retry(e) => AppError::Internal(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_texts_are_what_the_schemas_take() {
        let ok = event_text(Kind::Cancellation, "  Pedido   cancelado\npelo cliente ").unwrap();
        assert_eq!(ok, "Pedido cancelado pelo cliente");
        assert!(event_text(Kind::Cancellation, "curto demais").is_err());
        assert!(event_text(Kind::Cancellation, &"x".repeat(256)).is_err());
        assert!(event_text(Kind::Correction, &"x".repeat(1000)).is_ok());
        assert!(event_text(Kind::Correction, &"x".repeat(1001)).is_err());
        assert!(event_text(Kind::Voiding, "Numero pulado por falha ✓ sistema").is_err());
        assert_eq!(
            event_text(Kind::Voiding, "Endereço sem município válido")
                .unwrap()
                .len(),
            "Endereço sem município válido".len()
        );
        match event_text(Kind::Correction, "short").unwrap_err() {
            AppError::Invalid(fields) => assert_eq!(fields[0].field, "correction"),
            other => panic!("{other:?}"),
        }
    }
}
