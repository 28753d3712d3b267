//! `vitrine backup` and `vitrine restore`: the whole local store in one file, taken while the
//! server runs, and put back into a new data folder.
//!
//! A backup is a tar archive:
//!
//! | entry | what |
//! |---|---|
//! | `manifest.json` | format version, when, counts, the SHA-256 of `vitrine.db` |
//! | `vitrine.db` | a consistent snapshot of the database, taken with SQLite's online backup API |
//! | `blobs/...` | every stored file (product images, invoices, reports) |
//! | `keys/...` | the token signing key, the webhook secret, the fiscal certificate when kept there |
//!
//! - The snapshot is taken page by page through SQLite's backup API on a read-only connection:
//!   writers keep working (WAL), and the copy is the database as of one commit. The blobs are
//!   copied after it, and a blob is always stored before the item that names it, so every file the
//!   snapshot refers to is in the archive.
//! - The archive holds the signing key and secrets: it is written with mode 0600, under a
//!   temporary name first, and renamed into place only when complete. A failed backup leaves no
//!   file that looks like a backup.
//! - The mail folder (`mail/`, copies of sent messages) is not backed up: it is a log, not state.
//! - `restore` never overwrites: the target data folder must be new or empty. The archive is
//!   unpacked beside it, checked (manifest, SHA-256, SQLite `integrity_check`), made owner-only
//!   (folders 0700, files 0600), and only then moved into place.
//! - `restore` unpacks regular files and folders only, at plain relative paths: an archive with a
//!   symbolic or hard link, a device or fifo, an absolute path or a `..` is refused, naming the
//!   entry, before anything of it is moved into place (a link could point the store at a file
//!   elsewhere, or a later entry write through it outside the target).
//! - A location `s3://bucket/key` stores or reads the archive in S3 (needs the `aws` feature,
//!   and the same AWS settings as `--backend aws`).

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::compose::paths;
use crate::config::Config;
use crate::private::{DIR_MODE, FILE_MODE, entries_under, restrict, restrict_tree};

/// The archive layout version, in the manifest. A newer one is refused rather than misread.
const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "vitrine.db";
/// Pages copied per step of the online backup; between steps writers get the database.
const PAGES_PER_STEP: i32 = 256;

/// Where a backup goes or comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl FromStr for Location {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() || key.is_empty() || key.ends_with('/') {
                    bail!("an S3 location is s3://bucket/path/to/file.tar, not {s:?}");
                }
                Ok(Self::S3 {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                })
            }
            None if s.trim().is_empty() => bail!("the backup location is empty"),
            None => Ok(Self::File(PathBuf::from(s))),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// What an archive holds, written first in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub vitrine_version: String,
    pub items: u64,
    pub files: u64,
    pub database_sha256: String,
}

/// Back up the data folder of `config` to `to`.
pub async fn backup(config: &Config, to: &Location) -> anyhow::Result<Manifest> {
    let data_dir = config.data_dir.clone();
    match to {
        Location::File(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || backup_to_file(&data_dir, &path)).await?
        }
        Location::S3 { bucket, key } => {
            let staging = tempfile::tempdir().context("making a temporary folder")?;
            let archive = staging.path().join("backup.tar");
            let local = archive.clone();
            let manifest =
                tokio::task::spawn_blocking(move || backup_to_file(&data_dir, &local)).await??;
            s3::put(config, bucket, key, &archive).await?;
            Ok(manifest)
        }
    }
}

/// Restore `from` into the (new or empty) data folder of `config`.
pub async fn restore(config: &Config, from: &Location) -> anyhow::Result<Manifest> {
    let data_dir = config.data_dir.clone();
    check_target(&data_dir)?;
    match from {
        Location::File(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || restore_from_file(&path, &data_dir)).await?
        }
        Location::S3 { bucket, key } => {
            let staging = tempfile::tempdir().context("making a temporary folder")?;
            let archive = staging.path().join("backup.tar");
            s3::get(config, bucket, key, &archive).await?;
            tokio::task::spawn_blocking(move || restore_from_file(&archive, &data_dir)).await?
        }
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!("{what} {{bar:30}} {{pos}}/{{len}} {{elapsed}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The snapshot of `db` into `out` through SQLite's online backup API.
fn snapshot(db: &Path, out: &Path) -> anyhow::Result<u64> {
    let source = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", db.display()))?;
    source.busy_timeout(Duration::from_secs(5))?;
    let mut copy = Connection::open(out).with_context(|| format!("creating {}", out.display()))?;
    {
        let backup = Backup::new(&source, &mut copy).context("starting the database backup")?;
        let progress = bar(0, "database pages");
        loop {
            match backup
                .step(PAGES_PER_STEP)
                .context("copying database pages")?
            {
                StepResult::Done => break,
                StepResult::More => {}
                StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {}
            }
            let p = backup.progress();
            progress.set_length(p.pagecount.max(0) as u64);
            progress.set_position((p.pagecount - p.remaining).max(0) as u64);
        }
        progress.finish_and_clear();
    }
    check_database(&copy).context("checking the snapshot")?;
    let items: i64 = copy.query_row("SELECT count(*) FROM items", [], |r| r.get(0))?;
    copy.close()
        .map_err(|(_, e)| e)
        .context("closing the snapshot")?;
    Ok(items.max(0) as u64)
}

fn check_database(conn: &Connection) -> anyhow::Result<()> {
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        bail!("SQLite integrity_check says: {verdict}");
    }
    Ok(())
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = BufReader::new(File::open(path)?);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Every regular file under `root`, as paths relative to it, sorted. Temporary files of the
/// blob store (`.tmp-*`) are left out: they are writes in progress.
fn files_under(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = entries_under(root)?
        .into_iter()
        .filter(|(path, kind)| {
            kind.is_file()
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
        })
        .filter_map(|(path, _)| path.strip_prefix(root).ok().map(Path::to_path_buf))
        .collect();
    out.sort();
    Ok(out)
}

fn backup_to_file(data_dir: &Path, path: &Path) -> anyhow::Result<Manifest> {
    let [db, blobs, _mail, keys] = paths(data_dir);
    if !db.is_file() {
        bail!(
            "{} holds no store (no {DATABASE}): nothing to back up",
            data_dir.display()
        );
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        bail!("the folder {} does not exist", parent.display());
    }
    if path.is_dir() {
        bail!(
            "{} is a folder; give the backup a file name, e.g. {}",
            path.display(),
            path.join("vitrine-backup.tar").display()
        );
    }
    let staging = tempfile::tempdir_in(data_dir).context("making a temporary folder")?;
    let snapshot_path = staging.path().join(DATABASE);
    let items = snapshot(&db, &snapshot_path)?;
    let blob_files = files_under(&blobs)?;
    let key_files = files_under(&keys)?;
    let manifest = Manifest {
        format: FORMAT,
        created_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?,
        vitrine_version: env!("CARGO_PKG_VERSION").to_owned(),
        items,
        files: (blob_files.len() + key_files.len()) as u64,
        database_sha256: sha256_file(&snapshot_path)?,
    };

    let partial = tempfile::Builder::new()
        .prefix(".vitrine-backup-")
        .suffix(".partial")
        .tempfile_in(&parent)
        .with_context(|| format!("creating a file in {}", parent.display()))?;
    restrict(partial.path(), FILE_MODE)?;
    {
        let mut tar = tar::Builder::new(BufWriter::new(partial.as_file()));
        let json = serde_json::to_vec_pretty(&manifest)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, MANIFEST, json.as_slice())?;
        tar.append_path_with_name(&snapshot_path, DATABASE)?;
        let progress = bar(manifest.files, "files");
        for (folder, name, list) in [(&blobs, "blobs", &blob_files), (&keys, "keys", &key_files)] {
            for rel in list.iter() {
                let from = folder.join(rel);
                match File::open(&from) {
                    Ok(mut f) => tar
                        .append_file(Path::new(name).join(rel), &mut f)
                        .with_context(|| format!("adding {}", from.display()))?,
                    // Deleted since the listing (a blob replaced by the server): the snapshot
                    // came first, so it no longer names this file.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("reading {}", from.display())),
                }
                progress.inc(1);
            }
        }
        progress.finish_and_clear();
        let mut out = tar.into_inner()?;
        out.flush()?;
    }
    partial
        .as_file()
        .sync_all()
        .context("flushing the backup to disk")?;
    partial
        .persist(path)
        .map_err(|e| anyhow!(e.error))
        .with_context(|| format!("moving the backup to {}", path.display()))?;
    Ok(manifest)
}

/// The restore target must be new or an empty folder.
fn check_target(data_dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty; restore into a new data folder (--data-dir), so nothing \
                     there is overwritten",
                    data_dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading {}", data_dir.display())),
    }
}

fn restore_from_file(archive: &Path, data_dir: &Path) -> anyhow::Result<Manifest> {
    check_target(data_dir)?;
    let file = File::open(archive).with_context(|| format!("opening {}", archive.display()))?;
    let parent = match data_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".vitrine-restore-")
        .tempdir_in(&parent)
        .with_context(|| format!("making a temporary folder in {}", parent.display()))?;

    let mut manifest: Option<Manifest> = None;
    let mut tar = tar::Archive::new(BufReader::new(file));
    let entries = tar
        .entries()
        .with_context(|| format!("{} is not a vitrine backup", archive.display()))?;
    for entry in entries {
        let mut entry =
            entry.with_context(|| format!("{} is damaged or not a backup", archive.display()))?;
        let name = check_entry(&entry)
            .with_context(|| format!("{} is refused: nothing was restored", archive.display()))?;
        if name == MANIFEST {
            let mut json = Vec::new();
            entry.read_to_end(&mut json)?;
            let m: Manifest = serde_json::from_slice(&json)
                .with_context(|| format!("reading the manifest of {}", archive.display()))?;
            if m.format > FORMAT {
                bail!(
                    "{} is a backup of format {} from vitrine {}; this vitrine reads format {FORMAT}: \
                     restore it with a newer vitrine",
                    archive.display(),
                    m.format,
                    m.vitrine_version
                );
            }
            manifest = Some(m);
            continue;
        }
        if manifest.is_none() {
            bail!(
                "{} is not a vitrine backup (no manifest)",
                archive.display()
            );
        }
        let allowed = name == DATABASE || name.starts_with("blobs/") || name.starts_with("keys/");
        if !allowed {
            bail!("{} holds an unexpected entry {name:?}", archive.display());
        }
        // Checked above; `unpack_in` refuses paths that leave the folder all the same.
        if !entry.unpack_in(staging.path())? {
            bail!(
                "{} is refused: nothing was restored: the entry {name:?} is outside the data \
                 folder",
                archive.display()
            );
        }
    }
    let manifest =
        manifest.ok_or_else(|| anyhow!("{} is not a vitrine backup", archive.display()))?;
    let db = staging.path().join(DATABASE);
    if !db.is_file() {
        bail!("{} has no database", archive.display());
    }
    if sha256_file(&db)? != manifest.database_sha256 {
        bail!(
            "the database in {} does not match its manifest: the backup is damaged",
            archive.display()
        );
    }
    {
        let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        check_database(&conn).context("checking the restored database")?;
    }
    restrict_tree(staging.path())?;
    // Into place: the target is absent or empty (checked again: nothing may have appeared).
    check_target(data_dir)?;
    if data_dir.exists() {
        std::fs::remove_dir(data_dir)
            .with_context(|| format!("replacing the empty folder {}", data_dir.display()))?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, data_dir).with_context(|| {
        format!(
            "moving the restored store from {} to {}",
            staged.display(),
            data_dir.display()
        )
    })?;
    restrict(data_dir, DIR_MODE)?;
    Ok(manifest)
}

/// The name of an entry a backup may hold: a regular file or a folder at a relative path of plain
/// names. Links, devices, fifos, absolute paths and `..` are refused, naming the entry.
fn check_entry<R: std::io::Read>(entry: &tar::Entry<'_, R>) -> anyhow::Result<String> {
    use std::path::Component;
    use tar::EntryType;
    let path = entry.path().context("an entry has an unreadable path")?;
    let name = path.to_string_lossy().into_owned();
    let kind = entry.header().entry_type();
    let link = || {
        entry
            .link_name()
            .ok()
            .flatten()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match kind {
        EntryType::Regular | EntryType::Directory => {}
        EntryType::Symlink => bail!(
            "the entry {name:?} is a symbolic link (to {:?}); a backup holds only files",
            link()
        ),
        EntryType::Link => bail!(
            "the entry {name:?} is a hard link (to {:?}); a backup holds only files",
            link()
        ),
        EntryType::Char | EntryType::Block | EntryType::Fifo => {
            bail!("the entry {name:?} is a device or a fifo; a backup holds only files")
        }
        other => bail!(
            "the entry {name:?} is of tar type {:?}; a backup holds only files",
            other.as_byte() as char
        ),
    }
    if let Some(bad) = path
        .components()
        .find(|c| !matches!(c, Component::Normal(_)))
    {
        let why = match bad {
            Component::ParentDir => "has a `..` component",
            Component::RootDir | Component::Prefix(_) => "is an absolute path",
            _ => "is not a plain relative path",
        };
        bail!("the entry {name:?} {why}: it would be written outside the data folder");
    }
    Ok(name)
}

#[cfg(feature = "aws")]
mod s3 {
    use std::path::Path;

    use crate::config::Config;

    fn aws(config: &Config) -> vitrine_aws::AwsConfig {
        vitrine_aws::AwsConfig {
            region: config.aws.region.clone(),
            endpoint: config.aws.endpoint.clone(),
            static_credentials: None,
            emulator: config.aws.emulator,
        }
    }

    pub async fn put(config: &Config, bucket: &str, key: &str, file: &Path) -> anyhow::Result<()> {
        vitrine_aws::compose::put_file(&aws(config), bucket, key, file).await
    }

    pub async fn get(config: &Config, bucket: &str, key: &str, file: &Path) -> anyhow::Result<()> {
        vitrine_aws::compose::get_file(&aws(config), bucket, key, file).await
    }
}

#[cfg(not(feature = "aws"))]
mod s3 {
    use std::path::Path;

    use crate::config::Config;

    pub async fn put(_: &Config, _: &str, _: &str, _: &Path) -> anyhow::Result<()> {
        anyhow::bail!("this build of vitrine has no AWS support: build it with `--features aws`")
    }

    pub async fn get(_: &Config, _: &str, _: &str, _: &Path) -> anyhow::Result<()> {
        anyhow::bail!("this build of vitrine has no AWS support: build it with `--features aws`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            "s3://shop-backups/2026/11/vitrine.tar"
                .parse::<Location>()
                .unwrap(),
            Location::S3 {
                bucket: "shop-backups".into(),
                key: "2026/11/vitrine.tar".into()
            }
        );
        assert_eq!(
            "backup.tar".parse::<Location>().unwrap(),
            Location::File("backup.tar".into())
        );
        for bad in ["s3://", "s3://bucket", "s3://bucket/", "s3:///key", " "] {
            assert!(bad.parse::<Location>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_folder_with_files_is_not_a_restore_target() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_target(dir.path()).is_ok());
        assert!(check_target(&dir.path().join("new")).is_ok());
        std::fs::write(dir.path().join("x"), b"1").unwrap();
        let e = check_target(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
    }

    #[test]
    fn an_archive_without_a_manifest_is_refused_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("x.tar");
        {
            let mut tar = tar::Builder::new(File::create(&archive).unwrap());
            let mut h = tar::Header::new_gnu();
            h.set_size(3);
            h.set_cksum();
            tar.append_data(&mut h, "vitrine.db", &b"abc"[..]).unwrap();
            tar.finish().unwrap();
        }
        let target = dir.path().join("store");
        let e = restore_from_file(&archive, &target)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no manifest"), "{e}");
        assert!(!target.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the archive remains");
    }

    #[test]
    fn a_data_folder_without_a_store_has_nothing_to_back_up() {
        let dir = tempfile::tempdir().unwrap();
        let e = backup_to_file(dir.path(), &dir.path().join("b.tar"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nothing to back up"), "{e}");
    }
}
