//! `seccomp-watch run`: the daemon ([`crate::daemon`]) with the configuration file and the
//! command-line overrides, until SIGTERM or SIGINT.

use std::path::PathBuf;

use crate::config::Config;
use crate::daemon;

/// Arguments of `seccomp-watch run`.
#[derive(Debug, Default, clap::Args)]
pub struct Args {
    /// Configuration file (TOML); default /etc/seccomp-watch/config.toml when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database path (overrides the configuration).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Source to run (repeatable: netlink, audit-log, kmsg); default: chosen for this host.
    #[arg(long = "source", value_name = "SOURCE", value_parser = ["netlink", "audit-log", "kmsg"])]
    pub sources: Vec<String>,
    /// audit.log to follow (overrides the configuration).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
}

impl Args {
    /// The configuration: the file (or the defaults), then the command-line overrides.
    pub fn config(&self) -> anyhow::Result<Config> {
        let mut cfg = Config::load(self.config.as_deref())?;
        if let Some(db) = &self.db {
            cfg.db = db.clone();
        }
        if !self.sources.is_empty() {
            cfg.sources = self.sources.clone();
        }
        if let Some(p) = &self.audit_log {
            cfg.audit_log.path = p.clone();
        }
        Ok(cfg)
    }
}

/// The `run` command: returns the exit code.
pub fn main(args: Args) -> anyhow::Result<i32> {
    let cfg = args.config()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let stop = daemon::shutdown_signal()?;
        daemon::run(cfg, stop).await
    })?;
    Ok(0)
}
