//! `seccomp-watch rules show|check|test`.
//!
//! - `rules show [FILE]`: the rules in force (the built-ins without FILE), one block each.
//! - `rules check FILE`: validates; prints `FILE:LINE: reason` per problem, exit 1 if any.
//! - `rules test [FILE] --events EVENTS.jsonl`: evaluates events (the stable JSON of
//!   `seccomp-watch parse` or `events --json`, optionally with attribution keys
//!   `workload`, `container` {id, runtime, name, image, pod, namespace}, `profile_hash`,
//!   `unit`, or all of them under `attribution`) and prints which rules fire on each, then
//!   the alerts the roll-up would raise.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Subcommand};
use parsers::escape::escape;
use parsers::{Attribution, ContainerInfo, Event};
use rules::engine::{Engine, EngineOptions, Input, RuleSet, BUILTIN_GROUPS};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::alerts;

/// `seccomp-watch rules ...`
#[derive(Debug, ClapArgs)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Show the rules (the built-in rules without FILE) and the built-in syscall groups.
    Show {
        /// A rules file (TOML).
        file: Option<PathBuf>,
        /// Print the built-in rules file as it is embedded (TOML).
        #[arg(long, conflicts_with = "file")]
        toml: bool,
    },
    /// Validate a rules file: one `FILE:LINE: reason` line per problem, exit 1 if any.
    Check { file: PathBuf },
    /// Show which rules fire on each event of a JSON Lines file, and the alerts they raise.
    Test {
        /// A rules file (the built-in rules when absent).
        file: Option<PathBuf>,
        /// Events, one JSON object a line (`-` for standard input).
        #[arg(long, value_name = "EVENTS.jsonl")]
        events: PathBuf,
        /// Learning window of `novel` in hours (default 24; 0 makes every first call novel).
        #[arg(long, default_value_t = 24)]
        learning_hours: u64,
        /// Roll-up window in seconds.
        #[arg(long, default_value_t = 600)]
        window_secs: u64,
        /// A seccomp profile (JSON) events may name by its SHA-256 in `profile_hash`
        /// (repeatable), for `not_in_profile`.
        #[arg(long = "profile", value_name = "FILE")]
        profiles: Vec<PathBuf>,
        /// One JSON object per event and per alert instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `seccomp-watch rules ...`; returns the exit code.
pub fn run_rules(args: RulesArgs) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.command {
        RulesCommand::Show { file, toml } => {
            if toml {
                out.write_all(rules::engine::DEFAULT_RULES_TOML.as_bytes())?;
                return Ok(0);
            }
            let rs = alerts::load_rules(file.as_deref())?;
            show(&mut out, &rs, file.is_none())?;
            Ok(0)
        }
        RulesCommand::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            match RuleSet::parse(&text) {
                Ok(rs) => {
                    let enabled = rs.rules().iter().filter(|r| r.enabled).count();
                    writeln!(
                        out,
                        "{}: ok, {} rules ({enabled} enabled)",
                        file.display(),
                        rs.rules().len()
                    )?;
                    Ok(0)
                }
                Err(errs) => {
                    for e in &errs.0 {
                        let msg = escape(&e.message);
                        match e.line {
                            Some(l) => writeln!(out, "{}:{l}: {msg}", file.display())?,
                            None => writeln!(out, "{}: {msg}", file.display())?,
                        }
                    }
                    Ok(1)
                }
            }
        }
        RulesCommand::Test {
            file,
            events,
            learning_hours,
            window_secs,
            profiles,
            json,
        } => {
            let rs = alerts::load_rules(file.as_deref())?;
            let opts = EngineOptions {
                window_ms: (window_secs.max(1) as i64).saturating_mul(1000),
                learning_ms: (learning_hours as i64).saturating_mul(3_600_000),
                ..EngineOptions::default()
            };
            let mut engine = Engine::new(Arc::new(rs), opts);
            for p in &profiles {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                let hash = hex::encode(Sha256::digest(text.as_bytes()));
                if !engine.add_profile(&hash, &text) {
                    bail!("{}: not a seccomp profile", p.display());
                }
                if !json {
                    writeln!(out, "profile {} = {hash}", p.display())?;
                }
            }
            test_events(&mut out, &mut engine, &events, json)
        }
    }
}

fn show(out: &mut impl Write, rs: &RuleSet, builtin: bool) -> anyhow::Result<()> {
    if builtin {
        writeln!(
            out,
            "# built-in rules (`rules show --toml` prints their TOML)"
        )?;
    }
    for r in rs.rules() {
        let state = if r.enabled { "" } else { " (disabled)" };
        let origin = if r.builtin { " [built-in]" } else { "" };
        writeln!(out, "{} [{}]{origin}{state}", r.name, r.severity)?;
        if let Some(d) = &r.description {
            writeln!(out, "    {}", escape(d))?;
        }
        if r.conditions.is_empty() {
            writeln!(out, "    when: any event")?;
        } else {
            writeln!(out, "    when: {}", escape(&r.conditions.join("; ")))?;
        }
        for e in &r.exceptions {
            writeln!(out, "    except: {}", escape(e))?;
        }
    }
    for (name, members) in rs.groups() {
        writeln!(out, "group @{name}: {}", escape(&members.join(", ")))?;
    }
    writeln!(out)?;
    for (name, what, members) in BUILTIN_GROUPS {
        writeln!(
            out,
            "group @{name} [built-in]: {what}\n    {}",
            members.join(", ")
        )?;
    }
    Ok(())
}

/// The attribution keys of an event line.
fn attribution_of(v: &Value, event: &Event) -> Attribution {
    let src = v.get("attribution").filter(|a| a.is_object()).unwrap_or(v);
    let container: Option<ContainerInfo> = src
        .get("container")
        .filter(|c| c.is_object())
        .and_then(|c| serde_json::from_value(c.clone()).ok());
    let unit = src.get("unit").and_then(Value::as_str).map(str::to_string);
    let workload = src
        .get("workload")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            parsers::workload::workload_key(
                container.as_ref(),
                unit.as_deref(),
                event.exe.as_deref(),
            )
        });
    Attribution {
        attributed: container.is_some() || unit.is_some(),
        container,
        unit,
        workload,
        profile_hash: src
            .get("profile_hash")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

fn test_events(
    out: &mut impl Write,
    engine: &mut Engine,
    path: &PathBuf,
    json: bool,
) -> anyhow::Result<i32> {
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        ))
    };
    let (mut events, mut matched, mut bad) = (0u64, 0u64, 0u64);
    let mut all_alerts = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<Value>(&line)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                serde_json::from_value::<Event>(v.clone())
                    .map(|e| (v, e))
                    .map_err(|e| e.to_string())
            });
        let (v, event) = match parsed {
            Ok(x) => x,
            Err(e) => {
                bad += 1;
                eprintln!("{}:{}: not an event: {}", path.display(), i + 1, escape(&e));
                continue;
            }
        };
        events += 1;
        let attr = attribution_of(&v, &event);
        let idx = engine.observe(&Input::new(&event, &attr)).to_vec();
        let fired: Vec<String> = idx
            .iter()
            .filter_map(|&r| {
                engine
                    .rules()
                    .rule(r as usize)
                    .map(|r| format!("{} ({})", r.name, r.severity))
            })
            .collect();
        if !fired.is_empty() {
            matched += 1;
        }
        if json {
            let o = serde_json::json!({
                "line": i + 1,
                "time": event.time_rfc3339(),
                "workload": attr.workload,
                "syscall": event.syscall().map(str::to_string).unwrap_or_else(|| event.syscall_nr.to_string()),
                "arch": event.arch_name(),
                "action": event.action().to_string(),
                "rules": fired,
            });
            writeln!(out, "{o}")?;
        } else {
            let syscall = event
                .syscall()
                .map(str::to_string)
                .unwrap_or_else(|| event.syscall_nr.to_string());
            let rules = if fired.is_empty() {
                "-".to_string()
            } else {
                fired.join(", ")
            };
            writeln!(
                out,
                "line {}: {} {} {} {} -> {}",
                i + 1,
                event.time_rfc3339(),
                escape(&attr.workload),
                syscall,
                event.action(),
                escape(&rules)
            )?;
        }
        if events % 10_000 == 0 {
            all_alerts.extend(engine.drain().alerts);
        }
    }
    all_alerts.extend(engine.drain().alerts);
    // Latest snapshot per alert id, in first-seen order.
    let mut order: Vec<String> = Vec::new();
    let mut latest: std::collections::HashMap<String, Arc<rules::engine::Alert>> =
        std::collections::HashMap::new();
    for c in all_alerts {
        if !latest.contains_key(&c.alert.id) {
            order.push(c.alert.id.clone());
        }
        latest.insert(c.alert.id.clone(), c.alert);
    }
    if json {
        for id in &order {
            if let Some(a) = latest.get(id) {
                writeln!(out, "{}", serde_json::json!({ "alert": a.payload(true) }))?;
            }
        }
    } else {
        writeln!(
            out,
            "\n{events} events, {matched} matched a rule, {} alerts:",
            order.len()
        )?;
        for id in &order {
            if let Some(a) = latest.get(id) {
                writeln!(out, "  {} [{}] {}", a.id, a.severity, escape(&a.summary()))?;
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} lines were not events");
    }
    Ok(if bad > 0 { 1 } else { 0 })
}
