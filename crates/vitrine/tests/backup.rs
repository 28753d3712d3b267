//! `vitrine backup` and `vitrine restore` with the real binary: a backup taken while the server
//! runs and takes orders, restored into a new data folder, equals the original item for item and
//! file for file, and a server on the restored folder serves the same orders to the same tokens.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{TestApp, buy_now, test_config};
use reqwest::Method;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;
use vitrine_testkit::process::Vitrine;

const BIN: &str = env!("CARGO_BIN_EXE_vitrine");
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";

/// `vitrine --data-dir DIR ARGS...`, with no `VITRINE_*` variable inherited.
fn vitrine(data_dir: &Path, args: &[&str]) -> Output {
    Vitrine::new(BIN).data_dir(data_dir).run(args).unwrap()
}

/// Every row of the items table, ordered by key.
fn items(db: &Path) -> Vec<Vec<SqlValue>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn.prepare("SELECT * FROM items ORDER BY pk, sk").unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |row| {
        (0..n).map(|i| row.get::<_, SqlValue>(i)).collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Every file under `root` with its bytes, by relative path.
fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_item_for_item() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    let product = t.product(&admin, "caneca-backup", &[("BK-1", 500)]).await;
    let id = product["id"].as_str().unwrap();
    let res = t
        .req(
            Method::POST,
            &format!("/api/v1/admin/products/{id}/images"),
            Some(&admin),
        )
        .header("content-type", "image/png")
        .header("if-match", format!("\"{}\"", product["version"]))
        .body(PNG.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let customer = t.customer("cliente@loja.test").await;
    let first: Value = t
        .req(Method::POST, "/api/v1/orders", Some(&customer))
        .header("Idempotency-Key", "backup-first")
        .json(&buy_now("BK-1", 2))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_id = first["id"].as_str().unwrap().to_owned();

    // Orders keep coming while the backup runs.
    let load = {
        let client = t.client.clone();
        let url = t.url("/api/v1/orders");
        let token = customer.clone();
        tokio::spawn(async move {
            let mut placed = 0;
            for i in 0..30 {
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("backup-load-{i}"))
                    .json(&buy_now("BK-1", 1))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                placed += 1;
            }
            placed
        })
    };
    let archive = tempfile::tempdir().unwrap();
    let archive_path = archive.path().join("loja.tar");
    let out = vitrine(&t.data_dir, &["backup", archive_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Backed up"));
    assert_eq!(load.await.unwrap(), 30);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&archive_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the archive holds keys: owner only");
    }

    // Stop the server, so the original stays still, and back it up at rest too.
    let original = t.data_dir.clone();
    let _original_dir = t.stop_keeping_data().await;
    let keep = tempfile::tempdir().unwrap();
    let at_rest = archive.path().join("at-rest.tar");
    let out = vitrine(&original, &["backup", at_rest.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let restored = keep.path().join("restored");
    let out = vitrine(&restored, &["restore", at_rest.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = items(&original.join("vitrine.db"));
    let after = items(&restored.join("vitrine.db"));
    assert!(before.len() > 40, "the store has items: {}", before.len());
    assert_eq!(before.len(), after.len());
    assert!(before == after, "every item is restored as it was");
    for folder in ["blobs", "keys"] {
        let a = files(&original.join(folder));
        let b = files(&restored.join(folder));
        assert!(!a.is_empty(), "{folder} has files");
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        assert!(a == b, "every file of {folder} is restored byte for byte");
    }

    // The backup taken under load restores too, and holds at least what was there before it.
    let under_load = keep.path().join("under-load");
    let out = vitrine(&under_load, &["restore", archive_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot = items(&under_load.join("vitrine.db"));
    assert!(snapshot.len() <= before.len());

    // A server on the restored folder serves the same order to the same customer token.
    let config = test_config(restored.clone());
    let store = vitrine::compose::build(
        &config,
        std::sync::Arc::new(vitrine_app::ports::SystemClock),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vitrine::serve::run(listener, store, async move {
        let _ = rx.await;
    }));
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/orders/{first_id}"))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the signing key was restored too");
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["id"], first_id.as_str());
    let _ = tx.send(());
    server.await.unwrap().unwrap();
}

#[test]
fn restore_never_overwrites_and_refuses_what_is_not_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("vitrine.db"), b"precious").unwrap();
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not an archive at all").unwrap();

    let out = vitrine(&busy, &["restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(std::fs::read(busy.join("vitrine.db")).unwrap(), b"precious");

    let fresh = dir.path().join("fresh");
    let out = vitrine(&fresh, &["restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: "), "{err}");
    assert!(!fresh.exists(), "a failed restore leaves no data folder");

    let out = vitrine(
        &fresh,
        &["backup", dir.path().join("b.tar").to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to back up"));
    assert!(!dir.path().join("b.tar").exists());
}

/// To S3 and back, on the AWS emulator.
#[cfg(feature = "aws")]
#[tokio::test]
async fn a_backup_goes_to_s3_and_restores_from_it() {
    let t = TestApp::spawn().await;
    let admin = t.admin("admin@loja.test").await;
    t.product(&admin, "caneca-s3", &[("S3-1", 7)]).await;
    let original = t.data_dir.clone();
    let _kept = t.stop_keeping_data().await;

    let endpoint = vitrine_testkit::moto::endpoint();
    let bucket = vitrine_testkit::moto::unique("vitrine-backups");
    // The emulator takes an unsigned CreateBucket.
    let res = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let location = format!("s3://{bucket}/2026/11/loja.tar");
    let aws = |data_dir: &Path, args: &[&str]| {
        Vitrine::new(BIN)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .data_dir(data_dir)
            .args([
                "--aws-endpoint",
                endpoint,
                "--aws-region",
                "us-east-1",
                "--aws-emulator",
            ])
            .run(args)
            .unwrap()
    };
    let out = aws(&original, &["backup", &location]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let restored = dir.path().join("restored");
    let out = aws(&restored, &["restore", &location]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(items(&original.join("vitrine.db")) == items(&restored.join("vitrine.db")));
    assert!(files(&original.join("keys")) == files(&restored.join("keys")));

    let out = aws(
        &dir.path().join("other"),
        &["restore", &format!("s3://{bucket}/missing.tar")],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("downloading s3://"));
}

/// A header for `name` of `kind` written byte for byte: `tar::Builder` refuses to write the
/// absolute paths and `..` an attacker's archive holds, so the name goes in raw.
fn raw_header(name: &str, kind: tar::EntryType, link: &str, size: u64) -> tar::Header {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

/// `genuine` (a real backup: manifest, database, keys) with `extra` appended.
fn with_entry(genuine: &Path, out: &Path, extra: &tar::Header) {
    let mut reader = tar::Archive::new(std::fs::File::open(genuine).unwrap());
    let mut builder = tar::Builder::new(std::fs::File::create(out).unwrap());
    for entry in reader.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        builder.append(&header, &mut entry).unwrap();
    }
    let body = vec![b'x'; extra.size().unwrap() as usize];
    builder.append(extra, body.as_slice()).unwrap();
    builder.finish().unwrap();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn restore_refuses_links_devices_and_paths_outside_the_target_and_leaves_nothing() {
    use tar::EntryType;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let original = root.join("original");
    let out = vitrine(&original, &["seed"]);
    assert!(out.status.success(), "{out:?}");
    let genuine = root.join("genuine.tar");
    let out = vitrine(&original, &["backup", genuine.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");

    // Where an escaping entry would land if it were unpacked: beside the target (`..` out of
    // the staging folder, which is made beside it), and at an absolute path.
    let absolute = root.join("abs-escape");
    let absolute = absolute.to_str().unwrap();
    // (archive, entry name, type, link target, size, why it is refused)
    let symlink = "is a symbolic link (to \"/etc/passwd\")";
    let hardlink = "is a hard link (to \"/etc/passwd\")";
    let cases = [
        (
            "symlink",
            "blobs/passwd",
            EntryType::Symlink,
            "/etc/passwd",
            0,
            symlink,
        ),
        (
            "hardlink",
            "keys/passwd",
            EntryType::Link,
            "/etc/passwd",
            0,
            hardlink,
        ),
        (
            "fifo",
            "blobs/pipe",
            EntryType::Fifo,
            "",
            0,
            "is a device or a fifo",
        ),
        (
            "device",
            "blobs/null",
            EntryType::Char,
            "",
            0,
            "is a device or a fifo",
        ),
        (
            "dotdot",
            "blobs/../../escape",
            EntryType::Regular,
            "",
            5,
            "has a `..` component",
        ),
        (
            "dotdot-top",
            "../escape",
            EntryType::Regular,
            "",
            5,
            "has a `..` component",
        ),
        (
            "absolute",
            absolute,
            EntryType::Regular,
            "",
            5,
            "is an absolute path",
        ),
    ];
    for (what, name, kind, link, size, why) in cases {
        let header = raw_header(name, kind, link, size);
        let archive = root.join(format!("{what}.tar"));
        with_entry(&genuine, &archive, &header);
        let target = root.join(format!("restored-{what}"));
        let out = vitrine(&target, &["restore", archive.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{what}: restored: {err}");
        assert!(
            err.contains(&format!(
                "{} is refused: nothing was restored",
                archive.display()
            )),
            "{what}: {err}"
        );
        assert!(err.contains(&format!("{name:?} {why}")), "{what}: {err}");
        assert!(
            !target.exists(),
            "{what}: a refused restore leaves no data folder"
        );
    }
    // Nothing was written outside: no escaped file, no staging folder left behind, and only the
    // archives and the original store in the parent folder.
    for escaped in [root.join("escape"), PathBuf::from(absolute)] {
        assert!(
            std::fs::symlink_metadata(&escaped).is_err(),
            "{} was written",
            escaped.display()
        );
    }
    let mut left: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut expected: Vec<String> = cases.iter().map(|c| format!("{}.tar", c.0)).collect();
    expected.extend(["genuine.tar".to_owned(), "original".to_owned()]);
    expected.sort();
    assert_eq!(left, expected);

    // The genuine backup restores, owner-only.
    let restored = root.join("restored");
    let out = vitrine(&restored, &["restore", genuine.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(items(&original.join("vitrine.db")) == items(&restored.join("vitrine.db")));
    assert!(files(&original.join("keys")) == files(&restored.join("keys")));
    #[cfg(unix)]
    {
        assert_eq!(mode(&restored), 0o700);
        assert_eq!(mode(&restored.join("vitrine.db")), 0o600);
        for (key, _) in files(&restored.join("keys")) {
            assert_eq!(mode(&restored.join("keys").join(&key)), 0o600, "{key:?}");
        }
    }
}
