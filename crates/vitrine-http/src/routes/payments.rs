//! Paying orders: Pix charges (BR Code and QR image), card charges with installments, the
//! installment plans for a total, and the providers' webhooks.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vitrine_app::error::AppError;
use vitrine_app::payments::{LatePayment, PayInput, Payment, Settlement};
use vitrine_domain::card::{CardNumber, InstallmentPlan};
use vitrine_domain::{FieldError, Money};

use crate::dto::rfc3339;
use crate::extract::{Auth, Json, Query};
use crate::problem::{ApiResult, Problem};
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes under `/api/v1`: the order's payment (signed in), installment plans and the
/// providers' webhooks (public).
pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(get_payment, pay_order))
        .with(route!(payment_qr))
        .with(route!(installments))
        .with(route!(webhook))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardInputDto {
    /// Not stored: only the brand and the last four digits are kept.
    #[schema(example = "4111 1111 1111 1111")]
    pub number: String,
    #[schema(example = "MARIA SILVA")]
    pub holder: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayInputDto {
    /// `pix` or `card`: the order's payment method.
    #[schema(example = "pix")]
    pub method: String,
    /// Card payments only.
    pub card: Option<CardInputDto>,
    /// Card payments: how many installments (default 1).
    pub installments: Option<u32>,
}

impl TryFrom<PayInputDto> for PayInput {
    type Error = Problem;

    fn try_from(i: PayInputDto) -> Result<Self, Problem> {
        match (i.method.as_str(), i.card) {
            ("pix", None) if i.installments.is_none() => Ok(PayInput::Pix),
            ("pix", _) => Err(Problem::validation(vec![FieldError::new(
                "card",
                "a Pix payment takes no card and no installments",
            )])),
            ("card", Some(card)) => {
                let number = CardNumber::parse(&card.number)
                    .map_err(|e| Problem::from(AppError::from(e)))?;
                Ok(PayInput::Card {
                    number,
                    holder: card.holder,
                    installments: i.installments.unwrap_or(1),
                })
            }
            ("card", None) => Err(Problem::validation(vec![FieldError::new(
                "card",
                "a card payment needs the card's number and holder",
            )])),
            _ => Err(Problem::validation(vec![FieldError::new(
                "method",
                "the method is pix or card",
            )])),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PixDto {
    pub txid: String,
    /// The "copia e cola" text.
    pub br_code: String,
    /// The same as a QR code (SVG).
    pub qr_code_url: String,
    pub expires_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardDto {
    #[schema(example = "visa")]
    pub brand: String,
    pub last4: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallmentPlanDto {
    pub count: u32,
    /// The first (largest) installment: "count× de installment".
    pub installment_centavos: i64,
    /// Every installment; they add up to `total_centavos`.
    pub installments_centavos: Vec<i64>,
    pub total_centavos: i64,
    pub interest_centavos: i64,
    /// 0: without interest ("sem juros").
    pub monthly_rate_bp: u32,
}

impl InstallmentPlanDto {
    fn new(plan: &InstallmentPlan, price: Money) -> Self {
        Self {
            count: plan.count,
            installment_centavos: plan.installment().centavos(),
            installments_centavos: plan.installments.iter().map(|m| m.centavos()).collect(),
            total_centavos: plan.total.centavos(),
            interest_centavos: plan.interest(price).centavos(),
            monthly_rate_bp: plan.monthly_rate_bp,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LatePaymentDto {
    pub reference: String,
    pub amount_centavos: i64,
    pub at: String,
    #[schema(example = "order_expired")]
    pub reason: String,
    /// The refund's reference, once made.
    pub refund: Option<String>,
}

impl From<&LatePayment> for LatePaymentDto {
    fn from(l: &LatePayment) -> Self {
        Self {
            reference: l.reference.clone(),
            amount_centavos: l.amount.centavos(),
            at: rfc3339(l.at),
            reason: l.reason.as_str().to_owned(),
            refund: l.refund.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentDto {
    pub order_id: String,
    pub provider: String,
    #[schema(example = "pix")]
    pub method: String,
    /// `pending`, `failed`, `confirmed` or `refunded`.
    #[schema(example = "pending")]
    pub status: String,
    /// What the payer pays: the order total, or the installment plan's total.
    pub amount_centavos: i64,
    pub pix: Option<PixDto>,
    pub card: Option<CardDto>,
    pub installments: Option<InstallmentPlanDto>,
    pub reference: Option<String>,
    pub attempts: u32,
    /// Why the last attempt failed.
    pub failure: Option<String>,
    pub refund_reference: Option<String>,
    /// Payments that arrived after the order could take them; each is refunded.
    pub late_payments: Vec<LatePaymentDto>,
    pub version: u64,
}

impl PaymentDto {
    fn new(p: &Payment, order_total: Money) -> Self {
        let pix = match (&p.txid, &p.br_code) {
            (Some(txid), Some(br_code)) => Some(PixDto {
                txid: txid.clone(),
                br_code: br_code.clone(),
                qr_code_url: format!("/api/v1/orders/{}/payment/qr.svg", p.order_id),
                expires_at: rfc3339(p.expires_at),
            }),
            _ => None,
        };
        Self {
            order_id: p.order_id.clone(),
            provider: p.provider.clone(),
            method: p.method.as_str().to_owned(),
            status: serde_json::to_value(p.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            amount_centavos: p.amount.centavos(),
            pix,
            card: p.card.as_ref().map(|c| CardDto {
                brand: serde_json::to_value(c.brand)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                last4: c.last4.clone(),
            }),
            installments: p
                .installments
                .as_ref()
                .map(|plan| InstallmentPlanDto::new(plan, order_total)),
            reference: p.reference.clone(),
            attempts: p.attempts,
            failure: p.failure.clone(),
            refund_reference: p.refund.as_ref().map(|r| r.reference.clone()),
            late_payments: p.late.iter().map(Into::into).collect(),
            version: p.version,
        }
    }
}

/// Pay an order. Pix: the charge (BR Code and QR image), the same one while it is pending.
/// Card: charged at once; approved → the order is paid; declined → 402 with the reason.
#[utoipa::path(post, path = "/orders/{id}/payment", tag = "payments", params(("id" = String, Path)),
    request_body = PayInputDto,
    responses((status = 200, body = PaymentDto),
        (status = 402, body = Problem, content_type = "application/problem+json", description = "card declined"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "not payable now, or invalid input"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "the provider did not answer; try again")),
    security(("bearer" = [])))]
async fn pay_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(i): Json<PayInputDto>,
) -> ApiResult<axum::Json<PaymentDto>> {
    let input = PayInput::try_from(i)?;
    let payment = s.app.pay_order(&p, &id, input).await?;
    let order = s.app.order_for(&p, &id).await?;
    Ok(axum::Json(PaymentDto::new(&payment, order.total)))
}

/// An order's payment: its Pix charge, card attempt, refund, and late payments.
#[utoipa::path(get, path = "/orders/{id}/payment", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, body = PaymentDto), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_payment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PaymentDto>> {
    let payment = s.app.payment_for(&p, &id).await?;
    let order = s.app.order_for(&p, &id).await?;
    Ok(axum::Json(PaymentDto::new(&payment, order.total)))
}

/// The Pix charge's BR Code as a QR code image.
#[utoipa::path(get, path = "/orders/{id}/payment/qr.svg", tag = "payments", params(("id" = String, Path)),
    responses((status = 200, content_type = "image/svg+xml", description = "the QR code"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn payment_qr(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let payment = s.app.payment_for(&p, &id).await?;
    let br_code = payment.br_code.ok_or(Problem::not_found("Pix charge"))?;
    let svg = qr_svg(&br_code).map_err(|e| Problem::internal(format!("QR code: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        svg,
    ))
}

/// `text` as an SVG QR code, error correction M (what banking apps read well on a screen).
pub fn qr_svg(text: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InstallmentsParams {
    /// The price to split, in centavos.
    pub total_centavos: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InstallmentsDto {
    pub total_centavos: i64,
    pub plans: Vec<InstallmentPlanDto>,
}

/// The card installment plans offered for a price.
#[utoipa::path(get, path = "/payments/installments", tag = "payments", params(InstallmentsParams),
    responses((status = 200, body = InstallmentsDto), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn installments(
    State(s): State<AppState>,
    Query(q): Query<InstallmentsParams>,
) -> ApiResult<axum::Json<InstallmentsDto>> {
    if !(1..=10_000_000_000).contains(&q.total_centavos) {
        return Err(Problem::validation(vec![FieldError::new(
            "total_centavos",
            "the price is between 1 centavo and R$ 100 million",
        )]));
    }
    let price = Money::from_centavos(q.total_centavos);
    Ok(axum::Json(InstallmentsDto {
        total_centavos: q.total_centavos,
        plans: s
            .app
            .installment_plans(price)
            .iter()
            .map(|plan| InstallmentPlanDto::new(plan, price))
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResultDto {
    /// `paid`: the order is paid now; `already_paid`: the same payment again, nothing changed;
    /// `refund`: the money was not accepted (order expired, cancelled, already paid, or another
    /// amount) and will be refunded.
    #[schema(example = "paid")]
    pub result: &'static str,
}

/// A payment provider's notification. Signed (`Vitrine-Signature: t=<unix>,v1=<hex HMAC-SHA256
/// of "t.body">` for the sandbox providers, see docs/payments.md); a bad signature or a stale
/// timestamp is a 401, a replayed notice a 409, an unknown charge a 404 — none changes anything.
#[utoipa::path(post, path = "/payments/webhooks/{provider}", tag = "payments", params(("provider" = String, Path, example = "pix")),
    request_body(content = String, content_type = "application/json", description = "the provider's notice, e.g. {\"id\", \"type\": \"pix.paid\", \"txid\", \"amount_centavos\", \"end_to_end_id\"}"),
    responses((status = 200, body = WebhookResultDto),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "bad signature or stale timestamp"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "unknown provider or charge"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "notice already processed"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "malformed notice")))]
async fn webhook(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<WebhookResultDto>)> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let settlement = s.app.payment_webhook(&provider, &header, &body).await?;
    let result = match settlement {
        Settlement::Paid => "paid",
        Settlement::AlreadyPaid => "already_paid",
        Settlement::Late(_) => "refund",
    };
    Ok((StatusCode::OK, axum::Json(WebhookResultDto { result })))
}
