#!/usr/bin/env bash
# Issue 19's catalog scale figures, per catalog size, in one run (docs/benchmarks.md):
#   - generation through the catalog writes (`catalog_gen`: products per second);
#   - `vitrine serve` on the generated folder: start to first listing, resident memory once the
#     search index is built and its peak under load;
#   - listing throughput and latency with nothing cached (catalog cache 0: every page and every
#     product read from the table, the worst case), for the whole catalog newest first and for a
#     department (its sections merged) by price;
#   - search with words: start to the search index built (in the background; every measurement
#     waits for it), memory with the index and 15 s after the load,
#     and 2,000 different searches (`load search`) from one client and from all connections;
#   - with the caches on (the default 10 s): shoppers browsing deep (`load pages`: up to 5,000
#     pages walked by their cursors, requested round-robin, so that the page cache, cleared at
#     2,000 entries, misses), and the first page over and over (the common case);
#   - a shop owner saving a product while one client lists the first page (`load edits`: 200
#     saves, 20 listings between two): the listing right after a save beside the others.
# Release build; everything in a temporary folder on 127.0.0.1, bounded in time.
#
#   SIZES="1000 100000 1000000" NO_BUILD=1 bash bench/catalog-scale.sh
# Settings: SIZES, CONNECTIONS=16, SECONDS_EACH=8, WARMUP=2, CLIENT_THREADS=1, KEEP=1 (keep the
# folder), BENCH_TMP=DIR, REUSE=DIR (measure the catalogs DIR/data-N kept by an earlier run with
# KEEP=1 instead of generating them again).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZES=${SIZES:-"1000 100000"}
CONNECTIONS=${CONNECTIONS:-16}
SECONDS_EACH=${SECONDS_EACH:-8}
WARMUP=${WARMUP:-2}
CLIENT_THREADS=${CLIENT_THREADS:-1}
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -p vitrine --bin vitrine -p vitrine-bench --bin catalog_gen --bin load
fi
BIN=$ROOT/target/release
tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/vitrine-catalog.XXXXXX")
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }

# Start `vitrine serve` on folder $1 with catalog cache $2 s; sets SERVER, BASE and START_S (the
# seconds from the start to the first 200 of a listing).
start() {
  local dir=$1 cache=$2 port_file=$tmp/port t0 t1
  rm -f "$port_file"
  t0=$(now)
  "$BIN/vitrine" serve --data-dir "$dir" --listen 127.0.0.1:0 --no-seed --catalog-cache-secs "$cache" \
    --argon2-memory-kib 64 --rate-limit-per-minute 0 > "$tmp/serve.out" 2> "$tmp/serve.err" &
  SERVER=$!
  for _ in $(seq 1 3000); do
    BASE=$(sed -nE 's#^vitrine is running at (http://[0-9.:]+)/$#\1#p' "$tmp/serve.out")
    [ -n "$BASE" ] && curl -fs -o /dev/null "$BASE/api/v1/products?limit=20" && break
    sleep 0.01
  done
  t1=$(now)
  [ -n "$BASE" ] || { cat "$tmp/serve.err" >&2; echo "the server did not start" >&2; exit 1; }
  START_S=$(echo "$t1 - $t0" | bc)
  # The server builds its search index in the background once started: measure after it.
  for _ in $(seq 1 60000); do
    grep -q "search index built" "$tmp/serve.err" && break
    sleep 0.01
  done
  grep -q "search index built" "$tmp/serve.err" || { echo "no search index after 600 s" >&2; exit 1; }
  INDEX_S=$(echo "$(now) - $t0" | bc)
}

stop() {
  kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=""
}

# One load run of scenario $1 on URL $2 (over C connections, default $CONNECTIONS): prints
# "rps p50_ms p99_ms".
measure() {
  local scenario=$1 url=$2 summary=$tmp/summary
  "$BIN/load" -c "${C:-$CONNECTIONS}" -d "$SECONDS_EACH" -w "$WARMUP" -t "$CLIENT_THREADS" \
    --summary "$summary" "$scenario" "$url" > "$tmp/load.out"
  # shellcheck disable=SC1090
  . "$summary"
  echo "$rps $p50_ms $p99_ms"
}

cols='%-9s %-10s %-8s %-8s %-8s  %-22s %-22s %-22s %-22s\n'
# shellcheck disable=SC2059
printf "$cols" products gen_per_s start_s rss_mb peak_mb "all, nothing cached" \
  "department by price," "deep pages, cached" "first page, cached"
# shellcheck disable=SC2059
printf "$cols" "" "" "" "" "" "req/s p50 p99 (ms)" "nothing cached" "req/s p50 p99 (ms)" \
  "req/s p50 p99 (ms)"
scols='%-9s %-14s %-14s %-9s %-12s  %-22s %-22s\n'
searches=()
ecols='%-9s %-26s %-26s %-12s %-22s\n'
edits=()
for n in $SIZES; do
  dir=$tmp/data-$n
  if [ -n "${REUSE:-}" ] && [ -d "$REUSE/data-$n" ]; then
    dir=$REUSE/data-$n
    rate=reused
  else
    "$BIN/catalog_gen" --data-dir "$dir" --products "$n" > "$tmp/gen-$n.txt" 2> "$tmp/gen-$n.log"
    rate=$(sed -nE 's/^per_second=//p' "$tmp/gen-$n.txt")
  fi
  start "$dir" 0
  start_s=$START_S
  rss_start=$(rss_kib "$SERVER")
  all=$(measure get "$BASE/api/v1/products?limit=20")
  dept=$(measure get "$BASE/api/v1/products?limit=20&category=roupas&sort=price_asc")
  peak=$(hwm_kib "$SERVER")
  stop
  start "$dir" 10
  deep=$(measure pages "$BASE/api/v1/products?limit=20")
  cached=$(measure get "$BASE/api/v1/products?limit=20")
  "$BIN/load" --summary "$tmp/summary" edits "$BASE/api/v1/products?limit=20" \
    --vitrine "$BIN/vitrine" --data-dir "$dir" > "$tmp/edits-$n.out"
  # shellcheck disable=SC1090
  . "$tmp/summary"
  edits+=("$(printf "$ecols" "$n" "$after_edit_p50_ms $after_edit_p99_ms" "$other_p50_ms $other_p99_ms" \
    "$ratio_p99" "$edit_p50_ms $edit_p99_ms")")
  peak2=$(hwm_kib "$SERVER")
  stop
  [ "$peak2" -gt "$peak" ] && peak=$peak2
  # Search: start to the index built, then different searches from one client and from all
  # connections.
  start "$dir" 10
  build_s=$(printf '%.2f' "$INDEX_S")
  rss_index=$(rss_kib "$SERVER")
  one=$(C=1 measure search "$BASE/api/v1/products?limit=20")
  many=$(measure search "$BASE/api/v1/products?limit=20")
  peak3=$(hwm_kib "$SERVER")
  # What the process keeps once idle (the allocator gives freed pages back after its decay).
  sleep 15
  rss_idle=$(rss_kib "$SERVER")
  stop
  searches+=("$(printf "$scols" "$n" "$build_s" "$(printf '%.1f' "$(echo "$rss_index / 1024" | bc -l)")" \
    "$(printf '%.1f' "$(echo "$peak3 / 1024" | bc -l)")" \
    "$(printf '%.1f' "$(echo "$rss_idle / 1024" | bc -l)")" "$one" "$many")")
  # shellcheck disable=SC2059
  printf "$cols" "$n" "$rate" "$start_s" "$(printf '%.1f' "$(echo "$rss_start / 1024" | bc -l)")" \
    "$(printf '%.1f' "$(echo "$peak / 1024" | bc -l)")" "$all" "$dept" "$deep" "$cached"
  [ -n "${KEEP:-}" ] || [ "$rate" = reused ] || rm -rf "$dir"
done
echo
echo "search with words (catalog cache 10 s; 2,000 different queries, round-robin)"
# shellcheck disable=SC2059
printf "$scols" products index_built_s rss_index_mb peak_mb idle_rss_mb "one client" "$CONNECTIONS connections"
# shellcheck disable=SC2059
printf "$scols" "" "(from start)" "" "" "(15 s after)" "req/s p50 p99 (ms)" "req/s p50 p99 (ms)"
printf '%s\n' "${searches[@]}"
echo
echo "listing right after a product is saved (one client; 200 saves, 20 listings between two)"
# shellcheck disable=SC2059
printf "$ecols" products "after a save: p50 p99 ms" "otherwise: p50 p99 ms" "p99 ratio" "the save: p50 p99 ms"
printf '%s\n' "${edits[@]}"
