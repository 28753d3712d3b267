//! vitrine's HTTP API: one axum router for the local server and the API Lambda.
//!
//! Invariants:
//! - Every error body is RFC 9457 problem+json with a stable `type` ([`problem`]).
//! - Every route under `/api/v1/admin` passes [`routes::admin::require_admin`].
//! - The OpenAPI document is generated from the handlers' annotations and the same route table
//!   the router is built from ([`route_table`]), so it lists exactly the routes the router
//!   serves. It is built on its first request, not at start-up.
//! - Handlers parse, call one use case, and map the result; rules live in the app and domain.
//! - The routes outside the document: the WebSocket `/api/v1/ws` ([`routes::realtime`]), which
//!   OpenAPI cannot describe (`docs/api.md` documents it); product images, `/media/{key}`, and
//!   the store's own upload targets, `PUT /uploads/{key}` ([`routes::media`]); and, in [`router_with_site`] only, the web apps ([`web`]) for every
//!   other path.

mod document;
pub mod dto;
pub mod extract;
pub mod pages;
pub mod problem;
pub mod realtime;
pub mod route_table;
pub mod routes;
pub mod security;
pub mod state;
pub mod telemetry;
pub mod web;

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use sha2::Digest as _;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, put};
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::route_table::RouteTable;

pub use problem::Problem;
pub use security::{RateLimit, Security};
pub use state::AppState;

/// The largest JSON body any endpoint takes.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(title = "vitrine API", description = "REST API of the vitrine online store. Errors are RFC 9457 problem+json. Money is integer centavos (BRL)."),
    modifiers(&BearerAuth),
    tags(
        (name = "catalog", description = "Products, categories, shipping quotes"),
        (name = "auth", description = "Accounts and tokens"),
        (name = "cart", description = "The shopping cart"),
        (name = "orders", description = "Checkout and the customer's orders"),
        (name = "payments", description = "Pix and card payments, installments, and the providers' webhooks"),
        (name = "customer", description = "The signed-in customer's profile"),
        (name = "admin", description = "Store administration (admin group)"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The API's route tables — public and admin apart, so the admin guard wraps exactly the admin
/// ones.
pub fn route_tables() -> (RouteTable, RouteTable) {
    let public = RouteTable::new()
        .merge(routes::catalog::routes())
        .merge(routes::auth::routes())
        .merge(routes::cart::routes())
        .merge(routes::me::routes())
        .merge(routes::orders::routes())
        .merge(routes::returns::routes())
        .merge(routes::payments::routes())
        .merge(routes::invoices::routes())
        .merge(routes::config::routes())
        .merge(routes::shop::routes())
        .nest("/api/v1");
    let admin = routes::admin::routes().nest("/api/v1/admin");
    (public, admin)
}

/// The OpenAPI document of every API route.
pub fn openapi() -> OpenApiDoc {
    let (public, admin) = route_tables();
    let mut doc = admin.document(public.document(ApiDoc::openapi()));
    document::complete(&mut doc);
    doc
}

/// The OpenAPI document as JSON, with the links between operations ([`document::add_links`]).
pub fn openapi_value() -> serde_json::Value {
    let mut doc = serde_json::to_value(openapi()).unwrap_or_default();
    document::add_links(&mut doc);
    doc
}

/// The OpenAPI document as served, built on its first request.
fn openapi_json() -> bytes::Bytes {
    static JSON: OnceLock<bytes::Bytes> = OnceLock::new();
    JSON.get_or_init(|| {
        bytes::Bytes::from(serde_json::to_vec(&openapi_value()).unwrap_or_default())
    })
    .clone()
}

/// The whole application router: API, OpenAPI document and docs page, health, JWKS, product
/// images (`/media/...`). The API Lambda serves this one: on AWS the web apps come from S3.
pub fn router(state: AppState) -> Router {
    build_router(state, false)
}

/// [`router`], plus the web apps (`web/`, embedded) for every other path: what `vitrine serve`
/// serves ([`web`]).
pub fn router_with_site(state: AppState) -> Router {
    build_router(state, true)
}

fn build_router(state: AppState, site: bool) -> Router {
    let (public, admin) = route_tables();
    let admin_guard = middleware::from_fn_with_state(state.clone(), routes::admin::require_admin);
    let routes = Router::new()
        .merge(public.router())
        .merge(
            admin
                .router()
                .route_layer(middleware::from_fn_with_state(
                    state.clone(),
                    routes::catalog::refresh_after_catalog_writes,
                ))
                .route_layer(admin_guard.clone()),
        )
        // Not in a route table: OpenAPI cannot describe a WebSocket (docs/api.md, "Realtime").
        .route("/api/v1/ws", get(routes::realtime::connect))
        .route(
            "/api/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], openapi_json()) }),
        )
        .route("/api/docs", get(docs_page))
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/ready", get(ready))
        .route("/.well-known/jwks.json", get(jwks))
        .route(
            "/api/v1/admin/metrics",
            get(metrics).route_layer(admin_guard.clone()),
        )
        .route("/media/{*key}", get(routes::media::media))
        // The store's own upload targets (`vitrine serve`; on AWS browsers PUT to S3).
        .route("/uploads/{*key}", put(routes::media::receive_upload))
        // Pages rendered on the server (on AWS, CloudFront sends these paths to the API).
        .merge(pages::routes(site));
    let routes = if site {
        routes.fallback(web::serve)
    } else {
        routes.fallback(|| async { Problem::not_found("route") })
    };
    let security = state.security.clone();
    let mut routes = routes.layer(DefaultBodyLimit::max(BODY_LIMIT));
    let payment_origins = security::payment_origins(&state.app);
    if site
        && !payment_origins.is_empty()
        && let Ok(policy) = HeaderValue::from_str(&security::page_policy(&payment_origins))
    {
        routes = routes.layer(middleware::from_fn_with_state(
            Arc::new(policy),
            security::widen_pages,
        ));
    }
    if let Some(limit) = security.rate_limit {
        routes = routes.layer(middleware::from_fn_with_state(
            Arc::new(security::Limiter::new(limit)),
            security::limit,
        ));
    }
    // Layers added later run first. A request that takes too long is stopped inside the
    // envelope, so it is logged and answered like any other.
    let mut routes = routes
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), envelope));
    if let Some(cors) = security::cors(&security.cors_origins) {
        routes = routes.layer(cors);
    }
    routes.with_state(state)
}

/// The API docs page, with a Content-Security-Policy that allows its one inline style and
/// script by their SHA-256 (no `'unsafe-inline'`).
async fn docs_page() -> Response {
    static CSP: OnceLock<HeaderValue> = OnceLock::new();
    let csp = CSP.get_or_init(|| {
        let hash = |open: &str, close: &str| {
            let start = DOCS_PAGE.find(open).map_or(0, |i| i + open.len());
            let end = DOCS_PAGE[start..].find(close).map_or(start, |i| start + i);
            let digest = sha2::Sha256::digest(&DOCS_PAGE.as_bytes()[start..end]);
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        };
        let policy = format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash("<script>", "</script>"),
            hash("<style>", "</style>")
        );
        HeaderValue::from_str(&policy)
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
    });
    (
        [(header::CONTENT_SECURITY_POLICY, csp.clone())],
        Html(DOCS_PAGE),
    )
        .into_response()
}

async fn ready(State(s): State<AppState>) -> Response {
    match s.app.ready().await {
        Ok(()) => axum::Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(why) => {
            tracing::warn!(reason = %why, "not ready");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Not ready",
                "a dependency does not answer",
            )
            .into_response()
        }
    }
}

/// The metrics in the Prometheus text format (admins; `vitrine serve --metrics-listen` serves
/// the same without a token on an address of the operator's choice, see [`metrics_router`]).
async fn metrics(State(s): State<AppState>) -> Response {
    if let Err(e) = s.app.refresh_gauges().await {
        tracing::warn!(error = %e, "metrics: the gauges could not be read");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.app.metrics.prometheus(),
    )
        .into_response()
}

/// `GET /metrics` alone, for a separate listener that only the scraper reaches.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn jwks(State(s): State<AppState>) -> Response {
    match &s.jwks {
        Some(k) => axum::Json(k.as_ref().clone()).into_response(),
        None => {
            Problem::not_found("key set (the identity provider serves its own)").into_response()
        }
    }
}

/// What every request goes through, in one layer (one clone of the routes below and one boxed
/// future per request; as five layers they cost the listing a third of its throughput,
/// docs/benchmarks.md "The listing path"):
///
/// 1. who the client is ([`security::note_client_address`]), before the rate limit reads it;
/// 2. a span with the request and trace ids and the route template, around everything logged
///    while the request is handled ([`telemetry::RequestIds`]);
/// 3. after the answer: its metrics, and one log line with the route template (never the raw
///    URL: it may hold personal data), status and duration; a 5xx's cause is logged here, once;
/// 4. errors produced outside the handlers turned into problem documents ([`as_problem`]);
/// 5. the security headers ([`security::add_headers`]) and `x-request-id`.
async fn envelope(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    security::note_client_address(&mut req, &s.security.trusted_proxies);
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = req.method().clone();
    let ids = telemetry::RequestIds::of(req.headers());
    // Every line logged while handling the request carries these (the JSON format writes the
    // current span's fields): the route template, never the path, which may hold ids.
    let span = tracing::info_span!(
        "request",
        request_id = %ids.request_id,
        trace_id = %ids.trace_id,
        http.method = %method,
        http.route = %route,
    );
    let start = std::time::Instant::now();
    let res = vitrine_app::trace::scope(
        Some(ids.trace_id.clone()),
        tracing::Instrument::instrument(next.run(req), span.clone()),
    )
    .await;
    let status = res.status().as_u16();
    let elapsed = start.elapsed().as_secs_f64();
    let duration_ms = elapsed * 1000.0;
    s.app
        .metrics
        .request(method.as_str(), route, status, elapsed);
    if let Some(service) = s.emf_service {
        // A line of its own on stdout: CloudWatch Logs extracts the metrics from it.
        let at = s.app.ports.clock.now().millis();
        println!(
            "{}",
            vitrine_app::metrics::emf_request(at, service, route, status, duration_ms)
        );
    }
    {
        let _entered = span.enter();
        if let Some(cause) = res.extensions().get::<problem::ErrorCause>() {
            tracing::error!(http.status = status, duration_ms, error = %cause.0, "request failed");
        } else {
            tracing::info!(http.status = status, duration_ms, "request");
        }
    }
    let mut res = as_problem(res).await;
    security::add_headers(s.security.hsts, res.headers_mut());
    if let Ok(value) = HeaderValue::from_str(&ids.request_id) {
        res.headers_mut().insert(telemetry::REQUEST_ID, value);
    }
    res
}

/// Errors produced outside the handlers (405 from the router, 408 from the timeout, path
/// rejections from extractors) come as bare text; `res` as a problem document then, so every
/// error the API returns has the same shape. Pages ([`pages`]) keep their HTML.
async fn as_problem(res: Response) -> Response {
    let status = res.status();
    // A problem already, or a page rendered on the server for people (its 404 page).
    let is_answer = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(problem::PROBLEM_JSON.as_bytes())
            || v.as_bytes().starts_with(b"text/html")
    });
    if !(status.is_client_error() || status.is_server_error()) || is_answer {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let (kind, title, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "Method not allowed",
            "this route does not take this method".to_owned(),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "Request timeout",
            "the request took too long and was stopped".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload-too-large",
            "Body too large",
            "the request body is larger than this endpoint accepts".to_owned(),
        ),
        s if s.is_client_error() => {
            let body = axum::body::to_bytes(res.into_body(), 1024)
                .await
                .unwrap_or_default();
            (
                "bad-request",
                "Bad request",
                String::from_utf8_lossy(&body).into_owned(),
            )
        }
        _ => (
            "internal",
            "Internal error",
            "something went wrong on our side; it has been logged".to_owned(),
        ),
    };
    let mut out = Problem::new(status, kind, title, detail).into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

const DOCS_PAGE: &str = include_str!("docs.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_the_routes_the_router_serves() {
        let (public, admin) = route_tables();
        let mut served: Vec<(String, String)> = public.operations();
        served.extend(admin.operations());
        served.sort();

        let doc = serde_json::to_value(openapi()).unwrap();
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| !matches!(k.as_str(), "parameters" | "summary" | "description"))
                    .map(move |method| (path.clone(), method.clone()))
            })
            .collect();
        documented.sort();

        assert!(served.len() > 30, "{served:?}");
        assert_eq!(served, documented);
        assert!(served.contains(&("/api/v1/admin/products/{id}".into(), "put".into())));
    }

    #[test]
    fn the_document_has_unique_operation_ids_problems_and_resolvable_links() {
        let doc = openapi_value();
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(id) = op["operationId"].as_str() else {
                    continue;
                };
                assert!(ids.insert(id.to_owned()), "operationId {id} repeats");
                let responses = op["responses"].as_object().unwrap();
                for status in ["429", "503"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
                if path.starts_with(document::ADMIN) {
                    assert!(responses.contains_key("403"), "{method} {path}");
                }
                for (status, response) in responses {
                    for (name, link) in response["links"].as_object().into_iter().flatten() {
                        let pointer = link["operationRef"].as_str().unwrap();
                        let target = doc.pointer(pointer.trim_start_matches('#'));
                        assert!(
                            target.is_some(),
                            "{method} {path} {status}: link {name} points nowhere: {pointer}"
                        );
                    }
                }
            }
        }
        let order_links = &doc["paths"]["/api/v1/orders"]["post"]["responses"]["201"]["links"];
        assert!(order_links["GetOrder"].is_object(), "{order_links}");
    }
}
