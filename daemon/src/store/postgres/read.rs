//! The queries of the PostgreSQL store: the [`Store`] methods over the central schema
//! (`migrations/postgres/`). Every dictionary join is on `(node, id)`; selections by
//! workload, container or pod go through the `(node, attribution id)` pairs that match,
//! so the events are read through `events_attrib`.
//!
//! Answers are those of the SQLite backend over the same events (the table test
//! `tests/tests/fleet_reads.rs` holds them to it): the same order (text in byte order,
//! `COLLATE "C"`), the same sentinels, the same sample caller (the highest actor id: ids
//! are the node's own).

use std::collections::HashMap;

use parsers::Action;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row as _};

use super::{NoWriter, PgStore};
use crate::pipeline::Checkpoint;
use crate::store::row::EventRow;
use crate::store::{
    EventCursor, EventPage, EventQuery, Observation, Selection, Store, StoreError, StoreStats,
    StoredEvent, SummaryBy, SummaryRow, SyscallFilter,
};

/// The action bits of a code (its data bits clear).
const ACTION_MASK: i64 = 0xffff_0000;

/// Escapes `%`, `_` and `\` for a `LIKE` prefix.
fn like_prefix(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Appends the selection's attribution filters on `e` (events).
fn attribution_filters(
    qb: &mut QueryBuilder<'_, Postgres>,
    workload: Option<&str>,
    container: Option<&str>,
    pod: Option<(&str, &str)>,
) {
    if let Some(w) = workload {
        qb.push(
            " AND (e.node, e.attrib) IN (SELECT a.node, a.id FROM attributions a \
             JOIN strings s ON s.node = a.node AND s.id = a.workload WHERE s.s = ",
        );
        qb.push_bind(w.to_string());
        qb.push(")");
    }
    if let Some(c) = container {
        qb.push(
            " AND (e.node, e.attrib) IN (SELECT a.node, a.id FROM attributions a \
             JOIN containers c ON c.node = a.node AND c.id = a.container \
             WHERE c.container_id LIKE ",
        );
        qb.push_bind(like_prefix(c));
        qb.push(")");
    }
    if let Some((ns, pod)) = pod {
        qb.push(
            " AND (e.node, e.attrib) IN (SELECT a.node, a.id FROM attributions a \
             JOIN containers c ON c.node = a.node AND c.id = a.container WHERE c.namespace = ",
        );
        qb.push_bind(ns.to_string());
        qb.push(" AND c.pod = ");
        qb.push_bind(pod.to_string());
        qb.push(")");
    }
}

/// The event columns: the record's own `node=` name, else the replicating node's name
/// (what the node's SQLite holds when `node` is configured, as `[fleet] node` defaults to).
const EVENT_SELECT: &str = "SELECT e.time_ms, e.serial, e.node, e.record_node, e.pid, e.ip, \
     coalesce(rn.s, nd.name), k.arch, k.syscall_nr, k.code, k.compat, k.sig, \
     ac.uid, ac.gid, ac.auid, ac.ses, cs.s, xs.s, ss.s, \
     at.source, at.attributed, at.profile_hash, us.s, ws.s, \
     c.container_id, c.runtime, c.name, c.image, c.pod, c.namespace, c.pod_uid \
     FROM events e \
     JOIN nodes nd ON nd.id = e.node \
     JOIN kinds k ON k.node = e.node AND k.id = e.kind \
     JOIN actors ac ON ac.node = e.node AND ac.id = e.actor \
     JOIN attributions at ON at.node = e.node AND at.id = e.attrib \
     LEFT JOIN strings rn ON rn.node = e.node AND rn.id = e.record_node AND e.record_node <> 0 \
     LEFT JOIN strings cs ON cs.node = e.node AND cs.id = ac.comm AND ac.comm <> 0 \
     LEFT JOIN strings xs ON xs.node = e.node AND xs.id = ac.exe AND ac.exe <> 0 \
     LEFT JOIN strings ss ON ss.node = e.node AND ss.id = ac.subj AND ac.subj <> 0 \
     LEFT JOIN strings us ON us.node = e.node AND us.id = at.unit AND at.unit <> 0 \
     LEFT JOIN strings ws ON ws.node = e.node AND ws.id = at.workload AND at.workload <> 0 \
     LEFT JOIN containers c ON c.node = e.node AND c.id = at.container AND at.container <> 0 \
     WHERE true";

fn decode_event(row: &PgRow) -> Result<StoredEvent, StoreError> {
    EventRow {
        cursor: EventCursor {
            time_ms: row.try_get(0)?,
            serial: row.try_get(1)?,
            node: i64::from(row.try_get::<i32, _>(2)?),
            sub: row.try_get(3)?,
        },
        pid: row.try_get(4)?,
        ip: row.try_get(5)?,
        record_node: row.try_get(6)?,
        arch: row.try_get(7)?,
        syscall_nr: row.try_get(8)?,
        code: row.try_get(9)?,
        compat: row.try_get::<i16, _>(10)? != 0,
        sig: row.try_get(11)?,
        uid: row.try_get(12)?,
        gid: row.try_get(13)?,
        auid: row.try_get(14)?,
        ses: row.try_get(15)?,
        comm: row.try_get(16)?,
        exe: row.try_get(17)?,
        subj: row.try_get(18)?,
        source: i64::from(row.try_get::<i16, _>(19)?),
        attributed: row.try_get::<i16, _>(20)? != 0,
        profile_hash: row.try_get(21)?,
        unit: row.try_get(22)?,
        workload: row.try_get(23)?,
        container_id: row.try_get(24)?,
        runtime: row.try_get(25)?,
        name: row.try_get(26)?,
        image: row.try_get(27)?,
        pod: row.try_get(28)?,
        namespace: row.try_get(29)?,
        pod_uid: row.try_get(30)?,
    }
    .into_stored()
}

impl PgStore {
    /// The (node, kind id) pairs matching the syscall and action filters; `None`: no filter.
    async fn kind_filter(
        &self,
        q: &EventQuery,
    ) -> Result<Option<(Vec<i32>, Vec<i64>)>, StoreError> {
        if q.syscall.is_none() && q.action.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query("SELECT node, id, arch, syscall_nr, code FROM kinds")
            .fetch_all(&self.pool)
            .await?;
        let (mut nodes, mut ids) = (Vec::new(), Vec::new());
        for r in rows {
            let ev = crate::store::call_event(r.try_get::<i64, _>(2)? as u32, r.try_get(3)?);
            let code = r.try_get::<i64, _>(4)? as u32;
            let sys_ok = match &q.syscall {
                None => true,
                Some(SyscallFilter::Number(n)) => ev.syscall_nr == *n,
                Some(SyscallFilter::Name(name)) => ev.syscall() == Some(name.as_str()),
            };
            let act_ok = q.action.is_none_or(|a| Action::from_code(code) == a);
            if sys_ok && act_ok {
                nodes.push(r.try_get(0)?);
                ids.push(r.try_get(1)?);
            }
        }
        Ok(Some((nodes, ids)))
    }
}

impl Store for PgStore {
    type Writer = NoWriter;

    async fn open_writer(&self) -> Result<NoWriter, StoreError> {
        Err(StoreError::ReadOnly(self.shown()))
    }

    /// Followers' checkpoints live in each node's own database.
    async fn checkpoint(&self, _key: &str) -> Result<Option<Checkpoint>, StoreError> {
        Ok(None)
    }

    async fn events(&self, q: &EventQuery) -> Result<EventPage, StoreError> {
        let kinds = self.kind_filter(q).await?;
        if kinds.as_ref().is_some_and(|(n, _)| n.is_empty()) {
            return Ok(EventPage::default());
        }
        let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(EVENT_SELECT);
        if let Some(t) = q.since_ms {
            qb.push(" AND e.time_ms >= ").push_bind(t);
        }
        if let Some(t) = q.until_ms {
            qb.push(" AND e.time_ms < ").push_bind(t);
        }
        if let Some((nodes, ids)) = kinds {
            qb.push(" AND (e.node, e.kind) IN (SELECT * FROM unnest(")
                .push_bind(nodes)
                .push("::int4[], ")
                .push_bind(ids)
                .push("::int8[]))");
        }
        attribution_filters(&mut qb, q.workload.as_deref(), q.container.as_deref(), None);
        let (cmp, dir) = if q.newest_first {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(c) = q.after {
            let node = i32::try_from(c.node)
                .map_err(|_| StoreError::Encode(format!("node id {}", c.node)))?;
            qb.push(format!(" AND e.time_ms {cmp}= "))
                .push_bind(c.time_ms)
                .push(format!(
                    " AND (e.time_ms, e.serial, e.node, e.record_node) {cmp} ("
                ))
                .push_bind(c.time_ms)
                .push(", ")
                .push_bind(c.serial)
                .push(", ")
                .push_bind(node)
                .push(", ")
                .push_bind(c.sub)
                .push(")");
        }
        qb.push(format!(
            " ORDER BY e.time_ms {dir}, e.serial {dir}, e.node {dir}, e.record_node {dir}"
        ));
        if q.limit > 0 {
            qb.push(" LIMIT ").push_bind(q.limit as i64);
        }
        let rows = qb.build().fetch_all(&self.pool).await?;
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
        // Aggregates hold each node's absolute counts: fleet totals are sums over nodes.
        let sql = match by {
            SummaryBy::Workload => {
                "SELECT NULL::text, g.workload, NULL::int8, NULL::int8, NULL::int8, sum(g.count)::int8, \
                 1::int8, count(DISTINCT (g.arch, g.syscall_nr)), min(g.first_seen), max(g.last_seen) \
                 FROM aggregates g WHERE g.workload <> '' GROUP BY g.workload \
                 ORDER BY sum(g.count) DESC, g.workload COLLATE \"C\""
            }
            SummaryBy::Syscall => {
                "SELECT NULL::text, NULL::text, g.arch, g.syscall_nr, NULL::int8, sum(g.count)::int8, \
                 count(DISTINCT g.workload), 1::int8, min(g.first_seen), max(g.last_seen) \
                 FROM aggregates g GROUP BY g.arch, g.syscall_nr \
                 ORDER BY sum(g.count) DESC, g.arch, g.syscall_nr"
            }
            SummaryBy::Action => {
                "SELECT NULL::text, NULL::text, NULL::int8, NULL::int8, g.action, sum(g.count)::int8, \
                 count(DISTINCT g.workload), count(DISTINCT (g.arch, g.syscall_nr)), \
                 min(g.first_seen), max(g.last_seen) \
                 FROM aggregates g GROUP BY g.action ORDER BY sum(g.count) DESC, g.action"
            }
            SummaryBy::Node => {
                "SELECT n.name, NULL::text, NULL::int8, NULL::int8, NULL::int8, sum(g.count)::int8, \
                 count(DISTINCT g.workload), count(DISTINCT (g.arch, g.syscall_nr)), \
                 min(g.first_seen), max(g.last_seen) \
                 FROM aggregates g JOIN nodes n ON n.id = g.node GROUP BY n.name \
                 ORDER BY sum(g.count) DESC, n.name COLLATE \"C\""
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(SummaryRow {
                node: r.try_get(0)?,
                workload: r.try_get(1)?,
                arch: r.try_get::<Option<i64>, _>(2)?.map(|a| a as u32),
                syscall_nr: r.try_get(3)?,
                action: r
                    .try_get::<Option<i64>, _>(4)?
                    .map(|a| Action::from_code(a as u32)),
                events: r.try_get::<i64, _>(5)? as u64,
                workloads: r.try_get::<i64, _>(6)? as u64,
                syscalls: r.try_get::<i64, _>(7)? as u64,
                first_ms: r.try_get(8)?,
                last_ms: r.try_get(9)?,
            });
        }
        Ok(out)
    }

    async fn observations(&self, sel: &Selection) -> Result<Vec<Observation>, StoreError> {
        // Events are grouped on their own integer columns first (the big part), then the
        // few groups are joined to the dictionaries.
        let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(
            "WITH g AS (SELECT e.node, e.attrib, e.kind, count(*) AS n, min(e.time_ms) AS lo, \
             max(e.time_ms) AS hi, max(e.actor) AS actor FROM events e WHERE true",
        );
        if let Some(t) = sel.since_ms {
            qb.push(" AND e.time_ms >= ").push_bind(t);
        }
        if let Some(t) = sel.until_ms {
            qb.push(" AND e.time_ms < ").push_bind(t);
        }
        attribution_filters(
            &mut qb,
            sel.workload.as_deref(),
            sel.container.as_deref(),
            sel.pod.as_ref().map(|(n, p)| (n.as_str(), p.as_str())),
        );
        qb.push(
            " GROUP BY e.node, e.attrib, e.kind) \
             SELECT g.node, nd.name, at.profile_hash, k.arch, k.syscall_nr, k.compat, ",
        );
        qb.push_bind(ACTION_MASK);
        qb.push(
            " & k.code AS act, sum(g.n)::int8, count(DISTINCT c.container_id), min(g.lo), \
             max(g.hi), max(g.actor) \
             FROM g JOIN nodes nd ON nd.id = g.node \
             JOIN kinds k ON k.node = g.node AND k.id = g.kind \
             JOIN attributions at ON at.node = g.node AND at.id = g.attrib \
             LEFT JOIN containers c ON c.node = g.node AND c.id = at.container AND at.container <> 0 \
             GROUP BY g.node, nd.name, at.profile_hash, k.arch, k.syscall_nr, k.compat, act \
             ORDER BY k.arch, k.syscall_nr, act, nd.name COLLATE \"C\", at.profile_hash COLLATE \"C\"",
        );
        let rows = qb.build().fetch_all(&self.pool).await?;
        // The sample caller of each group: its highest actor id (as SQLite picks it).
        let mut actors: Vec<(i32, i64)> = Vec::with_capacity(rows.len());
        for r in &rows {
            actors.push((r.try_get(0)?, r.try_get(11)?));
        }
        let mut samples: HashMap<(i32, i64), (Option<String>, Option<String>)> = HashMap::new();
        if !actors.is_empty() {
            let (nodes, ids): (Vec<i32>, Vec<i64>) = actors.iter().copied().unzip();
            let got = sqlx::query(
                "SELECT a.node, a.id, cs.s, xs.s FROM actors a \
                 JOIN unnest($1::int4[], $2::int8[]) AS w(node, id) ON w.node = a.node AND w.id = a.id \
                 LEFT JOIN strings cs ON cs.node = a.node AND cs.id = a.comm AND a.comm <> 0 \
                 LEFT JOIN strings xs ON xs.node = a.node AND xs.id = a.exe AND a.exe <> 0",
            )
            .bind(nodes)
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
            for s in got {
                samples.insert(
                    (s.try_get(0)?, s.try_get(1)?),
                    (s.try_get(2)?, s.try_get(3)?),
                );
            }
        }
        let mut out = Vec::with_capacity(rows.len());
        for (r, key) in rows.iter().zip(actors) {
            let (comm, exe) = samples.get(&key).cloned().unwrap_or_default();
            let profile: String = r.try_get(2)?;
            out.push(Observation {
                node: Some(r.try_get(1)?),
                profile_hash: (!profile.is_empty()).then_some(profile),
                audit_arch: r.try_get::<i64, _>(3)? as u32,
                syscall_nr: r.try_get(4)?,
                compat: r.try_get::<i16, _>(5)? != 0,
                action: Action::from_code(r.try_get::<i64, _>(6)? as u32),
                count: r.try_get::<i64, _>(7)? as u64,
                containers: r.try_get::<i64, _>(8)? as u64,
                first_ms: r.try_get(9)?,
                last_ms: r.try_get(10)?,
                sample_comm: comm,
                sample_exe: exe,
            });
        }
        Ok(out)
    }

    async fn profile(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT json FROM profiles WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn losses(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT cause, sum(count)::int8 FROM losses GROUP BY cause ORDER BY cause COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get::<i64, _>(1)? as u64)))
            .collect()
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let (events, bytes): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events), pg_database_size(current_database())",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(StoreStats {
            events: events as u64,
            db_bytes: bytes as u64,
        })
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_prefixes_are_escaped() {
        assert_eq!(like_prefix("ab12"), "ab12%");
        assert_eq!(like_prefix("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
