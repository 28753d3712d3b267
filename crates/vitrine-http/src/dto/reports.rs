//! Sales reports.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportFileDto {
    /// The file's key in the blob store.
    #[schema(example = "reports/2026-11-28-203012/sales-by-day.csv")]
    pub key: String,
    /// The key without `reports/`.
    pub name: String,
    pub size: u64,
    pub created_at: Option<String>,
    /// Where to download it (this API; it may redirect to the blob store).
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportListDto {
    pub items: Vec<ReportFileDto>,
}
