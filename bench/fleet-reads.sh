#!/usr/bin/env bash
# The fleet's read side over 10M events: loads the central schema (migrations/postgres/,
# through `seccomp-watch fleet migrate`) with N events straight in SQL (generate_series:
# 3 nodes, two x86_64 and one aarch64; 50 workloads, one holding half the events; 300
# calls; 7 days of day partitions; the aggregates computed from the events as the
# replicator ships them), then times the read commands with --db postgres://...:
# summary (by workload, node, syscall), suggest and generate for a workload of ~1/100 of
# the events and for the one holding half of them, and events.
#
# Usage: bench/fleet-reads.sh [ADMIN_URL]   (default: $SECCOMP_WATCH_TEST_PG of the test
#        world, `scripts/test-env.sh up postgres`)
#   EVENTS=10000000 (rows), RUNS=5 (timed runs per command), KEEP=1 keeps the database,
#   BIN=target/release/seccomp-watch (built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN=${1:-${SECCOMP_WATCH_TEST_PG:-}}
[ -n "$ADMIN" ] || { echo "usage: $0 ADMIN_URL (or set SECCOMP_WATCH_TEST_PG)" >&2; exit 2; }
EVENTS=${EVENTS:-10000000}
RUNS=${RUNS:-5}
BIN=${BIN:-target/release/seccomp-watch}
DB=sw_bench_fleet_reads
URL="${ADMIN%/*}/$DB"
[ -x "$BIN" ] || cargo build --release -p seccomp-watch >&2

psql_admin() { psql -qX -v ON_ERROR_STOP=1 "$ADMIN" "$@"; }
psql_db() { psql -qX -v ON_ERROR_STOP=1 "$URL" "$@"; }

cleanup() { [ "${KEEP:-0}" = 1 ] || psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT

psql_admin -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
"$BIN" fleet migrate --db "$URL" >&2

T0=1796083200000 # 2026-12-01T00:00:00Z
STEP=$(( 7 * 86400000 / EVENTS ))
[ "$STEP" -ge 1 ] || STEP=1
t_load=$(date +%s.%N)
psql_db <<SQL
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
INSERT INTO nodes (id, name, first_seen, last_seen, shipped_events)
  SELECT n, 'bench-node-' || n, $T0, $T0, 0 FROM generate_series(1, 3) n;
INSERT INTO strings (node, id, s)
  SELECT n, w, 'k8s:bench/app-' || w || '/main' FROM generate_series(1, 3) n, generate_series(1, 50) w;
INSERT INTO strings (node, id, s) SELECT n, 100, 'app' FROM generate_series(1, 3) n;
INSERT INTO strings (node, id, s) SELECT n, 101, '/usr/bin/app' FROM generate_series(1, 3) n;
-- 300 calls per node, every fifth one allowed, the rest logged; node 3 is aarch64.
INSERT INTO kinds (node, id, arch, syscall_nr, code, compat, sig)
  SELECT n, k, CASE WHEN n = 3 THEN 3221225655 ELSE 3221225534 END, k - 1,
         CASE WHEN k % 5 = 0 THEN 2147418112 ELSE 2147221504 END, 0, -4294967296
  FROM generate_series(1, 3) n, generate_series(1, 300) k;
INSERT INTO actors (node, id, uid, gid, auid, ses, comm, exe, subj)
  SELECT n, a, a, 0, -1, -1, 100, 101, 0 FROM generate_series(1, 3) n, generate_series(1, 20) a;
INSERT INTO containers (node, id, container_id, runtime, name, image, pod, namespace, pod_uid)
  SELECT n, w, lpad(to_hex(n * 1000 + w), 64, '0'), 'containerd', 'main', 'registry.example/app',
         'app-' || w || '-7d9f8b6c5-x2k4q', 'bench', ''
  FROM generate_series(1, 3) n, generate_series(1, 50) w;
INSERT INTO attributions (node, id, source, container, unit, workload, attributed, profile_hash)
  SELECT n, w, 0, w, 0, w, 1, '' FROM generate_series(1, 3) n, generate_series(1, 50) w;
SELECT sw_ensure_event_partitions($T0, $T0 + 7 * 86400000);
-- Workload 1 holds half the events, 2..50 share the rest.
INSERT INTO events (node, time_ms, serial, record_node, kind, actor, pid, ip, attrib)
  SELECT (i % 3) + 1, $T0 + i * $STEP, i, 0, ((i * 7919) % 300) + 1, (i % 20) + 1, 1000 + i % 50,
         NULL, CASE WHEN i % 2 = 0 THEN 1 ELSE ((i / 2) % 49) + 2 END
  FROM generate_series(1::bigint, $EVENTS::bigint) i;
INSERT INTO aggregates (node, workload, arch, syscall_nr, action, count, first_seen, last_seen)
  SELECT e.node, s.s, k.arch, k.syscall_nr, k.code & 4294901760, count(*), min(e.time_ms), max(e.time_ms)
  FROM events e
  JOIN kinds k ON k.node = e.node AND k.id = e.kind
  JOIN attributions a ON a.node = e.node AND a.id = e.attrib
  JOIN strings s ON s.node = a.node AND s.id = a.workload
  GROUP BY 1, 2, 3, 4, 5;
UPDATE nodes n SET shipped_events = c.c FROM (SELECT node, count(*) c FROM events GROUP BY node) c WHERE c.node = n.id;
VACUUM ANALYZE;
SQL
t_loaded=$(date +%s.%N)
rows=$(psql_db -At -c "SELECT count(*) FROM events")
aggs=$(psql_db -At -c "SELECT count(*) FROM aggregates")
size=$(psql_db -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")
printf 'loaded %s events (%s aggregate rows, %s) in %.1f s\n' "$rows" "$aggs" "$size" \
  "$(echo "$t_loaded - $t_load" | bc)"

profile=$(mktemp --suffix=.json)
trap 'rm -f "$profile"; cleanup' EXIT
cat > "$profile" <<'JSON'
{
  "defaultAction": "SCMP_ACT_ERRNO",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [
    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["connect", "socket"], "action": "SCMP_ACT_LOG"}
  ]
}
JSON

small=$(psql_db -At -c "SELECT count(*) FROM events WHERE attrib = 7")
big=$(psql_db -At -c "SELECT count(*) FROM events WHERE attrib = 1")

# time_cmd NAME ARGS...: RUNS timed runs after one warm-up; min and median wall time.
time_cmd() {
  local name=$1; shift
  "$BIN" "$@" > /dev/null 2>&1 || { echo "$name: failed: $("$BIN" "$@" 2>&1 | tail -3)"; return; }
  local ts=()
  for _ in $(seq "$RUNS"); do
    local a b
    a=$(date +%s%N); "$BIN" "$@" > /dev/null 2>&1; b=$(date +%s%N)
    ts+=($(( (b - a) / 1000000 )))
  done
  local sorted
  sorted=$(printf '%s\n' "${ts[@]}" | sort -n)
  printf '%-52s min %6d ms  median %6d ms\n' "$name" \
    "$(echo "$sorted" | head -1)" "$(echo "$sorted" | sed -n "$(( (RUNS + 1) / 2 ))p")"
}

echo "commands over $rows events (3 nodes, 50 workloads), $RUNS runs each:"
time_cmd "summary (by workload)" summary --db "$URL"
time_cmd "summary --by node" summary --by node --db "$URL"
time_cmd "summary --by syscall" summary --by syscall --db "$URL"
time_cmd "suggest, workload of $small events" suggest --workload k8s:bench/app-7/main --profile "$profile" --db "$URL"
time_cmd "suggest, workload of $big events" suggest --workload k8s:bench/app-1/main --profile "$profile" --db "$URL"
time_cmd "generate, workload of $small events" generate --workload k8s:bench/app-7/main --db "$URL"
time_cmd "events --limit 100" events --limit 100 --db "$URL"
time_cmd "events --workload W --limit 100" events --workload k8s:bench/app-7/main --limit 100 --db "$URL"
