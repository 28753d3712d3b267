//! [`Fiscal`]: how the store issues its NF-e — the settings and services the invoices consumer
//! (`crate::invoices`) works with, chosen by the composition root. No use case lives here.
//!
//! [`FiscalSettings`] is the store's NF-e identity as the owner writes it, read the same way by
//! both shapes: the `[fiscal]` section of `vitrine.toml` (`vitrine serve`) and the JSON of
//! `VITRINE_FISCAL` (the `invoices` Lambda). [`FiscalSettings::identity`] checks it once into a
//! [`FiscalIdentity`]; each composition root adds the certificate and the services it has.
//!
//! Without a CNPJ the identity is the **demo emitter**: homologation documents (`tpAmb` 2, no
//! legal value) for a company that belongs to no one's store, so a new store shows the whole
//! flow before its owner has a certificate. Production needs every field.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use time::UtcOffset;
use vitrine_nfe::{
    Address, Cnpj, Emitter, Environment, IbsCbs, ItemTaxes, Rate, SchemaValidator,
    SigningCertificate, TaxRegime, TechnicalResponsible, Uf,
};

use crate::ports::FiscalAuthority;

/// The demo emitter's CNPJ: valid check digits, nobody's store.
pub const DEMO_CNPJ: &str = "11222333000181";

/// How the store issues its NF-e: who it is, its taxes, its certificate and the services that
/// check and receive the documents. Built by the composition root from the settings.
pub struct Fiscal {
    pub environment: Environment,
    /// `serie`, 0–999.
    pub series: u16,
    pub emitter: Emitter,
    /// The taxes of every item, per the emitter's regime.
    pub item_taxes: ItemTaxes,
    pub technical_responsible: TechnicalResponsible,
    pub certificate: SigningCertificate,
    pub validator: Arc<dyn SchemaValidator>,
    pub authority: Arc<dyn FiscalAuthority>,
    /// The emitter's offset from UTC (`dhEmi`): −3 h in most of Brazil.
    pub utc_offset: UtcOffset,
    /// `natOp`.
    pub nature_of_operation: String,
    /// While in contingency, how often the state's authoriser is asked whether it is back.
    pub contingency_check: Duration,
}

impl std::fmt::Debug for Fiscal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fiscal")
            .field("environment", &self.environment)
            .field("series", &self.series)
            .field("emitter", &self.emitter.cnpj)
            .field("authority", &self.authority.name())
            .finish_non_exhaustive()
    }
}

/// The store's NF-e settings (`[fiscal]` in `vitrine.toml`, `VITRINE_FISCAL` as JSON on
/// Lambda). Without a `cnpj` the store issues homologation NF-e as the demo emitter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiscalSettings {
    /// `false`: no NF-e are issued (paid orders stay `paid`).
    pub enabled: Option<bool>,
    /// `homologation` (default) or `production`.
    pub environment: Option<String>,
    /// The NF-e série, 0–999 (default 1).
    pub series: Option<u16>,
    /// `simples_nacional` (default) or `normal`.
    pub regime: Option<String>,
    pub cnpj: Option<String>,
    /// Inscrição estadual, digits (or `ISENTO`).
    pub ie: Option<String>,
    /// Razão social.
    pub name: Option<String>,
    /// Nome fantasia.
    pub trade_name: Option<String>,
    pub street: Option<String>,
    pub number: Option<String>,
    pub complement: Option<String>,
    pub district: Option<String>,
    pub city: Option<String>,
    pub uf: Option<String>,
    pub cep: Option<String>,
    pub phone: Option<String>,
    /// The local shape only: the A1 certificate, a PKCS#12 file (`.pfx`/`.p12`). (On Lambda it
    /// is in Secrets Manager.)
    pub certificate: Option<PathBuf>,
    /// The local shape only: a file holding the certificate's password (or
    /// `VITRINE_NFE_CERTIFICATE_PASSWORD`).
    pub certificate_password_file: Option<PathBuf>,
    /// Normal regime rates, basis points: ICMS (default 1800), PIS (165), COFINS (760).
    pub icms_rate_bp: Option<u32>,
    pub pis_rate_bp: Option<u32>,
    pub cofins_rate_bp: Option<u32>,
    /// Normal regime: emit the IBS/CBS group with the 2026 test rates (default true).
    pub ibs_cbs: Option<bool>,
    /// The emitter's offset from UTC in whole hours (default −3).
    pub utc_offset_hours: Option<i8>,
    pub technical_responsible: Option<TechnicalResponsibleSettings>,
    /// `false`: documents are signed and stored but not sent to SEFAZ. Default: sent, to the
    /// built-in SEFAZ simulator for the demo emitter (`vitrine serve`), to the state's
    /// authoriser for a store's own CNPJ.
    pub transmit: Option<bool>,
    /// The local shape: extra trusted root certificates (PEM file) for SEFAZ's servers, whose
    /// certificates chain to ICP-Brasil's roots, not to the web's (docs/invoices.md).
    pub sefaz_roots_file: Option<PathBuf>,
    /// The same roots as PEM text (both shapes; on Lambda the only way).
    pub sefaz_roots_pem: Option<String>,
    /// Another address for the state's authoriser: each service at `{sefaz_url}/{operation}`
    /// (`NFeAutorizacao4`…), e.g. a test authoriser. Default: the state's, from
    /// `vitrine_nfe::sefaz::endpoints`.
    pub sefaz_url: Option<String>,
    /// The same for the contingency authoriser (SVC-AN / SVC-RS).
    pub svc_url: Option<String>,
    /// Seconds to wait for each SEFAZ answer (default 30).
    pub sefaz_timeout_secs: Option<u64>,
    /// While in contingency, how often (seconds) the state's authoriser is asked whether it is
    /// back (default 60).
    pub contingency_check_secs: Option<u64>,
}

/// `[fiscal.technical_responsible]`: who answers for the emitting software (`infRespTec`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TechnicalResponsibleSettings {
    pub cnpj: Option<String>,
    pub contact: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Everything of a [`Fiscal`] the settings decide, checked: all but the certificate and the
/// services.
#[derive(Debug, Clone)]
pub struct FiscalIdentity {
    pub environment: Environment,
    pub series: u16,
    pub emitter: Emitter,
    pub item_taxes: ItemTaxes,
    pub technical_responsible: TechnicalResponsible,
    pub utc_offset: UtcOffset,
    pub nature_of_operation: String,
    pub contingency_check: Duration,
    /// No CNPJ was set: the demo emitter, homologation only.
    pub demo: bool,
}

impl FiscalIdentity {
    /// The [`Fiscal`] of this identity, signing with `certificate`.
    pub fn into_fiscal(
        self,
        certificate: SigningCertificate,
        validator: Arc<dyn SchemaValidator>,
        authority: Arc<dyn FiscalAuthority>,
    ) -> Fiscal {
        Fiscal {
            environment: self.environment,
            series: self.series,
            emitter: self.emitter,
            item_taxes: self.item_taxes,
            technical_responsible: self.technical_responsible,
            certificate,
            validator,
            authority,
            utc_offset: self.utc_offset,
            nature_of_operation: self.nature_of_operation,
            contingency_check: self.contingency_check,
        }
    }
}

impl FiscalSettings {
    /// The checked identity. Errors name the setting (`fiscal.cnpj: …`); production without a
    /// CNPJ is refused. (`enabled` and the certificate are the caller's.)
    pub fn identity(&self) -> anyhow::Result<FiscalIdentity> {
        let environment = match self.environment.as_deref() {
            None | Some("homologation") => Environment::Homologation,
            Some("production") => Environment::Production,
            Some(other) => {
                bail!("fiscal.environment must be homologation or production, not {other:?}")
            }
        };
        let demo = self.cnpj.is_none();
        if demo && environment == Environment::Production {
            bail!(
                "fiscal.environment = \"production\" needs the store's own cnpj, ie, name, address and certificate"
            );
        }
        let text =
            |value: &Option<String>, demo_value: &str, name: &str| -> anyhow::Result<String> {
                match value {
                    Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                    _ if demo => Ok(demo_value.to_owned()),
                    _ => bail!("fiscal.{name} is required"),
                }
            };
        let cnpj = Cnpj::parse(&text(&self.cnpj, DEMO_CNPJ, "cnpj")?)
            .map_err(|e| anyhow::anyhow!("fiscal.cnpj: {e}"))?;
        let uf_text = text(&self.uf, "SP", "uf")?;
        let uf = Uf::parse(&uf_text).map_err(|e| anyhow::anyhow!("fiscal.uf: {e}"))?;
        let domain_uf = vitrine_domain::br::Uf::parse(&uf_text)
            .map_err(|e| anyhow::anyhow!("fiscal.uf: {e}"))?;
        let city = text(&self.city, "São Paulo", "city")?;
        let municipality_code = vitrine_domain::ibge::municipality_code(domain_uf, &city)
            .with_context(|| {
                format!("fiscal.city: {city}/{uf_text} is not an IBGE municipality")
            })?;
        let regime = match self.regime.as_deref() {
            None | Some("simples_nacional") => TaxRegime::SimplesNacional,
            Some("normal") => TaxRegime::Normal,
            Some(other) => {
                bail!("fiscal.regime must be simples_nacional or normal, not {other:?}")
            }
        };
        let item_taxes = match regime {
            TaxRegime::Normal => ItemTaxes::Normal {
                icms_rate: rate(self.icms_rate_bp, 1800, "icms_rate_bp")?,
                pis_rate: rate(self.pis_rate_bp, 165, "pis_rate_bp")?,
                cofins_rate: rate(self.cofins_rate_bp, 760, "cofins_rate_bp")?,
                // The 2026 test year of the tax reform: IBS 0.1 % (state), CBS 0.9 %.
                ibs_cbs: self.ibs_cbs.unwrap_or(true).then(|| IbsCbs {
                    cst: "000".into(),
                    class_code: "000001".into(),
                    ibs_state_rate: Rate::from_basis_points(10),
                    ibs_municipal_rate: Rate::from_basis_points(0),
                    cbs_rate: Rate::from_basis_points(90),
                }),
            },
            _ => ItemTaxes::SimplesNacional,
        };
        let emitter = Emitter {
            cnpj: cnpj.clone(),
            ie: text(&self.ie, "110042490114", "ie")?,
            regime,
            name: text(&self.name, "LOJA DEMONSTRACAO VITRINE LTDA", "name")?,
            // Unset: the shop's name, as its look says when each number is taken.
            trade_name: self.trade_name.clone(),
            address: Address {
                street: text(&self.street, "Avenida Paulista", "street")?,
                number: text(&self.number, "1000", "number")?,
                complement: self.complement.clone(),
                district: text(&self.district, "Bela Vista", "district")?,
                municipality_code,
                municipality_name: city,
                uf,
                cep: text(&self.cep, "01310100", "cep")?
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect(),
                phone: self.phone.clone(),
            },
        };
        let tech = self.technical_responsible.clone().unwrap_or_default();
        let technical_responsible = TechnicalResponsible {
            cnpj: match &tech.cnpj {
                Some(c) => Cnpj::parse(c)
                    .map_err(|e| anyhow::anyhow!("fiscal.technical_responsible.cnpj: {e}"))?,
                None => cnpj,
            },
            contact: tech.contact.unwrap_or_else(|| "Suporte da loja".into()),
            email: tech
                .email
                .unwrap_or_else(|| "suporte@vitrine.invalid".into()),
            phone: tech.phone.unwrap_or_else(|| "11999999999".into()),
        };
        let utc_offset = UtcOffset::from_hms(self.utc_offset_hours.unwrap_or(-3), 0, 0)
            .map_err(|e| anyhow::anyhow!("fiscal.utc_offset_hours: {e}"))?;
        Ok(FiscalIdentity {
            environment,
            series: match self.series {
                Some(s) if s > 999 => bail!("fiscal.series must be between 0 and 999"),
                s => s.unwrap_or(1),
            },
            emitter,
            item_taxes,
            technical_responsible,
            utc_offset,
            nature_of_operation: "VENDA DE MERCADORIA".into(),
            contingency_check: Duration::from_secs(match self.contingency_check_secs {
                Some(0) => bail!("fiscal.contingency_check_secs must be at least 1"),
                s => s.unwrap_or(60),
            }),
            demo,
        })
    }
}

fn rate(value: Option<u32>, default: u32, name: &str) -> anyhow::Result<Rate> {
    let bp = value.unwrap_or(default);
    if bp > 10_000 {
        bail!("fiscal.{name} is in basis points: at most 10000 (100 %)");
    }
    Ok(Rate::from_basis_points(bp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cnpj_is_the_demo_emitter_in_homologation() {
        let id = FiscalSettings::default().identity().unwrap();
        assert!(id.demo);
        assert_eq!(id.environment, Environment::Homologation);
        assert_eq!(id.emitter.cnpj.as_str(), DEMO_CNPJ);
        assert_eq!(id.series, 1);
    }

    #[test]
    fn a_store_of_its_own_needs_every_field_and_production_needs_a_cnpj() {
        let settings = FiscalSettings {
            cnpj: Some("11444777000161".into()),
            ..FiscalSettings::default()
        };
        let err = settings.identity().unwrap_err().to_string();
        assert!(err.contains("is required"), "{err}");
        let production = FiscalSettings {
            environment: Some("production".into()),
            ..FiscalSettings::default()
        };
        assert!(production.identity().is_err());
    }

    #[test]
    fn the_same_keys_are_read_from_json_and_unknown_ones_are_refused() {
        let settings: FiscalSettings = serde_json::from_str(
            r#"{"series": 7, "regime": "normal", "technical_responsible": {"contact": "Ana"}}"#,
        )
        .unwrap();
        let id = settings.identity().unwrap();
        assert_eq!(id.series, 7);
        assert!(matches!(id.item_taxes, ItemTaxes::Normal { .. }));
        assert!(serde_json::from_str::<FiscalSettings>(r#"{"cnpjj": "1"}"#).is_err());
    }
}
