//! The Uploads port: short-lived URLs a browser sends one object to directly, without passing
//! its bytes through the API (API Gateway takes no large binary bodies).
//!
//! Two adapters: `vitrine_aws::s3_presign::S3Uploads` (an S3 presigned PUT: the bucket checks
//! the signature) and [`crate::media::SignedUploads`] (a URL of the store itself,
//! `PUT /uploads/{key}?expires=…&signature=…`, HMAC-signed; the store checks it with
//! [`Uploads::check_put`]). Either way the URL binds the key, the content type, the exact size
//! and the expiry: a request that changes any of them is refused.

use async_trait::async_trait;
use vitrine_domain::Timestamp;

use super::BlobError;

/// One object a browser may send: where, what, how big, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSpec {
    pub key: String,
    pub content_type: String,
    pub size: u64,
    pub expires_at: Timestamp,
}

/// How the browser sends it: `method` to `url` (absolute, or a path of the store's own origin)
/// with exactly `headers` (besides those the browser sets itself: `Host`, `Content-Length`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Why a PUT received by the store itself was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UploadRefused {
    /// This store does not receive uploads itself (S3 does).
    #[error("uploads are not received here")]
    NotHere,
    /// The signature does not match the key, type, size and expiry of the request.
    #[error("the upload URL's signature does not match this request")]
    BadSignature,
    #[error("the upload URL has expired")]
    Expired,
}

#[async_trait]
pub trait Uploads: Send + Sync {
    /// A URL the browser can send `spec`'s object to until `spec.expires_at`, and nothing else.
    async fn target(&self, spec: &UploadSpec) -> Result<UploadTarget, BlobError>;

    /// Check a PUT the store received itself: `spec` as the request states it (its key, its
    /// `Content-Type`, its body's length, the URL's expiry) against the URL's `signature`.
    fn check_put(
        &self,
        spec: &UploadSpec,
        signature: &str,
        now: Timestamp,
    ) -> Result<(), UploadRefused>;
}
