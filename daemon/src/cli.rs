//! Command-line parsing (clap) and dispatch to the commands ([`crate::cmd`]).

use clap::{CommandFactory, Parser, Subcommand};

use crate::cmd;

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
    Parse(cmd::parse::Args),
    /// Import audit logs (rotated and gzipped ones too) into the database, idempotently.
    Ingest(cmd::ingest::Args),
    /// Show stored events (table, or JSON Lines with --json).
    Events(cmd::events::EventsArgs),
    /// Summarise stored events by workload, syscall, action or node.
    Summary(cmd::summary::SummaryArgs),
    /// Check that this host and configuration can work; one line per check, with the fix.
    Doctor(cmd::doctor::Args),
    /// Print shell completions (for packaging).
    #[command(hide = true)]
    Completions(cmd::completions::CompletionsArgs),
    /// Print or write the man pages (for packaging).
    #[command(hide = true)]
    Man(cmd::completions::ManArgs),
    /// Run the daemon: read SECCOMP records from the kernel (netlink, audit.log, kmsg) and
    /// store them.
    Run(cmd::run::Args),
    /// Serve the HTTP API and /metrics over a database (the fleet's PostgreSQL), without
    /// reading any source.
    Serve(cmd::serve::Args),
    /// Suggest profile changes from the stored evidence of a workload, container or pod.
    Suggest(cmd::suggest::Args),
    /// Alert rules: show the rules in force, check a rules file, test rules on events.
    Rules(cmd::rules::RulesArgs),
    /// List stored alerts and their delivery state; `alerts retry ID` queues a dead one again.
    Alerts(cmd::alerts::AlertsArgs),
    /// Generate a least-privilege profile from the stored evidence of a selection.
    Generate(cmd::generate::Args),
    /// Run a command under a logging seccomp filter and write the profile it needs.
    Record(cmd::record::Args),
    /// Merge profiles: the union of their allow lists, conflicts reported.
    Merge(cmd::merge::Args),
    /// Operations on one profile: `profile complain` (observe mode: denying actions to LOG).
    Profile(cmd::profile::Args),
    /// The fleet's central PostgreSQL: `fleet migrate` creates or upgrades its schema.
    Fleet(cmd::fleet::FleetArgs),
}

pub fn main() {
    crate::logging::init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Parse(a) => cmd::parse::run(a),
        Command::Ingest(a) => cmd::ingest::run(a),
        Command::Events(a) => cmd::events::run_events(a),
        Command::Summary(a) => cmd::summary::run_summary(a),
        Command::Doctor(a) => cmd::doctor::run(a),
        Command::Completions(a) => cmd::completions::completions(a, Cli::command()),
        Command::Man(a) => cmd::completions::man(a, Cli::command()),
        Command::Run(a) => cmd::run::main(a),
        Command::Serve(a) => cmd::serve::main(a),
        Command::Suggest(a) => cmd::suggest::run(a),
        Command::Generate(a) => cmd::generate::run(a),
        Command::Rules(a) => cmd::rules::run_rules(a),
        Command::Alerts(a) => cmd::alerts::run_alerts(a),
        Command::Record(a) => cmd::record::run(a),
        Command::Merge(a) => cmd::merge::run(a),
        Command::Profile(a) => cmd::profile::run(a),
        Command::Fleet(a) => cmd::fleet::run(a),
    };
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            crate::logging::plain(tracing::Level::ERROR, &crate::logging::error_line(&e));
            std::process::exit(2);
        }
    }
}
