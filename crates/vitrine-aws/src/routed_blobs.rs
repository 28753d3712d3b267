//! [`PrefixRoutedBlobs`]: one `Blobs` port over two stores, the keys under a prefix in one, the
//! rest in the other. On AWS the sales reports (`reports/…`) live in the template's
//! `ReportsBucket` and everything else (invoices, images) in the data bucket; the application
//! keeps speaking of one blob store, with the same keys in both shapes.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use vitrine_app::ports::{Blob, BlobError, BlobMeta, Blobs};

/// Keys starting with `prefix` go to `routed`, every other key to `main`.
pub struct PrefixRoutedBlobs {
    main: Arc<dyn Blobs>,
    prefix: String,
    routed: Arc<dyn Blobs>,
}

impl PrefixRoutedBlobs {
    pub fn new(main: Arc<dyn Blobs>, prefix: impl Into<String>, routed: Arc<dyn Blobs>) -> Self {
        Self {
            main,
            prefix: prefix.into(),
            routed,
        }
    }

    fn store(&self, key: &str) -> &dyn Blobs {
        if key.starts_with(&self.prefix) {
            self.routed.as_ref()
        } else {
            self.main.as_ref()
        }
    }
}

#[async_trait]
impl Blobs for PrefixRoutedBlobs {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        self.store(key).put(key, bytes, content_type).await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        self.store(key).get(key).await
    }

    /// A prefix inside the routed one lists the routed store only; a prefix the routed one
    /// starts with (`""`, `r`) lists both, the main store's keys under the routed prefix left
    /// out (they cannot be reached through this port).
    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        if prefix.starts_with(&self.prefix) {
            return self.routed.list(prefix).await;
        }
        let mut found: Vec<BlobMeta> = self
            .main
            .list(prefix)
            .await?
            .into_iter()
            .filter(|m| !m.key.starts_with(&self.prefix))
            .collect();
        if self.prefix.starts_with(prefix) {
            found.extend(self.routed.list(prefix).await?);
            found.sort_by(|a, b| a.key.cmp(&b.key));
        }
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.store(key).delete(key).await
    }

    async fn download_url(
        &self,
        key: &str,
        expires_secs: u64,
    ) -> Result<Option<String>, BlobError> {
        self.store(key).download_url(key, expires_secs).await
    }

    async fn ping(&self) -> Result<(), BlobError> {
        self.main.ping().await?;
        self.routed.ping().await
    }
}
