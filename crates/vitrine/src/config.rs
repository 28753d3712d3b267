//! Settings of the local shape, read once at start-up: command-line flags and `VITRINE_*`
//! environment variables (listed by `vitrine --help`), then an optional `vitrine.toml`, then
//! defaults. Anything malformed stops the program with a message naming the setting.
//!
//! The business settings (`vitrine_app::Settings`) are read by the function the Lambda
//! functions use too, `Settings::from_lookup`: here each of its variables is looked up in the
//! flags (and so the environment), then the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use vitrine_app::Settings;
use vitrine_app::payment_choice::{self as choice, PaymentChoices};
use vitrine_app::settings::{self as names, SettingName};
use vitrine_domain::card::InstallmentTable;
use vitrine_domain::shipping::RateTable;
use vitrine_local::smtp::SmtpUrl;

/// Flags shared by every subcommand. Each also reads a `VITRINE_*` variable.
#[derive(Debug, Clone, Args, Default)]
pub struct Flags {
    /// Folder holding the database, blobs, mail and keys.
    #[arg(long, env = "VITRINE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "VITRINE_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// Also serve Prometheus metrics at `/metrics` on this address, without a token (keep it
    /// private, e.g. 127.0.0.1:9464). Admins can always read them at /api/v1/admin/metrics.
    #[arg(long, env = "VITRINE_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,
    /// The public base URL (token issuer, links in e-mails). Default: http://<listen>.
    #[arg(long, env = "VITRINE_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Settings file (TOML). Default: ./vitrine.toml when it exists.
    #[arg(long, env = "VITRINE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Sender of the store's e-mails.
    #[arg(long, env = "VITRINE_MAIL_FROM", global = true)]
    pub mail_from: Option<String>,
    /// Send e-mail through this SMTP server instead of writing `.eml` files into the mail folder:
    /// `smtps://user:pass@host:465`, `smtp://user:pass@host:587?tls=starttls` or
    /// `smtp://host:25` (local backend).
    #[arg(long, env = "VITRINE_SMTP_URL", global = true, hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Minutes an order may stay unpaid before it expires and returns its stock.
    #[arg(long, env = "VITRINE_PAY_WITHIN_MINUTES", global = true)]
    pub pay_within_minutes: Option<i64>,
    /// A SKU at or below this many units raises `stock.low`.
    #[arg(long, env = "VITRINE_LOW_STOCK_THRESHOLD", global = true)]
    pub low_stock_threshold: Option<i64>,
    /// Orders of at least this total (centavos) alert the admins.
    #[arg(long, env = "VITRINE_LARGE_ORDER_CENTAVOS", global = true)]
    pub large_order_centavos: Option<i64>,
    /// Where admin alerts (low stock, large orders) are e-mailed; unset: not e-mailed.
    #[arg(long, env = "VITRINE_ALERTS_TO", global = true)]
    pub alerts_to: Option<String>,
    /// Seconds a catalog snapshot may be served before reloading (writes through this process
    /// invalidate it at once).
    #[arg(long, env = "VITRINE_CATALOG_CACHE_SECS", global = true)]
    pub catalog_cache_secs: Option<i64>,
    /// The most unpaid orders one customer may hold at once; checkout refuses one more.
    #[arg(long, env = "VITRINE_MAX_UNPAID_ORDERS", global = true)]
    pub max_unpaid_orders: Option<i64>,
    /// The most units one customer's unpaid orders may reserve together.
    #[arg(long, env = "VITRINE_MAX_UNPAID_UNITS", global = true)]
    pub max_unpaid_units: Option<i64>,
    /// A realtime resume (WebSocket `after`) replays nothing older than this many hours.
    #[arg(long, env = "VITRINE_REALTIME_RESUME_HOURS", global = true)]
    pub realtime_resume_hours: Option<i64>,
    /// A realtime resume sends at most this many missed events.
    #[arg(long, env = "VITRINE_REALTIME_RESUME_MAX_EVENTS", global = true)]
    pub realtime_resume_max_events: Option<i64>,
    /// A signed-in customer's cart untouched this many hours gets one reminder e-mail (1–72;
    /// 0: no reminders). Default: 24.
    #[arg(long, env = "VITRINE_ABANDONED_CART_HOURS", global = true)]
    pub abandoned_cart_hours: Option<i64>,
    /// Card installments offered: the monthly rate in basis points for 1, 2, 3, …
    /// installments, comma-separated (e.g. 0,0,0,199). Default: 3× without interest, up to 12×
    /// at 1.99 % a month.
    #[arg(
        long,
        env = "VITRINE_INSTALLMENT_RATES_BP",
        global = true,
        value_delimiter = ','
    )]
    pub installment_rates_bp: Option<Vec<u32>>,
    /// No card installment below this many centavos (default 500).
    #[arg(long, env = "VITRINE_MIN_INSTALLMENT_CENTAVOS", global = true)]
    pub min_installment_centavos: Option<i64>,
    /// Account mails of one kind (sign-up; new or reset code) to one address per hour (default 3).
    #[arg(long, env = "VITRINE_ACCOUNT_MAILS_PER_HOUR", global = true)]
    pub account_mails_per_hour: Option<i64>,
    /// Account mails of one kind to one address per day (default 10).
    #[arg(long, env = "VITRINE_ACCOUNT_MAILS_PER_DAY", global = true)]
    pub account_mails_per_day: Option<i64>,
    /// Sign-up, new-code and reset requests from one client address per hour (default 30).
    #[arg(long, env = "VITRINE_ACCOUNT_MAILS_PER_CLIENT_HOUR", global = true)]
    pub account_mails_per_client_hour: Option<i64>,
    /// Text messages to one phone number per day (default 10).
    #[arg(long, env = "VITRINE_SMS_PER_NUMBER_PER_DAY", global = true)]
    pub sms_per_number_per_day: Option<i64>,
    /// Country calling codes whose numbers may opt in to texts, comma-separated (default +55:
    /// Brazilian mobiles only).
    #[arg(
        long,
        env = "VITRINE_SMS_COUNTRY_CODES",
        global = true,
        value_delimiter = ','
    )]
    pub sms_country_codes: Option<Vec<String>>,
    /// The shipping rate table as JSON, in the shape of vitrine.toml's [shipping] section
    /// (replaces it).
    #[arg(long, env = "VITRINE_SHIPPING_RATES", global = true)]
    pub shipping_rates: Option<String>,
    /// The store's Pix key (CNPJ digits, e-mail, +55 phone or random key) printed in each BR
    /// Code. Unset: a sandbox key that no bank accepts (for trying the store out).
    #[arg(long, env = "VITRINE_PIX_KEY", global = true)]
    pub pix_key: Option<String>,
    /// The name the payer's bank shows for Pix payments (up to 25 letters).
    #[arg(long, env = "VITRINE_PIX_MERCHANT_NAME", global = true)]
    pub pix_merchant_name: Option<String>,
    /// The store's city in Pix BR Codes (up to 15 letters).
    #[arg(long, env = "VITRINE_PIX_MERCHANT_CITY", global = true)]
    pub pix_merchant_city: Option<String>,
    /// The shared secret payment webhooks are signed with (at least 16 characters). Unset: one
    /// is generated into the data folder's keys/ on first start.
    #[arg(
        long,
        env = "VITRINE_PAYMENTS_WEBHOOK_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub payments_webhook_secret: Option<String>,
    /// Who takes Pix payments: `sandbox` (demo, no money moves), `bcb` (the shop's bank, BCB Pix
    /// API), `mercadopago` or `off`. Unset: what the data folder recorded when it was created
    /// (`sandbox` for a new one), else off.
    #[arg(long, env = "VITRINE_PAYMENTS_PIX", global = true)]
    pub payments_pix: Option<String>,
    /// Who takes card payments: `sandbox`, `mercadopago` or `off` (unset: as for Pix).
    #[arg(long, env = "VITRINE_PAYMENTS_CARD", global = true)]
    pub payments_card: Option<String>,
    /// Who takes boletos: `mercadopago` or `off` (unset: off).
    #[arg(long, env = "VITRINE_PAYMENTS_BOLETO", global = true)]
    pub payments_boleto: Option<String>,
    /// Serve at a public https:// URL even though a payment method uses the sandbox (a public
    /// demo): a warning is logged at start and every hour.
    #[arg(long, env = "VITRINE_ALLOW_SANDBOX", global = true)]
    pub allow_sandbox: bool,
    /// Other web origins allowed to call the API from a browser (CORS), comma-separated, e.g.
    /// `https://loja.example.com`. Default: none (the web apps are same-origin).
    #[arg(
        long,
        env = "VITRINE_CORS_ORIGINS",
        global = true,
        value_delimiter = ','
    )]
    pub cors_origins: Option<Vec<String>>,
    /// API requests one client address may make per minute (bursts of a fifth of it, at least
    /// 20); 0 turns the limit off. Default 600.
    #[arg(long, env = "VITRINE_RATE_LIMIT_PER_MINUTE", global = true)]
    pub rate_limit_per_minute: Option<u32>,
    /// Reverse proxies in front of the server whose `X-Forwarded-For` is believed (addresses or
    /// CIDR ranges, comma-separated), so limits count each client, not the proxy. Default: none.
    #[arg(
        long,
        env = "VITRINE_TRUSTED_PROXIES",
        global = true,
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,
    /// Do not seed the demo catalog into an empty database.
    #[arg(long, env = "VITRINE_NO_SEED", global = true)]
    pub no_seed: bool,
    /// argon2id memory cost in KiB for password hashes (default 19456, OWASP's minimum).
    #[arg(long, env = "VITRINE_ARGON2_MEMORY_KIB", global = true)]
    pub argon2_memory_kib: Option<u32>,
    /// Log format: `text` (default) or `json`.
    #[arg(long, env = "VITRINE_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Where the data lives: `local` (SQLite, folders; default) or `aws` (DynamoDB, S3, Cognito,
    /// SES; needs a build with `--features aws`).
    #[arg(long, env = "VITRINE_BACKEND", global = true)]
    pub backend: Option<String>,
    /// AWS region (aws backend).
    #[arg(long, env = "AWS_REGION", global = true)]
    pub aws_region: Option<String>,
    /// Another AWS endpoint, e.g. a local emulator (aws backend).
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub aws_endpoint: Option<String>,
    /// DynamoDB table name (aws backend).
    #[arg(long, env = "VITRINE_TABLE", global = true)]
    pub table: Option<String>,
    /// S3 bucket for invoices, reports and images (aws backend).
    #[arg(long, env = "VITRINE_BUCKET", global = true)]
    pub bucket: Option<String>,
    /// Cognito user pool id (aws backend).
    #[arg(long, env = "VITRINE_USER_POOL_ID", global = true)]
    pub user_pool_id: Option<String>,
    /// Cognito app client id (aws backend).
    #[arg(long, env = "VITRINE_CLIENT_ID", global = true)]
    pub client_id: Option<String>,
    /// Create the table, bucket, user pool and sender identity first (aws backend; for an
    /// emulator or a first try — deployments create them with infra/template.yaml).
    #[arg(long, env = "VITRINE_CREATE_RESOURCES", global = true)]
    pub create_resources: bool,
    /// The AWS endpoint is the local emulator (moto): send it one request at a time, since it
    /// is not atomic under concurrent requests (aws backend).
    #[arg(long, env = "VITRINE_AWS_EMULATOR", global = true)]
    pub aws_emulator: bool,
}

/// `vitrine.toml`: the same settings, plus the shipping rate table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    metrics_listen: Option<SocketAddr>,
    public_url: Option<String>,
    mail_from: Option<String>,
    pay_within_minutes: Option<i64>,
    low_stock_threshold: Option<i64>,
    large_order_centavos: Option<i64>,
    alerts_to: Option<String>,
    catalog_cache_secs: Option<i64>,
    account_mails_per_hour: Option<i64>,
    account_mails_per_day: Option<i64>,
    account_mails_per_client_hour: Option<i64>,
    sms_per_number_per_day: Option<i64>,
    sms_country_codes: Option<Vec<String>>,
    max_unpaid_orders: Option<i64>,
    max_unpaid_units: Option<i64>,
    realtime_resume_hours: Option<i64>,
    realtime_resume_max_events: Option<i64>,
    abandoned_cart_hours: Option<i64>,
    cors_origins: Option<Vec<String>>,
    rate_limit_per_minute: Option<u32>,
    trusted_proxies: Option<Vec<String>>,
    no_seed: Option<bool>,
    argon2_memory_kib: Option<u32>,
    log_format: Option<String>,
    backend: Option<String>,
    aws_region: Option<String>,
    aws_endpoint: Option<String>,
    table: Option<String>,
    bucket: Option<String>,
    user_pool_id: Option<String>,
    client_id: Option<String>,
    mail: Option<MailFileSettings>,
    shipping: Option<RateTable>,
    payments: Option<PaymentFileSettings>,
    fiscal: Option<FiscalSettings>,
    carrier: Option<vitrine_shipping::settings::CarrierFile>,
}

/// Who quotes shipping (`[carrier]`), read by the function every Lambda function reads it with.
pub use vitrine_shipping::settings::{CarrierSettings, MELHORENVIO_DEFAULT_API_URL};

/// The `[payments]` section of `vitrine.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentFileSettings {
    pix_key: Option<String>,
    pix_merchant_name: Option<String>,
    pix_merchant_city: Option<String>,
    webhook_secret: Option<String>,
    /// Card installments: `monthly_rate_bp = [0, 0, 0, 199, …]`, `min_installment = 500`.
    installments: Option<InstallmentTable>,
    /// The provider of each method (`vitrine_app::payment_choice`).
    pix: Option<String>,
    card: Option<String>,
    boleto: Option<String>,
    bcb: Option<BcbFileSettings>,
    mercadopago: Option<MercadoPagoFileSettings>,
}

/// `[payments.bcb]`: the shop's bank's Pix API. Secrets and PEM files by path.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BcbFileSettings {
    api_url: Option<String>,
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    certificate_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    webhook_url: Option<String>,
}

/// `[payments.mercadopago]`: the Mercado Pago application's credentials.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MercadoPagoFileSettings {
    api_url: Option<String>,
    access_token: Option<String>,
    access_token_file: Option<PathBuf>,
    public_key: Option<String>,
    webhook_secret: Option<String>,
    webhook_secret_file: Option<PathBuf>,
    script_url: Option<String>,
    ca_file: Option<PathBuf>,
    notification_url: Option<String>,
}

/// Where a real provider's setting comes from: its value, or a file holding it.
#[derive(Clone)]
pub enum Source {
    Value(String),
    File(PathBuf),
}

impl std::fmt::Debug for Source {
    /// Never the value: some are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Value(_) => f.write_str("Value(..)"),
            Source::File(path) => write!(f, "File({})", path.display()),
        }
    }
}

/// The `[fiscal]` section of `vitrine.toml`: shared with the Lambda functions, which read the
/// same keys as JSON (`vitrine_app::fiscal`).
pub use vitrine_app::fiscal::{FiscalSettings, TechnicalResponsibleSettings};

/// How the store takes payments.
#[derive(Debug, Clone)]
pub struct PaymentSettings {
    pub pix_key: String,
    /// The Pix key is the built-in sandbox one.
    pub sandbox_pix_key: bool,
    pub pix_merchant_name: String,
    pub pix_merchant_city: String,
    /// `None`: generated into the data folder on first start.
    pub webhook_secret: Option<String>,
    /// The provider of each method as configured (flags, `VITRINE_PAYMENTS_*`, `vitrine.toml`);
    /// the data folder's record fills what is unset (`compose::payment_choices`).
    pub choices: PaymentChoices,
    /// The real providers' settings, by variable name (`vitrine_app::payment_choice`):
    /// `VITRINE_*` variables (`…_FILE` for a file), else `vitrine.toml`.
    pub providers: Vec<(SettingName, Source)>,
    /// `--allow-sandbox`: serve a sandbox at a public https:// URL.
    pub allow_sandbox: bool,
}

/// The Pix key used when none is set: under the `.invalid` top-level domain, which cannot
/// exist (RFC 2606), so no bank will ever take a payment to it.
pub const SANDBOX_PIX_KEY: &str = "pix-sandbox@vitrine.invalid";

/// The `[mail]` section of `vitrine.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailFileSettings {
    smtp_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Aws,
}

/// Settings of the aws backend.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: String,
    pub endpoint: Option<String>,
    pub table: String,
    pub bucket: String,
    /// Required unless `create_resources` (which creates a pool and learns its id).
    pub user_pool_id: Option<String>,
    pub client_id: Option<String>,
    pub create_resources: bool,
    pub emulator: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Where `/metrics` is served without a token, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    pub public_url: String,
    pub mail_from: String,
    /// The SMTP server mail goes through; `None` writes `.eml` files (the default).
    pub smtp_url: Option<SmtpUrl>,
    /// The business settings: payment window, stock and order alerts, catalog cache,
    /// installments, shipping rates (checked by `Settings::from_lookup`).
    pub settings: Settings,
    pub seed: bool,
    /// CORS, the per-client rate limit, HSTS (`vitrine_http::security`).
    pub security: vitrine_http::Security,
    pub argon2_memory_kib: u32,
    pub log_format: LogFormat,
    pub payments: PaymentSettings,
    /// NF-e issuing (checked when the store is built: it reads the certificate).
    pub fiscal: FiscalSettings,
    /// Who quotes shipping (`[carrier]`).
    pub carrier: CarrierSettings,
    pub backend: Backend,
    pub aws: AwsSettings,
}

impl Config {
    pub fn resolve(flags: &Flags) -> anyhow::Result<Config> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None if Path::new("vitrine.toml").exists() => read_file(Path::new("vitrine.toml"))?,
            None => FileSettings::default(),
        };
        let settings = business_settings(flags, &file)?;
        let listen = flags
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url_set = flags.public_url.is_some() || file.public_url.is_some();
        let public_url = flags
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        let log_format = match flags.log_format.clone().or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("log format must be text or json, not {other:?}"),
        };
        let smtp_url = flags
            .smtp_url
            .clone()
            .or(file.mail.and_then(|mail| mail.smtp_url))
            .filter(|url| !url.trim().is_empty())
            .map(|url| SmtpUrl::parse(&url))
            .transpose()
            .context("mail.smtp_url (VITRINE_SMTP_URL, --smtp-url)")?;
        let file_payments = file.payments.unwrap_or_default();
        let choices = payment_choices(flags, &file_payments)?;
        let providers = provider_sources(&file_payments, |name| std::env::var(name).ok());
        let pix_key = flags
            .pix_key
            .clone()
            .or(file_payments.pix_key)
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        let payments = PaymentSettings {
            choices,
            providers,
            allow_sandbox: flags.allow_sandbox,
            sandbox_pix_key: pix_key.is_none(),
            pix_key: pix_key.unwrap_or_else(|| SANDBOX_PIX_KEY.into()),
            pix_merchant_name: flags
                .pix_merchant_name
                .clone()
                .or(file_payments.pix_merchant_name)
                .unwrap_or_else(|| "vitrine".into()),
            pix_merchant_city: flags
                .pix_merchant_city
                .clone()
                .or(file_payments.pix_merchant_city)
                .unwrap_or_else(|| "SAO PAULO".into()),
            webhook_secret: flags
                .payments_webhook_secret
                .clone()
                .or(file_payments.webhook_secret)
                .filter(|s| !s.is_empty()),
        };
        let config = Config {
            data_dir: flags
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("data")),
            listen,
            metrics_listen: flags.metrics_listen.or(file.metrics_listen),
            public_url: public_url.trim_end_matches('/').to_owned(),
            mail_from: flags
                .mail_from
                .clone()
                .or(file.mail_from)
                .unwrap_or_else(|| "vitrine <loja@vitrine.localhost>".into()),
            smtp_url,
            settings,
            seed: !(flags.no_seed || file.no_seed.unwrap_or(false)),
            security: vitrine_http::Security {
                hsts: public_url.starts_with("https://"),
                public_url: public_url_set.then(|| public_url.clone()),
                cors_origins: flags
                    .cors_origins
                    .clone()
                    .or(file.cors_origins)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .map(|o| {
                        vitrine_http::security::check_origin(&o)
                            .map(|()| o)
                            .map_err(|why| anyhow::anyhow!("cors_origins: {why}"))
                    })
                    .collect::<anyhow::Result<_>>()?,
                trusted_proxies: flags
                    .trusted_proxies
                    .clone()
                    .or(file.trusted_proxies)
                    .unwrap_or_default()
                    .iter()
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| {
                        vitrine_http::security::parse_proxy(p)
                            .map_err(|why| anyhow::anyhow!("trusted_proxies: {why}"))
                    })
                    .collect::<anyhow::Result<_>>()?,
                rate_limit: match flags
                    .rate_limit_per_minute
                    .or(file.rate_limit_per_minute)
                    .unwrap_or(vitrine_http::RateLimit::DEFAULT.per_minute)
                {
                    0 => None,
                    per_minute => Some(vitrine_http::RateLimit {
                        per_minute,
                        burst: (per_minute / 5).max(20),
                    }),
                },
            },
            argon2_memory_kib: flags
                .argon2_memory_kib
                .or(file.argon2_memory_kib)
                .unwrap_or(19_456),
            log_format,
            payments,
            fiscal: file.fiscal.unwrap_or_default(),
            carrier: vitrine_shipping::settings::carrier_settings(file.carrier, |name| {
                std::env::var(name).ok()
            })?,
            backend: match flags.backend.clone().or(file.backend).as_deref() {
                None | Some("local") => Backend::Local,
                Some("aws") => Backend::Aws,
                Some(other) => bail!("backend must be local or aws, not {other:?}"),
            },
            aws: AwsSettings {
                region: flags
                    .aws_region
                    .clone()
                    .or(file.aws_region)
                    .unwrap_or_else(|| "us-east-1".into()),
                endpoint: flags.aws_endpoint.clone().or(file.aws_endpoint),
                table: flags
                    .table
                    .clone()
                    .or(file.table)
                    .unwrap_or_else(|| "vitrine".into()),
                bucket: flags
                    .bucket
                    .clone()
                    .or(file.bucket)
                    .unwrap_or_else(|| "vitrine-data".into()),
                user_pool_id: flags.user_pool_id.clone().or(file.user_pool_id),
                client_id: flags.client_id.clone().or(file.client_id),
                create_resources: flags.create_resources,
                emulator: flags.aws_emulator,
            },
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        if !(8..=1_048_576).contains(&self.argon2_memory_kib) {
            bail!("argon2_memory_kib must be between 8 and 1048576");
        }
        if !self.public_url.starts_with("http://") && !self.public_url.starts_with("https://") {
            bail!("public_url must start with http:// or https://");
        }
        if let Some(secret) = &self.payments.webhook_secret
            && secret.len() < 16
        {
            bail!("payments.webhook_secret must be at least 16 characters long");
        }
        vitrine_domain::pix::BrCode::new(
            &self.payments.pix_key,
            &self.payments.pix_merchant_name,
            &self.payments.pix_merchant_city,
            None,
            None,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "payments (pix_key, pix_merchant_name, pix_merchant_city): {}",
                e.describe()
            )
        })?;
        if self.backend == Backend::Aws && self.smtp_url.is_some() {
            bail!("mail.smtp_url is for the local backend; the aws backend sends e-mail with SES");
        }
        if self.backend == Backend::Aws
            && !self.aws.create_resources
            && (self.aws.user_pool_id.is_none() || self.aws.client_id.is_none())
        {
            bail!(
                "the aws backend needs user_pool_id and client_id (VITRINE_USER_POOL_ID, \
                 VITRINE_CLIENT_ID), or --create-resources"
            );
        }
        Ok(())
    }
}

/// The provider of each method: the flag (or variable), else `vitrine.toml`'s `[payments]`.
fn payment_choices(flags: &Flags, file: &PaymentFileSettings) -> anyhow::Result<PaymentChoices> {
    let values = [
        (choice::PIX, flags.payments_pix.clone().or(file.pix.clone())),
        (
            choice::CARD,
            flags.payments_card.clone().or(file.card.clone()),
        ),
        (
            choice::BOLETO,
            flags.payments_boleto.clone().or(file.boleto.clone()),
        ),
    ];
    PaymentChoices::from_lookup(|name| {
        values
            .iter()
            .find(|(setting, _)| setting.var == name)
            .and_then(|(_, value)| value.clone())
    })
    .map_err(|e| anyhow::anyhow!(e.by_key()))
}

/// Where each real provider's setting comes from: the variable, else the variable with `_FILE`
/// (a path), else `vitrine.toml`. PEM text is always read from a file here.
fn provider_sources(
    file: &PaymentFileSettings,
    env: impl Fn(&str) -> Option<String>,
) -> Vec<(SettingName, Source)> {
    let bcb = file.bcb.as_ref();
    let mp = file.mercadopago.as_ref();
    let value = |v: Option<&String>| v.cloned().map(Source::Value);
    let path = |v: Option<&PathBuf>| v.cloned().map(Source::File);
    let from_file: [(SettingName, Option<Source>); 16] = [
        (
            choice::BCB_API_URL,
            value(bcb.and_then(|b| b.api_url.as_ref())),
        ),
        (
            choice::BCB_TOKEN_URL,
            value(bcb.and_then(|b| b.token_url.as_ref())),
        ),
        (
            choice::BCB_CLIENT_ID,
            value(bcb.and_then(|b| b.client_id.as_ref())),
        ),
        (
            choice::BCB_CLIENT_SECRET,
            value(bcb.and_then(|b| b.client_secret.as_ref()))
                .or(path(bcb.and_then(|b| b.client_secret_file.as_ref()))),
        ),
        (
            choice::BCB_CERTIFICATE_PEM,
            path(bcb.and_then(|b| b.certificate_file.as_ref())),
        ),
        (
            choice::BCB_KEY_PEM,
            path(bcb.and_then(|b| b.key_file.as_ref())),
        ),
        (
            choice::BCB_CA_PEM,
            path(bcb.and_then(|b| b.ca_file.as_ref())),
        ),
        (
            choice::BCB_WEBHOOK_URL,
            value(bcb.and_then(|b| b.webhook_url.as_ref())),
        ),
        // The Pix key is `payments.pix_key` (`PaymentSettings::pix_key`), read below.
        (choice::PIX_KEY, None),
        (
            choice::MERCADOPAGO_API_URL,
            value(mp.and_then(|m| m.api_url.as_ref())),
        ),
        (
            choice::MERCADOPAGO_ACCESS_TOKEN,
            value(mp.and_then(|m| m.access_token.as_ref()))
                .or(path(mp.and_then(|m| m.access_token_file.as_ref()))),
        ),
        (
            choice::MERCADOPAGO_PUBLIC_KEY,
            value(mp.and_then(|m| m.public_key.as_ref())),
        ),
        (
            choice::MERCADOPAGO_WEBHOOK_SECRET,
            value(mp.and_then(|m| m.webhook_secret.as_ref()))
                .or(path(mp.and_then(|m| m.webhook_secret_file.as_ref()))),
        ),
        (
            choice::MERCADOPAGO_SCRIPT_URL,
            value(mp.and_then(|m| m.script_url.as_ref())),
        ),
        (
            choice::MERCADOPAGO_CA_PEM,
            path(mp.and_then(|m| m.ca_file.as_ref())),
        ),
        (
            choice::MERCADOPAGO_NOTIFICATION_URL,
            value(mp.and_then(|m| m.notification_url.as_ref())),
        ),
    ];
    let set = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    from_file
        .into_iter()
        .filter_map(|(name, in_file)| {
            let pem = name.var.ends_with("_PEM");
            let from_env = if pem {
                None
            } else {
                set(env(name.var)).map(Source::Value)
            };
            // `VITRINE_BCB_CERTIFICATE_PEM` is PEM text; its file is `VITRINE_BCB_CERTIFICATE_FILE`.
            let file_var = format!("{}_FILE", name.var.trim_end_matches("_PEM"));
            let from_env_file = set(env(&file_var)).map(|p| Source::File(PathBuf::from(p)));
            from_env
                .or(from_env_file)
                .or(in_file)
                .map(|source| (name, source))
        })
        .collect()
}

/// The business settings, through `Settings::from_lookup`: each of its variables is answered
/// by the flag (or variable) if given, else by `vitrine.toml`. Messages name the file's key.
fn business_settings(flags: &Flags, file: &FileSettings) -> anyhow::Result<Settings> {
    let file_installments = file.payments.as_ref().and_then(|p| p.installments.as_ref());
    let text = |v: Option<i64>| v.map(|v| v.to_string());
    let rates = |r: &[u32]| r.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    let shipping = match (&flags.shipping_rates, &file.shipping) {
        (Some(json), _) => Some(json.clone()),
        (None, Some(table)) => Some(serde_json::to_string(table)?),
        (None, None) => None,
    };
    let values = [
        (
            names::PAY_WITHIN_MINUTES,
            text(flags.pay_within_minutes.or(file.pay_within_minutes)),
        ),
        (
            names::LOW_STOCK_THRESHOLD,
            text(flags.low_stock_threshold.or(file.low_stock_threshold)),
        ),
        (
            names::LARGE_ORDER_CENTAVOS,
            text(flags.large_order_centavos.or(file.large_order_centavos)),
        ),
        (
            names::ALERTS_TO,
            flags.alerts_to.clone().or_else(|| file.alerts_to.clone()),
        ),
        (
            names::CATALOG_CACHE_SECS,
            text(flags.catalog_cache_secs.or(file.catalog_cache_secs)),
        ),
        (
            names::INSTALLMENT_RATES_BP,
            flags
                .installment_rates_bp
                .as_deref()
                .or(file_installments.map(|t| t.monthly_rate_bp.as_slice()))
                .map(rates),
        ),
        (
            names::MIN_INSTALLMENT_CENTAVOS,
            text(
                flags
                    .min_installment_centavos
                    .or(file_installments.map(|t| t.min_installment.centavos())),
            ),
        ),
        (names::SHIPPING_RATES, shipping),
        (
            names::ACCOUNT_MAILS_PER_HOUR,
            text(flags.account_mails_per_hour.or(file.account_mails_per_hour)),
        ),
        (
            names::ACCOUNT_MAILS_PER_DAY,
            text(flags.account_mails_per_day.or(file.account_mails_per_day)),
        ),
        (
            names::ACCOUNT_MAILS_PER_CLIENT_HOUR,
            text(
                flags
                    .account_mails_per_client_hour
                    .or(file.account_mails_per_client_hour),
            ),
        ),
        (
            names::SMS_PER_NUMBER_PER_DAY,
            text(flags.sms_per_number_per_day.or(file.sms_per_number_per_day)),
        ),
        (
            names::SMS_COUNTRY_CODES,
            flags
                .sms_country_codes
                .as_ref()
                .or(file.sms_country_codes.as_ref())
                .map(|codes| codes.join(",")),
        ),
        (
            names::MAX_UNPAID_ORDERS,
            text(flags.max_unpaid_orders.or(file.max_unpaid_orders)),
        ),
        (
            names::MAX_UNPAID_UNITS,
            text(flags.max_unpaid_units.or(file.max_unpaid_units)),
        ),
        (
            names::REALTIME_RESUME_HOURS,
            text(flags.realtime_resume_hours.or(file.realtime_resume_hours)),
        ),
        (
            names::REALTIME_RESUME_MAX_EVENTS,
            text(
                flags
                    .realtime_resume_max_events
                    .or(file.realtime_resume_max_events),
            ),
        ),
        (
            names::ABANDONED_CART_HOURS,
            text(flags.abandoned_cart_hours.or(file.abandoned_cart_hours)),
        ),
    ];
    Settings::from_lookup(|name| {
        values
            .iter()
            .find(|(setting, _)| setting.var == name)
            .and_then(|(_, value)| value.clone())
    })
    .map_err(|e| anyhow::anyhow!(e.by_key()))
}

fn read_file(path: &Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading settings file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("settings file {} is not valid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file_and_no_flags() {
        let c = Config::resolve(&Flags {
            config: None,
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_url, "http://127.0.0.1:8080");
        assert!(c.seed);
    }

    #[test]
    fn a_settings_file_with_an_unknown_key_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, "listne = \"127.0.0.1:1\"\n").unwrap();
        let err = Config::resolve(&Flags {
            config: Some(path),
            ..Flags::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("listne"), "{err:#}");
    }

    #[test]
    fn an_smtp_url_comes_from_the_mail_section_or_the_flag_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            "[mail]\nsmtp_url = \"smtp://loja:segredo@mail.example.com?tls=starttls\"\n",
        )
        .unwrap();
        let c = Config::resolve(&Flags {
            config: Some(path.clone()),
            ..Flags::default()
        })
        .unwrap();
        let url = c.smtp_url.as_ref().unwrap();
        assert_eq!((url.host(), url.port()), ("mail.example.com", 587));
        assert!(!format!("{c:?}").contains("segredo"), "{c:?}");

        let c = Config::resolve(&Flags {
            config: Some(path.clone()),
            smtp_url: Some("smtps://relay.example.com".into()),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.smtp_url.unwrap().port(), 465, "the flag wins");

        let err = Config::resolve(&Flags {
            config: Some(path),
            smtp_url: Some("smtp://loja:segredo@host?tls=maybe".into()),
            ..Flags::default()
        })
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("mail.smtp_url") && !err.contains("segredo"),
            "{err}"
        );

        let defaults = Config::resolve(&Flags {
            config: None,
            ..Flags::default()
        })
        .unwrap();
        assert!(
            defaults.smtp_url.is_none(),
            "the file mailer stays the default"
        );
    }

    #[test]
    fn the_file_s_installments_shipping_and_alerts_reach_the_settings_and_flags_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            "alerts_to = \"estoque@loja.example\"\nlarge_order_centavos = 5000\n\
             [payments.installments]\nmonthly_rate_bp = [0, 0, 149]\nmin_installment = 1000\n\
             [shipping]\nfree_above_centavos = 30000\n[[shipping.methods]]\nid = \"motoboy\"\n\
             name = \"Motoboy\"\nzones = [{ cep_from = \"01000000\", cep_to = \"05999999\", \
             base_centavos = 1200, per_kg_centavos = 0, days = 0 }]\n",
        )
        .unwrap();
        let c = Config::resolve(&Flags {
            config: Some(path.clone()),
            ..Flags::default()
        })
        .unwrap();
        let s = &c.settings;
        assert_eq!(s.alerts_to.as_deref(), Some("estoque@loja.example"));
        assert_eq!(s.large_order_centavos, 5000);
        assert_eq!(s.installments.monthly_rate_bp, [0, 0, 149]);
        assert_eq!(s.installments.min_installment.centavos(), 1000);
        assert_eq!(s.rate_table.methods[0].id, "motoboy");
        assert_eq!(s.rate_table.free_above_centavos, Some(30_000));

        let c = Config::resolve(&Flags {
            config: Some(path),
            installment_rates_bp: Some(vec![0, 0]),
            shipping_rates: Some(
                r#"{"methods": [{"id": "pac", "name": "PAC", "zones": []}]}"#.into(),
            ),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.settings.installments.monthly_rate_bp, [0, 0]);
        assert_eq!(c.settings.installments.min_installment.centavos(), 1000);
        assert_eq!(c.settings.rate_table.methods[0].id, "pac");

        let err = Config::resolve(&Flags {
            config: None,
            pay_within_minutes: Some(0),
            ..Flags::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "pay_within_minutes must be between 1 and 10080"
        );
    }

    #[test]
    fn the_realtime_resume_limits_come_from_the_file_or_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            "realtime_resume_hours = 6\nrealtime_resume_max_events = 50\n",
        )
        .unwrap();
        let c = Config::resolve(&Flags {
            config: Some(path.clone()),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.settings.realtime_resume_secs, 6 * 3600);
        assert_eq!(c.settings.realtime_resume_max_events, 50);
        let c = Config::resolve(&Flags {
            config: Some(path),
            realtime_resume_max_events: Some(20),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.settings.realtime_resume_max_events, 20, "the flag wins");
        let err = Config::resolve(&Flags {
            config: None,
            realtime_resume_hours: Some(0),
            ..Flags::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "realtime_resume_hours must be between 1 and 168"
        );
    }

    #[test]
    fn the_abandoned_cart_reminder_time_comes_from_the_file_or_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, "abandoned_cart_hours = 0\n").unwrap();
        let c = Config::resolve(&Flags {
            config: Some(path.clone()),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.settings.abandoned_cart_secs, 0, "0: no reminders");
        let c = Config::resolve(&Flags {
            config: Some(path),
            abandoned_cart_hours: Some(2),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.settings.abandoned_cart_secs, 2 * 3600, "the flag wins");
        let err = Config::resolve(&Flags {
            config: None,
            abandoned_cart_hours: Some(100),
            ..Flags::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "abandoned_cart_hours must be between 0 (no reminders) and 72"
        );
    }

    #[test]
    fn payment_choices_come_from_the_flags_or_the_file_and_are_checked_by_key() {
        use vitrine_app::payment_choice::PaymentChoice;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, "[payments]\npix = \"bcb\"\ncard = \"mercadopago\"\n").unwrap();
        let c = Config::resolve(&Flags {
            config: Some(path.clone()),
            payments_card: Some("off".into()),
            ..Flags::default()
        })
        .unwrap();
        let choices = c.payments.choices;
        assert_eq!(choices.pix, Some(PaymentChoice::Bcb));
        assert_eq!(choices.card, Some(PaymentChoice::Off), "the flag wins");
        assert_eq!(choices.boleto, None);

        std::fs::write(&path, "[payments]\nboleto = \"sandbox\"\n").unwrap();
        let err = Config::resolve(&Flags {
            config: Some(path),
            ..Flags::default()
        })
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("payments.boleto must be one of mercadopago, off"),
            "{err}"
        );
    }

    #[test]
    fn a_provider_setting_comes_from_its_variable_then_its_file_variable_then_the_file() {
        let file: PaymentFileSettings = toml::from_str(
            "[bcb]\nclient_id = \"do-arquivo\"\nkey_file = \"/arquivo/key.pem\"\n\
             client_secret_file = \"/arquivo/secret\"\n[mercadopago]\npublic_key = \"PK\"\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "VITRINE_BCB_CLIENT_ID" => Some("da-variavel".to_owned()),
            "VITRINE_BCB_CERTIFICATE_FILE" => Some("/env/cert.pem".to_owned()),
            // PEM text is read from files here, never from a variable.
            "VITRINE_BCB_KEY_PEM" => Some("-----BEGIN PRIVATE KEY-----".to_owned()),
            _ => None,
        };
        let sources = provider_sources(&file, env);
        let of = |name: SettingName| {
            sources
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| format!("{s:?}"))
        };
        assert_eq!(of(choice::BCB_CLIENT_ID).as_deref(), Some("Value(..)"));
        assert_eq!(
            of(choice::BCB_CERTIFICATE_PEM).as_deref(),
            Some("File(/env/cert.pem)")
        );
        assert_eq!(
            of(choice::BCB_KEY_PEM).as_deref(),
            Some("File(/arquivo/key.pem)")
        );
        assert_eq!(
            of(choice::BCB_CLIENT_SECRET).as_deref(),
            Some("File(/arquivo/secret)")
        );
        assert_eq!(
            of(choice::MERCADOPAGO_PUBLIC_KEY).as_deref(),
            Some("Value(..)")
        );
        assert_eq!(of(choice::BCB_API_URL), None);
        match &sources
            .iter()
            .find(|(n, _)| *n == choice::BCB_CLIENT_ID)
            .unwrap()
            .1
        {
            Source::Value(v) => assert_eq!(v, "da-variavel", "the variable wins"),
            Source::File(_) => panic!("a file"),
        }
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, "pay_within_minutes = 10\nlow_stock_threshold = 2\n").unwrap();
        let c = Config::resolve(&Flags {
            config: Some(path),
            pay_within_minutes: Some(45),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.settings.pay_within_secs, 45 * 60);
        assert_eq!(c.settings.low_stock_threshold, 2);
    }

    #[test]
    fn send_limits_come_from_the_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(
            &path,
            "account_mails_per_hour = 2\naccount_mails_per_day = 4\n\
             account_mails_per_client_hour = 50\nsms_per_number_per_day = 3\n\
             sms_country_codes = [\"+55\", \"+351\"]\n",
        )
        .unwrap();
        let c = Config::resolve(&Flags {
            config: Some(path.clone()),
            sms_per_number_per_day: Some(5),
            ..Flags::default()
        })
        .unwrap();
        let limits = &c.settings.send_limits;
        assert_eq!(limits.account_mails_per_hour, 2);
        assert_eq!(limits.account_mails_per_day, 4);
        assert_eq!(limits.account_mails_per_client_hour, 50);
        assert_eq!(limits.sms_per_number_per_day, 5, "the flag wins");
        assert_eq!(limits.sms_country_codes, ["+55", "+351"]);
        std::fs::write(&path, "sms_country_codes = [\"BR\"]\n").unwrap();
        let err = Config::resolve(&Flags {
            config: Some(path),
            ..Flags::default()
        })
        .unwrap_err();
        assert!(
            err.to_string().starts_with("sms_country_codes must be"),
            "{err}"
        );
    }

    #[test]
    fn the_unpaid_cap_is_read_from_the_file_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.toml");
        std::fs::write(&path, "max_unpaid_orders = 5\nmax_unpaid_units = 400\n").unwrap();
        let c = Config::resolve(&Flags {
            config: Some(path.clone()),
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(
            c.settings.unpaid_cap,
            vitrine_app::UnpaidCap {
                orders: 5,
                units: 400
            }
        );
        std::fs::write(&path, "max_unpaid_orders = 0\n").unwrap();
        let err = Config::resolve(&Flags {
            config: Some(path),
            ..Flags::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "max_unpaid_orders must be between 1 and 1000"
        );
    }
}
