//! The kernel log source: `/dev/kmsg`, for hosts with neither auditd nor netlink access.
//!
//! Only the kernel's own records count: root can write any text to `/dev/kmsg`, and such
//! a write gets facility 1 (user) or the one it asks for, never 0 (kern). A SECCOMP record
//! of another facility is counted in `seccomp_watch_forged_records_total` and skipped.
//!
//! When no audit daemon is registered the kernel prints audit records through printk,
//! rate-limited: under load it drops them and says so with `kauditd_printk_skb: N callbacks
//! suppressed`, which is counted as N lost records (`LossCause::KmsgSuppressed`). Each
//! `read` of `/dev/kmsg` returns one record `PRI,SEQ,USEC,FLAGS;MESSAGE` (plus
//! continuation lines that start with a space); `EPIPE` means the ring buffer overwrote
//! records we had not read yet: counted as one loss (`LossCause::KmsgSuppressed`; the
//! sequence gap, logged, counts records of every kind, not only audit ones).
//!
//! Reading starts at the beginning of the ring, not at its end: records printed while the
//! daemon was down are still there, and the ones already stored are dropped by the
//! store's dedup (key: node, time, serial), so a restart neither loses nor repeats. The
//! path may also be a plain file (tests, a saved `dmesg -r`): it is then followed like a
//! growing file.

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parsers::{parse_line, Event, Parsed};

use super::{SampledLog, SourceCtx, SourceHandle};
use crate::config::Config;
use crate::metrics::metrics;
use crate::pipeline::{LossCause, SourceBatch, SourceKind};

/// The kernel log device.
pub const DEFAULT_PATH: &str = "/dev/kmsg";
const MAX_BATCH: usize = 4096;
/// The longest line of a plain file kept.
const MAX_LINE: usize = 64 * 1024;
const LINGER: Duration = Duration::from_millis(20);

/// The kmsg path of `cfg` (`kmsg.path`, default `/dev/kmsg`).
pub fn path(cfg: &Config) -> &Path {
    cfg.kmsg.path.as_deref().unwrap_or(Path::new(DEFAULT_PATH))
}

/// Splits one `/dev/kmsg` record into its sequence number and its message (the first
/// line after `;`). `None` when it is not in that format.
pub fn split_record(rec: &[u8]) -> Option<(u64, &[u8])> {
    let semi = memchr::memchr(b';', rec)?;
    let mut fields = rec[..semi].split(|&c| c == b',');
    let _prio = fields.next()?;
    let seq = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let msg = &rec[semi + 1..];
    let end = memchr::memchr(b'\n', msg).unwrap_or(msg.len());
    Some((seq, &msg[..end]))
}

/// Opens the device and starts the reader thread.
pub fn spawn(path: &Path, ctx: SourceCtx) -> anyhow::Result<SourceHandle> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let is_device = !file.metadata().map(|m| m.is_file()).unwrap_or(false);
    tracing::warn!(
        path = %path.display(),
        "kmsg source: the kernel rate-limits audit records on this path (printk); drops are counted from \"kauditd_printk_skb: N callbacks suppressed\". Prefer the netlink or audit-log source"
    );
    let path = path.to_path_buf();
    SourceHandle::spawn(SourceKind::Kmsg, move || {
        metrics()
            .source_up
            .with_label_values(&[SourceKind::Kmsg.as_str()])
            .set(1);
        let mut r = KmsgReader::new(file, path, is_device, ctx);
        let res = r.run();
        r.flush();
        metrics()
            .source_up
            .with_label_values(&[SourceKind::Kmsg.as_str()])
            .set(0);
        res
    })
    .map_err(Into::into)
}

struct KmsgReader {
    file: File,
    path: PathBuf,
    is_device: bool,
    ctx: SourceCtx,
    batch: SourceBatch,
    first_at: Option<Instant>,
    last_seq: Option<u64>,
    skipped: u64,
    errors_log: SampledLog,
    warnings_log: SampledLog,
    /// A plain file's unfinished last line.
    partial: Vec<u8>,
    /// Inside an over-long line of a plain file: dropped up to its newline.
    skipping: bool,
    closed: bool,
}

fn new_batch() -> SourceBatch {
    SourceBatch {
        source: Some(SourceKind::Kmsg),
        live: true,
        ..Default::default()
    }
}

impl KmsgReader {
    fn new(file: File, path: PathBuf, is_device: bool, ctx: SourceCtx) -> KmsgReader {
        KmsgReader {
            file,
            path,
            is_device,
            ctx,
            batch: new_batch(),
            first_at: None,
            last_seq: None,
            skipped: 0,
            errors_log: SampledLog::new(5),
            warnings_log: SampledLog::new(5),
            partial: Vec::new(),
            skipping: false,
            closed: false,
        }
    }

    fn run(&mut self) -> anyhow::Result<()> {
        // A record is at most 8 KiB (PRINTK_MESSAGE_MAX / the devkmsg buffer).
        let mut buf = vec![0u8; 16 * 1024];
        while !self.ctx.cancel.is_cancelled() && !self.closed {
            match self.file.read(&mut buf) {
                Ok(0) => {
                    self.idle();
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(n) => {
                    if self.is_device {
                        self.record(&buf[..n]);
                    } else {
                        self.partial.extend_from_slice(&buf[..n]);
                        let data = std::mem::take(&mut self.partial);
                        let mut start = 0;
                        while let Some(i) = memchr::memchr(b'\n', &data[start..]) {
                            let line = &data[start..start + i];
                            start += i + 1;
                            if std::mem::take(&mut self.skipping) {
                                continue; // the end of an over-long line
                            }
                            if !line.starts_with(b" ") {
                                self.record(line);
                            }
                        }
                        self.partial = data[start..].to_vec();
                        // A record is at most 8 KiB: a longer line is skipped, not kept.
                        if self.partial.len() > MAX_LINE {
                            if !self.skipping {
                                let head = self.partial[..160].to_vec();
                                self.parse_error("a line longer than 64 KiB, skipped", &head);
                            }
                            self.skipping = true;
                            self.partial.clear();
                        }
                    }
                    if self.batch.events.len() >= MAX_BATCH {
                        self.flush();
                    }
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => {
                        self.idle();
                        self.wait_readable();
                    }
                    Some(libc::EINTR) => {}
                    Some(libc::EPIPE) => {
                        tracing::warn!(path = %self.path.display(), "the kernel log ring overwrote records before we read them (EPIPE)");
                        self.batch.losses.push((LossCause::KmsgSuppressed, 1));
                    }
                    _ => anyhow::bail!("cannot read {}: {e}", self.path.display()),
                },
            }
        }
        Ok(())
    }

    fn idle(&mut self) {
        if self.first_at.is_some_and(|t| t.elapsed() >= LINGER)
            || (self.first_at.is_none() && !self.batch.losses.is_empty())
        {
            self.flush();
        }
    }

    fn wait_readable(&self) {
        let ms = match self.first_at {
            Some(t) => LINGER.saturating_sub(t.elapsed()).as_millis().max(1) as libc::c_int,
            None => 200,
        };
        let mut pfd = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is valid for one entry.
        unsafe { libc::poll(&mut pfd, 1, ms) };
    }

    fn record(&mut self, rec: &[u8]) {
        let Some((seq, msg)) = split_record(rec) else {
            self.parse_error("not a /dev/kmsg record", rec);
            return;
        };
        if let Some(last) = self.last_seq {
            if seq > last + 1 && self.is_device {
                tracing::warn!(
                    missed = seq - last - 1,
                    "kernel log records were overwritten (of any kind, audit or not)"
                );
            }
        }
        self.last_seq = Some(seq);
        // The header stays: its facility says whether the kernel wrote the record.
        let first = &rec[..memchr::memchr(b'\n', rec).unwrap_or(rec.len())];
        match parse_line(first) {
            Ok(Parsed::Seccomp(r)) => match Event::from_record(&r) {
                Ok(ev) => {
                    if r.damaged() {
                        let s = SourceKind::Kmsg;
                        super::parse_warning(s, &mut self.warnings_log, &r, msg);
                    }
                    if self.first_at.is_none() {
                        self.first_at = Some(Instant::now());
                    }
                    self.batch.events.push(ev);
                }
                Err(e) => self.parse_error(&e.to_string(), msg),
            },
            Ok(Parsed::Suppressed(n)) => {
                tracing::warn!(
                    lost = n,
                    "the kernel suppressed audit records on the printk path (kauditd_printk_skb)"
                );
                self.batch.losses.push((LossCause::KmsgSuppressed, n));
            }
            Ok(Parsed::Forged(u)) => {
                super::forged(SourceKind::Kmsg, &mut self.warnings_log, &u, msg)
            }
            Ok(Parsed::Other(_)) => self.skipped += 1,
            Ok(Parsed::NotAudit) => {}
            Err(e) => self.parse_error(&e.kind.to_string(), msg),
        }
    }

    fn parse_error(&mut self, what: &str, d: &[u8]) {
        self.batch.parse_errors += 1;
        if self.errors_log.hit() {
            let excerpt = parsers::escape::escape_bytes(&d[..d.len().min(160)]);
            tracing::warn!(source = "kmsg", "cannot parse a record ({what}): {excerpt}");
        }
    }

    fn flush(&mut self) {
        self.first_at = None;
        if self.skipped > 0 {
            metrics()
                .skipped_records
                .with_label_values(&[SourceKind::Kmsg.as_str()])
                .inc_by(self.skipped);
            self.skipped = 0;
        }
        let mut b = std::mem::replace(&mut self.batch, new_batch());
        b.live = super::tail::is_recent(&b.events);
        if !super::send(&self.ctx.tx, b) {
            self.closed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_kmsg_records() {
        let r = b"5,571,3023685996,-;audit: type=1326 audit(1795997034.781:4620775): pid=1\n SUBSYSTEM=x\n";
        let (seq, msg) = split_record(r).unwrap();
        assert_eq!(seq, 571);
        assert_eq!(
            msg,
            b"audit: type=1326 audit(1795997034.781:4620775): pid=1"
        );
        assert_eq!(split_record(b"no header"), None);
        assert_eq!(split_record(b"5,x,1,-;m"), None);
    }

    #[test]
    fn fixture_lines_parse_as_seccomp_or_suppressed() {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/audit/kmsg-raw.txt"
        ))
        .unwrap();
        let (mut events, mut suppressed) = (0, 0);
        for line in text.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            split_record(line).unwrap();
            match parse_line(line).unwrap() {
                Parsed::Seccomp(_) => events += 1,
                Parsed::Suppressed(n) => suppressed += n,
                _ => {}
            }
        }
        assert!(events >= 7, "{events}");
        assert_eq!(suppressed, 59);
    }
}
