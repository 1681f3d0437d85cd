//! The audit.log source: follows the file like `tail -F` without losing or repeating a
//! line across rotation by rename, copytruncate, a partial last line, and a restart or
//! SIGKILL of the daemon.
//!
//! How (see also ARCHITECTURE.md):
//! - The file is read with `pread` at our own offset, never through the fd's cursor, in
//!   big chunks; lines are handed on only when complete (a partial last line waits for
//!   its `\n`). Every batch of events carries a [`Checkpoint`] (device, inode, fingerprint
//!   = hash of the first line, offset just after the last complete line) that the writer
//!   commits in the same transaction as the events.
//! - Rotation by rename (auditd: `audit.log` -> `audit.log.1`, new `audit.log`): when the
//!   path no longer names our inode, the old fd is read to its end once more (auditd
//!   wrote its last lines before the rename), its partial last line is taken as final,
//!   then the next newer file is opened at 0. "Next newer" is found by position in the
//!   list `audit.log.N` .. `audit.log.1`, `audit.log`, so several rotations in a row are
//!   walked file by file.
//! - Copytruncate (`cp audit.log audit.log.1; truncate audit.log`): after each read the
//!   first line is checked (one small `pread`); a different first line, or a file shorter
//!   than our offset, means the file was truncated and possibly rewritten. The bytes read
//!   after the truncation are discarded; the lines we had not read yet are in the copy:
//!   a rotated file with our fingerprint and another inode, read from our offset to its
//!   end; then `audit.log` is read again from 0.
//! - Restart: the checkpointed file is found among `audit.log`, `audit.log.1`..`.N` by
//!   (dev, inode, fingerprint) (or by fingerprint alone: the copy of a copytruncate),
//!   read from the checkpointed offset, then every newer file in order. Without a
//!   checkpoint the current `audit.log` is read from its beginning. If the checkpointed
//!   file is gone, every file is read from the oldest (the store drops the duplicates).
//! - inotify (the `notify` crate, on the directory) wakes the loop; a poll every
//!   `audit_log.poll_ms` is the safety net.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use parsers::{parse_line, Event, Parsed};
use tokio_util::sync::CancellationToken;

use super::{SampledLog, SourceCtx, SourceHandle};
use crate::metrics::metrics;
use crate::pipeline::{Checkpoint, SourceBatch, SourceKind};

/// Bytes per read.
const CHUNK: usize = 1 << 20;
/// Events per batch at most.
const MAX_BATCH: usize = 4096;
/// A checkpoint-only batch (lines read, no SECCOMP record among them) is sent at most
/// this often.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// The fingerprint covers the first line, or its first this many bytes.
const FP_MAX: usize = 4096;
/// Rotated files looked at: `audit.log.1` .. `audit.log.MAX_ROTATED`.
const MAX_ROTATED: usize = 999;
/// Events older than this are not "live" (attribution does not look their pid up).
const LIVE_AGE_MS: i64 = 30_000;

/// The checkpoint key of the follower of `path`.
pub fn checkpoint_key(path: &Path) -> String {
    format!("audit-log:{}", path.display())
}

/// True when every event is recent enough for its process to be looked up (a batch of
/// old lines read at catch-up is not).
pub fn is_recent(events: &[Event]) -> bool {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    events.iter().all(|e| now - e.time_ms < LIVE_AGE_MS)
}

/// A file's fingerprint: FNV-1a of its first line (with its `\n`), or of its first
/// [`FP_MAX`] bytes; never 0 (0 means "not known yet" in a checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub hash: u64,
    /// How many bytes it covers.
    pub len: usize,
}

fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in b {
        h ^= u64::from(c);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

/// The fingerprint of `file`; `None` while its first line is incomplete.
pub fn fingerprint(file: &File) -> io::Result<Option<Fingerprint>> {
    let mut buf = [0u8; FP_MAX];
    let n = read_full_at(file, &mut buf, 0)?;
    Ok(match memchr::memchr(b'\n', &buf[..n]) {
        Some(i) => Some(Fingerprint {
            hash: fnv1a(&buf[..=i]),
            len: i + 1,
        }),
        None if n == FP_MAX => Some(Fingerprint {
            hash: fnv1a(&buf),
            len: FP_MAX,
        }),
        None => None,
    })
}

fn read_full_at(file: &File, buf: &mut [u8], off: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], off + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// True when `file` still starts with the line `fp` was taken from.
fn same_start(file: &File, fp: Fingerprint) -> io::Result<bool> {
    let mut buf = [0u8; FP_MAX];
    let n = read_full_at(file, &mut buf[..fp.len], 0)?;
    Ok(n == fp.len && fnv1a(&buf[..n]) == fp.hash)
}

/// One file of the rotation set.
#[derive(Debug, Clone)]
struct Entry {
    /// 0 for `audit.log`, N for `audit.log.N`.
    idx: usize,
    path: PathBuf,
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
}

fn rotated_path(base: &Path, idx: usize) -> PathBuf {
    if idx == 0 {
        return base.to_path_buf();
    }
    let mut s = base.as_os_str().to_owned();
    s.push(format!(".{idx}"));
    PathBuf::from(s)
}

/// `audit.log` (when it exists) and `audit.log.1`, `.2`, ... up to the first missing one.
fn scan(base: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    for idx in 0..=MAX_ROTATED {
        let path = rotated_path(base, idx);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => out.push(Entry {
                idx,
                path,
                dev: m.dev(),
                ino: m.ino(),
                len: m.len(),
                mtime: m.mtime(),
            }),
            _ if idx == 0 => {}
            _ => break,
        }
    }
    out
}

/// The file being read.
struct Cur {
    file: File,
    path: PathBuf,
    dev: u64,
    ino: u64,
    fp: Option<Fingerprint>,
    /// Offset just after the last complete line handed on.
    offset: u64,
    /// Bytes read after `offset` that do not make a complete line yet.
    buf: Vec<u8>,
}

impl Cur {
    fn open(path: &Path, offset: u64) -> io::Result<Cur> {
        let file = File::open(path)?;
        let m = file.metadata()?;
        let fp = fingerprint(&file)?;
        let offset = if offset > m.len() {
            tracing::warn!(path = %path.display(), offset, len = m.len(), "audit.log is shorter than the checkpoint: reading it from the start");
            0
        } else {
            offset
        };
        Ok(Cur {
            file,
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
            fp,
            offset,
            buf: Vec::new(),
        })
    }

    fn checkpoint(&self, key: &str) -> Checkpoint {
        Checkpoint {
            key: key.to_string(),
            path: self.path.display().to_string(),
            dev: self.dev,
            ino: self.ino,
            fingerprint: self.fp.map_or(0, |f| f.hash),
            offset: self.offset,
        }
    }

    fn mtime(&self) -> i64 {
        self.file.metadata().map_or(0, |m| m.mtime())
    }
}

/// What a read pass found.
#[derive(Debug, PartialEq, Eq)]
enum ReadEnd {
    Eof,
    /// The file was truncated (and maybe rewritten) under us.
    Truncated,
    /// The pipeline is gone or we were cancelled.
    Stop,
}

/// The follower of one audit.log. Drive it with [`Tailer::step`]; every batch goes to the
/// `emit` callback (which returns false when the pipeline is gone).
pub struct Tailer {
    base: PathBuf,
    key: String,
    resume: Option<Checkpoint>,
    started: bool,
    cur: Option<Cur>,
    batch: SourceBatch,
    /// The last checkpoint emitted (ino, offset).
    emitted: Option<(u64, u64)>,
    last_emit: Instant,
    skipped: u64,
    errors_log: SampledLog,
    warnings_log: SampledLog,
    cancel: Option<CancellationToken>,
    stopped: bool,
}

fn new_batch() -> SourceBatch {
    SourceBatch {
        source: Some(SourceKind::AuditLog),
        ..Default::default()
    }
}

impl Tailer {
    /// A follower of `base` (the live `audit.log`), resuming from `resume` when given.
    pub fn new(base: impl Into<PathBuf>, resume: Option<Checkpoint>) -> Tailer {
        let base = base.into();
        Tailer {
            key: checkpoint_key(&base),
            base,
            resume,
            started: false,
            cur: None,
            batch: new_batch(),
            emitted: None,
            last_emit: Instant::now(),
            skipped: 0,
            errors_log: SampledLog::new(5),
            warnings_log: SampledLog::new(5),
            cancel: None,
            stopped: false,
        }
    }

    /// Stops long reads early when `t` is cancelled.
    pub fn with_cancel(mut self, t: CancellationToken) -> Tailer {
        self.cancel = Some(t);
        self
    }

    /// The checkpoint key (`audit-log:PATH`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The current position (what the next batch's checkpoint would say).
    pub fn position(&self) -> Option<Checkpoint> {
        self.cur.as_ref().map(|c| c.checkpoint(&self.key))
    }

    fn should_stop(&self) -> bool {
        self.stopped || self.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }

    /// Reads everything there is to read now, following rotations, and emits it.
    pub fn step(&mut self, emit: &mut dyn FnMut(SourceBatch) -> bool) -> io::Result<()> {
        if !self.started {
            self.started = true;
            self.cur = self.open_start()?;
        }
        let mut guard = 0;
        while !self.should_stop() {
            guard += 1;
            if guard > 10_000 {
                break; // A pathological rotation storm: go on at the next step.
            }
            if self.cur.is_none() {
                // audit.log did not exist: look again.
                match Cur::open(&self.base, 0) {
                    Ok(c) => self.cur = Some(c),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) => return Err(e),
                }
            }
            match self.read_available(false, emit)? {
                ReadEnd::Stop => break,
                ReadEnd::Truncated => {
                    self.on_truncate(emit)?;
                    continue;
                }
                ReadEnd::Eof => {}
            }
            let list = scan(&self.base);
            let Some(cur) = self.cur.as_ref() else { break };
            let pos = list
                .iter()
                .find(|e| e.dev == cur.dev && e.ino == cur.ino)
                .map(|e| e.idx);
            if pos == Some(0) {
                // Still the live file: was it truncated since the last read?
                let len = cur.file.metadata()?.len();
                let rewritten = match cur.fp {
                    Some(fp) => !same_start(&cur.file, fp)?,
                    None => false,
                };
                if len < cur.offset + cur.buf.len() as u64 || rewritten {
                    self.on_truncate(emit)?;
                    continue;
                }
                break;
            }
            // Rotated (or deleted): finish it, then go on with the next newer file.
            match self.read_available(true, emit)? {
                ReadEnd::Stop => break,
                ReadEnd::Eof | ReadEnd::Truncated => {}
            }
            let Some(next) = self.successor(&list, pos)? else {
                break;
            };
            self.emit_batch(true, emit);
            tracing::info!(from = %self.cur.as_ref().map(|c| c.path.display().to_string()).unwrap_or_default(), to = %next.path.display(), "audit.log rotated: going on with the next file");
            self.cur = Some(next);
        }
        self.emit_batch(false, emit);
        Ok(())
    }

    /// Emits what is pending, checkpoint included, whatever its age (shutdown).
    pub fn finish(&mut self, emit: &mut dyn FnMut(SourceBatch) -> bool) {
        self.emit_batch(true, emit);
    }

    /// The file to start with.
    fn open_start(&mut self) -> io::Result<Option<Cur>> {
        let list = scan(&self.base);
        let Some(cp) = self.resume.take() else {
            return match list.iter().find(|e| e.idx == 0) {
                Some(e) => Ok(Some(Cur::open(&e.path, 0)?)),
                None => Ok(None),
            };
        };
        let fps: Vec<Option<Fingerprint>> = list
            .iter()
            .map(|e| {
                File::open(&e.path)
                    .and_then(|f| fingerprint(&f))
                    .ok()
                    .flatten()
            })
            .collect();
        let exact = list.iter().zip(&fps).find(|(e, fp)| {
            e.dev == cp.dev
                && e.ino == cp.ino
                && (fp.map(|f| f.hash) == Some(cp.fingerprint)
                    || (cp.fingerprint == 0 && cp.offset == 0))
        });
        let copy = || {
            list.iter().zip(&fps).find(|(e, fp)| {
                cp.fingerprint != 0
                    && fp.map(|f| f.hash) == Some(cp.fingerprint)
                    && e.len >= cp.offset
            })
        };
        if let Some((e, _)) = exact.or_else(copy) {
            tracing::info!(path = %e.path.display(), offset = cp.offset, "audit.log: resuming from the checkpoint");
            return Ok(Some(Cur::open(&e.path, cp.offset)?));
        }
        match list.last() {
            Some(oldest) => {
                tracing::warn!(
                    checkpoint_path = %cp.path,
                    "audit.log: the checkpointed file is gone (rotated away?): reading every file from the oldest, {} (records already stored are dropped as duplicates)",
                    oldest.path.display()
                );
                Ok(Some(Cur::open(&oldest.path, 0)?))
            }
            None => Ok(None),
        }
    }

    /// The file after the current one (at index `pos` in `list`, or gone); `None` when
    /// there is none yet.
    fn successor(&self, list: &[Entry], pos: Option<usize>) -> io::Result<Option<Cur>> {
        let Some(cur) = self.cur.as_ref() else {
            return Ok(None);
        };
        let want = match pos {
            Some(0) => return Ok(None),
            Some(k) => list.iter().find(|e| e.idx == k - 1),
            None => {
                // Deleted or rotated past the last kept file: the oldest file written
                // since it (mtime has a 1 s granularity on some file systems).
                let mt = cur.mtime();
                list.iter()
                    .filter(|e| e.ino != cur.ino && e.mtime >= mt - 1)
                    .max_by_key(|e| e.idx)
            }
        };
        let Some(e) = want else { return Ok(None) };
        let next = match Cur::open(&e.path, 0) {
            Ok(c) => c,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        if next.ino != e.ino || next.dev != e.dev {
            return Ok(None); // Rotated again between the scan and the open: rescan later.
        }
        Ok(Some(next))
    }

    /// A truncation of the current file: go on in its copy from our offset if there is
    /// one, else from 0 of the same file.
    fn on_truncate(&mut self, emit: &mut dyn FnMut(SourceBatch) -> bool) -> io::Result<()> {
        self.emit_batch(true, emit);
        let Some(mut cur) = self.cur.take() else {
            return Ok(());
        };
        cur.buf.clear();
        if let Some(fp) = cur.fp {
            for e in scan(&self.base) {
                if e.idx == 0 || e.ino == cur.ino || e.len < cur.offset {
                    continue;
                }
                let Ok(f) = File::open(&e.path) else { continue };
                if fingerprint(&f)? == Some(fp) {
                    tracing::info!(copy = %e.path.display(), offset = cur.offset, "audit.log was truncated (copytruncate): reading the rest from its copy");
                    self.cur = Some(Cur::open(&e.path, cur.offset)?);
                    return Ok(());
                }
            }
        }
        tracing::warn!(path = %cur.path.display(), offset = cur.offset, "audit.log was truncated and no copy of it was found: reading it again from the start");
        cur.offset = 0;
        cur.fp = None;
        self.cur = Some(cur);
        Ok(())
    }

    /// Reads the current file from our position to its end, handing on complete lines.
    /// With `last`, a partial last line is taken as a line (the file is finished).
    fn read_available(
        &mut self,
        last: bool,
        emit: &mut dyn FnMut(SourceBatch) -> bool,
    ) -> io::Result<ReadEnd> {
        loop {
            if self.should_stop() {
                return Ok(ReadEnd::Stop);
            }
            let Some(cur) = self.cur.as_mut() else {
                return Ok(ReadEnd::Eof);
            };
            let pos = cur.offset + cur.buf.len() as u64;
            let old = cur.buf.len();
            cur.buf.resize(old + CHUNK, 0);
            let n = loop {
                match cur.file.read_at(&mut cur.buf[old..], pos) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        cur.buf.truncate(old);
                        return Err(e);
                    }
                }
            };
            cur.buf.truncate(old + n);
            if n == 0 {
                break;
            }
            // Checked after the read: if the first line is still ours, what we read was
            // written before any truncation.
            match cur.fp {
                Some(fp) => {
                    if !same_start(&cur.file, fp)? {
                        cur.buf.truncate(old);
                        return Ok(ReadEnd::Truncated);
                    }
                }
                None => cur.fp = fingerprint(&cur.file)?,
            }
            if !self.consume_lines(false, emit) {
                return Ok(ReadEnd::Stop);
            }
        }
        if last && !self.consume_lines(true, emit) {
            return Ok(ReadEnd::Stop);
        }
        Ok(ReadEnd::Eof)
    }

    /// Hands on the complete lines in the current buffer (and the partial one with
    /// `last`). False when the pipeline is gone.
    fn consume_lines(&mut self, last: bool, emit: &mut dyn FnMut(SourceBatch) -> bool) -> bool {
        let Some(mut cur) = self.cur.take() else {
            return true;
        };
        let mut start = 0;
        let mut ok = true;
        loop {
            let rest = &cur.buf[start..];
            let (line, used) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], i + 1),
                None if last && !rest.is_empty() => (rest, rest.len()),
                None => break,
            };
            self.line(line, &cur.path, cur.offset + start as u64);
            start += used;
            if self.batch.events.len() >= MAX_BATCH {
                let mut b = std::mem::replace(&mut self.batch, new_batch());
                let mut cp = cur.checkpoint(&self.key);
                cp.offset = cur.offset + start as u64;
                self.emitted = Some((cp.ino, cp.offset));
                b.checkpoint = Some(cp);
                if !self.send(b, emit) {
                    ok = false;
                    break;
                }
            }
        }
        cur.buf.drain(..start);
        cur.offset += start as u64;
        self.cur = Some(cur);
        ok
    }

    fn line(&mut self, line: &[u8], path: &Path, offset: u64) {
        match parse_line(line) {
            Ok(Parsed::Seccomp(r)) => match Event::from_record(&r) {
                Ok(ev) => {
                    if r.damaged() {
                        let s = SourceKind::AuditLog;
                        super::parse_warning(s, &mut self.warnings_log, &r, line);
                    }
                    self.batch.events.push(ev)
                }
                Err(e) => self.parse_error(&e.to_string(), line, path, offset),
            },
            Ok(Parsed::Forged(u)) => {
                super::forged(SourceKind::AuditLog, &mut self.warnings_log, &u, line)
            }
            Ok(Parsed::Other(_)) => self.skipped += 1,
            Ok(Parsed::NotAudit) if line.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Parsed::NotAudit) | Ok(Parsed::Suppressed(_)) => {
                self.parse_error("not an audit record", line, path, offset)
            }
            Err(e) => self.parse_error(&e.kind.to_string(), line, path, offset),
        }
    }

    fn parse_error(&mut self, what: &str, line: &[u8], path: &Path, offset: u64) {
        self.batch.parse_errors += 1;
        if self.errors_log.hit() {
            let excerpt = parsers::escape::escape_bytes(&line[..line.len().min(160)]);
            tracing::warn!(
                source = "audit-log",
                "{}@{offset}: cannot parse ({what}), skipped: {excerpt}",
                path.display()
            );
            if self.errors_log.is_last() {
                tracing::warn!(
                    source = "audit-log",
                    "further parse errors are counted, not logged"
                );
            }
        }
    }

    fn send(&mut self, mut b: SourceBatch, emit: &mut dyn FnMut(SourceBatch) -> bool) -> bool {
        if self.skipped > 0 {
            metrics()
                .skipped_records
                .with_label_values(&[SourceKind::AuditLog.as_str()])
                .inc_by(self.skipped);
            self.skipped = 0;
        }
        b.live = !b.events.is_empty() && is_recent(&b.events);
        self.last_emit = Instant::now();
        if !emit(b) {
            self.stopped = true;
            return false;
        }
        true
    }

    /// Emits the pending events with the current checkpoint; a batch with nothing but a
    /// new checkpoint only when `force` or at most every [`CHECKPOINT_EVERY`].
    fn emit_batch(&mut self, force: bool, emit: &mut dyn FnMut(SourceBatch) -> bool) {
        let Some(cp) = self.position() else { return };
        let moved = self.emitted != Some((cp.ino, cp.offset));
        let has_data = !self.batch.events.is_empty() || self.batch.parse_errors > 0;
        if !has_data && !(moved && (force || self.last_emit.elapsed() >= CHECKPOINT_EVERY)) {
            return;
        }
        let mut b = std::mem::replace(&mut self.batch, new_batch());
        self.emitted = Some((cp.ino, cp.offset));
        b.checkpoint = Some(cp);
        self.send(b, emit);
    }
}

/// Starts the tailer thread on `path`, resuming from `resume`; it wakes on inotify events
/// of the directory and every `poll`.
pub fn spawn(
    path: &Path,
    poll: Duration,
    resume: Option<Checkpoint>,
    ctx: SourceCtx,
) -> anyhow::Result<SourceHandle> {
    let base = path.to_path_buf();
    let dir = base
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let (wake_tx, wake_rx) = sync_channel::<()>(1);
    let watcher = {
        use ::notify::Watcher;
        let handler = move |_res: ::notify::Result<::notify::Event>| {
            let _ = wake_tx.try_send(());
        };
        let w = ::notify::recommended_watcher(handler).and_then(|mut w| {
            w.watch(&dir, ::notify::RecursiveMode::NonRecursive)
                .map(|()| w)
        });
        match w {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "inotify unavailable ({e}): polling every {} ms", poll.as_millis());
                None
            }
        }
    };
    let mut tailer = Tailer::new(base.clone(), resume).with_cancel(ctx.cancel.clone());
    let handle = SourceHandle::spawn(SourceKind::AuditLog, move || {
        let _watcher = watcher;
        let tx = ctx.tx.clone();
        let mut emit = |b: SourceBatch| super::send(&tx, b);
        metrics()
            .source_up
            .with_label_values(&[SourceKind::AuditLog.as_str()])
            .set(1);
        let mut res = Ok(());
        let mut failing = false;
        while !ctx.cancel.is_cancelled() && !tailer.stopped {
            match tailer.step(&mut emit) {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        tracing::error!(path = %base.display(), "audit.log: read error (retrying): {e}");
                    }
                    failing = true;
                }
            }
            match wake_rx.recv_timeout(poll) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(poll),
            }
        }
        if !tailer.stopped {
            tailer.finish(&mut emit);
        } else {
            res = Err(anyhow::anyhow!("the pipeline closed"));
        }
        metrics()
            .source_up
            .with_label_values(&[SourceKind::AuditLog.as_str()])
            .set(0);
        res
    })?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rec(serial: u64) -> String {
        format!(
            "type=SECCOMP msg=audit(1700000000.{:03}:{serial}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=42 comm=\"x\" exe=\"/x\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x1 code=0x7ffc0000\n",
            serial % 1000
        )
    }

    fn other(serial: u64) -> String {
        format!("type=SYSCALL msg=audit(1700000000.000:{serial}): arch=c000003e syscall=1 success=yes\n")
    }

    fn append(p: &Path, s: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        f.write_all(s.as_bytes()).unwrap();
    }

    #[derive(Default)]
    struct Sink {
        serials: Vec<u64>,
        parse_errors: u64,
        last_cp: Option<Checkpoint>,
    }

    impl Sink {
        fn step(&mut self, t: &mut Tailer) {
            t.step(&mut |b: SourceBatch| {
                self.serials
                    .extend(b.events.iter().filter_map(|e| e.serial));
                self.parse_errors += b.parse_errors;
                if let Some(cp) = b.checkpoint {
                    self.last_cp = Some(cp);
                }
                true
            })
            .unwrap();
        }
    }

    fn range(a: u64, b: u64) -> Vec<u64> {
        (a..b).collect()
    }

    #[test]
    fn follows_appends_and_waits_for_partial_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        append(&p, &(rec(1) + &other(2) + &rec(3)));
        let mut t = Tailer::new(&p, None);
        let mut s = Sink::default();
        s.step(&mut t);
        assert_eq!(s.serials, [1, 3]);
        let line = rec(4);
        append(&p, &line[..50]);
        s.step(&mut t);
        assert_eq!(s.serials, [1, 3]);
        append(&p, &line[50..]);
        s.step(&mut t);
        assert_eq!(s.serials, [1, 3, 4]);
        let cp = s.last_cp.unwrap();
        assert_eq!(cp.offset, std::fs::metadata(&p).unwrap().len());
        assert_eq!(cp.ino, std::fs::metadata(&p).unwrap().ino());
    }

    #[test]
    fn rotation_by_rename_reads_the_old_file_to_its_end() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        append(&p, &rec(1));
        let mut t = Tailer::new(&p, None);
        let mut s = Sink::default();
        s.step(&mut t);
        // Written after our last read, then rotated twice before we look again.
        append(&p, &rec(2));
        std::fs::rename(&p, rotated_path(&p, 1)).unwrap();
        append(&p, &rec(3));
        std::fs::rename(rotated_path(&p, 1), rotated_path(&p, 2)).unwrap();
        std::fs::rename(&p, rotated_path(&p, 1)).unwrap();
        append(&p, &(rec(4) + &rec(5)));
        s.step(&mut t);
        assert_eq!(s.serials, range(1, 6));
        append(&p, &rec(6));
        s.step(&mut t);
        assert_eq!(s.serials, range(1, 7));
    }

    #[test]
    fn copytruncate_takes_the_unread_lines_from_the_copy() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        append(&p, &(rec(1) + &rec(2)));
        let mut t = Tailer::new(&p, None);
        let mut s = Sink::default();
        s.step(&mut t);
        append(&p, &rec(3)); // not read before the copy
        std::fs::copy(&p, rotated_path(&p, 1)).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        // Rewritten past our old offset before we look: only the first line tells.
        append(&p, &(rec(4) + &rec(5) + &rec(6) + &rec(7)));
        s.step(&mut t);
        assert_eq!(s.serials, range(1, 8));
        append(&p, &rec(8));
        s.step(&mut t);
        assert_eq!(s.serials, range(1, 9));
    }

    #[test]
    fn truncation_without_copy_restarts_at_zero() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        append(&p, &(rec(1) + &rec(2)));
        let mut t = Tailer::new(&p, None);
        let mut s = Sink::default();
        s.step(&mut t);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        s.step(&mut t);
        append(&p, &rec(3));
        s.step(&mut t);
        assert_eq!(s.serials, [1, 2, 3]);
    }

    #[test]
    fn resumes_from_a_checkpoint_after_rotations() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        append(&p, &(rec(1) + &rec(2)));
        let mut s = Sink::default();
        {
            let mut t = Tailer::new(&p, None);
            s.step(&mut t);
        }
        let cp = s.last_cp.clone().unwrap();
        // While we are down: more lines, a rotation, more lines, another rotation.
        append(&p, &rec(3));
        std::fs::rename(&p, rotated_path(&p, 1)).unwrap();
        append(&p, &rec(4));
        std::fs::rename(rotated_path(&p, 1), rotated_path(&p, 2)).unwrap();
        std::fs::rename(&p, rotated_path(&p, 1)).unwrap();
        append(&p, &rec(5));
        let mut t = Tailer::new(&p, Some(cp));
        s.step(&mut t);
        assert_eq!(s.serials, range(1, 6));
    }

    #[test]
    fn resumes_in_the_copy_after_a_copytruncate_while_down() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        append(&p, &rec(1));
        let mut s = Sink::default();
        s.step(&mut Tailer::new(&p, None));
        let cp = s.last_cp.clone().unwrap();
        append(&p, &rec(2));
        std::fs::copy(&p, rotated_path(&p, 1)).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&p, &rec(3));
        s.step(&mut Tailer::new(&p, Some(cp)));
        assert_eq!(s.serials, [1, 2, 3]);
    }

    #[test]
    fn lost_checkpoint_file_reads_everything_from_the_oldest() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        append(&rotated_path(&p, 2), &rec(1));
        append(&rotated_path(&p, 1), &rec(2));
        append(&p, &rec(3));
        let gone = Checkpoint {
            key: checkpoint_key(&p),
            path: "x".into(),
            dev: 1,
            ino: 1,
            fingerprint: 7,
            offset: 9,
        };
        let mut s = Sink::default();
        s.step(&mut Tailer::new(&p, Some(gone)));
        assert_eq!(s.serials, [1, 2, 3]);
    }

    #[test]
    fn garbage_lines_are_counted_and_skipped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        append(
            &p,
            &(rec(1) + "garbage \x1b[31m line\n" + "type=SECCOMP msg=audit(bad\n\n" + &rec(2)),
        );
        let mut s = Sink::default();
        s.step(&mut Tailer::new(&p, None));
        assert_eq!(s.serials, [1, 2]);
        assert_eq!(s.parse_errors, 2);
    }

    #[test]
    fn big_files_come_in_bounded_batches_with_checkpoints() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.log");
        let mut text = String::new();
        for i in 0..10_000 {
            text.push_str(&rec(i));
        }
        append(&p, &text);
        let mut t = Tailer::new(&p, None);
        let mut batches = Vec::new();
        t.step(&mut |b: SourceBatch| {
            batches.push((b.events.len(), b.checkpoint.map(|c| c.offset)));
            true
        })
        .unwrap();
        assert!(
            batches
                .iter()
                .all(|(n, cp)| *n <= MAX_BATCH && cp.is_some()),
            "{batches:?}"
        );
        assert_eq!(batches.iter().map(|b| b.0).sum::<usize>(), 10_000);
        assert_eq!(batches.last().unwrap().1, Some(text.len() as u64));
    }
}
