//! `seccomp-watch doctor [--json]`: checks that this host and this configuration can work,
//! one line per check with the fix. Exit 0 when healthy, 1 with warnings, 2 when something
//! fatal stops the daemon from seeing SECCOMP records.
//!
//! Checks: configuration and rules; kernel audit and seccomp support;
//! `kernel.seccomp.actions_logged`; CAP_AUDIT_READ; the initial network namespace; a live
//! probe (a child process makes one SECCOMP_RET_LOG'd call and the record must arrive on
//! the audit multicast socket); auditd and its `log_format`; the audit backlog limit and
//! lost count (AUDIT_GET); which sources would run; the database path; the container
//! runtimes' state directories; the sandbox profile; the HTTP settings; the fleet database
//! (connection, schema, replication lag); and the service as
//! its unit runs it (its user and capabilities, what a missing one costs, what that user
//! can read).

mod auditd;
#[cfg(test)]
mod example_tests;
mod fleet;
mod kernel;
mod probe;
mod report;
mod service;
mod setup;

use std::io::Write;
use std::path::PathBuf;

pub use auditd::{parse_auditd_conf, AuditdConf};
pub use kernel::{has_word, missing_logged_actions, MIN_BACKLOG_LIMIT};
pub use probe::probe_netlink;
pub use report::{Finding, Level, Report};
pub use service::{cap_names, parse_units, ServiceProfile, SHIPPED_UNIT};

use auditd::check_auditd;
use kernel::{check_audit_read, check_audit_status, check_kernel, check_netns};
use probe::check_probe;
use setup::{
    check_config, check_database, check_http, check_rules, check_runtimes, check_sandbox,
    check_sources,
};

/// `seccomp-watch doctor` options.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Configuration file (default: /etc/seccomp-watch/config.toml when it exists).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// One JSON object: every check and the overall status.
    #[arg(long)]
    pub json: bool,
    /// Skip the live probe (which makes one logged syscall in a child process).
    #[arg(long)]
    pub no_probe: bool,
    /// The unit whose user and capabilities the service checks assume (default: the
    /// installed seccomp-watch.service and its drop-ins, else the shipped unit).
    #[arg(long, value_name = "FILE")]
    pub unit: Option<PathBuf>,
}

/// Runs `doctor` and prints the report; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let report = diagnose(&args);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report.json())?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(report.text().as_bytes())?;
    }
    out.flush()?;
    Ok(report.exit_code())
}

/// Runs every check.
pub fn diagnose(args: &Args) -> Report {
    let mut r = Report::default();
    let cfg = check_config(&mut r, args.config.as_deref());
    check_rules(&mut r, &cfg);
    check_kernel(&mut r);
    let can_read = check_audit_read(&mut r);
    check_netns(&mut r);
    if can_read && !args.no_probe {
        check_probe(&mut r);
    }
    check_audit_status(&mut r);
    check_auditd(&mut r, &cfg);
    check_sources(&mut r, &cfg);
    check_database(&mut r, &cfg.db);
    check_runtimes(&mut r, &cfg);
    check_sandbox(&mut r, &cfg);
    check_http(&mut r, &cfg);
    fleet::check_fleet(&mut r, &cfg);
    service::check_service(&mut r, &cfg, args.unit.as_deref());
    r
}
