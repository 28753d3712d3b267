//! A real SMTP server for tests of the SMTP mailer: `aiosmtpd` (Python) on `127.0.0.1`, saving
//! every message it accepts into a Maildir folder that tests read back.
//!
//! `scripts/test.sh` installs aiosmtpd into `.venv/` beside moto. Each [`start`] spawns one server
//! (`python -m aiosmtpd -n -l 127.0.0.1:PORT -c aiosmtpd.handlers.Mailbox DIR`) on a free port
//! with its own folder, watched by a small shell loop that stops it, and removes the folder, once
//! the test process exits (as `crate::moto` does). `VITRINE_TEST_PYTHON` names another Python that
//! has aiosmtpd.
//!
//! The server accepts every sender and recipient, offers no TLS and no AUTH: it checks what the
//! client sends, not how a provider would judge it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::mail::{ReceivedMail, in_sending_order, parse_mail};

/// One running aiosmtpd.
#[derive(Debug)]
pub struct SmtpServer {
    pub port: u16,
    /// The Maildir the server delivers into (messages land in `new/`).
    pub dir: PathBuf,
}

impl SmtpServer {
    /// `smtp://127.0.0.1:PORT`, plain SMTP without authentication.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in sending order (see `crate::mail`). Each carries the
    /// headers aiosmtpd adds: `x-peer`, `x-mailfrom` and `x-rcptto` (the envelope).
    pub fn received(&self) -> Vec<ReceivedMail> {
        read_maildir(&self.dir)
    }

    /// Wait up to `timeout` for at least `count` messages (delivery is done before the server
    /// answers the client's final `.`, so this rarely waits).
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() >= deadline {
                return received;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Start a new SMTP server with an empty Maildir.
pub fn start() -> SmtpServer {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let python = std::env::var("VITRINE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv/bin/python"));
    let installed = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "the SMTP test server is not installed: run `bash scripts/test.sh` once (it installs \
         aiosmtpd into .venv/), or set VITRINE_TEST_PYTHON to a Python that has aiosmtpd"
    );
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("vitrine-smtp-{}-{n}", std::process::id()));
    // aiosmtpd makes the Maildir (with `new/`, `cur/`, `tmp/`) only when the folder is missing.
    let _ = std::fs::remove_dir_all(&dir);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    // The watchdog: run the server in the background, stop it and remove its folder once our
    // process is gone. `-n`: do not try to drop privileges to `nobody`.
    let script = format!(
        "'{python}' -m aiosmtpd -n -l 127.0.0.1:{port} -c aiosmtpd.handlers.Mailbox '{dir}' \
         >/dev/null 2>&1 & s=$!; while kill -0 {me} 2>/dev/null; do sleep 1; done; kill $s; \
         rm -rf '{dir}'",
        python = python.display(),
        dir = dir.display(),
        me = std::process::id()
    );
    #[expect(
        clippy::zombie_processes,
        reason = "the watchdog shell outlives this process by design and is reaped by init"
    )]
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting aiosmtpd");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if greets(port) {
            return SmtpServer { port, dir };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("aiosmtpd did not start on port {port} within 30 s");
}

/// Whether an aiosmtpd answers on `port` with its greeting (`220 <host> Python SMTP …`): a bare
/// TCP connect would also succeed against anything else that took the port meanwhile (another
/// test's listener), and a test would then send to a server that is not its own.
fn greets(port: u16) -> bool {
    use std::io::Read as _;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut greeting = Vec::new();
    let mut buf = [0u8; 256];
    while !greeting.contains(&b'\n') {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => greeting.extend_from_slice(&buf[..n]),
        }
    }
    let greeting = String::from_utf8_lossy(&greeting);
    let _ = std::io::Write::write_all(&mut stream, b"QUIT\r\n");
    greeting.starts_with("220 ") && greeting.contains("Python SMTP")
}

/// Every message of a Maildir (`new/` and `cur/`), in sending order. Messages are moved into
/// `new/` whole, by rename, so a message is never read half-written.
pub fn read_maildir(dir: &Path) -> Vec<ReceivedMail> {
    let mut mails = Vec::new();
    for sub in ["new", "cur"] {
        let entries = match std::fs::read_dir(dir.join(sub)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot list the Maildir {}: {e}", dir.display()),
        };
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot list the Maildir {}: {e}", dir.display()))
                .path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
            {
                continue;
            }
            let raw = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            mails.push(parse_mail(&raw, &path));
        }
    }
    in_sending_order(mails)
}
