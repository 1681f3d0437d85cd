//! `seccomp-watch parse [FILE...]`: audit records in, one JSON event per SECCOMP record out.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use parsers::{parse_line, Event, Parsed};

use crate::lines::LineReader;

/// Arguments of `seccomp-watch parse`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to read (audit.log, kernel log, syslog, journal export; `.gz` too); stdin when
    /// none or `-`.
    pub files: Vec<PathBuf>,
    /// Print counts per record type and action, and the errors, to stderr.
    #[arg(long)]
    pub stats: bool,
}

/// Counts of what a parse saw.
#[derive(Debug, Default)]
pub struct Stats {
    /// SECCOMP records turned into events.
    pub seccomp: u64,
    /// Other record types, by name.
    pub by_type: BTreeMap<String, u64>,
    /// SECCOMP records by action.
    pub actions: BTreeMap<parsers::Action, u64>,
    pub not_audit: u64,
    pub suppressed: u64,
    pub errors: u64,
    /// The first few errors, escaped, with their file and line.
    pub error_samples: Vec<String>,
}

impl Stats {
    const MAX_SAMPLES: usize = 20;

    fn print(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut types = self.by_type.clone();
        if self.seccomp > 0 {
            types.insert("SECCOMP".into(), self.seccomp);
        }
        writeln!(w, "record types:")?;
        for (t, n) in &types {
            writeln!(w, "  {:<16} {n}", parsers::escape::escape(t))?;
        }
        writeln!(w, "SECCOMP actions:")?;
        for (a, n) in &self.actions {
            writeln!(w, "  {:<22} {n}", a.to_string())?;
        }
        writeln!(w, "non-audit lines: {}", self.not_audit)?;
        if self.suppressed > 0 {
            writeln!(
                w,
                "records the kernel suppressed (kauditd_printk_skb): {}",
                self.suppressed
            )?;
        }
        writeln!(w, "errors: {}", self.errors)?;
        for e in &self.error_samples {
            writeln!(w, "  {e}")?;
        }
        Ok(())
    }
}

/// Opens `path` for reading, transparently decompressing gzip (by magic bytes).
pub fn open_maybe_gz(path: &std::path::Path) -> io::Result<Box<dyn Read + Send>> {
    let mut f = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    use std::io::Seek;
    f.seek(io::SeekFrom::Start(0))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::new(f),
        )))
    } else {
        Ok(Box::new(f))
    }
}

/// Events per batch handed to the output thread.
const BATCH: usize = 1024;

/// Runs the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let mut stats = Stats::default();
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    // Open every file first so that an unreadable one fails before any output.
    let mut inputs: Vec<(String, Box<dyn Read + Send>)> = Vec::new();
    for f in &files {
        if f.as_os_str() == "-" {
            inputs.push(("-".into(), Box::new(io::stdin())));
            continue;
        }
        match open_maybe_gz(f) {
            Ok(r) => inputs.push((f.display().to_string(), r)),
            Err(e) => {
                eprintln!(
                    "seccomp-watch parse: cannot read {}: {e}",
                    parsers::escape::escape(&f.display().to_string())
                );
                return Ok(2);
            }
        }
    }
    // Parsing runs here; JSON serialisation and output on a second thread (order kept:
    // one consumer), so the two halves of the work overlap on two cores.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Event>>(16);
    let printer = std::thread::spawn(move || -> io::Result<()> {
        let stdout = io::stdout();
        let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
        let mut buf = Vec::with_capacity(1 << 16);
        for batch in rx {
            for ev in &batch {
                ev.write_json(&mut buf);
                buf.push(b'\n');
            }
            out.write_all(&buf)?;
            buf.clear();
        }
        out.flush()
    });
    let mut batch = Vec::with_capacity(BATCH);
    let mut output_closed = false;
    'files: for (name, input) in inputs {
        let mut lines = LineReader::new(input);
        let mut lineno = 0u64;
        loop {
            let line = match lines.next_line(true) {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    eprintln!(
                        "seccomp-watch parse: error reading {}: {e}",
                        parsers::escape::escape(&name)
                    );
                    return Ok(2);
                }
            };
            lineno += 1;
            match parse_line(line) {
                Ok(Parsed::Seccomp(r)) => match Event::from_record(&r) {
                    Ok(ev) => {
                        stats.seccomp += 1;
                        *stats.actions.entry(ev.action()).or_default() += 1;
                        batch.push(ev);
                        if batch.len() == BATCH
                            && tx
                                .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                                .is_err()
                        {
                            // The printer stopped (broken pipe or write error): see below.
                            output_closed = true;
                            break 'files;
                        }
                    }
                    Err(e) => {
                        stats.errors += 1;
                        if stats.error_samples.len() < Stats::MAX_SAMPLES {
                            stats
                                .error_samples
                                .push(format!("{}:{lineno}: {e}", parsers::escape::escape(&name)));
                        }
                    }
                },
                Ok(Parsed::Other(t)) => {
                    let name = t.name();
                    match stats.by_type.get_mut(name.as_ref()) {
                        Some(n) => *n += 1,
                        None => {
                            stats.by_type.insert(name.into_owned(), 1);
                        }
                    }
                }
                Ok(Parsed::Suppressed(n)) => stats.suppressed += n,
                Ok(Parsed::NotAudit) => stats.not_audit += 1,
                Err(e) => {
                    stats.errors += 1;
                    if stats.error_samples.len() < Stats::MAX_SAMPLES {
                        stats
                            .error_samples
                            .push(format!("{}:{lineno}: {e}", parsers::escape::escape(&name)));
                    }
                }
            }
        }
    }
    if !output_closed && !batch.is_empty() {
        let _ = tx.send(batch);
    }
    drop(tx);
    match printer.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(0),
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => anyhow::bail!("the output thread panicked"),
    }
    if args.stats {
        stats.print(&mut io::stderr().lock())?;
    } else if stats.errors > 0 {
        eprintln!(
            "seccomp-watch parse: {} line(s) could not be parsed (see --stats)",
            stats.errors
        );
    }
    Ok(0)
}
