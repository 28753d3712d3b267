#!/usr/bin/env bash
# Issue 7's report acceptance: `vitrine report` over 10 thousand and 1 million generated orders,
# with its peak memory (maximum resident set size, from GNU time) and its totals compared with a
# direct SQL sum over the same SQLite file. Release build; everything in a temporary folder.
#
#   SIZES="10000 1000000" NO_BUILD=1 bash bench/report-memory.sh
# Needs /usr/bin/time (Debian: time) and sqlite3 (Debian: sqlite3).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000 1000000"}
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release --locked -p vitrine --bin vitrine -p vitrine-bench --bin report_gen
fi
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/vitrine-report.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '%-10s %-12s %-14s %-12s %-16s %-16s %s\n' orders generate_s report_s peak_rss_mb report_revenue sql_revenue equal
for n in $SIZES; do
  dir=$tmp/data-$n
  g0=$(date +%s.%N)
  target/release/report_gen --data-dir "$dir" --orders "$n" > "$tmp/gen-$n.txt" 2> "$tmp/gen-$n.log"
  g1=$(date +%s.%N)
  /usr/bin/time -v target/release/vitrine --data-dir "$dir" --argon2-memory-kib 64 report \
    > "$tmp/report-$n.txt" 2> "$tmp/time-$n.txt"
  g2=$(date +%s.%N)
  rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time-$n.txt")
  line=$(grep '^Sales report:' "$tmp/report-$n.txt")
  report_orders=$(sed -E 's/^Sales report: ([0-9]+) orders.*/\1/' <<< "$line")
  report_revenue=$(sed -E 's/^Sales report: [0-9]+ orders, R\$ ([0-9.]+) .*/\1/' <<< "$line" | tr -d .)
  read -r sql_orders sql_revenue < <(sqlite3 -separator ' ' "$dir/vitrine.db" \
    "SELECT count(*), sum(json_extract(json_extract(attrs, '\$.data.s'), '\$.total')) FROM items
     WHERE gsi2pk IN ('STATUS#paid', 'STATUS#invoiced', 'STATUS#shipped', 'STATUS#delivered')")
  equal=no
  [ "$report_orders" = "$sql_orders" ] && [ "$((10#$report_revenue))" = "$sql_revenue" ] && equal=yes
  printf '%-10s %-12.1f %-14.1f %-12.1f %-16s %-16s %s (%s / %s orders)\n' "$n" \
    "$(echo "$g1 - $g0" | bc)" "$(echo "$g2 - $g1" | bc)" "$(echo "$rss_kb / 1024" | bc -l)" \
    "$report_revenue" "$sql_revenue" "$equal" "$report_orders" "$sql_orders"
  [ "$equal" = yes ] || { echo "MISMATCH"; exit 1; }
done
