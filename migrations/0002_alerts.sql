-- seccomp-watch schema, version 2: alerts and their durable outbox, and the novelty state
-- of the `novel` rule condition. Written by the store writer in the same transaction as
-- the events that raised them (daemon/src/alerts/db.rs). Times are milliseconds since the
-- epoch (UTC).

-- One row per roll-up: (rule, workload, syscall, action) in one window. The id is
-- deterministic (see rules::engine::alert_id), so a re-opened roll-up adds to its row.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    severity INTEGER NOT NULL,    -- 0 info, 1 low, 2 medium, 3 high, 4 critical
    workload TEXT NOT NULL,
    syscall TEXT NOT NULL,
    action TEXT NOT NULL,
    count INTEGER NOT NULL,       -- events rolled up (authoritative; body.count may lag)
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    window_end INTEGER NOT NULL,  -- the count is final once the clock passes this
    body TEXT NOT NULL,           -- the alert as JSON (rules::engine::Alert)
    created INTEGER NOT NULL,     -- wall clock of the first write
    updated INTEGER NOT NULL      -- wall clock of the last write
);
CREATE INDEX alerts_created ON alerts (created);

-- The outbox: one row per (alert, sink). `pending` rows are delivered at `next_attempt` or
-- later; a row that stays pending longer than the maximum age after `queued` becomes
-- `dead` (`seccomp-watch alerts retry ID` queues it again).
CREATE TABLE alert_deliveries (
    alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    sink TEXT NOT NULL,
    status TEXT NOT NULL,         -- pending, delivered, dead
    attempts INTEGER NOT NULL,    -- attempts since queued
    next_attempt INTEGER NOT NULL,
    queued INTEGER NOT NULL,
    delivered INTEGER,            -- when last delivered
    delivered_count INTEGER NOT NULL DEFAULT 0, -- the count that delivery carried
    last_error TEXT,
    PRIMARY KEY (alert_id, sink)
) WITHOUT ROWID;
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt);

-- A delivered alert whose count grows is queued again, due when its window closes (the
-- same id then carries the final count). In a trigger so that the writer's per-batch count
-- update is one statement.
CREATE TRIGGER alerts_count_grew AFTER UPDATE OF count ON alerts
WHEN new.count > old.count
BEGIN
    UPDATE alert_deliveries
    SET status = 'pending', attempts = 0, last_error = NULL,
        queued = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
        next_attempt = max(CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), new.window_end)
    WHERE alert_id = new.id AND status = 'delivered';
END;

-- `novel`: when each workload was first seen (its learning window starts there) ...
CREATE TABLE alert_workloads (
    workload TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL
) WITHOUT ROWID;

-- ... and every (workload, arch, syscall) seen (arch: SCMP_ARCH_* or hex; syscall: the
-- name, or the number when it has none).
CREATE TABLE alert_seen (
    workload TEXT NOT NULL,
    arch TEXT NOT NULL,
    syscall TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (workload, arch, syscall)
) WITHOUT ROWID;
