//! vitrine's AWS adapters, on the official AWS SDK for Rust: [`dynamo::DynamoTable`] (Table),
//! [`s3::S3Blobs`] (Blobs), [`cognito::CognitoIdentity`] (Identity), [`ws_push::ApiGatewayPush`]
//! (Push, on an API Gateway WebSocket API).
//!
//! Invariants:
//! - The SDK appears in this crate only; it never depends on `vitrine-local`.
//! - Every client is built from one [`SdkConfig`] made by [`sdk_config`], at most once per
//!   process (per Lambda cold start) and only when first used ([`LazyClient`]), with rustls on
//!   ring as the HTTP client.
//! - User data never enters an expression string: names and values go through placeholders.

pub mod cognito;
pub mod compose;
pub mod dynamo;
pub mod emulator;
pub mod publish;
pub mod routed_blobs;
pub mod s3;
pub mod s3_presign;
pub mod secrets;
pub mod ses;
pub mod sns;
pub mod sns_bus;
pub mod ws_push;
pub mod xray;

use std::ops::Deref;
use std::sync::{Arc, LazyLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// Where the AWS services are and how to reach them.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: String,
    /// Another endpoint than AWS's (the local emulator); also read from `AWS_ENDPOINT_URL` by
    /// the SDK when `None`.
    pub endpoint: Option<String>,
    /// Fixed credentials (the emulator accepts any); `None` uses the SDK's default chain
    /// (environment, profile, the Lambda role).
    pub static_credentials: Option<(String, String)>,
    /// The endpoint is the local emulator: send it one request at a time (see [`emulator`]) and
    /// retry its transient errors more.
    pub emulator: bool,
}

/// The shared SDK configuration every client is built from.
pub async fn sdk_config(config: &AwsConfig) -> SdkConfig {
    // A plain-HTTP endpoint (the local emulator) needs no root certificates: start the client
    // with an empty trust store rather than loading the machine's (most of the client's
    // start-up cost; every file of /etc/ssl/certs on Debian). HTTPS endpoints — AWS itself —
    // trust the machine's roots, as the SDK does by default.
    let plain_http = config
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let mut http_client = Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    if plain_http {
        let no_roots = tls::TlsContext::builder()
            .with_trust_store(tls::TrustStore::empty())
            .build()
            .expect("a TLS context with an empty trust store is valid");
        http_client = http_client.tls_context(no_roots);
    }
    let http_client = http_client.build_https();
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if config.emulator {
        // One request at a time (see `emulator`), and more attempts: the emulator answers some
        // requests with a transient 500 while another thread changes the same table. AWS keeps
        // the SDK's standard policy.
        //
        // No stalled-stream protection: it fails a request whose body is not read for its grace
        // period (5 s at 0 B/s), and a request waiting for its turn at the emulator is exactly
        // that. Under load, 50 concurrent checkouts queued past it and answered 503 ("minimum
        // throughput was specified at 1 B/s, but throughput of 0 B/s was observed"). The wait
        // is this client's own queue, not a stalled network; AWS keeps the protection.
        loader = loader
            .http_client(emulator::OneAtATime::new(http_client))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10))
            .stalled_stream_protection(
                aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
            );
    } else {
        loader = loader.http_client(http_client);
    }
    if let Some((key, secret)) = &config.static_credentials {
        loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            key,
            secret,
            None,
            None,
            "vitrine-static",
        ));
    }
    loader.load().await
}

/// The function that builds a [`LazyClient`]'s client.
type MakeClient<C> = Box<dyn FnOnce() -> C + Send>;

/// An SDK client built on first use, then shared by every clone. Building an SDK client costs
/// a few hundred microseconds (its runtime plugins and connector); a Lambda invocation that
/// needs no S3 or Cognito does not pay for theirs. Dereferences to the client.
pub struct LazyClient<C>(Arc<LazyLock<C, MakeClient<C>>>);

impl<C> LazyClient<C> {
    /// A client `make` builds when it is first used.
    pub fn new(make: impl FnOnce() -> C + Send + 'static) -> Self {
        Self(Arc::new(LazyLock::new(Box::new(make))))
    }
}

impl<C: Send + 'static> From<C> for LazyClient<C> {
    /// A client built already.
    fn from(client: C) -> Self {
        Self::new(move || client)
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<C> Deref for LazyClient<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.0
    }
}

impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LazyClient")
    }
}
