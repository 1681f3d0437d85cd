//! Alerts: rule evaluation on the event stream, roll-up, the durable outbox and delivery
//! to SIEM sinks.
//!
//! ```text
//! enrich thread:  attribution -> RuleStage (rules::engine::Engine: evaluate, roll up)
//!                 -> StoreBatch.alerts (AlertWrite)
//! writer task:    events + alerts + outbox rows + novelty state, ONE transaction (persist)
//! dispatcher:     outbox -> sinks (webhook, Splunk HEC, Alertmanager, syslog/CEF),
//!                 at least once, backoff with jitter, dead after the maximum age
//! ```
//!
//! Delivery semantics (documented for receivers):
//! - every payload carries the alert `id`, the idempotency key: the same roll-up always has
//!   the same id (see [`rules::engine::alert_id`]); receivers should upsert by id.
//! - an alert is delivered as soon as it is committed, with the count so far (`final`:
//!   false while its window is open). When its count grows after that, it is delivered
//!   once more when its window closes: same id, the final count, `final`: true. So each
//!   sink gets an alert at most twice in the normal case (plus retries of failed
//!   attempts: at least once, never silently dropped).
//! - a delivery failing past `alerts.max_age_hours` after it was queued is marked `dead`:
//!   listed by `seccomp-watch alerts --status dead`, counted in
//!   `seccomp_watch_deliveries_total{outcome="dead"}`, queued again by
//!   `seccomp-watch alerts retry ID`.

pub mod db;
pub mod dispatch;
pub mod fleet_novel;
pub mod sinks;
pub mod stage;
pub mod syslog;

use std::sync::Arc;

pub use db::{
    list, list_query, load_state, open_rw, persist, retry, AlertRow, DeliveryRow, ListQuery,
    RetryOutcome, Status,
};
pub use dispatch::{DispatchOptions, Dispatcher, TickReport};
pub use sinks::{sink_names, Sink, SinkFilter};
pub use stage::{load_rules, RuleStage, RulesHandle, WithRules};

use rules::engine::Alert;

/// One alert change or novelty-state row, written by the store writer in the same
/// transaction as the events that caused it (see [`persist`]).
#[derive(Debug, Clone)]
pub enum AlertWrite {
    /// An alert opened or grown: its row is upserted (the stored count grows by
    /// `count_delta`), and a delivery is queued for each of `sinks` that has none yet.
    Alert {
        alert: Arc<Alert>,
        count_delta: u64,
        /// The sinks that take this alert (set when the alert is new to this process or
        /// may have changed severity; empty otherwise).
        sinks: Vec<Arc<str>>,
        /// First write of the alert by this process.
        new: bool,
        /// More than the count and times changed (the stored body is rewritten; otherwise
        /// only the count and times are updated).
        detail: bool,
    },
    /// A workload's first event (its `novel` learning window starts).
    Workload {
        workload: String,
        first_seen_ms: i64,
    },
    /// A (workload, arch, syscall) seen for the first time.
    Seen {
        workload: String,
        arch: String,
        syscall: String,
        first_seen_ms: i64,
    },
}

/// Creates the alert counters' series at 0 for every known label set: `alerts_total` for
/// each rule with its severity (and the overflow summary at `info`), `alert_repeats_total`
/// for each rule, `deliveries_total` for each sink and outcome. Without them `increase()`
/// and `rate()` miss the first alert (a counter's first sample is its baseline). Called at
/// start and on every reload; series of rules that a reload removed stay.
pub fn init_counters(rules: &rules::engine::RuleSet, sinks: &[String]) {
    let m = crate::metrics::metrics();
    let overflow = rules::engine::OVERFLOW_RULE;
    for (name, sev) in rules
        .rules()
        .iter()
        .map(|r| (r.name.as_str(), r.severity.as_str()))
        .chain([(overflow, "info")])
    {
        m.alerts.with_label_values(&[name, sev]);
        m.alert_repeats.with_label_values(&[name]);
    }
    for sink in sinks {
        for outcome in dispatch::OUTCOMES {
            m.deliveries.with_label_values(&[sink.as_str(), outcome]);
        }
    }
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the daemon (`run`) needs for alerting.
pub struct Setup {
    /// The given enricher followed by the rule stage.
    pub enricher: Box<dyn crate::pipeline::Enricher>,
    /// The outbox dispatcher to spawn (none without sinks).
    pub dispatcher: Option<Dispatcher>,
    /// Reloads the rules ([`reload_on_sighup`]).
    pub rules: Arc<RulesHandle>,
    /// Fleet-level `novel`'s lookups (with `[fleet] postgres`), to spawn.
    pub fleet_novelty: Option<fleet_novel::Task>,
}

/// Sets alerting up for the daemon: the rule stage after `inner` (with the novelty state
/// and profiles loaded from the database), and the dispatcher when sinks are configured.
/// An invalid rules file or sink is an error (the daemon does not start with it); an
/// unreadable alert state is logged and the stage starts empty.
pub async fn setup(
    cfg: &crate::config::Config,
    inner: Box<dyn crate::pipeline::Enricher>,
) -> anyhow::Result<Setup> {
    let mut stage = RuleStage::from_config(cfg)?;
    init_counters(stage.engine().rules(), &sink_names(&cfg.sinks));
    match db::open_rw(&cfg.db).await {
        Ok(pool) => {
            if let Err(e) = stage.load_state(&pool).await {
                tracing::warn!("alert state not loaded, `novel` starts learning again: {e:#}");
            }
            pool.close().await;
        }
        Err(e) => tracing::warn!("alert state not loaded from {}: {e}", cfg.db.display()),
    }
    let fleet_novelty = crate::fleet::conn::PgTarget::from_config(&cfg.fleet).map(|target| {
        let (handle, task) = fleet_novel::Task::new(target);
        stage.set_fleet(handle);
        task
    });
    let rules = stage.handle();
    let dispatcher = if cfg.sinks.is_empty() {
        None
    } else {
        let sinks = Sink::all_from_config(&cfg.sinks)?;
        Some(Dispatcher::open(&cfg.db, sinks, DispatchOptions::from_config(&cfg.alerts)).await?)
    };
    Ok(Setup {
        enricher: Box::new(WithRules { inner, stage }),
        dispatcher,
        rules,
        fleet_novelty,
    })
}

/// Reloads the rules on every SIGHUP until `cancel` (a bad file keeps the last good rules).
pub async fn reload_on_sighup(
    handle: Arc<RulesHandle>,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = hup.recv() => {
                if r.is_none() {
                    return Ok(());
                }
                tracing::info!("SIGHUP: reloading the rules");
                let h = handle.clone();
                // Reading and validating the file is blocking work.
                let _ = tokio::task::spawn_blocking(move || h.reload()).await;
            }
        }
    }
}
