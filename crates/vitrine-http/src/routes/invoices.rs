//! An order's NF-e: its record and its XML, for the order's owner or an admin.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_app::invoices::{Invoice, InvoiceDownload};

use crate::dto::rfc3339;
use crate::extract::Auth;
use crate::problem::ApiResult;
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes under `/api/v1`.
pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(invoice_xml))
        .with(route!(invoice_info))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceDto {
    pub order_id: String,
    /// The 44-character chave de acesso.
    #[schema(example = "35261111222333000181550010000000011234567893")]
    pub access_key: String,
    /// `homologation` (no legal value) or `production`.
    pub environment: &'static str,
    pub series: u16,
    pub number: u32,
    pub issued_at: String,
    /// `signed-not-transmitted`, or `authorized` once the tax authority accepted it.
    pub transmission: String,
    /// The authorization protocol, once authorized.
    pub protocol: Option<String>,
}

impl From<&Invoice> for InvoiceDto {
    fn from(i: &Invoice) -> Self {
        Self {
            order_id: i.order_id.clone(),
            access_key: i.access_key.clone().unwrap_or_default(),
            environment: if i.environment == 1 {
                "production"
            } else {
                "homologation"
            },
            series: i.series,
            number: i.number,
            issued_at: rfc3339(i.issued_at),
            transmission: i.transmission.clone().unwrap_or_default(),
            protocol: i.protocol.clone(),
        }
    }
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
    Ok(match s.app.invoice_download(&p, &id).await? {
        InvoiceDownload::File { name, bytes } => (
            [
                (header::CONTENT_TYPE, "application/xml".to_owned()),
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
    })
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
