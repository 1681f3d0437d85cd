-- seccomp-watch central (fleet) schema, version 2: what the read side needs to be fast
-- (daemon/src/store/postgres/read.rs).
--
-- suggest and generate group a selection's events by (node, attribution, kind) and need
-- each group's time range and highest actor id: with this index that is an index-only
-- scan of the selection's (node, attrib) range, instead of one heap page visit per event
-- (events of many workloads interleave in the heap). Measured by bench/fleet-reads.sh.
-- It costs the replicator one more index entry per event.
CREATE INDEX events_attrib_kind ON events (node, attrib, kind) INCLUDE (time_ms, actor);
