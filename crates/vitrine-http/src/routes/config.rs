//! What the web apps need to know about this deployment: where the realtime WebSocket is.
//! Locally it is this server's `/api/v1/ws`; on AWS it is the WebSocket API's own address
//! (`VITRINE_WS_URL`, from the template), which the storefront cannot guess from its origin.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::dto::ClientConfigDto;
use crate::route_table::{RouteTable, route};
use crate::state::AppState;

/// Routes under `/api/v1`.
pub fn routes() -> RouteTable {
    RouteTable::new().with(route!(client_config))
}

/// Deployment facts for the web apps.
#[utoipa::path(get, path = "/config", tag = "catalog", responses((status = 200, body = ClientConfigDto)))]
async fn client_config(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(ClientConfigDto {
            realtime_url: s.realtime_url.clone(),
        }),
    )
}
