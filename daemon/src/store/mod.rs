//! The event store: a narrow, backend-neutral [`Store`] trait (what the commands, the
//! daemon and the HTTP API may ask of the database), its SQLite backend ([`sqlite`]: a
//! node's own database, read and written) and its PostgreSQL backend ([`postgres`]: the
//! fleet's central database, read only here; the nodes' replicators write it).
//!
//! Writing goes through exactly one [`StoreWriter`], owned by the writer task
//! ([`crate::writer`]); everything else reads. The read commands open an [`AnyStore`]
//! from a [`DbTarget`] (`--db PATH` or `--db postgres://...`, else the configuration's
//! `[fleet] postgres`, else its `db`). Nothing outside this module names sqlx types
//! except the alerts hook, which the SQLite writer calls inside its transaction.

pub mod any;
pub mod postgres;
pub mod row;
pub mod sqlite;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::path::PathBuf;

use parsers::{Action, Event};

use crate::pipeline::{Checkpoint, Item, StoreBatch};

pub use any::{AnyStore, DbTarget};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no database at {0} (run the daemon or `seccomp-watch ingest` first, or pass --db)")]
    Missing(PathBuf),
    #[error("database error: {message} (SQLite code {code})")]
    Sqlite { code: i32, message: String },
    #[error("cannot encode a query argument: {0}")]
    Encode(String),
    #[error("database holds an invalid value: {0}")]
    Corrupt(String),
    /// The backend is read-only from this process (the fleet database: the nodes'
    /// replicators write it).
    #[error("{0} is read-only here")]
    ReadOnly(String),
    #[error("cannot reach the fleet database {url}: {message}")]
    Connect { url: String, message: String },
}

impl StoreError {
    /// Whether the write failed for lack of disk space (SQLITE_FULL, ENOSPC).
    pub fn is_full(&self) -> bool {
        match self {
            StoreError::Sqlite { code, .. } => code & 0xff == 13,
            StoreError::Db(sqlx::Error::Database(e)) => e
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| c & 0xff == 13),
            StoreError::Db(sqlx::Error::Io(e)) | StoreError::Io { source: e, .. } => {
                e.raw_os_error() == Some(libc::ENOSPC)
            }
            _ => false,
        }
    }
}

/// The raw identity of a stored event, used to page through results (keyset pagination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventCursor {
    pub time_ms: i64,
    /// The audit serial, or the negative synthetic key of a record without one.
    pub serial: i64,
    /// The backend's id of the node name (0: none).
    pub node: i64,
    /// A backend's last tie-breaker (PostgreSQL: the record's own `node=` id within the
    /// replicating node; SQLite: 0).
    pub sub: i64,
}

/// Which syscall an events query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyscallFilter {
    /// A name, resolved with each event's own arch (`ptrace`).
    Name(String),
    /// A number as the record wrote it.
    Number(i64),
}

/// An events query. Every filter is optional; the result is ordered by time.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Events at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Events before this time (ms since the epoch).
    pub until_ms: Option<i64>,
    pub syscall: Option<SyscallFilter>,
    pub action: Option<Action>,
    /// A container id or a prefix of one.
    pub container: Option<String>,
    /// A workload key, exactly.
    pub workload: Option<String>,
    /// Events per page at most (0: no limit).
    pub limit: usize,
    /// Newest first (then `after` continues towards older events).
    pub newest_first: bool,
    /// Continue after this event (exclusive), in the query's order.
    pub after: Option<EventCursor>,
}

/// One stored event with its source and attribution.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub cursor: EventCursor,
    pub item: Item,
}

/// A page of events; `next` is the cursor to continue from when the page was full.
#[derive(Debug, Clone, Default)]
pub struct EventPage {
    pub events: Vec<StoredEvent>,
    pub next: Option<EventCursor>,
}

/// How `summary` groups the aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryBy {
    Workload,
    Syscall,
    Action,
    /// By node: PostgreSQL from the aggregates (the replicating node); SQLite from the raw
    /// events it still holds (the record's node name; a node's own database has no
    /// per-node aggregates).
    Node,
}

/// One line of a summary. The grouping key is set; the other key fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    /// By node: the node name (`""`: events without one).
    pub node: Option<String>,
    pub workload: Option<String>,
    /// AUDIT_ARCH_* and the syscall number (by syscall).
    pub arch: Option<u32>,
    pub syscall_nr: Option<i64>,
    pub action: Option<Action>,
    pub events: u64,
    /// Distinct workloads in the group.
    pub workloads: u64,
    /// Distinct (arch, syscall) pairs in the group.
    pub syscalls: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// Which events `suggest` and `generate` learn from. Filters combine with AND.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub workload: Option<String>,
    /// A container id or a prefix of one.
    pub container: Option<String>,
    /// A Kubernetes pod: (namespace, pod name).
    pub pod: Option<(String, String)>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

/// What was observed for one (arch, syscall, compat, action) over a selection, on one node
/// under one applied profile (the fleet's union is `rules::suggest::fleet::union`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The node (PostgreSQL: the replicating node; SQLite: the record's node name). `None`:
    /// events without one.
    pub node: Option<String>,
    /// The applied profile's hash, when attribution captured it.
    pub profile_hash: Option<String>,
    pub audit_arch: u32,
    pub syscall_nr: i64,
    pub compat: bool,
    pub action: Action,
    pub count: u64,
    /// Distinct container ids among the events (0 when none ran in a container).
    pub containers: u64,
    pub first_ms: i64,
    pub last_ms: i64,
    /// The comm and exe of one of the callers.
    pub sample_comm: Option<String>,
    pub sample_exe: Option<String>,
}

/// An event of `audit_arch` and `syscall_nr` only (for name resolution and display).
pub fn call_event(audit_arch: u32, syscall_nr: i64) -> Event {
    Observation {
        node: None,
        profile_hash: None,
        audit_arch,
        syscall_nr,
        compat: false,
        action: Action::Log,
        count: 0,
        containers: 0,
        first_ms: 0,
        last_ms: 0,
        sample_comm: None,
        sample_exe: None,
    }
    .as_event()
}

impl Observation {
    /// The observation as an event (for name resolution and display).
    pub fn as_event(&self) -> Event {
        Event {
            time_ms: self.last_ms,
            serial: None,
            node: self.node.clone(),
            audit_arch: self.audit_arch,
            syscall_nr: self.syscall_nr,
            code: self.action.code(),
            pid: 0,
            uid: None,
            gid: None,
            auid: None,
            ses: None,
            comm: self.sample_comm.clone(),
            exe: self.sample_exe.clone(),
            subj: None,
            sig: None,
            compat: self.compat,
            ip: None,
            synthetic_key: None,
        }
    }
}

/// Size figures of the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Raw events stored.
    pub events: u64,
    /// Bytes the database occupies (pages in use times page size, WAL excluded).
    pub db_bytes: u64,
}

/// What one committed write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Events inserted.
    pub stored: u64,
    /// Events already stored (or twice in the write) and skipped.
    pub duplicates: u64,
    /// Stored events grouped by (source, attribution, kind): a representative
    /// (batch index, item index) and the count, for metrics.
    pub groups: Vec<((usize, usize), u64)>,
}

/// The read side of the store, shared (cheap to clone).
pub trait Store: Clone + Send + Sync + 'static {
    type Writer: StoreWriter;

    /// The one writer. Call it once per process (the writer task owns it).
    fn open_writer(&self) -> impl Future<Output = Result<Self::Writer, StoreError>> + Send;

    /// The committed checkpoint of a follower, if any.
    fn checkpoint(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send;

    /// One page of events matching `q`.
    fn events(&self, q: &EventQuery) -> impl Future<Output = Result<EventPage, StoreError>> + Send;

    /// The aggregates grouped by `by`, largest first.
    fn summary(
        &self,
        by: SummaryBy,
    ) -> impl Future<Output = Result<Vec<SummaryRow>, StoreError>> + Send;

    /// Per (node, applied profile, arch, syscall, compat, action) over the raw events of a
    /// selection.
    fn observations(
        &self,
        sel: &Selection,
    ) -> impl Future<Output = Result<Vec<Observation>, StoreError>> + Send;

    /// A stored seccomp profile (the JSON as applied) by its hash.
    fn profile(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Persisted loss counters by cause (including `parse_error`).
    fn losses(&self) -> impl Future<Output = Result<Vec<(String, u64)>, StoreError>> + Send;

    /// Event count and database size.
    fn stats(&self) -> impl Future<Output = Result<StoreStats, StoreError>> + Send;

    /// Closes the read connections.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

/// The write side: one transaction per call.
pub trait StoreWriter: Send + 'static {
    /// Commits `batches` in ONE transaction: their events (each stored once), checkpoints
    /// (the last per key wins), profiles, alerts, losses and the aggregates. On error
    /// nothing is committed.
    fn write(
        &mut self,
        batches: &[StoreBatch],
    ) -> impl Future<Output = Result<WriteOutcome, StoreError>> + Send;

    /// Deletes up to about `max_rows` raw events older than `cutoff_ms` (aggregates stay);
    /// returns how many were deleted.
    fn delete_older_than(
        &mut self,
        cutoff_ms: i64,
        max_rows: u64,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Keeps `bytes` of disk space in reserve beside the database (a preallocated file)
    /// when the disk has room for it twice over; true when the reserve is in place (or
    /// `bytes` is 0). Given up by [`StoreWriter::release_reserve`] when the disk is full,
    /// so that deletes can run. A backend without local files keeps none.
    fn ensure_reserve(&mut self, bytes: u64) -> bool {
        let _ = bytes;
        true
    }

    /// Gives the reserve up (a write failed for lack of space); true when that freed space.
    fn release_reserve(&mut self) -> bool {
        false
    }

    /// Bytes free on the database's filesystem (`None`: unknown, or not a local file).
    fn disk_free(&self) -> Option<u64> {
        None
    }

    /// Bytes of free pages inside the database (reused before the file grows).
    fn free_pages_bytes(&mut self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async { Ok(0) }
    }

    /// Deletes about `max_rows` of the oldest raw events (the aggregates keep counting
    /// them) and counts them in the loss counter `cause`, in one transaction; returns how
    /// many. For a disk that stays full after retention.
    fn delete_oldest(
        &mut self,
        max_rows: u64,
        cause: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        let _ = (max_rows, cause);
        async { Ok(0) }
    }

    /// Closes the connection (after a final WAL checkpoint).
    fn close(self) -> impl Future<Output = Result<(), StoreError>> + Send;
}
