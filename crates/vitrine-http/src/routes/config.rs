//! What the web apps need to know about this deployment: where the realtime WebSocket is, and
//! how the store takes payments. The realtime socket is this server's `/api/v1/ws` locally; on
//! AWS it is the WebSocket API's own address (`VITRINE_WS_URL`, from the template), which the
//! storefront cannot guess from its origin. The payments part says which methods are offered,
//! by which provider, whether the store is in demo mode (a sandbox provider: the web apps show a
//! banner) and which script tokenises cards.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use vitrine_app::App;
use vitrine_domain::order::PaymentMethod;

use crate::dto::{CardTokenisationDto, ClientConfigDto, PaymentsConfigDto};
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
            payments: payments_config(&s.app),
        }),
    )
}

/// The payments part of the client config, from the providers the app was given.
pub fn payments_config(app: &App) -> PaymentsConfigDto {
    let chosen = app.payment_providers();
    let card_tokenisation = app
        .ports
        .payments
        .iter()
        .find(|p| p.methods().contains(&PaymentMethod::Card))
        .and_then(|p| p.browser())
        .map(|b| CardTokenisationDto {
            provider: b.provider,
            script_url: b.script_url,
            public_key: b.public_key,
        });
    PaymentsConfigDto {
        methods: chosen
            .iter()
            .map(|(m, _, _)| m.as_str().to_owned())
            .collect(),
        providers: chosen
            .iter()
            .map(|(m, name, sandbox)| {
                let name = if *sandbox { "sandbox" } else { name };
                (m.as_str().to_owned(), name.to_owned())
            })
            .collect(),
        sandbox: chosen.iter().any(|(_, _, sandbox)| *sandbox),
        card_tokenisation,
    }
}
