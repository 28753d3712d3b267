//! An order's shipping label, bought from the store's carrier by the admin (orders area):
//! `vitrine_app::labels` holds the rules (one purchase per order, the claim, its release).

use axum::extract::{Path, State};

use crate::dto::{LabelDto, LabelViewDto};
use crate::extract::Auth;
use crate::problem::ApiResult;
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes for the admin router (nested under `/api/v1/admin`).
pub fn admin_routes() -> RouteTable {
    RouteTable::new()
        .with(route!(get_label, buy_label))
        .with(route!(release_label_claim))
}

/// The order's label, if one was bought or is being bought, and whether the store's carrier
/// sells labels at all.
#[utoipa::path(get, path = "/orders/{id}/label", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = LabelViewDto),
        (status = 404, body = crate::problem::Problem, content_type = "application/problem+json", description = "no such order")),
    security(("bearer" = [])))]
async fn get_label(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<LabelViewDto>> {
    Ok(axum::Json(LabelViewDto::from(
        &s.app.shipping_label(&id).await?,
    )))
}

/// Buy the order's label from the carrier (money is spent: at most one per order, whoever
/// clicks and however often). With a tracking code, an invoiced order is shipped with it.
#[utoipa::path(post, path = "/orders/{id}/label", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = LabelDto),
        (status = 409, body = crate::problem::Problem, content_type = "application/problem+json", description = "the order has a label, or one is being bought"),
        (status = 422, body = crate::problem::Problem, content_type = "application/problem+json", description = "the store ships by its own rate table, the order is not paid or invoiced, or the carrier refused (its message in `detail`)"),
        (status = 503, body = crate::problem::Problem, content_type = "application/problem+json", description = "the carrier did not answer: the purchase stays claimed until an admin checks the carrier's panel and releases it")),
    security(("bearer" = [])))]
async fn buy_label(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<LabelDto>> {
    let label = s.app.buy_shipping_label(&p, &id).await?;
    Ok(axum::Json(LabelDto::from(&label)))
}

/// Release a purchase claim whose end nobody heard (the carrier did not answer, or the process
/// stopped mid-call), after checking the carrier's panel: allowed at once when the call is
/// known to have ended, else 10 minutes after the claim.
#[utoipa::path(post, path = "/orders/{id}/label/release", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = LabelViewDto),
        (status = 409, body = crate::problem::Problem, content_type = "application/problem+json", description = "the purchase may still be under way"),
        (status = 422, body = crate::problem::Problem, content_type = "application/problem+json", description = "no purchase claim to release")),
    security(("bearer" = [])))]
async fn release_label_claim(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<LabelViewDto>> {
    Ok(axum::Json(LabelViewDto::from(
        &s.app.release_label_claim(&p, &id).await?,
    )))
}
