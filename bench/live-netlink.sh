#!/usr/bin/env bash
# Live benchmark of the netlink source: a process makes SCMP_ACT_LOG'd calls as fast as it
# can (N records, default 200000) while `seccomp-watch run --source netlink` runs with its
# default settings. Prints: records the kernel emitted for that pid, events stored, losses
# (by cause), and the daemon's CPU seconds (user + system, from /proc/PID/stat).
#
# usage: sudo bench/live-netlink.sh [N] [extra `seccomp-watch run` args...]
# BENCH_CONFIG: extra config.toml text (printf %b escapes), e.g. '[store]\nqueue_batches = 4\n'.
# Needs root (CAP_AUDIT_READ), gcc, python3 (to read the database).
set -euo pipefail
N=${1:-200000}
shift || true
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build -q --release -p seccomp-watch --bin seccomp-watch
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/seccomp-watch
TMP=$(mktemp -d /tmp/sw-bench.XXXXXX)
trap 'kill $DPID 2>/dev/null || true; rm -rf "$TMP"' EXIT
gcc -O2 -o "$TMP/seccomp-demo" tests/programs/seccomp-demo.c
printf '[http]\nlisten = ""\n%b' "${BENCH_CONFIG:-}" > "$TMP/config.toml"

"$BIN" run --config "$TMP/config.toml" --db "$TMP/sw.db" --source netlink "$@" 2> "$TMP/daemon.log" &
DPID=$!
for _ in $(seq 100); do grep -q "seccomp-watch: running;" "$TMP/daemon.log" && break; sleep 0.1; done
grep -q "seccomp-watch: running;" "$TMP/daemon.log" || { cat "$TMP/daemon.log"; exit 1; }

cpu() { awk '{print $14 + $15}' "/proc/$DPID/stat"; }
TCK=$(getconf CLK_TCK)
C0=$(cpu)
T0=$(date +%s.%N)
"$TMP/seccomp-demo" -a log -n "$N" &
GPID=$!
wait $GPID
T1=$(date +%s.%N)

# Wait until the count stops growing (the writer flushes within 200 ms).
count() {
    python3 - "$TMP/sw.db" "$GPID" <<'EOF'
import sqlite3, sys
try:
    c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    print(c.execute("select count(*) from events where pid = ?", (int(sys.argv[2]),)).fetchone()[0])
except Exception:
    print(0)
EOF
}
prev=-1; cur=$(count)
while [ "$cur" != "$prev" ]; do sleep 1; prev=$cur; cur=$(count); done
C1=$(cpu)
HWM=$(awk '/VmHWM/ {print $2 / 1024 " MiB"}' "/proc/$DPID/status")
kill -TERM $DPID
wait $DPID || { echo "daemon exit status $?"; }
STORED=$(count)
LOSSES=$(python3 - "$TMP/sw.db" <<'EOF'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = c.execute("select cause, count from losses order by cause").fetchall()
print(", ".join(f"{k}={v}" for k, v in rows) or "none")
EOF
)
python3 - <<EOF
n, stored, t = $N, $STORED, $T1 - $T0
cpu = ($C1 - $C0) / $TCK
print(f"records emitted: {n} in {t:.2f} s ({n / t:,.0f}/s)")
print(f"stored:          {stored} ({n - stored} missing)")
print(f"losses:          $LOSSES")
print(f"daemon CPU:      {cpu:.2f} s ({cpu / max(stored, 1) * 1e6:.2f} us/event)")
print(f"daemon peak RSS: $HWM")
EOF
