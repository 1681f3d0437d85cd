//! `seccomp-watch parse [FILE...]`: audit records in, one JSON event per SECCOMP record out.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use parsers::Event;

use crate::records::{self, Counts, ReadArgs};

/// Arguments of `seccomp-watch parse`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to read (audit.log, `ausearch -i` output, kernel log, syslog, `journalctl`
    /// text, `-o json` or `-o export`; `.gz` too); stdin when none or `-`.
    pub files: Vec<PathBuf>,
    /// Print counts per record type and action, the errors, warnings, forged records and
    /// skipped lines, to stderr.
    #[arg(long)]
    pub stats: bool,
    #[command(flatten)]
    pub read: ReadArgs,
}

fn print_stats(c: &Counts, w: &mut dyn Write) -> io::Result<()> {
    let mut types = c.by_type.clone();
    if c.seccomp > 0 {
        types.insert("SECCOMP".into(), c.seccomp);
    }
    writeln!(w, "record types:")?;
    for (t, n) in &types {
        writeln!(w, "  {:<16} {n}", parsers::escape::escape(t))?;
    }
    writeln!(w, "SECCOMP actions:")?;
    for (a, n) in &c.actions {
        writeln!(w, "  {:<22} {n}", a.to_string())?;
    }
    writeln!(w, "non-audit lines: {}", c.not_audit)?;
    if c.suppressed > 0 {
        writeln!(
            w,
            "records the kernel suppressed (kauditd_printk_skb): {}",
            c.suppressed
        )?;
    }
    let sections: [(&str, u64, &Vec<String>); 4] = [
        ("errors", c.errors, &c.error_samples),
        (
            "warnings (records kept with a damaged, unknown or unmapped field)",
            c.warnings,
            &c.warning_samples,
        ),
        (
            "forged (SECCOMP records not written by the kernel or an audit daemon, skipped)",
            c.forged,
            &c.forged_samples,
        ),
        ("lines too long (skipped)", c.too_long, &c.too_long_samples),
    ];
    for (what, n, samples) in sections {
        if n == 0 && what != "errors" {
            continue;
        }
        writeln!(w, "{what}: {n}")?;
        for s in samples {
            writeln!(w, "  {s}")?;
        }
    }
    Ok(())
}

/// Events per batch handed to the output thread.
const BATCH: usize = 1024;

/// Runs the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let opts = args.read.options()?;
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    // Open every file first so that an unreadable one fails before any output.
    let mut inputs: Vec<(String, Box<dyn Read + Send>, i64)> = Vec::new();
    for f in &files {
        if f.as_os_str() == "-" {
            let stdin = io::stdin();
            let reference = {
                use std::os::fd::AsFd;
                stdin
                    .as_fd()
                    .try_clone_to_owned()
                    .map(|fd| records::reference_ms(&std::fs::File::from(fd)))
                    .unwrap_or_else(|_| records::reference_ms_now())
            };
            inputs.push(("-".into(), Box::new(stdin), reference));
            continue;
        }
        match records::open(f) {
            Ok((r, reference)) => inputs.push((f.display().to_string(), r, reference)),
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
    let mut counts = Counts::default();
    let mut batch = Vec::with_capacity(BATCH);
    let mut output_closed = false;
    for (name, input, reference) in inputs {
        let mut on_event = |ev: Event| {
            batch.push(ev);
            if batch.len() == BATCH
                && tx
                    .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .is_err()
            {
                // The printer stopped (broken pipe or write error): see below.
                output_closed = true;
                return false;
            }
            true
        };
        match records::read(input, &name, reference, &opts, &mut counts, &mut on_event) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                eprintln!(
                    "seccomp-watch parse: error reading {}: {e}",
                    parsers::escape::escape(&name)
                );
                return Ok(2);
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
        print_stats(&counts, &mut io::stderr().lock())?;
    } else {
        for (n, what) in [
            (counts.errors, "line(s) could not be parsed"),
            (counts.forged, "forged record(s) skipped"),
            (counts.too_long, "over-long line(s) skipped"),
            (counts.warnings, "record(s) kept with a damaged field"),
        ] {
            if n > 0 {
                eprintln!("seccomp-watch parse: {n} {what} (see --stats)");
            }
        }
    }
    Ok(0)
}
