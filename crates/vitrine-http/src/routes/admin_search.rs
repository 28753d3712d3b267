//! The admin's order search with its CSV export, and its customers (under `/api/v1/admin`, behind
//! the admin guard: the orders' part of the admin).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::dto::{
    AdminOrderParams, CustomerDto, CustomerListDto, CustomerSearchParams, OrderListDto, orders_csv,
};
use crate::extract::{Auth, Json, Query};
use crate::problem::ApiResult;
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(list_orders))
        .with(route!(export_orders))
        .with(route!(list_customers))
        .with(route!(get_customer))
        .with(route!(customer_data))
        .with(route!(erase_customer))
}

/// Orders found by any combination of filters (none: every order), newest first; by total,
/// largest first, when only totals narrow them. A page may hold fewer than `limit` orders and
/// still have a `next` cursor: each request reads a bounded part of one index.
#[utoipa::path(get, path = "/orders", tag = "admin", params(AdminOrderParams),
    responses((status = 200, body = OrderListDto), (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_orders(
    State(s): State<AppState>,
    Query(q): Query<AdminOrderParams>,
) -> ApiResult<axum::Json<OrderListDto>> {
    let search = q.search().check()?;
    let page = s
        .app
        .search_orders(&search, q.limit.unwrap_or(20), q.after)
        .await?;
    Ok(axum::Json(OrderListDto {
        items: page.items.iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// The orders a search finds, as CSV: at most 10,000 a file, with a `Link` to the next file
/// when more match (`limit` is not used).
#[utoipa::path(get, path = "/orders/export", tag = "admin", params(AdminOrderParams),
    responses((status = 200, description = "text/csv: id,created_at,status,customer_id,buyer_name,buyer_email,buyer_tax_id,payment_method,units,subtotal_brl,discount_brl,shipping_brl,total_brl,uf,city,tracking_code,invoice_key"),
        (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn export_orders(
    State(s): State<AppState>,
    Query(q): Query<AdminOrderParams>,
) -> ApiResult<Response> {
    let search = q.search().check()?;
    let export = s.app.export_orders(&search, q.after.clone()).await?;
    // The shop's day (São Paulo), as the admin names the file.
    let day = vitrine_app::dashboard::date_of_day(vitrine_app::dashboard::local_day(
        s.app.ports.clock.now(),
    ));
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"pedidos-{day}.csv\""),
            ),
        ],
        orders_csv(&export.orders),
    )
        .into_response();
    if let Some(next) = export.next {
        let link = format!("<{}>; rel=\"next\"", next_file(&q, &next));
        if let Ok(value) = link.parse() {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// The address of the export's next file: the same filters, after `next`.
fn next_file(q: &AdminOrderParams, next: &str) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    let pairs = [
        ("id", q.id.clone()),
        ("customer", q.customer.clone()),
        ("tax_id", q.tax_id.clone()),
        ("status", q.status.clone()),
        ("method", q.method.clone()),
        ("from", q.from.clone()),
        ("to", q.to.clone()),
        (
            "min_total_centavos",
            q.min_total_centavos.map(|v| v.to_string()),
        ),
        (
            "max_total_centavos",
            q.max_total_centavos.map(|v| v.to_string()),
        ),
        ("after", Some(next.to_owned())),
    ];
    for (name, value) in pairs {
        if let Some(v) = value {
            url.append_pair(name, &v);
        }
    }
    format!("/api/v1/admin/orders/export?{}", url.finish())
}

/// Customers, newest first, or found by `q`: the start of a word of the name, of the e-mail (with
/// an `@`), or of the CPF/CNPJ or phone digits.
#[utoipa::path(get, path = "/customers", tag = "admin", params(CustomerSearchParams),
    responses((status = 200, body = CustomerListDto), (status = 422, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_customers(
    State(s): State<AppState>,
    Query(q): Query<CustomerSearchParams>,
) -> ApiResult<axum::Json<CustomerListDto>> {
    let page = s
        .app
        .search_customers(
            q.q.as_deref().unwrap_or_default(),
            q.limit.unwrap_or(20),
            q.after,
        )
        .await?;
    Ok(axum::Json(CustomerListDto {
        items: page.items.iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// One customer: the profile and saved addresses (their orders: `GET /orders?customer=`).
#[utoipa::path(get, path = "/customers/{sub}", tag = "admin", params(("sub" = String, Path)),
    responses((status = 200, body = CustomerDto), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_customer(
    State(s): State<AppState>,
    Path(sub): Path<String>,
) -> ApiResult<axum::Json<CustomerDto>> {
    let (profile, addresses) = s.app.customer_record(&sub).await?;
    Ok(axum::Json(CustomerDto::new(&profile, &addresses)))
}

/// Everything the store keeps of a customer, for an LGPD request made to the shop.
#[utoipa::path(get, path = "/customers/{sub}/data", tag = "admin", params(("sub" = String, Path)),
    responses((status = 200, description = "the customer's data, as a JSON download"), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn customer_data(State(s): State<AppState>, Path(sub): Path<String>) -> ApiResult<Response> {
    let data = s.app.export_personal_data(&sub).await?;
    Ok(crate::routes::me::personal_data_download(&data))
}

/// Erase a customer's account on their request (as `DELETE /me` does), recorded as done by the
/// admin calling.
#[utoipa::path(post, path = "/customers/{sub}/erase", tag = "admin", params(("sub" = String, Path)), request_body = crate::routes::me::EraseInput,
    responses((status = 200, body = ErasureDto), (status = 404, body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 409, body = crate::problem::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn erase_customer(
    State(s): State<AppState>,
    Auth(admin): Auth,
    Path(sub): Path<String>,
    Json(i): Json<crate::routes::me::EraseInput>,
) -> ApiResult<axum::Json<ErasureDto>> {
    if !i.confirm {
        return Err(crate::problem::Problem::validation(vec![
            vitrine_domain::FieldError::new("confirm", "send true to erase the account"),
        ]));
    }
    let e = s.app.erase_customer(&sub, &admin.sub).await?;
    Ok(axum::Json(ErasureDto {
        at: crate::dto::rfc3339(vitrine_domain::Timestamp::from_millis(e.at_ms)),
        by: e.by,
        orders: e.orders,
    }))
}

/// The record of an erasure.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErasureDto {
    pub at: String,
    /// `self`, or the admin's `sub`.
    pub by: String,
    /// Orders kept as sales with the buyer erased.
    pub orders: i64,
}
