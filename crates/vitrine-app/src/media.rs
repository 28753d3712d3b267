//! Product images: uploaded by an admin into the Blobs port, appended to the product, and served
//! publicly (`GET /media/{key}`; on AWS CloudFront serves `/media/images/*` from the bucket).
//!
//! The upload flow, the same in both shapes ([`App::request_image_upload`],
//! [`App::register_image_upload`]): the admin asks for an upload target (content type, size);
//! the Uploads port hands out a short-lived URL bound to a staging key
//! `uploads/{product id}/{id}-{expires}-{size}.{ext}`, its type and its exact size (an S3
//! presigned PUT, or the store's own signed URL, [`crate::uploads`]); the browser PUTs the file
//! there; then registers the key. Registration reads the staged object back, checks its size and
//! its first bytes, copies it to its image key and appends that to the product.
//! `POST /api/v1/admin/products/{id}/images` (the bytes through the API) remains for scripts on
//! the local shape.
//!
//! Invariants:
//! - Only PNG, JPEG, WebP and AVIF are stored, and only when the bytes start like the declared
//!   type (a "PNG" that is really HTML or SVG is refused): the public media route can never be
//!   made to serve a script or a page under the store's origin.
//! - Image keys are `images/{product id}/{ulid}.{ext}`; a key is never rewritten, so the media
//!   route may let browsers cache it for a year.
//! - The public media read serves keys under `images/` only: invoices and reports live in the same
//!   Blobs port and are never reachable through it.
//! - Nothing under `uploads/` is ever public: a staged object becomes an image only once its
//!   bytes were checked. Its image key is derived from the staging key (`images/{product
//!   id}/{id}.{ext}`), so a second registration of one upload is recognised and refused.
//! - Appending an image is a product edit like any other: it goes through
//!   [`App::update_product`] at the version the caller last saw (`If-Match`), so two admins never
//!   overwrite each other's changes, and the catalog snapshot is refreshed.

use std::collections::HashMap;

use bytes::Bytes;
use vitrine_domain::Timestamp;
use vitrine_domain::catalog::{Product, ProductDraft};

use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::ports::{Blob, BlobError, UploadRefused, UploadSpec, UploadTarget};
use crate::store;

/// The largest image accepted, in bytes (5 MiB).
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;

/// The folder of the Blobs port that holds product images.
pub const IMAGES_PREFIX: &str = "images/";

/// The folder of the Blobs port that holds uploads not registered yet.
pub const UPLOADS_PREFIX: &str = "uploads/";

/// How long an upload target (the URL the browser PUTs to) stays valid.
pub const UPLOAD_URL_SECS: i64 = 600;

/// How long after its URL expired an upload may still be registered.
pub const REGISTER_GRACE_SECS: i64 = 3600;

/// The most images a product has.
pub const MAX_IMAGES: usize = 20;

/// An upload handed out by [`App::request_image_upload`]: register `key` once the file is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpload {
    pub key: String,
    pub target: UploadTarget,
    pub expires_at: Timestamp,
}

/// A staging key, read back: `uploads/{product id}/{id}-{expires secs}-{size}.{ext}`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StagedKey {
    product_id: String,
    id: String,
    expires_at: Timestamp,
    size: u64,
    kind: ImageType,
}

impl StagedKey {
    fn parse(key: &str) -> Option<Self> {
        crate::ports::blobs::check_key(key).ok()?;
        let rest = key.strip_prefix(UPLOADS_PREFIX)?;
        let (product_id, file) = rest.split_once('/')?;
        if file.contains('/') {
            return None;
        }
        let kind = ImageType::from_key(file)?;
        let (stem, _) = file.rsplit_once('.')?;
        let mut parts = stem.rsplitn(3, '-');
        let size = parts.next()?.parse::<u64>().ok()?;
        let expires = parts.next()?.parse::<i64>().ok()?;
        let id = parts.next().filter(|id| !id.is_empty())?;
        Some(Self {
            product_id: product_id.to_owned(),
            id: id.to_owned(),
            expires_at: Timestamp::from_secs(expires),
            size,
            kind,
        })
    }

    fn key(&self) -> String {
        format!(
            "{UPLOADS_PREFIX}{}/{}-{}-{}.{}",
            self.product_id,
            self.id,
            self.expires_at.secs(),
            self.size,
            self.kind.extension()
        )
    }

    /// The key the image gets once registered.
    fn image_key(&self) -> String {
        format!(
            "{IMAGES_PREFIX}{}/{}.{}",
            self.product_id,
            self.id,
            self.kind.extension()
        )
    }
}

/// The image formats a product may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Png,
    Jpeg,
    Webp,
    Avif,
}

impl ImageType {
    pub const ALL: [ImageType; 4] = [
        ImageType::Png,
        ImageType::Jpeg,
        ImageType::Webp,
        ImageType::Avif,
    ];

    /// The type a `Content-Type` header names (parameters ignored), if it is an accepted one.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|t| t.content_type() == essence || (essence == "image/jpg" && *t == Self::Jpeg))
    }

    /// The type of a stored key, from its extension.
    pub fn from_key(key: &str) -> Option<Self> {
        let ext = key.rsplit_once('.')?.1;
        Self::ALL.into_iter().find(|t| t.extension() == ext)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
            ImageType::Webp => "image/webp",
            ImageType::Avif => "image/avif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpg",
            ImageType::Webp => "webp",
            ImageType::Avif => "avif",
        }
    }

    /// Whether `bytes` start with this format's signature ("magic number").
    pub fn matches(self, bytes: &[u8]) -> bool {
        match self {
            ImageType::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            ImageType::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            ImageType::Webp => {
                bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP"
            }
            // An ISO-BMFF `ftyp` box whose major or a compatible brand is AVIF.
            ImageType::Avif => {
                if bytes.len() < 16 || &bytes[4..8] != b"ftyp" {
                    return false;
                }
                let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
                let end = size.clamp(16, bytes.len());
                let mut brands =
                    std::iter::once(&bytes[8..12]).chain(bytes[16..end].chunks_exact(4));
                brands.any(|b| b == b"avif" || b == b"avis")
            }
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ImageType::Png => "PNG",
            ImageType::Jpeg => "JPEG",
            ImageType::Webp => "WebP",
            ImageType::Avif => "AVIF",
        }
    }
}

impl App {
    /// Store an image for product `id` and append it to the product's images, if the product is
    /// still at `expected_version`. Returns the edited product (its version is one more).
    pub async fn add_product_image(
        &self,
        id: &str,
        image: ImageType,
        bytes: Bytes,
        expected_version: u64,
    ) -> AppResult<Product> {
        if bytes.is_empty() {
            return Err(AppError::field(
                "body",
                "send the image's bytes as the body",
            ));
        }
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(AppError::field(
                "body",
                format!("an image has at most {} MiB", MAX_IMAGE_BYTES / 1024 / 1024),
            ));
        }
        if !image.matches(&bytes) {
            return Err(AppError::field(
                "body",
                format!(
                    "the body is not a {} image (its first bytes do not match)",
                    image.label()
                ),
            ));
        }
        let product = self.product_for_edit(id).await?;
        if product.version != expected_version {
            return Err(AppError::VersionMismatch("product"));
        }
        if product.images.len() >= MAX_IMAGES {
            return Err(too_many_images());
        }
        let key = format!(
            "{IMAGES_PREFIX}{}/{}.{}",
            product.id,
            self.ports.ids.new_id().to_ascii_lowercase(),
            image.extension()
        );
        self.attach_image(&product, &key, image, bytes, expected_version)
            .await
    }

    /// Hand out an upload target for an image of product `id`: `content_type` (PNG, JPEG, WebP
    /// or AVIF) of exactly `size` bytes, sent within [`UPLOAD_URL_SECS`]. Nothing is stored yet.
    pub async fn request_image_upload(
        &self,
        id: &str,
        content_type: &str,
        size: u64,
    ) -> AppResult<ImageUpload> {
        let Some(kind) = ImageType::from_content_type(content_type) else {
            return Err(AppError::field(
                "content_type",
                "send image/png, image/jpeg, image/webp or image/avif",
            ));
        };
        if size == 0 {
            return Err(AppError::field("size", "an image is not empty"));
        }
        if size > MAX_IMAGE_BYTES as u64 {
            return Err(AppError::field(
                "size",
                format!("an image has at most {} MiB", MAX_IMAGE_BYTES / 1024 / 1024),
            ));
        }
        let product = self.product_for_edit(id).await?;
        if product.images.len() >= MAX_IMAGES {
            return Err(too_many_images());
        }
        let staged = StagedKey {
            product_id: product.id.clone(),
            id: self.ports.ids.new_id().to_ascii_lowercase(),
            expires_at: self.ports.clock.now().plus_secs(UPLOAD_URL_SECS),
            size,
            kind,
        };
        let spec = UploadSpec {
            key: staged.key(),
            // The canonical name: what the browser must send, and what S3 stores.
            content_type: kind.content_type().to_owned(),
            size,
            expires_at: staged.expires_at,
        };
        let target = self.ports.uploads.target(&spec).await?;
        tracing::info!(product.id = %product.id, blob.key = %spec.key, "image upload handed out");
        Ok(ImageUpload {
            key: spec.key,
            target,
            expires_at: spec.expires_at,
        })
    }

    /// Register an upload sent to its target: check the staged object (there, of the announced
    /// size, starting like its type), move it to its image key and append that to product `id`
    /// at `expected_version`. Returns the edited product.
    pub async fn register_image_upload(
        &self,
        id: &str,
        key: &str,
        expected_version: u64,
    ) -> AppResult<Product> {
        let unknown = || AppError::NotFound("upload");
        let staged = StagedKey::parse(key)
            .filter(|s| s.product_id == id)
            .ok_or_else(unknown)?;
        let image_key = staged.image_key();
        let product = self.product_for_edit(id).await?;
        if product.images.contains(&image_key) {
            return Err(AppError::Conflict(
                "this upload is registered already: the image is the product's".into(),
            ));
        }
        let now = self.ports.clock.now();
        if now.secs() > staged.expires_at.secs() + REGISTER_GRACE_SECS {
            self.discard(key).await;
            return Err(AppError::Gone(
                "this upload expired: ask for a new one and send the file again".into(),
            ));
        }
        let Some(blob) = self.ports.blobs.get(key).await? else {
            return Err(AppError::NotFound("upload"));
        };
        if blob.bytes.len() as u64 != staged.size || blob.bytes.len() > MAX_IMAGE_BYTES {
            self.discard(key).await;
            return Err(AppError::field(
                "key",
                format!(
                    "the uploaded file has {} bytes, not the {} announced",
                    blob.bytes.len(),
                    staged.size
                ),
            ));
        }
        if !staged.kind.matches(&blob.bytes) {
            self.discard(key).await;
            return Err(AppError::field(
                "key",
                format!(
                    "the uploaded file is not a {} image (its first bytes do not match)",
                    staged.kind.label()
                ),
            ));
        }
        if product.version != expected_version {
            return Err(AppError::VersionMismatch("product"));
        }
        if product.images.len() >= MAX_IMAGES {
            return Err(too_many_images());
        }
        let product = self
            .attach_image(
                &product,
                &image_key,
                staged.kind,
                blob.bytes,
                expected_version,
            )
            .await?;
        self.discard(key).await;
        Ok(product)
    }

    /// Receive a PUT sent to a [`crate::uploads::SignedUploads`] target (the store's own
    /// `/uploads/{key}`): check it against its signature, then stage the bytes.
    pub async fn receive_upload(
        &self,
        key: &str,
        content_type: &str,
        expires_secs: i64,
        signature: &str,
        bytes: Bytes,
    ) -> AppResult<()> {
        if StagedKey::parse(key).is_none() {
            return Err(AppError::NotFound("upload"));
        }
        let spec = UploadSpec {
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
            expires_at: Timestamp::from_secs(expires_secs),
        };
        match self
            .ports
            .uploads
            .check_put(&spec, signature, self.ports.clock.now())
        {
            Ok(()) => {}
            Err(UploadRefused::NotHere) => return Err(AppError::NotFound("upload")),
            Err(UploadRefused::Expired) => {
                return Err(AppError::Gone(
                    "this upload URL expired: ask for a new one".into(),
                ));
            }
            Err(e @ UploadRefused::BadSignature) => {
                return Err(AppError::Unauthorized(format!(
                    "{e} (its key, content type, size and expiry are signed)"
                )));
            }
        }
        self.ports.blobs.put(key, bytes, content_type).await?;
        Ok(())
    }

    /// Delete a staged upload that will not be registered (best effort: S3's lifecycle rule
    /// removes what is left under `uploads/`).
    async fn discard(&self, key: &str) {
        if let Err(e) = self.ports.blobs.delete(key).await {
            tracing::warn!(blob.key = %key, error = %e, "could not delete a staged upload");
        }
    }

    /// Store `bytes` as `key` and append it to `product`'s images at `expected_version`.
    async fn attach_image(
        &self,
        product: &Product,
        key: &str,
        image: ImageType,
        bytes: Bytes,
        expected_version: u64,
    ) -> AppResult<Product> {
        self.ports
            .blobs
            .put(key, bytes, image.content_type())
            .await?;
        let mut images = product.images.clone();
        images.push(key.to_owned());
        let draft = ProductDraft {
            slug: Some(product.slug.clone()),
            name: product.name.clone(),
            description: product.description.clone(),
            category_id: product.category_id.clone(),
            images,
            variants: product.variants.clone(),
            active: product.active,
        };
        match self
            .update_product(&product.id, draft, expected_version, &HashMap::new())
            .await
        {
            Ok(p) => {
                tracing::info!(product.id = %p.id, blob.key = %key, "product image added");
                Ok(p)
            }
            Err(e) => {
                // The product did not take the image: do not leave it behind, unless a
                // concurrent registration of the same upload made it the product's meanwhile.
                let taken = self
                    .product_for_edit(&product.id)
                    .await
                    .is_ok_and(|p| p.images.iter().any(|k| k == key));
                if !taken && let Err(cleanup) = self.ports.blobs.delete(key).await {
                    tracing::warn!(blob.key = %key, error = %cleanup, "could not delete an unused image");
                }
                Err(e)
            }
        }
    }

    /// A product image for the public media route: keys under `images/` only, with the content
    /// type its extension names. `None` when there is no such image.
    pub async fn media(&self, key: &str) -> AppResult<Option<(Blob, ImageType)>> {
        let Some(kind) = public_image(key) else {
            return Ok(None);
        };
        match self.ports.blobs.get(key).await {
            Ok(Some(blob)) => Ok(Some((blob, kind))),
            Ok(None) | Err(BlobError::InvalidKey(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A URL the browser can fetch a public image from directly (S3 presigned), when the Blobs
    /// adapter offers one; `None`: serve it through [`App::media`].
    pub async fn media_url(&self, key: &str, expires_secs: u64) -> AppResult<Option<String>> {
        if public_image(key).is_none() {
            return Ok(None);
        }
        match self.ports.blobs.download_url(key, expires_secs).await {
            Ok(url) => Ok(url),
            Err(BlobError::InvalidKey(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The product as stored now (not from the snapshot, which may be a little stale).
    async fn product_for_edit(&self, id: &str) -> AppResult<Product> {
        if id.is_empty() || id.len() > 64 {
            return Err(AppError::NotFound("product"));
        }
        match self.ports.table.get(&store::product(id)).await? {
            Some(item) => store::decode(&item),
            None => Err(AppError::NotFound("product")),
        }
    }
}

fn too_many_images() -> AppError {
    AppError::field(
        "images",
        format!("a product has at most {MAX_IMAGES} images"),
    )
}

/// The image type of a key the public media route may serve: under `images/`, a plain relative
/// path, with an image extension.
fn public_image(key: &str) -> Option<ImageType> {
    let rest = key.strip_prefix(IMAGES_PREFIX)?;
    if rest.is_empty() || crate::ports::blobs::check_key(key).is_err() {
        return None;
    }
    ImageType::from_key(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F'];
    const WEBP: &[u8] = b"RIFF\x24\0\0\0WEBPVP8 ";
    const AVIF: &[u8] = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf";

    #[test]
    fn each_accepted_type_is_recognised_by_its_signature() {
        assert!(ImageType::Png.matches(PNG));
        assert!(ImageType::Jpeg.matches(JPEG));
        assert!(ImageType::Webp.matches(WEBP));
        assert!(ImageType::Avif.matches(AVIF));
        for t in ImageType::ALL {
            for (other, bytes) in [
                (ImageType::Png, PNG),
                (ImageType::Jpeg, JPEG),
                (ImageType::Webp, WEBP),
                (ImageType::Avif, AVIF),
            ] {
                assert_eq!(t.matches(bytes), t == other, "{t:?} vs {other:?}");
            }
        }
    }

    #[test]
    fn an_avif_brand_among_the_compatible_brands_is_enough() {
        let heif_with_avif = b"\0\0\0\x18ftypmif1\0\0\0\0avifmiaf";
        assert!(ImageType::Avif.matches(heif_with_avif));
        let plain_heif = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert!(!ImageType::Avif.matches(plain_heif));
    }

    #[test]
    fn markup_posing_as_an_image_is_refused() {
        for t in ImageType::ALL {
            assert!(!t.matches(
                b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
            ));
            assert!(!t.matches(b"<!doctype html><script>alert(1)</script>"));
            assert!(!t.matches(b""));
        }
    }

    #[test]
    fn content_types_are_read_without_parameters_or_case() {
        assert_eq!(
            ImageType::from_content_type("image/png"),
            Some(ImageType::Png)
        );
        assert_eq!(
            ImageType::from_content_type("Image/JPEG; charset=binary"),
            Some(ImageType::Jpeg)
        );
        assert_eq!(
            ImageType::from_content_type("image/jpg"),
            Some(ImageType::Jpeg)
        );
        assert_eq!(ImageType::from_content_type("image/svg+xml"), None);
        assert_eq!(ImageType::from_content_type("text/html"), None);
        assert_eq!(ImageType::from_content_type(""), None);
    }

    #[test]
    fn a_staging_key_reads_back_and_names_its_image_key() {
        let staged = StagedKey::parse("uploads/01P/01abc-1700000600-5120.webp").unwrap();
        assert_eq!(staged.product_id, "01P");
        assert_eq!(staged.id, "01abc");
        assert_eq!(staged.expires_at, Timestamp::from_secs(1_700_000_600));
        assert_eq!(staged.size, 5120);
        assert_eq!(staged.kind, ImageType::Webp);
        assert_eq!(staged.key(), "uploads/01P/01abc-1700000600-5120.webp");
        assert_eq!(staged.image_key(), "images/01P/01abc.webp");
        for bad in [
            "images/01P/01abc.webp",
            "uploads/01P/01abc-1700000600.webp",
            "uploads/01P/-1700000600-5120.webp",
            "uploads/01P/01abc-x-5120.webp",
            "uploads/01P/01abc-1700000600-5120.svg",
            "uploads/01P/x/01abc-1700000600-5120.png",
            "uploads/../01abc-1700000600-5120.png",
            "uploads/01P/01abc-1700000600--5120.png",
        ] {
            assert_eq!(StagedKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_image_keys_under_images_are_public() {
        assert_eq!(public_image("images/01ABC/01def.png"), Some(ImageType::Png));
        assert_eq!(
            public_image("images/01ABC/01def.jpg"),
            Some(ImageType::Jpeg)
        );
        assert_eq!(public_image("invoices/01ABC.xml"), None);
        assert_eq!(public_image("images/01ABC/notes.txt"), None);
        assert_eq!(public_image("images/../invoices/x.png"), None);
        assert_eq!(public_image("images/"), None);
        assert_eq!(public_image("reports/x.png"), None);
    }
}
