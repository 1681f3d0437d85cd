//! `seccomp-watch alerts [--status S] [--json]`: stored alerts and their delivery state;
//! `alerts retry ID`: queues a dead alert's deliveries again.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args as ClapArgs, Subcommand};
use parsers::escape::escape;

use crate::alerts::{self, RetryOutcome, Status};
use crate::config::Config;

/// `seccomp-watch alerts ...`
#[derive(Debug, ClapArgs)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Only alerts in this state.
    #[arg(long, value_parser = ["pending", "delivered", "dead"])]
    pub status: Option<String>,
    /// JSON Lines: the payload of each alert plus its status and deliveries.
    #[arg(long)]
    pub json: bool,
    /// At most this many alerts, most recent first (0: all).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Queue the dead (or pending) deliveries of alert ID again, now, with a fresh maximum age.
    Retry {
        /// The alert id (or a unique prefix of it).
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Where the database is.
#[derive(Debug, Clone, ClapArgs)]
pub struct DbArgs {
    /// Database path, or the fleet's `postgres://...` URL (listing only: alerts once per
    /// fleet, by id) (default: the configuration's).
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
    /// Configuration file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl DbArgs {
    fn path(&self) -> anyhow::Result<PathBuf> {
        match &self.db {
            Some(p) => Ok(p.clone()),
            None => Ok(Config::load(self.config.as_deref())?.db),
        }
    }
}

/// `alerts --db postgres://...`: the fleet's alerts, once each (by id), with the nodes
/// that raised them. Deliveries are each node's own (its outbox): see `alerts` there.
async fn fleet_list(t: &crate::fleet::conn::PgTarget, args: &AlertsArgs) -> anyhow::Result<i32> {
    if args.status.is_some() {
        anyhow::bail!("--status is a node's delivery state: the fleet database has none (run `alerts --status` on the node)");
    }
    let store = crate::store::PgStore::connect(t).await?;
    let rows = crate::store::postgres::fleet_alerts(&store, None, args.limit).await;
    crate::store::Store::close(&store).await;
    let rows = rows?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let now = alerts::now_ms();
    if args.json {
        for r in &rows {
            writeln!(out, "{}", r.to_json(now))?;
        }
        return Ok(0);
    }
    if rows.is_empty() {
        writeln!(out, "no alerts")?;
        return Ok(0);
    }
    writeln!(
        out,
        "{:<36}  {:>5}  {:<8}  {:>8}  {:<24}  SUMMARY",
        "ID", "NODES", "SEVERITY", "COUNT", "LAST SEEN"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<36}  {:>5}  {:<8}  {:>8}  {:<24}  {}",
            r.alert.id,
            r.nodes.len(),
            r.alert.severity.as_str(),
            r.alert.count,
            parsers::time::rfc3339_ms(r.alert.last_seen_ms),
            escape(&r.alert.summary())
        )?;
    }
    Ok(0)
}

/// Runs `seccomp-watch alerts ...`; returns the exit code.
pub fn run_alerts(args: AlertsArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match args.command {
            Some(AlertsCommand::Retry { id, db }) => {
                let path = db.path()?;
                // Opening the store applies the migrations (and checks the file is there).
                let store = crate::store::SqliteStore::open_existing(&path).await?;
                crate::store::Store::close(&store).await;
                let pool = alerts::open_rw(&path)
                    .await
                    .with_context(|| format!("cannot open {}", path.display()))?;
                let r = alerts::retry(&pool, &id).await?;
                pool.close().await;
                match r {
                    RetryOutcome::Queued { id, deliveries } => {
                        println!("{id}: {deliveries} deliveries queued");
                        Ok(if deliveries > 0 { 0 } else { 1 })
                    }
                    RetryOutcome::NotFound => {
                        eprintln!("seccomp-watch: no alert {}", escape(&id));
                        Ok(1)
                    }
                    RetryOutcome::Ambiguous(ids) => {
                        eprintln!(
                            "seccomp-watch: {} matches several alerts: {}",
                            escape(&id),
                            ids.join(", ")
                        );
                        Ok(1)
                    }
                }
            }
            None => {
                let path = args.db.path()?;
                let fleet = Config::load(args.db.config.as_deref())?.fleet;
                if let crate::store::DbTarget::Postgres(t) = crate::store::DbTarget::from_arg(
                    &path,
                    crate::fleet::conn::PgTarget::from_config(&fleet).as_ref(),
                ) {
                    return fleet_list(&t, &args).await;
                }
                let store = crate::store::SqliteStore::open_existing(&path).await?;
                let status = args.status.as_deref().and_then(Status::parse);
                let rows = alerts::list(store.pool(), status, args.limit).await?;
                crate::store::Store::close(&store).await;
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                let now = alerts::now_ms();
                if args.json {
                    for r in &rows {
                        writeln!(out, "{}", r.to_json(now))?;
                    }
                    return Ok(0);
                }
                if rows.is_empty() {
                    writeln!(out, "no alerts")?;
                    return Ok(0);
                }
                writeln!(
                    out,
                    "{:<36}  {:<9}  {:<8}  {:>8}  {:<24}  SUMMARY",
                    "ID", "STATUS", "SEVERITY", "COUNT", "LAST SEEN"
                )?;
                for r in &rows {
                    let st = r.status.map_or("-", Status::as_str);
                    writeln!(
                        out,
                        "{:<36}  {st:<9}  {:<8}  {:>8}  {:<24}  {}",
                        r.alert.id,
                        r.alert.severity.as_str(),
                        r.alert.count,
                        parsers::time::rfc3339_ms(r.alert.last_seen_ms),
                        escape(&r.alert.summary())
                    )?;
                    for d in r
                        .deliveries
                        .iter()
                        .filter(|d| d.status != Status::Delivered)
                    {
                        let err = d
                            .last_error
                            .as_deref()
                            .map(|e| format!(": {}", escape(e)))
                            .unwrap_or_default();
                        writeln!(
                            out,
                            "{:<38}{} {} after {} attempts{err}",
                            "",
                            d.sink,
                            d.status.as_str(),
                            d.attempts
                        )?;
                    }
                }
                Ok(0)
            }
        }
    })
}
