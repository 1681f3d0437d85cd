//! The daemon's live sources of SECCOMP records: the audit netlink socket, the audit.log
//! tailer and `/dev/kmsg`; and the choice of which ones run on this host, with the reason.
//!
//! Every source runs on its own OS thread (their reads block; none of them may stall the
//! async runtime), turns what it reads into [`SourceBatch`]es and hands them to the
//! pipeline through a bounded channel (`blocking_send`: a slow writer slows the source;
//! the kernel socket buffer or the file absorbs the difference). Each one stops when the
//! shared [`CancellationToken`] is cancelled, after sending what it has read (with its
//! checkpoint, for the tailer).

pub mod kmsg;
pub mod netlink;
pub mod tail;

use std::path::Path;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::{SourceBatch, SourceKind};

/// What every source gets: where to send batches, and when to stop.
#[derive(Clone)]
pub struct SourceCtx {
    pub tx: mpsc::Sender<SourceBatch>,
    pub cancel: CancellationToken,
}

/// A running source: its kind and the end of its thread (`Ok` on a clean stop).
pub struct SourceHandle {
    pub kind: SourceKind,
    pub done: oneshot::Receiver<anyhow::Result<()>>,
}

impl SourceHandle {
    /// Runs `body` on a new OS thread named after the source; `done` fires when it returns
    /// (or with an error if it panicked).
    pub fn spawn(
        kind: SourceKind,
        body: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
    ) -> std::io::Result<SourceHandle> {
        let (done_tx, done) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("src-{}", kind.as_str()))
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("source thread panicked")));
                let _ = done_tx.send(r);
            })?;
        Ok(SourceHandle { kind, done })
    }
}

/// Which sources to run and why the others do not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub run: Vec<SourceKind>,
    /// One line per source: why it runs or why it does not (printed at startup).
    pub reasons: Vec<String>,
}

/// What the host allows; probed once, passed to [`plan`] (tests pass their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAccess {
    /// `Ok` when the audit multicast group can be read, else why not.
    pub netlink: Result<(), String>,
    /// `Ok` when the audit.log exists (and is readable), else why not.
    pub audit_log: Result<(), String>,
    /// `Ok` when `/dev/kmsg` can be read, else why not.
    pub kmsg: Result<(), String>,
}

impl HostAccess {
    /// Probes this host for `cfg`.
    pub fn probe(cfg: &Config) -> HostAccess {
        HostAccess {
            netlink: netlink_access(),
            audit_log: readable(&cfg.audit_log.path),
            kmsg: readable(kmsg::path(cfg)),
        }
    }
}

fn readable(p: &Path) -> Result<(), String> {
    match std::fs::File::open(p) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("{} does not exist", p.display()))
        }
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

/// Chooses the sources. With `cfg.sources` set (config or `--source`) exactly those run,
/// and one that the host does not allow is an error. Otherwise: netlink when the process
/// may read the audit multicast group, audit-log when the file exists, and kmsg only when
/// neither of those can run.
pub fn plan(cfg: &Config, access: &HostAccess) -> anyhow::Result<Plan> {
    let mut p = Plan::default();
    if !cfg.sources.is_empty() {
        let mut seen = Vec::new();
        for s in &cfg.sources {
            let kind = SourceKind::parse(s).ok_or_else(|| {
                anyhow::anyhow!("unknown source {s:?} (netlink, audit-log, kmsg)")
            })?;
            if seen.contains(&kind) {
                continue;
            }
            seen.push(kind);
            let ok = match kind {
                SourceKind::Netlink => &access.netlink,
                SourceKind::AuditLog => &access.audit_log,
                SourceKind::Kmsg => &access.kmsg,
                SourceKind::Ingest => anyhow::bail!("ingest is a command, not a live source"),
            };
            if let Err(why) = ok {
                anyhow::bail!(
                    "source {} was asked for but cannot run: {why}",
                    kind.as_str()
                );
            }
            p.run.push(kind);
            p.reasons.push(format!("{}: on (asked for)", kind.as_str()));
        }
        for k in [SourceKind::Netlink, SourceKind::AuditLog, SourceKind::Kmsg] {
            if !p.run.contains(&k) {
                p.reasons.push(format!(
                    "{}: off (not among the sources asked for)",
                    k.as_str()
                ));
            }
        }
        return Ok(p);
    }
    match &access.netlink {
        Ok(()) => {
            p.run.push(SourceKind::Netlink);
            p.reasons.push(format!(
                "netlink: on (audit multicast group readable, mode {})",
                cfg.netlink.mode
            ));
        }
        Err(why) => p.reasons.push(format!("netlink: off ({why})")),
    }
    match &access.audit_log {
        Ok(()) => {
            p.run.push(SourceKind::AuditLog);
            p.reasons
                .push(format!("audit-log: on ({})", cfg.audit_log.path.display()));
        }
        Err(why) => p.reasons.push(format!("audit-log: off ({why})")),
    }
    if p.run.is_empty() {
        match &access.kmsg {
            Ok(()) => {
                p.run.push(SourceKind::Kmsg);
                p.reasons.push("kmsg: on (no netlink access and no audit.log; the kernel rate-limits this path)".into());
            }
            Err(why) => p.reasons.push(format!("kmsg: off ({why})")),
        }
    } else {
        p.reasons
            .push("kmsg: off (a better source runs; ask for it with --source kmsg)".into());
    }
    if p.run.is_empty() {
        anyhow::bail!(
            "no source can run on this host:\n  {}",
            p.reasons.join("\n  ")
        );
    }
    Ok(p)
}

/// CAP_AUDIT_READ: the capability that the audit multicast group requires.
pub const CAP_AUDIT_READ: u32 = 37;
/// CAP_AUDIT_CONTROL: AUDIT_GET/AUDIT_SET (status and `netlink.mode = "daemon"`).
pub const CAP_AUDIT_CONTROL: u32 = 30;

/// True when the effective capability set of this process has `cap` (from
/// `/proc/self/status`); `None` when that cannot be read.
pub fn has_capability(cap: u32) -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let v = u64::from_str_radix(hex, 16).ok()?;
    Some(v & (1u64 << cap) != 0)
}

/// Whether this process may read the audit multicast group: it needs CAP_AUDIT_READ and
/// must be in the initial network namespace (the kernel multicasts audit records there
/// only). `Err` says why not. When the namespace cannot be told (see [`initial_netns`]),
/// it is assumed to be the initial one, quietly: `doctor`'s live probe decides.
pub fn netlink_access() -> Result<(), String> {
    match has_capability(CAP_AUDIT_READ) {
        Some(true) => {}
        Some(false) => {
            return Err("no CAP_AUDIT_READ (run as root, or grant the capability)".into())
        }
        None => return Err("cannot read /proc/self/status to check CAP_AUDIT_READ".into()),
    }
    match initial_netns() {
        Netns::Initial(_) => Ok(()),
        Netns::Other(why) => Err(format!(
            "not in the initial network namespace ({why}): the kernel multicasts audit records there only"
        )),
        Netns::Unknown(why) => {
            tracing::debug!("cannot tell whether this is the initial network namespace ({why}): assuming it is");
            Ok(())
        }
    }
}

/// Whether this process is in the initial network namespace, and how that was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Netns {
    Initial(String),
    Other(String),
    Unknown(String),
}

/// The initial network namespace's inode number since Linux 6.18 (`NET_NS_INIT_INO`,
/// include/uapi/linux/nsfs.h). Older kernels number every network namespace, the initial
/// one included, from 0xF0000000 up, so no other namespace ever has this number.
pub const NET_NS_INIT_INO: u64 = 0xEFFF_FFF9;

/// NETLINK_CONNECTOR: the kernel creates its socket in the initial network namespace only.
const NETLINK_CONNECTOR: u32 = 11;

/// Tells whether this process is in the initial network namespace without needing access
/// to another process (a dynamic user may not read `/proc/1/ns/net`), in this order:
/// 1. our namespace's inode is [`NET_NS_INIT_INO`]: initial;
/// 2. on Linux 6.18 or newer any other inode is another namespace;
/// 3. our namespace link against pid 1's (or kthreadd's), when they can be read;
/// 4. the kernel's NETLINK_CONNECTOR socket (port 0) is listed in `/proc/net/netlink`,
///    which shows this namespace's sockets: initial.
///
/// Otherwise unknown (an older kernel without CONFIG_CONNECTOR, and no access to pid 1).
pub fn initial_netns() -> Netns {
    initial_netns_from(
        std::fs::metadata("/proc/self/ns/net").map(|m| std::os::unix::fs::MetadataExt::ino(&m)),
        kernel_release().as_deref(),
        || {
            let me = std::fs::read_link("/proc/self/ns/net")?;
            let mut last = None;
            for init in ["/proc/1/ns/net", "/proc/2/ns/net"] {
                match std::fs::read_link(init) {
                    Ok(theirs) => return Ok((me, theirs, init)),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| std::io::Error::other("no init process")))
        },
        || std::fs::read_to_string("/proc/net/netlink").ok(),
    )
}

fn kernel_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}

/// (major, minor) of a kernel release such as `6.18.44-fc-v1045`.
fn release_version(r: &str) -> Option<(u32, u32)> {
    let mut it = r.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Whether `/proc/net/netlink` lists a kernel socket (port 0) of `protocol`.
fn has_kernel_socket(netlink: &str, protocol: u32) -> bool {
    netlink.lines().skip(1).any(|l| {
        let c: Vec<&str> = l.split_whitespace().collect();
        c.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(protocol) && c.get(2) == Some(&"0")
    })
}

type NsLinks = (std::path::PathBuf, std::path::PathBuf, &'static str);

fn initial_netns_from(
    own_ino: std::io::Result<u64>,
    release: Option<&str>,
    links: impl FnOnce() -> std::io::Result<NsLinks>,
    netlink: impl FnOnce() -> Option<String>,
) -> Netns {
    let ino = match own_ino {
        Ok(i) if i == NET_NS_INIT_INO => {
            return Netns::Initial("its inode is the initial namespace's".into())
        }
        Ok(i) => Some(i),
        Err(_) => None,
    };
    if let (Some(i), Some(v)) = (ino, release.and_then(release_version)) {
        if v >= (6, 18) {
            return Netns::Other(format!(
                "net:[{i}], the initial one is net:[{NET_NS_INIT_INO}] on Linux 6.18+"
            ));
        }
    }
    let why = match links() {
        Ok((me, theirs, _)) if me == theirs => return Netns::Initial("the same as pid 1's".into()),
        Ok((me, theirs, init)) => {
            return Netns::Other(format!(
                "{} vs {} of {init}",
                me.display(),
                theirs.display()
            ))
        }
        Err(e) => format!("cannot compare with pid 1: {e}"),
    };
    match netlink() {
        Some(t) if has_kernel_socket(&t, NETLINK_CONNECTOR) => {
            Netns::Initial("the kernel's connector socket is in it".into())
        }
        Some(_) => Netns::Unknown(format!("{why}; no kernel connector socket listed")),
        None => Netns::Unknown(format!("{why}; /proc/net/netlink unreadable")),
    }
}

/// Sends `batch` unless it carries nothing; false when the pipeline is gone.
pub(crate) fn send(tx: &mpsc::Sender<SourceBatch>, batch: SourceBatch) -> bool {
    if batch.events.is_empty()
        && batch.checkpoint.is_none()
        && batch.losses.is_empty()
        && batch.parse_errors == 0
    {
        return true;
    }
    tx.blocking_send(batch).is_ok()
}

/// Logs at most `limit` samples of a recurring problem, then a single note.
/// Counts a SECCOMP record kept with a damaged, unknown or unmapped field
/// (`parse_warnings_total`) and logs the first few.
pub(crate) fn parse_warning(
    source: SourceKind,
    log: &mut SampledLog,
    rec: &parsers::Record<'_>,
    line: &[u8],
) {
    crate::metrics::metrics()
        .parse_warnings
        .with_label_values(&[source.as_str()])
        .inc();
    if log.hit() {
        let w: Vec<String> = rec.warnings.iter().map(|w| w.to_string()).collect();
        let excerpt = parsers::escape::escape_bytes(&line[..line.len().min(160)]);
        tracing::warn!(
            source = source.as_str(),
            "record kept with a damaged field ({}): {excerpt}",
            w.join("; ")
        );
    }
}

/// Counts a SECCOMP record that the kernel did not write (`forged_records_total`) and
/// logs the first few.
pub(crate) fn forged(
    source: SourceKind,
    log: &mut SampledLog,
    who: &parsers::Untrusted<'_>,
    line: &[u8],
) {
    crate::metrics::metrics()
        .forged_records
        .with_label_values(&[source.as_str()])
        .inc();
    if log.hit() {
        let excerpt = parsers::escape::escape_bytes(&line[..line.len().min(160)]);
        tracing::warn!(
            source = source.as_str(),
            "forged SECCOMP record ({who}), skipped: {excerpt}"
        );
    }
}

pub(crate) struct SampledLog {
    seen: u64,
    limit: u64,
}

impl SampledLog {
    pub(crate) const fn new(limit: u64) -> SampledLog {
        SampledLog { seen: 0, limit }
    }

    /// True when this occurrence should be logged.
    pub(crate) fn hit(&mut self) -> bool {
        self.seen += 1;
        self.seen <= self.limit
    }

    pub(crate) fn is_last(&self) -> bool {
        self.seen == self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(n: bool, a: bool, k: bool) -> HostAccess {
        let r = |ok: bool| if ok { Ok(()) } else { Err("nope".to_string()) };
        HostAccess {
            netlink: r(n),
            audit_log: r(a),
            kmsg: r(k),
        }
    }

    #[test]
    fn automatic_choice() {
        let cfg = Config::default();
        assert_eq!(
            plan(&cfg, &access(true, true, true)).unwrap().run,
            [SourceKind::Netlink, SourceKind::AuditLog]
        );
        assert_eq!(
            plan(&cfg, &access(false, true, true)).unwrap().run,
            [SourceKind::AuditLog]
        );
        let p = plan(&cfg, &access(false, false, true)).unwrap();
        assert_eq!(p.run, [SourceKind::Kmsg]);
        assert!(
            p.reasons
                .iter()
                .any(|r| r.starts_with("netlink: off (nope)")),
            "{:?}",
            p.reasons
        );
        assert!(plan(&cfg, &access(false, false, false)).is_err());
    }

    #[test]
    fn explicit_sources_must_be_available() {
        let cfg = Config {
            sources: vec!["kmsg".into(), "kmsg".into()],
            ..Config::default()
        };
        assert_eq!(
            plan(&cfg, &access(true, true, true)).unwrap().run,
            [SourceKind::Kmsg]
        );
        let cfg = Config {
            sources: vec!["netlink".into()],
            ..Config::default()
        };
        let e = plan(&cfg, &access(false, true, true)).unwrap_err();
        assert!(format!("{e}").contains("netlink"), "{e}");
    }

    #[test]
    fn the_initial_netns_is_told_without_pid_1() {
        let no_links = || -> std::io::Result<NsLinks> {
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        };
        let header = "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode\n";
        let with_cn = format!("{header}00000000f879aabe 11  0          00000000 0        0        0     2        0        1026\n");
        let without = format!("{header}00000000f879aabe 9   0          00000000 0        0        0     2        0        6\n0000 11  4242 00000001 0 0 0 2 0 9\n");
        // 6.18+: the inode alone.
        assert!(matches!(
            initial_netns_from(Ok(NET_NS_INIT_INO), Some("6.18.44"), no_links, || None),
            Netns::Initial(_)
        ));
        assert!(matches!(
            initial_netns_from(Ok(4026532179), Some("6.18.44-fc"), no_links, || Some(
                with_cn.clone()
            )),
            Netns::Other(_)
        ));
        // Older kernels: pid 1 when readable, else the connector's kernel socket.
        let same = || Ok(("net:[5]".into(), "net:[5]".into(), "/proc/1/ns/net"));
        let differ = || Ok(("net:[6]".into(), "net:[5]".into(), "/proc/1/ns/net"));
        assert!(matches!(
            initial_netns_from(Ok(5), Some("6.1.0-13-amd64"), same, || None),
            Netns::Initial(_)
        ));
        assert!(matches!(
            initial_netns_from(Ok(6), Some("6.1.0-13-amd64"), differ, || None),
            Netns::Other(_)
        ));
        assert!(matches!(
            initial_netns_from(Ok(5), Some("5.10.0"), no_links, || Some(with_cn.clone())),
            Netns::Initial(_)
        ));
        assert!(matches!(
            initial_netns_from(Ok(5), Some("5.10.0"), no_links, || Some(without.clone())),
            Netns::Unknown(_)
        ));
        assert!(matches!(
            initial_netns_from(Ok(5), None, no_links, || None),
            Netns::Unknown(_)
        ));
        assert_eq!(release_version("6.18.44-fc-v1045"), Some((6, 18)));
        assert_eq!(release_version("5.4"), Some((5, 4)));
        // This test process runs on the host.
        assert!(
            matches!(initial_netns(), Netns::Initial(_)),
            "{:?}",
            initial_netns()
        );
    }

    #[test]
    fn capability_probe_reads_proc() {
        // Every process has a CapEff line; root has CAP_AUDIT_READ unless dropped.
        assert!(has_capability(CAP_AUDIT_READ).is_some());
    }
}
