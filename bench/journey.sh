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
#
# SHAPE=aws runs the same client against the AWS shape on one machine: the emulator (moto, from
# .venv, or the one VITRINE_TEST_MOTO_URL names), the template runner over infra/template.yaml
# (crates/vitrine-testkit/src/runner/), the demo catalog seeded with `vitrine seed` and the users
# made with `vitrine user create` on the aws backend, the Pix webhook signed with the stack's
# PaymentsWebhookSecret parameter; the shoppers go through the runner's CloudFront address.
# Afterwards it prints and keeps (in $OUT, default target/journey-aws) the runner's /counts
# (AWS requests, estimated DynamoDB units, SNS/SQS/SES per function) and /invocations (per
# function: invocations, errors, summed duration) — the figures of the capacity note in
# docs/benchmarks.md ("The journey on the AWS shape").
#
#   SHAPE=aws SHOPPERS=4 SECONDS_=30 PROFILE=debug bash bench/journey.sh
#
# PROFILE=debug uses (and builds) the debug binaries instead of the release ones.
set -euo pipefail
cd "$(dirname "$0")/.."

SHOPPERS=${SHOPPERS:-16}
SECONDS_=${SECONDS_:-60}
WARMUP=${WARMUP:-5}
THREADS=${THREADS:-2}
SHAPE=${SHAPE:-local}
PROFILE=${PROFILE:-release}
case "$PROFILE" in
  release) cargo_profile=(--release) ;;
  debug) cargo_profile=() ;;
  *) echo "PROFILE must be release or debug, not $PROFILE" >&2; exit 2 ;;
esac
case "$SHAPE" in
  local | aws) ;;
  *) echo "SHAPE must be local or aws, not $SHAPE" >&2; exit 2 ;;
esac

if [ -z "${NO_BUILD:-}" ]; then
  if [ "$SHAPE" = aws ]; then
    cargo build "${cargo_profile[@]}" --locked -p vitrine --all-features --bin vitrine \
      -p vitrine-bench --bin load -p vitrine-testkit --bin aws-runner -p vitrine-lambda --bins
  else
    cargo build "${cargo_profile[@]}" --locked -p vitrine --bin vitrine -p vitrine-bench --bin load
  fi
fi
VITRINE=${VITRINE:-target/$PROFILE/vitrine}
LOAD=target/$PROFILE/load

tmp=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/vitrine-journey.XXXXXX")
server=""
moto=""
runner=""
control=""
cleanup() {
  if [ -n "$runner" ]; then
    [ -n "$control" ] && curl -s -m 30 -X POST "$control/stop" > /dev/null 2>&1 || true
    kill "$runner" 2>/dev/null || true
    wait "$runner" 2>/dev/null || true
  fi
  [ -n "$moto" ] && kill "$moto" 2>/dev/null && wait "$moto" 2>/dev/null || true
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ "$SHAPE" = aws ]; then
  OUT=${OUT:-target/journey-aws}
  mkdir -p "$OUT"
  if [ -n "${VITRINE_TEST_MOTO_URL:-}" ]; then
    emulator=$VITRINE_TEST_MOTO_URL
  else
    mport=$(free_port)
    emulator=http://127.0.0.1:$mport
    .venv/bin/moto_server -H 127.0.0.1 -p "$mport" > "$tmp/moto.log" 2>&1 &
    moto=$!
    for _ in $(seq 1 100); do
      curl -sf "$emulator/moto-api/" > /dev/null && break
      sleep 0.2
    done
  fi
  secret=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
  RUST_LOG=${RUST_LOG:-warn} target/$PROFILE/aws-runner --template infra/template.yaml \
    --emulator "$emulator" --work "$tmp/runner" --bin-dir "target/$PROFILE" \
    --parameter PixProvider=sandbox --parameter CardProvider=sandbox \
    --parameter "PaymentsWebhookSecret=$secret" --parameter PixKey=loja@vitrine.example \
    --parameter MailFrom=loja@vitrine.example --parameter SesIdentity=vitrine.example \
    --parameter AlertsTo=alertas@loja.example \
    > "$tmp/runner.out" 2> "$tmp/runner.err" &
  runner=$!
  for _ in $(seq 1 1200); do
    grep -qx 'runner: ready' "$tmp/runner.out" && break
    kill -0 "$runner" 2>/dev/null || break
    sleep 0.2
  done
  grep -qx 'runner: ready' "$tmp/runner.out" || {
    echo "the runner did not start:" >&2
    cat "$tmp/runner.out" >&2
    tail -50 "$tmp/runner.err" >&2
    exit 1
  }
  control=$(sed -n 's/^runner: control \(.*\)$/\1/p' "$tmp/runner.out")
  BASE=$(sed -n 's/^runner: cloudfront \(.*\)$/\1/p' "$tmp/runner.out")
  BASE=${BASE%/}
  curl -sf "$control/resources" > "$tmp/resources.json"
  physical() { jq -er --arg id "$1" '.[$id]' "$tmp/resources.json"; }
  # The environment `vitrine` commands act on the stack's resources under (as e2e/lib/aws.js
  # builds it); the load client hands the VITRINE_* part on to `vitrine user create`.
  export VITRINE_BACKEND=aws VITRINE_AWS_EMULATOR=true AWS_ENDPOINT_URL=$emulator \
    AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=operator AWS_SECRET_ACCESS_KEY=operator \
    VITRINE_TABLE=$(physical DataTable) VITRINE_BUCKET=$(physical InvoicesBucket) \
    VITRINE_USER_POOL_ID=$(physical UserPool) VITRINE_CLIENT_ID=$(physical UserPoolClient) \
    VITRINE_MAIL_FROM=loja@vitrine.example VITRINE_LOG=warn
  mkdir -p "$tmp/seed"
  (cd "$tmp/seed" && "$OLDPWD/$VITRINE" seed) > "$tmp/seed.log" 2>&1 || { cat "$tmp/seed.log"; exit 1; }
  # The load client reads the webhook secret from the data folder it is given: this scratch one
  # holds the stack's parameter (the users themselves go to the user pool).
  DATA_DIR=$tmp/data
  mkdir -p "$DATA_DIR/keys"
  printf '%s\n' "$secret" > "$DATA_DIR/keys/payments-webhook.secret"
  # The counts of the measured run only: the setup's are read now and subtracted later.
  curl -sf "$control/counts" > "$OUT/counts-before.json"
  curl -sf "$control/invocations" > "$OUT/invocations-before.json"
elif [ -z "${BASE:-}" ]; then
  DATA_DIR=$tmp/data
  port=$(free_port)
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

echo "$PROFILE build; shape $SHAPE; $(nproc) cores; client and server on the same machine"
status=0
"$LOAD" -c "$SHOPPERS" -d "$SECONDS_" -w "$WARMUP" -t "$THREADS" \
  ${server:+--server-pid "$server"} --summary "$tmp/summary" \
  journey "$BASE" --vitrine "$VITRINE" --data-dir "${DATA_DIR:?set DATA_DIR for a remote BASE}" \
  || status=$?

if [ "$SHAPE" = aws ]; then
  cp "$tmp/summary" "$OUT/summary" 2>/dev/null || true
  # The queue consumers and the stream finish the last orders' events: wait until the invocation
  # counts stay still for 6 s (at most SETTLE seconds, default 120).
  last="" still=0
  for _ in $(seq 1 $(( ${SETTLE:-120} / 2 ))); do
    now=$(curl -sf "$control/invocations" | jq -c '[.[].invocations]')
    if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -ge 3 ] && break
    last=$now
    sleep 2
  done
  curl -sf "$control/counts" > "$OUT/counts-after.json"
  curl -sf "$control/invocations" > "$OUT/invocations-after.json"
  echo "runner invocations (whole run, setup included): function source invocations errors duration_ms"
  jq -r '.[] | select(.invocations > 0) | "  \(.function) \(.source) \(.invocations) \(.errors) \(.duration_ms)"' \
    "$OUT/invocations-after.json"
  echo "runner counts: $OUT/counts-before.json, $OUT/counts-after.json; summary: $OUT/summary"
fi
exit "$status"
