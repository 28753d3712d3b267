//! The application: the ports it was given and the settings it runs with. Use cases are methods
//! on [`App`], grouped by area in the sibling modules.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::fiscal::Fiscal;
use crate::ports::{
    Blobs, Clock, Identity, Ids, Mailer, PaymentProvider, Shipping, Sms, Table, Uploads,
};
use crate::snapshot::CatalogCache;
use crate::store::{self, Batch, WriteFailed};

pub use crate::settings::Settings;

/// The adapters, chosen by the composition root.
#[derive(Clone)]
pub struct Ports {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn Blobs>,
    pub identity: Arc<dyn Identity>,
    pub mailer: Arc<dyn Mailer>,
    pub sms: Arc<dyn Sms>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    /// The payment providers; each takes the methods it names (`PaymentProvider::methods`).
    pub payments: Vec<Arc<dyn PaymentProvider>>,
    /// NF-e issuing: the store's fiscal identity, certificate, schema validator and tax
    /// authority. `None`: invoices are not issued (an `order.paid` is dead-lettered with the
    /// reason, to be replayed once it is set up).
    pub fiscal: Option<Arc<Fiscal>>,
    /// Where browsers send product images directly (S3 presigned PUT, or the store's own
    /// signed URL): `crate::media`.
    pub uploads: Arc<dyn Uploads>,
    /// Shipping quotes, labels and tracking (Melhor Envio); `None`: the shop's rate table
    /// (`crate::shipping::TableShipping`, from the settings).
    pub shipping: Option<Arc<dyn Shipping>>,
}

pub struct App {
    pub ports: Ports,
    /// The Shipping port's adapter in use, made on first need (`App::carrier`).
    pub(crate) carrier: std::sync::OnceLock<Arc<dyn Shipping>>,
    pub settings: Settings,
    pub(crate) catalog: CatalogCache,
    /// The shop's look as last read (`crate::shop`).
    pub(crate) shop: crate::store::shop::LookCache,
    /// Signalled after every committed batch that wrote an event to the outbox: the local
    /// dispatcher wakes on it (and polls as a fallback).
    pub(crate) outbox_written: Notify,
    /// This process's metrics (`crate::metrics`).
    pub metrics: crate::metrics::Metrics,
    /// The background work started for this app, stopped and joined by [`App::stop_workers`].
    workers: crate::workers::Workers,
    /// Revoked sessions as last read from the table (`crate::sessions`).
    pub(crate) revoked: crate::store::revocations::RevokedCache,
    /// The code-mail worker's queue, once started (`crate::accounts`).
    pub(crate) code_mails:
        std::sync::OnceLock<tokio::sync::mpsc::Sender<crate::code_mails::CodeMail>>,
    /// The key e-mail links are signed with, once read (`crate::links`).
    pub(crate) link_key: tokio::sync::OnceCell<Arc<crate::links::LinkKey>>,
}

impl App {
    pub fn new(ports: Ports, settings: Settings) -> Arc<Self> {
        Arc::new(Self {
            carrier: std::sync::OnceLock::new(),
            ports,
            settings,
            catalog: CatalogCache::default(),
            shop: crate::store::shop::LookCache::default(),
            outbox_written: Notify::new(),
            metrics: crate::metrics::Metrics::default(),
            workers: crate::workers::Workers::default(),
            revoked: crate::store::revocations::RevokedCache::default(),
            code_mails: std::sync::OnceLock::new(),
            link_key: tokio::sync::OnceCell::new(),
        })
    }

    /// Run `work` in the background until [`App::stop_workers`]; it is handed the stop signal.
    pub fn spawn_worker<F, Fut>(&self, name: &'static str, work: F)
    where
        F: FnOnce(crate::workers::StopSignal) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.workers.spawn(name, work);
    }

    /// The orderly stop: ask every worker to stop and wait until each has (each gets `grace` to
    /// finish what it is doing). Once this returns, nothing the app started writes any more.
    pub async fn stop_workers(&self, grace: std::time::Duration) {
        self.workers.stop(grace).await;
    }

    /// Commit `batch` atomically (the Table port's `write`), then wake the event dispatcher when
    /// the batch appended an event to the outbox. Every use case writes through here.
    pub(crate) async fn write(&self, batch: Batch) -> Result<(), WriteFailed> {
        let has_event = batch.appends_event();
        let (ops, parts) = batch.into_parts();
        let span = tracing::debug_span!("table.write", ops = ops.len(), outbox = has_event);
        tracing::Instrument::instrument(self.ports.table.write(ops), span)
            .await
            .map_err(|e| Batch::explain(&parts, e))?;
        if has_event {
            self.outbox_written.notify_one();
        }
        Ok(())
    }

    /// Refresh the gauges that are read from the table (outbox lag, dead letters), for a
    /// metrics scrape.
    pub async fn refresh_gauges(&self) -> crate::error::AppResult<()> {
        let oldest = store::events::oldest_in_outbox(&*self.ports.table).await?;
        let now = self.ports.clock.now().millis();
        let lag = oldest.map_or(0, |at| now - at);
        self.metrics.set_outbox_lag_ms(lag);
        let dead: usize = self.event_queues().await?.iter().map(|q| q.dead).sum();
        self.metrics.set_dead_letters(dead as i64);
        Ok(())
    }

    /// Whether the table and the blob store answer (`/ready`).
    pub async fn ready(&self) -> Result<(), String> {
        self.ports
            .table
            .ping()
            .await
            .map_err(|e| format!("table: {e}"))?;
        self.ports
            .blobs
            .ping()
            .await
            .map_err(|e| format!("blobs: {e}"))?;
        Ok(())
    }
}
