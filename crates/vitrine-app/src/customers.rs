//! Customer profiles and saved addresses. Every read and write is scoped to the caller's `sub`:
//! a customer can never address another's data, because the key is built from the token.

use serde::{Deserialize, Serialize};
use vitrine_domain::br::TaxId;
use vitrine_domain::contact::Phone;
use vitrine_domain::order::Address;
use vitrine_domain::{Event, EventAttr, Timestamp};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::store::customer_index::CustomerFacts;
use crate::store::{self, Batch, Part, WriteFailed};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Language {
    #[default]
    #[serde(rename = "pt-BR")]
    PtBr,
    #[serde(rename = "en")]
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::PtBr => "pt-BR",
            Language::En => "en",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub sub: String,
    pub email: String,
    pub name: String,
    pub tax_id: Option<TaxId>,
    pub phone: Option<Phone>,
    pub sms_opt_in: bool,
    pub language: Language,
    pub created_at: Timestamp,
    /// Consent to marketing e-mails, with when it was given or withdrawn; `None`: never asked.
    #[serde(default)]
    pub marketing_emails: Option<Consent>,
    /// Whether a cart left untouched gets its reminder e-mail (`crate::cart_reminders`): on
    /// until the customer turns it off (on the account page, or by the link in a reminder).
    /// Profiles from before it existed read as on.
    #[serde(default = "reminders_on")]
    pub cart_reminders: bool,
    pub version: u64,
}

fn reminders_on() -> bool {
    true
}

/// A consent and when it was last given or withdrawn (LGPD art. 8: the controller proves it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub granted: bool,
    pub at: Timestamp,
}

/// What a customer may change of their profile.
#[derive(Debug, Clone)]
pub struct ProfileUpdate {
    pub name: String,
    pub tax_id: Option<TaxId>,
    pub phone: Option<Phone>,
    pub sms_opt_in: bool,
    pub language: Language,
    /// Consent to marketing e-mails; `None` leaves it as it is.
    pub marketing_emails: Option<bool>,
    /// Cart reminders on or off; `None` leaves them as they are.
    pub cart_reminders: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAddress {
    pub id: String,
    pub label: Option<String>,
    #[serde(flatten)]
    pub address: Address,
}

pub const MAX_ADDRESSES: usize = 20;

impl Profile {
    /// What the admin's customer search finds this profile by.
    pub fn facts(&self) -> CustomerFacts<'_> {
        CustomerFacts {
            sub: &self.sub,
            name: &self.name,
            email: &self.email,
            tax_id: self.tax_id.as_ref().map(TaxId::as_str),
            phone: self.phone.as_ref().map(|p| {
                p.national_number()
                    .unwrap_or_else(|| p.as_str().trim_start_matches('+'))
            }),
            created_ms: self.created_at.millis(),
        }
    }
}

impl App {
    /// The caller's profile, created on first use from the identity provider's record.
    pub async fn profile(&self, sub: &str) -> AppResult<Profile> {
        store::customers::load_profile(&*self.ports.table, sub)
            .await?
            .ok_or(AppError::NotFound("profile"))
    }

    /// Create the profile if it does not exist yet, and yield `customer.registered` with it.
    pub(crate) async fn ensure_profile(
        &self,
        sub: &str,
        email: &str,
        name: &str,
    ) -> AppResult<Profile> {
        if let Some(profile) = store::customers::load_profile(&*self.ports.table, sub).await? {
            self.index_if_missing(&profile).await?;
            return Ok(profile);
        }
        let profile = Profile {
            sub: sub.to_owned(),
            email: email.to_owned(),
            name: name.to_owned(),
            tax_id: None,
            phone: None,
            sms_opt_in: false,
            language: Language::PtBr,
            created_at: self.ports.clock.now(),
            marketing_emails: None,
            cart_reminders: true,
            version: 1,
        };
        let event = Event::new(
            "customer.registered",
            sub,
            serde_json::json!({ "customer_id": sub }),
        )
        .for_customer(sub)
        .attr(
            "language",
            EventAttr::String(profile.language.as_str().into()),
        );
        let mut batch = Batch::new();
        batch.put_new_profile(sub, &profile)?;
        batch.index_customer(&profile.facts(), None);
        batch.append_event(
            &self.ports.ids.new_id(),
            &event,
            profile.created_at.millis(),
        )?;
        match self.write(batch).await {
            Ok(()) => {}
            // Created concurrently by another sign-in: theirs stands.
            Err(e) if e.part() == Some(&Part::Profile) => {}
            Err(e) => return Err(e.into()),
        }
        self.profile(sub).await
    }

    /// Write the search entries of a profile from before they existed (on its owner's sign-in,
    /// or the backfill), unless it changed since it was read: that change wrote its own.
    pub(crate) async fn index_if_missing(&self, profile: &Profile) -> AppResult<()> {
        let facts = profile.facts();
        if store::customer_index::is_indexed(&*self.ports.table, &facts).await? {
            return Ok(());
        }
        let mut batch = Batch::new();
        batch.profile_unchanged(&profile.sub, profile.version);
        batch.index_customer(&facts, None);
        match self.write(batch).await {
            Ok(()) | Err(WriteFailed::Condition { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn update_profile(&self, sub: &str, update: ProfileUpdate) -> AppResult<Profile> {
        let name = update.name.trim();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            return Err(AppError::field("name", "a name has 1 to 120 characters"));
        }
        // Only numbers that may receive texts opt in (SMS pumping: docs/operations.md).
        if update.sms_opt_in
            && let Some(phone) = &update.phone
        {
            crate::settings::check_sms_number(phone, &self.settings.send_limits)
                .map_err(|why| AppError::field("phone", why))?;
        }
        let now = self.ports.clock.now();
        self.edit_profile(sub, |profile| {
            profile.name = name.to_owned();
            profile.tax_id = update.tax_id.clone();
            profile.phone = update.phone.clone();
            profile.sms_opt_in = update.sms_opt_in && profile.phone.is_some();
            profile.language = update.language;
            if let Some(granted) = update.marketing_emails
                && profile.marketing_emails.map(|c| c.granted) != Some(granted)
            {
                profile.marketing_emails = Some(Consent { granted, at: now });
            }
            if let Some(on) = update.cart_reminders {
                profile.cart_reminders = on;
            }
        })
        .await
    }

    /// Change `sub`'s profile with `change` and save it with its search entries, under the
    /// version read: tried again on the profile as it is when it changed meanwhile.
    pub(crate) async fn edit_profile(
        &self,
        sub: &str,
        change: impl Fn(&mut Profile),
    ) -> AppResult<Profile> {
        for _ in 0..5 {
            let mut profile = self.profile(sub).await?;
            let before = profile.clone();
            let version = profile.version;
            change(&mut profile);
            profile.version += 1;
            let mut batch = Batch::new();
            batch.save_profile(sub, &profile, profile.version, version)?;
            batch.index_customer(&profile.facts(), Some(&before.facts()));
            match self.write(batch).await {
                Ok(()) => return Ok(profile),
                Err(WriteFailed::Condition { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict(
            "the profile is changing too fast; try again".into(),
        ))
    }

    pub async fn addresses(&self, sub: &str) -> AppResult<Vec<SavedAddress>> {
        store::customers::addresses(&*self.ports.table, sub, MAX_ADDRESSES).await
    }

    pub async fn address(&self, sub: &str, id: &str) -> AppResult<SavedAddress> {
        store::customers::load_address(&*self.ports.table, sub, id)
            .await?
            .ok_or(AppError::NotFound("address"))
    }

    pub async fn add_address(
        &self,
        sub: &str,
        label: Option<String>,
        address: Address,
    ) -> AppResult<SavedAddress> {
        // The body is the address itself: its fields are named bare (`city`, `cep`).
        address.validate("")?;
        if label.as_ref().is_some_and(|l| l.chars().count() > 40) {
            return Err(AppError::field("label", "at most 40 characters"));
        }
        if self.addresses(sub).await?.len() >= MAX_ADDRESSES {
            return Err(AppError::Rule(format!(
                "a customer keeps at most {MAX_ADDRESSES} addresses"
            )));
        }
        let saved = SavedAddress {
            id: self.ports.ids.new_id(),
            label,
            address,
        };
        let mut batch = Batch::new();
        batch.put_new_address(sub, &saved.id, &saved)?;
        self.write(batch).await?;
        Ok(saved)
    }

    pub async fn delete_address(&self, sub: &str, id: &str) -> AppResult<()> {
        let mut batch = Batch::new();
        batch.delete_address(sub, id);
        match self.write(batch).await {
            Err(WriteFailed::Condition { .. }) => Err(AppError::NotFound("address")),
            other => Ok(other?),
        }
    }
}
