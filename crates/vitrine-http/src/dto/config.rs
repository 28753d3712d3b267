//! What the web apps need to know about this deployment.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientConfigDto {
    /// The realtime WebSocket URL; `null`: `/api/v1/ws` on the API's own origin.
    #[schema(example = "wss://abc123.execute-api.sa-east-1.amazonaws.com/prod")]
    pub realtime_url: Option<String>,
}
