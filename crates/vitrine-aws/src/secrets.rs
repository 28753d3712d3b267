//! [`SecretsManagerSecrets`]: reading a secret's value from AWS Secrets Manager. The functions
//! that need a secret (the `invoices` function's A1 certificate) read it once per cold start;
//! what the value means is theirs to parse.
//!
//! Invariant: a secret's value never reaches a log or an error message; errors name the secret
//! and the cause only.

use anyhow::Context as _;

use crate::xray::XrayInterceptor;
use crate::{AwsConfig, LazyClient, sdk_config};

/// Reads secrets from Secrets Manager (the client is built on first use).
#[derive(Debug, Clone)]
pub struct SecretsManagerSecrets {
    client: LazyClient<aws_sdk_secretsmanager::Client>,
}

impl SecretsManagerSecrets {
    /// A reader for `config`'s endpoint (AWS, or the emulator).
    pub async fn connect(config: &AwsConfig) -> Self {
        let sdk = sdk_config(config).await;
        Self {
            client: LazyClient::new(move || {
                aws_sdk_secretsmanager::Client::from_conf(
                    aws_sdk_secretsmanager::config::Builder::from(&sdk)
                        .interceptor(XrayInterceptor)
                        .build(),
                )
            }),
        }
    }

    /// The current text value (`SecretString`) of the secret `id` (its ARN or name).
    pub async fn text(&self, id: &str) -> anyhow::Result<String> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(aws_sdk_secretsmanager::Error::from)
            .with_context(|| format!("reading the secret {id}"))?;
        out.secret_string()
            .map(str::to_owned)
            .with_context(|| format!("the secret {id} holds no text (SecretString)"))
    }
}
