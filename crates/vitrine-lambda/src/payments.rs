//! The payment providers of the functions that take or return money (`api`, `payments`), from
//! the environment: the card sandbox always, and Pix when the webhook secret is set.
//!
//! | variable | |
//! |---|---|
//! | `VITRINE_PAYMENTS_WEBHOOK_SECRET` | HMAC secret of the Pix provider's webhooks (16+ characters); unset or empty: no Pix |
//! | `VITRINE_PIX_KEY` | the store's Pix key; unset: a sandbox key no bank accepts |
//! | `VITRINE_PIX_MERCHANT_NAME` | the name payers' banks show (default `vitrine`) |
//! | `VITRINE_PIX_MERCHANT_CITY` | the store's city in BR Codes (default `SAO PAULO`) |

use std::sync::Arc;

use vitrine_app::payments::sandbox::{CardSandbox, PixAccount, PixSandbox, WebhookSigner};
use vitrine_app::ports::PaymentProvider;

pub const WEBHOOK_SECRET_ENV: &str = "VITRINE_PAYMENTS_WEBHOOK_SECRET";
pub const PIX_KEY_ENV: &str = "VITRINE_PIX_KEY";
pub const PIX_MERCHANT_NAME_ENV: &str = "VITRINE_PIX_MERCHANT_NAME";
pub const PIX_MERCHANT_CITY_ENV: &str = "VITRINE_PIX_MERCHANT_CITY";

/// The key BR Codes carry when none is set: under `.invalid` (RFC 2606), so no bank can pay it.
pub const SANDBOX_PIX_KEY: &str = "pix-sandbox@vitrine.invalid";

/// The providers, read through `get` (tests pass a map).
pub fn providers(
    get: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<Arc<dyn PaymentProvider>>> {
    let value = |name: &str| {
        get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let mut providers: Vec<Arc<dyn PaymentProvider>> = Vec::new();
    if let Some(secret) = value(WEBHOOK_SECRET_ENV) {
        let signer = WebhookSigner::new(secret.into_bytes())
            .map_err(|e| anyhow::anyhow!("{WEBHOOK_SECRET_ENV}: {e}"))?;
        let account = PixAccount {
            key: value(PIX_KEY_ENV).unwrap_or_else(|| SANDBOX_PIX_KEY.into()),
            merchant_name: value(PIX_MERCHANT_NAME_ENV).unwrap_or_else(|| "vitrine".into()),
            merchant_city: value(PIX_MERCHANT_CITY_ENV).unwrap_or_else(|| "SAO PAULO".into()),
        };
        let pix = PixSandbox::new(account, signer).map_err(|e| {
            anyhow::anyhow!("{PIX_KEY_ENV}, {PIX_MERCHANT_NAME_ENV}, {PIX_MERCHANT_CITY_ENV}: {e}")
        })?;
        providers.push(Arc::new(pix));
    }
    providers.push(Arc::new(CardSandbox));
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use vitrine_domain::order::PaymentMethod;

    use super::*;

    fn names(env: &[(&str, &str)]) -> anyhow::Result<Vec<(String, Vec<PaymentMethod>)>> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Ok(providers(|name| env.get(name).cloned())?
            .iter()
            .map(|p| (p.name().to_owned(), p.methods().to_vec()))
            .collect())
    }

    #[test]
    fn without_a_webhook_secret_only_cards_are_taken() {
        let got = names(&[(PIX_KEY_ENV, "loja@example.com")]).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, [PaymentMethod::Card]);
        assert_eq!(names(&[(WEBHOOK_SECRET_ENV, "  ")]).unwrap().len(), 1);
    }

    #[test]
    fn a_webhook_secret_adds_pix() {
        let got = names(&[(WEBHOOK_SECRET_ENV, "0123456789abcdef0123")]).unwrap();
        let methods: Vec<PaymentMethod> = got.iter().flat_map(|(_, m)| m.clone()).collect();
        assert!(methods.contains(&PaymentMethod::Pix) && methods.contains(&PaymentMethod::Card));
    }

    #[test]
    fn a_short_secret_or_a_bad_merchant_is_refused_by_name() {
        let err = names(&[(WEBHOOK_SECRET_ENV, "short")]).unwrap_err();
        assert!(err.to_string().contains(WEBHOOK_SECRET_ENV), "{err}");
        let err = names(&[
            (WEBHOOK_SECRET_ENV, "0123456789abcdef0123"),
            (PIX_KEY_ENV, "chave-pix-com-acentuação"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains(PIX_KEY_ENV), "{err}");
    }
}
