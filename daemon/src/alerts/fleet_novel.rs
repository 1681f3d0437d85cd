//! Fleet-level `novel`: a call is new for a workload only when no node of the fleet saw it
//! (the rule stage still runs on the node: fast, and working offline).
//!
//! The fleet database's aggregates say, per workload, which (arch, syscall) any node saw
//! and when the workload was first seen anywhere. [`FleetNovelty`] brings that to the
//! rule stage on the enrich thread:
//! - a workload the engine does not know yet is looked up before its first event is
//!   evaluated (the stage waits at most [`LOOKUP_BUDGET`] per batch);
//! - every [`REFRESH`], the workloads the engine knows are refreshed (what other nodes
//!   reported since);
//! - when PostgreSQL cannot be reached (or a lookup does not answer in time) the stage
//!   goes on with its node-local state, and lookups are not retried for [`DOWN_FOR`]: the
//!   fallback is node-local `novel`, never a stalled pipeline.
//!
//! A call two nodes see within the same refresh can still alert on both: the alerts have
//! the same id (ids hold no node, `rules::engine::alert_id`), so a SOC that upserts by id
//! gets one ticket.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rules::engine::Engine;
use sqlx::postgres::PgPool;
use sqlx::Row as _;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long the stage waits for the lookups of one batch's new workloads.
pub const LOOKUP_BUDGET: Duration = Duration::from_secs(2);
/// How often the known workloads are refreshed.
pub const REFRESH: Duration = Duration::from_secs(30);
/// How long lookups are skipped after PostgreSQL failed.
pub const DOWN_FOR: Duration = Duration::from_secs(30);
/// Workloads per query at most.
const CHUNK: usize = 500;

/// What the fleet knows of one workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSeen {
    pub workload: String,
    pub first_seen_ms: i64,
    /// (audit arch, syscall number).
    pub seen: Vec<(u32, i64)>,
}

type Reply = std_mpsc::SyncSender<Option<Vec<FleetSeen>>>;

/// The stage's side: lookups and refreshed state from the task.
pub struct FleetNovelty {
    requests: mpsc::Sender<(Vec<String>, Reply)>,
    refreshed: Mutex<Vec<FleetSeen>>,
    /// Wall-clock ms until which lookups are skipped (PostgreSQL down).
    down_until_ms: AtomicI64,
    /// The workloads the engine knows (refreshed by the task).
    known: Mutex<BTreeSet<String>>,
}

fn now_ms() -> i64 {
    super::now_ms()
}

impl FleetNovelty {
    /// The handle and the task's receiving end.
    pub fn new() -> (Arc<FleetNovelty>, mpsc::Receiver<(Vec<String>, Reply)>) {
        let (tx, rx) = mpsc::channel(16);
        (
            Arc::new(FleetNovelty {
                requests: tx,
                refreshed: Mutex::new(Vec::new()),
                down_until_ms: AtomicI64::new(0),
                known: Mutex::new(BTreeSet::new()),
            }),
            rx,
        )
    }

    /// Before a batch is evaluated: what the refresh brought, then a lookup of the
    /// workloads in `workloads` the engine does not know (at most [`LOOKUP_BUDGET`];
    /// nothing when PostgreSQL is down).
    pub fn prepare<'a>(&self, engine: &mut Engine, workloads: impl Iterator<Item = &'a str>) {
        let refreshed = self
            .refreshed
            .lock()
            .map(|mut g| std::mem::take(&mut *g))
            .unwrap_or_default();
        for f in &refreshed {
            engine.learn_fleet(&f.workload, f.first_seen_ms, &f.seen);
        }
        let mut new: BTreeSet<String> = BTreeSet::new();
        for w in workloads {
            if !engine.knows_workload(w) {
                new.insert(w.to_string());
            }
        }
        if new.is_empty() {
            return;
        }
        if let Ok(mut k) = self.known.lock() {
            k.extend(new.iter().cloned());
        }
        if now_ms() < self.down_until_ms.load(Ordering::Relaxed) {
            return;
        }
        let (tx, rx) = std_mpsc::sync_channel(1);
        let asked: Vec<String> = new.into_iter().collect();
        if self.requests.try_send((asked, tx)).is_err() {
            return;
        }
        match rx.recv_timeout(LOOKUP_BUDGET) {
            Ok(Some(found)) => {
                for f in &found {
                    engine.learn_fleet(&f.workload, f.first_seen_ms, &f.seen);
                }
            }
            Ok(None) | Err(_) => {
                self.mark_down();
                tracing::warn!(
                    "fleet novelty: the fleet database did not answer; `novel` is node-local for {}s",
                    DOWN_FOR.as_secs()
                );
            }
        }
    }

    fn mark_down(&self) {
        self.down_until_ms.store(
            now_ms().saturating_add(DOWN_FOR.as_millis() as i64),
            Ordering::Relaxed,
        );
    }

    /// Adds workloads the engine knows from its own state (at start).
    pub fn know<'a>(&self, workloads: impl Iterator<Item = &'a str>) {
        if let Ok(mut k) = self.known.lock() {
            k.extend(workloads.map(str::to_string));
        }
    }
}

/// The lookup task of a daemon with `[fleet] postgres`.
pub struct Task {
    handle: Arc<FleetNovelty>,
    requests: mpsc::Receiver<(Vec<String>, Reply)>,
    target: crate::fleet::conn::PgTarget,
}

impl Task {
    /// The stage's handle and the task, for the fleet database `target`.
    pub fn new(target: crate::fleet::conn::PgTarget) -> (Arc<FleetNovelty>, Task) {
        let (handle, requests) = FleetNovelty::new();
        (
            handle.clone(),
            Task {
                handle,
                requests,
                target,
            },
        )
    }

    /// Runs until `cancel`.
    pub async fn run(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let target = self.target;
        run(self.handle, self.requests, || target.pool(2), cancel).await;
        Ok(())
    }
}

/// What the fleet's aggregates say of `workloads`.
pub async fn lookup(pool: &PgPool, workloads: &[String]) -> sqlx::Result<Vec<FleetSeen>> {
    let mut out: BTreeMap<String, FleetSeen> = BTreeMap::new();
    for chunk in workloads.chunks(CHUNK) {
        let rows = sqlx::query(
            "SELECT workload, arch, syscall_nr, min(first_seen) FROM aggregates \
             WHERE workload = ANY($1) GROUP BY workload, arch, syscall_nr",
        )
        .bind(chunk)
        .fetch_all(pool)
        .await?;
        for r in rows {
            let w: String = r.try_get(0)?;
            let arch: i64 = r.try_get(1)?;
            let nr: i64 = r.try_get(2)?;
            let first: i64 = r.try_get(3)?;
            let f = out.entry(w.clone()).or_insert_with(|| FleetSeen {
                workload: w,
                first_seen_ms: first,
                seen: Vec::new(),
            });
            f.first_seen_ms = f.first_seen_ms.min(first);
            f.seen.push((arch as u32, nr));
        }
    }
    Ok(out.into_values().collect())
}

/// The task: answers the stage's lookups and refreshes the known workloads every
/// [`REFRESH`], until `cancel`. `connect` makes the pool (retried after a failure).
pub async fn run<F, Fut>(
    handle: Arc<FleetNovelty>,
    mut requests: mpsc::Receiver<(Vec<String>, Reply)>,
    connect: F,
    cancel: CancellationToken,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<PgPool>>,
{
    let mut pool: Option<PgPool> = None;
    let mut last_refresh = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let req = tokio::select! {
            _ = cancel.cancelled() => break,
            r = requests.recv() => match r {
                Some(r) => Some(r),
                None => break,
            },
            _ = tick.tick() => None,
        };
        let refresh_due = last_refresh.elapsed() >= REFRESH;
        if req.is_none() && !refresh_due {
            continue;
        }
        if pool.is_none() && now_ms() >= handle.down_until_ms.load(Ordering::Relaxed) {
            match tokio::time::timeout(LOOKUP_BUDGET, connect()).await {
                Ok(Ok(p)) => pool = Some(p),
                Ok(Err(e)) => {
                    tracing::warn!("fleet novelty: {e:#}; `novel` is node-local meanwhile");
                    handle.mark_down();
                }
                Err(_) => {
                    tracing::warn!(
                        "fleet novelty: connecting timed out; `novel` is node-local meanwhile"
                    );
                    handle.mark_down();
                }
            }
        }
        if let Some((asked, reply)) = req {
            let answer = match &pool {
                Some(p) => match lookup(p, &asked).await {
                    Ok(found) => Some(found),
                    Err(e) => {
                        tracing::warn!("fleet novelty: lookup failed: {e}");
                        pool = None;
                        None
                    }
                },
                None => None,
            };
            let _ = reply.try_send(answer);
        }
        if refresh_due {
            last_refresh = Instant::now();
            let Some(p) = &pool else { continue };
            let known: Vec<String> = handle
                .known
                .lock()
                .map(|k| k.iter().cloned().collect())
                .unwrap_or_default();
            if known.is_empty() {
                continue;
            }
            match lookup(p, &known).await {
                Ok(found) => {
                    if let Ok(mut g) = handle.refreshed.lock() {
                        *g = found;
                    }
                }
                Err(e) => {
                    tracing::warn!("fleet novelty: refresh failed: {e}");
                    pool = None;
                    handle.mark_down();
                }
            }
        }
    }
}
