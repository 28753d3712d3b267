//! NF-e issuing for the local shape: the `[fiscal]` settings (checked by
//! `vitrine_app::fiscal::FiscalSettings::identity`, shared with the `invoices` Lambda) turned
//! into the application's [`Fiscal`], with the A1 certificate read from its PKCS#12 file and the
//! in-process [`XsdValidator`] (the official schemas compiled into the binary) as the schema
//! validator: no external program is needed to issue an invoice.
//!
//! Without a `[fiscal]` section the store issues **homologation** documents (`tpAmb` 2, no legal
//! value) as a demo emitter, signed with a self-signed certificate generated into the data
//! folder's `keys/` on first start, and says so in the log: a new store shows the whole flow
//! before its owner has a certificate. Production needs every field and a real certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use time::macros::datetime;
use vitrine_app::fiscal::DEMO_CNPJ;
use vitrine_app::invoices::Fiscal;
use vitrine_app::ports::SignedNotTransmitted;
use vitrine_nfe::{Cnpj, SchemaValidator, SigningCertificate, XsdValidator};

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
    let certificate = match &settings.certificate {
        Some(path) => read_certificate(path, settings.certificate_password_file.as_deref())?,
        None if demo => demo_certificate(keys_dir, &cnpj, &name)?,
        None => bail!("fiscal.certificate (the A1 PKCS#12 file) is required"),
    };
    if demo {
        tracing::warn!(
            nfe.cnpj = DEMO_CNPJ,
            "NF-e: homologation documents as a demo emitter, signed with a self-signed \
             certificate (no legal value); set [fiscal] in vitrine.toml (docs/invoices.md)"
        );
    }
    let validator: Arc<dyn SchemaValidator> = XsdValidator::official();
    Ok(Some(Arc::new(identity.into_fiscal(
        certificate,
        validator,
        Arc::new(SignedNotTransmitted),
    ))))
}

fn read_certificate(
    path: &Path,
    password_file: Option<&Path>,
) -> anyhow::Result<SigningCertificate> {
    let der = std::fs::read(path)
        .with_context(|| format!("fiscal.certificate: reading {}", path.display()))?;
    let password = match password_file {
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
    };
    SigningCertificate::from_pkcs12(&der, &password)
        .with_context(|| format!("fiscal.certificate: opening {}", path.display()))
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
        std::fs::create_dir_all(keys_dir)
            .with_context(|| format!("creating {}", keys_dir.display()))?;
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
    read_certificate(&p12, Some(&pass))
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
