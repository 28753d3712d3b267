//! Talking to the local AWS emulator (moto) faithfully.
//!
//! moto's server is threaded and its DynamoDB keeps no lock: two concurrent `UpdateItem ADD`s
//! can both read the old value, and a cancelled `TransactWriteItems` restores a snapshot of the
//! whole table taken before it started, erasing writes other requests made meanwhile (50
//! concurrent buyers of 10 units "sold" 18; measured with boto3 alone too). DynamoDB makes every
//! request atomic and isolated, which is what the adapters rely on. Letting one request at a
//! time reach the emulator restores exactly that per-request atomicity and nothing more: the
//! store still runs its tasks concurrently, interleaving their requests. Used only when
//! [`crate::AwsConfig::emulator`] is set; AWS itself gets the SDK's own client.

use std::sync::Arc;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;

/// An HTTP client that lets one request at a time reach the emulator (see the module docs).
#[derive(Debug, Clone)]
pub struct OneAtATime {
    inner: SharedHttpClient,
    turn: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct OneAtATimeConnector {
    inner: SharedHttpConnector,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl HttpClient for OneAtATime {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        OneAtATimeConnector {
            inner: self.inner.http_connector(settings, components),
            turn: self.turn.clone(),
        }
        .into_shared()
    }
}

impl HttpConnector for OneAtATimeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, turn) = (self.inner.clone(), self.turn.clone());
        HttpConnectorFuture::new(async move {
            // moto builds the whole response before it answers, so holding the turn until the
            // response head arrives covers all of the request's work.
            let _turn = turn.lock_owned().await;
            inner.call(request).await
        })
    }
}

impl OneAtATime {
    /// Wrap an HTTP client so that one request at a time goes through it.
    pub fn new(inner: SharedHttpClient) -> Self {
        Self {
            inner,
            turn: Arc::default(),
        }
    }
}
