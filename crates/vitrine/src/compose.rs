//! The local composition root: builds the embedded adapters over a data folder and hands them
//! to the application. `serve`, the other subcommands and the tests all build the store here.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use vitrine_app::auth::Jwks;
use vitrine_app::keys::Keys;
use vitrine_app::payment_choice::{
    self as choice, PaymentChoice, PaymentChoices, ProviderLookup, assemble,
};
use vitrine_app::payments::sandbox::{CardSandbox, PixAccount, PixSandbox, WebhookSigner};
use vitrine_app::ports::{Clock, Ids, Mailer, PaymentProvider, SystemClock, UlidIds};
use vitrine_app::uploads::SignedUploads;
use vitrine_app::{App, Ports};
use vitrine_domain::order::PaymentMethod;
use vitrine_local::fs_blobs::FsBlobs;
use vitrine_local::identity::{Argon2Cost, LocalIdentity, LocalIdentityConfig};
use vitrine_local::mail::FileMailer;
use vitrine_local::sms::FileSms;
use vitrine_local::smtp::SmtpMailer;
use vitrine_local::sqlite::SqliteTable;

use crate::config::{Backend, Config, Source};
pub use crate::private::paths;

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
    /// The store's public address (`public_url`): where the links in its e-mails lead.
    pub public_url: String,
}

/// Build the store on the embedded adapters, creating the data folder on first use.
pub fn build(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Store> {
    let [db, blobs, mail, keys] = paths(&config.data_dir);
    let choices = payment_choices(config)?;
    // Owner-only whatever the umask: the database, the keys and the mail (reset codes).
    crate::private::secure_data_folder(&config.data_dir).with_context(|| {
        format!(
            "making the data folder {} private",
            config.data_dir.display()
        )
    })?;
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
    let payments = payment_providers(config, &keys_dir(&config.data_dir), &choices)?;
    let fiscal = crate::fiscal::build(&config.fiscal, &keys_dir(&config.data_dir))?;
    let shipping = vitrine_shipping::settings::shipping_port(&config.carrier, fiscal.as_deref())?;
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
        shipping,
    };
    Ok(Store {
        app: App::new(ports, settings),
        keys: Arc::new(Keys::fixed(verifier)),
        jwks: Some(jwks),
        dispatch_events: true,
        security: config.security.clone(),
        public_url: config.public_url.clone(),
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
    crate::private::create_dir(keys_dir)?;
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

/// The file in the data folder that records the payment providers it was created with.
pub const PAYMENTS_RECORD: &str = "payments.toml";

/// The provider of each method: the configured choice, else the data folder's record. A new
/// data folder (no database, no keys yet) with nothing configured records the sandbox for Pix
/// and cards, so the first `vitrine serve` sells in demo; an existing one keeps what it
/// recorded, and a method chosen nowhere is off.
pub fn payment_choices(config: &Config) -> anyhow::Result<PaymentChoices> {
    let [db, _, _, keys] = paths(&config.data_dir);
    let record = config.data_dir.join(PAYMENTS_RECORD);
    let recorded = match std::fs::read_to_string(&record) {
        Ok(text) => Some(read_record(&text).with_context(|| format!("{}", record.display()))?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", record.display())),
    };
    let configured = config.payments.choices;
    let recorded = match recorded {
        Some(r) => r,
        None if !configured.any_set() && !db.exists() && !keys.exists() => {
            crate::private::create_dir(&config.data_dir).with_context(|| {
                format!("creating the data folder {}", config.data_dir.display())
            })?;
            std::fs::write(&record, DEMO_RECORD)
                .with_context(|| format!("writing {}", record.display()))?;
            tracing::warn!(
                file = %record.display(),
                "new data folder: payments by the sandbox (demo, no money moves); choose real \
                 providers with [payments] pix/card/boleto (docs/payments.md)"
            );
            PaymentChoices::DEMO
        }
        None => PaymentChoices::default(),
    };
    Ok(configured.or(recorded))
}

/// What a new data folder records.
const DEMO_RECORD: &str = "\
# The payment providers this data folder was created with: the sandbox, in which no money
# moves (vitrine's first start, with no provider configured). Settings win over this file:
# --payments-pix/--payments-card/--payments-boleto, VITRINE_PAYMENTS_*, or [payments] in
# vitrine.toml. See docs/payments.md, \"Choosing providers\".
pix = \"sandbox\"
card = \"sandbox\"
";

/// The record's choices (`pix = "sandbox"`, …), checked like the settings.
fn read_record(text: &str) -> anyhow::Result<PaymentChoices> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Record {
        pix: Option<String>,
        card: Option<String>,
        boleto: Option<String>,
    }
    let r: Record = toml::from_str(text)?;
    PaymentChoices::from_lookup(|name| match name {
        n if n == choice::PIX.var => r.pix.clone(),
        n if n == choice::CARD.var => r.card.clone(),
        n if n == choice::BOLETO.var => r.boleto.clone(),
        _ => None,
    })
    .map_err(|e| anyhow::anyhow!(e.by_key()))
}

/// The real providers' settings by variable name, files read.
fn provider_values(config: &Config) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut values = Vec::new();
    for (name, source) in &config.payments.providers {
        let value = match source {
            Source::Value(v) => v.clone(),
            Source::File(path) => std::fs::read_to_string(path).with_context(|| {
                format!("{} ({}): reading {}", name.key, name.var, path.display())
            })?,
        };
        values.push((name.var, value));
    }
    if !config.payments.sandbox_pix_key {
        values.push((choice::PIX_KEY.var, config.payments.pix_key.clone()));
    }
    Ok(values)
}

/// The payment providers `choices` name (`vitrine_app::payment_choice`).
pub fn payment_providers(
    config: &Config,
    keys_dir: &Path,
    choices: &PaymentChoices,
) -> anyhow::Result<Vec<Arc<dyn PaymentProvider>>> {
    let values = provider_values(config)?;
    let get = |name: &str| {
        values
            .iter()
            .find(|(var, _)| *var == name)
            .map(|(_, v)| v.clone())
    };
    assemble(choices, |chosen, method| {
        let lookup = || ProviderLookup::new(&get, Some(&config.public_url), true, choices, chosen);
        Ok(match chosen {
            PaymentChoice::Sandbox if method == PaymentMethod::Pix => {
                Arc::new(pix_sandbox(config, keys_dir)?)
            }
            PaymentChoice::Sandbox => Arc::new(CardSandbox),
            PaymentChoice::Bcb => Arc::new(vitrine_payments::bcb_from(&lookup())?),
            PaymentChoice::MercadoPago => Arc::new(vitrine_payments::mercadopago_from(&lookup())?),
            PaymentChoice::Off => anyhow::bail!("no provider for a method that is off"),
        })
    })
}

/// Pix from the store's own key, confirmed by webhooks signed with the store's secret.
fn pix_sandbox(config: &Config, keys_dir: &Path) -> anyhow::Result<PixSandbox> {
    let p = &config.payments;
    if p.sandbox_pix_key {
        tracing::warn!(
            "no Pix key set (VITRINE_PIX_KEY): BR Codes carry a sandbox key that no bank accepts"
        );
    }
    let signer = WebhookSigner::new(webhook_secret(config, keys_dir)?.into_bytes())
        .map_err(anyhow::Error::msg)?;
    PixSandbox::new(
        PixAccount {
            key: p.pix_key.clone(),
            merchant_name: p.pix_merchant_name.clone(),
            merchant_city: p.pix_merchant_city.clone(),
        },
        signer,
    )
    .map_err(anyhow::Error::msg)
}

/// Build with the system clock.
pub fn build_default(config: &Config) -> anyhow::Result<Store> {
    build(config, Arc::new(SystemClock))
}

/// Build on the configured backend with the system clock.
pub async fn build_for(config: &Config) -> anyhow::Result<Store> {
    let store = match config.backend {
        Backend::Local => build_default(config)?,
        Backend::Aws => build_aws(config, Arc::new(SystemClock)).await?,
    };
    ensure_listings(&store.app).await?;
    ensure_admin_indexes(&store.app).await?;
    Ok(store)
}

/// Build the order and customer search entries if the table is from before they existed (once;
/// a bar on the terminal for many orders).
pub async fn ensure_admin_indexes(app: &App) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} search entries: {pos} orders {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let done = app
        .ensure_admin_indexes(&|n| bar.set_position(n as u64))
        .await
        .context("building the order and customer search entries")?;
    bar.finish_and_clear();
    if done > 0 {
        tracing::info!(orders = done, "built the order and customer search entries");
    }
    Ok(())
}

/// Build the catalog's listing entries if the table is from before they existed (once; a
/// bar on the terminal for a large catalog).
pub async fn ensure_listings(app: &App) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} listing entries: {pos} products {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    let done = app
        .ensure_listings(&|n| bar.set_position(n as u64))
        .await
        .context("building the catalog's listing entries")?;
    bar.finish_and_clear();
    if done > 0 {
        tracing::info!(products = done, "built the catalog's listing entries");
    }
    Ok(())
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
    let choices = payment_choices(config)?;
    let payments = payment_providers(config, &keys_dir(&config.data_dir), &choices)?;
    let fiscal = crate::fiscal::build(&config.fiscal, &keys_dir(&config.data_dir))?;
    let shipping = vitrine_shipping::settings::shipping_port(&config.carrier, fiscal.as_deref())?;
    let store = compose::build_with(
        &aws,
        &resources,
        config.settings.clone(),
        clock,
        Arc::new(UlidIds),
        payments,
        fiscal,
        shipping,
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
        public_url: config.public_url.clone(),
    })
}

#[cfg(not(feature = "aws"))]
pub async fn build_aws(_: &Config, _: Arc<dyn Clock>) -> anyhow::Result<Store> {
    anyhow::bail!("this build of vitrine has no AWS support: build it with `--features aws`")
}

#[cfg(test)]
mod tests {
    use vitrine_app::payment_choice::PaymentChoice;

    use super::*;
    use crate::config::Flags;

    fn config(data: &Path, flags: Flags) -> Config {
        let settings = data.parent().unwrap().join("vitrine.toml");
        std::fs::write(&settings, "").unwrap();
        Config::resolve(&Flags {
            config: Some(settings),
            data_dir: Some(data.to_path_buf()),
            ..flags
        })
        .unwrap()
    }

    #[test]
    fn a_new_data_folder_records_the_sandbox_and_keeps_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let c = config(&data, Flags::default());
        assert_eq!(payment_choices(&c).unwrap(), PaymentChoices::DEMO);
        let record = std::fs::read_to_string(data.join(PAYMENTS_RECORD)).unwrap();
        assert_eq!(read_record(&record).unwrap(), PaymentChoices::DEMO);

        // The record stays what it says; a setting wins over it.
        std::fs::write(data.join(PAYMENTS_RECORD), "pix = \"sandbox\"\n").unwrap();
        let c = config(&data, Flags::default());
        let choices = payment_choices(&c).unwrap();
        assert_eq!(choices.get(PaymentMethod::Pix), PaymentChoice::Sandbox);
        assert_eq!(choices.get(PaymentMethod::Card), PaymentChoice::Off);
        let c = config(
            &data,
            Flags {
                payments_pix: Some("off".into()),
                ..Flags::default()
            },
        );
        assert_eq!(
            payment_choices(&c).unwrap().get(PaymentMethod::Pix),
            PaymentChoice::Off
        );
    }

    #[test]
    fn an_existing_folder_without_a_record_or_a_configured_one_gets_no_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("keys")).unwrap();
        let c = config(&data, Flags::default());
        assert_eq!(payment_choices(&c).unwrap(), PaymentChoices::default());
        assert!(!data.join(PAYMENTS_RECORD).exists());

        let fresh = dir.path().join("fresh");
        let c = config(
            &fresh,
            Flags {
                payments_card: Some("mercadopago".into()),
                ..Flags::default()
            },
        );
        let choices = payment_choices(&c).unwrap();
        assert_eq!(choices.get(PaymentMethod::Pix), PaymentChoice::Off);
        assert!(
            !fresh.join(PAYMENTS_RECORD).exists(),
            "a configured store records nothing"
        );
    }

    #[test]
    fn a_malformed_record_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join(PAYMENTS_RECORD), "card = \"bcb\"\n").unwrap();
        let err = payment_choices(&config(&data, Flags::default())).unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains(PAYMENTS_RECORD) && err.contains("payments.card"),
            "{err}"
        );
    }
}
