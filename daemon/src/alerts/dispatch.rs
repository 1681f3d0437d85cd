//! The dispatcher: delivers the outbox (`alert_deliveries`) to the sinks, at least once.
//!
//! Each tick: pending deliveries older than the maximum age become `dead`; due deliveries
//! are loaded (oldest first) and sent, sinks in parallel, each sink's in order; a success
//! marks the row delivered with the count it carried (or pending again, for the window's
//! end, when the count grew meanwhile); a failure retries after an exponential backoff with
//! full jitter (base * 2^attempts, capped, times a random factor in [0.5, 1.5)) and pauses
//! that sink until then. State lives only in the database, so a restarted daemon (or a
//! re-created dispatcher) picks up exactly where the last one stopped: an attempt cut off
//! mid-way is simply made again (receivers dedupe by alert id).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::{Row, SqlitePool};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::db::alert_of;
use super::now_ms;
use super::sinks::Sink;
use crate::config::AlertsConfig;
use crate::metrics::metrics;

/// The outcomes of `deliveries_total`: delivered, failed and retried later, given up.
pub const OUTCOMES: [&str; 3] = ["ok", "retry", "dead"];

/// Dispatcher settings.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    /// Time between ticks.
    pub poll: Duration,
    /// First retry delay.
    pub base_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// A delivery still failing this long after it was queued is dead.
    pub max_age: Duration,
    /// Deliveries loaded per tick at most.
    pub batch: usize,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        DispatchOptions {
            poll: Duration::from_millis(500),
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_age: Duration::from_secs(24 * 3600),
            batch: 500,
        }
    }
}

impl DispatchOptions {
    pub fn from_config(cfg: &AlertsConfig) -> DispatchOptions {
        DispatchOptions {
            max_age: Duration::from_secs(cfg.max_age_hours.max(1).saturating_mul(3600)),
            ..DispatchOptions::default()
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    pub delivered: u64,
    pub failed: u64,
    /// Deliveries that reached the maximum age in this tick.
    pub dead: u64,
    /// Deliveries still pending after the tick.
    pub pending: u64,
}

struct Due {
    alert_id: String,
    sink: String,
    attempts: i64,
    count: i64,
    window_end: i64,
    body: String,
    first: i64,
    last: i64,
    severity: i64,
}

enum Outcome {
    Delivered { sent: i64 },
    Failed { error: String },
    Skipped,
}

/// The delivery task's state.
pub struct Dispatcher {
    pool: SqlitePool,
    sinks: HashMap<String, Arc<Sink>>,
    opts: DispatchOptions,
    /// Sinks paused after a failure, until (ms).
    paused: HashMap<String, i64>,
}

impl Dispatcher {
    /// A dispatcher on `pool` (it must be writable).
    pub fn new(pool: SqlitePool, sinks: Vec<Arc<Sink>>, opts: DispatchOptions) -> Dispatcher {
        Dispatcher {
            pool,
            sinks: sinks.into_iter().map(|s| (s.name.clone(), s)).collect(),
            opts,
            paused: HashMap::new(),
        }
    }

    /// A dispatcher on the database at `db` (opened read-write, with its own connections).
    pub async fn open(
        db: &Path,
        sinks: Vec<Arc<Sink>>,
        opts: DispatchOptions,
    ) -> anyhow::Result<Dispatcher> {
        let pool = super::db::open_rw(db)
            .await
            .with_context(|| format!("cannot open {} for the alert outbox", db.display()))?;
        Ok(Dispatcher::new(pool, sinks, opts))
    }

    /// The retry delay after `attempts` failed attempts (with jitter).
    fn backoff_ms(&self, attempts: i64) -> i64 {
        let base = self.opts.base_backoff.as_millis() as f64;
        let cap = self.opts.max_backoff.as_millis() as f64;
        let exp = base * 2f64.powi(attempts.clamp(0, 30) as i32);
        (exp.min(cap) * (0.5 + fastrand::f64())) as i64
    }

    /// One pass over the outbox.
    pub async fn tick(&mut self) -> anyhow::Result<TickReport> {
        let now = now_ms();
        let mut report = TickReport::default();
        let m = metrics();

        // Deliveries past the maximum age are dead.
        let cutoff = now - self.opts.max_age.as_millis() as i64;
        let dead: Vec<(String, String)> = sqlx::query_as(
            "UPDATE alert_deliveries SET status = 'dead', \
             last_error = coalesce(last_error || '; ', '') || 'maximum age reached' \
             WHERE status = 'pending' AND queued < ? RETURNING alert_id, sink",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        for (id, sink) in &dead {
            tracing::warn!(alert = %id, sink = %sink, "alert delivery dead: maximum age reached (`seccomp-watch alerts retry {id}` queues it again)");
            m.deliveries
                .with_label_values(&[sink.as_str(), "dead"])
                .inc();
        }
        report.dead = dead.len() as u64;

        let rows = sqlx::query(
            "SELECT d.alert_id, d.sink, d.attempts, a.count, a.window_end, a.body, a.first_seen, a.last_seen, a.severity \
             FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id \
             WHERE d.status = 'pending' AND d.next_attempt <= ? ORDER BY d.next_attempt, d.alert_id LIMIT ?",
        )
        .bind(now)
        .bind(self.opts.batch as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut by_sink: HashMap<String, Vec<Due>> = HashMap::new();
        for r in &rows {
            let d = Due {
                alert_id: r.try_get(0)?,
                sink: r.try_get(1)?,
                attempts: r.try_get(2)?,
                count: r.try_get(3)?,
                window_end: r.try_get(4)?,
                body: r.try_get(5)?,
                first: r.try_get(6)?,
                last: r.try_get(7)?,
                severity: r.try_get(8)?,
            };
            if self.paused.get(&d.sink).is_some_and(|&until| until > now)
                || !self.sinks.contains_key(&d.sink)
            {
                continue;
            }
            by_sink.entry(d.sink.clone()).or_default().push(d);
        }

        // Sinks in parallel; each sink's deliveries in order, stopping at its first failure.
        let mut set: JoinSet<Vec<(Due, Outcome)>> = JoinSet::new();
        for (name, dues) in by_sink {
            let Some(sink) = self.sinks.get(&name).cloned() else {
                continue;
            };
            set.spawn(async move {
                let mut out = Vec::with_capacity(dues.len());
                let mut failed = false;
                for d in dues {
                    if failed {
                        out.push((d, Outcome::Skipped));
                        continue;
                    }
                    let outcome = match alert_of(&d.body, d.count, d.first, d.last, d.severity) {
                        Ok(alert) => {
                            let payload = alert.payload(d.window_end <= now_ms());
                            match sink.deliver(&alert, &payload).await {
                                Ok(()) => Outcome::Delivered { sent: d.count },
                                Err(e) => Outcome::Failed { error: e.0 },
                            }
                        }
                        Err(e) => Outcome::Failed {
                            error: format!("stored alert unreadable: {e}"),
                        },
                    };
                    failed = matches!(outcome, Outcome::Failed { .. });
                    out.push((d, outcome));
                }
                out
            });
        }
        let mut results = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(v) => results.extend(v),
                Err(e) => tracing::error!("alert delivery task failed: {e}"),
            }
        }
        let now = now_ms();
        for (d, outcome) in results {
            match outcome {
                Outcome::Delivered { sent } => {
                    sqlx::query(
                        "UPDATE alert_deliveries SET attempts = attempts + 1, delivered = ?, delivered_count = ?, \
                         last_error = NULL, queued = ?, \
                         status = CASE WHEN (SELECT count FROM alerts WHERE id = ?) > ? THEN 'pending' ELSE 'delivered' END, \
                         next_attempt = max(?, (SELECT window_end FROM alerts WHERE id = ?)) \
                         WHERE alert_id = ? AND sink = ?",
                    )
                    .bind(now)
                    .bind(sent)
                    .bind(now)
                    .bind(&d.alert_id)
                    .bind(sent)
                    .bind(now)
                    .bind(&d.alert_id)
                    .bind(&d.alert_id)
                    .bind(&d.sink)
                    .execute(&self.pool)
                    .await?;
                    self.paused.remove(&d.sink);
                    m.deliveries
                        .with_label_values(&[d.sink.as_str(), "ok"])
                        .inc();
                    report.delivered += 1;
                }
                Outcome::Failed { error } => {
                    let delay = self.backoff_ms(d.attempts);
                    sqlx::query(
                        "UPDATE alert_deliveries SET attempts = attempts + 1, next_attempt = ?, last_error = ? \
                         WHERE alert_id = ? AND sink = ? AND status = 'pending'",
                    )
                    .bind(now + delay)
                    .bind(&error)
                    .bind(&d.alert_id)
                    .bind(&d.sink)
                    .execute(&self.pool)
                    .await?;
                    self.paused.insert(d.sink.clone(), now + delay);
                    tracing::warn!(alert = %d.alert_id, sink = %d.sink, attempts = d.attempts + 1, retry_in_ms = delay, "alert delivery failed: {error}");
                    m.deliveries
                        .with_label_values(&[d.sink.as_str(), "retry"])
                        .inc();
                    report.failed += 1;
                }
                Outcome::Skipped => {}
            }
        }

        let (pending, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT count(*), min(queued) FROM alert_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        m.outbox_depth.set(pending);
        m.outbox_oldest_age_seconds
            .set(oldest.map_or(0.0, |q| (now - q).max(0) as f64 / 1000.0));
        report.pending = pending.max(0) as u64;
        Ok(report)
    }

    /// Ticks until `cancel`; errors are logged and retried on the next tick.
    pub async fn run(mut self, cancel: CancellationToken) -> anyhow::Result<()> {
        loop {
            if let Err(e) = self.tick().await {
                tracing::error!("alert dispatcher: {e:#}");
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(self.opts.poll) => {}
            }
        }
        self.pool.close().await;
        Ok(())
    }

    /// The pool (tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}
