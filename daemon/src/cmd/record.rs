//! `seccomp-watch record [-o FILE] [--format json|k8s] -- CMD ARGS...`: runs a command under
//! a seccomp filter that logs every syscall (`SCMP_ACT_LOG` for all), collects the kernel's
//! SECCOMP records of its whole process tree from a NETLINK_AUDIT multicast socket, and
//! writes the least-privilege profile it needed.
//!
//! How records are told apart from other processes' records: the child sets its audit
//! login uid (`/proc/self/loginuid`) before exec, which gives it a fresh audit session id
//! (`ses=`) that every descendant inherits and every record carries. When that is not
//! possible (login uid immutable), records are matched by pid: the child's pid and every
//! running process whose parent chain reaches it; records of processes that were already
//! gone are counted and left out.
//!
//! Nothing is lost silently: the socket is opened (with a large receive buffer) before the
//! child starts, the kernel throttles the producer rather than dropping when the audit
//! queue is full, and a receive-buffer overflow (ENOBUFS) is an error.

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use parsers::escape::escape;
use parsers::{Event, Parsed};
use rules::suggest::{generate, GenerateOptions, Observation};

use crate::sources::netlink::socket_drops;

use crate::profile_io::evidence::Aggregator;
use crate::profile_io::{
    k8s_name, output, render_profile, write_file, DefaultAction, ProfileFormat,
};

/// Arguments of `seccomp-watch record`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Needs root (CAP_AUDIT_READ to read audit records). The command runs with no_new_privs and \
a seccomp filter that logs every call (its whole process tree inherits it); its records are \
told apart from other processes' by a fresh audit session: the command's login uid is set \
(to the current one, or to your uid when unset), so `auid` inside it may change. \
Ctrl-C goes to the command; the profile is written with what it did until then. \
Exit status: 0, or 1 when the command failed (the profile is written all the same), \
2 on errors.")]
pub struct Args {
    /// Write the profile to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The profile's format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: ProfileFormat,
    /// The profile's default action.
    #[arg(long, value_enum, default_value = "errno")]
    pub default_action: DefaultAction,
    /// After the command exits, keep reading until no record of its tree came for this
    /// long (its last records arrive shortly after it exits).
    #[arg(long, value_parser = crate::profile_io::parse_duration, default_value = "200ms")]
    pub quiet: Duration,
    /// Print the evidence table (per syscall: count, first and last seen, comm, exe).
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub dangerous: crate::profile_io::DangerousArgs,
    /// The command and its arguments.
    #[arg(required = true, num_args = 1.., last = true, value_name = "CMD")]
    pub command: Vec<std::ffi::OsString>,
}

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read audit records: {0}; `record` needs root (CAP_AUDIT_READ)")]
    Permission(io::Error),
    #[error("cannot open the NETLINK_AUDIT socket: {0}")]
    Socket(io::Error),
    #[error("cannot run {cmd}: {err}")]
    Spawn { cmd: String, err: io::Error },
    #[error("the kernel dropped {0} audit record(s) for this socket (receive buffer overflow): the profile would be incomplete; run again")]
    Lost(u64),
}

const NETLINK_AUDIT: libc::c_int = 9;
/// AUDIT_NLGRP_READLOG: the multicast group of every audit record.
const AUDIT_NLGRP_READLOG: u32 = 1;
const RCVBUF: libc::c_int = 64 << 20;
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
const SECCOMP_RET_LOG: u32 = 0x7ffc_0000;
const BPF_RET_K: u16 = 0x06;
/// AUDIT_SID_UNSET and AUDIT_UID_UNSET.
const UNSET: u32 = u32::MAX;

/// A NETLINK_AUDIT socket bound to the read-log multicast group.
pub struct AuditSocket {
    fd: OwnedFd,
    /// The socket's inode and its drop counter at open, when `/proc/net/netlink` shows it:
    /// then `NETLINK_NO_ENOBUFS` is set and [`AuditSocket::lost`] is exact.
    drops: Option<(u64, u64)>,
    enobufs: u64,
}

impl AuditSocket {
    /// Opens the socket with a large receive buffer (`SO_RCVBUFFORCE`, else `SO_RCVBUF`),
    /// and with exact drop accounting when possible (see the netlink source).
    pub fn open() -> Result<AuditSocket, RecordError> {
        // SAFETY: plain socket(2); the result is checked.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_AUDIT,
            )
        };
        if raw < 0 {
            return Err(RecordError::Socket(io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let size = RCVBUF;
        let set_at = |level, opt, size: libc::c_int| {
            // SAFETY: `size` outlives the call; the length matches its type.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    level,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        };
        let set = |opt, size| set_at(libc::SOL_SOCKET, opt, size);
        if set(libc::SO_RCVBUFFORCE, size) != 0 {
            set(libc::SO_RCVBUF, size);
        }
        // SAFETY: sockaddr_nl is plain data; zeroed is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = AUDIT_NLGRP_READLOG;
        // SAFETY: `addr` is a valid sockaddr_nl and its size is passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => RecordError::Permission(e),
                _ => RecordError::Socket(e),
            });
        }
        // SAFETY: `st` is valid for writes.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a valid descriptor and a valid stat buffer.
        let ino = (unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0).then_some(st.st_ino);
        let drops = ino
            .and_then(|i| socket_drops(i).map(|d| (i, d)))
            .filter(|_| set_at(libc::SOL_NETLINK, libc::NETLINK_NO_ENOBUFS, 1) == 0);
        Ok(AuditSocket {
            fd,
            drops,
            enobufs: 0,
        })
    }

    /// Records the kernel could not queue for this socket so far: exact from the socket's
    /// drop counter, else the number of ENOBUFS errors (a lower bound).
    pub fn lost(&self) -> u64 {
        match self.drops {
            Some((ino, d0)) => socket_drops(ino).map_or(self.enobufs, |d| d.saturating_sub(d0)),
            None => self.enobufs,
        }
    }

    /// Waits up to `timeout` for a datagram and reads it into `buf`: `Ok(None)` on timeout
    /// (or after an ENOBUFS, which [`AuditSocket::lost`] accounts for).
    pub fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(None)
            } else {
                Err(e)
            };
        }
        if n == 0 {
            return Ok(None);
        }
        // SAFETY: `buf` is valid for writes of its length.
        let r = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENOBUFS) {
                // Counted; the socket goes on (drops show in `lost`).
                self.enobufs += 1;
                return Ok(None);
            }
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(r as usize))
    }
}

/// The netlink messages of one datagram: `(type, payload)`.
pub fn netlink_messages(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        let ty = u16::from_ne_bytes([buf[4], buf[5]]);
        if len < 16 || len > buf.len() {
            // The audit subsystem has been seen to send a length that does not cover the
            // payload; take the rest of the datagram then.
            out.push((ty, &buf[16..]));
            break;
        }
        out.push((ty, &buf[16..len]));
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or(&[]);
    }
    out
}

/// Reads a small decimal file under /proc.
fn read_u32(path: &str) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The parent pid of `pid` (from /proc/PID/status), while it runs.
fn ppid_of(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Decides which records belong to the recorded process tree.
#[derive(Debug)]
pub enum TreeFilter {
    /// The tree's own audit session id.
    Session(u32),
    /// The root pid; `known` caches each pid's answer.
    Pids {
        root: u32,
        known: HashMap<u32, bool>,
    },
}

impl TreeFilter {
    /// `Some(true/false)` when decided, `None` when the process is gone and unknown.
    pub fn matches(&mut self, e: &Event) -> Option<bool> {
        match self {
            TreeFilter::Session(ses) => Some(e.ses == Some(*ses)),
            TreeFilter::Pids { root, known } => {
                if let Some(&k) = known.get(&e.pid) {
                    return Some(k);
                }
                let mut p = e.pid;
                let mut verdict = None;
                for _ in 0..64 {
                    if p == *root || known.get(&p) == Some(&true) {
                        verdict = Some(true);
                        break;
                    }
                    match ppid_of(p) {
                        Some(0) | Some(1) => {
                            verdict = Some(false);
                            break;
                        }
                        Some(pp) => p = pp,
                        None => break,
                    }
                }
                if let Some(v) = verdict {
                    known.insert(e.pid, v);
                }
                verdict
            }
        }
    }
}

/// What a recording collected.
#[derive(Debug, Default)]
pub struct Recording {
    /// The tree's calls.
    pub observations: Vec<Observation>,
    /// How many records of the tree were read.
    pub records: u64,
    /// Records of other processes, skipped.
    pub others: u64,
    /// Records of processes that were gone before they could be matched (pid mode only).
    pub unattributable: u64,
    pub parse_errors: u64,
    pub exit: Option<std::process::ExitStatus>,
    /// True when the drain stopped at its cap while records of the tree were still coming
    /// (descendants outlived the command).
    pub capped: bool,
    pub session: Option<u32>,
}

/// The login uid to set in the child: the current one, or our uid when unset.
fn login_uid_to_set() -> Option<Vec<u8>> {
    let current = read_u32("/proc/self/loginuid")?;
    // SAFETY: getuid has no preconditions.
    let uid = if current == UNSET {
        unsafe { libc::getuid() }
    } else {
        current
    };
    let mut s = uid.to_string().into_bytes();
    s.push(0);
    Some(s)
}

/// Installs the all-`SCMP_ACT_LOG` filter on the calling thread (async-signal-safe: called
/// between fork and exec). Also tries to set the login uid first.
fn child_setup(login_uid: Option<&[u8]>) -> io::Result<()> {
    // SAFETY: only async-signal-safe calls (open, write, close, signal, prctl, syscall) on
    // memory owned by the caller.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGQUIT, libc::SIG_DFL);
        if let Some(v) = login_uid {
            let fd = libc::open(
                c"/proc/self/loginuid".as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            );
            if fd >= 0 {
                // Failure is fine: the parent falls back to pid matching.
                let _ = libc::write(fd, v.as_ptr().cast(), v.len().saturating_sub(1));
                libc::close(fd);
            }
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        let filter = [libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_LOG,
        }];
        let prog = libc::sock_fprog {
            len: 1,
            filter: filter.as_ptr() as *mut libc::sock_filter,
        };
        if libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Runs `command` under the logging filter and collects its records (see the module
/// documentation). Returns when the command exited and its records are drained.
pub fn record(command: &[std::ffi::OsString], quiet: Duration) -> Result<Recording, RecordError> {
    let mut sock = AuditSocket::open()?;
    let (prog, rest) = command.split_first().ok_or_else(|| RecordError::Spawn {
        cmd: String::new(),
        err: io::Error::new(io::ErrorKind::InvalidInput, "no command"),
    })?;
    let login_uid = login_uid_to_set();
    let our_session = read_u32("/proc/self/sessionid");
    let mut cmd = std::process::Command::new(prog);
    cmd.args(rest);
    // SAFETY: child_setup only makes async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || child_setup(login_uid.as_deref()));
    }
    let mut child = cmd.spawn().map_err(|err| RecordError::Spawn {
        cmd: escape(&prog.to_string_lossy()).into_owned(),
        err,
    })?;
    let root = child.id();
    // The child is not reaped before this read, so /proc/PID is there even if it exited.
    let session = read_u32(&format!("/proc/{root}/sessionid"))
        .filter(|&s| s != UNSET && Some(s) != our_session);
    let mut filter = match session {
        Some(s) => TreeFilter::Session(s),
        None => TreeFilter::Pids {
            root,
            known: HashMap::from([(root, true)]),
        },
    };
    // Ctrl-C goes to the command; keep running to write what it did until then.
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    let old_int = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    // SAFETY: as above.
    let old_quit = unsafe { libc::signal(libc::SIGQUIT, libc::SIG_IGN) };

    let mut rec = Recording {
        session,
        ..Recording::default()
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut agg = Aggregator::default();
    let mut exited_at: Option<Instant> = None;
    let mut last_ours = Instant::now();
    let cap = Duration::from_secs(5);
    let res = loop {
        if rec.exit.is_none() {
            match child.try_wait() {
                Ok(Some(st)) => {
                    rec.exit = Some(st);
                    exited_at = Some(Instant::now());
                    last_ours = Instant::now();
                }
                Ok(None) => {}
                Err(e) => break Err(RecordError::Socket(e)),
            }
        }
        if let Some(t) = exited_at {
            if last_ours.elapsed() >= quiet {
                break Ok(());
            }
            if t.elapsed() >= cap {
                rec.capped = true;
                break Ok(());
            }
        }
        match sock.recv(&mut buf, Duration::from_millis(20)) {
            Ok(None) => continue,
            Ok(Some(n)) => {
                for (ty, payload) in netlink_messages(&buf[..n]) {
                    match parsers::parse_netlink(ty, payload) {
                        Ok(Parsed::Seccomp(r)) => match Event::from_record(&r) {
                            Ok(e) => match filter.matches(&e) {
                                Some(true) => {
                                    last_ours = Instant::now();
                                    rec.records += 1;
                                    agg.add(&e, None);
                                }
                                Some(false) => rec.others += 1,
                                None => rec.unattributable += 1,
                            },
                            Err(_) => rec.parse_errors += 1,
                        },
                        Ok(_) => {}
                        Err(_) => rec.parse_errors += 1,
                    }
                }
            }
            Err(e) => break Err(RecordError::Socket(e)),
        }
    };
    // SAFETY: restoring the dispositions read above.
    unsafe {
        libc::signal(libc::SIGINT, old_int);
        libc::signal(libc::SIGQUIT, old_quit);
    }
    if rec.exit.is_none() {
        rec.exit = child.wait().ok();
    }
    res?;
    rec.observations = agg.finish();
    let lost = sock.lost();
    if lost > 0 {
        return Err(RecordError::Lost(lost));
    }
    Ok(rec)
}

/// The exit status in words: `exit status N` or `killed by signal N`.
fn describe_exit(st: &std::process::ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => "unknown exit status".to_string(),
    }
}

/// Runs the command; returns the exit code: 0 when the command exited 0 and the profile was
/// written, 1 when the command failed (the profile is written all the same).
pub fn run(args: Args) -> anyhow::Result<i32> {
    let dangerous = args.dangerous.policy()?;
    let rec = record(&args.command, args.quiet)?;
    let stderr = io::stderr();
    let mut report = stderr.lock();
    let obs = &rec.observations;
    let opts = GenerateOptions {
        default_action: args.default_action.into(),
        dangerous,
        essentials: !args.dangerous.no_essentials,
        ..GenerateOptions::default()
    };
    let generated = generate(obs, &opts);
    let cmd0 = args
        .command
        .first()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = args
        .output
        .as_deref()
        .and_then(|p| p.file_stem())
        .map(|s| k8s_name(&s.to_string_lossy()))
        .unwrap_or_else(|| {
            k8s_name(&format!(
                "record-{}",
                cmd0.rsplit('/').next().unwrap_or_default()
            ))
        });
    let (text, notes) = render_profile(&generated.profile, args.format, None, &name)?;

    if args.verbose {
        report.write_all(output::evidence_table(obs).as_bytes())?;
    }
    let allowed = generated
        .profile
        .spec()
        .rules()
        .iter()
        .map(|r| r.all_names().count())
        .sum::<usize>();
    writeln!(
        report,
        "seccomp-watch record: {} SECCOMP record(s) of the command's process tree ({}), {} syscall(s) allowed",
        rec.records,
        match rec.session {
            Some(s) => format!("audit session {s}"),
            None => "matched by pid".to_string(),
        },
        allowed
    )?;
    if !generated.findings.is_empty() {
        report.write_all(output::findings_text(&generated.findings).as_bytes())?;
    }
    let held: std::collections::BTreeSet<&str> = generated
        .findings
        .iter()
        .filter(|f| f.kind == rules::suggest::FindingKind::Dangerous)
        .map(|f| f.syscall.as_str())
        .collect();
    report.write_all(crate::profile_io::dangerous_warning(&held).as_bytes())?;
    if rec.unattributable > 0 {
        writeln!(
            report,
            "warning: {} record(s) of processes that exited before they could be matched were left out (the login uid could not be set)",
            rec.unattributable
        )?;
    }
    if rec.capped {
        writeln!(report, "warning: processes of the tree outlived the command; records after it exited were cut off")?;
    }
    if rec.parse_errors > 0 {
        writeln!(
            report,
            "warning: {} audit message(s) could not be parsed",
            rec.parse_errors
        )?;
    }
    for n in &notes {
        writeln!(report, "SeccompProfile: {}", escape(n))?;
    }
    match &args.output {
        Some(p) => {
            write_file(p, &text)?;
            writeln!(report, "wrote {}", escape(&p.display().to_string()))?;
        }
        None => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            out.write_all(text.as_bytes())
                .context("cannot write the profile")?;
            out.flush()?;
        }
    }
    match rec.exit {
        Some(st) if st.success() => Ok(0),
        Some(st) => {
            writeln!(report, "warning: {} {}", escape(&cmd0), describe_exit(&st))?;
            Ok(1)
        }
        None => Ok(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_netlink_datagrams() {
        let mut d = Vec::new();
        for (ty, p) in [(1326u16, &b"audit(1.0:1): a=1"[..]), (1300, b"x")] {
            let len = 16 + p.len();
            d.extend_from_slice(&(len as u32).to_ne_bytes());
            d.extend_from_slice(&ty.to_ne_bytes());
            d.extend_from_slice(&[0; 10]);
            d.extend_from_slice(p);
            while d.len() % 4 != 0 {
                d.push(0);
            }
        }
        let m = netlink_messages(&d);
        assert_eq!(
            m,
            vec![(1326, &b"audit(1.0:1): a=1"[..]), (1300, &b"x"[..])]
        );
        // A short datagram or a lying length does not panic.
        assert!(netlink_messages(&d[..10]).is_empty());
        let mut lying = d.clone();
        lying[0] = 0xff;
        assert_eq!(netlink_messages(&lying).len(), 1);
    }

    #[test]
    fn session_filter_matches_by_ses() {
        let l = b"type=SECCOMP msg=audit(1.000:1): auid=0 uid=0 gid=0 ses=77 pid=5 comm=\"x\" exe=\"/x\" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x7ffc0000";
        let Ok(Parsed::Seccomp(r)) = parsers::parse_line(l) else {
            panic!()
        };
        let e = Event::from_record(&r).unwrap();
        assert_eq!(TreeFilter::Session(77).matches(&e), Some(true));
        assert_eq!(TreeFilter::Session(78).matches(&e), Some(false));
    }

    #[test]
    fn pid_filter_follows_parents() {
        // This test process is a descendant of its own parent's parent chain: our pid with
        // our parent as root matches; pid 1 as a record pid does not.
        let me = std::process::id();
        let parent = ppid_of(me).unwrap();
        let l = format!("type=SECCOMP msg=audit(1.000:1): auid=0 uid=0 gid=0 ses=1 pid={me} comm=\"x\" exe=\"/x\" sig=0 arch=c000003e syscall=1 compat=0 ip=0x1 code=0x7ffc0000");
        let Ok(Parsed::Seccomp(r)) = parsers::parse_line(l.as_bytes()) else {
            panic!()
        };
        let e = Event::from_record(&r).unwrap();
        let mut f = TreeFilter::Pids {
            root: parent,
            known: HashMap::new(),
        };
        assert_eq!(f.matches(&e), Some(true));
        let mut g = TreeFilter::Pids {
            root: u32::MAX - 1,
            known: HashMap::new(),
        };
        assert_eq!(g.matches(&e), Some(false));
    }
}
