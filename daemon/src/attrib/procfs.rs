//! Reading a process's start time (`/proc/PID/stat` field 22) and cgroup (`/proc/PID/cgroup`)
//! from a configurable proc root, and converting kernel clocks to wall-clock milliseconds.
//!
//! Audit records carry wall-clock (`CLOCK_REALTIME`, coarse) milliseconds; `/proc/PID/stat`
//! gives the start in clock ticks since boot (`CLOCK_BOOTTIME`); the proc connector stamps
//! its events with `CLOCK_MONOTONIC` nanoseconds. Everything is converted to realtime
//! milliseconds with offsets sampled when the value is read.

use std::io::Read;
use std::path::{Path, PathBuf};

/// What `/proc/PID/stat` says that attribution needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Field 4.
    pub ppid: u32,
    /// Field 22: start time in clock ticks after boot.
    pub start_ticks: u64,
}

/// Parses the contents of `/proc/PID/stat`. The command name (field 2) may contain spaces
/// and parentheses: the fields after it are found after the *last* `)`.
pub fn parse_stat(contents: &[u8]) -> Option<Stat> {
    let close = contents.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(contents.get(close + 1..)?).ok()?;
    // After the comm: field 3 (state) is index 0, so field N is index N - 3.
    let mut fields = rest.split_ascii_whitespace();
    let ppid = fields.nth(1)?.parse().ok()?;
    let start_ticks = fields.nth(22 - 5)?.parse().ok()?;
    Some(Stat { ppid, start_ticks })
}

/// Milliseconds of `clock` (a `libc::CLOCK_*`), or 0 if it cannot be read.
#[allow(clippy::unnecessary_cast)] // time_t and c_long are not i64 on every target
pub fn clock_ms(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as i64).saturating_mul(1000) + (ts.tv_nsec as i64) / 1_000_000
}

/// Nanoseconds of `clock`, or 0 if it cannot be read.
#[allow(clippy::unnecessary_cast)] // time_t and c_long are not i64 on every target
pub fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as i64).saturating_mul(1_000_000_000) + ts.tv_nsec as i64
}

/// Wall-clock milliseconds now.
pub fn now_ms() -> i64 {
    clock_ms(libc::CLOCK_REALTIME)
}

/// Realtime minus boottime, in milliseconds: add it to a time since boot.
pub fn boot_offset_ms() -> i64 {
    now_ms() - clock_ms(libc::CLOCK_BOOTTIME)
}

/// Realtime minus monotonic time, in nanoseconds: add it to a `CLOCK_MONOTONIC` stamp.
pub fn mono_offset_ns() -> i64 {
    clock_ns(libc::CLOCK_REALTIME) - clock_ns(libc::CLOCK_MONOTONIC)
}

/// A proc root (normally `/proc`) and the clock-tick rate of `stat` times.
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
    ticks_per_sec: i64,
}

impl ProcFs {
    pub fn new(root: impl Into<PathBuf>) -> ProcFs {
        // SAFETY: sysconf has no preconditions.
        let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        ProcFs {
            root: root.into(),
            ticks_per_sec: if tck > 0 { tck as i64 } else { 100 },
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Length of one clock tick in milliseconds (10 with the usual USER_HZ of 100).
    pub fn tick_ms(&self) -> i64 {
        (1000 / self.ticks_per_sec).max(1)
    }

    /// `/proc/PID/stat`, parsed; `None` when the process does not exist (any more).
    pub fn stat(&self, pid: u32) -> Option<Stat> {
        let mut buf = [0u8; 1024];
        let n = read_small(&self.pid_path(pid, "stat"), &mut buf)?;
        parse_stat(&buf[..n])
    }

    /// The contents of `/proc/PID/cgroup`; `None` when the process does not exist.
    pub fn cgroup(&self, pid: u32) -> Option<String> {
        let mut f = std::fs::File::open(self.pid_path(pid, "cgroup")).ok()?;
        let mut b = Vec::with_capacity(1024);
        f.read_to_end(&mut b).ok()?;
        let s = match String::from_utf8(b) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        // An exited process (zombie) reads as empty: no information.
        (!s.trim().is_empty()).then_some(s)
    }

    /// Start ticks as realtime milliseconds, with `boot_offset` from [`boot_offset_ms`].
    pub fn ticks_to_ms(&self, ticks: u64, boot_offset: i64) -> i64 {
        let ticks = i64::try_from(ticks).unwrap_or(i64::MAX / 2);
        boot_offset.saturating_add(ticks.saturating_mul(1000) / self.ticks_per_sec)
    }

    /// The start ticks a process started at realtime `ms` would show (for tests with a fake
    /// proc root).
    pub fn ms_to_ticks(&self, ms: i64, boot_offset: i64) -> u64 {
        let since_boot = ms.saturating_sub(boot_offset).max(0);
        u64::try_from(since_boot.saturating_mul(self.ticks_per_sec) / 1000).unwrap_or(0)
    }

    fn pid_path(&self, pid: u32, file: &str) -> PathBuf {
        let mut p = self.root.clone();
        p.push(pid.to_string());
        p.push(file);
        p
    }
}

/// Reads a small file into `buf`; `None` if it cannot be opened or read.
fn read_small(path: &Path, buf: &mut [u8]) -> Option<usize> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let line = b"4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615\n";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 17,
                start_ticks: 987654
            })
        );
    }

    #[test]
    fn stat_garbage() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"1 (x) S 1 2"), None);
        assert_eq!(parse_stat(b"1 x S 1"), None);
    }

    #[test]
    fn own_process() {
        let p = ProcFs::new("/proc");
        let me = std::process::id();
        let st = p.stat(me).expect("own stat");
        let started = p.ticks_to_ms(st.start_ticks, boot_offset_ms());
        let now = now_ms();
        assert!(
            started <= now + 50 && started > now - 3_600_000,
            "start {started} now {now}"
        );
        assert!(p.cgroup(me).is_some());
        assert_eq!(p.stat(u32::MAX), None);
    }

    #[test]
    fn ticks_round_trip() {
        let p = ProcFs::new("/proc");
        let off = boot_offset_ms();
        let ms = now_ms() - 5000;
        let back = p.ticks_to_ms(p.ms_to_ticks(ms, off), off);
        assert!((ms - back).abs() <= p.tick_ms(), "{ms} {back}");
    }
}
