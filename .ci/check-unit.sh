#!/usr/bin/env bash
# Checks packaging/seccomp-watch.service:
#  1. `systemd-analyze verify` on a copy whose ExecStart= points at the built binary (the
#     unit names /usr/bin/seccomp-watch, which exists only once the package is installed),
#     with the man pages that Documentation= names generated from the CLI;
#  2. `systemd-analyze security --offline=true`: overall exposure at most 2.0.
# Usage: .ci/check-unit.sh [BINARY]   (default: target/debug/seccomp-watch, built if absent)
set -euo pipefail
cd "$(dirname "$0")/.."
unit=packaging/seccomp-watch.service
max_exposure=${MAX_EXPOSURE:-2.0}

bin=${1:-${SECCOMP_WATCH_BIN:-$PWD/target/debug/seccomp-watch}}
if [ ! -x "$bin" ]; then
  cargo build -q -p seccomp-watch --bin seccomp-watch
  bin=$PWD/target/debug/seccomp-watch
fi
bin=$(readlink -f "$bin")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/man/man1"
"$bin" man --out-dir "$tmp/man/man1" >/dev/null
sed "s|^ExecStart=/usr/bin/seccomp-watch |ExecStart=$bin |" "$unit" > "$tmp/seccomp-watch.service"
grep -q "^ExecStart=$bin " "$tmp/seccomp-watch.service" || { echo "ExecStart= was not rewritten"; exit 1; }

echo "-- systemd-analyze verify"
man_opt=()
command -v man >/dev/null || man_opt=(--man=no)
if ! out=$(MANPATH="$tmp/man" systemd-analyze verify "${man_opt[@]}" "$tmp/seccomp-watch.service" 2>&1); then
  echo "$out"
  echo "FAIL: systemd-analyze verify"
  exit 1
fi
# verify exits 0 on some warnings; any line about our unit is a problem.
if echo "$out" | grep -q "seccomp-watch.service"; then
  echo "$out"
  echo "FAIL: systemd-analyze verify reported problems"
  exit 1
fi
echo "ok"

echo "-- systemd-analyze security --offline=true"
report=$(systemd-analyze security --offline=true "$unit" 2>&1) || { echo "$report"; exit 1; }
line=$(echo "$report" | grep "Overall exposure level" || true)
echo "$line"
exposure=$(echo "$line" | sed -n 's/.*: \([0-9][0-9]*\.[0-9]\).*/\1/p')
if [ -z "$exposure" ]; then
  echo "$report"
  echo "FAIL: no exposure level in the report"
  exit 1
fi
if ! awk -v e="$exposure" -v m="$max_exposure" 'BEGIN { exit !(e <= m) }'; then
  echo "$report" | grep "✗" || true
  echo "FAIL: exposure $exposure > $max_exposure"
  exit 1
fi
echo "ok: exposure $exposure <= $max_exposure"
