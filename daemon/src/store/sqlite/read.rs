//! The queries of the SQLite store: the [`Store`] methods (events with keyset paging,
//! summaries, observations, checkpoints, profiles, losses, stats) on the read pool.

use std::collections::HashMap as StdHashMap;

use parsers::{Action, Event};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{ConnectOptions, Row as _};

use super::codec::add;
use super::open::{base_options, SqliteStore};
use super::write::SqliteWriter;
use crate::pipeline::Checkpoint;
use crate::store::row::EventRow;
use crate::store::{
    EventCursor, EventPage, EventQuery, Observation, Selection, Store, StoreError, StoreStats,
    StoredEvent, SummaryBy, SummaryRow, SyscallFilter,
};

/// Appends the WHERE conditions of the attribution filters, binding their values.
fn attribution_filters<'q>(
    sql: &mut String,
    args: &mut SqliteArguments<'q>,
    workload: Option<&'q str>,
    container: Option<&'q str>,
    pod: Option<(&'q str, &'q str)>,
) -> Result<(), StoreError> {
    if let Some(w) = workload {
        sql.push_str(
            " AND e.attrib IN (SELECT a.id FROM attributions a JOIN strings s ON s.id = a.workload WHERE s.s = ?)",
        );
        add(args, w)?;
    }
    if let Some(c) = container {
        sql.push_str(
            " AND e.attrib IN (SELECT a.id FROM attributions a JOIN containers c ON c.id = a.container \
             WHERE substr(c.container_id, 1, ?) = ?)",
        );
        add(args, c.chars().count() as i64)?;
        add(args, c)?;
    }
    if let Some((ns, pod)) = pod {
        sql.push_str(
            " AND e.attrib IN (SELECT a.id FROM attributions a JOIN containers c ON c.id = a.container \
             WHERE c.namespace = ? AND c.pod = ?)",
        );
        add(args, ns)?;
        add(args, pod)?;
    }
    Ok(())
}

const EVENT_SELECT: &str = "SELECT e.time_ms, e.serial, e.node, e.pid, e.ip, n.s, \
     k.arch, k.syscall_nr, k.code, k.compat, k.sig, \
     ac.uid, ac.gid, ac.auid, ac.ses, cs.s, xs.s, ss.s, \
     at.source, at.attributed, at.profile_hash, us.s, ws.s, \
     c.container_id, c.runtime, c.name, c.image, c.pod, c.namespace, c.pod_uid \
     FROM events e \
     JOIN kinds k ON k.id = e.kind \
     JOIN actors ac ON ac.id = e.actor \
     JOIN attributions at ON at.id = e.attrib \
     LEFT JOIN strings n ON n.id = e.node \
     LEFT JOIN strings cs ON cs.id = ac.comm \
     LEFT JOIN strings xs ON xs.id = ac.exe \
     LEFT JOIN strings ss ON ss.id = ac.subj \
     LEFT JOIN strings us ON us.id = at.unit \
     LEFT JOIN strings ws ON ws.id = at.workload \
     LEFT JOIN containers c ON c.id = at.container \
     WHERE 1";

fn decode_event(row: &SqliteRow) -> Result<StoredEvent, StoreError> {
    EventRow {
        cursor: EventCursor {
            time_ms: row.try_get(0)?,
            serial: row.try_get(1)?,
            node: row.try_get(2)?,
            sub: 0,
        },
        pid: row.try_get(3)?,
        ip: row.try_get(4)?,
        record_node: row.try_get(5)?,
        arch: row.try_get(6)?,
        syscall_nr: row.try_get(7)?,
        code: row.try_get(8)?,
        compat: row.try_get::<i64, _>(9)? != 0,
        sig: row.try_get(10)?,
        uid: row.try_get(11)?,
        gid: row.try_get(12)?,
        auid: row.try_get(13)?,
        ses: row.try_get(14)?,
        comm: row.try_get(15)?,
        exe: row.try_get(16)?,
        subj: row.try_get(17)?,
        source: row.try_get(18)?,
        attributed: row.try_get::<i64, _>(19)? != 0,
        profile_hash: row.try_get(20)?,
        unit: row.try_get(21)?,
        workload: row.try_get(22)?,
        container_id: row.try_get(23)?,
        runtime: row.try_get(24)?,
        name: row.try_get(25)?,
        image: row.try_get(26)?,
        pod: row.try_get(27)?,
        namespace: row.try_get(28)?,
        pod_uid: row.try_get(29)?,
    }
    .into_stored()
}

impl SqliteStore {
    /// The ids of the kinds matching the syscall and action filters; `None` = no filter.
    async fn kind_filter(&self, q: &EventQuery) -> Result<Option<Vec<i64>>, StoreError> {
        if q.syscall.is_none() && q.action.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query("SELECT id, arch, syscall_nr, code FROM kinds")
            .fetch_all(&self.inner.pool)
            .await?;
        let mut ids = Vec::new();
        for r in rows {
            let ev = Event {
                time_ms: 0,
                serial: None,
                node: None,
                audit_arch: r.try_get::<i64, _>(1)? as u32,
                syscall_nr: r.try_get(2)?,
                code: r.try_get::<i64, _>(3)? as u32,
                pid: 0,
                uid: None,
                gid: None,
                auid: None,
                ses: None,
                comm: None,
                exe: None,
                subj: None,
                sig: None,
                compat: false,
                ip: None,
                synthetic_key: None,
            };
            let sys_ok = match &q.syscall {
                None => true,
                Some(SyscallFilter::Number(n)) => ev.syscall_nr == *n,
                Some(SyscallFilter::Name(name)) => ev.syscall() == Some(name.as_str()),
            };
            let act_ok = q.action.is_none_or(|a| ev.action() == a);
            if sys_ok && act_ok {
                ids.push(r.try_get(0)?);
            }
        }
        Ok(Some(ids))
    }
}

impl Store for SqliteStore {
    type Writer = SqliteWriter;

    async fn open_writer(&self) -> Result<SqliteWriter, StoreError> {
        let opts = base_options(&self.inner.path)
            .pragma("cache_size", "-4096")
            .statement_cache_capacity(64);
        let conn = opts.connect().await?;
        Ok(SqliteWriter::new(conn, opts))
    }

    async fn checkpoint(&self, key: &str) -> Result<Option<Checkpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT path, dev, ino, fingerprint, offset FROM checkpoints WHERE key = ?",
        )
        .bind(key)
        .fetch_optional(&self.inner.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(Checkpoint {
            key: key.to_string(),
            path: r.try_get(0)?,
            dev: r.try_get::<i64, _>(1)? as u64,
            ino: r.try_get::<i64, _>(2)? as u64,
            fingerprint: r.try_get::<i64, _>(3)? as u64,
            offset: r.try_get::<i64, _>(4)? as u64,
        }))
    }

    async fn events(&self, q: &EventQuery) -> Result<EventPage, StoreError> {
        let kinds = self.kind_filter(q).await?;
        if kinds.as_ref().is_some_and(Vec::is_empty) {
            return Ok(EventPage::default());
        }
        let mut sql = String::from(EVENT_SELECT);
        let mut args = SqliteArguments::default();
        if let Some(t) = q.since_ms {
            sql.push_str(" AND e.time_ms >= ?");
            add(&mut args, t)?;
        }
        if let Some(t) = q.until_ms {
            sql.push_str(" AND e.time_ms < ?");
            add(&mut args, t)?;
        }
        if let Some(ids) = &kinds {
            sql.push_str(" AND e.kind IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&id.to_string());
            }
            sql.push(')');
        }
        attribution_filters(
            &mut sql,
            &mut args,
            q.workload.as_deref(),
            q.container.as_deref(),
            None,
        )?;
        let (cmp, dir) = if q.newest_first {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(c) = q.after {
            sql.push_str(&format!(
                " AND e.time_ms {cmp}= ? AND (e.time_ms, e.serial, e.node) {cmp} (?, ?, ?)"
            ));
            add(&mut args, c.time_ms)?;
            add(&mut args, c.time_ms)?;
            add(&mut args, c.serial)?;
            add(&mut args, c.node)?;
        }
        sql.push_str(&format!(
            " ORDER BY e.time_ms {dir}, e.serial {dir}, e.node {dir}"
        ));
        if q.limit > 0 {
            sql.push_str(" LIMIT ?");
            add(&mut args, q.limit as i64)?;
        }
        let rows = sqlx::query_with(&sql, args)
            .persistent(false)
            .fetch_all(&self.inner.pool)
            .await?;
        let events = rows
            .iter()
            .map(decode_event)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if q.limit > 0 && events.len() == q.limit {
            events.last().map(|e| e.cursor)
        } else {
            None
        };
        Ok(EventPage { events, next })
    }

    async fn summary(&self, by: SummaryBy) -> Result<Vec<SummaryRow>, StoreError> {
        let sql = match by {
            SummaryBy::Workload => {
                "SELECT w.s, NULL, NULL, NULL, sum(g.count), 1, count(DISTINCT g.arch || ':' || g.syscall_nr), \
                 min(g.first_seen), max(g.last_seen) FROM aggregates g JOIN strings w ON w.id = g.workload \
                 GROUP BY g.workload ORDER BY sum(g.count) DESC, w.s"
            }
            SummaryBy::Syscall => {
                "SELECT NULL, g.arch, g.syscall_nr, NULL, sum(g.count), count(DISTINCT g.workload), 1, \
                 min(g.first_seen), max(g.last_seen) FROM aggregates g \
                 GROUP BY g.arch, g.syscall_nr ORDER BY sum(g.count) DESC, g.arch, g.syscall_nr"
            }
            SummaryBy::Action => {
                "SELECT NULL, NULL, NULL, g.action, sum(g.count), count(DISTINCT g.workload), \
                 count(DISTINCT g.arch || ':' || g.syscall_nr), min(g.first_seen), max(g.last_seen) \
                 FROM aggregates g GROUP BY g.action ORDER BY sum(g.count) DESC, g.action"
            }
            // No per-node aggregates in a node's own database: from the raw events kept.
            SummaryBy::Node => {
                "SELECT NULL, NULL, NULL, NULL, count(*), count(DISTINCT at.workload), \
                 count(DISTINCT k.arch || ':' || k.syscall_nr), min(e.time_ms), max(e.time_ms), \
                 coalesce(n.s, '') FROM events e JOIN kinds k ON k.id = e.kind \
                 JOIN attributions at ON at.id = e.attrib LEFT JOIN strings n ON n.id = e.node \
                 GROUP BY e.node ORDER BY count(*) DESC, coalesce(n.s, '')"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.inner.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(SummaryRow {
                node: if by == SummaryBy::Node {
                    Some(r.try_get(9)?)
                } else {
                    None
                },
                workload: r.try_get(0)?,
                arch: r.try_get::<Option<i64>, _>(1)?.map(|a| a as u32),
                syscall_nr: r.try_get(2)?,
                action: r
                    .try_get::<Option<i64>, _>(3)?
                    .map(|a| Action::from_code(a as u32)),
                events: r.try_get::<i64, _>(4)? as u64,
                workloads: r.try_get::<i64, _>(5)? as u64,
                syscalls: r.try_get::<i64, _>(6)? as u64,
                first_ms: r.try_get(7)?,
                last_ms: r.try_get(8)?,
            });
        }
        Ok(out)
    }

    async fn observations(&self, sel: &Selection) -> Result<Vec<Observation>, StoreError> {
        let mut sql = String::from(
            "SELECT k.arch, k.syscall_nr, k.compat, (k.code & 4294901760) AS act, count(*), \
             count(DISTINCT c.container_id), min(e.time_ms), max(e.time_ms), max(e.actor), \
             n.s, at.profile_hash \
             FROM events e JOIN kinds k ON k.id = e.kind JOIN attributions at ON at.id = e.attrib \
             LEFT JOIN containers c ON c.id = at.container LEFT JOIN strings n ON n.id = e.node \
             WHERE 1",
        );
        let mut args = SqliteArguments::default();
        if let Some(t) = sel.since_ms {
            sql.push_str(" AND e.time_ms >= ?");
            add(&mut args, t)?;
        }
        if let Some(t) = sel.until_ms {
            sql.push_str(" AND e.time_ms < ?");
            add(&mut args, t)?;
        }
        attribution_filters(
            &mut sql,
            &mut args,
            sel.workload.as_deref(),
            sel.container.as_deref(),
            sel.pod.as_ref().map(|(n, p)| (n.as_str(), p.as_str())),
        )?;
        sql.push_str(
            " GROUP BY e.node, at.profile_hash, k.arch, k.syscall_nr, k.compat, act \
             ORDER BY k.arch, k.syscall_nr, act, n.s, at.profile_hash",
        );
        let rows = sqlx::query_with(&sql, args)
            .persistent(false)
            .fetch_all(&self.inner.pool)
            .await?;
        let mut samples: StdHashMap<i64, (Option<String>, Option<String>)> = StdHashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let actor: i64 = r.try_get(8)?;
            if let std::collections::hash_map::Entry::Vacant(slot) = samples.entry(actor) {
                let s = sqlx::query(
                    "SELECT cs.s, xs.s FROM actors a LEFT JOIN strings cs ON cs.id = a.comm \
                     LEFT JOIN strings xs ON xs.id = a.exe WHERE a.id = ?",
                )
                .bind(actor)
                .fetch_optional(&self.inner.pool)
                .await?;
                let pair = match s {
                    Some(s) => (s.try_get(0)?, s.try_get(1)?),
                    None => (None, None),
                };
                slot.insert(pair);
            }
            let (comm, exe) = samples.get(&actor).cloned().unwrap_or_default();
            let profile: String = r.try_get(10)?;
            out.push(Observation {
                node: r.try_get(9)?,
                profile_hash: (!profile.is_empty()).then_some(profile),
                audit_arch: r.try_get::<i64, _>(0)? as u32,
                syscall_nr: r.try_get(1)?,
                compat: r.try_get::<i64, _>(2)? != 0,
                action: Action::from_code(r.try_get::<i64, _>(3)? as u32),
                count: r.try_get::<i64, _>(4)? as u64,
                containers: r.try_get::<i64, _>(5)? as u64,
                first_ms: r.try_get(6)?,
                last_ms: r.try_get(7)?,
                sample_comm: comm,
                sample_exe: exe,
            });
        }
        Ok(out)
    }

    async fn profile(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT json FROM profiles WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.inner.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    async fn losses(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query("SELECT cause, count FROM losses ORDER BY cause")
            .fetch_all(&self.inner.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? as u64)))
            .collect()
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.inner.pool)
            .await?;
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&self.inner.pool)
            .await?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&self.inner.pool)
            .await?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.inner.pool)
            .await?;
        Ok(StoreStats {
            events: events as u64,
            db_bytes: ((pages - free).max(0) * size) as u64,
        })
    }

    async fn close(&self) {
        self.inner.pool.close().await;
    }
}
