//! The AWS composition: builds the application on DynamoDB, S3, Cognito and SES. Shared by the
//! Lambda entry points and `vitrine serve --backend aws`; it reads no environment itself — its
//! callers do, and pass the settings in.

use std::sync::Arc;

use anyhow::Context;
use vitrine_app::invoices::Fiscal;
use vitrine_app::keys::Keys;
use vitrine_app::payment_choice::{PaymentChoices, assemble};
use vitrine_app::payments::sandbox::{CardSandbox, PixAccount, PixSandbox, WebhookSigner};
use vitrine_app::ports::{Blobs, Clock, Ids, PaymentProvider};
use vitrine_app::{App, Ports, Settings};
use vitrine_domain::order::PaymentMethod;

use crate::cognito::{self, CognitoIdentity};
use crate::dynamo::DynamoTable;
use crate::routed_blobs::PrefixRoutedBlobs;
use crate::s3::S3Blobs;
use crate::s3_presign::S3Uploads;
use crate::ses::SesMailer;
use crate::sns::SnsSms;
use crate::xray::XrayInterceptor;
use crate::{AwsConfig, LazyClient, sdk_config};

/// The AWS resources the store runs on (the template's outputs).
#[derive(Debug, Clone)]
pub struct AwsResources {
    pub table: String,
    pub bucket: String,
    pub user_pool_id: String,
    pub client_id: String,
    /// An SES-verified sender.
    pub mail_from: String,
    /// The bucket of the sales reports (the template's `ReportsBucket`): every key under
    /// `reports/` is read and written there. `None`: they stay in `bucket`.
    pub reports_bucket: Option<String>,
}

/// A built store on AWS: the application and the keys of the pool's tokens (downloaded when
/// first needed, or by [`Keys::preload`]).
pub struct AwsStore {
    pub app: Arc<App>,
    pub keys: Arc<Keys>,
}

pub(crate) fn s3_client(sdk: &aws_config::SdkConfig, config: &AwsConfig) -> aws_sdk_s3::Client {
    // The emulator serves buckets by path, not by virtual host.
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(config.endpoint.is_some())
        .interceptor(XrayInterceptor)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Where the pool's JWKS and issuer are: AWS's, or the emulator's for an endpoint override.
pub fn pool_urls(config: &AwsConfig, user_pool_id: &str) -> (String, String) {
    let issuer = cognito::issuer(&config.region, user_pool_id);
    let jwks = match &config.endpoint {
        Some(endpoint) => format!(
            "{}/{user_pool_id}/.well-known/jwks.json",
            endpoint.trim_end_matches('/')
        ),
        None => format!("{issuer}/.well-known/jwks.json"),
    };
    (jwks, issuer)
}

/// Build the store on AWS with the sandbox payment providers, chosen explicitly (Pix from a key
/// no bank accepts, confirmed by webhooks signed with a secret made now and shown to nobody;
/// test cards): for tests and demos, where no money moves. A deployment composes with
/// [`build_with`] and the providers its settings choose (`vitrine_app::payment_choice`).
pub async fn build(
    config: &AwsConfig,
    resources: &AwsResources,
    settings: Settings,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn Ids>,
) -> anyhow::Result<AwsStore> {
    let payments = assemble(&PaymentChoices::DEMO, |_, method| {
        Ok(match method {
            PaymentMethod::Pix => {
                let secret = format!("{}{}", ids.new_id(), ids.new_id());
                let signer = WebhookSigner::new(secret.into_bytes()).map_err(anyhow::Error::msg)?;
                let account = PixAccount {
                    key: "pix-sandbox@vitrine.invalid".into(),
                    merchant_name: "vitrine".into(),
                    merchant_city: "SAO PAULO".into(),
                };
                Arc::new(PixSandbox::new(account, signer).map_err(anyhow::Error::msg)?)
                    as Arc<dyn PaymentProvider>
            }
            _ => Arc::new(CardSandbox),
        })
    })?;
    build_with(
        config, resources, settings, clock, ids, payments, None, None,
    )
    .await
}

/// Build the store on AWS, with NF-e issuing when `fiscal` is given and the carrier `shipping`
/// (`None`: the shop's rate table). Makes no request and builds no SDK client yet: each client is built,
/// and the pool's JWKS downloaded, when first needed.
#[expect(
    clippy::too_many_arguments,
    reason = "the composition root's choices, each an adapter or a setting; a struct would only rename them"
)]
pub async fn build_with(
    config: &AwsConfig,
    resources: &AwsResources,
    settings: Settings,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn Ids>,
    payments: Vec<Arc<dyn PaymentProvider>>,
    fiscal: Option<Arc<Fiscal>>,
    shipping: Option<Arc<dyn vitrine_app::ports::Shipping>>,
) -> anyhow::Result<AwsStore> {
    let sdk = sdk_config(config).await;
    // Each client is built when first used (see `LazyClient`).
    let table = DynamoTable::new(
        LazyClient::new({
            let sdk = sdk.clone();
            move || {
                aws_sdk_dynamodb::Client::from_conf(
                    aws_sdk_dynamodb::config::Builder::from(&sdk)
                        .interceptor(XrayInterceptor)
                        .build(),
                )
            }
        }),
        &resources.table,
        clock.clone(),
    );
    let s3 = LazyClient::new({
        let (sdk, config) = (sdk.clone(), config.clone());
        move || s3_client(&sdk, &config)
    });
    let main_blobs: Arc<dyn Blobs> = Arc::new(S3Blobs::new(s3.clone(), &resources.bucket));
    let blobs: Arc<dyn Blobs> = match &resources.reports_bucket {
        Some(reports) => Arc::new(PrefixRoutedBlobs::new(
            main_blobs,
            vitrine_app::reports::PREFIX,
            Arc::new(S3Blobs::new(s3.clone(), reports)),
        )),
        None => main_blobs,
    };
    // Product images: browsers PUT them straight into the bucket (`uploads/`) with presigned
    // URLs; registration moves them to `images/`, which CloudFront serves as `/media/images/`.
    let uploads = S3Uploads::new(s3, &resources.bucket);
    let identity = CognitoIdentity::new(
        LazyClient::new({
            let sdk = sdk.clone();
            move || {
                aws_sdk_cognitoidentityprovider::Client::from_conf(
                    aws_sdk_cognitoidentityprovider::config::Builder::from(&sdk)
                        .interceptor(XrayInterceptor)
                        .build(),
                )
            }
        }),
        &resources.user_pool_id,
        &resources.client_id,
    );
    let mailer = SesMailer::new(
        LazyClient::new({
            let sdk = sdk.clone();
            move || {
                aws_sdk_sesv2::Client::from_conf(
                    aws_sdk_sesv2::config::Builder::from(&sdk)
                        .interceptor(XrayInterceptor)
                        .build(),
                )
            }
        }),
        &resources.mail_from,
    );
    let sms = SnsSms::new(
        LazyClient::new(move || {
            aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(&sdk)
                    .interceptor(XrayInterceptor)
                    .build(),
            )
        }),
        None,
    );
    let (jwks_url, issuer) = pool_urls(config, &resources.user_pool_id);
    let client_id = resources.client_id.clone();
    let keys = Keys::fetched_on_demand(Box::new(move || {
        let (jwks_url, issuer, client_id) = (jwks_url.clone(), issuer.clone(), client_id.clone());
        Box::pin(async move {
            cognito::fetch_verifier(&jwks_url, &issuer, &client_id)
                .await
                .with_context(|| format!("fetching the user pool's keys from {jwks_url}"))
        })
    }));
    let ports = Ports {
        table: Arc::new(table),
        blobs,
        identity: Arc::new(identity),
        mailer: Arc::new(mailer),
        sms: Arc::new(sms),
        clock,
        ids,
        payments,
        fiscal,
        uploads: Arc::new(uploads),
        shipping,
    };
    let app = App::new(ports, settings);
    // Searches open the index the `search_index` function publishes to the bucket rather
    // than each instance reading the whole catalog (vitrine_app::search_published).
    app.open_published_search_index();
    Ok(AwsStore {
        app,
        keys: Arc::new(keys),
    })
}

/// Create the table, bucket, user pool and sender identity (for the emulator and first runs;
/// deployments get them from the CloudFormation template). Returns the resources to use.
pub async fn create_resources(
    config: &AwsConfig,
    names: &AwsResources,
) -> anyhow::Result<AwsResources> {
    let sdk = sdk_config(config).await;
    DynamoTable::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &names.table)
        .await
        .context("creating the table")?;
    S3Blobs::create_bucket(&s3_client(&sdk, config), &names.bucket)
        .await
        .context("creating the bucket")?;
    if let Some(reports) = &names.reports_bucket {
        S3Blobs::create_bucket(&s3_client(&sdk, config), reports)
            .await
            .context("creating the reports bucket")?;
    }
    let (user_pool_id, client_id) = CognitoIdentity::create_pool(
        &aws_sdk_cognitoidentityprovider::Client::new(&sdk),
        &names.user_pool_id,
    )
    .await
    .context("creating the user pool")?;
    SesMailer::verify_sender(&aws_sdk_sesv2::Client::new(&sdk), &names.mail_from)
        .await
        .context("verifying the sender")?;
    Ok(AwsResources {
        user_pool_id,
        client_id,
        ..names.clone()
    })
}

/// An S3 client and what an error of it says, for the file transfers below.
async fn s3_for_files(config: &AwsConfig) -> aws_sdk_s3::Client {
    s3_client(&sdk_config(config).await, config)
}

fn s3_error<E: std::error::Error + 'static>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(&e))
}

/// Store the file at `path` as `s3://bucket/key` (`vitrine backup`), streamed from disk.
pub async fn put_file(
    config: &AwsConfig,
    bucket: &str,
    key: &str,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
        .await
        .with_context(|| format!("reading {}", path.display()))?;
    s3_for_files(config)
        .await
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/x-tar")
        .body(body)
        .send()
        .await
        .map_err(s3_error)
        .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
    Ok(())
}

/// Download `s3://bucket/key` into the file at `path` (`vitrine restore`).
pub async fn get_file(
    config: &AwsConfig,
    bucket: &str,
    key: &str,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let object = s3_for_files(config)
        .await
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(s3_error)
        .with_context(|| format!("downloading s3://{bucket}/{key}"))?;
    let mut body = object.body.into_async_read();
    let mut file = tokio::fs::File::create(path)
        .await
        .with_context(|| format!("creating {}", path.display()))?;
    tokio::io::copy(&mut body, &mut file)
        .await
        .with_context(|| format!("downloading s3://{bucket}/{key}"))?;
    file.sync_all().await?;
    Ok(())
}
