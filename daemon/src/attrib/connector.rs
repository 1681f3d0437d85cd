//! The netlink proc connector (`NETLINK_CONNECTOR`, `CN_IDX_PROC`): fork, exec and exit
//! events keep the pid table current, so a record from a process that is gone before the
//! record is handled (short commands, kill actions) still resolves. Needs CAP_NET_ADMIN.
//!
//! On fork the child's cgroup is read at once (the parent's is the fallback when the child
//! is already gone); on exec it is read again and is then final. A process that exec'd and
//! was gone before that read is "stale" (its earlier cgroup may be from before a runtime
//! moved it), unless it was forked by a process whose cgroup was final; on exit the
//! incarnation is closed and kept for the grace period. Events are stamped with `CLOCK_MONOTONIC`; they are
//! converted to wall-clock time to be matched against record times. When the socket
//! overflows (ENOBUFS) events were lost: the loss epoch grows, and open incarnations are
//! confirmed with `/proc` again before they are trusted.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::procfs::{mono_offset_ns, now_ms};
use super::table::{Incarnation, Origin};
use super::{AttribError, Shared};

const NETLINK_CONNECTOR: libc::c_int = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_HDR: usize = 16;
/// The listener thread's nice value.
const LISTENER_NICE: libc::c_int = -10;
const CN_MSG: usize = 20;

const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// One proc connector event that attribution uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcEvent {
    /// `child_pid != child_tgid` is a new thread.
    Fork {
        parent_tgid: u32,
        child_pid: u32,
        child_tgid: u32,
        ts_ns: u64,
    },
    Exec {
        pid: u32,
        tgid: u32,
        ts_ns: u64,
    },
    /// `pid != tgid` is a thread exiting.
    Exit {
        pid: u32,
        tgid: u32,
        ts_ns: u64,
    },
    /// The answer to the subscription (`err` 0: listening).
    Ack {
        err: u32,
    },
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Parses the netlink messages of one datagram; events of other kinds (uid, sid, comm, ...)
/// and malformed messages are skipped.
pub fn parse_datagram(buf: &[u8], out: &mut Vec<ProcEvent>) {
    let mut off = 0;
    while off + NLMSG_HDR <= buf.len() {
        let Some(len) = u32_at(buf, off).map(|l| l as usize) else {
            break;
        };
        if len < NLMSG_HDR || off + len > buf.len() {
            break;
        }
        let msg = &buf[off..off + len];
        if let Some(ev) = parse_proc_msg(&msg[NLMSG_HDR..]) {
            out.push(ev);
        }
        off += (len + 3) & !3;
    }
}

/// One `cn_msg` carrying a `proc_event`.
fn parse_proc_msg(cn: &[u8]) -> Option<ProcEvent> {
    if u32_at(cn, 0)? != CN_IDX_PROC || u32_at(cn, 4)? != CN_VAL_PROC {
        return None;
    }
    let ev = cn.get(CN_MSG..)?;
    let what = u32_at(ev, 0)?;
    let ts_ns = u64_at(ev, 8)?;
    let d = 16;
    match what {
        PROC_EVENT_FORK => Some(ProcEvent::Fork {
            parent_tgid: u32_at(ev, d + 4)?,
            child_pid: u32_at(ev, d + 8)?,
            child_tgid: u32_at(ev, d + 12)?,
            ts_ns,
        }),
        PROC_EVENT_EXEC => Some(ProcEvent::Exec {
            pid: u32_at(ev, d)?,
            tgid: u32_at(ev, d + 4)?,
            ts_ns,
        }),
        PROC_EVENT_EXIT => Some(ProcEvent::Exit {
            pid: u32_at(ev, d)?,
            tgid: u32_at(ev, d + 4)?,
            ts_ns,
        }),
        PROC_EVENT_NONE => Some(ProcEvent::Ack {
            err: u32_at(ev, d)?,
        }),
        _ => None,
    }
}

/// The subscription message: `nlmsghdr` + `cn_msg` + `PROC_CN_MCAST_LISTEN`.
fn listen_message(seq: u32) -> [u8; NLMSG_HDR + CN_MSG + 4] {
    let mut m = [0u8; NLMSG_HDR + CN_MSG + 4];
    let total = m.len() as u32;
    m[0..4].copy_from_slice(&total.to_ne_bytes());
    m[4..6].copy_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    let c = NLMSG_HDR;
    m[c..c + 4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m[c + 4..c + 8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m[c + 8..c + 12].copy_from_slice(&seq.to_ne_bytes());
    m[c + 16..c + 18].copy_from_slice(&4u16.to_ne_bytes());
    m[c + CN_MSG..].copy_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    m
}

fn last_err(what: &'static str) -> AttribError {
    AttribError::Connector {
        what,
        source: io::Error::last_os_error(),
    }
}

/// Opens, binds and subscribes a proc connector socket.
fn open_socket() -> Result<OwnedFd, AttribError> {
    // SAFETY: plain socket(2) call; the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            NETLINK_CONNECTOR,
        )
    };
    if fd < 0 {
        return Err(last_err("socket(NETLINK_CONNECTOR)"));
    }
    // SAFETY: `fd` is a freshly created descriptor that we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let size: libc::c_int = 16 << 20;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: valid fd, pointer to a c_int of the given length.
        let r = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            break;
        }
    }
    // SAFETY: zeroed sockaddr_nl is a valid value; fields are set below.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_groups = CN_IDX_PROC;
    // SAFETY: valid fd and sockaddr of the given size.
    let r = unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(last_err("bind(CN_IDX_PROC)"));
    }
    let msg = listen_message(std::process::id());
    // SAFETY: `to` is the kernel (pid 0); `msg` is a valid buffer of its length.
    let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: valid fd, buffer and address.
    let r = unsafe {
        libc::sendto(
            fd,
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&to as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(last_err("send(PROC_CN_MCAST_LISTEN)"));
    }
    Ok(sock)
}

/// Non-blocking recv: `Ok(None)` when nothing is queued.
fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        // SAFETY: valid fd and writable buffer of the given length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EAGAIN) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// Waits until `fds` are readable or `timeout_ms` passes.
fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) {
    // SAFETY: `fds` is a valid slice of pollfd.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
}

/// The running listener thread. Dropping it stops the thread.
pub struct ProcConnector {
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl ProcConnector {
    /// Stops the listener and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.shared.conn.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ProcConnector {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Subscribes to the proc connector and starts the listener thread that keeps `shared`'s
/// pid table current. Fails (EPERM) without CAP_NET_ADMIN, or when the kernel has no
/// proc connector; attribution then works from `/proc` alone.
pub(crate) fn spawn(shared: Arc<Shared>) -> Result<ProcConnector, AttribError> {
    let sock = open_socket()?;
    // Wait briefly for the kernel's answer to the subscription: it carries EPERM when the
    // capability is missing.
    let mut buf = vec![0u8; 64 * 1024];
    let mut evs = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_millis(500);
    'ack: while std::time::Instant::now() < deadline {
        let mut fds = [libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        poll(&mut fds, 50);
        while let Some(n) =
            recv(sock.as_raw_fd(), &mut buf).map_err(|e| AttribError::Connector {
                what: "recv",
                source: e,
            })?
        {
            evs.clear();
            parse_datagram(&buf[..n], &mut evs);
            for ev in &evs {
                if let ProcEvent::Ack { err } = ev {
                    if *err != 0 {
                        return Err(AttribError::Connector {
                            what: "PROC_CN_MCAST_LISTEN",
                            source: io::Error::from_raw_os_error(*err as i32),
                        });
                    }
                    break 'ack;
                }
            }
            // Other processes' events before the ack are handled by the thread's first
            // drain; those read here are few and only lose their cgroup snapshot.
            let mut l = Listener::new(shared.clone());
            for ev in evs.drain(..) {
                l.handle(ev, mono_offset_ns());
            }
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    shared.conn.running.store(true, Ordering::SeqCst);
    let (s2, stop2) = (shared.clone(), stop.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("proc-connector".into())
        .spawn(move || {
            // Short commands live about a millisecond: the listener must read their cgroup
            // before they are gone, so it runs ahead of ordinary work (best effort: needs
            // CAP_SYS_NICE, which root has). Done before `spawn` returns, so before the
            // daemon's own sandbox is installed.
            // SAFETY: gettid and setpriority on this thread; no memory is involved.
            unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, tid, LISTENER_NICE);
            }
            let _ = ready_tx.send(());
            Listener::new(s2.clone()).run(sock, stop2);
            s2.conn.running.store(false, Ordering::SeqCst);
            s2.conn.notify_caught_up(i64::MAX);
        })
        .map_err(|e| AttribError::Connector {
            what: "spawn thread",
            source: e,
        })?;
    let _ = ready_rx.recv_timeout(Duration::from_secs(2));
    Ok(ProcConnector {
        stop,
        shared,
        thread: Some(thread),
    })
}

/// The listener's state.
struct Listener {
    shared: Arc<Shared>,
    last_sweep: i64,
}

impl Listener {
    fn new(shared: Arc<Shared>) -> Listener {
        Listener {
            shared,
            last_sweep: now_ms(),
        }
    }

    fn run(&mut self, sock: OwnedFd, stop: Arc<AtomicBool>) {
        let mut buf = vec![0u8; 64 * 1024];
        let mut evs = Vec::with_capacity(64);
        let wake = self.shared.conn.wake_fd();
        let mut last_warn = 0i64;
        while !stop.load(Ordering::SeqCst) {
            let mut fds = [
                libc::pollfd {
                    fd: sock.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: wake,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            poll(&mut fds, 5000);
            if fds[1].revents != 0 {
                let mut v = [0u8; 8];
                // SAFETY: valid fd, 8-byte buffer (eventfd counter).
                unsafe { libc::read(wake, v.as_mut_ptr().cast(), 8) };
            }
            // Drain everything queued; the time taken before the recv that found the socket
            // empty is the time up to which every event has been handled.
            let offset = mono_offset_ns();
            loop {
                let before = now_ms();
                match recv(sock.as_raw_fd(), &mut buf) {
                    Ok(Some(n)) => {
                        evs.clear();
                        parse_datagram(&buf[..n], &mut evs);
                        self.shared
                            .conn
                            .events
                            .fetch_add(evs.len() as u64, Ordering::Relaxed);
                        for ev in evs.drain(..) {
                            self.handle(ev, offset);
                        }
                    }
                    Ok(None) => {
                        self.shared.conn.notify_caught_up(before);
                        break;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                        self.shared.conn.epoch.fetch_add(1, Ordering::SeqCst);
                        self.shared.conn.lost.fetch_add(1, Ordering::Relaxed);
                        if before - last_warn > 60_000 {
                            last_warn = before;
                            tracing::warn!("proc connector: events lost (socket buffer overflow); confirming pids with /proc");
                        }
                    }
                    Err(e) => {
                        tracing::error!("proc connector: recv failed: {e}; attribution continues from /proc alone");
                        return;
                    }
                }
            }
            let now = now_ms();
            if now - self.last_sweep >= 5000 {
                self.last_sweep = now;
                let epoch = self.shared.conn.epoch.load(Ordering::SeqCst);
                if let Ok(mut st) = self.shared.state.lock() {
                    st.table.sweep(now, Some(epoch));
                }
            }
        }
    }

    fn handle(&mut self, ev: ProcEvent, mono_offset: i64) {
        if let ProcEvent::Fork { ts_ns, .. } | ProcEvent::Exec { ts_ns, .. } = ev {
            let lag_ns =
                super::procfs::clock_ns(libc::CLOCK_MONOTONIC) - i64::try_from(ts_ns).unwrap_or(0);
            self.shared.conn.lag(lag_ns);
        }
        let to_ms = |ts: u64| {
            (i64::try_from(ts)
                .unwrap_or(i64::MAX / 2)
                .saturating_add(mono_offset))
                / 1_000_000
        };
        let sh = &self.shared;
        let epoch = sh.conn.epoch.load(Ordering::SeqCst);
        let now = now_ms();
        match ev {
            ProcEvent::Fork {
                parent_tgid,
                child_pid,
                child_tgid,
                ts_ns,
            } => {
                if child_pid != child_tgid {
                    return; // a new thread of an existing process
                }
                let start_ms = to_ms(ts_ns);
                // The child is read at once: a runtime may be moving it (runc moves its init
                // into the container right after starting it). When it is already gone, it
                // was where its parent is. A child of a parent whose cgroup is final is a
                // plain child: it stays where it was forked (`from_settled`).
                let known = sh.state.lock().ok().and_then(|st| {
                    st.table
                        .open(parent_tgid)
                        .map(|i| (i.cgroup.clone(), i.settled && !i.stale))
                });
                // A parent never seen (it predates the listener) is learned once.
                let parent = match known {
                    Some(k) => Some(k),
                    None => self.read_parent(parent_tgid, now, epoch),
                };
                let from_settled = parent.as_ref().is_some_and(|p| p.1);
                let cgroup = match sh.procfs.cgroup(child_tgid) {
                    Some(text) => sh.intern(&text),
                    None => match parent {
                        Some((cg, true)) => cg,
                        _ => match self.read_parent(parent_tgid, now, epoch) {
                            Some((cg, _)) => cg,
                            None => return,
                        },
                    },
                };
                if let Ok(mut st) = sh.state.lock() {
                    st.table.insert_new(
                        child_tgid,
                        Incarnation {
                            start_ms,
                            exit_ms: None,
                            cgroup,
                            settled: false,
                            stale: false,
                            from_settled,
                            origin: Origin::Connector,
                            epoch,
                            used_ms: now,
                            seen_ms: now,
                        },
                    );
                }
            }
            ProcEvent::Exec { tgid, .. } => {
                let cg = sh
                    .procfs
                    .cgroup(tgid)
                    .or_else(|| sh.procfs.cgroup(tgid))
                    .map(|t| sh.intern(&t));
                let known = sh
                    .state
                    .lock()
                    .map(|mut st| st.table.exec(tgid, cg.clone(), epoch, now))
                    .unwrap_or(true);
                if !known {
                    // A process from before the listener started: learn it now.
                    if let (Some(cgroup), Some(start_ms)) = (cg, sh.start_ms(tgid)) {
                        if let Ok(mut st) = sh.state.lock() {
                            let tol = sh.procfs.tick_ms() + 5;
                            st.table.observe(
                                tgid,
                                Incarnation {
                                    start_ms,
                                    exit_ms: None,
                                    cgroup,
                                    settled: true,
                                    stale: false,
                                    from_settled: false,
                                    origin: Origin::Connector,
                                    epoch,
                                    used_ms: now,
                                    seen_ms: now,
                                },
                                tol,
                            );
                        }
                    }
                }
            }
            ProcEvent::Exit { pid, tgid, ts_ns } => {
                if pid == tgid {
                    if let Ok(mut st) = sh.state.lock() {
                        st.table.exit(tgid, to_ms(ts_ns));
                    }
                }
            }
            ProcEvent::Ack { .. } => {}
        }
    }

    /// The cgroup of a fork's parent, read from `/proc` now (and remembered), and whether
    /// it is final; a provisional table entry (read at the parent's own fork, no exec since)
    /// when the parent is gone too. A stale entry (exec'd, not read since) is never used.
    fn read_parent(
        &self,
        ppid: u32,
        now: i64,
        epoch: u64,
    ) -> Option<(Arc<parsers::cgroup::CgroupAttribution>, bool)> {
        let sh = &self.shared;
        let known = sh.state.lock().ok().and_then(|st| {
            st.table
                .open(ppid)
                .map(|i| (i.cgroup.clone(), i.settled, i.stale, i.start_ms))
        });
        let provisional = known.as_ref().filter(|k| !k.2).map(|k| (k.0.clone(), k.1));
        let Some(text) = sh.procfs.cgroup(ppid) else {
            return provisional;
        };
        let Some(start_ms) = sh.start_ms(ppid) else {
            return provisional;
        };
        let tol = sh.procfs.tick_ms() + 5;
        if known
            .as_ref()
            .is_some_and(|k| (k.3 - start_ms).abs() > tol + super::table::START_SLACK_MS)
        {
            return None; // the pid changed hands: the parent is gone
        }
        let cgroup = sh.intern(&text);
        // Read after an exec (stale), or long after the start: final.
        let settled =
            known.as_ref().is_some_and(|k| k.1 || k.2) || now - start_ms >= super::table::SETTLE_MS;
        if let Ok(mut st) = sh.state.lock() {
            st.table.observe(
                ppid,
                Incarnation {
                    start_ms: known.as_ref().map_or(start_ms, |k| k.3),
                    exit_ms: None,
                    cgroup: cgroup.clone(),
                    settled,
                    stale: false,
                    from_settled: false,
                    origin: Origin::Connector,
                    epoch,
                    used_ms: now,
                    seen_ms: now,
                },
                tol,
            );
        }
        Some((cgroup, settled))
    }
}

/// An eventfd used to wake the listener.
pub(crate) fn eventfd() -> Option<OwnedFd> {
    // SAFETY: plain eventfd(2) call; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    // SAFETY: `fd` is a fresh descriptor we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(what: u32, ts: u64, data: &[u32]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&0u32.to_ne_bytes());
        ev.extend_from_slice(&ts.to_ne_bytes());
        for d in data {
            ev.extend_from_slice(&d.to_ne_bytes());
        }
        let mut cn = Vec::new();
        cn.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        cn.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        cn.extend_from_slice(&[0u8; 8]);
        cn.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        cn.extend_from_slice(&[0u8; 2]);
        cn.extend_from_slice(&ev);
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDR + cn.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&3u16.to_ne_bytes());
        m.extend_from_slice(&[0u8; 10]);
        m.extend_from_slice(&cn);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn parses_fork_exec_exit_ack() {
        let mut buf = msg(PROC_EVENT_FORK, 11, &[1, 1, 42, 42]);
        buf.extend(msg(PROC_EVENT_EXEC, 12, &[42, 42]));
        buf.extend(msg(PROC_EVENT_EXIT, 13, &[43, 42, 0, 17, 1, 1]));
        buf.extend(msg(0x200, 14, &[42, 42, 0, 0, 0, 0])); // comm: skipped
        buf.extend(msg(PROC_EVENT_NONE, 0, &[1]));
        let mut out = Vec::new();
        parse_datagram(&buf, &mut out);
        assert_eq!(
            out,
            vec![
                ProcEvent::Fork {
                    parent_tgid: 1,
                    child_pid: 42,
                    child_tgid: 42,
                    ts_ns: 11
                },
                ProcEvent::Exec {
                    pid: 42,
                    tgid: 42,
                    ts_ns: 12
                },
                ProcEvent::Exit {
                    pid: 43,
                    tgid: 42,
                    ts_ns: 13
                },
                ProcEvent::Ack { err: 1 },
            ]
        );
    }

    #[test]
    fn malformed_is_skipped() {
        let mut out = Vec::new();
        parse_datagram(&[], &mut out);
        parse_datagram(&[0xff; 10], &mut out);
        let mut m = msg(PROC_EVENT_FORK, 1, &[1, 1, 2, 2]);
        m.truncate(40);
        parse_datagram(&m, &mut out);
        let mut other = msg(PROC_EVENT_FORK, 1, &[1, 1, 2, 2]);
        other[16] = 9; // another connector index
        parse_datagram(&other, &mut out);
        let mut huge = msg(PROC_EVENT_EXEC, 1, &[1, 1]);
        huge[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        parse_datagram(&huge, &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn listen_message_layout() {
        let m = listen_message(7);
        assert_eq!(u32_at(&m, 0), Some(40));
        assert_eq!(u32_at(&m, 16), Some(CN_IDX_PROC));
        assert_eq!(u32_at(&m, 36), Some(PROC_CN_MCAST_LISTEN));
        assert_eq!(u16::from_ne_bytes([m[32], m[33]]), 4);
    }
}
