//! `seccomp-watch summary`: the stored aggregates by workload, syscall or action, as an
//! aligned table (every value escaped) or as JSON Lines.

use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::query::{broken_pipe, open_read, write_table};
use crate::store::{Store, SummaryBy, SummaryRow};

/// How `summary` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Workload,
    Syscall,
    Action,
    /// By node (the fleet database's nodes; a node's own file: the events' node names).
    Node,
}

/// Arguments of `seccomp-watch summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// Group by workload, syscall, action or node.
    #[arg(long, value_enum, default_value_t = By::Workload)]
    pub by: By,
    /// JSON Lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Database file, or the fleet's `postgres://...` URL.
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
}

fn summary_json(by: SummaryBy, r: &SummaryRow) -> Value {
    let mut m = Map::new();
    match by {
        SummaryBy::Workload => {
            m.insert(
                "workload".into(),
                Value::from(r.workload.clone().unwrap_or_default()),
            );
            m.insert("syscalls".into(), Value::from(r.syscalls));
        }
        SummaryBy::Syscall => {
            let e = syscall_event(r);
            m.insert("arch".into(), Value::from(e.arch_name()));
            m.insert(
                "syscall".into(),
                e.syscall().map_or(Value::Null, Value::from),
            );
            m.insert("syscall_nr".into(), Value::from(e.syscall_nr));
            m.insert("workloads".into(), Value::from(r.workloads));
        }
        SummaryBy::Action => {
            m.insert(
                "action".into(),
                Value::from(r.action.map(|a| a.to_string()).unwrap_or_default()),
            );
            m.insert("workloads".into(), Value::from(r.workloads));
            m.insert("syscalls".into(), Value::from(r.syscalls));
        }
        SummaryBy::Node => {
            m.insert(
                "node".into(),
                Value::from(r.node.clone().unwrap_or_default()),
            );
            m.insert("workloads".into(), Value::from(r.workloads));
            m.insert("syscalls".into(), Value::from(r.syscalls));
        }
    }
    m.insert("events".into(), Value::from(r.events));
    m.insert(
        "first_seen".into(),
        Value::from(parsers::time::rfc3339_ms(r.first_ms)),
    );
    m.insert(
        "last_seen".into(),
        Value::from(parsers::time::rfc3339_ms(r.last_ms)),
    );
    Value::Object(m)
}

fn syscall_event(r: &SummaryRow) -> parsers::Event {
    crate::store::call_event(r.arch.unwrap_or(0), r.syscall_nr.unwrap_or(-1))
}

/// Prints the summary; returns the number of rows.
pub async fn print_summary<S: Store>(
    store: &S,
    by: SummaryBy,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<usize> {
    let rows = store.summary(by).await?;
    let t = parsers::time::rfc3339_ms;
    let r: io::Result<()> = (|| {
        if json {
            for r in &rows {
                writeln!(out, "{}", summary_json(by, r))?;
            }
            return Ok(());
        }
        let (header, cells): (&[&str], Vec<Vec<String>>) = match by {
            SummaryBy::Workload => (
                &["WORKLOAD", "EVENTS", "SYSCALLS", "FIRST SEEN", "LAST SEEN"],
                rows.iter()
                    .map(|r| {
                        vec![
                            r.workload.clone().unwrap_or_default(),
                            r.events.to_string(),
                            r.syscalls.to_string(),
                            t(r.first_ms),
                            t(r.last_ms),
                        ]
                    })
                    .collect(),
            ),
            SummaryBy::Syscall => (
                &[
                    "SYSCALL",
                    "ARCH",
                    "NR",
                    "EVENTS",
                    "WORKLOADS",
                    "FIRST SEEN",
                    "LAST SEEN",
                ],
                rows.iter()
                    .map(|r| {
                        let e = syscall_event(r);
                        vec![
                            e.syscall().unwrap_or("?").to_string(),
                            e.arch_name(),
                            e.syscall_nr.to_string(),
                            r.events.to_string(),
                            r.workloads.to_string(),
                            t(r.first_ms),
                            t(r.last_ms),
                        ]
                    })
                    .collect(),
            ),
            SummaryBy::Node => (
                &[
                    "NODE",
                    "EVENTS",
                    "WORKLOADS",
                    "SYSCALLS",
                    "FIRST SEEN",
                    "LAST SEEN",
                ],
                rows.iter()
                    .map(|r| {
                        vec![
                            match r.node.as_deref() {
                                None | Some("") => "-".to_string(),
                                Some(n) => n.to_string(),
                            },
                            r.events.to_string(),
                            r.workloads.to_string(),
                            r.syscalls.to_string(),
                            t(r.first_ms),
                            t(r.last_ms),
                        ]
                    })
                    .collect(),
            ),
            SummaryBy::Action => (
                &[
                    "ACTION",
                    "EVENTS",
                    "WORKLOADS",
                    "SYSCALLS",
                    "FIRST SEEN",
                    "LAST SEEN",
                ],
                rows.iter()
                    .map(|r| {
                        vec![
                            r.action.map(|a| a.to_string()).unwrap_or_default(),
                            r.events.to_string(),
                            r.workloads.to_string(),
                            r.syscalls.to_string(),
                            t(r.first_ms),
                            t(r.last_ms),
                        ]
                    })
                    .collect(),
            ),
        };
        write_table(out, header, &cells)
    })();
    match r.and_then(|_| out.flush()) {
        Err(e) if broken_pipe(&e) => {}
        Err(e) => return Err(e.into()),
        Ok(()) => {}
    }
    Ok(rows.len())
}

/// `seccomp-watch summary`.
pub fn run_summary(args: SummaryArgs) -> anyhow::Result<i32> {
    let by = match args.by {
        By::Workload => SummaryBy::Workload,
        By::Syscall => SummaryBy::Syscall,
        By::Action => SummaryBy::Action,
        By::Node => SummaryBy::Node,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = open_read(args.db.as_deref()).await?;
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        let n = print_summary(&store, by, args.json, &mut out).await?;
        if !args.json {
            if n == 0 {
                eprintln!("no events");
            }
            let losses = store.losses().await?;
            if !losses.is_empty() {
                let list: Vec<String> = losses.iter().map(|(c, n)| format!("{c} {n}")).collect();
                let _ = writeln!(out, "\nrecords lost or unreadable: {}", list.join(", "));
                let _ = out.flush();
            }
        }
        store.close().await;
        Ok(0)
    })
}
