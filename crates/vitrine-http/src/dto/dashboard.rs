//! The admin dashboard's numbers.

use serde::Serialize;
use utoipa::ToSchema;
use vitrine_app::dashboard::DayTotals;

/// One calendar day (in the dashboard's time zone).
#[derive(Debug, Serialize, ToSchema)]
pub struct DayDto {
    #[schema(example = "2026-11-28")]
    pub date: String,
    /// Orders placed that day, in any status.
    pub orders: u64,
    /// Orders paid that day that still hold the money (paid, invoiced, shipped, delivered).
    pub paid_orders: u64,
    /// The totals of those paid orders.
    pub revenue_centavos: i64,
}

impl From<&DayTotals> for DayDto {
    fn from(d: &DayTotals) -> Self {
        Self {
            date: d.date.clone(),
            orders: d.orders,
            paid_orders: d.paid_orders,
            revenue_centavos: d.revenue.centavos(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCountDto {
    #[schema(example = "paid")]
    pub status: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LowStockDto {
    pub sku: String,
    pub available: i64,
    pub product_id: Option<String>,
    pub product_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardDto {
    /// The time zone days are counted in.
    #[schema(example = "America/Sao_Paulo")]
    pub timezone: &'static str,
    pub currency: &'static str,
    pub generated_at: String,
    pub today: DayDto,
    /// The last 30 days, oldest first; the last is today.
    pub revenue_by_day: Vec<DayDto>,
    /// Every status, in lifecycle order.
    pub orders_by_status: Vec<StatusCountDto>,
    /// SKUs at or below the threshold, fewest units first.
    pub low_stock: Vec<LowStockDto>,
    pub low_stock_threshold: i64,
    /// Cart reminders e-mailed in the 30 days.
    pub cart_reminders_sent: u64,
    /// Of those reminders, the carts their customer checked out within 7 days.
    pub carts_recovered: u64,
}
