//! An order's NF-e: its record and its XML, for the order's owner or an admin.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use vitrine_app::invoices::InvoiceDownload;

use crate::dto::{
    AdminInvoiceDto, CorrectionInput, FiscalStatusDto, InvoiceDto, JustificationInput,
};
use crate::extract::{Auth, Json};
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
    RouteTable::new()
        .with(route!(fiscal_status))
        .with(route!(admin_invoice))
        .with(route!(cancel_invoice))
        .with(route!(correct_invoice))
        .with(route!(void_invoice_number))
}

/// An order's NF-e record in any state (numbered, issued, voided), with its rejection,
/// cancellation, correction letters and voiding.
#[utoipa::path(get, path = "/orders/{id}/invoice", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = AdminInvoiceDto),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json", description = "no such order, or no NF-e number taken for it")),
    security(("bearer" = [])))]
async fn admin_invoice(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<AdminInvoiceDto>> {
    Ok(axum::Json(AdminInvoiceDto::from(
        &s.app.invoice_record(&id).await?,
    )))
}

/// Cancel the order's NF-e with SEFAZ (event 110111), within 24 hours of its authorisation and
/// before the goods leave; the order is cancelled with it (stock back, money refunded).
#[utoipa::path(post, path = "/orders/{id}/invoice/cancel", tag = "admin", request_body = JustificationInput, params(("id" = String, Path)),
    responses((status = 200, body = AdminInvoiceDto),
        (status = 409, body = crate::problem::Problem, content_type = "application/problem+json", description = "another request on this NF-e is waiting for SEFAZ's answer"),
        (status = 422, body = crate::problem::Problem, content_type = "application/problem+json", description = "not cancellable (window passed, goods shipped, not issued), or refused by SEFAZ with its code"),
        (status = 503, body = crate::problem::Problem, content_type = "application/problem+json", description = "SEFAZ did not answer; the request is kept: send it again")),
    security(("bearer" = [])))]
async fn cancel_invoice(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(i): Json<JustificationInput>,
) -> ApiResult<axum::Json<AdminInvoiceDto>> {
    let invoice = s.app.cancel_invoice(&id, &i.justification, &p).await?;
    Ok(axum::Json(AdminInvoiceDto::from(&invoice)))
}

/// Send a correction letter for the order's authorised NF-e (event 110110, up to 20; each
/// replaces the ones before it).
#[utoipa::path(post, path = "/orders/{id}/invoice/corrections", tag = "admin", request_body = CorrectionInput, params(("id" = String, Path)),
    responses((status = 200, body = AdminInvoiceDto),
        (status = 409, body = crate::problem::Problem, content_type = "application/problem+json", description = "another correction letter is waiting for SEFAZ's answer"),
        (status = 422, body = crate::problem::Problem, content_type = "application/problem+json", description = "not authorised, cancelled, 20 letters already, or refused by SEFAZ with its code"),
        (status = 503, body = crate::problem::Problem, content_type = "application/problem+json", description = "SEFAZ did not answer; the letter is kept: send it again")),
    security(("bearer" = [])))]
async fn correct_invoice(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(i): Json<CorrectionInput>,
) -> ApiResult<axum::Json<AdminInvoiceDto>> {
    let invoice = s.app.correct_invoice(&id, &i.correction, &p).await?;
    Ok(axum::Json(AdminInvoiceDto::from(&invoice)))
}

/// Void the number of the order's NF-e that was never authorised (inutilização), for an order
/// that will not be invoiced (cancelled or expired).
#[utoipa::path(post, path = "/orders/{id}/invoice/void", tag = "admin", request_body = JustificationInput, params(("id" = String, Path)),
    responses((status = 200, body = AdminInvoiceDto),
        (status = 409, body = crate::problem::Problem, content_type = "application/problem+json", description = "the NF-e was sent and its outcome is not known yet"),
        (status = 422, body = crate::problem::Problem, content_type = "application/problem+json", description = "issued (cancel it instead), the order is paid, or refused by SEFAZ with its code"),
        (status = 503, body = crate::problem::Problem, content_type = "application/problem+json", description = "SEFAZ did not answer; the request is kept: send it again")),
    security(("bearer" = [])))]
async fn void_invoice_number(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(i): Json<JustificationInput>,
) -> ApiResult<axum::Json<AdminInvoiceDto>> {
    let invoice = s.app.void_invoice_number(&id, &i.justification, &p).await?;
    Ok(axum::Json(AdminInvoiceDto::from(&invoice)))
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
