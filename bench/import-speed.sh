#!/usr/bin/env bash
# Import speed (issue 19, docs/benchmarks.md "Import speed"): `vitrine import` of a generated
# file of N products into a fresh data folder, per size: products and rows per second, and the
# command's peak resident memory. The file comes from `catalog_gen --csv` (the products of the
# catalog scale benchmark: 1-3 variants each, no categories).
#
#   SIZES="10000 100000" NO_BUILD=1 bash bench/import-speed.sh
# Settings: SIZES, NO_BUILD=1, KEEP=1 (keep the folder), BENCH_TMP=DIR, VITRINE=path (another
# vitrine binary to measure, e.g. an older build).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZES=${SIZES:-"10000 100000"}
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -p vitrine --bin vitrine -p vitrine-bench --bin catalog_gen
fi
BIN=$ROOT/target/release
VITRINE=${VITRINE:-$BIN/vitrine}
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package: time)" >&2; exit 2; }
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/vitrine-import.XXXXXX")
cleanup() { [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT

echo "| products | rows | seconds | products/s | rows/s | peak RSS |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in $SIZES; do
  file=$tmp/catalog-$n.csv
  "$BIN/catalog_gen" --products "$n" --csv "$file" >/dev/null
  rows=$(( $(wc -l <"$file") - 1 ))
  data=$tmp/data-$n
  # The data folder is created by the import itself.
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$tmp/rss-$n" "$VITRINE" --data-dir "$data" --no-seed import "$file" \
    >"$tmp/import-$n.out" 2>"$tmp/import-$n.err" \
    || { echo "import of $n failed:" >&2; cat "$tmp/import-$n.out" "$tmp/import-$n.err" >&2; exit 1; }
  end=$(date +%s.%N)
  grep -q "Imported $n products" "$tmp/import-$n.out" \
    || { echo "not every product imported:" >&2; cat "$tmp/import-$n.out" >&2; exit 1; }
  awk -v n="$n" -v r="$rows" -v s="$start" -v e="$end" -v k="$(cat "$tmp/rss-$n")" \
    'BEGIN { t = e - s; printf "| %d | %d | %.1f | %.0f | %.0f | %.0f MB |\n", n, r, t, n / t, r / t, k / 1024 }'
done
