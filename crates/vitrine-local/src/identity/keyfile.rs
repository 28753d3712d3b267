//! The signing key's file: `key_dir/jwt-signing-key.pem`, created once with mode 0600 and
//! refused when others can read it.

use std::path::Path;

use anyhow::Context;
use rsa::pkcs8::der::zeroize::Zeroizing;
use vitrine_app::auth::TokenSigner;

use super::{SIGNING_KEY_FILE, hex, random_bytes};

/// Load the signing key from `dir`, or create it there on first start.
pub(super) fn load_or_create_key(dir: &Path) -> anyhow::Result<TokenSigner> {
    let path = dir.join(SIGNING_KEY_FILE);
    if !path.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the key folder {}", dir.display()))?;
        let signer = TokenSigner::generate()?;
        let pem = signer.to_pkcs8_pem()?;
        publish_secret_file(&path, pem.as_bytes())
            .with_context(|| format!("writing the signing key {}", path.display()))?;
        tracing::info!(path = %path.display(), kid = signer.kid(), "generated a new token signing key");
    }
    check_private(&path)?;
    let pem = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the signing key {}", path.display()))?;
    let pem = Zeroizing::new(pem);
    TokenSigner::from_pkcs8_pem(&pem)
        .with_context(|| format!("loading the signing key {}", path.display()))
}

/// Write `bytes` to `path` with mode 0600, never leaving a partial file at `path` and never
/// replacing one another process published first (its key wins; we read it back).
fn publish_secret_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", hex(&random_bytes::<8>())));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        // A hard link publishes atomically and fails if the name is taken, unlike rename.
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    Ok(result?)
}

/// Refuse a key file that others can read: a leaked key lets anyone mint admin tokens.
fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading the permissions of {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "the signing key {} is accessible to other users (mode {:o}); run `chmod 600` on it",
                path.display(),
                mode & 0o777
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
