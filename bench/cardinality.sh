#!/usr/bin/env bash
# Metric cardinality under attack: a process under a LOG-default seccomp filter calls
# syscall(N) for N distinct numbers (default 50000, tests/programs/syscall-flood.c) while
# `seccomp-watch run --source netlink` serves /metrics. Prints the events stored, the size
# of /metrics and its number of seccomp_watch_workload_events_total series before and
# after, the daemon's RSS before and after (VmRSS) and its peak (VmHWM), and the alerts
# raised.
#
# usage: sudo bench/cardinality.sh [N]
# DISTINCT=1: the same number N times instead (the same load without the cardinality: the
# baseline of the RSS figures).
# SW_BIN: the seccomp-watch binary to measure (default: a release build of this tree), so
# that two builds can be compared side by side.
# Needs root (CAP_AUDIT_READ), gcc, curl, python3 (to read the database).
set -euo pipefail
N=${1:-50000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ -z "${SW_BIN:-}" ]; then
    cargo build -q --release -p seccomp-watch --bin seccomp-watch
    SW_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/seccomp-watch
fi
TMP=$(mktemp -d /tmp/sw-card.XXXXXX)
DPID=
trap '[ -n "$DPID" ] && kill $DPID 2>/dev/null; rm -rf "$TMP"' EXIT
gcc -O2 -o "$TMP/syscall-flood" tests/programs/syscall-flood.c
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[http]\nlisten = "127.0.0.1:%s"\n' "$PORT" > "$TMP/config.toml"

"$SW_BIN" run --config "$TMP/config.toml" --db "$TMP/sw.db" --source netlink 2> "$TMP/daemon.log" &
DPID=$!
for _ in $(seq 100); do grep -q "seccomp-watch: running;" "$TMP/daemon.log" && break; sleep 0.1; done
grep -q "seccomp-watch: running;" "$TMP/daemon.log" || { cat "$TMP/daemon.log"; exit 1; }

scrape() { curl -sf "http://127.0.0.1:$PORT/metrics" > "$TMP/metrics"; }
series() { grep -c '^seccomp_watch_workload_events_total{' "$TMP/metrics" || true; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$DPID/status"; }
count() {
    python3 - "$TMP/sw.db" "$TMP/syscall-flood" <<'EOF'
import sqlite3, sys
try:
    c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    print(c.execute("select count(*) from events e join actors a on a.id = e.actor "
                    "join strings s on s.id = a.exe where s.s = ?", (sys.argv[2],)).fetchone()[0])
except Exception:
    print(0)
EOF
}

sleep 1
scrape
echo "before: /metrics $(stat -c %s "$TMP/metrics") bytes, $(series) workload series, RSS $(rss)"
if [ "${DISTINCT:-}" = 1 ]; then
    "$TMP/syscall-flood" 1000 1 "$N"
else
    "$TMP/syscall-flood" 1000 "$N"
fi
prev=-1; cur=$(count)
while [ "$cur" != "$prev" ]; do sleep 2; prev=$cur; cur=$(count); done
scrape
echo "after $N calls ($([ "${DISTINCT:-}" = 1 ] && echo "one number" || echo "distinct numbers")): $cur events of the flood stored"
echo "after: /metrics $(stat -c %s "$TMP/metrics") bytes, $(series) workload series, RSS $(rss), peak $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' "/proc/$DPID/status")"
kill -TERM $DPID
wait $DPID || echo "daemon exit status $?"
DPID=
ALERTS=$(python3 - "$TMP/sw.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = c.execute("select rule, count(*) from alerts group by rule order by rule").fetchall()
print(", ".join(f"{k}={v}" for k, v in rows) or "none")
EOF
)
echo "alerts: $ALERTS"
