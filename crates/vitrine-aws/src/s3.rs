//! The Blobs port on one S3 bucket (invoices, reports, product images).
//!
//! Invariants:
//! - Every key passes the port's `check_key` before any request, and a listing prefix passes the
//!   same rule with a partial last segment, so a caller can never address something the folder
//!   adapter would refuse. Objects whose names are not valid keys (put there by someone else)
//!   are not listed.
//! - The bucket is private; browsers fetch objects through presigned GET URLs that expire
//!   within [`MAX_URL_SECS`].
//! - Every S3 failure other than "no such key" on a read is `Unavailable`.

use crate::LazyClient;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use bytes::Bytes;
use vitrine_app::ports::blobs::{Blob, BlobError, BlobMeta, Blobs, check_key};

/// The longest a download URL stays valid, whatever the caller asks: a leaked link (browser
/// history, a forwarded e-mail) should not outlive the session that asked for it by much.
pub const MAX_URL_SECS: u64 = 3600;

/// Stored with objects put without a content type (never by this adapter).
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The Blobs port on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Blobs {
    client: LazyClient<Client>,
    bucket: String,
}

fn unavailable(err: impl std::error::Error + 'static, what: String) -> BlobError {
    BlobError::Unavailable(anyhow!("{}", DisplayErrorContext(&err)).context(what))
}

/// A listing prefix: a key, or a key's beginning that may stop inside a segment (`img/a` lists
/// `img/a.png` and `img/ab/c.png`), or empty. The same rule as the folder adapter's.
fn check_prefix(prefix: &str) -> Result<(), BlobError> {
    let (folder, partial) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let partial_ok = partial
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let folder_ok = if prefix.contains('/') {
        check_key(folder).is_ok()
    } else {
        true
    };
    if partial_ok && folder_ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(prefix.to_owned()))
    }
}

impl S3Blobs {
    /// Objects in `bucket`, through `client` (which must use path-style addressing against the
    /// emulator).
    pub fn new(client: impl Into<LazyClient<Client>>, bucket: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            bucket: bucket.into(),
        }
    }

    /// Create the bucket, or do nothing when this account already owns it (safe on every
    /// start). Outside `us-east-1` S3 needs the region as the bucket's location constraint.
    pub async fn create_bucket(client: &Client, name: &str) -> anyhow::Result<()> {
        let mut request = client.create_bucket().bucket(name);
        if let Some(region) = client.config().region().map(|r| r.as_ref().to_owned())
            && region != "us-east-1"
        {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
            Err(e) => {
                Err(anyhow!("{}", DisplayErrorContext(&e))
                    .context(format!("creating bucket {name}")))
            }
        }
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| unavailable(e, format!("storing blob {key}")))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        check_key(key)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                return Ok(None);
            }
            Err(e) => return Err(unavailable(e, format!("reading blob {key}"))),
        };
        let content_type = out
            .content_type()
            .unwrap_or(DEFAULT_CONTENT_TYPE)
            .to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| unavailable(e, format!("reading blob {key}")))?
            .into_bytes();
        Ok(Some(Blob {
            bytes,
            content_type,
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        check_prefix(prefix)?;
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| unavailable(e, format!("listing blobs under {prefix}")))?;
            for object in out.contents() {
                let Some(key) = object.key() else { continue };
                if check_key(key).is_ok() {
                    found.push(BlobMeta {
                        key: key.to_owned(),
                        size: u64::try_from(object.size().unwrap_or(0)).unwrap_or(0),
                    });
                }
            }
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        // S3 lists in UTF-8 byte order already; valid keys are ASCII, so this is a no-op that
        // keeps the contract independent of the store's listing order.
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        // S3 answers a delete of a missing object with success, as the port wants.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| unavailable(e, format!("deleting blob {key}")))?;
        Ok(())
    }

    async fn download_url(
        &self,
        key: &str,
        expires_secs: u64,
    ) -> Result<Option<String>, BlobError> {
        check_key(key)?;
        let expires = Duration::from_secs(expires_secs.clamp(1, MAX_URL_SECS));
        let config = PresigningConfig::expires_in(expires)
            .map_err(|e| unavailable(e, format!("presigning blob {key}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| unavailable(e, format!("presigning blob {key}")))?;
        Ok(Some(request.uri().to_owned()))
    }

    async fn ping(&self) -> Result<(), BlobError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| unavailable(e, format!("reaching bucket {}", self.bucket)))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_prefix;

    #[test]
    fn listing_prefixes_may_be_partial_but_are_otherwise_keys() {
        for ok in ["", "a", "a/", "a/b", "a/b/", "invoices/2025-0", "a/.hid"] {
            assert!(check_prefix(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "/", "/a", "../", "../a", "a/../", "a//", "a//b", "./a", "a b", "a@type", "a/\\",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
