//! The Uploads port on S3: a presigned PUT of one object of the bucket.
//!
//! The signature covers the key, the `Content-Type` and the `Content-Length` (the SDK signs
//! both when they are set on the request) and lasts until the upload's expiry (at most
//! [`MAX_URL_SECS`]): S3 refuses a PUT that sends another type, another size, or comes late
//! (`403 SignatureDoesNotMatch` / `AccessDenied`). The browser sends the object straight to
//! the bucket; the API never carries its bytes. Signing needs no request to AWS, only the
//! function's credentials, and a PUT made with the URL is authorised as the function
//! (`s3:PutObject` on the key).

use std::time::{Duration, SystemTime};

use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use vitrine_app::ports::blobs::{BlobError, check_key};
use vitrine_app::ports::{UploadRefused, UploadSpec, UploadTarget, Uploads};
use vitrine_domain::Timestamp;

use crate::LazyClient;
use crate::s3::MAX_URL_SECS;

/// Presigned PUTs into one bucket.
#[derive(Debug, Clone)]
pub struct S3Uploads {
    client: LazyClient<Client>,
    bucket: String,
}

impl S3Uploads {
    pub fn new(client: impl Into<LazyClient<Client>>, bucket: impl Into<String>) -> Self {
        Self {
            client: client.into(),
            bucket: bucket.into(),
        }
    }
}

fn presign_error(e: impl std::error::Error + 'static, key: &str) -> BlobError {
    BlobError::Unavailable(
        anyhow!("{}", DisplayErrorContext(&e)).context(format!("presigning an upload of {key}")),
    )
}

/// The headers the browser must send itself: those the URL's `X-Amz-SignedHeaders` names,
/// less the ones a browser sets on its own (`host`, `content-length`).
fn headers_to_send(uri: &str, headers: &[(String, String)]) -> Vec<(String, String)> {
    let signed: Vec<String> = url_query_value(uri, "X-Amz-SignedHeaders")
        .map(|v| v.split(';').map(str::to_ascii_lowercase).collect())
        .unwrap_or_default();
    headers
        .iter()
        .filter(|(name, _)| {
            let name = name.to_ascii_lowercase();
            signed.contains(&name) && name != "host" && name != "content-length"
        })
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect()
}

/// A query parameter of `uri`, percent-decoded.
fn url_query_value(uri: &str, name: &str) -> Option<String> {
    let query = uri.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

#[async_trait]
impl Uploads for S3Uploads {
    async fn target(&self, spec: &UploadSpec) -> Result<UploadTarget, BlobError> {
        check_key(&spec.key)?;
        let now = SystemTime::now();
        let now_ms = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let left_secs = ((spec.expires_at.millis() - now_ms) / 1000).clamp(1, MAX_URL_SECS as i64);
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(Duration::from_secs(left_secs as u64))
            .build()
            .map_err(|e| presign_error(e, &spec.key))?;
        let size = i64::try_from(spec.size)
            .map_err(|_| BlobError::InvalidKey(format!("{} (size)", spec.key)))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&spec.key)
            .content_type(&spec.content_type)
            .content_length(size)
            .presigned(config)
            .await
            .map_err(|e| presign_error(e, &spec.key))?;
        let uri = request.uri().to_owned();
        let headers: Vec<(String, String)> = request
            .headers()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let signed = url_query_value(&uri, "X-Amz-SignedHeaders").unwrap_or_default();
        // Without these two in the signature the URL would take any type or size.
        if !signed.split(';').any(|h| h == "content-type")
            || !signed.split(';').any(|h| h == "content-length")
        {
            return Err(BlobError::Unavailable(anyhow!(
                "the presigned upload of {} does not sign its content type and length (signed: {signed})",
                spec.key
            )));
        }
        Ok(UploadTarget {
            method: "PUT",
            headers: headers_to_send(&uri, &headers),
            url: uri,
        })
    }

    fn check_put(&self, _: &UploadSpec, _: &str, _: Timestamp) -> Result<(), UploadRefused> {
        // The browser sends the object to S3, which checks the signature itself.
        Err(UploadRefused::NotHere)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_sends_the_signed_headers_it_may_set() {
        let uri = "https://b.s3.amazonaws.com/k?X-Amz-Expires=600&X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost&X-Amz-Signature=ab";
        let headers = vec![
            ("content-type".to_owned(), "image/png".to_owned()),
            ("content-length".to_owned(), "42".to_owned()),
            ("host".to_owned(), "b.s3.amazonaws.com".to_owned()),
            ("x-amzn-trace-id".to_owned(), "Root=1".to_owned()),
        ];
        assert_eq!(
            headers_to_send(uri, &headers),
            vec![("content-type".to_owned(), "image/png".to_owned())]
        );
        assert_eq!(
            url_query_value(uri, "X-Amz-SignedHeaders").as_deref(),
            Some("content-length;content-type;host")
        );
        assert_eq!(url_query_value(uri, "Missing"), None);
    }
}
