//! The shop's look (`vitrine_domain::shop`): read by every page, web app and message, set by the
//! owner in the admin.
//!
//! Reads go through a cache kept at most `catalog_cache_secs` (the same staleness
//! the catalog accepts): on AWS every function instance keeps its own, so a change reaches all of
//! them within that time; the process that saves a look sees it at once.
//!
//! The logo is stored in the Blobs port under `images/shop/{id}.{ext}` (so the public media
//! route and CloudFront serve it like a product image); a new logo gets a new key, and the one it
//! replaces is deleted once the look that named it is no longer stored.

use std::sync::Arc;

use bytes::Bytes;
use vitrine_domain::shop::{LOGO_PREFIX, Look, LookDraft};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::media::ImageType;
use crate::notify::Shop;
use crate::store::{self, Batch, Part, WriteFailed};

/// The largest logo accepted, in bytes (1 MiB: a header image, not a photograph).
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;

impl App {
    /// The shop's look, from the cache while it is younger than `catalog_cache_secs`.
    pub async fn shop_look(&self) -> AppResult<Arc<Look>> {
        let now = self.ports.clock.now();
        let max_age_ms = self.settings.catalog_cache_secs.max(0) * 1000;
        if let Some((look, at)) = self.shop.read().expect("look cache poisoned").as_ref()
            && now.millis() - at.millis() < max_age_ms
        {
            return Ok(look.clone());
        }
        let look = Arc::new(store::shop::load(&*self.ports.table).await?);
        self.remember_look(look.clone());
        Ok(look)
    }

    /// The shop's look as stored now (the admin edits this one: its version is current).
    pub async fn shop_look_for_edit(&self) -> AppResult<Look> {
        let look = store::shop::load(&*self.ports.table).await?;
        self.remember_look(Arc::new(look.clone()));
        Ok(look)
    }

    /// Save the owner's `draft` over the look at `expected_version` (its logo kept).
    pub async fn update_shop_look(
        &self,
        draft: &LookDraft,
        expected_version: u64,
    ) -> AppResult<Look> {
        let current = self.current_look(expected_version).await?;
        let look = draft.check(&current)?;
        self.save_look(look).await
    }

    /// Store `bytes` as the shop's logo, replacing the one the look at `expected_version` has.
    pub async fn set_shop_logo(
        &self,
        kind: ImageType,
        bytes: Bytes,
        expected_version: u64,
    ) -> AppResult<Look> {
        if bytes.is_empty() {
            return Err(AppError::field("body", "send the logo's bytes as the body"));
        }
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(AppError::field(
                "body",
                format!("a logo has at most {} KiB", MAX_LOGO_BYTES / 1024),
            ));
        }
        if !kind.matches(&bytes) {
            return Err(AppError::field(
                "body",
                format!(
                    "the body is not a {} image (its first bytes do not match)",
                    kind.label()
                ),
            ));
        }
        let current = self.current_look(expected_version).await?;
        let key = format!(
            "{LOGO_PREFIX}logo-{}.{}",
            self.ports.ids.new_id().to_ascii_lowercase(),
            kind.extension()
        );
        self.ports
            .blobs
            .put(&key, bytes, kind.content_type())
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        let old = current.logo.clone();
        let look = Look {
            logo: Some(key.clone()),
            ..current
        };
        match self.save_look(look).await {
            Ok(saved) => {
                self.forget_logo(old).await;
                Ok(saved)
            }
            Err(e) => {
                // Not named by any stored look: nothing may keep it.
                self.forget_logo(Some(key)).await;
                Err(e)
            }
        }
    }

    /// Show the shop's name in place of a logo again.
    pub async fn remove_shop_logo(&self, expected_version: u64) -> AppResult<Look> {
        let current = self.current_look(expected_version).await?;
        if current.logo.is_none() {
            // Nothing to remove: the look stays as it is, at its version.
            return Ok(current);
        }
        let old = current.logo.clone();
        let saved = self
            .save_look(Look {
                logo: None,
                ..current
            })
            .await?;
        self.forget_logo(old).await;
        Ok(saved)
    }

    /// The shop as the messages name it: the look's name, colour and contact.
    pub async fn shop_for_messages(&self) -> AppResult<Shop> {
        Ok(Shop::of(&*self.shop_look().await?))
    }

    async fn current_look(&self, expected_version: u64) -> AppResult<Look> {
        let current = store::shop::load(&*self.ports.table).await?;
        if current.version != expected_version {
            return Err(AppError::VersionMismatch("shop's look"));
        }
        Ok(current)
    }

    async fn save_look(&self, look: Look) -> AppResult<Look> {
        let look = look.saved(self.ports.clock.now());
        let mut batch = Batch::new();
        batch.save_shop_look(&look)?;
        match self.write(batch).await {
            Ok(()) => {}
            Err(WriteFailed::Condition {
                part: Part::ShopLook,
                ..
            }) => return Err(AppError::VersionMismatch("shop's look")),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(version = look.version, "the shop's look was saved");
        self.remember_look(Arc::new(look.clone()));
        Ok(look)
    }

    fn remember_look(&self, look: Arc<Look>) {
        let now = self.ports.clock.now();
        *self.shop.write().expect("look cache poisoned") = Some((look, now));
    }

    /// Delete a logo no stored look names any more (a failure only leaves an unused file).
    async fn forget_logo(&self, key: Option<String>) {
        let Some(key) = key else { return };
        if let Err(e) = self.ports.blobs.delete(&key).await {
            tracing::warn!(key, error = %e, "an old logo could not be deleted");
        }
    }
}

#[cfg(test)]
mod tests {
    use vitrine_domain::shop::Colour;

    use super::*;
    use crate::notify::testing::Harness;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    fn draft(name: &str) -> LookDraft {
        LookDraft {
            name: name.into(),
            description: "Cerâmica feita à mão.".into(),
            brand: "#7a1f5c".into(),
            accent: "#1d4e89".into(),
            email: Some("contato@belaflor.com.br".into()),
            ..LookDraft::default()
        }
    }

    #[tokio::test]
    async fn a_new_store_has_the_default_look_and_the_owner_saves_another() {
        let t = Harness::new();
        let look = t.app.shop_look().await.unwrap();
        assert_eq!(*look, Look::default());
        let saved = t
            .app
            .update_shop_look(&draft("Bela Flor"), 0)
            .await
            .unwrap();
        assert_eq!(saved.version, 1);
        assert_eq!(saved.brand, Colour::parse("#7a1f5c").unwrap());
        // This process sees it at once; a second save needs the new version.
        assert_eq!(t.app.shop_look().await.unwrap().name, "Bela Flor");
        let stale = t.app.update_shop_look(&draft("Outra"), 0).await;
        assert!(
            matches!(stale, Err(AppError::VersionMismatch(_))),
            "{stale:?}"
        );
        let again = t.app.update_shop_look(&draft("Outra"), 1).await.unwrap();
        assert_eq!(again.version, 2);
        assert_eq!(t.app.shop_for_messages().await.unwrap().name, "Outra");
    }

    #[tokio::test]
    async fn two_owners_saving_at_once_save_once() {
        let t = Harness::new();
        let (first, second) = (draft("Primeira"), draft("Segunda"));
        let (a, b) = tokio::join!(
            t.app.update_shop_look(&first, 0),
            t.app.update_shop_look(&second, 0)
        );
        assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1);
        assert_eq!(t.app.shop_look_for_edit().await.unwrap().version, 1);
    }

    #[tokio::test]
    async fn another_instance_sees_a_change_once_its_cache_ages() {
        let t = Harness::new();
        let other = t.second_instance();
        assert_eq!(other.shop_look().await.unwrap().name, "vitrine");
        t.app
            .update_shop_look(&draft("Bela Flor"), 0)
            .await
            .unwrap();
        assert_eq!(other.shop_look().await.unwrap().name, "vitrine");
        t.clock
            .advance_secs(t.app.settings.catalog_cache_secs.max(1));
        assert_eq!(other.shop_look().await.unwrap().name, "Bela Flor");
    }

    #[tokio::test]
    async fn a_new_logo_replaces_and_deletes_the_old_one() {
        let t = Harness::new();
        let first = t
            .app
            .set_shop_logo(ImageType::Png, Bytes::from_static(PNG), 0)
            .await
            .unwrap();
        let first_key = first.logo.clone().unwrap();
        assert!(first_key.starts_with(LOGO_PREFIX), "{first_key}");
        assert!(t.app.ports.blobs.get(&first_key).await.unwrap().is_some());
        let second = t
            .app
            .set_shop_logo(ImageType::Png, Bytes::from_static(PNG), 1)
            .await
            .unwrap();
        assert_ne!(second.logo, first.logo);
        assert!(t.app.ports.blobs.get(&first_key).await.unwrap().is_none());
        let none = t.app.remove_shop_logo(2).await.unwrap();
        assert_eq!(none.logo, None);
        assert_eq!(
            t.app.remove_shop_logo(3).await.unwrap().version,
            3,
            "nothing to remove"
        );
        assert!(
            t.app
                .ports
                .blobs
                .get(second.logo.as_deref().unwrap())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_logo_that_is_not_what_it_says_or_too_big_is_refused() {
        let t = Harness::new();
        let html = Bytes::from_static(b"<svg onload=alert(1)>");
        assert!(matches!(
            t.app.set_shop_logo(ImageType::Png, html, 0).await,
            Err(AppError::Invalid(_))
        ));
        let mut big = PNG.to_vec();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert!(matches!(
            t.app
                .set_shop_logo(ImageType::Png, Bytes::from(big), 0)
                .await,
            Err(AppError::Invalid(_))
        ));
        assert_eq!(t.app.shop_look_for_edit().await.unwrap().version, 0);
    }
}
