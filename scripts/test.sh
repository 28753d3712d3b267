#!/usr/bin/env bash
# Runs every test of vitrine on a fresh machine: installs what the tests need, then formatting,
# lints, and the whole test suite. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
cargo --version
rustc --version
rustup component list --installed 2>/dev/null | grep -E '^(rustfmt|clippy)' || true

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (cargo test)"
cargo test --workspace --locked --no-fail-fast

step "done"
