//! `seccomp-watch ingest [--db PATH] FILE...`: imports audit logs (rotated `audit.log.N`,
//! gzip too, and every other form `parse` reads: syslog, kernel log, `ausearch -i`,
//! `journalctl -o json` or `-o export`) into the store, oldest first, idempotently (a
//! record already stored is skipped by its key; a record without a serial by its
//! synthetic key), with a progress bar on a terminal.
//!
//! Parsing runs on its own thread and hands batches to the writer task through the
//! bounded channel, so parsing and SQLite overlap and memory stays flat: files are
//! streamed, never loaded.

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use parsers::{Attribution, Event};
use tokio::sync::mpsc;

use crate::pipeline::{Item, SourceKind, StoreBatch};
use crate::records::{self, Counts, ReadArgs, ReadOptions};
use crate::store::{SqliteStore, Store};
use crate::writer::{self, WriterConfig, WriterStats};

/// Arguments of `seccomp-watch ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database file (default: the configuration's, else /var/lib/seccomp-watch/seccomp-watch.db).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Audit logs to import (audit.log, audit.log.1, ..., `.gz` too; syslog, kernel log,
    /// `ausearch -i`, `journalctl -o json` or `-o export` files; `-` for stdin); rotated
    /// files are imported oldest first.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub read: ReadArgs,
}

/// Events per batch handed to the writer.
const BATCH: usize = 4096;
/// Batches queued in front of the writer: a few, so that memory stays flat.
const QUEUE: usize = 2;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub files: usize,
    pub bytes: u64,
    /// Events newly stored.
    pub stored: u64,
    /// Events already in the database (or twice in the input).
    pub duplicates: u64,
    /// What reading saw: lines, SECCOMP records, other records, errors, warnings, forged
    /// records, over-long lines, with samples.
    pub counts: Counts,
    pub elapsed: Duration,
}

impl Report {
    pub fn lines(&self) -> u64 {
        self.counts.lines
    }
    pub fn seccomp(&self) -> u64 {
        self.counts.seccomp
    }
    pub fn errors(&self) -> u64 {
        self.counts.errors
    }
}

/// Orders files oldest first: for each `NAME`, `NAME.N` (and `NAME.N.gz`) with the
/// highest N first and `NAME` last; unrelated files keep their order.
pub fn order_files(files: &[PathBuf]) -> Vec<PathBuf> {
    fn split(p: &Path) -> (PathBuf, u64) {
        let s = p.to_string_lossy();
        let s = s.strip_suffix(".gz").unwrap_or(&s);
        if let Some((base, n)) = s.rsplit_once('.') {
            if let Ok(n) = n.parse::<u64>() {
                return (PathBuf::from(base), n);
            }
        }
        (PathBuf::from(s), 0)
    }
    let mut bases: Vec<PathBuf> = Vec::new();
    let mut keyed: Vec<(usize, std::cmp::Reverse<u64>, PathBuf)> = Vec::new();
    for f in files {
        let (base, n) = split(f);
        let g = match bases.iter().position(|b| *b == base) {
            Some(g) => g,
            None => {
                bases.push(base);
                bases.len() - 1
            }
        };
        keyed.push((g, std::cmp::Reverse(n), f.clone()));
    }
    keyed.sort_by_key(|a| (a.0, a.1));
    keyed.into_iter().map(|(_, _, f)| f).collect()
}

/// Counts bytes read from the underlying file (before decompression), for progress.
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// Opens `path` (gzip by magic bytes), counting raw bytes read into `n`; with its
/// modification time (the reference of year-less timestamps).
fn open_counted(path: &Path, n: Arc<AtomicU64>) -> io::Result<(Box<dyn Read + Send>, i64)> {
    let mut f = std::fs::File::open(path)?;
    let reference = records::reference_ms(&f);
    let mut magic = [0u8; 2];
    let k = f.read(&mut magic)?;
    use std::io::Seek;
    f.seek(io::SeekFrom::Start(0))?;
    let counted = Counting { inner: f, n };
    if k == 2 && magic == [0x1f, 0x8b] {
        Ok((
            Box::new(flate2::read::MultiGzDecoder::new(
                io::BufReader::with_capacity(1 << 16, counted),
            )),
            reference,
        ))
    } else {
        Ok((Box::new(counted), reference))
    }
}

/// Reads every file in order and sends batches of events to the writer. Returns when
/// done, or early (with an error) when the writer is gone.
fn parse_files(
    inputs: Vec<(String, Box<dyn Read + Send>, i64)>,
    opts: &ReadOptions,
    tx: mpsc::Sender<StoreBatch>,
    progress: Option<indicatif::ProgressBar>,
    read: Arc<AtomicU64>,
) -> anyhow::Result<Counts> {
    let mut c = Counts::default();
    let mut items: Vec<Item> = Vec::with_capacity(BATCH);
    // The attribution of the previous event: consecutive events often share an exe.
    let mut last_attr: Option<(Option<String>, Attribution)> = None;
    let send = |items: Vec<Item>| -> bool {
        let b = StoreBatch {
            items,
            source: Some(SourceKind::Ingest),
            ..StoreBatch::default()
        };
        if tx.blocking_send(b).is_err() {
            return false;
        }
        if let Some(p) = &progress {
            p.set_position(read.load(Ordering::Relaxed));
        }
        true
    };
    let mut writer_gone = false;
    for (name, input, reference) in inputs {
        let mut on_event = |event: Event| {
            let attribution = match &last_attr {
                Some((exe, a)) if *exe == event.exe => a.clone(),
                _ => {
                    let a = Attribution::unattributed(event.exe.as_deref());
                    last_attr = Some((event.exe.clone(), a.clone()));
                    a
                }
            };
            items.push(Item {
                event,
                source: SourceKind::Ingest,
                attribution,
            });
            if items.len() >= BATCH
                && !send(std::mem::replace(&mut items, Vec::with_capacity(BATCH)))
            {
                writer_gone = true;
                return false;
            }
            true
        };
        let done = records::read(input, &name, reference, opts, &mut c, &mut on_event)
            .with_context(|| format!("error reading {}", parsers::escape::escape(&name)))?;
        if !done {
            break;
        }
    }
    if writer_gone || (!items.is_empty() && !send(items)) {
        anyhow::bail!("the database writer stopped");
    }
    Ok(c)
}

/// Imports `files` (in the given order) into `store`. `progress`: show a progress bar.
pub async fn ingest<S: Store>(
    store: &S,
    files: &[PathBuf],
    opts: ReadOptions,
    progress: bool,
) -> anyhow::Result<Report> {
    let t0 = Instant::now();
    // Open every file first: an unreadable one fails before anything is stored.
    let read = Arc::new(AtomicU64::new(0));
    let mut inputs: Vec<(String, Box<dyn Read + Send>, i64)> = Vec::new();
    let mut total = 0u64;
    for f in files {
        let name = f.display().to_string();
        if f.as_os_str() == "-" {
            // `journalctl -o json | seccomp-watch ingest -`.
            let counted = Counting {
                inner: io::stdin(),
                n: read.clone(),
            };
            inputs.push((name, Box::new(counted), records::reference_ms_now()));
            continue;
        }
        let (r, reference) = open_counted(f, read.clone())
            .with_context(|| format!("cannot read {}", parsers::escape::escape(&name)))?;
        total += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        inputs.push((name, r, reference));
    }
    let bar = progress.then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let cfg = WriterConfig {
        batch_size: 8192,
        flush: Duration::from_millis(200),
        queue_batches: QUEUE,
        retention_days: 0,
        max_retries: Some(3),
        ..WriterConfig::default()
    };
    let (tx, handle) = writer::spawn(store, cfg).await?;
    let bar2 = bar.clone();
    let read2 = read.clone();
    let parser = std::thread::Builder::new()
        .name("ingest-parse".into())
        .spawn(move || parse_files(inputs, &opts, tx, bar2, read2))
        .context("cannot start the parsing thread")?;
    let wstats: WriterStats = match handle.await {
        Ok(r) => r?,
        Err(e) => anyhow::bail!("the database writer failed: {e}"),
    };
    let counts = match parser.join() {
        Ok(r) => r?,
        Err(_) => anyhow::bail!("the parsing thread panicked"),
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(Report {
        files: files.len(),
        bytes: read.load(Ordering::Relaxed),
        stored: wstats.stored,
        duplicates: wstats.duplicates,
        counts,
        elapsed: t0.elapsed(),
    })
}

/// Runs the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let opts = args.read.options()?;
    let db = crate::query::db_path(args.db.as_deref())?;
    let files = order_files(&args.files);
    // Fail on an unreadable file before the database is even opened.
    for f in files.iter().filter(|f| f.as_os_str() != "-") {
        std::fs::File::open(f).with_context(|| {
            format!(
                "cannot read {}",
                parsers::escape::escape(&f.display().to_string())
            )
        })?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        let store = SqliteStore::open(&db)
            .await
            .with_context(|| format!("cannot open {}", db.display()))?;
        let r = ingest(
            &store,
            &files,
            opts,
            !args.quiet && io::stderr().is_terminal(),
        )
        .await;
        store.close().await;
        r
    })?;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let c = &report.counts;
    println!("files            {}", report.files);
    println!("lines            {}", c.lines);
    println!("SECCOMP records  {}", c.seccomp);
    println!("stored           {}", report.stored);
    println!("duplicates       {}", report.duplicates);
    println!("other records    {}", c.other());
    if c.not_audit > 0 {
        println!("non-audit lines  {}", c.not_audit);
    }
    if c.suppressed > 0 {
        println!(
            "suppressed by the kernel (lost before logging)  {}",
            c.suppressed
        );
    }
    println!("errors           {}", c.errors);
    if c.warnings > 0 {
        println!("warnings         {}", c.warnings);
    }
    if c.forged > 0 {
        println!("forged           {}", c.forged);
    }
    if c.too_long > 0 {
        println!("too long         {}", c.too_long);
    }
    println!(
        "time             {:.2} s ({:.0} lines/s, {:.0} SECCOMP records/s)",
        secs,
        c.lines as f64 / secs,
        c.seccomp as f64 / secs
    );
    let samples = [
        ("", &c.error_samples),
        ("warning: ", &c.warning_samples),
        ("forged: ", &c.forged_samples),
        ("", &c.too_long_samples),
    ];
    for (what, v) in samples {
        for s in v.iter().take(10) {
            eprintln!("seccomp-watch ingest: {what}{s}");
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_files_come_oldest_first() {
        let f = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            order_files(&f(&[
                "a/audit.log",
                "a/audit.log.1",
                "a/audit.log.10.gz",
                "a/audit.log.2",
                "other.log"
            ])),
            f(&[
                "a/audit.log.10.gz",
                "a/audit.log.2",
                "a/audit.log.1",
                "a/audit.log",
                "other.log"
            ])
        );
        assert_eq!(order_files(&f(&["x.log", "y.log"])), f(&["x.log", "y.log"]));
    }
}
