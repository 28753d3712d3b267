//! The local composition root: builds the embedded adapters over a data folder and hands them
//! to the application. `serve`, the other subcommands and the tests all build the store here.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use vitrine_app::auth::Jwks;
use vitrine_app::keys::Keys;
use vitrine_app::payments::sandbox::{CardSandbox, PixAccount, PixSandbox, WebhookSigner};
use vitrine_app::ports::{Clock, Ids, Mailer, PaymentProvider, SystemClock, UlidIds};
use vitrine_app::uploads::SignedUploads;
use vitrine_app::{App, Ports};
use vitrine_local::fs_blobs::FsBlobs;
use vitrine_local::identity::{Argon2Cost, LocalIdentity, LocalIdentityConfig};
use vitrine_local::mail::FileMailer;
use vitrine_local::sms::FileSms;
use vitrine_local::smtp::SmtpMailer;
use vitrine_local::sqlite::SqliteTable;

use crate::config::{Backend, Config};

/// The app client id of the built-in identity provider's tokens.
pub const CLIENT_ID: &str = "vitrine-web";

/// A built store: the application and what the HTTP layer needs to verify tokens.
pub struct Store {
    pub app: Arc<App>,
    /// The keys access tokens are checked with.
    pub keys: Arc<Keys>,
    /// The built-in provider's public keys (served at `/.well-known/jwks.json`); `None` on AWS,
    /// where Cognito serves its own.
    pub jwks: Option<Jwks>,
    /// Whether `serve` runs the in-process event dispatcher: on the local backend. On AWS the
    /// DynamoDB Streams handler publishes events to SNS instead.
    pub dispatch_events: bool,
    /// CORS, rate limit and TLS headers of the router.
    pub security: vitrine_http::Security,
}

/// Where each part lives inside the data folder.
pub fn paths(data_dir: &Path) -> [std::path::PathBuf; 4] {
    [
        data_dir.join("vitrine.db"),
        data_dir.join("blobs"),
        data_dir.join("mail"),
        data_dir.join("keys"),
    ]
}

/// Build the store on the embedded adapters, creating the data folder on first use.
pub fn build(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Store> {
    let [db, blobs, mail, keys] = paths(&config.data_dir);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data folder {}", config.data_dir.display()))?;
    let ids: Arc<dyn Ids> = Arc::new(UlidIds);
    let table = Arc::new(
        SqliteTable::open(&db, clock.clone())
            .with_context(|| format!("opening the database {}", db.display()))?,
    );
    let blobs = Arc::new(
        FsBlobs::open(&blobs)
            .with_context(|| format!("opening the blob folder {}", blobs.display()))?,
    );
    // `.eml` files in the mail folder unless an SMTP server is configured.
    let mailer: Arc<dyn Mailer> = match &config.smtp_url {
        Some(url) => {
            tracing::info!(smtp.server = %url, "e-mail goes through SMTP");
            Arc::new(
                SmtpMailer::new(url.clone(), &config.mail_from)
                    .context("setting up the SMTP mailer")?,
            )
        }
        None => Arc::new(
            FileMailer::open(&mail, &config.mail_from)
                .with_context(|| format!("opening the mail folder {}", mail.display()))?
                .with_clock(clock.clone()),
        ),
    };
    let mut identity_config = LocalIdentityConfig::new(keys, config.public_url.clone(), CLIENT_ID);
    identity_config.argon2 = Argon2Cost {
        memory_kib: config.argon2_memory_kib,
        ..Argon2Cost::default()
    };
    let identity = LocalIdentity::open(
        identity_config,
        table.clone(),
        mailer.clone(),
        clock.clone(),
        ids.clone(),
    )
    .context("starting the identity provider")?;
    let verifier = identity.verifier();
    let jwks = identity.jwks();
    let settings = config.settings.clone();
    // Text messages go into the mail folder too, as `.sms` files.
    let sms = Arc::new(
        FileSms::open(&mail, clock.clone())
            .with_context(|| format!("opening the mail folder {}", mail.display()))?,
    );
    let payments = payment_providers(config, &keys_dir(&config.data_dir))?;
    let fiscal = crate::fiscal::build(&config.fiscal, &keys_dir(&config.data_dir))?;
    let ports = Ports {
        table,
        blobs,
        identity: Arc::new(identity),
        mailer,
        sms,
        clock,
        ids,
        payments,
        fiscal,
        // Browsers PUT images to the store's own signed `/uploads/...` URLs.
        uploads: Arc::new(SignedUploads::random()),
    };
    Ok(Store {
        app: App::new(ports, settings),
        keys: Arc::new(Keys::fixed(verifier)),
        jwks: Some(jwks),
        dispatch_events: true,
        security: config.security.clone(),
    })
}

fn keys_dir(data_dir: &Path) -> std::path::PathBuf {
    paths(data_dir)[3].clone()
}

/// The file that keeps the generated webhook secret, in the data folder's keys/.
const WEBHOOK_SECRET_FILE: &str = "payments-webhook.secret";

/// The payment webhook secret: the configured one, else the one generated into `keys_dir` on
/// first start (readable by the owner only).
pub fn webhook_secret(config: &Config, keys_dir: &Path) -> anyhow::Result<String> {
    if let Some(secret) = &config.payments.webhook_secret {
        return Ok(secret.clone());
    }
    let path = keys_dir.join(WEBHOOK_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 16 => return Ok(secret.trim().to_owned()),
        Ok(_) => anyhow::bail!(
            "{} is shorter than 16 characters; delete it to have a new one generated",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(keys_dir)
        .with_context(|| format!("creating {}", keys_dir.display()))?;
    let secret: String = (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, secret.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(file = %path.display(), "generated the payment webhook secret");
            Ok(secret)
        }
        // Another process generated it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(&path)?.trim().to_owned())
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// The sandbox payment providers (Pix from the store's key, test cards).
pub fn payment_providers(
    config: &Config,
    keys_dir: &Path,
) -> anyhow::Result<Vec<Arc<dyn PaymentProvider>>> {
    let p = &config.payments;
    if p.sandbox_pix_key {
        tracing::warn!(
            "no Pix key set (VITRINE_PIX_KEY): BR Codes carry a sandbox key that no bank accepts"
        );
    }
    let signer = WebhookSigner::new(webhook_secret(config, keys_dir)?.into_bytes())
        .map_err(anyhow::Error::msg)?;
    let pix = PixSandbox::new(
        PixAccount {
            key: p.pix_key.clone(),
            merchant_name: p.pix_merchant_name.clone(),
            merchant_city: p.pix_merchant_city.clone(),
        },
        signer,
    )
    .map_err(anyhow::Error::msg)?;
    Ok(vec![Arc::new(pix), Arc::new(CardSandbox)])
}

/// Build with the system clock.
pub fn build_default(config: &Config) -> anyhow::Result<Store> {
    build(config, Arc::new(SystemClock))
}

/// Build on the configured backend with the system clock.
pub async fn build_for(config: &Config) -> anyhow::Result<Store> {
    match config.backend {
        Backend::Local => build_default(config),
        Backend::Aws => build_aws(config, Arc::new(SystemClock)).await,
    }
}

/// Build the store on DynamoDB, S3, Cognito and SES.
#[cfg(feature = "aws")]
pub async fn build_aws(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Store> {
    build_aws_with(config, clock, None).await
}

/// [`build_aws`] with fixed credentials (tests against the emulator).
#[cfg(feature = "aws")]
pub async fn build_aws_with(
    config: &Config,
    clock: Arc<dyn Clock>,
    static_credentials: Option<(String, String)>,
) -> anyhow::Result<Store> {
    use vitrine_aws::compose::{self, AwsResources};
    let aws = vitrine_aws::AwsConfig {
        region: config.aws.region.clone(),
        endpoint: config.aws.endpoint.clone(),
        static_credentials,
        emulator: config.aws.emulator,
    };
    let mut resources = AwsResources {
        table: config.aws.table.clone(),
        bucket: config.aws.bucket.clone(),
        user_pool_id: config
            .aws
            .user_pool_id
            .clone()
            .unwrap_or_else(|| "vitrine".into()),
        client_id: config.aws.client_id.clone().unwrap_or_default(),
        mail_from: config.mail_from.clone(),
        // `serve --backend aws` keeps the reports in its one bucket.
        reports_bucket: None,
    };
    if config.aws.create_resources {
        resources = compose::create_resources(&aws, &resources).await?;
        println!(
            "AWS resources ready: table {}, bucket {}, user pool {} (client {}).",
            resources.table, resources.bucket, resources.user_pool_id, resources.client_id
        );
    }
    let payments = payment_providers(config, &keys_dir(&config.data_dir))?;
    let fiscal = crate::fiscal::build(&config.fiscal, &keys_dir(&config.data_dir))?;
    let store = compose::build_with(
        &aws,
        &resources,
        config.settings.clone(),
        clock,
        Arc::new(UlidIds),
        payments,
        fiscal,
    )
    .await?;
    // A long-running server downloads the pool's keys now, so a wrong pool or endpoint stops it
    // at start-up rather than failing every signed-in request.
    store.keys.preload().await?;
    Ok(Store {
        app: store.app,
        keys: store.keys,
        jwks: None,
        dispatch_events: false,
        security: config.security.clone(),
    })
}

#[cfg(not(feature = "aws"))]
pub async fn build_aws(_: &Config, _: Arc<dyn Clock>) -> anyhow::Result<Store> {
    anyhow::bail!("this build of vitrine has no AWS support: build it with `--features aws`")
}
