#!/usr/bin/env bash
# The JavaScript a catalog page of the storefront loads, and its size compressed with gzip -9
# (docs/benchmarks.md, "Storefront JavaScript"). Budget: under 100 KB (102,400 bytes) in total.
#
# The set is what the browser fetches for a first visit to /#/catalogo: the entry module named
# by web/index.html, every module it imports statically (followed recursively), and the catalog
# page module the router imports, with its own static imports. Pages loaded on demand for other
# routes are not counted. The browser test (e2e/shopper.test.js) measures the same thing from
# the responses Chromium actually received and writes target/e2e/catalog-js.json.
#
#   bench/web-size.sh          # prints a table and the total; exits 1 over the budget
set -euo pipefail
cd "$(dirname "$0")/.."
web=web
budget=102400

entry=$(sed -n 's/.*<script type="module" src="\/\([^"]*\)".*/\1/p' "$web/index.html" | head -n 1)
[ -n "$entry" ] || { echo "no module script in $web/index.html" >&2; exit 1; }
todo=("$web/$entry" "$web/js/pages/catalog.js")
declare -A seen=()
files=()
while [ ${#todo[@]} -gt 0 ]; do
  f=$(realpath --relative-to=. "${todo[0]}")
  todo=("${todo[@]:1}")
  [ -n "${seen[$f]:-}" ] && continue
  seen[$f]=1
  [ -f "$f" ] || { echo "missing module: $f" >&2; exit 1; }
  files+=("$f")
  # Static imports only: `import … from "x"` and `import "x"` (dynamic import() is on demand).
  while IFS= read -r spec; do
    case "$spec" in
      /*) todo+=("$web$spec") ;;
      ./* | ../*) todo+=("$(dirname "$f")/$spec") ;;
    esac
  done < <(grep -hoE '^(import|export)[^;]*from "[^"]+"|^import "[^"]+"' "$f" | sed -E 's/.*"([^"]+)"$/\1/')
done

total_raw=0
total_gz=0
printf '%-32s %10s %12s\n' "file" "bytes" "gzip -9"
for f in "${files[@]}"; do
  raw=$(wc -c < "$f")
  gz=$(gzip -9 -n -c < "$f" | wc -c)
  total_raw=$((total_raw + raw))
  total_gz=$((total_gz + gz))
  printf '%-32s %10d %12d\n' "${f#"$web"/}" "$raw" "$gz"
done
printf '%-32s %10d %12d\n' "total (${#files[@]} files)" "$total_raw" "$total_gz"
printf 'catalog page JavaScript: %d bytes gzip -9 (%s KB), budget %d bytes: %s\n' \
  "$total_gz" "$(awk "BEGIN { printf \"%.1f\", $total_gz / 1024 }")" "$budget" \
  "$([ "$total_gz" -lt "$budget" ] && echo under || echo OVER)"
[ "$total_gz" -lt "$budget" ]
