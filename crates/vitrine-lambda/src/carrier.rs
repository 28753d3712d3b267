//! The carrier on Lambda: the same settings `vitrine serve` reads
//! (`vitrine_shipping::settings::carrier_settings`, from the function's environment), with the
//! Melhor Envio token kept in Secrets Manager rather than in the environment.
//!
//! | variable | |
//! |---|---|
//! | `VITRINE_CARRIER` | `table` (or empty: the rate table) or `melhorenvio` |
//! | `VITRINE_MELHORENVIO_FROM_CEP`, `…_CONTACT`, `…_API_URL` | as in `vitrine serve` |
//! | [`TOKEN_SECRET_ENV`] `VITRINE_MELHORENVIO_TOKEN_SECRET_ARN` | the secret whose text is the token, read once per cold start (the template's `CarrierTokenSecret`, created as `{}`: no token) |
//!
//! The functions given these (the template's `api` and `expire`) quote, buy labels and track
//! them; the others keep the rate table, which they never ask. Labels are sent from the NF-e
//! emitter the function has (the `api`'s, when the template gives the certificate); tracking
//! needs none.

use std::sync::Arc;

use vitrine_app::fiscal::Fiscal;
use vitrine_app::ports::Shipping;
use vitrine_shipping::settings::{carrier_settings, shipping_port};

/// The variable naming the secret that holds the Melhor Envio token.
pub const TOKEN_SECRET_ENV: &str = "VITRINE_MELHORENVIO_TOKEN_SECRET_ARN";
/// The token itself, as the shared settings read it (here: the secret's text).
const TOKEN_ENV: &str = "VITRINE_MELHORENVIO_TOKEN";

/// The Shipping port's adapter the function's environment chooses (`None`: the rate table).
/// Reads the token's secret when Melhor Envio is chosen; a missing setting is an error that
/// names it.
pub async fn shipping(
    aws: &vitrine_aws::AwsConfig,
    get: &impl Fn(&str) -> Option<String>,
    fiscal: Option<&Fiscal>,
) -> anyhow::Result<Option<Arc<dyn Shipping>>> {
    let nonempty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    // The rate table needs no secret read.
    if nonempty("VITRINE_CARRIER").is_none_or(|c| c.trim() == "table") {
        return Ok(None);
    }
    let token = match (nonempty(TOKEN_ENV), nonempty(TOKEN_SECRET_ENV)) {
        (None, Some(arn)) => {
            let secrets = vitrine_aws::secrets::SecretsManagerSecrets::connect(aws).await;
            let token = secrets.text(&arn).await?.trim().to_owned();
            // The template creates the secret as `{}`: no token put there yet.
            if token.is_empty() || token == "{}" {
                anyhow::bail!(
                    "{TOKEN_SECRET_ENV}: the secret {arn} holds no Melhor Envio token yet: put the token as its text"
                );
            }
            Some(token)
        }
        _ => None,
    };
    let settings = carrier_settings(None, |name| match (name, &token) {
        (TOKEN_ENV, Some(t)) => Some(t.clone()),
        _ => get(name),
    })?;
    shipping_port(&settings, fiscal)
}
