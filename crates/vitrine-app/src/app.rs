//! The application: the ports it was given and the settings it runs with. Use cases are methods
//! on [`App`], grouped by area in the sibling modules.

use std::sync::Arc;

use vitrine_domain::shipping::RateTable;

use crate::catalog::CatalogCache;
use crate::ports::{Blobs, Clock, Identity, Ids, Mailer, Table};

/// The adapters, chosen by the composition root.
#[derive(Clone)]
pub struct Ports {
    pub table: Arc<dyn Table>,
    pub blobs: Arc<dyn Blobs>,
    pub identity: Arc<dyn Identity>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
}

/// Business settings (from `vitrine.toml` / `VITRINE_*` locally, from the environment on Lambda).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Unpaid orders expire after this long.
    pub pay_within_secs: i64,
    pub rate_table: RateTable,
    /// A `stock.low` event fires when a SKU's stock falls to this or below.
    pub low_stock_threshold: i64,
    /// How long a cached catalog may be served before it is reloaded. Writes made through this
    /// process invalidate it at once; this bounds staleness from other processes (CLI imports,
    /// other Lambda instances).
    pub catalog_cache_secs: i64,
    /// Anonymous carts are forgotten after this many days without change.
    pub anonymous_cart_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pay_within_secs: 30 * 60,
            rate_table: RateTable::default(),
            low_stock_threshold: 5,
            catalog_cache_secs: 10,
            anonymous_cart_days: 30,
        }
    }
}

pub struct App {
    pub ports: Ports,
    pub settings: Settings,
    pub(crate) catalog: CatalogCache,
}

impl App {
    pub fn new(ports: Ports, settings: Settings) -> Arc<Self> {
        Arc::new(Self {
            ports,
            settings,
            catalog: CatalogCache::default(),
        })
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
