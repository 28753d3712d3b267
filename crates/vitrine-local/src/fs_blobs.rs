//! `FsBlobs`: the Blobs port on a folder.
//!
//! Role: invoices, reports and product images of the local shape, kept as plain files so that
//! an operator can browse and back them up with ordinary tools.
//!
//! Layout: the object with key `a/b/c.pdf` is the file `<root>/a/b/c.pdf`, byte for byte. Its
//! content type is the text of the sidecar file `<root>/a/b/c.pdf@type`. Temporary files are
//! named `<name>@tmp-<ulid>`. `@` can never appear in a key (see `check_key`), so neither
//! sidecars nor temporaries can collide with an object, and listings skip every name holding
//! an `@`.
//!
//! Invariants:
//! - Every key is checked with `check_key` before it touches the file system, so a key can
//!   never leave the root. Listings do not follow symbolic links, for the same reason.
//! - A put is atomic for readers: the bytes go to a temporary file in the same folder, are
//!   fsynced, then renamed over the object, and the folder is fsynced, so a reader sees the old
//!   object or the new one, never a part, and a put that returned survives a crash. The sidecar
//!   is replaced the same way just before the data; a crash between the two renames can leave
//!   the new type with the old bytes, the one window this layout accepts.
//! - Two concurrent puts of one key: the last rename wins, and the type may come from the other
//!   put (callers that care about this write a key once, e.g. an invoice per number).
//! - One key cannot be both an object and a "folder" of other objects (`a` and `a/b`), unlike S3:
//!   such a put fails as `Unavailable` with the reason.

use std::fs::{self, File};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use bytes::Bytes;
use vitrine_app::ports::blobs::{Blob, BlobError, BlobMeta, Blobs, check_key};

/// Suffix of the sidecar holding an object's content type.
const TYPE_SUFFIX: &str = "@type";
/// The type returned for an object whose sidecar is missing (written by hand, or a crash).
const DEFAULT_TYPE: &str = "application/octet-stream";

/// The Blobs port on a folder.
#[derive(Debug, Clone)]
pub struct FsBlobs {
    root: PathBuf,
}

impl FsBlobs {
    /// Use `root` as the store, creating it when missing.
    pub fn open(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)
            .with_context(|| format!("creating the blob folder {}", root.display()))?;
        let root = root
            .canonicalize()
            .with_context(|| format!("resolving the blob folder {}", root.display()))?;
        Ok(Self { root })
    }

    /// The folder objects are stored in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Run blocking file work off the async threads.
    async fn blocking<T, F>(f: F) -> Result<T, BlobError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, BlobError> + Send + 'static,
    {
        tokio::task::spawn_blocking(f).await.map_err(|e| {
            BlobError::Unavailable(anyhow::Error::new(e).context("blob file task failed"))
        })?
    }
}

fn sidecar(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(TYPE_SUFFIX);
    PathBuf::from(name)
}

fn unavailable(e: impl Into<anyhow::Error>, what: String) -> BlobError {
    BlobError::Unavailable(e.into().context(what))
}

/// Replace `path` with `bytes` atomically: temporary file in the same folder, fsync, rename.
/// The caller fsyncs the folder.
fn replace_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!("@tmp-{}", ulid::Ulid::new()));
    let temp = PathBuf::from(temp_name);
    let written = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written.with_context(|| format!("writing {}", path.display()))
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    // A rename is durable only once its folder is: fsync the folder itself.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing the folder {}", dir.display()))
}

fn put_blocking(path: &Path, bytes: &[u8], content_type: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| anyhow!("a blob path has no folder"))?;
    fs::create_dir_all(dir).with_context(|| {
        format!(
            "creating {} (is part of the key already an object?)",
            dir.display()
        )
    })?;
    if path.is_dir() {
        return Err(anyhow!("{} is a folder of other objects", path.display()));
    }
    replace_file(&sidecar(path), content_type.as_bytes())?;
    replace_file(path, bytes)?;
    sync_dir(dir)
}

fn get_blocking(path: &Path) -> anyhow::Result<Option<Blob>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        // A key that is a folder of other objects is not itself an object.
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let content_type = match fs::read_to_string(sidecar(path)) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => DEFAULT_TYPE.to_owned(),
        Err(e) => return Err(e).with_context(|| format!("reading the type of {}", path.display())),
    };
    Ok(Some(Blob {
        bytes: Bytes::from(bytes),
        content_type,
    }))
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("deleting {}", path.display())),
    }
}

/// Check a listing prefix: unlike a key it may be empty, end with `/`, or end in part of a
/// segment, but it must never name a folder outside the root.
fn check_prefix(prefix: &str) -> Result<(), BlobError> {
    let (folder, partial) = prefix.rsplit_once('/').unwrap_or(("", prefix));
    let partial_ok = partial
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if partial_ok && ((folder.is_empty() && !prefix.starts_with('/')) || check_key(folder).is_ok())
    {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(prefix.to_owned()))
    }
}

/// Collect the objects under `dir` (whose key prefix is `key_prefix`) into `out`.
fn walk(dir: &Path, key_prefix: &str, out: &mut Vec<BlobMeta>) -> anyhow::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        // Names that are not keys (sidecars, temporaries, non-UTF-8, stray files) are not objects.
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let key = format!("{key_prefix}{name}");
        if check_key(&key).is_err() {
            continue;
        }
        let kind = entry
            .file_type()
            .with_context(|| format!("inspecting {}", entry.path().display()))?;
        if kind.is_dir() {
            walk(&entry.path(), &format!("{key}/"), out)?;
        } else if kind.is_file() {
            let size = entry
                .metadata()
                .with_context(|| format!("inspecting {}", entry.path().display()))?
                .len();
            out.push(BlobMeta { key, size });
        }
        // Symbolic links are skipped: they could point outside the root.
    }
    Ok(())
}

#[async_trait]
impl Blobs for FsBlobs {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        let content_type = content_type.to_owned();
        let what = format!("storing blob {key}");
        Self::blocking(move || {
            put_blocking(&path, &bytes, &content_type).map_err(|e| unavailable(e, what))
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let path = self.path_of(key)?;
        let what = format!("reading blob {key}");
        Self::blocking(move || get_blocking(&path).map_err(|e| unavailable(e, what))).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>, BlobError> {
        check_prefix(prefix)?;
        // Walk only the deepest folder the prefix names, then filter on the rest.
        let folder = prefix.rsplit_once('/').map_or("", |(folder, _)| folder);
        let (start, key_prefix) = if folder.is_empty() {
            (self.root.clone(), String::new())
        } else {
            (self.root.join(folder), format!("{folder}/"))
        };
        let prefix = prefix.to_owned();
        Self::blocking(move || {
            let mut found = Vec::new();
            walk(&start, &key_prefix, &mut found)
                .map_err(|e| unavailable(e, format!("listing blobs under {prefix}")))?;
            found.retain(|meta| meta.key.starts_with(&prefix));
            found.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(found)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        let what = format!("deleting blob {key}");
        Self::blocking(move || {
            (|| {
                remove_if_present(&path)?;
                remove_if_present(&sidecar(&path))?;
                match path.parent() {
                    Some(dir) if dir.exists() => sync_dir(dir),
                    _ => Ok(()),
                }
            })()
            .map_err(|e| unavailable(e, what))
        })
        .await
    }

    async fn download_url(
        &self,
        key: &str,
        _expires_secs: u64,
    ) -> Result<Option<String>, BlobError> {
        // A folder offers no URL of its own: the API serves the bytes.
        check_key(key)?;
        Ok(None)
    }

    async fn ping(&self) -> Result<(), BlobError> {
        let root = self.root.clone();
        Self::blocking(move || match fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(BlobError::Unavailable(anyhow!(
                "{} is not a folder",
                root.display()
            ))),
            Err(e) => Err(unavailable(
                e,
                format!("inspecting the blob folder {}", root.display()),
            )),
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_prefixes_may_be_partial_but_never_leave_the_root() {
        for ok in ["", "a", "a/", "a/b", "a/b/", "invoices/2025-0", "a/.hid"] {
            assert!(check_prefix(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "/", "/a", "../", "../a", "a/../", "a//", "a//b", "./a", "a b", "a@type", "a/\\",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_sidecar_sits_beside_the_object() {
        assert_eq!(
            sidecar(Path::new("/r/a/b.pdf")),
            PathBuf::from("/r/a/b.pdf@type")
        );
    }

    #[tokio::test]
    async fn sidecars_and_temporaries_never_show_in_listings() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsBlobs::open(dir.path()).unwrap();
        blobs
            .put("a/x.pdf", Bytes::from_static(b"%PDF"), "application/pdf")
            .await
            .unwrap();
        fs::write(dir.path().join("a/y.pdf@tmp-0"), b"partial").unwrap();
        let keys: Vec<String> = blobs
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(keys, ["a/x.pdf"]);
        assert_eq!(
            fs::read_to_string(dir.path().join("a/x.pdf@type")).unwrap(),
            "application/pdf"
        );
    }

    #[tokio::test]
    async fn a_key_cannot_be_both_an_object_and_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsBlobs::open(dir.path()).unwrap();
        blobs
            .put("a/b", Bytes::from_static(b"1"), "text/plain")
            .await
            .unwrap();
        assert!(matches!(
            blobs.put("a", Bytes::from_static(b"2"), "text/plain").await,
            Err(BlobError::Unavailable(_))
        ));
        assert!(matches!(
            blobs
                .put("a/b/c", Bytes::from_static(b"3"), "text/plain")
                .await,
            Err(BlobError::Unavailable(_))
        ));
        assert_eq!(blobs.get("a").await.unwrap(), None);
        assert_eq!(blobs.get("a/b/c").await.unwrap(), None);
    }
}
