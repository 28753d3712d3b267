//! `ApiGatewayPush`: the Push port on an API Gateway WebSocket API — the connections registered
//! in the table (`vitrine_app::notify::connections`), and the API Gateway Management API's
//! `PostToConnection` to each.
//!
//! The Management API is reached at the WebSocket API's own URL,
//! `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` ([`management_endpoint`]), not
//! at a regional service endpoint: the client is built with that URL as its endpoint.
//!
//! Invariants:
//! - **Audience** (the port's rule): a message goes to the connections of the order's owner and
//!   of every admin, read from the registry for each message; to nobody else.
//! - **Gone is not an error**: a connection API Gateway answers `410 Gone` for has closed
//!   without a `$disconnect` reaching us (or before it did); it is removed from the registry and
//!   the push goes on. Nobody connected is a success.
//! - A message larger than API Gateway takes ([`MAX_PAYLOAD_BYTES`], or its own
//!   `PayloadTooLargeException`) is `PushError::Invalid`: it can never be sent. Throttling,
//!   5xx, a refused permission and transport errors are `PushError::Unavailable`, after every
//!   other connection of the audience has been tried: the queue retries the whole message, and
//!   clients drop an `id` they have seen.
//! - Payloads name customers' orders: they are never logged, nor put into errors. Logs carry
//!   the event id and counts only.

use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use vitrine_app::notify::connections::Connections;
use vitrine_app::ports::{Push, PushError, PushMessage};

use crate::{AwsConfig, LazyClient, sdk_config};

/// The largest message `PostToConnection` takes (API Gateway's WebSocket message limit, 128 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 128 * 1024;

/// The Management API's URL for the stage `stage` of the WebSocket API `api_id` in `region`.
pub fn management_endpoint(api_id: &str, region: &str, stage: &str) -> String {
    format!("https://{api_id}.execute-api.{region}.amazonaws.com/{stage}")
}

/// A Management API client, built on first use.
pub type ManagementClient = LazyClient<Client>;

/// A Management API client for the WebSocket API whose management URL is `endpoint` (see
/// [`management_endpoint`]; tests give a local server's), built on first use.
pub async fn management_client(config: &AwsConfig, endpoint: &str) -> ManagementClient {
    let sdk = sdk_config(config).await;
    let endpoint = endpoint.trim_end_matches('/').to_owned();
    LazyClient::new(move || {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .interceptor(crate::xray::XrayInterceptor)
            .build();
        Client::from_conf(conf)
    })
}

/// What became of one message posted to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// API Gateway took it for the connection.
    Sent,
    /// The connection is closed (`410 Gone`).
    Gone,
}

/// Pushes messages to the registered connections of their audience.
#[derive(Debug, Clone)]
pub struct ApiGatewayPush {
    client: LazyClient<Client>,
    connections: Connections,
}

impl ApiGatewayPush {
    /// `client` talks to the WebSocket API's management URL ([`management_client`]).
    pub fn new(client: impl Into<LazyClient<Client>>, connections: Connections) -> Self {
        Self {
            client: client.into(),
            connections,
        }
    }

    /// The registry this adapter reads its audiences from.
    pub fn connections(&self) -> &Connections {
        &self.connections
    }

    /// Post `data` (one text message) to one connection. Does not touch the registry.
    pub async fn post(&self, connection_id: &str, data: &[u8]) -> Result<Posted, PushError> {
        if data.len() > MAX_PAYLOAD_BYTES {
            return Err(PushError::Invalid(format!(
                "{} bytes; API Gateway takes at most {MAX_PAYLOAD_BYTES}",
                data.len()
            )));
        }
        match self
            .client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
        {
            Ok(_) => Ok(Posted::Sent),
            Err(err) => post_failed(err),
        }
    }
}

/// The outcome of a failed `PostToConnection`.
fn post_failed(err: SdkError<PostToConnectionError>) -> Result<Posted, PushError> {
    let status = err.raw_response().map(|r| r.status().as_u16());
    match (err.as_service_error(), status) {
        (Some(PostToConnectionError::GoneException(_)), _) | (_, Some(410)) => Ok(Posted::Gone),
        (Some(PostToConnectionError::PayloadTooLargeException(_)), _) | (_, Some(413)) => Err(
            PushError::Invalid("API Gateway refused the message as too large".into()),
        ),
        (Some(service), status) => Err(PushError::Unavailable(anyhow!(
            "PostToConnection failed: {} (HTTP {})",
            service.code().unwrap_or("an unknown error"),
            status.map_or_else(|| "?".to_owned(), |s| s.to_string())
        ))),
        // No answer from API Gateway: the transport's error quotes no message content.
        (None, _) => Err(PushError::Unavailable(anyhow!(
            "PostToConnection failed: {}",
            DisplayErrorContext(&err)
        ))),
    }
}

#[async_trait]
impl Push for ApiGatewayPush {
    async fn push(&self, message: &PushMessage) -> Result<(), PushError> {
        let data = serde_json::to_vec(&message.payload)
            .map_err(|e| PushError::Invalid(format!("the payload does not serialize: {e}")))?;
        if data.len() > MAX_PAYLOAD_BYTES {
            return Err(PushError::Invalid(format!(
                "{} bytes; API Gateway takes at most {MAX_PAYLOAD_BYTES}",
                data.len()
            )));
        }
        let audience = self
            .connections
            .audience(message.customer_id.as_deref())
            .await
            .map_err(|e| {
                PushError::Unavailable(
                    anyhow::Error::new(e).context("reading the connections registry"),
                )
            })?;
        let (mut sent, mut gone) = (0usize, 0usize);
        let mut first_failure = None;
        // One after the other: an audience is the owner's few tabs and the admins'.
        for connection in &audience {
            match self.post(&connection.id, &data).await {
                Ok(Posted::Sent) => sent += 1,
                Ok(Posted::Gone) => {
                    gone += 1;
                    // Not worth failing the message for: the item expires with its ttl anyway.
                    if let Err(e) = self.connections.forget(connection).await {
                        tracing::warn!(
                            event.id = %message.event_id,
                            error = %format!("{e:#}"),
                            "a gone connection could not be removed from the registry"
                        );
                    }
                }
                Err(invalid @ PushError::Invalid(_)) => return Err(invalid),
                Err(PushError::Unavailable(e)) => {
                    first_failure.get_or_insert(e);
                }
            }
        }
        let failed = audience.len() - sent - gone;
        tracing::debug!(
            event.id = %message.event_id,
            connections = audience.len(),
            sent,
            gone,
            failed,
            "realtime message posted"
        );
        match first_failure {
            None => Ok(()),
            Some(e) => Err(PushError::Unavailable(e.context(format!(
                "{failed} of {} connections could not be posted to",
                audience.len()
            )))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_management_endpoint_is_the_stage_url_of_the_api() {
        assert_eq!(
            management_endpoint("abc123", "sa-east-1", "prod"),
            "https://abc123.execute-api.sa-east-1.amazonaws.com/prod"
        );
    }
}
