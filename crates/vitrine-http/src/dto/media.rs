//! Product image uploads: the target the admin asks for, and the registration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_app::media::ImageUpload;

use super::rfc3339;

/// What the admin wants to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageUploadRequest {
    /// `image/png`, `image/jpeg`, `image/webp` or `image/avif`.
    #[schema(example = "image/png")]
    pub content_type: String,
    /// The file's exact size in bytes (at most 5 MiB).
    #[schema(example = 48213)]
    pub size: u64,
}

/// Where to send it: `method` to `url` with exactly `headers` (the browser adds `Host` and
/// `Content-Length`, which must be `size`), before `expires_at`; then register `key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageUploadDto {
    /// The upload's key: register it once the file is sent.
    #[schema(
        example = "uploads/01J8Z3V6W2N4T0Q7G9X5B1C3D8/01j8z3vc4k2m6p8r0t2v4x6z8b-1735689600-48213.png"
    )]
    pub key: String,
    #[schema(example = "PUT")]
    pub method: String,
    /// Absolute (S3, on AWS) or a path of the store's own origin (`vitrine serve`).
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub expires_at: String,
}

impl From<ImageUpload> for ImageUploadDto {
    fn from(u: ImageUpload) -> Self {
        Self {
            key: u.key,
            method: u.target.method.to_owned(),
            url: u.target.url,
            headers: u.target.headers.into_iter().collect(),
            expires_at: rfc3339(u.expires_at),
        }
    }
}

/// The upload to attach to the product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageRegistration {
    /// The `key` the upload target came with.
    pub key: String,
}
