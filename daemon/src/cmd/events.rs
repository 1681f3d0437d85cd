//! `seccomp-watch events`: the stored events, as an aligned table (every value escaped) or
//! as JSON Lines.
//!
//! `events --json` prints the `parse` format plus `source`, `container` (object or null),
//! `unit`, `workload` and `attributed`.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use parsers::escape::escape;
use parsers::{Action, ScmpArch};

use crate::pipeline::Item;
use crate::query::{broken_pipe, event_json, open_read, parse_when, write_table};
use crate::store::{EventQuery, Store, SyscallFilter};

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
    /// Database file, or the fleet's `postgres://...` URL.
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = open_read(args.db.as_deref()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscalls_by_name_or_number() {
        assert_eq!(
            parse_syscall("ptrace").unwrap(),
            SyscallFilter::Name("ptrace".into())
        );
        assert_eq!(parse_syscall("101").unwrap(), SyscallFilter::Number(101));
        assert!(parse_syscall("no_such_call").is_err());
    }
}
