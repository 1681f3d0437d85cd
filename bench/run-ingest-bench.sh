#!/usr/bin/env bash
# Side by side, in one run: `seccomp-watch ingest` (release build), the Python regex +
# sqlite3 baseline (bench/baseline_ingest.py) and `ausearch --format raw`, on the 1M-line
# corpus and (with --5m) the 5M-line one. Prints wall time, events/s, CPU seconds, peak
# RSS and database bytes per stored event.
#
# usage: bench/run-ingest-bench.sh [--5m] [--no-build]
# Corpora: bench/corpus-1m.log (made with bench/gen-audit-log.py when missing) and
# $TMPDIR/corpus-5m.log. A shared or loaded machine inflates wall times; CPU seconds
# (user + sys) are the steadier figure.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=${TMPDIR:-/tmp}
sizes=(1m)
build=1
for a in "$@"; do
  case "$a" in
    --5m) sizes+=(5m) ;;
    --no-build) build=0 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
target=${CARGO_TARGET_DIR:-target}
if [ "$build" = 1 ]; then
  cargo build --release -q -p seccomp-watch
fi
bin="$target/release/seccomp-watch"

corpus() {
  case "$1" in
    1m) f=bench/corpus-1m.log; n=1000000 ;;
    5m) f=$tmp/corpus-5m.log; n=5000000 ;;
  esac
  [ -f "$f" ] || python3 bench/gen-audit-log.py "$n" "$f"
  echo "$f"
}

# run LABEL EVENTS DB -- command...: one line of the table.
run() {
  local label=$1 events=$2 db=$3
  shift 4
  local t
  t=$(mktemp)
  /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" >/dev/null 2>&1
  read -r wall user sys rss <"$t"
  rm -f "$t"
  local per="-"
  if [ -n "$db" ] && [ -f "$db" ]; then
    per=$(python3 -c "import os,sys; print('%.1f' % (os.path.getsize(sys.argv[1]) / int(sys.argv[2])))" "$db" "$events")
  fi
  python3 - "$label" "$events" "$wall" "$user" "$sys" "$rss" "$per" <<'EOF'
import sys
label, events, wall, user, sys_, rss, per = sys.argv[1:]
events, wall = int(events), float(wall)
print("%-34s %8.2f s %11.0f ev/s %7.2f s CPU %7.1f MB RSS %8s B/event" % (
    label, wall, events / wall if wall else 0, float(user) + float(sys_), int(rss) / 1024, per))
EOF
}

for size in "${sizes[@]}"; do
  f=$(corpus "$size")
  events=$(grep -c '^type=SECCOMP' "$f" || true)
  echo "== $f: $(wc -l <"$f") lines, $events SECCOMP records, $(du -h "$f" | cut -f1)"
  db=$tmp/bench-sw-$size.db
  rm -f "$db" "$db-wal" "$db-shm"
  run "seccomp-watch ingest" "$events" "$db" -- "$bin" ingest --quiet --db "$db" "$f"
  run "seccomp-watch ingest (again: dups)" "$events" "" -- "$bin" ingest --quiet --db "$db" "$f"
  rm -f "$db" "$db-wal" "$db-shm"
  pdb=$tmp/bench-py-$size.db
  rm -f "$pdb" "$pdb-wal" "$pdb-shm"
  run "python regex + sqlite3 baseline" "$events" "$pdb" -- python3 bench/baseline_ingest.py "$pdb" "$f"
  rm -f "$pdb" "$pdb-wal" "$pdb-shm"
  if command -v ausearch >/dev/null; then
    run "ausearch --format raw (no db)" "$events" "" -- ausearch -if "$f" -m SECCOMP --format raw
  fi
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
