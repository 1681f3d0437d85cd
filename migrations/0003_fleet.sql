-- seccomp-watch schema, version 3: the fleet replicator's write log and cursors
-- (daemon/src/fleet/local.rs). Empty and unused unless `[fleet] postgres` is set.
--
-- While replication is on, a trigger (made by the replicator, not here, so that a node
-- without a fleet pays nothing: fleet_log_events, AFTER INSERT ON events) appends every
-- newly stored event's key to fleet_log in the writer's own transaction; on first start
-- (or a new fleet database or node name) the replicator backfills fleet_log with every
-- stored event. fleet_log therefore holds exactly the events not yet in PostgreSQL, in
-- commit order: the replicator ships them in seq order and deletes them, with the
-- cursor update, after PostgreSQL committed. Retention never deletes an event still in
-- fleet_log (store/sqlite/write.rs).
CREATE TABLE fleet_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: the cursor compares with it
    time_ms INTEGER NOT NULL,              -- the event's key in events
    serial INTEGER NOT NULL,
    node INTEGER NOT NULL,
    at INTEGER NOT NULL                    -- when it was committed locally (ms), for the lag
);

-- The replicator's cursors: `seq` (fleet_log shipped up to), `strings`, `kinds`,
-- `actors`, `containers`, `attributions` (dictionary ids shipped up to), `profiles`
-- (rowid), `alerts` (updated ms), `aggregates` (1 once the whole table was shipped);
-- `target` (text): the fleet database and node name these cursors are for.
CREATE TABLE fleet_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
