//! Who quotes shipping, and with what: the carrier settings, read by one function for both
//! shapes ([`carrier_settings`]) — `vitrine serve` from `[carrier]` in `vitrine.toml` and its
//! environment, every Lambda function from its environment (the token from Secrets Manager,
//! handed in as `VITRINE_MELHORENVIO_TOKEN`) — and the Shipping port's adapter they choose
//! ([`shipping_port`]), with the shop's NF-e emitter as the labels' sender.
//!
//! Variables (each wins over its `[carrier]` key): `VITRINE_CARRIER` (`table`, the default, or
//! `melhorenvio`), `VITRINE_MELHORENVIO_TOKEN` or `…_TOKEN_FILE`, `…_FROM_CEP`, `…_CONTACT`,
//! `…_API_URL`. Empty values count as unset (a template parameter left empty).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use vitrine_app::fiscal::Fiscal;
use vitrine_app::ports::Shipping;

use crate::melhor_envio::{DEFAULT_TIMEOUT, MelhorEnvio, MelhorEnvioConfig, Sender};

/// The `[carrier]` section of `vitrine.toml`.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarrierFile {
    /// `table` (the `[shipping]` rate table, the default) or `melhorenvio`.
    pub provider: Option<String>,
    pub api_url: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub from_cep: Option<String>,
    pub contact_email: Option<String>,
}

/// Who quotes shipping: the rate table, or Melhor Envio with these settings.
#[derive(Clone)]
pub enum CarrierSettings {
    Table,
    MelhorEnvio {
        api_url: String,
        token: String,
        from_cep: vitrine_domain::Cep,
        contact_email: String,
    },
}

impl std::fmt::Debug for CarrierSettings {
    /// Never the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CarrierSettings::Table => f.write_str("Table"),
            CarrierSettings::MelhorEnvio {
                api_url, from_cep, ..
            } => write!(f, "MelhorEnvio({api_url}, from {})", from_cep.as_str()),
        }
    }
}

/// Melhor Envio's API, unless set (its sandbox: `https://sandbox.melhorenvio.com.br`).
pub const MELHORENVIO_DEFAULT_API_URL: &str = crate::melhor_envio::PRODUCTION_URL;

/// The carrier settings from the file's `[carrier]` section (none on Lambda) and the
/// environment (`env`). Errors name the setting and its variable.
pub fn carrier_settings(
    file: Option<CarrierFile>,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<CarrierSettings> {
    let file = file.unwrap_or_default();
    let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let provider = env("VITRINE_CARRIER").or(file.provider);
    match provider.as_deref().map(str::trim) {
        None | Some("table") => return Ok(CarrierSettings::Table),
        Some("melhorenvio") => {}
        Some(other) => {
            bail!("carrier.provider (VITRINE_CARRIER) is table or melhorenvio, not {other:?}")
        }
    }
    let token = match (
        env("VITRINE_MELHORENVIO_TOKEN"),
        env("VITRINE_MELHORENVIO_TOKEN_FILE"),
    ) {
        (Some(t), _) => t,
        (None, Some(path)) => read_secret(Path::new(&path))?,
        (None, None) => match (file.token, file.token_file) {
            (Some(t), _) => t,
            (None, Some(path)) => read_secret(&path)?,
            (None, None) => bail!(
                "carrier.provider = \"melhorenvio\" needs carrier.token or carrier.token_file (VITRINE_MELHORENVIO_TOKEN or …_TOKEN_FILE)"
            ),
        },
    };
    let from_cep = env("VITRINE_MELHORENVIO_FROM_CEP")
        .or(file.from_cep)
        .context("carrier.provider = \"melhorenvio\" needs carrier.from_cep (VITRINE_MELHORENVIO_FROM_CEP): where parcels leave from")?;
    let from_cep = vitrine_domain::Cep::parse(&from_cep)
        .map_err(|e| anyhow::anyhow!("carrier.from_cep (VITRINE_MELHORENVIO_FROM_CEP): {e}"))?;
    let contact_email = env("VITRINE_MELHORENVIO_CONTACT")
        .or(file.contact_email)
        .context("carrier.provider = \"melhorenvio\" needs carrier.contact_email (VITRINE_MELHORENVIO_CONTACT): Melhor Envio asks for a technical contact")?;
    Ok(CarrierSettings::MelhorEnvio {
        api_url: env("VITRINE_MELHORENVIO_API_URL")
            .or(file.api_url)
            .unwrap_or_else(|| MELHORENVIO_DEFAULT_API_URL.into()),
        token: token.trim().to_owned(),
        from_cep,
        contact_email,
    })
}

fn read_secret(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading the Melhor Envio token from {}", path.display()))
        .map(|s| s.trim().to_owned())
}

/// The Shipping port's adapter `settings` choose (`None`: the rate table). Labels are sent from
/// the shop's NF-e emitter (`fiscal`: its legal name, CNPJ, inscrição estadual and address),
/// with `contact_email`; without NF-e settings the adapter quotes and sells no label.
pub fn shipping_port(
    settings: &CarrierSettings,
    fiscal: Option<&Fiscal>,
) -> anyhow::Result<Option<Arc<dyn Shipping>>> {
    Ok(match settings {
        CarrierSettings::Table => None,
        CarrierSettings::MelhorEnvio {
            api_url,
            token,
            from_cep,
            contact_email,
        } => Some(Arc::new(
            MelhorEnvio::new(MelhorEnvioConfig {
                base_url: api_url.clone(),
                token: token.clone(),
                from_cep: from_cep.clone(),
                contact_email: contact_email.clone(),
                timeout: DEFAULT_TIMEOUT,
                sender: fiscal.map(|f| sender_of(f, contact_email)),
            })
            .map_err(|why| anyhow::anyhow!("carrier: {why}"))?,
        )),
    })
}

/// The shop as a label's sender: its NF-e emitter (whose inscrição estadual commercial
/// shipments need), reached at `email`, by the emitter's phone or else the technical contact's.
pub fn sender_of(fiscal: &Fiscal, email: &str) -> Sender {
    let e = &fiscal.emitter;
    Sender {
        name: e.name.clone(),
        tax_id: e.cnpj.as_str().to_owned(),
        state_register: Some(e.ie.clone()).filter(|ie| !ie.eq_ignore_ascii_case("ISENTO")),
        email: email.to_owned(),
        phone: e
            .address
            .phone
            .clone()
            .unwrap_or_else(|| fiscal.technical_responsible.phone.clone()),
        street: e.address.street.clone(),
        number: e.address.number.clone(),
        complement: e.address.complement.clone(),
        district: e.address.district.clone(),
        city: e.address.municipality_name.clone(),
        uf: e.address.uf.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn no_carrier_or_an_empty_one_is_the_rate_table() {
        assert!(matches!(
            carrier_settings(None, env(&[])).unwrap(),
            CarrierSettings::Table
        ));
        // A template parameter left empty.
        assert!(matches!(
            carrier_settings(None, env(&[("VITRINE_CARRIER", "")])).unwrap(),
            CarrierSettings::Table
        ));
    }

    #[test]
    fn melhor_envio_from_the_environment_alone_as_on_lambda() {
        let settings = carrier_settings(
            None,
            env(&[
                ("VITRINE_CARRIER", "melhorenvio"),
                ("VITRINE_MELHORENVIO_TOKEN", " eyJ.a.b \n"),
                ("VITRINE_MELHORENVIO_FROM_CEP", "01310-100"),
                ("VITRINE_MELHORENVIO_CONTACT", "ti@loja.test"),
            ]),
        )
        .unwrap();
        let CarrierSettings::MelhorEnvio {
            api_url,
            token,
            from_cep,
            ..
        } = &settings
        else {
            panic!("{settings:?}");
        };
        assert_eq!(api_url, MELHORENVIO_DEFAULT_API_URL);
        assert_eq!(token, "eyJ.a.b");
        assert_eq!(from_cep.as_str(), "01310100");
        assert!(!format!("{settings:?}").contains("eyJ"));
    }

    #[test]
    fn a_missing_setting_is_named_with_its_variable() {
        let err = carrier_settings(
            None,
            env(&[
                ("VITRINE_CARRIER", "melhorenvio"),
                ("VITRINE_MELHORENVIO_TOKEN", "t"),
            ]),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("VITRINE_MELHORENVIO_FROM_CEP"),
            "{err:#}"
        );
        let err = carrier_settings(None, env(&[("VITRINE_CARRIER", "correios")])).unwrap_err();
        assert!(
            format!("{err:#}").contains("table or melhorenvio"),
            "{err:#}"
        );
    }
}
