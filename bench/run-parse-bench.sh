#!/usr/bin/env bash
# Parse benchmark, side by side in one run on the same corpus:
#   parse-to-struct (one core, in-process: cargo bench -p parsers),
#   `seccomp-watch parse FILE >/dev/null`, `grep -c type=SECCOMP FILE`,
#   `ausearch -m SECCOMP --format raw -if FILE`.
# usage: bench/run-parse-bench.sh [FILE]   (default bench/corpus-1m.log, generated if missing)
#   BASE_BIN=PATH: also measure another build of seccomp-watch (e.g. main's release build)
#   side by side, alternating runs; ROUNDS=N runs of each (default 3).
#   THIS_BIN=PATH: measure that build as "this" instead of building target/release (e.g.
#   a build of another worktree; no cargo build then).
#   Each run also prints the CPU seconds (user+sys): on a loaded machine wall time
#   measures the load, CPU time the parser.
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=$(realpath -m "${1:-bench/corpus-1m.log}")
[ -f "$FILE" ] || python3 bench/gen-audit-log.py 1000000 "$FILE"
LINES=$(wc -l < "$FILE")
if [ -n "${THIS_BIN:-}" ]; then
  BIN=$THIS_BIN
else
  cargo build -q --release -p seccomp-watch
  BIN=target/release/seccomp-watch
fi

measure() { # name, command...
  local name=$1; shift
  local tf
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f '%e %U %S %M' "$@" >/dev/null 2>/dev/null || true
  local secs user sys rss
  read -r secs user sys rss < <(tail -1 "$tf"); rm -f "$tf"
  awk -v n="$name" -v s="$secs" -v c="$user $sys" -v r="$rss" -v l="$LINES" \
    'BEGIN { split(c, cs, " "); cpu = cs[1] + cs[2];
             printf "%-42s %7.2f s  %6.2f M lines/s  cpu %6.2f s  peak RSS %7.1f MB\n", n, s, (s > 0 ? l / s / 1e6 : 0), cpu, r / 1024 }'
}

echo "corpus: $FILE ($LINES lines, $(du -h "$FILE" | cut -f1))"
cargo bench -q -p parsers -- "$FILE" 2>/dev/null | grep -E 'round 2|JSON' | sed 's/^/in-process  /'
if [ -n "${BASE_BIN:-}" ]; then
  for _ in $(seq "${ROUNDS:-3}"); do
    measure "base: seccomp-watch parse FILE >/dev/null" "$BASE_BIN" parse "$FILE"
    measure "this: seccomp-watch parse FILE >/dev/null" "$BIN" parse "$FILE"
  done
else
  measure "seccomp-watch parse FILE >/dev/null" "$BIN" parse "$FILE"
fi
# Through a pipe: GNU grep stops at the first match when its output is /dev/null.
measure "grep -c type=SECCOMP FILE" sh -c 'grep -c type=SECCOMP "$1" | cat' sh "$FILE"
if command -v ausearch >/dev/null; then
  measure "ausearch -m SECCOMP --format raw -if FILE" ausearch -m SECCOMP --format raw -if "$FILE"
fi
