//! The PostgreSQL backend of the store: the fleet's central database (schema in
//! `migrations/postgres/`, written by every node's replicator, `crate::fleet`), read
//! through the same [`Store`](super::Store) trait as a node's SQLite file, so that
//! `events`, `summary`, `alerts`, `suggest`, `generate` and `serve` take
//! `--db postgres://...`.
//!
//! Read only, and honest about it: the sessions run with `default_transaction_read_only`,
//! and [`PgStore`]'s writer type is [`NoWriter`], which cannot exist (`open_writer` is a
//! [`StoreError::ReadOnly`]). Node ids and dictionary ids mean something only together
//! (every join is on `(node, id)`); the fleet's node is the replicating node
//! (`nodes.name`).
//!
//! Files: `read.rs` (the queries), `alerts.rs` (alerts once per fleet: grouped by id).

mod alerts;
mod read;

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{StoreError, StoreWriter, WriteOutcome};
use crate::fleet::conn::{scrub_text, PgTarget};
use crate::pipeline::StoreBatch;

pub use alerts::{fleet_alerts, fleet_figures, FleetAlert, NodeFigures};

/// The fleet database, read only.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    shown: String,
}

impl PgStore {
    /// Connects (a small pool, read-only sessions) and checks that the fleet schema is
    /// there.
    pub async fn connect(t: &PgTarget) -> Result<PgStore, StoreError> {
        let shown = t.redacted();
        let options = t
            .options()
            .map_err(|e| StoreError::Connect {
                url: shown.clone(),
                message: scrub_text(&format!("{e:#}"), &t.url),
            })?
            .options([("default_transaction_read_only", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .min_connections(0)
            .acquire_timeout(Duration::from_secs(10))
            .idle_timeout(Duration::from_secs(60))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Connect {
                url: shown.clone(),
                message: scrub_text(&e.to_string(), &t.url),
            })?;
        let schema: bool = sqlx::query_scalar(
            "SELECT to_regclass('events') IS NOT NULL AND to_regclass('nodes') IS NOT NULL",
        )
        .fetch_one(&pool)
        .await?;
        if !schema {
            pool.close().await;
            return Err(StoreError::Connect {
                url: shown,
                message: "no fleet schema there (run `seccomp-watch fleet migrate --db URL`, \
                          or start a node replicating into it)"
                    .into(),
            });
        }
        Ok(PgStore { pool, shown })
    }

    /// The database as shown to humans (no password).
    pub fn shown(&self) -> String {
        self.shown.clone()
    }

    /// The pool (for tests and diagnostics).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The writer of a read-only backend: no value of it exists.
pub enum NoWriter {}

impl StoreWriter for NoWriter {
    async fn write(&mut self, _batches: &[StoreBatch]) -> Result<WriteOutcome, StoreError> {
        match *self {}
    }

    async fn delete_older_than(&mut self, _cutoff_ms: i64, _max: u64) -> Result<u64, StoreError> {
        match *self {}
    }

    async fn close(self) -> Result<(), StoreError> {
        match self {}
    }
}
