//! Withdrawal and returns (CDC art. 49): the buyer opens a return within 7 days of delivery;
//! the orders staff receive, approve (refund) or refuse it. See docs/returns.md.

use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode, header};
use vitrine_app::returns::ReturnStep;
use vitrine_domain::returns::ReturnWanted;

use crate::dto::{
    OrderDto, PageParams, RefuseReturnInput, ReturnEntryDto, ReturnInput, ReturnListDto,
};
use crate::extract::{Auth, IfMatch, Json, Query, etag};
use crate::problem::{ApiResult, Problem};
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// The buyer's route, under `/api/v1`.
pub fn routes() -> RouteTable {
    RouteTable::new().with(route!(request_return))
}

/// The staff's routes, under `/api/v1/admin` (the orders area: `area_of`).
pub fn admin_routes() -> RouteTable {
    RouteTable::new()
        .with(route!(list_returns))
        .with(route!(receive_return))
        .with(route!(approve_return))
        .with(route!(refuse_return))
}

type Etagged<T> = ([(HeaderName, String); 1], axum::Json<T>);

/// Withdraw from (part of) a delivered order within 7 days of its delivery (CDC art. 49):
/// the lines and quantities to return, and a reason. After the period: 422.
#[utoipa::path(post, path = "/orders/{id}/returns", tag = "orders", request_body = ReturnInput, params(("id" = String, Path)),
    responses((status = 201, body = OrderDto, description = "the order with its new return"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "not delivered, the 7 days are over, or lines that cannot be returned")),
    security(("bearer" = [])))]
async fn request_return(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    Json(i): Json<ReturnInput>,
) -> ApiResult<(StatusCode, [(HeaderName, String); 1], axum::Json<OrderDto>)> {
    let wanted: Vec<ReturnWanted> = i
        .lines
        .into_iter()
        .map(|l| ReturnWanted {
            sku: l.sku,
            quantity: l.quantity,
        })
        .collect();
    let order = s.app.request_return(&p, &id, &wanted, &i.reason).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/orders/{}", order.id))],
        axum::Json((&order).into()),
    ))
}

/// Every return: open ones (requested, received) first, oldest request first; then decided ones.
#[utoipa::path(get, path = "/returns", tag = "admin", params(PageParams), responses((status = 200, body = ReturnListDto)), security(("bearer" = [])))]
async fn list_returns(
    State(s): State<AppState>,
    Query(q): Query<PageParams>,
) -> ApiResult<axum::Json<ReturnListDto>> {
    let page = s.app.returns_page(q.limit.unwrap_or(50), q.after).await?;
    Ok(axum::Json(ReturnListDto {
        items: page.items.iter().map(ReturnEntryDto::from).collect(),
        next: page.next,
    }))
}

async fn step(
    s: &AppState,
    id: &str,
    rid: &str,
    v: IfMatch,
    step: ReturnStep,
) -> ApiResult<Etagged<OrderDto>> {
    let o = s.app.move_return(id, rid, v.0, step).await?;
    Ok(([etag(o.version)], axum::Json((&o).into())))
}

/// The returned goods arrived: their units go back to stock (once). `If-Match` optional.
#[utoipa::path(post, path = "/orders/{id}/returns/{rid}/receive", tag = "admin", params(("id" = String, Path), ("rid" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "not a requested return")),
    security(("bearer" = [])))]
async fn receive_return(
    State(s): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    v: IfMatch,
) -> ApiResult<Etagged<OrderDto>> {
    step(&s, &id, &rid, v, ReturnStep::Receive).await
}

/// Approve a received return: its amount is refunded through the payment provider (a partial
/// refund of the order's payment, once). `If-Match` optional.
#[utoipa::path(post, path = "/orders/{id}/returns/{rid}/approve", tag = "admin", params(("id" = String, Path), ("rid" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "not received yet, already decided, or nothing to refund through the store")),
    security(("bearer" = [])))]
async fn approve_return(
    State(s): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    v: IfMatch,
) -> ApiResult<Etagged<OrderDto>> {
    step(&s, &id, &rid, v, ReturnStep::Approve).await
}

/// Refuse an open return with a reason; units already received leave stock again.
/// `If-Match` optional.
#[utoipa::path(post, path = "/orders/{id}/returns/{rid}/refuse", tag = "admin", request_body = RefuseReturnInput, params(("id" = String, Path), ("rid" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "the received units were sold meanwhile"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "already decided, or no reason")),
    security(("bearer" = [])))]
async fn refuse_return(
    State(s): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    v: IfMatch,
    Json(i): Json<RefuseReturnInput>,
) -> ApiResult<Etagged<OrderDto>> {
    step(&s, &id, &rid, v, ReturnStep::Refuse { reason: i.reason }).await
}
