//! The doctor's checks as the service runs: the user and capabilities of the unit (the
//! installed `seccomp-watch.service` with its drop-ins, `--unit FILE`, or else the shipped
//! unit), what the missing ones cost, and what that user can read: the container runtimes'
//! state and audit.log, tested on a thread that takes the service's uid and capabilities
//! (credentials are per thread on Linux: the raw `setresuid`/`capset` calls change that
//! thread only, and it ends with the check).

use std::path::{Path, PathBuf};

use super::report::{f, Level, Report};
use crate::config::Config;

/// The unit as shipped (packaging/seccomp-watch.service).
pub const SHIPPED_UNIT: &str = include_str!("../../../../packaging/seccomp-watch.service");

const UNIT: &str = "seccomp-watch.service";

/// Where systemd looks for the unit and its drop-ins, most important first.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
];

/// Capability names, by number (linux/capability.h).
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

const ALL_CAPS: u64 = (1u64 << CAPS.len()) - 1;

fn cap_bit(name: &str) -> Option<u64> {
    let n = name.trim().to_ascii_uppercase();
    let n = if n.starts_with("CAP_") {
        n
    } else {
        format!("CAP_{n}")
    };
    CAPS.iter().position(|c| *c == n).map(|i| 1u64 << i)
}

/// The names of the capabilities in `mask`.
pub fn cap_names(mask: u64) -> Vec<&'static str> {
    CAPS.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// Who the service runs as and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProfile {
    /// Where it was read: unit file paths, or "the shipped unit".
    pub source: String,
    /// `DynamicUser=yes`, or a `User=` other than root.
    pub unprivileged: bool,
    /// `DynamicUser=yes`.
    pub dynamic: bool,
    /// The `User=` name, when set.
    pub user: Option<String>,
    /// The capabilities the service process has (ambient, within the bounding set; for a
    /// root service, the bounding set).
    pub caps: u64,
}

impl ServiceProfile {
    pub fn has(&self, cap: u32) -> bool {
        self.caps & (1u64 << cap) != 0
    }

    fn who(&self) -> String {
        match (&self.user, self.unprivileged, self.dynamic) {
            (_, false, _) => "root".into(),
            (Some(u), _, true) => format!("the dynamic user {u}"),
            (None, _, true) => "a dynamic user".into(),
            (Some(u), _, false) => format!("user {u}"),
            (None, true, false) => "an unprivileged user".into(),
        }
    }
}

/// A capability set assignment, systemd's way: lines merge (OR), `~` lines remove, an empty
/// assignment resets to the default.
fn assign(set: &mut Option<u64>, value: &str) {
    let v = value.trim();
    if v.is_empty() {
        *set = None;
        return;
    }
    let (invert, list) = match v.strip_prefix('~') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let sum = list
        .split_whitespace()
        .filter_map(cap_bit)
        .fold(0u64, |a, b| a | b);
    *set = Some(match (invert, *set) {
        (false, None) => sum,
        (false, Some(s)) => s | sum,
        (true, None) => ALL_CAPS & !sum,
        (true, Some(s)) => s & !sum,
    });
}

/// The service profile of unit texts applied in order (the unit, then its drop-ins).
pub fn parse_units(texts: &[&str], source: String) -> ServiceProfile {
    let mut ambient = None;
    let mut bounding = None;
    let mut dynamic = false;
    let mut user: Option<String> = None;
    for text in texts {
        let mut in_service = false;
        for line in text.lines() {
            let l = line.trim();
            if l.starts_with('[') {
                in_service = l == "[Service]";
                continue;
            }
            if !in_service || l.starts_with('#') || l.starts_with(';') {
                continue;
            }
            let Some((k, v)) = l.split_once('=') else {
                continue;
            };
            match k.trim() {
                "AmbientCapabilities" => assign(&mut ambient, v),
                "CapabilityBoundingSet" => assign(&mut bounding, v),
                "DynamicUser" => {
                    dynamic = matches!(v.trim(), "yes" | "true" | "on" | "1");
                }
                "User" => {
                    let u = v.trim();
                    user = (!u.is_empty()).then(|| u.to_string());
                }
                _ => {}
            }
        }
    }
    let bounding = bounding.unwrap_or(ALL_CAPS);
    let unprivileged = dynamic || user.as_deref().is_some_and(|u| u != "root" && u != "0");
    let caps = if unprivileged {
        ambient.unwrap_or(0) & bounding
    } else {
        bounding
    };
    ServiceProfile {
        source,
        unprivileged,
        dynamic,
        user,
        caps,
    }
}

/// The unit as systemd would read it here: `--unit FILE` alone; else the installed unit
/// and its drop-ins; else the shipped unit.
pub fn load(unit: Option<&Path>) -> Result<ServiceProfile, String> {
    if let Some(p) = unit {
        let t =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        return Ok(parse_units(&[&t], p.display().to_string()));
    }
    let main = UNIT_DIRS
        .iter()
        .map(|d| Path::new(d).join(UNIT))
        .find(|p| p.is_file());
    let Some(main) = main else {
        return Ok(parse_units(
            &[SHIPPED_UNIT],
            "the shipped unit (none installed)".into(),
        ));
    };
    let mut texts = vec![std::fs::read_to_string(&main)
        .map_err(|e| format!("cannot read {}: {e}", main.display()))?];
    let mut paths = vec![main.display().to_string()];
    // Drop-ins: by file name, the most important directory's file of each name.
    let mut dropins: std::collections::BTreeMap<String, PathBuf> = Default::default();
    for d in UNIT_DIRS.iter().rev() {
        let dir = Path::new(d).join(format!("{UNIT}.d"));
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".conf") {
                dropins.insert(name, e.path());
            }
        }
    }
    for p in dropins.values() {
        if let Ok(t) = std::fs::read_to_string(p) {
            texts.push(t);
            paths.push(p.display().to_string());
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    Ok(parse_units(&refs, paths.join(" + ")))
}

/// The uid and gid to test as: `User=` when it exists, else 65534 (standing in for a
/// dynamic user: not root, in no group); 0 for a root service.
fn ids(p: &ServiceProfile) -> (u32, u32) {
    if !p.unprivileged {
        return (0, 0);
    }
    if let Some(u) = &p.user {
        if let Ok(c) = std::ffi::CString::new(u.as_str()) {
            // SAFETY: getpwnam with a valid C string; the result is read at once.
            let pw = unsafe { libc::getpwnam(c.as_ptr()) };
            if !pw.is_null() {
                // SAFETY: non-null passwd entry.
                let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
                if uid != 0 {
                    return (uid, gid);
                }
            }
        }
    }
    (65534, 65534)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Makes the calling thread (only) run as `uid`/`gid`, in no group, with exactly `caps`.
fn become_service(uid: u32, gid: u32, caps: u64) -> std::io::Result<()> {
    let check = |rc: libc::c_long| {
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: raw syscalls with integer arguments (or a valid pointer below); each changes
    // the credentials of this thread only (the raw calls bypass glibc's all-thread setxid).
    unsafe {
        check(libc::syscall(
            libc::SYS_prctl,
            libc::PR_SET_KEEPCAPS,
            1,
            0,
            0,
            0,
        ))?;
        check(libc::syscall(
            libc::SYS_setgroups,
            0,
            std::ptr::null::<libc::gid_t>(),
        ))?;
        check(libc::syscall(libc::SYS_setresgid, gid, gid, gid))?;
        check(libc::syscall(libc::SYS_setresuid, uid, uid, uid))?;
        let mut hdr = CapHeader {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        let lo = caps as u32;
        let hi = (caps >> 32) as u32;
        let data = [
            CapData {
                effective: lo,
                permitted: lo,
                inheritable: 0,
            },
            CapData {
                effective: hi,
                permitted: hi,
                inheritable: 0,
            },
        ];
        check(libc::syscall(
            libc::SYS_capset,
            &mut hdr as *mut CapHeader,
            data.as_ptr(),
        ))?;
    }
    Ok(())
}

/// Runs `f` on a thread with the service's credentials.
fn as_service<T: Send>(p: &ServiceProfile, f: impl FnOnce() -> T + Send) -> Result<T, String> {
    let (uid, gid) = ids(p);
    let caps = p.caps;
    std::thread::scope(|s| {
        s.spawn(move || {
            become_service(uid, gid, caps)
                .map_err(|e| format!("cannot take the service's credentials: {e}"))?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|_| Err("the check thread panicked".into()))
    })
}

/// What the service user could read: (path, error or None) for each runtime state
/// directory that exists, and for audit.log when it exists.
type Access = (
    Vec<(PathBuf, Option<String>)>,
    Option<(PathBuf, Option<String>)>,
);

fn access(cfg: &Config) -> Access {
    let a = &cfg.attribution;
    let mut dirs: Vec<PathBuf> = a.runc_roots.clone();
    dirs.extend([
        a.containerd_root.clone(),
        a.docker_root.clone(),
        a.podman_root.clone(),
        a.crio_root.clone(),
    ]);
    let runtimes = dirs
        .into_iter()
        .filter_map(|d| match std::fs::read_dir(&d) {
            Ok(rd) => {
                // The directory, and the first entry in it (a container's own directory,
                // 0700 under runc).
                let inner = rd
                    .flatten()
                    .map(|e| e.path())
                    .find(|p| p.is_dir())
                    .and_then(|p| {
                        std::fs::read_dir(&p)
                            .err()
                            .map(|e| format!("{}: {e}", p.display()))
                    });
                Some((d, inner))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some((d, Some(e.to_string()))),
        })
        .collect();
    let log = &cfg.audit_log.path;
    let audit_log = match std::fs::File::open(log) {
        Ok(_) => Some((log.clone(), None)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some((log.clone(), Some(e.to_string()))),
    };
    (runtimes, audit_log)
}

pub(super) fn check_service(r: &mut Report, cfg: &Config, unit: Option<&Path>) {
    let p = match load(unit) {
        Ok(p) => p,
        Err(e) => {
            r.push(f("service", Level::Fatal, e, Some("fix --unit")));
            return;
        }
    };
    let names = cap_names(p.caps);
    r.push(f(
        "service",
        Level::Info,
        format!(
            "the service ({}) runs as {} with {}",
            p.source,
            p.who(),
            if names.is_empty() {
                "no capabilities".to_string()
            } else {
                names.join(" ")
            }
        ),
        None,
    ));
    use crate::sources::{CAP_AUDIT_CONTROL, CAP_AUDIT_READ};
    if !p.has(CAP_AUDIT_READ) {
        r.push(f(
            "service-audit-read",
            Level::Warn,
            "the service has no CAP_AUDIT_READ: its netlink source cannot run (only audit.log, or kmsg)",
            Some("add CAP_AUDIT_READ to CapabilityBoundingSet= and AmbientCapabilities= (the shipped unit has it)"),
        ));
    }
    if p.has(CAP_AUDIT_CONTROL) {
        r.push(f(
            "service-audit-status",
            Level::Ok,
            "the service has CAP_AUDIT_CONTROL: it reads the kernel's audit status (backlog, lost) -- and could also switch auditing off for the whole host if it were compromised",
            None,
        ));
    } else {
        let daemon_mode = cfg.netlink.mode == "daemon";
        r.push(f(
            "service-audit-status",
            if daemon_mode { Level::Fatal } else { Level::Info },
            format!(
                "the service has no CAP_AUDIT_CONTROL (withheld: with it a compromised daemon could switch auditing off for the whole host){}: it does not read the kernel's audit status, so kernel_audit_status_up is 0, the kernel_audit_* gauges are left out, and records the kernel drops on a full backlog are not counted in lost_records_total{{cause=\"kernel_lost\"}}",
                if daemon_mode { " yet netlink.mode = \"daemon\" needs it" } else { "" }
            ),
            Some("watch the kernel's lost counter with `auditctl -s` as root, or grant it (systemctl edit seccomp-watch: [Service] CapabilityBoundingSet=CAP_AUDIT_CONTROL and AmbientCapabilities=CAP_AUDIT_CONTROL)"),
        ));
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        r.push(f(
            "service-access",
            Level::Info,
            "not root: what the service user can read is not tested",
            Some("run doctor as root"),
        ));
        return;
    }
    let (runtimes, audit_log) = match as_service(&p, || access(cfg)) {
        Ok(a) => a,
        Err(e) => {
            r.push(f("service-access", Level::Warn, e, None));
            return;
        }
    };
    let who = p.who();
    let mut readable = Vec::new();
    for (d, err) in runtimes {
        match err {
            None => readable.push(d.display().to_string()),
            Some(e) => r.push(f(
                "service-runtimes",
                Level::Warn,
                format!(
                    "the service ({who}) cannot read {}: {e}: its containers get no name, image or applied profile",
                    d.display()
                ),
                Some("grant CAP_DAC_READ_SEARCH (AmbientCapabilities=; the shipped unit does)"),
            )),
        }
    }
    if !readable.is_empty() {
        r.push(f(
            "service-runtimes",
            Level::Ok,
            format!("the service ({who}) can read {}", readable.join(", ")),
            None,
        ));
    }
    if let Some((log, err)) = audit_log {
        r.push(match err {
            None => f(
                "service-audit-log",
                Level::Ok,
                format!("the service ({who}) can read {}", log.display()),
                None,
            ),
            Some(e) => f(
                "service-audit-log",
                Level::Warn,
                format!(
                    "the service ({who}) cannot read {}: {e}: its audit-log source cannot run",
                    log.display()
                ),
                Some(
                    "grant CAP_DAC_READ_SEARCH (the shipped unit does), or set auditd's log_group",
                ),
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_unit_grants_exactly_three_capabilities() {
        let p = parse_units(&[SHIPPED_UNIT], "shipped".into());
        assert!(p.unprivileged);
        assert_eq!(
            cap_names(p.caps),
            ["CAP_DAC_READ_SEARCH", "CAP_NET_ADMIN", "CAP_AUDIT_READ"]
        );
        assert!(!p.has(crate::sources::CAP_AUDIT_CONTROL));
    }

    #[test]
    fn drop_ins_merge_as_systemd_does() {
        let unit = "[Service]\nDynamicUser=yes\nCapabilityBoundingSet=CAP_AUDIT_READ CAP_NET_ADMIN\nAmbientCapabilities=CAP_AUDIT_READ CAP_NET_ADMIN\n";
        // A drop-in adds one (both lines) and removes another.
        let add = "[Service]\nCapabilityBoundingSet=CAP_AUDIT_CONTROL\nAmbientCapabilities=CAP_AUDIT_CONTROL\n";
        let remove = "[Service]\nAmbientCapabilities=~CAP_NET_ADMIN\n";
        let p = parse_units(&[unit, add, remove], "x".into());
        assert_eq!(cap_names(p.caps), ["CAP_AUDIT_CONTROL", "CAP_AUDIT_READ"]);
        // Ambient outside the bounding set is not granted.
        let p = parse_units(
            &[unit, "[Service]\nAmbientCapabilities=CAP_SYSLOG\n"],
            "x".into(),
        );
        assert_eq!(cap_names(p.caps), ["CAP_NET_ADMIN", "CAP_AUDIT_READ"]);
        // An empty assignment resets.
        let p = parse_units(&[unit, "[Service]\nAmbientCapabilities=\n"], "x".into());
        assert_eq!(p.caps, 0);
        // Lines outside [Service] and comments do not count; a root service gets the
        // bounding set.
        let p = parse_units(
            &["[Unit]\nAmbientCapabilities=CAP_SYS_ADMIN\n[Service]\n#User=x\nCapabilityBoundingSet=cap_audit_read\n"],
            "x".into(),
        );
        assert!(!p.unprivileged);
        assert_eq!(cap_names(p.caps), ["CAP_AUDIT_READ"]);
    }
}
