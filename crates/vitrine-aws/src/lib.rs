//! vitrine's AWS adapters, on the official AWS SDK for Rust: [`dynamo::DynamoTable`] (Table),
//! [`s3::S3Blobs`] (Blobs), [`cognito::CognitoIdentity`] (Identity).
//!
//! Invariants:
//! - The SDK appears in this crate only; it never depends on `vitrine-local`.
//! - Every client is built from one [`SdkConfig`] made by [`sdk_config`], once per process (per
//!   Lambda cold start), with rustls on ring as the HTTP client.
//! - User data never enters an expression string: names and values go through placeholders.

pub mod cognito;
pub mod compose;
pub mod dynamo;
pub mod emulator;
pub mod s3;
pub mod ses;

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
    let http_client = Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.region.clone()));
    if let Some(endpoint) = &config.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    if config.emulator {
        // One request at a time (see `emulator`), and more attempts: the emulator answers some
        // requests with a transient 500 while another thread changes the same table. AWS keeps
        // the SDK's standard policy.
        loader = loader
            .http_client(emulator::OneAtATime::new(http_client))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(10));
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
