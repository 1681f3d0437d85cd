//! The rule-evaluation stage of the pipeline: after attribution, every event of a batch goes
//! through the [`Engine`]; the alerts and novelty state it yields ride in the same
//! [`StoreBatch`] to the writer, which commits them with the events.
//!
//! Rules come from `rules = "PATH"` in the config, else `/etc/seccomp-watch/rules.toml`
//! when it exists, else the built-ins. A reload ([`RulesHandle::reload`], on SIGHUP) swaps
//! in the new rules only when the file is valid: otherwise the last good rules stay and
//! the error (with its line) is logged and counted (`seccomp_watch_reloads_total`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rules::engine::{Engine, EngineOptions, Input, RuleSet, StateWrite};
use sqlx::SqlitePool;

use super::fleet_novel::FleetNovelty;
use super::sinks::{sink_names, SinkFilter};
use super::AlertWrite;
use crate::config::{Config, DEFAULT_RULES};
use crate::metrics::metrics;
use crate::pipeline::{Enricher, SourceBatch, StoreBatch};

/// Reads and validates a rules file: `path`, or the built-in rules when `None`. Errors say
/// `FILE:LINE: reason`, one a line.
pub fn load_rules(path: Option<&Path>) -> anyhow::Result<RuleSet> {
    let Some(path) = path else {
        return Ok(RuleSet::builtin());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read rules {}", path.display()))?;
    RuleSet::parse(&text).map_err(|errs| {
        let lines: Vec<String> = errs
            .0
            .iter()
            .map(|e| match e.line {
                Some(l) => format!("{}:{l}: {}", path.display(), e.message),
                None => format!("{}: {}", path.display(), e.message),
            })
            .collect();
        anyhow::anyhow!("invalid rules:\n{}", lines.join("\n"))
    })
}

/// The rules file of a configuration: `rules`, else the default path when it exists.
pub fn rules_path(cfg: &Config) -> Option<PathBuf> {
    match &cfg.rules {
        Some(p) => Some(p.clone()),
        None => Path::new(DEFAULT_RULES)
            .is_file()
            .then(|| PathBuf::from(DEFAULT_RULES)),
    }
}

/// The engine options of a configuration.
pub fn engine_options(cfg: &Config) -> EngineOptions {
    EngineOptions {
        window_ms: (cfg.alerts.window_secs.max(1) as i64).saturating_mul(1000),
        max_alerts_per_window: cfg.alerts.max_alerts_per_window.max(1),
        learning_ms: (cfg.alerts.learning_hours as i64).saturating_mul(3_600_000),
        node: cfg.node.clone(),
    }
}

/// Hands new rules to the stage from another thread (the reload signal handler).
#[derive(Debug)]
pub struct RulesHandle {
    path: Option<PathBuf>,
    pending: Mutex<Option<Arc<RuleSet>>>,
    flag: AtomicBool,
}

impl RulesHandle {
    /// Re-reads the rules file (the built-ins when there is none). On success the stage
    /// uses the new rules from its next batch on and the number of rules is returned; on
    /// error the stage keeps its rules.
    pub fn reload(&self) -> anyhow::Result<usize> {
        match load_rules(self.path.as_deref()) {
            Ok(rs) => {
                let n = rs.rules().len();
                super::init_counters(&rs, &[]);
                self.set(Arc::new(rs));
                metrics().reloads.with_label_values(&["ok"]).inc();
                tracing::info!(rules = n, "rules reloaded");
                Ok(n)
            }
            Err(e) => {
                metrics().reloads.with_label_values(&["error"]).inc();
                tracing::error!("rules reload failed, keeping the last good rules: {e:#}");
                Err(e)
            }
        }
    }

    /// Hands `rules` to the stage.
    pub fn set(&self, rules: Arc<RuleSet>) {
        if let Ok(mut g) = self.pending.lock() {
            *g = Some(rules);
            self.flag.store(true, Ordering::Release);
        }
    }

    fn take(&self) -> Option<Arc<RuleSet>> {
        if !self.flag.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.pending.lock().ok().and_then(|mut g| g.take())
    }
}

/// The rule-evaluation stage.
pub struct RuleStage {
    engine: Engine,
    sinks: Vec<(Arc<str>, SinkFilter)>,
    handle: Arc<RulesHandle>,
    /// Fleet-level `novel` (`[fleet] postgres` set), see [`super::fleet_novel`].
    fleet: Option<Arc<FleetNovelty>>,
}

impl RuleStage {
    /// A stage with `rules`, reloading from `path`, feeding the sinks `sinks` (name and
    /// filter).
    pub fn new(
        rules: Arc<RuleSet>,
        opts: EngineOptions,
        sinks: Vec<(String, SinkFilter)>,
        path: Option<PathBuf>,
    ) -> RuleStage {
        RuleStage {
            engine: Engine::new(rules, opts),
            sinks: sinks
                .into_iter()
                .map(|(n, f)| (Arc::from(n.as_str()), f))
                .collect(),
            handle: Arc::new(RulesHandle {
                path,
                pending: Mutex::new(None),
                flag: AtomicBool::new(false),
            }),
            fleet: None,
        }
    }

    /// Makes `novel` fleet-level: what the fleet database knows of each workload is
    /// looked up (and refreshed) through `fleet` (node-local when it cannot answer).
    pub fn set_fleet(&mut self, fleet: Arc<FleetNovelty>) {
        fleet.know(self.engine.workload_keys());
        self.fleet = Some(fleet);
    }

    /// The stage of a configuration: its rules (an invalid file is an error at start),
    /// options and sinks.
    pub fn from_config(cfg: &Config) -> anyhow::Result<RuleStage> {
        let path = rules_path(cfg);
        let rules = load_rules(path.as_deref())?;
        let names = sink_names(&cfg.sinks);
        let sinks = cfg
            .sinks
            .iter()
            .zip(names)
            .map(|(c, n)| {
                SinkFilter::from_config(c)
                    .map(|f| (n.clone(), f))
                    .with_context(|| format!("sink {n}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(RuleStage::new(
            Arc::new(rules),
            engine_options(cfg),
            sinks,
            path,
        ))
    }

    /// Loads the novelty state and the stored profiles (call once before the first batch).
    pub async fn load_state(&mut self, pool: &SqlitePool) -> anyhow::Result<()> {
        let (w, s, p) = super::db::load_state(pool, &mut self.engine)
            .await
            .context("cannot load the alert state")?;
        tracing::info!(workloads = w, seen = s, profiles = p, "alert state loaded");
        Ok(())
    }

    /// The handle to reload the rules from another thread.
    pub fn handle(&self) -> Arc<RulesHandle> {
        self.handle.clone()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Evaluates every event of `batch` and appends the alert writes to `batch.alerts`.
    pub fn apply(&mut self, batch: &mut StoreBatch) {
        if let Some(rules) = self.handle.take() {
            self.engine.set_rules(rules);
        }
        for p in &batch.profiles {
            self.engine.add_profile(&p.hash, &p.json);
        }
        if let Some(f) = &self.fleet {
            f.prepare(
                &mut self.engine,
                batch.items.iter().map(|i| i.attribution.workload.as_str()),
            );
        }
        for item in &batch.items {
            self.engine
                .observe(&Input::new(&item.event, &item.attribution));
        }
        let d = self.engine.drain();
        let m = metrics();
        for (rule, sev, n) in &d.stats.opened {
            m.alerts
                .with_label_values(&[rule.as_str(), sev.as_str()])
                .inc_by(*n);
        }
        for (rule, n) in &d.stats.repeats {
            m.alert_repeats
                .with_label_values(&[rule.as_str()])
                .inc_by(*n);
        }
        if d.stats.overflowed > 0 {
            m.alerts_overflow.inc_by(d.stats.overflowed);
        }
        batch.alerts.reserve(d.alerts.len() + d.state.len());
        for s in d.state {
            batch.alerts.push(match s {
                StateWrite::Workload {
                    workload,
                    first_seen_ms,
                } => AlertWrite::Workload {
                    workload,
                    first_seen_ms,
                },
                StateWrite::Seen {
                    workload,
                    arch,
                    syscall,
                    first_seen_ms,
                } => AlertWrite::Seen {
                    workload,
                    arch,
                    syscall,
                    first_seen_ms,
                },
            });
        }
        for c in d.alerts {
            let sinks = if c.new || c.alert.is_overflow() {
                self.sinks
                    .iter()
                    .filter(|(_, f)| f.accepts(&c.alert))
                    .map(|(n, _)| n.clone())
                    .collect()
            } else {
                Vec::new()
            };
            batch.alerts.push(AlertWrite::Alert {
                alert: c.alert,
                count_delta: c.count_delta,
                new: c.new,
                detail: c.detail_changed,
                sinks,
            });
        }
    }
}

/// An enricher followed by the rule stage.
pub struct WithRules {
    pub inner: Box<dyn Enricher>,
    pub stage: RuleStage,
}

impl Enricher for WithRules {
    fn enrich(&mut self, batch: SourceBatch) -> StoreBatch {
        let mut b = self.inner.enrich(batch);
        self.stage.apply(&mut b);
        b
    }
}
