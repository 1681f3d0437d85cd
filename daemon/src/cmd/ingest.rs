//! `seccomp-watch ingest [--db PATH] FILE...`: imports audit logs (rotated `audit.log.N`,
//! gzip too) into the store, oldest first, idempotently (a record already stored is
//! skipped by its key), with a progress bar on a terminal.
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
use parsers::{parse_line, Attribution, Event, Parsed};
use tokio::sync::mpsc;

use crate::lines::LineReader;
use crate::pipeline::{Item, SourceKind, StoreBatch};
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
    /// Audit logs to import (audit.log, audit.log.1, ..., `.gz` too); rotated files are
    /// imported oldest first.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
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
    pub lines: u64,
    /// SECCOMP records read.
    pub seccomp: u64,
    /// Events newly stored.
    pub stored: u64,
    /// Events already in the database (or twice in the input).
    pub duplicates: u64,
    /// Audit records of other types.
    pub other_records: u64,
    /// Lines without an audit record.
    pub not_audit: u64,
    /// Records the kernel said it suppressed (`kauditd_printk_skb: N callbacks suppressed`).
    pub suppressed: u64,
    /// Lines that could not be parsed.
    pub errors: u64,
    /// The first few errors, escaped, with file and line.
    pub error_samples: Vec<String>,
    pub elapsed: Duration,
}

const MAX_SAMPLES: usize = 10;

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

/// Opens `path` (gzip by magic bytes), counting raw bytes read into `n`.
fn open_counted(path: &Path, n: Arc<AtomicU64>) -> io::Result<Box<dyn Read + Send>> {
    let mut f = std::fs::File::open(path)?;
    let mut magic = [0u8; 2];
    let k = f.read(&mut magic)?;
    use std::io::Seek;
    f.seek(io::SeekFrom::Start(0))?;
    let counted = Counting { inner: f, n };
    if k == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 16, counted),
        )))
    } else {
        Ok(Box::new(counted))
    }
}

/// What the parsing thread counted.
#[derive(Debug, Default)]
struct ParseCounts {
    lines: u64,
    seccomp: u64,
    other: u64,
    not_audit: u64,
    suppressed: u64,
    errors: u64,
    samples: Vec<String>,
}

/// Reads every file in order and sends batches of events to the writer. Returns when
/// done, or early (with an error) when the writer is gone.
fn parse_files(
    inputs: Vec<(String, Box<dyn Read + Send>)>,
    tx: mpsc::Sender<StoreBatch>,
    progress: Option<indicatif::ProgressBar>,
    read: Arc<AtomicU64>,
) -> anyhow::Result<ParseCounts> {
    let mut c = ParseCounts::default();
    let mut items: Vec<Item> = Vec::with_capacity(BATCH);
    // The attribution of the previous event: consecutive events often share an exe.
    let mut last_attr: Option<(Option<String>, Attribution)> = None;
    let send = |items: Vec<Item>| -> anyhow::Result<()> {
        let b = StoreBatch {
            items,
            source: Some(SourceKind::Ingest),
            ..StoreBatch::default()
        };
        tx.blocking_send(b)
            .map_err(|_| anyhow::anyhow!("the database writer stopped"))?;
        if let Some(p) = &progress {
            p.set_position(read.load(Ordering::Relaxed));
        }
        Ok(())
    };
    for (name, input) in inputs {
        let mut lines = LineReader::new(input);
        let mut lineno = 0u64;
        loop {
            let line = match lines.next_line(true) {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("error reading {}", parsers::escape::escape(&name))
                    })
                }
            };
            lineno += 1;
            let err = match parse_line(line) {
                Ok(Parsed::Seccomp(r)) => match Event::from_record(&r) {
                    Ok(event) => {
                        c.seccomp += 1;
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
                        if items.len() >= BATCH {
                            send(std::mem::replace(&mut items, Vec::with_capacity(BATCH)))?;
                        }
                        None
                    }
                    Err(e) => Some(e.to_string()),
                },
                Ok(Parsed::Other(_)) => {
                    c.other += 1;
                    None
                }
                Ok(Parsed::Suppressed(n)) => {
                    c.suppressed += n;
                    None
                }
                Ok(Parsed::NotAudit) => {
                    c.not_audit += 1;
                    None
                }
                Err(e) => Some(e.to_string()),
            };
            if let Some(e) = err {
                c.errors += 1;
                if c.samples.len() < MAX_SAMPLES {
                    c.samples
                        .push(format!("{}:{lineno}: {e}", parsers::escape::escape(&name)));
                }
            }
        }
        c.lines += lineno;
    }
    if !items.is_empty() {
        send(items)?;
    }
    Ok(c)
}

/// Imports `files` (in the given order) into `store`. `progress`: show a progress bar.
pub async fn ingest<S: Store>(
    store: &S,
    files: &[PathBuf],
    progress: bool,
) -> anyhow::Result<Report> {
    let t0 = Instant::now();
    // Open every file first: an unreadable one fails before anything is stored.
    let read = Arc::new(AtomicU64::new(0));
    let mut inputs: Vec<(String, Box<dyn Read + Send>)> = Vec::new();
    let mut total = 0u64;
    for f in files {
        let name = f.display().to_string();
        let r = open_counted(f, read.clone())
            .with_context(|| format!("cannot read {}", parsers::escape::escape(&name)))?;
        total += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        inputs.push((name, r));
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
        .spawn(move || parse_files(inputs, tx, bar2, read2))
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
        lines: counts.lines,
        seccomp: counts.seccomp,
        stored: wstats.stored,
        duplicates: wstats.duplicates,
        other_records: counts.other,
        not_audit: counts.not_audit,
        suppressed: counts.suppressed,
        errors: counts.errors,
        error_samples: counts.samples,
        elapsed: t0.elapsed(),
    })
}

/// Runs the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let db = crate::query::db_path(args.db.as_deref())?;
    let files = order_files(&args.files);
    // Fail on an unreadable file before the database is even opened.
    for f in &files {
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
        let r = ingest(&store, &files, !args.quiet && io::stderr().is_terminal()).await;
        store.close().await;
        r
    })?;
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    println!("files            {}", report.files);
    println!("lines            {}", report.lines);
    println!("SECCOMP records  {}", report.seccomp);
    println!("stored           {}", report.stored);
    println!("duplicates       {}", report.duplicates);
    println!("other records    {}", report.other_records);
    if report.not_audit > 0 {
        println!("non-audit lines  {}", report.not_audit);
    }
    if report.suppressed > 0 {
        println!(
            "suppressed by the kernel (lost before logging)  {}",
            report.suppressed
        );
    }
    println!("errors           {}", report.errors);
    println!(
        "time             {:.2} s ({:.0} lines/s, {:.0} SECCOMP records/s)",
        secs,
        report.lines as f64 / secs,
        report.seccomp as f64 / secs
    );
    for s in &report.error_samples {
        eprintln!("seccomp-watch ingest: {s}");
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
