//! The real `vitrine` binary as a child process: its CLI run to the end, or `vitrine serve`
//! started on 127.0.0.1, waited for, stopped by SIGTERM or killed by SIGKILL, its output kept in
//! files. Every test and tool that starts the binary does it through here.
//!
//! The caller names the binary (`env!("CARGO_BIN_EXE_vitrine")` in a test of the `vitrine`
//! crate, a flag in the hardening tool): this crate does not depend on it.
//!
//! Every wait is a bounded loop; nothing here depends on how long something took.
//!
//! ```text
//! let v = Vitrine::on_data_dir(env!("CARGO_BIN_EXE_vitrine"), &data).logs(dir.path());
//! v.add_user("dona@loja.test", "Dona", true)?;
//! let mut server = v.start("first", &["--no-seed"]).await?;
//! let status = server.stop().await?;
//! ```

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

/// The public URL of [`Vitrine::on_data_dir`]: fixed, so tokens (whose issuer is the public
/// URL) stay valid when a restart listens on another port.
pub const PUBLIC_URL: &str = "http://vitrine.test";
/// The password of the users [`Vitrine::create_user`] makes.
pub const PASSWORD: &str = "senha-forte-123";

/// How often, and how many times, a wait polls: 1200 × 50 ms, one minute.
const POLLS: usize = 1200;
const POLL: Duration = Duration::from_millis(50);
/// Ports tried by [`Vitrine::start`] before it gives up.
const PORT_ATTEMPTS: usize = 5;

/// How to run `vitrine`: the program, the arguments and variables every run gets, the working
/// folder, and where servers write their output.
#[derive(Debug, Clone)]
pub struct Vitrine {
    bin: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    logs: PathBuf,
}

impl Vitrine {
    /// The bare command: no argument, no `VITRINE_*` variable inherited from the caller.
    /// Server output goes to the system's temporary folder until [`Vitrine::logs`] says where.
    pub fn new(bin: impl Into<PathBuf>) -> Self {
        Self {
            bin: bin.into(),
            args: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            data_dir: None,
            logs: std::env::temp_dir(),
        }
    }

    /// What tests of a running store use: `--data-dir`, cheap password hashes, the fixed
    /// [`PUBLIC_URL`] and no per-client rate limit (all load comes from one address).
    pub fn on_data_dir(bin: impl Into<PathBuf>, data_dir: &Path) -> Self {
        Self::new(bin).data_dir(data_dir).args([
            "--argon2-memory-kib",
            "64",
            "--public-url",
            PUBLIC_URL,
            "--rate-limit-per-minute",
            "0",
        ])
    }

    /// `--data-dir DIR` on every run.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.args.push("--data-dir".into());
        self.args.push(dir.into());
        self.data_dir = Some(dir.to_path_buf());
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// A variable set on every run (after the inherited `VITRINE_*` ones are cleared).
    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The working folder of every run.
    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    /// Where servers write their output, one `.stdout` and one `.stderr` file per start.
    pub fn logs(mut self, dir: &Path) -> Self {
        self.logs = dir.to_path_buf();
        self
    }

    /// The data folder given to [`Vitrine::data_dir`].
    pub fn data(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The command with everything every run gets; standard input is empty.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("VITRINE_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.args(&self.args).stdin(Stdio::null());
        cmd
    }

    /// Run a CLI command to its end.
    pub fn run<I, S>(&self, args: I) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run(self.command().args(args))
    }

    /// Run a CLI command to its end with `input` on its standard input.
    pub fn run_with_stdin<I, S>(&self, args: I, input: &str) -> anyhow::Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_with_stdin(self.command().args(args), input)
    }

    /// `user create` (an admin when `admin`) with [`PASSWORD`] on standard input: what the
    /// command answered, whether it succeeded or not.
    pub fn create_user(&self, email: &str, name: &str, admin: bool) -> anyhow::Result<Output> {
        let mut args = vec!["user", "create", "--email", email, "--name", name];
        if admin {
            args.push("--admin");
        }
        args.push("--password-stdin");
        self.run_with_stdin(args, &format!("{PASSWORD}\n"))
    }

    /// [`Vitrine::create_user`], an error when the command fails.
    pub fn add_user(&self, email: &str, name: &str, admin: bool) -> anyhow::Result<()> {
        let out = self.create_user(email, name, admin)?;
        if !out.status.success() {
            bail!(
                "user create {email}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Start `vitrine [--listen 127.0.0.1:PORT] FLAGS serve` and wait until it printed its
    /// address and answers `/health`. Output goes to `{name}-{attempt}.stdout` / `.stderr` in
    /// the logs folder. A port lost to another process between choosing and binding it is
    /// retried on another.
    pub async fn start(&self, name: &str, flags: &[&str]) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&self.logs)
            .with_context(|| format!("creating {}", self.logs.display()))?;
        for attempt in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let stdout = self.logs.join(format!("{name}-{attempt}.stdout"));
            let stderr = self.logs.join(format!("{name}-{attempt}.stderr"));
            let child = self
                .command()
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(flags)
                .arg("serve")
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
        bail!("the server found no free port in {PORT_ATTEMPTS} attempts")
    }
}

/// Run `cmd` to its end.
pub fn run(cmd: &mut Command) -> anyhow::Result<Output> {
    cmd.output()
        .with_context(|| format!("running {:?}", cmd.get_program()))
}

/// Run `cmd` to its end with `input` on its standard input.
pub fn run_with_stdin(cmd: &mut Command, input: &str) -> anyhow::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

/// A port that was free a moment ago (a lost race is retried by [`Vitrine::start`]).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The high-water mark of process `pid`'s resident memory, in KiB (`VmHWM` of
/// `/proc/{pid}/status`; Linux).
pub fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmHWM in /proc/{pid}/status"))
}

/// An HTTP client whose timeout only bounds a request that would otherwise hang.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(32)
        .build()
        .expect("an HTTP client builds")
}

/// A running `vitrine serve`; killed (SIGKILL) on drop if still running.
pub struct Server {
    child: Child,
    port: u16,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Server {
    /// True once the server printed its address (it binds first) and answers `/health`; false
    /// when it exited because the port was taken; an error on any other exit.
    async fn wait_listening(&mut self) -> anyhow::Result<bool> {
        let line = format!("vitrine is running at {}/", self.base);
        let client = reqwest::Client::new();
        for _ in 0..POLLS {
            if let Some(status) = self.child.try_wait()? {
                let err = self.log();
                if err.contains("listening on") {
                    return Ok(false);
                }
                bail!("the server exited with {status} before listening:\n{err}");
            }
            if self.out().contains(&line) {
                let health = client
                    .get(self.url("/health"))
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                if health.is_ok_and(|r| r.status() == 200) {
                    return Ok(true);
                }
            }
            tokio::time::sleep(POLL).await;
        }
        bail!("the server did not start listening within {POLLS} polls")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the server wrote to stdout so far.
    pub fn out(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// What the server wrote to stderr (its log) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn stdout_path(&self) -> &Path {
        &self.stdout
    }

    pub fn stderr_path(&self) -> &Path {
        &self.stderr
    }

    /// The exit status, when the process has exited.
    pub fn try_exit(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// SIGKILL, and reap the process.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Send SIGTERM (through the `kill` command: the workspace forbids `unsafe`).
    pub fn terminate(&self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        Ok(())
    }

    /// Wait (bounded) for the process to exit on its own.
    pub async fn wait_exit(&mut self) -> anyhow::Result<ExitStatus> {
        for _ in 0..POLLS {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            tokio::time::sleep(POLL).await;
        }
        bail!("the server did not exit within {POLLS} polls")
    }

    /// SIGTERM, then wait (bounded) for the exit. Its output stays readable.
    pub async fn stop(&mut self) -> anyhow::Result<ExitStatus> {
        self.terminate()?;
        self.wait_exit()
            .await
            .context("stopping the server with SIGTERM")
    }

    /// Wait (bounded) until the server's log holds `text`.
    pub async fn wait_log(&self, text: &str) -> anyhow::Result<()> {
        for _ in 0..POLLS {
            if self.log().contains(text) {
                return Ok(());
            }
            tokio::time::sleep(POLL).await;
        }
        bail!("the server never logged {text:?}")
    }

    /// Sign in with [`PASSWORD`]: the whole token answer; an error on any status but 200.
    pub async fn sign_in(&self, c: &reqwest::Client, email: &str) -> anyhow::Result<Value> {
        let res = c
            .post(self.url("/api/v1/auth/sign-in"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await?;
        if status != 200 {
            bail!("sign-in of {email}: {status} {body}");
        }
        Ok(body)
    }

    /// Every order of the store, in every status, through the admin API (every page): the
    /// orders as the API answers them.
    pub async fn admin_orders(
        &self,
        c: &reqwest::Client,
        admin: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        for status in ORDER_STATUSES {
            let mut after: Option<String> = None;
            // Bounded: 10 000 pages of 100 is far more than any run here places.
            for _ in 0..10_000 {
                let mut query = BTreeMap::from([("status", status), ("limit", "100")]);
                if let Some(a) = &after {
                    query.insert("after", a.as_str());
                }
                let res = c
                    .get(self.url("/api/v1/admin/orders"))
                    .query(&query)
                    .bearer_auth(admin)
                    .send()
                    .await?;
                if res.status() != 200 {
                    bail!("listing {status} orders: {}", res.status());
                }
                let body: Value = res.json().await?;
                out.extend(body["items"].as_array().into_iter().flatten().cloned());
                match body["next"].as_str() {
                    Some(n) => after = Some(n.to_owned()),
                    None => break,
                }
            }
        }
        Ok(out)
    }
}

/// Every order status, as the API spells it.
pub const ORDER_STATUSES: [&str; 8] = [
    "pending_payment",
    "paid",
    "invoiced",
    "shipped",
    "delivered",
    "cancelled",
    "expired",
    "payment_failed",
];

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
