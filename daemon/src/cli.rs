//! Command-line parsing (clap) and dispatch to the commands.

use crate::parse_cmd;
use crate::profile_cmd;

use clap::{Parser, Subcommand};

/// Watch seccomp audit records, attribute them to containers, alert, and suggest profile
/// changes.
#[derive(Debug, Parser)]
#[command(name = "seccomp-watch", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse audit records (audit.log, kernel log, syslog) to JSON events, one a line.
    Parse(parse_cmd::Args),
    /// Import audit logs (rotated and gzipped ones too) into the database, idempotently.
    Ingest(crate::ingest::Args),
    /// Show stored events (table, or JSON Lines with --json).
    Events(crate::query::EventsArgs),
    /// Summarise stored events by workload, syscall or action.
    Summary(crate::query::SummaryArgs),
    /// Check that this host and configuration can work; one line per check, with the fix.
    Doctor(crate::doctor::Args),
    /// Print shell completions (for packaging).
    #[command(hide = true)]
    Completions(crate::completions::CompletionsArgs),
    /// Print or write the man pages (for packaging).
    #[command(hide = true)]
    Man(crate::completions::ManArgs),
    /// Run the daemon: read SECCOMP records from the kernel (netlink, audit.log, kmsg) and
    /// store them.
    Run(crate::run::Args),
    /// Suggest profile changes from the stored evidence of a workload, container or pod.
    Suggest(profile_cmd::suggest::Args),
    /// Alert rules: show the rules in force, check a rules file, test rules on events.
    Rules(crate::alerts_cmd::RulesArgs),
    /// List stored alerts and their delivery state; `alerts retry ID` queues a dead one again.
    Alerts(crate::alerts_cmd::AlertsArgs),
    /// Generate a least-privilege profile from the stored evidence of a selection.
    Generate(profile_cmd::generate::Args),
    /// Run a command under a logging seccomp filter and write the profile it needs.
    Record(profile_cmd::record::Args),
    /// Merge profiles: the union of their allow lists, conflicts reported.
    Merge(profile_cmd::merge::Args),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SECCOMP_WATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn main() {
    init_tracing();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Parse(a) => parse_cmd::run(a),
        Command::Ingest(a) => crate::ingest::run(a),
        Command::Events(a) => crate::query::run_events(a),
        Command::Summary(a) => crate::query::run_summary(a),
        Command::Doctor(a) => crate::doctor::run(a),
        Command::Completions(a) => crate::completions::completions(a),
        Command::Man(a) => crate::completions::man(a),
        Command::Run(a) => crate::run::main(a),
        Command::Suggest(a) => profile_cmd::suggest::run(a),
        Command::Generate(a) => profile_cmd::generate::run(a),
        Command::Rules(a) => crate::alerts_cmd::run_rules(a),
        Command::Alerts(a) => crate::alerts_cmd::run_alerts(a),
        Command::Record(a) => profile_cmd::record::run(a),
        Command::Merge(a) => profile_cmd::merge::run(a),
    };
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!(
                "seccomp-watch: {}",
                parsers::escape::escape(&format!("{e:#}"))
            );
            std::process::exit(2);
        }
    }
}
