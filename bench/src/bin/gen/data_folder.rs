//! The generators' one way in: the application on a data folder, through the local composition
//! root, with cheap password hashes (the generators create no users).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use vitrine::config::{Config, Flags};
use vitrine_app::App;

/// The application on `dir` (created when missing).
pub fn open(dir: &Path) -> anyhow::Result<Arc<App>> {
    let config = Config::resolve(&Flags {
        data_dir: Some(dir.to_path_buf()),
        argon2_memory_kib: Some(64),
        ..Flags::default()
    })?;
    let store = vitrine::compose::build_default(&config).context("opening the data folder")?;
    Ok(store.app)
}
