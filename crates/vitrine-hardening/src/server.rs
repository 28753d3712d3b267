//! The real `vitrine` binary as a child process on 127.0.0.1: started on a data folder, waited
//! for, killed with SIGKILL or stopped with SIGTERM, its CLI run on the same folder.
//!
//! Every wait is a bounded loop; nothing here depends on how long something took.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// Fixed, so tokens (whose issuer is the public URL) stay valid when a restart listens on
/// another port.
pub const PUBLIC_URL: &str = "http://vitrine.test";
pub const PASSWORD: &str = "senha-forte-123";

/// How to run `vitrine` on one data folder.
#[derive(Debug, Clone)]
pub struct Vitrine {
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    /// Where server output goes, one pair of files per start.
    pub logs: PathBuf,
}

impl Vitrine {
    /// A `vitrine` command on the data folder, with no `VITRINE_*` variable inherited, cheap
    /// password hashes, the fixed public URL and no per-client rate limit (all load comes from
    /// one address).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("VITRINE_") {
                cmd.env_remove(name);
            }
        }
        cmd.env("VITRINE_LOG", "warn");
        cmd.arg("--data-dir").arg(&self.data_dir).args([
            "--argon2-memory-kib",
            "64",
            "--public-url",
            PUBLIC_URL,
            "--rate-limit-per-minute",
            "0",
        ]);
        cmd
    }

    /// Run a CLI command to its end.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.bin.display()))
    }

    /// Create a confirmed user (an admin when `admin`) with [`PASSWORD`].
    pub fn create_user(&self, email: &str, admin: bool) -> anyhow::Result<()> {
        use std::io::Write as _;
        let mut cmd = self.command();
        cmd.args(["user", "create", "--email", email, "--name", "Pessoa Teste"]);
        if admin {
            cmd.arg("--admin");
        }
        let mut child = cmd
            .arg("--password-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            writeln!(stdin, "{PASSWORD}")?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "user create {email}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Start `vitrine serve` (no demo catalog) and wait until it answers `/health`.
    pub async fn start(&self, name: &str) -> anyhow::Result<Server> {
        self.start_with(name, &["--no-seed"]).await
    }

    /// [`Vitrine::start`] with these flags instead of `--no-seed`.
    pub async fn start_with(&self, name: &str, flags: &[&str]) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&self.logs)?;
        for attempt in 0..5 {
            let port = free_port()?;
            let stdout = self.logs.join(format!("{name}-{attempt}.stdout"));
            let stderr = self.logs.join(format!("{name}-{attempt}.stderr"));
            let child = self
                .command()
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(flags)
                .arg("serve")
                .stdin(Stdio::null())
                .stdout(File::create(&stdout)?)
                .stderr(File::create(&stderr)?)
                .spawn()
                .with_context(|| format!("starting {}", self.bin.display()))?;
            let mut server = Server {
                child,
                port,
                base: format!("http://127.0.0.1:{port}"),
                stdout,
                stderr,
            };
            if server.wait_listening().await? {
                return Ok(server);
            }
        }
        bail!("the server found no free port in 5 attempts")
    }
}

/// A port that was free a moment ago (a lost race is retried by [`Vitrine::start`]).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running `vitrine serve`.
pub struct Server {
    child: Child,
    port: u16,
    pub base: String,
    stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Server {
    /// True once the server printed its address and answers `/health`; false when it exited
    /// because the port was taken; an error on any other exit.
    async fn wait_listening(&mut self) -> anyhow::Result<bool> {
        let line = format!("vitrine is running at http://127.0.0.1:{}/", self.port);
        let client = reqwest::Client::new();
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait()? {
                let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
                if err.contains("listening on") {
                    return Ok(false);
                }
                bail!("the server exited with {status} before listening:\n{err}");
            }
            if std::fs::read_to_string(&self.stdout)
                .unwrap_or_default()
                .contains(&line)
            {
                let health = client
                    .get(format!("{}/health", self.base))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                if health.is_ok_and(|r| r.status() == 200) {
                    return Ok(true);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the server did not start listening within 1200 polls")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, and reap the process.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM (through the `kill` command: the workspace forbids `unsafe`), then wait
    /// (bounded) for the exit.
    pub async fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the server did not exit within 1200 polls after SIGTERM")
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP client whose timeout only bounds a request that would otherwise hang.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(32)
        .build()
        .expect("an HTTP client builds")
}

/// The data folder's file `rel` under `keys/`.
pub fn key_file(data_dir: &Path, rel: &str) -> PathBuf {
    data_dir.join("keys").join(rel)
}
