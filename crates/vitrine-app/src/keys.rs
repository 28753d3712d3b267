//! The keys access tokens are checked with: ready at start-up (the built-in identity provider
//! signs its own tokens), or fetched from the identity provider's JWKS when first needed
//! (Cognito), so a cold start does not wait on a key download it may not need.
//!
//! Invariants:
//! - One download at a time: concurrent requests that find no keys wait for the same fetch.
//! - A failed download is not remembered: the request gets a 503 and the next one tries again.
//! - A token signed with a key the current set does not have triggers one fresh download (the
//!   provider rotated its keys), at most once per [`REFETCH_AFTER`], so tokens with made-up key
//!   ids cannot turn every request into a download.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use vitrine_domain::time::Timestamp;

use crate::auth::{AuthError, Principal, TokenVerifier};

/// The least time between two downloads caused by unknown key ids.
pub const REFETCH_AFTER: Duration = Duration::from_secs(300);

/// Downloads the provider's keys and builds a verifier from them.
pub type FetchKeys = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<TokenVerifier>> + Send>> + Send + Sync,
>;

/// Why a token could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The token is refused.
    #[error(transparent)]
    Token(#[from] AuthError),
    /// The keys could not be downloaded; nothing is known about the token.
    #[error("the identity provider's keys could not be fetched: {0:#}")]
    Unavailable(anyhow::Error),
}

/// The current verifier and when its keys were fetched.
type Current = Option<(Arc<TokenVerifier>, Instant)>;

/// The verifier of access tokens, fixed or fetched on demand.
pub struct Keys {
    current: RwLock<Current>,
    fetch: Option<FetchKeys>,
    /// Held while downloading, so there is one download at a time.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("fetched_on_demand", &self.fetch.is_some())
            .field("loaded", &self.loaded().is_some())
            .finish()
    }
}

impl Keys {
    /// Keys known at start-up, never fetched.
    pub fn fixed(verifier: TokenVerifier) -> Self {
        Self {
            current: RwLock::new(Some((Arc::new(verifier), Instant::now()))),
            fetch: None,
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Download the keys now unless they are loaded (to fail early, e.g. at a server's start).
    pub async fn preload(&self) -> anyhow::Result<()> {
        if self.loaded().is_none() {
            self.load(None).await?;
        }
        Ok(())
    }

    /// Keys downloaded by `fetch` when first needed (or ahead of time, see [`Keys::preload`]),
    /// and again when a token names a key they do not have.
    pub fn fetched_on_demand(fetch: FetchKeys) -> Self {
        Self {
            current: RwLock::new(None),
            fetch: Some(fetch),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Check an access token at `now`.
    pub async fn verify_access(&self, token: &str, now: Timestamp) -> Result<Principal, KeysError> {
        let verifier = match self.loaded() {
            Some((verifier, _)) => verifier,
            None => self.load(None).await.map_err(KeysError::Unavailable)?,
        };
        match verifier.verify_access(token, now) {
            Err(AuthError::UnknownKey) if self.may_refetch() => {
                // The provider may have rotated its keys since they were fetched.
                let fresh = self
                    .load(Some(&verifier))
                    .await
                    .map_err(KeysError::Unavailable)?;
                Ok(fresh.verify_access(token, now)?)
            }
            other => Ok(other?),
        }
    }

    fn loaded(&self) -> Current {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn may_refetch(&self) -> bool {
        self.fetch.is_some()
            && self
                .loaded()
                .is_none_or(|(_, at)| at.elapsed() >= REFETCH_AFTER)
    }

    /// Download the keys, unless someone else did while this waited: `stale` is the verifier
    /// the caller found wanting (`None`: it found none).
    async fn load(&self, stale: Option<&Arc<TokenVerifier>>) -> anyhow::Result<Arc<TokenVerifier>> {
        let _one_at_a_time = self.fetching.lock().await;
        if let Some((verifier, _)) = self.loaded()
            && stale.is_none_or(|stale| !Arc::ptr_eq(stale, &verifier))
        {
            return Ok(verifier);
        }
        let Some(fetch) = &self.fetch else {
            anyhow::bail!("these keys are fixed and cannot be fetched");
        };
        let verifier = Arc::new(fetch().await?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Arc::clone(&verifier), Instant::now()));
        tracing::info!("identity keys fetched");
        Ok(verifier)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::auth::{Claims, TokenSigner, TokenUse};

    use super::*;

    const ISSUER: &str = "https://issuer.test";
    const CLIENT: &str = "client";

    fn token(signer: &TokenSigner, now: Timestamp) -> String {
        signer.sign(&Claims {
            sub: "user-1".into(),
            iss: ISSUER.into(),
            token_use: TokenUse::Access,
            groups: vec!["customer".into()],
            client_id: Some(CLIENT.into()),
            aud: None,
            exp: now.secs() + 3600,
            iat: now.secs(),
            auth_time: now.secs(),
            jti: "jti-1".into(),
            username: Some("user-1".into()),
            email: None,
            name: None,
            origin_jti: None,
            nbf: None,
        })
    }

    /// Keys fetched from `signers[n]` on the n-th download (the last one after that); counts
    /// downloads; the first `failures` downloads fail.
    fn fetching(signers: Vec<Arc<TokenSigner>>, failures: usize) -> (Arc<Keys>, Arc<AtomicUsize>) {
        let count = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        let keys = Keys::fetched_on_demand(Box::new(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let signer = Arc::clone(&signers[n.saturating_sub(failures).min(signers.len() - 1)]);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if n < failures {
                    anyhow::bail!("connection refused");
                }
                Ok(TokenVerifier::new(
                    ISSUER.into(),
                    CLIENT.into(),
                    &signer.jwks(),
                )?)
            })
        }));
        (Arc::new(keys), count)
    }

    #[tokio::test]
    async fn concurrent_first_requests_share_one_download() {
        let signer = Arc::new(TokenSigner::generate().unwrap());
        let (keys, downloads) = fetching(vec![Arc::clone(&signer)], 0);
        let now = Timestamp::from_secs(1_800_000_000);
        let token = token(&signer, now);
        let mut checks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (keys, token) = (Arc::clone(&keys), token.clone());
            checks.spawn(async move { keys.verify_access(&token, now).await });
        }
        while let Some(result) = checks.join_next().await {
            assert_eq!(result.unwrap().unwrap().sub, "user-1");
        }
        assert_eq!(downloads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_download_is_retried_by_the_next_request() {
        let signer = Arc::new(TokenSigner::generate().unwrap());
        let (keys, downloads) = fetching(vec![Arc::clone(&signer)], 1);
        let now = Timestamp::from_secs(1_800_000_000);
        let token = token(&signer, now);
        let first = keys.verify_access(&token, now).await;
        assert!(matches!(first, Err(KeysError::Unavailable(_))), "{first:?}");
        assert_eq!(keys.verify_access(&token, now).await.unwrap().sub, "user-1");
        assert_eq!(downloads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn preload_downloads_once_and_reports_failures() {
        let signer = Arc::new(TokenSigner::generate().unwrap());
        let (keys, downloads) = fetching(vec![signer], 1);
        assert!(keys.preload().await.is_err());
        keys.preload().await.unwrap();
        keys.preload().await.unwrap();
        assert_eq!(downloads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unknown_key_ids_refetch_at_most_once_per_period() {
        let old = Arc::new(TokenSigner::generate().unwrap());
        let rotated = Arc::new(TokenSigner::generate().unwrap());
        let (keys, downloads) = fetching(vec![Arc::clone(&old), Arc::clone(&rotated)], 0);
        let now = Timestamp::from_secs(1_800_000_000);
        keys.verify_access(&token(&old, now), now).await.unwrap();
        // Fetched just now: a token from the rotated key is refused without a download.
        let refused = keys.verify_access(&token(&rotated, now), now).await;
        assert!(
            matches!(refused, Err(KeysError::Token(AuthError::UnknownKey))),
            "{refused:?}"
        );
        assert_eq!(downloads.load(Ordering::SeqCst), 1);
        // Once the keys are older than the period, an unknown key id downloads them again.
        if let Some((_, at)) = keys.current.write().unwrap().as_mut() {
            *at = at
                .checked_sub(REFETCH_AFTER)
                .expect("the machine has been up for minutes");
        }
        let accepted = keys.verify_access(&token(&rotated, now), now).await;
        assert_eq!(accepted.unwrap().sub, "user-1");
        assert_eq!(downloads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn fixed_keys_never_download() {
        let signer = TokenSigner::generate().unwrap();
        let other = TokenSigner::generate().unwrap();
        let keys =
            Keys::fixed(TokenVerifier::new(ISSUER.into(), CLIENT.into(), &signer.jwks()).unwrap());
        let now = Timestamp::from_secs(1_800_000_000);
        assert!(keys.verify_access(&token(&signer, now), now).await.is_ok());
        let refused = keys.verify_access(&token(&other, now), now).await;
        assert!(matches!(
            refused,
            Err(KeysError::Token(AuthError::UnknownKey))
        ));
    }
}
