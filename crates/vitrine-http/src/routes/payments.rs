//! Paying orders: Pix charges (BR Code and QR image), card charges with installments, the
//! installment plans for a total, and the providers' webhooks.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use vitrine_app::error::AppError;
use vitrine_app::payments::PayInput;
use vitrine_domain::card::CardNumber;
use vitrine_domain::{FieldError, Money};

use vitrine_app::payments::WebhookInput;
use vitrine_app::ports::payments::CardInput;

use crate::dto::{
    CardInputDto, InstallmentPlanDto, InstallmentsDto, InstallmentsParams, PayInputDto, PaymentDto,
    WebhookResultDto,
};
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
        .with(route!(webhook_subpath))
}

impl TryFrom<PayInputDto> for PayInput {
    type Error = Problem;

    fn try_from(i: PayInputDto) -> Result<Self, Problem> {
        match (i.method.as_str(), i.card) {
            ("pix", None) if i.installments.is_none() => Ok(PayInput::Pix),
            ("boleto", None) if i.installments.is_none() => Ok(PayInput::Boleto),
            ("pix" | "boleto", _) => Err(Problem::validation(vec![FieldError::new(
                "card",
                "a Pix or boleto payment takes no card and no installments",
            )])),
            ("card", Some(card)) => {
                let installments = i.installments.unwrap_or(1);
                match card {
                    CardInputDto {
                        token: Some(token),
                        payment_method_id: Some(payment_method_id),
                        bin: Some(bin),
                        issuer_id,
                        number: None,
                        holder: _,
                    } => Ok(PayInput::Card {
                        card: CardInput::Token {
                            token,
                            payment_method_id,
                            issuer_id,
                            bin,
                        },
                        installments,
                    }),
                    CardInputDto {
                        number: Some(number),
                        holder: Some(holder),
                        token: None,
                        ..
                    } => {
                        let number = CardNumber::parse(&number)
                            .map_err(|e| Problem::from(AppError::from(e)))?;
                        Ok(PayInput::Card {
                            card: CardInput::Number { number, holder },
                            installments,
                        })
                    }
                    _ => Err(Problem::validation(vec![FieldError::new(
                        "card",
                        "a card is either a provider's token (token, payment_method_id, bin) or, in the sandbox, a test number and holder",
                    )])),
                }
            }
            ("card", None) => Err(Problem::validation(vec![FieldError::new(
                "card",
                "a card payment needs the card",
            )])),
            _ => Err(Problem::validation(vec![FieldError::new(
                "method",
                "the method is pix, card or boleto",
            )])),
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
    if let Some(bin) = &q.bin
        && (!(6..=8).contains(&bin.len()) || !bin.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Problem::validation(vec![FieldError::new(
            "bin",
            "the card's first 6 to 8 digits",
        )]));
    }
    let price = Money::from_centavos(q.total_centavos);
    let plans = s.app.installment_plans(price, q.bin.as_deref()).await?;
    Ok(axum::Json(InstallmentsDto {
        total_centavos: q.total_centavos,
        plans: plans
            .iter()
            .map(|plan| InstallmentPlanDto::new(plan, price))
            .collect(),
    }))
}

/// A payment provider's notification. The store never settles on the notice alone: it reads each
/// payment back from the provider (the sandbox's own notices, signed `Vitrine-Signature: t=<unix>,
/// v1=<hex HMAC-SHA256 of "t.body">`, excepted; see docs/payments.md). A bad signature or a stale
/// timestamp is a 401, a replayed notice a 409, an unknown sandbox charge a 404 — none changes
/// anything; a payment that is not this store's is `ignored`.
#[utoipa::path(post, path = "/payments/webhooks/{provider}", tag = "payments", params(("provider" = String, Path, example = "pix")),
    request_body(content = String, content_type = "application/json", description = "the provider's notice, e.g. {\"id\", \"type\": \"pix.paid\", \"txid\", \"amount_centavos\", \"end_to_end_id\"}"),
    responses((status = 200, body = WebhookResultDto),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "bad signature or stale timestamp"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "unknown provider or charge"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "notice already processed"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "malformed notice"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "the provider could not be asked; send again")))]
async fn webhook(
    State(s): State<AppState>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<WebhookResultDto>)> {
    handle_webhook(&s, &provider, "", query, &headers, &body).await
}

/// The same, for providers that append a path to the registered URL (the BCB Pix API posts to
/// `{webhookUrl}/pix`).
#[utoipa::path(post, path = "/payments/webhooks/{provider}/{subpath}", tag = "payments",
    params(("provider" = String, Path, example = "bcb"), ("subpath" = String, Path, example = "pix")),
    request_body(content = String, content_type = "application/json", description = "the provider's notice, e.g. {\"pix\": [{\"endToEndId\", \"txid\", \"valor\", \"horario\"}]}"),
    responses((status = 200, body = WebhookResultDto),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "not from the provider"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "unknown provider"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "malformed notice"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "the provider could not be asked; send again")))]
async fn webhook_subpath(
    State(s): State<AppState>,
    Path((provider, subpath)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, axum::Json<WebhookResultDto>)> {
    handle_webhook(&s, &provider, &subpath, query, &headers, &body).await
}

async fn handle_webhook(
    s: &AppState,
    provider: &str,
    subpath: &str,
    query: Option<String>,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<(StatusCode, axum::Json<WebhookResultDto>)> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let pairs: Vec<(String, String)> = query
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let query = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let settlements = s
        .app
        .payment_webhook(&WebhookInput {
            provider,
            subpath,
            header: &header,
            query: &query,
            body,
        })
        .await?;
    let results: Vec<&'static str> = settlements.iter().map(|r| r.as_str()).collect();
    let result = results.first().copied().unwrap_or("ignored");
    Ok((
        StatusCode::OK,
        axum::Json(WebhookResultDto { result, results }),
    ))
}
