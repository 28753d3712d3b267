//! `GET /api/v1/admin/dashboard`: the admin dashboard's numbers (`vitrine_app::dashboard` says
//! what each one counts). In the admin router, behind its guard.

use axum::extract::State;
use axum::http::header;
use vitrine_app::dashboard::TIMEZONE;

use crate::dto::{CURRENCY, DashboardDto, LowStockDto, StatusCountDto, rfc3339};
use crate::problem::ApiResult;
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes for the admin router (nested under `/api/v1/admin`).
pub fn admin_routes() -> RouteTable {
    RouteTable::new().with(route!(dashboard))
}

/// Today's orders and revenue, revenue per day for the last 30 days, orders per status, the
/// SKUs low on stock, and the cart reminders of the 30 days with the carts they recovered. Days
/// are calendar days in São Paulo.
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
            cart_reminders_sent: d.cart_reminders.sent,
            carts_recovered: d.cart_reminders.recovered,
        }),
    ))
}
