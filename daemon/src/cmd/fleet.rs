//! `seccomp-watch fleet migrate`: applies the central schema (`migrations/postgres/`) to
//! the fleet's PostgreSQL, from `--db` or the configuration's `[fleet]` section.

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::fleet::conn::PgTarget;

/// Arguments of `seccomp-watch fleet`.
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum FleetCommand {
    /// Create or upgrade the central schema (the first replicating node does it too).
    Migrate(MigrateArgs),
    /// Ship a local database's events, aggregates, alerts and profiles to the fleet
    /// database now, until it is caught up (what the daemon's replicator does all along).
    Push(PushArgs),
}

/// Arguments of `seccomp-watch fleet push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub target: MigrateArgs,
    /// The local database (default: the configuration's `db`).
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,
    /// This node's name in the fleet (default: `[fleet] node`, `node`, the host name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Events per PostgreSQL transaction (default: `[fleet] batch_size`).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
}

/// Arguments of `seccomp-watch fleet migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The fleet database, postgres://... (default: `[fleet] postgres` of the config).
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Configuration file (its `[fleet]` section: password_file, sslmode, ca_file).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// File holding the password (overrides the configuration).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// disable, allow, prefer, require, verify-ca or verify-full.
    #[arg(long, value_name = "MODE")]
    pub sslmode: Option<String>,
    /// PEM file of the server's CA.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

/// The `fleet` command: returns the exit code.
pub fn run(args: FleetArgs) -> anyhow::Result<i32> {
    match args.command {
        FleetCommand::Migrate(a) => migrate(a),
        FleetCommand::Push(a) => push(a),
    }
}

/// The configuration and the fleet target of the arguments.
fn target(a: MigrateArgs) -> anyhow::Result<(Config, PgTarget)> {
    let cfg = Config::load(a.config.as_deref())?;
    let mut target = PgTarget::from_config(&cfg.fleet).unwrap_or_default();
    if let Some(url) = a.db {
        target.url = url;
    }
    if target.url.is_empty() {
        anyhow::bail!("no fleet database: pass --db postgres://... or set [fleet] postgres");
    }
    if let Some(f) = a.password_file {
        target.password_file = Some(f);
        target.password_env = None;
    }
    if let Some(m) = a.sslmode {
        crate::fleet::conn::parse_sslmode(&m)?;
        target.sslmode = Some(m);
    }
    if let Some(c) = a.ca_file {
        target.ca_file = Some(c);
    }
    Ok((cfg, target))
}

fn push(a: PushArgs) -> anyhow::Result<i32> {
    let (mut cfg, target) = target(a.target)?;
    if let Some(db) = a.from {
        cfg.db = db;
    }
    if let Some(n) = a.node {
        cfg.fleet.node = Some(n);
    }
    if let Some(n) = a.batch_size {
        cfg.fleet.batch_size = n.max(1);
    }
    cfg.fleet.postgres = Some(target.url.clone());
    let mut s = crate::fleet::task::Settings::from_config(&cfg)
        .ok_or_else(|| anyhow::anyhow!("no fleet database"))?;
    s.target = target;
    s.once = Some(5);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // The store's migrations (the write log's table) first.
        let store = crate::store::SqliteStore::open_existing(&cfg.db).await?;
        crate::store::Store::close(&store).await;
        let t0 = std::time::Instant::now();
        let m = &crate::metrics::metrics().fleet;
        crate::fleet::task::run(s.clone(), tokio_util::sync::CancellationToken::new()).await?;
        let secs = t0.elapsed().as_secs_f64();
        let n = m.replicated.get();
        println!(
            "{}: {n} event(s) inserted, {} already there, in {secs:.2} s ({:.0} events/s)",
            s.target.redacted(),
            m.duplicates.get(),
            (n + m.duplicates.get()) as f64 / secs.max(1e-9)
        );
        anyhow::Ok(())
    })?;
    Ok(0)
}

fn migrate(a: MigrateArgs) -> anyhow::Result<i32> {
    let (_, target) = target(a)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let pool = target.pool(1).await?;
        let n = crate::fleet::schema::migrate(&pool)
            .await
            .with_context(|| format!("migrating {}", target.redacted()))?;
        let version: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&pool)
        .await?;
        println!(
            "{}: schema version {version} ({n} migration(s) applied)",
            target.redacted()
        );
        pool.close().await;
        anyhow::Ok(())
    })?;
    Ok(0)
}
