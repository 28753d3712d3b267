#!/usr/bin/env bash
# Runs every test of vitrine on a fresh machine: installs what the tests need (the AWS emulator,
# cfn-lint, the SAM translator and the aiosmtpd SMTP test server into .venv/), then formatting,
# lints, and the whole test suite against a local emulator on 127.0.0.1 (the SMTP tests start
# their own aiosmtpd from .venv/, see crates/vitrine-testkit/src/smtp.rs), then the browser tests
# (e2e/: Debian's chromium from apt when missing, playwright-core and axe-core from npm). .ci/run
# calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mkdir -p target

started=$(date +%s)
step() { printf '\n==> [%4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

step "toolchain"
cargo --version
rustc --version

# vitrine-nfe's acceptance tests check every generated NF-e with xmllint (schema) and xmlsec1
# (signature); under CI they fail when either is missing. Installed in the background, quietly,
# only when missing (apt-get needs root, as on CI).
step "installing xmllint and xmlsec1 when missing (background)"
(
  command -v xmllint >/dev/null && command -v xmlsec1 >/dev/null || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq libxml2-utils xmlsec1
  }
) > target/xmltools-install.log 2>&1 &
xmltools_pid=$!

# Python tools install in the background while Rust compiles.
step "installing the AWS emulator (moto), cfn-lint and aiosmtpd into .venv (background)"
(
  set -e
  if [ ! -x .venv/bin/moto_server ] || [ ! -x .venv/bin/cfn-lint ] \
     || ! .venv/bin/python -c 'import samtranslator, aiosmtpd' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check \
      'moto[server]>=5.1,<6' 'cfn-lint>=1,<2' 'aws-sam-translator>=1.90,<2' 'aiosmtpd>=1.4,<2'
  fi
) > target/venv-install.log 2>&1 &
venv_pid=$!

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "building the tests"
cargo test --workspace --all-features --locked --no-run

step "waiting for the Python tools"
if ! wait "$venv_pid"; then
  cat target/venv-install.log
  echo "installing moto/cfn-lint/aiosmtpd failed" >&2
  exit 1
fi

step "infrastructure template (cfn-lint and our own checks)"
bash scripts/check-infra.sh

step "starting the AWS emulator on 127.0.0.1"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" > target/moto.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then break; fi
  sleep 0.2
done
export VITRINE_TEST_MOTO_URL="http://127.0.0.1:$port"
echo "moto at $VITRINE_TEST_MOTO_URL"

step "waiting for xmllint and xmlsec1"
if ! wait "$xmltools_pid"; then
  cat target/xmltools-install.log
  echo "installing libxml2-utils/xmlsec1 failed" >&2
  exit 1
fi

step "tests (cargo test), the API on the embedded backend"
cargo test --workspace --all-features --locked --no-fail-fast

step "the API tests again, on the AWS backend against the emulator"
VITRINE_TEST_BACKEND=aws cargo test -p vitrine --all-features --locked --no-fail-fast \
  --test checkout --test access --test validation --test catalog

step "browser tests: storefront and admin in headless Chromium (e2e/, node --test)"
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium; } \
      > target/chromium-install.log 2>&1; then
    cat target/chromium-install.log
    echo "installing chromium failed" >&2
    exit 1
  fi
fi
npm ci --prefix e2e --no-audit --no-fund --loglevel=error
cargo build --workspace --all-features --locked --bin vitrine
VITRINE_BIN="$root/target/debug/vitrine" node --test e2e/

step "done"
