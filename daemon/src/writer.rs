//! The one writer task: receives [`StoreBatch`]es from a bounded channel, coalesces them
//! (up to `store.batch_size` events or `store.flush_ms` after the first), commits each
//! group in ONE transaction, updates the metrics, and runs retention.
//!
//! How a source uses it:
//! ```text
//! let (tx, handle) = writer::spawn(&store, WriterConfig::from_config(&cfg)).await?;
//! let start = store.checkpoint("audit-log:/var/log/audit/audit.log").await?; // resume here
//! tx.send(store_batch).await?;      // waits when the writer is behind (backpressure)
//! drop(tx);                          // every sender dropped: flush, commit, return
//! let stats = handle.await??;
//! ```
//! A batch's checkpoint is committed in the same transaction as its events, so after a
//! crash the checkpoint and the events agree: resume from the checkpoint and nothing is
//! lost or stored twice (duplicates are skipped by key anyway).

use std::time::{Duration, Instant};

use foldhash::HashMap;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::metrics::metrics;
use crate::pipeline::StoreBatch;
use crate::store::{Store, StoreError, StoreWriter, WriteOutcome};

/// How the writer batches, retries and expires.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Events per transaction (a transaction may exceed it by one incoming batch).
    pub batch_size: usize,
    /// Longest wait between the first pending batch and its commit.
    pub flush: Duration,
    /// Capacity of the channel, in batches.
    pub queue_batches: usize,
    /// Raw events older than this many days are deleted (0: never).
    pub retention_days: u32,
    /// How often retention runs.
    pub retention_every: Duration,
    /// Failed transactions are retried (with backoff) this many times before the writer
    /// gives up and returns the error; `None` retries forever (the daemon: the sources
    /// wait, nothing is dropped).
    pub max_retries: Option<u32>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_size: 10_000,
            flush: Duration::from_millis(200),
            queue_batches: 64,
            retention_days: 30,
            retention_every: Duration::from_secs(3600),
            max_retries: None,
        }
    }
}

impl WriterConfig {
    /// The daemon's writer settings from its configuration.
    pub fn from_config(cfg: &Config) -> WriterConfig {
        WriterConfig {
            batch_size: cfg.store.batch_size.max(1),
            flush: Duration::from_millis(cfg.store.flush_ms),
            queue_batches: cfg.store.queue_batches.max(1),
            retention_days: cfg.retention_days,
            ..WriterConfig::default()
        }
    }
}

/// What the writer did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub stored: u64,
    pub duplicates: u64,
    pub transactions: u64,
    pub parse_errors: u64,
    pub lost: u64,
    pub retention_deleted: u64,
    pub retries: u64,
}

/// The writer's join handle: its stats, or the error it stopped on.
pub type WriterHandle = JoinHandle<Result<WriterStats, StoreError>>;

/// Opens the store's writer and starts the writer task. Send batches on the returned
/// sender; drop every clone of it to make the writer flush and stop.
pub async fn spawn<S: Store>(
    store: &S,
    cfg: WriterConfig,
) -> Result<(mpsc::Sender<StoreBatch>, WriterHandle), StoreError> {
    let w = store.open_writer().await?;
    let (tx, rx) = mpsc::channel(cfg.queue_batches.max(1));
    Ok((tx, tokio::spawn(run(w, rx, cfg))))
}

/// Batches waiting for the next commit.
#[derive(Default)]
struct Pending {
    batches: Vec<StoreBatch>,
    events: usize,
}

impl Pending {
    fn push(&mut self, b: StoreBatch) {
        self.events += b.items.len();
        self.batches.push(b);
    }
}

const RETENTION_CHUNK: u64 = 50_000;

/// The writer loop (public for tests and tools that drive a writer directly).
pub async fn run<W: StoreWriter>(
    mut w: W,
    mut rx: mpsc::Receiver<StoreBatch>,
    cfg: WriterConfig,
) -> Result<WriterStats, StoreError> {
    let mut stats = WriterStats::default();
    let retention = cfg.retention_days > 0;
    let mut next_retention = tokio::time::Instant::now();
    let mut closed = false;
    while !closed {
        let mut pending = Pending::default();
        // Wait for the first batch (running retention when it is due and all is quiet).
        let first = if retention {
            tokio::select! {
                b = rx.recv() => b,
                _ = tokio::time::sleep_until(next_retention) => {
                    retain(&mut w, &cfg, &mut stats).await;
                    next_retention = tokio::time::Instant::now() + cfg.retention_every;
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = first else { break };
        pending.push(first);
        let deadline = tokio::time::Instant::now() + cfg.flush;
        while pending.events < cfg.batch_size {
            // Take what is already queued without waiting, then wait until the deadline.
            match rx.try_recv() {
                Ok(b) => {
                    pending.push(b);
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(b)) => pending.push(b),
                Ok(None) => {
                    closed = true;
                    break;
                }
                Err(_) => break,
            }
        }
        commit(&mut w, &cfg, pending, &mut stats).await?;
    }
    if let Err(e) = w.close().await {
        tracing::warn!("closing the database writer: {e}");
    }
    Ok(stats)
}

async fn commit<W: StoreWriter>(
    w: &mut W,
    cfg: &WriterConfig,
    p: Pending,
    stats: &mut WriterStats,
) -> Result<(), StoreError> {
    let mut attempt = 0u32;
    loop {
        let t0 = Instant::now();
        match w.write(&p.batches).await {
            Ok(out) => {
                record(&p, &out, t0.elapsed(), stats);
                return Ok(());
            }
            Err(e) => {
                attempt += 1;
                stats.retries += 1;
                if cfg.max_retries.is_some_and(|m| attempt > m) {
                    return Err(e);
                }
                let wait = Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6)));
                tracing::error!(
                    "database write failed (attempt {attempt}, retrying in {wait:?}): {e}"
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Metrics and stats of a committed write.
fn record(p: &Pending, out: &WriteOutcome, took: Duration, stats: &mut WriterStats) {
    let m = metrics();
    m.db_write_seconds.observe(took.as_secs_f64());
    m.db_batch_events.observe(p.events as f64);
    m.duplicates.inc_by(out.duplicates);
    stats.transactions += 1;
    stats.stored += out.stored;
    stats.duplicates += out.duplicates;
    // Every label value is bounded (see crate::metrics): names from fixed tables, the
    // workload from its budget.
    let mut by_label: HashMap<(&'static str, &'static str, &'static str), u64> = HashMap::default();
    let mut by_workload: HashMap<(String, &'static str, &'static str), u64> = HashMap::default();
    for &((b, i), n) in &out.groups {
        let Some(it) = p.batches.get(b).and_then(|b| b.items.get(i)) else {
            continue;
        };
        let e = &it.event;
        let action = crate::metrics::action_label(e.action());
        *by_label
            .entry((it.source.as_str(), action, crate::metrics::arch_label(e)))
            .or_default() += n;
        let (wl, syscall) = m.workload_series(
            &it.attribution.workload,
            crate::metrics::syscall_label(e),
            action,
        );
        *by_workload.entry((wl, syscall, action)).or_default() += n;
    }
    for ((s, a, arch), n) in by_label {
        m.events.with_label_values(&[s, a, arch]).inc_by(n);
    }
    for ((w, s, a), n) in by_workload {
        m.workload_events.with_label_values(&[&w, s, a]).inc_by(n);
    }
    for b in &p.batches {
        for (cause, n) in &b.losses {
            m.lost.with_label_values(&[cause.as_str()]).inc_by(*n);
            stats.lost += n;
        }
        if b.parse_errors > 0 {
            let src = b.source.map_or("unknown", |s| s.as_str());
            m.parse_errors
                .with_label_values(&[src])
                .inc_by(b.parse_errors);
            stats.parse_errors += b.parse_errors;
        }
    }
}

/// Deletes raw events older than the retention, in chunks (one transaction each).
async fn retain<W: StoreWriter>(w: &mut W, cfg: &WriterConfig, stats: &mut WriterStats) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let cutoff = now - i64::from(cfg.retention_days) * 86_400_000;
    loop {
        match w.delete_older_than(cutoff, RETENTION_CHUNK).await {
            Ok(0) => break,
            Ok(n) => {
                metrics().retention_deleted.inc_by(n);
                stats.retention_deleted += n;
            }
            Err(e) => {
                tracing::warn!("retention: {e}");
                break;
            }
        }
    }
}
