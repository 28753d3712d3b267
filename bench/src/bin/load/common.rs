//! What the scenarios share: the run's options, the summary file, and the bench accounts
//! (created with the `vitrine` binary, signed in over the API).

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail, ensure};
use clap::Args;
use serde_json::{Value, json};

#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// Connections, each with one request in flight.
    #[arg(short = 'c', long, default_value_t = 64, global = true)]
    pub(crate) connections: usize,
    /// Measured seconds (after the warm-up).
    #[arg(short = 'd', long, default_value_t = 10.0, global = true)]
    pub(crate) duration: f64,
    /// Warm-up seconds: requests are sent but not measured.
    #[arg(short = 'w', long, default_value_t = 3.0, global = true)]
    pub(crate) warmup: f64,
    /// Client runtime worker threads.
    #[arg(short = 't', long, default_value_t = 2, global = true)]
    pub(crate) threads: usize,
    /// Also write the results as `key=value` lines (shell-sourceable) to this file.
    #[arg(long, global = true)]
    pub(crate) summary: Option<PathBuf>,
    /// The server's process id: report the CPU it used during the measured period.
    #[arg(long, global = true)]
    pub(crate) server_pid: Option<u32>,
}

impl RunArgs {
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} connections, {} client threads, warm-up {} s, measured {} s",
            self.connections, self.threads, self.warmup, self.duration
        )
    }
}

pub(crate) fn write_summary(run: &RunArgs, summary: &str) -> anyhow::Result<()> {
    if let Some(path) = &run.summary {
        std::fs::write(path, summary).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

pub(crate) const PASSWORD: &str = "bench-senha-forte-123";
pub(crate) const ADMIN_EMAIL: &str = "bench-admin@bench.test";

pub(crate) fn customer_email(i: usize) -> String {
    format!("bench-{i}@bench.test")
}

/// The admin and `customers` customers, through the command line (a confirmed account needs no
/// e-mail round trip), four at a time.
pub(crate) async fn create_users(
    vitrine: &PathBuf,
    data_dir: &PathBuf,
    customers: usize,
) -> anyhow::Result<()> {
    let mut users: Vec<(String, bool)> = vec![(ADMIN_EMAIL.to_owned(), true)];
    users.extend((0..customers).map(|i| (customer_email(i), false)));
    for chunk in users.chunks(4) {
        let running: Vec<_> = chunk
            .iter()
            .map(|(email, admin)| tokio::spawn(create_user(vitrine, data_dir, email, *admin)))
            .collect();
        for r in running {
            r.await??;
        }
    }
    Ok(())
}

/// `vitrine user create` on the data folder (or the backend the `VITRINE_*` environment names),
/// through vitrine-testkit's process harness (on a
/// blocking thread, so that a few run at once).
#[allow(clippy::ptr_arg)] // The paths of the command line, as the callers hold them.
fn create_user(
    vitrine: &PathBuf,
    data_dir: &PathBuf,
    email: &str,
    admin: bool,
) -> impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static {
    let mut command = vitrine_testkit::process::Vitrine::new(vitrine)
        .data_dir(data_dir)
        // Cheap hashes: the benchmark measures checkout, not sign-in.
        .args(["--argon2-memory-kib", "64"]);
    // The harness starts the command without the caller's `VITRINE_*` settings; the bench hands
    // its own on, so that `VITRINE_BACKEND=aws` and the stack's names (bench/journey.sh with
    // SHAPE=aws) create the users in the user pool instead of the data folder.
    for (name, value) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VITRINE_") {
            command = command.env(name, value);
        }
    }
    let mut args = vec![
        "user".to_owned(),
        "create".to_owned(),
        "--email".to_owned(),
        email.to_owned(),
        "--name".to_owned(),
        "Bench Customer".to_owned(),
        "--password-stdin".to_owned(),
    ];
    if admin {
        args.push("--admin".to_owned());
    }
    let email = email.to_owned();
    async move {
        tokio::task::spawn_blocking(move || {
            let out = command
                .run_with_stdin(&args, &format!("{PASSWORD}\n"))
                .context("running vitrine user create")?;
            if !out.status.success() {
                bail!(
                    "vitrine user create {email}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Ok(())
        })
        .await?
    }
}

pub(crate) async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    email: &str,
) -> anyhow::Result<String> {
    let res = http
        .post(format!("{base}/api/v1/auth/sign-in"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await?;
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    ensure!(status.is_success(), "sign-in of {email}: {status} {body}");
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("sign-in of {email}: no access_token in {body}"))
}
