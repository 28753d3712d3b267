//! `SignedUploads`: the Uploads port of a store that receives uploads itself (`vitrine serve`).
//!
//! A target is a path of the store's own origin, `/uploads/{key}?expires={unix secs}&signature=
//! {hex}`, where the signature is an HMAC-SHA256, under a secret only this process knows, of
//! the method, the key, the content type, the exact size and the expiry. The HTTP route that
//! receives the PUT rebuilds the same text from the request (its key, its `Content-Type`, its
//! body's length, the `expires` it names) and checks it with [`Uploads::check_put`]: a request
//! that changes any of them, or comes after the expiry, is refused — what S3 does with a
//! presigned PUT whose `Content-Type` and `Content-Length` are signed.
//!
//! The secret is drawn when the store starts: a restart voids the URLs handed out before it
//! (they last minutes; the admin asks for another).

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use vitrine_domain::Timestamp;

use crate::ports::{BlobError, UploadRefused, UploadSpec, UploadTarget, Uploads};

/// The path the store receives uploads under.
pub const UPLOADS_PATH: &str = "/uploads/";

pub struct SignedUploads {
    secret: Vec<u8>,
}

impl std::fmt::Debug for SignedUploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignedUploads(..)")
    }
}

impl SignedUploads {
    /// Sign with `secret` (at least 16 bytes).
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, String> {
        let secret = secret.into();
        if secret.len() < 16 {
            return Err("the upload signing secret must be at least 16 bytes long".into());
        }
        Ok(Self { secret })
    }

    /// Sign with a fresh random secret.
    pub fn random() -> Self {
        Self {
            secret: (0..32).map(|_| rand::random::<u8>()).collect(),
        }
    }

    fn mac(&self, spec: &UploadSpec) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        let text = format!(
            "PUT\n{}\n{}\n{}\n{}",
            spec.key,
            spec.content_type,
            spec.size,
            spec.expires_at.secs()
        );
        mac.update(text.as_bytes());
        mac
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[async_trait]
impl Uploads for SignedUploads {
    async fn target(&self, spec: &UploadSpec) -> Result<UploadTarget, BlobError> {
        crate::ports::blobs::check_key(&spec.key)?;
        let signature = hex(&self.mac(spec).finalize().into_bytes());
        Ok(UploadTarget {
            method: "PUT",
            url: format!(
                "{UPLOADS_PATH}{}?expires={}&signature={signature}",
                spec.key,
                spec.expires_at.secs()
            ),
            headers: vec![("content-type".into(), spec.content_type.clone())],
        })
    }

    fn check_put(
        &self,
        spec: &UploadSpec,
        signature: &str,
        now: Timestamp,
    ) -> Result<(), UploadRefused> {
        let tag = unhex(signature).ok_or(UploadRefused::BadSignature)?;
        self.mac(spec)
            .verify_slice(&tag)
            .map_err(|_| UploadRefused::BadSignature)?;
        if now.secs() > spec.expires_at.secs() {
            return Err(UploadRefused::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> UploadSpec {
        UploadSpec {
            key: "uploads/01P/01x-1000-42.png".into(),
            content_type: "image/png".into(),
            size: 42,
            expires_at: Timestamp::from_secs(1000),
        }
    }

    fn signature_of(url: &str) -> &str {
        url.split("signature=").nth(1).unwrap()
    }

    #[tokio::test]
    async fn a_target_is_accepted_as_signed_and_refused_when_anything_changes() {
        let uploads = SignedUploads::new(*b"0123456789abcdef").unwrap();
        let target = uploads.target(&spec()).await.unwrap();
        assert_eq!(target.method, "PUT");
        assert!(
            target
                .url
                .starts_with("/uploads/uploads/01P/01x-1000-42.png?expires=1000&signature="),
            "{}",
            target.url
        );
        assert_eq!(
            target.headers,
            vec![("content-type".to_owned(), "image/png".to_owned())]
        );
        let sig = signature_of(&target.url);
        let before = Timestamp::from_secs(999);
        assert_eq!(uploads.check_put(&spec(), sig, before), Ok(()));
        let changes: [fn(&mut UploadSpec); 4] = [
            |s| s.content_type = "image/jpeg".into(),
            |s| s.size = 43,
            |s| s.key = "uploads/01P/01y-1000-42.png".into(),
            |s| s.expires_at = Timestamp::from_secs(5000),
        ];
        for change in changes {
            let mut other = spec();
            change(&mut other);
            assert_eq!(
                uploads.check_put(&other, sig, before),
                Err(UploadRefused::BadSignature),
                "{other:?}"
            );
        }
        assert_eq!(
            uploads.check_put(&spec(), sig, Timestamp::from_secs(1001)),
            Err(UploadRefused::Expired)
        );
        assert_eq!(
            uploads.check_put(&spec(), "zz", before),
            Err(UploadRefused::BadSignature)
        );
        // Another secret (another process) does not accept it.
        let other = SignedUploads::new(*b"fedcba9876543210").unwrap();
        assert_eq!(
            other.check_put(&spec(), sig, before),
            Err(UploadRefused::BadSignature)
        );
    }
}
