//! Sales reports: every sold order read page by page from the status index, folded into
//! `vitrine_domain::report::SalesReport` (bounded aggregates, so memory stays flat however many
//! orders there are), written as CSV files and an SVG chart under
//! `reports/{yyyy-mm-dd-HHMMSS}/` in Blobs, listed and downloaded by admins.

use bytes::Bytes;
use serde::Deserialize;
use vitrine_domain::Timestamp;
use vitrine_domain::money::Money;
use vitrine_domain::order::{OrderStatus, PaymentMethod, StatusChange};
use vitrine_domain::report::{SalesReport, SoldOrder};

use crate::app::App;
use crate::dashboard::{date_of_day, local_day};
use crate::error::{AppError, AppResult};
use crate::store::{self, Pager};

/// The folder of the reports in Blobs.
pub const PREFIX: &str = "reports/";
/// Orders read per page.
const PAGE: usize = 1000;

/// The statuses of orders that hold the customer's money.
const SOLD: [OrderStatus; 4] = [
    OrderStatus::Paid,
    OrderStatus::Invoiced,
    OrderStatus::Shipped,
    OrderStatus::Delivered,
];

/// The fields of an order a report reads (the rest of the stored JSON is skipped).
#[derive(Deserialize)]
struct ReportOrder {
    total: Money,
    created_at: Timestamp,
    payment_method: PaymentMethod,
    shipping_address: ReportAddress,
    lines: Vec<ReportLine>,
    #[serde(default)]
    history: Vec<StatusChange>,
}

#[derive(Deserialize)]
struct ReportAddress {
    uf: String,
}

#[derive(Deserialize)]
struct ReportLine {
    sku: String,
    name: String,
    quantity: u32,
    unit_price: Money,
}

/// A generated report: where its files went and its totals.
#[derive(Debug, Clone)]
pub struct Generated {
    pub folder: String,
    pub files: Vec<String>,
    pub report: SalesReport,
}

/// One report file, for the admin list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    pub key: String,
    pub size: u64,
    /// From the folder name: when the report was generated.
    pub created_at: Option<Timestamp>,
}

impl App {
    /// Fold every sold order paid between `from` and `to` (`YYYY-MM-DD`, São Paulo, inclusive;
    /// `None`: unbounded) into a report, calling `progress(orders read)` after each page.
    pub async fn sales_report(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> AppResult<SalesReport> {
        let mut report = SalesReport::default();
        let mut read = 0u64;
        for status in SOLD {
            let mut pages = Pager::new(
                &*self.ports.table,
                store::orders::in_status(status).limit(PAGE),
            );
            while let Some(items) = pages.next_page().await? {
                for item in &items {
                    let o: ReportOrder = store::decode(item)?;
                    let paid_at = o
                        .history
                        .iter()
                        .find(|c| c.status == OrderStatus::Paid)
                        .map_or(o.created_at, |c| c.at);
                    let day = date_of_day(local_day(paid_at));
                    if from.is_some_and(|f| day.as_str() < f)
                        || to.is_some_and(|t| day.as_str() > t)
                    {
                        continue;
                    }
                    let lines = o
                        .lines
                        .iter()
                        .map(|l| {
                            let total = l.unit_price.checked_mul(l.quantity).ok_or_else(|| {
                                AppError::Internal(anyhow::anyhow!("a line total overflows"))
                            })?;
                            Ok((l.sku.as_str(), l.name.as_str(), l.quantity, total))
                        })
                        .collect::<AppResult<Vec<_>>>()?;
                    report.add(&SoldOrder {
                        day: &day,
                        total: o.total,
                        payment_method: o.payment_method.as_str(),
                        uf: &o.shipping_address.uf,
                        lines,
                    });
                }
                read += items.len() as u64;
                progress(read);
            }
        }
        Ok(report)
    }

    /// Generate a report (see [`App::sales_report`]) and store its files under a new folder.
    pub async fn generate_report(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> AppResult<Generated> {
        let report = self.sales_report(from, to, progress).await?;
        let now = self.ports.clock.now();
        let secs_of_day = (now.millis() - 3 * 3_600_000).rem_euclid(86_400_000) / 1000;
        let folder = format!(
            "{PREFIX}{}-{:02}{:02}{:02}",
            date_of_day(local_day(now)),
            secs_of_day / 3600,
            secs_of_day / 60 % 60,
            secs_of_day % 60
        );
        let mut files = Vec::new();
        for (name, content_type, text) in report.files() {
            let key = format!("{folder}/{name}");
            self.ports
                .blobs
                .put(&key, Bytes::from(text), content_type)
                .await?;
            files.push(key);
        }
        tracing::info!(report.folder = %folder, orders = report.total.orders, "sales report generated");
        Ok(Generated {
            folder,
            files,
            report,
        })
    }

    /// Every report file, newest folder first.
    pub async fn report_files(&self) -> AppResult<Vec<ReportFile>> {
        let mut files: Vec<ReportFile> = self
            .ports
            .blobs
            .list(PREFIX)
            .await?
            .into_iter()
            .map(|m| ReportFile {
                created_at: created_at(&m.key),
                key: m.key,
                size: m.size,
            })
            .collect();
        files.sort_by(|a, b| b.key.cmp(&a.key));
        Ok(files)
    }

    /// A report file's bytes, or a URL to it (S3). `key` is under `reports/`.
    pub async fn report_file(&self, key: &str) -> AppResult<(Option<String>, Option<Bytes>)> {
        if !key.starts_with(PREFIX) {
            return Err(AppError::NotFound("report"));
        }
        if let Some(url) = self.ports.blobs.download_url(key, 300).await? {
            return Ok((Some(url), None));
        }
        let blob = self
            .ports
            .blobs
            .get(key)
            .await?
            .ok_or(AppError::NotFound("report"))?;
        Ok((None, Some(blob.bytes)))
    }
}

/// `reports/2026-11-28-203012/x.csv` → that instant (São Paulo time).
fn created_at(key: &str) -> Option<Timestamp> {
    let folder = key.strip_prefix(PREFIX)?.split('/').next()?;
    let num = |r: std::ops::Range<usize>| folder.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(13..15)?, num(15..17)?);
    // Days from the civil date (Howard Hinnant's days_from_civil).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let local_secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(Timestamp::from_secs(local_secs + 3 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_name_is_its_generation_time() {
        let t = created_at("reports/2026-11-28-203012/sales-by-day.csv").unwrap();
        // 20:30:12 in São Paulo is 23:30:12 UTC.
        assert_eq!(date_of_day(local_day(t)), "2026-11-28");
        assert_eq!(t.secs() % 86_400, 23 * 3600 + 30 * 60 + 12);
        assert_eq!(created_at("reports/whatever/x.csv"), None);
    }
}
