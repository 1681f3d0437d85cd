-- seccomp-watch schema, version 1: events, their dictionaries, aggregates, checkpoints,
-- profiles and loss counters.
--
-- Size is the design goal (at most 40 bytes per stored event): an event row holds only
-- integers, and every repeated value lives once in a dictionary table. Absent values in
-- dictionary rows are stored as sentinels, not NULL, so that UNIQUE constraints hold:
-- -1 for absent numbers, 0 for an absent string id, '' for absent text.
-- All times are milliseconds since the epoch (UTC).

-- Every repeated string: comm, exe, subj, node, systemd unit, workload key. Id 0 is never
-- used and means "none".
CREATE TABLE strings (
    id INTEGER PRIMARY KEY,
    s TEXT NOT NULL UNIQUE
);

-- What was called and what the filter did: one row per distinct
-- (arch, syscall_nr, code, compat, sig).
CREATE TABLE kinds (
    id INTEGER PRIMARY KEY,
    arch INTEGER NOT NULL,        -- AUDIT_ARCH_* of the record
    syscall_nr INTEGER NOT NULL,  -- as the record wrote it (x32 numbers keep bit 0x40000000)
    code INTEGER NOT NULL,        -- the record's code= (the action)
    compat INTEGER NOT NULL,      -- 0 or 1
    sig INTEGER NOT NULL,         -- the record's sig=, or -4294967296 when absent
    UNIQUE (arch, syscall_nr, code, compat, sig)
);

-- Who called: one row per distinct (uid, gid, auid, ses, comm, exe, subj).
CREATE TABLE actors (
    id INTEGER PRIMARY KEY,
    uid INTEGER NOT NULL,         -- -1 when absent
    gid INTEGER NOT NULL,         -- -1 when absent
    auid INTEGER NOT NULL,        -- -1 when unset (4294967295) or absent
    ses INTEGER NOT NULL,         -- -1 when unset (4294967295) or absent
    comm INTEGER NOT NULL,        -- strings.id, 0 when absent
    exe INTEGER NOT NULL,         -- strings.id, 0 when absent
    subj INTEGER NOT NULL,        -- strings.id, 0 when absent
    UNIQUE (comm, exe, uid, gid, auid, ses, subj)
);

-- Containers as their runtime's metadata describes them ('' = unknown).
CREATE TABLE containers (
    id INTEGER PRIMARY KEY,
    container_id TEXT NOT NULL,
    runtime TEXT NOT NULL,
    name TEXT NOT NULL,
    image TEXT NOT NULL,
    pod TEXT NOT NULL,
    namespace TEXT NOT NULL,
    pod_uid TEXT NOT NULL,
    UNIQUE (container_id, runtime, name, image, pod, namespace, pod_uid)
);
CREATE INDEX containers_pod ON containers (namespace, pod);

-- Where an event came from and whom it is attributed to.
CREATE TABLE attributions (
    id INTEGER PRIMARY KEY,
    source INTEGER NOT NULL,      -- 0 netlink, 1 audit-log, 2 kmsg, 3 ingest
    container INTEGER NOT NULL,   -- containers.id, 0 when not in a container
    unit INTEGER NOT NULL,        -- strings.id of the systemd unit, 0 when none
    workload INTEGER NOT NULL,    -- strings.id of the workload key
    attributed INTEGER NOT NULL,  -- 0 or 1
    profile_hash TEXT NOT NULL,   -- profiles.hash of the applied profile, '' when unknown
    UNIQUE (source, container, unit, workload, attributed, profile_hash)
);
CREATE INDEX attributions_workload ON attributions (workload);

-- One row per SECCOMP record, stored once: the primary key is the record's identity
-- (time, serial, node). Records without a serial (journal lines) get a negative
-- synthetic serial derived from their content (see store/sqlite.rs).
CREATE TABLE events (
    time_ms INTEGER NOT NULL,
    serial INTEGER NOT NULL,
    node INTEGER NOT NULL,        -- strings.id, 0 when the record has no node=
    kind INTEGER NOT NULL,        -- kinds.id
    actor INTEGER NOT NULL,       -- actors.id
    pid INTEGER NOT NULL,
    ip INTEGER,                   -- the instruction pointer (u64 bits as i64), NULL when absent
    attrib INTEGER NOT NULL,      -- attributions.id
    PRIMARY KEY (time_ms, serial, node)
) WITHOUT ROWID;

-- Counts per (workload, arch, syscall, action), kept when retention deletes raw events.
CREATE TABLE aggregates (
    workload INTEGER NOT NULL,    -- strings.id
    arch INTEGER NOT NULL,
    syscall_nr INTEGER NOT NULL,
    action INTEGER NOT NULL,      -- the action's code with its data bits clear
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (workload, arch, syscall_nr, action)
) WITHOUT ROWID;

-- Seccomp profiles the runtimes applied, stored once by content hash.
CREATE TABLE profiles (
    hash TEXT PRIMARY KEY,        -- SHA-256 of json, lowercase hex
    json TEXT NOT NULL,
    first_seen INTEGER NOT NULL
);

-- Positions of followed files, committed with the events they cover.
CREATE TABLE checkpoints (
    key TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    dev INTEGER NOT NULL,         -- u64 bits as i64
    ino INTEGER NOT NULL,         -- u64 bits as i64
    fingerprint INTEGER NOT NULL, -- u64 bits as i64
    offset INTEGER NOT NULL,
    updated INTEGER NOT NULL
);

-- Records known lost, by cause (enobufs, kernel_lost, kmsg_suppressed, tail), and lines
-- that could not be parsed (parse_error): survives restarts.
CREATE TABLE losses (
    cause TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    updated INTEGER NOT NULL
);
