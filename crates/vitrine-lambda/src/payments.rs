//! The payment providers of the functions that take or return money (`api`, `payments`,
//! `expire`), from the environment and, for the real providers' secrets, a Secrets Manager
//! secret. Which provider takes each method is chosen by `VITRINE_PAYMENTS_PIX`, `…_CARD` and
//! `…_BOLETO` (the template's `PixProvider`, `CardProvider`, `BoletoProvider`); unset is `off`:
//! nothing here ever picks the sandbox by itself (`vitrine_app::payment_choice`).
//!
//! | variable | |
//! |---|---|
//! | `VITRINE_PAYMENTS_PIX` / `_CARD` / `_BOLETO` | `sandbox`, `bcb` (Pix), `mercadopago`, `off` |
//! | [`SECRET_ENV`] `VITRINE_PAYMENTS_SECRET_ARN` | the secret holding the real providers' secrets, as JSON keyed by variable name: `VITRINE_BCB_CLIENT_SECRET`, `VITRINE_BCB_CERTIFICATE_PEM`, `VITRINE_BCB_KEY_PEM`, `VITRINE_BCB_CA_PEM`, `VITRINE_MERCADOPAGO_ACCESS_TOKEN`, `VITRINE_MERCADOPAGO_WEBHOOK_SECRET` |
//! | `VITRINE_BCB_*`, `VITRINE_MERCADOPAGO_*` | the providers' other settings (URLs, client id, public key, Pix key) |
//! | `VITRINE_PUBLIC_URL` | the store's public URL, webhook addresses derive from (optional) |
//! | `VITRINE_PAYMENTS_WEBHOOK_SECRET` | the Pix sandbox's webhook secret (16+ characters): required when Pix is `sandbox` |
//! | `VITRINE_PIX_KEY`, `VITRINE_PIX_MERCHANT_NAME`, `VITRINE_PIX_MERCHANT_CITY` | the Pix sandbox's BR Codes (the key also the bank's) |
//!
//! Invariant: a secret's value never reaches a log or an error message.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context as _;
use vitrine_app::payment_choice::{PaymentChoice, PaymentChoices, ProviderLookup, assemble};
use vitrine_app::payments::sandbox::{CardSandbox, PixAccount, PixSandbox, WebhookSigner};
use vitrine_app::ports::PaymentProvider;
use vitrine_domain::order::PaymentMethod;

pub const WEBHOOK_SECRET_ENV: &str = "VITRINE_PAYMENTS_WEBHOOK_SECRET";
pub const PIX_KEY_ENV: &str = "VITRINE_PIX_KEY";
pub const PIX_MERCHANT_NAME_ENV: &str = "VITRINE_PIX_MERCHANT_NAME";
pub const PIX_MERCHANT_CITY_ENV: &str = "VITRINE_PIX_MERCHANT_CITY";
/// The Secrets Manager secret of the real providers (the template's `PaymentsSecret`).
pub const SECRET_ENV: &str = "VITRINE_PAYMENTS_SECRET_ARN";
/// The store's public URL (`https://loja.example.com`), when the template knows it.
pub const PUBLIC_URL_ENV: &str = "VITRINE_PUBLIC_URL";

/// The key BR Codes carry when none is set: under `.invalid` (RFC 2606), so no bank can pay it.
pub const SANDBOX_PIX_KEY: &str = "pix-sandbox@vitrine.invalid";

/// The provider of each method, checked.
pub fn choices(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<PaymentChoices> {
    Ok(PaymentChoices::from_lookup(get)?)
}

/// Whether `choices` need the payments secret: a real provider takes some method.
pub fn needs_secret(choices: &PaymentChoices) -> bool {
    choices.uses(PaymentChoice::Bcb) || choices.uses(PaymentChoice::MercadoPago)
}

/// The secret's value: a JSON object of text values keyed by variable name. Never echoes it.
pub fn secret_values(secret: &str, text: &str) -> anyhow::Result<HashMap<String, String>> {
    serde_json::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "the secret {secret} is not a JSON object of text values keyed by variable name \
             (line {}, column {})",
            e.line(),
            e.column()
        )
    })
}

/// The providers, read through `get` (the environment, then the secret's values).
pub fn providers(
    get: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<Arc<dyn PaymentProvider>>> {
    let value = |name: &str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let choices = choices(&get)?;
    let public_url = value(PUBLIC_URL_ENV);
    let lookup = |name: &str| get(name);
    assemble(&choices, |chosen, method| {
        let l = ProviderLookup::new(&lookup, public_url.as_deref(), false, &choices, chosen);
        Ok(match chosen {
            PaymentChoice::Sandbox if method == PaymentMethod::Pix => {
                let secret = value(WEBHOOK_SECRET_ENV).with_context(|| {
                    format!("{WEBHOOK_SECRET_ENV} is required: VITRINE_PAYMENTS_PIX = \"sandbox\" is set")
                })?;
                let signer = WebhookSigner::new(secret.into_bytes())
                    .map_err(|e| anyhow::anyhow!("{WEBHOOK_SECRET_ENV}: {e}"))?;
                let account = PixAccount {
                    key: value(PIX_KEY_ENV).unwrap_or_else(|| SANDBOX_PIX_KEY.into()),
                    merchant_name: value(PIX_MERCHANT_NAME_ENV).unwrap_or_else(|| "vitrine".into()),
                    merchant_city: value(PIX_MERCHANT_CITY_ENV)
                        .unwrap_or_else(|| "SAO PAULO".into()),
                };
                Arc::new(PixSandbox::new(account, signer).map_err(|e| {
                    anyhow::anyhow!(
                        "{PIX_KEY_ENV}, {PIX_MERCHANT_NAME_ENV}, {PIX_MERCHANT_CITY_ENV}: {e}"
                    )
                })?) as Arc<dyn PaymentProvider>
            }
            PaymentChoice::Sandbox => Arc::new(CardSandbox),
            PaymentChoice::Bcb => Arc::new(vitrine_payments::bcb_from(&l)?),
            PaymentChoice::MercadoPago => Arc::new(vitrine_payments::mercadopago_from(&l)?),
            PaymentChoice::Off => anyhow::bail!("no provider for a method that is off"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(env: &[(&str, &str)]) -> anyhow::Result<Vec<(String, Vec<PaymentMethod>, bool)>> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Ok(providers(|name| env.get(name).cloned())?
            .iter()
            .map(|p| (p.name().to_owned(), p.methods().to_vec(), p.is_sandbox()))
            .collect())
    }

    #[test]
    fn nothing_chosen_is_no_provider_at_all() {
        let got = names(&[(WEBHOOK_SECRET_ENV, "0123456789abcdef0123")]).unwrap();
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn the_sandbox_is_taken_only_when_chosen() {
        let got = names(&[
            ("VITRINE_PAYMENTS_PIX", "sandbox"),
            ("VITRINE_PAYMENTS_CARD", "sandbox"),
            (WEBHOOK_SECRET_ENV, "0123456789abcdef0123"),
        ])
        .unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(_, _, sandbox)| *sandbox));
    }

    #[test]
    fn real_providers_take_their_methods_and_never_a_sandbox() {
        // A certificate and key the bank would issue (the adapter checks they are usable).
        let pki = vitrine_testkit::fakes::tls::Pki::generate("bank").unwrap();
        let got = names(&[
            ("VITRINE_PAYMENTS_PIX", "bcb"),
            ("VITRINE_PAYMENTS_CARD", "mercadopago"),
            ("VITRINE_PAYMENTS_BOLETO", "mercadopago"),
            ("VITRINE_BCB_API_URL", "https://pix.bank.example/api/v2/"),
            (
                "VITRINE_BCB_TOKEN_URL",
                "https://pix.bank.example/oauth/token",
            ),
            ("VITRINE_BCB_CLIENT_ID", "loja"),
            ("VITRINE_BCB_CLIENT_SECRET", "s3cr3t"),
            ("VITRINE_BCB_CERTIFICATE_PEM", &pki.client.cert_pem),
            ("VITRINE_BCB_KEY_PEM", &pki.client.key_pem),
            (PIX_KEY_ENV, "loja@example.com"),
            ("VITRINE_MERCADOPAGO_ACCESS_TOKEN", "APP_USR-1"),
            ("VITRINE_MERCADOPAGO_PUBLIC_KEY", "APP_USR-pk"),
            ("VITRINE_MERCADOPAGO_WEBHOOK_SECRET", "whsec"),
        ])
        .unwrap();
        assert_eq!(
            got,
            [
                ("bcb".to_owned(), vec![PaymentMethod::Pix], false),
                (
                    "mercadopago".to_owned(),
                    vec![PaymentMethod::Card, PaymentMethod::Boleto],
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_missing_or_bad_setting_is_refused_by_name() {
        let err = names(&[("VITRINE_PAYMENTS_PIX", "sandbox")]).unwrap_err();
        assert!(err.to_string().contains(WEBHOOK_SECRET_ENV), "{err}");
        let err = names(&[
            ("VITRINE_PAYMENTS_PIX", "sandbox"),
            (WEBHOOK_SECRET_ENV, "short"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains(WEBHOOK_SECRET_ENV), "{err}");
        let err = names(&[("VITRINE_PAYMENTS_CARD", "mercadopago")]).unwrap_err();
        assert!(
            err.to_string()
                .contains("VITRINE_MERCADOPAGO_ACCESS_TOKEN is required")
                && err
                    .to_string()
                    .contains("VITRINE_PAYMENTS_CARD = \"mercadopago\""),
            "{err}"
        );
        let err = names(&[("VITRINE_PAYMENTS_BOLETO", "sandbox")]).unwrap_err();
        assert!(err.to_string().contains("VITRINE_PAYMENTS_BOLETO"), "{err}");
    }

    #[test]
    fn the_secret_is_json_keyed_by_variable_and_never_echoed() {
        let values = secret_values("arn:s", r#"{"VITRINE_BCB_CLIENT_SECRET": "x"}"#).unwrap();
        assert_eq!(values["VITRINE_BCB_CLIENT_SECRET"], "x");
        let err = secret_values("arn:s", "not json s3cr3t").unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }
}
