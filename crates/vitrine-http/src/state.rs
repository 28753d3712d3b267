//! The router's shared state: the application, the keys tokens are checked with, the realtime
//! hub (the WebSocket connections of this process), and the small response cache in front of
//! catalog listings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::StatusCode;
use vitrine_app::App;
use vitrine_app::auth::{Jwks, Principal, TokenVerifier};
use vitrine_app::keys::{Keys, KeysError};

use crate::problem::Problem;
use crate::realtime::Hub;
use crate::security::Security;

/// Cloned for every request by each layer that holds it: one shared allocation, so a clone is
/// one reference count (cloning the fields one by one showed in the listing's profile).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares; its fields read through the state (`state.app`).
#[derive(Clone)]
pub struct Shared {
    pub app: Arc<App>,
    pub keys: Arc<Keys>,
    /// Served at `/.well-known/jwks.json` when the built-in identity provider is in use.
    pub jwks: Option<Arc<Jwks>>,
    pub(crate) listing_cache: Arc<ListingCache>,
    /// The connected WebSocket clients; the realtime pusher pushes order events through it.
    realtime: Arc<Hub>,
    /// On Lambda: the service name of the CloudWatch EMF record written for each request
    /// (`vitrine_app::metrics::emf_request`); `None` locally, where `/metrics` serves them.
    pub(crate) emf_service: Option<&'static str>,
    /// Where browsers open the realtime WebSocket when it is not this server's `/api/v1/ws`
    /// (`GET /api/v1/config`).
    pub(crate) realtime_url: Option<String>,
    /// CORS, rate limit and TLS headers ([`crate::security`]).
    pub(crate) security: Security,
    /// Where the sitemap's parts start, and when the catalog was walked for them (the pages
    /// rendered on the server, `pages.rs`).
    pub(crate) sitemap: Arc<tokio::sync::Mutex<Option<SitemapStarts>>>,
    /// Products per sitemap part ([`vitrine_app::sitemap::PART_SIZE`]).
    pub(crate) sitemap_part: usize,
}

/// The sitemap's parts' starts as walked at an instant.
pub(crate) type SitemapStarts = (std::time::Instant, Arc<Vec<Option<String>>>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State whose tokens are checked with keys known now (the built-in identity provider).
    pub fn new(app: Arc<App>, verifier: TokenVerifier, jwks: Option<Jwks>) -> Self {
        Self::with_keys(app, Arc::new(Keys::fixed(verifier)), jwks)
    }

    /// State whose tokens are checked with `keys` (e.g. fetched from Cognito on demand).
    pub fn with_keys(app: Arc<App>, keys: Arc<Keys>, jwks: Option<Jwks>) -> Self {
        Self(Arc::new(Shared {
            app,
            keys,
            jwks: jwks.map(Arc::new),
            listing_cache: Arc::default(),
            realtime: Arc::new(Hub::default()),
            emf_service: None,
            realtime_url: None,
            security: Security::default(),
            sitemap: Arc::default(),
            sitemap_part: vitrine_app::sitemap::PART_SIZE,
        }))
    }

    /// The fields, to change before the state is shared (the `with_*` builders).
    fn shared_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    /// The same state, telling browsers to open the realtime WebSocket at `url` (AWS: the
    /// WebSocket API's `wss://` stage URL).
    pub fn with_realtime_url(mut self, url: Option<String>) -> Self {
        self.shared_mut().realtime_url =
            url.filter(|u| u.starts_with("wss://") || u.starts_with("ws://"));
        self
    }

    /// The same state, writing a CloudWatch EMF record to stdout for each request (Lambda).
    pub fn with_emf(mut self, service: &'static str) -> Self {
        self.shared_mut().emf_service = Some(service);
        self
    }

    /// The same state with these web security settings ([`crate::security`]).
    pub fn with_security(mut self, security: Security) -> Self {
        self.shared_mut().security = security;
        self
    }

    /// The same state, listing `per_part` products per sitemap file (tests: a catalog of a few
    /// products in several parts).
    pub fn with_sitemap_part(mut self, per_part: usize) -> Self {
        self.shared_mut().sitemap_part = per_part.max(1);
        self
    }

    /// The same state with another realtime hub (e.g. one with shorter heartbeats in tests).
    pub fn with_hub(mut self, hub: Arc<Hub>) -> Self {
        self.shared_mut().realtime = hub;
        self
    }

    /// The hub of this state's WebSocket connections: hand it to the realtime pusher
    /// (`vitrine_app::notify::RealtimePusher`) as its Push port.
    pub fn realtime(&self) -> &Arc<Hub> {
        &self.realtime
    }

    /// Verify an access token now.
    pub async fn verify(&self, token: &str) -> Result<Principal, Problem> {
        match self
            .keys
            .verify_access(token, self.app.ports.clock.now())
            .await
        {
            Ok(principal) => match self.app.is_revoked(&principal).await {
                Ok(false) => Ok(principal),
                Ok(true) => Err(Problem::unauthenticated(
                    "the access token was refused: its session has ended (signed out, or the password was reset)",
                )),
                Err(e) => Err(Problem::from(e)),
            },
            Err(KeysError::Token(e)) => Err(Problem::unauthenticated(format!(
                "the access token was refused: {e}"
            ))),
            Err(KeysError::Unavailable(cause)) => {
                tracing::error!(error = %format!("{cause:#}"), "identity keys unavailable");
                Err(Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "sign-in cannot be checked right now; try again shortly",
                ))
            }
        }
    }
}

/// Serialized product listings by query string, valid for one catalog generation and at most
/// the catalog cache age, with how often each was served. Bounded: cleared when it grows past
/// [`ListingCache::MAX`] entries or [`ListingCache::MAX_BYTES`] of responses (a page of 100
/// products is about 85 KB: 2,000 of them would be 170 MB).
#[derive(Default)]
pub(crate) struct ListingCache {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_query: HashMap<String, Listed>,
    /// The responses' bytes, summed.
    bytes: usize,
}

struct Listed {
    generation: u64,
    at_ms: i64,
    bytes: Bytes,
    /// Times served from the cache since the query was first cached.
    hits: u64,
}

impl ListingCache {
    const MAX: usize = 2_000;
    const MAX_BYTES: usize = 8 * 1024 * 1024;

    pub(crate) fn get(
        &self,
        query: &str,
        generation: u64,
        now_ms: i64,
        max_age_ms: i64,
    ) -> Option<Bytes> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let listed = entries.by_query.get_mut(query)?;
        if listed.generation != generation || now_ms - listed.at_ms >= max_age_ms {
            return None;
        }
        listed.hits += 1;
        Some(listed.bytes.clone())
    }

    pub(crate) fn put(&self, query: &str, generation: u64, now_ms: i64, bytes: Bytes) {
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entries = &mut *guard;
        let replaced = entries.by_query.get(query).map_or(0, |l| l.bytes.len());
        let full = entries.by_query.len() >= Self::MAX && replaced == 0
            || entries.bytes - replaced + bytes.len() > Self::MAX_BYTES;
        if full {
            entries.by_query.clear();
            entries.bytes = 0;
        }
        let hits = entries.by_query.get(query).map_or(0, |l| l.hits);
        entries.bytes += bytes.len();
        if let Some(old) = entries.by_query.insert(
            query.to_owned(),
            Listed {
                generation,
                at_ms: now_ms,
                bytes,
                hits,
            },
        ) {
            entries.bytes -= old.bytes.len();
        }
    }

    /// The `n` queries served most often among those cached less than `max_age_ms` before
    /// `now_ms`, whatever their generation: the pages worth reading again after a catalog write.
    pub(crate) fn hottest(&self, n: usize, now_ms: i64, max_age_ms: i64) -> Vec<String> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut recent: Vec<(&String, u64)> = entries
            .by_query
            .iter()
            .filter(|(_, l)| now_ms - l.at_ms < max_age_ms)
            .map(|(q, l)| (q, l.hits))
            .collect();
        recent.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        recent.into_iter().take(n).map(|(q, _)| q.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_by_the_bytes_of_its_responses() {
        let cache = ListingCache::default();
        let page = Bytes::from(vec![b'x'; ListingCache::MAX_BYTES / 4]);
        for q in ["a", "b", "c", "d"] {
            cache.put(q, 1, 0, page.clone());
        }
        // Replacing a page counts its new size only.
        cache.put("d", 1, 0, page.clone());
        assert!(cache.get("a", 1, 0, 1_000).is_some());
        assert_eq!(cache.entries.lock().unwrap().bytes, ListingCache::MAX_BYTES);
        // One more page would pass the bound: the cache starts again with it alone.
        cache.put("e", 1, 0, Bytes::from_static(b"[]"));
        assert!(cache.get("a", 1, 0, 1_000).is_none());
        assert!(cache.get("e", 1, 0, 1_000).is_some());
        assert_eq!(cache.entries.lock().unwrap().bytes, 2);
    }

    #[test]
    fn the_hottest_pages_are_the_recent_ones_served_most() {
        let cache = ListingCache::default();
        for (query, hits) in [("a", 1), ("b", 5), ("c", 3), ("old", 9)] {
            let at = if query == "old" { 0 } else { 10_000 };
            cache.put(query, 1, at, Bytes::from_static(b"[]"));
            for _ in 0..hits {
                assert!(cache.get(query, 1, at, 1_000).is_some());
            }
        }
        // "old" was cached more than the age ago; a page of another generation still counts.
        cache.put("c", 2, 10_500, Bytes::from_static(b"[]"));
        assert_eq!(cache.hottest(2, 10_900, 1_000), ["b", "c"]);
        assert_eq!(cache.hottest(9, 10_900, 1_000), ["b", "c", "a"]);
        // A page read again keeps its count; one of an older generation is not served.
        assert!(cache.get("c", 1, 10_900, 1_000).is_none());
    }
}
