//! The shop's look (`vitrine_app::shop`): read by everyone (`GET /api/v1/shop`, and
//! `GET /api/v1/shop/look.css`, the stylesheet the pages link), set by the owner under
//! `/api/v1/admin/shop` (the owner's area: `area_of` gives it no other place). See docs/web.md.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{IntoResponse, Response};
use vitrine_app::shop::MAX_LOGO_BYTES;

use crate::dto::{ShopDto, ShopInput};
use crate::extract::{IfMatch, Json, etag};
use crate::problem::{ApiResult, Problem};
use crate::route_table::{RouteTable, route};
use crate::routes::media::image_body;
use crate::state::AppState;

/// How long browsers and the CDN may keep the look (the app's own cache is as old at most as
/// `catalog_cache_secs`).
const CACHE_CONTROL: &str = "public, max-age=60";

/// Routes under `/api/v1`.
pub fn routes() -> RouteTable {
    RouteTable::new().with(route!(shop)).with(route!(look_css))
}

/// Routes under `/api/v1/admin`.
pub fn admin_routes() -> RouteTable {
    RouteTable::new()
        .with(route!(admin_shop, update_shop))
        .with(route!(set_logo, remove_logo))
}

type Etagged = ([(HeaderName, String); 1], axum::Json<ShopDto>);

fn etagged(look: &vitrine_domain::shop::Look) -> Etagged {
    ([etag(look.version)], axum::Json(ShopDto::from(look)))
}

/// The shop's name, description, logo, colours and contact.
#[utoipa::path(get, path = "/shop", tag = "catalog", responses((status = 200, body = ShopDto)))]
async fn shop(State(s): State<AppState>) -> ApiResult<Response> {
    let look = s.app.shop_look().await?;
    Ok((
        [(header::CACHE_CONTROL, CACHE_CONTROL)],
        axum::Json(ShopDto::from(&*look)),
    )
        .into_response())
}

/// The stylesheet of the shop's colours: the custom properties `site.css` reads.
#[utoipa::path(get, path = "/shop/look.css", tag = "catalog", responses((status = 200, content_type = "text/css", body = String)))]
async fn look_css(State(s): State<AppState>) -> ApiResult<Response> {
    let look = s.app.shop_look().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        look.stylesheet(),
    )
        .into_response())
}

/// The look as stored now, with its version as the ETag to send back in `If-Match`.
#[utoipa::path(get, path = "/shop", tag = "admin", responses((status = 200, body = ShopDto)), security(("bearer" = [])))]
async fn admin_shop(State(s): State<AppState>) -> ApiResult<Etagged> {
    Ok(etagged(&s.app.shop_look_for_edit().await?))
}

/// Set the name, description, colours and contact (the logo is kept).
#[utoipa::path(put, path = "/shop", tag = "admin",
    params(("If-Match" = String, Header, description = "the ETag of the look read (\"0\" before the first save)")),
    request_body = ShopInput,
    responses((status = 200, body = ShopDto),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "a field that cannot be used; a colour too light to read on white"),
        (status = 428, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn update_shop(
    State(s): State<AppState>,
    version: IfMatch,
    Json(input): Json<ShopInput>,
) -> ApiResult<Etagged> {
    let version = version.required()?;
    let look = s.app.update_shop_look(&input.into(), version).await?;
    Ok(etagged(&look))
}

/// Set the logo: the image as the body (PNG, JPEG, WebP or AVIF, at most 1 MiB).
#[utoipa::path(put, path = "/shop/logo", tag = "admin",
    params(("If-Match" = String, Header)),
    request_body(content = Vec<u8>, content_type = "image/png", description = "the logo's bytes: image/png, image/jpeg, image/webp or image/avif"),
    responses((status = 200, body = ShopDto),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "the bytes are not the declared kind of image"),
        (status = 428, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn set_logo(
    State(s): State<AppState>,
    version: IfMatch,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Etagged> {
    let (kind, bytes) = image_body(&headers, body, MAX_LOGO_BYTES).await?;
    let version = version.required()?;
    let look = s.app.set_shop_logo(kind, bytes, version).await?;
    Ok(etagged(&look))
}

/// Show the shop's name in text again.
#[utoipa::path(delete, path = "/shop/logo", tag = "admin",
    params(("If-Match" = String, Header)),
    responses((status = 200, body = ShopDto),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn remove_logo(State(s): State<AppState>, version: IfMatch) -> ApiResult<Etagged> {
    let version = version.required()?;
    Ok(etagged(&s.app.remove_shop_logo(version).await?))
}
