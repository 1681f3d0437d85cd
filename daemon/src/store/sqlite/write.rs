//! The one writer of the SQLite store: a batch's events, aggregates, checkpoints,
//! profiles, losses and alerts in one `BEGIN IMMEDIATE` transaction; retention deletes.

use foldhash::{HashMap, HashSet};
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use super::codec::{add, placeholders, MAX_PARAMS};
use super::ids::{map_all, resolve_all, Caches, EvRow, EVENT_COLS};
use super::raw;
use crate::pipeline::StoreBatch;
use crate::store::{StoreError, StoreWriter, WriteOutcome};

/// Rows per multi-row event INSERT (8 parameters a row), largest first: 16,384
/// parameters at most, under SQLite's limit; the rest goes in smaller statements.
const INSERT_SIZES: [usize; 4] = [512, 64, 8, 1];

pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Stored events of one (attribution, kind): a representative item (batch, index), the
/// count, the first and the last time.
type Group = ((usize, usize), u64, i64, i64);

/// The one writer connection and its caches.
pub struct SqliteWriter {
    pub(super) conn: SqliteConnection,
    pub(super) opts: SqliteConnectOptions,
    caches: Caches,
    /// Set while a write is in progress and cleared when it succeeds. A write that failed
    /// or was dropped half-way (cancelled) may have cached ids of a rolled-back
    /// transaction, or left sqlx's transaction state behind, so the next operation starts
    /// over with a fresh connection and empty caches.
    dirty: bool,
    /// `INSERT INTO events ...` for each chunk size, largest first.
    insert_sql: Vec<(usize, std::ffi::CString)>,
    rows: Vec<EvRow>,
}

impl SqliteWriter {
    pub(super) fn new(conn: SqliteConnection, opts: SqliteConnectOptions) -> SqliteWriter {
        let mut insert_sql = Vec::new();
        for n in INSERT_SIZES {
            let sql = format!(
                "INSERT INTO events (time_ms, serial, node, kind, actor, pid, ip, attrib) VALUES {} \
                 ON CONFLICT DO NOTHING",
                placeholders(n, EVENT_COLS)
            );
            // The text has no NUL byte.
            if let Ok(c) = std::ffi::CString::new(sql) {
                insert_sql.push((n, c));
            }
        }
        SqliteWriter {
            conn,
            opts,
            caches: Caches::default(),
            dirty: false,
            insert_sql,
            rows: Vec::new(),
        }
    }
}

impl SqliteWriter {
    async fn write_inner(&mut self, batches: &[StoreBatch]) -> Result<WriteOutcome, StoreError> {
        let SqliteWriter {
            conn,
            caches,
            insert_sql,
            rows,
            ..
        } = self;
        caches.trim();
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;

        // 1. Ids.
        let mut misses = Vec::new();
        map_all(caches, batches, rows, &mut misses);
        if !misses.is_empty() {
            resolve_all(&mut tx, caches, batches, &misses).await?;
            let mut at = 0;
            for (b, batch) in batches.iter().enumerate() {
                for (i, it) in batch.items.iter().enumerate() {
                    if rows[at].kind == -1 {
                        rows[at] = caches.map(b, i, it).ok_or_else(|| {
                            StoreError::Corrupt("dictionary ids did not resolve".into())
                        })?;
                    }
                    at += 1;
                }
            }
        }

        // 2. Duplicates: within this write, then against what is stored.
        let total = rows.len();
        let sorted = rows.windows(2).all(|w| w[0].key() < w[1].key());
        if !sorted {
            let mut seen: HashSet<(i64, i64, i64)> = HashSet::default();
            seen.reserve(rows.len());
            rows.retain(|r| seen.insert(r.key()));
        }
        // Events newer than the newest stored cannot be stored already: they go in with
        // multi-row INSERTs. The others (a re-import, a second source) go in one by one,
        // each insert telling whether the key was new.
        let max_stored: Option<i64> = sqlx::query_scalar("SELECT max(time_ms) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        let max_stored = max_stored.unwrap_or(i64::MIN);
        let mut fresh: Vec<EvRow> = Vec::with_capacity(rows.len());
        let mut old: Vec<EvRow> = Vec::new();
        for r in rows.iter() {
            if r.time_ms > max_stored {
                fresh.push(*r);
            } else {
                old.push(*r);
            }
        }

        // 3. Insert, on the locked raw handle (see `raw`): no await until it is released.
        let (inserted, old_new) = {
            let mut h = tx.lock_handle().await?;
            let n = raw::insert_events(&mut h, insert_sql, &fresh)?;
            let flags = raw::insert_each(&mut h, insert_sql, &old)?;
            (n, flags)
        };
        if inserted < fresh.len() as u64 {
            // Cannot happen while this transaction holds the write lock; counted anyway.
            tracing::warn!(
                expected = fresh.len(),
                inserted,
                "some events were already stored"
            );
        }
        rows.clear();
        rows.extend(fresh);
        rows.extend(
            old.iter()
                .zip(&old_new)
                .filter(|(_, new)| **new)
                .map(|(r, _)| *r),
        );
        let inserted = inserted + old_new.iter().filter(|n| **n).count() as u64;
        let duplicates = total as u64 - inserted;

        // 4. Groups for metrics, and aggregates.
        let mut groups: HashMap<(i64, i64), Group> = HashMap::default();
        for r in rows.iter() {
            let g = groups.entry((r.attrib, r.kind)).or_insert((
                (r.batch as usize, r.item as usize),
                0,
                r.time_ms,
                r.time_ms,
            ));
            g.1 += 1;
            g.2 = g.2.min(r.time_ms);
            g.3 = g.3.max(r.time_ms);
        }
        let mut aggs: HashMap<[i64; 4], (i64, i64, i64)> = HashMap::default();
        for ((b, i), n, first, last) in groups.values() {
            let it = &batches[*b].items[*i];
            let w = caches.sid(Some(&it.attribution.workload)).unwrap_or(0);
            let e = &it.event;
            let k = [
                w,
                i64::from(e.audit_arch),
                e.syscall_nr,
                i64::from(e.action().code()),
            ];
            let a = aggs.entry(k).or_insert((0, *first, *last));
            a.0 += *n as i64;
            a.1 = a.1.min(*first);
            a.2 = a.2.max(*last);
        }
        let aggs: Vec<_> = aggs.into_iter().collect();
        for chunk in aggs.chunks(MAX_PARAMS / 7) {
            let sql = format!(
                "INSERT INTO aggregates (workload, arch, syscall_nr, action, count, first_seen, last_seen) VALUES {} \
                 ON CONFLICT (workload, arch, syscall_nr, action) DO UPDATE SET count = count + excluded.count, \
                 first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)",
                placeholders(chunk.len(), 7)
            );
            let mut args = SqliteArguments::default();
            for (k, (n, first, last)) in chunk {
                for v in k {
                    add(&mut args, *v)?;
                }
                add(&mut args, *n)?;
                add(&mut args, *first)?;
                add(&mut args, *last)?;
            }
            sqlx::query_with(&sql, args)
                .persistent(false)
                .execute(&mut *tx)
                .await?;
        }

        // 5. Checkpoints (in order: the last per key wins), profiles, losses, alerts.
        let now = now_ms();
        for b in batches {
            if let Some(c) = &b.checkpoint {
                sqlx::query(
                    "INSERT INTO checkpoints (key, path, dev, ino, fingerprint, offset, updated) \
                     VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET path = excluded.path, \
                     dev = excluded.dev, ino = excluded.ino, fingerprint = excluded.fingerprint, \
                     offset = excluded.offset, updated = excluded.updated",
                )
                .bind(&c.key)
                .bind(&c.path)
                .bind(c.dev as i64)
                .bind(c.ino as i64)
                .bind(c.fingerprint as i64)
                .bind(c.offset as i64)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            for p in &b.profiles {
                if caches.profiles_stored.contains(&p.hash) {
                    continue;
                }
                sqlx::query("INSERT INTO profiles (hash, json, first_seen) VALUES (?, ?, ?) ON CONFLICT (hash) DO NOTHING")
                    .bind(&p.hash)
                    .bind(&p.json)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                caches.profiles_stored.insert(p.hash.clone());
            }
            let mut losses: Vec<(&str, u64)> =
                b.losses.iter().map(|(c, n)| (c.as_str(), *n)).collect();
            if b.parse_errors > 0 {
                losses.push(("parse_error", b.parse_errors));
            }
            for (cause, n) in losses.into_iter().filter(|(_, n)| *n > 0) {
                sqlx::query(
                    "INSERT INTO losses (cause, count, updated) VALUES (?, ?, ?) \
                     ON CONFLICT (cause) DO UPDATE SET count = count + excluded.count, updated = excluded.updated",
                )
                .bind(cause)
                .bind(n as i64)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            if !b.alerts.is_empty() {
                crate::alerts::persist(&mut tx, &b.alerts).await?;
            }
        }
        tx.commit().await?;
        let groups = groups.into_values().map(|(s, n, _, _)| (s, n)).collect();
        Ok(WriteOutcome {
            stored: inserted,
            duplicates,
            groups,
        })
    }
}

impl StoreWriter for SqliteWriter {
    async fn write(&mut self, batches: &[StoreBatch]) -> Result<WriteOutcome, StoreError> {
        self.begin_op().await?;
        let r = self.write_inner(batches).await;
        self.dirty = r.is_err();
        r
    }

    async fn delete_older_than(
        &mut self,
        cutoff_ms: i64,
        max_rows: u64,
    ) -> Result<u64, StoreError> {
        self.begin_op().await?;
        let r = self.delete_inner(cutoff_ms, max_rows).await;
        self.dirty = r.is_err();
        r
    }

    fn ensure_reserve(&mut self, bytes: u64) -> bool {
        self.ensure_reserve_inner(bytes)
    }

    fn release_reserve(&mut self) -> bool {
        self.release_reserve_inner()
    }

    fn disk_free(&self) -> Option<u64> {
        self.disk_free_inner()
    }

    async fn free_pages_bytes(&mut self) -> Result<u64, StoreError> {
        self.begin_op().await?;
        let r = self.free_pages_bytes_inner().await;
        self.dirty = r.is_err();
        r
    }

    async fn delete_oldest(&mut self, max_rows: u64, cause: &str) -> Result<u64, StoreError> {
        self.begin_op().await?;
        let r = self.delete_oldest_inner(max_rows, cause).await;
        self.dirty = r.is_err();
        r
    }

    async fn close(mut self) -> Result<(), StoreError> {
        // Runs after whatever an interrupted write left queued on the connection. Fails
        // harmlessly (SQLITE_LOCKED) when a cancelled write left a transaction open.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut self.conn)
            .await
        {
            tracing::debug!("final WAL checkpoint: {e}");
        }
        self.conn.close().await?;
        Ok(())
    }
}

impl SqliteWriter {
    /// Starts an operation: after a failed or interrupted one, reconnects and forgets
    /// the caches.
    async fn begin_op(&mut self) -> Result<(), StoreError> {
        if self.dirty {
            self.caches = Caches::default();
            let fresh = self.opts.connect().await?;
            let old = std::mem::replace(&mut self.conn, fresh);
            drop(old);
        }
        self.dirty = true;
        Ok(())
    }

    async fn delete_inner(&mut self, cutoff_ms: i64, max_rows: u64) -> Result<u64, StoreError> {
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        // Retention never deletes an event the fleet replicator has not shipped yet (it
        // is in fleet_log, migrations/0003_fleet.sql): the cutoff stops at the oldest.
        let unshipped: Option<i64> = sqlx::query_scalar("SELECT min(time_ms) FROM fleet_log")
            .fetch_one(&mut *tx)
            .await?;
        let cutoff_ms = unshipped.map_or(cutoff_ms, |t| cutoff_ms.min(t));
        let bound: Option<i64> = sqlx::query_scalar(
            "SELECT time_ms FROM events WHERE time_ms < ? ORDER BY time_ms LIMIT 1 OFFSET ?",
        )
        .bind(cutoff_ms)
        .bind(max_rows.max(1) as i64)
        .fetch_optional(&mut *tx)
        .await?;
        let mut deleted = match bound {
            Some(t) => sqlx::query("DELETE FROM events WHERE time_ms < ?")
                .bind(t)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            None => sqlx::query("DELETE FROM events WHERE time_ms < ?")
                .bind(cutoff_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
        };
        if deleted == 0 {
            if let Some(t) = bound {
                // Every one of the first max_rows events has the same time.
                deleted = sqlx::query("DELETE FROM events WHERE time_ms <= ? AND time_ms < ?")
                    .bind(t)
                    .bind(cutoff_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
