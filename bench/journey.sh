#!/usr/bin/env bash
# The load test of issue 7: shoppers browse, search, open a product, sign in, add to the cart,
# check out and pay by Pix (charge + signed webhook), over and over, against the release build of
# `vitrine serve` on a fresh data folder (everything on 127.0.0.1, bounded in time). Prints the
# throughput, p50/p95/p99 and errors of each step (bench/src/bin/load/journey.rs) and exits
# non-zero on any error. Results go into docs/benchmarks.md ("Load test: the shopper journey").
#
#   SHOPPERS=16 SECONDS_=60 WARMUP=5 THREADS=2 NO_BUILD=1 bash bench/journey.sh
#   BASE=https://loja.example.com.br ... runs against a deployed URL instead (then DATA_DIR and
#   VITRINE must point at a data folder and binary that can create its users: local shape only).
set -euo pipefail
cd "$(dirname "$0")/.."

SHOPPERS=${SHOPPERS:-16}
SECONDS_=${SECONDS_:-60}
WARMUP=${WARMUP:-5}
THREADS=${THREADS:-2}

if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release --locked -p vitrine --bin vitrine -p vitrine-bench --bin load
fi
VITRINE=${VITRINE:-target/release/vitrine}
LOAD=target/release/load

tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/vitrine-journey.XXXXXX")
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${BASE:-}" ]; then
  DATA_DIR=$tmp/data
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  BASE=http://127.0.0.1:$port
  # One client address sends the whole load: the per-client rate limit is off for it.
  VITRINE_LOG=warn "$VITRINE" --data-dir "$DATA_DIR" --listen "127.0.0.1:$port" \
    --rate-limit-per-minute 0 serve \
    > "$tmp/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    curl -sf "$BASE/health" > /dev/null && break
    sleep 0.1
  done
  curl -sf "$BASE/health" > /dev/null || { cat "$tmp/serve.log"; exit 1; }
fi

echo "release build; $(nproc) cores; client and server on the same machine"
"$LOAD" -c "$SHOPPERS" -d "$SECONDS_" -w "$WARMUP" -t "$THREADS" \
  ${server:+--server-pid "$server"} --summary "$tmp/summary" \
  journey "$BASE" --vitrine "$VITRINE" --data-dir "${DATA_DIR:?set DATA_DIR for a remote BASE}"
