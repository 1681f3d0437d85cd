//! `seccomp-watch events` and `seccomp-watch summary`: the stored events and the
//! aggregates, as an aligned table (every value escaped) or as JSON Lines.
//!
//! `events --json` prints the `parse` format plus `source`, `container` (object or null),
//! `unit`, `workload` and `attributed`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use parsers::escape::escape;
use parsers::{Action, ScmpArch};
use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::pipeline::Item;
use crate::store::{EventQuery, SqliteStore, Store, SummaryBy, SummaryRow, SyscallFilter};

/// The database path: `--db`, else the configuration's (`/etc/seccomp-watch/config.toml`
/// when it exists), else the default.
pub fn db_path(db: Option<&Path>) -> anyhow::Result<PathBuf> {
    match db {
        Some(p) => Ok(p.to_path_buf()),
        None => Ok(Config::load(None)?.db),
    }
}

/// Arguments of `seccomp-watch events`.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Events at or after this time: a duration ago (`90s`, `15m`, `1h`, `7d`) or RFC 3339.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Events before this time: a duration ago or RFC 3339.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// A syscall name (resolved with each event's arch) or number.
    #[arg(long, value_name = "NAME|NR")]
    pub syscall: Option<String>,
    /// An action: `log`, `SCMP_ACT_LOG`, `kill_process`, `errno`, ... or a raw code.
    #[arg(long)]
    pub action: Option<String>,
    /// A container id or a prefix of one.
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// A workload key (see `summary`).
    #[arg(long, value_name = "KEY")]
    pub workload: Option<String>,
    /// The newest N events (0: all, oldest first).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
    /// JSON Lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Database file.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

/// How `summary` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Workload,
    Syscall,
    Action,
}

/// Arguments of `seccomp-watch summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// Group by workload, syscall or action.
    #[arg(long, value_enum, default_value_t = By::Workload)]
    pub by: By,
    /// JSON Lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Database file.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Parses `--since`/`--until`: a duration ago (`500ms`, `90s`, `15m`, `1h`, `7d`, `2w`;
/// a bare number is seconds), an RFC 3339 time, or a date (`2026-11-29`, midnight UTC).
pub fn parse_when(s: &str, now_ms: i64) -> anyhow::Result<i64> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        let (num, unit) = t.split_at(digits);
        let ms_per = match unit {
            "" | "s" => Some(1000),
            "ms" => Some(1),
            "m" | "min" => Some(60_000),
            "h" => Some(3_600_000),
            "d" => Some(86_400_000),
            "w" => Some(7 * 86_400_000),
            _ => None,
        };
        if let Some(per) = ms_per {
            let n: i64 = num
                .parse()
                .with_context(|| format!("bad duration {:?}", escape(s)))?;
            return Ok(now_ms.saturating_sub(n.saturating_mul(per)));
        }
    }
    let b = t.as_bytes();
    if let Some((ms, used)) = parsers::time::parse_iso8601_ms(b) {
        if used == b.len() {
            return Ok(ms);
        }
    }
    if b.len() == 10 {
        let full = format!("{t}T00:00:00Z");
        if let Some((ms, used)) = parsers::time::parse_iso8601_ms(full.as_bytes()) {
            if used == full.len() {
                return Ok(ms);
            }
        }
    }
    bail!(
        "bad time {:?}: use a duration ago (90s, 15m, 1h, 7d) or RFC 3339",
        escape(s)
    )
}

/// Parses `--syscall`: a number, or a name known on at least one arch.
pub fn parse_syscall(s: &str) -> anyhow::Result<SyscallFilter> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(SyscallFilter::Number(n));
    }
    if ScmpArch::ALL
        .iter()
        .any(|a| parsers::syscalls::syscall_number(*a, t).is_some())
    {
        return Ok(SyscallFilter::Name(t.to_string()));
    }
    bail!("unknown syscall {:?}", escape(s))
}

/// The `events --json` object of a stored event.
pub fn event_json(it: &Item) -> Map<String, Value> {
    let mut m = it.event.to_json_map();
    let a = &it.attribution;
    m.insert("source".into(), Value::from(it.source.as_str()));
    m.insert(
        "container".into(),
        match &a.container {
            Some(c) => json!({
                "id": c.id, "runtime": c.runtime, "name": c.name, "image": c.image,
                "pod": c.pod, "namespace": c.namespace, "pod_uid": c.pod_uid,
            }),
            None => Value::Null,
        },
    );
    m.insert(
        "unit".into(),
        a.unit.clone().map_or(Value::Null, Value::from),
    );
    m.insert("workload".into(), Value::from(a.workload.clone()));
    m.insert("attributed".into(), Value::from(a.attributed));
    m
}

/// Writes rows as an aligned table; every cell is escaped first.
pub fn write_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape(c).into_owned()).collect())
        .collect();
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &cells {
        for (i, c) in r.iter().enumerate() {
            if let Some(x) = w.get_mut(i) {
                *x = (*x).max(c.chars().count());
            }
        }
    }
    let line = |out: &mut dyn Write, r: &[String]| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                s.push_str(c);
            } else {
                let pad = w
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(c.chars().count());
                s.push_str(c);
                s.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(
        out,
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    )?;
    for r in &cells {
        line(out, r)?;
    }
    Ok(())
}

const EVENT_HEADER: [&str; 11] = [
    "TIME",
    "SOURCE",
    "PID",
    "COMM",
    "SYSCALL",
    "ARCH",
    "ACTION",
    "WORKLOAD",
    "CONTAINER",
    "NODE",
    "EXE",
];

fn event_row(it: &Item) -> Vec<String> {
    let e = &it.event;
    let a = &it.attribution;
    let syscall = match e.syscall() {
        Some(n) => n.to_string(),
        None => e.syscall_nr.to_string(),
    };
    let arch = match e.arch() {
        Some(a) => a.resolver_name().to_string(),
        None => format!("{:#x}", e.audit_arch),
    };
    let container = match &a.container {
        Some(c) => {
            let id = &c.id[..c.id.len().min(12)];
            match &c.name {
                Some(n) => format!("{id} {n}"),
                None => id.to_string(),
            }
        }
        None => "-".into(),
    };
    vec![
        e.time_rfc3339(),
        it.source.as_str().into(),
        e.pid.to_string(),
        e.comm.clone().unwrap_or_else(|| "-".into()),
        syscall,
        arch,
        e.action()
            .to_string()
            .trim_start_matches("SCMP_ACT_")
            .to_string(),
        if a.attributed {
            a.workload.clone()
        } else {
            format!("{} (unattributed)", a.workload)
        },
        container,
        e.node.clone().unwrap_or_else(|| "-".into()),
        e.exe.clone().unwrap_or_else(|| "-".into()),
    ]
}

fn broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Prints events matching `q` (`limit` 0: all, streamed page by page).
pub async fn print_events<S: Store>(
    store: &S,
    mut q: EventQuery,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let mut n = 0u64;
    let mut emit = |items: &[Item], out: &mut dyn Write| -> io::Result<()> {
        if json {
            let mut buf = Vec::with_capacity(512);
            for it in items {
                buf.clear();
                serde_json::to_writer(&mut buf, &event_json(it)).map_err(io::Error::other)?;
                buf.push(b'\n');
                out.write_all(&buf)?;
            }
        } else if !items.is_empty() {
            let rows: Vec<Vec<String>> = items.iter().map(event_row).collect();
            write_table(out, &EVENT_HEADER, &rows)?;
        }
        n += items.len() as u64;
        Ok(())
    };
    let r = if q.limit > 0 {
        q.newest_first = true;
        let page = store.events(&q).await?;
        let mut items: Vec<Item> = page.events.into_iter().map(|e| e.item).collect();
        items.reverse();
        emit(&items, out)
    } else {
        q.newest_first = false;
        q.limit = 5000;
        loop {
            let page = store.events(&q).await?;
            let items: Vec<Item> = page.events.into_iter().map(|e| e.item).collect();
            if let Err(e) = emit(&items, out) {
                break Err(e);
            }
            match page.next {
                Some(c) => q.after = Some(c),
                None => break Ok(()),
            }
        }
    };
    match r.and_then(|_| out.flush()) {
        Err(e) if broken_pipe(&e) => Ok(n),
        Err(e) => Err(e.into()),
        Ok(()) => Ok(n),
    }
}

/// `seccomp-watch events`.
pub fn run_events(args: EventsArgs) -> anyhow::Result<i32> {
    let now = now_ms();
    let q = EventQuery {
        since_ms: args
            .since
            .as_deref()
            .map(|s| parse_when(s, now))
            .transpose()?,
        until_ms: args
            .until
            .as_deref()
            .map(|s| parse_when(s, now))
            .transpose()?,
        syscall: args.syscall.as_deref().map(parse_syscall).transpose()?,
        action: match args.action.as_deref() {
            Some(a) => {
                Some(Action::parse(a).with_context(|| format!("unknown action {:?}", escape(a)))?)
            }
            None => None,
        },
        container: args.container.clone(),
        workload: args.workload.clone(),
        limit: args.limit,
        newest_first: true,
        after: None,
    };
    let db = db_path(args.db.as_deref())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = SqliteStore::open_existing(&db).await?;
        let stdout = io::stdout();
        let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
        let n = print_events(&store, q, args.json, &mut out).await?;
        if n == 0 && !args.json {
            eprintln!("no events");
        }
        store.close().await;
        Ok(0)
    })
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
    crate::store::Observation {
        audit_arch: r.arch.unwrap_or(0),
        syscall_nr: r.syscall_nr.unwrap_or(-1),
        compat: false,
        action: Action::Log,
        count: 0,
        containers: 0,
        first_ms: 0,
        last_ms: 0,
        sample_comm: None,
        sample_exe: None,
    }
    .as_event()
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
    };
    let db = db_path(args.db.as_deref())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = SqliteStore::open_existing(&db).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_when("90s", now).unwrap(), now - 90_000);
        assert_eq!(parse_when("15m", now).unwrap(), now - 900_000);
        assert_eq!(parse_when("1h", now).unwrap(), now - 3_600_000);
        assert_eq!(parse_when("7d", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(parse_when("30", now).unwrap(), now - 30_000);
        assert_eq!(
            parse_when("2026-11-30T00:04:12.837Z", now).unwrap(),
            1_795_997_052_837
        );
        assert_eq!(parse_when("2026-11-30", now).unwrap(), 1_795_996_800_000);
        assert!(parse_when("yesterday", now).is_err());
        assert!(parse_when("5y", now).is_err());
        assert!(parse_when("2026-11-30T00:04:12Zjunk", now).is_err());
    }

    #[test]
    fn syscalls_by_name_or_number() {
        assert_eq!(
            parse_syscall("ptrace").unwrap(),
            SyscallFilter::Name("ptrace".into())
        );
        assert_eq!(parse_syscall("101").unwrap(), SyscallFilter::Number(101));
        assert!(parse_syscall("no_such_call").is_err());
    }

    #[test]
    fn tables_align_and_escape() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &["A", "B"],
            &[
                vec!["x\x1b[31m".into(), "first".into()],
                vec!["long value".into(), "second".into()],
            ],
        )
        .unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(!s.contains('\x1b'), "{s}");
        assert!(s.contains("x\\e[31m"), "{s}");
        let lines: Vec<&str> = s.lines().collect();
        let col = lines[0].find('B').unwrap();
        assert_eq!(lines[1].find("first"), Some(col));
        assert_eq!(lines[2].find("second"), Some(col));
    }
}
