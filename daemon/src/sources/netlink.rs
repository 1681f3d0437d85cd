//! The audit netlink source: a raw `NETLINK_AUDIT` socket, read with `recvmmsg` on its own
//! thread, either in the read-only multicast group (AUDIT_NLGRP_READLOG, beside any
//! auditd) or registered as the audit daemon (`netlink.mode = "daemon"`); plus the
//! AUDIT_GET status poller.
//!
//! Loss accounting. The kernel's own `lost` counter does not see multicast drops: when a
//! listener's receive buffer is full the record is simply not queued for it. The socket
//! does count them (`sk_drops`, the `Drops` column of `/proc/net/netlink`), so when our
//! socket shows up there we set `NETLINK_NO_ENOBUFS` and report the exact growth of that
//! counter as `LossCause::Enobufs`. (Without `NETLINK_NO_ENOBUFS` the kernel marks an
//! overflowed socket "congested" and drops *every* record until the queue is fully
//! drained, and it tells us only one ENOBUFS per episode.) When the drop counter cannot
//! be read, ENOBUFS stays on and each one is counted as one loss (a lower bound) and
//! logged. In daemon mode the kernel unicasts to us and waits (its backlog), so a full
//! buffer slows the producers instead; what it gives up on shows in `lost`.
//!
//! Message framing: every audit datagram holds exactly one record. The kernel writes the
//! correct `nlmsg_len` in multicast copies but the payload length alone in unicast ones
//! (a quirk auditd depends on), so the payload is taken as the datagram after the
//! 16-byte header, trailing NULs trimmed, in both modes.

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parsers::{parse_netlink, Event, Parsed};
use tokio::task::JoinHandle;

use super::{SampledLog, SourceCtx, SourceHandle};
use crate::config::NetlinkConfig;
use crate::metrics::metrics;
use crate::pipeline::{LossCause, SourceBatch, SourceKind};

/// Netlink message types of the audit control protocol.
pub const AUDIT_GET: u16 = 1000;
pub const AUDIT_SET: u16 = 1001;
const AUDIT_STATUS_PID: u32 = 0x4;
/// The read-only multicast group of audit records.
pub const AUDIT_NLGRP_READLOG: u32 = 1;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;

/// Largest audit datagram: MAX_AUDIT_MESSAGE_LENGTH (8970) rounded up, plus the header.
const DGRAM: usize = 9216;
/// Datagrams per `recvmmsg`.
const VLEN: usize = 128;
/// Events per batch at most.
const MAX_BATCH: usize = 4096;
/// A batch waits at most this long for more records (while the socket is idle).
const LINGER: Duration = Duration::from_millis(20);
/// How often the socket's drop counter is read.
const DROPS_EVERY: Duration = Duration::from_secs(1);

/// Errors of the netlink control protocol.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink: {0}")]
    Io(#[from] io::Error),
    #[error("the kernel refused {what}: {err}")]
    Refused { what: &'static str, err: io::Error },
    #[error("no answer from the kernel to {0}")]
    NoAnswer(&'static str),
    #[error("pid {0} is registered as the audit daemon; netlink.mode = \"daemon\" needs the slot free (use the default multicast mode beside it)")]
    DaemonSlotTaken(u32),
}

/// The kernel's audit status (AUDIT_GET).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStatus {
    pub enabled: u32,
    pub failure: u32,
    /// The registered audit daemon's pid (0: none).
    pub pid: u32,
    pub rate_limit: u32,
    pub backlog_limit: u32,
    /// Records the kernel dropped (backlog or hold-queue overflow, rate limit).
    pub lost: u32,
    /// Records waiting in the kernel's queue.
    pub backlog: u32,
}

impl AuditStatus {
    /// Decodes `struct audit_status` (its first 7 fields; newer kernels append more).
    pub fn from_bytes(b: &[u8]) -> Option<AuditStatus> {
        let f = |i: usize| {
            b.get(4 * i..4 * i + 4)
                .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        };
        Some(AuditStatus {
            enabled: f(1)?,
            failure: f(2)?,
            pid: f(3)?,
            rate_limit: f(4)?,
            backlog_limit: f(5)?,
            lost: f(6)?,
            backlog: f(7)?,
        })
    }
}

static LAST_STATUS: Mutex<Option<AuditStatus>> = Mutex::new(None);

/// The last status the poller read (for health checks and `doctor`).
pub fn last_status() -> Option<AuditStatus> {
    LAST_STATUS.lock().ok().and_then(|g| *g)
}

/// A raw `NETLINK_AUDIT` socket.
pub struct AuditSocket {
    fd: OwnedFd,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl AuditSocket {
    /// A new socket bound to `groups` (a bit mask of multicast groups; 0 for none).
    pub fn open(groups: u32) -> io::Result<AuditSocket> {
        // SAFETY: plain syscalls; the fd is owned right away.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_AUDIT,
            )
        })?;
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let sock = AuditSocket {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        };
        // SAFETY: sockaddr_nl is plain data; zeroed is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = groups;
        // SAFETY: addr is a valid sockaddr_nl of the given size.
        cvt(unsafe {
            libc::bind(
                sock.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        Ok(sock)
    }

    fn setsockopt_int(
        &self,
        level: libc::c_int,
        name: libc::c_int,
        v: libc::c_int,
    ) -> io::Result<()> {
        // SAFETY: v lives across the call; the size matches.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&v as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    fn getsockopt_int(&self, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
        let mut v: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: v and len are valid for writes of the given size.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        })?;
        Ok(v)
    }

    /// Sets the receive buffer: SO_RCVBUFFORCE (needs CAP_NET_ADMIN), else SO_RCVBUF
    /// (capped by net.core.rmem_max). Returns the size the kernel reports and whether the
    /// forced call worked.
    pub fn set_rcvbuf(&self, bytes: usize) -> io::Result<(usize, bool)> {
        let v = bytes.min(i32::MAX as usize / 2) as libc::c_int;
        let forced = match self.setsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v) {
            Ok(()) => true,
            Err(_) => {
                self.setsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF, v)?;
                false
            }
        };
        let got = self.getsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF)?;
        Ok((usize::try_from(got).unwrap_or(0), forced))
    }

    /// Asks the kernel not to report (and not to enter the congested state on) receive
    /// buffer overflows; the drops are then visible only in `/proc/net/netlink`.
    pub fn set_no_enobufs(&self) -> io::Result<()> {
        self.setsockopt_int(libc::SOL_NETLINK, libc::NETLINK_NO_ENOBUFS, 1)
    }

    fn set_recv_timeout(&self, d: Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: d.as_secs() as libc::time_t,
            tv_usec: d.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: tv lives across the call; the size matches.
        cvt(unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        })
        .map(drop)
    }

    /// The socket's inode number (its key in `/proc/net/netlink`).
    pub fn inode(&self) -> io::Result<u64> {
        // SAFETY: st is valid for writes.
        let mut st: libc::stat = unsafe { zeroed() };
        cvt(unsafe { libc::fstat(self.fd.as_raw_fd(), &mut st) })?;
        Ok(st.st_ino)
    }

    /// Sends one request message to the kernel.
    pub fn send(&self, ty: u16, flags: u16, seq: u32, payload: &[u8]) -> io::Result<()> {
        let len = NLMSG_HDRLEN + payload.len();
        let mut msg = Vec::with_capacity(len);
        msg.extend_from_slice(&(len as u32).to_ne_bytes());
        msg.extend_from_slice(&ty.to_ne_bytes());
        msg.extend_from_slice(&flags.to_ne_bytes());
        msg.extend_from_slice(&seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(payload);
        // SAFETY: sockaddr_nl is plain data.
        let mut addr: libc::sockaddr_nl = unsafe { zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: msg and addr are valid for the given sizes.
            let r = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    0,
                    (&addr as *const libc::sockaddr_nl).cast(),
                    size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: buf is valid for writes of its length.
            let r =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if r >= 0 {
                return Ok(r as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Sends a request and waits for its answer: the message of type `reply` (returned)
    /// if any, and the ACK. Datagrams of other types that arrive meanwhile are handed to
    /// `other` (records, on a daemon-mode socket).
    fn request(
        &self,
        what: &'static str,
        ty: u16,
        payload: &[u8],
        reply: Option<u16>,
        other: &mut dyn FnMut(&[u8]),
    ) -> Result<Option<Vec<u8>>, NetlinkError> {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.send(ty, NLM_F_REQUEST | NLM_F_ACK, seq, payload)?;
        let mut buf = vec![0u8; DGRAM];
        let mut answer = None;
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let n = match self.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Err(e.into()),
            };
            let d = &buf[..n];
            let Some((mty, mseq)) = header(d) else {
                continue;
            };
            if mty == NLMSG_ERROR && mseq == seq {
                let code = d
                    .get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
                    .map_or(0, |s| i32::from_ne_bytes([s[0], s[1], s[2], s[3]]));
                if code != 0 {
                    return Err(NetlinkError::Refused {
                        what,
                        err: io::Error::from_raw_os_error(-code),
                    });
                }
                if reply.is_none() || answer.is_some() {
                    return Ok(answer);
                }
            } else if Some(mty) == reply && mseq == seq {
                answer = Some(d[NLMSG_HDRLEN.min(n)..].to_vec());
            } else {
                other(d);
            }
        }
        if reply.is_some() && answer.is_some() {
            return Ok(answer);
        }
        Err(NetlinkError::NoAnswer(what))
    }
}

/// (type, seq) of the netlink header at the start of `d`.
fn header(d: &[u8]) -> Option<(u16, u32)> {
    if d.len() < NLMSG_HDRLEN {
        return None;
    }
    Some((
        u16::from_ne_bytes([d[4], d[5]]),
        u32::from_ne_bytes([d[8], d[9], d[10], d[11]]),
    ))
}

/// Reads the kernel's audit status (AUDIT_GET; needs CAP_AUDIT_CONTROL).
pub fn audit_status() -> Result<AuditStatus, NetlinkError> {
    let s = AuditSocket::open(0)?;
    s.set_recv_timeout(Duration::from_secs(2))?;
    let r = s.request("AUDIT_GET", AUDIT_GET, &[], Some(AUDIT_GET), &mut |_| {})?;
    r.as_deref()
        .and_then(AuditStatus::from_bytes)
        .ok_or(NetlinkError::NoAnswer("AUDIT_GET"))
}

fn status_set_pid(pid: u32) -> Vec<u8> {
    let mut p = vec![0u8; 11 * 4];
    p[0..4].copy_from_slice(&AUDIT_STATUS_PID.to_ne_bytes());
    p[12..16].copy_from_slice(&pid.to_ne_bytes());
    p
}

/// Unregisters this process as the audit daemon (AUDIT_SET pid 0).
pub fn unregister_daemon() -> Result<(), NetlinkError> {
    let s = AuditSocket::open(0)?;
    s.set_recv_timeout(Duration::from_secs(2))?;
    s.request(
        "AUDIT_SET pid=0",
        AUDIT_SET,
        &status_set_pid(0),
        None,
        &mut |_| {},
    )
    .map(drop)
}

/// The `Drops` column of `/proc/net/netlink` for the socket with inode `ino`.
pub fn socket_drops(ino: u64) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netlink").ok()?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next()?.split_whitespace().collect();
    let di = head.iter().position(|h| *h == "Drops")?;
    let ii = head.iter().position(|h| *h == "Inode")?;
    let want = ino.to_string();
    lines
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|c| c.get(ii) == Some(&want.as_str()))?
        .get(di)?
        .parse()
        .ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Multicast,
    Daemon,
}

/// Opens the socket as configured and starts the reader thread. Errors (no permission,
/// the daemon slot taken) come back here, before anything runs.
pub fn spawn(cfg: &NetlinkConfig, ctx: SourceCtx) -> anyhow::Result<SourceHandle> {
    let mode = if cfg.mode == "daemon" {
        Mode::Daemon
    } else {
        Mode::Multicast
    };
    let sock = AuditSocket::open(if mode == Mode::Multicast {
        1 << (AUDIT_NLGRP_READLOG - 1)
    } else {
        0
    })
    .map_err(|e| anyhow::anyhow!("cannot open the audit netlink socket: {e}"))?;
    match sock.set_rcvbuf(cfg.rcvbuf_bytes) {
        Ok((got, true)) => tracing::info!(requested = cfg.rcvbuf_bytes, got, "netlink receive buffer forced"),
        Ok((got, false)) => tracing::warn!(
            requested = cfg.rcvbuf_bytes,
            got,
            "SO_RCVBUFFORCE refused (no CAP_NET_ADMIN?): receive buffer capped by net.core.rmem_max; bursts may overflow it"
        ),
        Err(e) => tracing::warn!("cannot set the netlink receive buffer: {e}"),
    }
    let ino = sock.inode().ok();
    let drops0 = ino.and_then(socket_drops);
    let exact_drops = mode == Mode::Multicast && drops0.is_some() && sock.set_no_enobufs().is_ok();
    if mode == Mode::Multicast {
        if exact_drops {
            tracing::info!(
                "netlink drops counted exactly from /proc/net/netlink (NETLINK_NO_ENOBUFS set)"
            );
        } else {
            tracing::warn!("cannot read this socket's drop counter in /proc/net/netlink: each ENOBUFS counts as one lost record (a lower bound)");
        }
    }
    let mut pending: Vec<Vec<u8>> = Vec::new();
    if mode == Mode::Daemon {
        let me = std::process::id();
        match audit_status() {
            Ok(s) if s.pid != 0 && s.pid != me => {
                return Err(NetlinkError::DaemonSlotTaken(s.pid).into())
            }
            Ok(_) => {}
            Err(e) => anyhow::bail!(
                "netlink.mode = \"daemon\": cannot read the audit status: {e} (it needs CAP_AUDIT_CONTROL, which the shipped unit withholds: grant it in a drop-in, see the unit's comments)"
            ),
        }
        sock.set_recv_timeout(Duration::from_secs(2))?;
        sock.request(
            "AUDIT_SET pid",
            AUDIT_SET,
            &status_set_pid(me),
            None,
            &mut |d| pending.push(d.to_vec()),
        )
        .map_err(|e| match e {
            NetlinkError::Refused { err, .. } if err.raw_os_error() == Some(libc::EEXIST) => {
                anyhow::anyhow!("another process registered as the audit daemon first")
            }
            e => anyhow::anyhow!("cannot register as the audit daemon: {e}"),
        })?;
        tracing::info!(
            pid = me,
            "registered as the audit daemon (netlink.mode = \"daemon\")"
        );
    }
    let handle = SourceHandle::spawn(SourceKind::Netlink, move || {
        let mut r = Reader::new(
            sock,
            mode,
            ctx,
            if exact_drops { ino } else { None },
            drops0.unwrap_or(0),
        );
        for d in pending {
            r.handle(&d, false);
        }
        let res = r.run();
        if mode == Mode::Daemon {
            if let Err(e) = unregister_daemon() {
                tracing::warn!("cannot unregister as the audit daemon: {e}");
            }
            // What the kernel queued for us before it forgot us is still ours.
            r.drain();
        }
        r.finish();
        res
    })?;
    Ok(handle)
}

/// The reader thread's state.
struct Reader {
    sock: AuditSocket,
    ctx: SourceCtx,
    mode: Mode,
    buf: Vec<u8>,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    batch: SourceBatch,
    first_at: Option<Instant>,
    skipped: u64,
    /// Our socket's inode when its drop counter is used.
    drops_ino: Option<u64>,
    drops: u64,
    drops_checked: Instant,
    errors_log: SampledLog,
    warnings_log: SampledLog,
    /// The pipeline is gone: stop.
    closed: bool,
}

fn new_batch() -> SourceBatch {
    SourceBatch {
        source: Some(SourceKind::Netlink),
        live: true,
        events: Vec::with_capacity(256),
        ..Default::default()
    }
}

impl Reader {
    fn new(
        sock: AuditSocket,
        mode: Mode,
        ctx: SourceCtx,
        drops_ino: Option<u64>,
        drops: u64,
    ) -> Reader {
        let mut buf = vec![0u8; VLEN * DGRAM];
        let iov: Vec<libc::iovec> = buf
            .chunks_exact_mut(DGRAM)
            .map(|c| libc::iovec {
                iov_base: c.as_mut_ptr().cast(),
                iov_len: DGRAM,
            })
            .collect();
        let mut r = Reader {
            sock,
            ctx,
            mode,
            buf,
            iov,
            msgs: Vec::new(),
            batch: new_batch(),
            first_at: None,
            skipped: 0,
            drops_ino,
            drops,
            drops_checked: Instant::now(),
            errors_log: SampledLog::new(5),
            warnings_log: SampledLog::new(5),
            closed: false,
        };
        r.msgs = (0..VLEN)
            .map(|i| {
                // SAFETY: mmsghdr is plain data; zeroed is valid.
                let mut m: libc::mmsghdr = unsafe { zeroed() };
                m.msg_hdr.msg_iov = &mut r.iov[i];
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        r
    }

    /// One `recvmmsg` without waiting: the number of datagrams received.
    fn recv_many(&mut self) -> io::Result<usize> {
        for m in &mut self.msgs {
            m.msg_len = 0;
            m.msg_hdr.msg_flags = 0;
        }
        // SAFETY: msgs points at VLEN valid headers whose iovecs point into self.buf,
        // which is neither moved nor resized while the reader lives.
        let r = unsafe {
            libc::recvmmsg(
                self.sock.fd.as_raw_fd(),
                self.msgs.as_mut_ptr(),
                VLEN as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(r as usize)
    }

    fn run(&mut self) -> anyhow::Result<()> {
        metrics()
            .source_up
            .with_label_values(&[SourceKind::Netlink.as_str()])
            .set(1);
        let res = self.run_inner();
        metrics()
            .source_up
            .with_label_values(&[SourceKind::Netlink.as_str()])
            .set(0);
        res
    }

    fn run_inner(&mut self) -> anyhow::Result<()> {
        while !self.ctx.cancel.is_cancelled() && !self.closed {
            match self.recv_many() {
                Ok(n) => {
                    self.handle_received(n);
                    if self.batch.events.len() >= MAX_BATCH {
                        self.flush();
                    }
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EAGAIN) => {
                        let linger = self.first_at.map(|t| t.elapsed());
                        let timeout = match linger {
                            Some(l) if l >= LINGER => {
                                self.flush();
                                Duration::from_millis(200)
                            }
                            Some(l) => LINGER - l,
                            None => Duration::from_millis(200),
                        };
                        self.wait_readable(timeout)?;
                    }
                    Some(libc::EINTR) => {}
                    Some(libc::ENOBUFS) => self.overflow(),
                    _ => return Err(anyhow::anyhow!("netlink receive failed: {e}")),
                },
            }
            if self.drops_checked.elapsed() >= DROPS_EVERY {
                self.check_drops();
            }
        }
        Ok(())
    }

    fn handle_received(&mut self, n: usize) {
        for i in 0..n {
            let len = (self.msgs[i].msg_len as usize).min(DGRAM);
            let truncated = self.msgs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            let (s, e) = (i * DGRAM, i * DGRAM + len);
            // Take the datagram out of self.buf's borrow for handle().
            let d = std::mem::take(&mut self.buf);
            self.handle(&d[s..e], truncated);
            self.buf = d;
        }
    }

    fn handle(&mut self, d: &[u8], truncated: bool) {
        let Some((ty, _)) = header(d) else {
            self.parse_error("short netlink datagram", d);
            return;
        };
        if ty < 16 {
            return; // NLMSG_NOOP/ERROR/DONE: control, not records.
        }
        if truncated {
            self.parse_error("truncated netlink datagram", d);
            return;
        }
        let mut payload = &d[NLMSG_HDRLEN..];
        while let [rest @ .., 0] = payload {
            payload = rest;
        }
        match parse_netlink(ty, payload) {
            Ok(Parsed::Seccomp(r)) => match Event::from_record(&r) {
                Ok(ev) => {
                    if r.damaged() {
                        super::parse_warning(
                            SourceKind::Netlink,
                            &mut self.warnings_log,
                            &r,
                            payload,
                        );
                    }
                    if self.first_at.is_none() {
                        self.first_at = Some(Instant::now());
                    }
                    self.batch.events.push(ev);
                }
                Err(e) => self.parse_error(&e.to_string(), payload),
            },
            Ok(_) => self.skipped += 1,
            Err(e) => self.parse_error(&e.kind.to_string(), payload),
        }
    }

    fn parse_error(&mut self, what: &str, d: &[u8]) {
        self.batch.parse_errors += 1;
        if self.errors_log.hit() {
            let excerpt = parsers::escape::escape_bytes(&d[..d.len().min(160)]);
            tracing::warn!(
                source = "netlink",
                "cannot parse a record ({what}): {excerpt}"
            );
            if self.errors_log.is_last() {
                tracing::warn!(
                    source = "netlink",
                    "further parse errors are counted, not logged"
                );
            }
        }
    }

    fn overflow(&mut self) {
        // Only without NETLINK_NO_ENOBUFS (the drop counter unreadable): one per episode.
        tracing::warn!("netlink receive buffer overflowed (ENOBUFS): records were lost; raise netlink.rcvbuf_bytes");
        self.batch.losses.push((LossCause::Enobufs, 1));
    }

    fn check_drops(&mut self) {
        self.drops_checked = Instant::now();
        let Some(ino) = self.drops_ino else { return };
        let Some(now) = socket_drops(ino) else { return };
        if now > self.drops {
            let lost = now - self.drops;
            tracing::warn!(
                lost,
                "netlink receive buffer overflowed: records lost; raise netlink.rcvbuf_bytes"
            );
            self.batch.losses.push((LossCause::Enobufs, lost));
            self.flush();
        }
        self.drops = now;
    }

    fn wait_readable(&self, timeout: Duration) -> anyhow::Result<()> {
        let mut pfd = libc::pollfd {
            fd: self.sock.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().clamp(1, 1000) as libc::c_int;
        // SAFETY: pfd is valid for one entry.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                anyhow::bail!("poll on the netlink socket failed: {e}");
            }
        }
        Ok(())
    }

    fn flush(&mut self) {
        self.first_at = None;
        if self.skipped > 0 {
            metrics()
                .skipped_records
                .with_label_values(&[SourceKind::Netlink.as_str()])
                .inc_by(self.skipped);
            self.skipped = 0;
        }
        let b = std::mem::replace(&mut self.batch, new_batch());
        if !super::send(&self.ctx.tx, b) {
            self.closed = true;
        }
    }

    /// Reads what is queued until the socket is empty (daemon mode, after unregistering).
    fn drain(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && !self.closed {
            match self.recv_many() {
                Ok(n) => self.handle_received(n),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(_) => break,
            }
        }
    }

    /// Final drop check and flush.
    fn finish(&mut self) {
        self.check_drops();
        self.flush();
        if self.mode == Mode::Daemon {
            tracing::info!("unregistered as the audit daemon");
        }
    }
}

/// What the daemon says once when it may not read the kernel's audit status.
pub const NO_STATUS: &str = "kernel audit status: not read (no CAP_AUDIT_CONTROL, which the shipped unit withholds: \
with it a compromised daemon could switch auditing off for the whole host); kernel_audit_status_up is 0, the \
kernel_audit_* gauges are left out, and records the kernel drops on a full backlog are not counted \
(lost_records_total{cause=\"kernel_lost\"})";

/// Polls AUDIT_GET every `interval`: exports enabled, backlog, backlog_limit and lost to
/// the gauges, and sends the growth of `lost` as `LossCause::KernelLost`. Stops on cancel.
/// Without CAP_AUDIT_CONTROL it says so once and does not poll; while the status cannot
/// be read the gauges are left out and `kernel_audit_status_up` is 0.
pub fn spawn_status_poller(interval: Duration, ctx: SourceCtx) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_lost: Option<u32> = None;
        let mut warned = false;
        metrics().set_audit_status(None);
        if super::has_capability(super::CAP_AUDIT_CONTROL) == Some(false) {
            tracing::info!("{NO_STATUS}");
            return;
        }
        loop {
            match tokio::task::spawn_blocking(audit_status).await {
                Ok(Ok(s)) => {
                    metrics().set_audit_status(Some([
                        s.enabled.into(),
                        s.backlog.into(),
                        s.backlog_limit.into(),
                        s.lost.into(),
                    ]));
                    if let Ok(mut g) = LAST_STATUS.lock() {
                        *g = Some(s);
                    }
                    if let Some(prev) = last_lost {
                        if s.lost > prev {
                            let n = u64::from(s.lost - prev);
                            tracing::warn!(
                                lost = n,
                                backlog_limit = s.backlog_limit,
                                "the kernel lost audit records (its lost counter grew)"
                            );
                            let b = SourceBatch {
                                source: Some(SourceKind::Netlink),
                                live: true,
                                losses: vec![(LossCause::KernelLost, n)],
                                ..Default::default()
                            };
                            if ctx.tx.send(b).await.is_err() {
                                return;
                            }
                        }
                    }
                    last_lost = Some(s.lost);
                }
                Ok(Err(e)) => {
                    metrics().set_audit_status(None);
                    if !warned {
                        tracing::warn!("cannot read the kernel audit status (AUDIT_GET needs CAP_AUDIT_CONTROL in the initial PID namespace): {e}; kernel_audit_status_up is 0 and the kernel_audit_* gauges are left out");
                        warned = true;
                    }
                }
                Err(_) => return,
            }
            tokio::select! {
                _ = ctx.cancel.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_decodes_the_kernel_layout() {
        let mut b = Vec::new();
        for v in [0x7fu32, 1, 1, 4242, 0, 8192, 17, 3, 0x7f, 60000, 0] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        let s = AuditStatus::from_bytes(&b).unwrap();
        assert_eq!(
            (
                s.enabled,
                s.failure,
                s.pid,
                s.backlog_limit,
                s.lost,
                s.backlog
            ),
            (1, 1, 4242, 8192, 17, 3)
        );
        assert_eq!(AuditStatus::from_bytes(&b[..20]), None);
    }

    #[test]
    fn set_pid_payload_layout() {
        let p = status_set_pid(77);
        assert_eq!(&p[0..4], &4u32.to_ne_bytes());
        assert_eq!(&p[12..16], &77u32.to_ne_bytes());
    }

    #[test]
    fn header_needs_sixteen_bytes() {
        assert_eq!(header(&[0; 15]), None);
        let mut d = [0u8; 16];
        d[4..6].copy_from_slice(&1326u16.to_ne_bytes());
        d[8..12].copy_from_slice(&9u32.to_ne_bytes());
        assert_eq!(header(&d), Some((1326, 9)));
    }
}
