#!/usr/bin/env bash
# Builds every binary of crates/vitrine-lambda (one per Lambda function; `api` first of all) for
# the provided.al2023 runtime with cargo-lambda, in release mode:
#
#   target/lambda/<bin>/bootstrap   what infra/template.yaml's CodeUri points at (SAM zips it)
#   target/lambda/<bin>.zip         the same, zipped, for `aws lambda update-function-code`
#
# Usage: scripts/build-lambdas.sh [--x86-64 | --arm64] [-- extra cargo-lambda build flags]
#   --x86-64  (default) for Architecture=x86_64
#   --arm64   for Architecture=arm64, the template's default (Graviton, cheaper). Needs the
#             aarch64-unknown-linux-gnu Rust target: `rustup target add aarch64-unknown-linux-gnu`.
#   Deploy with the same Architecture as the build (sam deploy --parameter-overrides
#   Architecture=...), or the function fails at start with an exec format error.
#
# cargo-lambda comes from PyPI into .venv/ (with zig, its cross-linker) when it is not installed;
# builds for x86_64 then work offline. Idempotent: cargo rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=x86-64
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --x86-64 | --x86_64) arch=x86-64 ;;
    --arm64 | --aarch64) arch=arm64 ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "build-lambdas: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

case "$arch" in
  x86-64) target=x86_64-unknown-linux-gnu; template_arch=x86_64 ;;
  arm64) target=aarch64-unknown-linux-gnu; template_arch=arm64 ;;
esac

if command -v rustup > /dev/null && ! rustup target list --installed | grep -qx "$target"; then
  if [ "$arch" = arm64 ]; then
    echo "build-lambdas: the Rust target $target is not installed." >&2
    echo "  Install it with: rustup target add $target" >&2
    echo "  (or build with --x86-64 and deploy with Architecture=x86_64)" >&2
    exit 1
  fi
fi

# cargo-lambda: on PATH already, or in .venv/bin (with its zig).
if ! command -v cargo-lambda > /dev/null && [ ! -x .venv/bin/cargo-lambda ]; then
  echo "==> installing cargo-lambda into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check 'cargo-lambda>=1.9,<2'
fi
if [ -x .venv/bin/cargo-lambda ]; then
  # .venv/bin first: cargo finds `cargo-lambda` there, and cargo-lambda finds zig through the
  # venv's python (the ziglang package).
  export PATH="$PWD/.venv/bin:$PATH"
fi

# The binaries, from Cargo's own view of the crate ([[bin]] entries and src/bin/).
bins=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
meta = json.load(sys.stdin)
pkg = next(p for p in meta["packages"] if p["name"] == "vitrine-lambda")
print(" ".join(sorted(t["name"] for t in pkg["targets"] if "bin" in t["kind"])))
')
if [ -z "$bins" ]; then
  echo "build-lambdas: crates/vitrine-lambda has no binaries" >&2
  exit 1
fi
bin_flags=()
for b in $bins; do bin_flags+=(--bin "$b"); done

echo "==> cargo lambda build --release --$arch -p vitrine-lambda ${bin_flags[*]} ${extra[*]:-}"
cargo lambda build --release "--$arch" --package vitrine-lambda "${bin_flags[@]}" "${extra[@]}"

# The workspace's release profile keeps line tables (backtraces of the local server); in a Lambda
# they only make the package ~4x bigger and the cold start slower. Strip the debug info, keep the
# symbols (a panic still names its functions), with the first strip tool that reads this
# architecture.
strip_debug() {
  local tool
  for tool in llvm-strip "${target%%-unknown-*}-linux-gnu-strip" strip; do
    if command -v "$tool" > /dev/null && "$tool" --strip-debug -o "$1.stripped" "$1" 2> /dev/null; then
      mv "$1.stripped" "$1"
      return 0
    fi
  done
  rm -f "$1.stripped"
  return 1
}

echo "==> outputs (Architecture=$template_arch)"
for b in $bins; do
  boot="target/lambda/$b/bootstrap"
  if [ ! -f "$boot" ]; then
    echo "build-lambdas: $boot is missing after the build" >&2
    exit 1
  fi
  strip_debug "$boot" || echo "  ($b: no strip tool reads $target binaries here; debug info kept)"
  # The zip sits next to the folder, not in it: SAM zips the CodeUri folder as it is.
  python3 - "$boot" "target/lambda/$b.zip" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16  # an executable regular file
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dst, "w") as z:
    z.writestr(info, f.read())
PY
  printf '  %-12s %s (%s bytes)  %s (%s bytes)\n' "$b" "$boot" "$(wc -c < "$boot" | tr -d ' ')" \
    "target/lambda/$b.zip" "$(wc -c < "target/lambda/$b.zip" | tr -d ' ')"
done
echo "Deploy with Architecture=$template_arch (see docs/deploy.md)."
