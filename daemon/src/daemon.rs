//! The daemon that `seccomp-watch run` runs: sources -> enrich (attribution, rules) -> one
//! store writer, until SIGTERM/SIGINT; then the sources stop, everything read is flushed
//! and checkpointed, and the process exits 0.
//!
//! [`run`] takes its shutdown signal as a future (the mini-redis style) so that tests run
//! the daemon in-process. Tasks are easy to add: everything long-running is either a
//! source thread (stopped through the shared [`CancellationToken`]) or a task in
//! [`Tasks`] that watches the same token.
//!
//! Shutdown order: cancel -> every source sends what it has read (the tailer with its
//! checkpoint) and ends -> the last sender of the source channel is dropped, so the enrich
//! thread drains it and ends -> the writer's channel closes, it commits its last batch
//! and ends -> `run` returns.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::{Checkpoint, Enricher, Item, SourceBatch, SourceKind, StoreBatch};
use crate::sources::{self, HostAccess, SourceCtx, SourceHandle};
use crate::store::{SqliteStore, Store};
use crate::writer::{self, WriterConfig};

/// Capacity of the channel from the sources to the enrich thread, in batches (a batch
/// holds at most 4096 events).
const SOURCE_QUEUE_BATCHES: usize = 8;

/// The enricher used until attribution is configured: every event unattributed (its
/// workload is its executable).
#[derive(Debug, Default)]
pub struct Unattributed;

impl Enricher for Unattributed {
    fn enrich(&mut self, b: SourceBatch) -> StoreBatch {
        let source = b.source.unwrap_or(SourceKind::Ingest);
        StoreBatch {
            items: b
                .events
                .into_iter()
                .map(|event| {
                    let attribution = parsers::Attribution::unattributed(event.exe.as_deref());
                    Item {
                        event,
                        source,
                        attribution,
                    }
                })
                .collect(),
            checkpoint: b.checkpoint,
            losses: b.losses,
            parse_errors: b.parse_errors,
            source: b.source,
            ..Default::default()
        }
    }
}

/// Long-running async tasks of the daemon, all stopped by one token.
pub struct Tasks {
    cancel: CancellationToken,
    set: JoinSet<(&'static str, anyhow::Result<()>)>,
}

impl Tasks {
    pub fn new(cancel: CancellationToken) -> Tasks {
        Tasks {
            cancel,
            set: JoinSet::new(),
        }
    }

    /// The token every task must watch: cancelled when the daemon stops.
    pub fn token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Spawns `fut` under `name`; its error is logged when it ends.
    pub fn spawn(
        &mut self,
        name: &'static str,
        fut: impl Future<Output = anyhow::Result<()>> + Send + 'static,
    ) {
        self.set.spawn(async move { (name, fut.await) });
    }

    /// Waits for every task (after cancelling the token), at most `timeout`.
    pub async fn join(mut self, timeout: Duration) {
        self.cancel.cancel();
        let all = async {
            while let Some(r) = self.set.join_next().await {
                match r {
                    Ok((name, Err(e))) => tracing::error!(
                        task = name,
                        "task failed: {}",
                        crate::logging::error_chain(&e)
                    ),
                    Ok((_, Ok(()))) => {}
                    Err(e) => tracing::error!("task panicked: {e}"),
                }
            }
        };
        if tokio::time::timeout(timeout, all).await.is_err() {
            tracing::warn!("some tasks did not stop within {timeout:?}: aborting them");
        }
    }
}

/// What the daemon needs from the store: where to send batches, the writer to wait for
/// at the end, and where the audit.log follower stopped last time.
pub struct Backend {
    pub writer_tx: mpsc::Sender<StoreBatch>,
    /// Completes when the writer has committed everything (after `writer_tx` and its
    /// clones are dropped).
    pub writer: std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>,
    pub audit_log_checkpoint: Option<Checkpoint>,
}

/// Prints (stderr, plainly) and logs one startup line.
fn say(line: &str) {
    // Once, plainly: the same line through tracing as well printed everything twice.
    crate::logging::plain(tracing::Level::INFO, &format!("seccomp-watch: {line}"));
}

/// Runs the daemon with `cfg` until `shutdown` completes.
pub async fn run(cfg: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let access = HostAccess::probe(&cfg);
    let backend = open_backend(&cfg).await?;
    // The proc connector starts before the sources, so that short-lived processes are
    // known when their records arrive; it stops when `_connector` is dropped.
    let (enricher, _connector) = attribution(&cfg);
    run_with(cfg, access, backend, enricher, shutdown).await
}

/// The attribution stage of `cfg` (and its proc connector listener, when it runs).
pub fn attribution(cfg: &Config) -> (Box<dyn Enricher>, Option<crate::attrib::ProcConnector>) {
    if !cfg.attribution.enabled {
        say("attribution: off (attribution.enabled = false)");
        return (Box::new(Unattributed), None);
    }
    // Once at start: runtime state that this process may not read (the lookups that meet
    // it are counted in seccomp_watch_runtime_state_unreadable_total).
    for (root, e) in crate::attrib::runtime::unreadable_roots(&cfg.attribution) {
        say(&format!(
            "attribution: cannot read {} ({e}): its containers get no name, image or applied profile (counted in seccomp_watch_runtime_state_unreadable_total; grant CAP_DAC_READ_SEARCH, as the shipped unit does)",
            parsers::escape::escape(&root.display().to_string())
        ));
    }
    let a = crate::attrib::Attributor::from_config(cfg);
    let conn = match a.spawn_proc_connector() {
        Ok(c) => {
            say("attribution: on (proc connector running)");
            Some(c)
        }
        Err(e) => {
            say(&format!(
                "attribution: on, from /proc only (proc connector: {e})"
            ));
            None
        }
    };
    (Box::new(a), conn)
}

/// Opens the store, reads the checkpoint, starts the writer.
pub async fn open_backend(cfg: &Config) -> anyhow::Result<Backend> {
    let store = SqliteStore::open(&cfg.db)
        .await
        .with_context(|| format!("cannot open the database {}", cfg.db.display()))?;
    let audit_log_checkpoint = store
        .checkpoint(&sources::tail::checkpoint_key(&cfg.audit_log.path))
        .await?;
    let (writer_tx, handle) = writer::spawn(&store, WriterConfig::from_config(cfg)).await?;
    let writer = Box::pin(async move {
        let r = handle.await;
        store.close().await;
        match r {
            Ok(Ok(stats)) => {
                tracing::info!(
                    stored = stats.stored,
                    duplicates = stats.duplicates,
                    lost = stats.lost,
                    parse_errors = stats.parse_errors,
                    transactions = stats.transactions,
                    "store writer done"
                );
                Ok(())
            }
            Ok(Err(e)) => Err(anyhow::Error::new(e)),
            Err(e) => Err(anyhow::anyhow!("the store writer panicked: {e}")),
        }
    });
    Ok(Backend {
        writer_tx,
        writer,
        audit_log_checkpoint,
    })
}

/// Runs the daemon on an opened backend (tests pass their own writer).
pub async fn run_with(
    cfg: Config,
    access: HostAccess,
    backend: Backend,
    enricher: Box<dyn Enricher>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    crate::metrics::metrics().set_label_limits(cfg.metrics.label_limits());
    let plan = sources::plan(&cfg, &access)?;
    for r in &plan.reasons {
        say(&format!("source {r}"));
    }
    let cancel = CancellationToken::new();
    let mut tasks = Tasks::new(cancel.clone());

    // HTTP (/metrics, /healthz, /readyz, JSON API): bound before the sources start, so
    // that a scrape never misses the first events.
    crate::metrics::metrics().init_series();
    let readiness = crate::http::Readiness::new(Some(cfg.db.clone()));
    for k in &plan.run {
        readiness.expect_source(k.as_str());
    }
    if let Some(server) = crate::http::Server::bind(&cfg.http).await? {
        let mut state = crate::http::HttpState::new(readiness.clone());
        match crate::store::SqliteStore::open_existing(&cfg.db).await {
            Ok(store) => {
                state = state.with_backend(Arc::new(crate::http::StoreApi::new(store)));
            }
            Err(e) => tracing::warn!("the HTTP API serves no data: {e}"),
        }
        say(&format!("http listening on {}", server.local_addr()?));
        let token = tasks.token();
        tasks.spawn("http", async move {
            server
                .run(state, async move { token.cancelled().await })
                .await
                .map_err(anyhow::Error::from)
        });
    }

    let Backend {
        writer_tx,
        writer,
        audit_log_checkpoint,
    } = backend;

    // Fleet: the replicator ships what the writer commits (crate::fleet); without
    // `[fleet] postgres` the write log is switched off.
    match crate::fleet::task::Settings::from_config(&cfg) {
        Some(s) => {
            say(&format!(
                "fleet: replicating into {} as node {}",
                s.target.redacted(),
                parsers::escape::escape(&s.node)
            ));
            let token = tasks.token();
            tasks.spawn("fleet", crate::fleet::task::run(s, token));
        }
        None => {
            if let Err(e) = crate::fleet::local::disable(&cfg.db).await {
                tracing::warn!("fleet: cannot switch the write log off: {e}");
            }
        }
    }

    // Alerts: the rule stage after attribution (its alerts are committed with the events),
    // the outbox dispatcher, and rules reload on SIGHUP (crate::alerts).
    let alerting = crate::alerts::setup(&cfg, enricher).await?;
    let mut enricher = alerting.enricher;
    if let Some(d) = alerting.dispatcher {
        let token = tasks.token();
        tasks.spawn("alert-dispatcher", d.run(token));
    }
    if let Some(t) = alerting.fleet_novelty {
        say("fleet: `novel` is fleet-level (node-local while the fleet database is unreachable)");
        let token = tasks.token();
        tasks.spawn("fleet-novelty", t.run(token));
    }
    let token = tasks.token();
    tasks.spawn(
        "rules-reload",
        crate::alerts::reload_on_sighup(alerting.rules, token),
    );

    // Enrich stage: its own thread (attribution reads /proc and must not stall tokio).
    // Small: the enrich thread keeps up; the writer's queue is the buffer that counts (and
    // the kernel socket buffer, or the file, in front of the sources).
    let (src_tx, mut src_rx) = mpsc::channel::<SourceBatch>(SOURCE_QUEUE_BATCHES);
    let node = cfg.node.clone();
    // False once the enrich thread has ended: the pipeline is broken, the watchdog stops.
    let pipeline_alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let enrich_alive = pipeline_alive.clone();
    let enrich = std::thread::Builder::new()
        .name("enrich".into())
        .spawn(move || {
            let _alive = ClearOnDrop(enrich_alive);
            let probes = crate::probe_marks::ProbeFilter::default();
            while let Some(mut b) = src_rx.blocking_recv() {
                // doctor's live probe is a check, not an event (crate::probe_marks).
                let before = b.events.len();
                b.events.retain(|e| !probes.is_probe(e));
                let probe_records = (before - b.events.len()) as u64;
                if probe_records > 0 {
                    crate::metrics::metrics()
                        .probe_records
                        .inc_by(probe_records);
                    tracing::debug!("{probe_records} record(s) of doctor's live probe not stored");
                }
                if let Some(n) = &node {
                    for e in b.events.iter_mut().filter(|e| e.node.is_none()) {
                        e.node = Some(n.clone());
                    }
                }
                if writer_tx.blocking_send(enricher.enrich(b)).is_err() {
                    tracing::error!("the store writer stopped: events can no longer be stored");
                    break;
                }
            }
        })?;

    let ctx = SourceCtx {
        tx: src_tx,
        cancel: cancel.clone(),
    };
    let mut handles: Vec<SourceHandle> = Vec::new();
    let mut failures = Vec::new();
    for kind in &plan.run {
        let started = match kind {
            SourceKind::Netlink => {
                sources::netlink::spawn(&cfg.netlink, ctx.clone()).inspect(|_| {
                    let poll = sources::netlink::spawn_status_poller(
                        Duration::from_secs(cfg.netlink.status_interval_secs.max(1)),
                        ctx.clone(),
                    );
                    tasks.spawn("netlink-status", async move {
                        let _ = poll.await;
                        Ok(())
                    });
                })
            }
            SourceKind::AuditLog => sources::tail::spawn(
                &cfg.audit_log.path,
                Duration::from_millis(cfg.audit_log.poll_ms.max(10)),
                audit_log_checkpoint.clone(),
                ctx.clone(),
            ),
            SourceKind::Kmsg => sources::kmsg::spawn(sources::kmsg::path(&cfg), ctx.clone()),
            SourceKind::Ingest => continue,
        };
        match started {
            Ok(h) => {
                say(&format!("{} started", kind.as_str()));
                handles.push(h);
            }
            Err(e) => {
                let e = crate::logging::error_chain(&e);
                tracing::error!(source = kind.as_str(), "cannot start: {e}");
                failures.push(format!("{}: {e}", kind.as_str()));
            }
        }
    }
    drop(ctx);
    // An explicitly requested source that fails is fatal; an automatic one is not, as long
    // as another one runs.
    let fatal = if handles.is_empty() {
        Some(format!("no source could start: {}", failures.join("; ")))
    } else if !cfg.sources.is_empty() && !failures.is_empty() {
        Some(format!(
            "a requested source could not start: {}",
            failures.join("; ")
        ))
    } else {
        None
    };
    // The daemon's own sandbox, once every thread and socket exists (TSYNC covers all
    // threads). In enforce mode a failure is fatal; in log mode it is a warning.
    let fatal = match fatal {
        Some(f) => Some(f),
        None => match crate::sandbox::Mode::parse(&cfg.sandbox).and_then(crate::sandbox::install) {
            Ok(Some(i)) => {
                say(&format!(
                    "sandbox: {:?}, {} syscalls allowed",
                    i.mode, i.allowed
                ));
                None
            }
            Ok(None) => None,
            Err(e) if cfg.sandbox == "enforce" => Some(format!("cannot install the sandbox: {e}")),
            Err(e) => {
                tracing::warn!("cannot install the sandbox: {e}");
                None
            }
        },
    };
    // Each source's end, as it comes.
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
    let mut alive = handles.len();
    for h in handles {
        let tx = ended_tx.clone();
        tokio::spawn(async move {
            let r = h
                .done
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("source thread vanished")));
            let _ = tx.send((h.kind, r));
        });
    }
    drop(ended_tx);
    let mut source_errors = Vec::new();
    let mut record_end = |kind: SourceKind, r: anyhow::Result<()>, stopping: bool| match r {
        Ok(()) if !stopping => tracing::warn!(source = kind.as_str(), "source ended"),
        Ok(()) => {}
        Err(e) => {
            let e = crate::logging::error_chain(&e);
            tracing::error!(source = kind.as_str(), "source failed: {e}");
            source_errors.push(format!("{}: {e}", kind.as_str()));
        }
    };
    let mut watchdog = None;
    if fatal.is_none() {
        let _ = crate::sd_notify::ready();
        let healthy = pipeline_alive.clone();
        watchdog = crate::sd_notify::spawn_watchdog(move || {
            healthy.load(std::sync::atomic::Ordering::Relaxed)
        });
        say(&format!("running; database {}", cfg.db.display()));
        tokio::pin!(shutdown);
        while alive > 0 {
            tokio::select! {
                _ = &mut shutdown => break,
                Some((kind, r)) = ended_rx.recv() => {
                    alive -= 1;
                    record_end(kind, r, false);
                }
            }
        }
        if alive == 0 {
            tracing::error!("every source has stopped");
        }
        say("stopping: flushing and checkpointing");
        let _ = crate::sd_notify::stopping();
    }
    if let Some(w) = watchdog {
        w.abort();
    }
    cancel.cancel();
    while let Some((kind, r)) = ended_rx.recv().await {
        record_end(kind, r, true);
    }
    tasks.join(Duration::from_secs(5)).await;
    // Every source sender is gone now: the enrich thread drains and ends.
    let _ = tokio::task::spawn_blocking(move || enrich.join()).await;
    writer.await.context("the store writer failed")?;
    if let Some(f) = fatal {
        anyhow::bail!(f);
    }
    if alive == 0 && !source_errors.is_empty() {
        anyhow::bail!("every source stopped: {}", source_errors.join("; "));
    }
    say("stopped");
    Ok(())
}

/// A future that completes on SIGTERM or SIGINT. The handlers are installed when this is
/// called (inside the runtime), not when the future is first polled: a signal that comes
/// right after startup is never the default, fatal one.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM"),
            _ = int.recv() => tracing::info!("SIGINT"),
        }
    })
}

/// Clears the flag when dropped (thread end, panic included).
struct ClearOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}
