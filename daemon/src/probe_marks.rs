//! Marks of `doctor`'s live probe, so that a running daemon keeps the probe's record out
//! of the store, the rules and the metrics.
//!
//! The probe's child makes one SECCOMP_RET_LOG'd call, and every listener on the audit
//! multicast group (and auditd, hence the audit.log tailer) sees its record. Nothing in a
//! SECCOMP record is out of a process's own reach except its pid (comm, exe, auid of an
//! unset login uid are all forgeable from a container), so the mark is made by root where
//! only root can write: before the child makes its call, `doctor` writes the file
//! `/run/seccomp-watch-probes/PID` holding the time (Unix milliseconds). A record is a probe
//! record only when its comm is [`COMM`] (a cheap pre-filter: no file is looked at for other
//! records), a marker of its pid exists in a directory owned by root that group and others
//! cannot write, the marker is a regular file owned by root, and the record's time lies
//! within [`WINDOW_MS`] of the marker's (a pid reused later is not a probe). Markers older
//! than [`KEEP_MS`] are removed by the next `doctor`; the daemon only reads them (under its
//! unit /run is read-only).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where `doctor` leaves its marks.
pub const DIR: &str = "/run/seccomp-watch-probes";
/// The probe child's command name (15 bytes at most: the kernel's TASK_COMM_LEN).
pub const COMM: &str = "sw-doctor-probe";
/// A record counts as the probe's when its time is at most this long after the marker's
/// (or 1 s before: clocks of the record and of the marker are read apart).
pub const WINDOW_MS: i64 = 10_000;
/// Markers are kept this long (a daemon catching up on audit.log still finds them).
pub const KEEP_MS: i64 = 24 * 3600 * 1000;

/// Writes the marker of probe child `pid` at `now_ms` into `dir` (created, mode 0755, when
/// missing), and removes markers older than [`KEEP_MS`].
pub fn mark(dir: &Path, pid: u32, now_ms: i64) -> std::io::Result<PathBuf> {
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let old = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|t| t.trim().parse::<i64>().ok())
                .is_none_or(|t| now_ms - t > KEEP_MS);
            if old {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let path = dir.join(pid.to_string());
    // A new file each time: the old marker of a reused pid is replaced, never followed.
    let tmp = dir.join(format!(".{pid}.{now_ms}"));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(format!("{now_ms}\n").as_bytes())?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Tells the probe's records apart (see the module documentation).
#[derive(Debug, Clone)]
pub struct ProbeFilter {
    dir: PathBuf,
    /// The owner the directory and the markers must have (root; tests use their own).
    owner: u32,
}

impl Default for ProbeFilter {
    fn default() -> Self {
        ProbeFilter::new(Path::new(DIR), 0)
    }
}

impl ProbeFilter {
    pub fn new(dir: &Path, owner: u32) -> ProbeFilter {
        ProbeFilter {
            dir: dir.to_path_buf(),
            owner,
        }
    }

    /// True when `e` is the record of a `doctor` probe.
    pub fn is_probe(&self, e: &parsers::Event) -> bool {
        if e.comm.as_deref() != Some(COMM) {
            return false;
        }
        let trusted = |m: &std::fs::Metadata| m.uid() == self.owner && m.mode() & 0o022 == 0;
        match std::fs::symlink_metadata(&self.dir) {
            Ok(m) if m.is_dir() && trusted(&m) => {}
            _ => return false,
        }
        let path = self.dir.join(e.pid.to_string());
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() && trusted(&m) => {}
            _ => return false,
        }
        let Some(t0) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
        else {
            return false;
        };
        (t0 - 1000..=t0 + WINDOW_MS).contains(&e.time_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(pid: u32, comm: &str, time_ms: i64) -> parsers::Event {
        let line = format!(
            "type=SECCOMP msg=audit({}.{:03}:7): auid=4294967295 uid=0 gid=0 ses=4294967295 pid={pid} comm=\"{comm}\" exe=\"/usr/bin/seccomp-watch\" sig=0 arch=c000003e syscall=110 compat=0 ip=0x7f93888d3829 code=0x7ffc0000",
            time_ms / 1000,
            time_ms % 1000
        );
        match parsers::parse_line(line.as_bytes()).unwrap() {
            parsers::Parsed::Seccomp(r) => parsers::Event::from_record(&r).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_a_marked_pid_with_the_probe_comm_in_the_window_is_a_probe() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("probes");
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        let f = ProbeFilter::new(&dir, me);
        let t0 = 1_795_997_052_000;
        assert!(!f.is_probe(&event(4242, COMM, t0)), "no marker yet");
        mark(&dir, 4242, t0).unwrap();
        assert!(f.is_probe(&event(4242, COMM, t0 + 30)));
        assert!(!f.is_probe(&event(4242, "sh", t0 + 30)), "another comm");
        assert!(!f.is_probe(&event(4243, COMM, t0 + 30)), "another pid");
        assert!(
            !f.is_probe(&event(4242, COMM, t0 + WINDOW_MS + 1)),
            "a pid reused later"
        );
        assert!(
            !f.is_probe(&event(4242, COMM, t0 - 5000)),
            "before the mark"
        );
        // Another owner's directory, or one others may write, is not trusted.
        assert!(!ProbeFilter::new(&dir, me + 1).is_probe(&event(4242, COMM, t0 + 30)));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            !f.is_probe(&event(4242, COMM, t0 + 30)),
            "world-writable dir"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A symlink planted as a marker is not followed.
        let elsewhere = d.path().join("elsewhere");
        std::fs::write(&elsewhere, format!("{t0}\n")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dir.join("4244")).unwrap();
        assert!(!f.is_probe(&event(4244, COMM, t0 + 30)));
        // Old markers go at the next mark.
        mark(&dir, 4245, t0 + KEEP_MS + 1).unwrap();
        assert!(!dir.join("4242").exists());
        assert!(dir.join("4245").exists());
    }
}
