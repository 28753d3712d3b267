//! An order's NF-e: its record and its XML, for the order's owner or an admin.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use vitrine_app::invoices::InvoiceDownload;

use crate::dto::{FiscalStatusDto, InvoiceDto};
use crate::extract::Auth;
use crate::problem::ApiResult;
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes under `/api/v1`.
pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(invoice_xml))
        .with(route!(invoice_danfe))
        .with(route!(invoice_info))
}

/// Routes for the admin router (nested under `/api/v1/admin`).
pub fn admin_routes() -> RouteTable {
    RouteTable::new().with(route!(fiscal_status))
}

/// How the store issues its NF-e: the environment, the tax authority (the state's SEFAZ, or the
/// demo's built-in simulator) and whether it is in contingency.
#[utoipa::path(get, path = "/fiscal", tag = "admin",
    responses((status = 200, body = FiscalStatusDto)), security(("bearer" = [])))]
async fn fiscal_status(State(s): State<AppState>) -> ApiResult<axum::Json<FiscalStatusDto>> {
    Ok(axum::Json(FiscalStatusDto::from(
        &s.app.fiscal_status().await?,
    )))
}

/// The order's NF-e XML: the file (locally), or a redirect to a short-lived download URL (S3).
#[utoipa::path(get, path = "/orders/{id}/invoice", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/xml", description = "the signed NF-e"),
        (status = 303, description = "download it from the `Location` URL (valid 5 minutes)"),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json", description = "no such order, or not invoiced yet")),
    security(("bearer" = [])))]
async fn invoice_xml(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(as_response(
        s.app.invoice_download(&p, &id).await?,
        "application/xml",
    ))
}

/// The order's DANFE, the printed form of its NF-e (PDF, A4): the file (locally), or a redirect
/// to a short-lived download URL (S3).
#[utoipa::path(get, path = "/orders/{id}/invoice/danfe", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/pdf", description = "the DANFE"),
        (status = 303, description = "download it from the `Location` URL (valid 5 minutes)"),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json", description = "no such order, or not invoiced yet")),
    security(("bearer" = [])))]
async fn invoice_danfe(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(as_response(
        s.app.danfe_download(&p, &id).await?,
        "application/pdf",
    ))
}

fn as_response(download: InvoiceDownload, content_type: &str) -> Response {
    match download {
        InvoiceDownload::File { name, bytes } => (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
                (header::CACHE_CONTROL, "private, no-store".to_owned()),
            ],
            bytes,
        )
            .into_response(),
        InvoiceDownload::Url(url) => (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, url),
                (header::CACHE_CONTROL, "private, no-store".to_owned()),
            ],
        )
            .into_response(),
    }
}

/// The order's NF-e: key, number, series, transmission state.
#[utoipa::path(get, path = "/orders/{id}/invoice/info", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = InvoiceDto),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json", description = "no such order, or not invoiced yet")),
    security(("bearer" = [])))]
async fn invoice_info(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<InvoiceDto>> {
    let invoice = s.app.invoice_for(&p, &id).await?;
    Ok(axum::Json(InvoiceDto::from(&invoice)))
}
