//! `seccomp-watch serve`: the HTTP API (`/api/v1/summary`, `/api/v1/events`,
//! `/api/v1/alerts`) and `/metrics` over a database, without any source: a hub for
//! dashboards and for a SIEM's pull. Over the fleet's PostgreSQL (`--db postgres://...`)
//! the answers cover every node (alerts once per fleet, grouped by id) and `/metrics`
//! adds the fleet's figures, read at each scrape; over a SQLite file it serves that
//! node's data read-only beside (or without) its daemon.
//!
//! The server is the daemon's ([`crate::http`]): the same `[http]` limits, `Host` check
//! and token rule (beyond loopback only with `token_file`).

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context;
use parsers::escape::escape;
use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::config::Config;
use crate::http::{ExtraMetrics, HttpState, Readiness, Server, StoreApi};
use crate::store::{AnyStore, DbTarget, PgStore};

/// Arguments of `seccomp-watch serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration file (its `[http]` section); default /etc/seccomp-watch/config.toml
    /// when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database: the fleet's `postgres://...` URL, or a SQLite file (default: the
    /// configuration's `[fleet] postgres`, else its `db`).
    #[arg(long, value_name = "URL|PATH")]
    pub db: Option<PathBuf>,
    /// Address to listen on (overrides `[http] listen`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// Node series in `/metrics` at most; the rest are summed under `node="other"`.
pub const NODE_SERIES_LIMIT: usize = 1000;

/// The fleet's figures in `/metrics`, read from PostgreSQL at each scrape.
struct FleetMetrics {
    store: PgStore,
    registry: Registry,
    up: IntGauge,
    nodes: IntGauge,
    node_events: IntGaugeVec,
    node_shipped: IntGaugeVec,
    node_last: IntGaugeVec,
    alerts: IntGaugeVec,
}

impl FleetMetrics {
    fn new(store: PgStore) -> anyhow::Result<FleetMetrics> {
        let registry = Registry::new();
        let g = |name: &str, help: &str| -> anyhow::Result<IntGauge> {
            let g = IntGauge::with_opts(Opts::new(name, help).namespace("seccomp_watch"))?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let v = |name: &str, help: &str, label: &str| -> anyhow::Result<IntGaugeVec> {
            let g = IntGaugeVec::new(Opts::new(name, help).namespace("seccomp_watch"), &[label])?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        Ok(FleetMetrics {
            up: g(
                "fleet_db_up",
                "1 when the last scrape could read the fleet database",
            )?,
            nodes: g(
                "fleet_nodes",
                "Nodes that replicate into the fleet database",
            )?,
            node_events: v(
                "fleet_node_events",
                "Events counted in a node's aggregates in the fleet database",
                "node",
            )?,
            node_shipped: v(
                "fleet_node_shipped_events",
                "Events a node has shipped to the fleet database",
                "node",
            )?,
            node_last: v(
                "fleet_node_last_replicated_seconds",
                "When a node last committed a replication batch (Unix time)",
                "node",
            )?,
            alerts: v(
                "fleet_alerts",
                "Distinct alerts (once per fleet: by id) in the fleet database",
                "severity",
            )?,
            store,
            registry,
        })
    }

    async fn refresh(&self) {
        match crate::store::postgres::fleet_figures(&self.store).await {
            Ok((nodes, alerts)) => {
                self.up.set(1);
                self.nodes.set(nodes.len() as i64);
                for g in [&self.node_events, &self.node_shipped, &self.node_last] {
                    g.reset();
                }
                for (i, n) in nodes.iter().enumerate() {
                    let label = if i < NODE_SERIES_LIMIT {
                        escape(&n.node).into_owned()
                    } else {
                        "other".to_string()
                    };
                    let l = [label.as_str()];
                    self.node_events
                        .with_label_values(&l)
                        .add(n.events.min(i64::MAX as u64) as i64);
                    self.node_shipped
                        .with_label_values(&l)
                        .add(n.shipped.min(i64::MAX as u64) as i64);
                    let last = self.node_last.with_label_values(&l);
                    last.set(last.get().max(n.last_seen_ms / 1000));
                }
                self.alerts.reset();
                for s in rules::engine::Severity::ALL {
                    self.alerts.with_label_values(&[s.as_str()]);
                }
                for (sev, n) in alerts {
                    let name = rules::engine::Severity::ALL
                        .get(sev.clamp(0, 4) as usize)
                        .map_or("info", |s| s.as_str());
                    self.alerts.with_label_values(&[name]).add(n as i64);
                }
            }
            Err(e) => {
                self.up.set(0);
                tracing::warn!("fleet metrics: {e}");
            }
        }
    }
}

impl ExtraMetrics for FleetMetrics {
    fn render(&self) -> Pin<Box<dyn std::future::Future<Output = String> + Send + '_>> {
        Box::pin(async move {
            self.refresh().await;
            let mut buf = Vec::new();
            let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
            String::from_utf8(buf).unwrap_or_default()
        })
    }
}

/// Runs `serve` until SIGTERM or SIGINT.
pub fn main(args: Args) -> anyhow::Result<i32> {
    let mut cfg = Config::load(args.config.as_deref())?;
    if let Some(l) = &args.listen {
        cfg.http.listen = l.clone();
    }
    if cfg.http.listen.trim().is_empty() {
        anyhow::bail!("nothing to serve on: [http] listen is empty (pass --listen ADDR)");
    }
    let target = match &args.db {
        Some(p) => DbTarget::from_arg(
            p,
            crate::fleet::conn::PgTarget::from_config(&cfg.fleet).as_ref(),
        ),
        None => DbTarget::of_config(&cfg),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let stop = crate::daemon::shutdown_signal()?;
        let store = AnyStore::open_existing(&target)
            .await
            .with_context(|| format!("cannot open {}", escape(&target.shown())))?;
        crate::metrics::metrics().init_series();
        let mut state = HttpState::new(Readiness::new(None))
            .with_backend(Arc::new(StoreApi::over(store.clone())));
        if let Some(pg) = store.as_postgres() {
            state = state.with_extra_metrics(Arc::new(FleetMetrics::new(pg.clone())?));
        }
        let Some(server) = Server::bind(&cfg.http).await? else {
            anyhow::bail!("nothing to serve on: [http] listen is empty");
        };
        crate::logging::plain(
            tracing::Level::INFO,
            &format!(
                "seccomp-watch: serving {} on http://{}",
                escape(&target.shown()),
                server.local_addr()?
            ),
        );
        server.run(state, stop).await?;
        crate::store::Store::close(&store).await;
        Ok(0)
    })
}
