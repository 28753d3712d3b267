//! The search index published to the blob store, for processes that should not each build
//! their own from the catalog (on AWS: every instance of the api function).
//!
//! - One publisher ([`App::publish_search_index`]; on AWS the `search_index` function, run by
//!   the table's stream on each batch of catalog changes) holds the index, brings it up to the
//!   catalog's change feed and stores it whole: `search-index/{version}.idx`, then the pointer
//!   `search-index/current.json` naming that version and how far it read the feed. The version
//!   before it is kept, for a reader that is still downloading it; older ones are deleted.
//! - A reader ([`App::open_published_search_index`]) opens the published index on its first
//!   search instead of reading every product, then keeps up through the change feed as any
//!   process does (`crate::search_feed`). When more than [`REOPEN_OVER`] products changed
//!   since its index read the feed, it opens the newer published one instead of reading them.
//! - An index further behind than the feed keeps is never opened: the reader builds its own.
//!
//! Invariants:
//! - The pointer names a version only once its bytes are stored.
//! - A publisher that finds a pointer newer than its own work leaves it (and deletes what it
//!   stored). Two publishers at once cost work, not correctness: whichever version the pointer
//!   names, readers bring it up to date from the feed.
//! - Versions are the `Ids` port's ids (ULIDs: they sort by time); only versions older than the
//!   one before the current are deleted.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::ports::Blobs;
use crate::search::{Built, ProductIndex};
use crate::search_feed::{beyond_the_feed, build, catch_up};

/// Where the published index lives in the blob store.
pub const PREFIX: &str = "search-index/";

/// The pointer to the current version.
pub const CURRENT: &str = "search-index/current.json";

/// A reader whose index is this many changed products behind opens the newer published index
/// rather than reading each of them (one build page).
pub const REOPEN_OVER: usize = crate::search::BUILD_PAGE;

/// A run that finds nothing changed still moves the pointer's position on when it is this old
/// (the template runs the publisher hourly besides the stream).
pub const POINTER_MOVED_AFTER_MS: i64 = 3_600_000;

/// What the pointer says of the version it names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pointer {
    pub version: String,
    /// Every change of the feed made before this time (less the feed's overlap) is in it.
    pub read_to_ms: i64,
    /// The feed's changes already in it among those a read from `read_to_ms` sees again.
    pub seen: Vec<String>,
    pub products: u64,
    pub bytes: u64,
    pub published_at_ms: i64,
}

/// What [`App::publish_search_index`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The version the pointer names now.
    pub version: String,
    pub products: u64,
    pub bytes: u64,
    /// Products re-indexed from the feed by this run.
    pub changed: usize,
    /// Whether the index was built from the catalog (no usable published one).
    pub built: bool,
    /// Whether a new version was stored (nothing is when nothing changed).
    pub stored: bool,
}

fn blob_key(version: &str) -> String {
    format!("{PREFIX}{version}.idx")
}

fn unavailable(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("published search index: {e}"))
}

/// The pointer, if one is stored.
pub async fn pointer(blobs: &dyn Blobs) -> AppResult<Option<Pointer>> {
    let Some(blob) = blobs.get(CURRENT).await.map_err(unavailable)? else {
        return Ok(None);
    };
    serde_json::from_slice(&blob.bytes)
        .map(Some)
        .map_err(|e| unavailable(format!("{CURRENT}: {e}")))
}

/// The published index, opened, when there is one that has read the feed after `newer_than_ms`
/// (any, when `None`) and is not beyond the feed at `now_ms`.
pub(crate) async fn open(
    blobs: &dyn Blobs,
    now_ms: i64,
    newer_than_ms: Option<i64>,
) -> AppResult<Option<Built>> {
    let started = Instant::now();
    let Some(p) = pointer(blobs).await? else {
        return Ok(None);
    };
    if beyond_the_feed(p.read_to_ms, now_ms) || newer_than_ms.is_some_and(|t| p.read_to_ms <= t) {
        return Ok(None);
    }
    // Replaced and deleted since the pointer was read: a rare race, and the next refresh or
    // first search tries again.
    let Some(blob) = blobs
        .get(&blob_key(&p.version))
        .await
        .map_err(unavailable)?
    else {
        return Ok(None);
    };
    let index = tokio::task::spawn_blocking(move || ProductIndex::from_bytes(&blob.bytes))
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    // This process's own changes are applied again at the next search (`applied` 0): they may
    // be newer than what the publisher read.
    let built = Built::new(index, p.read_to_ms, 0, p.seen.iter().cloned().collect());
    built.set_version(p.version.clone());
    tracing::info!(
        version = %p.version,
        products = p.products,
        bytes = p.bytes,
        behind_ms = now_ms - p.read_to_ms,
        took_ms = started.elapsed().as_millis() as u64,
        "published search index opened"
    );
    Ok(Some(built))
}

impl App {
    /// Open the published search index on the first search, and a newer one when this process
    /// falls far behind, rather than build one from the catalog (the AWS composition sets this
    /// for every function; `vitrine serve` builds its own).
    pub fn open_published_search_index(&self) {
        self.catalog.search.published.store(true, Ordering::Release);
    }

    /// Bring the published search index up to the catalog's change feed and store it: opened
    /// from the blob store (kept in memory between runs of the same process), or built from
    /// the catalog when none is stored or it is beyond the feed. Stores nothing when nothing
    /// changed since the version this process published last.
    pub async fn publish_search_index(&self) -> AppResult<Published> {
        let started = Instant::now();
        let state = &self.catalog.search;
        let blobs = &*self.ports.blobs;
        let table = &*self.ports.table;
        // One publication at a time in this process.
        let _one = state.first.lock().await;
        let now_ms = self.ports.clock.now().millis();
        let stored = pointer(blobs).await?;
        // The index this process published last, unless another has published since or it was
        // held for longer than the feed keeps.
        let held = state.current().filter(|b| {
            let held = b.version();
            held.is_some()
                && held.as_deref() == stored.as_ref().map(|p| p.version.as_str())
                && !beyond_the_feed(b.checked_at_ms.load(Ordering::Acquire), now_ms)
        });
        let (built, fresh) = match held {
            Some(b) => (b, false),
            None => {
                let (b, fresh) = match open(blobs, now_ms, None).await? {
                    Some(b) => (b, false),
                    None => (build(table, state.seq(), now_ms).await?, true),
                };
                state.install(b);
                (state.current().expect("just installed"), fresh)
            }
        };
        let changed = catch_up(table, state, &built, now_ms, None)
            .await?
            .unwrap_or_default();
        if let (Some(version), Some(p), false, 0) = (built.version(), &stored, fresh, changed) {
            // Nothing changed: the same bytes. An old pointer is moved on, so that readers do
            // not take a catalog left alone for days for one beyond the feed.
            if now_ms - p.read_to_ms >= POINTER_MOVED_AFTER_MS {
                let feed = built.feed.lock().await;
                let moved = Pointer {
                    read_to_ms: feed.read_to_ms,
                    seen: feed.seen.iter().cloned().collect(),
                    ..p.clone()
                };
                drop(feed);
                let json = serde_json::to_vec(&moved).map_err(unavailable)?;
                blobs
                    .put(CURRENT, Bytes::from(json), "application/json")
                    .await
                    .map_err(unavailable)?;
                tracing::info!(%version, "search index unchanged; its position moved on");
            }
            return Ok(Published {
                version,
                products: p.products,
                bytes: p.bytes,
                changed,
                built: false,
                stored: false,
            });
        }
        let index = built.clone();
        let data = tokio::task::spawn_blocking(move || index.index.to_bytes())
            .await
            .map_err(unavailable)?
            .map_err(unavailable)?;
        let (read_to_ms, seen) = {
            let feed = built.feed.lock().await;
            (feed.read_to_ms, feed.seen.iter().cloned().collect())
        };
        let version = self.ports.ids.new_id();
        let p = Pointer {
            version: version.clone(),
            read_to_ms,
            seen,
            products: built.index.len(),
            bytes: data.len() as u64,
            published_at_ms: now_ms,
        };
        let key = blob_key(&version);
        blobs
            .put(&key, Bytes::from(data), "application/octet-stream")
            .await
            .map_err(unavailable)?;
        // Another publisher may have got further meanwhile: its pointer stays.
        if let Some(other) = pointer(blobs).await?
            && other.read_to_ms > read_to_ms
            && Some(&other.version) != stored.as_ref().map(|s| &s.version)
        {
            blobs.delete(&key).await.map_err(unavailable)?;
            tracing::warn!(
                ours = %version,
                theirs = %other.version,
                "another publisher stored a newer search index; ours was dropped"
            );
            return Ok(Published {
                version: other.version,
                products: other.products,
                bytes: other.bytes,
                changed,
                built: fresh,
                stored: false,
            });
        }
        let json = serde_json::to_vec(&p).map_err(unavailable)?;
        blobs
            .put(CURRENT, Bytes::from(json), "application/json")
            .await
            .map_err(unavailable)?;
        built.set_version(version.clone());
        // Keep this version and the one before it (a reader may be downloading it). Versions
        // sort by time: one stored by another publisher after ours started is newer than
        // both and is left alone.
        let floor = stored.map_or_else(|| key.clone(), |s| blob_key(&s.version));
        for old in blobs.list(PREFIX).await.map_err(unavailable)? {
            if old.key.ends_with(".idx") && old.key < floor && old.key != key {
                blobs.delete(&old.key).await.map_err(unavailable)?;
            }
        }
        tracing::info!(
            version = %version,
            products = p.products,
            bytes = p.bytes,
            changed,
            built = fresh,
            took_ms = started.elapsed().as_millis() as u64,
            "search index published"
        );
        Ok(Published {
            version,
            products: p.products,
            bytes: p.bytes,
            changed,
            built: fresh,
            stored: true,
        })
    }
}
