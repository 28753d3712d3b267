//! The real `vitrine` binary as the hardening parts run it: vitrine-testkit's process harness
//! (`vitrine_testkit::process`: started on a data folder, waited for, killed with SIGKILL or
//! stopped with SIGTERM, its CLI run on the same folder) with this run's settings.

use std::path::{Path, PathBuf};

pub use vitrine_testkit::process::{PASSWORD, Server, Vitrine, client, free_port};

/// The name of every user the parts create.
pub const USER_NAME: &str = "Pessoa Teste";
/// The flags of a server with no demo catalog.
pub const NO_SEED: &[&str] = &["--no-seed"];

/// `vitrine` on `data_dir` with the harness's test settings (cheap password hashes, the fixed
/// public URL, no per-client rate limit: all load comes from one address; no cap on unpaid
/// orders worth the name), warnings only in its log, server output in `logs`.
pub fn vitrine(bin: &Path, data_dir: &Path, logs: &Path) -> Vitrine {
    // A handful of customers place thousands of orders and leave half unpaid: far past the cap
    // on unpaid orders, which its own tests cover (crates/vitrine/tests/checkout.rs).
    Vitrine::on_data_dir(bin, data_dir)
        .env("VITRINE_LOG", "warn")
        .env("VITRINE_MAX_UNPAID_ORDERS", "1000")
        .env("VITRINE_MAX_UNPAID_UNITS", "1000000")
        .logs(logs)
}

/// The data folder's file `rel` under `keys/`.
pub fn key_file(data_dir: &Path, rel: &str) -> PathBuf {
    data_dir.join("keys").join(rel)
}
