//! The local side of replication: the write log and the cursors in this node's SQLite
//! (`migrations/0003_fleet.sql`), and what one replication batch reads from it.
//!
//! The replicator's connection writes only `fleet_log` (deletes of shipped rows) and
//! `fleet_state`, never the writer's tables; every read of a batch is one read
//! transaction, so the events and the dictionary rows they refer to are one snapshot.

use std::path::Path;
use std::time::Duration;

use foldhash::{HashMap, HashSet};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row as _, SqliteConnection};

/// The trigger that appends every newly stored event to fleet_log.
const TRIGGER: &str = "CREATE TRIGGER IF NOT EXISTS fleet_log_events AFTER INSERT ON events \
     BEGIN INSERT INTO fleet_log (time_ms, serial, node, at) \
     VALUES (new.time_ms, new.serial, new.node, CAST(unixepoch('subsec') * 1000 AS INTEGER)); END";

/// Dictionary tables and their columns, in the order the PostgreSQL side expects.
pub const DICTS: [&str; 5] = ["strings", "kinds", "actors", "containers", "attributions"];

/// An event as shipped: the local row (dictionary ids of this node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvRow {
    pub time_ms: i64,
    pub serial: i64,
    pub record_node: i64,
    pub kind: i64,
    pub actor: i64,
    pub pid: i64,
    pub ip: Option<i64>,
    pub attrib: i64,
}

/// One alerts row.
#[derive(Debug, Clone)]
pub struct AlertRow {
    pub id: String,
    pub rule: String,
    pub severity: i64,
    pub workload: String,
    pub syscall: String,
    pub action: String,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub window_end: i64,
    pub body: String,
    pub created: i64,
    pub updated: i64,
}

/// One aggregates row with its workload's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggRow {
    pub workload: String,
    pub arch: i64,
    pub syscall_nr: i64,
    pub action: i64,
    pub count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
}

/// What one replication round ships, read in one snapshot.
#[derive(Debug, Default)]
pub struct Batch {
    /// fleet_log rows from here up to `last_seq` are covered (0 when none).
    pub first_seq: i64,
    /// fleet_log rows up to here are covered (0 when none).
    pub last_seq: i64,
    pub events: Vec<EvRow>,
    /// fleet_log rows whose event was deleted before it was shipped (a full disk).
    pub missing: u64,
    /// New dictionary rows: strings (id, s).
    pub strings: Vec<(i64, String)>,
    /// kinds: id, arch, syscall_nr, code, compat, sig.
    pub kinds: Vec<[i64; 6]>,
    /// actors: id, uid, gid, auid, ses, comm, exe, subj.
    pub actors: Vec<[i64; 8]>,
    /// containers: id and container_id, runtime, name, image, pod, namespace, pod_uid.
    pub containers: Vec<(i64, [String; 7])>,
    /// attributions: id, source, container, unit, workload, attributed; profile_hash.
    pub attributions: Vec<([i64; 6], String)>,
    /// profiles: rowid, hash, json, first_seen.
    pub profiles: Vec<(i64, String, String, i64)>,
    pub aggregates: Vec<AggRow>,
    pub alerts: Vec<AlertRow>,
    pub losses: Vec<(String, i64, i64)>,
    /// Cursor values after this batch (key, value).
    pub cursors: Vec<(&'static str, i64)>,
}

impl Batch {
    /// Nothing to ship but the loss counters.
    pub fn is_idle(&self) -> bool {
        self.last_seq == 0
            && self.first_seq == 0
            && self.events.is_empty()
            && self.strings.is_empty()
            && self.kinds.is_empty()
            && self.actors.is_empty()
            && self.containers.is_empty()
            && self.attributions.is_empty()
            && self.profiles.is_empty()
            && self.aggregates.is_empty()
            && self.alerts.is_empty()
    }
}

/// How far behind replication is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lag {
    pub events: u64,
    pub seconds: f64,
}

/// Alerts updated this long before the newest one shipped are shipped again (a write in
/// the same millisecond as the last read must not be missed; replays are idempotent).
const ALERT_OVERLAP_MS: i64 = 2_000;

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(30))
        .log_statements(tracing::log::LevelFilter::Trace)
}

/// Turns replication off in the database at `path` (the daemon runs without `[fleet]`):
/// drops the trigger and forgets the log and cursors, so a later start backfills.
/// A database that does not exist yet, or has no trigger, is left alone.
pub async fn disable(path: &Path) -> Result<bool, sqlx::Error> {
    if !path.is_file() {
        return Ok(false);
    }
    let mut conn = options(path).connect().await?;
    let on: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'fleet_log_events'",
    )
    .fetch_one(&mut conn)
    .await?;
    if on > 0 {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DROP TRIGGER IF EXISTS fleet_log_events")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM fleet_log")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM fleet_state")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    conn.close().await?;
    Ok(on > 0)
}

/// How far behind replication is, from the database alone (log rows after the stored
/// cursor, and the age of the oldest of them): on a connection of its own, so that the
/// lag is measured while the replicator waits for PostgreSQL.
pub async fn lag(conn: &mut SqliteConnection) -> Result<Lag, sqlx::Error> {
    let cur: i64 = sqlx::query_scalar("SELECT value FROM fleet_state WHERE key = 'seq'")
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0);
    // Log rows after the cursor (seq is contiguous: one writer, AUTOINCREMENT), without
    // counting them one by one.
    let r = sqlx::query("SELECT min(seq), max(seq) FROM fleet_log WHERE seq > ?")
        .bind(cur)
        .fetch_one(&mut *conn)
        .await?;
    let (lo, hi): (Option<i64>, Option<i64>) = (r.try_get(0)?, r.try_get(1)?);
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(Lag::default());
    };
    let at: i64 = sqlx::query_scalar("SELECT at FROM fleet_log WHERE seq = ?")
        .bind(lo)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Lag {
        events: (hi - lo + 1).max(0) as u64,
        seconds: ((super::now_ms() - at).max(0) as f64) / 1000.0,
    })
}

/// A read-only connection for [`lag`].
pub async fn open_read_only(path: &Path) -> Result<SqliteConnection, sqlx::Error> {
    options(path).read_only(true).connect().await
}

/// The replicator's connection to the local database.
pub struct Local {
    conn: SqliteConnection,
    cursors: HashMap<String, i64>,
    /// kinds id -> (arch, syscall_nr, aggregate action); attributions id -> workload id.
    kinds: HashMap<i64, (i64, i64, i64)>,
    attrib_workload: HashMap<i64, i64>,
}

impl Local {
    /// Opens the (already migrated) database at `path`.
    pub async fn open(path: &Path) -> Result<Local, sqlx::Error> {
        let conn = options(path).connect().await?;
        Ok(Local {
            conn,
            cursors: HashMap::default(),
            kinds: HashMap::default(),
            attrib_workload: HashMap::default(),
        })
    }

    /// Makes sure every stored event is either in PostgreSQL or in fleet_log: creates the
    /// trigger, and when it was missing or the cursors are for another `target` (fleet
    /// database and node), forgets the cursors and backfills fleet_log with every stored
    /// event, in one transaction. Returns the events backfilled.
    pub async fn enable(&mut self, target: &str) -> Result<u64, sqlx::Error> {
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        let on: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'fleet_log_events'",
        )
        .fetch_one(&mut *tx)
        .await?;
        let saved: Option<String> =
            sqlx::query_scalar("SELECT text FROM fleet_state WHERE key = 'target'")
                .fetch_optional(&mut *tx)
                .await?;
        let mut backfilled = 0;
        if on == 0 || saved.as_deref() != Some(target) {
            sqlx::query("DELETE FROM fleet_log")
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM fleet_state")
                .execute(&mut *tx)
                .await?;
            sqlx::query(TRIGGER).execute(&mut *tx).await?;
            backfilled = sqlx::query(
                "INSERT INTO fleet_log (time_ms, serial, node, at) \
                 SELECT time_ms, serial, node, CAST(unixepoch('subsec') * 1000 AS INTEGER) \
                 FROM events ORDER BY time_ms, serial, node",
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("INSERT INTO fleet_state (key, text) VALUES ('target', ?)")
                .bind(target)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let rows = sqlx::query("SELECT key, value FROM fleet_state")
            .fetch_all(&mut self.conn)
            .await?;
        self.cursors.clear();
        for r in rows {
            self.cursors.insert(r.try_get(0)?, r.try_get(1)?);
        }
        Ok(backfilled)
    }

    /// Reads the next batch: up to `max` events after the cursor, the dictionary rows,
    /// profiles and alerts not shipped yet, the aggregates the events touched (all of
    /// them the first time) and the loss counters.
    pub async fn read_batch(&mut self, max: usize) -> Result<Batch, sqlx::Error> {
        let mut b = Batch::default();
        let Local {
            conn,
            cursors,
            kinds,
            attrib_workload,
        } = self;
        let cur = |k: &str| cursors.get(k).copied().unwrap_or(0);
        let mut tx = conn.begin().await?;
        let rows = sqlx::query(
            "SELECT l.seq, l.time_ms, l.serial, l.node, e.kind, e.actor, e.pid, e.ip, e.attrib \
             FROM fleet_log l LEFT JOIN events e \
             ON e.time_ms = l.time_ms AND e.serial = l.serial AND e.node = l.node \
             WHERE l.seq > ? ORDER BY l.seq LIMIT ?",
        )
        .bind(cur("seq"))
        .bind(max as i64)
        .fetch_all(&mut *tx)
        .await?;
        b.events.reserve(rows.len());
        for r in &rows {
            b.last_seq = r.try_get(0)?;
            if b.first_seq == 0 {
                b.first_seq = b.last_seq;
            }
            let kind: Option<i64> = r.try_get(4)?;
            let Some(kind) = kind else {
                b.missing += 1;
                continue;
            };
            b.events.push(EvRow {
                time_ms: r.try_get(1)?,
                serial: r.try_get(2)?,
                record_node: r.try_get(3)?,
                kind,
                actor: r.try_get(5)?,
                pid: r.try_get(6)?,
                ip: r.try_get(7)?,
                attrib: r.try_get(8)?,
            });
        }
        drop(rows);
        if b.last_seq > 0 {
            b.cursors.push(("seq", b.last_seq));
        }

        // Dictionaries: every row after the cursor (the events above can only refer to
        // rows of this snapshot).
        let rows = sqlx::query("SELECT id, s FROM strings WHERE id > ? ORDER BY id")
            .bind(cur("strings"))
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            b.strings.push((r.try_get(0)?, r.try_get(1)?));
        }
        if let Some((id, _)) = b.strings.last() {
            b.cursors.push(("strings", *id));
        }
        b.kinds = int_rows(
            &mut tx,
            "SELECT id, arch, syscall_nr, code, compat, sig FROM kinds WHERE id > ? ORDER BY id",
            cur("kinds"),
        )
        .await?;
        if let Some(k) = b.kinds.last() {
            b.cursors.push(("kinds", k[0]));
        }
        b.actors = int_rows(
            &mut tx,
            "SELECT id, uid, gid, auid, ses, comm, exe, subj FROM actors WHERE id > ? ORDER BY id",
            cur("actors"),
        )
        .await?;
        if let Some(a) = b.actors.last() {
            b.cursors.push(("actors", a[0]));
        }
        let rows = sqlx::query(
            "SELECT id, container_id, runtime, name, image, pod, namespace, pod_uid \
             FROM containers WHERE id > ? ORDER BY id",
        )
        .bind(cur("containers"))
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let mut c: [String; 7] = Default::default();
            for (i, v) in c.iter_mut().enumerate() {
                *v = r.try_get(i + 1)?;
            }
            b.containers.push((r.try_get(0)?, c));
        }
        if let Some((id, _)) = b.containers.last() {
            b.cursors.push(("containers", *id));
        }
        let rows = sqlx::query(
            "SELECT id, source, container, unit, workload, attributed, profile_hash \
             FROM attributions WHERE id > ? ORDER BY id",
        )
        .bind(cur("attributions"))
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let mut a = [0i64; 6];
            for (i, v) in a.iter_mut().enumerate() {
                *v = r.try_get(i)?;
            }
            b.attributions.push((a, r.try_get(6)?));
        }
        if let Some((a, _)) = b.attributions.last() {
            b.cursors.push(("attributions", a[0]));
        }

        // Profiles (by rowid), alerts (by updated, with an overlap), losses (all).
        let rows = sqlx::query(
            "SELECT rowid, hash, json, first_seen FROM profiles WHERE rowid > ? ORDER BY rowid",
        )
        .bind(cur("profiles"))
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            b.profiles
                .push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?));
        }
        if let Some((id, ..)) = b.profiles.last() {
            b.cursors.push(("profiles", *id));
        }
        let alerts_cur = cur("alerts");
        let rows = sqlx::query(
            "SELECT id, rule, severity, workload, syscall, action, count, first_seen, last_seen, \
             window_end, body, created, updated FROM alerts WHERE updated > ? ORDER BY updated",
        )
        .bind(alerts_cur - ALERT_OVERLAP_MS)
        .fetch_all(&mut *tx)
        .await?;
        let mut newest = alerts_cur;
        let mut fresh = false;
        for r in &rows {
            let a = AlertRow {
                id: r.try_get(0)?,
                rule: r.try_get(1)?,
                severity: r.try_get(2)?,
                workload: r.try_get(3)?,
                syscall: r.try_get(4)?,
                action: r.try_get(5)?,
                count: r.try_get(6)?,
                first_seen: r.try_get(7)?,
                last_seen: r.try_get(8)?,
                window_end: r.try_get(9)?,
                body: r.try_get(10)?,
                created: r.try_get(11)?,
                updated: r.try_get(12)?,
            };
            fresh |= a.updated > alerts_cur;
            newest = newest.max(a.updated);
            b.alerts.push(a);
        }
        if fresh {
            b.cursors.push(("alerts", newest));
        } else {
            // Only the overlap again: nothing new.
            b.alerts.clear();
        }
        let rows = sqlx::query("SELECT cause, count, updated FROM losses")
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            b.losses.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }

        // Aggregates: the whole table the first time, else the rows the events touched
        // (their absolute values: PostgreSQL keeps the larger count).
        for k in &b.kinds {
            let action = i64::from(parsers::Action::from_code(k[3] as u32).code());
            kinds.insert(k[0], (k[1], k[2], action));
        }
        for (a, _) in &b.attributions {
            attrib_workload.insert(a[0], a[4]);
        }
        let agg_sql = "SELECT coalesce(s.s, ''), g.arch, g.syscall_nr, g.action, g.count, \
                       g.first_seen, g.last_seen FROM aggregates g LEFT JOIN strings s ON s.id = g.workload";
        if cur("aggregates") == 0 {
            let rows = sqlx::query(agg_sql).fetch_all(&mut *tx).await?;
            for r in &rows {
                b.aggregates.push(agg_row(r)?);
            }
            b.cursors.push(("aggregates", 1));
        } else if !b.events.is_empty() {
            let mut pairs: HashSet<(i64, i64)> = HashSet::default();
            for e in &b.events {
                pairs.insert((e.attrib, e.kind));
            }
            let mut keys: HashSet<[i64; 4]> = HashSet::default();
            for (attrib, kind) in pairs {
                let w = match attrib_workload.get(&attrib) {
                    Some(w) => *w,
                    None => {
                        let w: i64 =
                            sqlx::query_scalar("SELECT workload FROM attributions WHERE id = ?")
                                .bind(attrib)
                                .fetch_one(&mut *tx)
                                .await?;
                        attrib_workload.insert(attrib, w);
                        w
                    }
                };
                let k = match kinds.get(&kind) {
                    Some(k) => *k,
                    None => {
                        let r =
                            sqlx::query("SELECT arch, syscall_nr, code FROM kinds WHERE id = ?")
                                .bind(kind)
                                .fetch_one(&mut *tx)
                                .await?;
                        let code: i64 = r.try_get(2)?;
                        let k = (
                            r.try_get(0)?,
                            r.try_get(1)?,
                            i64::from(parsers::Action::from_code(code as u32).code()),
                        );
                        kinds.insert(kind, k);
                        k
                    }
                };
                keys.insert([w, k.0, k.1, k.2]);
            }
            let sql = format!(
                "{agg_sql} WHERE g.workload = ? AND g.arch = ? AND g.syscall_nr = ? AND g.action = ?"
            );
            for k in keys {
                let r = sqlx::query(&sql)
                    .bind(k[0])
                    .bind(k[1])
                    .bind(k[2])
                    .bind(k[3])
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(r) = r {
                    b.aggregates.push(agg_row(&r)?);
                }
            }
        }
        tx.commit().await?;
        // The caches are bounded: dictionaries are re-read on a miss.
        if kinds.len() > 200_000 {
            kinds.clear();
        }
        if attrib_workload.len() > 200_000 {
            attrib_workload.clear();
        }
        Ok(b)
    }

    /// After PostgreSQL committed `b`: advances the cursors and deletes the shipped log
    /// rows, in one transaction.
    pub async fn commit(&mut self, b: &Batch) -> Result<(), sqlx::Error> {
        if b.cursors.is_empty() {
            return Ok(());
        }
        let mut tx = self.conn.begin_with("BEGIN IMMEDIATE").await?;
        for (k, v) in &b.cursors {
            sqlx::query(
                "INSERT INTO fleet_state (key, value) VALUES (?, ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
        }
        if b.last_seq > 0 {
            sqlx::query("DELETE FROM fleet_log WHERE seq <= ?")
                .bind(b.last_seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        for (k, v) in &b.cursors {
            self.cursors.insert((*k).to_string(), *v);
        }
        Ok(())
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// The rows of an all-integer dictionary after the cursor `after`, each as its N columns.
async fn int_rows<const N: usize>(
    conn: &mut SqliteConnection,
    sql: &str,
    after: i64,
) -> Result<Vec<[i64; N]>, sqlx::Error> {
    let rows = sqlx::query(sql).bind(after).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let mut v = [0i64; N];
            for (i, c) in v.iter_mut().enumerate() {
                *c = r.try_get(i)?;
            }
            Ok(v)
        })
        .collect()
}

fn agg_row(r: &sqlx::sqlite::SqliteRow) -> Result<AggRow, sqlx::Error> {
    Ok(AggRow {
        workload: r.try_get(0)?,
        arch: r.try_get(1)?,
        syscall_nr: r.try_get(2)?,
        action: r.try_get(3)?,
        count: r.try_get(4)?,
        first_seen: r.try_get(5)?,
        last_seen: r.try_get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Item, SourceKind, StoreBatch};
    use crate::store::{SqliteStore, Store, StoreWriter};

    fn ev(serial: u64, t: i64) -> parsers::Event {
        parsers::Event {
            time_ms: t,
            serial: Some(serial),
            node: None,
            audit_arch: 0xc000_003e,
            syscall_nr: 101,
            code: 0x7ffc_0000,
            pid: 42,
            uid: Some(0),
            gid: Some(0),
            auid: None,
            ses: None,
            comm: Some("a".into()),
            exe: Some("/bin/a".into()),
            subj: None,
            sig: Some(0),
            compat: false,
            ip: None,
            synthetic_key: None,
        }
    }

    fn batch(events: Vec<parsers::Event>) -> StoreBatch {
        StoreBatch {
            items: events
                .into_iter()
                .map(|event| Item {
                    attribution: parsers::Attribution::unattributed(event.exe.as_deref()),
                    event,
                    source: SourceKind::Ingest,
                })
                .collect(),
            source: Some(SourceKind::Ingest),
            ..StoreBatch::default()
        }
    }

    #[tokio::test]
    async fn the_log_holds_exactly_the_unshipped_events_and_retention_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let s = SqliteStore::open(&path).await.unwrap();
        let now = super::super::now_ms();
        let day = 86_400_000;
        let old: Vec<_> = (0..500).map(|i| ev(i, now - 40 * day + i as i64)).collect();
        let new: Vec<_> = (0..10)
            .map(|i| ev(10_000 + i, now - 1000 + i as i64))
            .collect();
        let mut w = s.open_writer().await.unwrap();
        w.write(&[batch(old), batch(new)]).await.unwrap();

        // Turning replication on queues every stored event (the backfill) ...
        let mut l = Local::open(&path).await.unwrap();
        assert_eq!(l.enable("pg-a node=n").await.unwrap(), 510);
        assert_eq!(l.enable("pg-a node=n").await.unwrap(), 0, "once");
        let mut rc = open_read_only(&path).await.unwrap();
        assert_eq!(lag(&mut rc).await.unwrap().events, 510);
        // ... and retention deletes none of them while they are not shipped.
        assert_eq!(
            w.delete_older_than(now - 30 * day, 50_000).await.unwrap(),
            0
        );

        let b = l.read_batch(300).await.unwrap();
        assert_eq!(b.events.len(), 300);
        assert!(b.events.windows(2).all(|e| e[0].time_ms <= e[1].time_ms));
        assert!(!b.strings.is_empty() && !b.kinds.is_empty() && !b.actors.is_empty());
        assert_eq!(
            b.aggregates.iter().map(|a| a.count).sum::<i64>(),
            510,
            "all at first"
        );
        // Not committed: the same batch again.
        let again = l.read_batch(300).await.unwrap();
        assert_eq!(again.events, b.events);
        l.commit(&b).await.unwrap();
        assert_eq!(lag(&mut rc).await.unwrap().events, 210);
        // The 300 shipped old events may go now; the 200 unshipped old ones stay.
        assert_eq!(
            w.delete_older_than(now - 30 * day, 50_000).await.unwrap(),
            300
        );

        // New writes are logged by the trigger; the next batch has only what is new.
        w.write(&[batch(
            (0..5).map(|i| ev(20_000 + i, now + i as i64)).collect(),
        )])
        .await
        .unwrap();
        assert_eq!(lag(&mut rc).await.unwrap().events, 215);
        let b2 = l.read_batch(1000).await.unwrap();
        assert_eq!(b2.events.len(), 215);
        assert!(b2.strings.is_empty(), "dictionaries already shipped");
        assert_eq!(b2.aggregates.len(), 1, "only the touched aggregate");
        assert_eq!(b2.aggregates[0].count, 515);
        l.commit(&b2).await.unwrap();
        assert_eq!(lag(&mut rc).await.unwrap().events, 0);
        assert!(l.read_batch(1000).await.unwrap().is_idle());

        // Another fleet database: everything stored is queued again.
        assert_eq!(l.enable("pg-b node=n").await.unwrap(), 215);
        // Replication off: the trigger and the log are gone.
        l.close().await;
        assert!(disable(&path).await.unwrap());
        w.write(&[batch(vec![ev(30_000, now + 50)])]).await.unwrap();
        assert_eq!(lag(&mut rc).await.unwrap().events, 0);
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM fleet_log")
            .fetch_one(&mut rc)
            .await
            .unwrap();
        assert_eq!(n, 0);
        w.close().await.unwrap();
        s.close().await;
    }
}
