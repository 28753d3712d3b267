//! The cart: a signed-in customer's, or an anonymous one named by `X-Cart-Token`; and the
//! link in a cart reminder that turns the reminders off.

use crate::route_table::{RouteTable, route};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vitrine_app::cart::CartOwner;
use vitrine_domain::cart::Quantity;
use vitrine_domain::catalog::Sku;

use crate::dto::{CartDto, CartItemInput, CartRemindersOffInput, MergeInput, QuantityInput};
use crate::extract::{Auth, CartToken, Json, MaybeAuth};
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(get_cart))
        .with(route!(add_item))
        .with(route!(set_item, remove_item))
        .with(route!(merge))
        .with(route!(cart_reminders_off))
}

/// Whose cart a request addresses: the signed-in customer's wins over a token.
fn owner(auth: MaybeAuth, token: CartToken) -> Option<CartOwner> {
    match (auth.0, token.0) {
        (Some(p), _) => Some(CartOwner::Customer(p.sub)),
        (None, Some(t)) => Some(CartOwner::Anonymous(t)),
        (None, None) => None,
    }
}

fn parse_sku(s: &str) -> Result<Sku, Problem> {
    Sku::parse(s).map_err(|m| Problem::validation(vec![vitrine_domain::FieldError::new("sku", m)]))
}

/// The cart, priced from the current catalog.
#[utoipa::path(get, path = "/cart", tag = "cart", params(("X-Cart-Token" = Option<String>, Header, description = "anonymous cart token")),
    responses((status = 200, body = CartDto), (status = 404, body = Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
async fn get_cart(
    State(s): State<AppState>,
    auth: MaybeAuth,
    token: CartToken,
) -> ApiResult<axum::Json<CartDto>> {
    match owner(auth, token) {
        Some(o) => Ok(axum::Json(s.app.cart(&o).await?.into())),
        None => Ok(axum::Json(CartDto {
            token: None,
            lines: vec![],
            currency: crate::dto::CURRENCY,
            subtotal_centavos: 0,
            weight_g: 0,
            parcel: crate::dto::ParcelDto::from(vitrine_app::shipping::parcel_of(&[])),
        })),
    }
}

/// Add units of a SKU. Without a token or a session, a new anonymous cart is created and its
/// token returned.
#[utoipa::path(post, path = "/cart/items", tag = "cart", request_body = CartItemInput,
    params(("X-Cart-Token" = Option<String>, Header, description = "anonymous cart token")),
    responses((status = 200, body = CartDto), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
async fn add_item(
    State(s): State<AppState>,
    auth: MaybeAuth,
    token: CartToken,
    Json(i): Json<CartItemInput>,
) -> ApiResult<axum::Json<CartDto>> {
    let quantity = Quantity::parse(i.quantity).map_err(vitrine_app::AppError::from)?;
    Ok(axum::Json(
        s.app
            .add_to_cart(owner(auth, token), i.sku, quantity)
            .await?
            .into(),
    ))
}

/// Set a line's quantity (0 removes it).
#[utoipa::path(put, path = "/cart/items/{sku}", tag = "cart", request_body = QuantityInput,
    params(("sku" = String, Path), ("X-Cart-Token" = Option<String>, Header, description = "anonymous cart token")),
    responses((status = 200, body = CartDto), (status = 404, body = Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
async fn set_item(
    State(s): State<AppState>,
    auth: MaybeAuth,
    token: CartToken,
    Path(sku): Path<String>,
    Json(i): Json<QuantityInput>,
) -> ApiResult<axum::Json<CartDto>> {
    let sku = parse_sku(&sku)?;
    let quantity = if i.quantity == 0 {
        None
    } else {
        Some(Quantity::parse(i.quantity).map_err(vitrine_app::AppError::from)?)
    };
    let owner = owner(auth, token).ok_or_else(|| Problem::not_found("cart"))?;
    Ok(axum::Json(
        s.app.set_cart_quantity(owner, sku, quantity).await?.into(),
    ))
}

/// Remove a line.
#[utoipa::path(delete, path = "/cart/items/{sku}", tag = "cart",
    params(("sku" = String, Path), ("X-Cart-Token" = Option<String>, Header, description = "anonymous cart token")),
    responses((status = 200, body = CartDto), (status = 404, body = Problem, content_type = "application/problem+json")), security((), ("bearer" = [])))]
async fn remove_item(
    State(s): State<AppState>,
    auth: MaybeAuth,
    token: CartToken,
    Path(sku): Path<String>,
) -> ApiResult<axum::Json<CartDto>> {
    let sku = parse_sku(&sku)?;
    let owner = owner(auth, token).ok_or_else(|| Problem::not_found("cart"))?;
    Ok(axum::Json(s.app.remove_from_cart(owner, sku).await?.into()))
}

/// Merge an anonymous cart into the signed-in customer's cart (the anonymous cart is deleted).
#[utoipa::path(post, path = "/cart/merge", tag = "cart", request_body = MergeInput,
    responses((status = 200, body = CartDto), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no anonymous cart with this token")), security(("bearer" = [])))]
async fn merge(
    State(s): State<AppState>,
    Auth(p): Auth,
    Json(i): Json<MergeInput>,
) -> ApiResult<axum::Json<CartDto>> {
    Ok(axum::Json(
        s.app.merge_cart(&p.sub, &i.cart_token).await?.into(),
    ))
}

/// Turn off the cart reminders of the customer the token names: the link in a reminder e-mail
/// opens a storefront page that asks, and its button sends this. No sign-in; a token the store
/// did not sign is refused (422 on `token`).
#[utoipa::path(post, path = "/cart-reminders/off", tag = "cart", request_body = CartRemindersOffInput,
    responses((status = 204, description = "the reminders are off"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "not a link the store made")))]
async fn cart_reminders_off(
    State(s): State<AppState>,
    Json(i): Json<CartRemindersOffInput>,
) -> ApiResult<StatusCode> {
    s.app.cart_reminders_off_by_link(&i.token).await?;
    Ok(StatusCode::NO_CONTENT)
}
