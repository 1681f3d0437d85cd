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

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{StoreError, StoreWriter, WriteOutcome};
use crate::pipeline::StoreBatch;

pub use alerts::{fleet_alerts, fleet_figures, FleetAlert, NodeFigures};

/// `url` without its password (`postgres://user@host/db?...`), for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// A PostgreSQL database to read: the URL (shown without its password) and the connect
/// options (password, TLS) made from it or from the configuration's `[fleet]`.
#[derive(Clone)]
pub struct PgTarget {
    url: String,
    options: PgConnectOptions,
}

impl PgTarget {
    /// From a `postgres://` URL (`sslmode`, `sslrootcert` and a password in it are read).
    pub fn from_url(url: &str) -> Result<PgTarget, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Connect {
            url: redact_url(url),
            message: e.to_string().replace(url, &redact_url(url)),
        })?;
        Ok(PgTarget::with_options(url, options))
    }

    /// From connect options made elsewhere (the `[fleet]` section: password file, CA).
    pub fn with_options(url: &str, options: PgConnectOptions) -> PgTarget {
        PgTarget {
            url: url.to_string(),
            options,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

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
        let shown = redact_url(&t.url);
        let options = t
            .options
            .clone()
            .application_name("seccomp-watch")
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
                message: e.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact_url("postgres://sw:pa:ss@db:5432/fleet?sslmode=verify-full"),
            "postgres://sw@db:5432/fleet?sslmode=verify-full"
        );
        assert_eq!(
            redact_url("postgresql://sw@db/fleet"),
            "postgresql://sw@db/fleet"
        );
        assert_eq!(redact_url("postgres://db/fleet"), "postgres://db/fleet");
        // An @ in the password: the last @ of the authority ends the user info.
        assert_eq!(redact_url("postgres://u:p@ss@db/x"), "postgres://u@db/x");
        let e = match PgTarget::from_url("postgres://u:secret@[::1/x") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a bad URL was accepted"),
        };
        assert!(!e.contains("secret"), "{e}");
    }
}
