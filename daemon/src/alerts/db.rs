//! The alerts tables (migrations/0002_alerts.sql): writing alerts and novelty state inside
//! the writer's transaction ([`persist`]), listing alerts with their delivery status
//! ([`list`], for `seccomp-watch alerts` and `/api/v1/alerts`), queueing a dead alert again
//! ([`retry`]) and loading the engine's state at start ([`load_state`]).

use std::collections::HashMap;

use rules::engine::{Alert, Engine, Severity};
use serde::Serialize;
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{now_ms, AlertWrite};

/// A delivery's (and, summed up, an alert's) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Delivered,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Delivered => "delivered",
            Status::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Pending, Status::Delivered, Status::Dead]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

fn encode_err(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(e))
}

/// The upsert of alerts: a new row, or the count added and the rest replaced. The
/// `alerts_count_grew` trigger queues a delivered alert again when its count grows.
const UPSERT_HEAD: &str =
    "INSERT INTO alerts (id, rule, severity, workload, syscall, action, count, first_seen, \
     last_seen, window_end, body, created, updated) VALUES ";
const UPSERT_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const UPSERT_TAIL: &str = " ON CONFLICT (id) DO UPDATE SET count = count + excluded.count, \
     first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen), \
     severity = max(severity, excluded.severity), body = excluded.body, updated = excluded.updated";

/// Rows per multi-row upsert: a few fixed sizes, so that few statements are prepared.
const CHUNKS: [usize; 3] = [64, 8, 1];

fn upsert_sql(rows: usize) -> String {
    let mut sql = String::with_capacity(
        UPSERT_HEAD.len() + rows * (UPSERT_ROW.len() + 2) + UPSERT_TAIL.len(),
    );
    sql.push_str(UPSERT_HEAD);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(UPSERT_ROW);
    }
    sql.push_str(UPSERT_TAIL);
    sql
}

/// Adds to the counts of existing alerts: `?` (now), then (id, delta, first, last) rows.
fn update_sql(rows: usize) -> String {
    let mut sql = String::from(
        "UPDATE alerts SET count = count + v.column2, first_seen = min(first_seen, v.column3), \
         last_seen = max(last_seen, v.column4), updated = ? FROM (VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?)");
    }
    sql.push_str(") AS v WHERE alerts.id = v.column1");
    sql
}

/// Writes alert changes and novelty state. Called by the store writer inside the
/// transaction that stores the events that caused them.
pub async fn persist(conn: &mut SqliteConnection, writes: &[AlertWrite]) -> sqlx::Result<()> {
    let now = now_ms();
    // New alerts and alerts whose details changed: multi-row upserts with the body.
    // Count-only changes (the common case of a burst): multi-row updates without it.
    let mut full: Vec<(&Alert, u64)> = Vec::new();
    let mut light: Vec<(&Alert, u64)> = Vec::new();
    for w in writes {
        if let AlertWrite::Alert {
            alert,
            count_delta,
            new,
            detail,
            ..
        } = w
        {
            if *new || *detail {
                full.push((alert, *count_delta));
            } else {
                light.push((alert, *count_delta));
            }
        }
    }
    let mut rest: &[(&Alert, u64)] = &light;
    for size in CHUNKS {
        let sql = update_sql(size);
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut q = sqlx::query(&sql).bind(now);
            for (alert, delta) in chunk {
                q = q
                    .bind(&alert.id)
                    .bind(*delta as i64)
                    .bind(alert.first_seen_ms)
                    .bind(alert.last_seen_ms);
            }
            let n = q.execute(&mut *conn).await?.rows_affected();
            if (n as usize) < chunk.len() {
                // Rows missing (an earlier write failed): insert those in full.
                for (alert, delta) in chunk {
                    let exists: Option<i64> =
                        sqlx::query_scalar("SELECT 1 FROM alerts WHERE id = ?")
                            .bind(&alert.id)
                            .fetch_optional(&mut *conn)
                            .await?;
                    if exists.is_none() {
                        full.push((alert, *delta));
                    }
                }
            }
        }
    }
    let bodies: Vec<String> = full
        .iter()
        .map(|(a, _)| serde_json::to_string(&**a))
        .collect::<Result<_, _>>()
        .map_err(encode_err)?;
    let rows: Vec<(&Alert, u64, &str)> = full
        .iter()
        .zip(&bodies)
        .map(|((a, d), b)| (*a, *d, b.as_str()))
        .collect();
    let mut rest: &[(&Alert, u64, &str)] = &rows;
    for size in CHUNKS {
        let sql = upsert_sql(size);
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut q = sqlx::query(&sql);
            for (alert, delta, body) in chunk {
                q = q
                    .bind(&alert.id)
                    .bind(&alert.rule)
                    .bind(i64::from(alert.severity.rank()))
                    .bind(&alert.workload)
                    .bind(&alert.syscall)
                    .bind(&alert.action)
                    .bind(*delta as i64)
                    .bind(alert.first_seen_ms)
                    .bind(alert.last_seen_ms)
                    .bind(alert.window_end_ms)
                    .bind(*body)
                    .bind(now)
                    .bind(now);
            }
            q.execute(&mut *conn).await?;
        }
    }
    for w in writes {
        match w {
            AlertWrite::Alert { alert, sinks, .. } => {
                for sink in sinks {
                    sqlx::query(
                        "INSERT INTO alert_deliveries (alert_id, sink, status, attempts, next_attempt, queued) \
                         VALUES (?, ?, 'pending', 0, ?, ?) ON CONFLICT (alert_id, sink) DO NOTHING",
                    )
                    .bind(&alert.id)
                    .bind(&**sink)
                    .bind(now)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                }
            }
            AlertWrite::Workload {
                workload,
                first_seen_ms,
            } => {
                sqlx::query(
                    "INSERT INTO alert_workloads (workload, first_seen) VALUES (?, ?) \
                     ON CONFLICT (workload) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen)",
                )
                .bind(workload)
                .bind(first_seen_ms)
                .execute(&mut *conn)
                .await?;
            }
            AlertWrite::Seen {
                workload,
                arch,
                syscall,
                first_seen_ms,
            } => {
                sqlx::query("INSERT OR IGNORE INTO alert_seen (workload, arch, syscall, first_seen) VALUES (?, ?, ?, ?)")
                    .bind(workload)
                    .bind(arch)
                    .bind(syscall)
                    .bind(first_seen_ms)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    Ok(())
}

/// Loads the engine's novelty state and every stored profile (for `not_in_profile`).
/// Returns (workloads, seen rows, profiles) loaded.
pub async fn load_state(
    pool: &SqlitePool,
    engine: &mut Engine,
) -> sqlx::Result<(usize, usize, usize)> {
    let rows = sqlx::query("SELECT workload, first_seen FROM alert_workloads")
        .fetch_all(pool)
        .await?;
    for r in &rows {
        engine.restore_workload(r.try_get::<&str, _>(0)?, r.try_get(1)?);
    }
    let workloads = rows.len();
    let rows = sqlx::query("SELECT workload, arch, syscall FROM alert_seen")
        .fetch_all(pool)
        .await?;
    let mut seen = 0;
    for r in &rows {
        if engine.restore_seen(
            r.try_get::<&str, _>(0)?,
            r.try_get::<&str, _>(1)?,
            r.try_get::<&str, _>(2)?,
        ) {
            seen += 1;
        }
    }
    // The profiles table belongs to the store (0001); a store without it has none.
    let mut profiles = 0;
    if let Ok(rows) = sqlx::query("SELECT hash, json FROM profiles")
        .fetch_all(pool)
        .await
    {
        for r in &rows {
            if engine.add_profile(r.try_get::<&str, _>(0)?, r.try_get::<&str, _>(1)?) {
                profiles += 1;
            }
        }
    }
    Ok((workloads, seen, profiles))
}

/// One delivery of an alert to a sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRow {
    pub sink: String,
    pub status: Status,
    pub attempts: u64,
    pub next_attempt_ms: i64,
    pub queued_ms: i64,
    pub delivered_ms: Option<i64>,
    /// The count the last successful delivery carried.
    pub delivered_count: u64,
    pub last_error: Option<String>,
}

/// One stored alert with its deliveries.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    /// The alert, with the stored (authoritative) count, first and last seen.
    pub alert: Alert,
    /// `dead` when a delivery is dead, else `pending` when one is pending, else
    /// `delivered` when there is a delivery, else none (no sink took it).
    pub status: Option<Status>,
    pub deliveries: Vec<DeliveryRow>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl AlertRow {
    /// The JSON of `seccomp-watch alerts --json` and `/api/v1/alerts`: the payload sinks
    /// get, plus `status` and `deliveries`.
    pub fn to_json(&self, now_ms: i64) -> serde_json::Value {
        let mut v = self.alert.payload(self.alert.window_end_ms <= now_ms);
        if let Some(o) = v.as_object_mut() {
            o.insert(
                "status".into(),
                serde_json::to_value(self.status).unwrap_or_default(),
            );
            o.insert(
                "deliveries".into(),
                serde_json::to_value(&self.deliveries).unwrap_or_default(),
            );
            o.insert(
                "created".into(),
                parsers::time::rfc3339_ms(self.created_ms).into(),
            );
            o.insert(
                "updated".into(),
                parsers::time::rfc3339_ms(self.updated_ms).into(),
            );
        }
        v
    }
}

/// What [`list_query`] selects.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub status: Option<Status>,
    /// Alerts last seen at or after this time.
    pub since_ms: Option<i64>,
    /// At most this many (0: no limit).
    pub limit: usize,
}

/// Alerts by status, most recently seen first (at most `limit`, 0 for all).
pub async fn list(
    pool: &SqlitePool,
    status: Option<Status>,
    limit: usize,
) -> sqlx::Result<Vec<AlertRow>> {
    list_query(
        pool,
        &ListQuery {
            status,
            since_ms: None,
            limit,
        },
    )
    .await
}

/// The alert body with the stored columns applied.
pub(crate) fn alert_of(
    body: &str,
    count: i64,
    first: i64,
    last: i64,
    severity: i64,
) -> sqlx::Result<Alert> {
    let mut a: Alert = serde_json::from_str(body).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    a.count = count.max(0) as u64;
    a.first_seen_ms = first;
    a.last_seen_ms = last;
    if let Some(s) = Severity::ALL.get(severity.clamp(0, 4) as usize) {
        a.severity = *s;
    }
    Ok(a)
}

/// Alerts matching `q`, most recently seen first.
pub async fn list_query(pool: &SqlitePool, q: &ListQuery) -> sqlx::Result<Vec<AlertRow>> {
    let mut filter = String::from(" WHERE a.last_seen >= ?");
    let has = |s: &str| {
        format!("EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_id = a.id AND d.status = '{s}')")
    };
    match q.status {
        Some(Status::Dead) => filter.push_str(&format!(" AND {}", has("dead"))),
        Some(Status::Pending) => {
            filter.push_str(&format!(" AND {} AND NOT {}", has("pending"), has("dead")))
        }
        Some(Status::Delivered) => filter.push_str(&format!(
            " AND {} AND NOT {} AND NOT {}",
            has("delivered"),
            has("pending"),
            has("dead")
        )),
        None => {}
    }
    let limit = if q.limit == 0 { -1 } else { q.limit as i64 };
    let since = q.since_ms.unwrap_or(i64::MIN);
    let sql = format!(
        "SELECT a.id, a.body, a.count, a.first_seen, a.last_seen, a.severity, a.created, a.updated FROM alerts a{filter} \
         ORDER BY a.last_seen DESC, a.id LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(since)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    let mut out: Vec<AlertRow> = Vec::with_capacity(rows.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        let id: String = r.try_get(0)?;
        let alert = alert_of(
            r.try_get::<&str, _>(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
            r.try_get(5)?,
        )?;
        index.insert(id, out.len());
        out.push(AlertRow {
            alert,
            status: None,
            deliveries: Vec::new(),
            created_ms: r.try_get(6)?,
            updated_ms: r.try_get(7)?,
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    let dsql = format!(
        "SELECT d.alert_id, d.sink, d.status, d.attempts, d.next_attempt, d.queued, d.delivered, d.delivered_count, d.last_error \
         FROM alert_deliveries d WHERE d.alert_id IN (SELECT a.id FROM alerts a{filter} ORDER BY a.last_seen DESC, a.id LIMIT ?) \
         ORDER BY d.alert_id, d.sink"
    );
    let drows = sqlx::query(&dsql)
        .bind(since)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    for r in &drows {
        let id: &str = r.try_get(0)?;
        let Some(&i) = index.get(id) else { continue };
        let status = Status::parse(r.try_get::<&str, _>(2)?).unwrap_or(Status::Pending);
        out[i].deliveries.push(DeliveryRow {
            sink: r.try_get(1)?,
            status,
            attempts: r.try_get::<i64, _>(3)?.max(0) as u64,
            next_attempt_ms: r.try_get(4)?,
            queued_ms: r.try_get(5)?,
            delivered_ms: r.try_get(6)?,
            delivered_count: r.try_get::<i64, _>(7)?.max(0) as u64,
            last_error: r.try_get(8)?,
        });
    }
    for a in &mut out {
        let any = |s: Status| a.deliveries.iter().any(|d| d.status == s);
        a.status = if any(Status::Dead) {
            Some(Status::Dead)
        } else if any(Status::Pending) {
            Some(Status::Pending)
        } else if any(Status::Delivered) {
            Some(Status::Delivered)
        } else {
            None
        };
    }
    Ok(out)
}

/// What [`retry`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The full id and the deliveries queued again.
    Queued {
        id: String,
        deliveries: u64,
    },
    NotFound,
    /// The prefix matches several alerts.
    Ambiguous(Vec<String>),
}

/// Queues the dead (and pending) deliveries of alert `id` (or of the one alert whose id
/// starts with it) for delivery now, with a fresh maximum age.
pub async fn retry(pool: &SqlitePool, id: &str) -> sqlx::Result<RetryOutcome> {
    let pattern = format!(
        "{}%",
        id.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM alerts WHERE id = ? OR id LIKE ? ESCAPE '\\' LIMIT 10")
            .bind(id)
            .bind(&pattern)
            .fetch_all(pool)
            .await?;
    let full = match ids.as_slice() {
        [] => return Ok(RetryOutcome::NotFound),
        [one] => one.clone(),
        many => match many.iter().find(|x| x.as_str() == id) {
            Some(exact) => exact.clone(),
            None => return Ok(RetryOutcome::Ambiguous(many.to_vec())),
        },
    };
    let now = now_ms();
    let n = sqlx::query(
        "UPDATE alert_deliveries SET status = 'pending', attempts = 0, next_attempt = ?, queued = ? \
         WHERE alert_id = ? AND status IN ('dead', 'pending')",
    )
    .bind(now)
    .bind(now)
    .bind(&full)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(RetryOutcome::Queued {
        id: full,
        deliveries: n,
    })
}

/// Opens a read-write pool on an existing database (the dispatcher and `alerts retry`
/// write delivery rows; the store's own pool is read-only).
pub async fn open_rw(path: &std::path::Path) -> sqlx::Result<SqlitePool> {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(30));
    SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(opts)
        .await
}
