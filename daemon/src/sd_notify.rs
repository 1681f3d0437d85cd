//! systemd's sd_notify protocol without libsystemd: one datagram to `$NOTIFY_SOCKET`
//! (`READY=1`, `WATCHDOG=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=...`), and the watchdog
//! interval from `$WATCHDOG_USEC`.
//!
//! Every function is a no-op returning `Ok(false)` when the daemon was not started by
//! systemd with `Type=notify` (no `NOTIFY_SOCKET`), so `run` can call them unconditionally.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::Duration;

/// Sends `state` (newline-separated `KEY=VALUE` assignments) to the service manager.
/// Returns `Ok(false)` when there is no `NOTIFY_SOCKET`.
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    send_to(Path::new(&path), state)?;
    Ok(true)
}

/// Sends `state` to the notify socket at `path`: a file system path, or an abstract name
/// written with a leading `@`.
pub fn send_to(path: &Path, state: &str) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let bytes = path.as_os_str().as_encoded_bytes();
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), path)?;
    }
    Ok(())
}

/// `READY=1`: start-up is complete (sources running, HTTP listening, sandbox installed).
pub fn ready() -> io::Result<bool> {
    notify("READY=1\nSTATUS=running")
}

/// `WATCHDOG=1`: the keep-alive ping; send it every [`watchdog_interval`].
pub fn watchdog() -> io::Result<bool> {
    notify("WATCHDOG=1")
}

/// `RELOADING=1` with the monotonic time systemd 253+ asks for; send [`ready`] when the
/// reload is done.
pub fn reloading() -> io::Result<bool> {
    notify(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()))
}

/// `STOPPING=1`: shutdown has begun.
pub fn stopping() -> io::Result<bool> {
    notify("STOPPING=1")
}

/// `STATUS=...`: one line shown by `systemctl status` (newlines are replaced).
pub fn status(text: &str) -> io::Result<bool> {
    notify(&format!("STATUS={}", text.replace('\n', " ")))
}

/// How often to send [`watchdog`]: half of `WATCHDOG_USEC` (as sd_watchdog_enabled
/// advises), or None when the watchdog is off or meant for another process
/// (`WATCHDOG_PID`).
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok()?;
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval_from(&usec, pid.as_deref(), std::process::id())
}

fn watchdog_interval_from(usec: &str, pid: Option<&str>, me: u32) -> Option<Duration> {
    if let Some(p) = pid {
        if p.trim().parse::<u32>().ok()? != me {
            return None;
        }
    }
    let usec: u64 = usec.trim().parse().ok()?;
    if usec == 0 {
        return None;
    }
    Some(Duration::from_micros(usec / 2))
}

/// Pings the watchdog every [`watchdog_interval`] while `healthy()` says so, until the
/// returned task is aborted. Returns None when there is no watchdog. A hung pipeline
/// (healthy() false) stops the pings, and systemd restarts the service.
pub fn spawn_watchdog<F>(healthy: F) -> Option<tokio::task::JoinHandle<()>>
where
    F: Fn() -> bool + Send + 'static,
{
    let every = watchdog_interval()?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if healthy() {
                if let Err(e) = watchdog() {
                    tracing::warn!("sd_notify WATCHDOG=1 failed: {e}");
                }
            } else {
                tracing::warn!("not healthy: withholding the watchdog ping");
            }
        }
    }))
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write into.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000)
        .saturating_add(ts.tv_nsec as u64 / 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_a_datagram_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notify");
        let rx = UnixDatagram::bind(&p).unwrap();
        send_to(&p, "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn sends_a_datagram_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("seccomp-watch-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        send_to(Path::new(&format!("@{name}")), "WATCHDOG=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[test]
    fn watchdog_interval_is_half_and_respects_the_pid() {
        assert_eq!(
            watchdog_interval_from("30000000", None, 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(
            watchdog_interval_from("30000000", Some("7"), 7),
            Some(Duration::from_secs(15))
        );
        assert_eq!(watchdog_interval_from("30000000", Some("8"), 7), None);
        assert_eq!(watchdog_interval_from("0", None, 7), None);
        assert_eq!(watchdog_interval_from("x", None, 7), None);
    }

    #[test]
    fn monotonic_clock_moves() {
        let a = monotonic_usec();
        std::thread::sleep(Duration::from_millis(2));
        assert!(monotonic_usec() > a);
    }
}
