//! NF-e issuing for the local shape: the `[fiscal]` settings (checked by
//! `vitrine_app::fiscal::FiscalSettings::identity`, shared with the `invoices` Lambda) turned
//! into the application's [`Fiscal`], with the A1 certificate read from its PKCS#12 file and the
//! in-process [`XsdValidator`] (the official schemas compiled into the binary) as the schema
//! validator: no external program is needed to issue an invoice.
//!
//! Without a `[fiscal]` section the store issues **homologation** documents (`tpAmb` 2, no legal
//! value) as a demo emitter, signed with a self-signed certificate generated into the data
//! folder's `keys/` on first start, and transmits them to a **built-in SEFAZ simulator**
//! ([`DemoSefaz`]: the testkit's fake authoriser and its contingency service, started in the
//! process on first use), and says so in the log and the admin: a new store shows the whole flow,
//! authorisation included, before its owner has a certificate.
//!
//! With the store's own CNPJ and A1 certificate, documents go to the state's authoriser
//! ([`vitrine_fiscal::SefazAuthority`]), homologation unless `environment = "production"`;
//! `transmit = false` signs and stores them without sending.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use async_trait::async_trait;
use time::macros::datetime;
use tokio::sync::OnceCell;
use vitrine_app::fiscal::{DEMO_CNPJ, FiscalIdentity};
use vitrine_app::invoices::Fiscal;
use vitrine_app::ports::{
    Authoriser, FiscalAuthority, FiscalError, Registered, SignedNotTransmitted, Transmission,
};
use vitrine_fiscal::SefazAuthority;
use vitrine_nfe::sefaz::{Credentials, Event, Service, Voiding};
use vitrine_nfe::{
    Cnpj, Environment, SchemaValidator, SignedNfe, SigningCertificate, Uf, XsdValidator,
};
use vitrine_testkit::fakes::sefaz::FakeSefaz;

use crate::config::FiscalSettings;

/// The demo certificate and its password, in the data folder's `keys/`.
const DEMO_P12: &str = "nfe-demo.p12";
const DEMO_PASSWORD: &str = "nfe-demo.password";

/// The store's [`Fiscal`], or `None` when `enabled = false`.
pub fn build(settings: &FiscalSettings, keys_dir: &Path) -> anyhow::Result<Option<Arc<Fiscal>>> {
    if settings.enabled == Some(false) {
        tracing::info!("NF-e issuing is off ([fiscal] enabled = false)");
        return Ok(None);
    }
    let identity = settings.identity()?;
    let demo = identity.demo;
    let (cnpj, name) = (identity.emitter.cnpj.clone(), identity.emitter.name.clone());
    let transmit = settings.transmit.unwrap_or(true);
    let (certificate, authority): (SigningCertificate, Arc<dyn FiscalAuthority>) = match &settings
        .certificate
    {
        Some(path) => {
            let credentials =
                read_credentials(path, settings.certificate_password_file.as_deref())?;
            let authority: Arc<dyn FiscalAuthority> = if transmit {
                Arc::new(sefaz(settings, &identity, credentials.clone())?)
            } else {
                Arc::new(SignedNotTransmitted)
            };
            (credentials.signer().clone(), authority)
        }
        None if demo => {
            let certificate = demo_certificate(keys_dir, &cnpj, &name)?;
            let authority: Arc<dyn FiscalAuthority> = if transmit {
                Arc::new(DemoSefaz::new(&identity))
            } else {
                Arc::new(SignedNotTransmitted)
            };
            (certificate, authority)
        }
        None => bail!(
            "fiscal.certificate (the A1 certificate: a PKCS#12 file, or PEM with its key) is required"
        ),
    };
    if demo {
        tracing::warn!(
            nfe.cnpj = DEMO_CNPJ,
            nfe.authority = authority.name(),
            "NF-e: homologation documents as a demo emitter, signed with a self-signed \
             certificate and authorised by vitrine's built-in SEFAZ simulator (no legal value); \
             set [fiscal] in vitrine.toml (docs/invoices.md)"
        );
    }
    let validator: Arc<dyn SchemaValidator> = XsdValidator::official();
    Ok(Some(Arc::new(identity.into_fiscal(
        certificate,
        validator,
        authority,
    ))))
}

/// The state's SEFAZ for a store with its own certificate.
fn sefaz(
    settings: &FiscalSettings,
    identity: &FiscalIdentity,
    credentials: Credentials,
) -> anyhow::Result<SefazAuthority> {
    let mut roots = Vec::new();
    if let Some(file) = &settings.sefaz_roots_file {
        roots.push(
            std::fs::read_to_string(file)
                .with_context(|| format!("fiscal.sefaz_roots_file: reading {}", file.display()))?,
        );
    }
    if roots.is_empty() && settings.sefaz_roots_pem.is_none() {
        bail!(
            "fiscal.sefaz_roots_file is required to send NF-e to SEFAZ: its servers present \
             ICP-Brasil certificates, which no web root trusts (docs/invoices.md, \"Going live\"); \
             or set fiscal.transmit = false to sign and store documents without sending them"
        );
    }
    SefazAuthority::from_settings(identity, settings, roots, credentials)
}

/// vitrine's built-in SEFAZ simulator for the demo emitter: the testkit's fake authoriser of
/// the emitter's state and a fake contingency service, started in this process on first use,
/// reached over mutual TLS on 127.0.0.1 with a client certificate from their own CA, exactly as
/// a store's own SEFAZ is. What it authorised lives as long as the process.
pub struct DemoSefaz {
    uf: Uf,
    environment: Environment,
    company: String,
    started: OnceCell<Started>,
}

struct Started {
    authority: SefazAuthority,
    _normal: FakeSefaz,
    _contingency: FakeSefaz,
}

impl DemoSefaz {
    fn new(identity: &FiscalIdentity) -> DemoSefaz {
        DemoSefaz {
            uf: identity.emitter.address.uf,
            environment: identity.environment,
            company: identity.emitter.name.clone(),
            started: OnceCell::new(),
        }
    }

    async fn authority(&self) -> Result<&SefazAuthority, FiscalError> {
        self.started
            .get_or_try_init(|| async {
                let simulator = |e: String| {
                    FiscalError::Misconfigured(format!("the built-in SEFAZ simulator: {e}"))
                };
                let normal = FakeSefaz::start(self.uf, self.environment)
                    .await
                    .map_err(simulator)?;
                let contingency = normal
                    .contingency_for(vitrine_nfe::ContingencyKind::of(self.uf).tp_emis())
                    .await
                    .map_err(simulator)?;
                let shop = normal
                    .issue_shop_certificate(&self.company)
                    .map_err(simulator)?;
                let credentials = Credentials::from_pem(&shop.cert_pem, &shop.key_pem)
                    .map_err(|e| simulator(e.to_string()))?;
                let config = |fake: &FakeSefaz| {
                    let mut c = vitrine_nfe::sefaz::ClientConfig::new(self.uf, self.environment);
                    c.endpoint_overrides = fake.endpoint_overrides();
                    c.extra_roots_pem = vec![fake.ca_pem().to_owned()];
                    c
                };
                let authority =
                    SefazAuthority::new(config(&normal), Some(config(&contingency)), credentials)
                        .map_err(|e| simulator(e.to_string()))?;
                tracing::info!(
                    authoriser = %normal.url(Service::Authorisation),
                    "NF-e: the built-in SEFAZ simulator is up"
                );
                Ok(Started {
                    authority,
                    _normal: normal,
                    _contingency: contingency,
                })
            })
            .await
            .map(|s| &s.authority)
    }
}

#[async_trait]
impl FiscalAuthority for DemoSefaz {
    fn name(&self) -> &'static str {
        "sefaz-simulator"
    }

    fn has_contingency(&self) -> bool {
        true
    }

    async fn transmit(&self, nfe: &SignedNfe, to: Authoriser) -> Result<Transmission, FiscalError> {
        self.authority().await?.transmit(nfe, to).await
    }

    async fn query(
        &self,
        nfe: &SignedNfe,
        to: Authoriser,
    ) -> Result<Option<Transmission>, FiscalError> {
        self.authority().await?.query(nfe, to).await
    }

    async fn in_operation(&self, to: Authoriser) -> Result<bool, FiscalError> {
        self.authority().await?.in_operation(to).await
    }

    async fn register_event(
        &self,
        event: &Event,
        to: Authoriser,
    ) -> Result<Registered, FiscalError> {
        self.authority().await?.register_event(event, to).await
    }

    async fn void(&self, voiding: &Voiding) -> Result<Registered, FiscalError> {
        self.authority().await?.void(voiding).await
    }
}

/// The A1 certificate: a PKCS#12 file (`.pfx`/`.p12`) with its password, or PEM text holding
/// the certificate (and its chain) and its unencrypted key.
fn read_credentials(path: &Path, password_file: Option<&Path>) -> anyhow::Result<Credentials> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("fiscal.certificate: reading {}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        let text = String::from_utf8(bytes)
            .with_context(|| format!("fiscal.certificate: {} is not PEM text", path.display()))?;
        return Credentials::from_pem(&text, &text)
            .with_context(|| format!("fiscal.certificate: opening {}", path.display()));
    }
    let password = password(password_file)?;
    Credentials::from_pkcs12(&bytes, &password)
        .with_context(|| format!("fiscal.certificate: opening {}", path.display()))
}

fn password(password_file: Option<&Path>) -> anyhow::Result<String> {
    Ok(match password_file {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| {
                format!(
                    "fiscal.certificate_password_file: reading {}",
                    file.display()
                )
            })?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        None => std::env::var("VITRINE_NFE_CERTIFICATE_PASSWORD").context(
            "the certificate's password: set fiscal.certificate_password_file or \
             VITRINE_NFE_CERTIFICATE_PASSWORD",
        )?,
    })
}

/// The demo certificate in `keys_dir`, made on first use (valid 2020–2040 so that any clock a
/// demo or a test runs on is inside it).
fn demo_certificate(
    keys_dir: &Path,
    cnpj: &Cnpj,
    name: &str,
) -> anyhow::Result<SigningCertificate> {
    let p12 = keys_dir.join(DEMO_P12);
    let pass = keys_dir.join(DEMO_PASSWORD);
    if !p12.exists() || !pass.exists() {
        crate::private::create_dir(keys_dir)?;
        let password = format!("{:032x}", rand::random::<u128>());
        let der = vitrine_nfe::demo::demo_pkcs12(
            cnpj,
            name,
            datetime!(2020-01-01 00:00 UTC),
            20 * 365,
            &password,
        )?;
        write_private(&pass, password.as_bytes())?;
        write_private(&p12, &der)?;
        tracing::info!(path = %p12.display(), "made a demo NF-e certificate");
    }
    Ok(read_credentials(&p12, Some(&pass))?.signer().clone())
}

fn write_private(path: &PathBuf, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
