#!/usr/bin/env bash
# Runs every test of vitrine on a fresh machine: installs what the tests need (the AWS emulator,
# cfn-lint, the SAM translator and the aiosmtpd SMTP test server into .venv/), then formatting,
# the module-circle check (scripts/check-modules.sh), lints, and the whole test suite, two test
# binaries at a time, each lane with its own local emulator on 127.0.0.1 (scripts/run-tests.py;
# the SMTP tests start their own aiosmtpd from .venv/, see crates/vitrine-testkit/src/smtp.rs),
# then the browser tests (e2e/: Debian's chromium from apt
# when missing, playwright-core and axe-core from npm) on `vitrine serve` and again on the AWS
# shape (infra/template.yaml run whole by the template runner, aws-runner, on the emulator),
# then the hardening run
# (crates/vitrine-hardening: faults, forged tokens, abuse, schemathesis from .venv/; it mounts a tmpfs,
# so it runs as root, as CI does) and its summary table. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p target

started=$(date +%s)
step() { printf '\n==> [%4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

step "toolchain"
cargo --version
rustc --version

# System packages, installed in the background while Rust compiles, only when missing (apt-get
# needs root, as on CI; one apt job, since two would fight over the dpkg lock): xmllint and
# xmlsec1 check every generated NF-e (vitrine-nfe's acceptance tests fail under CI without
# them), poppler-utils and zbar-tools read the DANFE PDF back and scan its barcode
# (vitrine-nfe's tests/danfe.rs), chromium runs the browser tests. Then the browser tests' npm
# packages.
step "installing xmllint, xmlsec1, poppler-utils, zbar-tools, chromium and the e2e npm packages when missing (background)"
(
  missing=()
  command -v xmllint >/dev/null || missing+=(libxml2-utils)
  command -v xmlsec1 >/dev/null || missing+=(xmlsec1)
  command -v pdftotext >/dev/null || missing+=(poppler-utils)
  command -v zbarimg >/dev/null || missing+=(zbar-tools)
  command -v chromium >/dev/null || missing+=(chromium)
  if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
  fi
) > target/system-install.log 2>&1 &
system_pid=$!
npm ci --prefix e2e --no-audit --no-fund --loglevel=error > target/npm-install.log 2>&1 &
npm_pid=$!

# Python tools install in the background while Rust compiles.
step "installing the AWS emulator (moto), cfn-lint, aiosmtpd and schemathesis into .venv (background)"
(
  set -e
  if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/cfn-lint ] || [ ! -x .venv/bin/schemathesis ] \
     || ! .venv/bin/python -c 'import samtranslator, aiosmtpd' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check \
      'moto[server]>=5.1,<6' 'cfn-lint>=1,<2' 'aws-sam-translator>=1.90,<2' 'aiosmtpd>=1.4,<2' \
      'schemathesis>=4.32,<5'
  fi
) > target/venv-install.log 2>&1 &
venv_pid=$!

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "module circles: no two modules of a crate import each other (scripts/check-modules.sh)"
bash scripts/check-modules.sh

# Lints and the build in one compilation: the workspace's crates are compiled by clippy's driver
# (what `cargo clippy` runs as the compiler, here with code generation), so every target of
# every crate is linted exactly as `cargo clippy --workspace --all-targets --all-features --
# -D warnings` lints it, without a second compilation of the workspace and of its ~400
# dependencies in check mode (about 6 minutes of a 2-core run). Every later cargo command below
# runs with the same two variables, so nothing is compiled again; a plain `cargo test` afterwards
# recompiles the workspace's crates (not the dependencies) once.
clippy_driver="$(rustc --print sysroot)/bin/clippy-driver"
if [ ! -x "$clippy_driver" ]; then
  echo "clippy is not installed for this toolchain (rustup component add clippy)" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# A fresh clone gains nothing from incremental compilation's caches: CI builds without them.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step "lints (clippy -D warnings) while building the tests, and the binaries they run (vitrine, the Lambda functions, aws-runner)"
cargo test --workspace --all-targets --all-features --locked --no-run
cargo build --workspace --all-features --locked --bins

step "waiting for the Python tools"
if ! wait "$venv_pid"; then
  cat target/venv-install.log
  echo "installing moto/cfn-lint/aiosmtpd failed" >&2
  exit 1
fi

step "infrastructure template (cfn-lint and our own checks)"
bash scripts/check-infra.sh

step "waiting for xmllint, xmlsec1, poppler-utils, zbar-tools and chromium"
if ! wait "$system_pid"; then
  cat target/system-install.log
  echo "installing libxml2-utils/xmlsec1/poppler-utils/zbar-tools/chromium failed" >&2
  exit 1
fi

# The test binaries cargo built above, two at a time (scripts/run-tests.py: most of them wait
# on servers more than they compute), each of the two lanes with its own AWS emulator on
# 127.0.0.1; the API tests run again on the AWS backend against the emulator.
step "tests: every test binary of the workspace in two lanes, then the API tests again on the AWS backend"
python3 scripts/run-tests.py --lanes 2 --again VITRINE_TEST_BACKEND=aws:checkout,access,validation,catalog,admin_search,returns,abandoned_carts

step "browser tests: storefront and admin in headless Chromium, payments through the providers' fakes (e2e/, node --test)"
if ! wait "$npm_pid"; then
  cat target/npm-install.log
  echo "npm ci (e2e) failed" >&2
  exit 1
fi
# Two files at once: each starts its own server and browser.
VITRINE_BIN="$root/target/debug/vitrine" node --test --test-concurrency=2 e2e/

step "browser tests on the AWS shape: the template run by aws-runner on the emulator, through its CloudFront address"
# Each file starts its own emulator (e2e/lib/aws.js): a fresh one, whose state dump (what SES
# sent, read while waiting for a mailed code) stays small. One file at a time: with two at once,
# a card payment in payments.test.js once stayed unpaid for 30 s (not yet explained).
VITRINE_E2E_SHAPE=aws VITRINE_BIN="$root/target/debug/vitrine" node --test \
  e2e/journey.test.js e2e/shopper.test.js e2e/search.test.js e2e/account.test.js e2e/admin.test.js e2e/admin-search.test.js e2e/shop-look.test.js e2e/privacy.test.js e2e/payments.test.js e2e/fiscal.test.js e2e/pages.test.js

step "hardening: SIGKILL rounds, full disk, read-only folder, forged tokens, abuse, schemathesis (summary)"
umount "$root/target/hardening/disk-mnt" 2>/dev/null || true
rm -rf "$root/target/hardening"
# The binary built above, run directly (`cargo run -p …` would resolve features for that one
# package and compile dependencies again).
"$root/target/debug/hardening" \
  --vitrine "$root/target/debug/vitrine" --schemathesis "$root/.venv/bin/schemathesis" \
  --require-all --work "$root/target/hardening"

step "done"
