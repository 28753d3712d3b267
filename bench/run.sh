#!/usr/bin/env bash
# Performance acceptance of vitrine, against the release build, in one run (docs/benchmarks.md).
#
#   (a) GET /api/v1/products?limit=20 on `vitrine serve`, beside `bare` (an axum handler that
#       returns the same bytes from memory), with the same client settings;
#   (b) durable checkout: POST /api/v1/orders ("buy now", one unit, fresh Idempotency-Key each),
#       then a check that every 201 is exactly one order and one unit of stock, both through the
#       API while serving and in the database file after a clean stop.
#
# Everything listens on 127.0.0.1 (ports chosen by the kernel) and runs for a bounded time.
# Settings (environment):
#   GET_CONNECTIONS=64 GET_SECONDS=10 GET_WARMUP=3 GET_ROUNDS=2
#   CHECKOUT_CONNECTIONS=128 CHECKOUT_SECONDS=20 CHECKOUT_WARMUP=5 CUSTOMERS=256
#   CLIENT_THREADS=2   client runtime threads (wrk threads too)
#   USE_WRK=auto       also measure (a) with wrk when installed (auto|yes|no)
#   QUIET_MAX=0.25 QUIET_WAIT=900
#                      before starting, wait (at most QUIET_WAIT s) until other processes use at
#                      most QUIET_MAX cores: the servers and the client share the machine's CPUs
#   NO_BUILD=1         skip `cargo build --release`
#   KEEP=1             keep the temporary folder (data, logs) instead of deleting it
#   BENCH_TMP=DIR      where the temporary folder goes (default $TMPDIR or /tmp; it must be a real
#                      disk, not tmpfs, for the durability figure to mean anything)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

GET_CONNECTIONS=${GET_CONNECTIONS:-64}
GET_SECONDS=${GET_SECONDS:-10}
GET_WARMUP=${GET_WARMUP:-3}
GET_ROUNDS=${GET_ROUNDS:-2}
CHECKOUT_CONNECTIONS=${CHECKOUT_CONNECTIONS:-128}
CHECKOUT_SECONDS=${CHECKOUT_SECONDS:-20}
CHECKOUT_WARMUP=${CHECKOUT_WARMUP:-5}
CUSTOMERS=${CUSTOMERS:-256}
CLIENT_THREADS=${CLIENT_THREADS:-2}
USE_WRK=${USE_WRK:-auto}
QUIET_MAX=${QUIET_MAX:-0.25}
QUIET_WAIT=${QUIET_WAIT:-900}

if [[ -z "${NO_BUILD:-}" ]]; then
    cargo build --release -p vitrine -p vitrine-bench
fi
BIN="$ROOT/target/release"
for b in vitrine bare load; do
    [[ -x "$BIN/$b" ]] || { echo "missing $BIN/$b: build first" >&2; exit 2; }
done

WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/vitrine-bench.XXXXXX")
DATA="$WORK/data"
PIDS=()

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${PIDS[@]}"; do
        # Bounded wait, then force.
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ -n "${KEEP:-}" ]]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Wait (at most 60 s) for a server to print its URL: "... http://127.0.0.1:PORT/ ..."
wait_url() {
    local log=$1 pattern=$2 pid=$3 url=""
    for _ in $(seq 600); do
        url=$(grep -o "$pattern" "$log" 2>/dev/null | head -1 || true)
        [[ -n "$url" ]] && { echo "$url"; return 0; }
        kill -0 "$pid" 2>/dev/null || { echo "server exited; log:" >&2; cat "$log" >&2; return 1; }
        sleep 0.1
    done
    echo "server did not start in 60 s; log:" >&2
    cat "$log" >&2
    return 1
}

stop() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    echo "pid $pid did not stop in 10 s" >&2
    return 1
}

FAILED=0

# --- a quiet machine --------------------------------------------------------------------------

# Cores kept busy by everything else, over 3 s (nothing of this script runs yet).
background_cores() {
    local a b c d
    read -r a b < <(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    sleep 3
    read -r c d < <(awk '/^cpu / { print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat)
    awk -v x=$(( c - a )) -v y=$(( d - b )) -v n="$(nproc)" 'BEGIN { printf "%.2f", (y > 0) ? n * x / y : 0 }'
}
WAITED=0
BACKGROUND=$(background_cores)
while awk -v b="$BACKGROUND" -v m="$QUIET_MAX" 'BEGIN { exit !(b > m) }' && (( WAITED < QUIET_WAIT )); do
    echo "the machine is busy ($BACKGROUND cores used by other processes); waiting for it to calm down" >&2
    sleep 10
    WAITED=$(( WAITED + 13 ))
    BACKGROUND=$(background_cores)
done
echo "background CPU before the run: $BACKGROUND cores (waited ${WAITED} s)"

# --- the servers --------------------------------------------------------------------------

# The checkout leaves every order unpaid: the per-customer caps on unpaid orders and units
# (docs/operations.md, "Abuse limits") are set to their highest, and the load spreads its orders
# over CUSTOMERS customers (room for CUSTOMERS × 1000 orders); the rate limit is off, since all
# the load comes from one client.
echo "+ VITRINE_MAX_UNPAID_ORDERS=1000 VITRINE_MAX_UNPAID_UNITS=1000000 $BIN/vitrine serve --data-dir $DATA --listen 127.0.0.1:0 --argon2-memory-kib 64 --rate-limit-per-minute 0"
VITRINE_MAX_UNPAID_ORDERS=1000 VITRINE_MAX_UNPAID_UNITS=1000000 \
    "$BIN/vitrine" serve --data-dir "$DATA" --listen 127.0.0.1:0 --argon2-memory-kib 64 \
    --rate-limit-per-minute 0 \
    >"$WORK/vitrine.out" 2>"$WORK/vitrine.log" &
VPID=$!
PIDS+=("$VPID")
VBASE=$(wait_url "$WORK/vitrine.out" 'http://127\.0\.0\.1:[0-9]*' "$VPID")
VURL="$VBASE/api/v1/products?limit=20"

echo "+ $BIN/bare --listen 127.0.0.1:0 --from $VURL"
"$BIN/bare" --listen 127.0.0.1:0 --from "$VURL" >"$WORK/bare.out" 2>&1 &
BPID=$!
PIDS+=("$BPID")
BBASE=$(wait_url "$WORK/bare.out" 'http://127\.0\.0\.1:[0-9]*' "$BPID")
BURL="$BBASE/api/v1/products?limit=20"

curl -sf "$VURL" -o "$WORK/vitrine.json"
curl -sf "$BURL" -o "$WORK/bare.json"
if cmp -s "$WORK/vitrine.json" "$WORK/bare.json"; then
    SAME="identical ($(wc -c <"$WORK/vitrine.json") bytes)"
else
    SAME="DIFFERENT"
    FAILED=1
fi
echo "vitrine at $VBASE (pid $VPID), bare at $BBASE (pid $BPID); bodies $SAME"

# --- (a) catalog listing --------------------------------------------------------------------

field() { awk -F= -v k="$2" '$1 == k { print $2 }' "$1"; }
# A markdown row from a load summary: server, client, summary file.
row() {
    local f=$3
    echo "| $1 | $2 | $(field "$f" rps) | $(field "$f" p50_ms) | $(field "$f" p95_ms) | $(field "$f" p99_ms) | $(field "$f" max_ms) | $(field "$f" errors) | $(field "$f" cpu_server) / $(field "$f" cpu_client) / $(field "$f" cpu_other) | $(per_request "$f") |"
}
# Server CPU time per request, in microseconds.
per_request() {
    awk -v c="$(field "$1" cpu_server)" -v r="$(field "$1" rps)" 'BEGIN { if (r > 0) printf "%.0f", 1e6 * c / r; else print "?" }'
}

GET_ARGS=(-c "$GET_CONNECTIONS" -d "$GET_SECONDS" -w "$GET_WARMUP" -t "$CLIENT_THREADS")
GET_ROWS=()
V_SUM=0
B_SUM=0
# measure_get NAME URL PID ROUND: one load run; adds its row and returns nothing.
measure_get() {
    local out="$WORK/get-$1-$4.summary"
    echo "+ load ${GET_ARGS[*]} --server-pid $3 --summary $out get $2    [$1, round $4]"
    if ! "$BIN/load" "${GET_ARGS[@]}" --server-pid "$3" --summary "$out" get "$2"; then
        FAILED=1
    fi
    GET_ROWS+=("$(row "$1 (round $4)" load "$out")")
}
# Interleaved rounds, so that a slow spell of the machine hits both servers alike.
for round in $(seq "$GET_ROUNDS"); do
    measure_get vitrine "$VURL" "$VPID" "$round"
    V_SUM=$(( V_SUM + $(field "$WORK/get-vitrine-$round.summary" rps) ))
    measure_get bare "$BURL" "$BPID" "$round"
    B_SUM=$(( B_SUM + $(field "$WORK/get-bare-$round.summary" rps) ))
done

HAVE_WRK=0
if [[ "$USE_WRK" != no ]] && command -v wrk >/dev/null; then
    HAVE_WRK=1
elif [[ "$USE_WRK" == yes ]]; then
    echo "wrk is not installed" >&2
    exit 2
fi
if (( HAVE_WRK )); then
    WRK_ARGS=(-t "$CLIENT_THREADS" -c "$GET_CONNECTIONS" -d "${GET_SECONDS}s" --latency)
    # wrk_run URL NAME: one wrk run (after an unrecorded warm-up); output in $WORK/wrk-NAME.txt.
    wrk_run() {
        local out="$WORK/wrk-$2.txt"
        wrk -t "$CLIENT_THREADS" -c "$GET_CONNECTIONS" -d "${GET_WARMUP}s" "$1" >/dev/null
        echo "+ wrk ${WRK_ARGS[*]} $1"
        wrk "${WRK_ARGS[@]}" "$1" | tee "$out"
        if grep -q "Non-2xx\|Socket errors" "$out"; then FAILED=1; fi
        GET_ROWS+=("$(awk -v name="$2" '
            function ms(x) {  # wrk prints 830.00us, 1.57ms or 1.02s
                if (x ~ /us$/) return sprintf("%.2f", x / 1000)
                if (x ~ /ms$/) return sprintf("%.2f", x + 0)
                if (x ~ /s$/) return sprintf("%.2f", x * 1000)
                return x
            }
            /Requests\/sec/ { rps = sprintf("%.0f", $2) }
            $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
            /Non-2xx/ { e += $NF } /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 }
            END { printf "| %s | wrk | %s | %s | | %s | | %d | | |", name, rps, p50, p99, e }' "$out")")
    }
    wrk_run "$VURL" vitrine
    wrk_run "$BURL" bare
    WV_RPS=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$WORK/wrk-vitrine.txt")
    WB_RPS=$(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$WORK/wrk-bare.txt")
fi

stop "$BPID" || true

# --- (b) durable checkout ---------------------------------------------------------------------

CHECKOUT_ARGS=(-c "$CHECKOUT_CONNECTIONS" -d "$CHECKOUT_SECONDS" -w "$CHECKOUT_WARMUP" -t "$CLIENT_THREADS")
C="$WORK/checkout.summary"
echo "+ load ${CHECKOUT_ARGS[*]} --server-pid $VPID --summary $C checkout $VBASE --vitrine $BIN/vitrine --data-dir $DATA --customers $CUSTOMERS"
if ! "$BIN/load" "${CHECKOUT_ARGS[@]}" --server-pid "$VPID" --summary "$C" checkout "$VBASE" \
    --vitrine "$BIN/vitrine" --data-dir "$DATA" --customers "$CUSTOMERS"; then
    FAILED=1
fi
CREATED=$(field "$C" created)
[[ "$(field "$C" consistent)" == true ]] || FAILED=1

# After a clean stop, the database file itself must hold one order per 201 and the stock moved.
stop "$VPID"
DB_CHECK="not run (no sqlite3)"
if command -v sqlite3 >/dev/null; then
    DB_ORDERS=$(sqlite3 -readonly "$DATA/vitrine.db" "SELECT count(*) FROM items WHERE sk = 'ORDER'")
    DB_STOCK=$(sqlite3 -readonly "$DATA/vitrine.db" \
        "SELECT json_extract(attrs, '\$.available.n') FROM items WHERE pk = 'SKU#BENCH-1' AND sk = 'SKU'")
    if [[ -n "$CREATED" && "$DB_ORDERS" == "$CREATED" && "$DB_STOCK" == "$(field "$C" stock_after)" ]]; then
        DB_CHECK="consistent ($DB_ORDERS orders, stock $DB_STOCK)"
    else
        DB_CHECK="MISMATCH ($DB_ORDERS orders in the file for ${CREATED:-?} created, stock $DB_STOCK)"
        FAILED=1
    fi
fi

# --- the report -------------------------------------------------------------------------------

# Measured periods during which other work took more than QUIET_MAX cores: their figures
# understate what the servers can do.
DISTURBED=()
for f in "$WORK"/get-*.summary "$C"; do
    o=$(field "$f" cpu_other)
    if [[ -n "$o" ]] && awk -v o="$o" -v m="$QUIET_MAX" 'BEGIN { exit !(o > m) }'; then
        DISTURBED+=("$(basename "$f" .summary) ($o cores)")
    fi
done
if (( ${#DISTURBED[@]} )); then
    DISTURBED_NOTE="**Disturbed** (other work above $QUIET_MAX cores while measuring): ${DISTURBED[*]}. Loopback softirqs count as other work too; re-run on a quiet machine before drawing conclusions."
else
    DISTURBED_NOTE="No measured period was disturbed by other work above $QUIET_MAX cores."
fi

pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 >= b + 0) ? "met" : "MISSED" }'; }
CPU_MODEL=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
WRK_NOTE=""
if (( HAVE_WRK )); then WRK_NOTE="; with wrk: $(pct "${WV_RPS:-0}" "${WB_RPS:-0}")"; fi
cat <<EOF

## Results

- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes')
- machine: $(nproc) CPUs ($CPU_MODEL), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r); data folder on $(stat -f -c %T "$WORK") ($(df --output=source "$WORK" | tail -1))
- background CPU before the run: $BACKGROUND cores used by other processes (after waiting ${WAITED} s for at most $QUIET_MAX)
- client and servers share these CPUs; 127.0.0.1 only. CPU columns: cores used during the measured period by the server, by the load generator, and by everything else (other processes, and kernel work such as loopback softirqs that no process is charged for)

### (a) \`GET /api/v1/products?limit=20\`

$GET_CONNECTIONS connections, $CLIENT_THREADS client threads, ${GET_WARMUP} s warm-up, ${GET_SECONDS} s measured; bodies $SAME.

| server | client | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | CPU cores: server / client / other | server CPU µs per request |
|---|---|---:|---:|---:|---:|---:|---:|---|---:|
$(printf '%s\n' "${GET_ROWS[@]}")

vitrine / bare throughput with load over $GET_ROUNDS rounds: **$(pct "$V_SUM" "$B_SUM")** (target ≥ 50%: $(verdict "$(( V_SUM * 2 ))" "$B_SUM"))$WRK_NOTE.

### (b) durable checkout, \`POST /api/v1/orders\`

$CHECKOUT_CONNECTIONS connections over $(field "$C" customers) customers, $CLIENT_THREADS client threads, ${CHECKOUT_WARMUP} s warm-up, ${CHECKOUT_SECONDS} s measured; WAL, synchronous=FULL.

| orders/s | p50 ms | p95 ms | p99 ms | max ms | errors | CPU cores: server / client / other | server CPU µs per order |
|---:|---:|---:|---:|---:|---:|---|---:|
| **$(field "$C" rps)** | $(field "$C" p50_ms) | $(field "$C" p95_ms) | $(field "$C" p99_ms) | $(field "$C" max_ms) | $(field "$C" errors) | $(field "$C" cpu_server) / $(field "$C" cpu_client) / $(field "$C" cpu_other) | $(per_request "$C") |

Server threads during the measured period (cores): $(field "$C" cpu_server_threads).

Target ≥ 1,500 orders/s: $(verdict "$(field "$C" rps)" 1500). Consistency: ${CREATED:-?} answers 201 (all phases); stock moved $(field "$C" stock_moved); pending orders through the API +$(field "$C" new_orders); database file after the stop: $DB_CHECK.

$DISTURBED_NOTE
EOF

# The exit status is about correctness (errors, consistency); the targets are reported above.
if (( FAILED )); then
    echo "run FAILED (errors or a consistency check; see above)" >&2
    exit 1
fi
