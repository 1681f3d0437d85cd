//! The doctor's live probe: a child process makes one SECCOMP_RET_LOG'd call and its
//! SECCOMP record must arrive on the audit multicast socket.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::probe_marks;

use super::report::{f, Level, Report};

/// NETLINK_AUDIT multicast group of the read-only log (AUDIT_NLGRP_READLOG), as a mask.
const READLOG_GROUP_MASK: u32 = 1;
const AUDIT_SECCOMP: u16 = 1326;

pub(super) fn check_probe(r: &mut Report) {
    match probe(Duration::from_secs(3)) {
        Ok(Probe { ms: Some(ms), unmarked }) => r.push(f(
            "live-probe",
            Level::Ok,
            format!(
                "a test process's logged syscall arrived as a SECCOMP record over netlink in {ms} ms{}",
                unmarked.map(|u| format!(" ({u}: a running daemon stores it as an event)")).unwrap_or_default()
            ),
            None,
        )),
        Ok(Probe { ms: None, .. }) => r.push(f(
            "live-probe",
            Level::Warn,
            "a test process made a SECCOMP_RET_LOG'd syscall but no record arrived over netlink within 3 s",
            Some("check actions_logged (above), the network namespace, and that no audit rule excludes SECCOMP records (auditctl -l)"),
        )),
        Err(e) => r.push(f("live-probe", Level::Warn, format!("could not run the probe: {e}"), None)),
    }
}

/// Opens a socket on the audit multicast group, forks a child that installs a filter
/// logging `getppid` and calls it, and waits for the child's SECCOMP record. Returns the
/// milliseconds it took, or None when none arrived within `timeout`.
///
/// Before the child makes its call, the child is named [`probe_marks::COMM`] and its pid
/// marked in [`probe_marks::DIR`], so that a running daemon does not store the record (see
/// `crate::probe_marks`); the mark needs root, and when it cannot be written the probe
/// runs all the same (`Probe::unmarked` says why).
pub fn probe_netlink(timeout: Duration) -> std::io::Result<Option<u128>> {
    probe(timeout).map(|p| p.ms)
}

/// What one probe found.
pub(super) struct Probe {
    /// Milliseconds until the record arrived, None when it did not.
    pub ms: Option<u128>,
    /// Why the probe's pid could not be marked (a running daemon then stores its record).
    pub unmarked: Option<String>,
}

pub(super) fn probe(timeout: Duration) -> std::io::Result<Probe> {
    let sock = audit_multicast_socket()?;
    let (_, target) = crate::sandbox::native_arch().map_err(std::io::Error::other)?;
    let filter = seccompiler::SeccompFilter::new(
        [(libc::SYS_getppid, vec![])].into_iter().collect(),
        seccompiler::SeccompAction::Allow,
        seccompiler::SeccompAction::Log,
        target,
    )
    .map_err(std::io::Error::other)?;
    let prog: seccompiler::BpfProgram = filter.try_into().map_err(std::io::Error::other)?;
    let comm = std::ffi::CString::new(probe_marks::COMM).expect("no NUL");
    let mut go = [0 as libc::c_int; 2];
    // SAFETY: go is a valid array of two fds to fill.
    if unsafe { libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds are fresh and owned by nothing else.
    let (go_r, go_w) = unsafe { (OwnedFd::from_raw_fd(go[0]), OwnedFd::from_raw_fd(go[1])) };
    let start = Instant::now();
    // SAFETY: the child only makes raw syscalls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // Wait until the parent has marked this pid (or given up: the pipe closes).
        let mut byte = 0u8;
        // SAFETY: reading one byte into a valid buffer; prctl with a NUL-terminated name.
        let code = unsafe {
            libc::close(go_w.as_raw_fd());
            libc::read(go_r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            libc::prctl(libc::PR_SET_NAME, comm.as_ptr());
            match seccompiler::apply_filter(&prog) {
                Ok(()) => {
                    libc::syscall(libc::SYS_getppid);
                    0
                }
                Err(_) => 1,
            }
        };
        // SAFETY: _exit is always safe.
        unsafe { libc::_exit(code) };
    }
    drop(go_r);
    let unmarked = probe_marks::mark(Path::new(probe_marks::DIR), pid as u32, now_ms())
        .err()
        .map(|e| format!("cannot mark the probe in {}: {e}", probe_marks::DIR));
    // SAFETY: writing one byte from a valid buffer.
    unsafe { libc::write(go_w.as_raw_fd(), b"g".as_ptr().cast(), 1) };
    drop(go_w);
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(std::io::Error::other(
            "the probe child could not install its filter",
        ));
    }
    let needle = format!(" pid={pid} ");
    let mut buf = vec![0u8; 1 << 16];
    while start.elapsed() < timeout {
        let left = timeout.saturating_sub(start.elapsed());
        let mut pfd = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if n <= 0 {
            continue;
        }
        // SAFETY: buf is valid for writes of its length.
        let got = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if got < 16 {
            continue;
        }
        let d = &buf[..got as usize];
        let ty = u16::from_ne_bytes([d[4], d[5]]);
        if ty == AUDIT_SECCOMP && memchr::memmem::find(&d[16..], needle.as_bytes()).is_some() {
            return Ok(Probe {
                ms: Some(start.elapsed().as_millis()),
                unmarked,
            });
        }
    }
    Ok(Probe { ms: None, unmarked })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn audit_multicast_socket() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket call; the fd is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_AUDIT,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr.nl_groups = READLOG_GROUP_MASK;
    // SAFETY: addr is a valid sockaddr_nl of the size given.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_probe_sees_its_own_record_as_root() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            assert!(
                std::env::var("SECCOMP_WATCH_REQUIRE_ROOT_TESTS").as_deref() != Ok("1"),
                "needs root"
            );
            eprintln!("SKIP: needs root");
            return;
        }
        let ms = probe_netlink(Duration::from_secs(5)).unwrap();
        assert!(ms.is_some(), "no SECCOMP record of the probe arrived");
    }
}
