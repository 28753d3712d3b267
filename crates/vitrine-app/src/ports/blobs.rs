//! The Blobs port: named byte objects (invoices, reports, product images).
//!
//! Keys are `/`-separated relative paths made of `[A-Za-z0-9._-]` segments; adapters reject
//! anything else ([`check_key`]) so a key can never escape a folder or address another bucket.

use async_trait::async_trait;
use bytes::Bytes;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Bytes,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key: {0}")]
    InvalidKey(String),
    #[error("blob store unavailable")]
    Unavailable(#[source] anyhow::Error),
}

#[async_trait]
pub trait Blobs: Send + Sync {
    /// Store (or replace) an object. Durable once it returns.
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError>;
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;
    /// Objects whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError>;
    /// Deleting an absent object is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
    /// A URL a browser can fetch the object from directly for `expires_secs`, when the store
    /// offers one (S3 presigned GET). `None` means: serve it through the API.
    async fn download_url(&self, key: &str, expires_secs: u64)
    -> Result<Option<String>, BlobError>;
    async fn ping(&self) -> Result<(), BlobError>;
}

/// Reject keys that are not plain relative paths.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.to_owned()))
    }
}
