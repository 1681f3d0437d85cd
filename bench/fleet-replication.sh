#!/usr/bin/env bash
# Side by side, in one run: replication of the 1M-line corpus (bench/gen-audit-log.py,
# ~850k SECCOMP events) from one node's SQLite into a local PostgreSQL with
# `seccomp-watch fleet push` (what the daemon's replicator does: COPY straight into events, or into a staging table,
# INSERT ... ON CONFLICT DO NOTHING, dictionaries, aggregates, cursor), beside
# `psql -c "\copy events ... CSV"` of the same rows into the same table shape (the
# partitioned events table of migrations/postgres with its key and indexes): the engine's
# own fast path, without idempotence. Also a replay of the same push (every row already
# there). Goal (issue 13): the replicator at >= 50% of \copy's rate.
#
# usage: bench/fleet-replication.sh [--no-build] [--lines N]
# Needs PostgreSQL's server binaries (initdb, pg_ctl: $PG_BIN, default the newest
# /usr/lib/postgresql/*/bin) and sqlite3; runs its own cluster in a temp dir on a free
# port as user postgres (when run as root) and stops it by its pid at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
lines=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --lines) lines=$2; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
target=${CARGO_TARGET_DIR:-target}
[ "$build" = 1 ] && cargo build --release -q -p seccomp-watch
bin=$(realpath "$target/release/seccomp-watch")
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PG_BIN/initdb" ] || { echo "no PostgreSQL server binaries (PG_BIN)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sw-fleet-bench.XXXXXX")
chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }
mkdir "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work/pg"
as_pg "'$PG_BIN/initdb' -D '$work/pg/data' -U postgres --auth=trust -E UTF8 >/dev/null"
as_pg "'$PG_BIN/pg_ctl' -D '$work/pg/data' -l '$work/pg/log' -w -o \"-p $port -k '$work/pg' -c listen_addresses=127.0.0.1\" start >/dev/null"
pgpid=$(head -1 "$work/pg/data/postmaster.pid")
cleanup() {
  kill -INT "$pgpid" 2>/dev/null || true
  while kill -0 "$pgpid" 2>/dev/null; do sleep 0.2; done
  rm -rf "$work"
}
trap cleanup EXIT
psql_() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
url() { echo "postgres://postgres@127.0.0.1:$port/$1"; }

corpus=bench/corpus-1m.log
[ "$lines" != 1000000 ] && corpus=$work/corpus.log
[ -f "$corpus" ] || python3 bench/gen-audit-log.py "$lines" "$corpus" >/dev/null
db=$work/node.db
/usr/bin/time -f "%e %U %S" -o "$work/ingest-off.t" "$bin" ingest --db "$db" "$corpus" >/dev/null 2>&1
events=$(sqlite3 "$db" "SELECT count(*) FROM events")
echo "corpus: $lines lines, $events events in $db"

# 1. The replicator (fleet push) into an empty fleet database.
psql_ -d postgres -c "CREATE DATABASE repl" -c "CREATE DATABASE copy"
"$bin" fleet migrate --db "$(url repl)" >/dev/null 2>&1
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$work/push.cpu" "$bin" fleet push --db "$(url repl)" --from "$db" --node bench 2>/dev/null | tail -1
t1=$(date +%s.%N)
push_s=$(echo "$t1 - $t0" | bc -l)
shipped=$(psql_ -d repl -At -c "SELECT count(*) FROM events")

# 2. The same push again: every row already there (idempotence; what a replay costs).
sqlite3 "$db" "DELETE FROM fleet_state; DROP TRIGGER fleet_log_events;"
t0=$(date +%s.%N)
"$bin" fleet push --db "$(url repl)" --from "$db" --node bench 2>/dev/null | tail -1
t1=$(date +%s.%N)
replay_s=$(echo "$t1 - $t0" | bc -l)
again=$(psql_ -d repl -At -c "SELECT count(*) FROM events")

# 3. \copy of the same rows as CSV into the same table shape (schema and partitions).
"$bin" fleet migrate --db "$(url copy)" >/dev/null 2>&1
sqlite3 -csv "$db" "SELECT 1, time_ms, serial, node, kind, actor, pid, ip, attrib FROM events" > "$work/events.csv"
range=$(sqlite3 "$db" "SELECT min(time_ms) || ',' || max(time_ms) FROM events")
psql_ -d copy -At -c "SELECT sw_ensure_event_partitions($range)" >/dev/null
t0=$(date +%s.%N)
psql_ -d copy -c "\\copy events (node, time_ms, serial, record_node, kind, actor, pid, ip, attrib) FROM '$work/events.csv' CSV"
t1=$(date +%s.%N)
copy_s=$(echo "$t1 - $t0" | bc -l)
copied=$(psql_ -d copy -At -c "SELECT count(*) FROM events")

# 4. What the write log costs the writer: the same ingest into a database whose
# replication is on (its trigger appends every stored event to fleet_log).
psql_ -d postgres -c "CREATE DATABASE logon"
db2=$work/node-logon.db
"$bin" ingest --db "$db2" /dev/null >/dev/null 2>&1 || true
"$bin" fleet push --db "$(url logon)" --from "$db2" --node logon >/dev/null 2>&1
/usr/bin/time -f "%e %U %S" -o "$work/ingest-on.t" "$bin" ingest --db "$db2" "$corpus" >/dev/null 2>&1
logged=$(sqlite3 "$db2" "SELECT count(*) FROM fleet_log")
read -r off_e off_u off_s < "$work/ingest-off.t"
read -r on_e on_u on_s < "$work/ingest-on.t"
printf '\ningest, replication off: %6.2f s wall, %6.2f s CPU (%.2f us CPU/event)\n' "$off_e" "$(echo "$off_u + $off_s" | bc -l)" "$(echo "($off_u + $off_s) * 1000000 / $events" | bc -l)"
printf 'ingest, replication on:  %6.2f s wall, %6.2f s CPU (%.2f us CPU/event; %d events logged)\n' "$on_e" "$(echo "$on_u + $on_s" | bc -l)" "$(echo "($on_u + $on_s) * 1000000 / $events" | bc -l)" "$logged"

printf '\n%-44s %10s %9s %12s\n' "method" "events" "seconds" "events/s"
printf '%-44s %10d %9.2f %12.0f\n' "seccomp-watch fleet push (the replicator)" "$shipped" "$push_s" "$(echo "$shipped / $push_s" | bc -l)"
printf '%-44s %10d %9.2f %12.0f\n' "  same push replayed (all duplicates)" "$events" "$replay_s" "$(echo "$events / $replay_s" | bc -l)"
printf '%-44s %10d %9.2f %12.0f\n' "psql \\copy CSV (same table shape)" "$copied" "$copy_s" "$(echo "$copied / $copy_s" | bc -l)"
printf '\nreplicator / \\copy rate: %.0f%%   (push CPU user+sys: %s s)\n' \
  "$(echo "100 * $copy_s / $push_s" | bc -l)" "$(awk '{print $1 + $2}' "$work/push.cpu")"
[ "$again" = "$shipped" ] || { echo "replay changed the row count: $shipped -> $again" >&2; exit 1; }
[ "$shipped" = "$events" ] || { echo "shipped $shipped of $events" >&2; exit 1; }
