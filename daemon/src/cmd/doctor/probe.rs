//! The doctor's live probe: a child process makes one SECCOMP_RET_LOG'd call and its
//! SECCOMP record must arrive on the audit multicast socket.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::report::{f, Level, Report};

/// NETLINK_AUDIT multicast group of the read-only log (AUDIT_NLGRP_READLOG), as a mask.
const READLOG_GROUP_MASK: u32 = 1;
const AUDIT_SECCOMP: u16 = 1326;

pub(super) fn check_probe(r: &mut Report) {
    match probe_netlink(Duration::from_secs(3)) {
        Ok(Some(ms)) => r.push(f(
            "live-probe",
            Level::Ok,
            format!("a test process's logged syscall arrived as a SECCOMP record over netlink in {ms} ms"),
            None,
        )),
        Ok(None) => r.push(f(
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
pub fn probe_netlink(timeout: Duration) -> std::io::Result<Option<u128>> {
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
    let start = Instant::now();
    // SAFETY: the child only makes raw syscalls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        let code = match seccompiler::apply_filter(&prog) {
            // SAFETY: getppid has no preconditions.
            Ok(()) => unsafe {
                libc::syscall(libc::SYS_getppid);
                0
            },
            Err(_) => 1,
        };
        // SAFETY: _exit is always safe.
        unsafe { libc::_exit(code) };
    }
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
            return Ok(Some(start.elapsed().as_millis()));
        }
    }
    Ok(None)
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
