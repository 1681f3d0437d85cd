//! Reading audit records from files for `parse` and `ingest`: every line form the
//! parsers know, `journalctl -o json` (an object a line) and `journalctl -o export` (told
//! by its first line), gzip by its magic bytes, bounded lines (an over-long line is
//! skipped and counted without being buffered), the year of year-less timestamps from the
//! file's modification time, synthetic keys per file, and the counts and samples that
//! `parse --stats` and the ingest report show.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::SystemTime;

use parsers::event::Occurrences;
use parsers::journal::{JournalEntry, MAX_FIELD};
use parsers::time::Zone;
use parsers::{Context, Event, ParseError, Parsed};

use crate::lines::{Line, LineReader, DEFAULT_MAX_LINE};

/// The command-line options of `parse` and `ingest` about reading.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadArgs {
    /// The year of timestamps written without one (classic syslog, `journalctl -o short`);
    /// default: the newest year that is not after the file's modification time.
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i32>,
    /// The zone of timestamps written without one (classic syslog, `journalctl -o short`,
    /// `ausearch -i`): `local`, `utc`, `+HH:MM`, or a name such as `Europe/Berlin`.
    #[arg(long, value_name = "ZONE", default_value = "local")]
    pub tz: String,
    /// Lines longer than this many bytes are skipped and counted.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE)]
    pub max_line: usize,
    /// A syslog tag whose lines are taken as an audit daemon's, besides `kernel`, `audit`,
    /// `audispd`, `audisp-syslog`, `audisp-remote` and `auditd` (for example the tag of an
    /// rsyslog `imfile` input shipping audit.log). Repeatable.
    #[arg(long, value_name = "TAG")]
    pub trust_tag: Vec<String>,
}

impl ReadArgs {
    /// The options, the zone validated (a zone name sets `TZ`: call before threads).
    pub fn options(&self) -> anyhow::Result<ReadOptions> {
        if self.max_line < 256 {
            anyhow::bail!("--max-line must be at least 256 bytes");
        }
        if self.year.is_some_and(|y| !(1970..=9999).contains(&y)) {
            anyhow::bail!("--year must be between 1970 and 9999");
        }
        Ok(ReadOptions {
            max_line: self.max_line,
            year: self.year,
            zone: crate::zone::parse(&self.tz).map_err(|e| anyhow::anyhow!("--tz: {e}"))?,
            trusted_tags: self.trust_tag.clone(),
        })
    }
}

/// How to read the inputs.
pub struct ReadOptions {
    /// Lines (and journal fields) longer than this are skipped and counted.
    pub max_line: usize,
    /// The year of year-less timestamps (else inferred from each file's mtime).
    pub year: Option<i32>,
    /// The zone of timestamps written without one.
    pub zone: Box<dyn Zone>,
    /// Syslog tags to trust besides the built-in ones.
    pub trusted_tags: Vec<String>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_line: DEFAULT_MAX_LINE,
            year: None,
            zone: Box::new(parsers::time::Utc),
            trusted_tags: Vec::new(),
        }
    }
}

/// Samples kept of each kind of problem.
pub const MAX_SAMPLES: usize = 20;
/// Distinct record type names counted (the names come from the input).
const MAX_TYPES: usize = 64;

/// What reading saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Lines (or journal entries) read.
    pub lines: u64,
    /// SECCOMP records turned into events.
    pub seccomp: u64,
    /// Other record types, by name (at most 64 names; the rest under `(other)`).
    pub by_type: BTreeMap<String, u64>,
    /// SECCOMP records by action.
    pub actions: BTreeMap<parsers::Action, u64>,
    /// Lines without an audit record.
    pub not_audit: u64,
    /// Records the kernel said it suppressed (`kauditd_printk_skb`).
    pub suppressed: u64,
    /// Lines that could not be parsed.
    pub errors: u64,
    /// Records kept with a damaged, unknown or unmapped part.
    pub warnings: u64,
    /// Records in lines another program wrote, skipped.
    pub forged: u64,
    /// Lines longer than the limit, skipped.
    pub too_long: u64,
    /// `file:line: what` for the first few of each.
    pub error_samples: Vec<String>,
    pub warning_samples: Vec<String>,
    pub forged_samples: Vec<String>,
    pub too_long_samples: Vec<String>,
}

impl Counts {
    /// Records of other types, all names together.
    pub fn other(&self) -> u64 {
        self.by_type.values().sum()
    }

    fn sample(v: &mut Vec<String>, s: impl FnOnce() -> String) {
        if v.len() < MAX_SAMPLES {
            v.push(s());
        }
    }

    fn add_type(&mut self, name: &str) {
        if let Some(n) = self.by_type.get_mut(name) {
            *n += 1;
        } else if self.by_type.len() < MAX_TYPES {
            self.by_type.insert(name.to_string(), 1);
        } else {
            *self.by_type.entry("(other)".into()).or_default() += 1;
        }
    }
}

/// The modification time of a file in ms since the epoch (the reference for year-less
/// timestamps), or now when it has none (a pipe).
pub fn reference_ms(f: &File) -> i64 {
    let t = f
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .and_then(|m| m.modified().ok())
        .unwrap_or_else(SystemTime::now);
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

/// Now, in ms since the epoch.
pub fn reference_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Opens `path`: its reader (gzip decompressed by magic bytes) and its reference time.
pub fn open(path: &Path) -> io::Result<(Box<dyn Read + Send>, i64)> {
    let mut f = File::open(path)?;
    let reference = reference_ms(&f);
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic)?;
    use std::io::Seek;
    f.seek(io::SeekFrom::Start(0))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok((
            Box::new(flate2::read::MultiGzDecoder::new(
                io::BufReader::with_capacity(1 << 16, f),
            )),
            reference,
        ))
    } else {
        Ok((Box::new(f), reference))
    }
}

/// Whether a first line is `journalctl -o export`'s (`__CURSOR=...`, or any field name).
fn is_export_start(l: &[u8]) -> bool {
    let n = l
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == b'_')
        .count();
    n > 0 && l[..n].iter().any(u8::is_ascii_uppercase) && (n == l.len() || l[n] == b'=')
}

/// Reads one input, calling `on_event` for each event (return `false` to stop). Returns
/// `false` when stopped.
pub fn read<R: Read>(
    input: R,
    name: &str,
    reference_ms: i64,
    opts: &ReadOptions,
    counts: &mut Counts,
    on_event: &mut dyn FnMut(Event) -> bool,
) -> io::Result<bool> {
    let ctx = Context {
        reference_ms: Some(reference_ms),
        year: opts.year,
        zone: &*opts.zone,
        trusted_tags: &opts.trusted_tags,
    };
    let mut r = Reader {
        name: parsers::escape::escape(name).into_owned(),
        counts,
        occ: Occurrences::default(),
        on_event,
        stopped: false,
    };
    let mut lines = LineReader::with_max(input, opts.max_line);
    let mut lineno = 0u64;
    let mut first = true;
    let mut export: Option<ExportState> = None;
    loop {
        let line = match lines.next_line(true)? {
            None => break,
            Some(l) => l,
        };
        lineno += 1;
        let l = match line {
            Line::TooLong(n) => {
                r.counts.too_long += 1;
                let what = format!("{}:{lineno}: line of {n} bytes skipped", r.name);
                Counts::sample(&mut r.counts.too_long_samples, || what);
                continue;
            }
            Line::Line(l) => l,
        };
        if first {
            first = false;
            let l = l.strip_prefix(b"\xef\xbb\xbf").unwrap_or(l);
            if is_export_start(l) {
                export = Some(ExportState::default());
            }
        }
        if let Some(st) = export.as_mut() {
            if l.is_empty() {
                let e = std::mem::take(&mut st.entry);
                if std::mem::take(&mut st.fields) > 0 {
                    r.counts.lines += 1;
                    r.handle(e.parse(&ctx), lineno, e.message.as_deref().unwrap_or(&[]));
                    if r.stopped {
                        return Ok(false);
                    }
                }
                continue;
            }
            st.fields += 1;
            match memchr::memchr(b'=', l) {
                Some(eq) => {
                    let (k, v) = (&l[..eq], &l[eq + 1..]);
                    st.entry.set(k, v);
                }
                None => {
                    // A binary field: NAME, then its length (64-bit little endian), the
                    // bytes and a newline.
                    if !l
                        .iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_')
                    {
                        r.error(lineno, "journal export: not a field name", l);
                        continue;
                    }
                    let name = l.to_vec();
                    let len = match lines.take(8, 8)? {
                        Some(b) => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
                        None => 0,
                    };
                    let keep = if JournalEntry::wants(&name) {
                        MAX_FIELD.min(opts.max_line)
                    } else {
                        0
                    };
                    match lines.take(len, keep)? {
                        Some(v) => st.entry.set(&name, v),
                        None if keep > 0 => {
                            r.counts.too_long += 1;
                            let what = format!(
                                "{}:{lineno}: journal field {} of {len} bytes skipped",
                                r.name,
                                String::from_utf8_lossy(&name)
                            );
                            Counts::sample(&mut r.counts.too_long_samples, || what);
                        }
                        None => {}
                    }
                    lines.take(1, 1)?;
                }
            }
            continue;
        }
        r.counts.lines += 1;
        if l.first() == Some(&b'{') {
            match JournalEntry::from_json(l) {
                Ok(e) => r.handle(e.parse(&ctx), lineno, l),
                Err(e) => r.handle(Err(e), lineno, l),
            }
        } else {
            r.handle(parsers::parse_line_with(l, &ctx), lineno, l);
        }
        if r.stopped {
            return Ok(false);
        }
    }
    if let Some(st) = export {
        if st.fields > 0 {
            r.counts.lines += 1;
            let msg = st.entry.message.as_deref().unwrap_or(&[]);
            r.handle(st.entry.parse(&ctx), lineno, msg);
        }
    }
    Ok(!r.stopped)
}

#[derive(Default)]
struct ExportState {
    entry: JournalEntry,
    fields: usize,
}

struct Reader<'a> {
    name: String,
    counts: &'a mut Counts,
    occ: Occurrences,
    on_event: &'a mut dyn FnMut(Event) -> bool,
    stopped: bool,
}

impl Reader<'_> {
    fn error(&mut self, lineno: u64, what: &str, l: &[u8]) {
        self.counts.errors += 1;
        let name = &self.name;
        Counts::sample(&mut self.counts.error_samples, || {
            let ex = parsers::escape::escape_bytes(&l[..l.len().min(160)]);
            format!("{name}:{lineno}: {what}: {ex}")
        });
    }

    fn handle(&mut self, p: Result<Parsed<'_>, ParseError>, lineno: u64, line: &[u8]) {
        let name = &self.name;
        match p {
            Ok(Parsed::Seccomp(rec)) => {
                if !rec.warnings.is_empty() {
                    self.counts.warnings += 1;
                    Counts::sample(&mut self.counts.warning_samples, || {
                        let w: Vec<String> = rec.warnings.iter().map(|w| w.to_string()).collect();
                        format!("{name}:{lineno}: {}", w.join("; "))
                    });
                }
                match Event::from_record(&rec) {
                    Ok(mut ev) => {
                        self.occ.assign(&mut ev);
                        self.counts.seccomp += 1;
                        *self.counts.actions.entry(ev.action()).or_default() += 1;
                        if !(self.on_event)(ev) {
                            self.stopped = true;
                        }
                    }
                    Err(e) => {
                        let l = if line.is_empty() { rec.body } else { line };
                        self.error(lineno, &e.to_string(), l);
                    }
                }
            }
            Ok(Parsed::Other(t)) => self.counts.add_type(&t.name()),
            Ok(Parsed::Suppressed(n)) => self.counts.suppressed += n,
            Ok(Parsed::Forged(u)) => {
                self.counts.forged += 1;
                Counts::sample(&mut self.counts.forged_samples, || {
                    let ex = parsers::escape::escape_bytes(&line[..line.len().min(120)]);
                    format!("{name}:{lineno}: forged SECCOMP record ({u}), skipped: {ex}")
                });
            }
            Ok(Parsed::NotAudit) => self.counts.not_audit += 1,
            Err(e) => {
                self.counts.errors += 1;
                Counts::sample(&mut self.counts.error_samples, || {
                    format!("{name}:{lineno}: {e}")
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8]) -> (Vec<Event>, Counts) {
        let mut evs = Vec::new();
        let mut c = Counts::default();
        let opts = ReadOptions {
            year: Some(2026),
            ..ReadOptions::default()
        };
        read(data, "t", 0, &opts, &mut c, &mut |e| {
            evs.push(e);
            true
        })
        .unwrap();
        (evs, c)
    }

    #[test]
    fn export_detection() {
        assert!(is_export_start(b"__CURSOR=s=1;i=2"));
        assert!(is_export_start(b"MESSAGE=x"));
        assert!(is_export_start(b"MESSAGE"));
        assert!(!is_export_start(b"type=SECCOMP msg=audit(1.2:3): pid=1"));
        assert!(!is_export_start(b"Nov 30 00:03:54 host kernel: x"));
        assert!(!is_export_start(b"{\"MESSAGE\":\"x\"}"));
        assert!(!is_export_start(b"SECCOMP auid=0"));
        assert!(!is_export_start(b"[ 1.0] x"));
    }

    #[test]
    fn identical_stamp_less_lines_get_distinct_keys() {
        let l = b"Nov 30 00:03:54 h audit[1]: SECCOMP pid=1 comm=\"a\" exe=\"/a\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x1 code=0x7ffc0000\n";
        let data = l.repeat(3);
        let (evs, c) = read_all(&data);
        assert_eq!(c.seccomp, 3);
        let mut keys: Vec<i64> = evs.iter().map(Event::store_serial).collect();
        keys.dedup();
        assert_eq!(keys.len(), 3);
        let (again, _) = read_all(&data);
        assert_eq!(
            again.iter().map(Event::store_serial).collect::<Vec<_>>(),
            evs.iter().map(Event::store_serial).collect::<Vec<_>>()
        );
    }

    #[test]
    fn counts_of_every_kind() {
        let data = b"type=SECCOMP msg=audit(1.000:1): auid-4294967295 pid=1 arch=c000003e syscall=1 code=0x0\n\
type=SYSCALL msg=audit(1.000:1): arch=c000003e\n\
Nov 30 00:03:54 h mallory: audit: type=1326 audit(1.000:2): pid=1 arch=c000003e syscall=1 code=0x0\n\
type=SECCOMP msg=audit(1.000:3): pid=1 syscall=1\n\
hello\n";
        let (evs, c) = read_all(data);
        assert_eq!(evs.len(), 1);
        assert_eq!(
            (
                c.lines,
                c.seccomp,
                c.other(),
                c.forged,
                c.errors,
                c.warnings,
                c.not_audit
            ),
            (5, 1, 1, 1, 1, 1, 1)
        );
        assert!(c.warning_samples[0].contains("malformed token: auid-4294967295"));
        assert!(
            c.forged_samples[0].contains("\"mallory\""),
            "{:?}",
            c.forged_samples
        );
    }
}
