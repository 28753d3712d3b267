//! The `vitrine` command's library: settings, the local composition root, and the subcommands'
//! work (serve, seed, import, backup). `main.rs` only parses arguments and calls in here; integration
//! tests build the store the same way.

pub mod backup;
pub mod compose;
pub mod config;
pub mod fiscal;
pub mod import;
pub mod log_writer;
pub mod private;
pub mod publish;
pub mod report;
pub mod seed;
pub mod serve;
