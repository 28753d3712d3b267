//! Public catalog: products, categories, shipping quotes.

use crate::route_table::{RouteTable, route};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use vitrine_app::App;
use vitrine_app::auth::StaffArea;
use vitrine_app::catalog::{ProductQuery, ProductSort};
use vitrine_domain::{FieldError, Money};

use crate::dto::{
    CategoryDto, FacetsDto, ProductDto, ProductListDto, ProductListParams, QuoteDto, QuoteParams,
};
use crate::extract::{MaybeAuth, Query};
use crate::problem::Problem as P;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;

pub fn routes() -> RouteTable {
    RouteTable::new()
        .with(route!(list_products))
        .with(route!(get_product))
        .with(route!(list_categories))
        .with(route!(shipping_quote))
}

pub(crate) fn product_query(
    p: ProductListParams,
    include_inactive: bool,
) -> Result<ProductQuery, Problem> {
    let mut errors = Vec::new();
    let words = p.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let sort = match p.sort.as_deref() {
        None if words => ProductSort::Relevance,
        None | Some("newest") => ProductSort::Newest,
        Some("relevance") => ProductSort::Relevance,
        Some("price_asc") => ProductSort::PriceAsc,
        Some("price_desc") => ProductSort::PriceDesc,
        Some("name") => ProductSort::Name,
        Some(_) => {
            errors.push(FieldError::new(
                "sort",
                "sort is relevance, newest, price_asc, price_desc or name",
            ));
            ProductSort::Newest
        }
    };
    let limit = p.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        errors.push(FieldError::new("limit", "limit is between 1 and 100"));
    }
    for (name, v) in [
        ("min_price_centavos", p.min_price_centavos),
        ("max_price_centavos", p.max_price_centavos),
    ] {
        if v.is_some_and(|v| v < 0) {
            errors.push(FieldError::new(name, "prices are not negative"));
        }
    }
    if p.q.as_ref().is_some_and(|q| q.chars().count() > 100) {
        errors.push(FieldError::new("q", "at most 100 characters"));
    }
    let mut options = Vec::new();
    for pair in p.options.as_deref().unwrap_or("").split(';') {
        if pair.trim().is_empty() {
            continue;
        }
        match pair.split_once(':') {
            Some((n, v)) if !n.trim().is_empty() && !v.trim().is_empty() => {
                options.push((n.trim().to_owned(), v.trim().to_owned()));
            }
            _ => errors.push(FieldError::new(
                "options",
                format!("{pair:?} is not name:value (as cor:azul)"),
            )),
        }
    }
    if !options.is_empty() && !words {
        errors.push(FieldError::new(
            "options",
            "option filters narrow a search with words: give q as well",
        ));
    }
    if options.len() > 20 {
        errors.push(FieldError::new("options", "at most 20 option filters"));
    }
    if !errors.is_empty() {
        return Err(P::validation(errors));
    }
    Ok(ProductQuery {
        options,
        category: p.category,
        min_price: p.min_price_centavos.map(Money::from_centavos),
        max_price: p.max_price_centavos.map(Money::from_centavos),
        text: p.q,
        sort,
        limit,
        after: p.after,
        include_inactive,
    })
}

/// A page of products as the API answers it: a search with words (`q`) carries its total and
/// facets; a listing does not.
pub(crate) async fn product_list(app: &App, q: &ProductQuery) -> ApiResult<ProductListDto> {
    let dtos = |items: &[std::sync::Arc<vitrine_domain::catalog::Product>]| {
        items
            .iter()
            .map(|p| ProductDto::from_product(p, None))
            .collect()
    };
    if q.text.as_deref().is_some_and(|t| !t.trim().is_empty()) {
        let page = app.search_products(q).await?;
        Ok(ProductListDto {
            items: dtos(&page.items),
            next: page.next.clone(),
            total: Some(page.total),
            facets: Some(FacetsDto::from_search(&page)),
        })
    } else {
        let page = app.list_products(q).await?;
        Ok(ProductListDto {
            items: dtos(&page.items),
            next: page.next,
            total: None,
            facets: None,
        })
    }
}

/// List products, with filters, sort and cursor pagination.
#[utoipa::path(get, path = "/products", tag = "catalog", params(ProductListParams),
    responses((status = 200, body = ProductListDto), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn list_products(
    State(s): State<AppState>,
    uri: axum::http::Uri,
    Query(p): Query<ProductListParams>,
) -> ApiResult<Response> {
    let key = uri.query().unwrap_or("");
    let now = s.app.ports.clock.now().millis();
    let generation = s.app.catalog_generation();
    let max_age = s.app.settings.catalog_cache_secs * 1000;
    // Searches with words are answered from the index every time: shoppers' words are many and
    // rarely repeat, and would push the listing pages that do repeat out of the cache.
    if p.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
        let dto = product_list(&s.app, &product_query(p, false)?).await?;
        return Ok(axum::Json(dto).into_response());
    }
    let bytes = match s.listing_cache.get(key, generation, now, max_age) {
        Some(b) => b,
        None => listing_bytes(&s, key, p, generation, now).await?,
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response())
}

/// The listing `p` (asked for by query string `key`) as the API answers it, cached under
/// `generation` (read before the listing was).
async fn listing_bytes(
    s: &AppState,
    key: &str,
    p: ProductListParams,
    generation: u64,
    now: i64,
) -> ApiResult<Bytes> {
    let dto = product_list(&s.app, &product_query(p, false)?).await?;
    let b = Bytes::from(serde_json::to_vec(&dto).map_err(|e| P::internal(e.to_string()))?);
    s.listing_cache.put(key, generation, now, b.clone());
    Ok(b)
}

/// How many of the most asked-for listing pages a catalog write reads again.
const HOT_PAGES: usize = 8;

/// Middleware of the admin routes: a request that wrote to the catalog through this process
/// (its generation moved) reads the hot listing pages again ([`refresh_hot_listings`]) before
/// it answers.
pub(crate) async fn refresh_after_catalog_writes(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let before = s.app.catalog_generation();
    let res = next.run(req).await;
    if s.app.catalog_generation() != before {
        refresh_hot_listings(&s).await;
    }
    res
}

/// After a catalog write through this process (which made every cached page stale): the
/// [`HOT_PAGES`] listing pages shoppers asked for most, read again at once and concurrently, so
/// that the next shopper finds them cached instead of waiting for them; a page that fails is
/// simply read by its next shopper.
async fn refresh_hot_listings(s: &AppState) {
    let now = s.app.ports.clock.now().millis();
    let max_age = s.app.settings.catalog_cache_secs * 1000;
    let generation = s.app.catalog_generation();
    let hot = s.listing_cache.hottest(HOT_PAGES, now, max_age);
    futures::future::join_all(hot.iter().map(|key| async move {
        let Ok(p) = serde_urlencoded::from_str::<ProductListParams>(key) else {
            return;
        };
        if let Err(e) = listing_bytes(s, key, p, generation, now).await {
            tracing::debug!(error = ?e, "a hot listing page was not read again");
        }
    }))
    .await;
}

/// One product by id or slug, with live stock per variant.
#[utoipa::path(get, path = "/products/{id_or_slug}", tag = "catalog",
    params(("id_or_slug" = String, Path, description = "product id or slug")),
    responses((status = 200, body = ProductDto), (status = 404, body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
async fn get_product(
    State(s): State<AppState>,
    auth: MaybeAuth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ProductDto>> {
    let admin = auth.0.is_some_and(|p| p.may(StaffArea::Catalog));
    let view = s.app.product(&id, admin).await?;
    Ok(axum::Json(ProductDto::from_view(&view)))
}

/// The category tree.
#[utoipa::path(get, path = "/categories", tag = "catalog", responses((status = 200, body = Vec<CategoryDto>)))]
async fn list_categories(State(s): State<AppState>) -> ApiResult<axum::Json<Vec<CategoryDto>>> {
    let tree = s.app.category_tree().await?;
    Ok(axum::Json(tree.iter().map(Into::into).collect()))
}

/// Shipping options, prices and days for a parcel (weight and box) to a CEP, cheapest first.
#[utoipa::path(get, path = "/shipping/quote", tag = "catalog", params(QuoteParams),
    responses((status = 200, body = Vec<QuoteDto>), (status = 422, body = Problem, content_type = "application/problem+json")))]
async fn shipping_quote(
    State(s): State<AppState>,
    Query(q): Query<QuoteParams>,
) -> ApiResult<axum::Json<Vec<QuoteDto>>> {
    if q.weight_g == 0 || q.weight_g > vitrine_domain::shipping::MAX_WEIGHT_G {
        return Err(P::validation(vec![FieldError::new(
            "weight_g",
            "the weight is between 1 g and 30 kg",
        )]));
    }
    let size = |v: Option<u32>, least: u32| v.unwrap_or(least).max(least);
    let (l, w, h) = vitrine_domain::shipping::MIN_BOX_CM;
    let parcel = vitrine_app::ports::Parcel {
        weight_g: q.weight_g,
        length_cm: size(q.length_cm, l),
        width_cm: size(q.width_cm, w),
        height_cm: size(q.height_cm, h),
    };
    if parcel.length_cm.max(parcel.width_cm).max(parcel.height_cm) > 200 {
        return Err(P::validation(vec![FieldError::new(
            "length_cm",
            "no side of a parcel is over 200 cm",
        )]));
    }
    let request = vitrine_app::ports::QuoteRequest {
        to: q.cep.clone(),
        parcel,
        subtotal: Money::from_centavos(q.subtotal_centavos.unwrap_or(0).max(0)),
    };
    let quotes = s.app.quote_shipping(&request).await?;
    Ok(axum::Json(
        quotes
            .into_iter()
            .map(|q| QuoteDto {
                method_id: q.method_id,
                name: q.name,
                price_centavos: q.price.centavos(),
                days: q.days,
            })
            .collect(),
    ))
}
