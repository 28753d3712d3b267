//! Checkout and the customer's orders.

use crate::route_table::{RouteTable, route};
use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode, header};
use vitrine_app::checkout::{CheckoutInput, Destination};
use vitrine_domain::cart::{CartLine, Quantity};
use vitrine_domain::{DomainError, FieldError};

use crate::dto::{CheckoutInputDto, OrderDto, OrderListDto, PageParams};
use crate::extract::{Auth, IdempotencyKey, Json, Query};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(place_order, list_orders))
        .with(route!(get_order))
        .with(route!(cancel_order))
}

impl TryFrom<CheckoutInputDto> for CheckoutInput {
    type Error = Problem;

    fn try_from(i: CheckoutInputDto) -> Result<Self, Problem> {
        let mut errors = Vec::new();
        let items = i.items.map(|items| {
            items
                .into_iter()
                .enumerate()
                .filter_map(|(n, it)| match Quantity::parse(it.quantity) {
                    Ok(quantity) => Some(CartLine {
                        sku: it.sku,
                        quantity,
                    }),
                    Err(DomainError::Invalid(fields)) => {
                        errors.extend(fields.into_iter().map(|f| {
                            FieldError::new(format!("items[{n}].{}", f.field), f.message)
                        }));
                        None
                    }
                    Err(other) => {
                        errors.push(FieldError::new(
                            format!("items[{n}].quantity"),
                            other.to_string(),
                        ));
                        None
                    }
                })
                .collect()
        });
        let destination = match (i.shipping_address, i.address_id) {
            (Some(a), None) => Some(Destination::Address(a.into())),
            (None, Some(id)) => Some(Destination::Saved(id)),
            _ => {
                errors.push(FieldError::new(
                    "shipping_address",
                    "give either shipping_address or address_id",
                ));
                None
            }
        };
        match destination {
            Some(destination) if errors.is_empty() => Ok(CheckoutInput {
                items,
                destination,
                shipping_method: i.shipping_method,
                coupon: i.coupon,
                payment_method: i.payment_method,
                tax_id: i.tax_id,
            }),
            _ => Err(Problem::validation(errors)),
        }
    }
}

/// Place an order from the cart (or from `items`). Retrying with the same `Idempotency-Key` and
/// body returns the same order; the same key with another body is a 422.
#[utoipa::path(post, path = "/orders", tag = "orders", request_body = CheckoutInputDto,
    params(("Idempotency-Key" = String, Header, description = "unique per checkout attempt")),
    responses((status = 201, body = OrderDto, description = "placed"), (status = 200, body = OrderDto, description = "placed earlier with this key"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "out of stock"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn place_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    IdempotencyKey(key): IdempotencyKey,
    Json(i): Json<CheckoutInputDto>,
) -> ApiResult<(StatusCode, [(HeaderName, String); 1], axum::Json<OrderDto>)> {
    let input = CheckoutInput::try_from(i)?;
    let placed = s.app.place_order(&p, input, &key).await?;
    let status = if placed.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let location = format!("/api/v1/orders/{}", placed.order.id);
    Ok((
        status,
        [(header::LOCATION, location)],
        axum::Json((&placed.order).into()),
    ))
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders", params(PageParams), responses((status = 200, body = OrderListDto)), security(("bearer" = [])))]
async fn list_orders(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<PageParams>,
) -> ApiResult<axum::Json<OrderListDto>> {
    let page = s.app.my_orders(&p, q.limit.unwrap_or(20), q.after).await?;
    Ok(axum::Json(OrderListDto {
        items: page.items.iter().map(Into::into).collect(),
        next: page.next,
    }))
}

/// One of the caller's orders (someone else's is a 404).
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn get_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OrderDto>> {
    Ok(axum::Json((&s.app.order_for(&p, &id).await?).into()))
}

/// Cancel one of the caller's unpaid orders; its stock goes back.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders", params(("id" = String, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn cancel_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<OrderDto>> {
    Ok(axum::Json((&s.app.cancel_my_order(&p, &id).await?).into()))
}
