//! Storage faults: the data folder on a small tmpfs that is filled up, then remounted read-only.
//! While the disk is full, writes must fail with a clear answer (`503` problem document) and change nothing, reads must go
//! on, and the server must recover by itself when space returns. On a read-only folder (Linux
//! does not remount a file system read-only under a process writing to it, so that is what a
//! restart meets) the server starts, serves reads, and refuses writes the same way; and afterwards SQLite's
//! `integrity_check` must pass with every acknowledged order present.
//!
//! Mounting needs root (CAP_SYS_ADMIN), as on CI; elsewhere the checks are reported as not run.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use reqwest::Client;
use serde_json::Value;

use crate::api;
use crate::server::{NO_SEED, Server, USER_NAME, client, vitrine};

const SKU: &str = "DISK-1";

/// One check and its outcome.
#[derive(Debug, Clone)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Default, Clone)]
pub struct DiskReport {
    /// Why nothing ran, when nothing could.
    pub skipped: Option<String>,
    pub checks: Vec<Check>,
    /// Write requests refused while the disk was full or read-only.
    pub refused_writes: usize,
    /// Of those, answered with anything but a 503 problem document.
    pub unclear_errors: usize,
}

impl DiskReport {
    fn check(&mut self, what: &str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            what: what.to_owned(),
            ok,
            detail: detail.into(),
        });
    }
}

/// A tmpfs mounted at a folder for as long as this lives.
struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(at)?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .context("running mount")?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(Self {
            at: at.to_path_buf(),
        })
    }

    fn remount(&self, mode: &str) -> anyhow::Result<()> {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.at)
            .output()?;
        if !out.status.success() {
            bail!(
                "remount {mode}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
    }
}

/// Fill the file system holding `path` with a ballast file until it is full.
fn fill(path: &Path) -> anyhow::Result<u64> {
    let mut f = std::fs::File::create(path)?;
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(_) => break,
        }
    }
    let _ = f.sync_all();
    Ok(written)
}

/// Checkouts until `want` are refused (at most `max` tries; a full disk may still take a few
/// into space SQLite had already allocated); returns (refused, unclear, acknowledged ids).
async fn refused_checkouts(
    c: &Client,
    s: &Server,
    token: &str,
    want: usize,
    max: usize,
) -> anyhow::Result<(usize, usize, Vec<String>)> {
    let (mut refused, mut unclear, mut acked) = (0, 0, Vec::new());
    for i in 0..max {
        if refused == want {
            break;
        }
        let res = c
            .post(s.url("/api/v1/orders"))
            .bearer_auth(token)
            .header(
                "Idempotency-Key",
                format!("disk-refused-{}-{i}", ulid_ish()),
            )
            .json(&api::buy_now(SKU, 1))
            .send()
            .await?;
        let status = res.status().as_u16();
        let problem = res
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "application/problem+json");
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status == 201 {
            acked.push(body["id"].as_str().unwrap_or_default().to_owned());
        } else {
            refused += 1;
            if status != 503 || !problem {
                unclear += 1;
            }
        }
    }
    Ok((refused, unclear, acked))
}

fn ulid_ish() -> String {
    format!(
        "{:x}",
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    )
}

async fn checkout(
    c: &Client,
    s: &Server,
    token: &str,
    tag: &str,
) -> anyhow::Result<Option<String>> {
    let res = c
        .post(s.url("/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", format!("disk-{tag}-{}", ulid_ish()))
        .json(&api::buy_now(SKU, 1))
        .send()
        .await?;
    if res.status() != 201 {
        return Ok(None);
    }
    let body: Value = res.json().await?;
    Ok(body["id"].as_str().map(str::to_owned))
}

async fn product_readable(c: &Client, s: &Server, slug: &str) -> bool {
    matches!(
        c.get(s.url(&format!("/api/v1/products/{slug}"))).send().await,
        Ok(r) if r.status() == 200
    )
}

pub async fn run(bin: &Path, work: &Path) -> anyhow::Result<DiskReport> {
    let mut report = DiskReport::default();
    let mnt = work.join("disk-mnt");
    let fs = match Tmpfs::mount(&mnt, "48m") {
        Ok(fs) => fs,
        Err(e) => {
            report.skipped = Some(format!("mounting a tmpfs failed ({e}); run as root"));
            return Ok(report);
        }
    };
    let data_dir = mnt.join("data");
    let v = vitrine(bin, &data_dir, &work.join("disk-logs"));
    v.add_user("admin@disco.test", USER_NAME, true)?;
    v.add_user("cliente@disco.test", USER_NAME, false)?;
    let c = client();
    let mut server = v.start("disk", NO_SEED).await?;
    let admin = api::access(&api::sign_in(&c, &server, "admin@disco.test").await?);
    let customer = api::access(&api::sign_in(&c, &server, "cliente@disco.test").await?);
    api::create_product(&c, &server, &admin, "produto-do-disco", SKU, 10_000).await?;
    let mut acked = Vec::new();
    for i in 0..3 {
        acked.extend(checkout(&c, &server, &customer, &format!("before-{i}")).await?);
    }

    // Disk full.
    let ballast = mnt.join("ballast");
    let filled = fill(&ballast)?;
    let (refused, unclear, late) = refused_checkouts(&c, &server, &customer, 10, 300).await?;
    acked.extend(late.iter().cloned());
    report.refused_writes += refused;
    report.unclear_errors += unclear;
    report.check(
        "disk full: checkouts refused with 503 problem+json",
        refused == 10 && unclear == 0,
        format!(
            "{refused} refused ({unclear} otherwise), {} acknowledged into SQLite's free pages, after {} MB of ballast",
            late.len(),
            filled / 1_000_000
        ),
    );
    report.check(
        "disk full: catalog still served",
        product_readable(&c, &server, "produto-do-disco").await,
        "",
    );
    std::fs::remove_file(&ballast)?;
    let recovered = checkout(&c, &server, &customer, "after-full").await?;
    report.check(
        "disk full: writes resume once space is freed, without a restart",
        recovered.is_some(),
        "",
    );
    acked.extend(recovered);

    let status = server.stop().await?;
    report.check(
        "SIGTERM after a full disk: clean exit",
        status.success(),
        format!("{status}"),
    );

    // A read-only folder (a file system the kernel remounted read-only after errors, say).
    // Linux refuses to remount a file system read-only while files on it are open for writing,
    // so the server is stopped first: this is what a restart finds.
    fs.remount("ro")?;
    let mut server = v.start("disk-ro", NO_SEED).await?;
    let (refused, unclear, late) = refused_checkouts(&c, &server, &customer, 10, 10).await?;
    report.refused_writes += refused;
    report.unclear_errors += unclear;
    report.check(
        "read-only folder: checkouts refused with 503 problem+json",
        refused == 10 && unclear == 0 && late.is_empty(),
        format!("{refused} of 10 refused, {unclear} otherwise"),
    );
    report.check(
        "read-only folder: catalog still served",
        product_readable(&c, &server, "produto-do-disco").await,
        "",
    );
    let status = server.stop().await?;
    report.check(
        "read-only folder: clean exit on SIGTERM",
        status.success(),
        format!("{status}"),
    );
    fs.remount("rw")?;

    // Nothing corrupt, nothing lost.
    let db = data_dir.join("vitrine.db");
    let verdict: String =
        rusqlite::Connection::open(&db)?.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    report.check("SQLite integrity_check", verdict == "ok", verdict);
    let mut server = v.start("disk-after", NO_SEED).await?;
    let orders = api::all_orders(&c, &server, &admin).await?;
    let missing = acked.iter().filter(|id| !orders.contains_key(*id)).count();
    report.check(
        "every acknowledged order survived",
        missing == 0,
        format!("{} acknowledged, {missing} missing", acked.len()),
    );
    let sold: i64 = orders
        .values()
        .filter(|o| api::holds_stock(&o.status))
        .map(|o| o.units)
        .sum();
    let available = api::stock(&c, &server, &admin, SKU).await?;
    report.check(
        "stock equals initial minus sold",
        available == 10_000 - sold,
        format!("{available} available, {sold} sold"),
    );
    server.stop().await?;
    drop(fs);
    Ok(report)
}
