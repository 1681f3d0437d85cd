//! The fleet: replication of this node's SQLite database into a central PostgreSQL.
//!
//! - [`conn`]: the connection (`[fleet] postgres`, password file or variable, TLS).
//! - [`schema`]: the central schema's migrations (`migrations/postgres/`) and its day
//!   partitions.
//! - [`local`]: the write log and cursors in the local SQLite, and what a batch reads.
//! - [`ship`]: one batch into PostgreSQL in one transaction (COPY, idempotent inserts).
//! - [`task`]: the replicator task (order, cursor after commit, backoff, metrics).
//!
//! Invariant: a batch is either not yet in PostgreSQL or in it exactly once. The cursor
//! (fleet_state, and the shipped rows' deletion from fleet_log) advances only after
//! PostgreSQL committed; a crash in between sends the batch again, and every insert is
//! idempotent on its natural key.

pub mod conn;
pub mod local;
pub mod schema;
pub mod ship;
pub mod task;

/// Wall clock in ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
