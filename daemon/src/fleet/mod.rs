//! The fleet: replication of this node's SQLite database into a central PostgreSQL.
//!
//! - [`conn`]: the connection (`[fleet] postgres`, password file or variable, TLS).
//! - [`schema`]: the central schema's migrations (`migrations/postgres/`) and its day
//!   partitions.

pub mod conn;
pub mod schema;

/// Wall clock in ms since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
