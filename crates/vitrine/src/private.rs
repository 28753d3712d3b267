//! Owner-only modes for the data folder. It holds the database (customers, orders), the keys
//! (token signing key, webhook secret, fiscal certificate) and the mail folder (copies of sent
//! mail: password reset codes among them), so on unix it is made private whatever the process
//! umask:
//!
//! | path | mode |
//! |---|---|
//! | the data folder, `mail/`, `keys/` | 0700 |
//! | `vitrine.db` (and SQLite's `-wal`, `-shm`, `-journal` beside it) | 0600 |
//! | every file under `keys/` | 0600 |
//!
//! - **On creation**: the folders are made with 0700 and the database file is created empty with
//!   0600 before SQLite opens it (SQLite gives its `-wal`/`-shm` files the database's mode).
//! - **At every start**: whatever grants the group or others any access is tightened, and each
//!   change is logged (a folder copied with `cp -r`, unpacked by hand, or made by an older
//!   vitrine).
//! - Blobs (product images, invoices) need nothing of their own: they are inside the data
//!   folder, which nobody else can enter.
//!
//! Elsewhere than unix the folders are created and nothing else is done.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// Where each part lives inside the data folder.
pub fn paths(data_dir: &Path) -> [std::path::PathBuf; 4] {
    [
        data_dir.join("vitrine.db"),
        data_dir.join("blobs"),
        data_dir.join("mail"),
        data_dir.join("keys"),
    ]
}

/// The mode of a private folder.
pub const DIR_MODE: u32 = 0o700;
/// The mode of a private file.
pub const FILE_MODE: u32 = 0o600;

/// SQLite's files beside the database (write-ahead log, shared memory, rollback journal).
const DATABASE_SIDECARS: [&str; 3] = ["-wal", "-shm", "-journal"];

/// Make `data_dir` private: create it, `mail/` and `keys/` (0700) and the database file (0600)
/// when missing, and tighten what is there and looser. Returns the paths tightened (each is also
/// logged).
pub fn secure_data_folder(data_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let [db, _blobs, mail, keys] = paths(data_dir);
    let mut tightened = Vec::new();
    for dir in [data_dir, &mail, &keys] {
        create_dir(dir)?;
        tighten(dir, DIR_MODE, &mut tightened)?;
    }
    create_file(&db)?;
    tighten(&db, FILE_MODE, &mut tightened)?;
    for suffix in DATABASE_SIDECARS {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        tighten(Path::new(&name), FILE_MODE, &mut tightened)?;
    }
    tighten_files_under(&keys, &mut tightened)?;
    for path in &tightened {
        tracing::warn!(
            path = %path.display(),
            "tightened the permissions of a data folder entry that others could read"
        );
    }
    Ok(tightened)
}

/// Tighten every entry under `root` (a restored data folder, before it is moved into place):
/// folders 0700, files 0600.
pub fn restrict_tree(root: &Path) -> anyhow::Result<()> {
    restrict(root, DIR_MODE)?;
    for (path, kind) in entries_under(root)? {
        restrict(&path, if kind.is_dir() { DIR_MODE } else { FILE_MODE })?;
    }
    Ok(())
}

/// Every entry under `root` (folders before what they hold) with its type; symbolic links are
/// listed, not followed. A missing `root` holds nothing.
pub fn entries_under(root: &Path) -> anyhow::Result<Vec<(PathBuf, std::fs::FileType)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            }
            out.push((entry.path(), kind));
        }
    }
    Ok(out)
}

/// Create `dir` owner-only (0700) when missing; missing parents are created as usual.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    match builder.create(dir) {
        Ok(()) => Ok(()),
        // Made by another process meanwhile: tightened by the caller if need be.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", dir.display())),
    }
}

/// Create an empty `file` owner-only (0600) when missing.
fn create_file(file: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", file.display())),
    }
}

fn tighten_files_under(root: &Path, tightened: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for (path, kind) in entries_under(root)? {
        if kind.is_dir() {
            tighten(&path, DIR_MODE, tightened)?;
        } else if kind.is_file() {
            tighten(&path, FILE_MODE, tightened)?;
        }
    }
    Ok(())
}

/// Set `path` to `mode` when it grants the group or others anything; a missing path is left
/// alone. Symbolic links are not followed.
#[cfg(unix)]
fn tighten(path: &Path, mode: u32, tightened: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if meta.file_type().is_symlink() || meta.permissions().mode() & 0o077 == 0 {
        return Ok(());
    }
    restrict(path, mode)?;
    tightened.push(path.to_path_buf());
    Ok(())
}

#[cfg(not(unix))]
fn tighten(_: &Path, _: u32, _: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    Ok(())
}

/// Set `path` to `mode` (0o600 for a file, 0o700 for a folder).
#[cfg(unix)]
pub fn restrict(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).with_context(|| {
        format!(
            "restricting {} to owner-only access (mode {mode:o}); is it owned by another user?",
            path.display()
        )
    })
}

#[cfg(not(unix))]
pub fn restrict(_: &Path, _: u32) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_data_folder_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested/data");
        let tightened = secure_data_folder(&data).unwrap();
        assert!(tightened.is_empty(), "{tightened:?}");
        for d in ["", "mail", "keys"] {
            assert_eq!(mode(&data.join(d)), 0o700, "{d}");
        }
        assert_eq!(mode(&data.join("vitrine.db")), 0o600);
        assert_eq!(std::fs::metadata(data.join("vitrine.db")).unwrap().len(), 0);
    }

    #[test]
    fn a_loose_data_folder_is_tightened_and_says_what() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("keys/fiscal")).unwrap();
        std::fs::create_dir_all(data.join("mail")).unwrap();
        let loose = [
            (data.clone(), 0o755),
            (data.join("mail"), 0o777),
            (data.join("keys"), 0o750),
            (data.join("keys/fiscal"), 0o755),
        ];
        let files = [
            data.join("vitrine.db"),
            data.join("vitrine.db-wal"),
            data.join("keys/signing.pem"),
            data.join("keys/fiscal/cert.pfx"),
        ];
        for f in &files {
            std::fs::write(f, b"x").unwrap();
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        for (d, m) in &loose {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(*m)).unwrap();
        }
        let mut tightened = secure_data_folder(&data).unwrap();
        tightened.sort();
        let mut expected: Vec<_> = loose.iter().map(|(d, _)| d.clone()).collect();
        expected.extend(files.iter().cloned());
        expected.sort();
        assert_eq!(tightened, expected);
        for (d, _) in &loose {
            assert_eq!(mode(d), 0o700, "{}", d.display());
        }
        for f in &files {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
        // Private already: nothing more to say.
        assert!(secure_data_folder(&data).unwrap().is_empty());
    }
}
