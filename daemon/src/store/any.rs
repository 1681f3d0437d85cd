//! The store a read command opens: [`DbTarget`] says where (a SQLite file or the fleet's
//! PostgreSQL), [`AnyStore`] is either backend behind the one [`Store`] trait. Only the
//! SQLite side has a writer; asking the PostgreSQL side for one is a
//! [`StoreError::ReadOnly`] (the nodes' replicators write the fleet database).

use std::path::{Path, PathBuf};

use super::postgres::PgStore;
use super::sqlite::SqliteWriter;
use super::{
    EventPage, EventQuery, Observation, Selection, SqliteStore, Store, StoreError, StoreStats,
    SummaryBy, SummaryRow,
};
use crate::fleet::conn::PgTarget;
use crate::pipeline::Checkpoint;

/// Where the data is.
#[derive(Clone)]
pub enum DbTarget {
    /// A node's SQLite database file.
    Sqlite(PathBuf),
    /// The fleet's central PostgreSQL.
    Postgres(Box<PgTarget>),
}

impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

/// True when `s` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl DbTarget {
    /// `--db VALUE`: a `postgres://` URL (password, TLS and CA from the URL, or from
    /// `fleet` when that names the same URL), else a file path.
    pub fn from_arg(value: &Path, fleet: Option<&PgTarget>) -> DbTarget {
        match value.to_str() {
            Some(s) if is_postgres_url(s) => {
                let t = match fleet {
                    Some(f) if f.url == s => f.clone(),
                    _ => PgTarget {
                        url: s.to_string(),
                        ..PgTarget::default()
                    },
                };
                DbTarget::Postgres(Box::new(t))
            }
            _ => DbTarget::Sqlite(value.to_path_buf()),
        }
    }

    /// The default of a read command without `--db`: the configuration's
    /// `[fleet] postgres` when set, else its `db`.
    pub fn of_config(cfg: &crate::config::Config) -> DbTarget {
        match PgTarget::from_config(&cfg.fleet) {
            Some(t) => DbTarget::Postgres(Box::new(t)),
            None => DbTarget::Sqlite(cfg.db.clone()),
        }
    }

    /// The target for messages: the path, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            DbTarget::Sqlite(p) => p.display().to_string(),
            DbTarget::Postgres(t) => t.redacted(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, DbTarget::Postgres(_))
    }
}

/// Either backend, opened from a [`DbTarget`].
#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens an existing store for reading: the SQLite file must exist (its migrations are
    /// applied); the PostgreSQL database must be reachable and hold the fleet schema.
    pub async fn open_existing(target: &DbTarget) -> Result<AnyStore, StoreError> {
        match target {
            DbTarget::Sqlite(p) => Ok(AnyStore::Sqlite(SqliteStore::open_existing(p).await?)),
            DbTarget::Postgres(t) => Ok(AnyStore::Postgres(PgStore::connect(t).await?)),
        }
    }

    /// The SQLite store, when that is the backend.
    pub fn as_sqlite(&self) -> Option<&SqliteStore> {
        match self {
            AnyStore::Sqlite(s) => Some(s),
            AnyStore::Postgres(_) => None,
        }
    }

    /// The PostgreSQL store, when that is the backend.
    pub fn as_postgres(&self) -> Option<&PgStore> {
        match self {
            AnyStore::Postgres(s) => Some(s),
            AnyStore::Sqlite(_) => None,
        }
    }
}

impl Store for AnyStore {
    type Writer = SqliteWriter;

    async fn open_writer(&self) -> Result<SqliteWriter, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.open_writer().await,
            AnyStore::Postgres(p) => Err(StoreError::ReadOnly(p.shown())),
        }
    }

    async fn checkpoint(&self, key: &str) -> Result<Option<Checkpoint>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.checkpoint(key).await,
            AnyStore::Postgres(p) => p.checkpoint(key).await,
        }
    }

    async fn events(&self, q: &EventQuery) -> Result<EventPage, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.events(q).await,
            AnyStore::Postgres(p) => p.events(q).await,
        }
    }

    async fn summary(&self, by: SummaryBy) -> Result<Vec<SummaryRow>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.summary(by).await,
            AnyStore::Postgres(p) => p.summary(by).await,
        }
    }

    async fn observations(&self, sel: &Selection) -> Result<Vec<Observation>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.observations(sel).await,
            AnyStore::Postgres(p) => p.observations(sel).await,
        }
    }

    async fn profile(&self, hash: &str) -> Result<Option<String>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.profile(hash).await,
            AnyStore::Postgres(p) => p.profile(hash).await,
        }
    }

    async fn losses(&self) -> Result<Vec<(String, u64)>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.losses().await,
            AnyStore::Postgres(p) => p.losses().await,
        }
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.stats().await,
            AnyStore::Postgres(p) => p.stats().await,
        }
    }

    async fn close(&self) {
        match self {
            AnyStore::Sqlite(s) => s.close().await,
            AnyStore::Postgres(p) => p.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        let t = DbTarget::from_arg(Path::new("/var/lib/x.db"), None);
        assert!(matches!(&t, DbTarget::Sqlite(p) if p == Path::new("/var/lib/x.db")));
        let t = DbTarget::from_arg(
            Path::new("postgres://sw:s3cret@db.example:5432/fleet?sslmode=require"),
            None,
        );
        assert!(t.is_postgres());
        let shown = format!("{t:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.example:5432/fleet"), "{shown}");
        // A relative file that merely contains the word stays a file.
        assert!(!DbTarget::from_arg(Path::new("postgres.db"), None).is_postgres());
        // The configuration's password file goes with its own URL only.
        let fleet = PgTarget {
            url: "postgres://sw@db/fleet".into(),
            password_file: Some("/etc/seccomp-watch/pg-password".into()),
            ..PgTarget::default()
        };
        let DbTarget::Postgres(t) =
            DbTarget::from_arg(Path::new("postgres://sw@db/fleet"), Some(&fleet))
        else {
            panic!("not postgres")
        };
        assert!(t.password_file.is_some());
        let DbTarget::Postgres(t) =
            DbTarget::from_arg(Path::new("postgres://other@db/x"), Some(&fleet))
        else {
            panic!("not postgres")
        };
        assert!(t.password_file.is_none());
    }
}
