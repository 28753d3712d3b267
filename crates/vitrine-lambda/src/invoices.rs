//! The `invoices` function: the NF-e of each paid order, from `InvoicesQueue` (SNS notifications
//! of `order.paid`), issued by the very consumer `vitrine serve`'s dispatcher runs
//! (`vitrine_app::invoices::Invoices` → `App::issue_invoice`: gapless numbers, the XML in the
//! bucket, the order moved to `invoiced`).
//!
//! Its [`Fiscal`] comes from two places, read once per cold start:
//! - [`FISCAL_ENV`], `VITRINE_FISCAL`: the emitter as JSON, with the keys of `[fiscal]` in
//!   `vitrine.toml` (`vitrine_app::fiscal::FiscalSettings`); unset or `{}` is the demo emitter.
//! - [`SECRET_ENV`], `VITRINE_NFE_SECRET_ARN`: the Secrets Manager secret holding the A1
//!   certificate as [`A1Secret`] JSON, `{"pkcs12_base64": "…", "password": "…"}`.
//!
//! **No certificate in the secret** (`{}`, as the template creates it): with the demo emitter
//! the function signs with a self-signed certificate made in memory at cold start, as
//! `vitrine serve` does, so a new stack issues homologation NF-e (no legal value) and its orders
//! can ship; they are not transmitted (a Lambda instance has no place for `vitrine serve`'s
//! built-in SEFAZ simulator: what one instance authorised, the next would not know). With a CNPJ
//! of the store's own it refuses, naming the secret.
//!
//! **With the store's certificate**, documents go to the state's SEFAZ
//! (`vitrine_fiscal::SefazAuthority`, homologation unless the settings say production;
//! `sefaz_roots_pem` in the settings is required: SEFAZ's servers chain to ICP-Brasil), unless
//! the settings say `"transmit": false`.
//!
//! Invariants:
//! - The emitter settings are checked at cold start: a malformed `VITRINE_FISCAL` is an init
//!   error (a deployment mistake), never a half-issued invoice.
//! - The secret is read when the first batch arrives, and kept once it yields a [`Fiscal`].
//!   When it cannot (unreadable, no certificate for a real CNPJ, a wrong password) the
//!   invocation fails with the reason, before any message is looked at: nothing is written, the
//!   whole batch comes back after the visibility timeout (then to the dead-letter queue), the
//!   function's Errors alarm fires, and the next invocation reads the secret again, so a fixed
//!   secret takes effect without a redeploy.

use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use aws_lambda_events::sqs::SqsEvent;
use base64::Engine as _;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use tokio::sync::OnceCell;
use vitrine_app::events::Consumer;
use vitrine_app::fiscal::{FiscalIdentity, FiscalSettings};
use vitrine_app::invoices::{Fiscal, Invoices};
use vitrine_app::ports::{FiscalAuthority, SignedNotTransmitted};
use vitrine_aws::secrets::SecretsManagerSecrets;
use vitrine_fiscal::SefazAuthority;
use vitrine_nfe::sefaz::Credentials;
use vitrine_nfe::{SigningCertificate, XsdValidator};

/// The emitter's settings, JSON (the template's `FiscalSettings` parameter).
pub const FISCAL_ENV: &str = "VITRINE_FISCAL";
/// The secret holding the A1 certificate (the template's `InvoicesCertificateSecret`).
pub const SECRET_ENV: &str = "VITRINE_NFE_SECRET_ARN";

/// The secret's value: the A1 certificate, a PKCS#12 file in base64, and its password. `{}` (or
/// empty fields) is no certificate yet.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct A1Secret {
    #[serde(default)]
    pub pkcs12_base64: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

/// The emitter's settings from [`FISCAL_ENV`], read through `get`.
pub fn fiscal_settings(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<FiscalSettings> {
    let text = get(FISCAL_ENV).filter(|v| !v.trim().is_empty());
    let settings: FiscalSettings = match text {
        Some(json) => serde_json::from_str(&json)
            .with_context(|| format!("{FISCAL_ENV}: not the JSON of [fiscal] settings"))?,
        None => FiscalSettings::default(),
    };
    if settings.certificate.is_some()
        || settings.certificate_password_file.is_some()
        || settings.sefaz_roots_file.is_some()
    {
        bail!(
            "{FISCAL_ENV}: certificate files are for vitrine serve; on AWS the A1 certificate is in the secret {SECRET_ENV} names, and SEFAZ's roots in sefaz_roots_pem"
        );
    }
    Ok(settings)
}

/// The certificate a secret's text holds: `None` for no certificate yet. Never echoes the value.
pub fn certificate_of(secret: &str, text: &str) -> anyhow::Result<Option<Credentials>> {
    let a1: A1Secret = serde_json::from_str(text).map_err(|e| {
        anyhow!("the secret {secret} is not {{\"pkcs12_base64\": …, \"password\": …}} JSON (line {}, column {})", e.line(), e.column())
    })?;
    let Some(b64) = a1.pkcs12_base64.filter(|b| !b.trim().is_empty()) else {
        return Ok(None);
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.split_whitespace().collect::<String>())
        .with_context(|| format!("the secret {secret}: pkcs12_base64 is not base64"))?;
    let password = a1.password.unwrap_or_default();
    Credentials::from_pkcs12(&der, &password)
        .map(Some)
        .with_context(|| {
            format!("the secret {secret}: opening the PKCS#12 (is the password right?)")
        })
}

/// The function's [`Fiscal`]: the checked identity, signing with the certificate of
/// `credentials` and sending to the state's SEFAZ, or signing with a self-signed certificate
/// made now for the demo emitter (not transmitted).
pub fn fiscal(
    identity: FiscalIdentity,
    settings: &FiscalSettings,
    credentials: Option<Credentials>,
    secret: &str,
) -> anyhow::Result<Fiscal> {
    let mut authority: Arc<dyn FiscalAuthority> = Arc::new(SignedNotTransmitted);
    let certificate = match credentials {
        Some(c) => {
            if settings.transmit != Some(false) {
                if settings.sefaz_roots_pem.is_none() {
                    bail!(
                        "{FISCAL_ENV}: sefaz_roots_pem is required to send NF-e to SEFAZ: its servers present ICP-Brasil certificates, which no web root trusts (docs/invoices.md, Going live); or set \"transmit\": false"
                    );
                }
                authority = Arc::new(SefazAuthority::from_settings(
                    &identity,
                    settings,
                    Vec::new(),
                    c.clone(),
                )?);
            }
            c.signer().clone()
        }
        None if identity.demo => {
            tracing::warn!(
                nfe.cnpj = %identity.emitter.cnpj.as_str(),
                "NF-e: homologation documents as the demo emitter, signed with a self-signed \
                 certificate (no legal value); put the store's A1 in the secret and its emitter \
                 in FiscalSettings (docs/invoices.md, On AWS)"
            );
            demo_certificate(&identity)?
        }
        None => bail!(
            "the secret {secret} holds no certificate: put the A1 of CNPJ {} in it (docs/invoices.md, On AWS)",
            identity.emitter.cnpj.as_str()
        ),
    };
    Ok(identity.into_fiscal(certificate, XsdValidator::official(), authority))
}

/// A self-signed stand-in for the demo emitter, in memory (valid 2020–2040, like `vitrine
/// serve`'s), with a throwaway password.
fn demo_certificate(identity: &FiscalIdentity) -> anyhow::Result<SigningCertificate> {
    let password = format!("{:032x}", rand::random::<u128>());
    let from = time::OffsetDateTime::from_unix_timestamp(1_577_836_800)?; // 2020-01-01
    let der = vitrine_nfe::demo::demo_pkcs12(
        &identity.emitter.cnpj,
        &identity.emitter.name,
        from,
        20 * 365,
        &password,
    )?;
    Ok(SigningCertificate::from_pkcs12(&der, &password)?)
}

/// What the function holds between invocations.
struct Function {
    settings: FiscalSettings,
    secret: String,
    secrets: SecretsManagerSecrets,
    consumer: OnceCell<Arc<dyn Consumer>>,
}

impl Function {
    /// The consumer, built on the first invocation that can read the secret.
    async fn consumer(&self) -> anyhow::Result<&Arc<dyn Consumer>> {
        self.consumer
            // Boxed: the composition's future is deep (the compiler's layout limit).
            .get_or_try_init(|| {
                Box::pin(async {
                    let fiscal = read_fiscal(&self.settings, &self.secret, &self.secrets).await?;
                    let app = crate::compose_with_fiscal(|n| std::env::var(n).ok(), fiscal)
                        .await?
                        .app;
                    Ok(Arc::new(Invoices::new(app)) as Arc<dyn Consumer>)
                })
            })
            .await
    }
}

/// The [`Fiscal`] of `settings` with the certificate in `secret` (`None`: issuing is off).
async fn read_fiscal(
    settings: &FiscalSettings,
    secret: &str,
    secrets: &SecretsManagerSecrets,
) -> anyhow::Result<Option<Arc<Fiscal>>> {
    if settings.enabled == Some(false) {
        tracing::info!("NF-e issuing is off (enabled = false in {FISCAL_ENV})");
        return Ok(None);
    }
    let text = secrets.text(secret).await?;
    let credentials = certificate_of(secret, &text)?;
    Ok(Some(Arc::new(fiscal(
        settings.identity()?,
        settings,
        credentials,
        secret,
    )?)))
}

/// The `api` function's [`Fiscal`], for the admins' operations on issued NF-e (cancellation,
/// correction letters, voiding): the same settings and certificate as the `invoices` function,
/// read at cold start when the template gives them ([`FISCAL_ENV`], [`SECRET_ENV`]). Never
/// fails the API: a secret that cannot be used is logged (the `invoices` function's alarm
/// fires for the same reason), and those operations answer that NF-e are not configured.
pub async fn api_fiscal(get: impl Fn(&str) -> Option<String>) -> Option<Arc<Fiscal>> {
    let secret = get(SECRET_ENV).filter(|v| !v.trim().is_empty())?;
    let result = async {
        let settings = fiscal_settings(&get)?;
        let env = crate::AwsEnv::from_lookup(&get)?;
        let secrets = SecretsManagerSecrets::connect(&env.aws_config()).await;
        read_fiscal(&settings, &secret, &secrets).await
    }
    .await;
    match result {
        Ok(fiscal) => fiscal,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), secret = %secret, "NF-e operations unavailable on the API: the certificate or the fiscal settings cannot be used");
            None
        }
    }
}

/// The `invoices` function: check the settings at cold start, then serve SQS batches.
pub async fn run() -> anyhow::Result<()> {
    crate::init_tracing();
    let function = match cold_start().await {
        Ok(f) => Arc::new(f),
        Err(err) => return Err(crate::fail_init(err).await),
    };
    tracing::info!(secret = %function.secret, "cold start: ready for queue batches");
    lambda_runtime::run(service_fn(move |invocation: LambdaEvent<SqsEvent>| {
        let function = Arc::clone(&function);
        async move {
            let trace = invocation.context.xray_trace_id.clone();
            crate::xray_scope(trace.as_deref(), async {
                let consumer = function.consumer().await.map_err(|err| {
                    tracing::error!(error = format!("{err:#}"), secret = %function.secret, "NF-e issuing unavailable: the batch is retried");
                    lambda_runtime::Error::from(format!("NF-e issuing unavailable: {err:#}"))
                })?;
                Ok::<_, lambda_runtime::Error>(
                    crate::events::handle_queue(consumer.as_ref(), &invocation.payload).await,
                )
            })
            .await
        }
    }))
    .await
    .map_err(|e| anyhow!(e))
}

async fn cold_start() -> anyhow::Result<Function> {
    let get = |name: &str| std::env::var(name).ok();
    let env = crate::AwsEnv::from_lookup(get)?;
    // Every setting is checked now, so that only the secret can fail an invocation.
    vitrine_app::Settings::from_lookup(get)?;
    crate::payments::choices(get)?;
    let settings = fiscal_settings(get)?;
    settings.identity()?;
    let secret = get(SECRET_ENV)
        .filter(|v| !v.trim().is_empty())
        .with_context(|| {
            format!("missing environment variable: {SECRET_ENV} (the template sets it)")
        })?;
    Ok(Function {
        settings,
        secret,
        secrets: SecretsManagerSecrets::connect(&env.aws_config()).await,
        consumer: OnceCell::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emitter_is_read_from_json_and_certificate_files_are_refused() {
        let json = r#"{"series": 3}"#.to_owned();
        let settings = fiscal_settings(|n| (n == FISCAL_ENV).then(|| json.clone())).unwrap();
        assert_eq!(settings.series, Some(3));
        assert!(fiscal_settings(|_| None).unwrap().cnpj.is_none());
        let files = r#"{"certificate": "/a1.p12"}"#.to_owned();
        let err = fiscal_settings(|n| (n == FISCAL_ENV).then(|| files.clone())).unwrap_err();
        assert!(err.to_string().contains("secret"), "{err}");
        let typo = r#"{"cnpjj": "1"}"#.to_owned();
        assert!(fiscal_settings(|n| (n == FISCAL_ENV).then(|| typo.clone())).is_err());
    }

    #[test]
    fn an_empty_secret_is_no_certificate_and_a_wrong_one_is_named_without_its_value() {
        assert!(certificate_of("s", "{}").unwrap().is_none());
        assert!(
            certificate_of("s", r#"{"pkcs12_base64": ""}"#)
                .unwrap()
                .is_none()
        );
        let err = certificate_of(
            "arn:s",
            r#"{"pkcs12_base64": "c2VjcmV0", "password": "hunter2"}"#,
        )
        .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("arn:s") && !text.contains("hunter2"),
            "{text}"
        );
        let err = certificate_of("arn:s", "hunter2").unwrap_err();
        assert!(!format!("{err:#}").contains("hunter2"));
    }

    #[test]
    fn a_store_cnpj_without_a_certificate_is_refused_and_the_demo_emitter_makes_its_own() {
        let own = FiscalSettings {
            cnpj: Some("11444777000161".into()),
            ie: Some("110042490114".into()),
            name: Some("LOJA EXEMPLO LTDA".into()),
            street: Some("Rua A".into()),
            number: Some("1".into()),
            district: Some("Centro".into()),
            city: Some("São Paulo".into()),
            uf: Some("SP".into()),
            cep: Some("01001000".into()),
            ..FiscalSettings::default()
        };
        let err = fiscal(own.identity().unwrap(), &own, None, "arn:s").unwrap_err();
        assert!(err.to_string().contains("holds no certificate"), "{err}");
        // With its certificate, sending to SEFAZ needs SEFAZ's roots, named in the error.
        let password = "senha";
        let from = time::OffsetDateTime::from_unix_timestamp(1_577_836_800).unwrap();
        let identity = own.identity().unwrap();
        let der = vitrine_nfe::demo::demo_pkcs12(
            &identity.emitter.cnpj,
            &identity.emitter.name,
            from,
            365,
            password,
        )
        .unwrap();
        let credentials = Credentials::from_pkcs12(&der, password).unwrap();
        let err = fiscal(identity, &own, Some(credentials.clone()), "arn:s").unwrap_err();
        assert!(err.to_string().contains("sefaz_roots_pem"), "{err}");
        let sign_only = FiscalSettings {
            transmit: Some(false),
            ..own
        };
        let f = fiscal(
            sign_only.identity().unwrap(),
            &sign_only,
            Some(credentials),
            "arn:s",
        )
        .unwrap();
        assert_eq!(f.authority.name(), "signed-not-transmitted");
        let demo = demo_certificate(&FiscalSettings::default().identity().unwrap()).unwrap();
        assert!(format!("{demo:?}").contains(vitrine_app::fiscal::DEMO_CNPJ));
    }
}
