//! Administration under `/api/v1/admin`. The whole router sits behind [`require_admin`], so a
//! route added here cannot forget the check; a test walks every admin path in the OpenAPI
//! document with a customer's token and expects 403.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use vitrine_app::AppError;
use vitrine_app::auth::StaffArea;
use vitrine_app::orders::OrderMove;
use vitrine_domain::FieldError;
use vitrine_domain::catalog::Sku;

use crate::dto::{
    CancelInput, CategoryDto, CategoryInput, CouponDto, CouponInput, DeadLetterDto, EventsDto,
    MarkPaidInput, OrderDto, PaymentDto, ProductDto, ProductInput, ProductListDto,
    ProductListParams, QueueDto, RefundInput, ReplayParams, ReplayedDto, ShipInput,
    StockAdjustment, StockDto,
};
use crate::extract::{Auth, IfMatch, Json, Query, etag};
use crate::problem::{ApiResult, Problem};
use crate::route_table::{RouteTable, route};
use crate::routes::catalog::{product_list, product_query};
use crate::state::AppState;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(list_products, create_product))
        .with(route!(get_product, update_product))
        .with(route!(get_stock))
        .with(route!(adjust_stock))
        .with(route!(low_stock))
        .with(route!(create_category))
        .with(route!(update_category))
        .with(route!(list_coupons, create_coupon))
        .with(route!(get_coupon, update_coupon))
        .with(route!(get_order))
        .with(route!(ship_order))
        .with(route!(cancel_order))
        .with(route!(mark_paid))
        .with(route!(deliver_order))
        .with(route!(refund_order))
        .with(route!(events))
        .with(route!(replay_dead_letters))
        .with(route!(replay_dead_letter))
        .merge(crate::routes::media::admin_routes())
        .merge(crate::routes::dashboard::admin_routes())
        .merge(crate::routes::invoices::admin_routes())
        .merge(crate::routes::labels::admin_routes())
        .merge(crate::routes::reports::admin_routes())
        .merge(crate::routes::admin_search::routes())
        .merge(crate::routes::returns::admin_routes())
        .merge(crate::routes::shop::admin_routes())
}

/// Middleware: a valid access token of someone who may use the part of the admin the path
/// belongs to ([`area_of`], [`vitrine_app::auth::Principal::may`]), or 401/403.
pub async fn require_admin(
    State(s): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, Problem> {
    let (mut parts, body) = req.into_parts();
    let Auth(p) =
        <Auth as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &s)
            .await?;
    let area = area_of(parts.uri.path());
    if !p.may(area) {
        return Err(Problem::forbidden_for(area));
    }
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The part of the admin a path under `/api/v1/admin/` belongs to, by its first segment: the
/// catalog's (products, categories, stock, coupons), the orders' (with their invoices,
/// refunds and returns), the dashboard and the fiscal status (every member of staff), or the owner's
/// (everything else: events, reports, metrics, and any route added without a place here).
pub fn area_of(path: &str) -> StaffArea {
    let rest = path.strip_prefix("/api/v1/admin/").unwrap_or("");
    match rest.split('/').next().unwrap_or("") {
        "products" | "categories" | "stock" | "stock-low" | "coupons" => StaffArea::Catalog,
        "orders" | "customers" | "returns" => StaffArea::Orders,
        // The dashboard, and how invoices are issued (read only): what all staff work from.
        "dashboard" | "fiscal" => StaffArea::Shared,
        _ => StaffArea::Owner,
    }
}

type Etagged<T> = ([(HeaderName, String); 1], axum::Json<T>);

fn parse_sku(s: &str) -> Result<Sku, Problem> {
    Sku::parse(s).map_err(|m| Problem::validation(vec![FieldError::new("sku", m)]))
}

/// Every product, active or not.
#[utoipa::path(get, path = "/products", tag = "admin", params(ProductListParams), responses((status = 200, body = ProductListDto)), security(("bearer" = [])))]
async fn list_products(
    State(s): State<AppState>,
    Query(p): Query<ProductListParams>,
) -> ApiResult<axum::Json<ProductListDto>> {
    Ok(axum::Json(
        product_list(&s.app, &product_query(p, true)?).await?,
    ))
}

/// Create a product with its variants (and their initial stock).
#[utoipa::path(post, path = "/products", tag = "admin", request_body = ProductInput,
    responses((status = 201, body = ProductDto), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn create_product(
    State(s): State<AppState>,
    Json(i): Json<ProductInput>,
) -> ApiResult<(StatusCode, Etagged<ProductDto>)> {
    let (draft, stock) = i.into_draft();
    let p = s.app.create_product(draft, &stock).await?;
    Ok((
        StatusCode::CREATED,
        (
            [etag(p.version)],
            axum::Json(ProductDto::from_product(&p, None)),
        ),
    ))
}

/// A product with live stock, and its ETag.
#[utoipa::path(get, path = "/products/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = ProductDto), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn get_product(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Etagged<ProductDto>> {
    let v = s.app.product(&id, true).await?;
    Ok((
        [etag(v.product.version)],
        axum::Json(ProductDto::from_view(&v)),
    ))
}

/// Replace a product. Needs `If-Match` with the ETag last read; 412 if it changed since.
#[utoipa::path(put, path = "/products/{id}", tag = "admin", request_body = ProductInput,
    params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = ProductDto), (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn update_product(
    State(s): State<AppState>,
    Path(id): Path<String>,
    version: IfMatch,
    Json(i): Json<ProductInput>,
) -> ApiResult<Etagged<ProductDto>> {
    let version = version.required()?;
    let (draft, stock) = i.into_draft();
    let p = s.app.update_product(&id, draft, version, &stock).await?;
    Ok((
        [etag(p.version)],
        axum::Json(ProductDto::from_product(&p, None)),
    ))
}

/// A SKU's stock.
#[utoipa::path(get, path = "/stock/{sku}", tag = "admin", params(("sku" = String, Path)),
    responses((status = 200, body = StockDto), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn get_stock(
    State(s): State<AppState>,
    Path(sku): Path<String>,
) -> ApiResult<axum::Json<StockDto>> {
    let sku = parse_sku(&sku)?;
    let available = s
        .app
        .available(&sku)
        .await?
        .ok_or(AppError::NotFound("SKU"))?;
    Ok(axum::Json(StockDto {
        sku: sku.to_string(),
        available,
    }))
}

/// Add or remove units of a SKU.
#[utoipa::path(post, path = "/stock/{sku}/adjustments", tag = "admin", request_body = StockAdjustment, params(("sku" = String, Path)),
    responses((status = 200, body = StockDto), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn adjust_stock(
    State(s): State<AppState>,
    Path(sku): Path<String>,
    Json(i): Json<StockAdjustment>,
) -> ApiResult<axum::Json<StockDto>> {
    let sku = parse_sku(&sku)?;
    let available = s.app.adjust_stock(&sku, i.delta, &i.reason).await?;
    Ok(axum::Json(StockDto {
        sku: sku.to_string(),
        available,
    }))
}

/// SKUs at or below the low-stock threshold.
#[utoipa::path(get, path = "/stock-low", tag = "admin", responses((status = 200, body = Vec<StockDto>)), security(("bearer" = [])))]
async fn low_stock(State(s): State<AppState>) -> ApiResult<axum::Json<Vec<StockDto>>> {
    let low = s.app.low_stock().await?;
    Ok(axum::Json(
        low.into_iter()
            .map(|(sku, available)| StockDto {
                sku: sku.to_string(),
                available,
            })
            .collect(),
    ))
}

/// Create a category.
#[utoipa::path(post, path = "/categories", tag = "admin", request_body = CategoryInput,
    responses((status = 201, body = CategoryDto), (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn create_category(
    State(s): State<AppState>,
    Json(i): Json<CategoryInput>,
) -> ApiResult<(StatusCode, axum::Json<CategoryDto>)> {
    let c = s
        .app
        .create_category(&i.name, i.slug, i.parent_id, i.position)
        .await?;
    Ok((StatusCode::CREATED, axum::Json((&c).into())))
}

/// Rename or move a category (its slug stays). Needs `If-Match` with its `version`.
#[utoipa::path(put, path = "/categories/{id}", tag = "admin", request_body = CategoryInput, params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = CategoryDto), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"), (status = 428, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn update_category(
    State(s): State<AppState>,
    Path(id): Path<String>,
    version: IfMatch,
    Json(i): Json<CategoryInput>,
) -> ApiResult<Etagged<CategoryDto>> {
    let version = version.required()?;
    let c = s
        .app
        .update_category(&id, &i.name, i.parent_id, i.position, version)
        .await?;
    Ok(([etag(c.version)], axum::Json((&c).into())))
}

/// Every coupon.
#[utoipa::path(get, path = "/coupons", tag = "admin", responses((status = 200, body = Vec<CouponDto>)), security(("bearer" = [])))]
async fn list_coupons(State(s): State<AppState>) -> ApiResult<axum::Json<Vec<CouponDto>>> {
    Ok(axum::Json(
        s.app.coupons().await?.iter().map(Into::into).collect(),
    ))
}

/// Create a coupon.
#[utoipa::path(post, path = "/coupons", tag = "admin", request_body = CouponInput,
    responses((status = 201, body = CouponDto), (status = 409, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn create_coupon(
    State(s): State<AppState>,
    Json(i): Json<CouponInput>,
) -> ApiResult<(StatusCode, Etagged<CouponDto>)> {
    let c = s
        .app
        .create_coupon(i.into_coupon().map_err(Problem::validation)?)
        .await?;
    Ok((
        StatusCode::CREATED,
        ([etag(c.version)], axum::Json((&c).into())),
    ))
}

/// A coupon and its ETag.
#[utoipa::path(get, path = "/coupons/{code}", tag = "admin", params(("code" = String, Path)),
    responses((status = 200, body = CouponDto), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn get_coupon(
    State(s): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Etagged<CouponDto>> {
    let c = s.app.coupon(&code).await?;
    Ok(([etag(c.version)], axum::Json((&c).into())))
}

/// Replace a coupon's terms. Needs `If-Match`.
#[utoipa::path(put, path = "/coupons/{code}", tag = "admin", request_body = CouponInput, params(("code" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = CouponDto), (status = 412, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn update_coupon(
    State(s): State<AppState>,
    Path(code): Path<String>,
    version: IfMatch,
    Json(i): Json<CouponInput>,
) -> ApiResult<Etagged<CouponDto>> {
    let version = version.required()?;
    let c = s
        .app
        .update_coupon(
            &code,
            i.into_coupon().map_err(Problem::validation)?,
            version,
        )
        .await?;
    Ok(([etag(c.version)], axum::Json((&c).into())))
}

/// Any order, with its ETag.
#[utoipa::path(get, path = "/orders/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn get_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<Etagged<OrderDto>> {
    let o = s.app.order_for(&p, &id).await?;
    Ok(([etag(o.version)], axum::Json((&o).into())))
}

async fn move_order(
    s: &AppState,
    id: &str,
    version: IfMatch,
    mv: OrderMove,
) -> ApiResult<Etagged<OrderDto>> {
    let o = s.app.move_order(id, version.0, mv).await?;
    Ok(([etag(o.version)], axum::Json((&o).into())))
}

/// Ship an invoiced order with the carrier's tracking code. `If-Match` optional.
#[utoipa::path(post, path = "/orders/{id}/ship", tag = "admin", request_body = ShipInput, params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn ship_order(
    State(s): State<AppState>,
    Path(id): Path<String>,
    v: IfMatch,
    Json(i): Json<ShipInput>,
) -> ApiResult<Etagged<OrderDto>> {
    move_order(
        &s,
        &id,
        v,
        OrderMove::Ship {
            tracking_code: i.tracking_code,
        },
    )
    .await
}

/// Cancel an order: unpaid ones give their stock back, paid ones are also refunded.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "admin", request_body = CancelInput, params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn cancel_order(
    State(s): State<AppState>,
    Path(id): Path<String>,
    v: IfMatch,
    Json(i): Json<CancelInput>,
) -> ApiResult<Etagged<OrderDto>> {
    let reason = if i.reason.trim().is_empty() {
        "cancelled by the shop".to_owned()
    } else {
        i.reason
    };
    move_order(&s, &id, v, OrderMove::Cancel { reason }).await
}

/// Record a payment received outside the payment providers (bank transfer, cash).
#[utoipa::path(post, path = "/orders/{id}/mark-paid", tag = "admin", request_body = MarkPaidInput, params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn mark_paid(
    State(s): State<AppState>,
    Path(id): Path<String>,
    v: IfMatch,
    Json(i): Json<MarkPaidInput>,
) -> ApiResult<Etagged<OrderDto>> {
    let reference = i.reference.trim();
    if reference.is_empty() || reference.chars().count() > 80 {
        return Err(Problem::validation(vec![FieldError::new(
            "reference",
            "1 to 80 characters",
        )]));
    }
    move_order(
        &s,
        &id,
        v,
        OrderMove::MarkPaid {
            reference: reference.to_owned(),
        },
    )
    .await
}

/// Mark a shipped order as delivered.
#[utoipa::path(post, path = "/orders/{id}/deliver", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn deliver_order(
    State(s): State<AppState>,
    Path(id): Path<String>,
    v: IfMatch,
) -> ApiResult<Etagged<OrderDto>> {
    move_order(&s, &id, v, OrderMove::Deliver).await
}

/// Event delivery: the outbox, each subscriber's queue, and the dead letters.
#[utoipa::path(get, path = "/events", tag = "admin", responses((status = 200, body = EventsDto)), security(("bearer" = [])))]
async fn events(State(s): State<AppState>) -> ApiResult<axum::Json<EventsDto>> {
    Ok(axum::Json(EventsDto {
        outbox: s.app.outbox_len().await?,
        queues: s
            .app
            .event_queues()
            .await?
            .into_iter()
            .map(|q| QueueDto {
                subscriber: q.subscriber,
                pending: q.pending,
                dead: q.dead,
            })
            .collect(),
        dead_letters: s
            .app
            .dead_letters(None)
            .await?
            .into_iter()
            .map(|d| DeadLetterDto {
                subscriber: d.subscriber,
                event_id: d.event_id,
                event_type: d.event_type,
                subject: d.subject,
                attempts: d.attempts,
                last_error: d.last_error,
            })
            .collect(),
    }))
}

/// Put every dead letter (of one subscriber, or all) back in its queue, to be delivered again.
#[utoipa::path(post, path = "/events/dead-letters/replay", tag = "admin", params(ReplayParams),
    responses((status = 200, body = ReplayedDto), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn replay_dead_letters(
    State(s): State<AppState>,
    Query(p): Query<ReplayParams>,
) -> ApiResult<axum::Json<ReplayedDto>> {
    let replayed = s.app.replay_dead_letters(p.subscriber.as_deref()).await?;
    Ok(axum::Json(ReplayedDto { replayed }))
}

/// Put one dead letter back in its queue.
#[utoipa::path(post, path = "/events/dead-letters/{subscriber}/{event_id}/replay", tag = "admin",
    params(("subscriber" = String, Path), ("event_id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn replay_dead_letter(
    State(s): State<AppState>,
    Path((subscriber, event_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.app.replay_dead_letter(&subscriber, &event_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give back part of a paid order's money through the provider that took it (the whole of it:
/// cancel the order instead). Made by the `payments` consumer; the payment lists it, with the
/// provider's reference once made.
#[utoipa::path(post, path = "/orders/{id}/refunds", tag = "admin", request_body = RefundInput, params(("id" = String, Path)),
    responses((status = 202, body = PaymentDto, description = "recorded; the provider is asked next"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "not a confirmed payment, or more than is left")),
    security(("bearer" = [])))]
async fn refund_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(i): Json<RefundInput>,
) -> ApiResult<(StatusCode, axum::Json<PaymentDto>)> {
    let payment = s
        .app
        .request_refund(
            &id,
            vitrine_domain::Money::from_centavos(i.amount_centavos),
            &i.reason,
        )
        .await?;
    let order = s.app.order_for(&p, &id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(PaymentDto::new(&payment, order.total)),
    ))
}
