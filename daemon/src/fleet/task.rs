//! The replicator task: ships the local database's new rows to PostgreSQL in log order,
//! one batch per PostgreSQL transaction, the cursor advanced only after PostgreSQL
//! committed. PostgreSQL away or failing: the node keeps collecting locally (the writer
//! never waits for this task), the task retries with exponential backoff (1 s doubling
//! to 30 s) and catches up in full batches.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::conn::PgTarget;
use super::local::Local;
use super::ship::Shipper;
use crate::config::Config;
use crate::metrics::metrics;

/// What the replicator needs from the configuration.
#[derive(Clone)]
pub struct Settings {
    pub target: PgTarget,
    pub node: String,
    pub db: PathBuf,
    pub retention_days: u32,
    pub batch_size: usize,
    pub interval: Duration,
    /// Stop once everything is shipped (`fleet push`), or fail after this many failed
    /// attempts in a row; None: run until cancelled (the daemon).
    pub once: Option<u32>,
}

impl Settings {
    /// The replicator's settings, or None when `[fleet] postgres` is not set.
    pub fn from_config(cfg: &Config) -> Option<Settings> {
        let target = PgTarget::from_config(&cfg.fleet)?;
        Some(Settings {
            target,
            node: node_name(cfg),
            db: cfg.db.clone(),
            retention_days: cfg.fleet.retention_days,
            batch_size: cfg.fleet.batch_size.max(1),
            interval: Duration::from_millis(cfg.fleet.interval_ms.max(1)),
            once: None,
        })
    }

    /// Identifies the fleet database and node name the local cursors are for (the URL
    /// without password and parameters).
    pub fn target_id(&self) -> String {
        let url = self.target.redacted();
        let base = url.split('?').next().unwrap_or(&url);
        format!("{base} node={}", self.node)
    }
}

/// This node's name in the fleet: `[fleet] node`, else `node`, else the host name.
pub fn node_name(cfg: &Config) -> String {
    cfg.fleet
        .node
        .clone()
        .or_else(|| cfg.node.clone())
        .unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "localhost".to_string())
        })
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Sleeps `d` or until cancelled; false when cancelled.
async fn pause(d: Duration, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = cancel.cancelled() => false,
    }
}

/// Runs the replicator until `cancel`.
pub async fn run(s: Settings, cancel: CancellationToken) -> anyhow::Result<()> {
    let m = &metrics().fleet;
    m.up.set(0);
    let opts = s.target.options()?;
    // The local side: the write log must be on before anything is shipped.
    let mut local = loop {
        match open_local(&s).await {
            Ok(l) => break l,
            Err(e) => {
                tracing::error!("fleet: the local database {}: {e}", s.db.display());
                if !pause(Duration::from_secs(5), &cancel).await {
                    return Ok(());
                }
            }
        }
    };
    tracing::info!(
        "fleet: replicating into {} as node {}",
        s.target.redacted(),
        parsers::escape::escape(&s.node)
    );
    let mut backoff = Duration::from_secs(1);
    let mut shipper: Option<Shipper> = None;
    let mut next_retention = Instant::now();
    let mut failing_since: Option<Instant> = None;
    let mut failures = 0u32;
    // The lag, every second, whatever the replicator is waiting for.
    let lag_task = {
        let (db, cancel) = (s.db.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut conn = None;
            loop {
                if conn.is_none() {
                    conn = super::local::open_read_only(&db).await.ok();
                }
                if let Some(c) = conn.as_mut() {
                    match super::local::lag(c).await {
                        Ok(lag) => {
                            m.lag_events.set(lag.events as i64);
                            m.lag_seconds.set(lag.seconds);
                        }
                        Err(e) => {
                            tracing::debug!("fleet: measuring the lag: {e}");
                            conn = None;
                        }
                    }
                }
                if !pause(Duration::from_secs(1), &cancel).await {
                    break;
                }
            }
        })
    };
    while !cancel.is_cancelled() {
        if s.once.is_some_and(|max| failures > max) {
            anyhow::bail!(
                "fleet: {} failed {failures} times in a row",
                s.target.redacted()
            );
        }
        let sh = match shipper.as_mut() {
            Some(sh) => sh,
            None => match Shipper::connect(&opts, &s.node, s.retention_days).await {
                Ok(sh) => {
                    if failing_since.take().is_some() {
                        tracing::warn!("fleet: {} is back", s.target.redacted());
                    }
                    m.up.set(1);
                    backoff = Duration::from_secs(1);
                    shipper.insert(sh)
                }
                Err(e) => {
                    m.up.set(0);
                    m.errors.inc();
                    failures += 1;
                    fail(
                        &s,
                        &mut failing_since,
                        &format!("cannot connect: {e:#}"),
                        backoff,
                    );
                    if !pause(backoff, &cancel).await {
                        break;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        if s.retention_days > 0 && Instant::now() >= next_retention {
            match sh.retain(s.retention_days).await {
                Ok(n) if n > 0 => {
                    tracing::info!("fleet: retention dropped {n} day partition(s)")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("fleet: retention: {e}"),
            }
            next_retention = Instant::now() + RETENTION_EVERY;
        }
        let batch = match local.read_batch(s.batch_size).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("fleet: reading the local database: {e}");
                if !pause(Duration::from_secs(1), &cancel).await {
                    break;
                }
                continue;
            }
        };
        if batch.is_idle() {
            if s.once.is_some() {
                break;
            }
            if !pause(s.interval, &cancel).await {
                break;
            }
            continue;
        }
        match sh.ship(&batch).await {
            Ok(shipped) => {
                failures = 0;
                m.replicated.inc_by(shipped.inserted);
                m.duplicates.inc_by(shipped.duplicates);
                if batch.missing > 0 {
                    m.lost.inc_by(batch.missing);
                    tracing::warn!(
                        "fleet: {} event(s) were deleted locally before they were shipped (a full \
                         disk; counted in seccomp_watch_fleet_lost_events_total)",
                        batch.missing
                    );
                }
                // PostgreSQL committed: now the cursor. If this fails, the batch is sent
                // again and PostgreSQL keeps it once.
                let mut tries = 0;
                while let Err(e) = local.commit(&batch).await {
                    tries += 1;
                    tracing::error!("fleet: advancing the local cursor (attempt {tries}): {e}");
                    if tries >= 5 || !pause(Duration::from_secs(1), &cancel).await {
                        break;
                    }
                }
                m.up.set(1);
                let full = batch.events.len() + batch.missing as usize >= s.batch_size;
                if !full && s.once.is_none() && !pause(s.interval, &cancel).await {
                    break;
                }
            }
            Err(e) => {
                m.up.set(0);
                m.errors.inc();
                failures += 1;
                fail(
                    &s,
                    &mut failing_since,
                    &format!("shipping a batch: {e}"),
                    backoff,
                );
                if let Some(old) = shipper.take() {
                    // A broken connection closes quickly; do not wait long for it.
                    let _ = tokio::time::timeout(Duration::from_secs(2), old.close()).await;
                }
                if !pause(backoff, &cancel).await {
                    break;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    if let Some(sh) = shipper {
        let _ = tokio::time::timeout(Duration::from_secs(2), sh.close()).await;
    }
    local.close().await;
    lag_task.abort();
    m.up.set(0);
    Ok(())
}

async fn open_local(s: &Settings) -> Result<Local, sqlx::Error> {
    let mut l = Local::open(&s.db).await?;
    let n = l.enable(&s.target_id()).await?;
    if n > 0 {
        tracing::info!("fleet: {n} stored event(s) queued for their first replication");
    }
    Ok(l)
}

/// Logs a failure: at once the first time, then at most once a minute (the error and how
/// long PostgreSQL has been away).
fn fail(s: &Settings, since: &mut Option<Instant>, what: &str, retry: Duration) {
    let what = super::conn::scrub_text(what, &s.target.url);
    match since {
        None => {
            *since = Some(Instant::now());
            tracing::error!(
                "fleet: {}: {what}; collecting locally, retrying in {retry:?}",
                s.target.redacted()
            );
        }
        Some(t) => {
            let secs = t.elapsed().as_secs();
            if retry >= MAX_BACKOFF || secs % 60 < retry.as_secs().max(1) {
                tracing::warn!(
                    "fleet: {} unreachable for {secs} s: {what}; retrying in {retry:?}",
                    s.target.redacted()
                );
            }
        }
    }
}
