//! The PostgreSQL side of replication: one [`Batch`] in ONE transaction. Events go in by
//! `COPY`: straight into `events` when the batch lies after the node's shipped position
//! (a key already there aborts it: then again the slow way), else into a temporary staging
//! table, then `INSERT ... SELECT ... ON CONFLICT DO NOTHING` on their (node, time_ms,
//! serial, record_node) key; dictionaries, profiles,
//! alerts, aggregates and losses by multi-row upserts that a replay leaves unchanged. So
//! a batch is either not in PostgreSQL yet or in it exactly once, however often it is
//! sent.

use std::fmt::Write as _;

use foldhash::HashSet;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

use super::local::Batch;
use super::schema::{day_start, DAY_MS};

/// Text as PostgreSQL takes it: NUL, which a `text` value cannot hold, becomes U+FFFD.
fn pg_text(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s.to_string()
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "23505")
}

/// What one shipped batch did in PostgreSQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shipped {
    /// Events inserted (new to PostgreSQL).
    pub inserted: u64,
    /// Events PostgreSQL already had (a replay after a crash or a lost commit reply).
    pub duplicates: u64,
}

/// The connection to the fleet database, as one node.
pub struct Shipper {
    conn: PgConnection,
    pub node_id: i32,
    /// Day partitions known to exist.
    days: HashSet<i64>,
    /// Days before now that get a partition of their own (older rows go to the default
    /// partition, which retention also empties).
    back_days: i64,
    copy_buf: String,
    /// The node's log position PostgreSQL has (nodes.shipped_seq): a batch entirely
    /// after it was never committed, so its events go straight into `events` by COPY.
    shipped_seq: i64,
}

impl Shipper {
    /// Connects, applies the migrations, registers `node`.
    pub async fn connect(
        opts: &PgConnectOptions,
        node: &str,
        retention_days: u32,
    ) -> anyhow::Result<Shipper> {
        let mut conn = opts.connect().await?;
        super::schema::MIGRATOR.run_direct(&mut conn).await?;
        let now = super::now_ms();
        let node_id: i32 = sqlx::query_scalar(
            "INSERT INTO nodes (name, first_seen, last_seen) VALUES ($1, $2, $2) \
             ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id",
        )
        .bind(pg_text(node))
        .bind(now)
        .fetch_one(&mut conn)
        .await?;
        // The staging table of COPY: private to this connection, emptied at each commit.
        sqlx::query(
            "CREATE TEMP TABLE sw_stage (node INTEGER, time_ms BIGINT, serial BIGINT, \
             record_node BIGINT, kind BIGINT, actor BIGINT, pid BIGINT, ip BIGINT, attrib BIGINT) \
             ON COMMIT DELETE ROWS",
        )
        .execute(&mut conn)
        .await?;
        let shipped_seq: i64 = sqlx::query_scalar("SELECT shipped_seq FROM nodes WHERE id = $1")
            .bind(node_id)
            .fetch_one(&mut conn)
            .await?;
        Ok(Shipper {
            shipped_seq,
            conn,
            node_id,
            days: HashSet::default(),
            back_days: if retention_days == 0 {
                3650
            } else {
                i64::from(retention_days) + 1
            },
            copy_buf: String::new(),
        })
    }

    /// Creates the day partitions the batch needs (its own transaction, before the data):
    /// days from `back_days` ago to tomorrow; other days go to the default partition.
    async fn partitions(&mut self, b: &Batch) -> Result<(), sqlx::Error> {
        let today = day_start(super::now_ms());
        let lo = today - self.back_days * DAY_MS;
        let hi = today + DAY_MS;
        let mut need: Vec<i64> = Vec::new();
        let mut seen: HashSet<i64> = HashSet::default();
        for e in &b.events {
            let d = day_start(e.time_ms);
            if d >= lo && d <= hi && !self.days.contains(&d) && seen.insert(d) {
                need.push(d);
            }
        }
        if need.is_empty() {
            return Ok(());
        }
        super::schema::ensure_partitions(&mut self.conn, &need).await?;
        self.days.extend(need);
        Ok(())
    }

    /// Ships `b` in one transaction. A batch after the node's shipped position takes the
    /// fast path (COPY straight into `events`); should any of its keys be there after all
    /// (the local log was rebuilt, or another process ships the same node), the unique
    /// key aborts that transaction and the batch goes again by the staging table.
    pub async fn ship(&mut self, b: &Batch) -> Result<Shipped, sqlx::Error> {
        self.partitions(b).await?;
        let direct = b.first_seq > self.shipped_seq;
        let r = match self.ship_tx(b, direct).await {
            Err(e) if direct && is_unique_violation(&e) => {
                tracing::debug!("fleet: some events of the batch were there already: {e}");
                self.ship_tx(b, false).await
            }
            r => r,
        };
        if r.is_ok() {
            self.shipped_seq = self.shipped_seq.max(b.last_seq);
        }
        r
    }

    async fn ship_tx(&mut self, b: &Batch, direct: bool) -> Result<Shipped, sqlx::Error> {
        let node = self.node_id;
        let mut tx = self.conn.begin().await?;

        // Dictionaries (rows are immutable: a replay does nothing).
        if !b.strings.is_empty() {
            let ids: Vec<i64> = b.strings.iter().map(|s| s.0).collect();
            let ss: Vec<String> = b.strings.iter().map(|s| pg_text(&s.1)).collect();
            sqlx::query(
                "INSERT INTO strings (node, id, s) SELECT $1, * FROM UNNEST($2::bigint[], $3::text[]) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(node)
            .bind(ids)
            .bind(ss)
            .execute(&mut *tx)
            .await?;
        }
        if !b.kinds.is_empty() {
            let col = |i: usize| b.kinds.iter().map(|k| k[i]).collect::<Vec<i64>>();
            sqlx::query(
                "INSERT INTO kinds (node, id, arch, syscall_nr, code, compat, sig) \
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
                 $6::smallint[], $7::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind(node)
            .bind(col(0))
            .bind(col(1))
            .bind(col(2))
            .bind(col(3))
            .bind(b.kinds.iter().map(|k| k[4] as i16).collect::<Vec<i16>>())
            .bind(col(5))
            .execute(&mut *tx)
            .await?;
        }
        if !b.actors.is_empty() {
            let col = |i: usize| b.actors.iter().map(|k| k[i]).collect::<Vec<i64>>();
            sqlx::query(
                "INSERT INTO actors (node, id, uid, gid, auid, ses, comm, exe, subj) \
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], \
                 $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[]) ON CONFLICT DO NOTHING",
            )
            .bind(node)
            .bind(col(0))
            .bind(col(1))
            .bind(col(2))
            .bind(col(3))
            .bind(col(4))
            .bind(col(5))
            .bind(col(6))
            .bind(col(7))
            .execute(&mut *tx)
            .await?;
        }
        if !b.containers.is_empty() {
            let ids: Vec<i64> = b.containers.iter().map(|c| c.0).collect();
            let col = |i: usize| {
                b.containers
                    .iter()
                    .map(|c| pg_text(&c.1[i]))
                    .collect::<Vec<String>>()
            };
            sqlx::query(
                "INSERT INTO containers (node, id, container_id, runtime, name, image, pod, namespace, pod_uid) \
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::text[], $8::text[], $9::text[]) ON CONFLICT DO NOTHING",
            )
            .bind(node)
            .bind(ids)
            .bind(col(0))
            .bind(col(1))
            .bind(col(2))
            .bind(col(3))
            .bind(col(4))
            .bind(col(5))
            .bind(col(6))
            .execute(&mut *tx)
            .await?;
        }
        if !b.attributions.is_empty() {
            let col = |i: usize| b.attributions.iter().map(|a| a.0[i]).collect::<Vec<i64>>();
            let small = |i: usize| {
                b.attributions
                    .iter()
                    .map(|a| a.0[i] as i16)
                    .collect::<Vec<i16>>()
            };
            sqlx::query(
                "INSERT INTO attributions (node, id, source, container, unit, workload, attributed, profile_hash) \
                 SELECT $1, * FROM UNNEST($2::bigint[], $3::smallint[], $4::bigint[], $5::bigint[], \
                 $6::bigint[], $7::smallint[], $8::text[]) ON CONFLICT DO NOTHING",
            )
            .bind(node)
            .bind(col(0))
            .bind(small(1))
            .bind(col(2))
            .bind(col(3))
            .bind(col(4))
            .bind(small(5))
            .bind(
                b.attributions
                    .iter()
                    .map(|a| pg_text(&a.1))
                    .collect::<Vec<String>>(),
            )
            .execute(&mut *tx)
            .await?;
        }
        if !b.profiles.is_empty() {
            sqlx::query(
                "INSERT INTO profiles (hash, json, first_seen) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) \
                 ON CONFLICT (hash) DO UPDATE SET first_seen = LEAST(profiles.first_seen, excluded.first_seen)",
            )
            .bind(b.profiles.iter().map(|p| pg_text(&p.1)).collect::<Vec<_>>())
            .bind(b.profiles.iter().map(|p| pg_text(&p.2)).collect::<Vec<_>>())
            .bind(b.profiles.iter().map(|p| p.3).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }

        // Events: COPY into `events` (fast path) or into the staging table, then insert
        // the new ones.
        let mut shipped = Shipped::default();
        if !b.events.is_empty() {
            let into = if direct { "events" } else { "sw_stage" };
            let mut copy = tx
                .copy_in_raw(&format!(
                    "COPY {into} (node, time_ms, serial, record_node, kind, actor, pid, ip, attrib) FROM STDIN"
                ))
                .await?;
            let buf = &mut self.copy_buf;
            for chunk in b.events.chunks(8192) {
                buf.clear();
                for e in chunk {
                    let _ = write!(
                        buf,
                        "{node}\t{}\t{}\t{}\t{}\t{}\t{}\t",
                        e.time_ms, e.serial, e.record_node, e.kind, e.actor, e.pid
                    );
                    match e.ip {
                        Some(ip) => {
                            let _ = write!(buf, "{ip}");
                        }
                        None => buf.push_str("\\N"),
                    }
                    let _ = writeln!(buf, "\t{}", e.attrib);
                }
                if let Err(e) = copy.send(buf.as_bytes()).await {
                    let _ = copy.abort("send failed").await;
                    return Err(e);
                }
            }
            let copied = copy.finish().await?;
            let inserted = if direct {
                copied
            } else {
                sqlx::query(
                "INSERT INTO events (node, time_ms, serial, record_node, kind, actor, pid, ip, attrib) \
                 SELECT node, time_ms, serial, record_node, kind, actor, pid, ip, attrib FROM sw_stage \
                 ON CONFLICT DO NOTHING",
            )
            .execute(&mut *tx)
            .await?
            .rows_affected()
            };
            shipped.inserted = inserted;
            shipped.duplicates = (b.events.len() as u64).saturating_sub(inserted);
        }

        // Aggregates: the node's absolute rows; a replay (or an older copy) changes nothing.
        if !b.aggregates.is_empty() {
            let a = &b.aggregates;
            sqlx::query(
                "INSERT INTO aggregates (node, workload, arch, syscall_nr, action, count, first_seen, last_seen) \
                 SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], \
                 $6::bigint[], $7::bigint[], $8::bigint[]) \
                 ON CONFLICT (node, workload, arch, syscall_nr, action) DO UPDATE SET \
                 count = GREATEST(aggregates.count, excluded.count), \
                 first_seen = LEAST(aggregates.first_seen, excluded.first_seen), \
                 last_seen = GREATEST(aggregates.last_seen, excluded.last_seen)",
            )
            .bind(node)
            .bind(a.iter().map(|r| pg_text(&r.workload)).collect::<Vec<_>>())
            .bind(a.iter().map(|r| r.arch).collect::<Vec<_>>())
            .bind(a.iter().map(|r| r.syscall_nr).collect::<Vec<_>>())
            .bind(a.iter().map(|r| r.action).collect::<Vec<_>>())
            .bind(a.iter().map(|r| r.count).collect::<Vec<_>>())
            .bind(a.iter().map(|r| r.first_seen).collect::<Vec<_>>())
            .bind(a.iter().map(|r| r.last_seen).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }

        // Alerts: the node's row, the latest `updated` wins.
        if !b.alerts.is_empty() {
            let a = &b.alerts;
            let text = |f: fn(&super::local::AlertRow) -> &str| {
                a.iter().map(|r| pg_text(f(r))).collect::<Vec<_>>()
            };
            let num = |f: fn(&super::local::AlertRow) -> i64| a.iter().map(f).collect::<Vec<_>>();
            sqlx::query(
                "INSERT INTO alerts (node, id, rule, severity, workload, syscall, action, count, first_seen, \
                 last_seen, window_end, body, created, updated) \
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::smallint[], $5::text[], $6::text[], \
                 $7::text[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], \
                 $13::bigint[], $14::bigint[]) \
                 ON CONFLICT (node, id) DO UPDATE SET rule = excluded.rule, severity = excluded.severity, \
                 workload = excluded.workload, syscall = excluded.syscall, action = excluded.action, \
                 count = excluded.count, first_seen = excluded.first_seen, last_seen = excluded.last_seen, \
                 window_end = excluded.window_end, body = excluded.body, created = excluded.created, \
                 updated = excluded.updated WHERE excluded.updated >= alerts.updated",
            )
            .bind(node)
            .bind(text(|r| &r.id))
            .bind(text(|r| &r.rule))
            .bind(a.iter().map(|r| r.severity as i16).collect::<Vec<_>>())
            .bind(text(|r| &r.workload))
            .bind(text(|r| &r.syscall))
            .bind(text(|r| &r.action))
            .bind(num(|r| r.count))
            .bind(num(|r| r.first_seen))
            .bind(num(|r| r.last_seen))
            .bind(num(|r| r.window_end))
            .bind(text(|r| &r.body))
            .bind(num(|r| r.created))
            .bind(num(|r| r.updated))
            .execute(&mut *tx)
            .await?;
        }

        if !b.losses.is_empty() {
            let l = &b.losses;
            sqlx::query(
                "INSERT INTO losses (node, cause, count, updated) \
                 SELECT $1, * FROM UNNEST($2::text[], $3::bigint[], $4::bigint[]) \
                 ON CONFLICT (node, cause) DO UPDATE SET count = GREATEST(losses.count, excluded.count), \
                 updated = GREATEST(losses.updated, excluded.updated)",
            )
            .bind(node)
            .bind(l.iter().map(|r| pg_text(&r.0)).collect::<Vec<_>>())
            .bind(l.iter().map(|r| r.1).collect::<Vec<_>>())
            .bind(l.iter().map(|r| r.2).collect::<Vec<_>>())
            .execute(&mut *tx)
            .await?;
        }

        sqlx::query(
            "UPDATE nodes SET last_seen = $2, shipped_seq = GREATEST(shipped_seq, $3), \
             shipped_events = shipped_events + $4 WHERE id = $1",
        )
        .bind(node)
        .bind(super::now_ms())
        .bind(b.last_seq)
        .bind(b.events.len() as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(shipped)
    }

    /// Retention: drops day partitions older than `days`.
    pub async fn retain(&mut self, days: u32) -> Result<i64, sqlx::Error> {
        let cutoff = day_start(super::now_ms()) - i64::from(days) * DAY_MS;
        let n: i32 = sqlx::query_scalar("SELECT sw_drop_event_partitions_before($1)")
            .bind(cutoff)
            .fetch_one(&mut self.conn)
            .await?;
        self.days.retain(|d| *d + DAY_MS > cutoff);
        Ok(i64::from(n))
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}
