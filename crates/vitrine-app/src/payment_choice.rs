//! Which provider takes each payment method: the `[payments] pix`, `card` and `boleto` settings
//! (`VITRINE_PAYMENTS_PIX`, `…_CARD`, `…_BOLETO`), read by both shapes, and [`assemble`], which
//! turns the choices into the providers the app is given.
//!
//! | method | choices |
//! |---|---|
//! | `pix` | `sandbox`, `bcb`, `mercadopago`, `off` |
//! | `card` | `sandbox`, `mercadopago`, `off` |
//! | `boleto` | `mercadopago`, `off` |
//!
//! Invariants:
//! - **No implicit sandbox**: a method nobody chose is `off` (checkout refuses it). The sandbox
//!   is a provider like the others: `vitrine serve` writes the choice `sandbox` into a *new* data
//!   folder, so the first run still sells, in demo; nothing else picks it.
//! - **One provider per method, and only that one**: each chosen provider is built once (Mercado
//!   Pago serves card and boleto with one instance) and is given to the app as taking exactly the
//!   methods chosen for it ([`Chosen`]), so a provider that could take more (Mercado Pago also
//!   takes Pix) never answers for a method configured elsewhere.
//! - **A real provider is never a sandbox**: [`assemble`] refuses a built provider whose
//!   `is_sandbox()` disagrees with the choice.
//!
//! The real providers' settings are looked up by the names below in both shapes: `vitrine serve`
//! from its environment and `vitrine.toml` (files for the secrets and certificates), the Lambda
//! functions from their environment and a Secrets Manager secret.

use std::sync::Arc;

use async_trait::async_trait;
use vitrine_domain::order::PaymentMethod;
use vitrine_domain::{Money, Timestamp};

use crate::ports::payments::{
    BrowserTokenisation, Charge, ChargeRequest, NoticeItem, PaymentError, PaymentProvider,
    ProviderPayment, Refunded, WebhookError, WebhookRequest,
};
use crate::settings::{Problem, SettingName, SettingsError};

/// What takes one payment method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentChoice {
    /// The demo providers: no money moves.
    Sandbox,
    /// Pix through the shop's bank on the BCB standard API.
    Bcb,
    /// Mercado Pago.
    MercadoPago,
    /// The method is not offered.
    Off,
}

impl PaymentChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentChoice::Sandbox => "sandbox",
            PaymentChoice::Bcb => "bcb",
            PaymentChoice::MercadoPago => "mercadopago",
            PaymentChoice::Off => "off",
        }
    }

    /// The choices a method takes.
    pub fn allowed(method: PaymentMethod) -> &'static [PaymentChoice] {
        use PaymentChoice::*;
        match method {
            PaymentMethod::Pix => &[Sandbox, Bcb, MercadoPago, Off],
            PaymentMethod::Card => &[Sandbox, MercadoPago, Off],
            PaymentMethod::Boleto => &[MercadoPago, Off],
        }
    }

    /// Parse the choice for `method`; `Err`: what the setting must be.
    pub fn parse(method: PaymentMethod, text: &str) -> Result<PaymentChoice, String> {
        let allowed = Self::allowed(method);
        allowed
            .iter()
            .copied()
            .find(|c| c.as_str() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|c| c.as_str()).collect();
                format!("must be one of {}, not {text:?}", names.join(", "))
            })
    }
}

/// `[payments] pix` / `VITRINE_PAYMENTS_PIX`.
pub const PIX: SettingName = SettingName {
    var: "VITRINE_PAYMENTS_PIX",
    key: "payments.pix",
};
/// `[payments] card` / `VITRINE_PAYMENTS_CARD`.
pub const CARD: SettingName = SettingName {
    var: "VITRINE_PAYMENTS_CARD",
    key: "payments.card",
};
/// `[payments] boleto` / `VITRINE_PAYMENTS_BOLETO`.
pub const BOLETO: SettingName = SettingName {
    var: "VITRINE_PAYMENTS_BOLETO",
    key: "payments.boleto",
};

/// The setting that chooses `method`'s provider.
pub fn setting_of(method: PaymentMethod) -> SettingName {
    match method {
        PaymentMethod::Pix => PIX,
        PaymentMethod::Card => CARD,
        PaymentMethod::Boleto => BOLETO,
    }
}

/// Every method, in the order the store lists them.
pub const METHODS: [PaymentMethod; 3] = [
    PaymentMethod::Pix,
    PaymentMethod::Card,
    PaymentMethod::Boleto,
];

/// The choice per method; `None`: not set here (off, unless another source sets it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaymentChoices {
    pub pix: Option<PaymentChoice>,
    pub card: Option<PaymentChoice>,
    pub boleto: Option<PaymentChoice>,
}

impl PaymentChoices {
    /// What a new `vitrine serve` data folder records: the sandbox for Pix and cards.
    pub const DEMO: PaymentChoices = PaymentChoices {
        pix: Some(PaymentChoice::Sandbox),
        card: Some(PaymentChoice::Sandbox),
        boleto: None,
    };

    /// The choices looked up by their variables ([`PIX`], [`CARD`], [`BOLETO`]); blank is unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut choices = PaymentChoices::default();
        for method in METHODS {
            let name = setting_of(method);
            let Some(text) = get(name.var).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let choice = PaymentChoice::parse(method, &text).map_err(|what| SettingsError {
                vars: vec![name.var],
                key: name.key,
                problem: Problem::Must(what),
            })?;
            *choices.slot(method) = Some(choice);
        }
        Ok(choices)
    }

    fn slot(&mut self, method: PaymentMethod) -> &mut Option<PaymentChoice> {
        match method {
            PaymentMethod::Pix => &mut self.pix,
            PaymentMethod::Card => &mut self.card,
            PaymentMethod::Boleto => &mut self.boleto,
        }
    }

    /// The choice for `method`: `off` when none was made.
    pub fn get(&self, method: PaymentMethod) -> PaymentChoice {
        match method {
            PaymentMethod::Pix => self.pix,
            PaymentMethod::Card => self.card,
            PaymentMethod::Boleto => self.boleto,
        }
        .unwrap_or(PaymentChoice::Off)
    }

    /// Whether any method's choice is set.
    pub fn any_set(&self) -> bool {
        self.pix.is_some() || self.card.is_some() || self.boleto.is_some()
    }

    /// These choices, with `other`'s where these have none.
    pub fn or(self, other: PaymentChoices) -> PaymentChoices {
        PaymentChoices {
            pix: self.pix.or(other.pix),
            card: self.card.or(other.card),
            boleto: self.boleto.or(other.boleto),
        }
    }

    /// Whether `choice` takes any method.
    pub fn uses(&self, choice: PaymentChoice) -> bool {
        METHODS.iter().any(|m| self.get(*m) == choice)
    }
}

/// Build the providers `choices` name and give each the methods chosen for it. `build` is called
/// once per real provider (with the first method it takes) and once per method for the sandbox
/// (its Pix and card providers are two). A method `off` gets no provider.
pub fn assemble(
    choices: &PaymentChoices,
    mut build: impl FnMut(PaymentChoice, PaymentMethod) -> anyhow::Result<Arc<dyn PaymentProvider>>,
) -> anyhow::Result<Vec<Arc<dyn PaymentProvider>>> {
    // One instance per provider: the choice, and for the sandbox the method (its Pix and card
    // providers are two).
    type Instance = (PaymentChoice, Option<PaymentMethod>);
    let mut groups: Vec<(Instance, Vec<PaymentMethod>)> = Vec::new();
    for method in METHODS {
        let choice = choices.get(method);
        if choice == PaymentChoice::Off {
            continue;
        }
        let key = (choice, (choice == PaymentChoice::Sandbox).then_some(method));
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, methods)) => methods.push(method),
            None => groups.push((key, vec![method])),
        }
    }
    let mut providers: Vec<Arc<dyn PaymentProvider>> = Vec::new();
    for ((choice, _), methods) in groups {
        let provider = build(choice, methods[0])?;
        if provider.is_sandbox() != (choice == PaymentChoice::Sandbox) {
            anyhow::bail!(
                "the provider built for {} ({}) {} a sandbox",
                choice.as_str(),
                provider.name(),
                if provider.is_sandbox() {
                    "is"
                } else {
                    "is not"
                }
            );
        }
        if let Some(m) = methods.iter().find(|m| !provider.methods().contains(m)) {
            anyhow::bail!(
                "{} does not take {} payments ({})",
                choice.as_str(),
                m.as_str(),
                setting_of(*m).var
            );
        }
        providers.push(Arc::new(Chosen::new(provider, &methods)));
    }
    Ok(providers)
}

/// A provider given to the app for the methods chosen for it only (see the module docs).
pub struct Chosen {
    inner: Arc<dyn PaymentProvider>,
    methods: &'static [PaymentMethod],
}

impl Chosen {
    pub fn new(inner: Arc<dyn PaymentProvider>, methods: &[PaymentMethod]) -> Self {
        use PaymentMethod::{Boleto, Card, Pix};
        let has = |m| methods.contains(&m);
        let methods: &'static [PaymentMethod] = match (has(Pix), has(Card), has(Boleto)) {
            (true, true, true) => &[Pix, Card, Boleto],
            (true, true, false) => &[Pix, Card],
            (true, false, true) => &[Pix, Boleto],
            (true, false, false) => &[Pix],
            (false, true, true) => &[Card, Boleto],
            (false, true, false) => &[Card],
            (false, false, true) => &[Boleto],
            (false, false, false) => &[],
        };
        Self { inner, methods }
    }
}

#[async_trait]
impl PaymentProvider for Chosen {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn methods(&self) -> &'static [PaymentMethod] {
        self.methods
    }
    fn is_sandbox(&self) -> bool {
        self.inner.is_sandbox()
    }
    /// Only when it takes cards here: a provider chosen for boleto alone adds no script.
    fn browser(&self) -> Option<BrowserTokenisation> {
        if self.methods.contains(&PaymentMethod::Card) {
            self.inner.browser()
        } else {
            None
        }
    }
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, PaymentError> {
        self.inner.charge(request).await
    }
    async fn refund(
        &self,
        reference: &str,
        amount: Money,
        refund_id: &str,
    ) -> Result<Refunded, PaymentError> {
        self.inner.refund(reference, amount, refund_id).await
    }
    async fn cancel(&self, reference: &str) -> Result<(), PaymentError> {
        self.inner.cancel(reference).await
    }
    async fn webhook(&self, request: &WebhookRequest<'_>) -> Result<Vec<NoticeItem>, WebhookError> {
        self.inner.webhook(request).await
    }
    async fn register_webhooks(&self) -> Result<(), PaymentError> {
        self.inner.register_webhooks().await
    }
    async fn lookup(&self, reference: &str) -> Result<Option<ProviderPayment>, PaymentError> {
        self.inner.lookup(reference).await
    }
    async fn received(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ProviderPayment>, PaymentError> {
        self.inner.received(from, to).await
    }
    async fn installments(
        &self,
        total: Money,
        bin: &str,
    ) -> Result<Option<Vec<vitrine_domain::card::InstallmentPlan>>, PaymentError> {
        self.inner.installments(total, bin).await
    }
}

/// A real provider's setting: the variable both shapes look it up by, and its `vitrine.toml` key.
macro_rules! provider_settings {
    ($($(#[$doc:meta])* $name:ident = $var:literal, $key:literal;)*) => {
        $($(#[$doc])* pub const $name: SettingName = SettingName { var: $var, key: $key };)*
    };
}

provider_settings! {
    BCB_API_URL = "VITRINE_BCB_API_URL", "payments.bcb.api_url";
    BCB_TOKEN_URL = "VITRINE_BCB_TOKEN_URL", "payments.bcb.token_url";
    BCB_CLIENT_ID = "VITRINE_BCB_CLIENT_ID", "payments.bcb.client_id";
    /// A secret: locally also from a file (`…_FILE`), on AWS from the payments secret.
    BCB_CLIENT_SECRET = "VITRINE_BCB_CLIENT_SECRET", "payments.bcb.client_secret";
    /// PEM text: locally from a file (`…_FILE`), on AWS from the payments secret.
    BCB_CERTIFICATE_PEM = "VITRINE_BCB_CERTIFICATE_PEM", "payments.bcb.certificate_pem";
    BCB_KEY_PEM = "VITRINE_BCB_KEY_PEM", "payments.bcb.key_pem";
    BCB_CA_PEM = "VITRINE_BCB_CA_PEM", "payments.bcb.ca_pem";
    BCB_WEBHOOK_URL = "VITRINE_BCB_WEBHOOK_URL", "payments.bcb.webhook_url";
    /// The shop's Pix key, shared with the sandbox's BR Codes.
    PIX_KEY = "VITRINE_PIX_KEY", "payments.pix_key";
    MERCADOPAGO_API_URL = "VITRINE_MERCADOPAGO_API_URL", "payments.mercadopago.api_url";
    MERCADOPAGO_ACCESS_TOKEN = "VITRINE_MERCADOPAGO_ACCESS_TOKEN", "payments.mercadopago.access_token";
    MERCADOPAGO_PUBLIC_KEY = "VITRINE_MERCADOPAGO_PUBLIC_KEY", "payments.mercadopago.public_key";
    MERCADOPAGO_WEBHOOK_SECRET = "VITRINE_MERCADOPAGO_WEBHOOK_SECRET", "payments.mercadopago.webhook_secret";
    MERCADOPAGO_SCRIPT_URL = "VITRINE_MERCADOPAGO_SCRIPT_URL", "payments.mercadopago.script_url";
    MERCADOPAGO_CA_PEM = "VITRINE_MERCADOPAGO_CA_PEM", "payments.mercadopago.ca_pem";
    MERCADOPAGO_NOTIFICATION_URL = "VITRINE_MERCADOPAGO_NOTIFICATION_URL", "payments.mercadopago.notification_url";
}

/// The settings of the real providers, in the order the docs list them.
pub const PROVIDER_SETTINGS: [SettingName; 16] = [
    BCB_API_URL,
    BCB_TOKEN_URL,
    BCB_CLIENT_ID,
    BCB_CLIENT_SECRET,
    BCB_CERTIFICATE_PEM,
    BCB_KEY_PEM,
    BCB_CA_PEM,
    BCB_WEBHOOK_URL,
    PIX_KEY,
    MERCADOPAGO_API_URL,
    MERCADOPAGO_ACCESS_TOKEN,
    MERCADOPAGO_PUBLIC_KEY,
    MERCADOPAGO_WEBHOOK_SECRET,
    MERCADOPAGO_SCRIPT_URL,
    MERCADOPAGO_CA_PEM,
    MERCADOPAGO_NOTIFICATION_URL,
];

/// Those of them that are secrets (kept out of logs; on AWS, in the payments secret).
pub const SECRET_SETTINGS: [SettingName; 6] = [
    BCB_CLIENT_SECRET,
    BCB_CERTIFICATE_PEM,
    BCB_KEY_PEM,
    MERCADOPAGO_ACCESS_TOKEN,
    MERCADOPAGO_WEBHOOK_SECRET,
    // Not secret, but PEM text, which does not fit a Lambda environment comfortably.
    BCB_CA_PEM,
];

/// Mercado Pago's API, unless set.
pub const MERCADOPAGO_DEFAULT_API_URL: &str = "https://api.mercadopago.com";
/// Mercado Pago's card tokenisation script, unless set.
pub const MERCADOPAGO_DEFAULT_SCRIPT_URL: &str = "https://sdk.mercadopago.com/js/v2";

/// Reads a provider's settings through a lookup by variable name, with errors that name the
/// setting (its `vitrine.toml` key when `by_key`, else its variable).
pub struct ProviderLookup<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    /// The store's public URL, webhook addresses derive from, when known.
    public_url: Option<&'a str>,
    by_key: bool,
    /// Why the settings are needed (`pix = "bcb"`), for the messages.
    why: String,
}

impl<'a> ProviderLookup<'a> {
    /// Settings for `chosen`, as `choices` choose it; messages name `vitrine.toml` keys when
    /// `by_key`, else variables.
    pub fn new(
        get: &'a dyn Fn(&str) -> Option<String>,
        public_url: Option<&'a str>,
        by_key: bool,
        choices: &PaymentChoices,
        chosen: PaymentChoice,
    ) -> Self {
        let why = METHODS
            .iter()
            .filter(|m| choices.get(**m) == chosen)
            .map(|m| {
                let name = setting_of(*m);
                let name = if by_key { name.key } else { name.var };
                format!("{name} = {:?}", chosen.as_str())
            })
            .collect::<Vec<_>>()
            .join(" and ");
        Self {
            get,
            public_url,
            by_key,
            why,
        }
    }

    fn label(&self, name: SettingName) -> String {
        if self.by_key {
            format!("{} ({})", name.key, name.var)
        } else {
            name.var.to_owned()
        }
    }

    /// The value, or `None` when unset or blank.
    pub fn optional(&self, name: SettingName) -> Option<String> {
        (self.get)(name.var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The value, or an error naming the missing setting.
    pub fn required(&self, name: SettingName) -> anyhow::Result<String> {
        self.optional(name)
            .ok_or_else(|| anyhow::anyhow!("{} is required: {} is set", self.label(name), self.why))
    }

    /// The value, or `default`.
    pub fn or(&self, name: SettingName, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    /// The setting, else `{public URL}/api/v1/payments/webhooks/{provider}` when the public URL
    /// is known and https.
    pub fn webhook_url(&self, name: SettingName, provider: &str) -> Option<String> {
        // Providers call only https addresses (the bank over mutual TLS): a store on plain
        // http (a laptop) registers nothing and relies on the reconciliation.
        self.optional(name).or_else(|| {
            self.public_url
                .filter(|url| url.starts_with("https://"))
                .map(|url| {
                    format!(
                        "{}/api/v1/payments/webhooks/{provider}",
                        url.trim_end_matches('/')
                    )
                })
        })
    }

    /// A constructor's refusal, naming what it was built from.
    pub fn refused(&self, provider: &str, why: String) -> anyhow::Error {
        anyhow::anyhow!("the {provider} settings ({}): {why}", self.why)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::payments::sandbox::CardSandbox;

    fn read(pairs: &[(&str, &str)]) -> Result<PaymentChoices, SettingsError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        PaymentChoices::from_lookup(|n| map.get(n).map(|v| (*v).to_owned()))
    }

    #[test]
    fn an_unset_method_is_off_never_the_sandbox() {
        let c = read(&[]).unwrap();
        assert!(!c.any_set());
        for m in METHODS {
            assert_eq!(c.get(m), PaymentChoice::Off);
        }
    }

    #[test]
    fn each_method_takes_only_its_providers_and_the_error_names_the_setting() {
        let c = read(&[
            (PIX.var, "BCB"),
            (CARD.var, "mercadopago"),
            (BOLETO.var, " "),
        ])
        .unwrap();
        assert_eq!(c.get(PaymentMethod::Pix), PaymentChoice::Bcb);
        assert_eq!(c.get(PaymentMethod::Card), PaymentChoice::MercadoPago);
        assert_eq!(c.boleto, None);
        for (name, value) in [(CARD, "bcb"), (BOLETO, "sandbox"), (PIX, "stripe")] {
            let err = read(&[(name.var, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name.var), "{err}");
            assert!(err.by_key().starts_with(name.key), "{}", err.by_key());
        }
    }

    #[test]
    fn the_configured_choice_wins_over_the_recorded_one() {
        let configured = read(&[(CARD.var, "off")]).unwrap();
        let c = configured.or(PaymentChoices::DEMO);
        assert_eq!(c.get(PaymentMethod::Card), PaymentChoice::Off);
        assert_eq!(c.get(PaymentMethod::Pix), PaymentChoice::Sandbox);
    }

    /// A provider that takes every method, real or not as told.
    struct Everything(bool);

    /// How many times any `Everything` was asked to register its webhooks.
    static REGISTERED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[async_trait]
    impl PaymentProvider for Everything {
        fn name(&self) -> &'static str {
            "everything"
        }
        fn methods(&self) -> &'static [PaymentMethod] {
            &METHODS
        }
        fn is_sandbox(&self) -> bool {
            self.0
        }
        async fn charge(&self, _: &ChargeRequest) -> Result<Charge, PaymentError> {
            Err(PaymentError::Invalid("test".into()))
        }
        async fn refund(&self, _: &str, _: Money, _: &str) -> Result<Refunded, PaymentError> {
            Err(PaymentError::Invalid("test".into()))
        }
        async fn cancel(&self, _: &str) -> Result<(), PaymentError> {
            Ok(())
        }
        async fn webhook(&self, _: &WebhookRequest<'_>) -> Result<Vec<NoticeItem>, WebhookError> {
            Ok(Vec::new())
        }
        async fn lookup(&self, _: &str) -> Result<Option<ProviderPayment>, PaymentError> {
            Ok(None)
        }
        async fn received(
            &self,
            _: Timestamp,
            _: Timestamp,
        ) -> Result<Vec<ProviderPayment>, PaymentError> {
            Ok(Vec::new())
        }
        async fn register_webhooks(&self) -> Result<(), PaymentError> {
            REGISTERED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_chosen_provider_registers_its_webhooks_itself() {
        let choices = read(&[(PIX.var, "bcb")]).unwrap();
        let providers = assemble(&choices, |_, _| Ok(Arc::new(Everything(false)))).unwrap();
        let before = REGISTERED.load(std::sync::atomic::Ordering::SeqCst);
        providers[0].register_webhooks().await.unwrap();
        assert_eq!(
            REGISTERED.load(std::sync::atomic::Ordering::SeqCst),
            before + 1,
            "the registration stopped at the wrapper (a trait default answered Ok)"
        );
    }

    #[test]
    fn one_instance_per_provider_taking_only_the_methods_chosen_for_it() {
        let choices = read(&[(CARD.var, "mercadopago"), (BOLETO.var, "mercadopago")]).unwrap();
        let mut calls = 0;
        let providers = assemble(&choices, |_, _| {
            calls += 1;
            Ok(Arc::new(Everything(false)))
        })
        .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(providers.len(), 1);
        assert_eq!(
            providers[0].methods(),
            [PaymentMethod::Card, PaymentMethod::Boleto],
            "Pix is off: the provider does not answer for it"
        );
    }

    #[test]
    fn a_sandbox_built_for_a_real_choice_or_a_provider_without_the_method_is_refused() {
        let choices = read(&[(CARD.var, "mercadopago")]).unwrap();
        let Err(err) = assemble(&choices, |_, _| Ok(Arc::new(Everything(true)))) else {
            panic!("a sandbox for mercadopago was taken");
        };
        assert!(err.to_string().contains("is a sandbox"), "{err}");
        let choices = read(&[(PIX.var, "sandbox")]).unwrap();
        let Err(err) = assemble(&choices, |_, _| Ok(Arc::new(CardSandbox))) else {
            panic!("a card provider was taken for Pix");
        };
        assert!(err.to_string().contains(PIX.var), "{err}");
    }

    #[test]
    fn the_sandbox_is_built_once_per_method_and_off_methods_get_nothing() {
        let mut asked = Vec::new();
        let providers = assemble(&PaymentChoices::DEMO, |choice, method| {
            asked.push((choice, method));
            Ok(Arc::new(Everything(true)))
        })
        .unwrap();
        assert_eq!(
            asked,
            [
                (PaymentChoice::Sandbox, PaymentMethod::Pix),
                (PaymentChoice::Sandbox, PaymentMethod::Card)
            ]
        );
        assert!(
            providers
                .iter()
                .all(|p| !p.methods().contains(&PaymentMethod::Boleto))
        );
    }
}
