//! Where log lines go and how they look: `tracing` to stderr, coloured only when stderr is
//! a terminal and `NO_COLOR` is not set; under systemd (`JOURNAL_STREAM` names our stderr)
//! each line starts with its syslog priority as sd-daemon's `<N>` prefix (journald strips
//! it and files the line at that priority: `journalctl -p warning` shows warnings) and
//! without a timestamp of our own (journald stamps every line). The plain lines the daemon
//! prints ([`plain`]) and the final error ([`error_line`]) follow the same rules, so that
//! one ordered stream carries everything.
//!
//! Why the prefix and not `tracing-journald`: one stream keeps the plain start-up lines
//! and the tracing events in order, it needs no second socket (and no new dependency), and
//! the same output reads well in a terminal, a file or a container log. What it gives up:
//! structured journal fields (the target and fields stay in the message text).

use std::fmt;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{DefaultFields, Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How stderr is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// Lines carry `<N>` priority prefixes (journald reads our stderr).
    pub journal: bool,
    /// ANSI colours (stderr is a terminal, NO_COLOR is not set, not the journal).
    pub color: bool,
}

impl Output {
    /// Decides from the environment and stderr.
    pub fn detect() -> Output {
        let stderr = std::io::stderr();
        let journal = std::env::var("JOURNAL_STREAM")
            .ok()
            .is_some_and(|v| names_stderr(&v));
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            journal,
            color: !journal && !no_color && stderr.is_terminal(),
        }
    }
}

/// Whether `JOURNAL_STREAM` (`DEVICE:INODE`) names this process's stderr: systemd sets it
/// for the service's own streams; a child writing elsewhere inherits it but must not
/// prefix.
fn names_stderr(v: &str) -> bool {
    let Some((dev, ino)) = v.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    std::fs::metadata("/proc/self/fd/2")
        .or_else(|_| std::fs::metadata("/dev/stderr"))
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

static OUTPUT: OnceLock<Output> = OnceLock::new();

/// The output chosen by [`init`] (detected on first use otherwise).
pub fn output() -> Output {
    *OUTPUT.get_or_init(Output::detect)
}

/// The syslog priority of a tracing level (sd-daemon.h: SD_ERR 3, SD_WARNING 4, SD_INFO 6,
/// SD_DEBUG 7).
pub fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// `text` with `<N>` before every line (a message with newlines stays at its priority).
pub fn prefix_lines(prio: u8, text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        out.push('<');
        out.push(char::from(b'0' + prio.min(7)));
        out.push('>');
        out.push_str(line);
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The journal form: the default format without time or colour, each line prefixed.
struct Journal {
    inner: Format<Full, ()>,
}

impl<S, N> FormatEvent<S, N> for Journal
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut buf = String::new();
        self.inner.format_event(ctx, Writer::new(&mut buf), event)?;
        writer.write_str(&prefix_lines(priority(*event.metadata().level()), &buf))
    }
}

/// Sets up tracing (filter from `SECCOMP_WATCH_LOG`, default `info`) for [`output`].
pub fn init() {
    let out = *OUTPUT.get_or_init(Output::detect);
    let filter = tracing_subscriber::EnvFilter::try_from_env("SECCOMP_WATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(out.color);
    let _ = if out.journal {
        builder
            .fmt_fields(DefaultFields::new())
            .event_format(Journal {
                inner: Format::default().without_time().with_ansi(false),
            })
            .try_init()
    } else {
        builder.try_init()
    };
}

/// Writes one plain line (already escaped) to stderr at `level`: `<N>line` under the
/// journal, `line` otherwise.
pub fn plain(level: Level, line: &str) {
    let text = if output().journal {
        prefix_lines(priority(level), line)
    } else {
        format!("{line}\n")
    };
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// An error with its causes, each cause once: a message that already ends with its
/// cause's text (thiserror's `"...: {source}"` with a `#[source]`) does not repeat it.
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !text.is_empty() && !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// The line `main` prints for a failed command.
pub fn error_line(e: &anyhow::Error) -> String {
    format!(
        "seccomp-watch: {}",
        parsers::escape::escape(&error_chain(e))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on {addr}: {source}")]
    struct Bind {
        addr: String,
        source: std::io::Error,
    }

    #[test]
    fn causes_are_printed_once() {
        let io = std::io::Error::from_raw_os_error(libc::EADDRINUSE);
        let text = io.to_string();
        let e = anyhow::Error::new(Bind {
            addr: "127.0.0.1:9717".into(),
            source: io,
        });
        assert_eq!(format!("{e:#}").matches(&text).count(), 2, "the old way");
        let line = error_chain(&e);
        assert_eq!(line.matches(&text).count(), 1, "{line}");
        assert!(
            line.starts_with("cannot listen on 127.0.0.1:9717: "),
            "{line}"
        );
        // Context that does not repeat its cause keeps it.
        let e = anyhow::anyhow!("disk full").context("cannot write the batch");
        assert_eq!(error_chain(&e), "cannot write the batch: disk full");
    }

    #[test]
    fn journal_lines_carry_their_priority() {
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::WARN), 4);
        assert_eq!(priority(Level::INFO), 6);
        assert_eq!(priority(Level::DEBUG), 7);
        assert_eq!(prefix_lines(3, "a\nb\n"), "<3>a\n<3>b\n");
        assert_eq!(prefix_lines(6, "one"), "<6>one\n");
        assert!(!names_stderr("garbage"));
        assert!(!names_stderr("1:2"));
    }
}
