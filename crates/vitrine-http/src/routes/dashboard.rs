//! `GET /api/v1/admin/dashboard`: the admin dashboard's numbers (`vitrine_app::dashboard` says
//! what each one counts). In the admin router, behind its guard.

use axum::extract::State;
use axum::http::header;
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_app::dashboard::{DayTotals, TIMEZONE};

use crate::dto::{CURRENCY, rfc3339};
use crate::problem::ApiResult;
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes for the admin router (nested under `/api/v1/admin`).
pub fn admin_routes() -> RouteTable {
    RouteTable::new().with(route!(dashboard))
}

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
}

/// Today's orders and revenue, revenue per day for the last 30 days, orders per status and the
/// SKUs low on stock. Days are calendar days in São Paulo.
#[utoipa::path(get, path = "/dashboard", tag = "admin",
    responses((status = 200, body = DashboardDto)), security(("bearer" = [])))]
async fn dashboard(
    State(s): State<AppState>,
) -> ApiResult<(
    [(header::HeaderName, &'static str); 1],
    axum::Json<DashboardDto>,
)> {
    let d = s.app.dashboard().await?;
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(DashboardDto {
            timezone: TIMEZONE,
            currency: CURRENCY,
            generated_at: rfc3339(d.generated_at),
            today: (&d.today).into(),
            revenue_by_day: d.days.iter().map(Into::into).collect(),
            orders_by_status: d
                .by_status
                .iter()
                .map(|(status, count)| StatusCountDto {
                    status: status.as_str().to_owned(),
                    count: *count,
                })
                .collect(),
            low_stock: d
                .low_stock
                .into_iter()
                .map(|l| LowStockDto {
                    sku: l.sku.to_string(),
                    available: l.available,
                    product_id: l.product_id,
                    product_name: l.product_name,
                })
                .collect(),
            low_stock_threshold: d.low_stock_threshold,
        }),
    ))
}
