//! NF-e issuing for the local shape: the `[fiscal]` settings turned into the application's
//! [`Fiscal`], with the A1 certificate read from its PKCS#12 file and the in-process
//! [`XsdValidator`] (the official schemas compiled into the binary) as the schema validator: no
//! external program is needed to issue an invoice.
//!
//! Without a `[fiscal]` section the store issues **homologation** documents (`tpAmb` 2, no legal
//! value) as a demo emitter, signed with a self-signed certificate generated into the data
//! folder's `keys/` on first start, and says so in the log: a new store shows the whole flow
//! before its owner has a certificate. Production needs every field and a real certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use time::UtcOffset;
use time::macros::datetime;
use vitrine_app::invoices::Fiscal;
use vitrine_app::ports::SignedNotTransmitted;
use vitrine_nfe::{
    Address, Cnpj, Emitter, Environment, IbsCbs, ItemTaxes, Rate, SchemaValidator,
    SigningCertificate, TaxRegime, TechnicalResponsible, Uf, XsdValidator,
};

use crate::config::FiscalSettings;

/// The demo certificate and its password, in the data folder's `keys/`.
const DEMO_P12: &str = "nfe-demo.p12";
const DEMO_PASSWORD: &str = "nfe-demo.password";
/// The demo emitter: a CNPJ with valid check digits that belongs to no one's store.
const DEMO_CNPJ: &str = "11222333000181";

/// The store's [`Fiscal`], or `None` when `enabled = false`.
pub fn build(settings: &FiscalSettings, keys_dir: &Path) -> anyhow::Result<Option<Arc<Fiscal>>> {
    if settings.enabled == Some(false) {
        tracing::info!("NF-e issuing is off ([fiscal] enabled = false)");
        return Ok(None);
    }
    let environment = match settings.environment.as_deref() {
        None | Some("homologation") => Environment::Homologation,
        Some("production") => Environment::Production,
        Some(other) => {
            bail!("fiscal.environment must be homologation or production, not {other:?}")
        }
    };
    let demo = settings.cnpj.is_none();
    if demo && environment == Environment::Production {
        bail!(
            "fiscal.environment = \"production\" needs the store's own cnpj, ie, name, address and certificate"
        );
    }
    let text = |value: &Option<String>, demo_value: &str, name: &str| -> anyhow::Result<String> {
        match value {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
            _ if demo => Ok(demo_value.to_owned()),
            _ => bail!("fiscal.{name} is required"),
        }
    };
    let cnpj = Cnpj::parse(&text(&settings.cnpj, DEMO_CNPJ, "cnpj")?)
        .map_err(|e| anyhow::anyhow!("fiscal.cnpj: {e}"))?;
    let uf_text = text(&settings.uf, "SP", "uf")?;
    let uf = Uf::parse(&uf_text).map_err(|e| anyhow::anyhow!("fiscal.uf: {e}"))?;
    let domain_uf =
        vitrine_domain::br::Uf::parse(&uf_text).map_err(|e| anyhow::anyhow!("fiscal.uf: {e}"))?;
    let city = text(&settings.city, "São Paulo", "city")?;
    let municipality_code = vitrine_domain::ibge::municipality_code(domain_uf, &city)
        .with_context(|| format!("fiscal.city: {city}/{uf_text} is not an IBGE municipality"))?;
    let regime = match settings.regime.as_deref() {
        None | Some("simples_nacional") => TaxRegime::SimplesNacional,
        Some("normal") => TaxRegime::Normal,
        Some(other) => bail!("fiscal.regime must be simples_nacional or normal, not {other:?}"),
    };
    let item_taxes = match regime {
        TaxRegime::Normal => ItemTaxes::Normal {
            icms_rate: rate(settings.icms_rate_bp, 1800, "icms_rate_bp")?,
            pis_rate: rate(settings.pis_rate_bp, 165, "pis_rate_bp")?,
            cofins_rate: rate(settings.cofins_rate_bp, 760, "cofins_rate_bp")?,
            // The 2026 test year of the tax reform: IBS 0.1 % (state), CBS 0.9 %.
            ibs_cbs: settings.ibs_cbs.unwrap_or(true).then(|| IbsCbs {
                cst: "000".into(),
                class_code: "000001".into(),
                ibs_state_rate: Rate::from_basis_points(10),
                ibs_municipal_rate: Rate::from_basis_points(0),
                cbs_rate: Rate::from_basis_points(90),
            }),
        },
        _ => ItemTaxes::SimplesNacional,
    };
    let name = text(&settings.name, "LOJA DEMONSTRACAO VITRINE LTDA", "name")?;
    let emitter = Emitter {
        cnpj: cnpj.clone(),
        ie: text(&settings.ie, "110042490114", "ie")?,
        regime,
        name: name.clone(),
        trade_name: settings
            .trade_name
            .clone()
            .or(demo.then(|| "vitrine demo".into())),
        address: Address {
            street: text(&settings.street, "Avenida Paulista", "street")?,
            number: text(&settings.number, "1000", "number")?,
            complement: settings.complement.clone(),
            district: text(&settings.district, "Bela Vista", "district")?,
            municipality_code,
            municipality_name: city,
            uf,
            cep: text(&settings.cep, "01310100", "cep")?
                .chars()
                .filter(char::is_ascii_digit)
                .collect(),
            phone: settings.phone.clone(),
        },
    };
    let tech = settings.technical_responsible.clone().unwrap_or_default();
    let technical_responsible = TechnicalResponsible {
        cnpj: match &tech.cnpj {
            Some(c) => Cnpj::parse(c)
                .map_err(|e| anyhow::anyhow!("fiscal.technical_responsible.cnpj: {e}"))?,
            None => cnpj.clone(),
        },
        contact: tech.contact.unwrap_or_else(|| "Suporte da loja".into()),
        email: tech
            .email
            .unwrap_or_else(|| "suporte@vitrine.invalid".into()),
        phone: tech.phone.unwrap_or_else(|| "11999999999".into()),
    };
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
    let utc_offset = UtcOffset::from_hms(settings.utc_offset_hours.unwrap_or(-3), 0, 0)
        .map_err(|e| anyhow::anyhow!("fiscal.utc_offset_hours: {e}"))?;
    Ok(Some(Arc::new(Fiscal {
        environment,
        series: match settings.series {
            Some(s) if s > 999 => bail!("fiscal.series must be between 0 and 999"),
            s => s.unwrap_or(1),
        },
        emitter,
        item_taxes,
        technical_responsible,
        certificate,
        validator,
        authority: Arc::new(SignedNotTransmitted),
        utc_offset,
        nature_of_operation: "VENDA DE MERCADORIA".into(),
    })))
}

fn rate(value: Option<u32>, default: u32, name: &str) -> anyhow::Result<Rate> {
    let bp = value.unwrap_or(default);
    if bp > 10_000 {
        bail!("fiscal.{name} is in basis points: at most 10000 (100 %)");
    }
    Ok(Rate::from_basis_points(bp))
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
