//! The SQLite backend of the store (sqlx): schema in `migrations/`, WAL, one writer
//! connection with in-memory dictionary caches, a small read-only pool for queries.
//!
//! Write path, per transaction (`BEGIN IMMEDIATE`, so the whole write holds the write
//! lock and the duplicate check below is exact even with another process writing):
//! 1. every event is mapped to integer ids (strings, kinds, actors, attributions); misses
//!    are resolved with bulk `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`;
//! 2. duplicates are found: inside the write with a hash set, against the database with
//!    one `time_ms IN (...)` lookup, and only for events not newer than the newest stored;
//! 3. new events go in as multi-row `INSERT`s of fixed chunk sizes (prepared once, reused),
//!    under SQLite's bound-parameter limit;
//! 4. aggregates, checkpoints, profiles, losses and alerts in the same transaction.
//!
//! Records without an audit serial (journal lines) are keyed by a negative synthetic
//! serial: a stable hash of (pid, arch, syscall, code, ip, comm, exe). Two such records
//! identical in all of these within the same millisecond are therefore stored once; this
//! keeps re-imports idempotent, at the cost of folding true repeats that no field tells
//! apart.
//!
//! Files: `open.rs` (opening, migrations, the read pool), `read.rs` (the queries: the
//! [`Store`](super::Store) methods), `write.rs` (the one writer and its transaction),
//! `ids.rs` (the writer's dictionary caches and the resolution of ids), `raw.rs` (the hot
//! insert path on SQLite's C API), `codec.rs` (values to and from their stored form),
//! `space.rs` (a full disk: the reserve file, early deletion of the oldest raw events).

mod codec;
mod ids;
mod open;
mod raw;
mod read;
mod space;
mod write;

pub use codec::stored_serial;
pub use open::SqliteStore;
pub use write::SqliteWriter;
