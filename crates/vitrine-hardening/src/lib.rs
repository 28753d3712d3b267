//! The hardening run: faults, hostile input and attacks against the real `vitrine` binary on
//! 127.0.0.1, summed up in one table (`hardening`, run by `scripts/test.sh`).
//!
//! - [`faults`]: SIGKILL under mixed load, round after round, and what survived.
//! - [`disk`]: a full disk and a read-only data folder.
//! - [`attacks`]: forged tokens.
//! - [`abuse`]: the store's own features turned on someone (issue 18), attack by attack.
//! - [`fuzz`]: schemathesis against the OpenAPI document.
//!
//! Each part starts its own server on its own data folder under one work folder, and reports
//! counts; `main.rs` prints them and fails when any count that must be zero is not.

pub mod abuse;
pub mod api;
pub mod attacks;
pub mod disk;
pub mod faults;
pub mod fuzz;
pub mod server;
