//! The router's shared state: the application, the token verifier, and the small response cache
//! in front of catalog listings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use vitrine_app::App;
use vitrine_app::auth::{Jwks, Principal, TokenVerifier};

use crate::problem::Problem;

#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub verifier: Arc<TokenVerifier>,
    /// Served at `/.well-known/jwks.json` when the built-in identity provider is in use.
    pub jwks: Option<Arc<Jwks>>,
    pub(crate) listing_cache: Arc<ListingCache>,
}

impl AppState {
    pub fn new(app: Arc<App>, verifier: TokenVerifier, jwks: Option<Jwks>) -> Self {
        Self {
            app,
            verifier: Arc::new(verifier),
            jwks: jwks.map(Arc::new),
            listing_cache: Arc::default(),
        }
    }

    /// Verify an access token now.
    pub fn verify(&self, token: &str) -> Result<Principal, Problem> {
        self.verifier
            .verify_access(token, self.app.ports.clock.now())
            .map_err(|e| Problem::unauthenticated(format!("the access token was refused: {e}")))
    }
}

/// Serialized product listings by query string, valid for one catalog generation and at most
/// the catalog cache age. Bounded: cleared when it grows past [`ListingCache::MAX`] entries.
#[derive(Default)]
pub(crate) struct ListingCache {
    entries: Mutex<HashMap<String, (u64, i64, Bytes)>>,
}

impl ListingCache {
    const MAX: usize = 2_000;

    pub(crate) fn get(
        &self,
        query: &str,
        generation: u64,
        now_ms: i64,
        max_age_ms: i64,
    ) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (g, at, bytes) = entries.get(query)?;
        (*g == generation && now_ms - at < max_age_ms).then(|| bytes.clone())
    }

    pub(crate) fn put(&self, query: &str, generation: u64, now_ms: i64, bytes: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= Self::MAX {
            entries.clear();
        }
        entries.insert(query.to_owned(), (generation, now_ms, bytes));
    }
}
