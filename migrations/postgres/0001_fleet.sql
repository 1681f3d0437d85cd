-- seccomp-watch central (fleet) schema, version 1, PostgreSQL 13+.
--
-- Every node's daemon replicates its local SQLite database (migrations/0001_init.sql,
-- 0002_alerts.sql) into this schema (daemon/src/fleet/). Applied by
-- `seccomp-watch fleet migrate --db postgres://...` or by the first replicator that
-- connects (sqlx migrations of their own: table _sqlx_migrations of this database).
--
-- HOW TO READ IT (for the read side):
-- * `node` everywhere is nodes.id: the replicating daemon's node name ([fleet] node, else
--   the host name). It is first-class: every table that holds node data has it in its key.
-- * The dictionaries (strings, kinds, actors, containers, attributions) are the node's
--   SQLite dictionaries copied verbatim, keyed by (node, id): an id means something only
--   together with its node. So every join from events to a dictionary is on (node, id):
--       FROM events e
--       JOIN kinds k        ON k.node = e.node AND k.id = e.kind
--       JOIN actors ac      ON ac.node = e.node AND ac.id = e.actor
--       JOIN attributions a ON a.node = e.node AND a.id = e.attrib
--       LEFT JOIN strings w ON w.node = a.node AND w.id = a.workload
--       LEFT JOIN containers c ON c.node = a.node AND c.id = a.container
--   Why: events stay all-integer rows (COPY-friendly, ~ the SQLite size), a node ships its
--   rows without any id translation, and the same normalisation as SQLite holds.
--   Sentinels are SQLite's: 0 = no string / no container, -1 = absent number, '' = absent
--   text; sig -4294967296 = absent.
-- * Selecting by workload: the workload's (node, attribution id) pairs first, e.g.
--       WHERE (e.node, e.attrib) IN (SELECT a.node, a.id FROM attributions a
--              JOIN strings s ON s.node = a.node AND s.id = a.workload WHERE s.s = $1)
--   (index strings_s, attributions_workload, events_attrib). By container: the same through
--   containers (containers_container_id, containers_pod).
-- * aggregates are per (node, workload TEXT, arch, syscall_nr, action): the workload is
--   denormalised to its key text so that fleet-wide summaries group without joins. A row
--   holds the node's ABSOLUTE counts (the replicator copies the node's row, never adds),
--   so fleet totals are SUM(count) over nodes, and a replayed copy changes nothing. A
--   node's aggregate may run slightly ahead of its shipped events (it also counts events
--   committed locally but not shipped yet), never behind for long.
-- * alerts: per (node, id). Alert ids are stable across nodes for the same (rule,
--   workload, syscall, action, window) (rules::engine::alert_id), so "once per fleet" is
--   GROUP BY id.
-- * profiles: applied seccomp profiles, global by content hash (attributions.profile_hash
--   refers to them).
-- * All times are milliseconds since the epoch (UTC), as in SQLite.
--
-- events is range-partitioned by day on time_ms (UTC days): partitions are named
-- events_pYYYYMMDD and made by sw_ensure_event_partitions(from_ms, to_ms) (the replicator
-- calls it before each batch); events_default holds rows outside the window the
-- replicator creates partitions for (see the function); retention drops whole day
-- partitions (sw_drop_event_partitions_before).

-- The nodes that replicate here. `name` is the node's name as configured.
CREATE TABLE nodes (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first_seen BIGINT NOT NULL,      -- when the node first connected (ms)
    last_seen BIGINT NOT NULL,       -- its last committed replication batch (ms)
    shipped_seq BIGINT NOT NULL DEFAULT 0,  -- the node's local write-log position shipped
    shipped_events BIGINT NOT NULL DEFAULT 0 -- events the node has shipped (inserted or not)
);

-- The node's strings dictionary: comm, exe, subj, record node= names, systemd units,
-- workload keys. id 0 is never stored and means "none".
CREATE TABLE strings (
    node INTEGER NOT NULL,
    id BIGINT NOT NULL,
    s TEXT NOT NULL,
    PRIMARY KEY (node, id)
);
CREATE INDEX strings_s ON strings (s);

-- What was called and what the filter did (as SQLite's kinds).
CREATE TABLE kinds (
    node INTEGER NOT NULL,
    id BIGINT NOT NULL,
    arch BIGINT NOT NULL,            -- AUDIT_ARCH_*
    syscall_nr BIGINT NOT NULL,      -- as the record wrote it
    code BIGINT NOT NULL,            -- the record's code= (the action with its data)
    compat SMALLINT NOT NULL,        -- 0 or 1
    sig BIGINT NOT NULL,             -- sig=, -4294967296 when absent
    PRIMARY KEY (node, id)
);
CREATE INDEX kinds_syscall ON kinds (arch, syscall_nr);

-- Who called (as SQLite's actors); comm, exe, subj are strings ids of the same node.
CREATE TABLE actors (
    node INTEGER NOT NULL,
    id BIGINT NOT NULL,
    uid BIGINT NOT NULL,
    gid BIGINT NOT NULL,
    auid BIGINT NOT NULL,
    ses BIGINT NOT NULL,
    comm BIGINT NOT NULL,
    exe BIGINT NOT NULL,
    subj BIGINT NOT NULL,
    PRIMARY KEY (node, id)
);

-- Containers as the node's runtimes described them ('' = unknown).
CREATE TABLE containers (
    node INTEGER NOT NULL,
    id BIGINT NOT NULL,
    container_id TEXT NOT NULL,
    runtime TEXT NOT NULL,
    name TEXT NOT NULL,
    image TEXT NOT NULL,
    pod TEXT NOT NULL,
    namespace TEXT NOT NULL,
    pod_uid TEXT NOT NULL,
    PRIMARY KEY (node, id)
);
CREATE INDEX containers_container_id ON containers (container_id text_pattern_ops);
CREATE INDEX containers_pod ON containers (namespace, pod);

-- Where an event came from and whom it is attributed to (as SQLite's attributions).
CREATE TABLE attributions (
    node INTEGER NOT NULL,
    id BIGINT NOT NULL,
    source SMALLINT NOT NULL,        -- 0 netlink, 1 audit-log, 2 kmsg, 3 ingest
    container BIGINT NOT NULL,       -- containers.id of the node, 0 when none
    unit BIGINT NOT NULL,            -- strings.id of the node, 0 when none
    workload BIGINT NOT NULL,        -- strings.id of the node (the workload key)
    attributed SMALLINT NOT NULL,    -- 0 or 1
    profile_hash TEXT NOT NULL,      -- profiles.hash, '' when unknown
    PRIMARY KEY (node, id)
);
CREATE INDEX attributions_workload ON attributions (node, workload);
CREATE INDEX attributions_container ON attributions (node, container);
CREATE INDEX attributions_profile ON attributions (profile_hash) WHERE profile_hash <> '';

-- One row per SECCOMP record of a node, stored once: the key is (node, time_ms, serial,
-- record_node). `serial` is the node's store serial (negative synthetic key for records
-- without one); `record_node` is the strings id of the record's own node= field (0: none)
-- and is part of the key because a node's SQLite may hold one (time, serial) under two
-- node= values (forwarded logs). Replays are dropped by ON CONFLICT DO NOTHING on this key.
CREATE TABLE events (
    node INTEGER NOT NULL,
    time_ms BIGINT NOT NULL,
    serial BIGINT NOT NULL,
    record_node BIGINT NOT NULL,
    kind BIGINT NOT NULL,            -- kinds.id of the node
    actor BIGINT NOT NULL,           -- actors.id of the node
    pid BIGINT NOT NULL,
    ip BIGINT,                       -- instruction pointer (u64 bits as i64), NULL when absent
    attrib BIGINT NOT NULL,          -- attributions.id of the node
    PRIMARY KEY (node, time_ms, serial, record_node)
) PARTITION BY RANGE (time_ms);
-- Reads by time (every partition), by workload/container (through attrib), by kind.
CREATE INDEX events_time ON events (time_ms);
CREATE INDEX events_attrib ON events (node, attrib, time_ms);
CREATE INDEX events_kind ON events (node, kind);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Counts per (node, workload, arch, syscall, action): the node's absolute row (see top).
CREATE TABLE aggregates (
    node INTEGER NOT NULL,
    workload TEXT NOT NULL,          -- the workload key ('' when none)
    arch BIGINT NOT NULL,
    syscall_nr BIGINT NOT NULL,
    action BIGINT NOT NULL,          -- the action's code with its data bits clear
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (node, workload, arch, syscall_nr, action)
);
CREATE INDEX aggregates_workload ON aggregates (workload);
CREATE INDEX aggregates_syscall ON aggregates (arch, syscall_nr);

-- Applied seccomp profiles by content hash (SHA-256 of json, lowercase hex).
CREATE TABLE profiles (
    hash TEXT PRIMARY KEY,
    json TEXT NOT NULL,
    first_seen BIGINT NOT NULL       -- the earliest first_seen any node reported
);

-- Alerts per node (a copy of the node's alerts row; the latest `updated` wins).
CREATE TABLE alerts (
    node INTEGER NOT NULL,
    id TEXT NOT NULL,                -- stable across nodes (rules::engine::alert_id)
    rule TEXT NOT NULL,
    severity SMALLINT NOT NULL,      -- 0 info, 1 low, 2 medium, 3 high, 4 critical
    workload TEXT NOT NULL,
    syscall TEXT NOT NULL,
    action TEXT NOT NULL,
    count BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    body TEXT NOT NULL,              -- the alert as JSON (rules::engine::Alert), as text
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (node, id)
);
CREATE INDEX alerts_id ON alerts (id);
CREATE INDEX alerts_created ON alerts (created);
CREATE INDEX alerts_workload ON alerts (workload);

-- Loss counters per node and cause (the node's absolute counts, as its losses table).
CREATE TABLE losses (
    node INTEGER NOT NULL,
    cause TEXT NOT NULL,
    count BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (node, cause)
);

-- The UTC day [lo, hi) of a time in ms.
CREATE FUNCTION sw_day_start(t_ms BIGINT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$ SELECT t_ms - ((t_ms % 86400000) + 86400000) % 86400000 $$;

-- Creates the day partitions of events covering [from_ms, to_ms] (at most 400 days per
-- call; more is an error). Rows already in events_default for a new day are moved into
-- it. Safe to call concurrently from several nodes (an advisory lock serialises it) and
-- repeatedly (existing partitions are skipped). Returns how many partitions it created.
CREATE FUNCTION sw_ensure_event_partitions(from_ms BIGINT, to_ms BIGINT) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    lo BIGINT := sw_day_start(from_ms);
    hi BIGINT;
    name TEXT;
    made INTEGER := 0;
BEGIN
    IF to_ms < from_ms THEN
        RETURN 0;
    END IF;
    IF (sw_day_start(to_ms) - lo) / 86400000 >= 400 THEN
        RAISE EXCEPTION 'sw_ensure_event_partitions: % to % spans more than 400 days', from_ms, to_ms;
    END IF;
    PERFORM pg_advisory_xact_lock(4242424201);
    WHILE lo <= to_ms LOOP
        hi := lo + 86400000;
        name := 'events_p' || to_char(to_timestamp(lo / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS)', name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM events_default WHERE time_ms >= %s AND time_ms < %s RETURNING *) '
                'INSERT INTO %I SELECT * FROM moved', lo, hi, name);
            EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
                name, lo, hi);
            made := made + 1;
        END IF;
        lo := hi;
    END LOOP;
    RETURN made;
END $$;

-- Retention: drops every day partition that ends at or before cutoff_ms, and deletes the
-- rows of events_default older than it. Returns how many partitions it dropped.
CREATE FUNCTION sw_drop_event_partitions_before(cutoff_ms BIGINT) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    p RECORD;
    dropped INTEGER := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(4242424201);
    FOR p IN
        SELECT c.relname,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''?(-?\d+)''?\)'))[1]::BIGINT AS upper
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'events'::regclass AND c.relname LIKE 'events\_p%'
    LOOP
        IF p.upper IS NOT NULL AND p.upper <= cutoff_ms THEN
            EXECUTE format('DROP TABLE %I', p.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM events_default WHERE time_ms < cutoff_ms;
    RETURN dropped;
END $$;
