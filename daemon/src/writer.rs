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
//!
//! A full disk (SQLITE_FULL) is not retried blindly: each failed attempt frees space, in
//! this order, until the batch fits: the reserve file beside the database is given up
//! (`store.reserve_bytes`), retention runs at once, then the oldest raw events are
//! deleted early (their aggregates stay; counted in `seccomp_watch_lost_records_total
//! {cause="disk_full"}` and the `losses` table). `seccomp_watch_db_disk_full` is 1 (and
//! `/readyz` not ready) from the first such failure until a write succeeds with the
//! reserve back in place.

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
    /// Disk space kept in reserve beside the database, given up when the disk is full
    /// (0: none).
    pub reserve_bytes: u64,
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
            reserve_bytes: 0,
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
            reserve_bytes: cfg.store.reserve_bytes,
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
    let mut space = Space::default();
    if cfg.reserve_bytes > 0 && !w.ensure_reserve(cfg.reserve_bytes) {
        tracing::warn!(
            "the disk has no room for a {} MiB reserve beside the database (twice that must be \
             free): a full disk will cost raw events sooner",
            cfg.reserve_bytes >> 20
        );
    }
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
        commit(&mut w, &cfg, pending, &mut stats, &mut space).await?;
    }
    if let Err(e) = w.close().await {
        tracing::warn!("closing the database writer: {e}");
    }
    Ok(stats)
}

/// The writer's state with respect to disk space.
#[derive(Debug, Default)]
struct Space {
    /// The disk is (nearly) full: set by SQLITE_FULL or by free space under the low-water
    /// mark, cleared once there is room again and the reserve is back.
    full: bool,
    /// Retention already ran in this episode.
    retained: bool,
    /// Raw events to delete at the next early deletion after SQLITE_FULL (doubles while
    /// writes keep failing).
    chunk: u64,
    /// Early deletions not logged yet (logged at most once a minute), and when last.
    unlogged: u64,
    logged: Option<Instant>,
}

/// Raw events deleted by one early deletion.
const EARLY_DELETE: u64 = 10_000;
const MAX_EARLY_DELETE: u64 = 1_000_000;
/// The disk counts as nearly full below `max(store.reserve_bytes, this)` free.
const MIN_LOW_WATER: u64 = 4 << 20;
/// Early deletions per commit at most while the disk is nearly full.
const MAX_DELETES_PER_COMMIT: usize = 8;

fn low_water(cfg: &WriterConfig) -> u64 {
    cfg.reserve_bytes.max(MIN_LOW_WATER)
}

impl Space {
    fn enter(&mut self, why: &str) {
        if !self.full {
            self.full = true;
            self.retained = false;
            self.chunk = EARLY_DELETE;
            metrics().db_disk_full.set(1);
            tracing::error!(
                "database disk full ({why}): freeing space (the reserve, retention, then the \
                 oldest raw events; aggregates are kept)"
            );
        }
    }

    fn leave(&mut self) {
        if self.full {
            self.full = false;
            self.flush_log();
            metrics().db_disk_full.set(0);
            tracing::warn!("disk space for the database is back (reserve in place)");
        }
    }

    /// Counts `n` raw events deleted early.
    fn deleted(&mut self, n: u64, stats: &mut WriterStats) {
        metrics().lost.with_label_values(&["disk_full"]).inc_by(n);
        stats.lost += n;
        self.unlogged += n;
        let due = match self.logged {
            Some(t) => t.elapsed() >= Duration::from_secs(60),
            None => true,
        };
        if due {
            self.flush_log();
        }
    }

    fn flush_log(&mut self) {
        if self.unlogged > 0 {
            tracing::warn!(
                "disk full: deleted the {} oldest raw events early (counted as lost, cause \
                 disk_full; their aggregates are kept)",
                self.unlogged
            );
            self.unlogged = 0;
            self.logged = Some(Instant::now());
        }
    }
}

async fn commit<W: StoreWriter>(
    w: &mut W,
    cfg: &WriterConfig,
    p: Pending,
    stats: &mut WriterStats,
    space: &mut Space,
) -> Result<(), StoreError> {
    let mut attempt = 0u32;
    loop {
        let t0 = Instant::now();
        match w.write(&p.batches).await {
            Ok(out) => {
                record(&p, &out, t0.elapsed(), stats);
                check_space(w, cfg, stats, space).await;
                return Ok(());
            }
            Err(e) => {
                attempt += 1;
                stats.retries += 1;
                if cfg.max_retries.is_some_and(|m| attempt > m) {
                    return Err(e);
                }
                if e.is_full() {
                    space.enter(&e.to_string());
                    if relieve(w, cfg, stats, space).await {
                        continue;
                    }
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

/// After SQLITE_FULL: gives the reserve up (the checkpoint and the deletes need room
/// too), runs retention once, deletes a chunk of the oldest raw events (a larger one each
/// time writes keep failing); true when anything was freed (retry at once).
async fn relieve<W: StoreWriter>(
    w: &mut W,
    cfg: &WriterConfig,
    stats: &mut WriterStats,
    space: &mut Space,
) -> bool {
    let mut freed = false;
    if w.release_reserve() {
        tracing::warn!(
            "disk full: gave up the {} MiB reserve beside the database",
            cfg.reserve_bytes >> 20
        );
        freed = true;
    }
    if cfg.retention_days > 0 && !space.retained {
        space.retained = true;
        freed |= retain(w, cfg, stats).await > 0;
    }
    match w.delete_oldest(space.chunk, "disk_full").await {
        Ok(0) => {}
        Ok(n) => {
            space.deleted(n, stats);
            space.chunk = (space.chunk * 2).min(MAX_EARLY_DELETE);
            freed = true;
        }
        Err(e) => tracing::error!("disk full: cannot delete old raw events: {e}"),
    }
    freed
}

/// After a commit: below the low-water mark of free space, keeps free pages inside the
/// database (the next inserts reuse them: the file need not grow) by retention, then
/// early deletion of the oldest raw events; with room again (twice the low-water mark) and
/// the reserve back, the episode ends.
async fn check_space<W: StoreWriter>(
    w: &mut W,
    cfg: &WriterConfig,
    stats: &mut WriterStats,
    space: &mut Space,
) {
    let Some(free) = w.disk_free() else { return };
    let low = low_water(cfg);
    if free >= low {
        if space.full && free >= low.saturating_mul(2) && w.ensure_reserve(cfg.reserve_bytes) {
            space.leave();
        }
        if space.full {
            space.chunk = EARLY_DELETE;
        }
        return;
    }
    space.enter(&format!("{} MiB free, under {} MiB", free >> 20, low >> 20));
    let headroom = (low / 4).max(1 << 20);
    for _ in 0..MAX_DELETES_PER_COMMIT {
        match w.free_pages_bytes().await {
            Ok(b) if b >= headroom => break,
            Ok(_) => {}
            Err(_) => break,
        }
        if cfg.retention_days > 0 && !space.retained {
            space.retained = true;
            if retain(w, cfg, stats).await > 0 {
                continue;
            }
        }
        match w.delete_oldest(EARLY_DELETE, "disk_full").await {
            Ok(0) => break,
            Ok(n) => space.deleted(n, stats),
            Err(e) => {
                tracing::error!("disk nearly full: cannot delete old raw events: {e}");
                break;
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

/// Deletes raw events older than the retention, in chunks (one transaction each);
/// returns how many.
async fn retain<W: StoreWriter>(w: &mut W, cfg: &WriterConfig, stats: &mut WriterStats) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let cutoff = now - i64::from(cfg.retention_days) * 86_400_000;
    let mut total = 0;
    loop {
        match w.delete_older_than(cutoff, RETENTION_CHUNK).await {
            Ok(0) => break,
            Ok(n) => {
                metrics().retention_deleted.inc_by(n);
                stats.retention_deleted += n;
                total += n;
            }
            Err(e) => {
                tracing::warn!("retention: {e}");
                break;
            }
        }
    }
    total
}
